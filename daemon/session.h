/* A named Live session: its configuration, its connection to the Live API, its queue of prompts
 * (turns run one at a time, never interleaved on the wire), its pending tool calls, and the local
 * clients watching it (daemon/session.c). Its connection's states and the events between them are
 * in daemon/session_fsm.h; other modules request changes through this interface and never set a
 * state themselves. */
#ifndef GLD_SESSION_H
#define GLD_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/err.h"
#include "daemon/calls.h"
#include "daemon/daemon.h"
#include "daemon/ipc.h"
#include "proto/live.h"

typedef struct gld_session_config {
    const char *model;               /* bare or models/NAME; NULL = the daemon's default */
    live_modality modality;
    bool modality_set;               /* the client named it (attach compares only then) */
    const json_t *system_instruction; /* user's, validated here */
    const json_t *tools;
    const json_t *generation_config;
    bool compression;                /* context window compression (default on) */
    bool compression_set;
    uid_t owner;                     /* the uid that opened it (restored: from its record) */
    bool shared;                     /* open's `shared`: every uid may use it (daemon/access.h) */
    bool shared_set;
    bool keep_connected;             /* never close the connection for being unused */
    bool keep_connected_set;
    /* Voice and vision (issue 9): */
    bool input_transcription;        /* inputAudioTranscription: what the user said, as text */
    int output_transcription;        /* 0: as the model needs (audio answers); 1: on; -1: off */
    const json_t *vad;               /* NULL, false (the client sends activity.start/end), true,
                                        or automaticActivityDetection settings (an object) */
    const char *voice, *language;    /* speechConfig: a prebuilt voice name, a language code */
    const char *media_resolution;    /* generationConfig.mediaResolution */
} gld_session_config;

/* Validates cfg: bad_request naming the field, as gld_session_new would. */
int gld_session_config_check(const gld_daemon *d, const gld_session_config *cfg, gl_err *err);
/* Validates cfg (bad_request naming the field) and creates the session (not connected yet). */
gld_session *gld_session_new(gld_daemon *d, const char *name, const gld_session_config *cfg,
                             gl_err *err);
gld_session *gld_session_find(gld_daemon *d, const char *name);
/* Sessions opened by uid (for --max-sessions-per-uid). */
unsigned gld_sessions_of_uid(const gld_daemon *d, uid_t uid);
/* Handlers may add at most this many functions to one session: each addition re-establishes
 * the connection, and the declarations stay for the session's life. */
#define GLD_MAX_HANDLER_DECLARATIONS 128
/* 0 if a handler may declare function `name` in s (it is declared already, or there is room);
 * -1 with err ("busy") if not. */
int gld_session_can_declare(const gld_session *s, const char *name, gl_err *err);
/* Iteration: for (s = d->sessions; s; s = gld_session_next(s)). */
gld_session *gld_session_next(const gld_session *s);
/* True if cfg asks for nothing different from what the session has (attach is then fine). */
bool gld_session_config_matches(const gld_session *s, const gld_session_config *cfg);

/* Queues a prompt from sender; starts connecting if needed. *turn gets the turn number, *queued
 * whether it waits behind another turn. Fails with "busy" past --max-queue. */
int gld_session_send(gld_session *s, ipc_client *sender, const char *text, bool retry,
                     long *turn, bool *queued, gl_err *err);
/* Answers a pending tool call (daemon/calls.h: response or error, scheduling, will_continue).
 * "unknown_call" if not pending. */
int gld_session_tool_result(gld_session *s, ipc_client *from, const char *call_id,
                            const gld_answer *a, gl_err *err);
/* The session with a pending call of that id (tool.result without a session), or NULL. */
gld_session *gld_session_with_call(gld_daemon *d, const char *call_id);
/* A handler registered decl (normalized) for this session: declares it if the session does not
 * yet, re-establishing the connection after the running turn (conversation kept by resumption).
 * Returns true if a re-establishment is needed. */
bool gld_session_add_declaration(gld_session *s, const json_t *decl);
/* Microphone audio from c: s16le mono PCM (decoded, n bytes, even) at rate Hz (8000..192000),
 * resampled to 16 kHz and sent as realtimeInput.audio as it comes; while the session is not
 * connected it waits (bounded: then "busy"). The turn the server makes of it goes to c. */
int gld_session_audio(gld_session *s, ipc_client *c, const void *pcm, size_t n, unsigned rate,
                      gl_err *err);
/* The microphone paused (audioStreamEnd): the resampler's tail goes first. */
int gld_session_audio_end(gld_session *s, ipc_client *c, gl_err *err);
/* activityStart / activityEnd: only for sessions opened with vad false. */
int gld_session_activity(gld_session *s, ipc_client *c, bool start, gl_err *err);
/* One still frame (base64 as received, checked by the caller) as realtimeInput.video. */
int gld_session_image(gld_session *s, ipc_client *c, const char *b64, const char *mime, gl_err *err);
/* A typed turn with Gemini Parts (text, inlineData images) instead of text. */
int gld_session_send_parts(gld_session *s, ipc_client *sender, const json_t *parts, bool retry,
                           long *turn, bool *queued, gl_err *err);

/* Asks the session to re-establish its connection with a new setup (why: for logs and clients).
 * A ready session finishes its running turn first (new prompts wait), then resumes the
 * conversation on a new connection; one still connecting does so once ready. */
void gld_session_request_reestablish(gld_session *s, const char *why);
/* Recreates a session from its state-dir record and starts resuming it. */
gld_session *gld_session_restore(gld_daemon *d, const json_t *rec, gl_err *err);
/* Writes pending state-dir updates now (shutdown). */
void gld_session_flush_state(gld_session *s);
void gld_session_watch(gld_session *s, ipc_client *c, bool subscribe);
void gld_session_unsubscribe(gld_session *s, ipc_client *c);
/* c sent the running turn or a queued prompt, waits for a call it asked or for the follow-up of
 * one, or runs code here: events for it are still to come. */
bool gld_session_client_busy(const gld_session *s, const ipc_client *c);
/* The client is gone: forget it everywhere in this session. */
void gld_session_client_gone(gld_session *s, ipc_client *c);
/* keep_connected given at an attaching open: true connects an idle session now and exempts it
 * from --idle-timeout; false lets it close when unused. Kept in the state dir. */
void gld_session_set_keep_connected(gld_session *s, bool keep);
/* c, which the session may be waiting for (ipc_client_hold), has caught up. */
void gld_session_client_drained(gld_session *s, ipc_client *c);
/* The session is in use (open of a new session): connect if not connected. */
void gld_session_connect(gld_session *s);
/* Starts the next queued turn if the session can (call after replying to `send`, so the reply
 * always precedes the turn's events). */
void gld_session_pump(gld_session *s);
/* Ends the session: running and queued turns are reported to their clients (reason), the
 * connection gets a normal close, the session leaves the daemon's list and is freed. forget:
 * also delete its state-dir record (a client's close; not at daemon shutdown). */
void gld_session_close(gld_session *s, const char *reason, bool forget);

/* For list/status: {session, state, model, modality, turns, queued, subscribers, ...}. */
json_t *gld_session_info(const gld_session *s);
const char *gld_session_name(const gld_session *s);
const char *gld_session_model(const gld_session *s);
live_modality gld_session_modality(const gld_session *s);
const char *gld_session_state_name(const gld_session *s);
/* Its owner and whether it is shared: who may use it (gld_access_allows, daemon/access.h). */
gld_access gld_session_access(const gld_session *s);

/* Hot server messages (text and audio parts, transcriptions) become event lines through the
 * fast path (proto/fastpath.h) when true, the default; false sends every message through
 * live_parse_server, the reference, so that tests can compare the two paths' lines. */
extern bool gld_session_fast_path;

#endif
