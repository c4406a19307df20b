/* A session's pending function calls: routing (a registered handler, else the client whose turn
 * made the call, else an error answer at once), deadlines, answers gathered into one toolResponse
 * per server toolCall, cancellation. The model is never left waiting: every call ends answered
 * or cancelled.
 *
 * Blocking calls (the model waits) are answered together: one toolResponse per server toolCall.
 * Non-blocking calls (NON_BLOCKING, the default on 3.8 Live: the model goes on talking and
 * answers when the response arrives, possibly after the turn that made the call) are answered
 * one by one, with the client's `scheduling` and `will_continue`; a call may outlive its turn.
 * A function call without an id (recorded on Vertex) gets an id made here and is answered by
 * name alone.
 *
 * This module knows nothing of sessions: its owner (daemon/session.c) gives it a host, the two
 * things it needs from outside (tell clients an event; send a message to the Live API), and
 * decides what it is told (which functions the session declares, who asked). */
#ifndef GLD_CALLS_H
#define GLD_CALLS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "daemon/access.h"
#include "daemon/daemon.h"
#include "daemon/ipc.h"
#include "proto/live.h"

#define GLD_MAX_PENDING_CALLS 128

typedef struct gld_calls gld_calls;

typedef struct gld_calls_host {
    /* A turn event (fields STOLEN) for `asker` (may be NULL), every subscriber of the session,
     * and `extra` (a handler; may be NULL), each once. */
    void (*emit)(void *ud, const char *event, ipc_client *asker, ipc_client *extra, long turn,
                 json_t *fields);
    /* Sends one Live API message (STOLEN). */
    int (*send)(void *ud, char *json);
    /* A non-blocking call's final answer went to the model with a scheduling that makes it
     * answer (INTERRUPT or WHEN_IDLE): its next unprompted output is the follow-up of `turn`,
     * for `asker`. */
    void (*followup)(void *ud, ipc_client *asker, long turn, const char *scheduling);
    /* A call made by local code (gld_calls_route_local) got its answer (BORROWED): it goes back
     * to that code, not to the model. */
    void (*local_answer)(void *ud, const char *parent_call_id, unsigned call_no, const json_t *response);
    void *ud;
} gld_calls_host;

/* session: the owner's name (BORROWED, lives as long as the table); acc: who may serve its
 * calls (copied: a session's owner and shared flag never change). */
gld_calls *gld_calls_new(gld_daemon *d, const char *session, const gld_access *acc,
                         const gld_calls_host *host);
/* Frees the table once its timer is closed, then calls done(ud). Pending calls are dropped
 * silently: cancel them first if someone should know. */
void gld_calls_free(gld_calls *c, void (*done)(void *ud), void *ud);

/* One function call of a server toolCall (ev: LIVE_EV_TOOL_CALL). asker: the client whose turn
 * made it (NULL if gone or none); declared: the session's own configuration declares the
 * function (only then may the asker answer it); nonblocking: the model does not wait for it. */
void gld_calls_route(gld_calls *c, const live_event *ev, ipc_client *asker, long turn,
                     bool declared, bool nonblocking);

/* A call that code run by gliveD made (run_python's default_api.NAME(**args), call number
 * call_no of the run parent_call_id): routed exactly like the model's calls, shown as a
 * tool_call with `via` and `parent_call_id`, and answered to host.local_answer. */
void gld_calls_route_local(gld_calls *c, const char *parent_call_id, unsigned call_no,
                           const char *name, const json_t *args, ipc_client *asker, long turn,
                           bool declared);

/* How a client answers (tool.result): response (BORROWED object) or error text; for
 * non-blocking calls also scheduling ("INTERRUPT", "WHEN_IDLE", "SILENT" or NULL: the model's
 * default) and will_continue (more answers to the same call follow). */
typedef struct gld_answer {
    json_t *response;
    const char *error;
    const char *scheduling;
    bool will_continue;
} gld_answer;
int gld_calls_result(gld_calls *c, ipc_client *from, const char *call_id, const gld_answer *a,
                     gl_err *err);
/* The functions below take c == NULL as a table with no calls (a session makes its table with
 * its first call). */
/* The model cancelled these calls (ids: array of strings, BORROWED): tool_cancel to each worker. */
void gld_calls_cancelled_by_model(gld_calls *c, const json_t *ids);
/* Drops every pending call with a tool_cancel to whoever was working on it (connection lost,
 * session closing). */
void gld_calls_cancel_all(gld_calls *c, const char *reason);
/* Client cl is gone: the calls its handler registrations served, and the calls it asked with no
 * handler, are answered with an error by the daemon; it is forgotten as an asker. */
void gld_calls_client_gone(gld_calls *c, ipc_client *cl);

bool gld_calls_has(const gld_calls *c, const char *call_id);
/* Some pending call was made by cl's turn. */
bool gld_calls_asked_by(const gld_calls *c, const ipc_client *cl);
size_t gld_calls_pending(const gld_calls *c);

#endif
