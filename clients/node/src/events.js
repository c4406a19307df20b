// Typed events and tool answers.

/** The rate of gliveD's audio when an event's mime type does not say (24 kHz s16le mono). */
export const DEFAULT_RATE = 24000;

/** The sample rate in a mime type such as "audio/pcm;rate=24000". */
export function rateOf(mime, fallback = DEFAULT_RATE) {
  const m = /rate=(\d+)/.exec(mime || '');
  return m && Number(m[1]) > 0 ? Number(m[1]) : fallback;
}

/**
 * One event line from gliveD (proto/PROTOCOL.md section 4). Every field is a property
 * (ev.event, ev.session, ev.turn, ev.text, ev.call_id, ev.args...; absent ones are undefined),
 * `kind` is the event's name, `raw` the decoded object. Audio events also have `pcm` (a Buffer
 * of s16le samples) and `rate`.
 */
export class Event {
  constructor(raw) {
    // defineProperty, not assignment: a field never trips over the getters below
    for (const [k, v] of Object.entries(raw))
      if (k !== 'raw') Object.defineProperty(this, k, { value: v, enumerable: true, writable: true, configurable: true });
    Object.defineProperty(this, 'raw', { value: raw, enumerable: false });
  }

  get kind() {
    return this.raw.event;
  }

  /** An audio event's PCM (s16le mono); an empty Buffer for other events. */
  get pcm() {
    return this.raw.event === 'audio' && typeof this.raw.data === 'string'
      ? Buffer.from(this.raw.data, 'base64')
      : Buffer.alloc(0);
  }

  /** An audio event's sample rate (from `mime`; 24000 when it does not say). */
  get rate() {
    return rateOf(this.raw.mime);
  }
}

/**
 * What a tool handler may return to say more than the response object: `response` (an object;
 * other values are wrapped as {result: value}) or `error` (a string: the model gets
 * {error: ...}); `scheduling` ("INTERRUPT" | "WHEN_IDLE" | "SILENT") and `willContinue` apply
 * to NON_BLOCKING calls only and are left out for blocking ones.
 */
export class ToolResult {
  constructor(response, { error, scheduling, willContinue = false } = {}) {
    this.response = response;
    this.error = error;
    this.scheduling = scheduling;
    this.willContinue = willContinue;
  }
}

/**
 * What the model said in these events: text events and output transcripts (what an AUDIO
 * answer says), joined; a newline between the texts of different turns.
 */
export function said(events) {
  let out = '';
  let last;
  let any = false;
  for (const ev of events) {
    if (ev.event === 'text' || (ev.event === 'transcript' && ev.source !== 'input')) {
      if (any && ev.turn !== last) out += '\n';
      out += ev.text || '';
      last = ev.turn;
      any = true;
    }
  }
  return out;
}
