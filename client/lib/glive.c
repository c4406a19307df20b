#include "client/lib/glive.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client/lib/b64.h"
#include "common/paths.h"
#include "common/xalloc.h"
#include "proto/fastpath.h"
#include "proto/line.h"

#define READ_CHUNK 65536

/* One queued item: an event, or an error to report from glive_next_event (a skipped line). */
typedef struct qitem {
    json_t *ev;
    gl_err *err; /* owned; set instead of ev */
} qitem;

struct glive_client {
    int fd;
    char *path;
    gl_line_reader rd;
    char *rbuf;           /* READ_CHUNK bytes; the reader borrows it until drained */
    bool fed;             /* rbuf was fed to rd and not drained yet: glive_next_view takes the
                             lines one at a time; every other reader drains them first */
    bool empty;           /* the last read found the socket empty: the next one polls first */
    char *vbuf;           /* the strings and PCM of the last view (glive_next_view) */
    size_t vcap;

    qitem *q;             /* ring buffer */
    size_t qhead, qlen, qcap;
    size_t nevents;       /* events (not error items) in the queue */

    long long next_id;
    bool waiting;         /* a request waits for its reply */
    long long want_id;
    json_t *reply;        /* the matched reply, once read */

    bool dead;            /* eof, io error or overflow: sticky */
    gl_err dead_err;
};

/* ---- time ---------------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* deadline < 0 = none. */
static int64_t deadline_from(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 when passed. */
static int remaining(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* ---- failure ------------------------------------------------------------------------------- */

static void die(glive_client *c, const gl_err *e)
{
    if (!c->dead) {
        c->dead = true;
        c->dead_err = *e;
    }
}

static int fail_dead(glive_client *c, gl_err *err)
{
    if (err)
        *err = c->dead_err;
    return -1;
}

static int fail_eof(glive_client *c, gl_err *err)
{
    gl_err e;
    gl_fail(&e, "eof", "gliveD closed the connection");
    die(c, &e);
    return fail_dead(c, err);
}

static int fail_io(glive_client *c, gl_err *err, const char *what, int e_no)
{
    gl_err e;
    gl_fail(&e, "io", "%s on %s: %s", what, c->path, strerror(e_no));
    die(c, &e);
    return fail_dead(c, err);
}

/* ---- queue --------------------------------------------------------------------------------- */

static void q_push(glive_client *c, json_t *ev, gl_err *item_err)
{
    if (c->qlen == c->qcap) {
        size_t ncap = c->qcap ? c->qcap * 2 : 64;
        qitem *nq = gl_xmalloc(ncap * sizeof *nq);
        for (size_t i = 0; i < c->qlen; i++)
            nq[i] = c->q[(c->qhead + i) % c->qcap];
        free(c->q);
        c->q = nq;
        c->qcap = ncap;
        c->qhead = 0;
    }
    c->q[(c->qhead + c->qlen) % c->qcap] = (qitem){ev, item_err};
    c->qlen++;
    if (ev)
        c->nevents++;
}

static bool q_pop(glive_client *c, qitem *out)
{
    if (!c->qlen)
        return false;
    *out = c->q[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    if (out->ev)
        c->nevents--;
    return true;
}

/* Queues an error to be returned by glive_next_event (a skipped line). */
static void q_push_err(glive_client *c, const gl_err *e)
{
    if (c->qlen >= GLIVE_EVENT_QUEUE_MAX + 16)
        return; /* never grow without bound on a stream of bad lines */
    gl_err *copy = gl_xmalloc(sizeof *copy);
    *copy = *e;
    q_push(c, NULL, copy);
}

/* ---- incoming lines ------------------------------------------------------------------------ */

static bool id_matches(const json_t *id, long long want)
{
    return json_is_integer(id) && json_integer_value(id) == want;
}

static void dispatch(glive_client *c, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, 0, &jerr);
    gl_err e;
    if (!obj || !json_is_object(obj)) {
        gl_fail(&e, "protocol", "gliveD sent a line that is not a JSON object (%.60s)",
                obj ? "wrong type" : jerr.text);
        json_decref(obj);
        q_push_err(c, &e);
        return;
    }
    if (json_object_get(obj, "event")) {
        if (c->dead) { /* after an overflow: events are lost anyway */
            json_decref(obj);
            return;
        }
        if (c->nevents >= GLIVE_EVENT_QUEUE_MAX) {
            gl_fail(&e, "overflow", "event queue overflow (more than %d events waiting)",
                    GLIVE_EVENT_QUEUE_MAX);
            die(c, &e);
            json_decref(obj);
            return;
        }
        q_push(c, obj, NULL);
        return;
    }
    json_t *ok = json_object_get(obj, "ok");
    if (json_is_boolean(ok)) {
        json_t *id = json_object_get(obj, "id");
        bool mine = id_matches(id, c->want_id) || ((!id || json_is_null(id)) && json_is_false(ok));
        if (c->waiting && !c->reply && mine)
            c->reply = obj;
        else
            json_decref(obj); /* a late reply to a request that timed out */
        return;
    }
    json_decref(obj);
    gl_fail(&e, "protocol", "gliveD sent a line that is neither an event nor a reply");
    q_push_err(c, &e);
}

/* Drains every complete line of what was fed (the reader borrows c->rbuf until then), or up to
 * the reply a request waits for: the lines after it stay fed (c->fed), for glive_next_view to
 * take as views (an answer's first read often holds the reply and a stream of audio lines,
 * which would otherwise all become JSON trees) and for every other reader to drain first. */
static void drain(glive_client *c)
{
    const char *line;
    size_t len;
    gl_err e;
    int rc;
    while ((rc = gl_line_next(&c->rd, &line, &len, &e)) != 0) {
        if (rc < 0)
            q_push_err(c, &e);
        else
            dispatch(c, line, len);
        if (c->waiting && c->reply) {
            c->fed = true;
            return;
        }
    }
}

/* Waits up to the deadline for bytes, reads once and dispatches what came (or, unless
 * `dispatch_now`, leaves it fed to the reader for glive_next_view). Lines a view left fed are
 * dispatched first, without reading (they come before anything the socket holds).
 * 1: read something (maybe no complete line); 0: timeout; -1: error (err set; eof/io are sticky;
 * "eintr" is returned only when `eintr_fails`, else the wait is resumed). */
static int read_some(glive_client *c, int64_t deadline, bool eintr_fails, bool dispatch_now,
                     gl_err *err)
{
    if (c->fed) {
        c->fed = false;
        drain(c);
        return 1;
    }
    if (c->dead)
        return fail_dead(c, err);
    /* The socket is non-blocking: read first and wait only when there is nothing (while an
     * answer streams in there nearly always is: one syscall per read, not two). A read that
     * finds nothing is not repeated: with no time left to wait the call returns at once (poll
     * would only say the same), and the next call polls first (glivectl reads what is there,
     * flushes its output, then waits: three syscalls per wait, not five). */
    for (bool wait = c->empty;; wait = true) {
        if (wait) {
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            int n = poll(&p, 1, remaining(deadline));
            if (n < 0) {
                if (errno == EINTR) {
                    if (eintr_fails)
                        return gl_fail(err, "eintr", "interrupted by a signal");
                    continue;
                }
                return fail_io(c, err, "poll", errno);
            }
            if (n == 0)
                return 0;
        }
        ssize_t r = recv(c->fd, c->rbuf, READ_CHUNK, 0);
        c->empty = r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        if (c->empty && remaining(deadline) == 0)
            return 0;
        if (r < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            if (errno == ECONNRESET)
                return fail_eof(c, err);
            return fail_io(c, err, "read", errno);
        }
        if (r == 0) {
            const char *line;
            size_t len;
            if (gl_line_eof(&c->rd, &line, &len) == 1)
                dispatch(c, line, len);
            return fail_eof(c, err);
        }
        gl_line_feed(&c->rd, c->rbuf, (size_t)r);
        if (dispatch_now)
            drain(c);
        else
            c->fed = true;
        return 1;
    }
}

/* Writes all of buf, reading (and queuing) whatever the daemon sends meanwhile so that neither
 * side can block the other with full socket buffers. */
static int send_all(glive_client *c, const char *buf, size_t len, int64_t deadline, gl_err *err)
{
    size_t off = 0;
    while (off < len) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLOUT};
        int n = poll(&p, 1, remaining(deadline));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail_io(c, err, "poll", errno);
        }
        if (n == 0) {
            gl_err e;
            if (off) { /* half a line on the wire: the stream cannot be used any more */
                gl_fail(&e, "timeout", "timed out sending a request to gliveD");
                die(c, &e);
                return fail_dead(c, err);
            }
            return gl_fail(err, "timeout", "timed out sending a request to gliveD");
        }
        if (p.revents & POLLIN) {
            if (read_some(c, 0, false, true, err) < 0)
                return -1;
            if (c->dead)
                return fail_dead(c, err);
        }
        if (p.revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t w = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                    continue;
                if (errno == EPIPE || errno == ECONNRESET)
                    return fail_eof(c, err);
                return fail_io(c, err, "write", errno);
            }
            off += (size_t)w;
        }
    }
    return 0;
}

/* ---- API ----------------------------------------------------------------------------------- */

glive_client *glive_connect(const char *path, gl_err *err)
{
    char def[4096];
    if (!path || !*path) {
        if (gl_default_socket_path(def, sizeof def, err) < 0)
            return NULL;
        path = def;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t plen = strlen(path);
    if (plen >= sizeof sa.sun_path) {
        gl_fail(err, "connect", "cannot connect: socket path too long (%zu bytes, max %zu): %s",
                plen, sizeof sa.sun_path - 1, path);
        return NULL;
    }
    memcpy(sa.sun_path, path, plen + 1);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        gl_fail(err, "connect", "cannot create a socket: %s", strerror(errno));
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        bool hint = e == ENOENT || e == ECONNREFUSED;
        gl_fail(err, "connect", "cannot connect to %s: %s%s", path, strerror(e),
                hint ? " (is gliveD running?)" : "");
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        gl_fail(err, "connect", "cannot connect to %s: fcntl: %s", path, strerror(e));
        return NULL;
    }

    glive_client *c = gl_xcalloc(1, sizeof *c);
    c->fd = fd;
    c->path = gl_xstrdup(path);
    c->rbuf = gl_xmalloc(READ_CHUNK);
    gl_line_reader_init(&c->rd, GLIVE_LINE_MAX);
    return c;
}

void glive_close(glive_client *c)
{
    if (!c)
        return;
    close(c->fd);
    qitem it;
    while (q_pop(c, &it)) {
        json_decref(it.ev);
        free(it.err);
    }
    free(c->q);
    json_decref(c->reply);
    gl_line_reader_free(&c->rd);
    free(c->rbuf);
    free(c->vbuf);
    free(c->path);
    free(c);
}

void glive_abandon(glive_client *c)
{
    if (!c)
        return;
    /* After our end of file, gliveD cannot tell a client that closed from one that only shut
     * its write side and still waits for the answers of its prompts (socat, nc -N): it keeps
     * those prompts until a write to us fails. So make one fail now: with our read side shut,
     * its writes get EPIPE, and the reply to this last request is such a write. The line is
     * short: one send() of it cannot block. */
    static const char bye[] = "{\"op\":\"hello\",\"client\":\"gone\"}\n";
    if (!c->dead && shutdown(c->fd, SHUT_RD) == 0) {
        ssize_t w = send(c->fd, bye, sizeof bye - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)w; /* nothing to do if it fails: then the connection is gone already */
    }
    glive_close(c);
}

int glive_fd(const glive_client *c) { return c->fd; }
size_t glive_queued(const glive_client *c)
{
    return c->qlen + (c->fed && c->rd.in_len && memchr(c->rd.in, '\n', c->rd.in_len) ? 1 : 0);
}
const char *glive_path(const glive_client *c) { return c->path; }

json_t *glive_request(glive_client *c, json_t *req, int timeout_ms, gl_err *err)
{
    if (!c || !json_is_object(req)) {
        json_decref(req);
        gl_fail(err, "usage", "glive_request: the request must be a JSON object");
        return NULL;
    }
    if (c->dead) {
        json_decref(req);
        fail_dead(c, err);
        return NULL;
    }
    int64_t deadline = deadline_from(timeout_ms);
    long long id = ++c->next_id;
    char *s = NULL;
    if (json_object_set_new(req, "id", json_integer(id)) == 0)
        s = json_dumps(req, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(req);
    if (!s) {
        gl_fail(err, "usage", "glive_request: cannot encode the request (invalid UTF-8?)");
        return NULL;
    }
    size_t n = strlen(s);
    char *line = gl_xrealloc(s, n + 2);
    line[n] = '\n';
    line[n + 1] = '\0';

    c->waiting = true;
    c->want_id = id;
    json_decref(c->reply);
    c->reply = NULL;
    int rc = send_all(c, line, n + 1, deadline, err);
    free(line);
    while (rc == 0 && !c->reply && !c->dead) {
        rc = read_some(c, deadline, false, true, err);
        if (rc == 0 && !c->reply) {
            gl_fail(err, "timeout", "no reply from gliveD within %d ms", timeout_ms);
            rc = -1;
        } else if (rc > 0)
            rc = 0;
    }
    c->waiting = false;
    json_t *reply = c->reply;
    c->reply = NULL;
    if (c->dead && (!reply || strcmp(c->dead_err.code, "overflow") == 0)) {
        json_decref(reply);
        fail_dead(c, err);
        return NULL;
    }
    if (!reply)
        return NULL; /* err set above */
    return reply;
}

int glive_reply_error(const json_t *reply, gl_err *err)
{
    json_t *ok = json_object_get(reply, "ok");
    if (json_is_true(ok))
        return 0;
    json_t *e = json_object_get(reply, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!json_is_false(ok) || !code)
        return gl_fail(err, "protocol", "malformed reply from gliveD");
    return gl_fail(err, code, "%s", msg ? msg : code);
}

json_t *glive_next_event(glive_client *c, int timeout_ms, gl_err *err)
{
    int64_t deadline = deadline_from(timeout_ms);
    for (;;) {
        qitem it;
        if (q_pop(c, &it)) {
            if (it.ev)
                return it.ev;
            if (err)
                *err = *it.err;
            free(it.err);
            return NULL;
        }
        if (c->dead) {
            fail_dead(c, err);
            return NULL;
        }
        int rc = read_some(c, deadline, true, true, err);
        if (rc == 0) {
            gl_fail(err, "timeout", "no event from gliveD within %d ms", timeout_ms);
            return NULL;
        }
        if (rc < 0 && !c->qlen)
            return NULL;
    }
}

/* ---- views --------------------------------------------------------------------------------- */

/* The bytes from p on that a JSON string holds as they are (printable ASCII but the quote and
 * the backslash), up to end: where the first other byte is. */
static const char *plain_run(const char *p, const char *end)
{
    while (p < end && *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* p..end starts with the literal lit: past it, else NULL. */
static const char *lit(const char *p, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}
#define LIT(p, end, s) lit((p), (end), (s), sizeof(s) - 1)

/* A text or audio line exactly as gliveD's fast path writes it (daemon/session.c fast_message):
 *   {"event":"audio","session":"NAME","mime":"MIME","data":"BASE64"[,"turn":N]}
 *   {"event":"text","session":"NAME","text":"TEXT"[,"turn":N]}
 * with NAME and MIME plain (no escape, nothing but printable ASCII) -> its fields in f[] as
 * gl_fast_flat would give them ("data" raw, TEXT scanned as any JSON string); -1 for anything
 * else, which gl_fast_flat then reads. Nearly every line of a streamed answer is one: this
 * reads an audio line in a few hundred instructions, the general scanner in ~1,900 (callgrind,
 * 1,280 characters of base64). */
static int exact_line(const char *line, size_t len, gl_fast_field f[5])
{
    const char *p = line, *end = line + len, *q;
    bool audio;
    if ((q = LIT(p, end, "{\"event\":\"audio\",\"session\":\"")))
        audio = true;
    else if ((q = LIT(p, end, "{\"event\":\"text\",\"session\":\"")))
        audio = false;
    else
        return -1;
    p = q;
    f[0] = (gl_fast_field){.key = "event", .key_len = 5, .type = GL_FAST_STR,
                           .str = {line + 10, audio ? 5 : 4, 0}};
    q = plain_run(p, end);
    f[1] = (gl_fast_field){.key = "session", .key_len = 7, .type = GL_FAST_STR, .str = {p, (size_t)(q - p), 0}};
    int n = 2;
    if (audio) {
        if (!(p = LIT(q, end, "\",\"mime\":\"")))
            return -1;
        q = plain_run(p, end);
        f[n++] = (gl_fast_field){.key = "mime", .key_len = 4, .type = GL_FAST_STR, .str = {p, (size_t)(q - p), 0}};
        if (!(p = LIT(q, end, "\",\"data\":\"")) || !(q = memchr(p, '"', (size_t)(end - p))))
            return -1;
        f[n++] = (gl_fast_field){.key = "data", .key_len = 4, .type = GL_FAST_STR,
                                 .str = {p, (size_t)(q - p), GL_JSTR_RAW}};
        p = q + 1;
    } else {
        f[n] = (gl_fast_field){.key = "text", .key_len = 4, .type = GL_FAST_STR};
        if (!(p = LIT(q, end, "\",\"text\":")) || !(p = gl_jstr_scan(p, end, &f[n].str)))
            return -1;
        n++;
    }
    if ((q = LIT(p, end, ",\"turn\":"))) { /* 1 to 18 digits, no leading zero, as gl_fast_flat */
        p = q;
        long long t = 0;
        while (q < end && *q >= '0' && *q <= '9' && q - p < 19)
            t = t * 10 + (*q++ - '0');
        if (q == p || q - p > 18 || (*p == '0' && q - p > 1))
            return -1;
        f[n++] = (gl_fast_field){.key = "turn", .key_len = 4, .type = GL_FAST_INT, .num = t};
        p = q;
    }
    return end - p == 1 && *p == '}' ? n : -1;
}

static bool key_is(const gl_fast_field *f, const char *k)
{
    size_t n = strlen(k);
    return f->key_len == n && memcmp(f->key, k, n) == 0;
}

/* The string's bytes, NUL-terminated, at *o in vbuf (room checked by the caller). */
static const char *vstr(const gl_fast_field *f, char **o)
{
    char *s = *o;
    size_t n = gl_jstr_decode(&f->str, s, SIZE_MAX);
    s[n] = '\0';
    *o = s + n + 1;
    return s;
}

/* A text or audio event line exactly as gliveD writes it -> *v (true); anything else: false,
 * and the caller dispatches the line as JSON. Whatever this accepts, json_loadb reads the same
 * way: a string holding \u0000 (which json_loadb refuses here) is left to it. */
static bool view_of(glive_client *c, const char *line, size_t len, glive_view *v)
{
    static const char head[] = "{\"event\":\"";
    if (c->dead || len < sizeof head || memcmp(line, head, sizeof head - 1) != 0)
        return false;
    gl_fast_field f[6];
    int n = exact_line(line, len, f);
    /* "data" is only found: base64's decoder checks it (below), so it is read once */
    if (n < 0)
        n = gl_fast_flat(line, len, f, 6, "data");
    if (n < 0)
        return false;
    const gl_fast_field *ev = NULL, *session = NULL, *turn = NULL, *text = NULL, *mime = NULL,
                        *data = NULL;
    for (int i = 0; i < n; i++) {
        const gl_fast_field *x = &f[i];
        const gl_fast_field **slot = key_is(x, "event") ? &ev : key_is(x, "session") ? &session
                                     : key_is(x, "turn") ? &turn : key_is(x, "text") ? &text
                                     : key_is(x, "mime") ? &mime : key_is(x, "data") ? &data : NULL;
        if (!slot || (x->type == GL_FAST_STR && (x->str.flags & GL_JSTR_NUL)))
            return false;
        if (x->type != (slot == &turn ? GL_FAST_INT : GL_FAST_STR))
            return false;
        *slot = x;
    }
    bool is_text = ev && ev->str.len == 4 && memcmp(ev->str.p, "text", 4) == 0;
    bool is_audio = ev && ev->str.len == 5 && memcmp(ev->str.p, "audio", 5) == 0;
    if (!(is_text && text && !mime && !data) && !(is_audio && data && !text))
        return false;
    /* every string decoded is at most as long as it stands in the line, plus its NUL */
    size_t need = len + 8 + (data ? gl_b64_decoded_max(data->str.len) : 0);
    if (need > c->vcap) {
        free(c->vbuf);
        c->vcap = need < 4096 ? 4096 : need;
        c->vbuf = gl_xmalloc(c->vcap);
    }
    char *o = c->vbuf;
    *v = (glive_view){.kind = is_text ? GLIVE_VIEW_TEXT : GLIVE_VIEW_AUDIO};
    v->session = session ? vstr(session, &o) : NULL;
    v->has_turn = turn != NULL;
    v->turn = turn ? turn->num : 0;
    if (is_text) {
        v->text = vstr(text, &o);
        v->text_len = strlen(v->text);
        return true;
    }
    v->mime = mime ? vstr(mime, &o) : NULL;
    /* The raw "data" is the string as it stands. If the decoder takes it, every byte was of
     * base64's alphabet (no quote, backslash, control or non-ASCII byte): a valid JSON string
     * with no escapes, so its bytes are the string's and the line read right. Anything else
     * (an escape, bad base64) goes to the JSON path, which reads or reports it as before. */
    size_t pcm_len;
    /* (the decoder also skips trailing whitespace, where a raw tab or CR would be a control
     * character, which no JSON string holds: json_loadb refuses such a line) */
    for (size_t k = data->str.len; k && strchr(" \t\r", data->str.p[k - 1]); k--)
        if (data->str.p[k - 1] != ' ')
            return false;
    if (gl_b64_decode_into(data->str.p, data->str.len, (unsigned char *)o, &pcm_len, NULL) < 0)
        return false;
    v->pcm = (const unsigned char *)o;
    v->pcm_len = pcm_len;
    return true;
}

int glive_next_view(glive_client *c, int timeout_ms, glive_view *v, gl_err *err)
{
    bool have_deadline = false; /* read the clock only when a wait is needed */
    int64_t deadline = -1;
    for (;;) {
        qitem it;
        if (q_pop(c, &it)) {
            if (it.ev) {
                *v = (glive_view){.kind = GLIVE_VIEW_JSON, .json = it.ev};
                return 0;
            }
            if (err)
                *err = *it.err;
            free(it.err);
            return -1;
        }
        if (c->fed) {
            const char *line;
            size_t len;
            gl_err e;
            int rc = gl_line_next(&c->rd, &line, &len, &e);
            if (rc == 0) {
                c->fed = false;
                continue;
            }
            if (rc < 0) { /* as glive_next_event reports it: in stream order */
                if (err)
                    *err = e;
                return -1;
            }
            if (view_of(c, line, len, v))
                return 0;
            dispatch(c, line, len);
            continue;
        }
        if (c->dead)
            return fail_dead(c, err);
        if (!have_deadline) {
            deadline = deadline_from(timeout_ms);
            have_deadline = true;
        }
        int rc = read_some(c, deadline, true, false, err);
        if (rc == 0)
            return gl_fail(err, "timeout", "no event from gliveD within %d ms", timeout_ms);
        if (rc < 0 && !c->qlen)
            return -1;
    }
}
