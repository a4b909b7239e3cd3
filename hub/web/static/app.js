// VillageWatch officer page: sign-in, the views, and the wiring between the live feed and
// the lists. Plain ES modules, no build step, no network beyond this hub.
//
// Data comes only from the authenticated API (cookie session set by POST /api/login):
//   GET /api/me, /api/site              who is signed in; site name, areas, heartbeat
//   GET /api/incidents/queue, /api/alerts, /api/nodes ... on sign-in and after a resync
//   GET /api/events (Server-Sent Events) alert, snapshot, node, incident, resync, ping
// Every value from the hub is put in the page with textContent, never as HTML.
//
// Modules: api (fetch), dom (helpers, dialogs, clocks), live (the stream and its heartbeat),
// sound, alerts, incidents (queue) and incident_view (one incident), call_form (110 calls),
// reports, admin, nodes, notify (service worker, notifications, push).

import { Admin } from "./admin.js";
import { Alerts } from "./alerts.js";
import { api, Unauthorized } from "./api.js";
import { CallForm } from "./call_form.js";
import { $, areaName, areaOptions, humanize, setSite, Ticker } from "./dom.js";
import { IncidentView } from "./incident_view.js";
import { Incidents } from "./incidents.js";
import { LiveStream } from "./live.js";
import { SiteMapView } from "./map.js";
import { DispatchPanel } from "./dispatch_panel.js";
import { EventDashboard } from "./event_dashboard.js";
import { Patrol } from "./patrol.js";
import { Privacy } from "./privacy.js";
import { NodeBar } from "./nodes.js";
import { Notify } from "./notify.js";
import { Reports } from "./reports.js";
import { Safety } from "./safety.js";
import { Sharing } from "./sharing.js";
import { Sound } from "./sound.js";
import { Statistics } from "./statistics.js";
import { Watchlist } from "./watchlist.js";

const DESK_ROLES = ["officer", "supervisor", "admin"];
const state = { me: null, site: null, view: "incidents" };

const Views = {
  names: ["incidents", "alerts", "patrol", "map", "reports", "statistics", "site-events", "safety", "admin",
    "privacy", "sharing", "watchlist"],
  init() {
    for (const name of Views.names) {
      $(`tab-${name}`).addEventListener("click", () => Views.show(name));
    }
  },
  show(name) {
    state.view = name;
    for (const other of Views.names) {
      $(`${other}-view`).hidden = other !== name;
      const tab = $(`tab-${other}`);
      if (other === name) tab.setAttribute("aria-current", "page");
      else tab.removeAttribute("aria-current");
    }
    if (name === "map") SiteMapView.show().catch(App.failed);
    if (name === "reports") Reports.load().catch(App.failed);
    if (name === "statistics") Statistics.load().catch(App.failed);
    if (name === "site-events") EventDashboard.show().catch(App.failed);
    else EventDashboard.hide();
    if (name === "safety") Safety.load().catch(App.failed);
    if (name === "admin") Admin.load().catch(App.failed);
    if (name === "privacy") Privacy.load().catch(App.failed);
    if (name === "sharing") Sharing.load().catch(App.failed);
    if (name === "watchlist") Watchlist.load().catch(App.failed);
  },
};

function toast(message) {
  $("toast").textContent = message;
  $("toast").hidden = !message;
}

let reloadSoon = null;

const App = {
  async boot() {
    $("login-form").addEventListener("submit", App.login);
    $("logout").addEventListener("click", App.logout);
    $("toast").addEventListener("click", () => toast(""));
    window.addEventListener("hashchange", () => App.openFromHash());
    // A request refused with 401 anywhere (session ended, revoked): back to sign-in.
    window.addEventListener("unhandledrejection", (e) => {
      if (!(e.reason instanceof Unauthorized)) return;
      e.preventDefault();
      if (state.me) App.signedOut("Please sign in again.");
    });
    Views.init();
    Sound.init();
    Alerts.init({ onNew: () => Sound.chime(), openIncident: (id) => IncidentView.open(id) });
    Incidents.init(App.incidentHooks);
    IncidentView.init();
    CallForm.init({ opened: (inc) => { Incidents.set(inc); IncidentView.open(inc.id); } });
    Admin.init();
    Privacy.init();
    Reports.init();
    Statistics.init();
    EventDashboard.init();
    Patrol.init();
    Ticker.start();
    Notify.register((id) => { if (state.me) IncidentView.open(id); });
    try {
      state.me = await api.get("/api/me");
      await App.signedIn();
    } catch (err) {
      if (err instanceof Unauthorized) App.showLogin("");
      else App.showLogin("The hub is not answering. Reload to try again.");
    }
  },

  incidentHooks: {
    show: (id) => IncidentView.open(id),
    selected: () => {
      if (IncidentView.modal.isOpen) return IncidentView.id;
      return document.querySelector("dialog[open]") ? undefined : null;
    },
    opened(inc) {
      Sound.chime();
      const where = inc.location.area ? areaName(inc.location.area) : inc.location.address;
      Notify.show(`New ${inc.severity} incident`, `${inc.ref} ${inc.title} \u00b7 ${where || ""}`, inc.id);
    },
    escalated(inc, live) {
      Sound.escalated(inc.id, () => {
        const now = Incidents.all.get(inc.id);
        return Boolean(state.me) && now && now.state === "new";
      });
      if (live) {
        Notify.show(`Not acknowledged: ${inc.ref}`,
          `${inc.severity} ${humanize(inc.kind)} is waiting \u00b7 ${inc.title}`, inc.id, true);
      }
    },
    changed(inc) {
      if (IncidentView.id !== inc.id) return;
      IncidentView.renderHead(inc);
      clearTimeout(reloadSoon); // notes and history: fetch once for a burst of events
      reloadSoon = setTimeout(() => IncidentView.reload().catch(App.failed), 150);
    },
    failed(message) {
      if (IncidentView.modal.isOpen) IncidentView.failed(message);
      else toast(message);
    },
  },

  showLogin(message) {
    $("main-view").hidden = true;
    $("topbar-session").hidden = true;
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
    const role = state.me.role;
    $("login-view").hidden = true;
    $("main-view").hidden = false;
    $("topbar-session").hidden = false;
    $("whoami").textContent = `${state.me.username} \u00b7 ${role}`;
    document.body.dataset.role = role;
    Incidents.canAct = DESK_ROLES.includes(role);
    Sound.setDesk(DESK_ROLES.includes(role));
    $("tab-reports").hidden = !["supervisor", "admin"].includes(role);
    $("tab-statistics").hidden = !DESK_ROLES.includes(role);
    $("tab-site-events").hidden = role === "patrol";
    $("tab-safety").hidden = !DESK_ROLES.includes(role);
    Safety.canReports = ["supervisor", "admin"].includes(role);
    $("tab-admin").hidden = role !== "admin";
    $("tab-privacy").hidden = role !== "admin";
    $("tab-sharing").hidden = role !== "admin";
    $("tab-watchlist").hidden = !DESK_ROLES.includes(role);
    Watchlist.me = state.me;
    $("new-call").hidden = !Incidents.canAct;
    $("ack-hint").hidden = !Incidents.canAct;
    state.site = await api.get("/api/site");
    setSite(state.site);
    $("site-name").textContent = state.site.name;
    document.title = `${state.site.name} \u00b7 VillageWatch`;
    areaOptions($("f-area"), "Any area");
    areaOptions($("call-area"), "Not in an area / see address");
    areaOptions($("report-area"), "All areas");
    $("tab-patrol").hidden = role !== "patrol";
    Views.show(role === "patrol" ? "patrol" : "incidents");
    if (role === "patrol") Patrol.signedIn().catch(App.failed);
    LiveStream.configure(state.site.heartbeat_s, {
      event: App.onEvent,
      opened: (afterGap) => (afterGap ? App.catchUp() : App.loadAll()).catch(App.failed),
      signedOut: (message) => App.signedOut(message),
    });
    LiveStream.start();
    Notify.signedIn();
  },

  onEvent(name, data) {
    if (name === "alert") Alerts.arrived(data);
    else if (name === "snapshot") Alerts.snapshotArrived(data);
    else if (name === "node") { NodeBar.set(data); SiteMapView.node(data); }
    else if (name === "incident") { Incidents.changed(data); SiteMapView.incident(data.incident); }
    else if (name === "unit") SiteMapView.unit(data.unit);
    else if (name === "assignment" || name === "dispatch_timeout") App.assignment(name, data);
    else if (name === "resync") App.catchUp().catch(App.failed);
  },

  /** Lists on the first connection of a session. */
  async loadAll() {
    await Promise.all([
      Alerts.reload(),
      Incidents.load(false),
      api.get("/api/nodes").then(App.nodes),
    ]);
    App.mapIncidents();
    App.openFromHash();
  },

  /** "/#/incidents/<id>": the link in a push notification or an e-mail. */
  openFromHash() {
    const wanted = /^#\/incidents\/([0-9a-f]{32})$/.exec(location.hash);
    if (!wanted || !state.me) return;
    history.replaceState(null, "", location.pathname);
    IncidentView.open(wanted[1]);
  },

  /** After a gap the stream may not have replayed (resync, a replaced stream): what came in
   * meanwhile shows up as new (chimed, highlighted), and the lists are fresh again. */
  async catchUp() {
    await Promise.all([
      Alerts.catchUp().then(() => Alerts.loadPage(true, true)),
      Incidents.load(true),
      api.get("/api/nodes").then(App.nodes),
      SiteMapView.loadUnits(),
    ]);
    App.mapIncidents();
    if (IncidentView.id) await IncidentView.reload();
  },

  assignment(name, data) {
    if (state.me && state.me.role === "patrol") Patrol.assignmentChanged(data);
    else DispatchPanel.assignmentChanged(data, name === "dispatch_timeout", () => Sound.chime());
  },

  nodes(list) {
    NodeBar.replace(list);
    SiteMapView.replaceNodes(list);
  },

  /** The map follows the incident list (loaded or caught up). */
  mapIncidents() {
    for (const inc of Incidents.all.values()) SiteMapView.incident(inc);
  },

  failed(err) {
    if (err instanceof Unauthorized) App.signedOut("Please sign in again.");
    else console.warn("request failed", err);
  },

  signedOut(message) {
    state.me = null;
    delete document.body.dataset.role;
    LiveStream.reset();
    Sound.silence();
    Sound.setDesk(false);
    IncidentView.close();
    CallForm.modal.close();
    Admin.secret.close();
    Alerts.clear();
    Incidents.clear();
    NodeBar.replace([]);
    SiteMapView.clear();
    Patrol.signedOut();
    EventDashboard.hide();
    toast("");
    App.showLogin(message);
  },

  async logout() {
    await Notify.signedOut(); // while the session still allows it
    try { await api.post("/api/logout"); } catch (_) { /* already gone */ }
    App.signedOut("Signed out.");
  },
};

document.addEventListener("DOMContentLoaded", App.boot);
