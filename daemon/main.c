/* gliveD: keeps named Gemini Live sessions open on one libuv loop and serves local clients over
 * a Unix socket (proto/PROTOCOL.md). Runs in the foreground, logs to stderr; under systemd it
 * takes its socket from socket activation and reports its state (daemon/systemd.h). */
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
#include "daemon/systemd.h"
#include "daemon/tools.h"
#include "transport/tls.h"

static gld_daemon D;
static uv_signal_t sig_term, sig_int, sig_hup;
static gld_sd_notify notify;
static uv_timer_t watchdog_timer, status_timer; /* only while notify.fd is open */
static char status_sent[128];

/* ---- systemd: the state it shows (STATUS=), the watchdog ---------------------------------- */

static void status_text(char *out, size_t n)
{
    unsigned sessions = 0;
    for (gld_session *s = D.sessions; s; s = gld_session_next(s))
        sessions++;
    ipc_stats st = {0};
    if (D.ipc)
        ipc_get_stats(D.ipc, &st);
    snprintf(out, n, "%u session%s, %u client%s", sessions, sessions == 1 ? "" : "s", st.clients,
             st.clients == 1 ? "" : "s");
}

/* READY=1 (first, and after a reload) or a changed STATUS=. */
static void notify_status(bool ready)
{
    char text[96], msg[160];
    status_text(text, sizeof text);
    if (!ready && strcmp(text, status_sent) == 0)
        return;
    snprintf(status_sent, sizeof status_sent, "%s", text);
    snprintf(msg, sizeof msg, "%sSTATUS=%s", ready ? "READY=1\n" : "", text);
    gld_sd_notify_send(&notify, msg);
}

static void on_status_timer(uv_timer_t *t)
{
    (void)t;
    notify_status(false);
}

static void on_watchdog(uv_timer_t *t)
{
    (void)t;
    gld_sd_notify_send(&notify, "WATCHDOG=1");
}

/* After the socket listens and saved sessions are back: READY=1, then a STATUS= check every 2 s
 * (sent only when it changed) and the watchdog pings. Both timers are unreferenced: they never
 * keep the loop alive at shutdown. */
static void notify_ready(void)
{
    if (notify.fd < 0)
        return;
    notify_status(true);
    uv_timer_init(D.loop, &status_timer);
    uv_timer_start(&status_timer, on_status_timer, 2000, 2000);
    uv_unref((uv_handle_t *)&status_timer);
    if (notify.watchdog_usec) {
        uint64_t ms = notify.watchdog_usec / 2000; /* half of it, as sd_watchdog_enabled(3) says */
        uv_timer_init(D.loop, &watchdog_timer);
        uv_timer_start(&watchdog_timer, on_watchdog, 0, ms ? ms : 1);
        uv_unref((uv_handle_t *)&watchdog_timer);
        log_info("systemd watchdog: a ping every %llu ms", (unsigned long long)(ms ? ms : 1));
    }
}

static void notify_stopping(void)
{
    if (notify.fd < 0)
        return;
    gld_sd_notify_send(&notify, "STOPPING=1\nSTATUS=stopping: closing sessions");
    uv_close((uv_handle_t *)&status_timer, NULL);
    if (notify.watchdog_usec) /* pings would only say the loop turns while sessions close */
        uv_close((uv_handle_t *)&watchdog_timer, NULL);
}

/* ---- the loop's handlers -------------------------------------------------------------------- */
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
static void on_drain(ipc_client *c, void *ud) { gld_dispatch_drained(ud, c); }

static void shutdown_daemon(int signum)
{
    if (D.stopping)
        return;
    D.stopping = true;
    log_info("signal %d: stopping (closing sessions, then the socket)", signum);
    notify_stopping();
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
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        char msg[96]; /* systemd (253+) wants the time the reload began with RELOADING=1 */
        snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
                 (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
        gld_sd_notify_send(&notify, msg);
        int rc = gld_config_reload(&D.cfg, &err);
        if (notify.fd >= 0)
            notify_status(true);
        if (rc != 0)
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

/* gliveD's own process holds group g (it may then give a file that group). */
static bool in_group(gid_t g)
{
    if (getegid() == g)
        return true;
    gid_t v[256]; /* a daemon in more groups than this is told below, not harmed */
    int n = getgroups(sizeof v / sizeof *v, v);
    for (int i = 0; i < n; i++)
        if (v[i] == g)
            return true;
    return false;
}

/* Who may connect (daemon/access.h): the lists of the config, and the socket group when it
 * exists (a name, or a gid as is). A missing group is not fatal: the socket then stays 0600,
 * which refuses more, never less, and the operator is told what to do. A socket gliveD makes
 * itself can only get a group gliveD is in (or any, as root): a user running gliveD by hand,
 * outside the group, keeps a 0600 socket and is told so once, quietly (the default group is
 * the system service's). */
static void build_policy(bool inherited)
{
    gld_peer_policy *p = &D.policy;
    memset(p, 0, sizeof *p);
    p->self = geteuid();
    p->nuids = D.cfg.allow_uids.n;
    memcpy(p->uids, D.cfg.allow_uids.id, sizeof p->uids);
    p->ngids = D.cfg.allow_gids.n;
    memcpy(p->gids, D.cfg.allow_gids.id, sizeof p->gids);
    const char *g = D.cfg.socket_group;
    if (!*g)
        return;
    snprintf(p->group_name, sizeof p->group_name, "%s", g);
    bool number = strspn(g, "0123456789") == strlen(g) && strlen(g) < 11;
    unsigned gid = 0;
    int rc = 0;
    if (number && strtoull(g, NULL, 10) < 0xffffffffull) /* (gid_t)-1 is "no group" */
        gid = (unsigned)strtoul(g, NULL, 10);
    else
        rc = gld_lookup_id(g, true, &gid);
    const char *others = p->nuids || p->ngids ? " and those of --allow-uid/--allow-group" : "";
    if (rc != 0) {
        log_warn("socket group \"%s\" does not exist%s%s: the socket is mode 0600, only uid %u%s%s "
                 "may connect. Create the group (systemd-sysusers with gliveD's sysusers.d file, "
                 "or groupadd --system %s), or set --socket-group (\"\" for none)", g,
                 rc != ENOENT ? ": " : "", rc != ENOENT ? strerror(rc) : "", (unsigned)p->self,
                 p->self ? " and root" : "", others, g);
        return;
    }
    if (!inherited && p->self != 0 && !in_group((gid_t)gid)) {
        log_info("socket group %s: gliveD (uid %u) is not in it, so it cannot give the socket that "
                 "group: the socket is mode 0600, only uid %u and root%s may connect "
                 "(--socket-group \"\" says so without this line)", g, (unsigned)p->self,
                 (unsigned)p->self, others);
        return;
    }
    p->group = (gid_t)gid;
    p->has_group = true;
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
    else {
        const char *why;
        bool full = gld_sandbox_profile(&why) == GLD_BWRAP_FULL;
        log_info("run_python: code runs in a bubblewrap sandbox (no network, private /tmp, %u s "
                 "limit%s)", D.cfg.code_timeout_ms / 1000,
                 full ? "" : "; no /proc, the service's IPC and UTS namespaces, no user namespaces "
                             "by a seccomp filter: the profile for gliveD.service's hardening");
        if (!full)
            log_info("run_python: the full profile cannot run here: %s", why);
    }
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
        gl_log_fatal("%s", err.msg);
        return 2;
    }
    if (gld_config_find_key(&D.cfg, &err) != 0) {
        if (strcmp(err.code, "bad_key") == 0) { /* present but unusable: say so now, not later */
            gl_log_fatal("%s", err.msg);
            return 1;
        }
        log_warn("%s; sessions will fail until one is configured", err.msg);
    }
    else
        log_info("API key from %s", D.cfg.api_key_source);
    if (D.cfg.state_dir[0] && gld_persist_check(D.cfg.state_dir, &err) != 0) {
        gl_log_fatal("state dir: %s", err.msg); /* sessions would vanish on restart */
        return 1;
    }
    /* the CA certificates are parsed by the first connection, not before listening */
    if (!(D.tls = gl_tls_client_ctx_lazy(D.cfg.ca_file[0] ? D.cfg.ca_file : NULL, &err))) {
        gl_log_fatal("%s", err.msg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    fit_open_files();
    int listen_fd;
    int activated = gld_sd_listen_fd(&listen_fd, &err);
    if (activated < 0) {
        gl_log_fatal("%s", err.msg);
        SSL_CTX_free(D.tls);
        return 1;
    }
    if (gld_sd_notify_open(&notify, &err) != 0)
        log_warn("%s", err.msg);
    build_policy(activated == 1);
    D.loop = uv_default_loop();
    D.net = &gld_upstream_ws;
    D.started_ms = uv_now(D.loop);
    ipc_opts io = {.path = D.cfg.socket_path, .max_line = D.cfg.max_line,
                   .max_output = D.cfg.max_output, .max_output_total = D.cfg.max_output_total,
                   .max_clients = D.cfg.max_clients, .policy = &D.policy,
                   .sender_timeout_ms = D.cfg.sender_timeout_ms,
                   .inherited = activated == 1, .fd = listen_fd};
    static const ipc_handlers ih = {on_line, on_disconnect, on_busy, on_drain};
    if (!(D.ipc = ipc_start(D.loop, &io, &ih, &D, &err))) {
        gl_log_fatal("%s", err.msg);
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
    log_info("listening on %s; Live API at %s (model %s)", ipc_path(D.ipc), D.cfg.endpoint,
             D.cfg.model);
    probe_sandbox();
    if (D.cfg.state_dir[0]) {
        int n = gld_persist_load_all(D.cfg.state_dir, restore_one, NULL, &err);
        if (n < 0)
            log_error("state: %s", err.msg);
        else if (n > 0)
            log_info("state: %d session(s) restored from %s", n, D.cfg.state_dir);
    }
    notify_ready();
    uv_run(D.loop, UV_RUN_DEFAULT);
    gld_sd_notify_close(&notify);
    gld_tools_free_all(&D);
    if (uv_loop_close(D.loop) != 0)
        log_warn("event loop closed with handles still open");
    SSL_CTX_free(D.tls);
    log_info("stopped");
    return 0;
}
