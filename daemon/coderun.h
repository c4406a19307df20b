/* run_python: code execution served by gliveD itself. Today's Live models have no code execution
 * of their own; for a session that asks for it (tools: [{"code_execution": {}}]) on such a model,
 * gliveD declares the function run_python(code) and runs each call's code in the sandbox of
 * daemon/sandbox.h. Clients see what server-side execution shows: a `code` event, then a
 * `code_result` (both with `local`: true and the call's `call_id`); the model gets the result
 * as the function's response {"outcome": ..., "output": ...}. Inside the code, the session's own
 * functions are default_api.NAME(**args): each is a real function call, routed by the owner
 * (host.call) like the model's, whose answer comes back with gld_coderun_answer().
 *
 * Like daemon/calls.c, this knows nothing of sessions: the owner gives it a host. */
#ifndef GLD_CODERUN_H
#define GLD_CODERUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"
#include "daemon/ipc.h"
#include "proto/live.h"

#define GLD_RUN_PYTHON "run_python"
#define GLD_MAX_CODE_RUNS 8 /* per session at once; more are answered with an error */

typedef struct gld_coderun gld_coderun;

typedef struct gld_coderun_host {
    /* A turn event (fields STOLEN) for asker (may be NULL) and the subscribers. */
    void (*emit)(void *ud, const char *event, ipc_client *asker, long turn, json_t *fields);
    /* Sends one Live API message (STOLEN). */
    int (*send)(void *ud, char *json);
    /* A non-blocking run answered: the model's next unprompted output follows it up. */
    void (*followup)(void *ud, ipc_client *asker, long turn, const char *scheduling);
    /* The code called default_api.NAME(**args) (args BORROWED): route it, then answer with
     * gld_coderun_answer(run_id, call_no, ...). */
    void (*call)(void *ud, const char *run_id, unsigned call_no, const char *name, const json_t *args,
                 ipc_client *asker, long turn);
    void *ud;
} gld_coderun_host;

/* session: the owner's name (BORROWED, outlives the table). */
gld_coderun *gld_coderun_new(gld_daemon *d, const char *session, const gld_coderun_host *host);
/* Cancels what runs (silently: nobody is told) and frees the table once every run has ended
 * (the sandbox reaps its processes first), then calls done(ud). */
void gld_coderun_free(gld_coderun *r, void (*done)(void *ud), void *ud);

/* run_python's FunctionDeclaration (a new reference), to declare in the setup. */
json_t *gld_coderun_declaration(void);

/* The model called run_python (ev: LIVE_EV_TOOL_CALL): runs its code for asker's turn. */
void gld_coderun_start(gld_coderun *r, const live_event *ev, ipc_client *asker, long turn,
                       bool nonblocking);
/* The functions below take r == NULL as a table with no runs (a session makes its table with
 * its first run). */
/* The answer (BORROWED object) to call call_no of run run_id. -1 if that run has ended. */
int gld_coderun_answer(gld_coderun *r, const char *run_id, unsigned call_no, const json_t *response);
/* The model cancelled call ids (BORROWED array): the runs among them are killed, unanswered. */
void gld_coderun_cancelled_by_model(gld_coderun *r, const json_t *ids);
/* The connection is lost or the session closes: every run is killed, unanswered (why: for
 * the code_result clients see). */
void gld_coderun_cancel_all(gld_coderun *r, const char *why);
void gld_coderun_client_gone(gld_coderun *r, ipc_client *c);
bool gld_coderun_has(const gld_coderun *r, const char *run_id);
bool gld_coderun_asked_by(const gld_coderun *r, const ipc_client *c);
size_t gld_coderun_running(const gld_coderun *r);

#endif
