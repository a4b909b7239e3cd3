// VillageWatch officer page. Plain JS, no build step, no network beyond this hub.
//
// Data comes only from the authenticated API (cookie session set by POST /api/login):
//   GET /api/me, /api/site, /api/alerts, /api/nodes   - state on sign-in and after reconnects
//   GET /api/events (Server-Sent Events)               - alert / snapshot / node as they happen
// Every value from the hub is put in the page with textContent, never as HTML.
//
// Pieces: api (fetch wrapper), AlertCard (one list item), DetailsPane (one alert in full;
// incident actions will go in its #details-actions slot), NodeBar, LiveStream, Chime.
"use strict";

const MAX_CARDS = 200;
const state = { me: null, site: null, alerts: new Map(), nodes: new Map(), areas: new Map() };
const $ = (id) => document.getElementById(id);

// --- api ------------------------------------------------------------------------------

class Unauthorized extends Error {}

const api = {
  async request(method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    if (res.status === 401) throw new Unauthorized();
    if (!res.ok) {
      let detail = res.statusText;
      try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
      const err = new Error(String(detail));
      err.status = res.status;
      throw err;
    }
    return res.status === 204 ? null : res.json();
  },
  get(path) { return this.request("GET", path); },
  post(path, body) { return this.request("POST", path, body); },
};

// --- time -----------------------------------------------------------------------------

// Times are shown in the site's time zone: the officer is at the site.
function formatTime(iso, withDate, withSeconds = true) {
  const when = new Date(iso);
  const opts = { hour: "2-digit", minute: "2-digit" };
  if (withSeconds) opts.second = "2-digit";
  if (state.site && state.site.timezone) opts.timeZone = state.site.timezone;
  const sameDay = new Date().toDateString() === when.toDateString();
  if (withDate || !sameDay) Object.assign(opts, { weekday: "short", day: "numeric", month: "short" });
  try {
    return new Intl.DateTimeFormat(undefined, opts).format(when);
  } catch (_) {
    delete opts.timeZone;
    return new Intl.DateTimeFormat(undefined, opts).format(when);
  }
}

const areaName = (id) => state.areas.get(id) || id;

// --- alert cards ----------------------------------------------------------------------

const AlertCard = {
  create(alert) {
    const li = $("alert-card").content.firstElementChild.cloneNode(true);
    li.dataset.id = alert.id;
    li.querySelector(".card-main").addEventListener("click", () => DetailsPane.open(alert.id));
    const img = li.querySelector(".thumb img");
    img.addEventListener("load", () => { img.hidden = false; li.querySelector(".thumb-note").hidden = true; });
    img.addEventListener("error", () => { img.hidden = true; AlertCard.note(li, "No photo"); });
    AlertCard.update(li, alert);
    return li;
  },
  update(li, alert) {
    li.dataset.severity = alert.severity;
    li.dataset.ts = alert.ts;
    li.querySelector(".sev").textContent = alert.severity;
    li.querySelector(".kind").textContent = alert.kind.replace(/_/g, " ");
    const time = li.querySelector("time");
    time.dateTime = alert.ts;
    time.textContent = formatTime(alert.ts, false, false);
    time.title = formatTime(alert.ts, true);
    li.querySelector(".where").textContent =
      areaName(alert.area) + (alert.zone ? " \u00b7 zone " + alert.zone : "");
    li.querySelector(".source").textContent =
      (alert.camera ? "camera " + alert.camera + " on " : "") + alert.node;
    li.querySelector(".msg").textContent = alert.message || "";
    AlertCard.showSnapshot(li, alert);
  },
  showSnapshot(li, alert) {
    const img = li.querySelector(".thumb img");
    if (alert.snapshot_url) {
      if (img.getAttribute("src") !== alert.snapshot_url) img.src = alert.snapshot_url;
    } else {
      AlertCard.note(li, alert.has_snapshot ? "Photo coming\u2026" : "No photo");
    }
  },
  note(li, text) {
    const note = li.querySelector(".thumb-note");
    note.textContent = text;
    note.hidden = false;
  },
};

const AlertList = {
  // Insert or refresh an alert; keeps the list sorted newest event first.
  upsert(alert, isLive) {
    const known = state.alerts.has(alert.id);
    state.alerts.set(alert.id, alert);
    const list = $("alerts");
    let li = list.querySelector(`li[data-id="${alert.id}"]`);
    if (li) {
      AlertCard.update(li, alert);
    } else {
      li = AlertCard.create(alert);
      const after = [...list.children].find((el) => el.dataset.ts < alert.ts);
      list.insertBefore(li, after || null);
      if (isLive) li.classList.add("new");
      while (list.children.length > MAX_CARDS) {
        state.alerts.delete(list.lastElementChild.dataset.id);
        list.lastElementChild.remove();
      }
    }
    AlertList.counts();
    return !known;
  },
  snapshotArrived(alertId, url) {
    const alert = state.alerts.get(alertId);
    if (!alert) return;
    alert.snapshot_url = url;
    AlertList.upsert(alert, false);
    if (DetailsPane.current === alertId) DetailsPane.open(alertId);
  },
  clear() {
    state.alerts.clear();
    $("alerts").replaceChildren();
    AlertList.counts();
  },
  counts() {
    const n = $("alerts").children.length;
    $("empty").hidden = n > 0;
    $("alert-count").textContent = n ? `(${n})` : "";
  },
};

// --- details pane ---------------------------------------------------------------------

const DetailsPane = {
  current: null,
  open(alertId) {
    const a = state.alerts.get(alertId);
    if (!a) return;
    DetailsPane.current = alertId;
    $("details-title").textContent = `${a.kind.replace(/_/g, " ")} \u00b7 ${a.severity}`;
    const img = $("details-img");
    img.hidden = !a.snapshot_url;
    if (a.snapshot_url) img.src = a.snapshot_url;
    const objects = (a.objects || [])
      .map((o) => `${o.label} ${Math.round(o.score * 100)}%`).join(", ");
    const rows = [
      ["Area", areaName(a.area)], ["Zone", a.zone], ["Camera", a.camera], ["Node", a.node],
      ["Time", formatTime(a.ts, true)], ["Received", formatTime(a.received_at, true)],
      ["Objects", objects], ["Message", a.message], ["Alert", `#${a.seq} \u00b7 ${a.id}`],
    ];
    const dl = $("details-fields");
    dl.replaceChildren();
    for (const [label, value] of rows) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      dl.append(dt, dd);
    }
    $("details").hidden = false;
    $("details-close").focus();
  },
  close() {
    DetailsPane.current = null;
    $("details").hidden = true;
  },
};

// --- nodes ----------------------------------------------------------------------------

const NodeBar = {
  set(node) {
    const key = `${node.site}/${node.node}`;
    state.nodes.set(key, { ...(state.nodes.get(key) || {}), ...node });
    NodeBar.render();
  },
  render() {
    const bar = $("nodes");
    bar.replaceChildren();
    const nodes = [...state.nodes.values()].sort((a, b) => a.node.localeCompare(b.node));
    for (const n of nodes) {
      const chip = document.createElement("span");
      chip.className = "node";
      chip.dataset.node = n.node;
      chip.dataset.state = n.state || "unknown";
      chip.title = `${n.role || "node"} ${n.node}: ${n.state || "unknown"}`;
      const dot = document.createElement("span");
      dot.className = "dot";
      const name = document.createElement("span");
      name.textContent = n.node;
      const st = document.createElement("span");
      st.className = "state";
      st.textContent = n.state || "unknown";
      chip.append(dot, name, st);
      bar.append(chip);
    }
  },
};

// --- sound ----------------------------------------------------------------------------

const Chime = {
  ctx: null,
  on: false,
  toggle() {
    // Browsers only start audio after a user gesture: this click is it.
    if (!Chime.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx) Chime.ctx = new Ctx();
    }
    Chime.on = !Chime.on;
    if (Chime.ctx && Chime.ctx.state === "suspended") Chime.ctx.resume();
    const btn = $("sound-toggle");
    btn.setAttribute("aria-pressed", String(Chime.on));
    btn.textContent = Chime.on ? "Sound on" : "Sound off";
    if (Chime.on) Chime.play();
  },
  play() {
    if (!Chime.on) return;
    if (navigator.vibrate) navigator.vibrate([180, 80, 180]);
    const ctx = Chime.ctx;
    if (!ctx) return;
    const t0 = ctx.currentTime;
    [[880, 0], [660, 0.18], [880, 0.36]].forEach(([freq, at]) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(0.4, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + 0.18);
    });
  },
};

// --- live stream ----------------------------------------------------------------------

const LiveStream = {
  source: null,
  retryMs: 1000,
  timer: null,
  setState(s, label) {
    $("conn").dataset.state = s;
    $("conn-label").textContent = label;
  },
  start() {
    LiveStream.stop();
    LiveStream.setState("connecting", "Connecting");
    const es = new EventSource("/api/events");
    LiveStream.source = es;
    es.addEventListener("open", () => {
      LiveStream.retryMs = 1000;
      LiveStream.setState("live", "Live");
      App.refresh().catch(App.failed); // catch up on anything missed while away
    });
    es.addEventListener("alert", (e) => {
      if (AlertList.upsert(JSON.parse(e.data), true)) Chime.play();
    });
    es.addEventListener("snapshot", (e) => {
      const d = JSON.parse(e.data);
      AlertList.snapshotArrived(d.alert_id, d.snapshot_url);
    });
    es.addEventListener("node", (e) => NodeBar.set(JSON.parse(e.data)));
    es.addEventListener("logout", () => App.signedOut("Your session ended. Please sign in again."));
    es.addEventListener("error", () => {
      LiveStream.setState("offline", "Offline");
      // The browser retries network errors itself; a refused stream (401, hub restart
      // mid-handshake) is CLOSED and needs us to decide.
      if (es.readyState === EventSource.CLOSED) LiveStream.retryLater();
    });
  },
  retryLater() {
    LiveStream.stop();
    LiveStream.setState("offline", "Offline \u00b7 retrying");
    LiveStream.timer = setTimeout(async () => {
      try {
        await api.get("/api/me");
        LiveStream.start();
      } catch (err) {
        if (err instanceof Unauthorized) return App.signedOut("Please sign in again.");
        LiveStream.retryLater();
      }
    }, LiveStream.retryMs);
    LiveStream.retryMs = Math.min(LiveStream.retryMs * 2, 30000);
  },
  stop() {
    clearTimeout(LiveStream.timer);
    if (LiveStream.source) LiveStream.source.close();
    LiveStream.source = null;
  },
};

// --- app ------------------------------------------------------------------------------

const App = {
  async boot() {
    $("login-form").addEventListener("submit", App.login);
    $("logout").addEventListener("click", App.logout);
    $("sound-toggle").addEventListener("click", Chime.toggle);
    $("details-close").addEventListener("click", DetailsPane.close);
    $("details").addEventListener("click", (e) => { if (e.target.id === "details") DetailsPane.close(); });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") DetailsPane.close(); });
    try {
      state.me = await api.get("/api/me");
      await App.signedIn();
    } catch (err) {
      if (err instanceof Unauthorized) App.showLogin("");
      else App.showLogin("The hub is not answering. Reload to try again.");
    }
  },
  showLogin(message) {
    $("main-view").hidden = true;
    $("login-view").hidden = false;
    $("login-error").textContent = message || "";
    $("login-username").focus();
  },
  async login(e) {
    e.preventDefault();
    const button = $("login-submit");
    button.disabled = true;
    $("login-error").textContent = "";
    try {
      state.me = await api.post("/api/login", {
        username: $("login-username").value.trim(),
        password: $("login-password").value,
      });
      $("login-password").value = "";
      await App.signedIn();
    } catch (err) {
      $("login-error").textContent = err instanceof Unauthorized
        ? "Wrong username or password."
        : err.status === 429 ? "Too many attempts. Wait a moment and try again." : String(err.message);
    } finally {
      button.disabled = false;
    }
  },
  async signedIn() {
    $("login-view").hidden = true;
    $("main-view").hidden = false;
    $("whoami").textContent = `${state.me.username} \u00b7 ${state.me.role}`;
    state.site = await api.get("/api/site");
    state.areas = new Map(state.site.areas.map((a) => [a.id, a.name]));
    $("site-name").textContent = state.site.name;
    document.title = `${state.site.name} \u00b7 VillageWatch`;
    LiveStream.start();
  },
  async refresh() {
    const [alerts, nodes] = await Promise.all([api.get("/api/alerts?limit=100"), api.get("/api/nodes")]);
    for (const a of alerts.reverse()) AlertList.upsert(a, false);
    for (const n of nodes) NodeBar.set(n);
  },
  failed(err) {
    if (err instanceof Unauthorized) App.signedOut("Please sign in again.");
    else console.warn("refresh failed", err);
  },
  signedOut(message) {
    LiveStream.stop();
    DetailsPane.close();
    AlertList.clear();
    state.nodes.clear();
    NodeBar.render();
    App.showLogin(message);
  },
  async logout() {
    try { await api.post("/api/logout"); } catch (_) { /* already gone */ }
    App.signedOut("Signed out.");
  },
};

document.addEventListener("DOMContentLoaded", App.boot);
