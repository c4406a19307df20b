/* ws-load: opens N Live API sessions against an endpoint (the emulator), all at once on one
 * libuv loop: each connects, sends setup, one prompt, waits for turnComplete, and stays open
 * until every session has finished, so the server holds N connections at the same moment.
 *
 *   ws-load URL N [--concurrency C] [--ca-file F] [--prompt TEXT]
 *
 * Prints one JSON line: {"sessions":N,"completed":..,"failed":..,"peak_open":..,"seconds":..}.
 * Exit 0 when every session completed its turn. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "common/err.h"
#include "common/xalloc.h"
#include "proto/live.h"
#include "transport/tls.h"
#include "transport/ws.h"

typedef struct sess {
    ws_conn *ws;
    int state; /* 0 connecting, 1 setup sent, 2 prompt sent, 3 done, 4 failed */
} sess;

static uv_loop_t *loop;
static sess *S;
static int N, started, handshaking, open_now, peak_open, completed, failed, closed;
static int concurrency = 500;
static const char *url, *prompt = "Hello?";
static SSL_CTX *tls;
static char *setup_msg, *prompt_msg;

static void start_more(void);

static void finish_all_if_done(void)
{
    if (completed + failed < N)
        return;
    for (int i = 0; i < N; i++)
        if (S[i].ws && S[i].state == 3)
            ws_close(S[i].ws, 1000, "");
}

static void on_open(ws_conn *c, void *ud)
{
    sess *s = ud;
    open_now++;
    if (open_now > peak_open)
        peak_open = open_now;
    s->state = 1;
    ws_send(c, WS_TEXT, setup_msg, strlen(setup_msg), NULL);
}

static void on_message(ws_conn *c, int op, const uint8_t *d, size_t n, void *ud)
{
    (void)op;
    sess *s = ud;
    if (s->state == 1 && memmem(d, n, "setupComplete", 13)) {
        s->state = 2;
        handshaking--;
        ws_send(c, WS_TEXT, prompt_msg, strlen(prompt_msg), NULL);
        start_more(); /* a slot of the connect window is free */
    } else if (s->state == 2 && memmem(d, n, "\"turnComplete\"", 14)) {
        s->state = 3;
        completed++;
        finish_all_if_done();
    }
}

static void on_close(ws_conn *c, const ws_close_info *i, void *ud)
{
    (void)c;
    sess *s = ud;
    if (s->state >= 1)
        open_now--;
    if (s->state != 3) {
        if (failed < 5)
            fprintf(stderr, "ws-load: session %d failed: %d %s %s\n", (int)(s - S), i->code,
                    i->reason, i->error ? i->error : "");
        failed++;
        int was = s->state;
        s->state = 4;
        if (was < 2) {
            handshaking--;
            start_more();
        }
    }
    s->ws = NULL;
    closed++;
    finish_all_if_done();
}

static void start_more(void)
{
    static const ws_handlers h = {on_open, on_message, on_close};
    while (started < N && handshaking < concurrency) {
        sess *s = &S[started++];
        handshaking++;
        ws_client_opts o = {.url = url, .tls = tls, .connect_timeout_ms = 60000};
        gl_err err;
        s->ws = ws_connect(loop, &o, &h, s, &err);
        if (!s->ws) {
            fprintf(stderr, "ws-load: %s\n", err.msg);
            s->state = 4;
            failed++;
            handshaking--;
        }
    }
}

int main(int argc, char **argv)
{
    gl_xalloc_init();
    if (argc < 3) {
        fprintf(stderr, "usage: ws-load URL N [--concurrency C] [--ca-file F] [--prompt TEXT]\n");
        return 2;
    }
    url = argv[1];
    N = atoi(argv[2]);
    const char *ca = NULL;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--concurrency") == 0)
            concurrency = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ca-file") == 0)
            ca = argv[i + 1];
        else if (strcmp(argv[i], "--prompt") == 0)
            prompt = argv[i + 1];
    }
    if (N <= 0 || concurrency <= 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    gl_err err;
    if (strncmp(url, "wss://", 6) == 0 && !(tls = gl_tls_client_ctx(ca, &err))) {
        fprintf(stderr, "ws-load: %s\n", err.msg);
        return 1;
    }
    live_setup st = {.model = "gemini-live-2.5-flash-preview", .modality = LIVE_TEXT};
    setup_msg = live_build_setup(&st, &err);
    prompt_msg = live_build_client_text(prompt, true);
    S = gl_xcalloc((size_t)N, sizeof *S);
    loop = uv_default_loop();
    uint64_t t0 = uv_hrtime();
    start_more();
    uv_run(loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    printf("{\"sessions\":%d,\"completed\":%d,\"failed\":%d,\"peak_open\":%d,\"seconds\":%.2f}\n", N,
           completed, failed, peak_open, secs);
    uv_loop_close(loop);
    free(S);
    free(setup_msg);
    free(prompt_msg);
    SSL_CTX_free(tls);
    return completed == N ? 0 : 1;
}
