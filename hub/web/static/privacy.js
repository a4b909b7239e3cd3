// Privacy (admins only): what the site collects, where, for how long and under which
// authorisation (GET /api/privacy); the printable sign notice; and subject requests by plate
// or face photo — find, download as JSON, erase (asked twice: it cannot be undone).

import { api, showRefusal } from "./api.js";
import { $, el } from "./dom.js";

const days = (d) => (d === null || d === undefined ? "not kept" : `${d} days`);

export const Privacy = {
  init() {
    $("subject-form").addEventListener("submit", (e) => {
      e.preventDefault();
      Privacy.request("access");
    });
    $("subject-export").addEventListener("click", () => Privacy.request("export"));
    $("subject-erase").addEventListener("click", () => Privacy.request("erase"));
    $("audit-verify").addEventListener("click", Privacy.verify);
  },

  /** The whole chain walked on the hub (as ``villagewatch audit verify``); its verdict. */
  async verify() {
    $("audit-chain").textContent = "verifying\u2026";
    await showRefusal($("privacy-error"), async () => {
      const out = await api.get("/api/privacy/audit-chain");
      $("audit-chain").textContent = out.message;
      $("audit-chain").dataset.intact = String(out.intact);
    });
  },

  async load() {
    $("privacy-error").textContent = "";
    await showRefusal($("privacy-error"), async () => {
      Privacy.show(await api.get("/api/privacy"));
    });
  },

  show(s) {
    $("privacy-operator").textContent =
      `${s.operator || "operator not set (hub.privacy.operator)"} \u00b7 purpose: ${s.purpose}` +
      ` \u00b7 requests: ${s.contact || "contact not set (hub.privacy.contact)"}`;
    $("privacy-cameras").replaceChildren(...s.cameras.map((c) => el("tr", {},
      el("td", { text: `${c.node}/${c.camera}` }),
      el("td", { text: c.area }),
      el("td", { text: c.blur_faces ? "blurred" : "NOT blurred" }),
      el("td", { text: c.plates ? "read" : "no" }),
      el("td", { text: c.signage_confirmed ? "confirmed" : "no" }),
      el("td", { class: "privacy-faces", text: c.faces }))));
    $("privacy-sensors").textContent = s.sensors.length
      ? s.sensors.map((x) => `${x.node} (${x.kind}, ${x.area})`).join(", ") : "none";
    $("privacy-plate-log").textContent = s.plate_logging
      ? `kept, purpose: ${s.plate_logging}` : "not kept (only inside the alert they belong to)";
    $("privacy-where").replaceChildren(...s.where.map((w) => el("li", { text: w })));
    $("privacy-retention").replaceChildren(...s.retention.map((r) => el("tr",
      { dataset: { kind: r.kind } },
      el("td", { text: r.what }), el("td", { text: r.where }),
      el("td", { class: "privacy-days", text: days(r.days) }), el("td", { text: r.note }))));
    $("privacy-auths").replaceChildren(...(s.authorisations.length
      ? s.authorisations.map((a) => el("li", {
        text: `${a.case_number} (${a.legal_basis}), approved by ${a.approved_by}, ` +
          `cameras ${a.cameras.join(", ") || "-"}, until ${a.expires_at}, ` +
          `match crops kept ${a.retention_days} days` }))
      : [el("li", { text: "none in force" })]));
  },

  /** One subject request; the answer's records are listed, an erasure asked for twice. */
  async request(action) {
    const plate = $("subject-plate").value.trim();
    const photo = $("subject-photo").files[0];
    $("subject-error").textContent = "";
    if (!plate && !photo) {
      $("subject-error").textContent = "Give a plate or a face photo.";
      return;
    }
    const what = plate || "this face";
    if (action === "erase" && !window.confirm(`Erase everything stored about ${what}? ` +
      "This cannot be undone.")) return;
    await showRefusal($("subject-error"), async () => {
      const path = photo && !plate
        ? `/api/privacy/subjects/face/${action}` : `/api/privacy/subjects/${action}`;
      if (action === "export") return Privacy.download(path, plate, photo);
      const out = photo && !plate ? await api.upload(path, photo) : await api.post(path, { plate });
      Privacy.showAnswer(out);
    });
  },

  showAnswer(out) {
    const counts = Object.entries(out.counts).map(([k, n]) => `${k}: ${n}`).join(", ");
    const verb = out.action === "erase" ? "Erased" : "Found";
    $("subject-summary").textContent = `${verb}: ${counts || "nothing"} (${out.subject_key})`;
    $("subject-records").replaceChildren(...out.records.map((r) => el("li",
      { dataset: { kind: r.kind } }, `${r.kind} ${r.id} \u00b7 ${r.summary}` +
        (r.ts ? ` \u00b7 ${r.ts}` : ""))));
  },

  /** The export is a file: fetched here (the session cookie goes along) and saved. */
  async download(path, plate, photo) {
    const init = { method: "POST", credentials: "same-origin" };
    if (plate) Object.assign(init, { headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ plate }) });
    else Object.assign(init, { headers: { "Content-Type": photo.type }, body: photo });
    const res = await fetch(path, init);
    if (!res.ok) {
      $("subject-error").textContent = `export refused: ${res.status}`;
      return;
    }
    const blob = await res.blob();
    const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "");
    const a = el("a", { href: URL.createObjectURL(blob), download: name ? name[1] : "subject.json" });
    document.body.append(a);
    a.click();
    a.remove();
    Privacy.showAnswer(JSON.parse(await blob.text()));
  },
};
