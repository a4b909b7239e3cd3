// A supervisor's new event, made on the page: a name and a window, up to three rings drawn
// by clicking their corners on the site plan (the hub's own Leaflet, plan_map.js), each with
// its limit, and the camera rings that feed them (GET /api/site-event-feeds: every crowd
// ring of every camera; a camera ring feeds the event ring of the same name). Sent as the
// site file's event JSON to POST /api/site-events, which checks it as the site file would
// (a 422 says what is wrong); the hub stores it and samples it like a site-file event.
//
// Times are typed in this browser's zone (the officer is at the site) and sent as UTC.

import { api, showRefusal } from "./api.js";
import { $, areaOptions, el, humanize } from "./dom.js";
import { planMap } from "./plan_map.js";

const RINGS = ["diversion", "control", "core"];
const COLOURS = { diversion: "#1c7ed6", control: "#e67700", core: "#c92a2a" };

const numberOrNull = (input) => (input.value === "" ? null : Number(input.value));

export const EventEditor = {
  built: null,
  layer: null,
  points: { diversion: [], control: [], core: [] },
  created: () => {},

  /** Once, when the page loads; ``created(id)`` after the hub has stored an event. */
  init(created) {
    EventEditor.created = created;
    $("site-event-new").addEventListener("toggle", () => {
      if ($("site-event-new").open) EventEditor.open().catch(console.warn);
    });
    $("new-event-clear").addEventListener("click", () => {
      EventEditor.points[EventEditor.ring()] = [];
      EventEditor.draw();
    });
    $("site-event-new-form").addEventListener("submit", (e) => {
      e.preventDefault();
      EventEditor.submit().catch(console.warn);
    });
  },

  ring: () => document.querySelector('input[name="new-event-ring"]:checked').value,

  async open() {
    const feeds = await api.get("/api/site-event-feeds");
    if (!$("new-event-area").options.length) areaOptions($("new-event-area"), "No area");
    $("new-event-feeds").replaceChildren(...feeds.map((f) => el("label", { class: "feed-choice" },
      el("input", { type: "checkbox", value: JSON.stringify([f.camera, f.crowd, f.ring]) }),
      ` ${f.camera} \u00b7 ${f.crowd}/${f.ring} \u2192 ${humanize(f.ring)} ring`)));
    $("new-event-no-feeds").hidden = feeds.length > 0;
    if (!EventEditor.built) {
      EventEditor.built = planMap($("new-event-map"));
      const { map } = await EventEditor.built;
      map.on("click", (e) => {
        EventEditor.points[EventEditor.ring()].push({ lat: e.latlng.lat, lon: e.latlng.lng });
        EventEditor.draw();
      });
    }
    (await EventEditor.built).map.invalidateSize();
  },

  /** The rings drawn so far: a line while it has fewer than three corners. */
  async draw() {
    const { L, map } = await EventEditor.built;
    if (EventEditor.layer) EventEditor.layer.remove();
    EventEditor.layer = L.layerGroup().addTo(map);
    for (const name of RINGS) {
      const pts = EventEditor.points[name].map((p) => [p.lat, p.lon]);
      if (!pts.length) continue;
      const style = { color: COLOURS[name], weight: 2, className: `new-ring-${name}` };
      (pts.length >= 3 ? L.polygon(pts, style) : L.polyline(pts, style)).addTo(EventEditor.layer);
    }
    $("new-event-map").dataset.corners = RINGS.map((n) => EventEditor.points[n].length).join(",");
  },

  /** The event as the site file would give it. */
  body() {
    const rings = {};
    for (const name of RINGS) {
      if (EventEditor.points[name].length < 3) continue;
      rings[name] = { polygon: EventEditor.points[name], limit: numberOrNull($(`new-event-limit-${name}`)) };
    }
    const density = numberOrNull($("new-event-density-core"));
    if (rings.core && density !== null) rings.core.density_limit = density;
    const sameGround = $("new-event-overlap").checked;
    const feeds = [...$("new-event-feeds").querySelectorAll("input:checked")].map((box) => {
      const [camera, crowd, ring] = JSON.parse(box.value);
      return { camera, crowd, ring, overlap: sameGround ? ring : null };
    });
    return {
      id: $("new-event-id").value.trim(),
      name: $("new-event-name").value.trim(),
      starts_at: new Date($("new-event-start").value).toISOString(),
      ends_at: new Date($("new-event-end").value).toISOString(),
      area: $("new-event-area").value || null,
      rings,
      feeds,
    };
  },

  async submit() {
    $("new-event-error").textContent = "";
    await showRefusal($("new-event-error"), async () => {
      const made = await api.post("/api/site-events", EventEditor.body());
      EventEditor.points = { diversion: [], control: [], core: [] };
      await EventEditor.draw();
      $("site-event-new-form").reset();
      $("site-event-new").open = false;
      await EventEditor.created(made.event.id);
    }, "The hub refused the event: ");
  },
};
