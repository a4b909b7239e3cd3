// Watchlist view (officers and up): face-match candidates awaiting two officers, plate and
// face entries, authorisations, and recent plate alarms.
//
// The rules live on the hub (hub/watchlist/); this page only makes them visible: a candidate
// shows its crop, score, entry and case, who has confirmed it, and its buttons follow the
// rules (Confirm off for the enroller and for an officer who has given a verdict; Dispatch
// off until two different officers have confirmed). Anything the hub still refuses shows
// its reason. Enrolment photos are never shown in a list: a supervisor opens one (audited).

import { api, showRefusal } from "./api.js";
import { $, el, exactTime } from "./dom.js";

const short = (id) => String(id || "").slice(0, 8);

export const Watchlist = {
  me: null, // {username, role}
  built: false,

  get supervisor() {
    return ["supervisor", "admin"].includes(Watchlist.me?.role);
  },

  /** Build the view's skeleton once (the section in index.html starts empty). */
  build() {
    if (Watchlist.built) return;
    Watchlist.built = true;
    const view = $("watchlist-view");
    const field = (label, input) => el("label", {}, label + " ", input);
    view.replaceChildren(
      el("div", { class: "section-head" },
        el("h2", { id: "watchlist-heading", text: "Watchlist" }),
        el("button", { id: "wl-refresh", type: "button", class: "btn", text: "Refresh",
          onclick: () => Watchlist.load() })),
      el("p", { id: "wl-error", class: "error", role: "alert" }),
      el("p", { id: "wl-status", role: "status" }),
      el("h3", { text: "Face matches awaiting verification" }),
      el("p", { class: "muted", text: "A match is only a candidate. Two different officers, " +
        "neither of them the one who enrolled the person, must each confirm it before " +
        "anyone can be sent." }),
      el("ul", { id: "wl-candidates", class: "wl-list" }),
      el("h3", { text: "Plate alarms" }),
      el("ul", { id: "wl-plate-hits", class: "wl-list" }),
      el("h3", { text: "Plates" }),
      el("form", { id: "wl-plate-form", class: "filters", onsubmit: Watchlist.addPlate },
        field("Plate", el("input", { id: "wl-plate", required: true, maxlength: 16 })),
        field("Reason", el("input", { id: "wl-plate-reason", required: true, maxlength: 200 })),
        field("Case", el("input", { id: "wl-plate-case", required: true, maxlength: 64 })),
        field("Expires", el("input", { id: "wl-plate-expires", type: "date", required: true })),
        el("button", { type: "submit", class: "btn btn-primary", text: "Add plate" })),
      el("ul", { id: "wl-plates", class: "wl-list" }),
      el("h3", { text: "Faces" }),
      el("p", { id: "wl-faces-off", class: "muted", hidden: true,
        text: "Face recognition is off for this site." }),
      el("form", { id: "wl-enrol-form", class: "filters", hidden: true,
        onsubmit: Watchlist.enrol },
        field("Under authorisation", el("select", { id: "wl-enrol-auth", required: true })),
        field("Photo", el("input", { id: "wl-enrol-photo", type: "file", required: true,
          accept: "image/jpeg,image/png" })),
        el("button", { type: "submit", class: "btn btn-primary", text: "Enrol" })),
      el("ul", { id: "wl-faces", class: "wl-list" }),
      el("h3", { text: "Authorisations" }),
      Watchlist.authForm(field),
      el("ul", { id: "wl-auths", class: "wl-list" }),
    );
  },

  /** Supervisors: a new authorisation (legal basis, case, approving officer, scope, window,
   * expiry, how long verified match crops are kept). */
  authForm(field) {
    const input = (id, props = {}) => el("input", { id, required: true, ...props });
    return el("form", { id: "wl-auth-form", class: "filters", hidden: true,
      onsubmit: Watchlist.authorise },
      field("Legal basis", input("wl-auth-basis", { maxlength: 200 })),
      field("Case number", input("wl-auth-case", { maxlength: 64 })),
      field("Approved by", input("wl-auth-approver", { maxlength: 32 })),
      el("fieldset", { id: "wl-auth-cameras" }, el("legend", { text: "Cameras in scope" })),
      field("From", input("wl-auth-start", { type: "datetime-local" })),
      field("To", input("wl-auth-end", { type: "datetime-local" })),
      field("Expires", input("wl-auth-expires", { type: "datetime-local" })),
      field("Keep verified crops (days)", input("wl-auth-retention",
        { type: "number", min: 1, max: 3650, value: 30 })),
      el("button", { type: "submit", class: "btn btn-primary", text: "Authorise" }));
  },

  async load() {
    Watchlist.build();
    await showRefusal($("wl-error"), async () => {
      const [entries, candidates, hits] = await Promise.all([
        api.get("/api/watchlist"),
        api.get("/api/watchlist/candidates"),
        api.get("/api/watchlist/plate-hits"),
      ]);
      const units = candidates.some((c) => c.dispatchable) ? await api.get("/api/units") : [];
      const free = units.filter((u) => u.availability === "available");
      $("wl-candidates").replaceChildren(...candidates.map((c) => Watchlist.candidate(c, free)));
      if (!candidates.length) $("wl-candidates").append(el("li", { class: "muted", text: "None." }));
      $("wl-plate-hits").replaceChildren(...hits.map(Watchlist.plateHit));
      $("wl-plates").replaceChildren(...entries.plates.map(Watchlist.plate));
      $("wl-faces-off").hidden = entries.faces_enabled;
      $("wl-faces").replaceChildren(...entries.faces.map(Watchlist.face));
      $("wl-auths").replaceChildren(...entries.authorisations.map(Watchlist.auth));
      Watchlist.fillForms(entries);
    });
  },

  fillForms(entries) {
    const sup = Watchlist.supervisor;
    $("wl-auth-form").hidden = !sup;
    $("wl-enrol-form").hidden = !sup || !entries.faces_enabled;
    const live = entries.authorisations.filter((r) => !r.ended_at);
    $("wl-enrol-auth").replaceChildren(...live.map((r) => el("option", {
      value: r.authorisation.id, text: `Case ${r.authorisation.case_number}` })));
    const box = $("wl-auth-cameras");
    if (box.querySelector("input")) return; // built once: keep what is being ticked
    for (const c of entries.cameras) {
      const label = c.signage_confirmed ? c.ref : `${c.ref} (no sign confirmed)`;
      box.append(el("label", {}, el("input", { type: "checkbox", value: c.ref,
        class: "wl-auth-camera" }), ` ${label}`));
    }
  },

  authorise(ev) {
    ev.preventDefault();
    const when = (id) => new Date($(id).value).toISOString();
    const cameras = [...document.querySelectorAll(".wl-auth-camera:checked")].map((c) => c.value);
    Watchlist.act(() => api.post("/api/watchlist/authorisations", {
      legal_basis: $("wl-auth-basis").value.trim(),
      case_number: $("wl-auth-case").value.trim(),
      approved_by: $("wl-auth-approver").value.trim(),
      cameras,
      starts_at: when("wl-auth-start"),
      ends_at: when("wl-auth-end"),
      expires_at: when("wl-auth-expires"),
      retention_days: Number($("wl-auth-retention").value),
    }));
  },

  enrol(ev) {
    ev.preventDefault();
    const file = $("wl-enrol-photo").files[0];
    const auth = encodeURIComponent($("wl-enrol-auth").value);
    Watchlist.act(async () => {
      await api.upload(`/api/watchlist/faces?authorisation=${auth}`, file);
      $("wl-enrol-photo").value = "";
    });
  },

  /** Run one action, show a refusal, reload the lists. */
  async act(work) {
    $("wl-error").textContent = "";
    $("wl-status").textContent = "";
    await showRefusal($("wl-error"), work);
    await Watchlist.load();
  },

  candidate(c, freeUnits) {
    const me = Watchlist.me?.username;
    const mine = c.confirmed_by.includes(me) || c.rejected_by.includes(me);
    const enroller = c.enrolled_by === me;
    const path = `/api/watchlist/candidates/${c.alert_id}`;
    let status = `${c.confirmed_by.length} of ${c.needed} confirmations`;
    if (c.confirmed_by.length) status += ` (${c.confirmed_by.join(", ")})`;
    if (c.state === "verified") status = `Verified by ${c.confirmed_by.join(" and ")}`;
    if (c.state === "rejected") status = `Rejected by ${c.rejected_by.join(", ")}`;
    if (c.state === "out_of_scope") status = "Outside any authorisation in force: not actionable";
    const pending = c.state === "pending";
    const unit = el("select", { class: "wl-unit", "aria-label": "Unit to send",
      disabled: !c.dispatchable });
    unit.replaceChildren(...freeUnits.map((u) => el("option", { value: u.id, text: u.callsign })));
    const li = el("li", { class: "wl-candidate", dataset: { alertId: c.alert_id, state: c.state } },
      c.has_crop ? el("img", { class: "wl-crop", src: `${path}/crop`, alt: "Match crop",
        width: 120 }) : el("span", { class: "muted", text: "Crop not here yet" }),
      el("div", {},
        el("strong", { text: `Score ${c.score.toFixed(2)}` }),
        el("span", { text: ` · entry ${short(c.entry_id)} · case ${c.case_number || "?"}` }),
        el("div", { class: "muted", text: `${c.node}/${c.camera || "?"} · ` +
          `${exactTime(c.received_at, true)} · ${c.legal_basis || ""}` }),
        el("div", { class: "wl-state", role: "status", text: status }),
        enroller && pending ? el("div", { class: "muted wl-note",
          text: "You enrolled this person: others must verify." }) : null,
        mine && pending ? el("div", { class: "muted wl-note",
          text: "Your verdict is in: a different officer must confirm." }) : null),
      el("div", { class: "actions" },
        el("button", { type: "button", class: "btn btn-primary wl-confirm", text: "Confirm",
          disabled: !pending || mine || enroller,
          onclick: () => Watchlist.act(() => api.post(`${path}/confirm`)) }),
        el("button", { type: "button", class: "btn wl-reject", text: "Reject",
          disabled: !pending || mine,
          onclick: () => Watchlist.act(() => api.post(`${path}/reject`)) }),
        unit,
        el("button", { type: "button", class: "btn wl-dispatch", text: "Dispatch",
          disabled: !c.dispatchable || !freeUnits.length,
          onclick: () => Watchlist.act(async () => {
            await api.post(`${path}/dispatch`, { unit_id: unit.value });
            const callsign = unit.selectedOptions[0]?.textContent || "A unit";
            $("wl-status").textContent = `${callsign} dispatched to the verified match.`;
          }) })));
    return li;
  },

  plateHit(h) {
    return el("li", { class: "wl-plate-hit", dataset: { alertId: h.alert_id } },
      el("strong", { text: h.plate || "?" }),
      el("span", { text: ` · ${h.reason || "entry removed"} · case ${h.case_ref || "?"} · ` +
        `${h.node}/${h.camera || "?"} · ${exactTime(h.received_at, true)}` }));
  },

  plate(p) {
    const e = p.entry;
    return el("li", { class: "wl-plate", dataset: { entryId: e.id } },
      el("strong", { text: e.plate }),
      el("span", { text: ` · ${e.reason} · case ${e.case_ref} · owner ${e.owner} · ` +
        `until ${exactTime(e.expires_at, true)} · false matches ${p.false_matches}` }),
      el("button", { type: "button", class: "btn", text: "Remove",
        onclick: () => Watchlist.act(() => api.del(`/api/watchlist/entries/${e.id}`)) }));
  },

  face(f) {
    const li = el("li", { class: "wl-face", dataset: { entryId: f.id } },
      el("strong", { text: `Person ${short(f.id)}` }),
      el("span", { text: ` · case ${f.case_number || "?"} · enrolled by ${f.enrolled_by} · ` +
        `until ${exactTime(f.expires_at, true)} · false matches ${f.false_matches}` }));
    if (Watchlist.supervisor) {
      li.append(
        el("button", { type: "button", class: "btn", text: "Show photo",
          onclick: (ev) => {
            ev.target.replaceWith(el("img", { class: "wl-photo", alt: "Enrolment photo",
              width: 120, src: `/api/watchlist/faces/${f.id}/photo` }));
          } }),
        el("button", { type: "button", class: "btn", text: "Remove",
          onclick: () => Watchlist.act(() => api.del(`/api/watchlist/entries/${f.id}`)) }));
    }
    return li;
  },

  auth(row) {
    const a = row.authorisation;
    const scope = [...a.cameras, ...a.areas].join(", ");
    const ended = row.ended_at ? ` · ${row.ended_why} ${exactTime(row.ended_at, true)}` : "";
    const li = el("li", { class: "wl-auth", dataset: { authId: a.id } },
      el("strong", { text: `Case ${a.case_number}` }),
      el("span", { text: ` · ${a.legal_basis} · approved by ${a.approved_by} · ${scope} · ` +
        `${exactTime(a.starts_at, true)} to ${exactTime(a.ends_at, true)} · crops kept ` +
        `${a.retention_days} d${ended}` }));
    if (Watchlist.supervisor && !row.ended_at) {
      li.append(el("button", { type: "button", class: "btn", text: "End",
        onclick: () => Watchlist.act(() =>
          api.post(`/api/watchlist/authorisations/${a.id}/end`)) }));
    }
    return li;
  },

  addPlate(ev) {
    ev.preventDefault();
    const expires = new Date(`${$("wl-plate-expires").value}T23:59:59`);
    Watchlist.act(() => api.post("/api/watchlist/plates", {
      plate: $("wl-plate").value.trim(),
      reason: $("wl-plate-reason").value.trim(),
      owner: Watchlist.me.username,
      case_ref: $("wl-plate-case").value.trim(),
      expires_at: expires.toISOString(),
    }));
  },
};
