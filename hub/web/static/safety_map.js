// The hot-spot layer on the site plan (plan_map.js: the hub's own Leaflet, no internet):
// "where and when patrols are most needed", judged from the past. One circle per area at its
// middle, its surface growing with the area's weighted incidents of the period, and the
// area's outline tinted; the tooltip names the area's busiest hours of the week. From
// GET /api/safety/hotspots. Areas without a position are listed in words, never dropped.

import { planMap } from "./plan_map.js";
import { radius } from "./report_map.js";

const hour = (h) => `${String(h.hour).padStart(2, "0")}:00\u2013${String(h.hour + 1).padStart(2, "0")}:00`;
export const when = (h) => `${h.day} ${hour(h)}`;

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
          color: "#c92a2a", weight: 1, fillOpacity: 0.1 + 0.4 * (a.weighted / most) })
          .addTo(HotspotMap.layer);
      }
      L.circleMarker([a.position.lat, a.position.lon], { radius: radius(a.weighted, most),
        className: "hotspot", color: "#c92a2a", weight: 1, fillOpacity: 0.5 })
        .bindTooltip(tip).addTo(HotspotMap.layer);
    }
    container.dataset.hotspots = String(busy.length - unplaced.length);
    status.textContent = `${found.counted} counted incident${found.counted === 1 ? "" : "s"} in ` +
      `the last ${found.weeks} weeks` +
      (found.unplaced ? `; ${found.unplaced} had no area` : "") +
      (unplaced.length ? `; not on the plan (no position): ${unplaced.join(", ")}` : "") + ".";
  },
};
