/* libFuzzer target: a websocket connection's inbound path (transport/ws.c) on the bytes a peer
 * sends: the HTTP upgrade, then frames through wslay, into the handlers. Both roles:
 *   server: the emulator's side; the input starts with the client's upgrade request;
 *   client: gliveD's side towards the Live API; the input starts with the server's 101.
 *
 * No seam in ws.c: this file includes transport/ws.c itself, so it can build a connection the
 * way on_accept() / ws_connect() do, on a socketpair instead of TCP, and hand the input to
 * on_read() in chunks exactly as libuv would. Output (101 responses, pongs, close frames, echoes)
 * really goes through uv_write to the other end of the socketpair, which is drained and dropped.
 * No DNS, no listener, no TLS (TLS is OpenSSL's parser; tests/unit/test_transport.c covers ours).
 *
 * Input: byte 0 = role and how the run ends, byte 1 = feed size, then the peer's bytes.
 * The handlers react to message contents like a real user could ('c' closes, 'e' echoes, 'a'
 * aborts, 's' sends a large message), so re-entry from callbacks is fuzzed too.
 * Contract checked (abort = reported as a crash): whatever the bytes, the connection ends and
 * reports on_close exactly once, after which it is freed (LeakSanitizer checks that part). */
#include "transport/ws.c"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "fuzz/fuzz.h"

/* RFC 6455's example key: the seeds' 101 answers it with s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
static const char KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";

static uv_loop_t loop;
static ws_server server; /* never listens: only what server-side connections point at */
static bool trace;

static struct run {
    int peer;        /* our end of the socketpair: what the connection writes arrives here */
    int opens, closes;
    bool refuse;     /* on_upgrade refuses with 403 */
    size_t sum;
} run;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init();
    gl_log_set_level(GL_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN); /* as the programs do: a write to a closed peer is an error */
    uv_loop_init(&loop);
    trace = getenv("FUZZ_WS_TRACE") != NULL;
    return 0;
}

static void on_open(ws_conn *c, void *ud)
{
    (void)ud;
    run.opens++;
    CHECK(ws_is_open(c));
    gl_err err;
    (void)ws_send(c, WS_TEXT, "hello", 5, &err);
}

static void on_message(ws_conn *c, int opcode, const uint8_t *d, size_t len, void *ud)
{
    (void)ud;
    CHECK(opcode == WS_TEXT || opcode == WS_BINARY);
    for (size_t i = 0; i < len; i++) /* the whole message must be readable */
        run.sum += d[i];
    gl_err err;
    switch (len ? d[0] : 0) {
    case 'c': { /* the reason: the rest (a C string for ws_close, which cuts it to 123 bytes) */
        char reason[256];
        size_t rl = len - 1 < sizeof reason - 1 ? len - 1 : sizeof reason - 1;
        memcpy(reason, d + 1, rl);
        reason[rl] = '\0';
        ws_close(c, 1000 + (int)(len % 3000), reason);
        break;
    }
    case 'e':
        (void)ws_send(c, opcode, d, len, &err);
        break;
    case 'a':
        ws_abort(c, "fuzz: abort from on_message");
        break;
    case 's': {
        static uint8_t big[300 * 1024]; /* past WRITE_HIGH: the send callback says WOULDBLOCK */
        (void)ws_send(c, WS_BINARY, big, sizeof big, &err);
        break;
    }
    default:
        break;
    }
}

static void on_close(ws_conn *c, const ws_close_info *info, void *ud)
{
    (void)c;
    (void)ud;
    run.closes++;
    CHECK(info->reason && strlen(info->reason) < 128);
    if (trace) /* FUZZ_WS_TRACE=1: how each input ended, to check that seeds reach their path */
        fprintf(stderr, "fuzz_ws: opens %d, close code %d reason \"%s\" sent %d error %s\n",
                run.opens, info->code, info->reason, info->sent_code,
                info->error ? info->error : "-");
    if (info->error)
        CHECK(strlen(info->error) < 256);
}

static int on_upgrade(ws_conn *c, const ws_request *req, ws_handlers *h, void **ud, void *sud)
{
    (void)c;
    (void)sud;
    (void)ws_request_header(req, "Host");
    if (run.refuse)
        return 403;
    *h = (ws_handlers){on_open, on_message, on_close};
    *ud = NULL;
    return 0;
}

static int on_http(const ws_request *req, char **body, const char **ctype, void *sud)
{
    (void)sud;
    *body = gl_xstrdup(req->path);
    *ctype = "text/plain";
    return 200;
}

/* Reads and drops what the connection wrote, so its writes never block. */
static void drain(void)
{
    char b[65536];
    while (read(run.peer, b, sizeof b) > 0) {
    }
}

/* A connection on one end of a socketpair, set up as on_accept() or on_connected() leaves it
 * for a plain (non-TLS) connection that is waiting for the HTTP head. */
static ws_conn *conn_on_socketpair(bool client, size_t max_message, size_t max_output)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    run.peer = sv[1];
    ws_conn *c = conn_new(&loop, max_message, max_output);
    uv_tcp_init(&loop, &c->tcp);
    CHECK(uv_tcp_open(&c->tcp, sv[0]) == 0);
    c->tcp.data = c;
    c->tcp_inited = true;
    c->refs++;
    c->state = ST_HTTP;
    snprintf(c->peer, sizeof c->peer, "fuzz");
    if (client) {
        c->client = true;
        memcpy(c->key, KEY, sizeof c->key);
        c->h = (ws_handlers){on_open, on_message, on_close};
        c->headers = gl_xcalloc(1, sizeof *c->headers);
    } else {
        c->server = &server;
        c->next = server.conns;
        if (server.conns)
            server.conns->prev = c;
        server.conns = c;
        server.nconns++;
        /* The server sets handlers at upgrade; on_close must hear of refused ones too. */
        c->h.on_close = on_close;
    }
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t mode = data[0];
    bool client = mode & 1;
    int end = (mode >> 1) & 3;        /* 0 EOF, 1 ws_close, 2 ws_abort, 3 read error */
    run = (struct run){.refuse = (mode >> 3) & 1};
    size_t max_message = (mode & 0x10) ? 64 : 0; /* small: the 1009 path; 0: 16 MiB */
    size_t max_output = (mode & 0x20) ? 64 * 1024 : 0;
    size_t chunk = (size_t)data[1] * 16 + 1;
    server.o.on_http = (mode & 0x40) ? on_http : NULL;
    server.o.on_upgrade = on_upgrade;

    ws_conn *c = conn_on_socketpair(client, max_message, max_output);
    const char *in = (const char *)data + 2;
    size_t n = size - 2;
    for (size_t off = 0; off < n && !run.closes; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        uv_buf_t b = uv_buf_init((char *)in + off, (unsigned)k);
        on_read((uv_stream_t *)&c->tcp, (ssize_t)k, &b);
        drain();
        /* Write completions pump wslay again, as in real life; not after the last chunk, so the
         * end below may come in the same loop turn as the last read (a shutdown still pending). */
        if (off + k < n)
            uv_run(&loop, UV_RUN_NOWAIT);
    }
    if (!run.closes) { /* c is alive until on_close (it is freed right after) */
        gl_err err;
        (void)ws_send(c, WS_TEXT, "bye", 3, &err);
        (void)ws_queued_bytes(c);
        if (end == 1)
            ws_close(c, 1001, "fuzz: going away");
        else if (end == 2)
            ws_abort(c, "fuzz: abort");
    }
    if (!run.closes) { /* the peer hangs up (or the socket fails), as libuv reports it */
        uv_buf_t b = uv_buf_init(NULL, 0);
        on_read((uv_stream_t *)&c->tcp, end == 3 ? UV_ECONNRESET : UV_EOF, &b);
    }
    /* Everything pending (writes, a shutdown, handle closes) completes within a few turns. */
    for (int i = 0; i < 100 && !run.closes; i++) {
        drain();
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    CHECK(run.closes == 1);
    CHECK(uv_run(&loop, UV_RUN_NOWAIT) == 0); /* no handle left behind */
    close(run.peer);
    CHECK(server.nconns == 0 && server.conns == NULL);
    return 0;
}
