// The duty desk's dispatch panel in the incident view: for an acknowledged (or already
// dispatched) incident, the available units ranked by estimated travel time (the hub's
// GET /api/incidents/{id}/suggestions: straight line x detour / speed, an estimate), each
// with its distance and the age of its position (stale ones last, marked); one click
// dispatches. Below, the incident's assignments with their state and segment times.
// A dispatch_timeout event shows a banner, chimes, and refreshes the suggestions.

import { api, showRefusal } from "./api.js";
import { $, duration, el, humanize, timeButton } from "./dom.js";

const SUGGEST_STATES = ["acknowledged", "dispatched", "en_route", "on_scene"];
const SEGMENTS = [["dispatched_at", "dispatched"], ["accepted_at", "accepted"],
  ["en_route_at", "en route"], ["on_scene_at", "on scene"], ["ended_at", "ended"]];

const metres = (m) => (m >= 1000 ? `${(m / 1000).toFixed(1)} km` : `${Math.round(m)} m`);

export const DispatchPanel = {
  incident: null,
  seen: new Map(), // assignment id -> the latest Assignment (with its unit's callsign)

  /** Render for ``inc`` (the incident view's head changed or reloaded). Suggestions only
   * for the duty desk while units can still be sent; the units sent (with their segment
   * times) for anyone, also once the incident is closed. */
  async show(inc, canAct) {
    DispatchPanel.incident = inc;
    const box = $("dispatch-panel");
    const suggest = canAct && SUGGEST_STATES.includes(inc.state);
    if (!suggest && inc.state === "new") { box.hidden = true; return; }
    await showRefusal($("dispatch-error"), async () => {
      const id = encodeURIComponent(inc.id);
      const [suggestions, assignments, units] = await Promise.all([
        suggest ? api.get(`/api/incidents/${id}/suggestions`) : [],
        api.get(`/api/incidents/${id}/assignments`),
        api.get("/api/units"),
      ]);
      if (DispatchPanel.incident !== inc) return;
      box.hidden = !suggest && assignments.length === 0;
      $("dispatch-suggest").hidden = !suggest;
      DispatchPanel.renderSuggestions(inc, suggestions);
      const callsigns = new Map(units.map((u) => [u.id, u.callsign]));
      DispatchPanel.renderAssignments(assignments.map((a) => ({ ...a,
        callsign: callsigns.get(a.unit_id) || (DispatchPanel.seen.get(a.id) || {}).callsign })));
    });
  },

  renderSuggestions(inc, suggestions) {
    $("suggestions-empty").hidden = suggestions.length > 0;
    $("suggestions").replaceChildren(...suggestions.map((s, i) => {
      const button = el("button", { type: "button", class: i === 0 ? "btn btn-primary" : "btn",
        text: `Dispatch ${s.unit.callsign}` });
      button.addEventListener("click", () => DispatchPanel.dispatch(inc, s.unit, button));
      const age = s.position_age_s == null ? "no position" : `position ${duration(s.position_age_s * 1000)} old`;
      return el("li", { class: "suggestion", dataset: { unit: s.unit.id, callsign: s.unit.callsign,
        stale: String(Boolean(s.stale)) } },
      el("strong", { text: s.unit.callsign }),
      el("span", { class: "muted", text: ` ${humanize(s.unit.kind)} \u00b7 ` }),
      el("span", { class: "eta", text: s.eta_s == null ? "ETA unknown" : `ETA ~${duration(s.eta_s * 1000)}` }),
      el("span", { class: "muted", text: s.distance_m == null ? "" : ` \u00b7 ${metres(s.distance_m)}` }),
      el("span", { class: s.stale ? "stale" : "muted", text: ` \u00b7 ${age}${s.stale ? " (stale)" : ""}` }),
      " ", button);
    }));
  },

  renderAssignments(assignments) {
    $("assignments").replaceChildren(...assignments.map((a) => {
      const times = el("span", { class: "segments" });
      for (const [field, label] of SEGMENTS) {
        if (a[field]) times.append(el("span", { class: "muted", text: ` ${label} ` }), timeButton(a[field]));
      }
      if (a.on_scene_at) {
        const travel = new Date(a.on_scene_at) - new Date(a.dispatched_at);
        times.append(el("span", { class: "travel", text: ` \u00b7 travel ${duration(travel)}` }));
      }
      return el("li", { class: "assignment", dataset: { id: a.id, unit: a.unit_id, state: a.state } },
        el("strong", { text: a.callsign || a.unit_id.slice(0, 6) }), ` ${humanize(a.state)}`,
      a.backup_for ? el("span", { class: "muted", text: " (backup)" }) : "", times);
    }));
  },

  async dispatch(inc, unit, button) {
    button.disabled = true;
    $("dispatch-error").textContent = "";
    await showRefusal($("dispatch-error"), async () => {
      await api.post(`/api/incidents/${encodeURIComponent(inc.id)}/dispatch`, { unit_id: unit.id });
    });
    button.disabled = false;
  },

  /** Live: an assignment of the open incident changed, or a unit did not accept. */
  assignmentChanged(data, timedOut, chime) {
    const inc = DispatchPanel.incident;
    const a = data.assignment || {};
    if (a.id) DispatchPanel.seen.set(a.id, { ...a, callsign: data.callsign });
    if (timedOut) {
      $("dispatch-banner").textContent =
        `${data.callsign || "A unit"} did not accept in time: send the next unit.`;
      $("dispatch-banner").hidden = false;
      chime();
    }
    if (inc && a.incident_id === inc.id) DispatchPanel.show(inc, true).catch(() => {});
  },
};
