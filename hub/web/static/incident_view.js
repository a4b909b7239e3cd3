// One incident in full: its state and the actions it allows, its alerts with snapshots,
// notes, photos, and the history of every transition (who, when, note).
//
// The buttons offered are the legal transitions of the incident's state (the same table as
// hub/domain/incidents.py); the hub still decides, and a 409 shows its message here.

import { api, showRefusal } from "./api.js";
import {
  $, areaName, el, exactTime, fillFields, humanize, keepFocus, Modal, timeButton,
} from "./dom.js";
import { DispatchPanel } from "./dispatch_panel.js";
import { Incidents, isOpen, OPEN_STATES as OPEN, stateSince } from "./incidents.js";
import { renderLiveButtons } from "./live_view.js";

/** action -> [states it may start from, button label] */
export const ACTIONS = {
  acknowledge: [["new"], "Acknowledge"],
  dispatch: [["new", "acknowledged"], "Dispatch"],
  en_route: [["dispatched"], "En route"],
  arrive: [["dispatched", "en_route"], "Arrived"],
  release: [["dispatched", "en_route", "on_scene"], "Release unit"],
  resolve: [OPEN, "Resolve\u2026"],
  cancel: [OPEN, "Cancel incident"],
  reopen: [["resolved", "cancelled"], "Reopen"],
};
const MAX_PHOTO = 5 * 1024 * 1024;

export const IncidentView = {
  id: null,
  modal: null,
  reloading: null,

  init() {
    IncidentView.modal = new Modal($("incident"), { onClose: () => { IncidentView.id = null; } });
    $("resolve-form").addEventListener("submit", IncidentView.resolve);
    $("resolve-back").addEventListener("click", () => IncidentView.showResolve(false));
    $("note-form").addEventListener("submit", IncidentView.addNote);
    $("attachment-file").addEventListener("change", IncidentView.upload);
  },

  async open(id) {
    IncidentView.id = id;
    $("incident-error").textContent = "";
    IncidentView.showResolve(false);
    const known = Incidents.all.get(id);
    if (known) IncidentView.renderHead(known);
    IncidentView.modal.open($("incident-close"));
    await IncidentView.reload();
  },

  close() {
    IncidentView.modal.close();
  },

  /** Fetch the incident again (after an event about it, or an action here). */
  async reload() {
    const id = IncidentView.id;
    if (!id) return;
    await showRefusal($("incident-error"), async () => {
      const full = await api.get(`/api/incidents/${encodeURIComponent(id)}`);
      if (IncidentView.id !== id) return;
      Incidents.set(full.incident);
      IncidentView.render(full);
    });
  },

  render(full) {
    keepFocus($("incident"), () => {
      IncidentView._head(full.incident);
      IncidentView.renderAlerts(full.alerts || []);
      IncidentView.renderNotes(full.notes || []);
      IncidentView.renderAttachments(full.incident.id, full.attachments || []);
      IncidentView.renderHistory(full.transitions || []);
    });
    // The area's cameras, live (an officer, or a patrol sent here); a failure only hides them.
    renderLiveButtons($("incident-actions"), full.incident.id).catch(() => {});
    // Units to send and those sent: with the full reload, not with each quick head render
    // (every head render is followed by one, and the suggestions cost an audit row each).
    DispatchPanel.show(full.incident, Incidents.canAct).catch(() => {});
  },

  renderHead(inc) {
    keepFocus($("incident"), () => IncidentView._head(inc));
  },

  _head(inc) {
    const dialog = $("incident");
    dialog.dataset.id = inc.id;
    dialog.dataset.state = inc.state;
    dialog.dataset.severity = inc.severity;
    $("incident-title").textContent = `${inc.ref} \u00b7 ${inc.title}`;
    $("incident-sev").textContent = inc.severity;
    $("incident-state").textContent = humanize(inc.state) +
      (inc.outcome ? ` (${humanize(inc.outcome)})` : "");
    const timer = $("incident-timer");
    if (isOpen(inc)) {
      timer.dataset.since = stateSince(inc);
      timer.dataset.label = "for";
    } else {
      delete timer.dataset.since;
      timer.textContent = "";
    }
    const loc = inc.location || {};
    const where = [loc.area && areaName(loc.area), loc.address,
      loc.lat != null && loc.lon != null ? `${loc.lat}, ${loc.lon}` : null].filter(Boolean);
    const caller = inc.caller ? [inc.caller.name, inc.caller.phone].filter(Boolean).join(", ") : "";
    fillFields($("incident-fields"), [
      ["What", humanize(inc.kind)],
      ["Where", where.join(" \u00b7 ")],
      ["Source", inc.source === "call" ? "phone call" : humanize(inc.source)],
      ["Caller", caller],
      ["Opened", timeButton(inc.opened_at)],
      ["By", inc.opened_by],
      ["Acknowledged", inc.acknowledged_at && timeButton(inc.acknowledged_at)],
      ["Arrived", inc.on_scene_at && timeButton(inc.on_scene_at)],
      ["Closed", inc.resolved_at && timeButton(inc.resolved_at)],
      ["Escalated", inc.escalation_tier ? `tier ${inc.escalation_tier}` : ""],
      ["Reference", inc.external_ref],
    ]);
    IncidentView.renderActions(inc);
  },

  renderActions(inc) {
    const box = $("incident-actions");
    box.replaceChildren();
    for (const [action, [from, label]] of Object.entries(ACTIONS)) {
      if (!from.includes(inc.state)) continue;
      const button = el("button", {
        type: "button",
        class: action === "acknowledge" ? "btn btn-primary" : "btn",
        dataset: { action },
      });
      button.append(label);
      if (action === "acknowledge") button.append(" ", el("kbd", { text: "a" }));
      button.addEventListener("click", () => IncidentView.act(action));
      box.append(button);
    }
    $("incident-act").hidden = !Incidents.canAct;
    $("note-form").hidden = !Incidents.canAct;
    $("attachment-add").hidden = !Incidents.canAct;
  },

  async act(action) {
    if (action === "resolve") return IncidentView.showResolve(true);
    $("incident-error").textContent = "";
    const note = $("transition-note").value.trim();
    const inc = await Incidents.act(IncidentView.id, action, note ? { note } : {});
    if (inc) {
      $("transition-note").value = "";
      await IncidentView.reload();
    }
  },

  showResolve(show) {
    $("resolve-form").hidden = !show;
    $("incident-actions").hidden = show;
    if (show) $("resolve-form").querySelector("input[name=outcome]").focus();
  },

  async resolve(e) {
    e.preventDefault();
    const picked = $("resolve-form").querySelector("input[name=outcome]:checked");
    if (!picked) {
      $("incident-error").textContent = "Pick how it ended.";
      return;
    }
    const note = $("transition-note").value.trim();
    const extra = { outcome: picked.value, ...(note ? { note } : {}) };
    const inc = await Incidents.act(IncidentView.id, "resolve", extra);
    if (inc) {
      picked.checked = false;
      $("transition-note").value = "";
      IncidentView.showResolve(false);
      await IncidentView.reload();
    }
  },

  failed(message) {
    if (IncidentView.id) $("incident-error").textContent = message;
  },

  renderAlerts(alerts) {
    $("incident-alert-count").textContent = `(${alerts.length})`;
    $("incident-alerts").replaceChildren(...alerts.map((a) => {
      const li = el("li", { class: "inc-alert", dataset: { id: a.id, severity: a.severity } });
      if (a.snapshot_url) {
        li.append(el("img", { src: a.snapshot_url, alt: `Snapshot of ${humanize(a.kind)}`,
          loading: "lazy" }));
      }
      li.append(el("span", { class: "kind", text: humanize(a.kind) }),
        el("span", { class: "muted", text: [a.zone && `zone ${a.zone}`,
          a.camera ? `camera ${a.camera}` : a.node].filter(Boolean).join(" \u00b7 ") }),
        el("span", { class: "msg", text: a.message || "" }),
        timeButton(a.ts));
      return li;
    }));
  },

  renderNotes(notes) {
    $("incident-notes").replaceChildren(...notes.map((n) =>
      el("li", { class: "note" },
        el("span", { class: "note-head" }, el("strong", { text: n.author }), " ", timeButton(n.at)),
        el("span", { class: "note-text", text: n.text }))));
    $("notes-empty").hidden = notes.length > 0;
  },

  renderAttachments(incidentId, items) {
    $("incident-attachments").replaceChildren(...items.map((a) => {
      const url = `/api/incidents/${encodeURIComponent(incidentId)}/attachments/${a.id}`;
      // Photos show inline; anything else (a verification clip, MJPEG AVI) is a download.
      const shown = a.content_type.startsWith("image/")
        ? el("img", { src: url, alt: a.filename, loading: "lazy" })
        : el("span", { class: "attachment-file", text: `\u25b6 ${a.filename}` });
      const link = el("a", { href: url, target: "_blank", rel: "noopener" }, shown);
      return el("li", { class: "attachment" }, link,
        el("span", { class: "muted", text: `${a.filename} \u00b7 ${a.author}` }), timeButton(a.at));
    }));
  },

  renderHistory(transitions) {
    $("incident-history").replaceChildren(...transitions.map((t) => {
      const li = el("li", { class: "transition", dataset: { action: t.action } },
        el("span", { class: "t-head" },
          el("strong", { text: humanize(t.action) }),
          ` ${humanize(t.from_state)} \u2192 ${humanize(t.to_state)} \u00b7 ${t.actor} `,
          timeButton(t.at)));
      if (t.outcome) li.append(el("span", { class: "t-outcome", text: `outcome: ${humanize(t.outcome)}` }));
      if (t.note) li.append(el("span", { class: "t-note", text: t.note }));
      li.title = exactTime(t.at, true);
      return li;
    }));
  },

  async addNote(e) {
    e.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) return;
    await showRefusal($("incident-error"), async () => {
      await api.post(`/api/incidents/${encodeURIComponent(IncidentView.id)}/notes`, { text });
      $("note-text").value = "";
      await IncidentView.reload();
    });
  },

  async upload(e) {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    if (!["image/jpeg", "image/png"].includes(file.type)) {
      $("incident-error").textContent = "Photos must be JPEG or PNG.";
      return;
    }
    if (file.size > MAX_PHOTO) {
      $("incident-error").textContent = "That photo is larger than 5 MB.";
      return;
    }
    const id = encodeURIComponent(IncidentView.id);
    const name = encodeURIComponent(file.name.slice(-100) || "photo");
    await showRefusal($("incident-error"), async () => {
      await api.upload(`/api/incidents/${id}/attachments?filename=${name}`, file);
      await IncidentView.reload();
    });
  },
};
