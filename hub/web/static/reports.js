// Response times: p50 and p90 of each segment of an incident's life (alert → acknowledged →
// dispatched → en route → on scene → resolved), the mean from alert to arrival, and how each
// compares with the period before and the same period last year.
// From GET /api/reports/response-times; the page only formats what the hub computed.

import { api, query, showRefusal } from "./api.js";
import { $, duration, el, humanize } from "./dom.js";

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
    const params = { area: $("report-area").value, start: start.toISOString(), end: end.toISOString() };
    $("report-error").textContent = "";
    await showRefusal($("report-error"), async () => {
      Reports.render(await api.get(`/api/reports/response-times${query(params)}`));
    }, "Response times unavailable: ");
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
