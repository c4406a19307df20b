/* Unit tests of daemon/sandbox.c with real processes: bwrap and python3 run the code. Every run
 * also checks that the job leaves nothing behind: on_done exactly once, the loop closes (every
 * handle closed), no zombie, no fd more than before, no process of the run still alive. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "daemon/sandbox.h"
#include "tests/unit/testlib.h"

#define MAXC 8

typedef struct run {
    /* what the test sets (run_init gives defaults) */
    gld_sandbox_opts o;
    const char *answers[MAXC]; /* JSON answer to call i+1; NULL: {"result":"ok"} */
    unsigned answer_delay_ms;  /* 0: answer from inside on_call */
    bool cancel_on_call;       /* cancel from inside on_call instead of answering */
    unsigned cancel_after_ms;  /* cancel from a timer */
    bool answer_checks;        /* try wrong answers first (answer_rc[0..3]) */
    const char *marker;        /* count processes with this in their command line at on_call */
    /* what happened */
    int done;
    gld_sandbox_result r;
    char *output;
    unsigned ncalls;
    char *names[MAXC], *args[MAXC];
    unsigned call_no[MAXC];
    uint64_t call_ms[MAXC];
    int answer_rc[4];
    int answer_after_cancel;
    int marker_at_call;
    unsigned ticks; /* of a 10 ms timer on the same loop while the code ran */
    gld_sandbox_job *job;
    gl_err err;
    int loop_close, zombies, leftover, fds_before, fds_after;
    /* internal */
    uv_loop_t loop;
    uv_timer_t tick, later;
    unsigned pending;
} run;

/* ---- the environment ----------------------------------------------------------------------- */

static bool have(const char *path) { return access(path, X_OK) == 0; }

/* Renames the current test to "name (skipped: why)" for the harness's PASS line. */
static void mark_skipped(const char *why)
{
    static char names[256][160];
    for (int i = 0; i < gl_ntests; i++)
        if (gl_tests[i].name == gl_tests_current) {
            snprintf(names[i], sizeof names[i], "%s (skipped: %s)", gl_tests[i].name, why);
            gl_tests[i].name = names[i];
        }
}
#define NEED_BWRAP()                                                           \
    do { if (!have("/usr/bin/bwrap")) { mark_skipped("no bwrap"); return; }   \
         if (!have("/usr/bin/python3")) { mark_skipped("no python3"); return; } } while (0)
#define NEED_PYTHON()                                                          \
    do { if (!have("/usr/bin/python3")) { mark_skipped("no python3"); return; } } while (0)

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", "..", and the directory's own fd */
}

/* Live processes whose command line (NUL-separated arguments) contains needle[0..len). */
static int count_procs(const char *needle, size_t len)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || atoi(e->d_name) == getpid())
            continue;
        char path[300], buf[16384];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t got = read(fd, buf, sizeof buf);
        close(fd);
        if (got > 0 && memmem(buf, (size_t)got, needle, len))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* Processes of this test's runs: their command line holds "gliveD-sandbox\0PID." (the tag). */
static int count_runs_alive(void)
{
    char needle[64];
    int len = snprintf(needle, sizeof needle, "gliveD-sandbox%c%ld.", 0, (long)getpid());
    return count_procs(needle, (size_t)len);
}

/* Killed processes take a moment to vanish from /proc: waits up to 2 s for none. */
static int settle(int (*count)(void))
{
    int n = count();
    for (int i = 0; i < 100 && n; i++) {
        usleep(20000);
        n = count();
    }
    return n;
}

static const char *marker_now;
static int count_marker(void) { return count_procs(marker_now, strlen(marker_now)); }

/* ---- running code -------------------------------------------------------------------------- */

static void run_init(run *t, gld_sandbox_mode mode)
{
    memset(t, 0, sizeof *t);
    gld_sandbox_opts_init(&t->o);
    t->o.mode = mode;
    t->o.timeout_ms = 10000;
}

static void run_free(run *t)
{
    free(t->output);
    for (unsigned i = 0; i < MAXC; i++) {
        free(t->names[i]);
        free(t->args[i]);
    }
}

static void on_tick(uv_timer_t *h) { ((run *)h->data)->ticks++; }

static void answer(run *t, unsigned n)
{
    const char *text = n >= 1 && n <= MAXC && t->answers[n - 1] ? t->answers[n - 1]
                                                                 : "{\"result\":\"ok\"}";
    json_t *v = json_loads(text, 0, NULL);
    if (gld_sandbox_answer(t->job, n, v, &t->err) != 0)
        fprintf(stderr, "answer %u: %s\n", n, t->err.msg);
    json_decref(v);
}

static void on_later(uv_timer_t *h)
{
    run *t = h->data;
    if (t->cancel_after_ms) {
        gld_sandbox_cancel(t->job);
    } else {
        answer(t, t->pending);
    }
}

static void on_call(gld_sandbox_job *job, void *ud, unsigned n, const char *name, json_t *args)
{
    run *t = ud;
    t->job = job;
    unsigned i = t->ncalls++;
    if (i < MAXC) {
        t->names[i] = strdup(name);
        t->args[i] = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
        t->call_no[i] = n;
        uv_update_time(&t->loop);
        t->call_ms[i] = uv_now(&t->loop);
    }
    if (t->marker) {
        marker_now = t->marker;
        t->marker_at_call = count_marker();
    }
    if (t->cancel_on_call) {
        gld_sandbox_cancel(job);
        gld_sandbox_cancel(job); /* twice: still one on_done */
        json_t *v = json_pack("{s:s}", "result", "late");
        t->answer_after_cancel = gld_sandbox_answer(job, n, v, NULL);
        json_decref(v);
        return;
    }
    if (t->answer_checks) {
        json_t *ok = json_pack("{s:b}", "ok", 1), *arr = json_array();
        t->answer_rc[0] = gld_sandbox_answer(job, n + 1, ok, NULL); /* no such call */
        t->answer_rc[1] = gld_sandbox_answer(job, n, arr, NULL);    /* not an object */
        t->answer_rc[2] = gld_sandbox_answer(job, n, ok, NULL);
        t->answer_rc[3] = gld_sandbox_answer(job, n, ok, NULL);     /* answered already */
        json_decref(ok);
        json_decref(arr);
        return;
    }
    if (t->answer_delay_ms) {
        t->pending = n;
        uv_timer_start(&t->later, on_later, t->answer_delay_ms, 0);
        return;
    }
    answer(t, n);
}

static void on_done(gld_sandbox_job *job, void *ud, const gld_sandbox_result *r)
{
    run *t = ud;
    (void)job;
    if (t->done++)
        return;
    t->r = *r;
    t->output = malloc(r->output_len + 1);
    memcpy(t->output, r->output, r->output_len + 1);
    t->r.output = t->output;
    if (getenv("GLD_SBX_DEBUG")) /* GLD_SBX_DEBUG=1 build/tests/test_sandbox: each outcome */
        fprintf(stderr, "[%s] %s %llu ms, %u ticks, exit %d, signal %d: %.300s\n",
                gl_tests_current, gld_outcome_name(r->outcome), (unsigned long long)r->elapsed_ms,
                t->ticks, r->exit_status, r->term_signal, r->output);
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_close((uv_handle_t *)&t->later, NULL);
}

/* Runs code to its end on a loop of its own, then checks for leftovers. */
static void run_code(run *t, const char *code)
{
    static bool warm;
    if (!warm) { /* libuv's process-wide signal pipe, created once, is not a leak */
        uv_loop_t l;
        uv_loop_init(&l);
        uv_loop_close(&l);
        warm = true;
    }
    signal(SIGPIPE, SIG_IGN); /* as gliveD's main does */
    t->fds_before = count_fds();
    uv_loop_init(&t->loop);
    uv_timer_init(&t->loop, &t->tick);
    uv_timer_init(&t->loop, &t->later);
    t->tick.data = t->later.data = t;
    uv_timer_start(&t->tick, on_tick, 10, 10);
    gld_sandbox_cbs cbs = {.on_call = on_call, .on_done = on_done};
    t->job = gld_sandbox_run(&t->loop, &t->o, code, &cbs, t, &t->err);
    if (!t->job) {
        uv_close((uv_handle_t *)&t->tick, NULL);
        uv_close((uv_handle_t *)&t->later, NULL);
    } else if (t->cancel_after_ms) {
        uv_timer_start(&t->later, on_later, t->cancel_after_ms, 0);
    }
    uv_run(&t->loop, UV_RUN_DEFAULT);
    t->loop_close = uv_loop_close(&t->loop);
    errno = 0;
    t->zombies = waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD ? 0 : 1;
    t->leftover = settle(count_runs_alive);
    t->fds_after = count_fds();
}

#define CHECK_CLEAN(t)                                                         \
    do {                                                                       \
        CHECK_INT((t)->done, 1);                                               \
        CHECK_INT((t)->loop_close, 0);                                         \
        CHECK_INT((t)->zombies, 0);                                            \
        CHECK_INT((t)->leftover, 0);                                           \
        CHECK_INT((t)->fds_after, (t)->fds_before);                            \
    } while (0)

/* ---- plain code ---------------------------------------------------------------------------- */

TEST(print_ok_exact_output)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "print('hello')\nprint(6 * 7)\n");
    CHECK_CLEAN(&t);
    CHECK_STR(gld_outcome_name(t.r.outcome), "OUTCOME_OK");
    CHECK_STR(t.output, "hello\n42\n");
    CHECK_INT(t.r.output_len, 9);
    CHECK_INT(t.r.exit_status, 0);
    CHECK_INT(t.r.calls, 0);
    run_free(&t);
}

TEST(exception_fails_with_traceback)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "print('before')\ndef f():\n    raise ValueError('boom')\nf()\n");
    CHECK_CLEAN(&t);
    CHECK_STR(gld_outcome_name(t.r.outcome), "OUTCOME_FAILED");
    CHECK(strncmp(t.output, "before\nTraceback (most recent call last):\n", 42) == 0);
    CHECK_CONTAINS(t.output, "File \"<code>\", line 3, in f\n    raise ValueError('boom')");
    CHECK_CONTAINS(t.output, "ValueError: boom\n");
    /* the code's frames only */
    CHECK(!strstr(t.output, "prelude") && !strstr(t.output, "<string>"));
    CHECK(!strstr(t.output, "[exit status")); /* the traceback says it */
    CHECK_INT(t.r.exit_status, 1);
    run_free(&t);
}

TEST(syntax_error_fails)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "print('a'\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_CONTAINS(t.output, "File \"<code>\", line 1");
    CHECK_CONTAINS(t.output, "SyntaxError: '(' was never closed");
    run_free(&t);
}

TEST(exit_status_is_noted)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "import sys\nprint('bye')\nsys.exit(3)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "bye\n[exit status 3]");
    CHECK_INT(t.r.exit_status, 3);
    run_free(&t);
}

/* ---- isolation ----------------------------------------------------------------------------- */

TEST(network_is_unreachable)
{
    NEED_BWRAP();
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    CHECK(ls >= 0);
    CHECK_INT(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_INT(listen(ls, 8), 0);
    CHECK_INT(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    char code[512];
    snprintf(code, sizeof code,
             "import socket\n"
             "try:\n"
             "    socket.create_connection(('127.0.0.1', %d), timeout=2)\n"
             "    print('connected')\n"
             "except OSError as e:\n"
             "    print('blocked:', e.strerror)\n"
             "try:\n" /* an address outside: there is no route at all */
             "    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
             "except OSError as e:\n"
             "    print('blocked:', e.strerror)\n"
             "print(socket.gethostname())\n",
             ntohs(a.sin_port));
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, code);
    int acc = accept(ls, NULL, NULL), acc_errno = errno;
    close(ls);
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    /* the namespace has its own loopback, where nothing listens */
    CHECK_STR(t.output, "blocked: Connection refused\nblocked: Network is unreachable\nsandbox\n");
    CHECK(acc < 0 && (acc_errno == EAGAIN || acc_errno == EWOULDBLOCK)); /* nothing came */
    run_free(&t);
}

TEST(writes_outside_the_tmpfs_fail)
{
    NEED_BWRAP();
    CHECK(access("/tmp/gld-sbx-w", F_OK) != 0 && access("/usr/gld-sbx-w", F_OK) != 0);
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "import os\n"
                 "for p in ['/usr/gld-sbx-w', '/etc/gld-sbx-w', '/gld-sbx-w', '/dev/gld-sbx-w',\n"
                 "          '/dev/shm/gld-sbx-w', '/proc/gld-sbx-w', '/tmp/gld-sbx-w', 'here']:\n"
                 "    try:\n"
                 "        with open(p, 'w') as f:\n"
                 "            f.write('x')\n"
                 "        print(p, 'written')\n"
                 "    except OSError:\n"
                 "        print(p, 'denied')\n"
                 "print(os.getcwd(), os.environ['HOME'])\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "/usr/gld-sbx-w denied\n/etc/gld-sbx-w denied\n/gld-sbx-w denied\n"
                        "/dev/gld-sbx-w denied\n/dev/shm/gld-sbx-w denied\n"
                        "/proc/gld-sbx-w denied\n/tmp/gld-sbx-w written\nhere written\n"
                        "/tmp /tmp\n");
    /* the writable /tmp was private: nothing reached the host's */
    CHECK(access("/tmp/gld-sbx-w", F_OK) != 0 && access("/usr/gld-sbx-w", F_OK) != 0);
    run_free(&t);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    fclose(f);
    return chmod(path, 0644);
}

TEST(secrets_stay_hidden)
{
    NEED_BWRAP();
    /* Stand-ins for the state dir, a home with a key file and the socket dir, readable by the
     * uid the code runs as: only the sandbox hides them. */
    char root[] = "/tmp/gld-sbx-secrets-XXXXXX", p[4][256];
    CHECK(mkdtemp(root) != NULL);
    chmod(root, 0755);
    snprintf(p[0], sizeof p[0], "%s/state", root);
    snprintf(p[1], sizeof p[1], "%s/home", root);
    mkdir(p[0], 0755);
    mkdir(p[1], 0755);
    snprintf(p[0], sizeof p[0], "%s/state/sessions.json", root);
    snprintf(p[1], sizeof p[1], "%s/home/gemini-api-key", root);
    snprintf(p[2], sizeof p[2], "%s/gliveD.sock", root);
    CHECK_INT(write_file(p[0], "SECRET-state"), 0);
    CHECK_INT(write_file(p[1], "SECRET-key"), 0);
    CHECK_INT(write_file(p[2], "SECRET-socket"), 0);
    /* an inheritable fd above the child's 0-4 (which libuv's dup2 would overwrite anyway):
     * the code must not get it */
    int leak0 = open(p[1], O_RDONLY), leak = fcntl(leak0, F_DUPFD, 100);
    close(leak0);
    CHECK(leak >= 100);
    setenv("GEMINI_API_KEY", "SECRET-env", 1);
    char code[2048];
    snprintf(code, sizeof code,
             "import os\n"
             "for p in ['%s', '%s', '%s', '%s', '/root', '/home', '/run', '/var']:\n"
             "    try:\n"
             "        print(os.listdir(p) if os.path.isdir(p) else open(p).read())\n"
             "    except OSError as e:\n"
             "        print('hidden:', e.strerror)\n"
             "print(sorted(os.environ))\n"
             "print(sorted(int(f) for f in os.listdir('/proc/self/fd')))\n",
             root, p[0], p[1], p[2]);
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, code);
    unsetenv("GEMINI_API_KEY");
    close(leak);
    unlink(p[0]);
    unlink(p[1]);
    unlink(p[2]);
    snprintf(p[0], sizeof p[0], "%s/state", root);
    snprintf(p[1], sizeof p[1], "%s/home", root);
    rmdir(p[0]);
    rmdir(p[1]);
    rmdir(root);
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK(!strstr(t.output, "SECRET"));
    const char *hidden = "hidden: No such file or directory\n";
    char want[1024] = "";
    for (int i = 0; i < 8; i++)
        strcat(want, hidden);
    /* PWD: bwrap sets it after --chdir; 5: listdir's own fd */
    strcat(want, "['HOME', 'LANG', 'PATH', 'PWD']\n[0, 1, 2, 3, 4, 5]\n");
    CHECK_STR(t.output, want);
    run_free(&t);
}

/* ---- limits -------------------------------------------------------------------------------- */

TEST(fork_bomb_is_stopped)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_procs = 32;
    t.o.timeout_ms = 1500;
    /* every process forks forever; each says once that the kernel refused */
    run_code(&t, "import os\n"
                 "said = False\n"
                 "while True:\n"
                 "    try:\n"
                 "        os.fork()\n"
                 "    except OSError as e:\n"
                 "        if not said:\n"
                 "            print('refused:', e.strerror)\n"
                 "            said = True\n");
    CHECK_CLEAN(&t); /* no process of the bomb left */
    CHECK(t.r.outcome == GLD_OUTCOME_DEADLINE_EXCEEDED || t.r.outcome == GLD_OUTCOME_FAILED);
    CHECK_CONTAINS(t.output, "refused: Resource temporarily unavailable\n");
    CHECK(t.r.elapsed_ms < 5000);
    CHECK(t.ticks >= 20); /* the daemon's loop kept running: ~150 expected */
    run_free(&t);
}

TEST(memory_bomb_is_stopped)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.mem_bytes = 128UL << 20;
    run_code(&t, "a = []\nwhile True:\n    a.append(bytearray(1 << 20))\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_CONTAINS(t.output, "MemoryError");
    CHECK(t.r.elapsed_ms < 5000);
    run_free(&t);
}

TEST(endless_loop_hits_the_deadline)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.timeout_ms = 1000;
    run_code(&t, "print('started')\nwhile True:\n    pass\n");
    CHECK_CLEAN(&t);
    CHECK_STR(gld_outcome_name(t.r.outcome), "OUTCOME_DEADLINE_EXCEEDED");
    CHECK_STR(t.output, "started\n[stopped: still running at the time limit of 1 s]");
    CHECK(t.r.elapsed_ms >= 1000 && t.r.elapsed_ms < 3000);
    CHECK(t.ticks >= 20);
    run_free(&t);
}

TEST(cpu_limit_stops_the_code)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.cpu_s = 1;
    run_code(&t, "while True:\n    pass\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_INT(t.r.term_signal, SIGXCPU);
    CHECK_STR(t.output, "[stopped: CPU time limit of 1 s exceeded]");
    CHECK(t.r.elapsed_ms < 5000);
    run_free(&t);
}

TEST(file_limits_hold)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_file_bytes = 1 << 20;
    t.o.tmpfs_bytes = 3 << 20;
    t.o.max_files = 32;
    run_code(&t, "def attempt(what, f):\n"
                 "    try:\n"
                 "        f()\n"
                 "        print(what, 'fits')\n"
                 "    except OSError as e:\n"
                 "        print(what, e.strerror)\n"
                 "def fill():\n"
                 "    for i in range(8):\n"
                 "        with open('f%d' % i, 'wb') as f:\n"
                 "            f.write(b'x' * 1000000)\n"
                 "attempt('big file:', lambda: open('big', 'wb').write(b'x' * (2 << 20)))\n"
                 "attempt('full tmpfs:', fill)\n"
                 "attempt('many files:', lambda: [open('/dev/null') for i in range(64)])\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "big file: File too large\nfull tmpfs: No space left on device\n"
                        "many files: Too many open files\n");
    run_free(&t);
}

TEST(output_is_cut_at_the_cap)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "import sys\nsys.stdout.write('x' * (10 << 20))\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    const char *note = "\n[output cut at 65536 bytes]";
    CHECK_INT(t.r.output_len, 65536 + strlen(note));
    CHECK_INT(strspn(t.output, "x"), 65536);
    CHECK_STR(t.output + 65536, note);
    run_free(&t);
}

TEST(traceback_survives_a_cut)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.output_cap = 4096;
    run_code(&t, "print('é' * 5000)\nraise KeyError('late')\n"); /* 2-byte characters */
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_CONTAINS(t.output, "\n[output cut at ");
    CHECK_CONTAINS(t.output, "KeyError: 'late'\n");
    const char *cut = strstr(t.output, "\n[output cut at ");
    CHECK(cut && (cut - t.output) % 2 == 0); /* whole characters only */
    CHECK(t.r.output_len < 4096 + 64);
    run_free(&t);
}

/* ---- default_api --------------------------------------------------------------------------- */

TEST(call_answered_with_a_dict)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.answers[0] = "{\"result\":\"ok\",\"brightness\":3}";
    run_code(&t, "r = default_api.lights_on(room='kitchen', level=3)\n"
                 "print(r)\nprint(type(r).__name__)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "{'result': 'ok', 'brightness': 3}\ndict\n");
    CHECK_INT(t.ncalls, 1);
    CHECK_INT(t.call_no[0], 1);
    CHECK_STR(t.names[0], "lights_on");
    CHECK_STR(t.args[0], "{\"level\":3,\"room\":\"kitchen\"}");
    CHECK_INT(t.r.calls, 1);
    run_free(&t);
}

TEST(two_calls_in_order)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.answers[0] = "{\"v\":\"A\"}";
    t.answers[1] = "{\"v\":\"B\"}";
    t.answer_delay_ms = 50; /* answered later, from a timer */
    run_code(&t, "import default_api as api\n"
                 "a = api.first(n=1)\nb = default_api.second(n=2)\nprint(a['v'], b['v'])\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "A B\n");
    CHECK_INT(t.ncalls, 2);
    CHECK_STR(t.names[0], "first");
    CHECK_STR(t.names[1], "second");
    CHECK_INT(t.call_no[0], 1);
    CHECK_INT(t.call_no[1], 2);
    CHECK_STR(t.args[1], "{\"n\":2}");
    CHECK(t.call_ms[1] >= t.call_ms[0] + 50);
    run_free(&t);
}

TEST(call_answered_with_an_error)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.answers[0] = "{\"error\":\"device offline\"}";
    run_code(&t, "r = default_api.lights_on()\nprint(r['error'])\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK); /* an error response is data, not an exception */
    CHECK_STR(t.output, "device offline\n");
    CHECK_STR(t.args[0], "{}");
    run_free(&t);
}

TEST(sleep_between_calls_really_waits)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "import time\n"
                 "default_api.lights(on=True)\ntime.sleep(1)\ndefault_api.lights(on=False)\n"
                 "print('done')\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "done\n");
    CHECK_INT(t.ncalls, 2);
    CHECK_STR(t.args[0], "{\"on\":true}");
    CHECK_STR(t.args[1], "{\"on\":false}");
    CHECK(t.call_ms[1] - t.call_ms[0] >= 1000);
    CHECK(t.ticks >= 50); /* the loop ran while the code slept */
    run_free(&t);
}

TEST(answer_checks_the_call)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.answer_checks = true;
    run_code(&t, "print(default_api.f())\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.answer_rc[0], -1);
    CHECK_INT(t.answer_rc[1], -1);
    CHECK_INT(t.answer_rc[2], 0);
    CHECK_INT(t.answer_rc[3], -1);
    CHECK_STR(t.output, "{'ok': True}\n");
    run_free(&t);
}

TEST(too_many_calls_get_an_error)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_calls = 2;
    run_code(&t, "for i in range(3):\n    print(default_api.f(i=i))\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "{'result': 'ok'}\n{'result': 'ok'}\n"
                        "{'error': 'too many function calls: at most 2 per run'}\n");
    CHECK_INT(t.ncalls, 2);
    CHECK_INT(t.r.calls, 3);
    run_free(&t);
}

TEST(calls_long_past_the_limit_stop_the_run)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_calls = 2;
    run_code(&t, "while True:\n    default_api.f()\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "[stopped: the code kept calling functions past the limit of 2 calls]");
    CHECK_INT(t.ncalls, 2);
    CHECK_INT(t.r.calls, 13); /* 2 answered, 10 refused, then stopped */
    run_free(&t);
}

TEST(calls_without_reading_answers_stop_the_run)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_calls = 1000000;
    t.o.max_line = 4096;
    /* well-formed calls in sequence, as fast as possible, never reading fd 4 */
    run_code(&t, "import os, time\n"
                 "for k in range(0, 200000, 1000):\n"
                 "    os.write(3, b''.join(b'{\"call\":%d,\"name\":\"f\",\"args\":{}}\\n' % i\n"
                 "                         for i in range(k + 1, k + 1001)))\n"
                 "time.sleep(5)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "[stopped: the code does not read the answers to its function calls]");
    /* the kernel's socket buffer took a few hundred answers, the queue one line's worth */
    CHECK(t.r.calls > 100 && t.r.calls < 200000);
    CHECK(t.r.elapsed_ms < 4000);
    run_free(&t);
}

TEST(printing_cannot_fake_a_call)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "import sys\nprint('{\"call\":1,\"name\":\"evil\",\"args\":{}}')\n"
                 "print('{\"call\":1,\"name\":\"evil\",\"args\":{}}', file=sys.stderr)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_INT(t.ncalls, 0);
    CHECK_STR(t.output, "{\"call\":1,\"name\":\"evil\",\"args\":{}}\n"
                        "{\"call\":1,\"name\":\"evil\",\"args\":{}}\n");
    run_free(&t);
}

TEST(endless_call_line_is_refused)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_line = 4096;
    run_code(&t, "import os, time\nos.write(3, b'x' * 100000)\ntime.sleep(5)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "[stopped: a function call line longer than 4096 bytes]");
    CHECK(t.r.elapsed_ms < 3000);
    CHECK_INT(t.ncalls, 0);
    run_free(&t);
}

TEST(garbage_call_line_is_refused)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "import os, time\nos.write(3, b'not json\\n')\ntime.sleep(5)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "[stopped: a malformed function call from the code]");
    CHECK(t.r.elapsed_ms < 3000);
    run_free(&t);
}

TEST(oversized_arguments_raise_in_the_code)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.max_line = 4096;
    run_code(&t, "try:\n    default_api.f(s='x' * 5000)\nexcept ValueError as e:\n"
                 "    print(e)\ntry:\n    default_api.f(x=object())\nexcept TypeError as e:\n"
                 "    print(e)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output,
              "default_api.f: the arguments take 5038 bytes, more than 4096\n"
              "default_api.f: arguments must be JSON values: object is not a JSON value\n");
    CHECK_INT(t.ncalls, 0);
    run_free(&t);
}

/* ---- cancel -------------------------------------------------------------------------------- */

TEST(cancel_kills_the_tree_from_on_call)
{
    NEED_BWRAP();
    char marker[64], code[512];
    snprintf(marker, sizeof marker, "gld-sbx-marker-%ld", (long)getpid());
    snprintf(code, sizeof code,
             "import subprocess, sys, time\n"
             "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', '%s'])\n"
             "time.sleep(0.2)\n"
             "default_api.ready()\n"
             "time.sleep(30)\n",
             marker);
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.cancel_on_call = true;
    t.marker = marker;
    run_code(&t, code);
    marker_now = marker;
    int left = settle(count_marker);
    CHECK_CLEAN(&t);
    CHECK_INT(t.marker_at_call, 1); /* the grandchild was there */
    CHECK_INT(left, 0);             /* and is gone */
    CHECK_INT(t.answer_after_cancel, -1);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "[cancelled]");
    CHECK(t.r.elapsed_ms < 5000);
    run_free(&t);
}

TEST(cancel_from_a_timer)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.cancel_after_ms = 300;
    run_code(&t, "import time\nprint('waiting')\ntime.sleep(30)\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_FAILED);
    CHECK_STR(t.output, "waiting\n[cancelled]");
    CHECK(t.r.elapsed_ms >= 300 && t.r.elapsed_ms < 3000);
    run_free(&t);
}

/* ---- NONE mode, start and probe ------------------------------------------------------------ */

TEST(none_mode_runs_with_rlimits)
{
    NEED_PYTHON();
    run t;
    run_init(&t, GLD_SANDBOX_NONE);
    t.o.cpu_s = 7;
    t.o.mem_bytes = 256UL << 20;
    t.o.max_procs = 4000;
    t.o.max_file_bytes = 1000000;
    t.o.max_files = 64;
    run_code(&t, "import os, resource as R\n"
                 "for r in (R.RLIMIT_CPU, R.RLIMIT_AS, R.RLIMIT_NPROC, R.RLIMIT_FSIZE,\n"
                 "          R.RLIMIT_NOFILE, R.RLIMIT_CORE):\n"
                 "    print(R.getrlimit(r))\n"
                 "try:\n    bytearray(512 << 20)\nexcept MemoryError:\n    print('MemoryError')\n"
                 "print(os.getuid(), os.getcwd(), os.environ['HOME'], sorted(os.environ))\n"
                 "print(default_api.f(x=1))\n");
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    char want[512];
    snprintf(want, sizeof want,
             "(7, 8)\n(268435456, 268435456)\n(4000, 4000)\n(1000000, 1000000)\n(64, 64)\n"
             "(0, 0)\nMemoryError\n%u /tmp /tmp ['HOME', 'LANG', 'PATH']\n{'result': 'ok'}\n",
             geteuid() == 0 ? GLD_SANDBOX_UID : (unsigned)geteuid());
    CHECK_STR(t.output, want);
    run_free(&t);
}

TEST(start_failure_returns_an_error)
{
    run t;
    run_init(&t, GLD_SANDBOX_NONE);
    t.o.python = "/nonexistent/python3";
    run_code(&t, "print(1)\n");
    CHECK(t.job == NULL);
    CHECK_INT(t.done, 0); /* no callback for a run that never started */
    CHECK_STR(t.err.msg, "cannot start /nonexistent/python3 in /tmp: no such file or directory");
    CHECK_INT(t.loop_close, 0);
    CHECK_INT(t.fds_after, t.fds_before);
    CHECK_INT(t.zombies, 0);
    run_free(&t);
}

TEST(long_code_runs)
{
    NEED_BWRAP();
    size_t n = GLD_SANDBOX_MAX_CODE - 64; /* far more than a pipe holds at once */
    char *code = malloc(n + 1);
    memset(code, '#', n);
    strcpy(code + n - 40, "\nprint('long code ran')\n");
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, code);
    free(code);
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "long code ran\n");
    run_free(&t);
}

TEST(too_long_code_is_refused)
{
    gld_sandbox_opts o;
    gld_sandbox_opts_init(&o);
    size_t n = GLD_SANDBOX_MAX_CODE + 1;
    char *code = malloc(n + 1);
    memset(code, '#', n);
    code[n] = '\0';
    gl_err e;
    gld_sandbox_cbs cbs = {.on_done = on_done};
    uv_loop_t loop;
    uv_loop_init(&loop);
    CHECK(gld_sandbox_run(&loop, &o, code, &cbs, NULL, &e) == NULL);
    free(code);
    CHECK_STR(e.code, "too_large");
    CHECK_INT(uv_loop_close(&loop), 0);
}

TEST(probe_reports_ok_here)
{
    NEED_BWRAP();
    gld_sandbox_opts o;
    gld_sandbox_opts_init(&o);
    gl_err e = {{0}, {0}};
    int rc = gld_sandbox_probe(&o, &e);
    if (rc != 0)
        GL_FAILF("probe: %s", e.msg);
    o.mode = GLD_SANDBOX_NONE;
    CHECK_INT(gld_sandbox_probe(&o, &e), 0);
    CHECK_INT(settle(count_runs_alive), 0);
}

TEST(probe_failure_is_clear_and_sticks)
{
    NEED_BWRAP();
    char dir[] = "/tmp/gld-sbx-fake-XXXXXX", fake[128];
    CHECK(mkdtemp(dir) != NULL);
    chmod(dir, 0755); /* the probe runs it as the sandbox's uid */
    snprintf(fake, sizeof fake, "%s/bwrap", dir);
    CHECK_INT(write_file(fake, "#!/bin/sh\necho 'bwrap: No permissions to create new namespace, "
                               "likely because the kernel does not allow non-privileged user "
                               "namespaces.' >&2\nexit 1\n"), 0);
    chmod(fake, 0755);
    gld_sandbox_opts o;
    gld_sandbox_opts_init(&o);
    o.bwrap = fake;
    gl_err e = {{0}, {0}};
    int rc = gld_sandbox_probe(&o, &e);
    unlink(fake);
    rmdir(dir);
    CHECK_INT(rc, -1);
    CHECK_CONTAINS(e.msg, "bwrap cannot sandbox code here: bwrap: No permissions to create new "
                          "namespace");

    /* while that verdict stands, BWRAP runs fail with it; NONE runs still work */
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "print(1)\n");
    CHECK(t.job == NULL);
    CHECK_STR(t.err.msg, e.msg);
    run_init(&t, GLD_SANDBOX_NONE);
    run_code(&t, "print(1)\n");
    CHECK_STR(t.output, "1\n");
    run_free(&t);

    o.bwrap = "/nonexistent/bwrap";
    CHECK_INT(gld_sandbox_probe(&o, &e), -1);
    CHECK_CONTAINS(e.msg, "/nonexistent/bwrap: No such file or directory (install bubblewrap");

    o.bwrap = "/usr/bin/bwrap"; /* a good probe lifts the verdict */
    CHECK_INT(gld_sandbox_probe(&o, &e), 0);
    run_init(&t, GLD_SANDBOX_BWRAP);
    run_code(&t, "print(2)\n");
    CHECK_CLEAN(&t);
    CHECK_STR(t.output, "2\n");
    run_free(&t);
}

/* ---- the SERVICE profile (under gliveD.service's hardening) --------------------------------- */

/* What the code may do about namespaces and what it sees, one line each. */
static const char NS_PROBE[] =
    "import ctypes, os, socket, threading\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "for name, flag in (('user', 0x10000000), ('net', 0x40000000), ('mnt', 0x20000)):\n"
    "    rc = libc.unshare(flag)\n"
    "    print(name, 'ns:', 'made' if rc == 0 else os.strerror(ctypes.get_errno()))\n"
    "t = threading.Thread(target=lambda: print('thread ran')); t.start(); t.join()\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os._exit(7)\n"
    "print('child exit', os.waitpid(pid, 0)[1] >> 8)\n"
    "print('proc:', os.path.exists('/proc/self'))\n"
    "print('host:', socket.gethostname())\n";

TEST(service_profile_runs_code_without_proc_or_nested_namespaces)
{
    NEED_BWRAP();
    char host[256] = "", want[1024];
    gethostname(host, sizeof host);
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.profile = GLD_BWRAP_SERVICE;
    run_code(&t, NS_PROBE);
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    /* the seccomp filter refuses user namespaces; without one, no capability for the others;
     * threads (clone3 refused, glibc falls back to clone) and fork work */
    snprintf(want, sizeof want, "user ns: Operation not permitted\nnet ns: Operation not permitted\n"
             "mnt ns: Operation not permitted\nthread ran\nchild exit 7\nproc: False\nhost: %s\n", host);
    CHECK_STR(t.output, want);
    run_free(&t);
}

TEST(full_profile_refuses_nested_namespaces_too)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.profile = GLD_BWRAP_FULL;
    run_code(&t, NS_PROBE);
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "user ns: No space left on device\nnet ns: Operation not permitted\n"
                        "mnt ns: Operation not permitted\nthread ran\nchild exit 7\nproc: True\n"
                        "host: sandbox\n");
    run_free(&t);
}

TEST(service_profile_keeps_network_files_and_fds_as_full)
{
    NEED_BWRAP();
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.profile = GLD_BWRAP_SERVICE;
    run_code(&t, "import os, socket\n"
                 "try:\n"
                 "    socket.create_connection(('192.0.2.1', 80), timeout=2)\n"
                 "except OSError as e:\n"
                 "    print('blocked:', e.strerror)\n"
                 "for p in ['/usr/x', '/etc/x', '/x', '/tmp/x']:\n"
                 "    try:\n"
                 "        with open(p, 'w') as f:\n"
                 "            f.write('x')\n"
                 "        print(p, 'written')\n"
                 "    except OSError:\n"
                 "        print(p, 'denied')\n"
                 "def is_open(fd):\n" /* no /proc/self/fd to list: ask each one */
                 "    try:\n"
                 "        os.fstat(fd)\n"
                 "        return True\n"
                 "    except OSError:\n"
                 "        return False\n"
                 "print(sorted(os.environ), [fd for fd in range(64) if is_open(fd)])\n");
    CHECK_CLEAN(&t);
    CHECK_STR(t.output, "blocked: Operation not permitted\n/usr/x denied\n/etc/x denied\n/x denied\n"
                        "/tmp/x written\n['HOME', 'LANG', 'PATH', 'PWD'] [0, 1, 2, 3, 4]\n");
    run_free(&t);
}

/* No network namespace of its own there (it would cost the unit RestrictNamespaces=net and
 * AF_NETLINK): the seccomp filter refuses every socket instead, Unix ones included (abstract
 * names are the host network namespace's), and io_uring, which can open sockets by itself. */
TEST(service_profile_refuses_every_socket_and_io_uring)
{
    NEED_BWRAP();
    /* an abstract socket of the host's network namespace, listening: the code must not reach it */
    int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "glivetest-%d", (int)getpid());
    socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
    CHECK(ls >= 0);
    CHECK_INT(bind(ls, (struct sockaddr *)&a, al), 0);
    CHECK_INT(listen(ls, 8), 0);
    char code[1024];
    snprintf(code, sizeof code,
             "import ctypes, os, socket\n"
             "for fam in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK):\n"
             "    try:\n"
             "        socket.socket(fam, socket.SOCK_DGRAM if fam == socket.AF_NETLINK else\n"
             "                      socket.SOCK_STREAM).close()\n"
             "        print(fam.name, 'made')\n"
             "    except OSError as e:\n"
             "        print(fam.name, e.strerror)\n"
             "try:\n"
             "    s = socket.socket(socket.AF_UNIX)\n"
             "    s.connect('\\0glivetest-%d')\n"
             "    print('abstract: connected')\n"
             "except OSError as e:\n"
             "    print('abstract:', e.strerror)\n"
             "a, b = socket.socketpair()\n"
             "a.send(b'x')\n"
             "print('socketpair:', b.recv(1))\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "params = ctypes.create_string_buffer(120)\n"
             "rc = libc.syscall(425, 4, params)\n"
             "print('io_uring:', 'made' if rc >= 0 else os.strerror(ctypes.get_errno()))\n",
             (int)getpid());
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP);
    t.o.profile = GLD_BWRAP_SERVICE;
    run_code(&t, code);
    int acc = accept(ls, NULL, NULL), acc_errno = errno;
    close(ls);
    CHECK_CLEAN(&t);
    CHECK_INT(t.r.outcome, GLD_OUTCOME_OK);
    CHECK_STR(t.output, "AF_UNIX Operation not permitted\nAF_INET Operation not permitted\n"
                        "AF_INET6 Operation not permitted\nAF_NETLINK Operation not permitted\n"
                        "abstract: Operation not permitted\nsocketpair: b'x'\n"
                        "io_uring: Function not implemented\n");
    CHECK(acc < 0 && (acc_errno == EAGAIN || acc_errno == EWOULDBLOCK)); /* nothing came */
    run_free(&t);
}

/* In a child: a mount namespace like gliveD.service's (ProtectKernelTunables= lays a read-only
 * /proc/sys over /proc), then the AUTO probe. Exit 0: it chose SERVICE, said why not FULL, and
 * a run works there. */
static int probe_under_protected_proc(void)
{
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("/proc/sys", "/proc/sys", NULL, MS_BIND, NULL) != 0 ||
        mount(NULL, "/proc/sys", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) != 0)
        return 10;
    gld_sandbox_opts o;
    gld_sandbox_opts_init(&o);
    gl_err e = {{0}, {0}};
    if (gld_sandbox_probe(&o, &e) != 0)
        return 11;
    const char *why = NULL;
    if (gld_sandbox_profile(&why) != GLD_BWRAP_SERVICE)
        return 12;
    if (!strstr(why, "Can't mount proc"))
        return 13;
    run t;
    run_init(&t, GLD_SANDBOX_BWRAP); /* AUTO: the probe's choice */
    run_code(&t, "import os\nprint(os.path.exists('/proc/self'))\n");
    int rc = t.output && strcmp(t.output, "False\n") == 0 ? 0 : 14;
    run_free(&t);
    return rc;
}

TEST(probe_picks_service_where_a_fresh_proc_cannot_be_mounted)
{
    NEED_BWRAP();
    if (geteuid() != 0) {
        mark_skipped("needs root for a mount namespace");
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        _exit(probe_under_protected_proc());
    int status = -1;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
    /* here, FULL works: the probe picks it */
    gld_sandbox_opts o;
    gld_sandbox_opts_init(&o);
    gl_err e = {{0}, {0}};
    CHECK_INT(gld_sandbox_probe(&o, &e), 0);
    const char *why = NULL;
    CHECK_INT(gld_sandbox_profile(&why), GLD_BWRAP_FULL);
    CHECK_STR(why, "");
}
