// The patrol's queue of step taps (accept, en route, on scene...), kept in IndexedDB so that
// the page and the service worker share it: a tap made in a tunnel is sent when the network
// returns even if the page was closed meanwhile (Background Sync wakes the service worker,
// where the browser has it: Chromium), or else by the page the next time it is open.
//
// A classic script, not an ES module, because the service worker loads it with
// importScripts() (module service workers are not everywhere yet); the page imports it for
// its side effect and uses self.TapQueue.
//
// Each tap carries the time it was made (``at``), so the hub stores when the patrol really
// arrived, not when the hub heard of it. Taps go out in order, one sender at a time (a Web
// Lock shared by the page and the worker), so no tap is sent twice.

(function (scope) {
  const DB = "vw-patrol";
  const STORE = "taps";
  const LOCK = "vw-patrol-taps";

  function openDb() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "key", autoIncrement: true });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  /** One transaction on the store; resolves with ``work``'s request result once committed. */
  async function withStore(mode, work) {
    const db = await openDb();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = work(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req ? req.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  async function send(tap) {
    const { key, assignment_id: id, ...body } = tap;
    return fetch(`/api/assignments/${encodeURIComponent(id)}/steps`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  async function reason(res) {
    try {
      const { detail } = await res.json();
      if (typeof detail === "string") return detail;
    } catch (_) { /* not JSON */ }
    return `HTTP ${res.status}`;
  }

  const TapQueue = {
    /** The Background Sync tag the worker answers to. */
    TAG: "vw-patrol-taps",

    add: (tap) => withStore("readwrite", (s) => s.add(tap)),
    all: () => withStore("readonly", (s) => s.getAll()),

    /** Send the queued taps in order. Stops, keeping the rest, at the first that cannot
     * reach the hub (no network), that needs a sign-in (401: sent after the next one) or
     * that the hub cannot take now (5xx). A tap the hub refuses (4xx: it can never
     * succeed) is dropped and its reason returned. → {left, refused: [messages]}. */
    async flush() {
      const run = async () => {
        const refused = [];
        for (const tap of await TapQueue.all()) {
          let res;
          try {
            res = await send(tap);
          } catch (_) {
            break; // offline
          }
          if (res.status === 401 || res.status >= 500) break;
          if (!res.ok) refused.push(await reason(res));
          await withStore("readwrite", (s) => s.delete(tap.key));
        }
        return { left: (await TapQueue.all()).length, refused };
      };
      return scope.navigator.locks ? scope.navigator.locks.request(LOCK, run) : run();
    },
  };

  scope.TapQueue = TapQueue;
})(self);
