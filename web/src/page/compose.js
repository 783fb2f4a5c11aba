// The Compose page: settings form -> worker -> streaming piano roll -> piano
// (playing while the worker composes), sheet music, text alternative,
// downloads, share link and the songs of this visit. mount() wires the markup
// of site/compose.md and returns unmount(); cadenza.js calls them as instant
// navigation comes and goes. For tests and the curious, window.cadenza.song()
// returns the song on screen (with `meta`, the key, meter and bars a codec v2
// model's tokens state) and window.cadenza.player the transport. The Key and
// Meter menus (choices.js) become the Grammar's requests in the worker.
// melodyin.js wires the melody input; its Harmonize and Continue run
// generate({mode}) with the melody (melody.js): a song made from it carries
// mode and melody (its notes in the song's steps, the top voice) and has no
// share link. window.cadenza.melody() is the melody now.

import * as audio from "../sound/audio.js";
import { toAbc } from "../notation/abc.js";
import { loadExamples, loadModels, modelSource } from "./catalog.js";
import { PREFIX } from "./saved.js";
import { menuGroups, menuNote, modelChoices } from "./choices.js";
import { cancel, Cancelled, compose, harmonize, preload } from "./client.js";
import * as melodies from "../melody/melody.js";
import { mountMelody } from "./melodyin.js";
import { readSong, writeMidi } from "../files/midifile.js";
import { readOffThread } from "../files/reading.js";
import { describe, pastFirstOnset, songEnd } from "../notation/music.js";
import { siteUrl } from "../common/paths.js";
import { PianoRoll } from "../notation/pianoroll.js";
import { reason } from "../common/reason.js";
import { parseKey, parseMeter } from "../mirror/keys.js";
import { ANY, echo, fromHash, LIMITS, linkChanges, modelVersion, randomSeed, readForm,
  toHash, writeForm } from "./settings.js";
import { bindTransport } from "./transport.js";
import { download, View } from "./view.js";

export const PRIME_NOTES = 16; // notes of a prime that start the song (as `sample`)
const history = []; // the songs of this visit, newest first (survives instant navigation)
let leftComposing = null; // the settings of a song stopped by leaving the page mid-way

/** Wire the Compose markup inside root; returns a function that undoes it. */
export function mount(root) {
  const view = new View(root);
  const form = view.get("form");
  for (const [name, { min, max }] of Object.entries(LIMITS)) {
    Object.assign(form.elements.namedItem(name), { min, max }); // one range: settings.js
  }
  const roll = new PianoRoll(view.get("roll"));
  const page = { song: null, live: null, upload: null, reading: null, models: [], examples: [],
    linkVersion: null, choices: null, menus: 0 };
  const transport = bindTransport(view, roll, () => page.song,
    { tempoInput: form.elements.tempo });
  const show = (song, opts = {}) => showSong(view, roll, page, song, opts);

  const generate = async ({ play = false, mode = "compose" } = {}) => {
    transport.stop();
    view.error(null);
    view.notice(null);
    const settings = readForm(form);
    const melody = mode === "compose" ? null : melodies.current();
    const { key, meter, ...numbers } = settings; // a menu that is off keeps its choice
    writeForm(form, numbers); // show the clamped values that are used
    const model = page.models.find((m) => m.name === settings.model);
    if (!model) return view.error(`there is no model named "${settings.model}" on this site`);
    page.song = page.live = null;
    view.clearSong();
    roll.draw([], { stepsPerBeat: model.steps_per_beat });
    view.busy(true);
    let stage = "prime"; // then "load", then "compose": says what an error is about
    let version = "";
    let streaming = null; // the transport's start, once the first note is in
    const linked = page.linkVersion; // the share link's model version, for its own song only
    page.linkVersion = null;
    const live = (msg) => ({ notes: msg.notes, meta: msg.meta, tokens: msg.tokens,
      primeNotes: msg.primeNotes, settings: { ...settings, version },
      stepsPerBeat: model.steps_per_beat, mono: model.mono, model: model.name,
      ...(melody && { mode, melody: msg.melody ?? msg.notes.slice(0, msg.primeNotes) }) });
    const request = { ...modelSource(model), temperature: settings.temperature,
      topP: settings.topP, seed: settings.seed, key: settings.key === ANY ? null : settings.key,
      meter: settings.meter === ANY ? null : settings.meter };
    try {
      const prime = melody ? melodies.toSong(melody, melodyFrame(melody, settings))
        : await primeNotes(settings, page);
      stage = "load";
      const onMessage = (msg) => {
        if (msg.type === "loaded") {
          stage = "compose";
          version = modelVersion(msg.config);
          view.status(mode === "harmonize"
            ? `Harmonizing your melody of ${melody.notes.length} notes with ${model.name} ` +
              `(${msg.backend})…`
            : `Composing with ${model.name} (${msg.backend}): at most ` +
              `${settings.length} notes; the model may end sooner…`, "generating");
        } else if (msg.type === "progress") {
          page.live = live(msg);
          view.progress(mode === "harmonize" ? songEnd(msg.notes) / songEnd(msg.melody)
            : msg.notes.length / settings.length);
          roll.draw(msg.notes, { stepsPerBeat: model.steps_per_beat, prime: msg.primeNotes,
            yours: yoursOf(page.live), song: { meta: msg.meta }, follow: !play });
          // a note of the first onset that came after playing began would never sound
          if (play && !streaming && pastFirstOnset(msg.notes)) {
            page.song = page.live;
            view.streaming();
            streaming = transport.start(page.live, false).then(() =>
              transport.feed(page.live, false));
          } else if (streaming) {
            page.song = page.live;
            transport.feed(page.live, false);
          }
        }
      };
      const song = await (mode === "harmonize"
        ? harmonize({ ...request, melody: prime, meter: request.meter ??
          (melody.meter === "other" ? "other" : null) }, onMessage)
        : compose({ ...request, prime, maxNotes: settings.length,
          primeNotes: melody ? melody.notes.length : PRIME_NOTES }, onMessage));
      const done = { ...live(song), ms: song.ms, backend: song.backend,
        numTensors: song.numTensors };
      page.song = page.live = done;
      if (play && !streaming && done.notes.length) streaming = transport.start(done, true);
      if (streaming) await streaming;
      if (streaming) transport.feed(done, true);
      const note = [mode === "harmonize" ? harmonizedNote(done, song)
        : done.notes.length < settings.length
          ? `The model ended the song after ${done.notes.length} of at most ` +
            `${settings.length} notes.` : "",
      linked && linked !== version
        ? `The link was made with another version of ${model.name}, so this is another song.`
        : ""].filter(Boolean).join(" ");
      show(done, { rewind: !streaming, note });
      history.unshift({ song: done, link: done.mode ? null : shareLink(done.settings) });
      showHistory(view, page, show, form);
    } catch (e) {
      if (e instanceof Cancelled) cancelled(view, roll, page, transport);
      else if (stage !== "load") view.error(reason(e));
      else view.error(`the model "${model.name}" could not be loaded: ${reason(e)}`);
    } finally {
      view.busy(false);
    }
  };

  const on = (name, event, handler) => view.get(name)?.addEventListener(event, handler);
  const start = (play) => {
    try { audio.unlock().catch(() => {}); } catch { /* reported when Play is pressed */ }
    generate({ play });
  };
  const panel = mountMelody(view, roll, { page, form, transport,
    run: ({ mode }) => generate({ mode }) });
  page.melodyPanel = panel;
  view.onPress("generate", () => start(false));
  view.onPress("play-generate", () => start(true));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (root.dataset.state !== "generating") view.get("generate").click();
  });
  form.addEventListener("keydown", (event) => { // Enter in a field composes, as in a search box
    const { target } = event;
    if (event.key !== "Enter" || target.tagName !== "INPUT" || target.type === "file") return;
    event.preventDefault();
    form.requestSubmit();
  });
  on("dice", "click", () => writeForm(form, { seed: randomSeed() }));
  on("model", "change", () => {
    if (root.dataset.state === "error") view.error(null);
    view.status("Ready.", "idle");
    preloadModel(form, page);
    showChoices(view, form, page);
    panel.refresh();
  });
  form.elements.tempo.addEventListener("change", () => { // tempo only changes playback
    if (!page.song) return;
    page.song.settings = { ...page.song.settings, tempo: readForm(form).tempo };
    if (!page.song.cancelled && !page.song.mode) {
      view.get("share").value = shareLink(page.song.settings);
    }
  });
  on("prime", "change", () => {
    view.showUpload(form.elements.prime.value === "upload");
    showChoices(view, form, page);
  });
  on("file", "change", () => { page.reading = readUpload(view, page, form.elements.file); });
  view.onPress("cancel", cancel);
  on("mid", "click", () => {
    const { notes, settings, stepsPerBeat, meta } = page.song;
    download(writeMidi(notes, { bpm: readForm(form).tempo || settings.tempo, stepsPerBeat,
      meta }),
      `${fileName(page.song)}.mid`, "audio/midi");
  });
  on("abc", "click", () => download(new TextEncoder().encode(abcOf(page.song, form)),
    `${fileName(page.song)}.abc`, "text/vnd.abc"));
  on("wav", "click", () => renderWav(view, page.song, readForm(form).tempo));
  on("copy", "click", () => copyLink(view));
  on("notation", "toggle", () => showNotation(view, page.song, form));

  window.cadenza = { song: () => page.song, settings: () => readForm(form), generate,
    player: transport.player, history: () => history.map((h) => h.link),
    melody: melodies.current, sounded: audio.soundedNotes };
  audio.warmUpOn(root);
  if (melodies.current().notes.length) panel.show();
  setUp(view, form, page, generate).then(() => {
    showHistory(view, page, show, form);
    if (leftComposing && !fromHash(location.hash)) {
      writeForm(form, leftComposing);
      view.notice("You left this page while a song was being composed, so it was stopped; " +
        "its settings are back in the form: press Generate to compose it.");
    }
    leftComposing = null;
  });
  return () => {
    panel.unmount();
    transport.stop();
    if (root.dataset.state === "generating") {
      leftComposing = readForm(form);
      cancel();
    }
    if (window.cadenza?.generate === generate) delete window.cadenza;
  };
}

/** Put song on screen: roll, buttons, share link, text alternative, sheet music. */
function showSong(view, roll, page, song, { rewind = false, note = "", link } = {}) {
  page.song = song;
  const text = describe(song);
  const ours = song.mode ? ` Your melody is ${song.mode === "harmonize" ? "its top voice"
    : "its start"}: ${song.melody.length} notes.` : "";
  roll.draw(song.notes, { stepsPerBeat: song.stepsPerBeat, prime: song.primeNotes, song, rewind,
    yours: yoursOf(song), label: `Piano roll: ${text.summary}${ours}` });
  const linkless = song.cancelled || song.mode;
  view.done(song, link ?? (linkless ? "" : shareLink(song.settings)), note);
  if (linkless) view.set("share", (el) => { el.disabled = true; });
  view.set("copy", (el) => { el.disabled = !!linkless; });
  view.set("summary", (el) => { el.textContent = `${text.summary}${ours}`; });
  view.set("bars", (el) => el.replaceChildren(...text.bars.map((line) =>
    Object.assign(document.createElement("li"), { textContent: line }))));
  const own = song.model.startsWith(PREFIX);
  view.set("share-note", (el) => {
    el.hidden = song.settings.prime !== "upload" && !song.mode && !own;
    el.textContent = song.mode ? "Your melody does not travel in a link, so a song made from " +
      "it has none; download it instead."
      : [own ? `${song.model} lives only in this browser: the link composes this song here, ` +
        "and nowhere else (download the model on Make it yours to take it along)." : "",
      song.settings.prime === "upload" ? "Your MIDI file does not travel in the link: " +
        "opened elsewhere, the link composes from nothing, so another song." : ""]
        .filter(Boolean).join(" ");
  });
  showNotation(view, song, view.get("form"));
}

/** After Cancel: the notes so far are the song on screen (no share link), or nothing. */
function cancelled(view, roll, page, transport) {
  const partial = page.live;
  if (!partial?.notes.length) {
    page.song = page.live = null;
    transport.stop();
    roll.draw([], { stepsPerBeat: 4 });
    view.status("Cancelled.", "idle");
    return;
  }
  transport.feed(partial, true);
  showSong(view, roll, page, { ...partial, cancelled: true, ms: 0, backend: "" });
  view.status(`Cancelled after ${partial.notes.length} notes: Play and the downloads use ` +
    "them; a cancelled song has no share link.", "idle");
}

function abcOf(song, form) {
  return toAbc(song, { title: `Cadenza · ${song.model} · seed ${song.settings.seed}`,
    bpm: readForm(form).tempo, mono: song.mono });
}

/** Render the sheet music if its view is open (abcjs loads on first use). */
async function showNotation(view, song, form) {
  const box = view.get("notation");
  if (!box?.open || !song) return;
  const score = view.get("score");
  score.dataset.state = "loading";
  try {
    const { render } = await import("../notation/notation.js");
    render(score, abcOf(song, form), { mono: song.mono });
    score.dataset.state = "done";
  } catch (e) {
    score.dataset.state = "error";
    score.textContent = `The sheet music could not be drawn (${reason(e)}).`;
  }
}

/** The songs of this visit: each can come back on screen, with its share link. */
function showHistory(view, page, show, form) {
  view.set("history-box", (el) => { el.hidden = !history.length; });
  view.set("history", (list) => list.replaceChildren(...history.map((entry) => {
    const { song, link } = entry;
    const item = document.createElement("li");
    const open = Object.assign(document.createElement("button"), { type: "button",
      className: "md-button", textContent: "Show" });
    open.setAttribute("aria-label", `Show ${song.model}, seed ${song.settings.seed}`);
    open.addEventListener("click", async () => {
      writeForm(form, song.settings);
      show(song, { rewind: true, link: link ?? "" });
      view.get("roll").focus();
      await showChoices(view, form, page); // that song's model's menus, then its choices
      writeForm(form, { key: song.settings.key, meter: song.settings.meter });
    });
    const { seed, temperature } = song.settings;
    const made = song.mode ? ` · ${song.mode === "harmonize" ? "harmonized" : "continued"} ` +
      "melody" : "";
    item.append(`${song.model}${made} · seed ${seed} · T ${temperature} · ` +
      `${song.notes.length} notes `, open);
    if (link) {
      const a = Object.assign(document.createElement("a"), { href: link,
        textContent: "share link" });
      a.setAttribute("aria-label", `share link of ${song.model}, seed ${song.settings.seed}`);
      item.append(" ", a);
    }
    return item;
  })));
}

/** Fill the model and example menus, apply a share link's hash, maybe generate. */
async function setUp(view, form, page, generate) {
  writeForm(form, { seed: randomSeed() });
  try {
    page.models = await loadModels();
  } catch (e) {
    return view.error(`no model could be listed (${reason(e)})`);
  }
  page.examples = await loadExamples();
  view.menus(page.models, page.examples);
  view.showUpload(form.elements.prime.value === "upload");
  const shared = fromHash(location.hash);
  if (shared?.model && !page.models.some((m) => m.name === shared.model)) {
    const { model, ...rest } = shared;
    writeForm(form, rest);
    await showChoices(view, form, page);
    writeForm(form, { key: rest.key, meter: rest.meter });
    ready(view);
    preloadModel(form, page);
    return view.error(model.startsWith(PREFIX)
      ? `the shared song's model "${echo(model)}" was made in another browser and lives ` +
        "only there; pick one of the models above and press Generate"
      : `the shared song's model "${echo(model)}" is not on this site; pick ` +
        "one of the models above and press Generate");
  }
  if (shared) writeForm(form, shared);
  await showChoices(view, form, page); // the menus of the link's model, then its choices
  if (shared) writeForm(form, { key: shared.key, meter: shared.meter });
  ready(view);
  page.linkVersion = shared?.version ?? null;
  const changes = shared ? [...linkChanges(location.hash), ...unusedChoices(shared, form)] : [];
  if (shared) generate();
  else preloadModel(form, page);
  idle(audio.preload);
  if (changes.length) view.notice(`The link's values were changed to fit: ${changes.join("; ")}.`);
}

function ready(view) {
  view.get("generate").disabled = false;
  view.get("play-generate").disabled = false;
  view.status("Ready.", "idle");
}

/**
 * Fill the Key and Meter menus for the chosen model (its export's codec
 * version and training counts, choices.js), off for a v1 model and while a
 * prime is chosen. Resolves once the menus show the model chosen now.
 */
async function showChoices(view, form, page) {
  const model = page.models.find((m) => m.name === form.elements.model.value);
  const turn = ++page.menus; // a later choice of model wins over a slower earlier one
  let choices = null;
  try {
    choices = model ? await modelChoices(model) : null;
  } catch {
    choices = null; // Generate will say what is wrong with the model
  }
  if (turn !== page.menus) return;
  page.choices = choices;
  const primed = form.elements.prime.value !== "";
  const v2 = choices?.version >= 2;
  const groups = v2 ? { key: menuGroups("key", choices.conditioning),
    meter: menuGroups("meter", choices.conditioning) }
    : { key: menuGroups("key", null).slice(0, 1), meter: menuGroups("meter", null).slice(0, 1) };
  view.choiceMenus(groups, { off: !v2 || primed, note: menuNote(model?.name, choices, primed) });
  page.melodyPanel?.refresh();
}

/**
 * Copy the share link; the button says "Copied" for a while. Where the browser
 * refuses the clipboard (no permission, an insecure page), the link is selected
 * and the notice says how to copy it.
 */
async function copyLink(view) {
  const field = view.get("share"), button = view.get("copy");
  try {
    if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
    await navigator.clipboard.writeText(field.value);
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  } catch {
    field.focus();
    field.select();
    view.notice("The browser did not let the page copy: the link is selected, so copy it " +
      "with Ctrl+C (⌘C on a Mac).");
  }
}

/** What a link asked for that the form could not take: a key or meter of a v1 model or a prime. */
function unusedChoices(shared, form) {
  const asked = ["key", "meter"].filter((name) => shared[name] && shared[name] !== ANY);
  const used = readForm(form);
  const start = shared.prime && shared.prime !== used.prime
    ? [`start "${echo(shared.prime)}" is not one of this site's examples, so none: the song ` +
      "starts from scratch"] : [];
  const lost = asked.filter((name) => used[name] !== shared[name]);
  if (!lost.length) return start;
  const what = lost.map((name) => `${name} ${shared[name]}`).join(" and ");
  return [...start, form.elements.prime.value !== ""
    ? `${what} left out: a song that starts from an example keeps that start's key and meter`
    : `${what} left out: this model predates keys and meters`];
}

/** Run fn when the page is idle (or in 2 s, where there is no requestIdleCallback). */
function idle(fn) {
  if (window.requestIdleCallback) requestIdleCallback(fn, { timeout: 4000 });
  else setTimeout(fn, 2000);
}

/** Load the chosen model in the worker now, so Generate starts at once. */
function preloadModel(form, page) {
  const model = page.models.find((m) => m.name === form.elements.model.value);
  if (model) preload(modelSource(model));
}

/**
 * The prime for the settings, a read MIDI file ({notes, meters, key}, as
 * readSong gives it): none, an example's start or the upload.
 */
async function primeNotes(settings, page) {
  if (settings.prime === "upload") {
    await page.reading; // a Generate clicked while the file is still being read waits for it
    if (!page.upload) throw new Error("choose a MIDI file to start from first");
    return page.upload.song;
  }
  if (!settings.prime.startsWith("example:")) return null;
  const file = settings.prime.slice("example:".length);
  const response = await fetch(siteUrl(`examples/${file}`));
  if (!response.ok) throw new Error(`example ${file}: HTTP ${response.status}`);
  return readSong(await response.arrayBuffer());
}

/** Read the chosen file; a rejected one is cleared from the input, so none is shown. */
async function readUpload(view, page, input) {
  const file = input.files[0];
  page.upload = null;
  view.error(null);
  if (!file) return;
  try {
    view.status(`Reading ${file.name}…`);
    const { song, count } = await readOffThread(await file.arrayBuffer());
    page.upload = { name: file.name, song };
    // a Generate pressed during the reading has started a song that waits for it: leave
    // that song's state and status alone
    if (view.root.dataset.state !== "generating") {
      view.status(`${file.name}: ${count.toLocaleString("en-US")} notes; ` +
        `its first ${PRIME_NOTES} start the song.`, "idle");
    }
  } catch (e) {
    input.value = "";
    view.error(`${file.name}: ${reason(e)}; choose another file`);
  }
}

async function renderWav(view, song, tempo) {
  view.status("Rendering the WAV file…");
  try {
    const timing = { bpm: tempo || song.settings.tempo, stepsPerBeat: song.stepsPerBeat };
    download(await audio.renderWav(song.notes, timing), `${fileName(song)}.wav`, "audio/wav");
    view.status("WAV file ready.");
  } catch (e) {
    view.error(reason(e));
  }
}

function fileName(song) {
  const made = song.mode ? `${song.mode === "harmonize" ? "harmonized" : "continued"}-` : "";
  return `cadenza-${song.settings.model}-${made}${song.settings.seed}`;
}

/**
 * The meter a melody goes to the worker in as a prime: the Meter menu's, else
 * null (its own, with its changes); its key: the Key menu's, else its own (a
 * file's, or none).
 */
function melodyFrame(melody, settings) {
  if (settings.key !== ANY) melody.key = parseKey(settings.key);
  return settings.meter === ANY ? null : parseMeter(settings.meter);
}

/** Indices of the song's notes that are the user's melody (a Set), or null. */
function yoursOf(song) {
  if (!song?.mode) return null;
  const wanted = new Set(song.melody.map((n) => `${n.start},${n.duration},${n.pitch}`));
  const found = new Set();
  song.notes.forEach((n, i) => {
    if (wanted.has(`${n.start},${n.duration},${n.pitch}`)) found.add(i);
  });
  return found;
}

/** The status note of a harmonized song: what is the melody's, what moved, what fell back. */
function harmonizedNote(done, message) {
  const n = done.melody.length;
  return [`Your melody of ${n} notes is the top voice; the model wrote the ` +
    `${done.notes.length - n} notes beneath it.`,
  message.folded ? `${message.folded} melody notes were moved by octaves onto the piano.` : "",
  message.fallbacks ? `At ${message.fallbacks} steps the constraint overrode the grammar.`
    : ""].filter(Boolean).join(" ");
}

function shareLink(settings) {
  return `${location.origin}${location.pathname}${toHash(settings)}`;
}
