#include "daemon/coderun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/sandbox.h"
#include "proto/line.h"

typedef struct run {
    gld_coderun *owner;
    char *id;            /* the model's call id, or made here for an id-less call */
    bool server_id;
    bool nonblocking;
    bool silent;         /* cancelled: the model is not answered */
    long turn;
    ipc_client *asker;
    gld_sandbox_job *job; /* NULL once done */
} run;

struct gld_coderun {
    gld_daemon *d;
    const char *session;
    gld_coderun_host host;
    run *runs[GLD_MAX_CODE_RUNS];
    size_t n;
    unsigned long made_ids;
    bool freeing;
    void (*done)(void *);
    void *done_ud;
};

gld_coderun *gld_coderun_new(gld_daemon *d, const char *session, const gld_coderun_host *host)
{
    gld_coderun *r = gl_xcalloc(1, sizeof *r);
    r->d = d;
    r->session = session;
    r->host = *host;
    return r;
}

static void maybe_free(gld_coderun *r)
{
    if (!r->freeing || r->n)
        return;
    void (*done)(void *) = r->done;
    void *ud = r->done_ud;
    free(r);
    if (done)
        done(ud);
}

void gld_coderun_free(gld_coderun *r, void (*done)(void *ud), void *ud)
{
    r->freeing = true;
    r->done = done;
    r->done_ud = ud;
    for (size_t i = 0; i < r->n; i++) {
        r->runs[i]->silent = true;
        gld_sandbox_cancel(r->runs[i]->job);
    }
    maybe_free(r);
}

json_t *gld_coderun_declaration(void)
{
    return json_pack(
        "{s:s, s:s, s:{s:s, s:{s:{s:s, s:s}}, s:[s]}}", "name", GLD_RUN_PYTHON, "description",
        "Runs Python 3 code and returns what it prints (stdout, then the error if it fails). Use it "
        "for any computation: arithmetic, searching numbers, dates, text processing. The other "
        "functions of this conversation are available inside the code as default_api.NAME(**args); "
        "each returns a dict. Standard library only; no network; print the results you need.",
        "parameters", "type", "OBJECT", "properties", "code", "type", "STRING", "description",
        "the Python 3 program to run", "required", "code");
}

static run *find_run(const gld_coderun *r, const char *id)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->runs[i]->id, id) == 0)
            return r->runs[i];
    return NULL;
}

bool gld_coderun_has(const gld_coderun *r, const char *run_id) { return r && find_run(r, run_id) != NULL; }
size_t gld_coderun_running(const gld_coderun *r) { return r ? r->n : 0; }

bool gld_coderun_asked_by(const gld_coderun *r, const ipc_client *c)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->runs[i]->asker == c)
            return true;
    return false;
}

/* The model gets the run's result as run_python's response (or an error of the daemon's). */
static void answer_model(gld_coderun *r, run *x, const char *outcome, const char *output, size_t len)
{
    json_t *fr = json_object();
    if (x->server_id)
        json_object_set_new(fr, "id", json_string(x->id));
    json_object_set_new(fr, "name", json_string(GLD_RUN_PYTHON));
    json_object_set_new(fr, "response", json_pack("{s:s, s:o}", "outcome", outcome, "output",
                                                  gl_json_textn(output, len)));
    json_t *arr = json_pack("[o]", fr);
    gl_err err;
    char *msg = live_build_tool_response(arr, &err);
    json_decref(arr);
    if (!msg)
        log_error("session %s: cannot build run_python's answer: %s", r->session, err.msg);
    else
        r->host.send(r->host.ud, msg);
    if (x->nonblocking)
        r->host.followup(r->host.ud, x->asker, x->turn, "WHEN_IDLE");
}

static void emit_result(gld_coderun *r, run *x, const char *outcome, const char *output, size_t len)
{
    r->host.emit(r->host.ud, "code_result", x->asker, x->turn,
                 json_pack("{s:s, s:o, s:b, s:s}", "outcome", outcome, "output",
                           gl_json_textn(output, len), "local", 1, "call_id", x->id));
}

static void remove_run(gld_coderun *r, run *x)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->runs[i] == x) {
            r->runs[i] = r->runs[--r->n];
            break;
        }
    free(x->id);
    free(x);
}

static void on_call(gld_sandbox_job *job, void *ud, unsigned call_no, const char *name, json_t *args)
{
    (void)job;
    run *x = ud;
    x->owner->host.call(x->owner->host.ud, x->id, call_no, name, args, x->asker, x->turn);
}

static void on_done(gld_sandbox_job *job, void *ud, const gld_sandbox_result *res)
{
    (void)job;
    run *x = ud;
    gld_coderun *r = x->owner;
    x->job = NULL;
    const char *outcome = gld_outcome_name(res->outcome);
    log_info("session %s: run_python %s: %s in %llu ms, %u call(s)", r->session, x->id, outcome,
             (unsigned long long)res->elapsed_ms, res->calls);
    if (!r->freeing)
        emit_result(r, x, outcome, res->output, res->output_len);
    if (!x->silent)
        answer_model(r, x, outcome, res->output, res->output_len);
    remove_run(r, x);
    maybe_free(r);
}

static void sandbox_opts(const gld_daemon *d, gld_sandbox_opts *o)
{
    gld_sandbox_opts_init(o);
    o->mode = d->cfg.code_sandbox == GLD_CODE_SANDBOX_NONE ? GLD_SANDBOX_NONE : GLD_SANDBOX_BWRAP;
    o->timeout_ms = d->cfg.code_timeout_ms;
}

void gld_coderun_start(gld_coderun *r, const live_event *ev, ipc_client *asker, long turn,
                       bool nonblocking)
{
    run tmp = {.owner = r, .server_id = ev->call_id != NULL, .nonblocking = nonblocking,
               .turn = turn, .asker = asker};
    char made[48];
    if (!ev->call_id)
        snprintf(made, sizeof made, "gld-%s-code-%lu", r->session, ++r->made_ids);
    tmp.id = (char *)(ev->call_id ? ev->call_id : made);
    const char *code = json_string_value(json_object_get(ev->json, "code"));
    r->host.emit(r->host.ud, "code", asker, turn,
                 json_pack("{s:s, s:o, s:b, s:s, s:s}", "language", "PYTHON", "code",
                           gl_json_text(code ? code : ""), "local", 1, "call_id", tmp.id, "behavior",
                           nonblocking ? "NON_BLOCKING" : "BLOCKING"));
    const char *refusal = NULL;
    char why[GL_ERR_MSG + 64];
    if (!code)
        refusal = "run_python needs a string argument \"code\"";
    else if (r->n == GLD_MAX_CODE_RUNS || find_run(r, tmp.id))
        refusal = "too many programs are running in this session; try again when one is done";
    gld_sandbox_opts o;
    sandbox_opts(r->d, &o);
    run *x = NULL;
    if (!refusal) {
        x = gl_xmalloc(sizeof *x);
        *x = tmp;
        x->id = gl_xstrdup(tmp.id);
        static const gld_sandbox_cbs cbs = {on_call, on_done};
        gl_err err;
        x->job = gld_sandbox_run(r->d->loop, &o, code, &cbs, x, &err);
        if (!x->job) {
            snprintf(why, sizeof why, "cannot run the code here: %s", err.msg);
            refusal = why;
            free(x->id);
            free(x);
            x = NULL;
        } else {
            r->runs[r->n++] = x;
        }
    }
    if (refusal) { /* the model is never left waiting */
        log_warn("session %s: run_python %s: %s", r->session, tmp.id, refusal);
        emit_result(r, &tmp, "OUTCOME_FAILED", refusal, strlen(refusal));
        answer_model(r, &tmp, "OUTCOME_FAILED", refusal, strlen(refusal));
    }
}

int gld_coderun_answer(gld_coderun *r, const char *run_id, unsigned call_no, const json_t *response)
{
    run *x = r ? find_run(r, run_id) : NULL;
    gl_err err;
    if (!x || !x->job || gld_sandbox_answer(x->job, call_no, response, &err) != 0)
        return -1;
    return 0;
}

void gld_coderun_cancelled_by_model(gld_coderun *r, const json_t *ids)
{
    size_t i;
    json_t *id;
    if (!r)
        return;
    json_array_foreach(ids, i, id) {
        run *x = json_is_string(id) ? find_run(r, json_string_value(id)) : NULL;
        if (x && x->job) {
            x->silent = true;
            gld_sandbox_cancel(x->job);
        }
    }
}

void gld_coderun_cancel_all(gld_coderun *r, const char *why)
{
    if (!r)
        return;
    log_info("session %s: stopping %zu program(s): %s", r->session, r->n, why);
    for (size_t i = 0; i < r->n; i++) {
        r->runs[i]->silent = true;
        gld_sandbox_cancel(r->runs[i]->job);
    }
}

void gld_coderun_client_gone(gld_coderun *r, ipc_client *c)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (r->runs[i]->asker == c)
            r->runs[i]->asker = NULL;
}
