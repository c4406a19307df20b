#include "daemon/dispatch.h"
#include "daemon/media.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/session.h"
#include "daemon/tools.h"
#include "proto/errors.h"
#include "proto/line.h"
#include "proto/version.h"


/* An op fills *out with its reply fields (or leaves NULL for {}) and returns 0, or returns -1
 * with err. After the reply is written, `after` (if set) runs: it may emit events, which must
 * follow the reply. Validation order, the same in every op: the request's own fields (types,
 * then values), then what they refer to (the session, the call): a malformed request is
 * reported as such whatever the daemon's state. */
typedef struct op_ctx {
    gld_daemon *d;
    ipc_client *c;
    const gl_req *req;
    json_t *out;
    gld_session *after_pump;    /* runs after the reply: events follow their reply */
    gld_session *after_connect;
    gld_session *after_close;
} op_ctx;

typedef int (*op_fn)(op_ctx *x, gl_err *err);

/* The client's uid may use s (daemon/access.h). */
static bool may_use(const op_ctx *x, const gld_session *s)
{
    gld_access a = gld_session_access(s);
    return gld_access_allows(&a, ipc_client_uid(x->c));
}

/* A session of another uid, not shared, is answered exactly as one that does not exist: the
 * same code and message, so its name does not leak. */
static int find_session(op_ctx *x, const char *name, gld_session **s, gl_err *err)
{
    *s = gld_session_find(x->d, name);
    if (!*s || !may_use(x, *s))
        return gl_fail(err, GL_E_NO_SESSION, "no session \"%s\" (open it first)", name);
    return 0;
}

/* For ops whose only field is the session. */
static int need_session(op_ctx *x, gld_session **s, gl_err *err)
{
    const char *name;
    if (gl_req_session(x->req, &name, err) != 0)
        return -1;
    return find_session(x, name, s, err);
}

static int op_hello(op_ctx *x, gl_err *err)
{
    const char *client = NULL;
    if (gl_req_str(x->req, "client", false, &client, err) != 0)
        return -1;
    x->out = json_pack("{s:s, s:s, s:i}", "daemon", "gliveD", "version", GL_VERSION, "protocol",
                       GL_PROTOCOL_VERSION);
    return 0;
}

static int op_open(op_ctx *x, gl_err *err)
{
    const char *name, *model = NULL, *modality = NULL;
    json_t *tools = NULL, *gen = NULL, *sys = NULL;
    if (gl_req_session(x->req, &name, err) != 0 || gl_req_str(x->req, "model", false, &model, err) != 0 ||
        gl_req_str(x->req, "modality", false, &modality, err) != 0 ||
        gl_req_arr(x->req, "tools", false, &tools, err) != 0 ||
        gl_req_obj(x->req, "generation_config", false, &gen, err) != 0)
        return -1;
    sys = json_object_get(x->req->root, "system_instruction");
    if (json_is_null(sys))
        sys = NULL;
    if (sys && !json_is_string(sys) && !json_is_object(sys))
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"system_instruction\" must be a string or a Content object");
    gld_session_config cfg = {.model = model, .tools = tools, .generation_config = gen,
                              .system_instruction = sys};
    bool in_tx = false, out_tx = false;
    if (gl_req_bool(x->req, "compression", false, &cfg.compression, err) != 0 ||
        gl_req_bool(x->req, "keep_connected", false, &cfg.keep_connected, err) != 0 ||
        gl_req_bool(x->req, "input_transcription", false, &in_tx, err) != 0 ||
        gl_req_bool(x->req, "output_transcription", false, &out_tx, err) != 0 ||
        gl_req_str(x->req, "voice", false, &cfg.voice, err) != 0 ||
        gl_req_str(x->req, "language", false, &cfg.language, err) != 0 ||
        gl_req_str(x->req, "media_resolution", false, &cfg.media_resolution, err) != 0 ||
        gl_req_bool(x->req, "shared", false, &cfg.shared, err) != 0)
        return -1;
    cfg.input_transcription = in_tx;
    if (json_is_boolean(json_object_get(x->req->root, "output_transcription")))
        cfg.output_transcription = out_tx ? 1 : -1;
    cfg.vad = json_object_get(x->req->root, "vad");
    if (json_is_null(cfg.vad))
        cfg.vad = NULL;
    cfg.compression_set = json_is_boolean(json_object_get(x->req->root, "compression"));
    cfg.shared_set = json_is_boolean(json_object_get(x->req->root, "shared"));
    cfg.keep_connected_set = json_is_boolean(json_object_get(x->req->root, "keep_connected"));
    if (modality) {
        if (live_modality_parse(modality, &cfg.modality, "modality", err) != 0)
            return -1;
        cfg.modality_set = true;
    } else {
        int r = live_config_modality(gen, &cfg.modality, err);
        if (r < 0)
            return -1;
        cfg.modality_set = r == 1;
    }
    if (gld_session_config_check(x->d, &cfg, err) != 0)
        return -1; /* an invalid config is reported as such, even for an existing session */
    gld_session *s = gld_session_find(x->d, name);
    bool created = false;
    if (s && !may_use(x, s)) /* names are one namespace: this is all open can say */
        return gl_fail(err, GL_E_CONFLICT, "the name \"%s\" is taken by a session you cannot use; "
                       "choose another name", name);
    if (s) {
        if (!gld_session_config_matches(s, &cfg))
            return gl_fail(err, GL_E_CONFLICT, "session \"%s\" exists with another configuration "
                           "(model %s, %s); close it first or use another name", name,
                           gld_session_model(s), live_modality_name(gld_session_modality(s)));
        if (cfg.keep_connected_set) /* how the daemon treats it, not what it is: no conflict */
            gld_session_set_keep_connected(s, cfg.keep_connected);
    } else {
        uid_t uid = ipc_client_uid(x->c);
        unsigned have = gld_sessions_of_uid(x->d, uid);
        if (have >= x->d->cfg.max_sessions_per_uid) /* each holds a Live API connection */
            return gl_fail(err, GL_E_REFUSED, "uid %u has %u sessions already (--max-sessions-per-uid); "
                           "close one first", (unsigned)uid, have);
        cfg.owner = uid;
        if (!(s = gld_session_new(x->d, name, &cfg, err)))
            return -1;
        created = true;
    }
    gld_session_watch(s, x->c, false);
    if (created)
        x->after_connect = s;
    x->out = json_pack("{s:s, s:b, s:s, s:s, s:s}", "session", name, "created", created, "state",
                       gld_session_state_name(s), "model", gld_session_model(s), "modality",
                       live_modality_name(gld_session_modality(s)));
    return 0;
}

static int op_close(op_ctx *x, gl_err *err)
{
    gld_session *s;
    if (need_session(x, &s, err) != 0)
        return -1;
    x->after_close = s; /* its `state` closed event follows the reply */
    return 0;
}

/* The sessions the client may use, as list and status show them (with who owns each). */
static json_t *visible_sessions(const op_ctx *x)
{
    json_t *arr = json_array();
    for (gld_session *s = x->d->sessions; s; s = gld_session_next(s)) {
        if (!may_use(x, s))
            continue;
        gld_access a = gld_session_access(s);
        json_t *info = gld_session_info(s);
        json_object_set_new(info, "owner_uid", json_integer((json_int_t)a.owner));
        json_object_set_new(info, "shared", json_boolean(a.shared));
        json_array_append_new(arr, info);
    }
    return arr;
}

static int op_list(op_ctx *x, gl_err *err)
{
    (void)err;
    x->out = json_pack("{s:o}", "sessions", visible_sessions(x));
    return 0;
}

static int op_send(op_ctx *x, gl_err *err)
{
    gld_session *s;
    const char *name, *text = NULL;
    json_t *parts = NULL;
    bool queued, retry = false;
    if (gl_req_session(x->req, &name, err) != 0 || gl_req_str(x->req, "text", false, &text, err) != 0 ||
        gl_req_arr(x->req, "parts", false, &parts, err) != 0 ||
        gl_req_bool(x->req, "retry", false, &retry, err) != 0)
        return -1;
    if (!text == !parts)
        return gl_fail(err, GL_E_BAD_REQUEST, "give exactly one of \"text\" (a string) or \"parts\" "
                       "(Gemini Parts: text and inline_data images)");
    if (text && !*text)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"text\" must not be empty");
    if (parts && !json_array_size(parts))
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"parts\" must not be empty");
    long turn;
    if (find_session(x, name, &s, err) != 0)
        return -1;
    if ((parts ? gld_session_send_parts(s, x->c, parts, retry, &turn, &queued, err)
               : gld_session_send(s, x->c, text, retry, &turn, &queued, err)) != 0)
        return -1;
    x->out = json_pack("{s:I, s:b}", "turn", (json_int_t)turn, "queued", queued);
    x->after_pump = s;
    return 0;
}

/* ---- voice and vision in ---- */

#define IMAGE_MAX_BYTES (7u << 20) /* inline data the API takes in one message, with margin */

static int op_audio(op_ctx *x, gl_err *err)
{
    gld_session *s;
    const char *name, *data;
    long long rate = GLD_AUDIO_RATE;
    if (gl_req_session(x->req, &name, err) != 0 || gl_req_str(x->req, "data", true, &data, err) != 0 ||
        gl_req_int(x->req, "rate", false, &rate, err) != 0)
        return -1;
    if (rate < GLD_AUDIO_RATE_MIN || rate > GLD_AUDIO_RATE_MAX)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"rate\" must be %u..%u Hz", GLD_AUDIO_RATE_MIN,
                       GLD_AUDIO_RATE_MAX);
    gl_buf pcm;
    gl_buf_init(&pcm, 0);
    int rc = gld_b64_decode(data, strlen(data), &pcm, "data", err);
    if (rc == 0 && pcm.len % 2)
        rc = gl_fail(err, GL_E_BAD_REQUEST, "field \"data\" holds %zu bytes: s16le PCM has an even "
                     "number of bytes", pcm.len);
    if (rc == 0)
        rc = find_session(x, name, &s, err);
    if (rc == 0)
        rc = gld_session_audio(s, x->c, gl_buf_head(&pcm), pcm.len, (unsigned)rate, err);
    gl_buf_free(&pcm);
    return rc;
}

static int op_audio_end(op_ctx *x, gl_err *err)
{
    gld_session *s;
    return need_session(x, &s, err) != 0 ? -1 : gld_session_audio_end(s, x->c, err);
}

static int activity(op_ctx *x, bool start, gl_err *err)
{
    gld_session *s;
    return need_session(x, &s, err) != 0 ? -1 : gld_session_activity(s, x->c, start, err);
}
static int op_activity_start(op_ctx *x, gl_err *err) { return activity(x, true, err); }
static int op_activity_end(op_ctx *x, gl_err *err) { return activity(x, false, err); }

static int op_image(op_ctx *x, gl_err *err)
{
    gld_session *s;
    const char *name, *data, *mime;
    if (gl_req_session(x->req, &name, err) != 0 || gl_req_str(x->req, "data", true, &data, err) != 0 ||
        gl_req_str(x->req, "mime", true, &mime, err) != 0)
        return -1;
    if (strcmp(mime, "image/jpeg") != 0 && strcmp(mime, "image/png") != 0)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"mime\" must be \"image/jpeg\" or \"image/png\"");
    gl_buf img;
    gl_buf_init(&img, 0);
    int rc = gld_b64_decode(data, strlen(data), &img, "data", err);
    if (rc == 0 && img.len > IMAGE_MAX_BYTES)
        rc = gl_fail(err, GL_E_BAD_REQUEST, "the picture has %zu bytes; the Live API takes at most %u",
                     img.len, IMAGE_MAX_BYTES);
    if (rc == 0 && img.len == 0)
        rc = gl_fail(err, GL_E_BAD_REQUEST, "field \"data\" is empty");
    gl_buf_free(&img);
    if (rc == 0)
        rc = find_session(x, name, &s, err);
    return rc == 0 ? gld_session_image(s, x->c, data, mime, err) : -1;
}

static int op_subscribe(op_ctx *x, gl_err *err)
{
    gld_session *s;
    if (need_session(x, &s, err) != 0)
        return -1;
    gld_session_watch(s, x->c, true);
    x->out = json_pack("{s:s}", "state", gld_session_state_name(s));
    return 0;
}

static int op_unsubscribe(op_ctx *x, gl_err *err)
{
    gld_session *s;
    if (need_session(x, &s, err) != 0)
        return -1;
    gld_session_unsubscribe(s, x->c);
    return 0;
}

static int op_tool_result(op_ctx *x, gl_err *err)
{
    gld_session *s;
    const char *call_id, *session = NULL;
    gld_answer a = {0};
    if (gl_req_str(x->req, "session", false, &session, err) != 0 ||
        gl_req_str(x->req, "call_id", true, &call_id, err) != 0 ||
        gl_req_obj(x->req, "response", false, &a.response, err) != 0 ||
        gl_req_str(x->req, "error", false, &a.error, err) != 0 ||
        gl_req_str(x->req, "scheduling", false, &a.scheduling, err) != 0 ||
        gl_req_bool(x->req, "will_continue", false, &a.will_continue, err) != 0)
        return -1;
    if (!a.response == !a.error)
        return gl_fail(err, GL_E_BAD_REQUEST, "give exactly one of \"response\" (an object) or \"error\" (a string)");
    if (a.scheduling && strcmp(a.scheduling, "INTERRUPT") != 0 && strcmp(a.scheduling, "WHEN_IDLE") != 0 &&
        strcmp(a.scheduling, "SILENT") != 0)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"scheduling\" must be \"INTERRUPT\", \"WHEN_IDLE\" or \"SILENT\"");
    if (session && !gl_session_name_ok(session, err))
        return -1;
    if (session) {
        if (find_session(x, session, &s, err) != 0)
            return -1;
    } else if (!(s = gld_session_with_call(x->d, call_id)) || !may_use(x, s)) {
        log_info("dropping a result for call %s from client %u: not pending (answered, cancelled "
                 "or timed out)", call_id, ipc_client_id(x->c));
        return gl_fail(err, GL_E_UNKNOWN_CALL, "no pending tool call \"%s\" (answered, cancelled, "
                       "timed out or never made)", call_id);
    }
    return gld_session_tool_result(s, x->c, call_id, &a, err);
}

/* session: a name (need not exist yet: its open will declare the function) or "*". */
static int tool_session_arg(op_ctx *x, const char **session, gl_err *err)
{
    if (gl_req_str(x->req, "session", true, session, err) != 0)
        return -1;
    if (strcmp(*session, "*") != 0 && !gl_session_name_ok(*session, err))
        return -1;
    return 0;
}

static int op_tool_register(op_ctx *x, gl_err *err)
{
    const char *session;
    json_t *decl;
    long long timeout_ms = x->d->cfg.tool_timeout_ms;
    if (tool_session_arg(x, &session, err) != 0 ||
        gl_req_obj(x->req, "declaration", true, &decl, err) != 0)
        return -1;
    json_t *ts = json_object_get(x->req->root, "timeout_s");
    if (ts && !json_is_null(ts)) {
        /* a floor: below it every call would time out before any handler could answer */
        if (!json_is_number(ts) || json_number_value(ts) < 0.1 || json_number_value(ts) > 86400)
            return gl_fail(err, GL_E_BAD_REQUEST, "field \"timeout_s\" must be a number of seconds in [0.1, 86400]");
        timeout_ms = (long long)(json_number_value(ts) * 1000);
    }
    gld_session *s = strcmp(session, "*") ? gld_session_find(x->d, session) : NULL;
    if (s && !may_use(x, s)) /* as if it did not exist: the registration declares nothing in it */
        s = NULL;
    const char *dname = json_string_value(json_object_get(decl, "name"));
    if (s && dname && gld_session_can_declare(s, dname, err) != 0)
        return -1;
    gld_tool *t = gld_tools_register(x->d, x->c, session, decl, (unsigned)timeout_ms, err);
    if (!t)
        return -1;
    bool reestablish = false;
    if (s)
        reestablish = gld_session_add_declaration(s, t->decl);
    x->out = json_pack("{s:s, s:s, s:b, s:f}", "session", session, "name", t->name, "reestablish",
                       reestablish, "timeout_s", t->timeout_ms / 1000.0);
    return 0;
}

static int op_tool_unregister(op_ctx *x, gl_err *err)
{
    const char *session, *name;
    if (tool_session_arg(x, &session, err) != 0 || gl_req_str(x->req, "name", true, &name, err) != 0)
        return -1;
    return gld_tools_unregister(x->d, x->c, session, name, err);
}

static int op_status(op_ctx *x, gl_err *err)
{
    (void)err;
    gld_daemon *d = x->d;
    ipc_stats st;
    ipc_get_stats(d->ipc, &st);
    json_t *sessions = visible_sessions(x);
    x->out = json_pack("{s:I, s:i, s:i, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:s, s:s, s:o}",
                       "uptime_s", (json_int_t)((uv_now(d->loop) - d->started_ms) / 1000),
                       "sessions", (int)json_array_size(sessions), "clients", (int)st.clients,
                       "bytes_in", (json_int_t)st.bytes_in, "bytes_out", (json_int_t)st.bytes_out,
                       "messages_in", (json_int_t)st.lines_in, "messages_out", (json_int_t)st.lines_out,
                       "upstream", "bytes_in", (json_int_t)d->upstream.bytes_in,
                       "bytes_out", (json_int_t)d->upstream.bytes_out,
                       "messages_in", (json_int_t)d->upstream.msgs_in,
                       "messages_out", (json_int_t)d->upstream.msgs_out,
                       "connects", (json_int_t)d->upstream.connects,
                       "version", GL_VERSION, "endpoint", d->cfg.endpoint, "session_list", sessions);
    json_object_set_new(x->out, "tools", gld_tools_info(d, ipc_client_uid(x->c)));
    /* gliveD's own added latency: an upstream read -> the write of its event lines (ipc.h) */
    const gl_hist *h = ipc_latency(d->ipc);
    json_object_set_new(x->out, "latency_us",
                        json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}", "writes", (json_int_t)h->count,
                                  "p50", gl_hist_quantile(h, 0.5) / 1000.0, "p90", gl_hist_quantile(h, 0.9) / 1000.0,
                                  "p99", gl_hist_quantile(h, 0.99) / 1000.0,
                                  "p999", gl_hist_quantile(h, 0.999) / 1000.0, "max", h->max / 1000.0));
    return 0;
}

static const struct {
    const char *name;
    op_fn fn;
} OPS[] = {
    {"hello", op_hello},           {"open", op_open},
    {"close", op_close},           {"list", op_list},
    {"send", op_send},             {"subscribe", op_subscribe},
    {"unsubscribe", op_unsubscribe}, {"tool.result", op_tool_result},
    {"status", op_status},         {"tool.register", op_tool_register},
    {"tool.unregister", op_tool_unregister},
    {"audio", op_audio},           {"audio.end", op_audio_end},
    {"activity.start", op_activity_start}, {"activity.end", op_activity_end},
    {"image", op_image},
};

void gld_dispatch_line(gld_daemon *d, ipc_client *c, const char *line, size_t len)
{
    gl_req req;
    gl_err err;
    char *reply = NULL;
    op_ctx x = {.d = d, .c = c, .req = &req};
    if (gl_req_parse(line, len, &req, &err) != 0) {
        reply = gl_reply_errf(req.id, &err);
    } else if (d->stopping) {
        reply = gl_reply_err(req.id, GL_E_SHUTTING_DOWN, "gliveD is shutting down");
    } else {
        op_fn fn = NULL;
        for (size_t i = 0; i < sizeof OPS / sizeof OPS[0] && !fn; i++)
            if (strcmp(OPS[i].name, req.op) == 0)
                fn = OPS[i].fn;
        if (!fn) {
            char msg[160];
            snprintf(msg, sizeof msg, "unknown op \"%.100s\"", req.op);
            reply = gl_reply_err(req.id, GL_E_UNKNOWN_OP, msg);
        } else if (fn(&x, &err) != 0) {
            json_decref(x.out);
            x.after_pump = x.after_connect = x.after_close = NULL;
            reply = gl_reply_errf(req.id, &err);
        } else {
            reply = gl_reply_ok(req.id, x.out ? x.out : json_object());
        }
    }
    if (reply) {
        ipc_send(c, reply, strlen(reply));
        free(reply);
    }
    gl_req_free(&req);
    if (x.after_connect)
        gld_session_connect(x.after_connect);
    if (x.after_pump)
        gld_session_pump(x.after_pump);
    if (x.after_close) {
        char why[64];
        snprintf(why, sizeof why, "closed by client %u", ipc_client_id(c));
        gld_session_close(x.after_close, why, true);
    }
}

bool gld_dispatch_busy(gld_daemon *d, ipc_client *c)
{
    for (gld_session *s = d->sessions; s; s = gld_session_next(s))
        if (gld_session_client_busy(s, c))
            return true;
    return false;
}

void gld_dispatch_drained(gld_daemon *d, ipc_client *c)
{
    for (gld_session *s = d->sessions; s; s = gld_session_next(s))
        gld_session_client_drained(s, c);
}

void gld_dispatch_disconnect(gld_daemon *d, ipc_client *c)
{
    gld_tools_client_gone(d, c); /* first: its pending calls then find no handler */
    for (gld_session *s = d->sessions; s; s = gld_session_next(s))
        gld_session_client_gone(s, c);
}
