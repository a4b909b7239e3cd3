// The site plan on a Leaflet map: the library is loaded on first use from this hub
// (/static/vendor/leaflet/, installed by `make` with npm ci), never from the internet.
//
// The plan is the site's own image placed on the earth: north-up by its bounds
// (L.imageOverlay), or rotated by control points (leaflet-imageoverlay-rotated, drawn from
// the three corners the hub computed with an affine fit). Street tiles go under it only when
// the site file gives tile_url (that needs internet).

import { api } from "./api.js";

const VENDOR = "/static/vendor";
let loading = null;

function addScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

/** Leaflet (and its rotated-overlay plugin), once per page. Rejects with a message an
 * officer can act on when the hub has no node_modules. */
export function loadLeaflet() {
  if (!loading) {
    loading = (async () => {
      const css = document.createElement("link");
      css.rel = "stylesheet";
      css.href = `${VENDOR}/leaflet/leaflet.css`;
      document.head.append(css);
      await addScript(`${VENDOR}/leaflet/leaflet.js`);
      await addScript(`${VENDOR}/leaflet-rotated/Leaflet.ImageOverlay.Rotated.js`);
      return window.L;
    })().catch((err) => {
      loading = null;
      throw new Error("The map library is not installed on this hub (run make on the hub). " +
        `(${err.message})`);
    });
  }
  return loading;
}

const ll = (p) => [p.lat, p.lon];

/** GET /api/map, once per sign-in (the site file does not change under a running hub). */
let siteMap = null;
export async function fetchSiteMap() {
  if (!siteMap) siteMap = await api.get("/api/map");
  return siteMap;
}
export function forgetSiteMap() { siteMap = null; }

/** Where an incident is on ``site`` (GET /api/map): its own lat/lon, else its area's
 * position; undefined when it has neither. */
export function incidentPlace(site, inc) {
  const loc = inc.location || {};
  if (loc.lat != null && loc.lon != null) return { lat: loc.lat, lon: loc.lon };
  const area = site.areas.find((a) => a.id === loc.area);
  return area && area.position;
}

/** A Leaflet map in ``container`` showing the plan; resolves to {L, map, site}. */
export async function planMap(container) {
  const [L, site] = await Promise.all([loadLeaflet(), fetchSiteMap()]);
  const map = L.map(container, { zoomSnap: 0.25, attributionControl: Boolean(site.tile_url) });
  if (site.tile_url) {
    L.tileLayer(site.tile_url, { attribution: site.attribution || "", maxZoom: 22 }).addTo(map);
  }
  const c = site.corners;
  const bottomRight = { lat: c.top_right.lat + c.bottom_left.lat - c.top_left.lat,
    lon: c.top_right.lon + c.bottom_left.lon - c.top_left.lon };
  const extent = L.latLngBounds([ll(c.top_left), ll(c.top_right), ll(c.bottom_left), ll(bottomRight)]);
  const opts = { alt: "Site plan", className: "plan-image", interactive: false };
  const overlay = site.bounds
    ? L.imageOverlay(site.image_url, [ll(site.bounds.south_west), ll(site.bounds.north_east)], opts)
    : L.imageOverlay.rotated(site.image_url, ll(c.top_left), ll(c.top_right), ll(c.bottom_left), opts);
  overlay.addTo(map);
  map.fitBounds(extent);
  map.setMaxBounds(extent.pad(1));
  return { L, map, site, extent };
}
