// The site map view (#/map): the plan with its areas, cameras and sensors (online/offline,
// camera health), open incidents coloured by state with a timer since they opened, and the
// patrol units with their callsign, state and the age of their position, and distance rings
// around each open incident (ringMetres). Live: app.js passes every incident, node and unit
// event here.
//
// Markers are Leaflet divIcons whose content is built with el() (textContent only), and each
// carries data-kind / data-id / data-state / data-lat / data-lon for tests and styling.

import { api } from "./api.js";
import { $, duration, el, humanize, relativeTime } from "./dom.js";
import { isOpen } from "./incidents.js";
import { incidentPlace, planMap } from "./plan_map.js";
import { addHotspotOverlay } from "./safety_map.js";

const nodeKey = (n) => n.node;

// The rings drawn around an open incident: distances in metres, a fixed scale for the site.
// Distances rather than "how far the fastest available unit gets in 1, 3, 5 minutes": unit
// speeds and the detour factor live in the hub's config and reach the page only through an
// incident's suggestions, which are officer-only and audited per call (the map is viewer+,
// and an audit row per redraw would be noise); minute rings would also jump whenever a unit
// turns busy, where a fixed scale is one the desk learns to read. Each unit's estimated
// minutes are in the suggestions of the incident view.
//
// The three steps come from this ladder, sized to the plan (ringMetres): the outer ring is
// the first step at least as long as the plan's longer side, so a 160 m compound gets 50,
// 100 and 250 m (the inner ones on the plan, the outer reaching past its edges) and a 1 km
// village 250, 500 and 1000 m. One fixed set (say 100/250/500 m) would draw nothing inside
// a small plan and only clutter inside a large one.
const RING_LADDER = [25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The ring radii (m) for a plan whose corners span ``extent`` on ``map``. */
export function ringMetres(map, extent) {
  const longer = Math.max(map.distance(extent.getNorthWest(), extent.getNorthEast()),
    map.distance(extent.getNorthWest(), extent.getSouthWest()));
  const i = RING_LADDER.findIndex((m) => m >= longer);
  const outer = i < 0 ? RING_LADDER.length - 1 : Math.max(2, i);
  return RING_LADDER.slice(outer - 2, outer + 1);
}

export const SiteMapView = {
  built: null, // the promise of {L, map, site}
  markers: new Map(), // "unit:<id>" | "incident:<id>" | "node:<name>" -> Leaflet marker
  incidents: new Map(),
  units: new Map(),
  nodes: new Map(),
  rings: new Map(), // incident id -> Leaflet layerGroup of its rings and their labels

  /** The view became visible: build the map once, then keep it fresh. */
  async show() {
    if (!SiteMapView.built) SiteMapView.built = SiteMapView._build();
    try {
      const { map } = await SiteMapView.built;
      map.invalidateSize();
    } catch (err) {
      SiteMapView.built = null;
      $("map-status").textContent = err.message;
      $("map-status").hidden = false;
    }
  },

  async _build() {
    $("map-status").hidden = true;
    const built = await planMap($("site-map"));
    $("site-map").dataset.ready = "true";
    const { L, map, site } = built;
    for (const a of site.areas) {
      const label = a.name;
      if (a.outline.length) {
        L.polygon(a.outline.map((p) => [p.lat, p.lon]), { className: "map-area", weight: 2 })
          .bindTooltip(label).addTo(map);
      } else if (a.position) {
        L.circleMarker([a.position.lat, a.position.lon], { className: "map-area", radius: 12 })
          .bindTooltip(label).addTo(map);
      }
    }
    for (const c of site.cameras) {
      if (c.position) SiteMapView._node(built, `camera:${c.name}`, c.position, c.node, `camera ${c.name}`);
    }
    for (const s of site.sensors) {
      if (s.position) SiteMapView._node(built, `sensor:${s.node}`, s.position, s.node, `${humanize(s.kind)} sensor ${s.node}`);
    }
    addHotspotOverlay(built); // patrol planning (safety_map.js): off until ticked
    await SiteMapView.loadUnits();
    SiteMapView.renderAll(built);
    return built;
  },

  _node({ L, map }, key, position, node, title) {
    const icon = el("span", { class: "map-node", dataset: { kind: key.split(":")[0], node } },
      el("span", { class: "map-node-dot", "aria-hidden": "true" }),
      el("span", { class: "map-label", text: title }));
    const marker = L.marker([position.lat, position.lon], {
      icon: L.divIcon({ html: icon, className: "map-icon", iconSize: null }), title,
    }).addTo(map);
    marker.vwNode = node;
    SiteMapView.markers.set(key, marker);
  },

  /** Units from the hub (A's /api/units); a hub without them shows none. */
  async loadUnits() {
    try {
      const units = await api.get("/api/units");
      SiteMapView.units.clear();
      for (const u of units) SiteMapView.units.set(u.id, u);
    } catch (err) {
      if (err.status !== 404 && err.status !== 403) throw err;
    }
  },

  renderAll(built) {
    for (const inc of SiteMapView.incidents.values()) SiteMapView._incident(built, inc);
    for (const u of SiteMapView.units.values()) SiteMapView._unit(built, u);
    for (const n of SiteMapView.nodes.values()) SiteMapView._nodeState(n);
  },

  // --- live updates from app.js ----------------------------------------------------------

  incident(inc) {
    SiteMapView.incidents.set(inc.id, inc);
    SiteMapView._whenBuilt((b) => SiteMapView._incident(b, inc));
  },
  unit(unit) {
    SiteMapView.units.set(unit.id, unit);
    SiteMapView._whenBuilt((b) => SiteMapView._unit(b, unit));
  },
  node(node) {
    SiteMapView.nodes.set(nodeKey(node), node);
    SiteMapView._whenBuilt(() => SiteMapView._nodeState(node));
  },
  replaceNodes(nodes) {
    SiteMapView.nodes.clear();
    for (const n of nodes) SiteMapView.node(n);
  },

  _whenBuilt(work) {
    if (SiteMapView.built) SiteMapView.built.then(work).catch(() => {});
  },

  _incident(built, inc) {
    const key = `incident:${inc.id}`;
    const where = incidentPlace(built.site, inc);
    const marker = SiteMapView.markers.get(key);
    if (!isOpen(inc) || !where) {
      if (marker) marker.remove();
      SiteMapView.markers.delete(key);
      SiteMapView._rings(built, inc.id, null);
      return;
    }
    SiteMapView._rings(built, inc.id, where);
    const content = el("span", { class: "map-incident", dataset: { kind: "incident", id: inc.id,
      state: inc.state, severity: inc.severity, lat: where.lat, lon: where.lon } },
    el("span", { class: "map-label", text: `${inc.ref} \u00b7 ${humanize(inc.state)}` }),
    el("span", { class: "map-timer", dataset: { since: inc.opened_at },
      text: duration(Date.now() - Date.parse(inc.opened_at)) }));
    SiteMapView._place(built, key, where, content, `${inc.ref} ${inc.title}`);
  },

  /** The distance rings around incident ``id`` at ``where`` (none when null): thin dashed
   * circles with no fill so the plan stays readable, each labelled at its north edge;
   * redrawn only when the incident moves. */
  _rings({ L, map, extent }, id, where) {
    const at = where && `${where.lat},${where.lon}`;
    const old = SiteMapView.rings.get(id);
    if (old && old.vwAt === at) return;
    if (old) old.remove();
    SiteMapView.rings.delete(id);
    if (!where) return;
    const group = L.layerGroup().addTo(map);
    group.vwAt = at;
    for (const metres of ringMetres(map, extent)) {
      const ring = L.circle([where.lat, where.lon], { radius: metres, className: "map-ring",
        interactive: false, fill: false, color: "#8a2a20", weight: 1.5, opacity: 0.6,
        dashArray: "6 6" }).addTo(group);
      Object.assign(ring.getElement().dataset, { incident: id, metres: String(metres) });
      const label = el("span", { class: "map-ring-label", text: `${metres} m`,
        dataset: { incident: id, metres: String(metres) } });
      L.marker([ring.getBounds().getNorth(), where.lon], { interactive: false, keyboard: false,
        zIndexOffset: -1000, // under the incident and unit markers
        icon: L.divIcon({ html: label, className: "map-icon", iconSize: null }) }).addTo(group);
    }
    SiteMapView.rings.set(id, group);
  },

  _unit(built, unit) {
    const key = `unit:${unit.id}`;
    const pos = unit.position;
    if (!pos) return;
    const state = unit.availability;
    const age = el("span", { class: "when", dataset: { rel: pos.at } },
      el("time", { datetime: pos.at, text: relativeTime(pos.at) }));
    const content = el("span", { class: "map-unit", dataset: { kind: "unit", id: unit.id,
      state, callsign: unit.callsign, lat: pos.lat, lon: pos.lon } },
    el("span", { class: "map-label", text: `${unit.callsign} \u00b7 ${humanize(state)} \u00b7 ` }), age);
    SiteMapView._place(built, key, pos, content, `${unit.callsign} (${unit.kind})`);
  },

  /** Add or move the marker ``key``. A new icon replaces the old one, so ``content`` comes
   * with its clocks already filled (else they would blank until the Ticker's next second). */
  _place({ L, map }, key, where, content, title) {
    const icon = L.divIcon({ html: content, className: "map-icon", iconSize: null });
    let marker = SiteMapView.markers.get(key);
    if (!marker) {
      marker = L.marker([where.lat, where.lon], { icon, title }).addTo(map);
      SiteMapView.markers.set(key, marker);
    } else {
      marker.setLatLng([where.lat, where.lon]);
      marker.setIcon(icon);
    }
  },

  _nodeState(node) {
    for (const marker of SiteMapView.markers.values()) {
      if (marker.vwNode !== node.node) continue;
      const icon = marker.getElement() && marker.getElement().querySelector(".map-node");
      if (!icon) continue;
      icon.dataset.state = node.state || "unknown";
      const cams = (node.stats && node.stats.cameras) || {};
      const down = Object.entries(cams).filter(([, c]) => !c.connected || c.camera_fps === 0);
      icon.dataset.health = down.length ? "stream_lost" : "ok";
    }
  },

  /** Signed out: drop everything (the next sign-in may be another role). */
  clear() {
    SiteMapView.incidents.clear();
    SiteMapView.units.clear();
    SiteMapView.nodes.clear();
  },
};
