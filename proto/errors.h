/* The line protocol's error codes: the "code" of a failed reply ({"ok":false,"error":{"code":..}})
 * and of a turn's `error` event. One home for them, so a code is spelled once.
 *
 * These strings are wire contract: clients match on them. Never change a value; a new code gets a
 * row in proto/PROTOCOL.md section 5 in the same commit (tests/unit/test_errors.c checks that the
 * table and this file list the same codes).
 *
 * Only codes a client can receive live here. Codes that stay inside a process (transport's
 * "tls", "io", "http"...; glivectl's "usage", "eof"...) stay literals in their layers: a session
 * reports upstream failures as GL_E_UPSTREAM with the transport's message. */
#ifndef GL_PROTO_ERRORS_H
#define GL_PROTO_ERRORS_H

/* ---- request line (proto/line.c) ----------------------------------------------------------- */

/* the line is not valid JSON; the message has jansson's text and column */
#define GL_E_BAD_JSON "bad_json"
/* not an object, op missing or not a string, a missing or mistyped field, a bad session name,
 * bad model/tools/generation_config/system_instruction, a tool.* request that does not fit */
#define GL_E_BAD_REQUEST "bad_request"
/* the line passed --max-line; it was dropped up to the next newline (reply id null) */
#define GL_E_LINE_TOO_LONG "line_too_long"

/* ---- ops (daemon/dispatch.c and what it calls) --------------------------------------------- */

/* op is not one the daemon knows */
#define GL_E_UNKNOWN_OP "unknown_op"
/* no session by that name (every op but open), or it is closing */
#define GL_E_NO_SESSION "no_session"
/* send: --max-queue prompts already wait on the session; tool.register: the table is full */
#define GL_E_BUSY "busy"
/* open of an existing session with a different model, modality or config */
#define GL_E_CONFLICT "conflict"
/* tool.result for a call id that is not pending (answered, cancelled, timed out, never made) */
#define GL_E_UNKNOWN_CALL "unknown_call"
/* tool.register of a function another connection already serves in that session */
#define GL_E_TOOL_EXISTS "tool_exists"
/* any request while the daemon is stopping */
#define GL_E_SHUTTING_DOWN "shutting_down"

/* ---- turn `error` events (daemon/session.c) ------------------------------------------------ */

/* no API key is configured, so the session cannot connect */
#define GL_E_NO_KEY "no_key"
/* the session was closed while the prompt waited */
#define GL_E_CLOSED "closed"
/* the Live API refused the session (close 1007/1008/1003) or it could not be reached; the
 * message has the close code and reason or the transport's error */
#define GL_E_UPSTREAM "upstream"
/* the session's state could not be saved to the state dir (disk full, EMFILE, read-only): an
 * `error` event without a turn; gliveD retries until it lands (list/status: persist_error) */
#define GL_E_PERSIST "persist"

/* a connection gliveD does not serve (its uid, too many clients, too many sessions of one uid):
 * the one line it gets before the close, or the reply to `open` */
#define GL_E_REFUSED "refused"

/* ---- anywhere ------------------------------------------------------------------------------ */

/* a bug (allocation failure aborts: common/xalloc.h) */
#define GL_E_INTERNAL "internal"

#endif
