// The piano: Tone.js Sampler over the site's samples (assets/piano/, written by
// scripts/render_piano.py), for live playback (player.js drives it on Tone's
// transport) and offline rendering to WAV. Samples are fetched and decoded
// once per page load, when the page is idle or on the first click that needs
// them (an AudioContext made earlier stays suspended until a click).

import { Frequency, Offline, Sampler, ToneAudioBuffer, getContext, start } from "tone";
import { siteUrl } from "./paths.js";
import { reason } from "./reason.js";
import { encodeWav } from "./wav.js";

const VELOCITY = 0.7;
const RELEASE_S = 0.8; // sampler release; also the tail rendered after the last note
const LOOKAHEAD_S = 0.03; // Tone schedules this far ahead (its default 0.1 s delays the start)
let samples = null; // Promise<{noteName: ToneAudioBuffer}>
let sampler = null;

/** Throws the page's "no audio" error when this browser has no Web Audio. */
function checkWebAudio() {
  if (!(window.AudioContext || window.webkitAudioContext)) {
    throw new Error("no audio: this browser has no Web Audio");
  }
}

function loadSamples() {
  samples ??= (async () => {
    const response = await fetch(siteUrl("assets/piano/samples.json"));
    if (!response.ok) throw new Error(`samples.json: HTTP ${response.status}`);
    const files = await response.json();
    const loaded = await Promise.all(Object.entries(files).map(async ([note, file]) =>
      [note, await ToneAudioBuffer.fromUrl(siteUrl(`assets/piano/${file}`))]));
    return Object.fromEntries(loaded);
  })().catch((e) => {
    samples = null;
    throw new Error(`no audio: the piano samples did not load (${reason(e)})`);
  });
  return samples;
}

/** Call from a click handler: lets audio start and begins loading the samples. */
export function unlock() {
  checkWebAudio();
  const started = start();
  loadSamples().catch(() => {}); // play() reports the error
  return started;
}

/** Seconds-based events of notes in grid steps. */
function events(notes, { bpm, stepsPerBeat }) {
  const step = 60 / bpm / stepsPerBeat;
  return notes.map((n) => ({ time: n.start * step, duration: n.duration * step,
    note: Frequency(n.pitch, "midi").toNote() }));
}

/** Seconds from the song's start to the end of its last note. */
export function songSeconds(notes, timing) {
  return events(notes, timing).reduce((end, e) => Math.max(end, e.time + e.duration), 0);
}

/**
 * The live piano (a Sampler to the speakers), once Web Audio runs and the
 * samples are in; player.js plays it on Tone's transport.
 */
export async function livePiano() {
  await unlock();
  if (getContext().state !== "running") {
    throw new Error("no audio: the browser keeps sound switched off; click Play again");
  }
  const urls = await loadSamples();
  getContext().lookAhead = LOOKAHEAD_S;
  sampler ??= new Sampler({ urls, release: RELEASE_S }).toDestination();
  return sampler;
}

/** Fetch and decode the samples ahead of the first Play (errors wait for Play). */
export function preloadSamples() {
  if (window.AudioContext || window.webkitAudioContext) loadSamples().catch(() => {});
}

export { VELOCITY, RELEASE_S };

/** The song rendered offline (mono, 44.1 kHz) as WAV bytes. */
export async function renderWav(notes, timing) {
  checkWebAudio();
  const urls = await loadSamples();
  const buffer = await Offline(() => {
    const offline = new Sampler({ urls, release: RELEASE_S }).toDestination();
    for (const e of events(notes, timing)) {
      offline.triggerAttackRelease(e.note, e.duration, e.time, VELOCITY);
    }
  }, songSeconds(notes, timing) + RELEASE_S + 0.2, 1, 44100);
  return encodeWav(buffer.get());
}
