// Live view of an incident area's cameras, relayed by the hub (never from the camera itself).
//
// The hub serves each camera as MJPEG (multipart/x-mixed-replace), which an <img> plays with
// no script at all; closing the view points the <img> elsewhere, which ends the HTTP
// response, and the hub lets the gateway's lease lapse when nobody watches any more.
// Only the duty desk and a patrol dispatched to the incident may watch; the hub decides
// (GET /api/incidents/{id}/cameras says so per camera) and audits every view.

import { api } from "./api.js";
import { el } from "./dom.js";

// A 1x1 transparent GIF: pointing the <img> here aborts the stream at once.
const BLANK = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==";
const open = new Set(); // the live views on the page, so a closing incident ends them all

/**
 * Open ``cam``'s live view in ``container``: a caption (camera, area), a close button and
 * the <img> on the MJPEG stream. ``cam`` is an entry of GET /api/incidents/{id}/cameras
 * ({node, camera, area_name, live_url}). Returns {close()}; closing ends the stream.
 */
export function openLiveView(container, cam) {
  const img = el("img", {
    class: "live-img",
    alt: `Live: ${cam.camera}`,
    dataset: { node: cam.node, camera: cam.camera },
  });
  const state = el("span", { class: "live-state", text: "connecting\u2026" });
  img.addEventListener("load", () => { state.textContent = "live"; }, { once: true });
  img.addEventListener("error", () => { if (view.isOpen) state.textContent = "not available"; });
  const closeButton = el("button", {
    type: "button", class: "btn live-close", text: "Close live view",
  });
  const figure = el("figure", { class: "live-view", dataset: { camera: cam.camera } },
    el("figcaption", {},
      el("strong", { text: `Live: ${cam.camera}` }), ` \u00b7 ${cam.area_name} \u00b7 `, state,
      " ", closeButton),
    img);
  const view = {
    isOpen: true,
    figure,
    close() {
      if (!view.isOpen) return;
      view.isOpen = false;
      img.src = BLANK; // ends the multipart response now, not when the <img> is collected
      figure.remove();
      open.delete(view);
    },
  };
  closeButton.addEventListener("click", () => view.close());
  img.src = cam.live_url;
  container.append(figure);
  open.add(view);
  return view;
}

/** Close every open live view (the incident closed, the officer signed out). */
export function closeAllLiveViews() {
  for (const view of [...open]) view.close();
}

/**
 * The "Live: <camera>" buttons of an incident, after ``anchor`` (the incident's actions):
 * one per camera of its area the caller may watch. Open views survive a re-render.
 */
export async function renderLiveButtons(anchor, incidentId) {
  let box = document.getElementById("incident-live");
  if (!box) {
    box = el("section", { id: "incident-live", class: "live-box" },
      el("div", { class: "actions live-buttons" }), el("div", { class: "live-views" }));
    anchor.after(box);
    const dialog = anchor.closest("dialog");
    if (dialog) dialog.addEventListener("close", closeAllLiveViews);
  }
  const buttons = box.querySelector(".live-buttons");
  const views = box.querySelector(".live-views");
  if (box.dataset.incident !== incidentId) closeAllLiveViews();
  box.dataset.incident = incidentId;
  const cameras = await api.get(`/api/incidents/${encodeURIComponent(incidentId)}/cameras`);
  if (box.dataset.incident !== incidentId) return; // another incident opened meanwhile
  const allowed = cameras.filter((c) => c.allowed);
  // Rebuilt only when the list changed: a re-render must not take a focused button away.
  const key = allowed.map((c) => `${c.node}/${c.camera}`).join(" ");
  if (buttons.dataset.key === key && buttons.childElementCount === allowed.length) return;
  buttons.dataset.key = key;
  buttons.replaceChildren(...allowed.map((cam) => el("button", {
    type: "button",
    class: "btn live-open",
    dataset: { camera: cam.camera },
    text: `Live: ${cam.camera}`,
    onclick: () => {
      const already = views.querySelector(`figure[data-camera="${CSS.escape(cam.camera)}"]`);
      if (!already) openLiveView(views, cam);
    },
  })));
}
