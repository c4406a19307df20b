/* glivectl tool: registers a function with gliveD and serves its calls by running a command for
 * each (concurrently, each bounded by the timeout). The event loop is libuv's: the daemon
 * connection (a uv_poll_t on glive_fd), the children (uv_spawn, pipes, a timer each) and
 * SIGINT/SIGTERM. What a call's command gets and how its end becomes the response: tool_run.h. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "client/glivectl/glivectl.h"
#include "client/glivectl/tool_run.h"
#include "client/lib/glive.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "proto/errors.h"

const char cmd_tool_usage[] =
    "Usage: glivectl tool [--session NAME|'*'] --name NAME [--description TEXT]\n"
    "                     [--parameters SCHEMA.json] [--timeout S] [--scheduling WHEN]\n"
    "                     [--json] -- COMMAND [ARGS...]\n"
    "\n"
    "Registers the function NAME with gliveD and serves the model's calls of it by running\n"
    "COMMAND ARGS (no shell; use sh -c '...' for one) once per call, until interrupted (exit 0,\n"
    "running commands are killed) or until gliveD closes the connection (exit 1).\n"
    "\n"
    "  --session NAME      the session to serve, or '*' (default) for every session that declares\n"
    "                      the function; a session that did not declare it is re-established\n"
    "                      with it (its conversation is kept)\n"
    "  --name NAME         the function's name (required)\n"
    "  --description TEXT  the function's description, for the model\n"
    "  --parameters FILE   a JSON file with the parameters schema (an object, e.g.\n"
    "                      {\"type\":\"object\",\"properties\":{\"room\":{\"type\":\"string\"}}})\n"
    "  --timeout S         longest run of one call, in seconds (default 30): past it the\n"
    "                      command's whole process group is killed and the model gets the\n"
    "                      error (gliveD is told S + 1 s, as a safety net)\n"
    "  --scheduling WHEN   for non-blocking calls (the default on 3.8 Live): how the model takes\n"
    "                      the answer: INTERRUPT (at once), WHEN_IDLE (the model's default) or\n"
    "                      SILENT (no reply); a command's JSON object may choose per call with a\n"
    "                      top-level \"scheduling\" key (taken out of the answer)\n"
    "  --json              print every event and reply received as JSON lines on stdout\n"
    "\n"
    "Each call runs COMMAND in a new process group with the call's args as one line of compact\n"
    "JSON on stdin (then EOF) and GLIVE_CALL_ID, GLIVE_TOOL, GLIVE_SESSION in the environment.\n"
    "Calls run concurrently (at most 64 at once). The answer sent to the model:\n"
    "  stdout that is a JSON object   that object, as is\n"
    "  any other stdout               {\"output\": \"<stdout>\"} (trailing newlines trimmed)\n"
    "  exit status N != 0             {\"error\": \"COMMAND exited with status N: <stderr tail>\"}\n"
    "  a signal                       {\"error\": \"COMMAND killed by signal SIGx: <stderr tail>\"}\n"
    "  past --timeout                 {\"error\": \"COMMAND timed out after S s\"}\n"
    "  cannot execute                 {\"error\": \"cannot run COMMAND: <reason>\"}\n"
    "stdout is limited to 1 MiB per call; the stderr tail is its last 2 KiB. A call the model\n"
    "cancels is killed and not answered. One line per call is logged to stderr:\n"
    "  [tool] NAME(ARGS) -> RESPONSE (0.12 s)\n"
    "\n"
    "Example: glivectl tool --name turn_on_the_lights -- sh -c 'echo on > /tmp/lights'\n";

extern char **environ;

#define READ_BUF 65536
#define EXIT_GRACE_MS 1000 /* after the command exits, how long its pipes may stay open */
#define NHANDLES 5         /* per call: process, stdin, stdout, stderr, timer */

typedef struct server server;

typedef struct call {
    server *srv;
    struct call *prev, *next;
    char *call_id;
    char *session;           /* NULL if the event had none */
    json_t *args;
    bool nonblocking;        /* the model does not wait: the answer may carry a scheduling */
    uint64_t t0;             /* uv_hrtime at the start */

    uv_process_t proc;
    uv_pipe_t in, out, err;
    uv_timer_t timer;
    uv_write_t wreq;
    char *in_data;           /* the args line, alive until the call is freed */
    int open;                /* handles not closed yet (close callbacks pending included) */

    bool spawned;
    bool exited;
    bool out_done, err_done; /* EOF (or error) on the pipe */
    bool grace;              /* the timer now bounds the wait for the pipes after the exit */
    bool finished;           /* the result was decided (or dropped); handles are closing */
    bool cancelled;          /* by the model, or glivectl stops: no result */
    bool timed_out, too_big;
    int64_t exit_status;
    int term_signal;
    gl_buf outb;             /* stdout, at most GL_TOOL_STDOUT_MAX */
    gl_ring errt;            /* stderr's tail */
} call;

struct server {
    uv_loop_t loop;
    glive_client *c;
    const gl_tool_opts *o;
    int req_timeout_ms;
    uint64_t timeout_ms;
    uv_poll_t poll;
    uv_signal_t sigint, sigterm;
    call *calls;             /* every call not freed yet, running or closing */
    size_t running;          /* calls not finished */
    bool poll_started;
    bool draining, stopping;
    int rc;
};

static char READBUF[READ_BUF]; /* libuv reads then calls read_cb at once: one buffer is enough */

/* ---- output -------------------------------------------------------------------------------- */

static __attribute__((format(printf, 1, 2))) void tlog(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void print_json(const server *s, const json_t *v)
{
    if (!s->o->json)
        return;
    char *line = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line) {
        fputs(line, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(line);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- calls --------------------------------------------------------------------------------- */

static void drain(server *s);
static void stop(server *s, int rc);
static void on_timer(uv_timer_t *t);

static void call_free(call *k)
{
    server *s = k->srv;
    if (k->prev)
        k->prev->next = k->next;
    else
        s->calls = k->next;
    if (k->next)
        k->next->prev = k->prev;
    free(k->call_id);
    free(k->session);
    json_decref(k->args);
    free(k->in_data);
    gl_buf_free(&k->outb);
    free(k);
}

static void on_call_handle_closed(uv_handle_t *h)
{
    call *k = h->data;
    if (--k->open == 0)
        call_free(k);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_call_handle_closed);
}

static call *find_call(server *s, const char *call_id)
{
    for (call *k = s->calls; k; k = k->next)
        if (!k->finished && strcmp(k->call_id, call_id) == 0)
            return k;
    return NULL;
}

/* SIGKILL to the command's process group (it leads one: UV_PROCESS_DETACHED = setsid). */
static void kill_group(call *k)
{
    if (!k->spawned || k->finished)
        return;
    if (kill(-k->proc.pid, SIGKILL) < 0 && !k->exited)
        uv_process_kill(&k->proc, SIGKILL);
}

/* Sends tool.result {session, call_id, response} and waits for its reply. Returns 0, or -1 after
 * a failure that ends glivectl (stop() called). A refusal other than unknown_call (e.g. the line
 * was too long for gliveD) is answered once more with {"error": ...}, so that the model does not
 * wait for gliveD's timeout. */
static int send_result(server *s, const char *session, const char *call_id, const json_t *response,
                       const char *scheduling, bool retry)
{
    json_t *req = json_pack("{s:s, s:s, s:O}", "op", "tool.result", "call_id", call_id,
                            "response", response);
    if (session)
        json_object_set_new(req, "session", json_string(session));
    if (scheduling)
        json_object_set_new(req, "scheduling", json_string(scheduling));
    gl_err e;
    json_t *reply = glive_request(s->c, req, s->req_timeout_ms, &e);
    if (!reply) {
        if (strcmp(e.code, "timeout") == 0) {
            tlog("[tool] call %s: %s", call_id, e.msg);
            return 0;
        }
        if (strcmp(e.code, "eof") == 0)
            tlog("glivectl: %s", e.msg);
        else
            tlog("glivectl: %s: %s", e.code, e.msg);
        stop(s, EXIT_ERR);
        return -1;
    }
    print_json(s, reply);
    int rc = 0;
    if (glive_reply_error(reply, &e) < 0) {
        if (strcmp(e.code, GL_E_UNKNOWN_CALL) == 0) {
            tlog("[tool] call %s: gliveD no longer waits for it (cancelled or timed out there); "
                 "result dropped: %s", call_id, e.msg);
        } else {
            tlog("glivectl: tool.result for call %s: %s: %s", call_id, e.code, e.msg);
            if (retry) {
                char msg[GL_ERR_MSG + 128];
                snprintf(msg, sizeof msg, "glivectl could not deliver the result: %s: %s", e.code,
                         e.msg);
                json_t *err = json_pack("{s:s}", "error", msg);
                rc = send_result(s, session, call_id, err, scheduling, false);
                json_decref(err);
            }
        }
    }
    json_decref(reply);
    return rc;
}

/* Logs the call, sends its result, then reads the events that came meanwhile. `response` and
 * `args` are borrowed. */
static void respond(server *s, const char *session, const char *call_id, const json_t *args,
                    json_t *response, bool nonblocking, uint64_t t0)
{
    const char *scheduling = gl_tool_take_scheduling(response, s->o->scheduling);
    if (!nonblocking)
        scheduling = NULL; /* a blocking call's answer has no scheduling: the model waits for it */
    char *a = args ? gl_tool_brief(args, GL_TOOL_LOG_MAX) : gl_xstrdup("{}");
    char *r = gl_tool_brief(response, GL_TOOL_LOG_MAX);
    double dt = (double)(uv_hrtime() - t0) / 1e9;
    tlog("[tool] %s(%s) -> %s (%.2f s)", s->o->name, a, r, dt);
    free(a);
    free(r);
    if (send_result(s, session, call_id, response, scheduling, true) == 0)
        drain(s); /* the library may have queued events while waiting for the reply */
}

static void respond_error(server *s, const char *session, const char *call_id, const json_t *args,
                          const char *message, bool nonblocking, uint64_t t0)
{
    json_t *resp = json_pack("{s:s}", "error", message);
    respond(s, session, call_id, args, resp, nonblocking, t0);
    json_decref(resp);
}

/* The call's outcome is known (or it was cancelled): close everything, answer unless cancelled. */
static void finish(call *k)
{
    server *s = k->srv;
    if (k->finished)
        return;
    k->finished = true;
    s->running--;
    close_handle((uv_handle_t *)&k->proc);
    close_handle((uv_handle_t *)&k->in);
    close_handle((uv_handle_t *)&k->out);
    close_handle((uv_handle_t *)&k->err);
    close_handle((uv_handle_t *)&k->timer);
    if (k->cancelled || s->stopping)
        return;
    gl_tool_outcome oc = {.out = gl_buf_head(&k->outb), .out_len = k->outb.len, .err = &k->errt};
    if (k->timed_out)
        oc.end = GL_TOOL_TIMED_OUT;
    else if (k->too_big)
        oc.end = GL_TOOL_TOO_BIG;
    else if (k->term_signal)
        oc.end = GL_TOOL_SIGNALED, oc.status = k->term_signal;
    else
        oc.end = GL_TOOL_EXITED, oc.status = (int)k->exit_status;
    json_t *resp = gl_tool_response(s->o->command[0], s->o->timeout_s, &oc);
    if (resp)
        respond(s, k->session, k->call_id, k->args, resp, k->nonblocking, k->t0);
    else
        respond_error(s, k->session, k->call_id, k->args, "glivectl: out of memory", k->nonblocking, k->t0);
    json_decref(resp);
}

static void maybe_finish(call *k)
{
    if (k->finished || !k->exited)
        return;
    if (k->out_done && k->err_done) {
        finish(k);
    } else if (!k->grace) { /* something else in the group still holds a pipe */
        k->grace = true;
        uv_timer_stop(&k->timer);
        uv_timer_start(&k->timer, on_timer, EXIT_GRACE_MS, 0);
    }
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    call *k = p->data;
    k->exited = true;
    k->exit_status = exit_status;
    k->term_signal = term_signal;
    maybe_finish(k);
}

static void on_timer(uv_timer_t *t)
{
    call *k = t->data;
    if (k->finished)
        return;
    if (k->grace) {
        finish(k);
    } else if (!k->exited) {
        k->timed_out = true;
        kill_group(k);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(READBUF, sizeof READBUF);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    call *k = st->data;
    bool is_out = st == (uv_stream_t *)&k->out;
    if (n > 0) {
        if (!is_out) {
            gl_ring_push(&k->errt, buf->base, (size_t)n);
            return;
        }
        if (k->too_big)
            return;
        if (k->outb.len + (size_t)n <= GL_TOOL_STDOUT_MAX &&
            gl_buf_append(&k->outb, buf->base, (size_t)n) == 0)
            return;
        k->too_big = true; /* (or out of memory: the same answer is fine) */
        kill_group(k);
        n = UV_EOF;
    }
    if (n < 0) {
        if (is_out)
            k->out_done = true;
        else
            k->err_done = true;
        close_handle((uv_handle_t *)st);
        maybe_finish(k);
    }
}

static void on_written(uv_write_t *w, int status)
{
    (void)status; /* EPIPE: the command did not read its stdin; fine */
    call *k = w->data;
    close_handle((uv_handle_t *)&k->in); /* EOF on the command's stdin */
}

static void start_call(server *s, const char *call_id, const char *session, json_t *args,
                       bool nonblocking)
{
    uint64_t t0 = uv_hrtime();
    call *k = gl_xcalloc(1, sizeof *k);
    char **env = gl_tool_env(environ, call_id, s->o->name, session);
    k->call_id = gl_xstrdup(call_id);
    k->session = session ? gl_xstrdup(session) : NULL;
    k->in_data = gl_tool_stdin(args, NULL);
    k->srv = s;
    k->t0 = t0;
    k->nonblocking = nonblocking;
    k->args = json_incref(args);
    gl_buf_init(&k->outb, GL_TOOL_STDOUT_MAX);
    gl_ring_init(&k->errt);
    k->next = s->calls;
    if (s->calls)
        s->calls->prev = k;
    s->calls = k;
    s->running++;

    uv_pipe_init(&s->loop, &k->in, 0);
    uv_pipe_init(&s->loop, &k->out, 0);
    uv_pipe_init(&s->loop, &k->err, 0);
    uv_timer_init(&s->loop, &k->timer);
    k->proc.data = k->in.data = k->out.data = k->err.data = k->timer.data = k->wreq.data = k;

    uv_stdio_container_t stdio[3] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&k->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&k->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&k->err},
    };
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = s->o->command[0],
        .args = s->o->command,
        .env = env,
        .flags = UV_PROCESS_DETACHED, /* setsid(): its own process group, killed as a whole */
        .stdio_count = 3,
        .stdio = stdio,
    };
    int r = uv_spawn(&s->loop, &k->proc, &po); /* initializes k->proc even when it fails */
    gl_tool_env_free(env);
    k->open = NHANDLES;
    if (r < 0) {
        k->finished = true;
        s->running--;
        close_handle((uv_handle_t *)&k->proc);
        close_handle((uv_handle_t *)&k->in);
        close_handle((uv_handle_t *)&k->out);
        close_handle((uv_handle_t *)&k->err);
        close_handle((uv_handle_t *)&k->timer);
        gl_tool_outcome oc = {.end = GL_TOOL_EXEC_FAILED, .status = -r};
        json_t *resp = gl_tool_response(s->o->command[0], s->o->timeout_s, &oc);
        if (resp)
            respond(s, k->session, k->call_id, k->args, resp, nonblocking, t0);
        json_decref(resp);
        return;
    }
    k->spawned = true;
    uv_read_start((uv_stream_t *)&k->out, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&k->err, on_alloc, on_read);
    uv_buf_t b = uv_buf_init(k->in_data, (unsigned)strlen(k->in_data));
    if (uv_write(&k->wreq, (uv_stream_t *)&k->in, &b, 1, on_written) < 0)
        close_handle((uv_handle_t *)&k->in);
    uv_update_time(&s->loop); /* the timeout counts from now, not from the loop's last tick */
    uv_timer_start(&k->timer, on_timer, s->timeout_ms, 0);
}

/* ---- events -------------------------------------------------------------------------------- */

static void on_tool_call(server *s, json_t *ev)
{
    const char *name = str(ev, "name");
    if (!name || strcmp(name, s->o->name) != 0 || !json_is_true(json_object_get(ev, "handler")))
        return;
    const char *call_id = str(ev, "call_id");
    if (!call_id) {
        tlog("[tool] %s: a tool_call without call_id; ignored", name);
        return;
    }
    if (find_call(s, call_id)) {
        tlog("[tool] call %s: already running; duplicate tool_call ignored", call_id);
        return;
    }
    const char *session = str(ev, "session");
    json_t *args = json_object_get(ev, "args");
    bool nonblocking = strcmp(str(ev, "behavior") ? str(ev, "behavior") : "", "NON_BLOCKING") == 0;
    if (s->running >= GL_TOOL_MAX_CALLS) {
        char msg[96];
        snprintf(msg, sizeof msg, "too many calls in progress (%d running)", GL_TOOL_MAX_CALLS);
        respond_error(s, session, call_id, args, msg, nonblocking, uv_hrtime());
        return;
    }
    start_call(s, call_id, session, args, nonblocking);
}

static void on_tool_cancel(server *s, const json_t *ev)
{
    const char *call_id = str(ev, "call_id");
    call *k = call_id ? find_call(s, call_id) : NULL;
    if (!k || k->cancelled)
        return;
    k->cancelled = true;
    kill_group(k);
    tlog("[tool] call %s cancelled by the model", call_id);
    if (k->exited && k->grace)
        finish(k);
}

/* Every event the library has or can read without waiting. */
static void drain(server *s)
{
    if (s->draining || s->stopping)
        return;
    s->draining = true;
    while (!s->stopping) {
        gl_err e;
        json_t *ev = glive_next_event(s->c, 0, &e);
        if (!ev) {
            if (strcmp(e.code, "timeout") == 0 || strcmp(e.code, "eintr") == 0)
                break;
            if (strcmp(e.code, "protocol") == 0 || strcmp(e.code, GL_E_LINE_TOO_LONG) == 0) {
                tlog("glivectl: %s: %s (line skipped)", e.code, e.msg);
                continue;
            }
            if (strcmp(e.code, "eof") == 0)
                tlog("glivectl: %s", e.msg);
            else
                tlog("glivectl: %s: %s", e.code, e.msg);
            stop(s, EXIT_ERR);
            break;
        }
        print_json(s, ev);
        const char *kind = str(ev, "event");
        if (kind && strcmp(kind, "tool_call") == 0)
            on_tool_call(s, ev);
        else if (kind && strcmp(kind, "tool_cancel") == 0)
            on_tool_cancel(s, ev);
        json_decref(ev);
    }
    s->draining = false;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    drain(p->data);
}

/* ---- the loop ------------------------------------------------------------------------------ */

/* Kills every running command, closes every handle: uv_run then returns. */
static void stop(server *s, int rc)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->rc = rc;
    for (call *k = s->calls; k; k = k->next) {
        if (k->finished)
            continue;
        k->cancelled = true;
        kill_group(k);
        finish(k);
    }
    if (s->poll_started)
        uv_close((uv_handle_t *)&s->poll, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *s = h->data;
    size_t n = s->running;
    const char *sig = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (n)
        tlog("[tool] stopping (%s): killing %zu running call%s", sig, n, n == 1 ? "" : "s");
    else
        tlog("[tool] stopping (%s)", sig);
    stop(s, EXIT_OK);
}

/* Connects to gliveD (socket NULL = the default), sends `register_req` (STOLEN) and serves calls
 * until SIGINT/SIGTERM (EXIT_OK, after killing the running commands) or until gliveD closes the
 * connection or fails (EXIT_ERR). EXIT_CONNECT when gliveD cannot be reached, EXIT_ERR when the
 * registration is refused. request_timeout_ms bounds each request's wait for its reply (-1:
 * none). With o->json, every event and reply received is printed on stdout as a JSON line. */
static int serve(const char *socket, int request_timeout_ms, const gl_tool_opts *o,
                 json_t *register_req)
{
    gl_err e;
    glive_client *c = glive_connect(socket, &e);
    if (!c) {
        json_decref(register_req);
        tlog("glivectl: %s", e.msg);
        return EXIT_CONNECT;
    }
    const char *session = str(register_req, "session");
    char *where = gl_xstrdup(session ? session : GL_TOOL_DEFAULT_SESSION);
    json_t *reply = glive_request(c, register_req, request_timeout_ms, &e);
    if (!reply || glive_reply_error(reply, &e) < 0) {
        if (reply && o->json) {
            char *line = json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (line) {
                printf("%s\n", line);
                fflush(stdout);
            }
            free(line);
        }
        tlog("glivectl: %s: %s", e.code, e.msg);
        json_decref(reply);
        free(where);
        glive_close(c);
        return EXIT_ERR;
    }

    server *s = gl_xcalloc(1, sizeof *s);
    if (uv_loop_init(&s->loop) < 0) {
        tlog("glivectl: internal: cannot start the event loop");
        free(s);
        json_decref(reply);
        free(where);
        glive_close(c);
        return EXIT_ERR;
    }
    s->c = c;
    s->o = o;
    s->req_timeout_ms = request_timeout_ms;
    s->timeout_ms = (uint64_t)(o->timeout_s * 1000 + 0.5);
    if (!s->timeout_ms)
        s->timeout_ms = 1;
    s->rc = EXIT_OK;
    print_json(s, reply);
    json_decref(reply);
    tlog("[tool] serving %s in session(s) %s; waiting for calls (Ctrl-C to stop)", o->name, where);
    free(where);

    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    int r = uv_poll_init(&s->loop, &s->poll, glive_fd(c));
    s->poll_started = r == 0;
    s->poll.data = s;
    if (r == 0)
        r = uv_poll_start(&s->poll, UV_READABLE | UV_DISCONNECT, on_readable);
    if (r == 0)
        r = uv_signal_start(&s->sigint, on_signal, SIGINT);
    if (r == 0)
        r = uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    if (r < 0) {
        tlog("glivectl: internal: %s", uv_strerror(r));
        stop(s, EXIT_ERR);
    } else {
        drain(s); /* events queued while the registration waited for its reply */
    }
    uv_run(&s->loop, UV_RUN_DEFAULT);
    int rc = s->rc;
    if (uv_loop_close(&s->loop) != 0)
        tlog("glivectl: internal: the event loop still had handles at exit");
    glive_close(c);
    free(s);
    return rc;
}

int cmd_tool(const globals *g, int argc, char **argv)
{
    gl_tool_opts o;
    gl_err e;
    if (gl_tool_parse(argc, argv, &o, &e) < 0)
        return usage_fail("tool", "%s", e.msg);
    if (o.help) {
        fputs(cmd_tool_usage, stdout);
        return EXIT_OK;
    }
    json_t *req = gl_tool_register_request(&o, &e);
    if (!req && strcmp(e.code, "usage") == 0)
        return usage_fail("tool", "%s", e.msg);
    if (!req) {
        errline("glivectl tool: %s", e.msg);
        return EXIT_ERR;
    }
    return serve(g->socket, g->timeout_ms, &o, req);
}
