// Users (admins only): list, create (the generated password is shown once), disable and
// enable, reset a password (the new one is shown once), end a user's sessions.

import { api, showRefusal } from "./api.js";
import { $, el, keepFocus, Modal } from "./dom.js";

const ROLES = ["viewer", "officer", "supervisor", "admin", "integration"];

export const Admin = {
  secret: null,

  init() {
    Admin.secret = new Modal($("secret-dialog"), {
      onClose: () => { $("secret-value").textContent = ""; }, // gone from the page for good
    });
    const role = $("new-user-role");
    role.replaceChildren(...ROLES.map((r) => el("option", { value: r, text: r })));
    role.value = "officer";
    $("new-user-form").addEventListener("submit", Admin.create);
  },

  async load() {
    await showRefusal($("admin-error"), async () => {
      const users = await api.get("/api/users");
      keepFocus($("users"), () => $("users").replaceChildren(...users.map(Admin.row)));
    });
  },

  row(user) {
    const name = user.username;
    const path = `/api/users/${encodeURIComponent(name)}`;
    const li = el("li", { class: "user", dataset: { username: name, disabled: String(!!user.disabled) } },
      el("span", { class: "user-name", text: name }),
      el("span", { class: "muted", text: user.role + (user.disabled ? " \u00b7 disabled" : "") }));
    const actions = el("span", { class: "actions" });
    const button = (text, label, run) => el("button", {
      type: "button", class: "btn", text, "aria-label": `${label} ${name}`,
      onclick: () => Admin.run(run),
    });
    actions.append(
      user.disabled
        ? button("Enable", "Enable", () => api.post(`${path}/enable`))
        : button("Disable", "Disable", () => api.post(`${path}/disable`)),
      button("Reset password", "Reset the password of", async () => {
        const out = await api.post(`${path}/password`);
        Admin.showSecret(name, out.password);
      }),
      button("End sessions", "End every session of", () => api.del(`${path}/sessions`)),
    );
    li.append(actions);
    return li;
  },

  /** One action, then the list again; a refusal stays on screen (the reload keeps it). */
  async run(action) {
    $("admin-error").textContent = "";
    await showRefusal($("admin-error"), action);
    await Admin.load();
  },

  async create(e) {
    e.preventDefault();
    const body = { username: $("new-user-name").value.trim(), role: $("new-user-role").value };
    await Admin.run(async () => {
      const out = await api.post("/api/users", body);
      $("new-user-form").reset();
      $("new-user-role").value = "officer";
      Admin.showSecret(out.username, out.password);
    });
  },

  /** A password in a dialog, once: closing the dialog wipes it from the page. */
  showSecret(username, password) {
    $("secret-user").textContent = username;
    $("secret-value").textContent = password;
    Admin.secret.open($("secret-done"));
  },
};
