// Response times: p50 and p90 of each segment of an incident's life (alert → acknowledged →
// dispatched → en route → on scene → resolved), the mean from alert to arrival, and how each
// compares with the period before and the same period last year; each unit's travel time
// (its own dispatch → on scene) per unit kind and per area; a heat map of the period's
// incidents on the site plan (report_map.js); and the period's incidents with all their
// timings as a CSV file. From GET /api/reports/response-times, /api/reports/heatmap and
// /api/reports/incidents.csv; the page only formats what the hub computed.

import { api, query, showRefusal } from "./api.js";
import { $, areaName, duration, el, humanize } from "./dom.js";
import { ReportMap } from "./report_map.js";

const DAY_MS = 86400000;

const seconds = (s) => (s === null || s === undefined ? "\u2013" : duration(s * 1000));

/** A Change ({change_s, change_pct}) as "−12 % vs last year": down is faster, so better. */
function change(delta, label) {
  if (!delta || delta.change_pct === null || delta.change_pct === undefined) return null;
  const pct = Math.round(delta.change_pct);
  const sign = pct > 0 ? "+" : pct < 0 ? "\u2212" : "\u00b1";
  return el("span", { class: pct > 0 ? "worse" : pct < 0 ? "better" : "same",
    text: `${sign}${Math.abs(pct)} % ${label}` });
}

const segmentChange = (comparison, name) =>
  ((comparison && comparison.segments) || []).find((s) => s.segment === name);

export const Reports = {
  /** Once, when the page loads (not at each sign-in: the listeners would pile up). */
  init() {
    $("report-form").addEventListener("change", () => Reports.load());
    $("report-form").addEventListener("submit", (e) => { e.preventDefault(); Reports.load(); });
  },


  async load() {
    const days = Number($("report-days").value) || 30;
    const end = new Date();
    const start = new Date(end.getTime() - days * DAY_MS);
    const period = { start: start.toISOString(), end: end.toISOString() };
    // The export and the heat map cover every area of the period (their API has no area).
    $("report-csv").href = `/api/reports/incidents.csv${query(period)}`;
    $("report-error").textContent = "";
    await Promise.all([
      showRefusal($("report-error"), async () => {
        const report = await api.get(`/api/reports/response-times${query({ area: $("report-area").value, ...period })}`);
        Reports.render(report);
        Reports.renderTravel(report.travel);
      }, "Response times unavailable: "),
      showRefusal($("report-heatmap-status"), async () => {
        await ReportMap.render(await api.get(`/api/reports/heatmap${query(period)}`));
      }, "Heat map unavailable: "),
    ]);
  },

  /** Each unit's dispatch → on scene (the hub's TravelFigures): all, by kind, by area. */
  renderTravel(travel) {
    $("travel-section").hidden = !travel;
    if (!travel) return;
    const row = (kind, group, name, f) => el("tr", { dataset: { [kind]: group } },
      el("th", { scope: "row", text: name }), el("td", { text: seconds(f.p50_s) }),
      el("td", { text: seconds(f.p90_s) }), el("td", { text: String(f.count) }));
    $("travel-rows").replaceChildren(
      row("all", "all", "All units", { ...travel, count: travel.arrived }),
      ...travel.by_unit_kind.map((g) => row("kind", g.group, humanize(g.group), g)),
      ...travel.by_area.map((g) => row("area", g.group, g.group === "(none)" ? "No area" : areaName(g.group), g)));
    $("travel-note").textContent = `${travel.arrived} of ${travel.assignments} units sent reached the scene.`;
  },

  /** The hub's ResponseTimeReport: current period, and its comparison with the period
   * before and with last year. */
  render(report) {
    const current = report.current || { segments: [] };
    const rows = current.segments.map((seg) => {
      const changes = el("td", { class: "changes" });
      const prev = segmentChange(report.previous_period, seg.segment);
      const year = segmentChange(report.last_year, seg.segment);
      for (const c of [change(prev && prev.p50, "vs previous period"),
        change(year && year.p50, "vs last year")]) {
        if (c) changes.append(c, " ");
      }
      return el("tr", { dataset: { segment: seg.segment } },
        el("th", { scope: "row", text: seg.label || humanize(seg.segment) }),
        el("td", { text: seconds(seg.p50_s) }), el("td", { text: seconds(seg.p90_s) }),
        el("td", { text: String(seg.count) }), changes);
    });
    $("report-rows").replaceChildren(...rows);
    $("report-empty").hidden = current.incidents > 0;
    const mean = current.mean_alert_to_arrival_s;
    const line = $("report-mean");
    line.replaceChildren(mean === null || mean === undefined
      ? "No unit arrived on scene in this period."
      : `Mean from alert to arrival: ${seconds(mean)} `);
    for (const [comparison, label] of [[report.previous_period, "vs previous period"],
      [report.last_year, "vs last year"]]) {
      const c = change(comparison && comparison.mean_alert_to_arrival, label);
      if (c) line.append(" ", c);
    }
  },
};
