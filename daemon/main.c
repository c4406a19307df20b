/* gliveD: keeps named Gemini Live sessions open on one libuv loop and serves local clients over
 * a Unix socket (proto/PROTOCOL.md). Runs in the foreground, logs to stderr. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "daemon/daemon.h"
#include "daemon/dispatch.h"
#include "daemon/persist.h"
#include "daemon/sandbox.h"
#include "daemon/upstream.h"
#include "daemon/session.h"
#include "daemon/tools.h"
#include "transport/tls.h"

static gld_daemon D;
static uv_signal_t sig_term, sig_int, sig_hup;
static uv_timer_t trim_timer;

/* Memory back to the system once activity settles. Sessions that go idle free their TLS
 * buffers and websocket contexts (transport/), but glibc gives back only the top of its heap
 * by itself: the freed pages in between stay resident. One malloc_trim after each burst of
 * connections or messages (once a tick has passed without any) returns them; a daemon that is
 * busy all the time, or idle all the time, does not pay for it. */
#define TRIM_TICK_MS 250
static void on_trim_timer(uv_timer_t *t)
{
    (void)t;
    static unsigned long long seen;
    static bool settled = true;
    unsigned long long now = D.upstream.connects + D.upstream.msgs_in;
    if (now != seen) {
        seen = now;
        settled = false;
        return;
    }
    if (settled)
        return;
    settled = true;
#ifdef __GLIBC__
    uint64_t t0 = uv_hrtime();
    malloc_trim(0);
    log_debug("memory trimmed after activity (%.1f ms)", (double)(uv_hrtime() - t0) / 1e6);
#endif
}

static void on_line(ipc_client *c, const char *line, size_t len, void *ud)
{
    gld_dispatch_line(ud, c, line, len);
}

static void on_disconnect(ipc_client *c, void *ud) { gld_dispatch_disconnect(ud, c); }
static bool on_busy(ipc_client *c, void *ud) { return gld_dispatch_busy(ud, c); }

static void shutdown_daemon(int signum)
{
    if (D.stopping)
        return;
    D.stopping = true;
    log_info("signal %d: stopping (closing sessions, then the socket)", signum);
    while (D.sessions) /* each close tells the session's clients, saves and unlinks it */
        gld_session_close(D.sessions, "gliveD is shutting down", false);
    ipc_stop(D.ipc);
    D.ipc = NULL;
    uv_close((uv_handle_t *)&sig_term, NULL);
    uv_close((uv_handle_t *)&sig_int, NULL);
    uv_close((uv_handle_t *)&sig_hup, NULL);
    uv_close((uv_handle_t *)&trim_timer, NULL);
}

static void restore_one(const json_t *rec, void *ud)
{
    (void)ud;
    gl_err err;
    if (!gld_session_restore(&D, rec, &err))
        log_error("state: cannot restore a session: %s", err.msg);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    if (signum == SIGHUP) {
        gl_err err;
        if (gld_config_reload(&D.cfg, &err) != 0)
            log_error("SIGHUP: config not reloaded: %s", err.msg);
        else
            log_info("SIGHUP: config reloaded%s", D.cfg.config_file[0] ? "" : " (no --config file)");
        return;
    }
    shutdown_daemon(signum);
}

/* Every client and session holds a descriptor (sandbox runs a few more): the soft limit (often
 * 1024) goes up to the hard one, and --max-clients comes down to a quarter of it, so that at the
 * limit new clients get a clear refusal instead of sessions failing on EMFILE. */
static void fit_open_files(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = was;
    }
    rlim_t quarter = rl.rlim_cur == RLIM_INFINITY ? 65536 : rl.rlim_cur / 4;
    if (quarter < 1)
        quarter = 1;
    if (D.cfg.max_clients > quarter) {
        log_warn("--max-clients %u lowered to %llu: a quarter of the open-file limit (%llu)",
                 D.cfg.max_clients, (unsigned long long)quarter, (unsigned long long)rl.rlim_cur);
        D.cfg.max_clients = (unsigned)quarter;
    }
}

/* Where gliveD may run code itself (run_python), says at start whether it can, and how. */
static void probe_sandbox(void)
{
    if (D.cfg.code_exec == GLD_CODE_EXEC_OFF || D.cfg.code_exec == GLD_CODE_EXEC_SERVER)
        return;
    gld_sandbox_opts o;
    gld_sandbox_opts_init(&o);
    o.mode = D.cfg.code_sandbox == GLD_CODE_SANDBOX_NONE ? GLD_SANDBOX_NONE : GLD_SANDBOX_BWRAP;
    gl_err err;
    if (gld_sandbox_probe(&o, &err) != 0)
        log_warn("run_python cannot run code here: %s. Sessions asking for code execution on models "
                 "without it will get that error; --code-sandbox none runs code with limits but NO "
                 "isolation, --code-exec server|off avoids local code", err.msg);
    else if (o.mode == GLD_SANDBOX_NONE)
        log_warn("run_python runs code WITHOUT isolation (--code-sandbox none): limits only");
    else
        log_info("run_python: code runs in a bubblewrap sandbox (no network, private /tmp, %u s limit)",
                 D.cfg.code_timeout_ms / 1000);
}

int main(int argc, char **argv)
{
    gl_xalloc_init();
    gl_log_set_name("gliveD");
    gld_config_defaults(&D.cfg);
    gl_err err;
    int rc = gld_config_load(&D.cfg, argc, argv, &err);
    if (rc == 1)
        return 0;
    if (rc != 0) {
        fprintf(stderr, "gliveD: %s\n", err.msg);
        return 2;
    }
    if (gld_config_find_key(&D.cfg, &err) != 0) {
        if (strcmp(err.code, "bad_key") == 0) { /* present but unusable: say so now, not later */
            fprintf(stderr, "gliveD: %s\n", err.msg);
            return 1;
        }
        log_warn("%s; sessions will fail until one is configured", err.msg);
    }
    else
        log_info("API key from %s", D.cfg.api_key_source);
    if (D.cfg.state_dir[0] && gld_persist_check(D.cfg.state_dir, &err) != 0) {
        fprintf(stderr, "gliveD: state dir: %s\n", err.msg); /* sessions would vanish on restart */
        return 1;
    }
    /* the CA certificates are parsed by the first connection, not before listening */
    if (!(D.tls = gl_tls_client_ctx_lazy(D.cfg.ca_file[0] ? D.cfg.ca_file : NULL, &err))) {
        fprintf(stderr, "gliveD: %s\n", err.msg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    fit_open_files();
    D.loop = uv_default_loop();
    D.net = &gld_upstream_ws;
    D.started_ms = uv_now(D.loop);
    ipc_opts io = {.path = D.cfg.socket_path, .max_line = D.cfg.max_line,
                   .max_output = D.cfg.max_output, .max_output_total = D.cfg.max_output_total,
                   .max_clients = D.cfg.max_clients};
    static const ipc_handlers ih = {on_line, on_disconnect, on_busy};
    if (!(D.ipc = ipc_start(D.loop, &io, &ih, &D, &err))) {
        fprintf(stderr, "gliveD: %s\n", err.msg);
        SSL_CTX_free(D.tls);
        return 1;
    }
    uv_signal_init(D.loop, &sig_term);
    uv_signal_init(D.loop, &sig_int);
    uv_signal_init(D.loop, &sig_hup);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_signal_start(&sig_hup, on_signal, SIGHUP);
    uv_timer_init(D.loop, &trim_timer);
    uv_timer_start(&trim_timer, on_trim_timer, TRIM_TICK_MS, TRIM_TICK_MS);
    uv_unref((uv_handle_t *)&trim_timer); /* never what keeps the loop running */
    log_info("listening on %s; Live API at %s (model %s)", D.cfg.socket_path, D.cfg.endpoint,
             D.cfg.model);
    probe_sandbox();
    if (D.cfg.state_dir[0]) {
        int n = gld_persist_load_all(D.cfg.state_dir, restore_one, NULL, &err);
        if (n < 0)
            log_error("state: %s", err.msg);
        else if (n > 0)
            log_info("state: %d session(s) restored from %s", n, D.cfg.state_dir);
    }
    uv_run(D.loop, UV_RUN_DEFAULT);
    gld_tools_free_all(&D);
    if (uv_loop_close(D.loop) != 0)
        log_warn("event loop closed with handles still open");
    SSL_CTX_free(D.tls);
    log_info("stopped");
    return 0;
}
