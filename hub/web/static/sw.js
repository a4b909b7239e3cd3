// VillageWatch service worker, served at /sw.js so its scope is the whole page.
//
// * App shell: the page's own files (HTML, CSS, JS, icons) are cached so it starts fast and
//   can show an offline page. Network first: a hub update is picked up at once.
// * Never cached, never touched: anything under /api/ (alerts, snapshots, people's names are
//   personal data and must not sit in a cache on a shared phone).
// * Offline: a page navigation that fails (hub stopped, no network) gets offline.html.
// * Web Push: shows the hub's pushed notification; a click focuses the open page (or opens
//   one) on the incident.
// * Background Sync: a patrol's step taps queued offline (tap_queue.js, IndexedDB) are sent
//   when the network returns, even if the page was closed.

importScripts("/static/tap_queue.js");

const VERSION = "vw-shell-14";
const OFFLINE = "/static/offline.html";
const SHELL = [
  "/",
  OFFLINE,
  "/static/offline.js",
  "/static/style.css",
  "/static/app.js",
  "/static/admin.js",
  "/static/alerts.js",
  "/static/api.js",
  "/static/call_form.js",
  "/static/dom.js",
  "/static/incident_view.js",
  "/static/incidents.js",
  "/static/live.js",
  "/static/map.js",
  "/static/plan_map.js",
  "/static/dispatch_panel.js",
  "/static/patrol.js",
  "/static/privacy.js",
  "/static/tap_queue.js",
  // The map library (npm, installed by make): the map works offline once seen.
  "/static/vendor/leaflet/leaflet.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet-rotated/Leaflet.ImageOverlay.Rotated.js",
  "/static/live_view.js",
  "/static/nodes.js",
  "/static/notify.js",
  "/static/reports.js",
  "/static/report_map.js",
  "/static/event_dashboard.js",
  "/static/event_editor.js",
  "/static/safety.js",
  "/static/safety_map.js",
  "/static/sharing.js",
  "/static/sound.js",
  "/static/statistics.js",
  // The chart library (npm, installed by make): the statistics page's charts.
  "/static/vendor/chartjs/chart.umd.min.js",
  "/static/watchlist.js",
  "/static/sensors.html",
  "/static/sensors.js",
  "/static/icon.svg",
  "/static/icon-192.png",
  "/static/icon-512.png",
  "/manifest.webmanifest",
];
const ICON = "/static/icon-192.png";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(VERSION);
    await cache.addAll([OFFLINE, "/static/offline.js", "/static/style.css"]); // must have
    await Promise.all(SHELL.map((url) => cache.add(url).catch(() => null))); // nice to have
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key !== VERSION) await caches.delete(key);
    await self.clients.claim();
  })());
});

async function networkFirst(request) {
  const cache = await caches.open(VERSION);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") cache.put(request, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw err;
  }
}

async function navigate(request) {
  try {
    return await fetch(request);
  } catch (_) {
    const cache = await caches.open(VERSION);
    return (await cache.match(OFFLINE)) || new Response("Offline", { status: 503 });
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // personal data: straight to the network
  if (request.mode === "navigate") {
    event.respondWith(navigate(request));
  } else if (url.pathname.startsWith("/static/") || SHELL.includes(url.pathname)) {
    event.respondWith(networkFirst(request));
  }
});

// --- Background Sync: the patrol's queued taps -------------------------------------------

self.addEventListener("sync", (event) => {
  if (event.tag !== self.TapQueue.TAG) return;
  event.waitUntil((async () => {
    const { left, refused } = await self.TapQueue.flush();
    const pages = await self.clients.matchAll({ type: "window" });
    for (const page of pages) page.postMessage({ type: "taps-sent", left, refused });
    // Still queued (offline again, or signed out): failing asks the browser to retry later.
    if (left) throw new Error(`${left} tap(s) still queued`);
  })());
});

// --- Web Push ------------------------------------------------------------------------------

function payloadOf(event) {
  if (!event.data) return {};
  try {
    return event.data.json();
  } catch (_) {
    return { body: event.data.text() };
  }
}

self.addEventListener("push", (event) => {
  const data = payloadOf(event);
  const incidentId = data.incident_id || (data.incident && data.incident.id) || null;
  const title = data.title || "VillageWatch";
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || "",
    // The same tag as the page's own notification: one notification per incident, renewed.
    tag: data.tag || (incidentId ? `incident-${incidentId}` : "villagewatch"),
    renotify: true,
    requireInteraction: Boolean(data.tier), // an escalation stays until someone looks
    icon: ICON,
    badge: ICON,
    data: { incident_id: incidentId, url: data.url || (incidentId ? `/#/incidents/${incidentId}` : "/") },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const page = windows.find((w) => new URL(w.url).origin === self.location.origin);
    if (page) {
      await page.focus();
      if (data.incident_id) page.postMessage({ type: "open-incident", incident_id: data.incident_id });
      return;
    }
    await self.clients.openWindow(data.url || "/");
  })());
});
