#include "daemon/calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/tools.h"
#include "proto/errors.h"
#include "proto/line.h"

typedef struct pending_call {
    char *id, *name;     /* id: the server's, or made here for an id-less call */
    bool server_id;      /* the id is the server's: answers carry it (else: by name alone) */
    bool nonblocking;    /* the model does not wait: answered alone, as soon as answered */
    long turn;
    unsigned group;      /* which server toolCall it came in */
    json_t *response;    /* set when answered (for blocking calls, until the group is flushed) */
    ipc_client *handler; /* the registered handler serving it; NULL: the asker answers */
    ipc_client *asker;   /* the client whose turn made the call; NULL once gone */
    char *parent;        /* a call of local code: the run_python call it belongs to, else NULL */
    unsigned call_no;    /* ...and its number in that run */
    unsigned timeout_ms; /* the time an answer may take */
    uint64_t deadline;   /* loop time past which the daemon answers for it */
} pending_call;

struct gld_calls {
    gld_daemon *d;
    const char *session;
    gld_access access;   /* whose handlers may serve the calls (daemon/tools.h) */
    gld_calls_host host;
    uv_timer_t timer; /* the nearest deadline */
    pending_call *v;  /* GLD_MAX_PENDING_CALLS entries, allocated with the first call: most
                         sessions never get one, and 10,000 idle sessions would hold 11 KiB each */
    size_t n;
    unsigned group_seq;
    unsigned long made_ids; /* ids made for id-less calls */
    void (*done)(void *);
    void *done_ud;
};

gld_calls *gld_calls_new(gld_daemon *d, const char *session, const gld_access *acc,
                         const gld_calls_host *host)
{
    gld_calls *c = gl_xcalloc(1, sizeof *c);
    c->d = d;
    c->session = session;
    c->access = *acc;
    c->host = *host;
    uv_timer_init(d->loop, &c->timer);
    c->timer.data = c;
    return c;
}

/* The next free entry (the caller checked there is room). */
static pending_call *new_call(gld_calls *c)
{
    if (!c->v)
        c->v = gl_xcalloc(GLD_MAX_PENDING_CALLS, sizeof *c->v);
    return &c->v[c->n++];
}

static void remove_call(gld_calls *c, size_t i)
{
    free(c->v[i].id);
    free(c->v[i].name);
    free(c->v[i].parent);
    json_decref(c->v[i].response);
    memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof c->v[0]);
    c->n--;
}

static void on_timer_closed(uv_handle_t *h)
{
    gld_calls *c = h->data;
    void (*done)(void *) = c->done;
    void *ud = c->done_ud;
    free(c);
    if (done)
        done(ud);
}

void gld_calls_free(gld_calls *c, void (*done)(void *ud), void *ud)
{
    while (c->n)
        remove_call(c, c->n - 1);
    free(c->v);
    c->v = NULL;
    c->done = done;
    c->done_ud = ud;
    uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static pending_call *find_call(const gld_calls *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].id, id) == 0)
            return (pending_call *)&c->v[i];
    return NULL;
}

bool gld_calls_has(const gld_calls *c, const char *call_id) { return c && find_call(c, call_id) != NULL; }
size_t gld_calls_pending(const gld_calls *c) { return c ? c->n : 0; }

bool gld_calls_asked_by(const gld_calls *c, const ipc_client *cl)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (c->v[i].asker == cl)
            return true;
    return false;
}

static void emit(gld_calls *c, const char *event, const pending_call *pc, ipc_client *extra,
                 json_t *fields)
{
    c->host.emit(c->host.ud, event, pc->asker, extra, pc->turn, fields);
}

/* One FunctionResponse for pc's answer (by name alone for an id-less call). */
static json_t *function_response(const pending_call *pc, const char *scheduling, bool will_continue)
{
    json_t *r = json_object();
    if (pc->server_id)
        json_object_set_new(r, "id", json_string(pc->id));
    json_object_set_new(r, "name", json_string(pc->name));
    json_object_set(r, "response", pc->response);
    if (scheduling)
        json_object_set_new(r, "scheduling", json_string(scheduling));
    if (will_continue)
        json_object_set_new(r, "willContinue", json_true());
    return r;
}

static void send_responses(gld_calls *c, json_t *arr)
{
    gl_err err;
    char *msg = live_build_tool_response(arr, &err);
    json_decref(arr);
    if (!msg)
        log_error("session %s: cannot build toolResponse: %s", c->session, err.msg);
    else
        c->host.send(c->host.ud, msg);
}

/* When every call of a toolCall has its answer, one toolResponse carries them all. */
static void flush_group(gld_calls *c, unsigned group)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].group == group && !c->v[i].response)
            return;
    json_t *arr = json_array();
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].group == group)
            json_array_append_new(arr, function_response(&c->v[i], NULL, false));
    send_responses(c, arr);
    for (size_t i = c->n; i-- > 0;)
        if (c->v[i].group == group)
            remove_call(c, i);
}

/* A non-blocking call's answer goes to the model at once, alone. The call stays pending while
 * more answers are to come (will_continue). */
static void send_nonblocking(gld_calls *c, pending_call *pc, const char *scheduling, bool will_continue)
{
    json_t *arr = json_array();
    json_array_append_new(arr, function_response(pc, scheduling, will_continue));
    send_responses(c, arr);
    ipc_client *asker = pc->asker;
    long turn = pc->turn;
    if (will_continue) {
        json_decref(pc->response);
        pc->response = NULL;
        pc->deadline = uv_now(c->d->loop) + pc->timeout_ms;
    } else {
        remove_call(c, (size_t)(pc - c->v));
    }
    if (!scheduling || strcmp(scheduling, "SILENT") != 0)
        c->host.followup(c->host.ud, asker, turn, scheduling ? scheduling : "WHEN_IDLE");
}

/* Records an answer (by: "handler", "client" or "daemon") and tells watchers. response stolen.
 * pc may be gone when this returns. */
static void answer_call(gld_calls *c, pending_call *pc, json_t *response, const char *by,
                        const char *scheduling, bool will_continue)
{
    bool by_daemon = strcmp(by, "daemon") == 0;
    pc->response = response;
    json_t *f = json_pack("{s:s, s:s, s:O, s:s}", "call_id", pc->id, "name", pc->name, "response",
                          response, "by", by);
    if (scheduling)
        json_object_set_new(f, "scheduling", json_string(scheduling));
    if (will_continue)
        json_object_set_new(f, "will_continue", json_true());
    emit(c, "tool_result", pc, by_daemon ? pc->handler : NULL, f);
    if (by_daemon)
        log_warn("session %s: answered call %s (%s) for nobody: %s", c->session, pc->id, pc->name,
                 json_string_value(json_object_get(response, "error")));
    if (pc->parent) { /* back to the code that made the call */
        c->host.local_answer(c->host.ud, pc->parent, pc->call_no, pc->response);
        remove_call(c, (size_t)(pc - c->v));
    } else if (pc->nonblocking)
        send_nonblocking(c, pc, scheduling, will_continue);
    else
        flush_group(c, pc->group);
}

static void answer_error(gld_calls *c, pending_call *pc, const char *why)
{
    answer_call(c, pc, json_pack("{s:s}", "error", why), "daemon", NULL, false);
}

int gld_calls_result(gld_calls *c, ipc_client *from, const char *call_id, const gld_answer *a,
                     gl_err *err)
{
    pending_call *pc = find_call(c, call_id);
    if (!pc || pc->response) {
        log_info("session %s: dropping a result for call %s: not pending (answered, cancelled or "
                 "timed out)", c->session, call_id);
        return gl_fail(err, GL_E_UNKNOWN_CALL, "no pending tool call \"%s\" in session %s (answered, "
                       "cancelled, timed out or never made)", call_id, c->session);
    }
    if (pc->handler && pc->handler != from)
        return gl_fail(err, GL_E_BAD_REQUEST, "call %s is served by a registered handler (client %u)",
                       call_id, ipc_client_id(pc->handler));
    if (!pc->nonblocking && (a->scheduling || a->will_continue))
        return gl_fail(err, GL_E_BAD_REQUEST, "call %s is blocking (the model waits for it): "
                       "\"scheduling\" and \"will_continue\" apply to non-blocking calls only", call_id);
    json_t *r = a->error ? json_pack("{s:s}", "error", a->error) : json_incref(a->response);
    answer_call(c, pc, r, pc->handler ? "handler" : "client", a->scheduling, a->will_continue);
    return 0;
}

static void on_timer(uv_timer_t *t);

static void arm_deadline(gld_calls *c)
{
    uint64_t next = 0;
    for (size_t i = 0; i < c->n; i++)
        if (!c->v[i].response && (!next || c->v[i].deadline < next))
            next = c->v[i].deadline;
    if (!next) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->d->loop);
    uv_timer_start(&c->timer, on_timer, next > now ? next - now : 0, 0);
}

/* The first unanswered call matching: answering may flush a group and shift the array, so
 * loops rescan after each answer. */
static pending_call *first_unanswered(gld_calls *c, bool (*match)(const pending_call *, const void *),
                                      const void *arg)
{
    for (size_t i = 0; i < c->n; i++)
        if (!c->v[i].response && match(&c->v[i], arg))
            return &c->v[i];
    return NULL;
}

static bool overdue(const pending_call *pc, const void *now) { return pc->deadline <= *(const uint64_t *)now; }

static void on_timer(uv_timer_t *t)
{
    gld_calls *c = t->data;
    uint64_t now = uv_now(c->d->loop);
    pending_call *pc;
    while ((pc = first_unanswered(c, overdue, &now))) {
        char why[200];
        if (pc->handler) {
            snprintf(why, sizeof why, "the handler of %s did not answer in time", pc->name);
            c->host.emit(c->host.ud, "tool_cancel", NULL, pc->handler, pc->turn,
                         json_pack("{s:s, s:s, s:s}", "call_id", pc->id, "name", pc->name, "reason", why));
        } else {
            snprintf(why, sizeof why, "nobody answered the call of %s in time", pc->name);
        }
        answer_error(c, pc, why);
    }
    arm_deadline(c);
}

void gld_calls_route(gld_calls *c, const live_event *ev, ipc_client *asker, long turn, bool declared,
                     bool nonblocking)
{
    if (ev->index == 0)
        c->group_seq++;
    if (!ev->name || !*ev->name || c->n == GLD_MAX_PENDING_CALLS) {
        /* nothing to answer by (no name), or a model gone wild: the cap keeps memory bounded */
        log_warn("session %s: tool call without a name or too many pending (%zu); ignored",
                 c->session, c->n);
        return;
    }
    char made[48];
    if (!ev->call_id)
        snprintf(made, sizeof made, "gld-%s-%lu", c->session, ++c->made_ids);
    gld_tool *t = gld_tools_find(c->d, c->session, &c->access, ev->name);
    pending_call *pc = new_call(c);
    *pc = (pending_call){
        .id = gl_xstrdup(ev->call_id ? ev->call_id : made),
        .server_id = ev->call_id != NULL,
        .nonblocking = nonblocking,
        .name = gl_xstrdup(ev->name),
        .turn = turn,
        .group = c->group_seq,
        .handler = t ? t->handler : NULL,
        .asker = asker,
        .timeout_ms = t ? t->timeout_ms : c->d->cfg.tool_timeout_ms,
    };
    pc->deadline = uv_now(c->d->loop) + pc->timeout_ms;
    json_t *f = json_pack("{s:s, s:s, s:O, s:I, s:I, s:b, s:s}", "call_id", pc->id, "name", ev->name,
                          "args", ev->json, "index", (json_int_t)ev->index, "count",
                          (json_int_t)ev->count, "handler", pc->handler != NULL, "behavior",
                          nonblocking ? "NON_BLOCKING" : "BLOCKING");
    if (!pc->server_id)
        json_object_set_new(f, "server_id", json_null());
    emit(c, "tool_call", pc, pc->handler, f);
    if (!pc->handler) {
        char why[160] = "";
        if (!declared)
            snprintf(why, sizeof why, "no handler is registered for function %s", ev->name);
        else if (!asker)
            snprintf(why, sizeof why, "no handler for %s and the client that sent the prompt is gone",
                     ev->name);
        if (why[0])
            answer_error(c, pc, why);
    }
    arm_deadline(c);
}

void gld_calls_route_local(gld_calls *c, const char *parent_call_id, unsigned call_no,
                           const char *name, const json_t *args, ipc_client *asker, long turn,
                           bool declared)
{
    if (c->n == GLD_MAX_PENDING_CALLS) {
        json_t *r = json_pack("{s:s}", "error", "too many function calls are pending in this session");
        c->host.local_answer(c->host.ud, parent_call_id, call_no, r);
        json_decref(r);
        return;
    }
    char made[48];
    snprintf(made, sizeof made, "gld-%s-%lu", c->session, ++c->made_ids);
    gld_tool *t = gld_tools_find(c->d, c->session, &c->access, name);
    pending_call *pc = new_call(c);
    *pc = (pending_call){
        .id = gl_xstrdup(made),
        .name = gl_xstrdup(name),
        .turn = turn,
        .group = ++c->group_seq,
        .handler = t ? t->handler : NULL,
        .asker = asker,
        .parent = gl_xstrdup(parent_call_id),
        .call_no = call_no,
        .timeout_ms = t ? t->timeout_ms : c->d->cfg.tool_timeout_ms,
    };
    pc->deadline = uv_now(c->d->loop) + pc->timeout_ms;
    emit(c, "tool_call", pc, pc->handler,
         json_pack("{s:s, s:s, s:O, s:i, s:i, s:b, s:s, s:s, s:s}", "call_id", pc->id, "name", name,
                   "args", args, "index", 0, "count", 1, "handler", pc->handler != NULL, "behavior",
                   "BLOCKING", "via", "run_python", "parent_call_id", parent_call_id));
    if (!pc->handler && (!declared || !asker))
        answer_error(c, pc, !declared ? "no such function in this session"
                                      : "no handler, and the client that sent the prompt is gone");
    arm_deadline(c);
}

void gld_calls_cancel_all(gld_calls *c, const char *reason)
{
    if (!c)
        return;
    while (c->n) {
        pending_call *pc = &c->v[0];
        if (!pc->response)
            emit(c, "tool_cancel", pc, pc->handler,
                 json_pack("{s:s, s:s, s:s}", "call_id", pc->id, "name", pc->name, "reason", reason));
        remove_call(c, 0);
    }
    arm_deadline(c);
}

void gld_calls_cancelled_by_model(gld_calls *c, const json_t *ids)
{
    size_t i;
    json_t *id;
    if (!c)
        return;
    json_array_foreach(ids, i, id) {
        const char *cid = json_string_value(id);
        pending_call *pc = cid ? find_call(c, cid) : NULL;
        if (!pc)
            continue;
        emit(c, "tool_cancel", pc, pc->handler,
             json_pack("{s:s, s:s, s:s}", "call_id", pc->id, "name", pc->name, "reason",
                       "cancelled by the model"));
        remove_call(c, (size_t)(pc - c->v));
    }
    arm_deadline(c);
}

static bool served_by(const pending_call *pc, const void *cl) { return pc->handler == cl; }
static bool asked_by(const pending_call *pc, const void *cl) { return !pc->handler && pc->asker == cl; }

void gld_calls_client_gone(gld_calls *c, ipc_client *cl)
{
    pending_call *pc;
    char why[160];
    if (!c)
        return;
    while ((pc = first_unanswered(c, served_by, cl))) {
        snprintf(why, sizeof why, "the handler of %s disconnected", pc->name);
        pc->handler = NULL; /* gone: the daemon's answer goes to the asker and subscribers */
        answer_error(c, pc, why);
    }
    while ((pc = first_unanswered(c, asked_by, cl))) {
        pc->asker = NULL; /* nobody to tell */
        answer_error(c, pc, "the client that sent the prompt disconnected before answering");
    }
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].asker == cl)
            c->v[i].asker = NULL;
    arm_deadline(c);
}
