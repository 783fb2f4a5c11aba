// The piano: Tone.js Sampler over the site's samples (assets/piano/, written by
// scripts/render_piano.py), live playback on Tone's transport and offline
// rendering to WAV. Samples are fetched and decoded once per page load, on the
// first click that needs them (an AudioContext made earlier stays suspended).

import { Frequency, Offline, Part, Sampler, ToneAudioBuffer, getContext, getDraw,
  getTransport, start } from "tone";
import { siteUrl } from "./paths.js";
import { encodeWav } from "./wav.js";

const VELOCITY = 0.7;
const RELEASE_S = 0.8; // sampler release; also the tail rendered after the last note
let samples = null; // Promise<{noteName: ToneAudioBuffer}>
let sampler = null;
let part = null;

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
    throw new Error(`no audio: the piano samples did not load (${e?.message ?? e})`);
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

/** Play notes from the start; onEnd() runs when the song is over (not after stop()). */
export async function play(notes, timing, onEnd) {
  await unlock();
  if (getContext().state !== "running") {
    throw new Error("no audio: the browser keeps sound switched off; click Play again");
  }
  const urls = await loadSamples();
  stop();
  sampler ??= new Sampler({ urls, release: RELEASE_S }).toDestination();
  const transport = getTransport();
  part = new Part((time, e) => sampler.triggerAttackRelease(e.note, e.duration, time, VELOCITY),
    events(notes, timing)).start(0);
  const current = part;
  transport.scheduleOnce((time) => getDraw().schedule(() => {
    if (part !== current) return;
    stop();
    onEnd?.();
  }, time), songSeconds(notes, timing) + RELEASE_S);
  transport.start("+0.05", 0);
}

/** Seconds into the song being played, or null when nothing plays. */
export function position() {
  return part ? getTransport().seconds : null;
}

export function stop() {
  if (!part) return;
  const transport = getTransport();
  transport.stop();
  transport.cancel();
  part.dispose();
  part = null;
  sampler?.releaseAll();
}

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
