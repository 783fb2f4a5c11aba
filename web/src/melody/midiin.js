// A MIDI keyboard through Web MIDI, where the browser offers it.
//
// Access is asked for on a click (browsers prompt for it), never on load.
// Every input's Note On (velocity > 0) and Note Off (or Note On at velocity
// 0), on any channel, play the melody input; keyboards plugged in later are
// heard too.

/** Whether this browser offers Web MIDI at all. */
export function offered() {
  return typeof navigator !== "undefined" && typeof navigator.requestMIDIAccess === "function";
}

/** {on: bool, pitch} of a MIDI message's bytes, or null for any other message. */
export function noteEvent([status, pitch, velocity]) {
  const kind = status & 0xf0;
  if (kind === 0x90 && velocity > 0) return { on: true, pitch };
  if (kind === 0x80 || kind === 0x90) return { on: false, pitch };
  return null;
}

/**
 * Ask for MIDI access and listen to every input: noteOn(pitch),
 * noteOff(pitch); onInputs(names) now and whenever a keyboard comes or goes.
 * Rejects where the browser refuses (permission denied, no MIDI service).
 */
export async function listen({ noteOn, noteOff, onInputs }) {
  const access = await navigator.requestMIDIAccess({ sysex: false });
  const attach = () => {
    const names = [];
    for (const input of access.inputs.values()) {
      input.onmidimessage = ({ data }) => {
        const event = noteEvent(data);
        if (event) (event.on ? noteOn : noteOff)(event.pitch);
      };
      names.push(input.name || "a MIDI keyboard");
    }
    onInputs(names);
  };
  access.onstatechange = attach;
  attach();
  return () => {
    access.onstatechange = null;
    for (const input of access.inputs.values()) input.onmidimessage = null;
  };
}
