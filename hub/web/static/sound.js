// Sound: a chime for new alerts and incidents, and an urgent alarm that repeats while an
// escalated incident waits for someone to acknowledge it. WebAudio, no audio files.
//
// The choice is remembered (localStorage) so a duty desk that reloads stays audible. Browsers
// only start audio after a user gesture, so after a reload the sound is "on" but the
// AudioContext waits for the first tap or key press anywhere on the page.
// While sound is off, a duty desk (officer and above) sees a banner saying so.

import { $ } from "./dom.js";

const KEY = "vw.sound";
const URGENT_EVERY_MS = 4000;
const MIN_GAP_MS = 1200; // an alert and the incident it opens arrive together: one chime

const NORMAL = { type: "sine", gain: 0.35, notes: [[880, 0], [660, 0.18], [880, 0.36]], len: 0.16 };
const URGENT = {
  type: "square",
  gain: 0.6,
  notes: [[1320, 0], [1760, 0.1], [1320, 0.2], [1760, 0.3], [1320, 0.4], [1760, 0.5]],
  len: 0.09,
};

export const Sound = {
  ctx: null,
  on: false,
  deskRole: false,
  lastChime: 0,
  urgent: new Map(), // incident id -> () => still unacknowledged?
  urgentTimer: null,

  init() {
    Sound.on = localStorage.getItem(KEY) === "on";
    $("sound-toggle").addEventListener("click", () => Sound.set(!Sound.on, true));
    $("sound-banner-on").addEventListener("click", () => Sound.set(true, true));
    // Any gesture may unlock audio that was switched on before a reload.
    const unlock = () => { if (Sound.on) Sound.context(); };
    document.addEventListener("pointerdown", unlock, { capture: true });
    document.addEventListener("keydown", unlock, { capture: true });
    Sound.render();
  },

  /** Who is signed in decides whether "sound off" deserves a banner. */
  setDesk(isDesk) {
    Sound.deskRole = isDesk;
    Sound.render();
  },

  set(on, byUser) {
    Sound.on = on;
    localStorage.setItem(KEY, on ? "on" : "off");
    if (on && byUser) {
      Sound.context();
      Sound.chime();
    }
    Sound.render();
  },

  context() {
    if (!Sound.ctx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      Sound.ctx = new Ctx();
    }
    if (Sound.ctx.state === "suspended") Sound.ctx.resume().catch(() => {});
    return Sound.ctx;
  },

  render() {
    const btn = $("sound-toggle");
    btn.setAttribute("aria-pressed", String(Sound.on));
    btn.textContent = Sound.on ? "Sound on" : "Sound off";
    $("sound-banner").hidden = Sound.on || !Sound.deskRole;
  },

  /** The normal chime (and a vibration on phones). */
  chime() {
    const now = Date.now();
    if (now - Sound.lastChime < MIN_GAP_MS) return;
    Sound.lastChime = now;
    Sound._count("chimes");
    if (!Sound.on) return;
    if (navigator.vibrate) navigator.vibrate([180, 80, 180]);
    Sound.play(NORMAL);
  },

  /** Start (or keep) the urgent alarm for an escalated incident. It repeats every few
   * seconds for as long as ``stillWaiting()`` says the incident is unacknowledged. */
  escalated(incidentId, stillWaiting) {
    Sound.urgent.set(incidentId, stillWaiting);
    Sound._urgentRound();
    if (!Sound.urgentTimer) Sound.urgentTimer = setInterval(Sound._urgentRound, URGENT_EVERY_MS);
  },

  /** Stop every alarm (signed out). */
  silence() {
    Sound.urgent.clear();
    Sound._urgentRound();
  },

  _urgentRound() {
    for (const [id, stillWaiting] of Sound.urgent) if (!stillWaiting()) Sound.urgent.delete(id);
    document.body.dataset.alarm = Sound.urgent.size ? "urgent" : "";
    if (!Sound.urgent.size) {
      clearInterval(Sound.urgentTimer);
      Sound.urgentTimer = null;
      return;
    }
    Sound._count("urgentChimes");
    if (!Sound.on) return;
    if (navigator.vibrate) navigator.vibrate([400, 100, 400, 100, 400]);
    Sound.play(URGENT);
  },

  /** Play ``tune`` ({type, gain, notes: [[Hz, start s]...], len s}) whether or not the
   * desk sound is on (the patrol's order alarm always rings). */
  play(tune) {
    const ctx = Sound.context();
    if (!ctx) return;
    const t0 = ctx.currentTime;
    for (const [freq, at] of tune.notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = tune.type;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(tune.gain, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + tune.len);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + tune.len + 0.02);
    }
  },

  // Counters on <body> let a test (and a curious officer with dev tools) see that the
  // page decided to chime, without listening to the speaker.
  _count(name) {
    document.body.dataset[name] = String(Number(document.body.dataset[name] || 0) + 1);
  },
};
