// System notifications and Web Push, through the service worker (/sw.js).
//
// * While the page is open but hidden (another tab, phone locked with the browser running),
//   a new incident or an escalation shows a system notification from the page itself.
// * With Web Push on the hub (GET /api/push/key says enabled), the browser also subscribes
//   with the hub's public key, so the service worker can show notifications even when no
//   page is open. Both use the same `tag` (incident id), so the two never show twice.
// Clicking a notification focuses the page (or opens it) on that incident.

import { api } from "./api.js";
import { $ } from "./dom.js";

const LATER = "vw.notify-later"; // "Not now" is remembered on this browser

/** URL-safe base64 (the VAPID public key) to the bytes pushManager wants. */
function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") +
    "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export const Notify = {
  registration: null,
  onOpenIncident: () => {},

  /** Register the service worker (offline page, app shell) as soon as the page loads. */
  async register(onOpenIncident) {
    Notify.onOpenIncident = onOpenIncident;
    $("notify-enable").addEventListener("click", Notify.enable);
    $("notify-later").addEventListener("click", () => {
      localStorage.setItem(LATER, "1");
      $("notify-banner").hidden = true;
    });
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.type === "open-incident") Notify.onOpenIncident(e.data.incident_id);
    });
    try {
      Notify.registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    } catch (err) {
      console.warn("service worker not registered:", err.message);
    }
  },

  supported() {
    return "Notification" in window && "serviceWorker" in navigator;
  },

  /** After sign-in: offer notifications, or renew the push subscription if allowed. */
  async signedIn() {
    if (!Notify.supported()) return;
    $("notify-banner").hidden =
      Notification.permission !== "default" || localStorage.getItem(LATER) === "1";
    if (Notification.permission === "granted") await Notify.subscribePush();
  },

  async enable() {
    const answer = await Notification.requestPermission();
    $("notify-banner").hidden = true;
    if (answer === "granted") await Notify.subscribePush();
  },

  async subscribePush() {
    try {
      const key = await api.get("/api/push/key");
      if (!key || !key.enabled || !key.public_key) return;
      const reg = await navigator.serviceWorker.ready;
      const sub = (await reg.pushManager.getSubscription()) ||
        (await reg.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(key.public_key),
        }));
      const json = sub.toJSON();
      await api.post("/api/push/subscriptions", { endpoint: json.endpoint, keys: json.keys });
    } catch (err) {
      // No push service reachable (an offline site): page notifications still work.
      console.warn("web push unavailable:", err.message);
    }
  },

  /** Sign-out: this browser stops receiving the user's pushes. */
  async signedOut() {
    $("notify-banner").hidden = true;
    if (!Notify.registration || !Notify.registration.pushManager) return;
    try {
      const sub = await Notify.registration.pushManager.getSubscription();
      if (!sub) return;
      await api.del("/api/push/subscriptions", { endpoint: sub.endpoint }).catch(() => {});
      await sub.unsubscribe();
    } catch (err) {
      console.warn("push unsubscribe failed:", err.message);
    }
  },

  /** A system notification, only while the page is hidden (visible pages chime instead). */
  async show(title, body, incidentId, urgent = false) {
    if (document.visibilityState !== "hidden") return;
    if (!Notify.supported() || Notification.permission !== "granted") return;
    const options = {
      body,
      tag: incidentId ? `incident-${incidentId}` : undefined,
      renotify: true,
      requireInteraction: urgent,
      icon: "/static/icon-192.png",
      badge: "/static/icon-192.png",
      data: { incident_id: incidentId, url: incidentId ? `/#/incidents/${incidentId}` : "/" },
    };
    try {
      const reg = Notify.registration || (await navigator.serviceWorker.ready);
      await reg.showNotification(title, options);
    } catch (_) {
      new Notification(title, options); // no worker (yet): a plain page notification
    }
  },
};
