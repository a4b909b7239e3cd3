// The hot-spot layer on the site plan (plan_map.js: the hub's own Leaflet, no internet), in
// the Safety view and as an overlay (off until ticked) of the Map view's plan:
// "where and when patrols are most needed", judged from the past. One circle per area at its
// middle, its surface growing with the area's weighted incidents of the period, and the
// area's outline tinted; the tooltip names the area's busiest hours of the week. From
// GET /api/safety/hotspots. Areas without a position are listed in words, never dropped.

import { api, ApiError } from "./api.js";
import { planMap } from "./plan_map.js";
import { radius } from "./report_map.js";

const hour = (h) => `${String(h.hour).padStart(2, "0")}:00\u2013${String(h.hour + 1).padStart(2, "0")}:00`;
export const when = (h) => `${h.day} ${hour(h)}`;

/** Draw ``found``'s areas on ``group`` (a Leaflet layer group); returns the names of busy
 * areas that have no position (not drawable). */
function draw(L, group, found) {
  const busy = found.areas.filter((a) => a.weighted > 0);
  const most = Math.max(1, ...busy.map((a) => a.weighted));
  const unplaced = [];
  for (const a of busy) {
    if (!a.position) { unplaced.push(a.name); continue; }
    const top = found.hotspots.filter((h) => h.area === a.area).slice(0, 3).map(when);
    const tip = `${a.name}: ${a.incidents} incident${a.incidents === 1 ? "" : "s"}` +
      (top.length ? ` \u00b7 busiest: ${top.join(", ")}` : "");
    if (a.outline.length >= 3) {
      L.polygon(a.outline.map((p) => [p.lat, p.lon]), { className: "hotspot-area",
        color: "#c92a2a", weight: 1, fillOpacity: 0.1 + 0.4 * (a.weighted / most) }).addTo(group);
    }
    L.circleMarker([a.position.lat, a.position.lon], { radius: radius(a.weighted, most),
      className: "hotspot", color: "#c92a2a", weight: 1, fillOpacity: 0.5 })
      .bindTooltip(tip).addTo(group);
  }
  return { drawn: busy.length - unplaced.length, unplaced };
}

/** The Safety view's own plan. */
export const HotspotMap = {
  built: null, // the promise of {L, map, site}
  layer: null,

  /** Draw ``found`` (the hub's HotSpots) on the plan in ``container``. */
  async render(found, container, status) {
    if (!HotspotMap.built) HotspotMap.built = planMap(container);
    let built;
    try {
      built = await HotspotMap.built;
    } catch (err) {
      HotspotMap.built = null;
      status.textContent = err.message;
      return;
    }
    const { L, map } = built;
    map.invalidateSize();
    if (HotspotMap.layer) HotspotMap.layer.remove();
    HotspotMap.layer = L.layerGroup().addTo(map);
    const { drawn, unplaced } = draw(L, HotspotMap.layer, found);
    container.dataset.hotspots = String(drawn);
    status.textContent = `${found.counted} counted incident${found.counted === 1 ? "" : "s"} in ` +
      `the last ${found.weeks} weeks` +
      (found.unplaced ? `; ${found.unplaced} had no area` : "") +
      (unplaced.length ? `; not on the plan (no position): ${unplaced.join(", ")}` : "") + ".";
  },
};

const DESK_ROLES = ["officer", "supervisor", "admin"];
export const OVERLAY_NAME = "Hot spots (past incidents)";

/** A "Hot spots" overlay in a layer control on the site map (map.js), off until ticked, for
 * the roles that may read them; fetched from the hub each time it is ticked. */
export function addHotspotOverlay({ L, map }) {
  if (!DESK_ROLES.includes(document.body.dataset.role)) return;
  const group = L.layerGroup();
  L.control.layers(null, { [OVERLAY_NAME]: group }, { collapsed: false }).addTo(map);
  map.on("overlayadd", async (e) => {
    if (e.layer !== group) return;
    group.clearLayers();
    try {
      draw(L, group, await api.get("/api/safety/hotspots"));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err; // a 401 goes on to the sign-in
      group.addLayer(L.tooltip({ permanent: true }, map).setLatLng(map.getCenter())
        .setContent(`Hot spots unavailable: ${err.message}`));
    }
    map.getContainer().dataset.hotspots = String(group.getLayers().length);
  });
}
