// The piano: Tone.js Sampler over the site's samples (assets/piano/, written by
// scripts/render_piano.py), for live playback (player.js drives it on Tone's
// transport) and offline rendering to WAV.
//
// Tone.js (260 KB) and the samples are loaded once the page is idle (preload),
// not with the page, so that they cost its first load nothing and the first
// click sounds as soon as later ones: the samples are decoded with an
// OfflineAudioContext, which needs no gesture. Browsers let audio start only
// in a gesture, so the AudioContext itself is made and resumed in the first
// one that may need sound (a pointer or key press in a widget, or Play).
// noteOn / noteOff sound the keys played (the melody input); click is the
// recording's metronome, a short tone on the same AudioContext.

import { siteUrl } from "../common/paths.js";
import { reason } from "../common/reason.js";
import { encodeWav } from "../files/wav.js";

export const VELOCITY = 0.7;
export const RELEASE_S = 0.8; // sampler release; also the tail rendered after the last note
const LOOKAHEAD_S = 0.03; // Tone schedules this far ahead (its default 0.1 s delays the start)
let native = null; // the AudioContext, made in a gesture
let imported = null; // Promise<the tone module>, as imported (no context yet)
let tone = null; // Promise<the tone module>, its context set to native
let samples = null; // Promise<{noteName: AudioBuffer}>, decoded without a gesture
let sampler = null;
let keys = null; // Promise<the live Sampler> for the keys played
const down = new Set(); // pitches held on a keyboard
let sounded = 0; // notes the keys sounded (tests read it)
const CLICK_S = 0.03;
const CLICK_HZ = { accent: 1760, beat: 1320 };

/** Throws the page's "no audio" error when this browser has no Web Audio. */
function checkWebAudio() {
  if (!(window.AudioContext || window.webkitAudioContext)) {
    throw new Error("no audio: this browser has no Web Audio");
  }
}

/** Tone.js, loaded once, playing into the page's AudioContext (made here if need be). */
export function loadTone() {
  checkWebAudio();
  native ??= new (window.AudioContext || window.webkitAudioContext)({ latencyHint: "interactive" });
  tone ??= importTone().then((t) => {
    t.setContext(native);
    t.getContext().lookAhead = LOOKAHEAD_S;
    return t;
  }).catch((e) => {
    tone = null;
    throw new Error(`no audio: the sound engine did not load (${reason(e)})`);
  });
  return tone;
}

function importTone() {
  imported ??= import("tone").catch((e) => {
    imported = null;
    throw e;
  });
  return imported;
}

function loadSamples() {
  samples ??= (async () => {
    const response = await fetch(siteUrl("assets/piano/samples.json"));
    if (!response.ok) throw new Error(`samples.json: HTTP ${response.status}`);
    const files = await response.json();
    // any context decodes; an offline one runs before a gesture (a Sampler resamples)
    const decoder = new OfflineAudioContext(1, 1, 44100);
    const loaded = await Promise.all(Object.entries(files).map(async ([note, file]) => {
      const sample = await fetch(siteUrl(`assets/piano/${file}`));
      if (!sample.ok) throw new Error(`${file}: HTTP ${sample.status}`);
      return [note, await decoder.decodeAudioData(await sample.arrayBuffer())];
    }));
    return Object.fromEntries(loaded);
  })().catch((e) => {
    samples = null;
    throw new Error(`no audio: the piano samples did not load (${reason(e)})`);
  });
  return samples;
}

/**
 * Call from a gesture (click, key or pointer press): lets audio start and
 * begins loading Tone.js and the samples. Throws without Web Audio.
 */
export function unlock() {
  checkWebAudio();
  const started = loadTone();
  native.resume?.().catch(() => {});
  loadSamples().catch(() => {}); // play() reports the error
  return started.then((t) => t.start());
}

/**
 * Load Tone.js and fetch and decode the samples now, without a gesture (call
 * it when the page is idle), so that the first Play only starts the
 * AudioContext. Errors wait for Play, which tries again.
 */
export function preload() {
  if (!(window.AudioContext || window.webkitAudioContext) || !window.OfflineAudioContext) return;
  importTone().catch(() => {});
  loadSamples().catch(() => {});
}

/** From the first pointer or key press inside root on, get the piano ready. */
export function warmUpOn(root) {
  const warm = () => {
    try { unlock().catch(() => {}); } catch { /* no Web Audio: Play says so */ }
  };
  root.addEventListener("pointerdown", warm, { once: true });
  root.addEventListener("keydown", warm, { once: true });
}

/** Seconds-based events of notes in grid steps. */
function events(t, notes, { bpm, stepsPerBeat }) {
  const step = 60 / bpm / stepsPerBeat;
  return notes.map((n) => ({ time: n.start * step, duration: n.duration * step,
    note: t.Frequency(n.pitch, "midi").toNote() }));
}

/**
 * The live piano (a Sampler to the speakers) and Tone, once Web Audio runs
 * and the samples are in; player.js plays it on Tone's transport.
 */
export async function livePiano() {
  const t = await loadTone();
  await unlock();
  if (t.getContext().state !== "running") {
    throw new Error("no audio: the browser keeps sound switched off; click Play again");
  }
  const urls = await loadSamples();
  sampler ??= new t.Sampler({ urls, release: RELEASE_S }).toDestination();
  return { piano: sampler, tone: t };
}

/** The song rendered offline (mono, 44.1 kHz) as WAV bytes. */
export async function renderWav(notes, timing) {
  checkWebAudio();
  const t = await loadTone();
  const urls = await loadSamples();
  const all = events(t, notes, timing);
  const seconds = all.reduce((end, e) => Math.max(end, e.time + e.duration), 0);
  const buffer = await t.Offline(() => {
    const offline = new t.Sampler({ urls, release: RELEASE_S }).toDestination();
    for (const e of all) offline.triggerAttackRelease(e.note, e.duration, e.time, VELOCITY);
  }, seconds + RELEASE_S + 0.2, 1, 44100);
  return encodeWav(buffer.get());
}

/** Tone's name of a MIDI pitch: 61 -> "C#4". */
function noteName(pitch) {
  const names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
  return `${names[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
}

/**
 * Sound pitch on the piano now, until noteOff(pitch); call it in the key's
 * gesture. The first note waits for the samples (later ones start at once);
 * a key let go before then still sounds briefly. Rejects with "no audio: ...".
 */
export function noteOn(pitch) {
  down.add(pitch);
  keys ??= livePiano().then(({ piano }) => piano);
  keys.catch(() => { keys = null; });
  return keys.then((piano) => {
    piano.triggerAttack(noteName(pitch), undefined, VELOCITY);
    sounded += 1;
    if (!down.has(pitch)) piano.triggerRelease(noteName(pitch), "+0.15");
  });
}

export function noteOff(pitch) {
  down.delete(pitch);
  keys?.then((piano) => piano.triggerRelease(noteName(pitch)), () => {});
}

/** How many notes the keys have sounded since the page loaded. */
export function soundedNotes() {
  return sounded;
}

/**
 * A metronome click (accented: the first beat of a bar) at atMs on
 * performance.now()'s clock; silent until a gesture made the AudioContext.
 */
export function click(accent, atMs) {
  if (!native || native.state !== "running") return;
  const when = Math.max(native.currentTime, native.currentTime + (atMs - performance.now()) / 1000);
  const tone = native.createOscillator();
  const gain = native.createGain();
  tone.frequency.value = accent ? CLICK_HZ.accent : CLICK_HZ.beat;
  gain.gain.setValueAtTime(accent ? 0.5 : 0.3, when);
  gain.gain.exponentialRampToValueAtTime(0.001, when + CLICK_S);
  tone.connect(gain).connect(native.destination);
  tone.start(when);
  tone.stop(when + CLICK_S);
}
