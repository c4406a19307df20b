/* The daemon's Unix-socket server (see daemon/ipc.h).
 *
 * Lifetime rules, which make every callback reentrancy-safe:
 *  - A client is only ever freed in the close callback of its pipe (uv_close), i.e. from the loop,
 *    never while one of our or the caller's frames referring to it is on the stack. on_disconnect
 *    is called from that close callback, exactly once per accepted client; a client that is
 *    closing (draining or closed) just refuses ipc_send until then.
 *  - The server is freed once its listener, its timer and every client handle are closed; all of
 *    these are close callbacks too, so ipc_stop may be called from inside on_line/on_disconnect.
 *
 * Client states: OPEN (reading, writable) -> DRAINING (ipc_client_close(c, true), EOF or ipc_stop:
 * no more reads or sends, queued output is handed to libuv and a uv_shutdown waits for it) ->
 * CLOSING (uv_close called; the close callback reports and frees). A drain that does not finish
 * in time (the peer does not read) is cut by the server's linger timer.
 *
 * Output: lines sent while nothing is in flight are batched in `outq` and written with one
 * uv_try_write per client once the loop iteration's work is done (the prepare and check handles:
 * whatever produced them, timers, socket reads, close callbacks, the write happens before the
 * loop next blocks), so a burst of events costs one syscall, not one per line. A batch is also
 * written at once when it would pass IPC_BATCH_MAX or max_output. What the socket does not take
 * goes to one uv_write request, and while one is in flight further output is coalesced in `outq`,
 * submitted when it completes. Pending = bytes in flight + queued behind them (a batch is not
 * pending: it is written within the iteration, as an immediate write was); passing max_output
 * disconnects the client. */
#include "daemon/ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xalloc.h"
#include "proto/errors.h"
#include "proto/line.h"

#define IPC_MAX_OUTPUT_DEFAULT ((size_t)16 << 20)
#define IPC_MAX_OUTPUT_TOTAL_DEFAULT ((size_t)256 << 20)
#define IPC_MAX_CLIENTS_DEFAULT 1024u
#define IPC_BACKLOG 128
#define IPC_READ_BUF 65536
#define IPC_DRAIN_MS 10000   /* ipc_client_close(flush) / EOF: longest wait for output to drain */
#define IPC_STOP_DRAIN_MS 1000 /* ipc_stop: the same, when the daemon is stopping */
#define IPC_LINGER_TICK_MS 100
#define IPC_BATCH_MAX 65536  /* a client's batch is written once this big (one socket buffer) */
/* Flow control (ipc.h, "Holding"): a held client lags past FLOW_HIGH of unwritten output and has
 * caught up at FLOW_LOW; both at most a quarter of max_output, so a held client never comes near
 * the bound that cuts it. 1 MiB: 13 s of 24 kHz audio lines, 16 socket buffers. */
#define FLOW_HIGH_MAX ((size_t)1 << 20)
#define IPC_SENDER_TIMEOUT_DEFAULT_MS 60000

enum client_state { C_OPEN, C_DRAINING, C_CLOSING };

struct ipc_client {
    uv_pipe_t pipe; /* pipe.data = this client */
    uv_shutdown_t shutdown_req;
    ipc_server *s;
    ipc_client *prev, *next; /* in s->clients while `linked` */
    bool linked;             /* an accepted client (else a rejected peer: no on_disconnect) */
    enum client_state state;
    gl_line_reader reader;
    gl_buf outq;        /* output not yet handed to libuv: while a write is in flight, queued
                           behind it; else this iteration's batch */
    ipc_client *dprev, *dnext; /* in s->dirty while `dirty`: a batch to write */
    bool dirty;
    uint64_t batch_origin; /* ipc_set_origin's time of the first measured line in outq, or 0 */
    size_t inflight;    /* bytes in submitted uv_write requests */
    unsigned nwrites;   /* submitted uv_write requests */
    uint64_t deadline;  /* DRAINING: loop time (ms) after which we close anyway */
    unsigned id;
    uid_t uid;
    pid_t pid;
    void *data;
    bool eof;           /* shut its write side: no more requests; events still go out */
    unsigned holds;     /* sessions waiting for this client to catch up (ipc_client_hold) */
    uint64_t progress_at; /* loop time (ms) it last took output, while held */
    unsigned long long bytes_in, bytes_out, lines_in, lines_out;
};

struct ipc_server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    uv_timer_t linger; /* cuts drains that take too long */
    uv_prepare_t prep; /* writes the batches before the loop blocks... */
    uv_check_t check;  /* ...and right after the I/O callbacks that produced them */
    ipc_client *dirty; /* clients with a batch to write */
    ipc_handlers h;
    void *ud;
    char *path;
    dev_t sock_dev; /* the socket file we created: ipc_stop only removes that one */
    ino_t sock_ino;
    bool inherited; /* systemd's socket: never unlinked */
    const gld_peer_policy *policy; /* NULL: own uid and root */
    gld_peer_policy own_only;
    bool groups_warned; /* said once that SO_PEERGROUPS is missing */
    size_t max_line, max_output, max_output_total;
    size_t flow_high, flow_low;  /* ipc_client_lagging / _caught_up */
    uint64_t sender_timeout_ms;  /* a held client that takes nothing this long is cut */
    unsigned max_clients;
    ipc_client *clients;
    unsigned nclients;  /* linked clients, until their on_disconnect */
    unsigned nrejected; /* rejected peers whose handles are still closing */
    unsigned next_id;
    int nhandles;       /* listener, timer, prepare and check not yet closed */
    bool stopping, timer_closing;
    ipc_stats st;
    uint64_t origin_ns;  /* ipc_set_origin */
    gl_hist latency;     /* origin -> batch written, ns */
    char rbuf[IPC_READ_BUF]; /* shared read buffer: a read callback consumes it before returning */
};

typedef struct ipc_write {
    uv_write_t req;
    ipc_client *c;
    size_t len;
    char *mem; /* the client's outq buffer, handed over: freed when written */
} ipc_write;

static void close_now(ipc_client *c);

/* ---- server teardown ----------------------------------------------------------------------- */

static void on_server_handle_closed(uv_handle_t *h)
{
    ipc_server *s = h->data;
    s->nhandles--;
    if (s->nhandles == 0 && s->nclients == 0 && s->nrejected == 0) {
        free(s->path);
        free(s);
    }
}

/* Once stopping and every client is gone, closes the timer; the last close callback frees s. */
static void maybe_finish(ipc_server *s)
{
    if (!s->stopping || s->nclients || s->nrejected || s->timer_closing)
        return;
    s->timer_closing = true;
    uv_close((uv_handle_t *)&s->linger, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->prep, on_server_handle_closed);
    uv_close((uv_handle_t *)&s->check, on_server_handle_closed);
}

/* ---- client teardown ----------------------------------------------------------------------- */

static void on_client_closed(uv_handle_t *h)
{
    ipc_client *c = h->data;
    ipc_server *s = c->s;
    if (c->linked) {
        if (c->prev)
            c->prev->next = c->next;
        else
            s->clients = c->next;
        if (c->next)
            c->next->prev = c->prev;
        c->linked = false;
        s->nclients--;
        log_debug("client %u (pid %d) disconnected: %llu bytes / %llu lines in, %llu bytes / %llu "
                  "lines out",
                  c->id, (int)c->pid, c->bytes_in, c->lines_in, c->bytes_out, c->lines_out);
        if (s->h.on_disconnect)
            s->h.on_disconnect(c, s->ud);
        if (c->holds) /* every session releases its hold in on_disconnect */
            log_error("bug: client %u freed while %u session(s) hold it", c->id, c->holds);
    } else {
        s->nrejected--;
    }
    gl_line_reader_free(&c->reader);
    gl_buf_free(&c->outq);
    free(c);
    maybe_finish(s);
}

static void undirty(ipc_client *c)
{
    if (!c->dirty)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        c->s->dirty = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
    c->dirty = false;
}

/* Closes at once, dropping pending output. Write and shutdown callbacks still run (cancelled)
 * before on_client_closed. */
static void close_now(ipc_client *c)
{
    if (c->state == C_CLOSING)
        return;
    undirty(c);
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->pipe, on_client_closed);
}

/* ---- output -------------------------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status);

/* Output not yet taken by the client's socket: in flight, queued, or this iteration's batch. */
static size_t unwritten(const ipc_client *c) { return c->inflight + c->outq.len; }

/* A held client that has caught up: the sessions waiting for it are told (on_drain). Called
 * where output leaves: write completions and the iteration's batch writes, never from inside
 * ipc_send (its caller is in the middle of delivering). */
static void maybe_drained(ipc_client *c)
{
    ipc_server *s = c->s;
    if (c->holds && c->state == C_OPEN && unwritten(c) <= s->flow_low && s->h.on_drain)
        s->h.on_drain(c, s->ud);
}

/* Submits everything in outq as one write. The buffer itself goes to the request (no copy of
 * what may be megabytes for a slow reader); outq starts afresh. */
static int submit_queue(ipc_client *c)
{
    if (!c->outq.len)
        return 0;
    ipc_write *w = gl_xmalloc(sizeof *w);
    w->c = c;
    w->len = c->outq.len;
    w->mem = c->outq.data;
    uv_buf_t b = uv_buf_init(gl_buf_head(&c->outq), (unsigned)w->len);
    int r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, on_write);
    c->s->st.writes++;
    if (r < 0) {
        free(w);
        return r;
    }
    gl_buf_init(&c->outq, 0); /* its memory is the request's now */
    c->batch_origin = 0;      /* waited for the client: not measured */
    c->inflight += w->len;
    c->nwrites++;
    return 0;
}

static void on_write(uv_write_t *req, int status)
{
    ipc_write *w = (ipc_write *)req;
    ipc_client *c = w->c;
    c->inflight -= w->len;
    c->nwrites--;
    if (status == 0) {
        c->bytes_out += w->len;
        c->s->st.bytes_out += w->len;
        c->progress_at = uv_now(c->s->loop);
    }
    free(w->mem);
    free(w);
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        log_debug("client %u (pid %d): write failed: %s", c->id, (int)c->pid, uv_strerror(status));
        close_now(c);
        return;
    }
    if (c->state == C_OPEN && c->nwrites == 0) {
        int r = submit_queue(c);
        if (r < 0) {
            log_warn("client %u (pid %d): cannot write: %s; disconnecting", c->id, (int)c->pid,
                     uv_strerror(r));
            close_now(c);
            return;
        }
    }
    maybe_drained(c);
}

/* Output the client holds beyond this iteration: in flight, and queued behind it. */
static size_t pending(const ipc_client *x)
{
    return x->inflight + (x->nwrites ? x->outq.len : 0);
}

/* All clients' pending output plus `more` for c must fit the total budget: while it does not,
 * the client with the most pending (the slowest reader) is cut, a mere watcher before a client
 * whose own turns are running (h.busy): the asker keeps its answer. True if c was cut. */
static bool over_total_budget(ipc_server *s, ipc_client *c, size_t more)
{
    for (;;) {
        size_t total = more;
        ipc_client *worst = NULL;
        size_t worst_pending = 0;
        bool worst_busy = true;
        for (ipc_client *x = s->clients; x; x = x->next) {
            if (x->state == C_CLOSING)
                continue;
            size_t p = pending(x) + (x == c ? more : 0);
            total += pending(x);
            bool busy = s->h.busy && s->h.busy(x, s->ud);
            if (!worst || (worst_busy && !busy) || (busy == worst_busy && p > worst_pending))
                worst = x, worst_pending = p, worst_busy = busy;
        }
        if (total <= s->max_output_total || !worst)
            return false;
        log_warn("clients hold %zu bytes of unread output (--max-output-total %zu): cutting client "
                 "%u (pid %d), the slowest reader with %zu bytes pending", total, s->max_output_total,
                 worst->id, (int)worst->pid, worst_pending);
        close_now(worst);
        if (worst == c)
            return true;
    }
}

/* What outq holds that cannot be written now (rest bytes) becomes pending: checked against the
 * bounds, then handed to libuv. -1 if c was cut. */
static int make_pending(ipc_client *c, size_t rest)
{
    ipc_server *s = c->s;
    if (pending(c) + rest > s->max_output) {
        log_warn("client %u (pid %d) is not reading: %zu bytes pending; disconnecting", c->id,
                 (int)c->pid, pending(c) + rest);
        close_now(c);
        return -1;
    }
    if (over_total_budget(s, c, rest)) /* c was the slowest, and is cut */
        return -1;
    int r = submit_queue(c);
    if (r < 0) {
        log_warn("client %u (pid %d): cannot queue output: %s; disconnecting", c->id, (int)c->pid,
                 uv_strerror(r));
        close_now(c);
        return -1;
    }
    return 0;
}

/* Writes c's batch (nothing in flight): one try, the rest pending. -1 if c was cut. */
static int write_batch(ipc_client *c)
{
    undirty(c);
    if (c->state != C_OPEN || c->nwrites || !c->outq.len)
        return 0;
    ipc_server *s = c->s;
    uv_buf_t b = uv_buf_init(gl_buf_head(&c->outq), (unsigned)c->outq.len);
    /* taken as the lines go to the socket, not after: a write that wakes the client may let it
     * run first, on this CPU, before write() returns; that time is the client's */
    uint64_t written_at = c->batch_origin ? uv_hrtime() : 0;
    int n = uv_try_write((uv_stream_t *)&c->pipe, &b, 1);
    s->st.writes++;
    if (n < 0 && n != UV_EAGAIN) {
        log_debug("client %u (pid %d): write failed: %s", c->id, (int)c->pid, uv_strerror(n));
        close_now(c);
        return -1;
    }
    if (n > 0) {
        c->bytes_out += (size_t)n;
        s->st.bytes_out += (size_t)n;
        c->progress_at = uv_now(s->loop);
        gl_buf_consume(&c->outq, (size_t)n);
    }
    if (c->outq.len) { /* the socket is full: the rest waits for it in a write request */
        c->batch_origin = 0;
        return make_pending(c, c->outq.len);
    }
    if (c->batch_origin) {
        gl_hist_add(&s->latency, written_at - c->batch_origin);
        c->batch_origin = 0;
    }
    if (c->outq.cap > IPC_BATCH_MAX) /* grown by a big line: not kept for the next batch */
        gl_buf_free(&c->outq);
    return 0;
}

/* The prepare and check callbacks: every batch of this iteration, written. */
static void write_batches(ipc_server *s)
{
    while (s->dirty) {
        ipc_client *c = s->dirty;
        if (write_batch(c) == 0) /* unlinks it */
            maybe_drained(c);
    }
    uv_prepare_stop(&s->prep);
    uv_check_stop(&s->check);
}

static void on_prepare(uv_prepare_t *h) { write_batches(h->data); }
static void on_check(uv_check_t *h) { write_batches(h->data); }

int ipc_send(ipc_client *c, const char *line, size_t len)
{
    if (!c || c->state != C_OPEN)
        return -1;
    if (len == 0)
        return 0;
    if (len > UINT_MAX) { /* uv_buf_t lengths are unsigned int */
        log_error("client %u: refusing a %zu-byte line; disconnecting", c->id, len);
        close_now(c);
        return -1;
    }
    if (line[len - 1] != '\n') {
        /* A caller bug; framing must not break because of it. */
        log_error("bug: ipc_send to client %u: line does not end in a newline; adding one", c->id);
        char *tmp = gl_xmalloc(len + 1);
        memcpy(tmp, line, len);
        tmp[len] = '\n';
        int rc = ipc_send(c, tmp, len + 1);
        free(tmp);
        return rc;
    }
    ipc_server *s = c->s;
    /* Nothing in flight: the line joins the batch. A batch that would pass IPC_BATCH_MAX, or
     * max_output (so that a small bound behaves as it did with a write per line), is written
     * first; one that reaches it, at once. */
    size_t cap = s->max_output < IPC_BATCH_MAX ? s->max_output : IPC_BATCH_MAX;
    if (c->nwrites == 0 && c->outq.len && c->outq.len + len > cap && write_batch(c) < 0)
        return -1;
    if (c->nwrites == 0) {
        if (s->origin_ns && !c->batch_origin)
            c->batch_origin = s->origin_ns;
        gl_buf_append(&c->outq, line, len); /* outq has no limit: cannot fail */
        if (!c->dirty) {
            c->dirty = true;
            c->dprev = NULL;
            c->dnext = s->dirty;
            if (s->dirty)
                s->dirty->dprev = c;
            s->dirty = c;
            uv_prepare_start(&s->prep, on_prepare);
            uv_check_start(&s->check, on_check);
        }
        if (c->outq.len >= cap && write_batch(c) < 0)
            return -1;
    } else {
        /* Queued behind the write in flight, within the bounds. */
        if (pending(c) + len > s->max_output) {
            log_warn("client %u (pid %d) is not reading: %zu bytes pending; disconnecting", c->id,
                     (int)c->pid, pending(c) + len);
            close_now(c);
            return -1;
        }
        if (over_total_budget(s, c, len)) /* c was the slowest, and is cut */
            return -1;
        gl_buf_append(&c->outq, line, len); /* outq has no limit: cannot fail */
    }
    c->lines_out++;
    s->st.lines_out++;
    return 0;
}

/* ---- closing with flush -------------------------------------------------------------------- */

static void start_drain(ipc_client *c, uint64_t ms);

static void on_linger(uv_timer_t *t)
{
    ipc_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    bool any = false;
    for (ipc_client *c = s->clients; c; c = c->next) {
        if (c->state == C_OPEN && c->holds) { /* a session waits for it: it must read */
            if (now - c->progress_at >= s->sender_timeout_ms) {
                log_warn("client %u (pid %d) has read nothing for %.3g s while %u session(s) "
                         "wait for it (--sender-timeout); disconnecting", c->id, (int)c->pid,
                         (double)(now - c->progress_at) / 1000, c->holds);
                close_now(c);
                continue;
            }
            any = true;
        }
        if (c->state == C_OPEN && c->eof) { /* half-closed: close once its turns have ended */
            if (s->h.busy && s->h.busy(c, s->ud))
                any = true;
            else
                start_drain(c, IPC_DRAIN_MS);
            continue;
        }
        if (c->state != C_DRAINING)
            continue;
        if (now >= c->deadline) {
            log_info("client %u (pid %d): %zu bytes of output not drained in time; closing",
                     c->id, (int)c->pid, c->inflight + c->outq.len);
            close_now(c);
        } else {
            any = true;
        }
    }
    if (!any)
        uv_timer_stop(t);
}

static void start_linger(ipc_server *s)
{
    if (!s->timer_closing && !uv_is_active((uv_handle_t *)&s->linger))
        uv_timer_start(&s->linger, on_linger, IPC_LINGER_TICK_MS, IPC_LINGER_TICK_MS);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    ipc_client *c = req->handle->data;
    if (c->state == C_CLOSING) /* cancelled by close_now */
        return;
    if (status < 0)
        log_debug("client %u (pid %d): shutdown: %s", c->id, (int)c->pid, uv_strerror(status));
    close_now(c);
}

/* Stops reading and sending; closes once libuv has written everything (or after `ms`). */
static void start_drain(ipc_client *c, uint64_t ms)
{
    ipc_server *s = c->s;
    uint64_t deadline = uv_now(s->loop) + ms;
    if (c->state == C_DRAINING) {
        if (deadline < c->deadline)
            c->deadline = deadline;
        return;
    }
    if (c->state != C_OPEN)
        return;
    c->state = C_DRAINING;
    c->deadline = deadline;
    uv_read_stop((uv_stream_t *)&c->pipe);
    undirty(c); /* its batch goes with the rest */
    int r = submit_queue(c);
    if (r == 0)
        r = uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->pipe, on_shutdown);
    if (r < 0) {
        log_debug("client %u (pid %d): cannot flush: %s", c->id, (int)c->pid, uv_strerror(r));
        close_now(c);
        return;
    }
    start_linger(s);
}

void ipc_client_close(ipc_client *c, bool flush)
{
    if (!c)
        return;
    if (flush)
        start_drain(c, IPC_DRAIN_MS);
    else
        close_now(c);
}

/* ---- input --------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    ipc_client *c = h->data;
    *buf = uv_buf_init(c->s->rbuf, sizeof c->s->rbuf);
}

static void deliver(ipc_client *c, const char *line, size_t len)
{
    ipc_server *s = c->s;
    c->lines_in++;
    s->st.lines_in++;
    if (s->h.on_line)
        s->h.on_line(c, line, len, s->ud);
}

static void reply_line_error(ipc_client *c, const gl_err *err)
{
    ipc_server *s = c->s;
    char *reply;
    if (strcmp(err->code, GL_E_LINE_TOO_LONG) == 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "request line longer than %zu bytes; discarded", s->max_line);
        log_warn("client %u (pid %d): %s", c->id, (int)c->pid, msg);
        reply = gl_reply_err(NULL, GL_E_LINE_TOO_LONG, msg);
    } else {
        log_warn("client %u (pid %d): %s", c->id, (int)c->pid, err->msg);
        reply = gl_reply_errf(NULL, err);
    }
    ipc_send(c, reply, strlen(reply));
    free(reply);
}

/* EOF means the peer shut its write side, or closed the socket: only a half-closed peer can
 * still read its events. A closed one shows POLLHUP (both directions gone). */
static bool peer_gone(ipc_client *c)
{
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0)
        return true;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    ipc_client *c = stream->data;
    if (c->state != C_OPEN)
        return;
    if (nread > 0) {
        c->bytes_in += (size_t)nread;
        c->s->st.bytes_in += (size_t)nread;
        gl_line_feed(&c->reader, buf->base, (size_t)nread);
        const char *line;
        size_t len;
        gl_err err;
        int rc;
        /* Drain the reader (it borrows buf until 0) unless a handler closed the client. */
        while (c->state == C_OPEN && (rc = gl_line_next(&c->reader, &line, &len, &err)) != 0) {
            if (rc < 0)
                reply_line_error(c, &err);
            else
                deliver(c, line, len);
        }
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        const char *line;
        size_t len;
        if (gl_line_eof(&c->reader, &line, &len) == 1)
            deliver(c, line, len);
        if (c->state == C_OPEN && !peer_gone(c) && c->s->h.busy && c->s->h.busy(c, c->s->ud)) {
            /* `socat` without waiting, `nc -N`, a script that writes then reads: it still
             * wants the events of its turns, then the close */
            c->eof = true;
            log_debug("client %u (pid %d): half-closed; sending its turns' events until they end",
                      c->id, (int)c->pid);
            start_linger(c->s);
            return;
        }
        start_drain(c, IPC_DRAIN_MS); /* no-op if the handler closed it */
        return;
    }
    log_debug("client %u (pid %d): read failed: %s", c->id, (int)c->pid,
              uv_strerror((int)nread));
    close_now(c);
}

/* ---- accept -------------------------------------------------------------------------------- */

/* One error line to a refused peer, written at once on its fresh socket (best effort: a peer
 * that cannot take 200 bytes now does not get them), then the close. */
static void reject_with(ipc_client *c, uv_os_fd_t fd, const char *message)
{
    char *line = gl_reply_err(NULL, GL_E_REFUSED, message);
    if (write(fd, line, strlen(line)) < 0) { /* nothing more to do for a peer that is gone */ }
    free(line);
    c->s->nrejected++;
    close_now(c);
}

static void reject(ipc_client *c)
{
    c->s->nrejected++;
    close_now(c);
}

/* The peer's supplementary groups as the kernel recorded them at connect (SO_PEERGROUPS):
 * *out is small, or an allocation the caller frees (a peer may hold up to NGROUPS_MAX). Returns
 * the count, or -1 if they cannot be read (a kernel before 4.13). */
static long peer_groups(int fd, gid_t *small, size_t nsmall, gid_t **out)
{
    *out = small;
    socklen_t len = (socklen_t)(nsmall * sizeof *small);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &len) == 0)
        return (long)(len / sizeof *small);
    if (errno != ERANGE || len > NGROUPS_MAX * sizeof(gid_t))
        return -1;
    gid_t *big = gl_xmalloc(len); /* len now says how much the list needs */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, big, &len) != 0) { /* it cannot grow now */
        free(big);
        return -1;
    }
    *out = big;
    return (long)(len / sizeof *big);
}

/* Why the peer may connect (see ipc.h), or NULL. Its groups are read only when a group could
 * let it in. */
static const char *admit(ipc_server *s, int fd, const struct ucred *cred)
{
    const char *via = gld_peer_admits(s->policy, cred->uid, cred->gid, NULL, 0);
    if (via || !gld_peer_policy_has_groups(s->policy))
        return via;
    gid_t small[64], *groups;
    long n = peer_groups(fd, small, sizeof small / sizeof *small, &groups);
    if (n < 0) {
        if (!s->groups_warned)
            log_warn("cannot read the supplementary groups of peers (SO_PEERGROUPS: %s): only "
                     "their primary group counts for --socket-group and --allow-group",
                     strerror(errno));
        s->groups_warned = true;
        return NULL;
    }
    via = gld_peer_admits(s->policy, cred->uid, cred->gid, groups, (size_t)n);
    if (groups != small)
        free(groups);
    return via;
}

/* The refused peer's one line: who is served, and who it is. */
static void refusal(const ipc_server *s, uid_t uid, char *why, size_t n)
{
    const gld_peer_policy *p = s->policy;
    char grp[96] = "";
    if (p->has_group)
        snprintf(grp, sizeof grp, ", the members of group %s", p->group_name);
    snprintf(why, n, "gliveD serves only uid %u%s%s%s; you are uid %u", (unsigned)p->self,
             p->self == 0 ? "" : " and root", grp,
             p->nuids || p->ngids ? " and those of --allow-uid/--allow-group" : "", (unsigned)uid);
}

static void on_connection(uv_stream_t *server, int status)
{
    ipc_server *s = server->data;
    if (status < 0) {
        log_warn("accept on %s failed: %s", s->path, uv_strerror(status));
        return;
    }
    if (s->stopping)
        return;
    ipc_client *c = gl_xcalloc(1, sizeof *c);
    c->s = s;
    c->state = C_OPEN;
    c->pid = -1;
    c->uid = (uid_t)-1;
    gl_line_reader_init(&c->reader, s->max_line);
    gl_buf_init(&c->outq, 0); /* bounded by ipc_send's max_output check */
    uv_pipe_init(s->loop, &c->pipe, 0);
    c->pipe.data = c;

    int r = uv_accept(server, (uv_stream_t *)&c->pipe);
    if (r < 0) {
        log_warn("accept on %s failed: %s", s->path, uv_strerror(r));
        reject(c);
        return;
    }
    uv_os_fd_t fd;
    struct ucred cred;
    socklen_t clen = sizeof cred;
    if (uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        log_warn("cannot read the peer credentials of a new connection (%s); closing it",
                 strerror(errno));
        reject(c);
        return;
    }
    c->uid = cred.uid;
    c->pid = cred.pid;
    const char *via = admit(s, fd, &cred);
    if (!via) {
        char why[256];
        refusal(s, cred.uid, why, sizeof why);
        log_warn("rejected a connection from uid %u (pid %d): %s", (unsigned)cred.uid, (int)cred.pid, why);
        reject_with(c, fd, why);
        return;
    }
    if (s->nclients >= s->max_clients) {
        log_warn("too many clients (%u); closed a new connection from pid %d", s->nclients,
                 (int)cred.pid);
        char why[128];
        snprintf(why, sizeof why, "gliveD has %u clients already (--max-clients); try again later",
                 s->nclients);
        reject_with(c, fd, why);
        return;
    }
    if (++s->next_id == 0)
        s->next_id = 1;
    c->id = s->next_id;
    c->linked = true;
    c->next = s->clients;
    if (s->clients)
        s->clients->prev = c;
    s->clients = c;
    s->nclients++;
    log_debug("client %u connected (pid %d, uid %u: %s)", c->id, (int)c->pid, (unsigned)c->uid, via);
    r = uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
    if (r < 0) {
        log_warn("client %u: cannot read: %s", c->id, uv_strerror(r));
        close_now(c);
    }
}

/* ---- socket creation ----------------------------------------------------------------------- */

/* Who the policy lets in decides the modes (see ipc.h). */
typedef struct sock_modes {
    mode_t sock, dir;
    bool chgrp; /* the socket (and a directory we create) go to the socket group */
} sock_modes;

static sock_modes modes_for(const gld_peer_policy *p)
{
    if (p->nuids || p->ngids)
        return (sock_modes){0666, 0755, p->has_group};
    if (p->has_group)
        return (sock_modes){0660, 0750, true};
    return (sock_modes){0600, 0700, false};
}

/* Creates the socket's directory if missing (only the last component), with the mode the
 * admitted peers need to reach the socket. */
static int ensure_parent_dir(const char *path, const gld_peer_policy *p, gl_err *err)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return gl_fail(err, "bad_path", "socket path too long");
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0; /* the current directory or "/" */
    *slash = '\0';
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return gl_fail(err, "bad_path", "%s is not a directory", dir);
        return 0;
    }
    if (errno != ENOENT)
        return gl_fail(err, "io", "cannot access socket directory %s: %s", dir, strerror(errno));
    sock_modes m = modes_for(p);
    if (mkdir(dir, 0700) < 0) { /* 0700 until its group is right */
        if (errno == EEXIST)
            return 0;
        if (errno == ENOENT)
            return gl_fail(err, "bad_path",
                           "cannot create socket directory %s: its parent directory does not exist",
                           dir);
        return gl_fail(err, "io", "cannot create socket directory %s: %s", dir, strerror(errno));
    }
    if (m.chgrp && chown(dir, (uid_t)-1, p->group) < 0) {
        log_warn("cannot give socket directory %s to group %s (%s): its group gets no access",
                 dir, p->group_name, strerror(errno));
        m.dir &= 0705; /* not to the daemon's own primary group instead */
    }
    if (chmod(dir, m.dir) < 0) /* mkdir's mode went through the umask */
        return gl_fail(err, "io", "cannot chmod socket directory %s: %s", dir, strerror(errno));
    log_info("created socket directory %s (mode %04o)", dir, (unsigned)m.dir);
    return 0;
}

/* Path exists: a live daemon -> in_use; a dead socket -> unlinked; anything else -> left alone. */
static int remove_stale(const char *path, const struct sockaddr_un *sa, gl_err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return gl_fail(err, "io", "cannot access %s: %s", path, strerror(errno));
    }
    if (!S_ISSOCK(st.st_mode))
        return gl_fail(err, "bad_path", "%s exists and is not a socket; not removing it", path);
    /* Non-blocking, so a live daemon with a full backlog (EAGAIN) cannot stall us. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return gl_fail(err, "io", "socket: %s", strerror(errno));
    int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
    int e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
        return gl_fail(err, "in_use", "another gliveD is already listening on %s", path);
    if (e == ENOENT)
        return 0; /* gone meanwhile */
    if (e != ECONNREFUSED)
        return gl_fail(err, "io", "cannot check the existing socket %s: %s", path, strerror(e));
    if (unlink(path) < 0 && errno != ENOENT)
        return gl_fail(err, "io", "cannot remove stale socket %s: %s", path, strerror(errno));
    log_info("removed stale socket %s", path);
    return 0;
}

/* Binds and listens under umask 077, then gives the file its group and mode (modes_for): until
 * then it is 0600, so nobody gets in early. Returns the fd, or -1. */
static int make_socket(const char *path, const struct sockaddr_un *sa, const gld_peer_policy *p,
                       struct stat *st, gl_err *err)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return gl_fail(err, "io", "socket: %s", strerror(errno));
    mode_t old = umask(077);
    int rc = bind(fd, (const struct sockaddr *)sa, sizeof *sa);
    int e = errno;
    umask(old);
    if (rc < 0) {
        close(fd);
        if (e == EADDRINUSE)
            return gl_fail(err, "in_use",
                           "another gliveD is already listening on %s (it appeared while starting)",
                           path);
        return gl_fail(err, "io", "cannot bind %s: %s", path, strerror(e));
    }
    sock_modes m = modes_for(p);
    if (m.chgrp && chown(path, (uid_t)-1, p->group) < 0) {
        /* a daemon may only give a file to a group it is in; without it, 0660 would open the
         * socket to the daemon's own primary group instead */
        log_warn("cannot give the socket %s to group %s (%s): members of that group cannot connect",
                 path, p->group_name, strerror(errno));
        m.sock &= 0606;
    }
    const char *what = "chmod";
    if (chmod(path, m.sock) < 0 || (what = "stat", lstat(path, st) < 0) ||
        (what = "listen", listen(fd, IPC_BACKLOG) < 0)) {
        e = errno;
        close(fd);
        unlink(path);
        return gl_fail(err, "io", "cannot %s %s: %s", what, path, strerror(e));
    }
    log_info("socket %s: mode %04o, group %u", path, (unsigned)(st->st_mode & 07777),
             (unsigned)st->st_gid);
    return fd;
}

/* Tells the operator when a peer the policy admits cannot reach the socket file anyway: a
 * directory on the way it cannot search, or a socket mode that shuts it out; or when the file
 * lets in more than the policy (gliveD still refuses them: said so that SocketMode= is fixed). */
static void check_reachable(const char *path, const gld_peer_policy *p)
{
    if (!p->has_group && !p->nuids && !p->ngids)
        return;
    bool others = p->nuids || p->ngids;
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *slash = strrchr(dir, '/'); slash && slash != dir; slash = strrchr(dir, '/')) {
        *slash = '\0';
        struct stat st;
        if (stat(dir, &st) != 0)
            return;
        bool ok = (st.st_mode & S_IXOTH) ||
                  (!others && (st.st_mode & S_IXGRP) && st.st_gid == p->group);
        if (!ok) {
            log_warn("directory %s (mode %04o) keeps %s from the socket: allow them to search it "
                     "(chmod o+x%s)", dir, (unsigned)(st.st_mode & 07777),
                     others ? "the users of --allow-uid/--allow-group" : "the socket group",
                     others ? "" : ", or g+x with that group");
            return;
        }
    }
}

/* An inherited socket file's mode against the policy (see ipc.h). */
static void check_inherited_mode(const char *path, const gld_peer_policy *p)
{
    struct stat st;
    if (!*path || stat(path, &st) != 0)
        return;
    mode_t m = st.st_mode & 0777;
    bool others = p->nuids || p->ngids;
    if ((m & 0002) && !others)
        log_warn("socket %s is mode %04o: any local user can connect (gliveD refuses those it "
                 "does not serve); SocketMode=0660 with SocketGroup= keeps them out", path,
                 (unsigned)m);
    else if (others && !(m & 0002))
        log_warn("socket %s is mode %04o: the users of --allow-uid/--allow-group outside its "
                 "group cannot connect (SocketMode=0666: gliveD checks each peer)", path,
                 (unsigned)m);
    else if (p->has_group && st.st_gid != p->group && (m & 0020))
        log_warn("socket %s belongs to group %u, not the socket group %s (%u): members of %s "
                 "cannot connect, members of group %u are refused (SocketGroup=%s)", path,
                 (unsigned)st.st_gid, p->group_name, (unsigned)p->group, p->group_name,
                 (unsigned)st.st_gid, p->group_name);
    check_reachable(path, p);
}

/* A listening socket from systemd (LISTEN_FDS): checks it is one, learns its name. */
static int adopt(int fd, char *path, size_t n, gl_err *err)
{
    struct sockaddr_un sa;
    socklen_t len = sizeof sa;
    int type = 0, listening = 0;
    socklen_t tl = sizeof type, ll = sizeof listening;
    memset(&sa, 0, sizeof sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0)
        return gl_fail(err, "bad_socket", "the socket passed by systemd (fd %d) is not usable: %s",
                       fd, strerror(errno));
    if (sa.sun_family != AF_UNIX || type != SOCK_STREAM || !listening)
        return gl_fail(err, "bad_socket", "the socket passed by systemd (fd %d) is not a listening "
                       "Unix stream socket (ListenStream=/path in the .socket unit)", fd);
    size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                      ? strnlen(sa.sun_path, len - offsetof(struct sockaddr_un, sun_path)) : 0;
    if (plen >= n)
        plen = n - 1;
    memcpy(path, sa.sun_path, plen); /* "" for an abstract or unnamed socket */
    path[plen] = '\0';
    /* the code's sandbox and other children must not inherit the listener */
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return gl_fail(err, "bad_socket", "fd %d: %s", fd, strerror(errno));
    return 0;
}

ipc_server *ipc_start(uv_loop_t *loop, const ipc_opts *o, const ipc_handlers *h, void *ud,
                      gl_err *err)
{
    if (!o || ((!o->path || !*o->path) && !o->inherited)) {
        gl_fail(err, "bad_path", "no socket path");
        return NULL;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    char got[sizeof sa.sun_path];
    const char *path = o->path ? o->path : "";
    if (o->inherited) {
        if (adopt(o->fd, got, sizeof got, err) < 0)
            return NULL;
        if (*path && strcmp(path, got) != 0)
            log_info("serving the socket systemd passed (%s), not %s", *got ? got : "(unnamed)",
                     path);
        path = got;
    }
    size_t plen = strlen(path);
    if (plen >= sizeof sa.sun_path) {
        gl_fail(err, "bad_path", "socket path too long (%zu bytes, at most %zu): %s", plen,
                sizeof sa.sun_path - 1, path);
        return NULL;
    }
    memcpy(sa.sun_path, path, plen + 1);

    ipc_server *s = gl_xcalloc(1, sizeof *s);
    s->path = gl_xstrdup(path);
    s->loop = loop;
    if (h)
        s->h = *h;
    s->ud = ud;
    s->max_line = o->max_line ? o->max_line : GL_LINE_MAX_DEFAULT;
    s->max_output = o->max_output ? o->max_output : IPC_MAX_OUTPUT_DEFAULT;
    s->max_output_total = o->max_output_total ? o->max_output_total : IPC_MAX_OUTPUT_TOTAL_DEFAULT;
    s->max_clients = o->max_clients ? o->max_clients : IPC_MAX_CLIENTS_DEFAULT;
    s->flow_high = s->max_output / 4 < FLOW_HIGH_MAX ? s->max_output / 4 : FLOW_HIGH_MAX;
    s->flow_low = s->flow_high / 4;
    s->sender_timeout_ms = o->sender_timeout_ms ? o->sender_timeout_ms : IPC_SENDER_TIMEOUT_DEFAULT_MS;
    s->own_only.self = geteuid();
    s->policy = o->policy ? o->policy : &s->own_only;
    s->inherited = o->inherited;

    struct stat st;
    int fd = o->inherited ? o->fd : -1;
    if (!o->inherited &&
        (ensure_parent_dir(s->path, s->policy, err) < 0 || remove_stale(s->path, &sa, err) < 0 ||
         (fd = make_socket(s->path, &sa, s->policy, &st, err)) < 0)) {
        free(s->path);
        free(s);
        return NULL;
    }
    if (o->inherited) {
        check_inherited_mode(s->path, s->policy);
    } else {
        s->sock_dev = st.st_dev;
        s->sock_ino = st.st_ino;
        check_reachable(s->path, s->policy);
    }

    uv_pipe_init(loop, &s->listener, 0);
    s->listener.data = s;
    uv_timer_init(loop, &s->linger);
    s->linger.data = s;
    uv_prepare_init(loop, &s->prep);
    s->prep.data = s;
    uv_check_init(loop, &s->check);
    s->check.data = s;
    /* they only run while batches wait, and never keep the loop alive by themselves */
    uv_unref((uv_handle_t *)&s->prep);
    uv_unref((uv_handle_t *)&s->check);
    s->nhandles = 4;
    int r = uv_pipe_open(&s->listener, fd);
    if (r < 0 && !o->inherited)
        close(fd); /* not adopted by the handle */
    else if (r >= 0)
        r = uv_listen((uv_stream_t *)&s->listener, IPC_BACKLOG, on_connection);
    if (r < 0) {
        /* Practically unreachable (the socket already listens). The handles are registered, so
         * they are closed the normal way: the caller's loop frees s when it next runs. */
        gl_fail(err, "io", "cannot listen on %s: %s", s->path, uv_strerror(r));
        if (!o->inherited)
            unlink(s->path);
        s->stopping = true;
        uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
        maybe_finish(s);
        return NULL;
    }

    /* A write to a client that vanished must be an error, not a fatal signal. */
    struct sigaction sa_pipe;
    if (sigaction(SIGPIPE, NULL, &sa_pipe) == 0 && sa_pipe.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);

    log_info("listening on %s%s", *s->path ? s->path : "(an unnamed socket)",
             o->inherited ? " (the socket systemd passed)" : "");
    return s;
}

void ipc_stop(ipc_server *s)
{
    if (!s || s->stopping)
        return;
    s->stopping = true;
    uv_close((uv_handle_t *)&s->listener, on_server_handle_closed);
    /* Remove the socket file only if we made it and it is still ours (not replaced by a newer
     * daemon). An inherited one belongs to the socket unit, which keeps listening on it: clients
     * connecting while gliveD restarts wait in its backlog instead of failing. */
    struct stat st;
    if (!s->inherited && lstat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
        st.st_ino == s->sock_ino)
        unlink(s->path);
    log_info("stopped listening on %s; closing %u client(s)", s->path, s->nclients);
    for (ipc_client *c = s->clients; c; c = c->next)
        start_drain(c, IPC_STOP_DRAIN_MS);
    maybe_finish(s);
}

/* ---- accessors ----------------------------------------------------------------------------- */

bool ipc_client_lagging(const ipc_client *c)
{
    return c->state == C_OPEN && unwritten(c) > c->s->flow_high;
}

bool ipc_client_caught_up(const ipc_client *c)
{
    return c->state != C_OPEN || unwritten(c) <= c->s->flow_low;
}

void ipc_client_hold(ipc_client *c)
{
    if (c->holds++ == 0)
        c->progress_at = uv_now(c->s->loop);
    start_linger(c->s);
}

void ipc_client_release(ipc_client *c)
{
    if (c->holds == 0) {
        log_error("bug: ipc_client_release of client %u, which no session holds", c->id);
        return;
    }
    c->holds--;
}

void ipc_client_set_data(ipc_client *c, void *data) { c->data = data; }
void *ipc_client_data(const ipc_client *c) { return c->data; }
unsigned ipc_client_id(const ipc_client *c) { return c->id; }
uid_t ipc_client_uid(const ipc_client *c) { return c->uid; }
pid_t ipc_client_pid(const ipc_client *c) { return c->pid; }

const char *ipc_path(const ipc_server *s) { return s->path; }
void ipc_set_origin(ipc_server *s, uint64_t ns) { s->origin_ns = ns; }
const gl_hist *ipc_latency(const ipc_server *s) { return &s->latency; }

void ipc_get_stats(const ipc_server *s, ipc_stats *out)
{
    *out = s->st;
    out->clients = s->nclients;
}
