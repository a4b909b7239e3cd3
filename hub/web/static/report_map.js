// The heat map on the reports page: where the period's incidents happened, on the site plan
// (plan_map.js: the hub's own Leaflet, no internet), one circle per point with its area
// scaled by the number of incidents there. From GET /api/reports/heatmap: an incident is
// placed at its own point, else at its area's middle; those with neither are counted apart
// ("unplaced") and said in words, never silently dropped.

import { $, areaName } from "./dom.js";
import { planMap } from "./plan_map.js";

const MIN_RADIUS = 6; // px: one incident still shows as a dot a thumb can hit
const MAX_RADIUS = 30;

/** A circle's radius: its area grows with the count (the eye compares areas, not radii). */
export const radius = (count, most) => MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * Math.sqrt(count / most);

export const ReportMap = {
  built: null, // the promise of {L, map, site}
  layer: null,

  /** Draw ``heat`` (the hub's Heatmap) on the plan, replacing the previous period's. */
  async render(heat) {
    if (!ReportMap.built) ReportMap.built = planMap($("report-heatmap"));
    let built;
    try {
      built = await ReportMap.built;
    } catch (err) {
      ReportMap.built = null;
      $("report-heatmap-status").textContent = err.message;
      return;
    }
    const { L, map } = built;
    map.invalidateSize();
    if (ReportMap.layer) ReportMap.layer.remove();
    ReportMap.layer = L.layerGroup().addTo(map);
    const most = Math.max(1, ...heat.points.map((p) => p.count));
    for (const p of heat.points) {
      const where = p.placed_by === "area" && p.area ? areaName(p.area) : `${p.lat}, ${p.lon}`;
      L.circleMarker([p.lat, p.lon], { radius: radius(p.count, most), className: "heat-point",
        color: "#c92a2a", weight: 1, fillOpacity: 0.45 })
        .bindTooltip(`${p.count} incident${p.count === 1 ? "" : "s"} \u00b7 ${where}`)
        .addTo(ReportMap.layer);
    }
    $("report-heatmap").dataset.points = String(heat.points.length);
    $("report-heatmap-status").textContent = heat.unplaced
      ? `${heat.placed} of ${heat.incidents} incidents on the map; ${heat.unplaced} had no place.`
      : `${heat.incidents} incident${heat.incidents === 1 ? "" : "s"} on the map.`;
  },
};
