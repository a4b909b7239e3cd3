// The patrol's phone page (#/patrol, where role "patrol" lands): the unit's current order
// with one big button for the next step (accept → en route → on scene → resolve with an
// outcome and a note), "need backup", the incident with its snapshots and notes, a
// navigation link (geo:lat,lon), and the location sharing switch. Built for a 360 px screen
// and one thumb.
//
// A new order plays an alarm distinct from (and louder than) the desk chime and shows a
// system notification when allowed. Every step tap goes through a queue in IndexedDB
// (tap_queue.js) with the tap's own time (``at``) and is sent, in order, as soon as the hub
// can be reached: at once when online; else by the service worker when the network returns
// (Background Sync, even with the page closed), or by this page when it sees the network come
// back or is opened again. A patrol in a tunnel still records when it really arrived.

import { api, ApiError } from "./api.js";
import { $, el, humanize } from "./dom.js";
import { fetchSiteMap, incidentPlace } from "./plan_map.js";
import { Sound } from "./sound.js";
import "./tap_queue.js"; // defines self.TapQueue (a classic script, shared with sw.js)

const { TapQueue } = self;
const OLD_QUEUE_KEY = "vw.patrol.queue"; // before the queue moved to IndexedDB
const SHARE_KEY = "vw.patrol.share";
const NEXT = { dispatched: ["accept", "Accept order"], accepted: ["en_route", "En route"],
  en_route: ["on_scene", "On scene"], on_scene: ["resolve", "Resolve\u2026"] };
// Louder and harsher than the desk chime (sound.js): a sawtooth siren, rising and falling.
// The state a tap moves the assignment to (the hub's own transitions).
const AFTER_STEP = { accept: "accepted", en_route: "en_route", on_scene: "on_scene", resolve: "resolved" };
const ALARM = { type: "sawtooth", gain: 0.9, len: 0.24,
  notes: [[700, 0], [1400, 0.25], [700, 0.5], [1400, 0.75], [700, 1.0], [1400, 1.25]] };

/** Ask the service worker to send the queue when the network is back (Chromium's Background
 * Sync); where there is none, the page's own flush (online event, next sign-in) does it. */
async function syncLater() {
  if (!("serviceWorker" in navigator)) return;
  const reg = await navigator.serviceWorker.getRegistration();
  if (reg && reg.sync) await reg.sync.register(TapQueue.TAG).catch(() => {});
}

export const Patrol = {
  order: null, // {assignment, incident, ...} from GET /api/assignments/mine
  watchId: null,
  asked: 0, // loads of the order started
  ringNext: false,

  init() {
    $("patrol-next").addEventListener("click", Patrol.next);
    $("patrol-backup").addEventListener("click", () => Patrol.step("need_backup"));
    $("patrol-resolve").addEventListener("submit", Patrol.resolve);
    $("patrol-share").addEventListener("change", (e) => Patrol.share(e.target.checked));
    window.addEventListener("online", () => Patrol.flush());
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("message", (e) => {
        if (!e.data || e.data.type !== "taps-sent") return; // the worker sent queued taps
        Patrol.showQueued(e.data.left);
        for (const message of e.data.refused || []) $("patrol-error").textContent = message;
        if (Patrol.order) Patrol.load(false).catch(() => {});
      });
    }
  },

  async signedIn() {
    $("patrol-share").checked = localStorage.getItem(SHARE_KEY) !== "off";
    Patrol.share($("patrol-share").checked);
    await Patrol.adoptOldQueue();
    await Patrol.flush();
    await Patrol.load(false);
  },

  /** Taps a previous version of this page left in localStorage join the shared queue. */
  async adoptOldQueue() {
    const old = JSON.parse(localStorage.getItem(OLD_QUEUE_KEY) || "[]");
    for (const tap of old) await TapQueue.add(tap);
    localStorage.removeItem(OLD_QUEUE_KEY);
  },

  signedOut() {
    Patrol.share(false, true);
    Patrol.order = null;
  },

  /** The unit's active order; ``alarm``: a new one rings. */
  async load(alarm) {
    const asked = ++Patrol.asked; // answers can overtake each other: only the newest counts
    Patrol.ringNext = Patrol.ringNext || alarm; // ...and rings if any of the overtaken would
    let mine = null;
    try {
      mine = await api.get("/api/assignments/mine");
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
    if (asked !== Patrol.asked) return;
    if (Array.isArray(mine)) mine = mine[0] || null;
    const before = Patrol.order && Patrol.order.assignment.id;
    Patrol.order = mine && mine.assignment ? mine : null;
    if (Patrol.order) await Patrol.withQueued(Patrol.order.assignment);
    if (Patrol.ringNext && Patrol.order && Patrol.order.assignment.id !== before) Patrol.ring(Patrol.order);
    Patrol.ringNext = false;
    await Patrol.render();
  },

  async render() {
    const o = Patrol.order;
    $("patrol-none").hidden = Boolean(o);
    $("patrol-order").hidden = !o;
    if (!o) return;
    const a = o.assignment;
    const inc = o.incident || {};
    $("patrol-order").dataset.state = a.state;
    $("patrol-order").dataset.id = a.id;
    $("patrol-title").textContent = `${inc.ref || ""} ${inc.title || ""}`.trim();
    $("patrol-state").textContent = humanize(a.state);
    const [step, label] = NEXT[a.state] || [null, ""];
    $("patrol-next").hidden = !step;
    $("patrol-next").textContent = label;
    $("patrol-next").dataset.step = step || "";
    $("patrol-resolve").hidden = true;
    $("patrol-snapshots").replaceChildren(...(o.alerts || []).filter((x) => x.snapshot_url)
      .map((x) => el("img", { src: x.snapshot_url, alt: `Snapshot: ${humanize(x.kind)}`, loading: "lazy" })));
    $("patrol-notes").replaceChildren(...(o.notes || []).map((n) =>
      el("li", { text: `${n.author}: ${n.text}` })));
    const where = o.geo_url ? null : await Patrol.where(inc);
    const geo = o.geo_url || (where ? `geo:${where.lat},${where.lon}` : null);
    $("patrol-nav").hidden = !geo;
    if (geo) $("patrol-nav").href = geo;
  },

  async where(inc) {
    const loc = inc.location || {};
    if (loc.lat != null && loc.lon != null) return loc; // no need for the site map
    try {
      return incidentPlace(await fetchSiteMap(), inc);
    } catch (_) {
      return null; // no map configured
    }
  },

  next() {
    const step = $("patrol-next").dataset.step;
    if (step === "resolve") {
      $("patrol-resolve").hidden = false;
      $("patrol-next").hidden = true;
      return;
    }
    if (step) Patrol.step(step);
  },

  resolve(e) {
    e.preventDefault();
    const outcome = $("patrol-resolve").querySelector("input[name=patrol-outcome]:checked");
    if (!outcome) { $("patrol-error").textContent = "Pick how it ended."; return; }
    const note = $("patrol-note").value.trim();
    Patrol.step("resolve", { outcome: outcome.value, ...(note ? { note } : {}) });
  },

  /** The hub's state of ``a``, moved on by the taps still queued for it: a tap counts from
   * the moment it is made, and a reload that left before the network went (its answer
   * arriving after an offline tap) must not take it back. */
  async withQueued(a) {
    for (const tap of await TapQueue.all()) {
      const after = AFTER_STEP[tap.step];
      if (tap.assignment_id === a.id && after) a.state = after;
    }
  },

  /** One tap: its time is now, whether or not the hub hears it now. */
  async step(step, extra = {}) {
    const a = Patrol.order && Patrol.order.assignment;
    if (!a) return;
    const tap = { assignment_id: a.id, step, at: new Date().toISOString(), ...extra };
    $("patrol-error").textContent = "";
    await TapQueue.add(tap);
    Patrol.showQueued((await TapQueue.all()).length);
    syncLater().catch(() => {});
    // Shown at once: the tap counts even if it waits in the queue.
    const after = AFTER_STEP[step];
    if (after) { a.state = after; await Patrol.render(); }
    await Patrol.flush();
  },

  /** Send the queued taps now (in order; the first that cannot reach the hub stops it). */
  async flush() {
    const { left, refused } = await TapQueue.flush();
    for (const message of refused) $("patrol-error").textContent = message; // say why
    Patrol.showQueued(left);
  },

  showQueued(left) {
    $("patrol-queued").hidden = left === 0;
    $("patrol-queued").textContent = left ? `${left} step(s) waiting for the network` : "";
  },

  /** Live: an assignment changed; ours (or a new one for our unit) reloads the order. */
  assignmentChanged() {
    Patrol.load(true).catch(() => {});
  },

  ring(order) {
    document.body.dataset.orders = String(Number(document.body.dataset.orders || 0) + 1);
    if (navigator.vibrate) navigator.vibrate([600, 150, 600, 150, 600]);
    Sound.play(ALARM);
    const inc = order.incident || {};
    if (window.Notification && Notification.permission === "granted") {
      new Notification(`New order: ${inc.ref || ""}`, { body: inc.title || "", tag: `order-${order.assignment.id}` });
    }
  },

  /** Location sharing while on duty: watchPosition fixes go to POST /api/positions. */
  share(on, quiet = false) {
    if (!quiet) localStorage.setItem(SHARE_KEY, on ? "on" : "off");
    $("patrol-sharing").dataset.on = String(on);
    $("patrol-sharing-label").textContent = on ? "Sharing location" : "Location not shared";
    if (Patrol.watchId !== null) navigator.geolocation.clearWatch(Patrol.watchId);
    Patrol.watchId = null;
    if (!on || !navigator.geolocation) return;
    Patrol.watchId = navigator.geolocation.watchPosition((fix) => {
      const c = fix.coords;
      api.post("/api/positions", { lat: c.latitude, lon: c.longitude,
        at: new Date(fix.timestamp).toISOString(), accuracy_m: c.accuracy,
        ...(c.speed != null ? { speed_kmh: c.speed * 3.6 } : {}),
        ...(c.heading != null && !Number.isNaN(c.heading) ? { bearing: c.heading } : {}) })
        .catch(() => {}); // the next fix tries again
    }, () => {}, { enableHighAccuracy: true, maximumAge: 10000 });
  },
};
