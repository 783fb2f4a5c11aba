// The "Make it yours" page: the visitor picks a shipped model and drops MIDI files; the
// adapter's worker (worker/adapter.js) adapts the model to them, off the page's thread,
// and the adapted model is saved in this browser (saved.js), where the Compose page's
// model menu lists it as "Yours: NAME". Each saved model shows its held-out NLL per
// note before and after and its training curve, and can be renamed, downloaded as a
// .zip of a standard export folder, and deleted.
//
// Nothing is uploaded: the files are read in the worker. A file the page will not read
// (not named .mid or .midi, larger than a MIDI file may be) is listed with its reason
// at once; the worker lists the rest of the unusable ones, with prepare's reasons.
// Nothing is written until a model is whole, in one transaction: cancelling, an error
// or closing the tab leaves the shipped models and the earlier ones as they were. A
// model the browser will not store (full, a private window) stays on the page to
// download. The root's data-state is loading, idle, reading, training, done or error;
// data-tensors holds the live tensors the adapter reported at its end and after a
// model was deleted (bench/finetune.py reads them).

import { siteUrl } from "../common/paths.js";
import { reason } from "../common/reason.js";
import { sizeReason } from "../files/midifile.js";
import { zipExport } from "../adapt/zip.js";
import { loadShipped, modelSource } from "./catalog.js";
import { unload } from "./client.js";
import { deleteModel, listSaved, PREFIX, renameModel, saveModel, savedJson } from "./saved.js";
import { toHash } from "./settings.js";
import { download, View } from "./view.js";

const MIDI_NAME = /\.(mid|midi)$/i;
const MAX_FILES = 200;

export function mount(root) {
  const view = new View(root);
  const page = { shipped: [], files: [], unread: [], worker: null, job: 0, unsaved: null };
  view.state("loading");

  loadShipped().then((models) => {
    page.shipped = models;
    view.set("base", (select) => select.replaceChildren(...models.map((m) =>
      new Option(`${m.name} (${m.mono ? "melody" : "polyphonic"})`, m.name))));
    view.status("Choose the model to start from and your MIDI files, then press Adapt.", "idle");
    showFiles(view, page);
  }, (e) => view.error(`no model could be listed (${reason(e)})`));
  showSaved(view, page);

  const take = (files) => {
    chooseFiles(page, files);
    showFiles(view, page);
  };
  view.get("files")?.addEventListener("change", (e) => take([...e.target.files]));
  view.get("folder")?.addEventListener("change", (e) => take([...e.target.files]));
  const drop = view.get("drop");
  drop?.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("cz-drop--over");
  });
  drop?.addEventListener("dragleave", () => drop.classList.remove("cz-drop--over"));
  drop?.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("cz-drop--over");
    take(await droppedFiles(e.dataTransfer));
  });
  view.onPress("start", () => start(view, page));
  view.onPress("cancel", () => stop(view, page, "Cancelled: nothing was saved, and your " +
    "earlier models are as they were."));
  view.onPress("keep", () => page.unsaved && downloadModel(page.unsaved));
  return () => page.worker?.terminate();
}

/** Take the visitor's files: those the page will not read go to page.unread with a reason. */
function chooseFiles(page, files) {
  page.files = [];
  page.unread = [];
  for (const file of files) {
    const name = file.webkitRelativePath || file.name;
    const why = !MIDI_NAME.test(file.name) ? "not a MIDI file (its name ends in neither " +
      ".mid nor .midi)" : sizeReason(file.size) ?? (page.files.length >= MAX_FILES
      ? `more than ${MAX_FILES} files: the first ${MAX_FILES} are used` : null);
    if (why) page.unread.push({ name, reason: why });
    else page.files.push({ name, file });
  }
}

/** Every file of a drop, folders walked (where the browser gives entries). */
async function droppedFiles(transfer) {
  const entries = [...(transfer?.items ?? [])].map((i) => i.webkitGetAsEntry?.())
    .filter(Boolean);
  if (!entries.length) return [...(transfer?.files ?? [])];
  const out = [];
  const walk = async (entry, path) => {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      Object.defineProperty(file, "webkitRelativePath", { value: `${path}${file.name}` });
      out.push(file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) { // readEntries gives a folder's entries a batch at a time
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${path}${entry.name}/`);
      }
    }
  };
  for (const entry of entries) await walk(entry, "");
  return out;
}

function showFiles(view, page) {
  const n = page.files.length;
  view.set("chosen", (el) => {
    el.textContent = n || page.unread.length
      ? `${n} MIDI file${n === 1 ? "" : "s"} chosen` + (page.unread.length
        ? `; ${page.unread.length} left out, listed below.` : ".")
      : "No files chosen yet: 5 to 50 are a good start.";
  });
  showSkipped(view, page.unread);
  view.set("start", (el) => { el.disabled = !n || view.root.dataset.state === "loading"; });
}

function showSkipped(view, skipped) {
  view.set("skipped", (el) => {
    el.hidden = !skipped.length;
    el.replaceChildren(...skipped.map(({ name, reason: why }) =>
      Object.assign(document.createElement("li"), { textContent: `${name}: ${why}` })));
  });
}

function busy(view, on) {
  view.set("start", (el) => { el.hidden = on; });
  view.set("cancel", (el) => { el.hidden = !on; });
  view.set("settings", (el) => { el.disabled = on; });
  view.set("progress", (el) => {
    el.hidden = !on;
    if (on) el.removeAttribute("value");
  });
}

/** Read the chosen files, then adapt the chosen model to them in the adapter's worker. */
async function start(view, page) {
  const form = view.get("form");
  const base = form.elements.base.value;
  const name = form.elements.name.value;
  const backend = form.elements.backend.value || null;
  view.error(null);
  view.notice(null);
  view.set("result", (el) => { el.hidden = true; });
  page.unsaved = null;
  if (!page.files.length) return view.error("choose MIDI files first");
  busy(view, true);
  view.status(`Reading ${page.files.length} files…`, "reading");
  const job = ++page.job;
  let files;
  try {
    files = await Promise.all(page.files.map(async ({ name: n, file }) =>
      ({ name: n, bytes: new Uint8Array(await file.arrayBuffer()) })));
  } catch (e) {
    busy(view, false);
    return view.error(`a file could not be read (${reason(e)}): choose the files again`);
  }
  if (job !== page.job) return;
  page.worker?.terminate();
  const worker = page.worker = new Worker(siteUrl("assets/bundle/adapter.js"));
  let skipped = page.unread;
  worker.onmessage = async ({ data }) => {
    if (data.id !== job || page.worker !== worker) return;
    if (data.type === "started") {
      view.status(`Reading your files through ${base} (training on ${data.backend})…`);
    } else if (data.type === "read") {
      skipped = [...page.unread, ...data.skipped];
      showSkipped(view, skipped);
      view.set("learning", (el) => {
        el.hidden = false;
        el.textContent = `Learning from ${count(data.train.length, "song")} ` +
          `(${count(data.trainNotes, "note")}); ${count(data.heldOut.length, "song")} ` +
          `(${count(data.heldOutNotes, "note")}) held out to measure it` +
          (skipped.length ? `; ${count(skipped.length, "file")} left out, listed above.` : ".");
      });
    } else if (data.type === "progress") {
      progress(view, data, base);
    } else if (data.type === "error") {
      finish(page);
      busy(view, false);
      view.error(data.message);
      view.root.dataset.tensors = String(data.numTensors);
    } else if (data.type === "done") {
      finish(page);
      view.root.dataset.tensors = String(data.numTensors);
      drawCurve(view.get("curve"), data.report.history);
      await saved(view, page, { name, base, files: data.files,
        report: { ...data.report, skipped } });
      busy(view, false);
    }
  };
  worker.onerror = (event) => {
    event.preventDefault();
    finish(page);
    busy(view, false);
    view.error(`the trainer could not start (${event.message || "worker failed"})`);
  };
  view.set("curve-box", (el) => { el.hidden = true; });
  const { model: url } = modelSource(page.shipped.find((m) => m.name === base));
  worker.postMessage({ type: "adapt", id: job, base: url, files, name, backend },
    files.map((f) => f.bytes.buffer));
}

function finish(page) {
  page.worker?.terminate(); // the adapter's memory goes with it
  page.worker = null;
}

function stop(view, page, message) {
  page.job++;
  finish(page);
  busy(view, false);
  view.status(message, "idle");
}

function count(n, what) {
  return `${n.toLocaleString("en-US")} ${what}${n === 1 ? "" : "s"}`;
}

function progress(view, p, base) {
  // reading: as the songs so far went; training: to the epoch limit, an upper bound
  const eta = !Number.isFinite(p.etaSeconds) ? ""
    : `, ${p.phase === "states" ? "about" : "at most"} ${Math.ceil(p.etaSeconds)} s left`;
  if (p.phase === "states") {
    view.set("progress", (el) => { el.value = 0.3 * (p.done / p.total); });
    view.status(`${base} reads your songs: ${p.done} of ${p.total}${eta}…`, "training");
    return;
  }
  view.set("progress", (el) => { el.value = 0.3 + 0.7 * (p.epoch / p.maxEpochs); });
  view.status(`Training: epoch ${p.epoch} of at most ${p.maxEpochs}; held-out NLL per note ` +
    `${p.history[0].heldOutLoss.toFixed(3)} → ${p.heldOutLoss.toFixed(3)} (best: epoch ` +
    `${p.bestEpoch})${eta}; it stops once the held-out songs stop gaining.`, "training");
  view.set("curve-box", (el) => { el.hidden = false; });
  drawCurve(view.get("curve"), p.history);
}

/** Save the adapted model; where the browser will not, keep it on the page to download. */
async function saved(view, page, model) {
  const { nllBefore, nllAfter } = model.report;
  const gain = `held-out NLL per note ${nllBefore.toFixed(3)} → ${nllAfter.toFixed(3)} ` +
    `(${(100 * (1 - nllAfter / nllBefore)).toFixed(1)}% lower)`;
  try {
    const record = await saveModel(model);
    view.status(`Done: ${PREFIX}${record.name} is saved in this browser; ${gain}. ` +
      "Compose with it below, or on the Compose page.", "done");
    if (!model.report.bestEpoch) {
      view.notice(`No epoch beat ${model.base} itself on your held-out songs: your files ` +
        `are close to what it already knows, so ${PREFIX}${record.name} composes as ` +
        `${model.base} does. Files of a style further from it teach it more.`);
    }
    await showSaved(view, page);
  } catch (e) {
    page.unsaved = { ...model, created: new Date().toISOString() };
    view.status(`Done, not saved: ${gain}.`, "done");
    view.error(`the model could not be saved: ${reason(e)}. It is still here: download it ` +
      "to keep it (Download the model, below).");
    view.set("result", (el) => { el.hidden = false; });
  }
}

/**
 * Offer a model's export folder as a .zip, named after it: config.json says its name
 * now (a rename changes only the record; config.json holds no hash of itself).
 */
function downloadModel(model) {
  const folder = `cadenza-${model.name.replace(/[^\w.-]+/g, "-").replace(/^-|-$/g, "") ||
    "model"}`;
  const config = { ...savedJson(model, "config.json"), name: model.name };
  const files = { ...model.files,
    "config.json": new TextEncoder().encode(JSON.stringify(config, null, 1)) };
  download(zipExport(files, folder, new Date(model.created)), `${folder}.zip`,
    "application/zip");
}

/** The list of saved models, each with its figures, curve and buttons. */
async function showSaved(view, page) {
  let models;
  try {
    models = await listSaved();
  } catch (e) {
    view.set("storage-note", (el) => {
      el.hidden = false;
      el.textContent = `No model can be kept: ${reason(e)}. You can still adapt one and ` +
        "download it.";
    });
    return view.set("list", (el) => el.replaceChildren());
  }
  view.set("storage-note", (el) => {
    el.hidden = !!models.length;
    el.textContent = "None yet: adapt one above.";
  });
  view.set("list", (el) => el.replaceChildren(...models.map((m) => savedItem(view, page, m))));
}

function savedItem(view, page, model) {
  const { report } = model;
  const config = savedJson(model, "config.json");
  const item = document.createElement("li");
  item.className = "cz-saved";
  item.dataset.model = model.name;
  const title = Object.assign(document.createElement("h3"), {
    textContent: `${PREFIX}${model.name}` });
  const facts = Object.assign(document.createElement("p"), { textContent:
    `Adapted from ${model.base} on ${count(report.train.length, "file")} ` +
    `(${count(report.trainNotes, "note")}), ${count(report.heldOut.length, "file")} held out; ` +
    `held-out NLL per note ${report.nllBefore.toFixed(3)} before, ${report.nllAfter.toFixed(3)} ` +
    `after (${(100 * (1 - report.nllAfter / report.nllBefore)).toFixed(1)}% lower), ` +
    `${report.history.length - 1} epochs on ${report.backend}, best ${report.bestEpoch}; ` +
    `${(config.weights_bytes / 1e6).toFixed(2)} MB; made ${new Date(model.created)
      .toLocaleString("en-GB")}.` });
  facts.dataset.cz = "facts";
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  drawCurve(svg, report.history);
  const actions = document.createElement("div");
  actions.className = "cz-actions";
  const button = (text, label, onClick) => {
    const b = Object.assign(document.createElement("button"), { type: "button",
      className: "md-button", textContent: text });
    b.setAttribute("aria-label", `${label} ${PREFIX}${model.name}`);
    b.addEventListener("click", onClick);
    return b;
  };
  const compose = Object.assign(document.createElement("a"), { className: "md-button " +
    "md-button--primary", textContent: "Compose with it",
    href: siteUrl(`compose/${toHash({ model: `${PREFIX}${model.name}`,
      seed: Math.floor(Math.random() * 1e6) })}`) });
  const rename = document.createElement("input");
  Object.assign(rename, { type: "text", value: model.name, maxLength: 60 });
  rename.setAttribute("aria-label", `New name for ${PREFIX}${model.name}`);
  actions.append(compose,
    button("Download .zip", "Download", () => downloadModel(model)),
    rename,
    button("Rename", "Rename", async () => {
      try {
        await renameModel(model.id, rename.value);
        await showSaved(view, page);
      } catch (e) {
        view.error(`the model was not renamed: ${reason(e)}`);
      }
    }),
    button("Delete", "Delete", async () => {
      if (!window.confirm(`Delete ${PREFIX}${model.name} from this browser? Download it ` +
        "first to keep a copy.")) return;
      try {
        await deleteModel(model.id);
        const left = await unload(`saved:${model.id}`);
        if (left !== null) view.root.dataset.tensorsAfterDelete = String(left);
        await showSaved(view, page);
        view.notice(`${PREFIX}${model.name} was deleted.`);
      } catch (e) {
        view.error(`the model was not deleted: ${reason(e)}`);
      }
    }));
  item.append(title, facts, svg, actions);
  return item;
}

/**
 * Draw NLL per note by epoch (history [{epoch, trainLoss, heldOutLoss}]) into an SVG:
 * training and held-out lines, their range on the left, and a text alternative.
 */
function drawCurve(svg, history) {
  const W = 320, H = 140, PAD = 30;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "cz-curve");
  svg.setAttribute("role", "img");
  const values = history.flatMap((h) => [h.trainLoss, h.heldOutLoss]);
  const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
  const last = Math.max(history.at(-1)?.epoch ?? 1, 1);
  const x = (e) => PAD + (W - PAD - 6) * (e / last);
  const y = (v) => 8 + (H - 28) * (1 - (v - lo) / span);
  const ns = "http://www.w3.org/2000/svg";
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    return e;
  };
  const line = (key, cls) => el("polyline", { class: cls, fill: "none",
    points: history.map((h) => `${x(h.epoch).toFixed(1)},${y(h[key]).toFixed(1)}`).join(" ") });
  svg.setAttribute("aria-label", `NLL per note by epoch: ${history.map((h) => `epoch ` +
    `${h.epoch} training ${h.trainLoss.toFixed(2)}, held out ${h.heldOutLoss.toFixed(2)}`)
    .join("; ")}`);
  svg.replaceChildren(
    el("line", { class: "cz-curve-axis", x1: PAD, y1: 8, x2: PAD, y2: H - 20 }),
    el("line", { class: "cz-curve-axis", x1: PAD, y1: H - 20, x2: W - 6, y2: H - 20 }),
    el("text", { x: 2, y: 14 }, hi.toFixed(2)),
    el("text", { x: 2, y: H - 20 }, lo.toFixed(2)),
    el("text", { x: PAD, y: H - 4 }, "epoch 0"),
    el("text", { x: W - 60, y: H - 4 }, `epoch ${last}`),
    line("trainLoss", "cz-curve-train"), line("heldOutLoss", "cz-curve-held"));
}
