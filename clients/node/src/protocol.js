// The line protocol's framing (proto/PROTOCOL.md sections 1 and 2) and the socket rule. No I/O.
import { ProtocolError } from './errors.js';

export const PROTOCOL_VERSION = 1;
/** The longest line accepted from gliveD (audio chunks are the long ones). */
export const MAX_LINE = 64 * 1024 * 1024;

/**
 * gliveD's socket, by the daemon's own rule: $GLIVE_SOCKET, else $RUNTIME_DIRECTORY/gliveD.sock,
 * else $XDG_RUNTIME_DIR/glive/gliveD.sock, else /run/glive/gliveD.sock. Empty variables count as
 * unset.
 */
export function defaultSocketPath(env = process.env) {
  if (env.GLIVE_SOCKET) return env.GLIVE_SOCKET;
  if (env.RUNTIME_DIRECTORY) return `${env.RUNTIME_DIRECTORY}/gliveD.sock`;
  if (env.XDG_RUNTIME_DIR) return `${env.XDG_RUNTIME_DIR}/glive/gliveD.sock`;
  return '/run/glive/gliveD.sock';
}

/**
 * One request line: compact JSON and "\n" (JSON.stringify never writes a raw newline). Fields
 * that are null or undefined are left out (the protocol treats null as absent).
 */
export function encode(msg) {
  const clean = {};
  for (const [k, v] of Object.entries(msg)) if (v !== null && v !== undefined) clean[k] = v;
  return JSON.stringify(clean) + '\n';
}

/** A line from gliveD as an object: an event (has "event") or a reply (has "ok"). */
export function parseLine(line) {
  let msg;
  try {
    msg = JSON.parse(Buffer.isBuffer(line) ? line.toString('utf8') : line);
  } catch (e) {
    throw new ProtocolError('protocol', `gliveD sent a line that is not JSON: ${e.message}`);
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg) || !('event' in msg || 'ok' in msg))
    throw new ProtocolError('protocol', 'gliveD sent a line that is neither an event nor a reply');
  return msg;
}

export const isEvent = (msg) => 'event' in msg;

function blank(buf) {
  for (const b of buf) if (b !== 0x20 && b !== 0x09) return false;
  return true;
}

/**
 * Splits the byte stream into lines: "\n" ends a line, a "\r" before it is dropped, blank lines
 * (only spaces and tabs) are skipped. A line longer than maxLine is dropped whole (`dropped`
 * counts them); the decoder stays usable and never holds more than maxLine bytes.
 */
export class LineDecoder {
  constructor(maxLine = MAX_LINE) {
    this.maxLine = maxLine;
    this.dropped = 0;
    this.parts = [];
    this.size = 0;
    this.skipping = false;
  }

  /** Adds a chunk (Buffer or string); returns the complete non-blank lines it finishes. */
  feed(chunk) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    const out = [];
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(10, start);
      if (nl < 0) break;
      let line = buf.subarray(start, nl);
      start = nl + 1;
      if (this.parts.length) {
        this.parts.push(line);
        line = Buffer.concat(this.parts);
        this.parts = [];
        this.size = 0;
      }
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      if (line.length && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      if (line.length > this.maxLine) {
        this.dropped++;
        continue;
      }
      if (!blank(line)) out.push(line);
    }
    if (start < buf.length) {
      this.parts.push(buf.subarray(start));
      this.size += buf.length - start;
      if (this.size > this.maxLine + 1) {
        this.parts = [];
        this.size = 0;
        if (!this.skipping) this.dropped++;
        this.skipping = true;
      }
    }
    return out;
  }
}
