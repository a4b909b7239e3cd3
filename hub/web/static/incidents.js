// The incident queue: what the duty desk works on, most severe first, then oldest.
//
// Each open incident shows a live timer ("new 2 min 13 s"). `a` acknowledges the selected
// incident (the one open, or the focused row) or else the first unacknowledged one. Incidents
// change live through the `incident` events; closed ones move to "Recently closed".

import { ApiError, api, query } from "./api.js";
import { $, announce, areaName, duration, el, humanize } from "./dom.js";

export const SEVERITY_RANK = { critical: 0, major: 1, minor: 2, warning: 3, info: 4 };
export const OPEN_STATES = ["new", "acknowledged", "dispatched", "en_route", "on_scene"];
const CLOSED_SHOWN = 10;

/** Since when an incident has been in its state (for "acknowledged 4 min 10 s"). */
export function stateSince(inc) {
  const milestone = {
    acknowledged: inc.acknowledged_at,
    dispatched: inc.dispatched_at,
    en_route: inc.en_route_at,
    on_scene: inc.on_scene_at,
    resolved: inc.resolved_at,
    cancelled: inc.resolved_at,
  }[inc.state];
  return milestone || inc.opened_at;
}

export const isOpen = (inc) => OPEN_STATES.includes(inc.state);

export const Incidents = {
  all: new Map(),
  canAct: false,
  hooks: {
    opened() {}, escalated() {}, changed() {}, show() {}, failed() {}, selected: () => null,
  },

  init(hooks) {
    Object.assign(Incidents.hooks, hooks);
    document.addEventListener("keydown", Incidents.onKey);
  },

  /** The queue and the last closed incidents. ``afterGap``: incidents opened while the
   * stream was away are announced and chimed like live ones. */
  async load(afterGap = false) {
    const [queue, closed] = await Promise.all([
      api.get("/api/incidents/queue"),
      api.get(`/api/incidents${query({ state: ["resolved", "cancelled"], limit: CLOSED_SHOWN })}`)
        .catch(() => ({ items: [] })),
    ]);
    const before = new Set(Incidents.all.keys());
    Incidents.all.clear();
    for (const inc of [...(closed.items || []), ...queue]) Incidents.all.set(inc.id, inc);
    Incidents.render();
    for (const inc of queue) {
      if (afterGap && !before.has(inc.id)) Incidents.changed({ incident: inc, change: "opened" });
      if (inc.state === "new" && inc.escalation_tier > 0) Incidents.hooks.escalated(inc, false);
    }
  },

  clear() {
    Incidents.all.clear();
    Incidents.render();
  },

  /** An `incident` event: {incident, change}. */
  changed({ incident, change }) {
    const known = Incidents.all.has(incident.id);
    Incidents.all.set(incident.id, incident);
    Incidents.render();
    const row = $("queue").querySelector(`li[data-id="${CSS.escape(incident.id)}"]`);
    if (change === "opened" || (!known && isOpen(incident))) {
      if (row) row.classList.add("new");
      announce(`New ${incident.severity} incident ${incident.ref}: ${incident.title}`);
      Incidents.hooks.opened(incident);
    } else if (change === "escalated") {
      announce(`Escalated: ${incident.ref} is still not acknowledged`);
      Incidents.hooks.escalated(incident, true);
    }
    Incidents.hooks.changed(incident, change);
  },

  set(incident) {
    Incidents.all.set(incident.id, incident);
    Incidents.render();
  },

  sortedOpen() {
    return [...Incidents.all.values()].filter(isOpen).sort((a, b) =>
      (SEVERITY_RANK[a.severity] ?? 9) - (SEVERITY_RANK[b.severity] ?? 9) ||
      a.opened_at.localeCompare(b.opened_at));
  },

  render() {
    const open = Incidents.sortedOpen();
    Incidents._renderList($("queue"), open);
    const closed = [...Incidents.all.values()].filter((i) => !isOpen(i))
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, CLOSED_SHOWN);
    Incidents._renderList($("closed"), closed);
    $("queue-empty").hidden = open.length > 0;
    $("closed-section").hidden = closed.length === 0;
    const waiting = open.filter((i) => i.state === "new").length;
    $("queue-count").textContent = open.length ? `(${open.length}, ${waiting} new)` : "";
    $("tab-incidents-badge").textContent = waiting ? String(waiting) : "";
  },

  // Rows are kept (not rebuilt) so focus and the "new" highlight survive an update.
  _renderList(list, incidents) {
    const rows = new Map([...list.children].map((li) => [li.dataset.id, li]));
    incidents.forEach((inc, index) => {
      const li = rows.get(inc.id) || Incidents._row(inc);
      rows.delete(inc.id);
      Incidents._fill(li, inc);
      if (list.children[index] !== li) list.insertBefore(li, list.children[index] || null);
    });
    for (const stale of rows.values()) stale.remove();
  },

  _row(inc) {
    const li = el("li", { class: "incident", dataset: { id: inc.id } });
    const main = el("button", { type: "button", class: "inc-main" },
      el("span", { class: "inc-head" },
        el("span", { class: "sev" }), el("span", { class: "ref" }),
        el("span", { class: "timer", "aria-hidden": "true" })),
      el("span", { class: "inc-title" }),
      el("span", { class: "where muted" }));
    main.addEventListener("click", () => Incidents.hooks.show(inc.id));
    const ack = el("button", { type: "button", class: "btn btn-primary ack", text: "Acknowledge" });
    ack.addEventListener("click", () => Incidents.act(inc.id, "acknowledge"));
    li.append(main, ack);
    return li;
  },

  _fill(li, inc) {
    li.dataset.state = inc.state;
    li.dataset.severity = inc.severity;
    li.classList.toggle("escalated", inc.escalation_tier > 0 && inc.state === "new");
    li.querySelector(".sev").textContent = inc.severity;
    li.querySelector(".ref").textContent = inc.ref;
    const timer = li.querySelector(".timer");
    const label = inc.state === "resolved" && inc.outcome
      ? `resolved (${humanize(inc.outcome)})` : humanize(inc.state);
    timer.dataset.label = label;
    if (isOpen(inc)) {
      timer.dataset.since = stateSince(inc);
      timer.textContent = `${label} ${duration(Date.now() - Date.parse(timer.dataset.since))}`;
    } else {
      delete timer.dataset.since;
      timer.textContent = label;
    }
    li.querySelector(".inc-title").textContent = inc.title;
    const where = inc.location.area ? areaName(inc.location.area)
      : inc.location.address || "";
    const count = inc.alert_count ? ` \u00b7 ${inc.alert_count} alert${inc.alert_count > 1 ? "s" : ""}` : "";
    const category = inc.category === "maintenance" ? " \u00b7 maintenance" : "";
    li.querySelector(".where").textContent = where + count + category;
    li.querySelector(".inc-main").setAttribute(
      "aria-label", `${inc.severity} ${inc.ref}: ${inc.title}, ${label}`);
    li.querySelector(".ack").hidden = !(Incidents.canAct && inc.state === "new");
  },

  /** Run one action; returns the new incident or throws the hub's message (409...). */
  async act(id, action, extra = {}) {
    try {
      const inc = await api.post(`/api/incidents/${encodeURIComponent(id)}/transitions`,
        { action, ...extra });
      Incidents.set(inc);
      Incidents.hooks.changed(inc, action);
      return inc;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      Incidents.hooks.failed(err.message);
      return null;
    }
  },

  /** `a`: acknowledge the selected incident, or the first unacknowledged one. */
  onKey(e) {
    if (e.key !== "a" || e.ctrlKey || e.metaKey || e.altKey || !Incidents.canAct) return;
    const target = e.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const selected = Incidents.hooks.selected();
    if (selected === undefined) return; // another dialog has the keyboard
    // The incident on screen, else the focused row, else the first waiting one. With an
    // incident open, `a` never reaches past it to another one.
    const row = target.closest && target.closest("li.incident");
    const waiting = (id) => {
      const inc = Incidents.all.get(id);
      return inc && inc.state === "new" ? inc : null;
    };
    const pick = selected ? waiting(selected)
      : (row && waiting(row.dataset.id)) || Incidents.sortedOpen().find((i) => i.state === "new");
    if (!pick) return;
    e.preventDefault();
    Incidents.act(pick.id, "acknowledge");
  },
};
