// The alert list: filters, cursor paging ("Load more"), live arrivals, one alert in full.
//
// The hub sorts by *received* time, newest first, and so does this list: a live alert goes
// on top. Alerts that arrive while the page is open, or that come back after a reconnect,
// are "new": highlighted, announced, chimed. The list keeps every alert it was given (no cap):
// "Load more" fetches the next page with the hub's next_cursor.

import { api, query, showRefusal } from "./api.js";
import {
  $, announce, areaName, el, exactTime, fillFields, humanize, Modal, relativeTime,
} from "./dom.js";

const PAGE = 50;

export const Alerts = {
  all: new Map(), // id -> alert, every alert seen this session (shown or filtered out)
  newestReceived: null, // the latest received_at seen: where a catch-up starts
  cursor: null,
  loading: null,
  onNew: () => {}, // (alert) => chime, notify
  openIncident: () => {},
  details: null,

  init({ onNew, openIncident }) {
    Alerts.onNew = onNew;
    Alerts.openIncident = openIncident;
    Alerts.details = new Modal($("details"), { onClose: () => { Alerts.detailsId = null; } });
    const form = $("alert-filters");
    form.addEventListener("submit", (e) => { e.preventDefault(); Alerts.reload(); });
    form.addEventListener("change", () => Alerts.reload());
    form.addEventListener("reset", () => setTimeout(Alerts.reload, 0));
    let typing;
    $("f-q").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(Alerts.reload, 400);
    });
    $("load-more").addEventListener("click", () => Alerts.loadPage());
  },

  filters() {
    return {
      q: $("f-q").value.trim(),
      severity: $("f-severity").value ? $("f-severity").value.split(",") : [],
      status: $("f-status").value ? $("f-status").value.split(",") : [],
      kind: $("f-kind").value.trim(),
      area: $("f-area").value,
    };
  },

  /** First page again, with the filters as they are now. */
  async reload() {
    Alerts.cursor = null;
    $("alerts").replaceChildren();
    await Alerts.loadPage(true);
  },

  /** The next page, or (``first``) the first page again. ``keepCursor``: refresh the top
   * of the list without losing the place "Load more" had reached. */
  async loadPage(first = false, keepCursor = false) {
    if (!first && !Alerts.cursor) return;
    const f = Alerts.filters();
    const params = { ...f, limit: PAGE, cursor: first ? null : Alerts.cursor };
    const request = api.get(`/api/alerts${query(params)}`);
    Alerts.loading = request;
    $("load-more").disabled = true;
    try {
      await showRefusal($("alerts-error"), async () => {
        const page = await request;
        if (Alerts.loading !== request) return; // a newer filter won
        for (const alert of page.items) Alerts.upsert(alert, false);
        if (!(keepCursor && Alerts.cursor)) Alerts.cursor = page.next_cursor;
        $("alerts-error").textContent = "";
      }, "Could not load alerts: ");
    } finally {
      if (Alerts.loading === request) Alerts.loading = null;
      $("load-more").hidden = !Alerts.cursor;
      $("load-more").disabled = false;
      Alerts.counts();
    }
  },

  /** A live alert (or one missed during a reconnect): new, highlighted, chimed. */
  arrived(alert) {
    const isNew = !Alerts.all.has(alert.id);
    Alerts.upsert(alert, isNew);
    if (isNew) {
      Alerts.onNew(alert);
      announce(`New ${alert.severity} alert: ${humanize(alert.kind)}, ${areaName(alert.area)}`);
    }
  },

  /** After a gap the hub could not replay (resync, a replaced stream): everything received
   * since the newest alert we had, treated as live. */
  async catchUp() {
    if (!Alerts.newestReceived) return Alerts.reload();
    let cursor = null;
    for (let pages = 0; pages < 20; pages++) {
      const page = await api.get(`/api/alerts${query({ since: Alerts.newestReceived, limit: 200, cursor })}`);
      for (const alert of page.items.reverse()) Alerts.arrived(alert);
      cursor = page.next_cursor;
      if (!cursor) break;
    }
  },

  matches(alert) {
    const f = Alerts.filters();
    if (f.severity.length && !f.severity.includes(alert.severity)) return false;
    if (f.kind && alert.kind !== f.kind) return false;
    if (f.area && alert.area !== f.area) return false;
    // A fresh alert's incident (if any) is new; any other status filter waits for a reload.
    if (f.status.length && !f.status.includes("new")) return false;
    if (f.q) {
      const hay = [alert.message, alert.kind, alert.zone, alert.area, alert.node]
        .join(" ").toLowerCase();
      if (!hay.includes(f.q.toLowerCase())) return false;
    }
    return true;
  },

  upsert(alert, isNew) {
    Alerts.all.set(alert.id, alert);
    const received = Date.parse(alert.received_at); // not the text: "…01Z" > "…01.5Z"
    if (!Alerts.newestReceived || received > Date.parse(Alerts.newestReceived)) {
      Alerts.newestReceived = alert.received_at;
    }
    const list = $("alerts");
    let li = document.getElementById(Card.elementId(alert.id)); // a card in the list, or null
    if (li) {
      Card.update(li, alert);
    } else if (!isNew || Alerts.matches(alert)) {
      li = Card.create(alert);
      list.insertBefore(li, Alerts.placeFor(list, received, isNew));
      if (isNew) li.classList.add("new");
    }
    Alerts.counts();
  },

  /** The card a new one goes before, in a list sorted newest received first (null: at the
   * end). Alerts stored in one batch share a received time: a live one goes above its
   * equals (it came later), a page from the API (already newest first) below them. A live
   * alert belongs near the top and a page near the bottom, so the search starts there: a
   * page of 50 appended to a long list does not walk the whole list 50 times. */
  placeFor(list, received, isNew) {
    if (isNew) {
      let node = list.firstElementChild;
      while (node && Number(node.dataset.received) > received) node = node.nextElementSibling;
      return node;
    }
    let after = null;
    for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
      if (Number(node.dataset.received) >= received) break;
      after = node;
    }
    return after;
  },

  snapshotArrived({ alert_id: id, snapshot_url: url }) {
    const alert = Alerts.all.get(id);
    if (!alert) return;
    const updated = { ...alert, snapshot_url: url, snapshot_ready: true };
    Alerts.upsert(updated, false);
    if (Alerts.detailsId === id) Alerts.openDetails(id);
  },

  clear() {
    Alerts.all.clear();
    Alerts.newestReceived = null;
    Alerts.cursor = null;
    $("alerts").replaceChildren();
    $("load-more").hidden = true;
    Alerts.details.close();
    Alerts.counts();
  },

  counts() {
    const n = $("alerts").children.length;
    $("empty").hidden = n > 0;
    $("alert-count").textContent = n ? `(${n})` : "";
  },

  detailsId: null,
  openDetails(id) {
    const a = Alerts.all.get(id);
    if (!a) return;
    Alerts.detailsId = id;
    $("details-title").textContent = `${humanize(a.kind)} \u00b7 ${a.severity}`;
    const img = $("details-img");
    img.hidden = !a.snapshot_url;
    if (a.snapshot_url) img.src = a.snapshot_url;
    const objects = (a.objects || []).map((o) => `${o.label} ${Math.round(o.score * 100)}%`)
      .join(", ");
    fillFields($("details-fields"), [
      ["Area", areaName(a.area)], ["Zone", a.zone], ["Camera", a.camera],
      ["Node", a.node], ["Time", exactTime(a.ts, true)],
      ["Received", exactTime(a.received_at, true)], ["Objects", objects],
      ["Message", a.message], ["Alert", `#${a.seq} \u00b7 ${a.id}`],
    ]);
    const actions = $("details-actions");
    actions.replaceChildren();
    if (a.incident_id) {
      actions.append(el("button", {
        type: "button", class: "btn", text: "Open incident",
        onclick: () => { Alerts.details.close(); Alerts.openIncident(a.incident_id); },
      }));
    }
    actions.hidden = !a.incident_id;
    Alerts.details.open($("details-close"));
  },
};

// One alert in the list: a big button with the snapshot, severity, kind, where and when.
const Card = {
  create(alert) {
    const li = $("alert-card").content.firstElementChild.cloneNode(true);
    li.id = Card.elementId(alert.id);
    li.dataset.id = alert.id;
    li.querySelector(".card-main").addEventListener("click", () => Alerts.openDetails(alert.id));
    const img = li.querySelector(".thumb img");
    img.addEventListener("load", () => {
      img.hidden = false;
      li.querySelector(".thumb-note").hidden = true;
    });
    img.addEventListener("error", () => { img.hidden = true; Card.note(li, "No photo"); });
    Card.update(li, alert);
    return li;
  },
  update(li, alert) {
    li.dataset.severity = alert.severity;
    li.dataset.received = String(Date.parse(alert.received_at));
    li.querySelector(".sev").textContent = alert.severity;
    li.querySelector(".kind").textContent = humanize(alert.kind);
    const time = li.querySelector("time");
    time.dateTime = alert.ts;
    time.textContent = relativeTime(alert.ts);
    time.title = exactTime(alert.ts, true);
    li.querySelector(".when").dataset.rel = alert.ts;
    li.querySelector(".where").textContent =
      areaName(alert.area) + (alert.zone ? ` \u00b7 zone ${alert.zone}` : "");
    li.querySelector(".source").textContent =
      (alert.camera ? `camera ${alert.camera} on ` : "") + alert.node;
    li.querySelector(".msg").textContent = alert.message || "";
    const img = li.querySelector(".thumb img");
    if (alert.snapshot_url) {
      if (img.getAttribute("src") !== alert.snapshot_url) img.src = alert.snapshot_url;
    } else {
      Card.note(li, alert.has_snapshot ? "Photo coming\u2026" : "No photo");
    }
  },
  elementId: (alertId) => `alert-${alertId}`,
  note(li, text) {
    const note = li.querySelector(".thumb-note");
    note.textContent = text;
    note.hidden = false;
  },
};
