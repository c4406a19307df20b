/* The model's function calls in a session: routing (registered handler, else the prompting
 * client, else an error answer), deadlines, answers gathered into one toolResponse per toolCall,
 * cancellation. The model is never left waiting: every call ends answered or cancelled. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/session_priv.h"
#include "daemon/tools.h"
#include "proto/line.h"

static void remove_call(gld_session *s, size_t i)
{
    free(s->calls[i].id);
    free(s->calls[i].name);
    json_decref(s->calls[i].response);
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

gld_session *gld_session_with_call(gld_daemon *d, const char *call_id)
{
    for (gld_session *s = d->sessions; s; s = s->next)
        if (find_call(s, call_id))
            return s;
    return NULL;
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
        sess_upstream_send(s, msg);
    for (size_t i = s->ncalls; i-- > 0;)
        if (s->calls[i].group == group)
            remove_call(s, i);
}

/* Records an answer (by: "handler", "client" or "daemon") and tells watchers. response stolen. */
static void answer_call(gld_session *s, pending_call *pc, json_t *response, const char *by)
{
    pc->response = response;
    json_t *f = json_pack("{s:s, s:s, s:O, s:s}", "call_id", pc->id, "name", pc->name, "response",
                          response, "by", by);
    ipc_client *sender = s->turn_running ? s->cur.sender : NULL;
    sess_emit_turn2(s, "tool_result", sender, strcmp(by, "daemon") == 0 ? pc->handler : NULL, pc->turn, f);
    if (strcmp(by, "daemon") == 0)
        log_warn("session %s: answered call %s (%s) for nobody: %s", s->name, pc->id, pc->name,
                 json_string_value(json_object_get(response, "error")));
    flush_group(s, pc->group);
}

static void answer_error(gld_session *s, pending_call *pc, const char *why)
{
    answer_call(s, pc, json_pack("{s:s}", "error", why), "daemon");
}

int gld_session_tool_result(gld_session *s, ipc_client *from, const char *call_id,
                            json_t *response, const char *error, gl_err *err)
{
    pending_call *pc = find_call(s, call_id);
    if (!pc || pc->response) {
        log_info("session %s: dropping a result for call %s: not pending (answered, cancelled or "
                 "timed out)", s->name, call_id);
        return gl_fail(err, "unknown_call", "no pending tool call \"%s\" in session %s (answered, "
                       "cancelled, timed out or never made)", call_id, s->name);
    }
    if (pc->handler && pc->handler != from)
        return gl_fail(err, "bad_request", "call %s is served by a registered handler (client %u)",
                       call_id, ipc_client_id(pc->handler));
    json_t *r = error ? json_pack("{s:s}", "error", error) : json_incref(response);
    answer_call(s, pc, r, pc->handler ? "handler" : "client");
    return 0;
}

/* Answers, as the daemon, every unanswered call that `handler` serves (NULL: the calls the
 * prompting client was to answer itself). */
static void answer_calls_of(gld_session *s, ipc_client *handler, const char *why)
{
    for (;;) { /* answering may flush a group and shift the array: rescan each time */
        pending_call *pc = NULL;
        for (size_t i = 0; i < s->ncalls && !pc; i++)
            if (!s->calls[i].response && s->calls[i].handler == handler)
                pc = &s->calls[i];
        if (!pc)
            return;
        answer_error(s, pc, why);
    }
}

/* Drops every pending call with a tool_cancel to whoever was working on it. */
void sess_calls_cancel_all(gld_session *s, const char *reason)
{
    ipc_client *sender = s->turn_running ? s->cur.sender : NULL;
    while (s->ncalls) {
        pending_call *pc = &s->calls[0];
        if (!pc->response)
            sess_emit_turn2(s, "tool_cancel", sender, pc->handler, pc->turn,
                       json_pack("{s:s, s:s, s:s}", "call_id", pc->id, "name", pc->name, "reason", reason));
        remove_call(s, 0);
    }
}

static void on_tool_timer(uv_timer_t *t);

static void arm_tool_deadline(gld_session *s)
{
    uint64_t next = 0;
    for (size_t i = 0; i < s->ncalls; i++)
        if (!s->calls[i].response && (!next || s->calls[i].deadline < next))
            next = s->calls[i].deadline;
    if (!next) {
        uv_timer_stop(&s->tool_timer);
        return;
    }
    uint64_t now = uv_now(s->d->loop);
    uv_timer_start(&s->tool_timer, on_tool_timer, next > now ? next - now : 0, 0);
}

static void on_tool_timer(uv_timer_t *t)
{
    gld_session *s = t->data;
    uint64_t now = uv_now(s->d->loop);
    for (;;) {
        pending_call *pc = NULL;
        for (size_t i = 0; i < s->ncalls && !pc; i++)
            if (!s->calls[i].response && s->calls[i].deadline <= now)
                pc = &s->calls[i];
        if (!pc)
            break;
        char why[200];
        if (pc->handler) {
            snprintf(why, sizeof why, "the handler of %s did not answer in time", pc->name);
            sess_emit_turn2(s, "tool_cancel", NULL, pc->handler, pc->turn,
                       json_pack("{s:s, s:s, s:s}", "call_id", pc->id, "name", pc->name, "reason", why));
        } else {
            snprintf(why, sizeof why, "nobody answered the call of %s in time", pc->name);
        }
        answer_error(s, pc, why);
    }
    arm_tool_deadline(s);
}

/* True if the session's own configuration (open) declares function `name`. */
static bool declared_in_config(const gld_session *s, const char *name)
{
    size_t i, j;
    json_t *tool, *fd;
    json_array_foreach(s->tools, i, tool) {
        json_array_foreach(json_object_get(tool, "functionDeclarations"), j, fd) {
            const char *n = json_string_value(json_object_get(fd, "name"));
            if (n && strcmp(n, name) == 0)
                return true;
        }
    }
    return false;
}

bool sess_calls_declared(const gld_session *s, const char *name)
{
    size_t i;
    json_t *fd;
    json_array_foreach(s->extra_decls, i, fd) {
        const char *n = json_string_value(json_object_get(fd, "name"));
        if (n && strcmp(n, name) == 0)
            return true;
    }
    return declared_in_config(s, name);
}

/* Routes one function call from the model (see PROTOCOL.md: handler, else the prompting
 * client for functions declared at open, else an error answer right away). */
void sess_calls_route(gld_session *s, const live_event *ev, ipc_client *snd, long tn)
{
    if (ev->index == 0)
        s->group_seq++;
    if (!ev->call_id || !ev->name || s->ncalls == MAX_PENDING_CALLS) {
        log_warn("session %s: tool call without id/name or too many pending; ignored", s->name);
        return;
    }
    gld_tool *t = gld_tools_find(s->d, s->name, ev->name);
    pending_call *pc = &s->calls[s->ncalls++];
    memset(pc, 0, sizeof *pc);
    pc->id = strdup(ev->call_id);
    pc->name = strdup(ev->name);
    pc->turn = tn;
    pc->group = s->group_seq;
    pc->handler = t ? t->handler : NULL;
    unsigned timeout = t ? t->timeout_ms : s->d->cfg.tool_timeout_ms;
    pc->deadline = uv_now(s->d->loop) + timeout;
    sess_emit_turn2(s, "tool_call", snd, pc->handler, tn,
               json_pack("{s:s, s:s, s:O, s:I, s:I, s:b}", "call_id", ev->call_id, "name", ev->name,
                         "args", ev->json, "index", (json_int_t)ev->index, "count",
                         (json_int_t)ev->count, "handler", pc->handler != NULL));
    if (!pc->handler) {
        char why[160];
        if (!declared_in_config(s, ev->name))
            snprintf(why, sizeof why, "no handler is registered for function %s", ev->name);
        else if (!snd)
            snprintf(why, sizeof why, "no handler for %s and the client that sent the prompt is gone",
                     ev->name);
        else
            why[0] = '\0';
        if (why[0]) {
            answer_error(s, pc, why);
            arm_tool_deadline(s);
            return;
        }
    }
    arm_tool_deadline(s);
}

/* ---- declarations from handlers ---- */

bool gld_session_add_declaration(gld_session *s, const json_t *decl)
{
    const char *name = json_string_value(json_object_get(decl, "name"));
    if (!name || sess_calls_declared(s, name))
        return false;
    json_array_append(s->extra_decls, (json_t *)decl);
    sess_persist_soon(s);
    if (!s->ws)
        return false; /* the next connection's setup has it */
    s->drain = true;  /* re-establish after the running turn, conversation resumed */
    log_info("session %s: function %s added by a handler; re-establishing after the turn", s->name, name);
    sess_pump(s);
    return true;
}

void sess_calls_cancelled_by_model(gld_session *s, const json_t *ids, ipc_client *snd)
{
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) {
        const char *cid = json_string_value(id);
        pending_call *pc = cid ? find_call(s, cid) : NULL;
        if (!pc)
            continue;
        sess_emit_turn2(s, "tool_cancel", snd, pc->handler, pc->turn,
                        json_pack("{s:s, s:s, s:s}", "call_id", pc->id, "name", pc->name, "reason",
                                  "cancelled by the model"));
        remove_call(s, (size_t)(pc - s->calls));
    }
    arm_tool_deadline(s);
}

void sess_calls_client_gone(gld_session *s, ipc_client *c, bool sender_gone)
{
    char why[160];
    for (size_t i = 0; i < s->ncalls; i++)
        if (s->calls[i].handler == c && !s->calls[i].response) {
            snprintf(why, sizeof why, "the handler of %s disconnected", s->calls[i].name);
            answer_calls_of(s, c, why);
            break;
        }
    if (sender_gone)
        answer_calls_of(s, NULL, "the client that sent the prompt disconnected before answering");
    arm_tool_deadline(s);
}

void sess_calls_free(gld_session *s)
{
    while (s->ncalls)
        remove_call(s, s->ncalls - 1);
}
