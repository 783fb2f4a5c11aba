// 16-bit PCM WAV files from rendered audio.

/** The bytes of a WAV file holding an AudioBuffer's channels, interleaved. */
export function encodeWav(audioBuffer) {
  const { numberOfChannels: channels, sampleRate: rate, length } = audioBuffer;
  const data = Array.from({ length: channels }, (_, c) => audioBuffer.getChannelData(c));
  const bytes = new DataView(new ArrayBuffer(44 + length * channels * 2));
  const text = (offset, s) =>
    [...s].forEach((ch, i) => bytes.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  bytes.setUint32(4, 36 + length * channels * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  bytes.setUint32(16, 16, true); // fmt chunk size
  bytes.setUint16(20, 1, true); // PCM
  bytes.setUint16(22, channels, true);
  bytes.setUint32(24, rate, true);
  bytes.setUint32(28, rate * channels * 2, true); // bytes per second
  bytes.setUint16(32, channels * 2, true); // bytes per frame
  bytes.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  bytes.setUint32(40, length * channels * 2, true);
  let offset = 44;
  for (let i = 0; i < length; i++) {
    for (let c = 0; c < channels; c++, offset += 2) {
      const x = Math.max(-1, Math.min(1, data[c][i]));
      bytes.setInt16(offset, x < 0 ? x * 0x8000 : x * 0x7fff, true);
    }
  }
  return new Uint8Array(bytes.buffer);
}
