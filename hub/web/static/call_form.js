// Open an incident from a 110 phone call: caller, call-back number, where, what, how bad.
//
// The form keeps one Idempotency-Key until the hub has answered: pressing "Open incident"
// again after a network error cannot open the same call twice.

import { api, randomKey } from "./api.js";
import { $, Modal } from "./dom.js";

export const CallForm = {
  modal: null,
  key: null,
  opened: () => {},

  init({ opened }) {
    CallForm.opened = opened;
    CallForm.modal = new Modal($("call-dialog"));
    $("new-call").addEventListener("click", () => CallForm.open());
    $("call-form").addEventListener("submit", CallForm.submit);
  },

  open() {
    $("call-error").textContent = "";
    CallForm.modal.open($("call-name"));
  },

  body() {
    const v = (id) => $(id).value.trim();
    const caller = { name: v("call-name") || null, phone: v("call-phone") || null };
    const body = {
      source: "call",
      kind: v("call-kind") || "other",
      severity: $("call-severity").value,
      title: v("call-title-input"),
      location: { area: v("call-area") || null, address: v("call-address") || null },
    };
    if (v("call-description")) body.description = v("call-description");
    if (caller.name || caller.phone) body.caller = caller;
    return body;
  },

  async submit(e) {
    e.preventDefault();
    const body = CallForm.body();
    if (!body.location.area && !body.location.address) {
      $("call-error").textContent = "Give an area or an address.";
      return;
    }
    CallForm.key = CallForm.key || randomKey();
    const button = $("call-submit");
    button.disabled = true;
    try {
      const incident = await api.post("/api/incidents", body, { "Idempotency-Key": CallForm.key });
      CallForm.key = null;
      $("call-form").reset();
      CallForm.modal.close();
      CallForm.opened(incident);
    } catch (err) {
      $("call-error").textContent = err.status
        ? err.message : "The hub did not answer. Press again: the call is opened only once.";
      if (err.status) CallForm.key = null; // refused: a corrected form is a new request
    } finally {
      button.disabled = false;
    }
  },
};
