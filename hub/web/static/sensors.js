// The sensors page: arming per area (arm, disarm, back to schedule) and sensor health.
//
//   GET /api/me, /api/site, /api/arming, /api/sensors/health   on load, on node and
//                                   incident events (GET /api/events), every REFRESH_MS
//   PUT /api/arming/{area} {mode}                     officers and up; viewers only read
//
// Values from the hub go in with textContent (dom.js el()), never as HTML.

import { api, ApiError, Unauthorized } from "./api.js";
import { LiveStream } from "./live.js";
import { $, el, humanize } from "./dom.js";

// Node and incident events refresh the page at once (a node offline, a tamper, a flat
// battery become incidents); heartbeats send no event, so battery figures also refresh
// once a minute.
const REFRESH_MS = 60000;
const SETTLE_MS = 300; // a burst of events is one refresh
let refreshTimer = null;

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => refresh().catch(() => {}), SETTLE_MS);
}

function follow(site) {
  LiveStream.configure(site.heartbeat_s, {
    event: (name) => {
      if (name === "node" || name === "incident" || name === "resync") refreshSoon();
    },
    opened: () => refreshSoon(),
    signedOut: () => {
      $("sensors-signin").hidden = false;
    },
  });
  LiveStream.start();
}
const CAN_ARM = new Set(["officer", "supervisor", "admin"]);
const MODES = [["armed", "Arm"], ["disarmed", "Disarm"], ["schedule", "Schedule"]];
let role = "viewer";

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

function armingRow(a) {
  const buttons = CAN_ARM.has(role)
    ? MODES.map(([mode, label]) =>
      el("button", {
        type: "button",
        class: "btn",
        dataset: { mode },
        disabled: mode === a.mode,
        text: label,
        onclick: () => setMode(a.area, mode),
      }))
    : [];
  const mode = a.mode === "schedule" && !a.has_schedule ? "always (no schedule)" : humanize(a.mode);
  return el("tr", { dataset: { area: a.area, armed: String(a.armed) } },
    el("th", { scope: "row", text: a.name }),
    el("td", { class: "armed-state", text: a.armed ? "Armed" : "Disarmed" }),
    el("td", { class: "mode", text: mode }),
    el("td", { text: a.set_by ? `${a.set_by}, ${when(a.set_at)}` : "—" }),
    el("td", { class: "nowrap" }, ...buttons));
}

function status(s) {
  const flags = [s.offline && "offline", s.tamper && "tamper", s.stuck && "stuck"].filter(Boolean);
  return flags.length ? flags.join(", ") : "ok";
}

function healthRow(s) {
  const battery = [s.battery_v != null && `${s.battery_v.toFixed(2)} V`,
    s.battery_pct != null && `${Math.round(s.battery_pct)} %`].filter(Boolean).join(" · ");
  return el("tr", { dataset: { node: s.node, status: status(s) } },
    el("th", { scope: "row", text: s.kind ? `${s.node} (${humanize(s.kind)})` : s.node }),
    el("td", { text: s.area || "—" }),
    el("td", { class: "status", text: status(s) }),
    el("td", { text: battery || "—" }),
    el("td", { class: "days-left", text: s.days_left != null ? s.days_left.toFixed(0) : "—" }),
    el("td", { text: when(s.last_heartbeat) }),
    el("td", { text: s.rssi_dbm != null ? `${s.rssi_dbm} dBm` : "—" }));
}

async function setMode(area, mode) {
  $("sensors-error").textContent = "";
  try {
    await api.put(`/api/arming/${encodeURIComponent(area)}`, { mode });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    $("sensors-error").textContent = err.message;
  }
  await refresh();
}

async function refresh() {
  const [arming, health] = await Promise.all([api.get("/api/arming"), api.get("/api/sensors/health")]);
  $("arming-rows").replaceChildren(...arming.map(armingRow));
  $("health-rows").replaceChildren(...health.map(healthRow));
  $("health-empty").hidden = health.length > 0;
  $("health-count").textContent = `(${health.length})`;
}

async function start() {
  try {
    const me = await api.get("/api/me");
    role = me.role;
    $("sensors-whoami").textContent = `${me.username} (${me.role})`;
    await refresh();
    setInterval(() => refresh().catch(() => {}), REFRESH_MS);
    follow(await api.get("/api/site"));
  } catch (err) {
    if (err instanceof Unauthorized) $("sensors-signin").hidden = false;
    else throw err;
  }
}

start();
