/* The session state machine. See session.h for the states; transitions:
 *   idle --first use--> connecting --setupComplete--> ready --close--> closed
 *   connecting/ready --connection lost--> closed, and back to connecting when a prompt waits
 *   (retryable closes only; 1007/1008 and auth errors fail the waiting prompts instead).
 * One turn runs at a time: its prompt goes on the wire only when the previous turnComplete came. */
#include "daemon/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/models.h"
#include "proto/line.h"
#include "transport/ws.h"

#define MAX_WATCHERS 256
#define MAX_PENDING_CALLS 128
#define RETRY_LIMIT 5

enum sess_state { S_IDLE, S_CONNECTING, S_READY, S_CLOSED };
static const char *STATE_NAMES[] = {"idle", "connecting", "ready", "closed"};

typedef struct turn {
    long no;
    char *text;
    ipc_client *sender; /* NULL once the sender disconnected: events go to subscribers only */
} turn;

typedef struct pending_call {
    char *id, *name;
    long turn;
    unsigned group;     /* which server toolCall it came in */
    json_t *response;   /* set when answered */
} pending_call;

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
    const gld_model_info *mi;

    enum sess_state state;
    ws_conn *ws;
    uv_timer_t retry_timer;
    unsigned retries;
    char last_close[160];

    turn *queue;
    size_t qlen, qcap;
    turn cur;
    bool turn_running;
    long next_turn;
    unsigned long turns_done;

    pending_call calls[MAX_PENDING_CALLS];
    size_t ncalls;
    unsigned group_seq;

    watcher watchers[MAX_WATCHERS];
    size_t nwatchers;

    bool closing;
    gld_session *next;
};

static void connect_now(gld_session *s);
static void pump(gld_session *s);

/* ---- names and lookups ---- */

const char *gld_session_name(const gld_session *s) { return s->name; }
const char *gld_session_model(const gld_session *s) { return s->model; }
live_modality gld_session_modality(const gld_session *s) { return s->modality; }
const char *gld_session_state_name(const gld_session *s) { return STATE_NAMES[s->state]; }

gld_session *gld_session_next(const gld_session *s) { return s->next; }

gld_session *gld_session_find(gld_daemon *d, const char *name)
{
    for (gld_session *s = d->sessions; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* ---- events to clients ---- */

/* A turn's event: to the turn's sender and to subscribers, once each. fields is stolen. */
static void emit_turn(gld_session *s, const char *event, ipc_client *sender, long turn_no,
                      json_t *fields)
{
    if (!fields)
        fields = json_object();
    if (turn_no > 0)
        json_object_set_new(fields, "turn", json_integer(turn_no));
    char *line = gl_event(event, s->name, fields);
    if (!line)
        return;
    size_t n = strlen(line);
    bool sender_is_subscriber = false;
    for (size_t i = 0; i < s->nwatchers; i++) {
        if (!s->watchers[i].subscribed)
            continue;
        if (s->watchers[i].c == sender)
            sender_is_subscriber = true;
        ipc_send(s->watchers[i].c, line, n);
    }
    if (sender && !sender_is_subscriber)
        ipc_send(sender, line, n);
    free(line);
}

/* Session-wide events (state, errors without a turn): to every watcher. fields is stolen. */
static void emit_all(gld_session *s, const char *event, json_t *fields)
{
    char *line = gl_event(event, s->name, fields ? fields : json_object());
    if (!line)
        return;
    for (size_t i = 0; i < s->nwatchers; i++)
        ipc_send(s->watchers[i].c, line, strlen(line));
    free(line);
}

static void set_state(gld_session *s, enum sess_state st, const char *reason)
{
    if (s->state == st && !reason)
        return;
    s->state = st;
    const char *name = st == S_IDLE ? "closed" : STATE_NAMES[st];
    log_info("session %s: %s%s%s", s->name, name, reason ? ": " : "", reason ? reason : "");
    json_t *f = json_pack("{s:s}", "state", name);
    if (reason)
        json_object_set_new(f, "reason", gl_json_text(reason));
    emit_all(s, "state", f);
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

/* ---- tool calls ---- */

static void free_call(pending_call *pc)
{
    free(pc->id);
    free(pc->name);
    json_decref(pc->response);
}

static void remove_call(gld_session *s, size_t i)
{
    free_call(&s->calls[i]);
    memmove(&s->calls[i], &s->calls[i + 1], (s->ncalls - i - 1) * sizeof s->calls[0]);
    s->ncalls--;
}

static pending_call *find_call(gld_session *s, const char *id)
{
    for (size_t i = 0; i < s->ncalls; i++)
        if (strcmp(s->calls[i].id, id) == 0)
            return &s->calls[i];
    return NULL;
}

static int upstream_send(gld_session *s, char *json)
{
    if (!json)
        return -1;
    gl_err err;
    size_t n = strlen(json);
    int rc = s->ws && ws_is_open(s->ws) ? ws_send(s->ws, WS_TEXT, json, n, &err)
                                         : gl_fail(&err, "closed", "not connected");
    if (rc == 0) {
        s->d->upstream.bytes_out += n;
        s->d->upstream.msgs_out++;
    } else {
        log_warn("session %s: cannot send to the Live API: %s", s->name, err.msg);
    }
    log_debug("session %s: > %.300s", s->name, json);
    free(json);
    return rc;
}

/* When every call of a toolCall has its answer, one toolResponse carries them all. */
static void flush_group(gld_session *s, unsigned group)
{
    for (size_t i = 0; i < s->ncalls; i++)
        if (s->calls[i].group == group && !s->calls[i].response)
            return;
    json_t *arr = json_array();
    for (size_t i = 0; i < s->ncalls; i++)
        if (s->calls[i].group == group)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:O}", "id", s->calls[i].id, "name",
                                                 s->calls[i].name, "response", s->calls[i].response));
    gl_err err;
    char *msg = live_build_tool_response(arr, &err);
    json_decref(arr);
    if (!msg)
        log_error("session %s: cannot build toolResponse: %s", s->name, err.msg);
    else
        upstream_send(s, msg);
    for (size_t i = s->ncalls; i-- > 0;)
        if (s->calls[i].group == group)
            remove_call(s, i);
}

/* Records an answer (by: "client" or "daemon") and tells watchers. response is stolen. */
static void answer_call(gld_session *s, pending_call *pc, json_t *response, const char *by,
                        ipc_client *sender)
{
    pc->response = response;
    json_t *f = json_pack("{s:s, s:s, s:O, s:s}", "call_id", pc->id, "name", pc->name, "response",
                          response, "by", by);
    emit_turn(s, "tool_result", sender, pc->turn, f);
    flush_group(s, pc->group);
}

int gld_session_tool_result(gld_session *s, ipc_client *from, const char *call_id,
                            json_t *response, const char *error, gl_err *err)
{
    pending_call *pc = find_call(s, call_id);
    if (!pc || pc->response)
        return gl_fail(err, "unknown_call", "no pending tool call \"%s\" in session %s (answered, "
                       "cancelled or never made)", call_id, s->name);
    json_t *r = error ? json_pack("{s:s}", "error", error) : json_incref(response);
    answer_call(s, pc, r, "client", s->turn_running ? s->cur.sender : from);
    return 0;
}

/* The model must never wait for an answer that will not come: answer what nobody will. */
static void answer_orphans(gld_session *s, const char *why)
{
    for (;;) { /* answering may flush a group and shift the array: rescan each time */
        pending_call *pc = NULL;
        for (size_t i = 0; i < s->ncalls && !pc; i++)
            if (!s->calls[i].response)
                pc = &s->calls[i];
        if (!pc)
            return;
        answer_call(s, pc, json_pack("{s:s}", "error", why), "daemon", s->cur.sender);
    }
}

/* ---- turns ---- */

static void turn_free(turn *t)
{
    free(t->text);
    t->text = NULL;
}

/* Reports the end of the running turn without a turnComplete (connection lost, shutdown). */
static void abort_running_turn(gld_session *s, const char *reason)
{
    if (!s->turn_running)
        return;
    emit_turn(s, "interrupted", s->cur.sender, s->cur.no, json_pack("{s:s}", "reason", reason));
    for (size_t i = s->ncalls; i-- > 0;)
        remove_call(s, i);
    turn_free(&s->cur);
    s->turn_running = false;
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
    char *msg = s->mi->text_via_realtime ? live_build_realtime_text(s->cur.text)
                                         : live_build_client_text(s->cur.text, true);
    if (upstream_send(s, msg) != 0)
        abort_running_turn(s, "the prompt could not be sent to the Live API");
}

static void pump(gld_session *s)
{
    if (s->closing || s->turn_running || s->qlen == 0)
        return;
    if (s->state == S_READY)
        start_turn(s);
    else if (s->state == S_IDLE || s->state == S_CLOSED)
        connect_now(s);
}

int gld_session_send(gld_session *s, ipc_client *sender, const char *text, long *turn_no,
                     bool *queued, gl_err *err)
{
    if (s->closing)
        return gl_fail(err, "no_session", "session %s is closing", s->name);
    if (s->qlen >= s->d->cfg.max_queue)
        return gl_fail(err, "busy", "session %s already has %zu prompts queued (--max-queue); try "
                       "again after a turn completes", s->name, s->qlen);
    if (s->qlen == s->qcap) {
        size_t cap = s->qcap ? s->qcap * 2 : 4;
        turn *q = realloc(s->queue, cap * sizeof *q);
        if (!q)
            return gl_fail(err, "internal", "out of memory");
        s->queue = q;
        s->qcap = cap;
    }
    char *copy = strdup(text);
    if (!copy)
        return gl_fail(err, "internal", "out of memory");
    *queued = s->turn_running || s->qlen > 0 || s->state != S_READY;
    turn *t = &s->queue[s->qlen++];
    t->no = ++s->next_turn;
    t->text = copy;
    t->sender = sender;
    *turn_no = t->no;
    gld_session_watch(s, sender, false);
    return 0;
}

/* ---- server messages ---- */

struct ev_ctx {
    gld_session *s;
};

static json_t *textn(const char *p, size_t n) { return gl_json_textn(p, n); }

static int on_live_event(const live_event *ev, void *ud)
{
    gld_session *s = ((struct ev_ctx *)ud)->s;
    ipc_client *snd = s->turn_running ? s->cur.sender : NULL;
    long tn = s->turn_running ? s->cur.no : 0;
    bool text_session_on_audio_model = s->modality == LIVE_TEXT && s->mi->audio_only;
    switch (ev->kind) {
    case LIVE_EV_SETUP_COMPLETE:
        s->retries = 0;
        set_state(s, S_READY, NULL);
        break;
    case LIVE_EV_TEXT:
        if (ev->thought) /* thought summaries are not the answer */
            log_debug("session %s: thought: %.200s", s->name, ev->text);
        else
            emit_turn(s, "text", snd, tn, json_pack("{s:o}", "text", textn(ev->text, ev->text_len)));
        break;
    case LIVE_EV_AUDIO:
        if (!text_session_on_audio_model)
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
    case LIVE_EV_INPUT_TRANSCRIPTION:
        emit_turn(s, "transcript", snd, tn,
                  json_pack("{s:s, s:o, s:b}", "source", "input", "text",
                            textn(ev->text, ev->text_len), "finished", ev->finished));
        break;
    case LIVE_EV_TOOL_CALL: {
        if (ev->index == 0)
            s->group_seq++;
        if (!ev->call_id || !ev->name || s->ncalls == MAX_PENDING_CALLS) {
            log_warn("session %s: tool call without id/name or too many pending; ignored", s->name);
            break;
        }
        pending_call *pc = &s->calls[s->ncalls++];
        memset(pc, 0, sizeof *pc);
        pc->id = strdup(ev->call_id);
        pc->name = strdup(ev->name);
        pc->turn = tn;
        pc->group = s->group_seq;
        emit_turn(s, "tool_call", snd, tn,
                  json_pack("{s:s, s:s, s:O, s:I, s:I}", "call_id", ev->call_id, "name", ev->name,
                            "args", ev->json, "index", (json_int_t)ev->index, "count",
                            (json_int_t)ev->count));
        if (ev->index + 1 == ev->count && !snd) /* nobody left to answer */
            answer_orphans(s, "the client that sent the prompt is gone; no handler");
        break;
    }
    case LIVE_EV_TOOL_CALL_CANCELLATION: {
        size_t i;
        json_t *id;
        json_array_foreach(ev->json, i, id) {
            const char *cid = json_string_value(id);
            pending_call *pc = cid ? find_call(s, cid) : NULL;
            if (!pc)
                continue;
            emit_turn(s, "tool_cancel", snd, pc->turn, json_pack("{s:s, s:s}", "call_id", pc->id,
                                                                 "name", pc->name));
            remove_call(s, (size_t)(pc - s->calls));
        }
        break;
    }
    case LIVE_EV_INTERRUPTED:
        emit_turn(s, "interrupted", snd, tn, json_pack("{s:s}", "reason", "interrupted by the model"));
        break;
    case LIVE_EV_TURN_COMPLETE: {
        json_t *f = json_object();
        if (ev->json)
            json_object_set(f, "usage", ev->json);
        if (ev->reason)
            json_object_set_new(f, "reason", json_string(ev->reason));
        emit_turn(s, "turn_complete", snd, tn, f);
        if (s->turn_running) {
            turn_free(&s->cur);
            s->turn_running = false;
            s->turns_done++;
        }
        break;
    }
    case LIVE_EV_GENERATION_COMPLETE:
    case LIVE_EV_USAGE:
    case LIVE_EV_RESUMPTION_UPDATE:
    case LIVE_EV_GO_AWAY:
        /* TODO(issue 5): keep resumption handles; on goAway reconnect with the newest one. */
        log_debug("session %s: %s", s->name, live_event_kind_name(ev->kind));
        break;
    case LIVE_EV_UNKNOWN:
        log_debug("session %s: unknown server field %s", s->name, ev->name ? ev->name : "?");
        break;
    }
    return 0;
}

static void on_ws_message(ws_conn *ws, int opcode, const uint8_t *data, size_t len, void *ud)
{
    (void)ws;
    (void)opcode;
    gld_session *s = ud;
    s->d->upstream.bytes_in += len;
    s->d->upstream.msgs_in++;
    log_debug("session %s: < %.*s", s->name, (int)(len < 300 ? len : 300), (const char *)data);
    struct ev_ctx ctx = {s};
    gl_err err;
    if (live_parse_server((const char *)data, len, on_live_event, &ctx, &err) != 0) {
        log_warn("session %s: %s; dropping the connection", s->name, err.msg);
        ws_abort(s->ws, "the Live API sent a message that is not JSON");
        return;
    }
    pump(s);
}

/* ---- connection ---- */

static void on_session_timer_closed(uv_handle_t *h) { free(h->data); }

/* The last step of a closing session (its connection is gone). */
static void session_free(gld_session *s)
{
    for (size_t i = s->ncalls; i-- > 0;)
        remove_call(s, i);
    json_decref(s->system_instruction);
    json_decref(s->tools);
    json_decref(s->generation_config);
    free(s->queue);
    uv_close((uv_handle_t *)&s->retry_timer, on_session_timer_closed);
}

static bool retryable(int code)
{
    return code != 1007 && code != 1008 && code != 1003;
}

static void on_retry_timer(uv_timer_t *t)
{
    gld_session *s = t->data;
    pump(s);
}

static void on_ws_open(ws_conn *ws, void *ud)
{
    (void)ws;
    gld_session *s = ud;
    live_setup st = {
        .model = s->model,
        .modality = s->mi->audio_only ? LIVE_AUDIO : s->modality,
        .generation_config = s->generation_config,
        .system_instruction = s->system_instruction,
        .tools = s->tools,
        .output_transcription = s->mi->audio_only || s->modality == LIVE_AUDIO,
    };
    gl_err err;
    char *setup = live_build_setup(&st, &err);
    if (!setup) { /* validated at open; only memory can fail here */
        log_error("session %s: %s", s->name, err.msg);
        ws_close(s->ws, 1000, "");
        return;
    }
    upstream_send(s, setup);
}

static void on_ws_close(ws_conn *ws, const ws_close_info *info, void *ud)
{
    (void)ws;
    gld_session *s = ud;
    s->ws = NULL;
    char why[sizeof s->last_close];
    if (info->error && info->code == 1006)
        snprintf(why, sizeof why, "%.150s", info->error);
    else
        snprintf(why, sizeof why, "Live API closed the connection: %d %.120s", info->code,
                 info->reason);
    snprintf(s->last_close, sizeof s->last_close, "%s", why);
    if (s->closing) {
        session_free(s);
        return;
    }
    log_warn("session %s: %s", s->name, why);
    abort_running_turn(s, why);
    set_state(s, S_CLOSED, why);
    if (!retryable(info->code) || (info->sent_code == 0 && info->code == 1006 && info->error &&
                                    strstr(info->error, "certificate"))) {
        fail_queue(s, "upstream", why);
        return;
    }
    if (s->qlen) {
        if (++s->retries > RETRY_LIMIT) {
            fail_queue(s, "upstream", why);
            s->retries = 0;
            return;
        }
        uv_timer_start(&s->retry_timer, on_retry_timer, 200u << (s->retries - 1), 0);
    }
}

static void connect_now(gld_session *s)
{
    gld_daemon *d = s->d;
    if (s->ws || s->closing || uv_is_active((uv_handle_t *)&s->retry_timer))
        return;
    if (!d->cfg.api_key[0]) {
        gl_err err;
        gld_config_find_key(&d->cfg, &err);
        set_state(s, S_CLOSED, err.msg);
        fail_queue(s, "no_key", err.msg);
        return;
    }
    char url[2048];
    snprintf(url, sizeof url,
             "%s/ws/google.ai.generativelanguage.%s.GenerativeService.BidiGenerateContent?key=%s",
             d->cfg.endpoint, d->cfg.api_version, d->cfg.api_key);
    ws_client_opts o = {
        .url = url,
        .tls = d->tls,
        .max_message = d->cfg.max_message,
        .ping_interval_ms = d->cfg.ping_interval_ms,
        .pong_timeout_ms = d->cfg.pong_timeout_ms,
    };
    static const ws_handlers h = {on_ws_open, on_ws_message, on_ws_close};
    gl_err err;
    set_state(s, S_CONNECTING, NULL);
    d->upstream.connects++;
    s->ws = ws_connect(d->loop, &o, &h, s, &err);
    if (!s->ws) {
        set_state(s, S_CLOSED, err.msg);
        fail_queue(s, "upstream", err.msg);
    }
}

void gld_session_pump(gld_session *s) { pump(s); }

void gld_session_connect(gld_session *s)
{
    if (s->state == S_IDLE || s->state == S_CLOSED)
        connect_now(s);
}

/* ---- lifecycle ---- */

gld_session *gld_session_new(gld_daemon *d, const char *name, const gld_session_config *cfg,
                             gl_err *err)
{
    gld_session *s = calloc(1, sizeof *s);
    if (!s) {
        gl_fail(err, "internal", "out of memory");
        return NULL;
    }
    s->d = d;
    snprintf(s->name, sizeof s->name, "%s", name);
    const char *model = cfg->model && *cfg->model ? cfg->model : d->cfg.model;
    if (strncmp(model, "models/", 7) == 0)
        model += 7;
    if (!*model || strlen(model) >= sizeof s->model || strchr(model, '/')) {
        free(s);
        gl_fail(err, "bad_request", "model name \"%s\" is not a model name", model);
        return NULL;
    }
    snprintf(s->model, sizeof s->model, "%s", model);
    s->mi = gld_model_lookup(s->model);
    s->modality = cfg->modality;
    int rc = 0;
    if (cfg->generation_config)
        rc = live_normalize_generation_config(cfg->generation_config, "generation_config",
                                              &s->generation_config, err);
    if (rc == 0 && cfg->tools)
        rc = live_normalize_tools(cfg->tools, "tools", &s->tools, err);
    if (rc == 0 && cfg->system_instruction)
        rc = live_normalize_content(cfg->system_instruction, "system_instruction",
                                    &s->system_instruction, err);
    if (rc != 0) {
        json_decref(s->generation_config);
        json_decref(s->tools);
        json_decref(s->system_instruction);
        free(s);
        return NULL;
    }
    uv_timer_init(d->loop, &s->retry_timer);
    s->retry_timer.data = s;
    s->next = d->sessions;
    d->sessions = s;
    log_info("session %s: created (model %s, %s)", s->name, s->model, live_modality_name(s->modality));
    return s;
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

void gld_session_client_gone(gld_session *s, ipc_client *c)
{
    watcher *w = find_watcher(s, c);
    if (w) {
        *w = s->watchers[--s->nwatchers];
    }
    for (size_t i = 0; i < s->qlen; i++)
        if (s->queue[i].sender == c)
            s->queue[i].sender = NULL;
    if (s->turn_running && s->cur.sender == c) {
        s->cur.sender = NULL;
        answer_orphans(s, "the client that sent the prompt disconnected before answering");
    }
}

void gld_session_close(gld_session *s, const char *reason)
{
    if (s->closing)
        return;
    abort_running_turn(s, reason);
    fail_queue(s, "closed", reason);
    set_state(s, S_CLOSED, reason);
    s->closing = true;
    for (gld_session **p = &s->d->sessions; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    uv_timer_stop(&s->retry_timer);
    if (s->ws)
        ws_close(s->ws, 1000, ""); /* on_ws_close frees */
    else
        session_free(s);
}

json_t *gld_session_info(const gld_session *s)
{
    unsigned subs = 0;
    for (size_t i = 0; i < s->nwatchers; i++)
        subs += s->watchers[i].subscribed;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:i, s:i}", "session", s->name,
                          "state", STATE_NAMES[s->state], "model", s->model, "modality",
                          live_modality_name(s->modality), "turns", (json_int_t)s->turns_done,
                          "queued", (json_int_t)s->qlen, "turn_running", s->turn_running,
                          "subscribers", (int)subs, "pending_tool_calls", (int)s->ncalls);
    if (s->last_close[0])
        json_object_set_new(o, "last_close", gl_json_text(s->last_close));
    return o;
}
