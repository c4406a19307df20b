// WAV files of gliveD's audio: 16-bit little-endian PCM, mono, 24 kHz unless the events say
// otherwise (the rate= of their mime type).
import fs from 'node:fs';
import { DEFAULT_RATE } from './events.js';

/** The canonical 44-byte header of a PCM WAV holding dataBytes bytes. */
export function wavHeader(rate, dataBytes, channels = 1, bits = 16) {
  const block = (channels * bits) / 8;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * block, 28);
  h.writeUInt16LE(block, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/**
 * Writes PCM to a WAV file as it arrives (synchronous writes, in order); close() fills in the
 * sizes. writeEvent(ev) takes audio events (others are ignored); the first sets the rate.
 */
export class WavWriter {
  constructor(path, rate) {
    this.path = path;
    this.rate = rate;
    this.bytes = 0;
    this.fd = fs.openSync(path, 'w');
    fs.writeSync(this.fd, wavHeader(rate || DEFAULT_RATE, 0));
  }

  write(pcm) {
    fs.writeSync(this.fd, pcm);
    this.bytes += pcm.length;
  }

  writeEvent(ev) {
    if (ev.event !== 'audio') return;
    if (!this.rate) this.rate = ev.rate;
    this.write(ev.pcm);
  }

  close() {
    if (this.fd === null) return;
    fs.writeSync(this.fd, wavHeader(this.rate || DEFAULT_RATE, this.bytes), 0, 44, 0);
    fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Writes a WAV from PCM (a Buffer) or from events (their audio ones); returns the PCM size. */
export function writeWav(path, audio, rate) {
  const w = new WavWriter(path, rate);
  try {
    if (Buffer.isBuffer(audio) || audio instanceof Uint8Array) w.write(Buffer.from(audio));
    else for (const ev of audio) w.writeEvent(ev);
    return w.bytes;
  } finally {
    w.close();
  }
}

/** {rate, pcm} of a 16-bit mono PCM WAV with the canonical 44-byte header (as written here). */
export function readWav(path) {
  const d = fs.readFileSync(path);
  if (d.length < 44 || d.toString('ascii', 0, 4) !== 'RIFF' || d.toString('ascii', 8, 16) !== 'WAVEfmt ' ||
      d.toString('ascii', 36, 40) !== 'data')
    throw new Error(`${path}: not a canonical PCM WAV`);
  const size = d.readUInt32LE(40);
  if (d.readUInt16LE(20) !== 1 || d.readUInt16LE(22) !== 1 || d.readUInt16LE(34) !== 16 || size > d.length - 44)
    throw new Error(`${path}: not 16-bit mono PCM, or truncated`);
  return { rate: d.readUInt32LE(24), pcm: d.subarray(44, 44 + size) };
}
