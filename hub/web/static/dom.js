// Small DOM helpers shared by every part of the officer page.
//
// Rule of the page: every value that came from the hub goes in with textContent (el()'s
// `text`), never as HTML. el() has no way to set innerHTML on purpose.

export const $ = (id) => document.getElementById(id);

/** Create an element: el("li", {class: "x", text: "hello", dataset: {id: 1}}, child...). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

export const humanize = (word) => String(word || "").replace(/_/g, " ");

// --- the site: its clock and its areas ---------------------------------------------------

let timeZone; // the site's: the officer is at the site, whatever the phone says
let areas = new Map(); // area id -> name

/** The site as GET /api/site describes it. */
export function setSite(site) {
  timeZone = site.timezone;
  areas = new Map(site.areas.map((a) => [a.id, a.name]));
}

/** An area's name; an id the site does not know, as it is. */
export const areaName = (id) => areas.get(id) || id;

/** Fill an area picker: ``first`` (value "", no area) and then every area of the site. */
export function areaOptions(select, first) {
  select.replaceChildren(el("option", { value: "", text: first }),
    ...[...areas].map(([id, name]) => el("option", { value: id, text: name })));
}

/** The exact time in the site's zone; with the date unless it is today. */
export function exactTime(iso, withDate = false) {
  const when = new Date(iso);
  const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit" };
  if (withDate || new Date().toDateString() !== when.toDateString()) {
    Object.assign(opts, { weekday: "short", day: "numeric", month: "short" });
  }
  try {
    return new Intl.DateTimeFormat(undefined, { ...opts, timeZone }).format(when);
  } catch (_) {
    return new Intl.DateTimeFormat(undefined, opts).format(when); // unknown zone name
  }
}

/** "2 min 13 s", "1 h 05 min", "3 d 4 h": a duration an officer reads at a glance. */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** "just now", "2 min ago", "3 h ago", "yesterday"... */
export function relativeTime(iso, now = Date.now()) {
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const d = Math.floor(s / 86400);
  return d === 1 ? "yesterday" : `${d} days ago`;
}

/** A relative time ("2 min ago") that shows the exact time on hover (title) and on tap
 * (it is a button: tapping swaps the two). Kept fresh by Ticker. */
export function timeButton(iso, prefix = "") {
  const exact = exactTime(iso, true);
  const time = el("time", { datetime: iso, text: relativeTime(iso) });
  const button = el("button", {
    type: "button",
    class: "when",
    title: exact,
    "aria-label": `${prefix}${exact}`,
    dataset: { rel: iso },
  });
  if (prefix) button.append(prefix);
  button.append(time);
  button.addEventListener("click", (e) => {
    e.stopPropagation();
    button.classList.toggle("exact");
    time.textContent = button.classList.contains("exact") ? exact : relativeTime(iso);
  });
  return button;
}

/** Set a text only if it changed: the ticker passes every clock on the page each second,
 * and most ("3 h ago") read the same as a second before. */
function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** One timer for every live clock on the page: "[data-since]" counts up ("new 2 min 13 s")
 * and "[data-rel]" keeps "2 min ago" current. */
export const Ticker = {
  handle: null,
  start() {
    if (!Ticker.handle) Ticker.handle = setInterval(Ticker.tick, 1000);
  },
  stop() {
    clearInterval(Ticker.handle);
    Ticker.handle = null;
  },
  tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll("[data-since]")) {
      const label = node.dataset.label ? `${node.dataset.label} ` : "";
      setText(node, label + duration(now - new Date(node.dataset.since).getTime()));
    }
    for (const node of document.querySelectorAll("[data-rel]:not(.exact) time")) {
      setText(node, relativeTime(node.dateTime, now));
    }
  },
};

// --- announcements for screen readers -----------------------------------------------------

/** Say something through the page's polite live region (new alerts and incidents). */
export function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  // A fresh text node after a clear is what makes screen readers read it again.
  setTimeout(() => { region.textContent = text; }, 50);
}

// --- modal dialogs ------------------------------------------------------------------------

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]):not([type="hidden"]), ' +
  'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** Native <dialog> opened modally, plus what the page promises: focus moves into the
 * dialog, Tab stays inside it, Escape closes it, and focus goes back where it was. */
export class Modal {
  constructor(dialog, { onClose } = {}) {
    this.dialog = dialog;
    this.onClose = onClose;
    this.returnTo = null;
    dialog.addEventListener("close", () => this._closed());
    dialog.addEventListener("keydown", (e) => this._trap(e));
    // A click on the backdrop (the dialog box itself, outside its panel) closes it.
    dialog.addEventListener("click", (e) => { if (e.target === dialog) this.close(); });
    for (const button of dialog.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => this.close());
    }
  }

  get isOpen() {
    return this.dialog.open;
  }

  open(focusTarget) {
    if (!this.dialog.open) {
      const active = document.activeElement;
      this.returnTo = active && active !== document.body ? active : null;
      this.dialog.showModal();
    }
    const target = focusTarget || this.dialog.querySelector("[autofocus]") ||
      this.dialog.querySelector(FOCUSABLE);
    if (target) target.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  _closed() {
    if (this.onClose) this.onClose();
    const back = this.returnTo;
    this.returnTo = null;
    if (back && back.isConnected) back.focus();
  }

  _trap(e) {
    if (e.key !== "Tab") return;
    const items = [...this.dialog.querySelectorAll(FOCUSABLE)].filter(
      (node) => node.offsetParent !== null || node === document.activeElement,
    );
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  }
}

/** Run ``render`` (which replaces parts of ``container``) without losing the keyboard
 * focus: if the focused element was inside and is gone, the element now at the same place
 * among the container's focusable ones gets the focus. */
export function keepFocus(container, render) {
  const before = [...container.querySelectorAll(FOCUSABLE)];
  const index = before.indexOf(document.activeElement);
  render();
  const active = document.activeElement;
  if (index < 0 || (active && active !== document.body && active.isConnected)) return;
  const after = [...container.querySelectorAll(FOCUSABLE)].filter((n) => n.offsetParent !== null);
  const target = after[Math.min(index, after.length - 1)];
  if (target) target.focus();
}

/** Fill a <dl> with label/value rows, skipping empty values. */
export function fillFields(dl, rows) {
  dl.replaceChildren();
  for (const [label, value] of rows) {
    if (value === null || value === undefined || value === "") continue;
    dl.append(el("dt", { text: label }), el("dd", {}, value instanceof Node ? value : el("span", { text: value })));
  }
}
