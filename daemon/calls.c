#include "daemon/calls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/tools.h"
#include "proto/line.h"

typedef struct pending_call {
    char *id, *name;
    long turn;
    unsigned group;      /* which server toolCall it came in */
    json_t *response;    /* set when answered */
    ipc_client *handler; /* the registered handler serving it; NULL: the asker answers */
    ipc_client *asker;   /* the client whose turn made the call; NULL once gone */
    uint64_t deadline;   /* loop time past which the daemon answers for it */
} pending_call;

struct gld_calls {
    gld_daemon *d;
    const char *session;
    gld_calls_host host;
    uv_timer_t timer; /* the nearest deadline */
    pending_call v[GLD_MAX_PENDING_CALLS];
    size_t n;
    unsigned group_seq;
    void (*done)(void *);
    void *done_ud;
};

gld_calls *gld_calls_new(gld_daemon *d, const char *session, const gld_calls_host *host)
{
    gld_calls *c = gl_xcalloc(1, sizeof *c);
    c->d = d;
    c->session = session;
    c->host = *host;
    uv_timer_init(d->loop, &c->timer);
    c->timer.data = c;
    return c;
}

static void remove_call(gld_calls *c, size_t i)
{
    free(c->v[i].id);
    free(c->v[i].name);
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

bool gld_calls_has(const gld_calls *c, const char *call_id) { return find_call(c, call_id) != NULL; }
size_t gld_calls_pending(const gld_calls *c) { return c->n; }

static void emit(gld_calls *c, const char *event, const pending_call *pc, ipc_client *extra,
                 json_t *fields)
{
    c->host.emit(c->host.ud, event, pc->asker, extra, pc->turn, fields);
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
            json_array_append_new(arr, json_pack("{s:s, s:s, s:O}", "id", c->v[i].id, "name",
                                                 c->v[i].name, "response", c->v[i].response));
    gl_err err;
    char *msg = live_build_tool_response(arr, &err);
    json_decref(arr);
    if (!msg)
        log_error("session %s: cannot build toolResponse: %s", c->session, err.msg);
    else
        c->host.send(c->host.ud, msg);
    for (size_t i = c->n; i-- > 0;)
        if (c->v[i].group == group)
            remove_call(c, i);
}

/* Records an answer (by: "handler", "client" or "daemon") and tells watchers. response stolen. */
static void answer_call(gld_calls *c, pending_call *pc, json_t *response, const char *by)
{
    bool by_daemon = strcmp(by, "daemon") == 0;
    pc->response = response;
    emit(c, "tool_result", pc, by_daemon ? pc->handler : NULL,
         json_pack("{s:s, s:s, s:O, s:s}", "call_id", pc->id, "name", pc->name, "response", response,
                   "by", by));
    if (by_daemon)
        log_warn("session %s: answered call %s (%s) for nobody: %s", c->session, pc->id, pc->name,
                 json_string_value(json_object_get(response, "error")));
    flush_group(c, pc->group);
}

static void answer_error(gld_calls *c, pending_call *pc, const char *why)
{
    answer_call(c, pc, json_pack("{s:s}", "error", why), "daemon");
}

int gld_calls_result(gld_calls *c, ipc_client *from, const char *call_id, json_t *response,
                     const char *error, gl_err *err)
{
    pending_call *pc = find_call(c, call_id);
    if (!pc || pc->response) {
        log_info("session %s: dropping a result for call %s: not pending (answered, cancelled or "
                 "timed out)", c->session, call_id);
        return gl_fail(err, "unknown_call", "no pending tool call \"%s\" in session %s (answered, "
                       "cancelled, timed out or never made)", call_id, c->session);
    }
    if (pc->handler && pc->handler != from)
        return gl_fail(err, "bad_request", "call %s is served by a registered handler (client %u)",
                       call_id, ipc_client_id(pc->handler));
    json_t *r = error ? json_pack("{s:s}", "error", error) : json_incref(response);
    answer_call(c, pc, r, pc->handler ? "handler" : "client");
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

void gld_calls_route(gld_calls *c, const live_event *ev, ipc_client *asker, long turn, bool declared)
{
    if (ev->index == 0)
        c->group_seq++;
    if (!ev->call_id || !ev->name || c->n == GLD_MAX_PENDING_CALLS) {
        log_warn("session %s: tool call without id/name or too many pending; ignored", c->session);
        return;
    }
    gld_tool *t = gld_tools_find(c->d, c->session, ev->name);
    pending_call *pc = &c->v[c->n++];
    *pc = (pending_call){
        .id = gl_xstrdup(ev->call_id),
        .name = gl_xstrdup(ev->name),
        .turn = turn,
        .group = c->group_seq,
        .handler = t ? t->handler : NULL,
        .asker = asker,
        .deadline = uv_now(c->d->loop) + (t ? t->timeout_ms : c->d->cfg.tool_timeout_ms),
    };
    emit(c, "tool_call", pc, pc->handler,
         json_pack("{s:s, s:s, s:O, s:I, s:I, s:b}", "call_id", ev->call_id, "name", ev->name, "args",
                   ev->json, "index", (json_int_t)ev->index, "count", (json_int_t)ev->count, "handler",
                   pc->handler != NULL));
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

void gld_calls_cancel_all(gld_calls *c, const char *reason)
{
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
