// The live feed: one EventSource on /api/events, watched by a heartbeat.
//
// The hub sends `ping` every heartbeat_s seconds. A connection can stall without any error
// (a phone between cells, a proxy holding the socket): after two missed pings the page says
// "Reconnecting", closes the stream and opens a new one, so "Live" on screen always means
// events are flowing.
//
// Resume: every data event has an id. The browser's own retries send it back as
// Last-Event-ID; a stream the page replaces itself passes it as ?last_event_id= (EventSource
// cannot set headers). The hub replays exactly the missed events, or says `resync`.

import { api, Unauthorized } from "./api.js";
import { $ } from "./dom.js";

const EVENTS = [
  "alert", "snapshot", "node", "incident", "resync", "unit", "assignment", "dispatch_timeout",
];
const GRACE_MS = 1000; // a ping a little late is not a missed ping

export const LiveStream = {
  source: null,
  heartbeatMs: 15000,
  lastId: null,
  everOpened: false,
  watchdog: null,
  retryTimer: null,
  retryMs: 1000,
  handlers: { event() {}, opened() {}, signedOut() {} },

  /** handlers: event(name, data), opened(afterGap), signedOut(message). */
  configure(heartbeatS, handlers) {
    LiveStream.heartbeatMs = Math.max(1, Number(heartbeatS) || 15) * 1000;
    Object.assign(LiveStream.handlers, handlers);
  },

  setState(state, label) {
    $("conn").dataset.state = state;
    $("conn-label").textContent = label;
  },

  start() {
    LiveStream.stop();
    if (!LiveStream.everOpened) LiveStream.setState("connecting", "Connecting");
    const url = LiveStream.lastId
      ? `/api/events?last_event_id=${encodeURIComponent(LiveStream.lastId)}`
      : "/api/events";
    const es = new EventSource(url);
    LiveStream.source = es;
    es.addEventListener("open", () => LiveStream._opened(es));
    es.addEventListener("ping", () => LiveStream._alive(es));
    for (const name of EVENTS) {
      es.addEventListener(name, (e) => {
        if (es !== LiveStream.source) return; // a stream we already gave up on
        LiveStream._alive(es);
        if (e.lastEventId) LiveStream.lastId = e.lastEventId;
        let data = {};
        try { data = JSON.parse(e.data || "{}"); } catch (_) { return; }
        LiveStream.handlers.event(name, data);
      });
    }
    es.addEventListener("logout", () => {
      LiveStream.stop();
      LiveStream.handlers.signedOut("Your session ended. Please sign in again.");
    });
    // The hub is stopping; the browser reconnects by itself once it is back.
    es.addEventListener("shutdown", () => LiveStream.setState("reconnecting", "Reconnecting"));
    es.addEventListener("error", () => {
      if (es !== LiveStream.source) return;
      LiveStream.setState("reconnecting", "Reconnecting");
      // The browser retries network errors itself (with Last-Event-ID); a refused stream
      // (401, a hub restarting mid-handshake) is CLOSED and needs us to decide.
      if (es.readyState === EventSource.CLOSED) LiveStream._retryLater();
    });
    LiveStream._arm();
  },

  stop() {
    clearTimeout(LiveStream.retryTimer);
    clearTimeout(LiveStream.watchdog);
    if (LiveStream.source) LiveStream.source.close();
    LiveStream.source = null;
  },

  /** Forget the session's stream entirely (sign-out). */
  reset() {
    LiveStream.stop();
    LiveStream.lastId = null;
    LiveStream.everOpened = false;
    LiveStream.retryMs = 1000;
  },

  _opened(es) {
    if (es !== LiveStream.source) return;
    const afterGap = LiveStream.everOpened;
    LiveStream.everOpened = true;
    LiveStream.retryMs = 1000;
    LiveStream._alive(es);
    LiveStream.handlers.opened(afterGap);
  },

  _alive(es) {
    if (es !== LiveStream.source) return;
    if (es.readyState === EventSource.OPEN) LiveStream.setState("live", "Live");
    LiveStream._arm();
  },

  // Two heartbeats without a word: the stream is stalled even if no error says so.
  _arm() {
    clearTimeout(LiveStream.watchdog);
    LiveStream.watchdog = setTimeout(() => {
      LiveStream.setState("reconnecting", "Reconnecting");
      LiveStream.start();
    }, 2 * LiveStream.heartbeatMs + GRACE_MS);
  },

  _retryLater() {
    LiveStream.stop();
    LiveStream.retryTimer = setTimeout(async () => {
      try {
        await api.get("/api/me");
        LiveStream.start();
      } catch (err) {
        if (err instanceof Unauthorized) {
          LiveStream.handlers.signedOut("Please sign in again.");
          return;
        }
        LiveStream.setState("offline", "Offline \u00b7 retrying");
        LiveStream._retryLater();
      }
    }, LiveStream.retryMs);
    LiveStream.retryMs = Math.min(LiveStream.retryMs * 2, 30000);
  },
};
