/* One emu_conn per websocket: authenticates like the real service, enforces setup-first and the
 * model rules, feeds prompts and tool responses to the scripted model, and runs the actions it
 * returns in order on a timer. Every client message is logged for tests (/emulator/log). */
#include "emulator/server.h"

#include <math.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "emulator/hear.h"
#include "emulator/media.h"
#include "emulator/rules.h"
#include "emulator/strict.h"
#include "transport/ws.h"

#define MAX_HANDLES 20000
#define HANDLE_TTL_MS (2 * 3600 * 1000) /* the real service keeps handles 2 h */
#define MAX_PENDING_TEXT (1u << 20)
/* A stream refills the connection's queue up to this many bytes: above the transport's write
 * high-water mark (256 KiB), so the socket never waits for us, yet bounded in memory. */
#define STREAM_QUEUE_HIGH (1u << 20)
/* Spoken turns that end while the model answers under NO_INTERRUPTION wait for it, in order;
 * beyond this many the oldest is dropped (logged), so a client talking over the model for ever
 * cannot grow memory. */
#define MAX_PENDING_VOICE 8
/* Activity detection when the setup does not say (realtimeInputConfig, docs/emulator-script.md
 * "Spoken input"): the emulator's own choices, the service does not document its defaults. */
#define VAD_SPEECH_DB (-45.0)      /* START_SENSITIVITY_HIGH: -55, LOW: -35 */
#define VAD_SILENCE_MS 500         /* END_SENSITIVITY_HIGH: 300, LOW: 800 */
#define VAD_PREFIX_MS 40

typedef struct emu_handle {
    char id[48];
    json_t *history;
    char model[128];
    uint64_t expires_at;
} emu_handle;

typedef struct emu_conn emu_conn;

struct emu_server {
    uv_loop_t *loop;
    emu_config cfg;
    ws_server *ws;
    emu_conn *conns;
    unsigned next_conn_id;
    /* stats */
    unsigned long connections_total, setups, resumed, rejected, turns, followups, tool_responses,
        unknown_tool_ids, interrupts, goaways, lifetime_cuts;
    unsigned long msgs_by_kind[6];
    /* log of client messages: a bounded ring */
    json_t **log;          /* ring of log_cap entries; entry seq lives at log[seq % log_cap] */
    size_t log_cap;
    unsigned long log_seq; /* sequence number of the next entry */
    bool stopping;
    emu_handle *handles;  /* ring of MAX_HANDLES */
    size_t nhandles, handle_next;
};

enum conn_phase { PH_AWAIT_SETUP, PH_ACTIVE, PH_CLOSING };

struct emu_conn {
    emu_server *srv;
    ws_conn *ws;
    unsigned id;
    enum conn_phase phase;
    emu_session *model;
    emu_model_rules rules;
    bool resumption;
    bool turn_running;
    bool stalled;
    json_t *await_ids;     /* ids still unanswered, or NULL */
    emu_actions acts;
    size_t next_act;
    uv_timer_t act_timer;  /* DELAY */
    uv_timer_t life_timer; /* goAway, then the lifetime cut */
    uv_check_t stream_check; /* an unpaced stream refills the queue after each loop turn */
    struct {
        bool active;
        emu_stream spec;
        uint64_t sent;
        uint64_t t0;         /* uv_hrtime() at the start: a paced stream's schedule */
    } stream;
    bool goaway_sent;
    int timers_open;
    emu_hear_cfg vad;      /* from realtimeInputConfig.automaticActivityDetection */
    bool barge_in;         /* activityHandling START_OF_ACTIVITY_INTERRUPTS (the default) */
    emu_hear *hear;        /* created with the first audio or activityStart */
    struct pending_voice {
        char *phrase;      /* NULL: not recognised */
        unsigned ms;
    } voice_queue[MAX_PENDING_VOICE]; /* spoken turns waiting for the model (NO_INTERRUPTION) */
    size_t nvoice;
    char *pending_text;    /* clientContent turns with turnComplete:false */
    char model_name[128];
    const char *auth_error; /* static text: the close that follows the upgrade */
    int auth_code;
    emu_conn *next, *prev;
};

static void run_actions(emu_conn *c);
static void stream_stop(emu_conn *c);

static unsigned scaled(const emu_server *s, unsigned ms)
{
    double v = ms * s->cfg.time_scale;
    return v < 0 ? 0 : (unsigned)llround(v);
}

/* ---- logging of client messages (what tests assert on) ---- */

static void log_event(emu_server *s, emu_conn *c, const char *kind, json_t *detail)
{
    json_t *e = json_pack("{s:I, s:i, s:s}", "seq", (json_int_t)s->log_seq++, "conn",
                          c ? (int)c->id : 0, "kind", kind);
    if (detail)
        json_object_update(e, detail);
    json_decref(detail);
    json_t **slot = &s->log[(s->log_seq - 1) % s->log_cap]; /* the oldest entry gives way */
    json_decref(*slot);
    *slot = e;
}

/* ---- sending ---- */

static void send_json(emu_conn *c, json_t *msg)
{
    char *txt = json_dumps(msg, JSON_COMPACT); /* an object we built: only memory could fail it */
    gl_err err;
    if (ws_send(c->ws, WS_BINARY, txt, strlen(txt), &err) != 0)
        log_debug("conn %u: send failed: %s", c->id, err.msg);
    free(txt);
}

static void close_conn(emu_conn *c, int code, const char *reason)
{
    if (c->phase == PH_CLOSING)
        return;
    c->phase = PH_CLOSING;
    log_event(c->srv, c, "server_close", json_pack("{s:i, s:s}", "code", code, "reason", reason));
    log_info("conn %u: close %d %s", c->id, code, reason);
    ws_close(c->ws, code, reason);
}

/* Closes with 1007 like the real service's argument errors; reason cut to the frame limit. */
static void close_invalid(emu_conn *c, const char *reason) { close_conn(c, 1007, reason); }

/* ---- resumption handles ---- */

static emu_handle *handle_find(emu_server *s, const char *id)
{
    uint64_t now = uv_now(s->loop);
    for (size_t i = 0; i < s->nhandles; i++)
        if (strcmp(s->handles[i].id, id) == 0)
            return s->handles[i].expires_at > now ? &s->handles[i] : NULL;
    return NULL;
}

static void issue_handle(emu_conn *c)
{
    emu_server *s = c->srv;
    emu_handle *h = &s->handles[s->handle_next];
    json_decref(h->history);
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    char id[48] = "emu-";
    for (int i = 0; i < 16; i++)
        snprintf(id + 4 + 2 * i, 3, "%02x", raw[i]);
    snprintf(h->id, sizeof h->id, "%s", id);
    h->history = emu_session_history(c->model);
    snprintf(h->model, sizeof h->model, "%s", c->model_name);
    h->expires_at = uv_now(s->loop) + HANDLE_TTL_MS;
    s->handle_next = (s->handle_next + 1) % MAX_HANDLES;
    if (s->nhandles < MAX_HANDLES)
        s->nhandles++;
    json_t *m = json_pack("{s:{s:s, s:b}}", "sessionResumptionUpdate", "newHandle", id, "resumable", 1);
    send_json(c, m);
    json_decref(m);
}

/* ---- turns ---- */

static void start_followup(emu_conn *c);
static bool start_queued_voice(emu_conn *c);

static void end_of_batch(emu_conn *c)
{
    emu_actions_free(&c->acts);
    c->next_act = 0;
    if (c->await_ids)
        return; /* waiting for tool responses: the turn goes on */
    c->turn_running = false;
    if (c->resumption && c->phase == PH_ACTIVE)
        issue_handle(c);
    /* what the user said meanwhile (NO_INTERRUPTION) comes before the answers to NON_BLOCKING
     * calls, which wait for the model to be idle */
    if (!start_queued_voice(c))
        start_followup(c);
}

/* Drops the rest of a running turn because new input interrupts it. */
static void interrupt_turn(emu_conn *c)
{
    if (!c->turn_running)
        return;
    c->srv->interrupts++;
    uv_timer_stop(&c->act_timer);
    stream_stop(c);
    json_t *pending = emu_session_pending_calls(c->model);
    if (json_array_size(pending)) {
        json_t *m = json_pack("{s:{s:O}}", "toolCallCancellation", "ids", pending);
        send_json(c, m);
        json_decref(m);
        emu_session_cancel_pending(c->model);
    }
    json_decref(pending);
    json_t *m = json_pack("{s:{s:b}}", "serverContent", "interrupted", 1);
    send_json(c, m);
    json_decref(m);
    m = json_pack("{s:{s:b}}", "serverContent", "turnComplete", 1);
    send_json(c, m);
    json_decref(m);
    json_decref(c->await_ids);
    c->await_ids = NULL;
    emu_actions_free(&c->acts);
    c->next_act = 0;
    c->turn_running = false;
}

static void start_prompt(emu_conn *c, const char *text)
{
    interrupt_turn(c);
    c->srv->turns++;
    c->turn_running = true;
    emu_session_prompt(c->model, text, &c->acts);
    c->next_act = 0;
    run_actions(c);
}

/* A generation no prompt started: the answer to a NON_BLOCKING call that is ready. Only when no
 * turn runs (an INTERRUPT answer cuts the running one first). */
static void start_followup(emu_conn *c)
{
    if (c->turn_running || c->phase != PH_ACTIVE || c->stalled ||
        !emu_session_has_followup(c->model))
        return;
    c->srv->followups++;
    c->turn_running = true;
    emu_actions_free(&c->acts);
    emu_session_followup(c->model, &c->acts);
    c->next_act = 0;
    run_actions(c);
}

static void start_voice_turn(emu_conn *c, const char *phrase, unsigned ms)
{
    interrupt_turn(c);
    c->srv->turns++;
    c->turn_running = true;
    emu_actions_free(&c->acts);
    emu_session_voice_turn(c->model, phrase, ms, &c->acts);
    c->next_act = 0;
    run_actions(c);
}

/* The oldest spoken turn that waited for the model, if any and if the model is idle. */
static bool start_queued_voice(emu_conn *c)
{
    if (c->turn_running || c->phase != PH_ACTIVE || c->stalled || c->nvoice == 0)
        return false;
    struct pending_voice v = c->voice_queue[0];
    memmove(c->voice_queue, c->voice_queue + 1, --c->nvoice * sizeof *c->voice_queue);
    start_voice_turn(c, v.phrase, v.ms);
    free(v.phrase);
    return true;
}

static void on_act_timer(uv_timer_t *t)
{
    emu_conn *c = t->data;
    run_actions(c);
}

static void on_life_timer(uv_timer_t *t);

static void send_goaway(emu_conn *c, unsigned ms)
{
    char left[32];
    snprintf(left, sizeof left, "%us", (ms + 999) / 1000);
    if (ms % 1000)
        snprintf(left, sizeof left, "%.3fs", ms / 1000.0);
    json_t *m = json_pack("{s:{s:s}}", "goAway", "timeLeft", left);
    send_json(c, m);
    json_decref(m);
    c->goaway_sent = true;
    c->srv->goaways++;
    log_event(c->srv, c, "server_goaway", json_pack("{s:s}", "timeLeft", left));
}

/* ---- streams (the "stream" step, emulator/stream.h) ---- */

static void stream_stop(emu_conn *c)
{
    if (!c->stream.active)
        return;
    c->stream.active = false;
    uv_check_stop(&c->stream_check);
    uv_timer_stop(&c->act_timer);
}

/* Sends what is due: unpaced, until the queue is full; paced, every message whose time has
 * come. Returns true when the last message is queued. */
static bool stream_pump(emu_conn *c)
{
    const emu_stream *sp = &c->stream.spec;
    uint64_t due = sp->count;
    if (sp->rate) {
        uint64_t elapsed = uv_hrtime() - c->stream.t0;
        uint64_t n = elapsed / 1000 * sp->rate / 1000000 + 1;
        due = n < due ? n : due;
    }
    char buf[EMU_STREAM_MSG_MAX];
    while (c->stream.sent < due && c->phase == PH_ACTIVE &&
           (sp->rate || ws_queued_bytes(c->ws) < STREAM_QUEUE_HIGH)) {
        /* the stamp is taken as the message is made, right before it is queued */
        size_t n = emu_stream_msg(sp, c->stream.sent, uv_hrtime(), buf);
        gl_err err;
        if (ws_send(c->ws, WS_BINARY, buf, n, &err) != 0) {
            log_debug("conn %u: stream send failed: %s", c->id, err.msg);
            stream_stop(c);
            return false;
        }
        c->stream.sent++;
    }
    return c->stream.sent >= sp->count;
}

static void stream_step(emu_conn *c)
{
    if (c->phase != PH_ACTIVE) /* closing: the rest of the stream is dropped */
        stream_stop(c);
    if (!c->stream.active)
        return;
    if (stream_pump(c)) {
        stream_stop(c);
        run_actions(c);
    }
}

static void on_stream_check(uv_check_t *h) { stream_step(h->data); }
static void on_stream_timer(uv_timer_t *t) { stream_step(t->data); }

/* Starts a stream; returns true if it is already all queued (a short one). */
static bool stream_start(emu_conn *c, const emu_stream *sp)
{
    c->stream.active = true;
    c->stream.spec = *sp;
    c->stream.sent = 0;
    c->stream.t0 = uv_hrtime();
    if (stream_pump(c)) {
        c->stream.active = false;
        return true;
    }
    if (!c->stream.active)
        return false;
    if (sp->rate) {
        uint64_t every = 1000 / sp->rate;
        uv_timer_start(&c->act_timer, on_stream_timer, every ? every : 1, every ? every : 1);
    } else {
        uv_check_start(&c->stream_check, on_stream_check);
    }
    return false;
}

/* Runs actions until one has to wait (delay, tool responses) or the batch is done. */
static void run_actions(emu_conn *c)
{
    while (c->phase == PH_ACTIVE && !c->stalled && c->next_act < c->acts.len) {
        emu_action *a = &c->acts.v[c->next_act++];
        switch (a->kind) {
        case EMU_ACT_SEND: {
            send_json(c, a->msg);
            /* speech takes its own time to say: the next message waits for the playback of this
             * one's audio, which is the window in which the user can barge in */
            unsigned ms = a->ms ? scaled(c->srv, a->ms) : 0;
            if (ms) {
                uv_timer_start(&c->act_timer, on_act_timer, ms, 0);
                return;
            }
            break;
        }
        case EMU_ACT_DELAY: {
            unsigned ms = scaled(c->srv, a->ms);
            if (ms) {
                uv_timer_start(&c->act_timer, on_act_timer, ms, 0);
                return;
            }
            break;
        }
        case EMU_ACT_AWAIT_TOOL:
            json_decref(c->await_ids);
            c->await_ids = json_deep_copy(a->ids);
            break;
        case EMU_ACT_CLOSE:
            close_conn(c, a->code, a->text);
            return;
        case EMU_ACT_DROP:
            log_event(c->srv, c, "server_drop", NULL);
            c->phase = PH_CLOSING;
            ws_abort(c->ws, "scripted drop");
            return;
        case EMU_ACT_RAW:
            ws_send(c->ws, WS_BINARY, a->text, strlen(a->text), NULL);
            break;
        case EMU_ACT_OVERSIZE: {
            size_t n = a->n < 16 ? 16 : a->n;
            char *big = gl_xmalloc(n);
            memset(big, ' ', n);
            memcpy(big, "{\"serverContent\"", 16);
            ws_send(c->ws, WS_BINARY, big, n, NULL);
            free(big);
            break;
        }
        case EMU_ACT_STALL:
            log_event(c->srv, c, "server_stall", NULL);
            c->stalled = true;
            ws_stall(c->ws);
            return;
        case EMU_ACT_GOAWAY:
            send_goaway(c, scaled(c->srv, a->ms)); /* what the client will see */
            uv_timer_stop(&c->life_timer);
            uv_timer_start(&c->life_timer, on_life_timer, scaled(c->srv, a->ms), 0);
            break;
        case EMU_ACT_STREAM:
            if (!stream_start(c, &a->stream))
                return; /* stream_step() resumes the actions after its last message */
            break;
        }
    }
    if (c->phase == PH_ACTIVE && c->next_act >= c->acts.len && c->acts.len)
        end_of_batch(c);
}

/* The lifetime cap: goAway first, then the cut, like the real service. */
/* The connection lifetime and how long before its end the goAway comes, in ms. */
static void lifetime_ms(const emu_config *cfg, unsigned *life, unsigned *before)
{
    *life = cfg->lifetime_ms ? cfg->lifetime_ms : 600000;
    *before = cfg->goaway_before_ms ? cfg->goaway_before_ms
                                    : (*life / 6 < 60000 ? *life / 6 : 60000);
}

static void on_life_timer(uv_timer_t *t)
{
    emu_conn *c = t->data;
    if (c->phase != PH_ACTIVE)
        return;
    if (!c->goaway_sent) {
        unsigned life, before;
        lifetime_ms(&c->srv->cfg, &life, &before);
        send_goaway(c, before);
        uv_timer_start(&c->life_timer, on_life_timer, before, 0);
        return;
    }
    c->srv->lifetime_cuts++;
    close_conn(c, 1011, "Deadline expired before operation could complete.");
}

/* ---- client messages ---- */

static const char *model_bare(const char *m) { return strncmp(m, "models/", 7) == 0 ? m + 7 : m; }

static bool str_is(const json_t *v, const char *s)
{
    return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* realtimeInputConfig: how spoken turns are cut (emulator/hear.h) and whether speech cuts the
 * model's answer. Enums arrive in their canonical spelling (strict.c normalizes them). */
static void realtime_config(emu_conn *c, const json_t *setup)
{
    const json_t *rc = json_object_get(setup, "realtimeInputConfig");
    const json_t *aad = json_object_get(rc, "automaticActivityDetection");
    const json_t *start = json_object_get(aad, "startOfSpeechSensitivity");
    const json_t *end = json_object_get(aad, "endOfSpeechSensitivity");
    json_int_t silence = json_integer_value(json_object_get(aad, "silenceDurationMs"));
    json_int_t prefix = json_integer_value(json_object_get(aad, "prefixPaddingMs"));
    c->vad.manual = json_is_true(json_object_get(aad, "disabled"));
    c->vad.speech_db = str_is(start, "START_SENSITIVITY_HIGH") ? VAD_SPEECH_DB - 10
                       : str_is(start, "START_SENSITIVITY_LOW") ? VAD_SPEECH_DB + 10
                                                                : VAD_SPEECH_DB;
    c->vad.silence_ms = silence > 0 ? (unsigned)silence
                        : str_is(end, "END_SENSITIVITY_HIGH") ? 300
                        : str_is(end, "END_SENSITIVITY_LOW")  ? 800
                                                              : VAD_SILENCE_MS;
    c->vad.prefix_ms = prefix > 0 ? (unsigned)prefix : VAD_PREFIX_MS;
    c->barge_in = !str_is(json_object_get(rc, "activityHandling"), "NO_INTERRUPTION");
}

static void handle_setup(emu_conn *c, json_t *body)
{
    emu_server *s = c->srv;
    const char *model = json_string_value(json_object_get(body, "model"));
    emu_model_rules_for(model, &c->rules);
    if (!c->rules.known) {
        char reason[256];
        snprintf(reason, sizeof reason,
                 "models/%s is not found for API version v1beta, or is not supported for "
                 "bidiGenerateContent. Call ListModels to see the list of available models",
                 model_bare(model));
        close_conn(c, 1008, reason);
        return;
    }
    char why[128];
    if (emu_model_check_setup(&c->rules, body, why, sizeof why)) {
        close_invalid(c, why);
        return;
    }
    snprintf(c->model_name, sizeof c->model_name, "%s", model_bare(model));
    realtime_config(c, body);
    json_t *sr = json_object_get(body, "sessionResumption");
    emu_handle *h = NULL;
    const char *hid = json_string_value(json_object_get(sr, "handle"));
    if (hid && *hid) {
        h = handle_find(s, hid);
        if (!h) {
            close_conn(c, 1008, "Session resumption handle is invalid or has expired.");
            return;
        }
        if (strcmp(h->model, c->model_name) != 0) {
            close_invalid(c, "Session resumption handle belongs to another model.");
            return;
        }
    }
    json_t *names = json_array(); /* what the tests want to know about each setup */
    size_t ti, fi;
    json_t *tool, *fd;
    json_array_foreach(json_object_get(body, "tools"), ti, tool) {
        json_array_foreach(json_object_get(tool, "functionDeclarations"), fi, fd)
            json_array_append(names, json_object_get(fd, "name"));
        if (json_object_get(tool, "codeExecution"))
            json_array_append_new(names, json_string("code_execution"));
        if (json_object_get(tool, "googleSearch"))
            json_array_append_new(names, json_string("google_search"));
    }
    json_t *detail =
        json_pack("{s:s, s:b, s:b, s:b, s:o, s:O?}", "model", c->model_name, "resumption", sr != NULL,
                  "resumed", h != NULL, "compression",
                  json_object_get(body, "contextWindowCompression") != NULL, "functions", names,
                  "modalities", json_object_get(json_object_get(body, "generationConfig"),
                                                "responseModalities"));
    /* how spoken turns will be cut, for tests of realtimeInputConfig */
    json_object_set_new(detail, "activity_detection",
                        c->vad.manual ? json_string("manual")
                                      : json_pack("{s:f, s:i, s:i}", "speech_db", c->vad.speech_db,
                                                  "silence_ms", (int)c->vad.silence_ms,
                                                  "prefix_ms", (int)c->vad.prefix_ms));
    json_object_set_new(detail, "barge_in", json_boolean(c->barge_in));
    log_event(s, c, "session", detail);
    c->model = emu_session_new(s->cfg.script, body);
    emu_session_set_time_scale(c->model, s->cfg.time_scale);
    if (h) {
        emu_session_restore(c->model, h->history);
        s->resumed++;
    }
    c->resumption = sr != NULL;
    c->phase = PH_ACTIVE;
    s->setups++;
    json_t *done = json_pack("{s:{}}", "setupComplete");
    if (s->cfg.session_id || emu_script_session_id(s->cfg.script)) { /* as Vertex does */
        char sid[40];
        snprintf(sid, sizeof sid, "emu-session-%lu", s->setups);
        json_object_set_new(json_object_get(done, "setupComplete"), "sessionId", json_string(sid));
    }
    send_json(c, done);
    json_decref(done);
    if (c->resumption)
        issue_handle(c);
    unsigned life, before;
    lifetime_ms(&s->cfg, &life, &before);
    uv_timer_start(&c->life_timer, on_life_timer, life > before ? life - before : 0, 0);
}

/* Text of the last user turn's parts. */
static char *turns_text(json_t *turns)
{
    size_t i, j;
    json_t *t, *p;
    size_t cap = 0;
    json_array_foreach(turns, i, t) {
        json_array_foreach(json_object_get(t, "parts"), j, p) {
            const char *s = json_string_value(json_object_get(p, "text"));
            if (s)
                cap += strlen(s) + 1;
        }
    }
    char *out = gl_xcalloc(1, cap + 1);
    json_array_foreach(turns, i, t) {
        const char *role = json_string_value(json_object_get(t, "role"));
        if (role && strcmp(role, "user") != 0)
            continue;
        json_array_foreach(json_object_get(t, "parts"), j, p) {
            const char *s = json_string_value(json_object_get(p, "text"));
            if (s) {
                if (*out)
                    strcat(out, "\n");
                strcat(out, s);
            }
        }
    }
    return out;
}

static bool on_image(emu_conn *c, const json_t *blob, const char *field, const char *via);

static void handle_client_content(emu_conn *c, json_t *body)
{
    if (c->rules.client_content_only_initial && emu_session_turns(c->model) > 0) {
        close_invalid(c, "Request contains an invalid argument.");
        return;
    }
    /* pictures in the content come before its text, so "what is on this picture?" sees them */
    size_t i, j;
    json_t *t, *p;
    json_array_foreach(json_object_get(body, "turns"), i, t) {
        json_array_foreach(json_object_get(t, "parts"), j, p) {
            json_t *blob = json_object_get(p, "inlineData");
            const char *mime = json_string_value(json_object_get(blob, "mimeType"));
            if (emu_media_image_type(mime) && /* other types are not looked at */
                !on_image(c, blob, "client_content.turns.parts.inline_data", "clientContent"))
                return;
        }
    }
    char *text = turns_text(json_object_get(body, "turns"));
    log_event(c->srv, c, "prompt", json_pack("{s:s, s:s}", "via", "clientContent", "text", text));
    if (c->pending_text) { /* earlier turnComplete:false content comes first */
        size_t n = strlen(c->pending_text) + strlen(text) + 2;
        if (n > MAX_PENDING_TEXT) {
            free(text);
            close_invalid(c, "Request contains an invalid argument.");
            return;
        }
        char *joined = gl_xmalloc(n);
        /* n was sized for both parts: plain copies, no truncation possible */
        strcpy(joined, c->pending_text);
        if (*text)
            strcat(joined, "\n");
        strcat(joined, text);
        free(c->pending_text);
        free(text);
        c->pending_text = NULL;
        text = joined;
    }
    if (json_is_true(json_object_get(body, "turnComplete"))) {
        start_prompt(c, text);
        free(text);
    } else {
        c->pending_text = text;
    }
}

/* ---- realtime media: audio, pictures ---- */

/* Closes with 1007 for a reason given as a format (cut to the frame limit by close_conn). */
__attribute__((format(printf, 2, 3))) static void close_invalidf(emu_conn *c, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    log_event(c->srv, c, "invalid", json_pack("{s:s}", "reason", reason));
    close_invalid(c, reason);
}

/* A blob's bytes; the strict parser already checked that data is base64, so only memory could
 * fail here. NULL with *len 0 when there is no data. */
static unsigned char *blob_bytes(const json_t *blob, size_t *len)
{
    const json_t *d = json_object_get(blob, "data");
    *len = 0;
    if (!json_is_string(d))
        return NULL;
    return emu_base64_decode(json_string_value(d), json_string_length(d), len);
}

/* Speech began (the detector's start, or activityStart): the model's answer stops there unless
 * the setup asked for NO_INTERRUPTION. */
static void speech_started(emu_conn *c, const char *via)
{
    bool barge = c->turn_running && c->barge_in;
    log_event(c->srv, c, "speech_start", json_pack("{s:s, s:b}", "via", via, "barge_in", barge));
    if (barge)
        interrupt_turn(c);
}

static double rounded(double v, double unit) { return round(v / unit) * unit; }

/* A spoken turn ended: log what was heard, then answer it (or queue it behind the running
 * answer under NO_INTERRUPTION). */
static void speech_ended(emu_conn *c, const emu_heard *h, const char *via)
{
    int v = h->match.voice, best = h->match.best;
    const char *phrase = v >= 0 ? emu_voice_phrase((size_t)v) : NULL;
    json_t *e = json_pack("{s:s, s:i, s:I, s:i, s:i, s:o, s:s?, s:s?, s:s?, s:f, s:f, s:b}",
                          "via", via, "rate", (int)h->rate, "bytes", (json_int_t)h->bytes,
                          "duration_ms", (int)h->duration_ms, "speech_ms", (int)h->speech_ms,
                          "dominant_hz",
                          h->dominant_hz > 0 ? json_real(rounded(h->dominant_hz, 0.01)) : json_null(),
                          "transcript", phrase, "voice", v >= 0 ? emu_voice_name((size_t)v) : NULL,
                          "closest", best >= 0 ? emu_voice_name((size_t)best) : NULL,
                          "score", rounded(h->match.score, 0.001),
                          "second", rounded(h->match.second, 0.001), "truncated", h->truncated);
    log_event(c->srv, c, "audio_turn", e);
    if (h->bytes == 0)
        return; /* an empty activity: nothing was said */
    if (phrase)
        log_event(c->srv, c, "prompt", json_pack("{s:s, s:s}", "via", "audio", "text", phrase));
    if (c->turn_running && !c->barge_in) {
        if (c->nvoice == MAX_PENDING_VOICE) {
            log_event(c->srv, c, "voice_dropped", json_pack("{s:s?}", "transcript",
                                                            c->voice_queue[0].phrase));
            free(c->voice_queue[0].phrase);
            memmove(c->voice_queue, c->voice_queue + 1, --c->nvoice * sizeof *c->voice_queue);
        }
        c->voice_queue[c->nvoice++] =
            (struct pending_voice){phrase ? gl_xstrdup(phrase) : NULL, h->duration_ms};
        return;
    }
    start_voice_turn(c, phrase, h->duration_ms);
}

static emu_hear *ears(emu_conn *c)
{
    if (!c->hear)
        c->hear = emu_hear_new(&c->vad);
    return c->hear;
}

/* realtimeInput audio (or a mediaChunks audio blob): PCM at the rate its type names, heard
 * sample by sample; every turn start and end within it acts at once, in order. */
static void on_audio(emu_conn *c, const json_t *blob, const char *field)
{
    const char *mime = json_string_value(json_object_get(blob, "mimeType"));
    unsigned rate = emu_media_audio_rate(mime);
    if (!rate) {
        close_invalidf(c, "Request contains an invalid argument: %s.mime_type \"%.60s\" is not "
                          "supported; use audio/pcm;rate=N (N %d to %d).", field, mime ? mime : "",
                       EMU_RATE_MIN, EMU_RATE_MAX);
        return;
    }
    size_t len, off = 0;
    unsigned char *pcm = blob_bytes(blob, &len);
    while (off < len && c->phase == PH_ACTIVE && !c->stalled) {
        emu_hear_event ev;
        emu_heard h;
        off += emu_hear_feed(ears(c), pcm + off, len - off, rate, &ev, &h);
        if (ev == EMU_HEAR_START)
            speech_started(c, "speech");
        else if (ev == EMU_HEAR_END)
            speech_ended(c, &h, "silence");
    }
    free(pcm);
}

/* realtimeInput video (or a mediaChunks image, or an inlineData part of clientContent): a
 * picture the model will "see". Only its facts are kept. */
static bool on_image(emu_conn *c, const json_t *blob, const char *field, const char *via)
{
    const char *mime = json_string_value(json_object_get(blob, "mimeType"));
    if (!emu_media_image_type(mime)) {
        close_invalidf(c, "Request contains an invalid argument: %s.mime_type \"%.60s\" is not "
                          "supported; use image/jpeg or image/png.", field, mime ? mime : "");
        return false;
    }
    size_t len;
    unsigned char *img = blob_bytes(blob, &len);
    if (!emu_media_image_ok(mime, img, len)) {
        free(img);
        /* the wording of generateContent's refusal of an undecodable image */
        close_invalidf(c, "Unable to process input image. Please retry or report in "
                          "https://developers.generativeai.google/guide/troubleshooting");
        return false;
    }
    char sha[65];
    emu_sha256_hex(img, len, sha);
    free(img);
    char lower[16];
    snprintf(lower, sizeof lower, "%s", strcasecmp(mime, "image/png") == 0 ? "image/png" : "image/jpeg");
    log_event(c->srv, c, "image", json_pack("{s:s, s:s, s:I, s:s}", "via", via, "mime", lower,
                                            "bytes", (json_int_t)len, "sha256", sha));
    emu_session_set_image(c->model, lower, len, sha);
    return true;
}

static void handle_realtime(emu_conn *c, json_t *body)
{
    const char *text = json_string_value(json_object_get(body, "text"));
    if (text) {
        log_event(c->srv, c, "prompt", json_pack("{s:s, s:s}", "via", "realtimeInput", "text", text));
        start_prompt(c, text);
        return;
    }
    json_t *blob;
    if ((blob = json_object_get(body, "audio"))) {
        on_audio(c, blob, "realtime_input.audio");
        return;
    }
    if ((blob = json_object_get(body, "video"))) {
        on_image(c, blob, "realtime_input.video", "video");
        return;
    }
    json_t *chunks = json_object_get(body, "mediaChunks");
    if (chunks) {
        if (c->rules.no_media_chunks) {
            close_invalidf(c, "Request contains an invalid argument: realtime_input.media_chunks "
                              "is not supported by this model; use audio or video.");
            return;
        }
        /* deprecated; the service uses only the first element */
        blob = json_array_get(chunks, 0);
        if (!blob)
            return;
        const char *mime = json_string_value(json_object_get(blob, "mimeType"));
        if (mime && strncasecmp(mime, "image/", 6) == 0)
            on_image(c, blob, "realtime_input.media_chunks[0]", "mediaChunks");
        else
            on_audio(c, blob, "realtime_input.media_chunks[0]");
        return;
    }
    emu_heard h;
    if (json_object_get(body, "activityStart")) {
        if (!c->vad.manual) {
            close_invalidf(c, "Request contains an invalid argument: activity_start is only "
                              "allowed when automatic activity detection is disabled.");
            return;
        }
        if (!emu_hear_in_turn(ears(c)))
            speech_started(c, "activity_start");
        emu_hear_activity_start(ears(c));
    } else if (json_object_get(body, "activityEnd")) {
        if (!c->vad.manual) {
            close_invalidf(c, "Request contains an invalid argument: activity_end is only "
                              "allowed when automatic activity detection is disabled.");
            return;
        }
        if (emu_hear_activity_end(ears(c), &h))
            speech_ended(c, &h, "activity_end");
        else
            log_event(c->srv, c, "activity_end_ignored", NULL); /* no activityStart before it */
    } else if (json_is_true(json_object_get(body, "audioStreamEnd"))) {
        if (c->vad.manual) {
            close_invalidf(c, "Request contains an invalid argument: audio_stream_end is only "
                              "allowed when automatic activity detection is enabled.");
            return;
        }
        if (emu_hear_stream_end(ears(c), &h))
            speech_ended(c, &h, "audio_stream_end");
    }
}

static emu_scheduling scheduling_of(const json_t *fr)
{
    const char *s = json_string_value(json_object_get(fr, "scheduling"));
    if (s && strcmp(s, "SILENT") == 0)
        return EMU_SCHED_SILENT;
    if (s && strcmp(s, "INTERRUPT") == 0)
        return EMU_SCHED_INTERRUPT;
    return EMU_SCHED_WHEN_IDLE; /* the default, also for SCHEDULING_UNSPECIFIED */
}

static void unawait(emu_conn *c, const char *key)
{
    size_t k;
    json_t *v;
    json_array_foreach(c->await_ids, k, v) {
        if (strcmp(json_string_value(v), key) == 0) {
            json_array_remove(c->await_ids, k);
            return;
        }
    }
}

/* Applies each function response; returns whether one asked to interrupt (INTERRUPT on a
 * NON_BLOCKING call whose answer is ready), or -1 if the connection was closed. */
static int apply_responses(emu_conn *c, json_t *body)
{
    bool interrupt = false;
    size_t i;
    json_t *fr;
    json_array_foreach(json_object_get(body, "functionResponses"), i, fr) {
        emu_fn_response r = {
            .id = json_string_value(json_object_get(fr, "id")),
            .name = json_string_value(json_object_get(fr, "name")),
            .response = json_object_get(fr, "response"),
            .scheduling = scheduling_of(fr),
            .will_continue = json_is_true(json_object_get(fr, "willContinue")),
        };
        c->srv->tool_responses++;
        log_event(c->srv, c, "tool_response",
                  json_pack("{s:s?, s:s?, s:O?, s:O?, s:O?}", "id", r.id, "name", r.name,
                            "response", r.response, "scheduling",
                            json_object_get(fr, "scheduling"), "willContinue",
                            json_object_get(fr, "willContinue")));
        const char *key = NULL;
        emu_resp_kind k = emu_session_function_response(c->model, &r, &key);
        if (k == EMU_RESP_UNKNOWN && !r.id) { /* the Developer API requires the id */
            close_invalid(c, "Invalid JSON payload received. Missing function response id.");
            return -1;
        }
        if (k == EMU_RESP_UNKNOWN)
            c->srv->unknown_tool_ids++;
        else if (k == EMU_RESP_AWAITED)
            unawait(c, key);
        else if (k == EMU_RESP_INTERRUPT)
            interrupt = true;
    }
    return interrupt;
}

static void handle_tool_response(emu_conn *c, json_t *body)
{
    int interrupt = apply_responses(c, body);
    if (interrupt < 0)
        return;
    if (interrupt && c->turn_running) {
        interrupt_turn(c); /* an INTERRUPT answer is generated now */
    } else if (c->await_ids && json_array_size(c->await_ids) == 0) {
        json_decref(c->await_ids);
        c->await_ids = NULL;
        emu_actions_free(&c->acts);
        emu_session_continue(c->model, &c->acts);
        c->next_act = 0;
        if (c->acts.len == 0)
            end_of_batch(c);
        else
            run_actions(c);
    }
    start_followup(c); /* if no turn runs */
}

static void on_message(ws_conn *ws, int opcode, const uint8_t *data, size_t len, void *ud)
{
    (void)ws;
    (void)opcode;
    emu_conn *c = ud;
    if (c->phase == PH_CLOSING || c->stalled)
        return;
    json_t *body = NULL;
    char reason[128];
    emu_msg_kind k = emu_parse_client_msg((const char *)data, len, &body, reason, sizeof reason);
    c->srv->msgs_by_kind[k]++;
    if (k == EMU_MSG_INVALID) {
        log_event(c->srv, c, "invalid", json_pack("{s:s}", "reason", reason));
        close_invalid(c, reason);
        return;
    }
    log_event(c->srv, c, emu_msg_kind_name(k), NULL);
    if (c->phase == PH_AWAIT_SETUP && k != EMU_MSG_SETUP)
        close_invalid(c, "Invalid JSON payload received. The first message must be a setup message.");
    else if (c->phase == PH_ACTIVE && k == EMU_MSG_SETUP)
        close_invalid(c, "Invalid JSON payload received. Setup was already received.");
    else if (k == EMU_MSG_SETUP)
        handle_setup(c, body);
    else if (k == EMU_MSG_CLIENT_CONTENT)
        handle_client_content(c, body);
    else if (k == EMU_MSG_REALTIME_INPUT)
        handle_realtime(c, body);
    else if (k == EMU_MSG_TOOL_RESPONSE)
        handle_tool_response(c, body);
    json_decref(body); /* contextUpdate: accepted and ignored */
}

/* ---- connection lifetime ---- */

static void conn_free_if_done(emu_conn *c)
{
    if (c->timers_open > 0 || c->ws)
        return;
    emu_actions_free(&c->acts);
    json_decref(c->await_ids);
    emu_session_free(c->model);
    emu_hear_free(c->hear);
    for (size_t i = 0; i < c->nvoice; i++)
        free(c->voice_queue[i].phrase);
    free(c->pending_text);
    free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    emu_conn *c = h->data;
    c->timers_open--;
    conn_free_if_done(c);
}

static void server_free(emu_server *s)
{
    for (size_t i = 0; i < s->nhandles; i++)
        json_decref(s->handles[i].history);
    free(s->handles);
    for (size_t i = 0; i < s->log_cap; i++)
        json_decref(s->log[i]);
    free(s->log);
    free(s);
}

static void on_close(ws_conn *ws, const ws_close_info *info, void *ud)
{
    (void)ws;
    emu_conn *c = ud;
    emu_server *s = c->srv;
    log_event(s, c, "disconnect",
              json_pack("{s:i, s:s, s:s?}", "code", info->code, "reason", info->reason, "error",
                        info->error));
    log_debug("conn %u closed: %d %s%s%s", c->id, info->code, info->reason,
              info->error ? " / " : "", info->error ? info->error : "");
    emu_heard h; /* an utterance the close cut: never answered, but the log says what was lost */
    if (c->hear && emu_hear_in_turn(c->hear) && emu_hear_stream_end(c->hear, &h))
        log_event(s, c, "audio_cut", json_pack("{s:I, s:i, s:i}", "bytes", (json_int_t)h.bytes,
                                               "duration_ms", (int)h.duration_ms, "speech_ms",
                                               (int)h.speech_ms));
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->ws = NULL;
    c->stream.active = false;
    uv_close((uv_handle_t *)&c->act_timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->life_timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->stream_check, on_timer_closed);
    if (s->stopping && !s->conns)
        server_free(s);
}

static void on_open(ws_conn *ws, void *ud)
{
    emu_conn *c = ud;
    (void)ws;
    if (c->auth_error) /* the real service upgrades first, then closes */
        close_conn(c, c->auth_code, c->auth_error);
}

/* The paths the SDKs use: [/]/ws/google.ai.generativelanguage.VER.GenerativeService.METHOD */
static bool path_ok(const char *path)
{
    static const char *vers[] = {"v1", "v1beta", "v1alpha"};
    static const char *methods[] = {"BidiGenerateContent", "BidiGenerateContentConstrained"};
    if (strncmp(path, "//", 2) == 0)
        path++;
    for (size_t v = 0; v < 3; v++)
        for (size_t m = 0; m < 2; m++) {
            char want[256];
            snprintf(want, sizeof want, "/ws/google.ai.generativelanguage.%s.GenerativeService.%s",
                     vers[v], methods[m]);
            if (strcmp(path, want) == 0)
                return true;
        }
    return false;
}

/* Value of a query parameter (no percent-decoding beyond what keys need: none). */
static bool query_param(const char *query, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            p += nl + 1;
            size_t n = strcspn(p, "&");
            snprintf(out, outlen, "%.*s", (int)n, p);
            return true;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return false;
}

static int on_upgrade(ws_conn *ws, const ws_request *req, ws_handlers *h, void **ud, void *sud)
{
    emu_server *s = sud;
    if (!path_ok(req->path)) {
        s->rejected++;
        log_info("refused upgrade for unknown path %.200s", req->path);
        return 404;
    }
    emu_conn *c = gl_xcalloc(1, sizeof *c);
    c->srv = s;
    c->ws = ws;
    c->id = ++s->next_conn_id;
    uv_timer_init(s->loop, &c->act_timer);
    uv_timer_init(s->loop, &c->life_timer);
    uv_check_init(s->loop, &c->stream_check);
    c->act_timer.data = c->life_timer.data = c;
    c->stream_check.data = c;
    c->timers_open = 3; /* the two timers and the stream's check handle */
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->connections_total++;
    char key[512] = "";
    const char *hk = ws_request_header(req, "x-goog-api-key");
    const char *auth = ws_request_header(req, "Authorization");
    if (hk)
        snprintf(key, sizeof key, "%s", hk);
    else if (!query_param(req->query, "key", key, sizeof key) &&
             !query_param(req->query, "access_token", key, sizeof key) && auth &&
             strncmp(auth, "Token ", 6) == 0)
        snprintf(key, sizeof key, "%s", auth + 6);
    if (!key[0]) {
        c->auth_code = 1008;
        c->auth_error = "Method doesn't allow unregistered callers (callers without established "
                        "identity). Please use API Key or other form of API consumer identity to "
                        "call this API.";
    } else if (s->cfg.api_key && strcmp(key, s->cfg.api_key) != 0) {
        c->auth_code = 1007;
        c->auth_error = "API key not valid. Please pass a valid API key.";
    }
    log_event(s, c, "connect", json_pack("{s:s, s:s}", "path", req->path, "peer", ws_peer(ws)));
    h->on_open = on_open;
    h->on_message = on_message;
    h->on_close = on_close;
    *ud = c;
    return 0;
}

/* ---- HTTP: stats and log ---- */

static json_t *stats_json(emu_server *s)
{
    unsigned open = 0;
    for (emu_conn *c = s->conns; c; c = c->next)
        open++;
    return json_pack("{s:I, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
                     "connections_total", (json_int_t)s->connections_total, "connections_open", (int)open,
                     "setups", (json_int_t)s->setups, "resumed", (json_int_t)s->resumed,
                     "rejected", (json_int_t)s->rejected, "turns", (json_int_t)s->turns,
                     "followups", (json_int_t)s->followups,
                     "tool_responses", (json_int_t)s->tool_responses,
                     "unknown_tool_ids", (json_int_t)s->unknown_tool_ids,
                     "interrupts", (json_int_t)s->interrupts, "goaways", (json_int_t)s->goaways,
                     "lifetime_cuts", (json_int_t)s->lifetime_cuts, "log_seq", (json_int_t)s->log_seq,
                     "messages", "invalid", (json_int_t)s->msgs_by_kind[EMU_MSG_INVALID],
                     "setup", (json_int_t)s->msgs_by_kind[EMU_MSG_SETUP],
                     "clientContent", (json_int_t)s->msgs_by_kind[EMU_MSG_CLIENT_CONTENT],
                     "realtimeInput", (json_int_t)s->msgs_by_kind[EMU_MSG_REALTIME_INPUT],
                     "toolResponse", (json_int_t)s->msgs_by_kind[EMU_MSG_TOOL_RESPONSE],
                     "contextUpdate", (json_int_t)s->msgs_by_kind[EMU_MSG_CONTEXT_UPDATE]);
}

static int on_http(const ws_request *req, char **body, const char **ctype, void *sud)
{
    emu_server *s = sud;
    json_t *out = NULL;
    if (strcmp(req->path, "/emulator/stats") == 0) {
        out = stats_json(s);
    } else if (strcmp(req->path, "/emulator/log") == 0) {
        char since[32] = "0";
        query_param(req->query, "since", since, sizeof since);
        unsigned long from = strtoul(since, NULL, 10);
        out = json_array();
        unsigned long oldest = s->log_seq > s->log_cap ? s->log_seq - s->log_cap : 0;
        for (unsigned long seq = from > oldest ? from : oldest; seq < s->log_seq; seq++)
            json_array_append(out, s->log[seq % s->log_cap]);
    } else if (strcmp(req->path, "/emulator/goaway") == 0) {
        /* fault injection at a moment the test chooses: goAway now on every active connection,
         * then the cut after ms (default 1000), as at the end of a lifetime */
        char ms[32] = "1000";
        query_param(req->query, "ms", ms, sizeof ms);
        unsigned long left = strtoul(ms, NULL, 10);
        if (left > 3600000)
            left = 3600000;
        unsigned n = 0;
        for (emu_conn *c = s->conns; c; c = c->next) {
            if (c->phase != PH_ACTIVE)
                continue;
            send_goaway(c, (unsigned)left);
            uv_timer_stop(&c->life_timer);
            uv_timer_start(&c->life_timer, on_life_timer, left, 0);
            n++;
        }
        out = json_pack("{s:i}", "goaways", (int)n);
    } else {
        *body = gl_xstrdup("{\"error\":\"not found\"}\n");
        *ctype = "application/json";
        return 404;
    }
    *body = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    *ctype = "application/json";
    return 200;
}

/* ---- server ---- */

emu_server *emu_server_start(uv_loop_t *loop, const emu_config *cfg, gl_err *err)
{
    emu_server *s = gl_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    if (s->cfg.time_scale <= 0)
        s->cfg.time_scale = 1.0;
    s->log_cap = cfg->max_log ? cfg->max_log : 100000;
    s->log = gl_xcalloc(s->log_cap, sizeof *s->log);
    s->handles = gl_xcalloc(MAX_HANDLES, sizeof *s->handles);
    ws_server_opts o = {
        .host = cfg->host,
        .port = cfg->port,
        .tls = cfg->tls,
        .max_message = cfg->max_message,
        .on_upgrade = on_upgrade,
        .on_http = on_http,
        .server_ud = s,
    };
    s->ws = ws_server_start(loop, &o, err);
    if (!s->ws) {
        free(s->log);
        free(s->handles);
        free(s);
        return NULL;
    }
    return s;
}

int emu_server_port(const emu_server *s) { return ws_server_port(s->ws); }

void emu_server_stop(emu_server *s)
{
    s->stopping = true;
    ws_server_stop(s->ws); /* every conn gets on_close; the last one frees s */
    if (!s->conns)
        server_free(s);
}
