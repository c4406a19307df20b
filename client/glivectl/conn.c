/* glivectl talking to gliveD: connecting, one request and its reply, and waiting for events in
 * slices so that SIGINT/SIGTERM stop a command promptly. */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "client/glivectl/glivectl.h"

#define SLICE_MS 250 /* longest blocking wait, so signals are noticed promptly */

/* ---- signals ------------------------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

/* No SA_RESTART: a blocking poll() returns EINTR, and loops check got_signal at least every
 * SLICE_MS anyway. */
void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int take_signal(void)
{
    int sig = got_signal;
    got_signal = 0;
    return sig;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

json_t *wait_event(glive_client *c, int timeout_ms, gl_err *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (got_signal) {
            gl_fail(err, "signal", "stopped by signal %d", (int)got_signal);
            return NULL;
        }
        int slice = SLICE_MS;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                gl_fail(err, "timeout", "no event from gliveD for %d s (see --timeout)",
                        (timeout_ms + 999) / 1000);
                return NULL;
            }
            if (left < slice)
                slice = (int)left;
        }
        json_t *ev = glive_next_event(c, slice, err);
        if (ev)
            return ev;
        if (strcmp(err->code, "timeout") != 0 && strcmp(err->code, "eintr") != 0)
            return NULL;
    }
}

/* ---- connecting and requests --------------------------------------------------------------- */

glive_client *connect_daemon(const globals *g)
{
    gl_err e;
    glive_client *c = glive_connect(g->socket, &e);
    if (!c)
        errline("glivectl: %s", e.msg);
    return c;
}

json_t *request(glive_client *c, const globals *g, json_t *req, gl_err *err)
{
    return glive_request(c, req, g->timeout_ms, err);
}

json_t *request_ok(glive_client *c, const globals *g, json_t *req, int *rc)
{
    gl_err e;
    json_t *r = request(c, g, req, &e);
    if (r && glive_reply_error(r, &e) < 0) {
        json_decref(r);
        r = NULL;
    }
    if (!r)
        *rc = report(&e);
    return r;
}
