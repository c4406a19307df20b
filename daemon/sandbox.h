/* The local server of run_python(code): gliveD declares that function to the model (the Live
 * models have no code execution of their own) and runs the code here, in a sandbox, on the
 * daemon's libuv loop. Nothing blocks: the interpreter is a child process behind pipes and timers.
 *
 * Inside the code, the session's own functions are `default_api.NAME(**args)`: each call goes to
 * the owner (on_call), which routes it like any function call of the model and later answers with
 * gld_sandbox_answer(); the code receives the response as a dict ({"error": ...} included, as
 * Gemini's own code execution does) and goes on. The bridge is newline-delimited JSON on fds 3
 * (child -> daemon: {"call":N,"name":...,"args":{...}}) and 4 (daemon -> child:
 * {"call":N,"response":{...}}), apart from stdout, so nothing the code prints can fake a call.
 * Lines are bounded both ways, calls are numbered and one at a time: a hostile child can end its
 * own run, never grow the daemon's memory (at most 2 x output_cap + max_line per run).
 *
 * GLD_SANDBOX_BWRAP runs `bwrap ... python3 -I -B -c BOOT gliveD-sandbox PID.N LIMITS...`
 * (bwrap_args() and python_args() in sandbox.c; BOOT runs the prelude, which stdin carries ahead
 * of the code; PID.N names the run in ps) with: new user and PID namespaces; no network (see
 * the profiles); a read-only /usr (and the /bin, /lib* links); of /etc
 * only ld.so.cache and localtime; a read-only minimal /dev; a private size-bounded tmpfs at /tmp
 * as the only writable place (also the cwd and HOME); an empty environment but PATH, LANG and
 * HOME (and PWD, which bwrap sets); no capabilities; no further user namespaces; --new-session;
 * --die-with-parent. Needs bwrap 0.8 or later (--disable-userns, --size). So the code sees no
 * home, state dir, socket dir, /run, credentials or daemon environment, and inherits no fd but
 * 0-4 (the prelude closes the others first). Two profiles (gld_bwrap_profile) add:
 *   FULL: network (only a loopback of its own), IPC, UTS and cgroup namespaces of its own too,
 *     a fresh /proc of its PID namespace, and no further user namespaces by --disable-userns.
 *     Used wherever it works.
 *   SERVICE: for a gliveD that systemd already confines (gliveD.service): there the service's
 *     RestrictNamespaces= allows only user, mount and PID namespaces (the cost of each one
 *     allowed is counted against the unit), and ProtectKernelTunables=/ProtectKernelLogs=
 *     lay read-only mounts over parts of /proc, which makes the kernel refuse a fresh /proc in
 *     a user namespace and makes /proc/sys read-only (--disable-userns writes there). So: no
 *     /proc at all (less for the code to see), the service's own private IPC and UTS namespaces
 *     (PrivateIPC=, ProtectHostname=: shared with gliveD alone, which uses no IPC objects), and
 *     a seccomp filter (sandbox.c, SERVICE_FILTER) that refuses further user namespaces, and
 *     every socket and io_uring in place of a network namespace.
 *   gld_sandbox_probe picks FULL, else SERVICE, and says which.
 * GLD_SANDBOX_NONE (the operator's explicit `--code-sandbox none`) runs the interpreter directly:
 * the same limits, environment and bridge, but NO isolation (files, network and the daemon's
 * other processes are reachable with the rights of the uid it runs as).
 *
 * Limits (every one also in NONE mode, set by the prelude before the code runs, soft = hard so
 * the code cannot raise them): the wall clock (the daemon kills the run: DEADLINE_EXCEEDED),
 * RLIMIT_CPU (SIGXCPU), RLIMIT_AS (MemoryError), RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_NOFILE,
 * no core files, and the output cap.
 * RLIMIT_NPROC and who runs the code: the kernel counts NPROC per real uid and does not enforce
 * it for uid 0 at all, so code never runs as root: a root daemon starts it as `uid`:`gid`
 * (default 65534, nobody). bwrap then runs unprivileged and builds a user namespace, where the
 * kernel (>= 5.14; before, every process of the uid) counts the processes of that namespace
 * only: max_procs bounds each run on its own, so a fork bomb stops at max_procs, and the wall
 * timeout kills what is left (killing bwrap kills the namespace's init, which kills everything
 * in the PID namespace). A daemon running as
 * its own user gets the same per-run count in BWRAP mode. In NONE mode there is no namespace:
 * NPROC counts every process and thread of that uid (the daemon's own included when it is not
 * root), so max_procs must leave room for them, and a child that leaves the process group
 * (setsid) outlives a kill.
 *
 * The process must ignore SIGPIPE (gliveD's main does): a child may close its pipes early.
 * At shutdown, cancel every job and run the loop until their on_done (a fraction of a second);
 * should the daemon die instead, --die-with-parent takes the sandboxes with it. */
#ifndef GLD_SANDBOX_H
#define GLD_SANDBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"

typedef enum { GLD_SANDBOX_BWRAP, GLD_SANDBOX_NONE } gld_sandbox_mode;

/* BWRAP mode's profiles (above). AUTO: the last probe's choice (FULL if none ran). */
typedef enum { GLD_BWRAP_AUTO, GLD_BWRAP_FULL, GLD_BWRAP_SERVICE } gld_bwrap_profile;

typedef enum {
    GLD_OUTCOME_OK,                /* the code ran to its end (exit status 0) */
    GLD_OUTCOME_FAILED,            /* exception, syntax error, nonzero exit, a limit, cancelled */
    GLD_OUTCOME_DEADLINE_EXCEEDED, /* killed at the wall-clock limit */
} gld_outcome;

/* "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED" (Gemini's codeExecutionResult). */
const char *gld_outcome_name(gld_outcome o);

/* Defaults (gld_sandbox_opts_init). */
#define GLD_SANDBOX_TIMEOUT_MS  60000            /* --code-timeout */
#define GLD_SANDBOX_CPU_S       60
#define GLD_SANDBOX_MEM         (1024UL << 20)   /* address space per process */
#define GLD_SANDBOX_PROCS       64               /* processes and threads, see above */
#define GLD_SANDBOX_FSIZE       (16UL << 20)     /* largest file written */
#define GLD_SANDBOX_FILES       256              /* open fds per process */
#define GLD_SANDBOX_TMPFS       (64UL << 20)     /* bwrap: size of the private /tmp */
#define GLD_SANDBOX_OUTPUT_CAP  (64UL << 10)
#define GLD_SANDBOX_MAX_LINE    (1UL << 20)      /* one bridge line, either way */
#define GLD_SANDBOX_MAX_CALLS   100              /* default_api calls per run */
#define GLD_SANDBOX_UID         65534            /* a root daemon runs code as nobody */
#define GLD_SANDBOX_MAX_CODE    (1UL << 20)      /* longest code accepted */

typedef struct gld_sandbox_opts {
    gld_sandbox_mode mode;
    gld_bwrap_profile profile; /* BWRAP mode; default AUTO */
    unsigned timeout_ms;    /* wall clock from the start, calls waiting for their answers
                               included; then the run is killed */
    unsigned cpu_s;         /* RLIMIT_CPU (per process); 0 = not set */
    size_t mem_bytes;       /* RLIMIT_AS; 0 = not set */
    unsigned max_procs;     /* RLIMIT_NPROC; 0 = not set */
    size_t max_file_bytes;  /* RLIMIT_FSIZE; 0 = not set */
    unsigned max_files;     /* RLIMIT_NOFILE; 0 = not set */
    size_t tmpfs_bytes;     /* bwrap mode: size of /tmp */
    size_t output_cap;      /* output kept; the rest is cut with a note */
    size_t max_line;        /* bound of one bridge line */
    unsigned max_calls;     /* more calls are answered {"error": ...} without on_call;
                               10 more stop the run */
    unsigned uid, gid;      /* only when the daemon runs as root: the ids the code runs as
                               (uid 0 keeps root: then NPROC binds nothing) */
    const char *python;     /* BORROWED; default "/usr/bin/python3" (in bwrap mode it must be
                               under /usr or a /bin, /lib* directory, the only ones mounted) */
    const char *bwrap;      /* BORROWED; default "/usr/bin/bwrap" */
    const char *workdir;    /* BORROWED; NONE mode: cwd and HOME, default "/tmp" */
} gld_sandbox_opts;

/* Every field to its default above, mode BWRAP. */
void gld_sandbox_opts_init(gld_sandbox_opts *o);

typedef struct gld_sandbox_job gld_sandbox_job;

typedef struct gld_sandbox_result {
    gld_outcome outcome;
    /* BORROWED, valid during on_done: stdout, then stderr (the traceback), then notes in
     * brackets for what the daemon did ("[output cut at 65536 bytes]", "[cancelled]",
     * "[stopped: ...]"). NUL-terminated; at most output_cap bytes of the code's output plus the
     * notes; cut at a UTF-8 boundary but not validated (use gl_json_textn() for JSON). */
    const char *output;
    size_t output_len;
    int exit_status;        /* of the interpreter; -1 if it was killed by a signal */
    int term_signal;        /* 0, or the signal that ended it (SIGXCPU: the CPU limit) */
    unsigned calls;         /* default_api calls the code made */
    uint64_t elapsed_ms;
} gld_sandbox_result;

typedef struct gld_sandbox_cbs {
    /* The code called default_api.NAME(**args): answer it with gld_sandbox_answer(job, call_no,
     * ...), now or later. name and args are BORROWED for the duration of the callback (incref
     * args to keep it). Calls come one at a time, numbered 1, 2, ... May be NULL: every call
     * then gets {"error": "no functions are available"}. */
    void (*on_call)(gld_sandbox_job *job, void *ud, unsigned call_no, const char *name,
                    json_t *args);
    /* Exactly once per job that gld_sandbox_run() returned, after every fd and handle of the
     * run is closed and the process reaped. r is BORROWED. The job frees itself when this
     * returns: forget the pointer (an unanswered call is void). */
    void (*on_done)(gld_sandbox_job *job, void *ud, const gld_sandbox_result *r);
} gld_sandbox_cbs;

/* Starts code (BORROWED, copied) on loop. o and cb are read during the call only; ud is
 * BORROWED until on_done. Returns the job (OWNED by itself: it lives until on_done returns), or
 * NULL with err (and no callback ever) if the code is too long, the options are wrong, the last
 * gld_sandbox_probe() said bwrap cannot work here (BWRAP mode; err has its reason), or the
 * process cannot be started (NONE mode: python missing...). */
gld_sandbox_job *gld_sandbox_run(uv_loop_t *loop, const gld_sandbox_opts *o, const char *code,
                                 const gld_sandbox_cbs *cb, void *ud, gl_err *err);

/* Answers call call_no; response (BORROWED) must be an object. A response longer than the line
 * bound reaches the code as {"error": "... too large ..."}. -1 with err if no such call is
 * waiting (wrong number, already answered, or the run is ending: cancelled, killed). */
int gld_sandbox_answer(gld_sandbox_job *job, unsigned call_no, const json_t *response,
                       gl_err *err);

/* Kills the run (the whole process tree); on_done still comes, later, with OUTCOME_FAILED and
 * "[cancelled]" in the output. Does nothing if the run is already ending. Not after on_done. */
void gld_sandbox_cancel(gld_sandbox_job *job);

/* Runs print('ok') the way o says, on a private loop (blocking, for daemon start: a fraction of
 * a second; in BWRAP mode with profile AUTO, FULL first, then SERVICE if FULL fails). Returns 0
 * if it works; else -1 with a clear reason (bwrap missing, or cannot create namespaces here,
 * with bwrap's own message). The verdict of the last probe in BWRAP mode stays: while it is a
 * failure, gld_sandbox_run() in BWRAP mode fails with its reason. */
int gld_sandbox_probe(const gld_sandbox_opts *o, gl_err *err);
/* The profile the last BWRAP-mode probe chose; *full_failed (may be NULL) gets why FULL did
 * not work when it chose SERVICE ("" otherwise). */
gld_bwrap_profile gld_sandbox_profile(const char **full_failed);

#endif
