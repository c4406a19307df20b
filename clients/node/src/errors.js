// Errors: every failure is a GliveError carrying the protocol's error code (err.code).
//
// Codes from gliveD (proto/PROTOCOL.md section 5) map to the subclasses below; codes made by the
// library itself are "connect" (cannot reach the socket), "eof" (gliveD closed the connection),
// "timeout" and "protocol" (a line that is not a protocol line). An unknown code gives a plain
// GliveError, so new codes never break a client.

export class GliveError extends Error {
  /**
   * @param {string} code the protocol's error code ("no_session", "conflict"...)
   * @param {string} [message] the human-readable text
   * @param {object} [reply] the reply or event it came from
   */
  constructor(code, message = '', reply = null) {
    super(message || code);
    this.name = new.target.name;
    this.code = code;
    this.reply = reply;
  }
}

/** bad_request, bad_json, line_too_long, unknown_op: refused as written; nothing changed. */
export class BadRequestError extends GliveError {}
/** no_session: no session by that name. */
export class NoSessionError extends GliveError {}
/** busy: too many prompts wait on the session (or the tool table is full). */
export class BusyError extends GliveError {}
/** conflict: open of an existing session with a different configuration. */
export class ConflictError extends GliveError {}
/** unknown_call: tool.result for a call that is not pending. */
export class UnknownCallError extends GliveError {}
/** tool_exists: another connection already serves that function. */
export class ToolExistsError extends GliveError {}
/** no_key: gliveD has no API key. */
export class NoKeyError extends GliveError {}
/** closed: the session was closed, or closed itself because retrying cannot help. */
export class SessionClosedError extends GliveError {}
/** upstream: the Live API closed the connection or failed. */
export class UpstreamError extends GliveError {}
/** shutting_down: gliveD is stopping. */
export class ShuttingDownError extends GliveError {}
/** internal: out of memory or a bug in gliveD. */
export class InternalError extends GliveError {}
/** connect: the socket cannot be reached (is gliveD running?). */
export class ConnectError extends GliveError {}
/** eof: gliveD closed the connection. */
export class ConnectionClosedError extends GliveError {}
/** timeout: nothing arrived in time. */
export class TimeoutError extends GliveError {}
/** protocol: gliveD sent a line that is not a protocol line. */
export class ProtocolError extends GliveError {}

export const ERROR_CLASSES = {
  bad_request: BadRequestError,
  bad_json: BadRequestError,
  line_too_long: BadRequestError,
  unknown_op: BadRequestError,
  no_session: NoSessionError,
  busy: BusyError,
  conflict: ConflictError,
  unknown_call: UnknownCallError,
  tool_exists: ToolExistsError,
  no_key: NoKeyError,
  closed: SessionClosedError,
  upstream: UpstreamError,
  shutting_down: ShuttingDownError,
  internal: InternalError,
  connect: ConnectError,
  eof: ConnectionClosedError,
  timeout: TimeoutError,
  protocol: ProtocolError,
};

/** The error for a protocol code: the mapped subclass, else GliveError. */
export function errorFrom(code, message = '', reply = null) {
  const c = typeof code === 'string' && code ? code : 'protocol';
  const Cls = Object.hasOwn(ERROR_CLASSES, c) ? ERROR_CLASSES[c] : GliveError;
  return new Cls(c, typeof message === 'string' ? message : '', reply);
}

/** null for a reply with "ok": true; else the error its "error" describes. */
export function replyError(reply) {
  if (reply.ok === true) return null;
  const e = reply.error;
  if (!e || typeof e !== 'object') return new ProtocolError('protocol', 'a failed reply without an error object', reply);
  return errorFrom(e.code, e.message, reply);
}
