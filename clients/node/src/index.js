// glive: Node.js client of gliveD, the daemon that keeps Gemini Live API sessions.
// No dependencies; speaks gliveD's line protocol (proto/PROTOCOL.md) over its Unix socket.
export { Client, Turn, Subscription, connect } from './client.js';
export {
  GliveError, BadRequestError, NoSessionError, BusyError, ConflictError, UnknownCallError,
  ToolExistsError, NoKeyError, SessionClosedError, UpstreamError, ShuttingDownError,
  InternalError, ConnectError, ConnectionClosedError, TimeoutError, ProtocolError,
  ERROR_CLASSES, errorFrom, replyError,
} from './errors.js';
export { Event, ToolResult, said, rateOf, DEFAULT_RATE } from './events.js';
export { defaultSocketPath, encode, parseLine, LineDecoder, PROTOCOL_VERSION, MAX_LINE } from './protocol.js';
export { TurnTracker } from './tracker.js';
export { Tool, resultFields } from './tools.js';
export { WavWriter, writeWav, readWav, wavHeader } from './wav.js';
