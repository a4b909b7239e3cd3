// Event security: an event's three rings (diversion ⊃ control ⊃ core) filled by the
// cameras' crowd counts, live or replayed. From GET /api/site-events (the list),
// /api/site-events/{id} (the dashboard: rings now, the last 30 minutes, the cameras feeding
// each ring and their health, open crowd incidents of the event's area) and
// /api/site-events/{id}/replay (the stored series). The hub aggregates; the page formats.
//
// Each ring is a card: occupancy against its limit (a <meter>), the double-counting bound
// ("up to N if the overlapping cameras saw different people"), density where the cameras are
// calibrated, a 30-minute trend (an inline SVG line with a table beside it for screen
// readers and copying: 120 points need no chart library) and its feeds. The map (plan_map.js,
// the hub's own Leaflet) shades each ring by its load and draws each counted camera ring as
// a circle whose area grows with its count: the heat of the crowd where cameras see it.

import { api, showRefusal } from "./api.js";
import { $, areaName, el, exactTime, humanize } from "./dom.js";
import { EventEditor } from "./event_editor.js";
import { planMap } from "./plan_map.js";

const REFRESH_MS = 15000; // the hub samples every 15 s
const MIN_RADIUS = 6;
const MAX_RADIUS = 34;
const LOAD_COLOURS = [[0.8, "#2b8a3e"], [1.0, "#e67700"], [Infinity, "#c92a2a"]];

const loadColour = (load) => (load === null || load === undefined
  ? "#868e96" : LOAD_COLOURS.find(([most]) => load <= most)[1]);
const ll = (p) => [p.lat, p.lon];
const pct = (load) => (load === null || load === undefined ? "" : ` (${Math.round(load * 100)} %)`);

/** A 30-minute line of ``points`` ({at, occupancy}) against ``limit``, as inline SVG. */
function sparkline(points, limit, label) {
  const w = 240, h = 56, pad = 4;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.classList.add("event-trend");
  if (!points.length) return svg;
  const top = Math.max(limit || 0, ...points.map((p) => p.occupancy), 1);
  const t0 = Date.parse(points[0].at);
  const span = Math.max(Date.parse(points[points.length - 1].at) - t0, 1);
  const x = (p) => pad + ((Date.parse(p.at) - t0) / span) * (w - 2 * pad);
  const y = (v) => h - pad - (v / top) * (h - 2 * pad);
  if (limit) {
    const line = document.createElementNS(ns, "line");
    Object.entries({ x1: pad, x2: w - pad, y1: y(limit), y2: y(limit), class: "event-limit" })
      .forEach(([k, v]) => line.setAttribute(k, String(v)));
    svg.append(line);
  }
  const path = document.createElementNS(ns, "polyline");
  path.setAttribute("points", points.map((p) => `${x(p).toFixed(1)},${y(p.occupancy).toFixed(1)}`).join(" "));
  path.setAttribute("class", "event-line");
  svg.append(path);
  return svg;
}

function trendTable(points) {
  const rows = points.slice(-10).map((p) => el("tr", {},
    el("td", { text: exactTime(p.at) }), el("td", { text: String(p.occupancy) })));
  return el("details", {}, el("summary", { text: "Trend as a table (last 10 samples)" }),
    el("table", { class: "report" }, el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: "Time" }), el("th", { scope: "col", text: "People" }))),
    el("tbody", {}, ...rows)));
}

function feedRow(f) {
  const health = f.healthy ? "ok" : f.problem;
  const note = f.overlap ? `overlap ${f.overlap}${f.counted ? ", counted" : ", not counted (smaller view)"}` : "";
  return el("li", { class: f.healthy ? "feed ok" : "feed trouble", dataset: { camera: f.camera } },
    el("strong", { text: f.camera }), ` ${f.crowd}/${f.ring}: `,
    el("span", { text: f.count === null ? "\u2013" : String(f.count) }),
    ` \u00b7 ${health}${note ? ` \u00b7 ${note}` : ""}`);
}

function ringCard(r, trend) {
  const limit = r.limit ? ` of ${r.limit}` : "";
  const card = el("article", { class: "event-ring", dataset: { ring: r.ring, occupancy: String(r.occupancy) } },
    el("h3", { text: `${humanize(r.ring)} ring` }),
    el("p", { class: "event-occupancy", text: `${r.occupancy}${limit} people${pct(r.load)}` }));
  if (r.limit) card.append(el("meter", { min: "0", max: String(r.limit), low: String(0.8 * r.limit),
    high: String(r.limit), optimum: "0", value: String(r.occupancy), "aria-label": `${r.ring} occupancy` }));
  if (r.upper > r.occupancy) {
    card.append(el("p", { class: "muted", text: `Up to ${r.upper} if overlapping cameras saw different people.` }));
  }
  const density = r.per_m2 === null ? "density: cameras not calibrated"
    : `${r.per_m2.toFixed(2)} /m\u00b2${r.density_limit ? ` (limit ${r.density_limit})` : ""}`;
  card.append(el("p", { class: "muted", text: `${Math.round(r.area_m2).toLocaleString()} m\u00b2 \u00b7 ${density}` }));
  if (trend) {
    card.append(sparkline(trend, r.limit, `${r.ring} over the last 30 minutes`), trendTable(trend));
  }
  if (!r.complete) card.append(el("p", { class: "error", text: "Some cameras are not counting: the figure is low." }));
  card.append(el("ul", { class: "event-feeds" }, ...r.feeds.map(feedRow)));
  return card;
}

export const EventDashboard = {
  built: null,
  layer: null,
  events: [],
  timer: null,
  replay: null,

  init() {
    $("site-event-select").addEventListener("change", () => EventDashboard.load());
    $("site-event-mode").addEventListener("change", () => EventDashboard.load());
    $("site-event-slider").addEventListener("input", () => EventDashboard.showMoment());
    EventEditor.init(async (id) => {
      await EventDashboard.show();
      $("site-event-select").value = id;
      await EventDashboard.load();
    });
  },

  /** When the view opens: the list, then the chosen event. */
  async show() {
    $("site-event-new").hidden = !["supervisor", "admin"].includes(document.body.dataset.role);
    EventDashboard.events = await api.get("/api/site-events");
    const select = $("site-event-select");
    const before = select.value;
    select.replaceChildren(...EventDashboard.events.map((i) => el("option", { value: i.event.id,
      text: `${i.event.name}${i.active ? " (on now)" : ""}` })));
    const active = EventDashboard.events.find((i) => i.active);
    if (before && EventDashboard.events.some((i) => i.event.id === before)) select.value = before;
    else if (active) select.value = active.event.id;
    $("site-event-empty").hidden = EventDashboard.events.length > 0;
    if (EventDashboard.events.length) await EventDashboard.load();
  },

  hide() {
    clearTimeout(EventDashboard.timer);
    EventDashboard.timer = null;
  },

  async load() {
    EventDashboard.hide();
    const id = $("site-event-select").value;
    if (!id) return;
    $("site-event-error").textContent = "";
    const replaying = $("site-event-mode").value === "replay";
    $("site-event-replay").hidden = !replaying;
    await showRefusal($("site-event-error"), async () => {
      if (replaying) {
        EventDashboard.replay = await api.get(`/api/site-events/${encodeURIComponent(id)}/replay`);
        const slider = $("site-event-slider");
        slider.max = String(Math.max(0, EventDashboard.replay.frames.length - 1));
        slider.value = slider.max;
        await EventDashboard.showMoment();
      } else {
        await EventDashboard.render(await api.get(`/api/site-events/${encodeURIComponent(id)}`));
        EventDashboard.timer = setTimeout(() => EventDashboard.load().catch(console.warn), REFRESH_MS);
      }
    }, "Event unavailable: ");
  },

  /** The live dashboard (the hub's EventDashboard). */
  async render(board) {
    const { event } = board.info;
    $("site-event-status").textContent = `${event.name}: ${exactTime(event.starts_at, true)} \u2013 ` +
      `${exactTime(event.ends_at, true)}${board.info.active ? " \u00b7 on now" : " \u00b7 not on now"}` +
      `${event.area ? ` \u00b7 ${areaName(event.area)}` : ""}`;
    $("site-event-rings").replaceChildren(...board.rings.map((r) => ringCard(r, board.trend[r.ring] || [])));
    $("site-event-incidents").replaceChildren(...board.incidents.map((inc) => el("li", {},
      el("strong", { text: inc.ref }), ` ${inc.severity} \u00b7 ${inc.title} \u00b7 ${humanize(inc.state)}`)));
    $("site-event-no-incidents").hidden = board.incidents.length > 0;
    const heat = board.rings.flatMap((r) => r.feeds.filter((f) => f.counted && f.lat !== null)
      .map((f) => [f.lat, f.lon, f.count]));
    await EventDashboard.draw(event, Object.fromEntries(board.rings.map((r) => [r.ring, r.load])), heat);
  },

  /** One moment of the replay (the slider's). */
  async showMoment() {
    const rp = EventDashboard.replay;
    if (!rp) return;
    const { event } = rp.info;
    const frame = rp.frames[Number($("site-event-slider").value)];
    if (!frame) {
      $("site-event-at").textContent = "Nothing was recorded for this event.";
      $("site-event-rings").replaceChildren();
      return;
    }
    $("site-event-at").textContent = exactTime(frame.at, true);
    const limits = Object.fromEntries(["diversion", "control", "core"]
      .filter((n) => event.rings[n]).map((n) => [n, event.rings[n].limit]));
    const loads = {};
    $("site-event-rings").replaceChildren(...Object.entries(frame.rings).map(([ring, p]) => {
      loads[ring] = limits[ring] ? p.occupancy / limits[ring] : null;
      return el("article", { class: "event-ring", dataset: { ring, occupancy: String(p.occupancy) } },
        el("h3", { text: `${humanize(ring)} ring` }),
        el("p", { class: "event-occupancy", text: `${p.occupancy}${limits[ring] ? ` of ${limits[ring]}` : ""} people${pct(loads[ring])}` }));
    }));
    await EventDashboard.draw(event, loads, frame.heat);
  },

  /** Rings shaded by load, heat circles per counted camera ring. */
  async draw(event, loads, heat) {
    if (!EventDashboard.built) EventDashboard.built = planMap($("site-event-map"));
    let built;
    try {
      built = await EventDashboard.built;
    } catch (err) {
      EventDashboard.built = null;
      $("site-event-error").textContent = err.message;
      return;
    }
    const { L, map } = built;
    map.invalidateSize();
    if (EventDashboard.layer) EventDashboard.layer.remove();
    EventDashboard.layer = L.layerGroup().addTo(map);
    for (const name of ["diversion", "control", "core"]) {
      const ring = event.rings[name];
      if (!ring) continue;
      const colour = loadColour(loads[name]);
      L.polygon(ring.polygon.map(ll), { color: colour, weight: 2, fillOpacity: 0.12, className: `event-ring-${name}` })
        .bindTooltip(`${humanize(name)} ring${pct(loads[name])}`).addTo(EventDashboard.layer);
    }
    const most = Math.max(1, ...heat.map((h) => h[2]));
    for (const [lat, lon, count] of heat) {
      const radius = MIN_RADIUS + (MAX_RADIUS - MIN_RADIUS) * Math.sqrt(count / most);
      L.circleMarker([lat, lon], { radius, color: "#c92a2a", weight: 1, fillOpacity: 0.45, className: "heat-point" })
        .bindTooltip(`${count} people`).addTo(EventDashboard.layer);
    }
    $("site-event-map").dataset.points = String(heat.length);
  },
};
