// Safety (officers and up): the safety index of the site and each area for a month, with the
// components behind each value and how each moved since last month (GET /api/safety/index;
// the formula is published in docs/safety-index.md), the patrol hot spots as a layer on the
// site plan (GET /api/safety/hotspots, safety_map.js), and for supervisors the monthly
// reports the hub wrote (GET /api/safety/reports). The page only formats what the hub
// computed; every value goes in as text. The view builds its own markup on first use, so
// index.html holds only its empty section.

import { api, query, showRefusal } from "./api.js";
import { $, el } from "./dom.js";
import { HotspotMap, when } from "./safety_map.js";

const num = (v, digits = 1) => (v === null || v === undefined ? "\u2013" : Number(v).toFixed(digits));

/** A change as "+2.5" / "−3.0", coloured: for the index, up is better; for a rate, down. */
function signed(v, upIsBetter = true) {
  if (v === null || v === undefined) return el("span", { text: "\u2013" });
  const better = upIsBetter ? v > 0 : v < 0;
  const text = `${v > 0 ? "+" : v < 0 ? "\u2212" : "\u00b1"}${Math.abs(v).toFixed(1)}`;
  return el("span", { class: v === 0 ? "same" : better ? "better" : "worse", text });
}

// The components shown behind each value: [field, label, is a higher value better?]
const COMPONENTS = [
  ["rate_per_1000", "Weighted incidents per 1,000 households (r)", false],
  ["incident_score", "Incident component this month (I)", true],
  ["response_score", "Response component this month (P)", true],
  ["incident_smoothed", "Incident component, smoothed", true],
  ["response_smoothed", "Response component, smoothed", true],
  ["index", "Index", true],
];

const cells = (...values) => values.map((v) => (v instanceof Node ? el("td", {}, v) : el("td", { text: v })));

function skeleton() {
  return [
    el("h2", { id: "safety-heading", text: "Safety index" }),
    el("p", { id: "safety-note", class: "muted" }),
    el("form", { id: "safety-form", class: "filters" },
      el("label", { text: "Month " }, el("input", { id: "safety-month", type: "month" }))),
    el("p", { id: "safety-error", class: "error", role: "alert" }),
    el("div", { class: "table-scroll" }, el("table", { class: "report", id: "safety-table" },
      el("caption", { id: "safety-caption" }),
      el("thead", {}, el("tr", {}, ...["Place", "Index", "Since last month", "Counted",
        "Not counted (false alarm · cancelled · duplicate)", "Households"]
        .map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", { id: "safety-rows" }))),
    el("h3", { text: "What is behind each value" }),
    el("div", { id: "safety-parts" }),
    el("h3", { id: "hotspots-heading", text: "Where and when patrols are most needed" }),
    el("p", { id: "hotspots-note", class: "muted" }),
    el("p", { id: "hotspots-status", class: "muted", role: "status" }),
    el("div", { id: "safety-hotspot-map", class: "site-map report-heatmap", role: "region",
      "aria-label": "Hot spots of past incidents on the site plan" }),
    el("div", { class: "table-scroll" }, el("table", { class: "report" },
      el("caption", { text: "Areas and hours of the week with most counted incidents" }),
      el("thead", {}, el("tr", {}, ...["Area", "When", "Incidents", "Weight"]
        .map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", { id: "hotspot-rows" }))),
    el("div", { id: "hotspot-grids" }),
    el("section", { id: "safety-reports-section", hidden: true },
      el("h3", { text: "Monthly reports" }),
      el("p", { id: "safety-schedule", class: "muted" }),
      el("ul", { id: "safety-reports" })),
  ];
}

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** One area's week (the hub's AreaHeat.grid: weight by [weekday][hour], site time) as a
 * table: a row per day, a column per hour, each cell's weight as text and its shade as a
 * class (heat-0 … heat-4 of the area's busiest hour), so it reads without colour too. */
function grid(area) {
  const most = Math.max(...area.grid.flat());
  const shade = (w) => (w > 0 ? `heat-${Math.max(1, Math.ceil((4 * w) / most))}` : "heat-0");
  const head = el("tr", {}, el("th", { scope: "col", text: "Day" }),
    ...Array.from({ length: 24 }, (_, h) => el("th", { scope: "col", text: String(h) })));
  const rows = area.grid.map((hours, d) => el("tr", {}, el("th", { scope: "row", text: DAYS[d] }),
    ...hours.map((w) => el("td", { class: shade(w), text: w > 0 ? num(w, w % 1 ? 1 : 0) : "" }))));
  return el("details", { class: "hotspot-week", dataset: { area: area.area } },
    el("summary", { text: `${area.name}: week by hour (${area.incidents} incident${area.incidents === 1 ? "" : "s"})` }),
    el("div", { class: "table-scroll" }, el("table", { class: "report heat-grid" },
      el("caption", { text: "Weighted incidents by day and hour starting (site time)" }),
      el("thead", {}, head), el("tbody", {}, ...rows))));
}

export const Safety = {
  canReports: false, // set at sign-in: supervisors and admins
  built: false,

  build() {
    $("safety-view").replaceChildren(...skeleton());
    $("safety-form").addEventListener("change", () => Safety.load());
    $("safety-form").addEventListener("submit", (e) => { e.preventDefault(); Safety.load(); });
    Safety.built = true;
  },

  async load() {
    if (!Safety.built) Safety.build();
    $("safety-error").textContent = "";
    const month = $("safety-month").value;
    await Promise.all([
      showRefusal($("safety-error"), async () => {
        Safety.render(await api.get(`/api/safety/index${query({ month })}`));
      }, "Safety index unavailable: "),
      showRefusal($("hotspots-status"), async () => {
        Safety.renderHotspots(await api.get("/api/safety/hotspots"));
      }, "Hot spots unavailable: "),
      Safety.canReports ? showRefusal($("safety-schedule"), async () => {
        Safety.renderReports(await api.get("/api/safety/reports"));
      }) : null,
    ]);
  },

  /** The hub's SafetyIndexReport. */
  render(report) {
    if (!$("safety-month").value) $("safety-month").value = report.month;
    $("safety-note").textContent = report.note;
    $("safety-caption").textContent = `${report.month} (${report.timezone}): 0\u2013100, higher ` +
      `is safer. Formula: ${report.formula}; false alarms, cancelled incidents and duplicates ` +
      "count zero.";
    const places = [report.site, ...report.areas];
    $("safety-rows").replaceChildren(...places.map((p) => {
      const c = p.current.components;
      const x = c.excluded;
      return el("tr", { dataset: { area: p.area || "site" } },
        el("th", { scope: "row", text: p.name }),
        ...cells(el("strong", { text: num(p.index) }), signed(p.change), String(c.counted),
          `${x.false_alarm} \u00b7 ${x.cancelled} \u00b7 ${x.duplicate}`,
          `${c.households}${c.households_assumed ? " (assumed)" : ""}`));
    }));
    $("safety-parts").replaceChildren(...places.map((p, i) => Safety.parts(p, i === 0)));
  },

  /** One place's components, last month beside this month. */
  parts(place, open) {
    const rows = COMPONENTS.map(([field, label, upIsBetter]) => {
      const m = place.moves.find((x) => x.component === field) || {};
      return el("tr", { dataset: { component: field } }, el("th", { scope: "row", text: label }),
        ...cells(num(m.previous), num(m.current), signed(m.change, upIsBetter)));
    });
    const c = place.current.components;
    const facts = `${c.counted} counted incidents weighing ${num(c.weighted)}; ` +
      `${c.dispatched} with a unit sent, ${c.arrived} reached. Trend: ` +
      place.series.map(([m, v]) => `${m} ${num(v)}`).join(", ");
    return el("details", { open, dataset: { area: place.area || "site" } },
      el("summary", { text: `${place.name}: ${num(place.index)}` }),
      el("p", { class: "muted", text: facts }),
      el("table", { class: "report" }, el("thead", {}, el("tr", {},
        ...["Component", "Last month", "This month", "Change"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows)));
  },

  /** The hub's HotSpots: the list, and the layer on the plan. */
  renderHotspots(found) {
    $("hotspots-note").textContent = found.note;
    $("hotspot-rows").replaceChildren(...found.hotspots.map((h) => el("tr", {},
      el("th", { scope: "row", text: h.name }),
      ...cells(when(h), String(h.incidents), num(h.weighted)))));
    $("hotspot-grids").replaceChildren(...found.areas.filter((a) => a.weighted > 0).map(grid));
    return HotspotMap.render(found, $("safety-hotspot-map"), $("hotspots-status"));
  },

  /** The hub's ReportList: when it writes them, and a download link for each. */
  renderReports(list) {
    $("safety-reports-section").hidden = false;
    const s = list.schedule;
    $("safety-schedule").textContent = s.enabled
      ? `The hub writes last month's report on day ${s.day} at ${s.hour}:00 (${list.timezone}).`
      : "The monthly report is not scheduled (safety.report.enabled is off).";
    $("safety-reports").replaceChildren(...(list.reports.length ? list.reports.map((r) =>
      el("li", {}, el("a", { href: `/api/safety/reports/${encodeURIComponent(r.month)}`,
        download: r.name, text: `Safety report ${r.month}` }),
      ` (${Math.round(r.size / 1024)} kB)`))
      : [el("li", { class: "muted", text: "No reports written yet." })]));
  },
};
