/* The scripted deterministic model. Pure logic: no sockets, no timers. The connection code
 * (emulator/server.c) feeds it prompts and tool responses and executes the actions it returns
 * in order (EMU_ACT_DELAY is the only thing that waits on a clock; it multiplies ms by the
 * --time-scale itself).
 *
 * A script (emulator/default-script.json is the built-in one; --script FILE replaces it; format in
 * docs/emulator-script.md) maps prompts to steps; the model turns steps into Live API server
 * messages in the form the real service sends (camelCase, one part per serverContent). */
#ifndef EMU_MODEL_H
#define EMU_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "emulator/stream.h"

typedef enum {
    EMU_ACT_SEND,       /* send msg (a server message object) as a JSON binary frame */
    EMU_ACT_DELAY,      /* wait ms (unscaled) before the next action */
    EMU_ACT_AWAIT_TOOL, /* always the last action of a batch: wait until every id in `ids` got a
                           toolResponse (or was cancelled), then call emu_session_continue() */
    EMU_ACT_CLOSE,      /* close with code and text (the reason) */
    EMU_ACT_DROP,       /* drop TCP abruptly, no close frame */
    EMU_ACT_RAW,        /* send text (not JSON, e.g. malformed) as a binary frame */
    EMU_ACT_OVERSIZE,   /* send one binary frame of n bytes (valid-looking JSON padding) */
    EMU_ACT_STALL,      /* stop sending and reading on this connection for good */
    EMU_ACT_GOAWAY,     /* send goAway with timeLeft = ms, then close 1011 after ms (scaled) */
    EMU_ACT_STREAM,     /* send the messages of stream (emulator/stream.h), paced by the server;
                           the next action waits until the last one is queued */
} emu_act_kind;

typedef struct emu_action {
    emu_act_kind kind;
    json_t *msg;        /* SEND: owned */
    json_t *ids;        /* AWAIT_TOOL: array of call id strings, owned */
    unsigned ms;        /* DELAY, GOAWAY; SEND: playback time of the audio it carries (0: none):
                           the server waits that long (scaled) before the next action, so an
                           answer takes as long as its speech, as with the service, and speech
                           from the user can cut it (barge-in) */
    int code;           /* CLOSE */
    char *text;         /* CLOSE reason, RAW payload: owned, never NULL */
    size_t n;           /* OVERSIZE */
    emu_stream stream;  /* STREAM */
} emu_action;

typedef struct emu_actions {
    emu_action *v;
    size_t len, cap;
} emu_actions;

void emu_actions_free(emu_actions *a); /* frees every action's owned fields and the array */

typedef struct emu_script emu_script;

/* Loads a script from a JSON file, or the built-in default when path is NULL. */
emu_script *emu_script_load(const char *path, gl_err *err);
/* Loads a script from JSON text (tests, embedding). Errors name the place, e.g.
 * "script: rules[2].steps[1]: unknown key \"sya\"". */
emu_script *emu_script_load_string(const char *text, gl_err *err);
void emu_script_free(emu_script *s);

/* One model session: what setup declared plus the conversation so far. */
typedef struct emu_session emu_session;

/* setup: the normalized (camelCase) body of the client's setup message. The model's rules
 * (emulator/rules.h) come from its "model": which declared functions are NON_BLOCKING. */
emu_session *emu_session_new(emu_script *s, const json_t *setup);
void emu_session_free(emu_session *m);
/* The server's --time-scale, for code that the model writes with a scaled wait in it
 * ({seconds:N}). Default 1. */
void emu_session_set_time_scale(emu_session *m, double scale);
/* Whether the script asks for setupComplete.sessionId (its "session_id" setting). */
bool emu_script_session_id(const emu_script *s);

/* History, for session resumption: an opaque JSON snapshot of the conversation (turns so far),
 * and its restore into a new session (the resumed one). */
json_t *emu_session_history(const emu_session *m);
void emu_session_restore(emu_session *m, const json_t *history);
size_t emu_session_turns(const emu_session *m); /* completed user turns */
/* Appends one finished exchange to the history (e.g. initial history sent as clientContent). */
void emu_session_add_turn(emu_session *m, const char *user, const char *model);

/* A user turn: appends to *out the actions of the model's answer, from the first chunk to
 * turnComplete (with usageMetadata), with any faults the script injects for this prompt. If the
 * answer calls tools, the batch stops at an EMU_ACT_AWAIT_TOOL; once every id is answered the
 * server calls emu_session_continue() for the next batch (steps after a call may quote the tool's
 * response). A prompt while a turn is running interrupts it: the caller drops its queued actions,
 * sends {"serverContent":{"interrupted":true}} and toolCallCancellation for pending ids itself. */
void emu_session_prompt(emu_session *m, const char *text, emu_actions *out);
void emu_session_continue(emu_session *m, emu_actions *out);
/* Ends the running turn (or follow-up), if any, as interrupted: what it said so far goes to the
 * history (marked "interrupted", not counted by emu_session_turns) and the calls an interruption
 * cancels are forgotten (NON_BLOCKING calls go on). emu_session_prompt, emu_session_voice_turn
 * and emu_session_followup do this themselves, so take emu_session_pending_calls() for the
 * toolCallCancellation before calling them. */
void emu_session_interrupt(emu_session *m);

/* A spoken user turn that ended (emulator/hear.h): transcript is the phrase recognised in it,
 * or NULL if the speech matched no known recording; audio_ms is its length (the prompt's AUDIO
 * tokens). A phrase is answered exactly like the same text typed (script rules, function calls),
 * after its inputTranscription if the setup asked for inputAudioTranscription; unrecognised
 * speech gets EMU_NOT_UNDERSTOOD. The history records the phrase, or "[audio N.N s]". */
#define EMU_NOT_UNDERSTOOD "I heard you, but I could not make out the words."
void emu_session_voice_turn(emu_session *m, const char *transcript, unsigned audio_ms,
                            emu_actions *out);

/* The last picture the client sent (realtimeInput video, or an inlineData part): the
 * describe_image step names it. mime is "image/jpeg" or "image/png"; sha256 in hex. */
void emu_session_set_image(emu_session *m, const char *mime, size_t bytes, const char *sha256);

/* FunctionResponse.scheduling; it applies to NON_BLOCKING calls only. */
typedef enum {
    EMU_SCHED_WHEN_IDLE, /* the default: answer once no generation is running */
    EMU_SCHED_SILENT,    /* remember only */
    EMU_SCHED_INTERRUPT, /* cut the running generation and answer now */
} emu_scheduling;

/* One functionResponses[] element. */
typedef struct emu_fn_response {
    const char *id;         /* NULL: a call sent without id ("no_id"), matched by name */
    const char *name;
    const json_t *response; /* may be NULL */
    emu_scheduling scheduling;
    bool will_continue;     /* more responses follow for this call */
} emu_fn_response;

typedef enum {
    EMU_RESP_UNKNOWN,   /* no pending call has this id (or, without id, this name) */
    EMU_RESP_AWAITED,   /* a blocking call: the running turn may be waiting for *key */
    EMU_RESP_KEPT,      /* NON_BLOCKING: remembered; nothing to generate now */
    EMU_RESP_WHEN_IDLE, /* NON_BLOCKING: a generation is ready, to start once none runs */
    EMU_RESP_INTERRUPT, /* NON_BLOCKING: a generation is ready, to start now, cutting the
                           running one */
} emu_resp_kind;

/* A function response arrived; the model records it (scripts may quote tool results). *key
 * (may be NULL) gets the call's key, the id that EMU_ACT_AWAIT_TOOL lists (for a call sent
 * without id, an internal one); valid until the next call into the model. */
emu_resp_kind emu_session_function_response(emu_session *m, const emu_fn_response *r,
                                            const char **key);
/* The same for a plain response (WHEN_IDLE, final); false if the id is not pending. */
bool emu_session_tool_response(emu_session *m, const char *id, const char *name,
                               const json_t *response);

/* Generations that no prompt started: the answers to NON_BLOCKING calls. When one is ready
 * (emu_session_function_response said WHEN_IDLE or INTERRUPT), the server calls
 * emu_session_followup() once no turn is running (after cutting the running one, for
 * INTERRUPT): it appends a whole server turn to *out, like emu_session_prompt, and returns
 * false if none was ready. Ready generations run in the order they became ready, INTERRUPT
 * ones first. */
bool emu_session_has_followup(const emu_session *m);
bool emu_session_followup(emu_session *m, emu_actions *out);

/* Ids of the calls an interruption cancels (toolCallCancellation): the blocking ones and those
 * of `"await": false`. NON_BLOCKING calls outlive turns and are not among them, nor are calls
 * sent without id. */
json_t *emu_session_pending_calls(const emu_session *m); /* new reference, array */
void emu_session_cancel_pending(emu_session *m);         /* forgets those calls */

#endif
