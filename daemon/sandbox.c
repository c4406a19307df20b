/* run_python's sandbox: see sandbox.h. One job = one child (bwrap, or python in NONE mode) with
 * five pipes (0 code in, 1 stdout, 2 stderr, 3 calls out, 4 answers in) and one timer (the wall
 * clock, then the grace period after the exit). The job ends once the child is reaped and its
 * output pipes are at EOF; it then closes every handle and, in the last close callback, calls
 * on_done and frees itself, so the owner never sees a half-closed job. */
#include "daemon/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xalloc.h"

/* After the child exits, how long pipes still held by a straggler (NONE mode: a grandchild that
 * left the process group) may keep the job open. In bwrap mode the PID namespace is gone then. */
#define GRACE_MS 1000
#define PROBE_TIMEOUT_MS 10000
#define NHANDLES 7 /* proc, 5 pipes, timer */
/* Calls past max_calls get an error answer; this many more, and the code is not listening. */
#define EXTRA_CALLS 10

/* The interpreter's program, sent ahead of the code on stdin (Python, kept here so the build has
 * no hidden dependency). */
static const char PRELUDE[] =
    "# gliveD's run_python prelude, run by the -c program inside the sandbox: it takes the\n"
    "# code (the rest of stdin), closes inherited fds but 0-4, sets the limits, defines\n"
    "# default_api (the session's functions, through fds 3 and 4), then runs the code.\n"
    "# argv: gliveD-sandbox TAG CPU_S MEM NPROC FSIZE NOFILE MAX_LINE (0: that limit is not set)\n"
    "def _gliveD_prelude():\n"
    "    import json, linecache, os, re, resource as R, sys, threading, traceback, types\n"
    "\n"
    "    cpu, mem, nproc, fsize, nofile, max_line = (int(a) for a in sys.argv[3:9])\n"
    "    del sys.argv[1:]\n"
    "    try:\n"
    "        fds = [int(f) for f in os.listdir('/proc/self/fd')]\n"
    "    except OSError:  # no /proc (the SERVICE profile): close_range does it in one call\n"
    "        fds = []\n"
    "        os.closerange(5, R.getrlimit(R.RLIMIT_NOFILE)[0])\n"
    "    for fd in fds:\n"
    "        if fd > 4:\n"
    "            try:\n"
    "                os.close(fd)\n"
    "            except OSError:\n"
    "                pass\n"
    "    src = sys.stdin.buffer.read().decode('utf-8', 'replace')\n"
    "    null = os.open(os.devnull, os.O_RDONLY)\n"
    "    os.dup2(null, 0)\n"
    "    os.close(null)\n"
    "    os.set_inheritable(3, False)  # the code's subprocesses do not get the bridge\n"
    "    os.set_inheritable(4, False)\n"
    "\n"
    "    def limit(res, soft, hard=None):\n"
    "        if soft <= 0:\n"
    "            return\n"
    "        hard = soft if hard is None else hard\n"
    "        cur = R.getrlimit(res)[1]\n"
    "        if cur != R.RLIM_INFINITY:\n"
    "            soft, hard = min(soft, cur), min(hard, cur)\n"
    "        R.setrlimit(res, (soft, hard))\n"
    "    R.setrlimit(R.RLIMIT_CORE, (0, 0))\n"
    "    limit(R.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the limit, SIGKILL a second later\n"
    "    limit(R.RLIMIT_AS, mem)\n"
    "    limit(R.RLIMIT_NPROC, nproc)\n"
    "    limit(R.RLIMIT_FSIZE, fsize)\n"
    "    limit(R.RLIMIT_NOFILE, nofile)\n"
    "    sys.stdout.reconfigure(line_buffering=True)  # what was printed survives a kill\n"
    "\n"
    "    lock = threading.Lock()\n"
    "    answers = os.fdopen(4, 'rb')\n"
    "    seq = [0]\n"
    "\n"
    "    def plain(v):\n"
    "        if hasattr(v, 'tolist'):\n"
    "            return v.tolist()\n"
    "        if isinstance(v, (set, frozenset)):\n"
    "            return list(v)\n"
    "        raise TypeError(type(v).__name__ + ' is not a JSON value')\n"
    "\n"
    "    def call(name, args):\n"
    "        with lock:\n"
    "            try:\n"
    "                req = json.dumps({'call': seq[0] + 1, 'name': name, 'args': args},\n"
    "                                 separators=(',', ':'), allow_nan=False, default=plain)\n"
    "            except (TypeError, ValueError) as e:\n"
    "                raise TypeError('default_api.%s: arguments must be JSON values: %s'\n"
    "                                % (name, e)) from None\n"
    "            line = req.encode() + b'\\n'\n"
    "            if len(line) > max_line:\n"
    "                raise ValueError('default_api.%s: the arguments take %d bytes, more than %d'\n"
    "                                 % (name, len(line), max_line))\n"
    "            seq[0] += 1\n"
    "            view = memoryview(line)\n"
    "            while view:\n"
    "                view = view[os.write(3, view):]\n"
    "            reply = answers.readline(max_line + 1)\n"
    "            if not reply.endswith(b'\\n'):\n"
    "                raise RuntimeError('default_api.%s: gliveD closed the call channel' % name)\n"
    "            msg = json.loads(reply)\n"
    "            if msg.get('call') != seq[0]:\n"
    "                raise RuntimeError('default_api.%s: the call channel is out of step' % name)\n"
    "            return msg['response']\n"
    "\n"
    "    class Api(types.ModuleType):\n"
    "        def __getattr__(self, name):\n"
    "            if name.startswith('_') or not re.fullmatch('[A-Za-z0-9_.:-]{1,64}', name):\n"
    "                raise AttributeError(name)\n"
    "            def fn(**kwargs):\n"
    "                return call(name, kwargs)\n"
    "            fn.__name__ = fn.__qualname__ = name\n"
    "            return fn\n"
    "    api = Api('default_api', 'The functions of this session: default_api.NAME(**args) '\n"
    "              'returns the response dict; a failed call returns {\"error\": ...}.')\n"
    "    sys.modules['default_api'] = api\n"
    "    main = sys.modules['__main__'].__dict__\n"
    "    del main['_gliveD_prelude']\n"
    "    main['default_api'] = api\n"
    "    linecache.cache['<code>'] = (len(src), None, src.splitlines(True), '<code>')\n"
    "    try:\n"
    "        code = compile(src, '<code>', 'exec')\n"
    "    except (SyntaxError, ValueError) as e:\n"
    "        traceback.print_exception(type(e), e, None)\n"
    "        sys.exit(1)\n"
    "    try:\n"
    "        exec(code, main)\n"
    "    except SystemExit:\n"
    "        raise\n"
    "    except BaseException as e:  # the traceback starts in the code, not here\n"
    "        traceback.print_exception(type(e), e, e.__traceback__.tb_next)\n"
    "        sys.exit(1)\n"
    "_gliveD_prelude()\n";

enum stop_reason { STOP_NONE, STOP_DEADLINE, STOP_CANCEL, STOP_PROTOCOL };

struct gld_sandbox_job {
    uv_loop_t *loop;
    gld_sandbox_cbs cb;
    void *ud;
    gld_sandbox_mode mode;
    unsigned timeout_ms, cpu_s, max_calls;
    size_t cap, max_line;

    uv_process_t proc;
    uv_pipe_t in, out, err, calls, answers; /* the child's fds 0-4 */
    uv_timer_t timer;
    uv_write_t code_req;
    char *code; /* OWNED: fd 0 carries the prelude, then this, then EOF */
    size_t code_len;
    int open;   /* handles not closed yet */

    gl_buf outb, errb;          /* the first `cap` bytes of each */
    uint64_t out_total, err_total;
    gl_buf callb;               /* the call line being received, without its newline */
    unsigned ncalls;            /* calls received */
    unsigned waiting;           /* the call waiting for its answer, 0 if none */

    bool started, exited, out_eof, err_eof, grace, finished, silent;
    int exit_status, term_signal;
    enum stop_reason stop;
    char stop_msg[160];
    uint64_t t0;
    char rd[64 << 10]; /* read buffer of every pipe: a read callback consumes it at once */
};

typedef struct answer_req {
    uv_write_t req;
    char *line; /* OWNED */
} answer_req;

/* The verdict of the last BWRAP-mode probe (see gld_sandbox_probe): whether bwrap works, and
 * with which profile (FULL where it can; SERVICE under gliveD.service's hardening). */
static struct {
    bool failed;
    gl_err why;
    gld_bwrap_profile profile;
    char full_failed[GL_ERR_MSG]; /* why FULL did not work, when SERVICE was chosen */
} probe_verdict = {.profile = GLD_BWRAP_FULL};

const char *gld_outcome_name(gld_outcome o)
{
    switch (o) {
    case GLD_OUTCOME_OK: return "OUTCOME_OK";
    case GLD_OUTCOME_DEADLINE_EXCEEDED: return "OUTCOME_DEADLINE_EXCEEDED";
    case GLD_OUTCOME_FAILED: break;
    }
    return "OUTCOME_FAILED";
}

void gld_sandbox_opts_init(gld_sandbox_opts *o)
{
    *o = (gld_sandbox_opts){
        .mode = GLD_SANDBOX_BWRAP,
        .timeout_ms = GLD_SANDBOX_TIMEOUT_MS,
        .cpu_s = GLD_SANDBOX_CPU_S,
        .mem_bytes = GLD_SANDBOX_MEM,
        .max_procs = GLD_SANDBOX_PROCS,
        .max_file_bytes = GLD_SANDBOX_FSIZE,
        .max_files = GLD_SANDBOX_FILES,
        .tmpfs_bytes = GLD_SANDBOX_TMPFS,
        .output_cap = GLD_SANDBOX_OUTPUT_CAP,
        .max_line = GLD_SANDBOX_MAX_LINE,
        .max_calls = GLD_SANDBOX_MAX_CALLS,
        .uid = GLD_SANDBOX_UID,
        .gid = GLD_SANDBOX_UID,
        .python = "/usr/bin/python3",
        .bwrap = "/usr/bin/bwrap",
        .workdir = "/tmp",
    };
}

/* ---- the command line ---------------------------------------------------------------------- */

typedef struct strv {
    char **v; /* NULL-terminated, each OWNED */
    size_t n, cap;
} strv;

static void sv_add(strv *s, const char *a)
{
    if (s->n + 2 > s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = gl_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = gl_xstrdup(a);
    s->v[s->n] = NULL;
}

static void sv_addl(strv *s, const char *const *list)
{
    while (*list)
        sv_add(s, *list++);
}

static void sv_addu(strv *s, unsigned long long v)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", v);
    sv_add(s, num);
}

static void sv_free(strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (strv){0};
}

/* /bin, /lib, /lib64...: a link into /usr on merged-/usr systems (recreated as the same link),
 * a directory of their own on older ones (mounted read-only), or absent. */
static void mirror_root_dir(strv *s, const char *path)
{
    struct stat st;
    char target[256];
    if (lstat(path, &st) != 0)
        return;
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n <= 0)
            return;
        target[n] = '\0';
        sv_addl(s, (const char *const[]){"--symlink", target, path, NULL});
    } else if (S_ISDIR(st.st_mode)) {
        sv_addl(s, (const char *const[]){"--ro-bind", path, path, NULL});
    }
}

/* ---- the SERVICE profile's seccomp filter ------------------------------------------------- */

/* What --disable-userns and --unshare-net do in the FULL profile, for the SERVICE one.
 * bwrap's --disable-userns needs a writable /proc/sys (it lowers user.max_user_namespaces inside
 * the sandbox), which ProtectKernelTunables= takes away; a network namespace of its own would
 * cost the unit RestrictNamespaces=net and AF_NETLINK (bwrap brings its loopback up with an
 * rtnetlink socket), 0.2 of systemd-analyze's exposure. Instead, a seccomp filter that bwrap
 * installs just before it runs the code (--seccomp FD):
 *  - unshare() and clone() with CLONE_NEWUSER fail with EPERM, clone3() with ENOSYS (its flags
 *    are in memory a filter cannot read; glibc then falls back to clone()), setns() with EPERM.
 *    Without a user namespace of its own the code cannot create any other namespace either: it
 *    holds no capability.
 *  - socket() (and socketcall(), which multiplexes it where it exists) fails with EPERM, of
 *    every family: no network, and no Unix socket either (abstract ones belong to the network
 *    namespace, the host's here). io_uring_setup() fails with ENOSYS: io_uring can open sockets
 *    by itself. socketpair() stays: it reaches nobody.
 * System calls of another ABI (i386 on x86_64, x32) fail, so none of them slips past. On an
 * architecture not listed here the SERVICE profile does not exist (the probe then reports
 * FULL's failure). */
#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SANDBOX_X32_BIT 0x40000000u /* x32 system call numbers */
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_I386
#elif defined(__arm__) && defined(__ARMEL__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_S390X
#define SANDBOX_CLONE_FLAGS_ARG 1 /* clone(stack, flags, ...) there */
#endif
#ifndef SANDBOX_X32_BIT
#define SANDBOX_X32_BIT 0xffffffffu /* no such numbers: the test never matches */
#endif
#ifndef SANDBOX_CLONE_FLAGS_ARG
#define SANDBOX_CLONE_FLAGS_ARG 0
#endif
/* The low 32 bits of argument i (every CLONE_* namespace flag is there). */
#define ARG_LO(i) ((unsigned)(offsetof(struct seccomp_data, args) + 8 * (i) + \
                              (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__ ? 4 : 0)))

#ifdef SANDBOX_AUDIT_ARCH
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425 /* the same number on every architecture */
#endif
#ifdef __NR_socketcall
#define SOCKETCALL_NR __NR_socketcall
#else
#define SOCKETCALL_NR __NR_socket /* none here: socket's test again, never reached */
#endif
static const struct sock_filter SERVICE_FILTER[] = {
    /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0),
    /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    /* 4 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SANDBOX_X32_BIT, 0, 1),
    /* 5 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    /* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
    /* 7 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
    /* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
    /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setns, 3, 0),
    /* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 2, 0),
    /* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCKETCALL_NR, 1, 0),
    /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 1, 3),
    /* 14 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    /* 15 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(0)), /* unshare(flags) */
    /* 16 */ BPF_STMT(BPF_JMP | BPF_JA, 2),
    /* 17 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
    /* 18 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(SANDBOX_CLONE_FLAGS_ARG)),
    /* 19 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
    /* 20 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    /* 21 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
};
#endif

/* A pipe holding the filter, for bwrap's --seccomp: its read end, or -1 (no filter for this
 * architecture, or no pipe). 176 bytes fit any pipe buffer: the write never blocks. */
static int seccomp_fd(void)
{
#ifdef SANDBOX_AUDIT_ARCH
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    ssize_t n = write(p[1], SERVICE_FILTER, sizeof SERVICE_FILTER);
    close(p[1]);
    if (n != (ssize_t)sizeof SERVICE_FILTER) {
        close(p[0]);
        return -1;
    }
    return p[0];
#else
    return -1;
#endif
}

/* bwrap's own options but the mounts below, per profile (sandbox.h). */
static void bwrap_profile_args(strv *s, gld_bwrap_profile profile)
{
    if (profile == GLD_BWRAP_SERVICE) {
        /* fd 5 carries the filter (spawn) */
        sv_addl(s, (const char *const[]){"--unshare-user", "--unshare-pid", "--seccomp", "5",
                                         NULL});
    } else {
        /* every namespace; the user namespace explicitly, so --disable-userns can forbid
         * nesting */
        sv_addl(s, (const char *const[]){"--unshare-all", "--unshare-user", "--disable-userns",
                                         "--hostname", "sandbox", NULL});
    }
}

static void bwrap_args(strv *s, const gld_sandbox_opts *o, gld_bwrap_profile profile)
{
    sv_add(s, o->bwrap);
    bwrap_profile_args(s, profile);
    sv_addl(s, (const char *const[]){"--die-with-parent", "--new-session", "--cap-drop", "ALL",
                                     "--ro-bind", "/usr", "/usr", NULL});
    static const char *const roots[] = {"/bin", "/lib", "/lib32", "/lib64", "/libx32"};
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++)
        mirror_root_dir(s, roots[i]);
    sv_addl(s, (const char *const[]){"--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
                                     "--ro-bind-try", "/etc/localtime", "/etc/localtime", NULL});
    if (profile == GLD_BWRAP_FULL) /* the service's /proc has locked overmounts: no new one */
        sv_addl(s, (const char *const[]){"--proc", "/proc", NULL});
    sv_addl(s, (const char *const[]){"--dev", "/dev", "--remount-ro", "/dev", "--size", NULL});
    sv_addu(s, o->tmpfs_bytes);
    sv_addl(s, (const char *const[]){"--tmpfs", "/tmp", "--remount-ro", "/", "--chdir", "/tmp",
                                     "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
                                     "--setenv", "LANG", "C.UTF-8", "--setenv", "HOME", "/tmp",
                                     "--", NULL});
}

/* python -I (no user site, no PYTHON* variables, no script dir) -B (no .pyc) -c BOOT: BOOT runs
 * the prelude, the first bytes of stdin (the code follows), so the command line stays short and
 * ps shows the tag (daemon pid.run number) that names the run's processes. */
static void python_args(strv *s, const gld_sandbox_opts *o, const char *tag)
{
    char boot[96];
    snprintf(boot, sizeof boot, "import sys; exec(sys.stdin.buffer.read(%zu))", sizeof PRELUDE - 1);
    sv_addl(s, (const char *const[]){o->python, "-I", "-B", "-c", boot, "gliveD-sandbox", tag,
                                     NULL});
    sv_addu(s, o->cpu_s);
    sv_addu(s, o->mem_bytes);
    sv_addu(s, o->max_procs);
    sv_addu(s, o->max_file_bytes);
    sv_addu(s, o->max_files);
    sv_addu(s, o->max_line);
}

/* The profile a run uses: the options', else the last probe's choice. */
static gld_bwrap_profile profile_of(const gld_sandbox_opts *o)
{
    return o->profile != GLD_BWRAP_AUTO ? o->profile : probe_verdict.profile;
}

static void build_command(const gld_sandbox_opts *o, strv *argv, strv *env)
{
    static unsigned runs;
    char tag[48];
    snprintf(tag, sizeof tag, "%ld.%u", (long)getpid(), ++runs);
    sv_add(env, "PATH=/usr/bin:/bin");
    if (o->mode == GLD_SANDBOX_BWRAP) {
        bwrap_args(argv, o, profile_of(o)); /* bwrap sets the code's environment (--clearenv) */
    } else {
        char home[4200];
        snprintf(home, sizeof home, "HOME=%s", o->workdir);
        sv_add(env, "LANG=C.UTF-8");
        sv_add(env, home);
    }
    python_args(argv, o, tag);
}

/* ---- handles and the end of a job ------------------------------------------------------------ */

static void job_free(gld_sandbox_job *j)
{
    gl_buf_free(&j->outb);
    gl_buf_free(&j->errb);
    gl_buf_free(&j->callb);
    free(j->code);
    free(j);
}

/* Keeps, at a cut, whole UTF-8 characters only: a sequence cut short is dropped. */
static size_t utf8_cut(const char *p, size_t n)
{
    size_t i = n, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)p[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return n;
    unsigned char lead = (unsigned char)p[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return need > cont + 1 ? i - 1 : n;
}

/* Within the buffer's bound, gl_buf_append fails only without memory: fatal, as everywhere. */
static void append(gl_buf *o, const char *s, size_t n)
{
    if (gl_buf_append(o, s, n) != 0)
        abort();
}

/* Starts a new line unless at the start or at one. */
static void newline(gl_buf *o)
{
    if (o->len && gl_buf_head(o)[o->len - 1] != '\n')
        append(o, "\n", 1);
}

static void note(gl_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(gl_buf *o, const char *fmt, ...)
{
    char s[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof s, fmt, ap);
    va_end(ap);
    newline(o);
    append(o, "[", 1);
    append(o, s, strlen(s));
    append(o, "]", 1);
}

/* stdout, then stderr, within cap: stderr (the traceback) keeps at least a quarter of the cap
 * when both do not fit, stdout whatever is left. */
static void compose_streams(const gld_sandbox_job *j, gl_buf *o)
{
    size_t out_n = j->outb.len, err_n = j->errb.len, err_keep = err_n;
    if (out_n + err_n > j->cap) {
        size_t out_max = j->cap - j->cap / 4;
        size_t err_room = j->cap - (out_n < out_max ? out_n : out_max);
        err_keep = err_n < err_room ? err_n : err_room;
    }
    size_t out_keep = out_n < j->cap - err_keep ? out_n : j->cap - err_keep;
    if (out_keep < j->out_total)
        out_keep = utf8_cut(gl_buf_head(&j->outb), out_keep);
    if (err_keep < j->err_total)
        err_keep = utf8_cut(gl_buf_head(&j->errb), err_keep);
    append(o, gl_buf_head(&j->outb), out_keep);
    if (out_keep < j->out_total)
        note(o, "output cut at %zu bytes", out_keep);
    if (err_keep) {
        newline(o);
        append(o, gl_buf_head(&j->errb), err_keep);
    }
    if (err_keep < j->err_total)
        note(o, "error output cut at %zu bytes", err_keep);
}

static gld_outcome compose(const gld_sandbox_job *j, gl_buf *o)
{
    compose_streams(j, o);
    switch (j->stop) {
    case STOP_DEADLINE:
        note(o, "stopped: still running at the time limit of %g s", j->timeout_ms / 1000.0);
        return GLD_OUTCOME_DEADLINE_EXCEEDED;
    case STOP_CANCEL:
        note(o, "cancelled");
        return GLD_OUTCOME_FAILED;
    case STOP_PROTOCOL:
        note(o, "stopped: %s", j->stop_msg);
        return GLD_OUTCOME_FAILED;
    case STOP_NONE:
        break;
    }
    if (j->term_signal == SIGXCPU)
        note(o, "stopped: CPU time limit of %u s exceeded", j->cpu_s);
    else if (j->term_signal)
        note(o, "killed by signal %d (%s)", j->term_signal, strsignal(j->term_signal));
    else if (j->exit_status != 0 && (j->exit_status != 1 || j->err_total == 0))
        note(o, "exit status %d", j->exit_status); /* 1 with a traceback says enough */
    return j->exit_status == 0 && !j->term_signal ? GLD_OUTCOME_OK : GLD_OUTCOME_FAILED;
}

static void deliver(gld_sandbox_job *j)
{
    if (!j->silent) {
        gl_buf o;
        gl_buf_init(&o, 0);
        gld_sandbox_result r = {.outcome = compose(j, &o)};
        append(&o, "", 1); /* NUL-terminated */
        r.output = gl_buf_head(&o);
        r.output_len = o.len - 1;
        r.exit_status = j->exit_status;
        r.term_signal = j->term_signal;
        r.calls = j->ncalls;
        uv_update_time(j->loop);
        r.elapsed_ms = uv_now(j->loop) - j->t0;
        j->cb.on_done(j, j->ud, &r);
        gl_buf_free(&o);
    }
    job_free(j);
}

static void on_closed(uv_handle_t *h)
{
    gld_sandbox_job *j = h->data;
    if (--j->open == 0)
        deliver(j);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, on_closed);
}

/* Closes everything; only once the child is reaped (or was never started): closing a live
 * process handle would leave a zombie. */
static void finish(gld_sandbox_job *j)
{
    if (j->finished)
        return;
    j->finished = true;
    j->waiting = 0;
    close_handle((uv_handle_t *)&j->proc);
    close_handle((uv_handle_t *)&j->in);
    close_handle((uv_handle_t *)&j->out);
    close_handle((uv_handle_t *)&j->err);
    close_handle((uv_handle_t *)&j->calls);
    close_handle((uv_handle_t *)&j->answers);
    close_handle((uv_handle_t *)&j->timer);
}

static void on_timer(uv_timer_t *t);

static void maybe_finish(gld_sandbox_job *j)
{
    if (j->finished || !j->exited)
        return;
    if (j->out_eof && j->err_eof) {
        finish(j);
    } else if (!j->grace) {
        j->grace = true;
        uv_timer_stop(&j->timer);
        uv_timer_start(&j->timer, on_timer, GRACE_MS, 0);
    }
}

/* The child is our direct child and not reaped yet (its pid cannot have been reused): its
 * process group (setsid at spawn) dies at once. In bwrap mode that group is the outer bwrap
 * alone; its death kills the namespace's init (--die-with-parent), and the init's death kills
 * every process of the PID namespace, however many the code forked. */
static void kill_tree(gld_sandbox_job *j)
{
    if (!j->started || j->exited)
        return;
    if (kill(-j->proc.pid, SIGKILL) != 0)
        uv_process_kill(&j->proc, SIGKILL);
}

static void stop(gld_sandbox_job *j, enum stop_reason why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stop(gld_sandbox_job *j, enum stop_reason why, const char *fmt, ...)
{
    if (j->stop != STOP_NONE || j->finished)
        return;
    j->stop = why;
    j->waiting = 0; /* a call in progress is void */
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(j->stop_msg, sizeof j->stop_msg, fmt, ap);
        va_end(ap);
    }
    kill_tree(j);
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal)
{
    gld_sandbox_job *j = p->data;
    j->exited = true;
    j->exit_status = term_signal ? -1 : (int)exit_status;
    j->term_signal = term_signal;
    /* bwrap reports a code killed by signal N as exit status 128 + N */
    if (j->mode == GLD_SANDBOX_BWRAP && !term_signal && exit_status > 128 &&
        exit_status < 128 + 65) {
        j->term_signal = (int)exit_status - 128;
        j->exit_status = -1;
    }
    maybe_finish(j);
}

static void on_timer(uv_timer_t *t)
{
    gld_sandbox_job *j = t->data;
    if (j->grace)
        finish(j);
    else
        stop(j, STOP_DEADLINE, NULL);
}

/* ---- the pipes ------------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gld_sandbox_job *j = h->data;
    (void)suggested;
    *buf = uv_buf_init(j->rd, sizeof j->rd);
}

/* stdout and stderr: the first cap bytes are kept, the rest counted and dropped (still read, so
 * the code never blocks on a full pipe). */
static void on_output(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    gld_sandbox_job *j = st->data;
    bool is_out = st == (uv_stream_t *)&j->out;
    gl_buf *b = is_out ? &j->outb : &j->errb;
    if (n > 0) {
        size_t room = j->cap - b->len, keep = (size_t)n < room ? (size_t)n : room;
        append(b, buf->base, keep); /* within its limit */
        *(is_out ? &j->out_total : &j->err_total) += (uint64_t)n;
    } else if (n < 0) {
        *(is_out ? &j->out_eof : &j->err_eof) = true;
        close_handle((uv_handle_t *)st);
        maybe_finish(j);
    }
}

static void on_code_written(uv_write_t *w, int status)
{
    gld_sandbox_job *j = w->data;
    (void)status; /* EPIPE: the child died before reading; its exit says why */
    close_handle((uv_handle_t *)&j->in); /* EOF: the prelude has the whole code */
}

static void on_answer_written(uv_write_t *w, int status)
{
    answer_req *a = (answer_req *)w;
    (void)status; /* the child went away: its exit ends the job */
    free(a->line);
    free(a);
}

/* {"call":N,"response":RESPONSE}\n to fd 4, or an error response if that line is too long. */
static void send_answer(gld_sandbox_job *j, unsigned call_no, const json_t *response)
{
    /* A child reads each answer before its next call, so more than one line's worth still
     * queued means it sends calls without reading: its answers would pile up here. */
    if (uv_stream_get_write_queue_size((uv_stream_t *)&j->answers) > j->max_line) {
        stop(j, STOP_PROTOCOL, "the code does not read the answers to its function calls");
        return;
    }
    /* json_pack's "O" takes a reference, it does not change the object */
    json_t *msg = json_pack("{s:I,s:O}", "call", (json_int_t)call_no, "response",
                            (json_t *)response);
    char *line = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    size_t len = strlen(line);
    if (len + 1 > j->max_line) {
        char text[160];
        snprintf(text, sizeof text, "the response is too large (%zu bytes, the limit is %zu)",
                 len, j->max_line);
        free(line);
        msg = json_pack("{s:I,s:{s:s}}", "call", (json_int_t)call_no, "response", "error", text);
        line = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        len = strlen(line);
    }
    answer_req *a = gl_xmalloc(sizeof *a);
    a->line = gl_xrealloc(line, len + 1);
    a->line[len] = '\n'; /* replaces the NUL: the length is in the uv_buf */
    uv_buf_t b = uv_buf_init(a->line, (unsigned)len + 1);
    if (uv_write(&a->req, (uv_stream_t *)&j->answers, &b, 1, on_answer_written) < 0) {
        free(a->line);
        free(a);
        stop(j, STOP_PROTOCOL, "the code closed the channel of the answers");
    }
}

static void send_error(gld_sandbox_job *j, unsigned call_no, const char *text)
{
    json_t *r = json_pack("{s:s}", "error", text);
    send_answer(j, call_no, r);
    json_decref(r);
}

/* Gemini's function names: 1-64 of letters, digits, _ . : - */
static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_.:-") == n;
}

/* One line from fd 3. Anything unexpected is a broken or hostile child: the run stops. */
static void take_call(gld_sandbox_job *j, const char *line, size_t len)
{
    json_t *msg = json_loadb(line, len, 0, NULL);
    json_t *num = json_object_get(msg, "call"), *args = json_object_get(msg, "args");
    const char *name = json_string_value(json_object_get(msg, "name"));
    if (!json_is_integer(num) || !name || !valid_name(name) || !json_is_object(args)) {
        stop(j, STOP_PROTOCOL, "a malformed function call from the code");
    } else if (j->waiting) {
        stop(j, STOP_PROTOCOL, "a function call while call %u waits for its answer", j->waiting);
    } else if (json_integer_value(num) != (json_int_t)j->ncalls + 1) {
        stop(j, STOP_PROTOCOL, "function call number %lld out of sequence",
             (long long)json_integer_value(num));
    } else {
        unsigned n = ++j->ncalls;
        char text[96];
        if (n > j->max_calls + EXTRA_CALLS) {
            stop(j, STOP_PROTOCOL, "the code kept calling functions past the limit of %u calls",
                 j->max_calls);
        } else if (n > j->max_calls) {
            snprintf(text, sizeof text, "too many function calls: at most %u per run",
                     j->max_calls);
            send_error(j, n, text);
        } else if (!j->cb.on_call) {
            send_error(j, n, "no functions are available");
        } else {
            j->waiting = n;
            j->cb.on_call(j, j->ud, n, name, args); /* may answer, or cancel, right away */
        }
    }
    json_decref(msg);
}

/* fd 3, split into lines as it comes: the bound applies to each line, whatever the chunks. */
static void on_calls(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    gld_sandbox_job *j = st->data;
    if (n < 0) {
        close_handle((uv_handle_t *)st);
        return;
    }
    const char *p = buf->base, *end = p + n;
    while (p < end && j->stop == STOP_NONE && !j->finished) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t seg = (size_t)((nl ? nl : end) - p);
        if (gl_buf_append(&j->callb, p, seg) != 0) {
            stop(j, STOP_PROTOCOL, "a function call line longer than %zu bytes", j->max_line);
            return;
        }
        if (!nl)
            return;
        p = nl + 1;
        take_call(j, gl_buf_head(&j->callb), j->callb.len);
        gl_buf_reset(&j->callb);
    }
}

/* ---- the API --------------------------------------------------------------------------------- */

static int check_args(const gld_sandbox_opts *o, const char *code, const gld_sandbox_cbs *cb,
                      gl_err *err)
{
    if (!code || !cb || !cb->on_done)
        return gl_fail(err, "bad_request", "sandbox: code and on_done are required");
    size_t len = strlen(code);
    if (len > GLD_SANDBOX_MAX_CODE)
        return gl_fail(err, "too_large", "the code is %zu bytes long; the limit is %lu", len,
                       GLD_SANDBOX_MAX_CODE);
    if (!o->timeout_ms || !o->output_cap || o->max_line < 64 || !o->python || !*o->python ||
        (o->mode == GLD_SANDBOX_BWRAP && (!o->bwrap || !*o->bwrap || !o->tmpfs_bytes)) ||
        (o->mode == GLD_SANDBOX_NONE && (!o->workdir || !*o->workdir)))
        return gl_fail(err, "bad_request", "sandbox: a timeout, an output cap, a line bound of "
                                           "64 bytes or more and the paths are required");
    if (o->mode == GLD_SANDBOX_BWRAP && probe_verdict.failed) {
        if (err)
            *err = probe_verdict.why;
        return -1;
    }
    return 0;
}

static gld_sandbox_job *job_new(uv_loop_t *loop, const gld_sandbox_opts *o, const char *code,
                                const gld_sandbox_cbs *cb, void *ud)
{
    gld_sandbox_job *j = gl_xcalloc(1, sizeof *j);
    j->loop = loop;
    j->cb = *cb;
    j->ud = ud;
    j->mode = o->mode;
    j->timeout_ms = o->timeout_ms;
    j->cpu_s = o->cpu_s;
    j->max_calls = o->max_calls;
    j->cap = o->output_cap;
    j->max_line = o->max_line;
    j->code_len = strlen(code);
    j->code = gl_xstrndup(code, j->code_len);
    gl_buf_init(&j->outb, j->cap);
    gl_buf_init(&j->errb, j->cap);
    gl_buf_init(&j->callb, j->max_line - 1); /* a line with its newline is at most max_line */
    uv_pipe_init(loop, &j->in, 0);
    uv_pipe_init(loop, &j->out, 0);
    uv_pipe_init(loop, &j->err, 0);
    uv_pipe_init(loop, &j->calls, 0);
    uv_pipe_init(loop, &j->answers, 0);
    uv_timer_init(loop, &j->timer);
    j->proc.data = j->in.data = j->out.data = j->err.data = j->calls.data = j->answers.data = j;
    j->timer.data = j->code_req.data = j;
    j->open = NHANDLES;
    return j;
}

/* filter: -1, or the SERVICE profile's seccomp program (fd 5 of the child). */
static int spawn(gld_sandbox_job *j, const gld_sandbox_opts *o, const strv *argv, const strv *env,
                 int filter)
{
    uv_stdio_container_t stdio[6] = {
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->in},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->out},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->err},
        /* fd 3: the child writes its calls; fd 4: it reads the answers */
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&j->calls},
        {.flags = UV_CREATE_PIPE | UV_READABLE_PIPE, .data.stream = (uv_stream_t *)&j->answers},
        {.flags = UV_INHERIT_FD, .data.fd = filter},
    };
    uv_process_options_t po = {
        .exit_cb = on_exit_cb,
        .file = argv->v[0],
        .args = argv->v,
        .env = env->v,
        .cwd = o->mode == GLD_SANDBOX_BWRAP ? "/" : o->workdir,
        .flags = UV_PROCESS_DETACHED, /* setsid(): a process group of its own, killed whole */
        .stdio_count = filter >= 0 ? 6 : 5,
        .stdio = stdio,
    };
    if (geteuid() == 0 && o->uid != 0) { /* see "RLIMIT_NPROC and who runs the code" */
        po.flags |= UV_PROCESS_SETUID | UV_PROCESS_SETGID;
        po.uid = o->uid;
        po.gid = o->gid;
    }
    return uv_spawn(j->loop, &j->proc, &po); /* initializes proc even when it fails */
}

static void start_io(gld_sandbox_job *j)
{
    j->started = true;
    uv_read_start((uv_stream_t *)&j->out, on_alloc, on_output);
    uv_read_start((uv_stream_t *)&j->err, on_alloc, on_output);
    uv_read_start((uv_stream_t *)&j->calls, on_alloc, on_calls);
    uv_buf_t b[2] = {uv_buf_init((char *)PRELUDE, sizeof PRELUDE - 1),
                     uv_buf_init(j->code, (unsigned)j->code_len)};
    if (uv_write(&j->code_req, (uv_stream_t *)&j->in, b, 2, on_code_written) < 0)
        close_handle((uv_handle_t *)&j->in);
    uv_update_time(j->loop); /* the limit counts from now, not from the loop's last tick */
    j->t0 = uv_now(j->loop);
    uv_timer_start(&j->timer, on_timer, j->timeout_ms, 0);
}

gld_sandbox_job *gld_sandbox_run(uv_loop_t *loop, const gld_sandbox_opts *o, const char *code,
                                 const gld_sandbox_cbs *cb, void *ud, gl_err *err)
{
    if (check_args(o, code, cb, err) != 0)
        return NULL;
    int filter = -1; /* no filter, no run: never a weaker sandbox than the profile says */
    if (o->mode == GLD_SANDBOX_BWRAP && profile_of(o) == GLD_BWRAP_SERVICE &&
        (errno = 0, filter = seccomp_fd()) < 0) {
        gl_fail(err, "sandbox", "cannot make the seccomp filter of the sandbox: %s",
                errno ? strerror(errno) : "not built for this architecture");
        return NULL;
    }
    gld_sandbox_job *j = job_new(loop, o, code, cb, ud);
    strv argv = {0}, env = {0};
    build_command(o, &argv, &env);
    int r = spawn(j, o, &argv, &env, filter);
    if (filter >= 0)
        close(filter); /* the child has its copy (read once by bwrap) */
    if (r < 0 && o->mode == GLD_SANDBOX_NONE) /* a missing workdir fails the same way */
        gl_fail(err, "sandbox", "cannot start %s in %s: %s", argv.v[0], o->workdir,
                uv_strerror(r));
    else if (r < 0)
        gl_fail(err, "sandbox", "cannot start %s: %s", argv.v[0], uv_strerror(r));
    sv_free(&argv);
    sv_free(&env);
    if (r < 0) { /* the handles close on the loop; the job then frees itself, silently */
        j->silent = true;
        finish(j);
        return NULL;
    }
    start_io(j);
    return j;
}

int gld_sandbox_answer(gld_sandbox_job *j, unsigned call_no, const json_t *response, gl_err *err)
{
    if (j->finished || j->stop != STOP_NONE || j->exited)
        return gl_fail(err, "gone", "the code of call %u is no longer running", call_no);
    if (!call_no || call_no != j->waiting)
        return gl_fail(err, "bad_request", "call %u of this code is not waiting for an answer",
                       call_no);
    if (!json_is_object(response))
        return gl_fail(err, "bad_request", "a function response must be an object");
    j->waiting = 0;
    send_answer(j, call_no, response);
    return 0;
}

void gld_sandbox_cancel(gld_sandbox_job *j)
{
    if (j->exited) /* its outcome is known already */
        return;
    stop(j, STOP_CANCEL, NULL);
}

/* ---- the probe ------------------------------------------------------------------------------- */

typedef struct probe_result {
    bool done, ok;
    char text[160]; /* the first line of the output */
} probe_result;

static void probe_done(gld_sandbox_job *j, void *ud, const gld_sandbox_result *r)
{
    probe_result *p = ud;
    (void)j;
    p->done = true;
    p->ok = r->outcome == GLD_OUTCOME_OK && strcmp(r->output, "ok\n") == 0;
    const char *s = r->output;
    while (*s == '\n')
        s++;
    size_t n = strcspn(s, "\n");
    snprintf(p->text, sizeof p->text, "%.*s", (int)n, s);
    if (!*p->text)
        snprintf(p->text, sizeof p->text, "%s, no output", gld_outcome_name(r->outcome));
}

static int probe_run(const gld_sandbox_opts *o, gl_err *err)
{
    bool bw = o->mode == GLD_SANDBOX_BWRAP;
    const char *exe = bw ? o->bwrap : o->python;
    if (!exe || access(exe, X_OK) != 0)
        return gl_fail(err, "sandbox", "%s: %s%s", exe ? exe : "(no path)", strerror(errno),
                       bw ? " (install bubblewrap; or, without isolation: --code-sandbox none)"
                          : "");
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return gl_fail(err, "sandbox", "cannot create an event loop for the probe");
    gld_sandbox_opts po = *o;
    po.timeout_ms = PROBE_TIMEOUT_MS;
    probe_result pr = {0};
    gld_sandbox_cbs cbs = {.on_done = probe_done};
    gld_sandbox_job *j = gld_sandbox_run(&loop, &po, "print('ok')", &cbs, &pr, err);
    uv_run(&loop, UV_RUN_DEFAULT); /* also closes the handles of a start that failed */
    uv_loop_close(&loop);
    if (!j)
        return -1;
    if (pr.ok)
        return 0;
    if (bw)
        return gl_fail(err, "sandbox", "bwrap cannot sandbox code here: %s (%s)", pr.text,
                       strstr(pr.text, "nknown option") ? "bwrap 0.8 or later is needed"
                                                        : "without isolation: --code-sandbox none");
    return gl_fail(err, "sandbox", "%s cannot run code: %s", o->python, pr.text);
}

int gld_sandbox_probe(const gld_sandbox_opts *o, gl_err *err)
{
    gl_err why = {{0}, {0}};
    if (o->mode != GLD_SANDBOX_BWRAP) {
        int rc = probe_run(o, &why);
        if (rc != 0 && err)
            *err = why;
        return rc;
    }
    probe_verdict.failed = false; /* the probe's own runs must not be refused */
    probe_verdict.full_failed[0] = '\0';
    gld_sandbox_opts po = *o;
    po.profile = o->profile == GLD_BWRAP_AUTO ? GLD_BWRAP_FULL : o->profile;
    int rc = probe_run(&po, &why);
    if (rc != 0 && o->profile == GLD_BWRAP_AUTO) {
        /* FULL cannot run here, e.g. under gliveD.service's hardening: SERVICE may */
        gl_err why2 = {{0}, {0}};
        po.profile = GLD_BWRAP_SERVICE;
        if (probe_run(&po, &why2) == 0) {
            char *hint = strstr(why.msg, " (without isolation"); /* not the way out here */
            if (hint)
                *hint = '\0';
            snprintf(probe_verdict.full_failed, sizeof probe_verdict.full_failed, "%s", why.msg);
            rc = 0;
        } else {
            po.profile = GLD_BWRAP_FULL; /* FULL's reason is the one to fix */
        }
    }
    probe_verdict.profile = po.profile;
    probe_verdict.failed = rc != 0;
    probe_verdict.why = why;
    if (rc != 0 && err)
        *err = why;
    return rc;
}

gld_bwrap_profile gld_sandbox_profile(const char **full_failed)
{
    if (full_failed)
        *full_failed = probe_verdict.full_failed;
    return probe_verdict.profile;
}
