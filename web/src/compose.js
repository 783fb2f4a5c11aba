// The Compose page: settings form -> worker -> streaming piano roll -> piano,
// downloads and a share link. mount() wires the markup of site/compose.md and
// returns unmount(); cadenza.js calls them as instant navigation comes and goes.
// For tests and the curious, window.cadenza.song() returns the last song.

import * as audio from "./audio.js";
import { loadExamples, loadModels } from "./catalog.js";
import { cancel, Cancelled, compose, preload } from "./client.js";
import { readMidi, writeMidi } from "./midifile.js";
import { siteUrl } from "./paths.js";
import { PianoRoll } from "./pianoroll.js";
import { fromHash, modelVersion, randomSeed, readForm, toHash, writeForm } from "./settings.js";
import { bindPlayer, download, View } from "./view.js";

export const PRIME_NOTES = 16; // notes of a prime that start the song (as `sample`)

/** Wire the Compose markup inside root; returns a function that undoes it. */
export function mount(root) {
  const view = new View(root);
  const form = view.get("form");
  const roll = new PianoRoll(view.get("roll"));
  const page = { song: null, upload: null, models: [], examples: [], linkVersion: null };
  const player = bindPlayer(view, roll, () => page.song);

  const generate = async () => {
    audio.stop();
    view.error(null);
    const settings = readForm(form);
    writeForm(form, settings); // show the clamped values that are used
    const model = page.models.find((m) => m.name === settings.model);
    if (!model) return view.error(`there is no model named "${settings.model}" on this site`);
    view.busy(true);
    let stage = "prime"; // then "load", then "compose": says what an error is about
    let version = "";
    const linked = page.linkVersion; // the share link's model version, for its own song only
    page.linkVersion = null;
    try {
      const prime = await primeNotes(settings, page);
      stage = "load";
      const song = await compose({ model: siteUrl(model.path), prime, primeNotes: PRIME_NOTES,
        maxNotes: settings.length, temperature: settings.temperature, topP: settings.topP,
        seed: settings.seed }, (msg) => {
        if (msg.type === "loaded") {
          stage = "compose";
          version = modelVersion(msg.config);
        }
        progress(view, roll, settings, model, msg);
      });
      page.song = { ...song, settings: { ...settings, version },
        stepsPerBeat: model.steps_per_beat };
      roll.draw(song.notes, { stepsPerBeat: model.steps_per_beat, prime: song.primeNotes,
        rewind: true });
      view.done(page.song, shareLink(page.song.settings), linked && linked !== version
        ? `The link was made with another version of ${model.name}, so this is another song.`
        : "");
    } catch (e) {
      if (e instanceof Cancelled) view.status("Cancelled.", "idle");
      else if (stage !== "load") view.error(e.message);
      else view.error(`the model "${model.name}" could not be loaded: ${e.message}`);
    } finally {
      view.busy(false);
    }
  };

  const on = (name, event, handler) => view.get(name).addEventListener(event, handler);
  on("generate", "click", () => {
    try { audio.unlock(); } catch { /* reported when Play is pressed */ }
    generate();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (root.dataset.state !== "generating") view.get("generate").click();
  });
  on("dice", "click", () => writeForm(form, { seed: randomSeed() }));
  on("model", "change", () => preloadModel(form, page));
  form.elements.tempo.addEventListener("change", () => { // tempo only changes playback
    if (!page.song) return;
    page.song.settings = { ...page.song.settings, tempo: readForm(form).tempo };
    view.get("share").value = shareLink(page.song.settings);
  });
  on("prime", "change", () => view.showUpload(form.elements.prime.value === "upload"));
  on("file", "change", () => readUpload(view, page, form.elements.file.files[0]));
  on("cancel", "click", cancel);
  on("mid", "click", () => {
    const { notes, settings, stepsPerBeat } = page.song;
    download(writeMidi(notes, { bpm: settings.tempo, stepsPerBeat }),
      `cadenza-${settings.model}-${settings.seed}.mid`, "audio/midi");
  });
  on("wav", "click", () => renderWav(view, page.song));
  on("copy", "click", () => navigator.clipboard?.writeText(view.get("share").value));

  window.cadenza = { song: () => page.song, settings: () => readForm(form), generate };
  setUp(view, form, page, generate);
  return () => {
    player.stop();
    if (root.dataset.state === "generating") cancel();
    if (window.cadenza?.generate === generate) delete window.cadenza;
  };
}

/** Fill the model and example menus, apply a share link's hash, maybe generate. */
async function setUp(view, form, page, generate) {
  writeForm(form, { seed: randomSeed() });
  try {
    page.models = await loadModels();
  } catch (e) {
    return view.error(`no model could be listed (${e.message})`);
  }
  page.examples = await loadExamples();
  view.menus(page.models, page.examples);
  const shared = fromHash(location.hash);
  if (shared?.model && !page.models.some((m) => m.name === shared.model)) {
    return view.error(`the shared song's model "${shared.model}" is not on this site`);
  }
  if (shared) writeForm(form, shared);
  page.linkVersion = shared?.version ?? null;
  view.showUpload(form.elements.prime.value === "upload");
  view.get("generate").disabled = false;
  view.status("Ready.", "idle");
  if (shared) generate();
  else preloadModel(form, page);
}

/** Load the chosen model in the worker now, so Generate starts at once. */
function preloadModel(form, page) {
  const model = page.models.find((m) => m.name === form.elements.model.value);
  if (model) preload(siteUrl(model.path));
}

/** Raw prime notes (beats) for the settings: none, an example's start or the upload. */
async function primeNotes(settings, page) {
  if (settings.prime === "upload") {
    if (!page.upload) throw new Error("choose a MIDI file to start from first");
    return page.upload.notes;
  }
  if (!settings.prime.startsWith("example:")) return null;
  const file = settings.prime.slice("example:".length);
  const response = await fetch(siteUrl(`examples/${file}`));
  if (!response.ok) throw new Error(`example ${file}: HTTP ${response.status}`);
  return readMidi(await response.arrayBuffer());
}

async function readUpload(view, page, file) {
  page.upload = null;
  view.error(null);
  if (!file) return;
  try {
    page.upload = { name: file.name, notes: readMidi(await file.arrayBuffer()) };
    view.status(`${file.name}: ${page.upload.notes.length} notes; ` +
      `its first ${PRIME_NOTES} start the song.`, "idle");
  } catch (e) {
    view.error(`${file.name}: ${e.message}`);
  }
}

function progress(view, roll, settings, model, msg) {
  if (msg.type === "loaded") {
    view.status(`Composing with ${model.name} (${msg.backend})…`, "generating");
  } else if (msg.type === "progress") {
    view.progress(msg.notes.length / settings.length);
    roll.draw(msg.notes, { stepsPerBeat: model.steps_per_beat, prime: msg.primeNotes,
      follow: true });
  }
}

async function renderWav(view, song) {
  view.status("Rendering the WAV file…");
  try {
    const timing = { bpm: song.settings.tempo, stepsPerBeat: song.stepsPerBeat };
    download(await audio.renderWav(song.notes, timing),
      `cadenza-${song.settings.model}-${song.settings.seed}.wav`, "audio/wav");
    view.status("WAV file ready.");
  } catch (e) {
    view.error(e.message);
  }
}

function shareLink(settings) {
  return `${location.origin}${location.pathname}${toHash(settings)}`;
}
