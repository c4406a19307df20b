/* Websocket connections: libuv socket -> (TLS engine) -> HTTP upgrade -> wslay.
 *
 * Data path in:  uv read -> gl_tls_feed -> c->in (plaintext) -> HTTP head parser, or whole
 *                binary frames straight to on_message (a client: direct_frames), or wslay recv.
 *                Under a flood the socket's receive mark is raised (maybe_coalesce).
 * Data path out: wslay send callback -> c->stage (plaintext) -> gl_tls_write -> c->out -> one
 *                uv_write; the HTTP writer -> gl_tls_write -> c->out.
 * wslay hands over a frame's header and its payload in separate calls: sealed one by one, each
 * message would be two TLS records (a 2-14 byte one for the header), and every record costs
 * the peer ~0.4 us of OpenSSL's fixed work besides its bytes. So wslay's output is staged:
 * a client (gliveD) seals what one pump sends as one piece when it is flushed (a record per
 * 16 KiB, not two per message); a server (the emulator) seals each whole frame, one record per
 * frame, as servers that write a frame per SSL_write do.
 * Backpressure: while more than WRITE_HIGH bytes are in flight in uv_write, the wslay send
 * callback says WOULDBLOCK and wslay keeps the frames queued; write completions pump it again.
 * ws_send refuses messages once queued + in-flight bytes would pass max_output. */
#include "transport/ws.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "transport/http.h"
#include "transport/tls.h"
#include "transport/url.h"

#define WRITE_HIGH (256 * 1024)
#define IN_LIMIT (1024 * 1024)        /* plaintext read but not yet consumed by wslay */
#define CLOSE_TIMEOUT_MS 5000         /* the peer's time to answer our close frame */
#define HIBERNATE_MS 200              /* quiet this long after a small read: release wslay */
#define FLOOD_GAP_NS 200000u          /* small reads closer than this are a flood's ... */
#define FLOOD_READS 4                 /* ... after this many in a row */
#define FLOOD_LOWAT (16 * 1024)       /* in a flood, wake when this much is waiting */

enum conn_state {
    ST_RESOLVING,
    ST_CONNECTING,
    ST_TLS,       /* TLS handshake in progress */
    ST_HTTP,      /* client: waiting for the 101; server: waiting for the request */
    ST_OPEN,
    ST_CLOSING,   /* close frame sent, waiting for the peer's */
    ST_DRAINING,  /* flushing the last bytes before the socket closes */
    ST_DEAD,      /* uv_close called */
};

struct ws_conn {
    uv_loop_t *loop;
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_timer_t idle_timer;  /* on_idle: hibernate() after HIBERNATE_MS, a flood's end */
    union {                 /* one at a time: the lookup (ST_RESOLVING) has ended, its callback
                               run, before the connect starts */
        uv_getaddrinfo_t gai;
        uv_connect_t connect_req;
    };
    uv_shutdown_t shutdown_req;
    bool client;
    enum conn_state state;
    int refs;               /* open handles + a pending DNS lookup; freed at 0 */
    bool tcp_inited;
    bool reading;
    bool stalled;
    bool paused;            /* ws_pause: the consumer wants no messages for now */
    bool flood;             /* SO_RCVLOWAT raised: see maybe_coalesce() */
    bool tls_kept;          /* streaming: OpenSSL keeps its record buffers until hibernate() */
    uint8_t streak;         /* small reads in a row under FLOOD_GAP_NS apart */
    uint16_t coalesce_ms;   /* ws_client_opts */
    int depth;              /* >0 while inside wslay or a user callback */

    gl_tls *tls;
    gl_buf in;              /* plaintext not yet consumed */
    gl_buf stage;           /* TLS: wslay's output not sealed yet (flush_out seals it) */
    gl_buf out;             /* bytes ready to hand to uv_write */
    size_t in_flight;       /* bytes in uv_write requests */
    wslay_event_context_ptr ws; /* NULL while open and idle: see hibernate() */
    /* What wslay was given and what it parsed, to know when it holds no partial frame:
     * bytes handed to it, bytes of the frames it finished, the frame it is in, and whether a
     * fragmented message is under way. */
    uint64_t ws_fed, ws_done, frame_bytes;
    bool in_frame, in_message;
    size_t head_scanned;    /* ST_HTTP: bytes of c->in known to hold no end of the head */
    uint64_t read_ns;       /* uv_hrtime() when the last read from the socket came */

    ws_handlers h;
    void *ud;
    size_t max_message, max_output;
    unsigned ping_interval_ms, pong_timeout_ms;
    uint64_t ping_sent_at;  /* 0 = no ping outstanding */

    /* client: the URL and headers only until the upgrade request is written (4 KiB, and the
       API key: gone once it is sent) */
    gl_url *url;
    char key[25];
    int http_status;  /* the upgrade was answered with this instead of 101 */
    char **headers;
    bool insecure;
    SSL_CTX *tls_ctx;

    /* outcome, reported once through on_close */
    int close_code;
    char close_reason[128];
    char error[256];
    bool closed_reported;

    /* server */
    ws_server *server;
    ws_conn *next, *prev;
    char peer[64];
};

struct ws_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    ws_server_opts o;
    ws_conn *conns;
    unsigned nconns;
    bool stopping, listener_closed;
    int port;
};

static uint8_t g_readbuf[65536]; /* one loop thread: reads are consumed before the next one */

static void conn_fail(ws_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void conn_finish(ws_conn *c);
static void pump(ws_conn *c);
static void server_conn_gone(ws_conn *c);
static void arm_close_deadline(ws_conn *c);
static void conn_unref(ws_conn *c);

/* ---- output ---- */

struct write_req {
    uv_write_t req;
    ws_conn *c;
    size_t len;
    char *mem; /* c->out's buffer, handed over: freed when written */
};

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = (struct write_req *)req;
    ws_conn *c = w->c;
    c->in_flight -= w->len;
    free(w->mem);
    free(w);
    if (status < 0 && status != UV_ECANCELED && c->state < ST_DEAD)
        conn_fail(c, "write failed: %s", uv_strerror(status));
    else if (c->state < ST_DEAD)
        pump(c);
}

/* Output not handed to libuv yet: staged and sealed. */
static size_t pending_out(const ws_conn *c) { return c->stage.len + c->out.len; }

/* The staged plaintext through TLS into c->out, as few records as its size allows. Before
 * anything else is sealed (HTTP, close_notify), so the order on the wire stays the order of the
 * calls. */
static int seal(ws_conn *c)
{
    if (!c->stage.len)
        return 0;
    gl_err err;
    int rc = gl_tls_write(c->tls, gl_buf_head(&c->stage), c->stage.len, &c->out, &err);
    gl_buf_reset(&c->stage);
    if (rc != 0)
        conn_fail(c, "%s", err.msg);
    return rc;
}

/* Hands everything in c->out to libuv as one write: the buffer itself, not a copy; c->out
 * starts afresh (an idle connection keeps no output buffer). */
static void flush_out(ws_conn *c)
{
    if (c->state == ST_DEAD || c->stalled || seal(c) != 0 || c->out.len == 0)
        return;
    struct write_req *w = gl_xmalloc(sizeof *w);
    w->c = c;
    w->len = c->out.len;
    w->mem = c->out.data;
    uv_buf_t b = uv_buf_init(gl_buf_head(&c->out), (unsigned)w->len);
    size_t limit = c->out.limit;
    gl_buf_init(&c->out, limit);
    int r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (r < 0) {
        free(w->mem);
        free(w);
        conn_fail(c, "write failed: %s", uv_strerror(r));
        return;
    }
    c->in_flight += w->len;
}

/* Plaintext to the peer: through TLS when there is TLS. */
static int put_plain(ws_conn *c, const void *data, size_t len)
{
    gl_err err;
    if (c->tls) {
        if (seal(c) != 0)
            return -1;
        if (gl_tls_write(c->tls, data, len, &c->out, &err) != 0) {
            conn_fail(c, "%s", err.msg);
            return -1;
        }
    } else if (gl_buf_append(&c->out, data, len) != 0) {
        conn_fail(c, "output buffer full");
        return -1;
    }
    return 0;
}

/* ---- wslay callbacks ---- */

static ssize_t wsl_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                        void *user)
{
    ws_conn *c = user;
    if (c->in_flight + pending_out(c) >= WRITE_HIGH || c->state == ST_DEAD) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    int rc = c->tls ? gl_buf_append(&c->stage, data, len) : put_plain(c, data, len);
    if (rc != 0) {
        if (c->tls)
            conn_fail(c, "output buffer full");
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    /* A server seals each frame as a record of its own when the frame is whole (the common
     * server's one SSL_write per frame; the emulator's stream is what make bench measures, so
     * it must not batch more than such a server would). */
    if (c->tls && !c->client && !(flags & WSLAY_MSG_MORE) && seal(c) != 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static ssize_t wsl_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                        void *user)
{
    (void)flags;
    ws_conn *c = user;
    if (c->in.len == 0 || c->paused) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = c->in.len < len ? c->in.len : len;
    memcpy(buf, gl_buf_head(&c->in), n);
    gl_buf_consume(&c->in, n);
    c->ws_fed += n;
    return (ssize_t)n;
}

/* Frame boundaries, for hibernate(). wslay accepts only minimal length encodings, frames masked
 * from clients and unmasked from servers, so a frame's size on the wire follows from its
 * payload length. */
static void wsl_frame_start(wslay_event_context_ptr ctx,
                            const struct wslay_event_on_frame_recv_start_arg *a, void *user)
{
    (void)ctx;
    ws_conn *c = user;
    uint64_t n = a->payload_length;
    c->frame_bytes = 2 + (n > 125 ? (n > 0xffff ? 8 : 2) : 0) + (c->client ? 0 : 4) + n;
    c->in_frame = true;
    if (a->opcode < 8) /* text, binary, continuation: control frames may come in between */
        c->in_message = !a->fin;
}

static void wsl_frame_end(wslay_event_context_ptr ctx, void *user)
{
    (void)ctx;
    ws_conn *c = user;
    c->ws_done += c->frame_bytes;
    c->in_frame = false;
}

static int wsl_genmask(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    /* Masking keys only need to be unpredictable to scripts in browsers; RAND_bytes is cheap. */
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void wsl_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                       void *user)
{
    (void)ctx;
    ws_conn *c = user;
    switch (a->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
        if (c->h.on_message && c->state < ST_DRAINING && !c->stalled)
            c->h.on_message(c, a->opcode == WSLAY_TEXT_FRAME ? WS_TEXT : WS_BINARY, a->msg,
                            a->msg_length, c->ud);
        break;
    case WSLAY_CONNECTION_CLOSE: {
        c->close_code = a->status_code ? a->status_code : 1005;
        size_t rl = a->msg_length > 2 ? a->msg_length - 2 : 0;
        if (rl >= sizeof c->close_reason)
            rl = sizeof c->close_reason - 1;
        if (rl) /* a close frame may carry no payload at all (then msg is NULL) */
            memcpy(c->close_reason, a->msg + 2, rl);
        c->close_reason[rl] = '\0';
        break;
    }
    case WSLAY_PONG:
        c->ping_sent_at = 0;
        break;
    default:
        break;
    }
}

static int start_wslay(ws_conn *c)
{
    struct wslay_event_callbacks cb = {
        .recv_callback = wsl_recv,
        .send_callback = wsl_send,
        .genmask_callback = wsl_genmask,
        .on_frame_recv_start_callback = wsl_frame_start,
        .on_frame_recv_end_callback = wsl_frame_end,
        .on_msg_recv_callback = wsl_on_msg,
    };
    c->ws_fed = c->ws_done = 0;
    c->in_frame = c->in_message = false;
    int r = c->client ? wslay_event_context_client_init(&c->ws, &cb, c)
                      : wslay_event_context_server_init(&c->ws, &cb, c);
    if (r != 0) {
        conn_fail(c, "websocket context: out of memory");
        return -1;
    }
    wslay_event_config_set_max_recv_msg_length(c->ws, c->max_message);
    return 0;
}

/* An open connection with nothing under way gives its wslay context back (~9 KiB: two fixed
 * 4 KiB buffers), so that thousands of idle sessions do not keep one each; the next input or
 * output makes a fresh one (awake()). Nothing under way: no frame half read (every byte wslay
 * was given belongs to a frame it finished), no fragmented message, nothing queued or half
 * sent, no close sent or received. Those are all the state wslay keeps between frames, so the
 * fresh context carries on exactly where this one stood. A stream's TLS record buffers go too
 * (gl_tls_keep_buffers), and the staging buffer. */
static void hibernate(ws_conn *c)
{
    if (c->tls_kept && c->state == ST_OPEN) { /* OpenSSL frees them if empty (else later) */
        gl_tls_keep_buffers(c->tls, false);
        c->tls_kept = false;
    }
    if (!c->ws || c->state != ST_OPEN || c->depth || c->stalled || c->in.len || c->in_frame ||
        c->in_message || c->ws_fed != c->ws_done || wslay_event_want_write(c->ws) ||
        wslay_event_get_queued_msg_count(c->ws) || wslay_event_get_close_sent(c->ws) ||
        wslay_event_get_close_received(c->ws) || !wslay_event_get_read_enabled(c->ws) ||
        !wslay_event_get_write_enabled(c->ws))
        return;
    wslay_event_context_free(c->ws);
    c->ws = NULL;
    if (!c->stage.len) { /* flushed (always, but a stall): its memory too */
        gl_buf_free(&c->stage);
        gl_buf_init(&c->stage, 0);
    }
}

static void end_flood(ws_conn *c);

/* idle_timer: the end of a flood (maybe_coalesce), hibernation after HIBERNATE_MS of quiet, and
 * the deferred pump of ws_pause(c, false): what was read before the pause, delivered from the
 * loop, not from inside the caller's frame. */
static void on_idle(uv_timer_t *t)
{
    ws_conn *c = t->data;
    if (c->flood) { /* no read for coalesce_ms: the flood is over, read what is left */
        end_flood(c);
        uv_timer_start(&c->idle_timer, on_idle, HIBERNATE_MS, 0); /* no read may follow */
        return;
    }
    if (c->in.len && !c->paused)
        pump(c);
    else
        hibernate(c);
}

/* The context back, if hibernate() released it. -1 if there is none (not open, or it cannot
 * be made: conn_fail'd). */
static int awake(ws_conn *c)
{
    if (c->ws)
        return 0;
    return c->state == ST_OPEN ? start_wslay(c) : -1;
}

/* A client's common input without wslay: whole binary frames from the server (how the Live
 * API sends every message), handed to on_message in place, straight from c->in. wslay would
 * copy each into its 4 KiB buffer, then into a message it allocates, and free it (callgrind:
 * ~2,450 instructions per audio chunk, a tenth of gliveD's). Taken only between frames (wslay
 * holds no partial frame, no fragmented message) and only for what wslay would deliver as it
 * is: FIN, no RSV bits, unmasked, the shortest length encoding, within max_message, all there.
 * Anything else (text frames, whose UTF-8 wslay checks; control frames; fragments; a frame not
 * all read yet; every protocol error) is left at the head of c->in for wslay. */
static void direct_frames(ws_conn *c)
{
    while (c->state == ST_OPEN && !c->paused && !c->stalled && !c->in_frame && !c->in_message &&
           c->ws_fed == c->ws_done && c->in.len >= 2 &&
           (!c->ws || wslay_event_get_read_enabled(c->ws))) { /* not after a close frame */
        const uint8_t *p = (const uint8_t *)gl_buf_head(&c->in);
        size_t have = c->in.len, hdr = 2;
        if (p[0] != (0x80 | WSLAY_BINARY_FRAME) || (p[1] & 0x80))
            return;
        uint64_t len = p[1] & 0x7f;
        if (len == 126) {
            if (have < 4)
                return;
            len = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
            if (len < 126)
                return;
        } else if (len == 127) {
            if (have < 10)
                return;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = len << 8 | p[2 + i];
            hdr = 10;
            if (len < 65536 || len >> 63)
                return;
        }
        if (len > c->max_message || len > have - hdr)
            return;
        c->depth++;
        if (c->h.on_message)
            c->h.on_message(c, WS_BINARY, p + hdr, (size_t)len, c->ud);
        c->depth--;
        if (c->state == ST_DEAD) /* c->in lives until the last handle closes */
            return;
        gl_buf_consume(&c->in, hdr + (size_t)len);
    }
}

/* Runs wslay both ways and decides whether the connection is over. */
static void pump(ws_conn *c)
{
    if (c->state < ST_OPEN || c->state == ST_DEAD || c->stalled)
        return;
    if (c->client && c->in.len) {
        direct_frames(c);
        if (c->state == ST_DEAD || c->stalled)
            return;
    }
    /* no context: not a websocket yet (or any more), or hibernating with nothing to read
     * (anything to send woke it first) */
    if (!c->ws && (!c->in.len || awake(c) != 0))
        return;
    c->depth++;
    if (wslay_event_want_read(c->ws) && c->in.len && wslay_event_recv(c->ws) != 0 && !c->error[0])
        snprintf(c->error, sizeof c->error, "peer broke the websocket protocol");
    if (c->state != ST_DEAD && wslay_event_want_write(c->ws) &&
        c->in_flight + pending_out(c) < WRITE_HIGH)
        wslay_event_send(c->ws);
    c->depth--;
    if (c->state == ST_DEAD)
        return;
    /* wslay closes by itself on oversized messages and protocol errors: say why */
    int sent = wslay_event_get_close_sent(c->ws) ? wslay_event_get_status_code_sent(c->ws) : 0;
    if (!c->error[0] && sent == WSLAY_CODE_MESSAGE_TOO_BIG)
        snprintf(c->error, sizeof c->error, "peer sent a message larger than %zu bytes",
                 c->max_message);
    else if (!c->error[0] && sent == WSLAY_CODE_PROTOCOL_ERROR)
        snprintf(c->error, sizeof c->error, "peer broke the websocket protocol");
    else if (!c->error[0] && sent == WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA)
        snprintf(c->error, sizeof c->error, "peer sent a text message that is not UTF-8");
    flush_out(c);
    if (wslay_event_get_close_sent(c->ws) && c->state == ST_OPEN) {
        c->state = ST_CLOSING;
        arm_close_deadline(c);
    }
    if (!wslay_event_want_read(c->ws) && !wslay_event_want_write(c->ws))
        conn_finish(c);
}

/* ---- teardown ---- */

/* The upgrade request's URL and headers, wiped (they hold the API key) and freed. */
static void forget_request(ws_conn *c)
{
    if (c->url) {
        OPENSSL_cleanse(c->url, sizeof *c->url);
        free(c->url);
        c->url = NULL;
    }
    if (c->headers) {
        for (char **p = c->headers; *p; p++) {
            OPENSSL_cleanse(*p, strlen(*p));
            free(*p);
        }
        free(c->headers);
        c->headers = NULL;
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_unref(h->data);
}

/* The last reference gone (handles closed, no DNS lookup pending): report and free. */
static void conn_unref(ws_conn *c)
{
    if (--c->refs > 0)
        return;
    if (!c->closed_reported) {
        c->closed_reported = true;
        ws_close_info info = {
            .code = c->close_code ? c->close_code : 1006,
            .reason = c->close_reason,
            .sent_code = c->ws ? wslay_event_get_status_code_sent(c->ws) : 0,
            .error = c->error[0] ? c->error : NULL,
            .http_status = c->http_status,
        };
        if (info.sent_code == WSLAY_CODE_ABNORMAL_CLOSURE)
            info.sent_code = 0;
        if (!c->error[0] && !c->close_code)
            info.error = "connection lost without a close frame";
        if (c->h.on_close)
            c->h.on_close(c, &info, c->ud);
    }
    if (c->server)
        server_conn_gone(c);
    if (c->ws)
        wslay_event_context_free(c->ws);
    gl_tls_free(c->tls);
    gl_buf_free(&c->in);
    gl_buf_free(&c->stage);
    gl_buf_free(&c->out);
    forget_request(c);
    free(c);
}

static void close_handles(ws_conn *c)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_RESOLVING)
        uv_cancel((uv_req_t *)&c->gai);
    c->state = ST_DEAD;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->idle_timer, on_handle_closed);
    if (c->tcp_inited)
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    (void)status;
    close_handles(req->data);
}

/* Orderly end: flush what is queued (TLS close_notify too), then close. */
static void conn_finish(ws_conn *c)
{
    if (c->state >= ST_DRAINING)
        return;
    c->state = ST_DRAINING;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    if (c->tls) {
        if (seal(c) != 0)
            return; /* conn_fail'd: the handles are closing */
        gl_tls_shutdown(c->tls, &c->out);
    }
    if (!c->stalled && c->tcp_inited) {
        flush_out(c);
        c->shutdown_req.data = c;
        if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) == 0)
            return;
    }
    close_handles(c);
}

static void conn_fail(ws_conn *c, const char *fmt, ...)
{
    if (c->state == ST_DEAD)
        return;
    if (!c->error[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->error, sizeof c->error, fmt, ap);
        va_end(ap);
    }
    close_handles(c);
}

/* ---- timers: handshake deadline, keepalive, close deadline ---- */

static void on_timer(uv_timer_t *t)
{
    ws_conn *c = t->data;
    if (c->state < ST_OPEN) {
        conn_fail(c, "websocket handshake timed out");
        return;
    }
    if (c->state == ST_CLOSING || c->state == ST_DRAINING) {
        if (!c->error[0] && !c->close_code)
            snprintf(c->error, sizeof c->error, "peer did not answer the close frame in time");
        close_handles(c);
        return;
    }
    if (c->stalled || c->paused || !c->ping_interval_ms) /* paused: a pong could not be read */
        return;
    uint64_t now = uv_now(c->loop);
    if (c->ping_sent_at && now - c->ping_sent_at >= c->pong_timeout_ms) {
        conn_fail(c, "keepalive: no pong within %u ms", c->pong_timeout_ms);
        return;
    }
    if (!c->ping_sent_at) {
        struct wslay_event_msg m = {.opcode = WSLAY_PING, .msg = (const uint8_t *)"gl", .msg_length = 2};
        if (awake(c) == 0 && wslay_event_queue_msg(c->ws, &m) == 0)
            c->ping_sent_at = now;
        pump(c);
    }
}

static void arm_close_deadline(ws_conn *c)
{
    uv_timer_start(&c->timer, on_timer, CLOSE_TIMEOUT_MS, 0);
}

/* ---- becoming open ---- */

static void become_open(ws_conn *c)
{
    if (start_wslay(c) != 0)
        return;
    c->state = ST_OPEN;
    uv_timer_stop(&c->timer);
    if (c->ping_interval_ms) {
        unsigned tick = c->ping_interval_ms;
        if (c->pong_timeout_ms && c->pong_timeout_ms < tick)
            tick = c->pong_timeout_ms;
        uv_timer_start(&c->timer, on_timer, tick, tick);
    }
    c->depth++;
    if (c->h.on_open)
        c->h.on_open(c, c->ud);
    c->depth--;
    pump(c);
}

/* ---- server side HTTP ---- */

static void http_respond(ws_conn *c, int status, const char *ctype, const char *body)
{
    const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" :
                         status == 401 ? "Unauthorized" : status == 403 ? "Forbidden" :
                         status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" :
                         status == 426 ? "Upgrade Required" : status == 503 ? "Service Unavailable" :
                         "Error";
    size_t blen = body ? strlen(body) : 0;
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, ctype ? ctype : "text/plain", blen);
    if (put_plain(c, head, (size_t)n) == 0 && blen)
        put_plain(c, body, blen);
    conn_finish(c);
}

static void server_handle_request(ws_conn *c, const gl_http_head *req)
{
    ws_server *s = c->server;
    if (!gl_http_header_has_token(req, "Upgrade", "websocket")) {
        if (strcmp(req->method, "GET") != 0 || !s->o.on_http) {
            http_respond(c, 404, NULL, "not found\n");
            return;
        }
        char *body = NULL;
        const char *ctype = "application/json";
        int st = s->o.on_http(req, &body, &ctype, s->o.server_ud);
        http_respond(c, st, ctype, body ? body : "");
        free(body);
        return;
    }
    const char *key = gl_http_header(req, "Sec-WebSocket-Key");
    const char *ver = gl_http_header(req, "Sec-WebSocket-Version");
    if (strcmp(req->method, "GET") != 0) {
        http_respond(c, 405, NULL, "websocket upgrade needs GET\n");
        return;
    }
    if (!key || strlen(key) != 24 || !ver || strcmp(ver, "13") != 0 ||
        !gl_http_header_has_token(req, "Connection", "upgrade")) {
        http_respond(c, 400, NULL, "bad websocket upgrade request\n");
        return;
    }
    ws_handlers h = {0};
    void *ud = NULL;
    int st = s->o.on_upgrade ? s->o.on_upgrade(c, req, &h, &ud, s->o.server_ud) : 404;
    if (st != 0) {
        http_respond(c, st, NULL, "refused\n");
        return;
    }
    c->h = h;
    c->ud = ud;
    char accept[29];
    gl_ws_accept_for(key, accept);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    if (put_plain(c, head, (size_t)n) != 0)
        return;
    become_open(c);
}

/* ---- input ---- */

static void send_upgrade_request(ws_conn *c)
{
    gl_err err;
    gl_buf req;
    gl_buf_init(&req, GL_HTTP_MAX_HEAD + 1024);
    if (gl_ws_key_new(c->key, &err) != 0 ||
        gl_http_write_upgrade(&req, c->url, c->key, (const char *const *)c->headers, &err) != 0) {
        gl_buf_free(&req);
        conn_fail(c, "%s", err.msg);
        return;
    }
    c->state = ST_HTTP;
    if (put_plain(c, gl_buf_head(&req), req.len) == 0)
        flush_out(c);
    OPENSSL_cleanse(req.data, req.cap);
    gl_buf_free(&req);
    forget_request(c);
}

/* Plaintext arrived in c->in: advance the handshake or hand it to wslay. */
static void process_input(ws_conn *c)
{
    if (c->state == ST_HTTP) {
        /* The head is parsed once its blank line is there, and each read scans only what it
         * added: a peer sending a byte at a time costs linear time, not a parse per byte. */
        size_t from = c->head_scanned > 3 ? c->head_scanned - 3 : 0;
        if (c->in.len <= GL_HTTP_MAX_HEAD &&
            !memmem(gl_buf_head(&c->in) + from, c->in.len - from, "\r\n\r\n", 4)) {
            c->head_scanned = c->in.len;
            return;
        }
        gl_http_head *head = gl_xmalloc(sizeof *head);
        gl_err err;
        long n = gl_http_parse_head(gl_buf_head(&c->in), c->in.len, !c->client, head, &err);
        if (n < 0) {
            free(head);
            if (c->client)
                conn_fail(c, "%s", err.msg);
            else
                http_respond(c, 400, NULL, "malformed HTTP request\n");
            return;
        }
        if (n == 0) {
            free(head);
            return;
        }
        gl_buf_consume(&c->in, (size_t)n);
        if (c->client) {
            if (gl_http_check_upgrade_response(head, c->key, &err) != 0) {
                char ebuf[GL_ERR_MSG];
                snprintf(ebuf, sizeof ebuf, "%s", err.msg);
                if (head->status != 101)
                    c->http_status = head->status;
                free(head);
                conn_fail(c, "%s", ebuf);
                return;
            }
            free(head);
            become_open(c);
        } else {
            server_handle_request(c, head);
            free(head);
        }
        return;
    }
    pump(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init((char *)g_readbuf, sizeof g_readbuf);
}

/* Read coalescing (ws_client_opts.coalesce_ms). A peer that streams faster than the loop needs
 * to wake for (FLOOD_READS small reads in a row, each under FLOOD_GAP_NS after the last) gets
 * SO_RCVLOWAT = FLOOD_LOWAT on its socket: the kernel wakes the loop once that much is
 * waiting, so one wakeup, one read and one batch to the clients carry ~100 messages instead of
 * a few, and nothing is held back beyond that (the kernel wakes at the mark: no throttling of
 * a fast stream). A timer of coalesce_ms, re-armed by every read, ends the flood when no read
 * comes: the mark goes back to 1 byte (the kernel then signals what is left). So a message waits
 * at most coalesce_ms (plus the loop's millisecond granularity), and only the tail of a flood
 * does; a stream of separate messages is read as each arrives. */
static void set_lowat(ws_conn *c, int bytes)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes); /* a hint: best effort */
}

static void end_flood(ws_conn *c)
{
    c->flood = false;
    c->streak = 0;
    if (c->state < ST_DEAD)
        set_lowat(c, 1);
}

static void maybe_coalesce(ws_conn *c, size_t nread, uint64_t gap_ns)
{
    if (c->flood) { /* each read keeps it going */
        uv_timer_start(&c->idle_timer, on_idle, c->coalesce_ms, 0);
        return;
    }
    bool small_fast = gap_ns < FLOOD_GAP_NS && nread < FLOOD_LOWAT;
    c->streak = small_fast ? (uint8_t)(c->streak + 1) : 0;
    if (c->streak < FLOOD_READS)
        return;
    c->flood = true;
    set_lowat(c, FLOOD_LOWAT);
    uv_timer_start(&c->idle_timer, on_idle, c->coalesce_ms, 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ws_conn *c = s->data;
    if (nread == 0 || c->state >= ST_DRAINING)
        return;
    uint64_t prev_ns = c->read_ns;
    c->read_ns = uv_hrtime();
    if (nread < 0) {
        if (nread == UV_EOF) {
            if (c->state < ST_OPEN && !c->error[0])
                snprintf(c->error, sizeof c->error, "connection closed during the handshake");
            close_handles(c);
        } else {
            conn_fail(c, "read failed: %s", uv_strerror((int)nread));
        }
        return;
    }
    if (c->tls) {
        gl_err err;
        bool eof = false;
        bool was_ready = gl_tls_ready(c->tls);
        /* a stream (a socket buffer's worth, or a flood): OpenSSL keeps its buffers rather
         * than freeing and allocating them at every record (~35 ns each), until hibernate() */
        if (!c->tls_kept && was_ready && (nread >= (ssize_t)sizeof g_readbuf / 4 || c->flood)) {
            gl_tls_keep_buffers(c->tls, true);
            c->tls_kept = true;
        }
        if (gl_tls_feed(c->tls, buf->base, (size_t)nread, &c->in, &c->out, &eof, &err) != 0) {
            flush_out(c);
            conn_fail(c, "%s", err.msg);
            return;
        }
        flush_out(c);
        if (!was_ready && gl_tls_ready(c->tls) && c->state == ST_TLS) {
            if (c->client)
                send_upgrade_request(c);
            else
                c->state = ST_HTTP;
        }
        if (eof && c->in.len == 0) {
            close_handles(c);
            return;
        }
    } else if (gl_buf_append(&c->in, buf->base, (size_t)nread) != 0) {
        conn_fail(c, "peer sent more than %d bytes we could not process", IN_LIMIT);
        return;
    }
    if (c->in.len > IN_LIMIT) {
        conn_fail(c, "peer sent more than %d bytes we could not process", IN_LIMIT);
        return;
    }
    if (c->in.len)
        process_input(c);
    if (c->coalesce_ms && c->state == ST_OPEN && c->reading && !c->paused && !c->stalled)
        maybe_coalesce(c, (size_t)nread, c->read_ns - prev_ns);
    else if (c->flood)
        end_flood(c);
    /* Everything was consumed (wslay keeps a partial frame itself): after a small read the
     * buffer goes, so that an idle connection holds none. A streaming one (reads of a socket
     * buffer's worth) keeps it: freeing and refaulting 64 KiB per read costs more than the
     * copy it holds. */
    if (c->in.len == 0 && nread < (ssize_t)sizeof g_readbuf / 4)
        gl_buf_free(&c->in);
    /* perhaps the last read for a while: if it stays quiet, the wslay context (and the TLS
     * buffers of a stream) go too; not at once: a stream would make and free them per read */
    if ((c->ws || c->tls_kept) && c->state == ST_OPEN && !c->flood)
        uv_timer_start(&c->idle_timer, on_idle, HIBERNATE_MS, 0);
}

static int start_reading(ws_conn *c)
{
    int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        conn_fail(c, "read start failed: %s", uv_strerror(r));
        return -1;
    }
    c->reading = true;
    return 0;
}

/* ---- client connect ---- */

static void on_connected(uv_connect_t *req, int status)
{
    ws_conn *c = req->data;
    if (c->state == ST_DEAD)
        return;
    if (status < 0) {
        conn_fail(c, "cannot connect to %s:%d: %s", c->url->host, c->url->port, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (start_reading(c) != 0)
        return;
    if (c->url->tls) {
        gl_err err;
        c->tls = gl_tls_client(c->tls_ctx, c->url->host, !c->insecure, &err);
        if (!c->tls) {
            conn_fail(c, "%s", err.msg);
            return;
        }
        c->state = ST_TLS;
        if (gl_tls_handshake(c->tls, &c->out, &err) != 0) {
            conn_fail(c, "%s", err.msg);
            return;
        }
        flush_out(c);
    } else {
        send_upgrade_request(c);
    }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ws_conn *c = req->data;
    if (c->state == ST_DEAD) {
        uv_freeaddrinfo(res);
        conn_unref(c);
        return;
    }
    c->refs--; /* the lookup's reference; the tcp handle takes one below */
    if (status < 0) {
        uv_freeaddrinfo(res);
        conn_fail(c, "cannot resolve %s: %s", c->url->host, uv_strerror(status));
        return;
    }
    c->state = ST_CONNECTING;
    uv_tcp_init(c->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_inited = true;
    c->refs++;
    c->connect_req.data = c;
    int r = uv_tcp_connect(&c->connect_req, &c->tcp, res->ai_addr, on_connected);
    uv_freeaddrinfo(res);
    if (r < 0)
        conn_fail(c, "cannot connect to %s:%d: %s", c->url->host, c->url->port, uv_strerror(r));
}

static ws_conn *conn_new(uv_loop_t *loop, size_t max_message, size_t max_output)
{
    ws_conn *c = gl_xcalloc(1, sizeof *c);
    c->loop = loop;
    c->max_message = max_message ? max_message : 16u << 20;
    c->max_output = max_output ? max_output : 64u << 20;
    gl_buf_init(&c->in, IN_LIMIT + sizeof g_readbuf);
    gl_buf_init(&c->stage, 0); /* bounded like c->out */
    gl_buf_init(&c->out, 0); /* bounded by WRITE_HIGH checks and max_output */
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(loop, &c->idle_timer);
    c->idle_timer.data = c;
    c->refs = 2; /* the timers; the tcp handle adds its own */
    return c;
}

ws_conn *ws_connect(uv_loop_t *loop, const ws_client_opts *o, const ws_handlers *h, void *ud,
                    gl_err *err)
{
    gl_url url;
    if (gl_url_parse(o->url, &url, err) != 0)
        return NULL;
    if (url.tls && !o->tls) {
        gl_fail(err, "bad_url", "wss:// needs a TLS context");
        return NULL;
    }
    ws_conn *c = conn_new(loop, o->max_message, o->max_output);
    c->client = true;
    c->url = gl_xmalloc(sizeof *c->url);
    *c->url = url;
    c->h = *h;
    c->ud = ud;
    c->insecure = o->insecure;
    c->tls_ctx = o->tls;
    c->ping_interval_ms = o->ping_interval_ms;
    c->pong_timeout_ms = o->pong_timeout_ms ? o->pong_timeout_ms : 30000;
    c->coalesce_ms = (uint16_t)(o->coalesce_ms < 1000 ? o->coalesce_ms : 1000);
    size_t nh = 0;
    while (o->headers && o->headers[nh])
        nh++;
    c->headers = gl_xcalloc(nh + 1, sizeof *c->headers);
    for (size_t i = 0; i < nh; i++)
        c->headers[i] = gl_xstrdup(o->headers[i]);
    snprintf(c->peer, sizeof c->peer, "%.50s:%d", url.host, url.port);
    c->state = ST_RESOLVING;
    uv_timer_start(&c->timer, on_timer, o->connect_timeout_ms ? o->connect_timeout_ms : 15000, 0);
    char port[8];
    snprintf(port, sizeof port, "%d", url.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    c->refs++;
    int r = uv_getaddrinfo(loop, &c->gai, on_resolved, url.host, port, &hints);
    if (r < 0) {
        c->refs--;
        conn_fail(c, "cannot resolve %s: %s", url.host, uv_strerror(r));
    }
    return c;
}

/* ---- public operations ---- */

int ws_send(ws_conn *c, int opcode, const void *data, size_t len, gl_err *err)
{
    if (c->state != ST_OPEN || c->stalled)
        return gl_fail(err, "closed", "websocket is not open");
    size_t queued = ws_queued_bytes(c);
    if (queued + len > c->max_output)
        return gl_fail(err, "busy", "peer is not reading: %zu bytes already queued", queued);
    struct wslay_event_msg m = {
        .opcode = opcode == WS_TEXT ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
        .msg = data,
        .msg_length = len,
    };
    if (awake(c) != 0 || wslay_event_queue_msg(c->ws, &m) != 0)
        return gl_fail(err, "closed", "websocket cannot queue a message now");
    if (c->depth == 0)
        pump(c);
    return 0;
}

void ws_close(ws_conn *c, int code, const char *reason)
{
    if (c->state != ST_OPEN) {
        if (c->state < ST_OPEN)
            conn_fail(c, "closed before the handshake completed");
        return;
    }
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > 123) { /* the close frame's limit; never cut inside a UTF-8 sequence */
        rl = 123;
        while (rl > 0 && ((unsigned char)reason[rl] & 0xC0) == 0x80)
            rl--;
    }
    if (awake(c) != 0)
        return;
    ws_pause(c, false); /* the peer's close frame must be read */
    wslay_event_queue_close(c->ws, (uint16_t)code, (const uint8_t *)reason, rl);
    c->state = ST_CLOSING;
    arm_close_deadline(c);
    if (c->depth == 0)
        pump(c);
}

void ws_abort(ws_conn *c, const char *why)
{
    if (c->state == ST_DEAD)
        return;
    if (c->state == ST_RESOLVING)
        uv_cancel((uv_req_t *)&c->gai);
    if (why && !c->error[0])
        snprintf(c->error, sizeof c->error, "%s", why);
    /* RST instead of FIN: the peer sees an abrupt drop. libuv refuses the reset while our
     * shutdown is pending (UV_EINVAL: the connection was draining behind a slow reader); then it
     * is a plain close, else the socket would stay open and on_close never come. */
    if (c->tcp_inited && uv_tcp_close_reset(&c->tcp, on_handle_closed) == 0) {
        c->state = ST_DEAD;
        uv_timer_stop(&c->timer);
        uv_close((uv_handle_t *)&c->timer, on_handle_closed);
        uv_close((uv_handle_t *)&c->idle_timer, on_handle_closed);
        return;
    }
    close_handles(c);
}

void ws_stall(ws_conn *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    c->stalled = true;
    uv_timer_stop(&c->timer);
}

void ws_pause(ws_conn *c, bool pause)
{
    if (c->paused == pause)
        return;
    c->paused = pause;
    if (pause) {
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
        c->ping_sent_at = 0; /* a ping in flight: its pong waits in the socket, not late */
        return;
    }
    if (c->state < ST_OPEN || c->state >= ST_DRAINING || c->stalled)
        return;
    if (c->flood) /* the timer below, if any, is the deferred pump's */
        end_flood(c);
    if (!c->reading && start_reading(c) != 0)
        return;
    if (c->in.len) /* read before the pause: delivered from the loop (see on_idle) */
        uv_timer_start(&c->idle_timer, on_idle, 0, 0);
}

bool ws_is_paused(const ws_conn *c) { return c->paused; }
bool ws_is_coalescing(const ws_conn *c) { return c->flood; }
bool ws_keeps_tls_buffers(const ws_conn *c) { return c->tls_kept; }
uint64_t ws_read_time(const ws_conn *c) { return c->read_ns; }

size_t ws_queued_bytes(const ws_conn *c)
{
    size_t q = c->in_flight + pending_out(c);
    if (c->ws)
        q += wslay_event_get_queued_msg_length(c->ws);
    return q;
}

void ws_set_userdata(ws_conn *c, void *ud) { c->ud = ud; }
bool ws_is_open(const ws_conn *c) { return c->state == ST_OPEN; }
bool ws_is_hibernating(const ws_conn *c) { return c->state == ST_OPEN && !c->ws; }
const char *ws_peer(const ws_conn *c) { return c->peer; }

/* ---- server ---- */

const char *ws_request_header(const ws_request *r, const char *name)
{
    return gl_http_header(r, name);
}

static void server_maybe_free(ws_server *s)
{
    if (s->stopping && s->listener_closed && s->nconns == 0)
        free(s);
}

static void server_conn_gone(ws_conn *c)
{
    ws_server *s = c->server;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    server_maybe_free(s);
}

static void on_accept(uv_stream_t *ls, int status)
{
    ws_server *s = ls->data;
    if (status < 0 || s->stopping)
        return;
    ws_conn *c = conn_new(s->loop, s->o.max_message, s->o.max_output);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    c->tcp_inited = true;
    c->refs++;
    c->server = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
        close_handles(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        char ip[INET6_ADDRSTRLEN] = "?";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            uv_ip4_name(a, ip, sizeof ip);
            port = ntohs(a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            uv_ip6_name(a, ip, sizeof ip);
            port = ntohs(a->sin6_port);
        }
        snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
    }
    unsigned maxc = s->o.max_connections ? s->o.max_connections : 100000;
    if (s->nconns > maxc) {
        close_handles(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->timer, on_timer, s->o.handshake_timeout_ms ? s->o.handshake_timeout_ms : 10000,
                   0);
    if (s->o.tls) {
        gl_err err;
        c->tls = gl_tls_server(s->o.tls, &err);
        if (!c->tls) {
            conn_fail(c, "%s", err.msg);
            return;
        }
        c->state = ST_TLS;
    } else {
        c->state = ST_HTTP;
    }
    start_reading(c);
}

static void on_listener_closed(uv_handle_t *h);

ws_server *ws_server_start(uv_loop_t *loop, const ws_server_opts *o, gl_err *err)
{
    ws_server *s = gl_xcalloc(1, sizeof *s);
    s->loop = loop;
    s->o = *o;
    struct sockaddr_storage addr;
    const char *host = o->host ? o->host : "127.0.0.1";
    if (uv_ip4_addr(host, o->port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, o->port, (struct sockaddr_in6 *)&addr) != 0) {
        free(s);
        gl_fail(err, "bad_listen", "listen address must be an IP literal, not \"%s\"", host);
        return NULL;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    int r = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
    if (r == 0)
        r = uv_listen((uv_stream_t *)&s->listener, 4096, on_accept);
    if (r < 0) {
        gl_fail(err, "listen", "cannot listen on %s:%d: %s", host, o->port, uv_strerror(r));
        s->stopping = true;
        uv_close((uv_handle_t *)&s->listener, on_listener_closed); /* frees s */
        return NULL;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bl);
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    return s;
}

int ws_server_port(const ws_server *s) { return s->port; }

static void on_listener_closed(uv_handle_t *h)
{
    ws_server *s = h->data;
    s->listener_closed = true;
    server_maybe_free(s);
}

void ws_server_stop(ws_server *s)
{
    if (s->stopping)
        return;
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    for (ws_conn *c = s->conns; c; c = c->next)
        if (c->state != ST_DEAD) {
            if (c->state == ST_OPEN && !c->stalled)
                ws_close(c, 1001, "server shutting down");
            else
                close_handles(c);
        }
}
