#include "daemon/config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/paths.h"
#include "proto/version.h"
#include "daemon/models.h"


/* Every setting, by its long option name: one table for argv and the config file. */
enum opt_kind { O_STR, O_SIZE, O_UINT, O_SECONDS, O_LEVEL };
struct opt {
    const char *name;
    enum opt_kind kind;
    size_t off, size;
    bool live; /* applied again on SIGHUP */
    const char *help;
};

#define STR(f) O_STR, offsetof(gld_config, f), sizeof(((gld_config *)0)->f)
#define NUM(k, f) k, offsetof(gld_config, f), sizeof(((gld_config *)0)->f)
static const struct opt OPTS[] = {
    {"socket", STR(socket_path), false, "PATH  Unix socket (default $GLIVE_SOCKET, else $RUNTIME_DIRECTORY/gliveD.sock, else $XDG_RUNTIME_DIR/glive/gliveD.sock, else /run/glive/gliveD.sock)"},
    {"endpoint", STR(endpoint), false, "URL  Live API base, wss://host[:port] (default " GLD_DEFAULT_ENDPOINT ")"},
    {"ca-file", STR(ca_file), false, "FILE  trust this CA (PEM) instead of the system store"},
    {"state-dir", STR(state_dir), false, "DIR  where sessions are kept across restarts"},
    {"model", STR(model), true, "NAME  default model (default " GLD_DEFAULT_MODEL ")"},
    {"api-key-file", STR(api_key_file), false, "FILE  read the API key from FILE"},
    {"api-version", STR(api_version), false, "VER  v1beta (default), v1alpha or v1"},
    {"log-level", NUM(O_LEVEL, log_level), true, "LEVEL  error|warn|info|debug (default info)"},
    {"max-line", NUM(O_SIZE, max_line), false, "BYTES  longest request line (default 1048576)"},
    {"max-output", NUM(O_SIZE, max_output), false, "BYTES  output a client may leave unread before it is dropped (default 16777216)"},
    {"max-clients", NUM(O_UINT, max_clients), false, "N  local clients connected at once (default 1024)"},
    {"max-message", NUM(O_SIZE, max_message), false, "BYTES  largest Live API message (default 16777216)"},
    {"max-queue", NUM(O_UINT, max_queue), true, "N  prompts queued per session before `busy` (default 64)"},
    {"ping-interval", NUM(O_SECONDS, ping_interval_ms), false, "S  keepalive ping interval (default 30)"},
    {"pong-timeout", NUM(O_SECONDS, pong_timeout_ms), false, "S  keepalive pong timeout (default 90)"},
    {"backoff-min", NUM(O_SECONDS, backoff_min_ms), true, "S  first reconnect delay after a failure (default 0.25; doubles, with jitter)"},
    {"backoff-max", NUM(O_SECONDS, backoff_max_ms), true, "S  longest reconnect delay (default 30)"},
    {"tool-timeout", NUM(O_SECONDS, tool_timeout_ms), true, "S  time a function call may take unless its handler says otherwise (default 30)"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

void gld_config_defaults(gld_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", GLD_DEFAULT_ENDPOINT);
    snprintf(c->model, sizeof c->model, "%s", GLD_DEFAULT_MODEL);
    snprintf(c->api_version, sizeof c->api_version, "v1beta");
    c->log_level = GL_LOG_INFO;
    c->max_line = 1u << 20;
    c->max_output = 16u << 20;
    c->max_message = 16u << 20;
    c->max_queue = 64;
    c->max_clients = 1024;
    c->ping_interval_ms = 30000;
    c->pong_timeout_ms = 90000;
    c->backoff_min_ms = 250;
    c->backoff_max_ms = 30000;
    c->tool_timeout_ms = 30000;
}

static int set_opt(gld_config *c, const struct opt *o, const char *v, gl_err *err)
{
    char *field = (char *)c + o->off;
    char *end;
    switch (o->kind) {
    case O_STR:
        if (strlen(v) >= o->size)
            return gl_fail(err, "bad_config", "--%s: value too long", o->name);
        snprintf(field, o->size, "%s", v);
        return 0;
    case O_SIZE: {
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || end == v || n == 0)
            return gl_fail(err, "bad_config", "--%s wants a positive number of bytes, not \"%s\"", o->name, v);
        *(size_t *)field = (size_t)n;
        return 0;
    }
    case O_UINT: {
        errno = 0;
        unsigned long n = strtoul(v, &end, 10);
        if (errno || *end || end == v || n == 0 || n > 1000000)
            return gl_fail(err, "bad_config", "--%s wants a positive number, not \"%s\"", o->name, v);
        *(unsigned *)field = (unsigned)n;
        return 0;
    }
    case O_SECONDS: {
        double s = strtod(v, &end);
        if (*end || end == v || s <= 0 || s > 86400)
            return gl_fail(err, "bad_config", "--%s wants seconds (0 < S <= 86400), not \"%s\"", o->name, v);
        *(unsigned *)field = (unsigned)(s * 1000);
        return 0;
    }
    case O_LEVEL:
        if (gl_log_parse_level(v, (enum gl_log_level *)field) != 0)
            return gl_fail(err, "bad_config", "--log-level wants error|warn|info|debug, not \"%s\"", v);
        return 0;
    }
    return 0;
}

static const struct opt *find_opt(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(OPTS[i].name, name) == 0)
            return &OPTS[i];
    return NULL;
}

/* Applies the JSON config file; live_only: only settings marked live (SIGHUP). */
static int load_file(gld_config *c, const char *path, bool live_only, gl_err *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return gl_fail(err, "bad_config", "%s:%d: %s", path, je.line, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return gl_fail(err, "bad_config", "%s: the config file must hold one JSON object", path);
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        const struct opt *o = find_opt(key);
        char buf[64];
        const char *s = json_string_value(v);
        if (!o) {
            rc = strcmp(key, "api-key") == 0
                     ? gl_fail(err, "bad_config", "%s: put the API key in a file (api-key-file), not in the config", path)
                     : gl_fail(err, "bad_config", "%s: unknown setting \"%s\"", path, key);
            break;
        }
        if (json_is_integer(v))
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v)), s = buf;
        else if (json_is_real(v))
            snprintf(buf, sizeof buf, "%g", json_real_value(v)), s = buf;
        if (!s) {
            rc = gl_fail(err, "bad_config", "%s: \"%s\" must be a string or a number", path, key);
            break;
        }
        if (live_only && !o->live)
            continue;
        if ((rc = set_opt(c, o, s, err)) != 0)
            break;
    }
    json_decref(root);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: gliveD [--config FILE] [options]\n"
               "Keeps named Gemini Live sessions open and serves local clients on a Unix socket.\n"
               "  --config FILE  JSON object of the settings below (keys are the option names)\n");
    for (size_t i = 0; i < NOPTS; i++)
        fprintf(f, "  --%s %s\n", OPTS[i].name, OPTS[i].help);
    fprintf(f, "API key: --api-key-file, $CREDENTIALS_DIRECTORY/gemini-api-key, $GEMINI_API_KEY or\n"
               "$GOOGLE_API_KEY (never on the command line). Signals: TERM/INT stop, HUP reloads.\n");
}

int gld_config_load(gld_config *c, int argc, char **argv, gl_err *err)
{
    struct option lopts[NOPTS + 4];
    for (size_t i = 0; i < NOPTS; i++)
        lopts[i] = (struct option){OPTS[i].name, required_argument, 0, 1000 + (int)i};
    lopts[NOPTS] = (struct option){"config", required_argument, 0, 'c'};
    lopts[NOPTS + 1] = (struct option){"help", no_argument, 0, 'h'};
    lopts[NOPTS + 2] = (struct option){"version", no_argument, 0, 'V'};
    lopts[NOPTS + 3] = (struct option){0, 0, 0, 0};
    /* pass 1: --config, --help, --version */
    int o;
    opterr = 0;
    optind = 0;
    while ((o = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
        if (o == 'h') {
            usage(stdout);
            return 1;
        }
        if (o == 'V') {
            printf("gliveD %s\n", GL_VERSION);
            return 1;
        }
        if (o == 'c')
            snprintf(c->config_file, sizeof c->config_file, "%s", optarg);
        if (o == '?')
            return gl_fail(err, "usage", "unknown or incomplete option %s (see --help)", argv[optind - 1]);
    }
    if (optind < argc)
        return gl_fail(err, "usage", "unexpected argument \"%s\" (see --help)", argv[optind]);
    if (c->config_file[0] && load_file(c, c->config_file, false, err) != 0)
        return -1;
    /* pass 2: the command line wins over the file */
    optind = 0;
    while ((o = getopt_long(argc, argv, "", lopts, NULL)) != -1)
        if (o >= 1000 && set_opt(c, &OPTS[o - 1000], optarg, err) != 0)
            return -1;
    if (!c->socket_path[0] && gl_default_socket_path(c->socket_path, sizeof c->socket_path, err) != 0)
        return -1;
    if (strncmp(c->endpoint, "wss://", 6) != 0 && strncmp(c->endpoint, "ws://", 5) != 0)
        return gl_fail(err, "bad_config", "--endpoint must start with wss:// (or ws:// for tests)");
    size_t el = strlen(c->endpoint);
    while (el > 0 && c->endpoint[el - 1] == '/') /* we add the path */
        c->endpoint[--el] = '\0';
    gl_log_set_level(c->log_level);
    return 0;
}

int gld_config_reload(gld_config *c, gl_err *err)
{
    if (!c->config_file[0])
        return 0;
    gld_config tmp = *c;
    if (load_file(&tmp, c->config_file, true, err) != 0)
        return -1;
    *c = tmp;
    gl_log_set_level(c->log_level);
    return 0;
}

/* Reads the first line of a key file into c->api_key. */
static int read_key(gld_config *c, const char *path, gl_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gl_fail(err, "no_key", "cannot read API key file %s: %s", path, strerror(errno));
    char line[sizeof c->api_key];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || !line[0])
        return gl_fail(err, "no_key", "API key file %s is empty", path);
    snprintf(c->api_key, sizeof c->api_key, "%s", line);
    snprintf(c->api_key_source, sizeof c->api_key_source, "file %s", path);
    return 0;
}

int gld_config_find_key(gld_config *c, gl_err *err)
{
    if (c->api_key_file[0])
        return read_key(c, c->api_key_file, err);
    const char *cred = getenv("CREDENTIALS_DIRECTORY");
    if (cred && *cred) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/gemini-api-key", cred);
        FILE *f = fopen(path, "r");
        if (f) {
            fclose(f);
            return read_key(c, path, err);
        }
    }
    static const char *envs[] = {"GEMINI_API_KEY", "GOOGLE_API_KEY"};
    for (int i = 0; i < 2; i++) {
        const char *v = getenv(envs[i]);
        if (v && *v) {
            if (strlen(v) >= sizeof c->api_key)
                return gl_fail(err, "no_key", "$%s is too long to be an API key", envs[i]);
            snprintf(c->api_key, sizeof c->api_key, "%s", v);
            snprintf(c->api_key_source, sizeof c->api_key_source, "$%s", envs[i]);
            return 0;
        }
    }
    return gl_fail(err, "no_key",
                   "no API key: set GEMINI_API_KEY, or use --api-key-file or systemd credentials "
                   "(gemini-api-key)");
}
