// The transport controls of a View (data-cz names, each optional): play
// (Play / Pause / Resume), stop, loop (a select: off, all, range), volume (a
// range 0..100) and the form's tempo, which changes the song as it plays. The
// roll seeks on a click and selects a loop range on a drag. The playhead and
// the lit notes follow the audio on animation frames.

import { Player } from "../sound/player.js";
import { reason } from "../common/reason.js";
import { clamp, LIMITS } from "./settings.js";

const LABELS = { stopped: "Play", playing: "Pause", paused: "Resume" };

/**
 * Wire the controls; getSong() is the song on screen ({notes, stepsPerBeat,
 * settings} or null). Returns {player, start(song, complete), feed(song,
 * complete), stop(), refresh()}.
 */
export function bindTransport(view, roll, getSong, { tempoInput = null } = {}) {
  const player = new Player({ onEnd: () => refresh() });
  const button = view.get("play");
  const loop = view.get("loop");
  const volume = view.get("volume");
  let frame = 0;

  const refresh = () => {
    if (button) button.textContent = LABELS[player.state];
    view.root.dataset.playing = player.state;
    const step = player.position();
    roll.playhead(step);
    cancelAnimationFrame(frame);
    if (step !== null) frame = requestAnimationFrame(refresh);
  };
  const start = async (song, complete = true, from = 0) => {
    view.error(null);
    if (tempoInput) player.tempo(Number(tempoInput.value) || song.settings.tempo);
    else player.tempo(song.settings.tempo);
    try {
      await player.play(song, { from, complete });
    } catch (e) {
      player.stop();
      view.error(reason(e));
    }
    refresh();
  };
  button?.addEventListener("click", () => {
    if (player.state === "playing") player.pause();
    else if (player.state === "paused") player.resume();
    else if (getSong()) start(getSong(), true);
    refresh();
  });
  view.get("stop")?.addEventListener("click", () => {
    player.stop();
    refresh();
  });
  const loopRange = () => {
    if (!loop || loop.value === "off") return null;
    return loop.value === "range" && roll.selection ? roll.selection : "all";
  };
  loop?.addEventListener("change", () => player.loop(loopRange()));
  volume?.addEventListener("input", () => player.volume(Number(volume.value) / 100));
  const { min, max } = LIMITS.tempo;
  tempoInput?.addEventListener("input", () => { // as it is typed: only whole, valid tempi
    const bpm = Number(tempoInput.value);
    if (bpm >= min && bpm <= max) player.tempo(bpm);
  });
  tempoInput?.addEventListener("change", () => { // typed: one outside the range is clamped
    const typed = tempoInput.value.trim(), bpm = clamp("tempo", typed);
    player.tempo(bpm);
    if (typed === String(bpm)) return view.notice(null);
    tempoInput.value = String(bpm);
    view.notice(`Tempo ${typed === "" ? "(empty)" : `"${typed.slice(0, 12)}"`} is not a whole ` +
      `number of BPM from ${min} to ${max}, so ${bpm}.`);
  });
  roll.onSeek = (step) => {
    if (!getSong()) return;
    if (player.state === "stopped") start(getSong(), true, step);
    else player.seek(step);
    refresh();
  };
  roll.onSelect = (range) => {
    if (loop) {
      loop.value = "range";
      player.loop(range);
    }
    if (getSong() && player.state === "stopped") start(getSong(), true, range[0]);
    else player.seek(range[0]);
  };
  return {
    player,
    start,
    feed: (song, complete) => player.feed(song, complete),
    stop: () => { player.stop(); refresh(); },
    refresh,
  };
}
