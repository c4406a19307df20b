/* daemon/ipc tests: a real ipc_server on an in-process uv loop, driven with UV_RUN_NOWAIT, and
 * plain non-blocking AF_UNIX client sockets in the same thread (never blocking, so no deadlock).
 * A small command language in on_line lets clients make the server subscribe, spam, close,
 * stop... Every test runs in its own temp dir and ends with uv_loop_close() == 0. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/ipc.h"
#include "tests/unit/testlib.h"

/* ---- the server under test ---------------------------------------------------------------- */

#define MAX_IDS 1024
#define MAX_SUBS 16

static struct {
    uv_loop_t loop;
    ipc_server *s;
    bool stopped;
    char dir[64];
    char path[160];
    int nlines;
    char last_line[300];
    unsigned line_ids[64]; /* client id of each of the first 64 lines */
    int ndisc;
    int disc[MAX_IDS];     /* on_disconnect calls per client id */
    int bad;               /* on_disconnect twice, or a line from a disconnected client */
    ipc_client *subs[MAX_SUBS];
    int nsubs;
    int send_fail;         /* ipc_send that returned -1 */
    int after_close_rc;    /* ipc_send right after ipc_client_close in "quit" */
    unsigned long long queued_bytes; /* bytes handed to ipc_send successfully */
    ipc_client *held;      /* "flood" held this client (as a session holds a turn's asker) */
    int drains;            /* on_drain calls */
    bool lagging_at_hold;  /* ipc_client_lagging said so when "flood" held it */
    bool caught_up_at_hold;
} T;

static int send_str(ipc_client *c, const char *s)
{
    size_t n = strlen(s);
    int rc = ipc_send(c, s, n);
    if (rc < 0)
        T.send_fail++;
    else
        T.queued_bytes += n;
    return rc;
}

static void drop_sub(ipc_client *c)
{
    for (int i = 0; i < T.nsubs; i++)
        if (T.subs[i] == c) {
            T.subs[i] = T.subs[--T.nsubs];
            return;
        }
}

static void t_on_line(ipc_client *c, const char *line, size_t len, void *ud)
{
    (void)ud;
    unsigned id = ipc_client_id(c);
    if (id < MAX_IDS && T.disc[id])
        T.bad++;
    if (T.nlines < 64)
        T.line_ids[T.nlines] = id;
    T.nlines++;
    size_t n = len < sizeof T.last_line - 1 ? len : sizeof T.last_line - 1;
    memcpy(T.last_line, line, n);
    T.last_line[n] = '\0';
    const char *cmd = T.last_line;

    if (strcmp(cmd, "sub") == 0) {
        if (T.nsubs < MAX_SUBS)
            T.subs[T.nsubs++] = c;
        send_str(c, "subbed\n");
    } else if (strncmp(cmd, "spam ", 5) == 0) { /* N lines of 4 KiB to every subscriber */
        int count = atoi(cmd + 5);
        char big[4096];
        memset(big, 'x', sizeof big);
        big[sizeof big - 1] = '\n';
        for (int k = 0; k < count; k++)
            for (int i = 0; i < T.nsubs; i++)
                if (ipc_send(T.subs[i], big, sizeof big) < 0) {
                    T.send_fail++;
                    drop_sub(T.subs[i]);
                    i--;
                } else {
                    T.queued_bytes += sizeof big;
                }
        send_str(c, "spammed\n");
    } else if (strcmp(cmd, "quit") == 0) {
        send_str(c, "bye\n");
        ipc_client_close(c, true);
        T.after_close_rc = ipc_send(c, "late\n", 5);
        ipc_client_close(c, true);  /* twice: harmless */
        ipc_client_close(c, false); /* and now cut the drain short: still one on_disconnect */
    } else if (strcmp(cmd, "kill") == 0) {
        ipc_client_close(c, false);
        T.after_close_rc = ipc_send(c, "late\n", 5);
    } else if (strcmp(cmd, "kill_sub") == 0) { /* closes another client from this one's handler */
        if (T.nsubs) {
            ipc_client *o = T.subs[0];
            drop_sub(o);
            ipc_client_close(o, false);
            T.after_close_rc = ipc_send(o, "late\n", 5);
        }
        send_str(c, "killed\n");
    } else if (strcmp(cmd, "stop") == 0) {
        send_str(c, "stopping\n");
        ipc_stop(T.s);
        T.stopped = true;
    } else if (strncmp(cmd, "big ", 4) == 0) {
        size_t sz = (size_t)atol(cmd + 4);
        char *b = malloc(sz + 1);
        memset(b, 'b', sz);
        b[sz] = '\n';
        if (ipc_send(c, b, sz + 1) < 0)
            T.send_fail++;
        free(b);
    } else if (strncmp(cmd, "burst ", 6) == 0) { /* N short numbered lines to this client */
        int count = atoi(cmd + 6);
        for (int k = 0; k < count; k++) {
            char b[32];
            snprintf(b, sizeof b, "line %d\n", k);
            send_str(c, b);
        }
    } else if (strcmp(cmd, "flood") == 0) {
        /* 4 KiB lines until the client lags, then hold it, as a session holds its asker */
        char big[4097];
        memset(big, 'f', sizeof big);
        big[4095] = '\n';
        big[4096] = '\0';
        for (int k = 0; k < 1000 && !ipc_client_lagging(c); k++)
            send_str(c, big);
        T.lagging_at_hold = ipc_client_lagging(c);
        T.caught_up_at_hold = ipc_client_caught_up(c);
        ipc_client_hold(c);
        T.held = c;
    } else if (strcmp(cmd, "nonl") == 0) {
        ipc_send(c, "no newline", 10);
    } else if (strcmp(cmd, "silent") == 0) {
        /* no reply */
    } else {
        char *r = malloc(len + 7);
        memcpy(r, "echo:", 5);
        memcpy(r + 5, line, len);
        r[len + 5] = '\n';
        r[len + 6] = '\0';
        send_str(c, r);
        free(r);
    }
}

static void t_on_disconnect(ipc_client *c, void *ud)
{
    (void)ud;
    unsigned id = ipc_client_id(c);
    if (id < MAX_IDS && T.disc[id]++)
        T.bad++;
    T.ndisc++;
    drop_sub(c);
    if (ipc_send(c, "x\n", 2) != -1) /* a disconnected client takes no output */
        T.bad++;
    if (T.held == c) { /* as a session does when its asker leaves */
        ipc_client_release(c);
        T.held = NULL;
    }
}

static void t_on_drain(ipc_client *c, void *ud)
{
    (void)ud;
    T.drains++;
    if (T.held != c || !ipc_client_caught_up(c))
        T.bad++;
    ipc_client_release(c);
    T.held = NULL;
}

static const ipc_handlers handlers = {t_on_line, t_on_disconnect, NULL, t_on_drain};

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb, (void)flag, (void)f;
    return remove(p);
}

/* A fresh loop and temp dir; the socket path is DIR/run/gliveD.sock (run/ does not exist). */
static void env_init(void)
{
    memset(&T, 0, sizeof T);
    T.after_close_rc = 42;
    uv_loop_init(&T.loop);
    snprintf(T.dir, sizeof T.dir, "/tmp/gl-ipc-test.XXXXXX");
    if (!mkdtemp(T.dir))
        abort();
    snprintf(T.path, sizeof T.path, "%s/run/gliveD.sock", T.dir);
}

static ipc_server *start(size_t max_line, size_t max_output, unsigned max_clients, gl_err *err)
{
    ipc_opts o = {.path = T.path, .max_line = max_line, .max_output = max_output,
                  .max_clients = max_clients};
    T.s = ipc_start(&T.loop, &o, &handlers, NULL, err);
    return T.s;
}

static void pump(void) { uv_run(&T.loop, UV_RUN_NOWAIT); }

static void nap(void)
{
    struct timespec ts = {0, 200 * 1000};
    nanosleep(&ts, NULL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Stops the server if still running, runs the loop until nothing is left, closes it. Returns
 * uv_loop_close()'s result. */
static int env_finish(void)
{
    if (T.s && !T.stopped)
        ipc_stop(T.s);
    T.stopped = true;
    uv_run(&T.loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&T.loop);
    nftw(T.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

static void fill_sa(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n >= sizeof sa->sun_path)
        abort();
    memcpy(sa->sun_path, path, n + 1);
}

/* ---- test clients ------------------------------------------------------------------------- */

typedef struct tcli {
    int fd;
    char *rx;
    size_t len, cap;
    bool eof;
} tcli;

static int cli_open(tcli *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa;
    fill_sa(&sa, path);
    if (connect(t->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(t->fd);
        t->fd = -1;
        return -1;
    }
    return 0;
}

static void cli_close(tcli *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    free(t->rx);
    t->rx = NULL;
}

/* Reads whatever is available. */
static size_t cli_fill(tcli *t)
{
    size_t got = 0;
    while (!t->eof) {
        if (t->cap - t->len < 65536) {
            t->cap = t->cap ? t->cap * 2 : 131072;
            t->rx = realloc(t->rx, t->cap);
        }
        ssize_t n = read(t->fd, t->rx + t->len, t->cap - t->len);
        if (n > 0) {
            t->len += (size_t)n;
            got += (size_t)n;
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            t->eof = true;
        } else if (errno == EAGAIN) {
            break;
        }
    }
    return got;
}

static int cli_send(tcli *t, const void *data, size_t n)
{
    const char *p = data;
    double end = now_ms() + 5000;
    while (n) {
        ssize_t w = write(t->fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (now_ms() > end)
            return -1;
        pump();
        cli_fill(t);
        nap();
    }
    pump();
    return 0;
}

static int cli_sends(tcli *t, const char *s) { return cli_send(t, s, strlen(s)); }

/* Next line (without '\n') copied into out (truncated to outsz-1). Returns its full length,
 * -2 at EOF, -1 on timeout. */
static long cli_line(tcli *t, char *out, size_t outsz, int ms)
{
    double end = now_ms() + ms;
    for (;;) {
        char *nl = t->len ? memchr(t->rx, '\n', t->len) : NULL;
        if (nl) {
            size_t l = (size_t)(nl - t->rx);
            size_t c = l < outsz - 1 ? l : outsz - 1;
            memcpy(out, t->rx, c);
            out[c] = '\0';
            memmove(t->rx, nl + 1, t->len - l - 1);
            t->len -= l + 1;
            return (long)l;
        }
        if (t->eof)
            return -2;
        if (now_ms() > end)
            return -1;
        pump();
        if (!cli_fill(t))
            nap();
    }
}

/* Reads until EOF; returns 0 at EOF, -1 on timeout. Data stays in rx. */
static int cli_wait_eof(tcli *t, int ms)
{
    double end = now_ms() + ms;
    while (!t->eof) {
        if (now_ms() > end)
            return -1;
        pump();
        if (!cli_fill(t))
            nap();
    }
    return 0;
}

static void pump_for(int ms)
{
    double end = now_ms() + ms;
    while (now_ms() < end) {
        pump();
        nap();
    }
}

#define PUMP_UNTIL(cond, ms)                                                                  \
    do {                                                                                       \
        double _end = now_ms() + (ms);                                                         \
        while (!(cond) && now_ms() < _end) {                                                   \
            pump();                                                                            \
            nap();                                                                             \
        }                                                                                      \
    } while (0)

/* ---- stderr capture (to check log lines) -------------------------------------------------- */

static int cap_saved = -1;
static char cap_path[96];

static void cap_begin(void)
{
    snprintf(cap_path, sizeof cap_path, "%s/stderr.log", T.dir);
    fflush(stderr);
    cap_saved = dup(2);
    int fd = open(cap_path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    dup2(fd, 2);
    close(fd);
}

static void cap_end(char *out, size_t n)
{
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    out[0] = '\0';
    int fd = open(cap_path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t r = read(fd, out, n - 1);
        out[r > 0 ? r : 0] = '\0';
        close(fd);
    }
    fputs(out, stderr); /* keep the log visible */
}

/* ---- tests -------------------------------------------------------------------------------- */

TEST(start_creates_dir_0700_and_socket_0600)
{
    env_init();
    mode_t old = umask(022);
    gl_err err = {0};
    CHECK(start(0, 0, 0, &err) != NULL);
    CHECK_INT(umask(old), 022); /* restored */
    struct stat st;
    char dir[200];
    snprintf(dir, sizeof dir, "%s/run", T.dir);
    CHECK_INT(stat(dir, &st), 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0700);
    CHECK_INT(lstat(T.path, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0600);
    ipc_stop(T.s);
    T.stopped = true;
    CHECK_INT(lstat(T.path, &st), -1); /* removed by ipc_stop */
    CHECK_INT(env_finish(), 0);
}

TEST(missing_grandparent_fails_clearly)
{
    env_init();
    snprintf(T.path, sizeof T.path, "%s/a/b/gliveD.sock", T.dir);
    gl_err err = {0};
    CHECK(start(0, 0, 0, &err) == NULL);
    CHECK_STR(err.code, "bad_path");
    CHECK_CONTAINS(err.msg, "/a/b");
    CHECK_CONTAINS(err.msg, "parent directory does not exist");
    char a[200];
    snprintf(a, sizeof a, "%s/a", T.dir);
    CHECK(access(a, F_OK) != 0); /* nothing created */
    CHECK_INT(env_finish(), 0);
}

TEST(path_too_long_fails)
{
    env_init();
    char p[300];
    memset(p, 'a', sizeof p - 1);
    p[0] = '/';
    p[sizeof p - 1] = '\0';
    ipc_opts o = {.path = p};
    gl_err err = {0};
    CHECK(ipc_start(&T.loop, &o, &handlers, NULL, &err) == NULL);
    CHECK_STR(err.code, "bad_path");
    CHECK_CONTAINS(err.msg, "too long");
    CHECK_INT(env_finish(), 0);
}

TEST(line_split_across_writes)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "{\"op\":"), 0);
    pump_for(20);
    CHECK_INT(T.nlines, 0);
    CHECK_INT(cli_sends(&a, "\"hello\""), 0);
    pump_for(20);
    CHECK_INT(T.nlines, 0);
    CHECK_INT(cli_sends(&a, "}\n"), 0);
    char line[512];
    CHECK_INT(cli_line(&a, line, sizeof line, 2000), 19);
    CHECK_STR(line, "echo:{\"op\":\"hello\"}");
    CHECK_INT(T.nlines, 1);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 1);
    CHECK_INT(T.bad, 0);
}

TEST(several_lines_in_one_write_in_order)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "one\n\n   \ntwo\n\t\nthree\n"), 0); /* blank lines skipped */
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:one");
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:two");
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:three");
    CHECK_INT(T.nlines, 3);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
}

TEST(crlf_accepted)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "crlf\r\nsplit\r"), 0);
    pump_for(10);
    CHECK_INT(cli_sends(&a, "\n"), 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:crlf");
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:split");
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
}

TEST(over_long_line_gets_line_too_long_and_next_line_works)
{
    env_init();
    gl_err err;
    CHECK(start(32, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    char line[512];
    /* Exactly 32 bytes (+ CRLF) is fine. */
    CHECK_INT(cli_sends(&a, "0123456789abcdef0123456789abcdef\r\n"), 0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:0123456789abcdef0123456789abcdef");
    /* 40 bytes in two writes: the error comes as soon as the limit is passed, before the '\n'. */
    CHECK_INT(cli_sends(&a, "{\"id\":7,\"op\":\"aaaaaaaaaa"), 0);
    pump_for(10);
    CHECK_INT(cli_sends(&a, "aaaaaaaaaaaaaa"), 0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"line_too_long\",\"message\":"
                    "\"request line longer than 32 bytes; discarded\"}}");
    CHECK_INT(cli_sends(&a, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                            "\"}\nnext\n"),
              0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:next"); /* the rest of the long line was dropped, not a second error */
    /* A long line and a good one in the same write. */
    char buf[200];
    memset(buf, 'z', 100);
    memcpy(buf + 100, "\nafter\n", 8);
    CHECK_INT(cli_sends(&a, buf), 0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_CONTAINS(line, "\"line_too_long\"");
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:after");
    CHECK_INT(T.nlines, 3);
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.lines_in, 3);
    CHECK_INT(st.lines_out, 5);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
}

TEST(final_unterminated_line_before_shut_wr)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "first\nlast"), 0);
    pump_for(10);
    CHECK_INT(T.nlines, 1);
    CHECK_INT(shutdown(a.fd, SHUT_WR), 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:first");
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:last"); /* flushed before the close */
    CHECK_INT(cli_line(&a, line, sizeof line, 2000), -2);
    PUMP_UNTIL(T.ndisc == 1, 2000);
    CHECK_INT(T.ndisc, 1);
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.clients, 0);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.bad, 0);
}

TEST(stale_socket_replaced)
{
    env_init();
    char run[200];
    snprintf(run, sizeof run, "%s/run", T.dir);
    CHECK_INT(mkdir(run, 0700), 0);
    /* A socket file nobody listens on, as a crashed daemon leaves it. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    fill_sa(&sa, T.path);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    struct stat st;
    CHECK_INT(lstat(T.path, &st), 0);
    CHECK(S_ISSOCK(st.st_mode));
    gl_err err = {0};
    CHECK(start(0, 0, 0, &err) != NULL);
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "alive\n"), 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:alive");
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
}

TEST(live_socket_refused_with_in_use)
{
    env_init();
    gl_err err = {0};
    CHECK(start(0, 0, 0, &err) != NULL);
    ipc_server *first = T.s;
    ipc_opts o = {.path = T.path};
    gl_err err2 = {0};
    CHECK(ipc_start(&T.loop, &o, &handlers, NULL, &err2) == NULL);
    CHECK_STR(err2.code, "in_use");
    char want[256];
    snprintf(want, sizeof want, "another gliveD is already listening on %s", T.path);
    CHECK_STR(err2.msg, want);
    /* The first one is untouched and still serves (its probe connection came and went). */
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "still\n"), 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:still");
    CHECK(T.s == first);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 2); /* the probe and a */
}

TEST(non_socket_at_path_refused_and_left_alone)
{
    env_init();
    char run[200];
    snprintf(run, sizeof run, "%s/run", T.dir);
    CHECK_INT(mkdir(run, 0700), 0);
    FILE *f = fopen(T.path, "w");
    CHECK(f != NULL);
    fputs("precious", f);
    fclose(f);
    gl_err err = {0};
    CHECK(start(0, 0, 0, &err) == NULL);
    CHECK_STR(err.code, "bad_path");
    CHECK_CONTAINS(err.msg, "is not a socket");
    char buf[32] = "";
    f = fopen(T.path, "r");
    CHECK(f != NULL);
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    CHECK_STR(buf, "precious");
    CHECK_INT(env_finish(), 0);
}

TEST(slow_reader_disconnected_others_keep_working)
{
    env_init();
    gl_err err;
    CHECK(start(0, 64 * 1024, 0, &err));
    tcli slow, fast;
    CHECK_INT(cli_open(&slow, T.path), 0);
    CHECK_INT(cli_open(&fast, T.path), 0);
    char line[512];
    CHECK_INT(cli_sends(&slow, "sub\n"), 0);
    CHECK(cli_line(&slow, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "subbed");
    cap_begin();
    /* The slow client never reads again; the fast one makes the server write to it. */
    int rounds = 0;
    while (T.ndisc == 0 && rounds < 400) {
        if (cli_sends(&fast, "spam 4\n") < 0 || cli_line(&fast, line, sizeof line, 2000) < 0)
            break;
        if (strcmp(line, "spammed") != 0)
            break;
        rounds++;
    }
    char log[8192];
    cap_end(log, sizeof log);
    CHECK_INT(T.ndisc, 1);
    CHECK_STR(line, "spammed");
    CHECK(T.send_fail >= 1);
    CHECK_CONTAINS(log, "is not reading:");
    CHECK_CONTAINS(log, "bytes pending; disconnecting");
    /* The other client carries on. */
    CHECK_INT(cli_sends(&fast, "ping\n"), 0);
    CHECK(cli_line(&fast, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:ping");
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.clients, 1);
    /* The slow side sees what the kernel held, then EOF; no more than max_output + buffers. */
    CHECK_INT(cli_wait_eof(&slow, 3000), 0);
    cli_close(&slow);
    cli_close(&fast);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 2);
    CHECK_INT(T.bad, 0);
}

/* Flow control (ipc.h "Holding"): with max_output 256 KiB the marks are 64 KiB and 16 KiB. */
TEST(a_held_client_that_reads_catches_up_and_its_holder_is_told_once)
{
    env_init();
    gl_err err;
    CHECK(start(0, 256 * 1024, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "flood\n"), 0);
    PUMP_UNTIL(T.held, 2000);
    CHECK(T.held != NULL);
    CHECK(T.lagging_at_hold);
    CHECK(!T.caught_up_at_hold);
    CHECK_INT(T.send_fail, 0); /* lagging comes long before the cut */
    CHECK_INT(T.drains, 0);
    /* it reads: every byte arrives, and once it has caught up its holder hears of it */
    size_t want = (size_t)T.queued_bytes;
    double end = now_ms() + 5000;
    while (a.len < want && now_ms() < end) {
        pump();
        if (!cli_fill(&a))
            nap();
    }
    CHECK_INT(a.len, want);
    PUMP_UNTIL(T.drains, 2000);
    CHECK_INT(T.drains, 1);
    CHECK(T.held == NULL);
    pump_for(50);
    CHECK_INT(T.drains, 1); /* released: not told again */
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.bad, 0);
}

TEST(a_held_client_that_reads_nothing_is_cut_after_the_sender_timeout)
{
    env_init();
    gl_err err;
    ipc_opts o = {.path = T.path, .max_output = 256 * 1024, .sender_timeout_ms = 300};
    CHECK((T.s = ipc_start(&T.loop, &o, &handlers, NULL, &err)) != NULL);
    tcli a, b;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_open(&b, T.path), 0);
    char line[512];
    CHECK_INT(cli_sends(&b, "hi\n"), 0); /* b is not held: it may stay quiet for ever */
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    cap_begin();
    CHECK_INT(cli_sends(&a, "flood\n"), 0);
    PUMP_UNTIL(T.held, 2000);
    CHECK(T.held != NULL);
    double t0 = now_ms();
    PUMP_UNTIL(T.ndisc, 5000);
    double took = now_ms() - t0;
    char log[8192];
    cap_end(log, sizeof log);
    CHECK_INT(T.ndisc, 1);
    CHECK(took >= 250); /* not before its time (the timer ticks every 100 ms) */
    CHECK_CONTAINS(log, "has read nothing for");
    CHECK_CONTAINS(log, "--sender-timeout");
    CHECK(T.held == NULL); /* released in on_disconnect */
    CHECK_INT(T.drains, 0);
    CHECK_INT(cli_sends(&b, "still\n"), 0);
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:still");
    cli_close(&a);
    cli_close(&b);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.bad, 0);
}

TEST(big_reply_is_delivered_whole)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "big 3000000\nping\n"), 0);
    char *big = malloc(3000001);
    CHECK_INT(cli_line(&a, big, 3000001, 5000), 3000000);
    size_t bad = 0;
    for (size_t i = 0; i < 3000000; i++)
        bad += big[i] != 'b';
    free(big);
    CHECK_INT(bad, 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:ping"); /* order kept across the queued write */
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.bytes_out, 3000001 + 10);
    CHECK_INT(st.lines_out, 2);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
}

TEST(stats_and_client_accessors)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a, b;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_open(&b, T.path), 0);
    const char *msg = "abc\ndef\n";
    CHECK_INT(cli_sends(&a, msg), 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_INT(cli_sends(&b, "x\n"), 0);
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.clients, 2);
    CHECK_INT(st.bytes_in, 8 + 2);
    CHECK_INT(st.lines_in, 3);
    CHECK_INT(st.lines_out, 3);
    CHECK_INT(st.bytes_out, 9 + 9 + 7);
    CHECK(T.line_ids[0] != 0 && T.line_ids[0] == T.line_ids[1]);
    CHECK(T.line_ids[2] != T.line_ids[0]);
    cli_close(&a);
    cli_close(&b);
    CHECK_INT(env_finish(), 0);
}

/* uid/pid come from SO_PEERCRED: checked through a handler that records them. */
static uid_t seen_uid;
static pid_t seen_pid;
static void *seen_data;
static void rec_line(ipc_client *c, const char *line, size_t len, void *ud)
{
    (void)line, (void)len, (void)ud;
    seen_uid = ipc_client_uid(c);
    seen_pid = ipc_client_pid(c);
    ipc_client_set_data(c, &seen_uid);
    seen_data = ipc_client_data(c);
    ipc_send(c, "ok\n", 3);
}
static void rec_disc(ipc_client *c, void *ud)
{
    (void)ud;
    if (ipc_client_data(c) == &seen_uid)
        seen_data = NULL;
}

TEST(peer_credentials)
{
    env_init();
    ipc_handlers h = {rec_line, rec_disc, NULL, NULL};
    ipc_opts o = {.path = T.path};
    gl_err err;
    T.s = ipc_start(&T.loop, &o, &h, NULL, &err);
    CHECK(T.s);
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "who\n"), 0);
    char line[64];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_INT(seen_uid, geteuid());
    CHECK_INT(seen_pid, getpid());
    CHECK(seen_data == &seen_uid);
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
    CHECK(seen_data == NULL); /* on_disconnect still saw its data */
}

TEST(close_from_own_handler)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a, b;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_open(&b, T.path), 0);
    /* quit: reply, close with flush (then at once), lines after it in the same write ignored */
    CHECK_INT(cli_sends(&a, "quit\nignored\n"), 0);
    char line[512];
    CHECK_INT(cli_wait_eof(&a, 2000), 0);
    CHECK_INT(cli_line(&a, line, sizeof line, 10), 3);
    CHECK_STR(line, "bye");
    CHECK_INT(cli_line(&a, line, sizeof line, 10), -2);
    CHECK_INT(T.after_close_rc, -1);
    PUMP_UNTIL(T.ndisc == 1, 2000);
    CHECK_INT(T.ndisc, 1);
    CHECK_INT(T.nlines, 1);
    /* kill: close at once from inside on_line */
    T.after_close_rc = 42;
    CHECK_INT(cli_sends(&b, "kill\nignored\n"), 0);
    CHECK_INT(cli_wait_eof(&b, 2000), 0);
    CHECK_INT(cli_line(&b, line, sizeof line, 10), -2);
    CHECK_INT(T.after_close_rc, -1);
    PUMP_UNTIL(T.ndisc == 2, 2000);
    CHECK_INT(T.ndisc, 2);
    CHECK_INT(T.nlines, 2);
    cli_close(&a);
    cli_close(&b);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 2);
    CHECK_INT(T.bad, 0);
}

TEST(close_other_client_from_handler)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a, b;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_open(&b, T.path), 0);
    char line[512];
    CHECK_INT(cli_sends(&a, "sub\n"), 0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    /* b's handler closes a and then writes to it */
    CHECK_INT(cli_sends(&b, "kill_sub\nspam 2\n"), 0);
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "killed");
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "spammed");
    CHECK_INT(T.after_close_rc, -1);
    CHECK_INT(cli_wait_eof(&a, 2000), 0);
    PUMP_UNTIL(T.ndisc == 1, 2000);
    CHECK_INT(T.ndisc, 1);
    cli_close(&a);
    cli_close(&b);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.bad, 0);
}

TEST(missing_newline_is_added)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_sends(&a, "nonl\nping\n"), 0);
    char line[512];
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "no newline");
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:ping");
    cli_close(&a);
    CHECK_INT(env_finish(), 0);
}

TEST(max_clients_extra_connection_closed)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 2, &err));
    tcli a, b, c;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_open(&b, T.path), 0);
    char line[512];
    CHECK_INT(cli_sends(&a, "a\n"), 0);
    CHECK(cli_line(&a, line, sizeof line, 2000) > 0);
    CHECK_INT(cli_sends(&b, "b\n"), 0);
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    cap_begin();
    CHECK_INT(cli_open(&c, T.path), 0);
    cli_send(&c, "c\n", 2); /* may fail: the server closes it */
    int eof = cli_wait_eof(&c, 2000);
    char log[4096];
    cap_end(log, sizeof log);
    CHECK_INT(eof, 0);
    CHECK(c.rx != NULL);
    static char got[512];
    snprintf(got, sizeof got, "%.*s", (int)c.len, c.rx);
    CHECK_CONTAINS(got, "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"refused\",\"message\":"
                          "\"gliveD has 2 clients already (--max-clients); try again later\"}}\n");
    CHECK_CONTAINS(log, "too many clients (2)");
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.clients, 2);
    CHECK_INT(T.nlines, 2);
    /* Once one leaves, a new one gets in. */
    cli_close(&a);
    PUMP_UNTIL(T.ndisc == 1, 2000);
    tcli d;
    CHECK_INT(cli_open(&d, T.path), 0);
    CHECK_INT(cli_sends(&d, "d\n"), 0);
    CHECK(cli_line(&d, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:d");
    cli_close(&b);
    cli_close(&c);
    cli_close(&d);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 3); /* a, b, d: never the rejected one */
}

TEST(stop_flushes_removes_socket_and_disconnects_all)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli cl[3];
    for (int i = 0; i < 3; i++)
        CHECK_INT(cli_open(&cl[i], T.path), 0);
    CHECK_INT(cli_sends(&cl[0], "r0\n"), 0);
    CHECK_INT(cli_sends(&cl[1], "big 500000\n"), 0); /* more than the socket holds: queued */
    PUMP_UNTIL(T.nlines == 2, 2000);
    CHECK_INT(T.nlines, 2);
    ipc_stop(T.s);
    T.stopped = true;
    struct stat st;
    CHECK_INT(lstat(T.path, &st), -1);
    CHECK_INT(errno, ENOENT);
    tcli late;
    CHECK_INT(cli_open(&late, T.path), -1); /* no longer accepting */
    /* Everything pending is delivered, then EOF. */
    for (int i = 0; i < 3; i++)
        CHECK_INT(cli_wait_eof(&cl[i], 3000), 0);
    char line[512];
    CHECK_INT(cli_line(&cl[0], line, sizeof line, 10), 7);
    CHECK_STR(line, "echo:r0");
    CHECK_INT(cli_line(&cl[1], line, sizeof line, 10), 500000);
    CHECK_INT(cli_line(&cl[2], line, sizeof line, 10), -2);
    for (int i = 0; i < 3; i++)
        cli_close(&cl[i]);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 3);
    CHECK_INT(T.bad, 0);
}

TEST(stop_is_bounded_when_a_client_does_not_read)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err)); /* 16 MiB output bound: the stuck client is not cut early */
    tcli stuck, other;
    CHECK_INT(cli_open(&stuck, T.path), 0);
    CHECK_INT(cli_open(&other, T.path), 0);
    char line[512];
    CHECK_INT(cli_sends(&stuck, "sub\n"), 0);
    CHECK(cli_line(&stuck, line, sizeof line, 2000) > 0);
    for (int i = 0; i < 10; i++) { /* 10 x 50 x 4 KiB = 2 MB, far beyond the socket buffers */
        CHECK_INT(cli_sends(&other, "spam 50\n"), 0);
        CHECK(cli_line(&other, line, sizeof line, 2000) > 0);
    }
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK(st.bytes_out < T.queued_bytes); /* output is stuck in the daemon */
    CHECK_INT(T.ndisc, 0);
    double t0 = now_ms();
    CHECK_INT(env_finish(), 0); /* ipc_stop + run until no handles */
    double dt = now_ms() - t0;
    CHECK(dt >= 800 && dt < 3000);
    CHECK_INT(T.ndisc, 2);
    cli_close(&stuck);
    cli_close(&other);
}

TEST(stop_from_inside_on_line)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    tcli a, b;
    CHECK_INT(cli_open(&a, T.path), 0);
    CHECK_INT(cli_open(&b, T.path), 0);
    CHECK_INT(cli_sends(&b, "hi\n"), 0);
    char line[512];
    CHECK(cli_line(&b, line, sizeof line, 2000) > 0);
    CHECK_INT(cli_sends(&a, "stop\nignored\n"), 0);
    CHECK_INT(cli_wait_eof(&a, 3000), 0);
    CHECK_INT(cli_wait_eof(&b, 3000), 0);
    CHECK_INT(cli_line(&a, line, sizeof line, 10), 8);
    CHECK_STR(line, "stopping");
    CHECK_INT(access(T.path, F_OK), -1);
    cli_close(&a);
    cli_close(&b);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 2);
    CHECK_INT(T.nlines, 2);
    CHECK_INT(T.bad, 0);
}

TEST(many_clients_churn)
{
    env_init();
    gl_err err;
    CHECK(start(64, 0, 0, &err));
    char line[512];
    int accepted = 0;
    for (int round = 0; round < 5; round++) {
        tcli cl[20];
        for (int i = 0; i < 20; i++)
            CHECK_INT(cli_open(&cl[i], T.path), 0);
        for (int i = 0; i < 20; i++) {
            switch (i % 5) {
            case 0: cli_sends(&cl[i], "hello\n"); break;
            case 1: cli_sends(&cl[i], "kill\n"); break;
            case 2: cli_sends(&cl[i], "quit\n"); break;
            case 3: cli_sends(&cl[i], "partial line, then gone"); break;
            case 4: break; /* silent */
            }
        }
        pump_for(20);
        CHECK(cli_line(&cl[0], line, sizeof line, 2000) > 0);
        for (int i = 0; i < 20; i++)
            cli_close(&cl[i]); /* some with unread replies */
        accepted += 20;
        PUMP_UNTIL(T.ndisc == accepted, 3000);
        CHECK_INT(T.ndisc, accepted);
    }
    ipc_stats st;
    ipc_get_stats(T.s, &st);
    CHECK_INT(st.clients, 0);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.bad, 0);
}

TEST(foreign_uid_rejected)
{
    if (geteuid() != 0) {
        fprintf(stderr, "foreign_uid_rejected: not root, only the own-uid path is tested\n");
        return;
    }
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    /* Let uid 65534 reach the socket at all (the daemon's own modes would stop it earlier). */
    char run[200];
    snprintf(run, sizeof run, "%s/run", T.dir);
    CHECK_INT(chmod(T.dir, 0755), 0);
    CHECK_INT(chmod(run, 0755), 0);
    CHECK_INT(chmod(T.path, 0666), 0);
    cap_begin();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa;
        fill_sa(&sa, T.path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(4);
        struct timeval tv = {3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)!write(fd, "hello\n", 6);
        char b[512] = {0};
        size_t got = 0;
        ssize_t n;
        while (got < sizeof b - 1 && (n = read(fd, b + got, sizeof b - 1 - got)) > 0)
            got += (size_t)n;
        /* One error line saying why (it may be cut by ECONNRESET: our line went unread), no reply. */
        _exit(strstr(b, "\"code\":\"refused\"") && strstr(b, "you are uid 65534") ? 0 : got ? 5 : 6);
    }
    CHECK(pid > 0);
    int status = -1;
    double end = now_ms() + 5000;
    while (waitpid(pid, &status, WNOHANG) == 0 && now_ms() < end) {
        pump();
        nap();
    }
    char log[4096];
    cap_end(log, sizeof log);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    CHECK_CONTAINS(log, "rejected a connection from uid 65534");
    CHECK_INT(T.nlines, 0);
    CHECK_INT(T.ndisc, 0);
    CHECK_INT(env_finish(), 0);
}

TEST(stop_with_no_clients_and_double_stop)
{
    env_init();
    gl_err err;
    CHECK(start(0, 0, 0, &err));
    ipc_stop(T.s);
    ipc_stop(T.s); /* s is still alive until the loop runs: a second stop is a no-op */
    T.stopped = true;
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.ndisc, 0);
}

/* ---- who may connect (daemon/access.h) ----------------------------------------------------- */

static ipc_server *start_with(const gld_peer_policy *p, bool inherited, int fd, gl_err *err)
{
    ipc_opts o = {.path = T.path, .policy = p, .inherited = inherited, .fd = fd};
    T.s = ipc_start(&T.loop, &o, &handlers, NULL, err);
    return T.s;
}

/* A child with these credentials connects (the kernel records them at connect: SO_PEERCRED,
 * SO_PEERGROUPS) and says hello. Its exit status: 0 served (echo), 1 refused (the line names
 * its uid), 4 the file permissions kept it out, else something else went wrong. */
static int connect_as(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(ngroups, groups) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(3);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa;
        fill_sa(&sa, T.path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            _exit(errno == EACCES ? 4 : 5);
        struct timeval tv = {3, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        (void)!write(fd, "hello\n", 6);
        char b[512] = {0}, want[64];
        size_t got = 0;
        ssize_t n;
        while (got < sizeof b - 1 && !strchr(b, '\n') && (n = read(fd, b + got, sizeof b - 1 - got)) > 0)
            got += (size_t)n;
        snprintf(want, sizeof want, "you are uid %u", (unsigned)uid);
        if (strncmp(b, "echo:hello\n", 11) == 0)
            _exit(0);
        _exit(strstr(b, "\"code\":\"refused\"") && strstr(b, want) ? 1 : 6);
    }
    int status = -1;
    double end = now_ms() + 5000;
    while (waitpid(pid, &status, WNOHANG) == 0 && now_ms() < end) {
        pump();
        nap();
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(socket_group_gets_mode_0660_and_its_members_by_any_of_their_groups)
{
    if (geteuid() != 0) {
        fprintf(stderr, "socket_group...: not root, skipped (needs chown and other uids)\n");
        return;
    }
    env_init();
    CHECK_INT(chmod(T.dir, 0755), 0); /* the temp dir itself: not what is tested */
    gld_peer_policy p = {.self = 0, .has_group = true, .group = 4242, .group_name = "g4242"};
    gl_err err;
    CHECK(start_with(&p, false, -1, &err));
    struct stat st;
    CHECK_INT(stat(T.path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0660);
    CHECK_INT(st.st_gid, 4242);
    char run[200];
    snprintf(run, sizeof run, "%s/run", T.dir);
    CHECK_INT(stat(run, &st), 0); /* the directory gliveD made lets the group through */
    CHECK_INT(st.st_mode & 07777, 0750);
    CHECK_INT(st.st_gid, 4242);
    gid_t g = 4242;
    CHECK_INT(connect_as(65534, 65534, &g, 1), 0); /* a supplementary group (SO_PEERGROUPS) */
    CHECK_INT(connect_as(65533, 4242, NULL, 0), 0); /* the primary group (SO_PEERCRED) */
    CHECK_INT(connect_as(65534, 65534, NULL, 0), 4); /* neither: the file keeps it out */
    CHECK_INT(T.nlines, 2);
    CHECK_INT(env_finish(), 0);
}

TEST(allow_lists_open_the_socket_and_the_check_admits_exactly_them)
{
    if (geteuid() != 0) {
        fprintf(stderr, "allow_lists...: not root, skipped (needs other uids)\n");
        return;
    }
    env_init();
    CHECK_INT(chmod(T.dir, 0755), 0);
    gld_peer_policy p = {.self = 0, .nuids = 1, .uids = {65533}, .ngids = 1, .gids = {4343}};
    gl_err err;
    CHECK(start_with(&p, false, -1, &err));
    struct stat st;
    CHECK_INT(stat(T.path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0666); /* the check below is the gate */
    gid_t g = 4343;
    CHECK_INT(connect_as(65533, 65533, NULL, 0), 0);  /* --allow-uid */
    CHECK_INT(connect_as(65534, 65534, &g, 1), 0);    /* --allow-group, supplementary */
    char log[4096];
    cap_begin();
    int refused = connect_as(65534, 65534, NULL, 0);  /* neither */
    cap_end(log, sizeof log);
    CHECK_INT(refused, 1);
    CHECK_CONTAINS(log, "rejected a connection from uid 65534");
    CHECK_CONTAINS(log, "--allow-uid/--allow-group");
    CHECK_INT(T.nlines, 2);
    CHECK_INT(env_finish(), 0);
}

TEST(an_inherited_socket_is_served_as_it_is_and_never_unlinked)
{
    env_init();
    char run[200];
    snprintf(run, sizeof run, "%s/run", T.dir);
    CHECK_INT(mkdir(run, 0755), 0);
    /* what systemd does for gliveD.socket: bind, chmod (SocketMode= defaults to 0666), listen */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    fill_sa(&sa, T.path);
    CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    CHECK_INT(chmod(T.path, 0666), 0);
    CHECK_INT(listen(fd, 8), 0);
    gld_peer_policy p = {.self = geteuid()};
    gl_err err;
    char log[4096];
    cap_begin();
    ipc_opts o = {.path = "/elsewhere/gliveD.sock", .policy = &p, .inherited = true, .fd = fd};
    T.s = ipc_start(&T.loop, &o, &handlers, NULL, &err);
    cap_end(log, sizeof log);
    CHECK(T.s);
    CHECK_STR(ipc_path(T.s), T.path); /* the socket's own name, not the hint */
    CHECK_CONTAINS(log, "is mode 0666: any local user can connect");
    CHECK_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC); /* no child inherits it */
    struct stat st;
    CHECK_INT(stat(T.path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0666); /* not gliveD's to change */
    tcli c;
    CHECK_INT(cli_open(&c, T.path), 0);
    CHECK_INT(cli_sends(&c, "hi\n"), 0);
    char line[64];
    CHECK_INT(cli_line(&c, line, sizeof line, 2000), 7);
    CHECK_STR(line, "echo:hi");
    cli_close(&c);
    ipc_stop(T.s);
    T.stopped = true;
    uv_run(&T.loop, UV_RUN_DEFAULT);
    CHECK_INT(lstat(T.path, &st), 0); /* still there: the socket unit keeps listening */
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_INT(env_finish(), 0);
}

TEST(an_inherited_fd_that_is_not_a_listening_unix_socket_is_refused)
{
    env_init();
    int sv[2];
    CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    gl_err err;
    CHECK(start_with(NULL, true, sv[0], &err) == NULL);
    CHECK_STR(err.code, "bad_socket");
    CHECK_CONTAINS(err.msg, "not a listening Unix stream socket");
    close(sv[0]);
    close(sv[1]);
    CHECK_INT(env_finish(), 0);
}

/* Lines sent in one loop iteration go out in one write, in order; a line sent from a timer (not
 * from an I/O callback) goes out before the loop blocks again. */
static ipc_client *TIMER_TO;
static void on_send_timer(uv_timer_t *t)
{
    (void)t;
    send_str(TIMER_TO, "from a timer\n");
}

static void t_on_line_keep(ipc_client *c, const char *line, size_t len, void *ud)
{
    TIMER_TO = c;
    t_on_line(c, line, len, ud);
}

TEST(lines_of_one_iteration_are_one_write)
{
    env_init();
    gl_err err;
    static const ipc_handlers h = {t_on_line_keep, t_on_disconnect, NULL, NULL};
    ipc_opts o = {.path = T.path};
    T.s = ipc_start(&T.loop, &o, &h, NULL, &err);
    CHECK(T.s != NULL);
    tcli c;
    CHECK_INT(cli_open(&c, T.path), 0);
    char line[512];
    CHECK_INT(cli_sends(&c, "ping\n"), 0);
    CHECK(cli_line(&c, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "echo:ping");
    ipc_stats st0, st1;
    ipc_get_stats(T.s, &st0);
    CHECK_INT(cli_sends(&c, "burst 300\n"), 0);
    for (int k = 0; k < 300; k++) {
        char want[32];
        snprintf(want, sizeof want, "line %d", k);
        CHECK(cli_line(&c, line, sizeof line, 2000) > 0);
        CHECK_STR(line, want);
    }
    ipc_get_stats(T.s, &st1);
    CHECK_INT(st1.lines_out - st0.lines_out, 300);
    CHECK_INT(st1.writes - st0.writes, 1);
    /* a batch is written once it reaches 64 KiB: 3000 lines of ~10 bytes, a few writes */
    CHECK_INT(cli_sends(&c, "burst 9000\n"), 0);
    for (int k = 0; k < 9000; k++) {
        char want[32];
        snprintf(want, sizeof want, "line %d", k);
        CHECK(cli_line(&c, line, sizeof line, 2000) > 0);
        if (strcmp(line, want) != 0)
            GL_FAILF("line %d: %s", k, line);
    }
    ipc_get_stats(T.s, &st0);
    CHECK(st0.writes - st1.writes >= 2 && st0.writes - st1.writes <= 6);
    /* from a timer callback */
    uv_timer_t tm;
    uv_timer_init(&T.loop, &tm);
    uv_timer_start(&tm, on_send_timer, 1, 0);
    CHECK(cli_line(&c, line, sizeof line, 2000) > 0);
    CHECK_STR(line, "from a timer");
    uv_close((uv_handle_t *)&tm, NULL);
    cli_close(&c);
    CHECK_INT(env_finish(), 0);
    CHECK_INT(T.bad, 0);
}
