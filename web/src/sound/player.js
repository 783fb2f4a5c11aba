// The transport: plays a song on Tone's transport while it is still being
// composed (feed() adds the notes that arrived), with pause and resume, seek,
// looping the whole song or a range, live tempo and volume.
//
// Times are in transport ticks (PPQ per quarter note), so a tempo change
// moves every note, playing or due, at once. A note's length is read when it
// starts from the live song, as a later token may still shorten it. Tone.js
// comes with the first play() (audio.js loads it); until then nothing plays.
//
// Each note is its own transport event, one tick (3 ms at 100 BPM) after its
// step: Tone 15.5 skips the very tick the transport starts on whenever that
// tick's time computes a rounding error before the start (TickSource's
// forEachTickBetween), which lost every note of a song's first onset in about
// one play in three. The transport starts on the step itself, so the notes'
// tick always comes after it. (A Tone.Part was worse still: each of its
// events checks its own started state at that same boundary.)

import { RELEASE_S, VELOCITY, livePiano } from "./audio.js";
import { songEnd } from "../notation/music.js";

const LEAD_TICKS = 1; // how far after its step's tick a note is put on the transport

export class Player {
  /** onEnd() runs when a song that is complete plays out (not after stop()). */
  constructor({ onEnd } = {}) {
    this.onEnd = onEnd;
    this.song = null;
    this.live = false; // a song is on the transport (playing or paused)
    this.count = 0; // notes of this.song put on the transport
    this.plays = 0; // play() calls, so that an end event of an earlier play stops nothing
    this.complete = false;
    this.loopRange = null; // null (no loop), "all" or [fromStep, toStep]
    this.bpm = 100;
    this.gain = 0.8;
    this.firstSoundAt = null; // performance.now() of the first note heard (bench, tests)
    this.firstSoundStep = null; // and the step it starts on (tests)
    this.endEvent = null;
    this.tone = null; // the tone module, after the first play()
    this.piano = null;
  }

  get state() {
    if (!this.live) return "stopped";
    return this.tone.getTransport().state === "started" ? "playing" : "paused";
  }

  /** Ticks of `steps` grid steps of the song. */
  ticks(steps) {
    return Math.round(steps * this.tone.getTransport().PPQ / this.song.stepsPerBeat);
  }

  /**
   * Start playing song {notes, stepsPerBeat} from step `from`; complete says
   * whether more notes may come (feed() them). Rejects with "no audio: ...".
   */
  async play(song, { from = 0, complete = true } = {}) {
    const { piano, tone } = await livePiano();
    this.stop();
    Object.assign(this, { piano, tone });
    const { gainToDb, getDestination, getTransport } = tone;
    this.song = song;
    this.complete = complete;
    this.count = 0;
    this.firstSoundAt = null;
    this.firstSoundStep = null;
    const transport = getTransport();
    transport.bpm.value = this.bpm;
    getDestination().volume.value = gainToDb(this.gain);
    this.live = true;
    this.plays += 1;
    this.feed(song, complete);
    transport.start("+0.01", `${this.ticks(from)}i`);
  }

  sound(piano, time, i) {
    const n = this.song.notes[i];
    if (!n) return;
    const step = 60 / this.tone.getTransport().bpm.value / this.song.stepsPerBeat;
    piano.triggerAttackRelease(this.pitchName(n.pitch), n.duration * step, time, VELOCITY);
    this.firstSoundAt ??= performance.now() + (time - this.tone.getContext().currentTime) * 1000;
    this.firstSoundStep ??= n.start;
  }

  pitchName(pitch) {
    const names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];
    return `${names[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
  }

  /** Put the notes of song that the transport does not have yet on it. */
  feed(song, complete = this.complete) {
    if (!this.live) return;
    this.song = song;
    this.complete = complete;
    const transport = this.tone.getTransport();
    for (; this.count < song.notes.length; this.count++) {
      const i = this.count;
      transport.schedule((time) => this.sound(this.piano, time, i),
        `${this.ticks(song.notes[i].start) + LEAD_TICKS}i`);
    }
    this.applyLoop();
    this.scheduleEnd();
  }

  /** When complete and not looping, stop after the last note's release. */
  scheduleEnd() {
    const transport = this.tone.getTransport();
    if (this.endEvent !== null) transport.clear(this.endEvent);
    this.endEvent = null;
    if (!this.complete) return;
    const at = this.ticks(songEnd(this.song.notes)) + Math.round(RELEASE_S * transport.PPQ *
      transport.bpm.value / 60);
    const play = this.plays;
    this.endEvent = transport.schedule((time) => this.tone.getDraw().schedule(() => {
      if (!this.live || this.plays !== play || transport.loop) return;
      this.stop();
      this.onEnd?.();
    }, time), `${at}i`);
  }

  /** Loop the whole song ("all"), steps [from, to], or nothing (null). */
  loop(range) {
    this.loopRange = range;
    this.applyLoop();
  }

  applyLoop() {
    if (!this.tone) return;
    const transport = this.tone.getTransport();
    if (!this.song || !this.loopRange) {
      transport.loop = false;
      return;
    }
    const [from, to] = this.loopRange === "all" ? [0, songEnd(this.song.notes)] : this.loopRange;
    if (to <= from) return;
    transport.setLoopPoints(`${this.ticks(from)}i`, `${this.ticks(to)}i`);
    transport.loop = true;
  }

  pause() {
    if (this.state !== "playing") return;
    this.tone.getTransport().pause();
    this.piano.releaseAll();
  }

  resume() {
    if (this.state === "paused") this.tone.getTransport().start();
  }

  /** Move the playhead to step; playing goes on from there. */
  seek(step) {
    if (!this.live) return;
    this.tone.getTransport().ticks = this.ticks(Math.max(0, step));
    this.piano.releaseAll();
  }

  /** The tempo, now and for later songs; playing notes follow at once. */
  tempo(bpm) {
    this.bpm = bpm;
    if (this.live) this.tone.getTransport().bpm.value = bpm;
  }

  /** Volume from 0 (silent) to 1. */
  volume(gain) {
    this.gain = gain;
    if (!this.tone) return; // play() applies it
    this.tone.getDestination().volume.value = this.tone.gainToDb(Math.max(gain, 1e-4));
  }

  /** The playhead in grid steps, or null when stopped. */
  position() {
    if (!this.live) return null;
    const transport = this.tone.getTransport();
    return transport.ticks * this.song.stepsPerBeat / transport.PPQ;
  }

  stop() {
    if (!this.live) return;
    const transport = this.tone.getTransport();
    transport.stop();
    transport.cancel(); // every note's event and the end event
    transport.loop = false;
    this.live = false;
    this.endEvent = null;
    this.piano.releaseAll();
  }
}
