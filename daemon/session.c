/* A named Live session: its configuration, its connection to the Live API (through the seam in
 * daemon/upstream.h), its queue of prompts (turns run one at a time, never interleaved on the
 * wire), its function calls (daemon/calls.c), and the local clients watching it. Server messages
 * become line-protocol events here.
 *
 * The connection's life is the state machine of daemon/session_fsm.h: fire() is the one place a
 * state changes; each state's entry action is in enter(). Every connection asks for session
 * resumption and the newest resumable handle is kept (and written to the state dir), so each new
 * connection continues the same conversation. A prompt goes on the wire only when the session is
 * ready, and never twice: a turn cut by a lost connection is reported `interrupted` and re-sent
 * only when its client asked for retries. */
#include "daemon/session.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/calls.h"
#include "daemon/coderun.h"
#include "daemon/media.h"
#include "daemon/models.h"
#include "daemon/persist.h"
#include "daemon/session_fsm.h"
#include "daemon/tools.h"
#include "daemon/upstream.h"
#include "proto/errors.h"
#include "proto/fastpath.h"
#include "proto/line.h"

#define PERSIST_DELAY_MS 100 /* coalesce handle updates; well within the promised second */
#define PERSIST_RETRY_MAX_MS 30000 /* a failed save is retried, doubling from PERSIST_DELAY_MS */
#define MAX_WATCHERS 256
/* Microphone audio that waits while the session is not connected: 10 s at 16 kHz. A live
 * stream must not pile up without bound; past it the client is told (busy). */
#define AUDIO_BACKLOG_MAX (10 * GLD_AUDIO_RATE * 2)
/* Audio a connection took since its newest handle, sent again on the next one: the most recent
 * 10 s of it (see audio_replay_next). */
#define AUDIO_REPLAY_MAX (10 * GLD_AUDIO_RATE * 2)

/* The bounds of a session's texts (with the NUL), as when they were arrays in it. */
#define LAST_CLOSE_MAX 200
#define SESSION_ID_MAX 128
#define NOTICE_MAX 200

/* *slot = a copy of text cut to max - 1 bytes (as snprintf into char[max] did), NULL for "". */
static void set_text(char **slot, const char *text, size_t max)
{
    free(*slot);
    *slot = text && *text ? gl_xstrndup(text, max - 1) : NULL;
}

typedef struct turn {
    long no;
    char *text;         /* the prompt; NULL for a turn the model started on its own */
    json_t *parts;      /* or a prompt of Gemini Parts (owned), for text with images */
    ipc_client *sender; /* the prompting client (or the asker of the call that caused the turn);
                           NULL once it disconnected: events go to subscribers only */
    bool retry;         /* the client asked: re-send if the connection is lost mid-turn */
    const char *cause;  /* "prompt", "function_response", "model" or "audio" */
    long of_turn;       /* function_response: the turn whose call caused this one */
} turn;

/* A non-blocking call was answered: the model's next unprompted output answers it. */
typedef struct followup {
    long of_turn;
    ipc_client *asker;
} followup;
#define MAX_FOLLOWUPS 64

typedef struct watcher {
    ipc_client *c;
    bool subscribed;
} watcher;

struct gld_session {
    gld_daemon *d;
    char name[GL_SESSION_NAME_MAX + 1];
    char model[128];
    live_modality modality;
    json_t *system_instruction, *tools, *generation_config; /* normalized, owned; may be NULL */
    json_t *extra_decls; /* declarations added by tool handlers (array, owned), NULL until the
                            first: most sessions get none (add_extra_decl) */
    uid_t owner;         /* the uid that opened it */
    bool shared;         /* opened with `shared`: other uids may use it too (daemon/access.h) */
    bool keep_connected; /* exempt from --idle-timeout */
    bool input_tx;       /* inputAudioTranscription */
    int output_tx;       /* 0: as the model needs; 1: on; -1: off (the client said) */
    bool vad_off;        /* the client marks activity itself (activity.start/end) */
    json_t *vad;         /* automaticActivityDetection settings (owned), or NULL */
    gld_resampler *rs;   /* the microphone's rate to 16 kHz (owned), when not 16 kHz */
    ipc_client *audio_client;  /* the client streaming audio: spoken turns are its */
    bool audio_since_turn;     /* audio went out since the last turn began */
    gl_buf audio_backlog;      /* 16 kHz PCM waiting for a connection: AUDIO_BACKLOG_MAX of new
                                  audio after audio_replayed bytes of replay */
    size_t audio_replayed;
    size_t audio_end_at;       /* an audio.end that came while not connected goes after this
                                  many backlog bytes (SIZE_MAX: none) */
    gl_buf audio_sent;         /* what this connection took since its newest handle or the start
                                  of a spoken turn (AUDIO_REPLAY_MAX, oldest dropped) */
    bool compression;
    const gld_model_info *mi;

    sess_state state;    /* changed only by fire() */
    ws_conn *ws;         /* the current connection, opening, open or closing; NULL if none */
    bool conn_resuming;  /* the current connection's setup carries a handle */
    bool setup_sent;     /* the current connection's setup is on the wire */
    bool setup_stale;    /* ...and a function was declared since: re-establish once ready */
    const char *resume_why; /* why the session is draining: said when it hangs up (static) */
    unsigned attempt;    /* consecutive lost connections (backoff exponent) */
    uv_timer_t retry_timer, persist_timer, idle_timer;
    uint64_t last_activity; /* loop time of the last prompt or server message */
    unsigned long long tokens; /* usageMetadata.totalTokenCount, summed over turns */
    gld_calls *calls;    /* owned; NULL until the first call (calls_table): most sessions get none */
    gld_coderun *code;   /* owned: run_python, when code runs here (code_local); NULL until the
                            first run (code_table): most sessions never run code */
    bool code_local;     /* the session asked for code execution and gliveD serves it */
    /* Texts most sessions never get, so an idle one holds no room for them: NULL or a
     * nonempty string (owned) of at most the *_MAX bytes below, set by set_text(). */
    char *last_close;
    char *server_session_id; /* setupComplete.sessionId (Vertex) */
    char *persist_error;     /* why the last save failed (NULL once one lands) */
    unsigned persist_retry_ms;   /* the next retry's delay after a failed save */
    char *notice;        /* something clients should know, e.g. "started fresh" */

    char *handle;        /* newest resumable handle */
    time_t handle_time;
    uint64_t connected_at;
    unsigned long reconnects, goaways;
    uint64_t last_goaway_at;
    long long last_goaway_left_ms;

    turn *queue;
    size_t qlen, qcap;
    followup *followups; /* owed, oldest first; MAX_FOLLOWUPS entries, allocated with the first
                            (most sessions never owe one) */
    size_t nfollowups;
    turn cur;
    bool turn_running;
    bool cut;            /* the running generation was interrupted: its late audio is dropped */
    long next_turn;
    unsigned long turns_done;

    watcher *watchers;   /* grown as clients come (most sessions have one or two): an idle
                            session does not hold room for MAX_WATCHERS */
    size_t nwatchers, watchers_cap;

    const char *interrupt_why; /* what we know cut the running generation, if it is cut */
    ipc_client *held;    /* the turn's asker this session waits for, its connection not read
                            (flow_check), or NULL */
    unsigned long waits; /* times it waited so */
    int handles_open;    /* the three timers, the calls and code tables (counted even when
                            there is none): freed when all are closed */
    gld_session *next;
};

/* What an event carries besides its kind: why (for logs and clients), and for `refused`, the
 * error code waiting prompts fail with. */
typedef struct sess_why {
    const char *reason;
    const char *code;
} sess_why;

static void fire(gld_session *s, sess_event ev, sess_why why);
static void session_free(gld_session *s);

/* ---- flow control ---- */

/* A slow asker keeps its own answer (issue 11). The service sends a turn as fast as the socket
 * takes it; the asker may read slower (a pipe into a slow program, a loaded machine). While the
 * running turn's asker lags (daemon/ipc.h "Holding": past a high-water mark of unwritten output)
 * the session stops reading its connection, so TCP backpressure reaches the service and nothing
 * piles up here; once the asker has caught up (low-water mark, ipc's on_drain) it reads again.
 * The asker leaving, the turn or the connection ending, or the session closing also end the
 * wait; an asker that reads nothing at all for --sender-timeout is cut by ipc, which ends it.
 * Only the asker is waited for: subscribers and handlers that fall behind are cut at
 * --max-output as before, they cannot slow a turn down for the asker.
 * Called after every server message and whenever one of those conditions may have changed. */
static void flow_check(gld_session *s)
{
    ipc_client *c = s->turn_running && s->ws && s->state != SS_GONE ? s->cur.sender : NULL;
    ipc_client *want = c && (s->held == c ? !ipc_client_caught_up(c) : ipc_client_lagging(c)) ? c : NULL;
    if (want == s->held)
        return;
    if (s->held)
        ipc_client_release(s->held);
    if (want) {
        ipc_client_hold(want);
        s->waits++;
    }
    if (s->ws && !want != !s->held)
        s->d->net->pause(s->ws, want != NULL);
    log_debug("session %s: %s", s->name, want ? "waiting for its asker to catch up: not reading "
                                                "the Live API" : "reading the Live API again");
    s->held = want;
}

void gld_session_client_drained(gld_session *s, ipc_client *c)
{
    if (s->held == c)
        flow_check(s);
}
static bool code_local(const gld_daemon *d, const gld_model_info *mi, const json_t *tools);

/* ---- names and lookups ---- */

const char *gld_session_name(const gld_session *s) { return s->name; }
const char *gld_session_model(const gld_session *s) { return s->model; }
live_modality gld_session_modality(const gld_session *s) { return s->modality; }
const char *gld_session_state_name(const gld_session *s) { return sess_state_public_name(s->state); }
gld_session *gld_session_next(const gld_session *s) { return s->next; }
gld_access gld_session_access(const gld_session *s) { return (gld_access){s->owner, s->shared}; }

gld_session *gld_session_find(gld_daemon *d, const char *name)
{
    for (gld_session *s = d->sessions; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

unsigned gld_sessions_of_uid(const gld_daemon *d, uid_t uid)
{
    unsigned n = 0;
    for (const gld_session *s = d->sessions; s; s = s->next)
        n += s->owner == uid;
    return n;
}

gld_session *gld_session_with_call(gld_daemon *d, const char *call_id)
{
    for (gld_session *s = d->sessions; s; s = s->next)
        if (gld_calls_has(s->calls, call_id))
            return s;
    return NULL;
}

/* ---- events to clients ---- */

/* Sends line to the turn's sender, every subscriber and `extra` (a handler), once each. */
static void deliver(gld_session *s, const char *line, ipc_client *sender, ipc_client *extra)
{
    size_t n = strlen(line);
    bool sender_done = false, extra_done = false;
    for (size_t i = 0; i < s->nwatchers; i++) {
        if (!s->watchers[i].subscribed)
            continue;
        sender_done |= s->watchers[i].c == sender;
        extra_done |= s->watchers[i].c == extra;
        ipc_send(s->watchers[i].c, line, n);
    }
    if (sender && !sender_done)
        ipc_send(sender, line, n);
    if (extra && !extra_done && extra != sender)
        ipc_send(extra, line, n);
}

/* A turn's event (fields STOLEN) to its sender, the subscribers and extra. */
static void emit_turn2(gld_session *s, const char *event, ipc_client *sender, ipc_client *extra,
                       long turn_no, json_t *fields)
{
    if (turn_no > 0)
        json_object_set_new(fields, "turn", json_integer(turn_no));
    char *line = gl_event(event, s->name, fields);
    deliver(s, line, sender, extra);
    free(line);
}

static void emit_turn(gld_session *s, const char *event, ipc_client *sender, long turn_no,
                      json_t *fields)
{
    emit_turn2(s, event, sender, NULL, turn_no, fields);
}

/* Session-wide events (state): to every watcher. fields STOLEN. */
static void emit_all(gld_session *s, const char *event, json_t *fields)
{
    char *line = gl_event(event, s->name, fields);
    for (size_t i = 0; i < s->nwatchers; i++)
        ipc_send(s->watchers[i].c, line, strlen(line));
    free(line);
}

/* The calls table's host (daemon/calls.h). */
static void calls_emit(void *ud, const char *event, ipc_client *asker, ipc_client *extra, long turn,
                       json_t *fields)
{
    emit_turn2(ud, event, asker, extra, turn, fields);
}

static int upstream_send(gld_session *s, char *json);
static int calls_send(void *ud, char *json) { return upstream_send(ud, json); }

static bool declared_in_config(const gld_session *s, const char *name);
static gld_calls *calls_table(gld_session *s);

/* Local code's answers go back to it (daemon/coderun.c); its calls are routed like the model's. */
static void calls_local_answer(void *ud, const char *run_id, unsigned call_no, const json_t *response)
{
    gld_session *s = ud;
    if (gld_coderun_answer(s->code, run_id, call_no, response) != 0)
        log_info("session %s: an answer for run %s came after it ended; dropped", s->name, run_id);
}

static void code_emit(void *ud, const char *event, ipc_client *asker, long turn, json_t *fields)
{
    emit_turn2(ud, event, asker, NULL, turn, fields);
}

static void code_call(void *ud, const char *run_id, unsigned call_no, const char *name,
                      const json_t *args, ipc_client *asker, long turn)
{
    gld_session *s = ud;
    gld_calls_route_local(calls_table(s), run_id, call_no, name, args, asker, turn, declared_in_config(s, name));
}

static void calls_followup(void *ud, ipc_client *asker, long turn, const char *scheduling)
{
    gld_session *s = ud;
    if (s->nfollowups == MAX_FOLLOWUPS) { /* the model answers far less often than this */
        memmove(&s->followups[0], &s->followups[1], (MAX_FOLLOWUPS - 1) * sizeof s->followups[0]);
        s->nfollowups--;
    }
    if (!s->followups)
        s->followups = gl_xcalloc(MAX_FOLLOWUPS, sizeof *s->followups);
    s->followups[s->nfollowups++] = (followup){turn, asker};
    if (strcmp(scheduling, "INTERRUPT") == 0 && s->turn_running)
        s->interrupt_why = "a function response with scheduling INTERRUPT cut the generation";
}

/* The session's calls table, made with its first call (or a stray tool.result, to be refused). */
static gld_calls *calls_table(gld_session *s)
{
    if (!s->calls) {
        gld_access acc = gld_session_access(s);
        s->calls = gld_calls_new(s->d, s->name, &acc, &(gld_calls_host){calls_emit, calls_send,
                                                                       calls_followup,
                                                                       calls_local_answer, s});
    }
    return s->calls;
}

/* The session's run_python table, made with its first run. */
static gld_coderun *code_table(gld_session *s)
{
    if (!s->code)
        s->code = gld_coderun_new(s->d, s->name, &(gld_coderun_host){code_emit, calls_send,
                                                                     calls_followup, code_call, s});
    return s->code;
}

/* ---- watchers ---- */

static watcher *find_watcher(gld_session *s, ipc_client *c)
{
    for (size_t i = 0; i < s->nwatchers; i++)
        if (s->watchers[i].c == c)
            return &s->watchers[i];
    return NULL;
}

void gld_session_watch(gld_session *s, ipc_client *c, bool subscribe)
{
    watcher *w = find_watcher(s, c);
    if (!w) {
        if (s->nwatchers == MAX_WATCHERS) {
            log_warn("session %s: %d watchers already; client %u not added", s->name, MAX_WATCHERS,
                     ipc_client_id(c));
            return;
        }
        if (s->nwatchers == s->watchers_cap) {
            s->watchers_cap = s->watchers_cap ? 2 * s->watchers_cap : 4;
            s->watchers = gl_xrealloc(s->watchers, s->watchers_cap * sizeof *s->watchers);
        }
        w = &s->watchers[s->nwatchers++];
        w->c = c;
        w->subscribed = false;
    }
    if (subscribe)
        w->subscribed = true;
}

void gld_session_unsubscribe(gld_session *s, ipc_client *c)
{
    watcher *w = find_watcher(s, c);
    if (w)
        w->subscribed = false;
}

/* ---- the wire ---- */

/* Sends one Live API message (json STOLEN) on the current connection. */
static int upstream_send(gld_session *s, char *json)
{
    gl_err err;
    size_t n = strlen(json);
    int rc = s->ws ? s->d->net->send_text(s->ws, json, n, &err)
                   : gl_fail(&err, "closed", "not connected");
    if (rc == 0) {
        s->d->upstream.bytes_out += n;
        s->d->upstream.msgs_out++;
        log_debug("session %s: > %.300s", s->name, json);
    } else {
        log_warn("session %s: cannot send to the Live API: %s", s->name, err.msg);
    }
    free(json);
    return rc;
}

/* ---- turns ---- */

static void turn_free(turn *t)
{
    free(t->text);
    t->text = NULL;
    json_decref(t->parts);
    t->parts = NULL;
}

static void queue_reserve(gld_session *s)
{
    if (s->qlen < s->qcap)
        return;
    s->qcap = s->qcap ? s->qcap * 2 : 4;
    s->queue = gl_xrealloc(s->queue, s->qcap * sizeof *s->queue);
}

/* The running turn ended without a turnComplete (connection lost, session closing). It goes
 * back first in line only if its client asked for retries and the session goes on. */
static void abort_running_turn(gld_session *s, const char *reason, bool may_retry)
{
    if (!s->turn_running)
        return;
    gld_calls_cancel_all(s->calls, reason);
    bool again = s->cur.retry && may_retry;
    emit_turn(s, "interrupted", s->cur.sender, s->cur.no,
              json_pack("{s:s, s:b, s:b}", "reason", reason, "retrying", again, "final", 1));
    s->turn_running = false;
    if (again) {
        queue_reserve(s);
        memmove(&s->queue[1], &s->queue[0], s->qlen * sizeof s->queue[0]);
        s->queue[0] = s->cur;
        s->qlen++;
        s->cur.text = NULL;
        log_info("session %s: turn %ld will be sent again (retry requested)", s->name, s->queue[0].no);
    } else {
        turn_free(&s->cur);
    }
}

/* Every queued prompt gets an error event: used when retrying cannot help. */
static void fail_queue(gld_session *s, const char *code, const char *message)
{
    for (size_t i = 0; i < s->qlen; i++) {
        emit_turn(s, "error", s->queue[i].sender, s->queue[i].no,
                  json_pack("{s:s, s:s}", "code", code, "message", message));
        turn_free(&s->queue[i]);
    }
    s->qlen = 0;
}

static void start_turn(gld_session *s)
{
    s->cur = s->queue[0];
    memmove(&s->queue[0], &s->queue[1], (s->qlen - 1) * sizeof s->queue[0]);
    s->qlen--;
    s->turn_running = true;
    s->cut = false;
    s->interrupt_why = NULL;
    gl_err err;
    char *msg = s->cur.parts             ? live_build_client_parts(s->cur.parts, &err)
                : s->mi->text_via_realtime ? live_build_realtime_text(s->cur.text)
                                         : live_build_client_text(s->cur.text, true);
    if (!msg) /* checked at send: a bug if it happens */
        log_error("session %s: cannot build turn %ld: %s", s->name, s->cur.no, err.msg);
    if (!msg || upstream_send(s, msg) != 0)
        abort_running_turn(s, "the prompt could not be sent to the Live API", true);
}

void gld_session_pump(gld_session *s)
{
    if (s->state == SS_GONE || s->turn_running)
        return;
    if (s->state == SS_DRAINING) {
        fire(s, SE_TURN_IDLE, (sess_why){0});
        return; /* prompts wait for the new connection */
    }
    if (s->qlen == 0)
        return;
    if (s->state == SS_READY)
        start_turn(s);
    else
        fire(s, SE_USE, (sess_why){0}); /* connects from idle or closed; elsewhere it is coming */
}

int gld_session_send(gld_session *s, ipc_client *sender, const char *text, bool retry,
                     long *turn_no, bool *queued, gl_err *err)
{
    if (s->state == SS_GONE)
        return gl_fail(err, GL_E_NO_SESSION, "session %s is closing", s->name);
    if (s->qlen >= s->d->cfg.max_queue)
        return gl_fail(err, GL_E_BUSY, "session %s already has %zu prompts waiting (--max-queue); try "
                       "again after a turn completes", s->name, s->qlen);
    queue_reserve(s);
    *queued = s->turn_running || s->qlen > 0 || s->state != SS_READY;
    turn *t = &s->queue[s->qlen++];
    t->no = ++s->next_turn;
    t->text = text ? gl_xstrdup(text) : NULL;
    t->parts = NULL;
    t->sender = sender;
    t->retry = retry;
    t->cause = "prompt";
    t->of_turn = 0;
    s->last_activity = uv_now(s->d->loop);
    *turn_no = t->no;
    gld_session_watch(s, sender, false);
    return 0;
}

int gld_session_send_parts(gld_session *s, ipc_client *sender, const json_t *parts, bool retry,
                           long *turn_no, bool *queued, gl_err *err)
{
    if (s->mi->text_via_realtime)
        return gl_fail(err, GL_E_BAD_REQUEST, "model %s takes typed prompts only as text; send the "
                       "picture with the image op, then the question as text", s->model);
    char *probe = live_build_client_parts(parts, err); /* the parts are checked now, not at sending */
    if (!probe)
        return -1;
    free(probe);
    if (gld_session_send(s, sender, NULL, retry, turn_no, queued, err) != 0)
        return -1;
    s->queue[s->qlen - 1].parts = json_incref((json_t *)parts);
    return 0;
}

/* ---- voice and vision in ---- */

/* Sends (or keeps, while not connected) 16 kHz PCM as realtimeInput.audio. */
static int audio_out(gld_session *s, const char *pcm, size_t n, gl_err *err)
{
    if (!n)
        return 0;
    if (s->state != SS_READY) {
        if (s->audio_backlog.len - s->audio_replayed + n > AUDIO_BACKLOG_MAX)
            return gl_fail(err, GL_E_BUSY, "session %s is not connected and 10 s of audio wait already",
                           s->name);
        gl_buf_append(&s->audio_backlog, pcm, n);
        fire(s, SE_USE, (sess_why){0}); /* connects an idle or closed session */
        return 0;
    }
    gl_buf b64;
    gl_buf_init(&b64, 0);
    gld_b64_encode(pcm, n, &b64);
    int rc = upstream_send(s, live_build_realtime_audio(gl_buf_head(&b64), GLD_AUDIO_RATE));
    gl_buf_free(&b64);
    if (rc != 0)
        return gl_fail(err, GL_E_UPSTREAM, "the audio could not be sent to the Live API");
    gl_buf_append(&s->audio_sent, pcm, n);
    if (s->audio_sent.len > AUDIO_REPLAY_MAX) /* the oldest goes; keep whole samples */
        gl_buf_consume(&s->audio_sent, (s->audio_sent.len - AUDIO_REPLAY_MAX + 1) & ~(size_t)1);
    s->audio_since_turn = true;
    s->last_activity = uv_now(s->d->loop);
    return 0;
}

/* Entering ready: the audio that waited goes first, in order. */
/* The service keeps a conversation up to the newest handle it gave; audio a connection took
 * after that (the beginning of an utterance the goAway or a drop cut in two) is lost with the
 * connection. So when one ends and the next resumes, that audio goes first on the next one, then
 * what waited meanwhile: the utterance arrives whole, once. Audio of a spoken turn the service
 * has begun to answer, or that the client ended (audio.end), is not sent again (like a sent
 * prompt, it is not re-asked), nor audio of a session parked for being unused. */
static void audio_replay_next(gld_session *s)
{
    if (!s->audio_sent.len)
        return;
    log_info("session %s: the lost connection took %zu ms of audio after its newest handle: sent "
             "again first on the next one", s->name, s->audio_sent.len / 2 * 1000 / GLD_AUDIO_RATE);
    gl_buf_append(&s->audio_sent, gl_buf_head(&s->audio_backlog), s->audio_backlog.len);
    gl_buf t = s->audio_backlog;
    s->audio_replayed = s->audio_sent.len - s->audio_backlog.len;
    if (s->audio_end_at != SIZE_MAX)
        s->audio_end_at += s->audio_replayed;
    s->audio_backlog = s->audio_sent;
    s->audio_sent = t;
    gl_buf_reset(&s->audio_sent);
    s->audio_backlog.limit = AUDIO_BACKLOG_MAX + AUDIO_REPLAY_MAX; /* the buffers' roles, swapped */
    s->audio_sent.limit = 0;
}

static void audio_backlog_flush(gld_session *s)
{
    if (!s->audio_backlog.len)
        return;
    gl_err err;
    size_t n = s->audio_backlog.len, end_at = s->audio_end_at;
    char *pcm = gl_xmalloc(n);
    memcpy(pcm, gl_buf_head(&s->audio_backlog), n);
    gl_buf_reset(&s->audio_backlog);
    s->audio_replayed = 0;
    s->audio_end_at = SIZE_MAX;
    bool ended = end_at <= n; /* an audio.end came after end_at bytes of it */
    size_t first = ended ? end_at : n;
    if (audio_out(s, pcm, first, &err) != 0)
        log_warn("session %s: %s", s->name, err.msg);
    if (ended) {
        gl_buf_reset(&s->audio_sent); /* as gld_session_audio_end does */
        if (upstream_send(s, live_build_audio_stream_end()) != 0)
            log_warn("session %s: audioStreamEnd could not be sent to the Live API", s->name);
        if (audio_out(s, pcm + first, n - first, &err) != 0)
            log_warn("session %s: %s", s->name, err.msg);
    }
    free(pcm);
}

int gld_session_audio(gld_session *s, ipc_client *c, const void *pcm, size_t n, unsigned rate,
                      gl_err *err)
{
    if (s->state == SS_GONE)
        return gl_fail(err, GL_E_NO_SESSION, "session %s is closing", s->name);
    if (n % 2)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"data\" holds %zu bytes: s16le PCM has an even "
                       "number of bytes", n);
    if (rate < GLD_AUDIO_RATE_MIN || rate > GLD_AUDIO_RATE_MAX)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"rate\" must be %u..%u Hz, not %u", GLD_AUDIO_RATE_MIN,
                       GLD_AUDIO_RATE_MAX, rate);
    s->audio_client = c;
    gld_session_watch(s, c, false);
    if (rate == GLD_AUDIO_RATE)
        return audio_out(s, pcm, n, err);
    if (s->rs && gld_resampler_rate(s->rs) != rate) { /* a new stream at another rate */
        gl_buf tail;
        gl_buf_init(&tail, 0);
        gld_resampler_flush(s->rs, &tail, err);
        audio_out(s, gl_buf_head(&tail), tail.len, err);
        gl_buf_free(&tail);
        gld_resampler_free(s->rs);
        s->rs = NULL;
    }
    if (!s->rs && !(s->rs = gld_resampler_new(rate, err)))
        return -1;
    gl_buf out;
    gl_buf_init(&out, 0);
    /* pcm's alignment is the caller's buffer's: copy to int16_t when it is odd */
    int rc;
    if (((uintptr_t)pcm & 1) == 0) {
        rc = gld_resampler_feed(s->rs, pcm, n / 2, &out, err);
    } else {
        int16_t *tmp = gl_xmalloc(n);
        memcpy(tmp, pcm, n);
        rc = gld_resampler_feed(s->rs, tmp, n / 2, &out, err);
        free(tmp);
    }
    if (rc == 0)
        rc = audio_out(s, gl_buf_head(&out), out.len, err);
    gl_buf_free(&out);
    return rc;
}

int gld_session_audio_end(gld_session *s, ipc_client *c, gl_err *err)
{
    (void)c;
    if (s->vad_off)
        return gl_fail(err, GL_E_BAD_REQUEST, "session %s marks activity itself (vad false): end a "
                       "turn with activity.end", s->name);
    if (s->rs) {
        gl_buf tail;
        gl_buf_init(&tail, 0);
        int rc = gld_resampler_flush(s->rs, &tail, err);
        if (rc == 0)
            rc = audio_out(s, gl_buf_head(&tail), tail.len, err);
        gl_buf_free(&tail);
        if (rc != 0)
            return -1;
    }
    if (s->state != SS_READY) {
        if (s->audio_backlog.len) /* the audio waits for the next connection: so does its end */
            s->audio_end_at = s->audio_backlog.len;
        return 0; /* else nothing was streamed that it could end */
    }
    gl_buf_reset(&s->audio_sent); /* an ended utterance is the service's: like a sent prompt, never
                                     sent again (audio_replay_next) */
    return upstream_send(s, live_build_audio_stream_end()) == 0
               ? 0 : gl_fail(err, GL_E_UPSTREAM, "audioStreamEnd could not be sent to the Live API");
}

int gld_session_activity(gld_session *s, ipc_client *c, bool start, gl_err *err)
{
    if (!s->vad_off)
        return gl_fail(err, GL_E_BAD_REQUEST, "activity.start/end need a session opened with "
                       "\"vad\": false (the service detects speech itself otherwise)");
    if (s->state != SS_READY)
        return gl_fail(err, GL_E_BUSY, "session %s is not connected yet (state %s)", s->name,
                       sess_state_public_name(s->state));
    s->audio_client = c;
    gld_session_watch(s, c, false);
    if (start)
        s->audio_since_turn = true;
    return upstream_send(s, start ? live_build_activity_start() : live_build_activity_end()) == 0
               ? 0 : gl_fail(err, GL_E_UPSTREAM, "the activity mark could not be sent to the Live API");
}

int gld_session_image(gld_session *s, ipc_client *c, const char *b64, const char *mime, gl_err *err)
{
    if (s->state != SS_READY) {
        fire(s, SE_USE, (sess_why){0});
        return gl_fail(err, GL_E_BUSY, "session %s is not connected yet (state %s); send the picture "
                       "when it is ready", s->name, sess_state_public_name(s->state));
    }
    gld_session_watch(s, c, false);
    s->last_activity = uv_now(s->d->loop);
    return upstream_send(s, live_build_realtime_video(b64, mime)) == 0
               ? 0 : gl_fail(err, GL_E_UPSTREAM, "the picture could not be sent to the Live API");
}

/* ---- function calls and declarations ---- */

/* The FunctionDeclaration of `name` in an array of them, or NULL. */
static const json_t *decl_in_list(const json_t *decls, const char *name)
{
    size_t i;
    json_t *fd;
    json_array_foreach(decls, i, fd) {
        const char *n = json_string_value(json_object_get(fd, "name"));
        if (n && strcmp(n, name) == 0)
            return fd;
    }
    return NULL;
}

/* The FunctionDeclaration of `name` in an array of Tools, or NULL. */
static const json_t *decl_in_tools(const json_t *tools, const char *name)
{
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        const json_t *fd = decl_in_list(json_object_get(tool, "functionDeclarations"), name);
        if (fd)
            return fd;
    }
    return NULL;
}

/* True if the session's own configuration (open) declares function `name`. */
static bool declared_in_config(const gld_session *s, const char *name)
{
    return decl_in_tools(s->tools, name) != NULL;
}

/* The declaration of function `name` (the session's own, then handlers'), or NULL. */
static const json_t *find_declaration(const gld_session *s, const char *name)
{
    const json_t *fd = decl_in_tools(s->tools, name);
    return fd ? fd : decl_in_list(s->extra_decls, name);
}

static bool declared(const gld_session *s, const char *name) { return find_declaration(s, name) != NULL; }

static void add_extra_decl(gld_session *s, json_t *decl)
{
    if (!s->extra_decls)
        s->extra_decls = json_array();
    json_array_append(s->extra_decls, decl);
}

int gld_session_tool_result(gld_session *s, ipc_client *from, const char *call_id,
                            const gld_answer *a, gl_err *err)
{
    return gld_calls_result(calls_table(s), from, call_id, a, err);
}


/* A declaration's `behavior`, else the model's default. */
static bool nonblocking(const gld_session *s, const char *name)
{
    const char *b = json_string_value(json_object_get(find_declaration(s, name), "behavior"));
    if (b)
        return strcmp(b, "NON_BLOCKING") == 0;
    return s->mi->calls_nonblocking;
}

static void persist_soon(gld_session *s);

int gld_session_can_declare(const gld_session *s, const char *name, gl_err *err)
{
    if (declared(s, name) || json_array_size(s->extra_decls) < GLD_MAX_HANDLER_DECLARATIONS)
        return 0;
    return gl_fail(err, GL_E_BUSY, "session %s has %d functions from handlers already; close it to "
                   "start over", s->name, GLD_MAX_HANDLER_DECLARATIONS);
}

bool gld_session_add_declaration(gld_session *s, const json_t *decl)
{
    const char *name = json_string_value(json_object_get(decl, "name"));
    if (!name || declared(s, name))
        return false;
    add_extra_decl(s, (json_t *)decl);
    persist_soon(s);
    if (!s->ws)
        return false; /* the next connection's setup has it */
    log_info("session %s: function %s added by a handler; re-establishing after the turn", s->name, name);
    gld_session_request_reestablish(s, "tools changed");
    return true;
}

void gld_session_request_reestablish(gld_session *s, const char *why)
{
    if (s->setup_sent && (s->state == SS_CONNECTING || s->state == SS_RECONNECTING))
        s->setup_stale = true; /* the setup on the wire is out of date: redo it once ready */
    fire(s, SE_REESTABLISH, (sess_why){.reason = why}); /* ready: drain, then resume anew */
}

/* ---- server messages ---- */

static json_t *textn(const char *p, size_t n) { return gl_json_textn(p, n); }

/* Output while no turn runs is a turn the model started: the follow-up of a non-blocking
 * call's answer (for the client whose turn made the call) or the model's own (proactive). It
 * gets a turn number of its own, says why in `turn_started`, and occupies the wire like a
 * prompted turn (prompts wait until it completes). */
static void begin_model_turn(gld_session *s)
{
    turn t = {.no = ++s->next_turn, .cause = "model"};
    if (s->audio_since_turn) { /* the server heard the user: a spoken turn, for who spoke */
        s->audio_since_turn = false;
        gl_buf_reset(&s->audio_sent); /* heard: never asked again (audio_replay_next) */
        t.cause = "audio";
        t.sender = s->audio_client;
    } else if (s->nfollowups) {
        followup f = s->followups[0];
        memmove(&s->followups[0], &s->followups[1], (s->nfollowups - 1) * sizeof s->followups[0]);
        s->nfollowups--;
        t.cause = "function_response";
        t.of_turn = f.of_turn;
        t.sender = f.asker;
    }
    s->cur = t;
    s->turn_running = true;
    s->cut = false;
    s->interrupt_why = NULL;
    json_t *f = json_pack("{s:s}", "cause", t.cause);
    if (t.of_turn)
        json_object_set_new(f, "of_turn", json_integer(t.of_turn));
    emit_turn(s, "turn_started", t.sender, t.no, f);
}

/* Server output that belongs to a turn (not setup, handles, goAway, transcripts of the user). */
static bool is_turn_output(const live_event *ev)
{
    switch (ev->kind) {
    case LIVE_EV_TEXT:
        return !ev->thought;
    case LIVE_EV_AUDIO:
    case LIVE_EV_EXECUTABLE_CODE:
    case LIVE_EV_CODE_RESULT:
    case LIVE_EV_GROUNDING:
    case LIVE_EV_OUTPUT_TRANSCRIPTION:
    case LIVE_EV_TOOL_CALL:
        return true;
    default:
        return false;
    }
}

/* Output with no turn running begins one; so does the user's speech, heard after audio went
 * out (its transcript belongs to the spoken turn). */
static bool starts_turn(const gld_session *s, const live_event *ev)
{
    return !s->turn_running &&
           (is_turn_output(ev) || (ev->kind == LIVE_EV_INPUT_TRANSCRIPTION && s->audio_since_turn));
}

static int on_live_event(const live_event *ev, void *ud)
{
    gld_session *s = ud;
    if (starts_turn(s, ev))
        begin_model_turn(s);
    ipc_client *snd = s->turn_running ? s->cur.sender : NULL;
    long tn = s->turn_running ? s->cur.no : 0;
    bool text_session_on_audio_model = s->modality == LIVE_TEXT && s->mi->audio_only;
    switch (ev->kind) {
    case LIVE_EV_SETUP_COMPLETE:
        if (ev->session_id) /* Vertex names its sessions: shown in list/status, for support */
            set_text(&s->server_session_id, ev->session_id, SESSION_ID_MAX);
        fire(s, SE_SETUP_DONE, (sess_why){.reason = s->conn_resuming ? "resumed the conversation" : NULL});
        break;
    case LIVE_EV_TEXT:
        if (ev->thought) /* thought summaries are not the answer */
            log_debug("session %s: thought: %.200s", s->name, ev->text);
        else
            emit_turn(s, "text", snd, tn, json_pack("{s:o}", "text", textn(ev->text, ev->text_len)));
        break;
    case LIVE_EV_AUDIO:
        /* barge-in: the model's audio stops at once for every client, even chunks the service
         * had already sent */
        if (!text_session_on_audio_model && !s->cut)
            emit_turn(s, "audio", snd, tn, json_pack("{s:s, s:o}", "mime", ev->mime ? ev->mime : "",
                                                     "data", textn(ev->data, ev->data_len)));
        break;
    case LIVE_EV_EXECUTABLE_CODE:
        emit_turn(s, "code", snd, tn, json_pack("{s:s, s:s}", "language",
                                                ev->language ? ev->language : "", "code",
                                                ev->code ? ev->code : ""));
        break;
    case LIVE_EV_CODE_RESULT:
        emit_turn(s, "code_result", snd, tn, json_pack("{s:s, s:s}", "outcome",
                                                       ev->outcome ? ev->outcome : "", "output",
                                                       ev->output ? ev->output : ""));
        break;
    case LIVE_EV_GROUNDING:
        emit_turn(s, "grounding", snd, tn, json_pack("{s:O}", "metadata", ev->json));
        break;
    case LIVE_EV_OUTPUT_TRANSCRIPTION:
        if (text_session_on_audio_model)
            emit_turn(s, "text", snd, tn, json_pack("{s:o}", "text", textn(ev->text, ev->text_len)));
        else
            emit_turn(s, "transcript", snd, tn,
                      json_pack("{s:s, s:o, s:b}", "source", "output", "text",
                                textn(ev->text, ev->text_len), "finished", ev->finished));
        break;
    case LIVE_EV_INPUT_TRANSCRIPTION: {
        json_t *f = json_pack("{s:s, s:o, s:b}", "source", "input", "text",
                              textn(ev->text, ev->text_len), "finished", ev->finished);
        if (ev->interim) /* a guess while the user speaks: the final transcription replaces it */
            json_object_set_new(f, "interim", json_true());
        emit_turn(s, "transcript", snd, tn, f);
        break;
    }
    case LIVE_EV_VOICE_ACTIVITY:
        if (strcmp(ev->activity, "ACTIVITY_START") == 0 && s->turn_running && !s->interrupt_why)
            s->interrupt_why = "the user started speaking (voice activity) over the generation";
        emit_turn(s, "voice_activity", snd, tn, json_pack("{s:s}", "type", ev->activity));
        break;
    case LIVE_EV_TOOL_CALL:
        if (s->code_local && ev->name && strcmp(ev->name, GLD_RUN_PYTHON) == 0) {
            gld_coderun_start(code_table(s), ev, snd, tn, nonblocking(s, GLD_RUN_PYTHON));
            break;
        }
        gld_calls_route(calls_table(s), ev, snd, tn, ev->name && declared_in_config(s, ev->name),
                        ev->name && nonblocking(s, ev->name));
        break;
    case LIVE_EV_TOOL_CALL_CANCELLATION:
        gld_calls_cancelled_by_model(s->calls, ev->json);
        gld_coderun_cancelled_by_model(s->code, ev->json);
        break;
    case LIVE_EV_INTERRUPTED: /* the API: a client message or user activity cut the generation */
        s->cut = s->turn_running;
        emit_turn(s, "interrupted", snd, tn,
                  json_pack("{s:s, s:b, s:b}", "reason", s->interrupt_why ? s->interrupt_why
                                                    : "a client message or user activity interrupted the generation",
                            "retrying", 0, "final", 0)); /* turnComplete follows */
        break;
    case LIVE_EV_TURN_COMPLETE: {
        json_t *total = json_object_get(ev->json, "totalTokenCount");
        if (json_is_integer(total) && json_integer_value(total) > 0)
            s->tokens += (unsigned long long)json_integer_value(total);
        json_t *f = json_object();
        if (ev->json)
            json_object_set(f, "usage", ev->json);
        if (ev->reason)
            json_object_set_new(f, "reason", json_string(ev->reason));
        if (ev->waiting_for_input)
            json_object_set_new(f, "waiting_for_input", json_true());
        if (s->turn_running && strcmp(s->cur.cause, "prompt") != 0) {
            json_object_set_new(f, "cause", json_string(s->cur.cause));
            if (s->cur.of_turn)
                json_object_set_new(f, "of_turn", json_integer(s->cur.of_turn));
        }
        emit_turn(s, "turn_complete", snd, tn, f);
        if (s->turn_running) {
            turn_free(&s->cur);
            s->turn_running = false;
            s->turns_done++;
        }
        break;
    }
    case LIVE_EV_RESUMPTION_UPDATE:
        /* read at all times, not only during a turn; empty handles come with resumable:false */
        if (ev->resumable && ev->new_handle && *ev->new_handle) {
            gl_buf_reset(&s->audio_sent); /* the service keeps what came before */
            free(s->handle);
            s->handle = gl_xstrdup(ev->new_handle);
            s->handle_time = time(NULL);
            persist_soon(s);
        }
        break;
    case LIVE_EV_GO_AWAY: {
        s->goaways++;
        s->last_goaway_at = uv_now(s->d->loop);
        s->last_goaway_left_ms = ev->time_left_ms;
        char why[120];
        snprintf(why, sizeof why, "goAway (time left %lld ms): reconnecting after the running turn",
                 ev->time_left_ms);
        fire(s, SE_GOAWAY, (sess_why){.reason = why});
        break;
    }
    case LIVE_EV_GENERATION_COMPLETE:
    case LIVE_EV_USAGE:
        break;
    case LIVE_EV_UNKNOWN:
        log_debug("session %s: unknown server field %s", s->name, ev->name ? ev->name : "?");
        break;
    }
    return 0;
}

bool gld_session_fast_path = true;

/* The fast path's event line, built in place: one buffer for the whole daemon (one thread, and
 * deliver() copies the line out before the next one is built), grown to the largest line seen. */
static char *fast_line;
static size_t fast_line_cap;

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}
#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

/* snprintf("%lu") costs ~700 instructions a message here (bench/PROFILE.md); this ~30. */
static char *put_decimal(char *o, unsigned long v)
{
    char d[24];
    size_t n = 0;
    do
        d[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        *o++ = d[--n];
    return o;
}

static char *put_jstr(char *o, const gl_jstr *s)
{
    *o++ = '"';
    o += gl_jstr_put(s, o);
    *o++ = '"';
    return o;
}

/* A hot server message (proto/fastpath.h: text and audio parts, transcriptions) straight to
 * event lines, the message's escaped strings copied into them: no tree, no allocation. The lines
 * are byte for byte those on_live_event builds for the same events, with the same turn
 * bookkeeping (tests/unit/test_session.c compares the two paths). False if the message is not
 * one of those shapes: live_parse_server then takes it. */
static bool fast_message(gld_session *s, const char *data, size_t len)
{
    live_fast_event evs[LIVE_FAST_MAX];
    size_t n;
    if (!gld_session_fast_path || !live_fast_parse(data, len, evs, &n))
        return false;
    s->d->upstream.msgs_fast++;
    size_t name_len = strlen(s->name); /* gl_session_name_ok: nothing in it needs escaping */
    for (size_t i = 0; i < n; i++) {
        const live_fast_event *fe = &evs[i];
        live_event ev = {.kind = fe->kind, .thought = fe->thought};
        if (starts_turn(s, &ev))
            begin_model_turn(s);
        ipc_client *snd = s->turn_running ? s->cur.sender : NULL;
        long tn = s->turn_running ? s->cur.no : 0;
        bool text_session_on_audio_model = s->modality == LIVE_TEXT && s->mi->audio_only;
        if (fe->kind == LIVE_EV_TEXT && fe->thought) { /* thought summaries are not the answer */
            char t[200 + 4];
            size_t tl = gl_jstr_decode(&fe->str, t, 200);
            t[tl < 200 ? tl : 200] = '\0';
            log_debug("session %s: thought: %s", s->name, t);
            continue;
        }
        if (fe->kind == LIVE_EV_AUDIO && (text_session_on_audio_model || s->cut))
            continue; /* (s->cut: barge-in, see on_live_event) */
        /* the fixed parts, the name and the strings (never longer than they stand in data) */
        size_t need = 160 + name_len + fe->str.len + fe->mime.len;
        if (need > fast_line_cap) {
            fast_line_cap = need < 4096 ? 4096 : need;
            fast_line = gl_xrealloc(fast_line, fast_line_cap);
        }
        char *o = fast_line;
        bool transcript = (fe->kind == LIVE_EV_OUTPUT_TRANSCRIPTION && !text_session_on_audio_model) ||
                          fe->kind == LIVE_EV_INPUT_TRANSCRIPTION;
        o = PUT_LIT(o, "{\"event\":\"");
        o = fe->kind == LIVE_EV_AUDIO ? PUT_LIT(o, "audio") : transcript ? PUT_LIT(o, "transcript")
                                                                         : PUT_LIT(o, "text");
        o = PUT_LIT(o, "\",\"session\":\"");
        o = put(o, s->name, name_len);
        o = PUT_LIT(o, "\",");
        if (fe->kind == LIVE_EV_AUDIO) {
            o = PUT_LIT(o, "\"mime\":");
            o = put_jstr(o, &fe->mime);
            o = PUT_LIT(o, ",\"data\":");
            o = put_jstr(o, &fe->str);
        } else if (transcript) {
            o = fe->kind == LIVE_EV_INPUT_TRANSCRIPTION ? PUT_LIT(o, "\"source\":\"input\",\"text\":")
                                                        : PUT_LIT(o, "\"source\":\"output\",\"text\":");
            o = put_jstr(o, &fe->str);
            o = fe->finished ? PUT_LIT(o, ",\"finished\":true") : PUT_LIT(o, ",\"finished\":false");
            if (fe->interim)
                o = PUT_LIT(o, ",\"interim\":true");
        } else {
            o = PUT_LIT(o, "\"text\":");
            o = put_jstr(o, &fe->str);
        }
        if (tn > 0) {
            o = PUT_LIT(o, ",\"turn\":");
            o = put_decimal(o, (unsigned long)tn);
        }
        o = PUT_LIT(o, "}\n");
        *o = '\0';
        deliver(s, fast_line, snd, NULL);
    }
    return true;
}

static void on_ws_message(ws_conn *ws, int opcode, const uint8_t *data, size_t len, void *ud)
{
    (void)opcode;
    gld_session *s = ud;
    if (ws != s->ws || s->state == SS_GONE) /* late messages of a closing session are dropped */
        return;
    s->d->upstream.bytes_in += len;
    s->d->upstream.msgs_in++;
    s->last_activity = uv_now(s->d->loop);
    log_debug("session %s: < %.*s", s->name, (int)(len < 300 ? len : 300), (const char *)data);
    gl_err err;
    ipc_set_origin(s->d->ipc, s->d->net->read_time(ws)); /* the event lines' latency starts there */
    bool ok = fast_message(s, (const char *)data, len) ||
              live_parse_server((const char *)data, len, on_live_event, s, &err) == 0;
    ipc_set_origin(s->d->ipc, 0);
    if (!ok) {
        log_warn("session %s: %s; dropping the connection", s->name, err.msg);
        s->d->net->abort(s->ws, "the Live API sent a message that is not JSON");
        return;
    }
    gld_session_pump(s);
    flow_check(s);
}

/* ---- connection ---- */

/* The tools the setup declares: the session's own plus those handlers added; where gliveD
 * serves code execution, run_python instead of codeExecution. */
static json_t *effective_tools(gld_session *s)
{
    if (json_array_size(s->extra_decls) == 0 && !s->code_local)
        return json_incref(s->tools);
    json_t *t = json_array();
    size_t i;
    json_t *tool;
    json_array_foreach(s->tools, i, tool)
        if (!s->code_local || !json_object_get(tool, "codeExecution"))
            json_array_append(t, tool);
    json_t *decls = s->extra_decls ? json_deep_copy(s->extra_decls) : json_array();
    if (s->code_local)
        json_array_append_new(decls, gld_coderun_declaration());
    if (json_array_size(decls))
        json_array_append_new(t, json_pack("{s:o}", "functionDeclarations", decls));
    else
        json_decref(decls);
    return t;
}

static void on_ws_open(ws_conn *ws, void *ud)
{
    gld_session *s = ud;
    if (ws != s->ws)
        return;
    json_t *tools = effective_tools(s);
    live_setup st = {
        .model = s->model,
        .modality = s->mi->audio_only ? LIVE_AUDIO : s->modality,
        .generation_config = s->generation_config,
        .system_instruction = s->system_instruction,
        .tools = tools,
        .output_transcription = s->output_tx ? s->output_tx > 0
                                             : s->mi->audio_only || s->modality == LIVE_AUDIO,
        .input_transcription = s->input_tx,
        .manual_activity = s->vad_off,
        .activity_detection = s->vad,
        .resumption = true,
        .resume_handle = s->conn_resuming ? s->handle : NULL,
        .compression = s->compression,
    };
    gl_err err;
    char *setup = live_build_setup(&st, &err);
    json_decref(tools);
    if (!setup) { /* validated at open: a bug if it happens */
        log_error("session %s: cannot build the setup: %s", s->name, err.msg);
        s->d->net->close(s->ws, 1000, "");
        return;
    }
    s->setup_sent = true;
    upstream_send(s, setup);
}

/* The connection ended: what ran on it ends too, then the state machine decides what follows. */
static void on_ws_close(ws_conn *ws, const ws_close_info *info, void *ud)
{
    gld_session *s = ud;
    if (ws != s->ws)
        return;
    s->ws = NULL;
    flow_check(s); /* no connection: nothing to wait with */
    if (s->state == SS_GONE) {
        session_free(s);
        return;
    }
    if (s->state == SS_PARKING) /* unused for --idle-timeout: nothing of it is still being said */
        gl_buf_reset(&s->audio_sent);
    else
        audio_replay_next(s);
    bool setup_done = s->state == SS_READY || s->state == SS_DRAINING || s->state == SS_HANGING_UP ||
                      s->state == SS_PARKING;
    char why[LAST_CLOSE_MAX];
    if (info->error && info->code == 1006)
        snprintf(why, sizeof why, "connection to the Live API lost: %.150s", info->error);
    else
        snprintf(why, sizeof why, "Live API closed the connection: %d %.120s", info->code,
                 info->reason);
    abort_running_turn(s, why, true);
    gld_calls_cancel_all(s->calls, why);
    gld_coderun_cancel_all(s->code, why); /* the model that asked is gone */
    if (s->state == SS_HANGING_UP || s->state == SS_PARKING) { /* our own close */
        s->reconnects += s->state == SS_HANGING_UP;
        fire(s, SE_HUNG_UP, (sess_why){0});
        return;
    }
    set_text(&s->last_close, why, LAST_CLOSE_MAX);
    log_warn("session %s: %s", s->name, why);
    bool policy = info->code == 1007 || info->code == 1008 || info->code == 1003;
    bool http_refused = info->http_status == 400 || info->http_status == 401 || info->http_status == 403;
    if (policy && s->conn_resuming && !setup_done) {
        /* the handle was refused (expired, or the service forgot it): start over and say so */
        char notice[NOTICE_MAX];
        snprintf(notice, sizeof notice, "the resumption handle was refused (%d %.100s): "
                 "this is a fresh conversation", info->code, info->reason);
        set_text(&s->notice, notice, NOTICE_MAX);
        free(s->handle);
        s->handle = NULL;
        persist_soon(s);
        s->reconnects++;
        fire(s, SE_RESUME_REFUSED, (sess_why){.reason = s->notice});
    } else if (policy || http_refused) { /* retrying cannot fix a bad key, setup or request */
        fire(s, SE_REFUSED, (sess_why){.reason = why, .code = GL_E_UPSTREAM});
    } else {
        s->reconnects++;
        fire(s, SE_LOST, (sess_why){.reason = why});
    }
}

static void on_retry_timer(uv_timer_t *t) { fire(t->data, SE_RETRY_TIMER, (sess_why){0}); }

/* Something is going on that needs the connection: a turn, prompts, calls, code, subscribers. */
static bool in_use(const gld_session *s)
{
    if (s->turn_running || s->qlen || s->nfollowups || gld_calls_pending(s->calls) ||
        gld_coderun_running(s->code) || s->keep_connected)
        return true;
    for (size_t i = 0; i < s->nwatchers; i++)
        if (s->watchers[i].subscribed)
            return true;
    return false;
}

static void on_idle_timer(uv_timer_t *t);

static void arm_idle(gld_session *s, uint64_t ms)
{
    uv_timer_start(&s->idle_timer, on_idle_timer, ms, 0);
}

/* --idle-timeout: the real service limits concurrent sessions per key, and an idle connection
 * costs both sides; the handle keeps the conversation, so the next use resumes it. */
static void on_idle_timer(uv_timer_t *t)
{
    gld_session *s = t->data;
    uint64_t now = uv_now(s->d->loop), limit = s->d->cfg.idle_timeout_ms;
    if (s->state != SS_READY)
        return;
    if (in_use(s)) {
        arm_idle(s, limit);
        return;
    }
    if (now - s->last_activity < limit) {
        arm_idle(s, limit - (now - s->last_activity));
        return;
    }
    char why[96];
    snprintf(why, sizeof why, "unused for %u s: connection closed, the conversation is kept",
             (unsigned)(limit / 1000));
    fire(s, SE_IDLE_TIMEOUT, (sess_why){.reason = why});
}

/* min(max, min * 2^(attempt-1)), scaled by a random factor in [0.5, 1.0] so that many sessions
 * dropped together do not reconnect together. */
static unsigned backoff_ms(gld_session *s)
{
    const gld_config *c = &s->d->cfg;
    double d = c->backoff_min_ms;
    for (unsigned i = 1; i < s->attempt && d < c->backoff_max_ms; i++)
        d *= 2;
    if (d > c->backoff_max_ms)
        d = c->backoff_max_ms;
    unsigned short r = 0;
    RAND_bytes((unsigned char *)&r, sizeof r);
    return (unsigned)(d * (0.5 + 0.5 * r / 65535.0));
}

/* Opens a new connection (entry of connecting and reconnecting). Returns SE_REFUSED with *next
 * filled when it cannot even start (no key, a bad endpoint). */
static sess_event open_connection(gld_session *s, sess_why *next, char *buf, size_t bufsize)
{
    gld_daemon *d = s->d;
    gl_err err;
    if (!d->cfg.api_key[0] && gld_config_find_key(&d->cfg, &err) != 0) {
        snprintf(buf, bufsize, "%s", err.msg);
        *next = (sess_why){.reason = buf, .code = GL_E_NO_KEY};
        return SE_REFUSED;
    }
    /* The key goes in a header, as the Python SDK sends it: never in a URL that may be logged,
     * and checked at load (check_key in config.c) so it cannot break the request. */
    char url[2048], key_header[sizeof d->cfg.api_key + 32];
    snprintf(url, sizeof url, "%s/ws/google.ai.generativelanguage.%s.GenerativeService.BidiGenerateContent",
             d->cfg.endpoint, d->cfg.api_version);
    snprintf(key_header, sizeof key_header, "x-goog-api-key: %s", d->cfg.api_key);
    const char *const headers[] = {key_header, NULL};
    ws_client_opts o = {
        .url = url,
        .headers = headers,
        .tls = d->tls,
        .max_message = d->cfg.max_message,
        .ping_interval_ms = d->cfg.ping_interval_ms,
        .coalesce_ms = d->cfg.read_coalesce_ms,
        .pong_timeout_ms = d->cfg.pong_timeout_ms,
    };
    static const ws_handlers h = {on_ws_open, on_ws_message, on_ws_close};
    s->conn_resuming = s->handle != NULL;
    s->setup_sent = s->setup_stale = false;
    d->upstream.connects++;
    s->ws = d->net->connect(d->loop, &o, &h, s, &err);
    if (!s->ws) {
        snprintf(buf, bufsize, "%s", err.msg);
        *next = (sess_why){.reason = buf, .code = GL_E_UPSTREAM};
        return SE_REFUSED;
    }
    return SE_NONE;
}

/* Tells clients (a `state` event) and the log when the state they see changes, or when there is
 * a reason to give. */
static void announce_more(gld_session *s, sess_state from, const char *reason, json_t *more)
{
    const char *name = sess_state_public_name(s->state);
    if (!reason && strcmp(name, sess_state_public_name(from)) == 0) {
        json_decref(more);
        return;
    }
    log_info("session %s: %s%s%s", s->name, name, reason ? ": " : "", reason ? reason : "");
    json_t *f = json_pack("{s:s}", "state", name);
    if (reason)
        json_object_set_new(f, "reason", gl_json_text(reason));
    if (more)
        json_object_update(f, more);
    json_decref(more);
    emit_all(s, "state", f);
}

static void announce(gld_session *s, sess_state from, const char *reason)
{
    announce_more(s, from, reason, NULL);
}

/* The entry action of the state just entered (s->state) on event ev. Returns the event that
 * follows at once (SE_NONE if none), with *next. buf holds next's reason if it is made here. */
static sess_event enter(gld_session *s, sess_state from, sess_event ev, sess_why why, sess_why *next,
                        char *buf, size_t bufsize)
{
    switch (s->state) {
    case SS_CONNECTING:
    case SS_RECONNECTING:
        announce(s, from, why.reason);
        return open_connection(s, next, buf, bufsize);
    case SS_READY:
        s->attempt = 0;
        s->connected_at = s->last_activity = uv_now(s->d->loop);
        arm_idle(s, s->d->cfg.idle_timeout_ms);
        announce(s, from, why.reason);
        audio_backlog_flush(s);
        if (s->setup_stale) {
            *next = (sess_why){.reason = "tools changed"};
            return SE_REESTABLISH;
        }
        return SE_NONE;
    case SS_DRAINING:
        s->resume_why = ev == SE_GOAWAY ? "goAway: resuming on a new connection"
                                        : "tools changed: resuming with the new setup";
        log_info("session %s: draining: %s", s->name, why.reason ? why.reason : "");
        announce(s, from, why.reason);
        return s->turn_running ? SE_NONE : SE_TURN_IDLE;
    case SS_HANGING_UP:
        /* The old socket closes before the new one opens (the service has answered 1011 to a
         * resume while the old socket was still open). */
        announce(s, from, s->resume_why);
        s->d->net->close(s->ws, 1000, "");
        return SE_NONE;
    case SS_BACKOFF: {
        s->attempt++;
        unsigned delay = backoff_ms(s);
        snprintf(buf, bufsize, "%s; reconnecting in %u ms", why.reason ? why.reason : "connection lost",
                 delay);
        /* machine-readable too: a client waiting for its first answer can give up at once */
        announce_more(s, from, buf, json_pack("{s:I, s:I, s:b}", "retry_in_ms", (json_int_t)delay,
                                             "attempt", (json_int_t)s->attempt, "ever_ready",
                                             s->handle != NULL || s->turns_done > 0));
        uv_timer_start(&s->retry_timer, on_retry_timer, delay, 0);
        return SE_NONE;
    }
    case SS_PARKING:
        uv_timer_stop(&s->idle_timer);
        announce(s, from, why.reason);
        s->d->net->close(s->ws, 1000, "");
        return SE_NONE;
    case SS_CLOSED:
        announce(s, from, why.reason);
        fail_queue(s, why.code ? why.code : GL_E_UPSTREAM, why.reason ? why.reason : "closed");
        return SE_NONE;
    case SS_IDLE:
        announce(s, from, why.reason);
        return s->qlen ? SE_USE : SE_NONE; /* a prompt came while it was parking */
    case SS_GONE:
    case SS_COUNT:
        announce(s, from, why.reason);
        return SE_NONE;
    }
    return SE_NONE;
}

/* The one place a session changes state: looks the transition up in the table, logs it, and
 * runs the entry action, which may fire the next event at once (e.g. connecting -> closed when
 * there is no key). Events that do not apply in the current state are ignored. */
static void fire(gld_session *s, sess_event ev, sess_why why)
{
    char bufs[2][300];
    for (int hop = 0; ev != SE_NONE; hop ^= 1) {
        sess_state from = s->state, to = sess_fsm_next(from, ev);
        if (to == SS_COUNT) {
            log_debug("session %s: %s ignored while %s", s->name, sess_event_name(ev),
                      sess_state_name(from));
            return;
        }
        log_debug("session %s: %s --%s--> %s", s->name, sess_state_name(from), sess_event_name(ev),
                  sess_state_name(to));
        s->state = to;
        if (to != SS_READY) /* the idle timer measures time spent ready only */
            uv_timer_stop(&s->idle_timer);
        sess_why next = {0};
        ev = enter(s, from, ev, why, &next, bufs[hop], sizeof bufs[hop]);
        why = next;
    }
}

void gld_session_connect(gld_session *s) { fire(s, SE_USE, (sess_why){0}); }

/* ---- the state dir ---- */

static json_t *state_record(const gld_session *s)
{
    json_t *r = json_pack("{s:s, s:s, s:s, s:b, s:o, s:I, s:I}", "name", s->name, "model", s->model,
                          "modality", live_modality_name(s->modality), "compression", s->compression,
                          "extra_declarations", s->extra_decls ? json_incref(s->extra_decls) : json_array(),
                          "turns", (json_int_t)s->turns_done,
                          "owner_uid", (json_int_t)s->owner);
    if (s->keep_connected)
        json_object_set_new(r, "keep_connected", json_true());
    if (s->input_tx)
        json_object_set_new(r, "input_transcription", json_true());
    if (s->output_tx)
        json_object_set_new(r, "output_transcription", json_boolean(s->output_tx > 0));
    if (s->vad)
        json_object_set(r, "vad", s->vad);
    else if (s->vad_off)
        json_object_set_new(r, "vad", json_false());
    if (s->shared)
        json_object_set_new(r, "shared", json_true());
    if (s->tools)
        json_object_set(r, "tools", s->tools);
    if (s->generation_config)
        json_object_set(r, "generation_config", s->generation_config);
    if (s->system_instruction)
        json_object_set(r, "system_instruction", s->system_instruction);
    if (s->handle) {
        json_object_set_new(r, "handle", json_string(s->handle));
        json_object_set_new(r, "handle_time", json_integer((json_int_t)s->handle_time));
    }
    return r;
}

/* Saves the record now. A failed save (disk full, EMFILE, read-only) is retried with backoff
 * until it lands, and said: in the log, to the session's clients (an `error` event, code
 * persist, once per new reason) and in list/status (persist_error). Returns 0 if saved. */
static int save_state(gld_session *s)
{
    uv_timer_stop(&s->persist_timer);
    if (!s->d->cfg.state_dir[0])
        return 0;
    json_t *r = state_record(s);
    gl_err err;
    int rc = gld_persist_write(s->d->cfg.state_dir, s->name, r, &err);
    json_decref(r);
    if (rc == 0) {
        if (s->persist_error)
            log_info("session %s: saved to the state dir again", s->name);
        set_text(&s->persist_error, NULL, GL_ERR_MSG);
        s->persist_retry_ms = 0;
        return 0;
    }
    bool news = strcmp(s->persist_error ? s->persist_error : "", err.msg) != 0;
    set_text(&s->persist_error, err.msg, GL_ERR_MSG);
    s->persist_retry_ms = s->persist_retry_ms ? s->persist_retry_ms * 2 : PERSIST_DELAY_MS * 2;
    if (s->persist_retry_ms > PERSIST_RETRY_MAX_MS)
        s->persist_retry_ms = PERSIST_RETRY_MAX_MS;
    if (news) {
        log_error("session %s: cannot save state (retrying every %u ms at most %u s): %s", s->name,
                  PERSIST_DELAY_MS * 2, PERSIST_RETRY_MAX_MS / 1000, err.msg);
        emit_all(s, "error", json_pack("{s:s, s:o}", "code", GL_E_PERSIST, "message", gl_json_text(err.msg)));
    }
    return -1;
}

static void on_persist_timer(uv_timer_t *t)
{
    gld_session *s = t->data;
    if (save_state(s) != 0 && s->state != SS_GONE)
        uv_timer_start(&s->persist_timer, on_persist_timer, s->persist_retry_ms, 0);
}

void gld_session_flush_state(gld_session *s) { save_state(s); }

static void persist_soon(gld_session *s)
{
    if (s->d->cfg.state_dir[0] && !uv_is_active((uv_handle_t *)&s->persist_timer))
        uv_timer_start(&s->persist_timer, on_persist_timer, PERSIST_DELAY_MS, 0);
}

/* ---- lifecycle ---- */

/* generation_config with open's voice, language and media_resolution folded in (new ref). */
static json_t *merged_generation_config(const gld_session_config *cfg)
{
    if (!cfg->voice && !cfg->language && !cfg->media_resolution)
        return cfg->generation_config ? json_incref((json_t *)cfg->generation_config) : NULL;
    json_t *g = cfg->generation_config ? json_deep_copy(cfg->generation_config) : json_object();
    if (!json_is_object(g)) /* the normalizer says what is wrong with it */
        return g;
    json_t *speech = json_object_get(g, "speechConfig");
    if (!speech)
        speech = json_object_get(g, "speech_config");
    if (!json_is_object(speech) && (cfg->voice || cfg->language))
        json_object_set_new(g, "speechConfig", speech = json_object());
    if (cfg->voice)
        json_object_set_new(speech, "voiceConfig",
                            json_pack("{s:{s:s}}", "prebuiltVoiceConfig", "voiceName", cfg->voice));
    if (cfg->language)
        json_object_set_new(speech, "languageCode", json_string(cfg->language));
    if (cfg->media_resolution)
        json_object_set_new(g, "mediaResolution", json_string(cfg->media_resolution));
    return g;
}

/* open's vad: true (default), false (the client marks activity), or the settings. */
static int check_vad(const json_t *vad, json_t **settings, gl_err *err)
{
    *settings = NULL;
    if (!vad || json_is_boolean(vad))
        return 0;
    if (!json_is_object(vad))
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"vad\" must be a boolean or an object of "
                       "activity-detection settings");
    return live_normalize_activity_detection(vad, "vad", settings, err);
}

static void free_config(gld_session *s)
{
    json_decref(s->vad);
    json_decref(s->generation_config);
    json_decref(s->tools);
    json_decref(s->system_instruction);
    json_decref(s->extra_decls);
}

gld_session *gld_session_new(gld_daemon *d, const char *name, const gld_session_config *cfg,
                             gl_err *err)
{
    const char *model = cfg->model && *cfg->model ? cfg->model : d->cfg.model;
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    gld_session *s = gl_xcalloc(1, sizeof *s);
    if (!*model || strlen(model) >= sizeof s->model || strchr(model, '/')) {
        free(s);
        gl_fail(err, GL_E_BAD_REQUEST, "model name \"%s\" is not a model name", model);
        return NULL;
    }
    s->d = d;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->model, sizeof s->model, "%s", model);
    s->mi = gld_model_lookup(s->model);
    s->modality = cfg->modality;
    s->owner = cfg->owner;
    s->shared = cfg->shared;
    s->keep_connected = cfg->keep_connected;
    s->compression = cfg->compression_set ? cfg->compression : true;
    s->input_tx = cfg->input_transcription;
    s->output_tx = cfg->output_transcription;
    s->vad_off = json_is_false(cfg->vad) || json_is_true(json_object_get(cfg->vad, "disabled"));
    gl_buf_init(&s->audio_backlog, AUDIO_BACKLOG_MAX + AUDIO_REPLAY_MAX);
    gl_buf_init(&s->audio_sent, 0); /* bounded by audio_out */
    s->audio_end_at = SIZE_MAX;
    s->resume_why = "";
    json_t *gen = merged_generation_config(cfg);
    int rc = check_vad(cfg->vad, &s->vad, err);
    if (rc == 0 && gen)
        rc = live_normalize_generation_config(gen, "generation_config", &s->generation_config, err);
    json_decref(gen);
    if (rc == 0 && cfg->tools)
        rc = live_normalize_tools(cfg->tools, "tools", &s->tools, err);
    if (rc == 0 && cfg->system_instruction)
        rc = live_normalize_content(cfg->system_instruction, "system_instruction",
                                    &s->system_instruction, err);
    if (rc != 0) {
        free_config(s);
        free(s);
        return NULL;
    }
    gld_access acc = gld_session_access(s); /* only handlers that may serve it declare */
    json_t *registered = gld_tools_declarations_for(d, name, &acc); /* handlers that came first */
    size_t i;
    json_t *decl;
    json_array_foreach(registered, i, decl) {
        if (!declared(s, json_string_value(json_object_get(decl, "name"))))
            add_extra_decl(s, decl);
    }
    json_decref(registered);
    s->code_local = code_local(d, s->mi, s->tools);
    uv_timer_init(d->loop, &s->retry_timer);
    uv_timer_init(d->loop, &s->persist_timer);
    s->retry_timer.data = s->persist_timer.data = s;
    uv_timer_init(d->loop, &s->idle_timer);
    s->idle_timer.data = s;
    s->handles_open = 5;
    s->state = SS_IDLE;
    s->next = d->sessions;
    d->sessions = s;
    log_info("session %s: created (model %s, %s)", s->name, s->model, live_modality_name(s->modality));
    persist_soon(s);
    return s;
}

gld_session *gld_session_restore(gld_daemon *d, const json_t *rec, gl_err *err)
{
    const char *name = json_string_value(json_object_get(rec, "name"));
    const char *modality = json_string_value(json_object_get(rec, "modality"));
    if (!name || !gl_session_name_ok(name, err)) {
        gl_fail(err, "bad_state", "state record without a valid name");
        return NULL;
    }
    if (gld_session_find(d, name)) { /* one name, one session, whatever the state dir holds */
        gl_fail(err, "bad_state", "a session named %s exists already", name);
        return NULL;
    }
    gld_session_config cfg = {
        .model = json_string_value(json_object_get(rec, "model")),
        .tools = json_object_get(rec, "tools"),
        .generation_config = json_object_get(rec, "generation_config"),
        .system_instruction = json_object_get(rec, "system_instruction"),
        .compression = json_is_true(json_object_get(rec, "compression")),
        .compression_set = json_is_boolean(json_object_get(rec, "compression")),
        .keep_connected = json_is_true(json_object_get(rec, "keep_connected")),
        .input_transcription = json_is_true(json_object_get(rec, "input_transcription")),
        .output_transcription = !json_is_boolean(json_object_get(rec, "output_transcription")) ? 0
                                : json_is_true(json_object_get(rec, "output_transcription")) ? 1 : -1,
        .vad = json_object_get(rec, "vad"),
        .shared = json_is_true(json_object_get(rec, "shared")),
        .owner = json_is_integer(json_object_get(rec, "owner_uid"))
                     ? (uid_t)json_integer_value(json_object_get(rec, "owner_uid"))
                     : geteuid(),
    };
    if (modality && live_modality_parse(modality, &cfg.modality, "modality", err) != 0)
        return NULL;
    gld_session *s = gld_session_new(d, name, &cfg, err);
    if (!s)
        return NULL;
    size_t i;
    json_t *decl;
    json_array_foreach(json_object_get(rec, "extra_declarations"), i, decl) {
        const char *n = json_string_value(json_object_get(decl, "name"));
        if (n && !declared(s, n) && json_array_size(s->extra_decls) < GLD_MAX_HANDLER_DECLARATIONS)
            add_extra_decl(s, decl);
    }
    const char *h = json_string_value(json_object_get(rec, "handle"));
    if (h && *h) {
        s->handle = gl_xstrdup(h);
        s->handle_time = (time_t)json_integer_value(json_object_get(rec, "handle_time"));
    }
    s->turns_done = (unsigned long)json_integer_value(json_object_get(rec, "turns"));
    log_info("session %s: restored from the state dir (%s); it connects when used", s->name,
             s->handle ? "it resumes with its handle" : "no handle: a fresh conversation");
    if (s->keep_connected)
        gld_session_connect(s);
    return s;
}

void gld_session_set_keep_connected(gld_session *s, bool keep)
{
    if (s->keep_connected == keep)
        return;
    s->keep_connected = keep;
    log_info("session %s: %s", s->name, keep ? "kept connected from now on (keep_connected)"
                                             : "closes its connection when unused again (keep_connected off)");
    persist_soon(s);
    if (keep)
        gld_session_connect(s); /* an idle or parked session connects now */
    else if (s->state == SS_READY)
        arm_idle(s, s->d->cfg.idle_timeout_ms);
}

static bool asks_code_execution(const json_t *tools)
{
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool)
        if (json_object_get(tool, "codeExecution") || json_object_get(tool, "code_execution"))
            return true;
    return false;
}

/* --code-exec: auto runs code here exactly where the model has no code execution. */
static bool code_local(const gld_daemon *d, const gld_model_info *mi, const json_t *tools)
{
    if (!asks_code_execution(tools))
        return false;
    switch (d->cfg.code_exec) {
    case GLD_CODE_EXEC_LOCAL:
        return true;
    case GLD_CODE_EXEC_AUTO:
        return !mi->code_execution;
    default:
        return false;
    }
}

int gld_session_config_check(const gld_daemon *d, const gld_session_config *cfg, gl_err *err)
{
    if (d->cfg.code_exec == GLD_CODE_EXEC_OFF && asks_code_execution(cfg->tools))
        return gl_fail(err, GL_E_BAD_REQUEST, "code execution is turned off on this gliveD "
                       "(--code-exec off): remove the code_execution tool");
    const char *model = cfg->model && *cfg->model ? cfg->model : d->cfg.model;
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    if (!*model || strlen(model) >= sizeof ((gld_session *)0)->model || strchr(model, '/'))
        return gl_fail(err, GL_E_BAD_REQUEST, "model name \"%s\" is not a model name", model);
    json_t *t = NULL, *gen = merged_generation_config(cfg);
    int rc = check_vad(cfg->vad, &t, err);
    json_decref(t);
    t = NULL;
    if (rc == 0 && gen)
        rc = live_normalize_generation_config(gen, "generation_config", &t, err);
    json_decref(gen);
    json_decref(t);
    t = NULL;
    if (rc == 0 && cfg->tools)
        rc = live_normalize_tools(cfg->tools, "tools", &t, err);
    json_decref(t);
    t = NULL;
    if (rc == 0 && cfg->system_instruction)
        rc = live_normalize_content(cfg->system_instruction, "system_instruction", &t, err);
    json_decref(t);
    return rc;
}

static bool json_same(const json_t *a, const json_t *b)
{
    return (!a && !b) || (a && b && json_equal(a, b));
}

bool gld_session_config_matches(const gld_session *s, const gld_session_config *cfg)
{
    bool same = true;
    if (cfg->model && *cfg->model) {
        const char *m = strncmp(cfg->model, "models/", 7) == 0 ? cfg->model + 7 : cfg->model;
        same = same && strcmp(m, s->model) == 0;
    }
    same = same && (!cfg->modality_set || cfg->modality == s->modality);
    same = same && (!cfg->compression_set || cfg->compression == s->compression);
    same = same && (!cfg->shared_set || cfg->shared == s->shared);
    gl_err err;
    json_t *t = NULL;
    if (same && cfg->tools) {
        if (live_normalize_tools(cfg->tools, "tools", &t, &err) != 0)
            return false;
        same = json_same(t, s->tools);
        json_decref(t);
    }
    if (same && cfg->generation_config) {
        if (live_normalize_generation_config(cfg->generation_config, "generation_config", &t, &err) != 0)
            return false;
        same = json_same(t, s->generation_config);
        json_decref(t);
    }
    if (same && cfg->system_instruction) {
        if (live_normalize_content(cfg->system_instruction, "system_instruction", &t, &err) != 0)
            return false;
        same = json_same(t, s->system_instruction);
        json_decref(t);
    }
    return same;
}

bool gld_session_client_busy(const gld_session *s, const ipc_client *c)
{
    if (s->turn_running && s->cur.sender == c)
        return true;
    for (size_t i = 0; i < s->qlen; i++)
        if (s->queue[i].sender == c)
            return true;
    for (size_t i = 0; i < s->nfollowups; i++)
        if (s->followups[i].asker == c)
            return true;
    return gld_calls_asked_by(s->calls, c) || gld_coderun_asked_by(s->code, c);
}

void gld_session_client_gone(gld_session *s, ipc_client *c)
{
    watcher *w = find_watcher(s, c);
    if (w)
        *w = s->watchers[--s->nwatchers];
    /* A prompt whose client went away before it was sent is dropped, not sent later (the
     * client gave up on it: ask timed out, the user pressed ^C, the service was unreachable). */
    size_t kept = 0;
    for (size_t i = 0; i < s->qlen; i++) {
        if (s->queue[i].sender == c) {
            log_info("session %s: dropping prompt %ld: its client left before it was sent", s->name,
                     s->queue[i].no);
            turn_free(&s->queue[i]);
        } else {
            s->queue[kept++] = s->queue[i];
        }
    }
    s->qlen = kept;
    if (s->turn_running && s->cur.sender == c)
        s->cur.sender = NULL;
    flow_check(s); /* it may have been the asker the session waited for */
    if (s->audio_client == c)
        s->audio_client = NULL;
    for (size_t i = 0; i < s->nfollowups; i++)
        if (s->followups[i].asker == c)
            s->followups[i].asker = NULL;
    gld_calls_client_gone(s->calls, c);
    gld_coderun_client_gone(s->code, c);
}

static void on_handle_closed(void *ud)
{
    gld_session *s = ud;
    if (--s->handles_open == 0) {
        free(s->watchers);
        free(s->followups);
        free(s);
    }
}

static void on_timer_closed(uv_handle_t *h) { on_handle_closed(h->data); }

/* The last step of a closing session (its connection is gone). */
static void session_free(gld_session *s)
{
    free_config(s);
    for (size_t i = 0; i < s->qlen; i++)
        turn_free(&s->queue[i]);
    free(s->queue);
    free(s->handle);
    free(s->last_close);
    free(s->server_session_id);
    free(s->persist_error);
    free(s->notice);
    gld_resampler_free(s->rs);
    gl_buf_free(&s->audio_backlog);
    gl_buf_free(&s->audio_sent);
    if (s->calls)
        gld_calls_free(s->calls, on_handle_closed, s);
    else
        s->handles_open--; /* no table to wait for */
    if (s->code)
        gld_coderun_free(s->code, on_handle_closed, s); /* after its programs have ended */
    else
        s->handles_open--; /* no table to wait for */
    uv_close((uv_handle_t *)&s->retry_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->persist_timer, on_timer_closed);
    uv_close((uv_handle_t *)&s->idle_timer, on_timer_closed);
}

void gld_session_close(gld_session *s, const char *reason, bool forget)
{
    if (s->state == SS_GONE)
        return;
    if (forget && s->d->cfg.state_dir[0]) {
        gl_err err;
        uv_timer_stop(&s->persist_timer);
        if (gld_persist_remove(s->d->cfg.state_dir, s->name, &err) != 0)
            log_warn("session %s: %s", s->name, err.msg);
    } else if (uv_is_active((uv_handle_t *)&s->persist_timer)) {
        gld_session_flush_state(s);
    }
    abort_running_turn(s, reason, false); /* no retry is promised for a session that ends */
    fail_queue(s, GL_E_CLOSED, reason);
    gld_calls_cancel_all(s->calls, reason);
    fire(s, SE_CLOSE, (sess_why){.reason = reason});
    flow_check(s); /* gone: waits for nobody */
    s->nwatchers = 0; /* told; a closing session speaks to nobody (its clients may go first) */
    for (gld_session **p = &s->d->sessions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    uv_timer_stop(&s->retry_timer);
    uv_timer_stop(&s->persist_timer);
    uv_timer_stop(&s->idle_timer);
    if (s->ws)
        s->d->net->close(s->ws, 1000, ""); /* on_ws_close frees */
    else
        session_free(s);
}

json_t *gld_session_info(const gld_session *s)
{
    unsigned subs = 0;
    for (size_t i = 0; i < s->nwatchers; i++)
        subs += s->watchers[i].subscribed;
    uint64_t now = uv_now(s->d->loop);
    bool ready = s->state == SS_READY || s->state == SS_DRAINING;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:i, s:i, s:I, s:I, s:b}",
                          "session", s->name, "state", sess_state_public_name(s->state), "model", s->model,
                          "modality", live_modality_name(s->modality), "turns", (json_int_t)s->turns_done,
                          "queued", (json_int_t)s->qlen, "turn_running", s->turn_running,
                          "subscribers", (int)subs, "pending_tool_calls", (int)gld_calls_pending(s->calls),
                          "reconnects", (json_int_t)s->reconnects, "goaways", (json_int_t)s->goaways,
                          "compression", s->compression);
    if (s->keep_connected)
        json_object_set_new(o, "keep_connected", json_true());
    if (s->held)
        json_object_set_new(o, "waiting_for_client", json_integer(ipc_client_id(s->held)));
    json_object_set_new(o, "flow_waits", json_integer((json_int_t)s->waits));
    json_object_set_new(o, "tokens", json_integer((json_int_t)s->tokens));
    json_object_set_new(o, "last_activity_s",
                        s->last_activity ? json_integer((json_int_t)((now - s->last_activity) / 1000)) : json_null());
    json_object_set_new(o, "connection_age_s", ready ? json_real((double)(now - s->connected_at) / 1000)
                                                     : json_null());
    json_object_set_new(o, "handle_age_s", s->handle ? json_integer((json_int_t)(time(NULL) - s->handle_time))
                                                     : json_null());
    if (s->last_goaway_at)
        json_object_set_new(o, "last_goaway", json_pack("{s:f, s:I}", "seconds_ago",
                                                        (double)(now - s->last_goaway_at) / 1000,
                                                        "time_left_ms", (json_int_t)s->last_goaway_left_ms));
    if (s->last_close)
        json_object_set_new(o, "last_close", gl_json_text(s->last_close));
    if (s->notice)
        json_object_set_new(o, "notice", gl_json_text(s->notice));
    if (s->server_session_id)
        json_object_set_new(o, "session_id", gl_json_text(s->server_session_id));
    if (s->persist_error)
        json_object_set_new(o, "persist_error", gl_json_text(s->persist_error));
    if (asks_code_execution(s->tools))
        json_object_set_new(o, "code_execution", json_string(s->code_local ? "local" : "server"));
    if (json_array_size(s->extra_decls)) {
        json_t *names = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(s->extra_decls, i, d)
            json_array_append(names, json_object_get(d, "name"));
        json_object_set_new(o, "handler_functions", names);
    }
    return o;
}
