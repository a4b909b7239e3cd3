// Statistics: incidents by kind, area, hour of day and day of week; the response-time
// segments; false-alarm rates per camera, rule and sensor; each for a period of the site's
// calendar, against the period before and the same period last year. From
// GET /api/statistics/incidents, /response-times and /false-alarms: the hub computes every
// figure (hub/statistics), the page only draws it.
//
// Charts are drawn by Chart.js (npm, pinned in package.json, served by the hub at
// /static/vendor/chartjs/ like Leaflet: no internet). A chart is a picture, so each one has
// its table beside it (the same numbers, for screen readers and for reading exact values)
// and a CSV download of that table. Without the library (no `make` on the hub) the tables
// still show.

import { api, query, showRefusal } from "./api.js";
import { $, areaName, el, humanize } from "./dom.js";

const CHART_JS = "/static/vendor/chartjs/chart.umd.min.js";
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const PALETTE = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8", "#fff176"];

let loading = null;

/** Chart.js, once per page; null when the hub has no node_modules (tables only). */
function loadCharts() {
  if (!loading) {
    loading = new Promise((resolve) => {
      const script = el("script", { src: CHART_JS });
      script.addEventListener("load", () => resolve(window.Chart || null));
      script.addEventListener("error", () => resolve(null));
      document.head.append(script);
    });
  }
  return loading;
}

/** A change as the hub sent it (hub.statistics.changes.CountChange), in words. */
export function changeText(change, label) {
  if (!change) return "";
  const counts = `${change.current} vs ${change.other} ${label}`;
  if (change.status === "too_few") return `too few to compare (${counts})`;
  if (change.status === "none_before") return `none ${label} (${counts})`;
  const pct = change.change_pct;
  const sign = pct > 0 ? "+" : pct < 0 ? "\u2212" : "\u00b1";
  return `${sign}${Math.abs(pct)} % (${counts})`;
}

const csvCell = (value) => {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // no formulas in a spreadsheet
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
};

/** A table of ``rows`` under ``columns`` (a caption for screen readers), and its CSV. */
function tableOf(caption, columns, rows) {
  const table = el("table", { class: "report" }, el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col", text: c })))),
    el("tbody", {}, ...rows.map((row) => el("tr", {}, el("th", { scope: "row", text: row[0] }),
      ...row.slice(1).map((v) => el("td", { text: v === null ? "\u2013" : String(v) }))))));
  const csv = [columns, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n");
  return { table, csv };
}

/** One figure: a chart (when Chart.js is here), its table in a disclosure, a CSV link. */
function figure(id, title, columns, rows, chart) {
  const { table, csv } = tableOf(title, columns, rows);
  const link = el("a", { class: "btn", download: `${id}.csv`, text: "Download CSV" });
  link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  const holder = el("div", { class: "stats-chart" });
  holder.style.position = "relative";
  holder.style.height = `${chart && chart.height ? chart.height : 220}px`;
  const canvas = el("canvas", { role: "img", "aria-label": `${title} (chart; the table below has the numbers)` });
  holder.append(canvas);
  const box = el("figure", { class: "stats-figure", dataset: { figure: id } },
    el("figcaption", { text: title }), holder,
    el("details", {}, el("summary", { text: "Table" }), el("div", { class: "table-scroll" }, table)),
    el("p", {}, link));
  return { box, canvas, chart };
}

function draw(Chart, { canvas, chart }) {
  if (!Chart || !chart) {
    canvas.parentElement.hidden = true;
    return;
  }
  new Chart(canvas, {
    type: "bar",
    data: { labels: chart.labels, datasets: chart.datasets.map((d, i) => ({
      backgroundColor: PALETTE[i % PALETTE.length], ...d })) },
    options: {
      indexAxis: chart.horizontal ? "y" : "x",
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: chart.datasets.length > 1 } },
      scales: { x: { ticks: { color: "#b0bec5" } }, y: { beginAtZero: true, ticks: { color: "#b0bec5" } } },
    },
  });
}

const bars = (labels, datasets, extra = {}) => ({ labels, datasets, ...extra });

function incidentFigures(stats) {
  const period = "this period";
  const keyed = (rows, name) => rows.map((r) => [name(r.key), r.count,
    changeText(r.previous_period, "before"), changeText(r.last_year, "a year before")]);
  const columns = (what) => [what, "Incidents", "Against the period before", "Against last year"];
  const kindName = (k) => humanize(k);
  const area = (k) => (k === "(none)" ? "No area" : areaName(k));
  return [
    figure("incidents-by-kind", "Incidents by kind", columns("Kind"), keyed(stats.by_kind, kindName),
      bars(stats.by_kind.map((r) => kindName(r.key)), [{ label: period, data: stats.by_kind.map((r) => r.count) }])),
    figure("incidents-by-area", "Incidents by area", columns("Area"), keyed(stats.by_area, area),
      bars(stats.by_area.map((r) => area(r.key)), [{ label: period, data: stats.by_area.map((r) => r.count) }])),
    figure("incidents-by-hour", "Incidents by hour of day (site time)", ["Hour", "Incidents"],
      stats.by_hour.map((n, h) => [`${String(h).padStart(2, "0")}:00`, n]),
      bars(stats.by_hour.map((_, h) => String(h)), [{ label: period, data: stats.by_hour }])),
    figure("incidents-by-weekday", "Incidents by day of week (site time)", ["Day", "Incidents"],
      stats.by_weekday.map((n, d) => [WEEKDAYS[d], n]),
      bars(WEEKDAYS, [{ label: period, data: stats.by_weekday }])),
  ];
}

function responseFigure(stats) {
  const segs = stats.current.segments;
  const prev = new Map(stats.previous_period.figures.segments.map((s) => [s.segment, s]));
  const year = new Map(stats.last_year.figures.segments.map((s) => [s.segment, s]));
  const pct = (c) => (c && c.change_pct !== null && c.change_pct !== undefined ? `${c.change_pct} %` : "\u2013");
  const rows = segs.map((s) => [s.label, s.p50_s, s.p90_s, s.count,
    stats.previous_period.too_few.includes(s.segment) ? "too few to compare" : pct(prev.get(s.segment).p50),
    stats.last_year.too_few.includes(s.segment) ? "too few to compare" : pct(year.get(s.segment).p50)]);
  return figure("response-times", "Response times, seconds (p50 and p90)",
    ["Step", "p50 s", "p90 s", "Incidents", "p50 against the period before", "p50 against last year"], rows,
    bars(segs.map((s) => s.label), [{ label: "p50", data: segs.map((s) => s.p50_s) },
      { label: "p90", data: segs.map((s) => s.p90_s) }]));
}

function rateFigures(stats) {
  const name = (r) => [r.node, r.camera, r.zone, r.kind && humanize(r.kind)].filter(Boolean).join(" \u00b7 ");
  const columns = ["Source", "False alarm %", "False alarms", "Cancelled", "Real", "Duplicates", "Open"];
  const rowsOf = (list) => list.map((r) => [name(r), r.status === "too_few" ? "too few" : r.rate_pct,
    r.false_alarm, r.cancelled, r.real, r.duplicate, r.open]);
  const chartOf = (list) => {
    const rated = list.filter((r) => r.status === "rated").slice(0, 15);
    return bars(rated.map(name), [{ label: "false alarm %", data: rated.map((r) => r.rate_pct) }],
      { horizontal: true, height: 60 + 22 * rated.length });
  };
  const counted = stats.counted || {};
  const of = (list, total) => (total > list.length ? ` (the worst ${list.length} of ${total})` : "");
  return [
    ["false-alarms-by-rule", "False alarms per camera rule, worst first", stats.by_rule, counted.rules],
    ["false-alarms-by-camera", "False alarms per camera", stats.by_camera, counted.cameras],
    ["false-alarms-by-sensor", "False alarms per sensor", stats.by_sensor, counted.sensors],
  ].map(([id, title, list, total]) =>
    figure(id, title + of(list, total), columns, rowsOf(list), chartOf(list)));
}

export const Statistics = {
  /** Once, when the page loads. */
  init() {
    $("stats-form").addEventListener("change", () => Statistics.load());
    $("stats-form").addEventListener("submit", (e) => { e.preventDefault(); Statistics.load(); });
  },

  ticket: 0,

  async load() {
    const view = $("statistics-view");
    const ticket = ++Statistics.ticket; // a slower earlier answer must not paint over this one
    view.dataset.ready = "false";
    const params = { unit: $("stats-unit").value, date: $("stats-date").value || undefined };
    $("stats-error").textContent = "";
    await showRefusal($("stats-error"), async () => {
      const [incidents, times, rates, Chart] = await Promise.all([
        api.get(`/api/statistics/incidents${query(params)}`),
        api.get(`/api/statistics/response-times${query(params)}`),
        api.get(`/api/statistics/false-alarms${query(params)}`),
        loadCharts(),
      ]);
      if (ticket !== Statistics.ticket) return;
      Statistics.summary(incidents);
      const figures = [...incidentFigures(incidents), responseFigure(times), ...rateFigures(rates)];
      $("stats-figures").replaceChildren(...figures.map((f) => f.box));
      for (const f of figures) draw(Chart, f);
      $("stats-charts-missing").hidden = Boolean(Chart);
      const kept = rates.alerts_kept_since;
      const partial = kept && new Date(kept) > new Date(rates.periods.current.start);
      $("stats-alerts-purged").hidden = !partial;
      $("stats-alerts-purged").textContent = partial
        ? `Alerts are kept since ${kept.slice(0, 10)} (older ones are purged): incidents opened ` +
          "before that are missing from the false-alarm rates." : "";
    }, "Statistics unavailable: ");
    if (ticket === Statistics.ticket) view.dataset.ready = "true";
  },

  summary(stats) {
    const { current } = stats.periods;
    const when = current.first === current.last ? current.first : `${current.first} \u2013 ${current.last}`;
    $("stats-summary").replaceChildren(
      el("strong", { text: `${stats.total.count} incidents` }), ` ${when} (${stats.periods.timezone}). `,
      `Against the period before: ${changeText(stats.total.previous_period, "before")}. `,
      `Against the same period last year: ${changeText(stats.total.last_year, "a year before")}.`);
  },
};
