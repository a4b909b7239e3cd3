// Data sharing (admins only): the register of who receives what from this hub, under which
// agreement and until when, each token's last use, and revoking (GET /api/sharing/register);
// adding a department account and issuing it a scoped token, which is shown here once and
// never again (the hub keeps only its hash). What departments read is aggregates only, with
// cells below k left out (docs/data-sharing.md). Every value from the hub goes in as text.
// The view builds its own markup on first use, so index.html holds only its empty section.

import { api, showRefusal } from "./api.js";
import { $, areaName, el, exactTime, humanize } from "./dom.js";

const DEPARTMENTS = ["urban_management", "traffic", "fire", "residents_committee", "other"];
const DATASETS = ["incident_counts", "alert_counts", "hot_spots", "safety_index", "occupancy", "areas"];

const td = (text) => el("td", { text });
const when = (iso) => (iso ? exactTime(iso, true) : "never");
const day = (iso) => (iso ? new Date(iso).toISOString().slice(0, 10) : "");

/** A list to pick several from (a native multiple select: keyboard and screen readers
 * know it, and it keeps the form's one-line layout). */
function picker(id, label, values, name) {
  return el("label", { text: `${label} ` }, el("select", { id, multiple: true, required: true,
    size: Math.min(values.length, 4) }, ...values.map((v) => el("option", { value: v, text: name(v) }))));
}

function skeleton(areas) {
  const today = new Date().toISOString().slice(0, 10);
  return [
    el("h2", { id: "sharing-heading", text: "Data sharing register" }),
    el("p", { id: "sharing-note", class: "muted" }),
    el("div", { class: "table-scroll" },
      el("table", { class: "report", id: "sharing-table" },
        el("caption", { text: "Who receives what, under which agreement, until when" }),
        el("thead", {}, el("tr", {}, ...["Department", "Agreement", "Datasets", "Areas",
          "Data period", "Expires", "Requests/min", "Last use", "Status", ""].map(
          (h) => el("th", { scope: "col", text: h })))),
        el("tbody", { id: "sharing-rows" }))),
    el("p", { id: "sharing-empty", class: "empty", text: "Nothing is shared yet.", hidden: true }),
    el("p", { id: "sharing-error", class: "error", role: "alert" }),
    el("div", { id: "sharing-token-box", class: "banner", hidden: true },
      el("p", { text: "Give this token to the department now: it is shown only this once." }),
      el("p", {}, el("code", { id: "sharing-token", class: "secret" })),
      el("button", { type: "button", class: "btn", id: "sharing-token-done", text: "Done" })),
    el("h3", { text: "New department account" }),
    el("form", { id: "sharing-account-form", class: "filters" },
      el("label", { text: "Name " }, el("input", { id: "sharing-account-name", required: true, maxlength: 100 })),
      el("label", { text: "Department " }, el("select", { id: "sharing-account-dept" },
        ...DEPARTMENTS.map((d) => el("option", { value: d, text: humanize(d) })))),
      el("label", { text: "Contact " }, el("input", { id: "sharing-account-contact", maxlength: 200 })),
      el("button", { type: "submit", class: "btn btn-primary", text: "Add account" })),
    el("h3", { text: "Issue a token" }),
    el("form", { id: "sharing-token-form", class: "filters" },
      el("label", { text: "Account " }, el("select", { id: "sharing-token-account", required: true })),
      el("label", { text: "Agreement " }, el("input", { id: "sharing-token-agreement", required: true,
        minlength: 3, maxlength: 200, placeholder: "e.g. DSA-2026-014" })),
      picker("sharing-token-datasets", "Datasets", DATASETS, humanize),
      picker("sharing-token-areas", "Areas", areas, areaName),
      el("label", { text: "Data from " }, el("input", { id: "sharing-token-from", type: "date", required: true })),
      el("label", { text: "Data until " }, el("input", { id: "sharing-token-until", type: "date", required: true, value: today })),
      el("label", { text: "Expires " }, el("input", { id: "sharing-token-expires", type: "date", required: true })),
      el("label", { text: "Requests/min " }, el("input", { id: "sharing-token-rate", type: "number", min: 1, max: 6000, value: 60 })),
      el("button", { type: "submit", class: "btn btn-primary", text: "Issue token" })),
  ];
}

export const Sharing = {
  built: false,

  build(areas) {
    $("sharing-view").replaceChildren(...skeleton(areas));
    $("sharing-account-form").addEventListener("submit", Sharing.addAccount);
    $("sharing-token-form").addEventListener("submit", Sharing.issue);
    $("sharing-token-done").addEventListener("click", () => {
      $("sharing-token").textContent = ""; // gone from the page for good
      $("sharing-token-box").hidden = true;
    });
    Sharing.built = true;
  },

  async load() {
    if (!Sharing.built) Sharing.build((await api.get("/api/site")).areas.map((a) => a.id));
    await showRefusal($("sharing-error"), async () => {
      const register = await api.get("/api/sharing/register");
      Sharing.render(register);
    });
  },

  render({ accounts, tokens, k }) {
    const byId = new Map(accounts.map((a) => [a.id, a]));
    $("sharing-note").textContent = `Departments read aggregates only: counts per area, hour and `
      + `kind, with every cell of fewer than ${k} events left out. No snapshots, faces, plates `
      + `or positions are shared.`;
    $("sharing-rows").replaceChildren(...tokens.map((t) => Sharing.row(t, byId.get(t.account_id))));
    $("sharing-empty").hidden = tokens.length > 0;
    $("sharing-token-account").replaceChildren(...accounts.map((a) => el("option", {
      value: a.id, text: `${a.name} (${humanize(a.department)})` })));
  },

  row(token, account) {
    const name = account ? `${account.name} (${humanize(account.department)})` : token.account_id;
    const action = el("td");
    if (token.status === "live") {
      action.append(el("button", { type: "button", class: "btn", text: "Revoke",
        "aria-label": `Revoke the token of ${name}`,
        onclick: () => Sharing.run(() => api.post(`/api/sharing/tokens/${encodeURIComponent(token.id)}/revoke`)) }));
    }
    return el("tr", { dataset: { token: token.id, status: token.status } },
      td(name), td(token.agreement), td(token.datasets.map(humanize).join(", ")),
      td(token.areas.map(areaName).join(", ")), td(`${day(token.data_from)} \u2013 ${day(token.data_until)}`),
      td(when(token.expires_at)), td(String(token.rate_per_min)),
      td(token.last_used_at ? `${when(token.last_used_at)} (${token.uses})` : "never"),
      td(token.status), action);
  },

  async run(action) {
    $("sharing-error").textContent = "";
    await showRefusal($("sharing-error"), action);
    await Sharing.load();
  },

  async addAccount(e) {
    e.preventDefault();
    const body = {
      name: $("sharing-account-name").value.trim(),
      department: $("sharing-account-dept").value,
      contact: $("sharing-account-contact").value.trim() || null,
    };
    await Sharing.run(async () => {
      await api.post("/api/sharing/accounts", body);
      $("sharing-account-form").reset();
    });
  },

  async issue(e) {
    e.preventDefault();
    const chosen = (id) => [...$(id).selectedOptions].map((option) => option.value);
    const midnight = (id) => `${$(id).value}T00:00:00Z`;
    const body = {
      account_id: $("sharing-token-account").value,
      agreement: $("sharing-token-agreement").value.trim(),
      datasets: chosen("sharing-token-datasets"),
      areas: chosen("sharing-token-areas"),
      data_from: midnight("sharing-token-from"),
      data_until: midnight("sharing-token-until"),
      expires_at: midnight("sharing-token-expires"),
      rate_per_min: Number($("sharing-token-rate").value) || null,
    };
    await Sharing.run(async () => {
      const out = await api.post("/api/sharing/tokens", body);
      $("sharing-token").textContent = out.token;
      $("sharing-token-box").hidden = false;
    });
  },
};
