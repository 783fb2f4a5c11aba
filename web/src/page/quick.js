// The home page's player: one click composes a short song with the first
// model and a random seed, draws it as it streams in and plays it; a link
// opens the same song (its share link) on the Compose page.

import * as audio from "../sound/audio.js";
import { loadShipped } from "./catalog.js";
import { cancel, Cancelled, compose } from "./client.js";
import { siteUrl } from "../common/paths.js";
import { PianoRoll } from "../notation/pianoroll.js";
import { reason } from "../common/reason.js";
import { randomSeed, toHash } from "./settings.js";
import { bindTransport } from "./transport.js";
import { View } from "./view.js";

const SETTINGS = { temperature: 1, topP: 0.95, length: 48, tempo: 96, prime: "" };

/** Wire the [data-cadenza=quick] markup inside root; returns unmount(). */
export function mount(root) {
  const view = new View(root);
  const roll = new PianoRoll(view.get("roll"));
  let song = null;
  const player = bindTransport(view, roll, () => song);
  view.onPress("generate", async () => {
    try { audio.unlock().catch(() => {}); } catch { /* reported by Play */ }
    player.stop();
    view.error(null);
    view.busy(true);
    try {
      const [model] = await loadShipped();
      const settings = { ...SETTINGS, model: model.name, seed: randomSeed() };
      const result = await compose({ model: siteUrl(model.path), prime: null, primeNotes: 0,
        maxNotes: settings.length, temperature: settings.temperature, topP: settings.topP,
        seed: settings.seed }, (msg) => msg.type === "progress" &&
        roll.draw(msg.notes, { stepsPerBeat: model.steps_per_beat, song: { meta: msg.meta },
          follow: true }));
      song = { ...result, settings, stepsPerBeat: model.steps_per_beat };
      roll.draw(song.notes, { stepsPerBeat: song.stepsPerBeat, song, rewind: true });
      view.done(song, siteUrl(`compose/${toHash(settings)}`));
      view.set("open", (a) => {
        a.href = siteUrl(`compose/${toHash(settings)}`);
        a.hidden = false;
      });
      view.busy(false);
      view.get("play").click();
    } catch (e) {
      view.busy(false);
      if (!(e instanceof Cancelled)) view.error(reason(e));
    }
  });
  view.onPress("cancel", cancel);
  audio.warmUpOn(root);
  view.get("generate").disabled = false;
  view.state("idle");
  return () => {
    player.stop();
    if (root.dataset.state === "generating") cancel();
  };
}
