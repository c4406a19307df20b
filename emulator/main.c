/* glive-emulator: an offline Gemini Live API (BidiGenerateContent) server with a scripted
 * deterministic model and fault injection. See README.md and docs/emulator-script.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "common/log.h"
#include "common/xalloc.h"
#include "emulator/certs.h"
#include "emulator/rules.h"
#include "emulator/server.h"
#include "transport/tls.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: glive-emulator [options]\n"
            "  --listen HOST:PORT     address to serve (default 127.0.0.1:0; port 0 = ephemeral)\n"
            "  --port-file FILE       write the bound port to FILE once listening\n"
            "  --tls-dir DIR          CA and server certificate (created if missing; default\n"
            "                         ./glive-emulator-tls); clients trust DIR/ca.pem\n"
            "  --no-tls               serve plain ws:// instead of wss://\n"
            "  --script FILE          scripted model (JSON, docs/emulator-script.md); default built in\n"
            "  --time-scale F         multiply scripted delays by F (e.g. 0.01 in tests)\n"
            "  --lifetime SECONDS     connection lifetime before the cut (default 600)\n"
            "  --goaway-before SECONDS  goAway this long before the cut (default min(60, lifetime/6))\n"
            "  --max-message BYTES    largest client message accepted (default 16 MiB)\n"
            "  --api-key-file FILE    accept only this key (default: any non-empty key)\n"
            "  --deny-model NAME      answer setups for NAME with the service's 1008 not-found\n"
            "  --session-id           setupComplete carries a sessionId (as on Vertex)\n"
            "  --log-level LEVEL      error|warn|info|debug (default info)\n");
}

static uv_signal_t sigterm, sigint;
static emu_server *server;

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    log_info("signal %d: shutting down", signum);
    if (server)
        emu_server_stop(server);
    server = NULL;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

static int write_port_file(const char *path, int port)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        log_error("cannot write port file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static char *read_key_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[512];
    char *k = fgets(buf, sizeof buf, f) ? gl_xstrdup(buf) : NULL;
    fclose(f);
    if (k)
        k[strcspn(k, "\r\n")] = '\0';
    return k;
}

int main(int argc, char **argv)
{
    gl_xalloc_init();
    gl_log_set_name("glive-emulator");
    const char *listen = "127.0.0.1:0", *port_file = NULL, *tls_dir = "glive-emulator-tls";
    const char *script_path = NULL, *key_file = NULL;
    bool no_tls = false;
    emu_config cfg = {.time_scale = 1.0};
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},     {"port-file", required_argument, 0, 'p'},
        {"tls-dir", required_argument, 0, 't'},    {"no-tls", no_argument, 0, 'n'},
        {"script", required_argument, 0, 's'},     {"time-scale", required_argument, 0, 'x'},
        {"lifetime", required_argument, 0, 'L'},   {"goaway-before", required_argument, 0, 'g'},
        {"max-message", required_argument, 0, 'm'}, {"api-key-file", required_argument, 0, 'k'},
        {"deny-model", required_argument, 0, 'd'}, {"log-level", required_argument, 0, 'v'},
        {"session-id", no_argument, 0, 'i'},
        {"help", no_argument, 0, 'h'},             {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'l': listen = optarg; break;
        case 'p': port_file = optarg; break;
        case 't': tls_dir = optarg; break;
        case 'n': no_tls = true; break;
        case 's': script_path = optarg; break;
        case 'x': cfg.time_scale = strtod(optarg, NULL); break;
        case 'L': cfg.lifetime_ms = (unsigned)(strtod(optarg, NULL) * 1000); break;
        case 'g': cfg.goaway_before_ms = (unsigned)(strtod(optarg, NULL) * 1000); break;
        case 'm': cfg.max_message = (size_t)strtoull(optarg, NULL, 10); break;
        case 'k': key_file = optarg; break;
        case 'd': emu_model_deny(optarg); break;
        case 'i': cfg.session_id = true; break;
        case 'v': {
            enum gl_log_level lvl;
            if (gl_log_parse_level(optarg, &lvl) != 0) {
                fprintf(stderr, "glive-emulator: unknown log level %s\n", optarg);
                return 2;
            }
            gl_log_set_level(lvl);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || cfg.time_scale <= 0) {
        usage(stderr);
        return 2;
    }
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen) {
        fprintf(stderr, "glive-emulator: --listen wants HOST:PORT\n");
        return 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
    if (host[0] == '[') { /* [::1]:port */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    cfg.host = host;
    cfg.port = atoi(colon + 1);

    gl_err err;
    char *api_key = NULL;
    if (key_file && !(api_key = read_key_file(key_file))) {
        fprintf(stderr, "glive-emulator: cannot read %s\n", key_file);
        return 1;
    }
    cfg.api_key = api_key;
    if (!no_tls) {
        char cert[4096], key[4096];
        if (emu_certs_ensure(tls_dir, &err) != 0) {
            fprintf(stderr, "glive-emulator: %s\n", err.msg);
            return 1;
        }
        snprintf(cert, sizeof cert, "%s/server.pem", tls_dir);
        snprintf(key, sizeof key, "%s/server-key.pem", tls_dir);
        if (!(cfg.tls = gl_tls_server_ctx(cert, key, &err))) {
            fprintf(stderr, "glive-emulator: %s\n", err.msg);
            return 1;
        }
    }
    if (!(cfg.script = emu_script_load(script_path, &err))) {
        fprintf(stderr, "glive-emulator: %s\n", err.msg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN); /* a peer that vanished mid-write is an error return, not death */
    struct rlimit rl; /* one fd per connection: allow as many as the hard limit does */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    uv_loop_t *loop = uv_default_loop();
    server = emu_server_start(loop, &cfg, &err);
    if (!server) {
        fprintf(stderr, "glive-emulator: %s\n", err.msg);
        return 1;
    }
    int port = emu_server_port(server);
    if (port_file && write_port_file(port_file, port) != 0)
        return 1;
    log_info("serving %s://%s:%d (time scale %g)", cfg.tls ? "wss" : "ws", host, port,
             cfg.time_scale);
    uv_signal_init(loop, &sigterm);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    emu_script_free(cfg.script);
    SSL_CTX_free(cfg.tls);
    free(api_key);
    return 0;
}
