#include "daemon/config.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <math.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/paths.h"
#include "common/xalloc.h"
#include "proto/errors.h"
#include "proto/version.h"
#include "daemon/models.h"
#include "transport/url.h"


/* Every setting, by its long option name: one table for argv, the config file and --help.
 * min..max is the allowed range in the option's unit: bytes, a count, milliseconds (O_SECONDS
 * values are given in seconds), for strings the length (min 1: must not be empty), for lists of
 * users or groups (O_UIDS, O_GIDS: names or numbers, comma-separated, or a JSON array in the
 * file) the number of entries. */
enum opt_kind { O_STR, O_BYTES, O_COUNT, O_SECONDS, O_LEVEL, O_CHOICE, O_UIDS, O_GIDS };
struct opt {
    const char *name;
    enum opt_kind kind;
    size_t off, size;
    unsigned long long min, max;
    const char *choices; /* O_CHOICE: "a|b|c", stored as the index (an unsigned) */
    bool live; /* applied again on SIGHUP */
    const char *help;
};

#define FIELD(f) offsetof(gld_config, f), sizeof(((gld_config *)0)->f)
#define STR(f, min) O_STR, FIELD(f), min, sizeof(((gld_config *)0)->f) - 1, NULL
#define NUM(k, f, min, max) k, FIELD(f), min, max, NULL
#define CHOICE(f, list) O_CHOICE, FIELD(f), 0, 0, list
#define IDS(k, f) k, FIELD(f), 0, GLD_MAX_ALLOW, NULL
#define KIB 1024ull
#define MIB (1024ull * 1024)
static const struct opt OPTS[] = {
    {"socket", STR(socket_path, 1), false, "PATH  Unix socket (default $GLIVE_SOCKET, else $RUNTIME_DIRECTORY/gliveD.sock, else $XDG_RUNTIME_DIR/glive/gliveD.sock, else /run/glive/gliveD.sock)"},
    {"endpoint", STR(endpoint, 1), false, "URL  Live API base, wss://host[:port] (default " GLD_DEFAULT_ENDPOINT ")"},
    {"ca-file", STR(ca_file, 0), false, "FILE  trust this CA (PEM) instead of the system store"},
    {"state-dir", STR(state_dir, 0), false, "DIR  where sessions are kept across restarts"},
    {"model", STR(model, 1), true, "NAME  default model (default " GLD_DEFAULT_MODEL ")"},
    {"api-key-file", STR(api_key_file, 0), false, "FILE  read the API key from FILE"},
    /* Who may connect (daemon/access.h); read at start only: a restart applies a change, and
     * it also ends the connections of whoever lost access. */
    {"socket-group", STR(socket_group, 0), false, "GROUP  the socket's group (name or gid): the socket is mode 0660 and the group's members may connect; \"\" for none (mode 0600) (default glive)"},
    {"allow-uid", IDS(O_UIDS, allow_uids), false, "LIST  also serve these users: names or uids, comma-separated (at most 64; the socket becomes mode 0666, gliveD checks each peer) (default none)"},
    {"allow-group", IDS(O_GIDS, allow_gids), false, "LIST  also serve the members of these groups: names or gids, comma-separated (at most 64; as --allow-uid) (default none)"},
    {"api-version", STR(api_version, 1), false, "VER  v1beta (default), v1alpha or v1"},
    {"log-level", O_LEVEL, FIELD(log_level), 0, 0, NULL, true, "LEVEL  error|warn|info|debug (default info)"},
    /* A line buffer of max-line bytes per client, an output bound per client: the products with
     * max-clients stay within what one process can hold. */
    {"max-line", NUM(O_BYTES, max_line, 1 * KIB, 64 * MIB), false, "BYTES  longest request line"},
    {"max-output", NUM(O_BYTES, max_output, 64 * KIB, 1024 * MIB), false, "BYTES  output a client may leave unread before it is dropped (a running turn's asker is not: past min(1 MiB, a quarter of this) its session waits for it, see --sender-timeout)"},
    {"max-output-total", NUM(O_BYTES, max_output_total, 1 * MIB, 16384 * MIB), false, "BYTES  unread output of all clients together; past it the slowest reader is cut"},
    {"sender-timeout", NUM(O_SECONDS, sender_timeout_ms, 1000, 3600000), false, "S  a turn's asker that reads slower than the Live API sends makes its session wait (stops reading the service); one that reads nothing at all for S is disconnected (default 60)"},
    {"max-clients", NUM(O_COUNT, max_clients, 1, 65536), false, "N  local clients connected at once (lowered to fit the open-file limit)"},
    {"max-sessions-per-uid", NUM(O_COUNT, max_sessions_per_uid, 1, 10000), true, "N  sessions one uid may have (each holds a Live API connection)"},
    {"max-message", NUM(O_BYTES, max_message, 4 * KIB, 256 * MIB), false, "BYTES  largest Live API message"},
    {"max-queue", NUM(O_COUNT, max_queue, 1, 10000), true, "N  prompts queued per session before `busy`"},
    /* Timers: a floor well above 0 ms so that no setting can make a timer spin. */
    {"ping-interval", NUM(O_SECONDS, ping_interval_ms, 100, 3600000), false, "S  keepalive ping interval"},
    {"pong-timeout", NUM(O_SECONDS, pong_timeout_ms, 100, 3600000), false, "S  keepalive pong timeout"},
    /* 0 turns it off; otherwise whole milliseconds (a timer of at least 1 ms: no spinning) */
    {"read-coalesce", NUM(O_SECONDS, read_coalesce_ms, 0, 100), false, "S  while a Live API connection floods (small reads under 0.2 ms apart), wake for it once 16 KiB are waiting or after S at the latest, not at every arrival: fewer wakeups, the tail of a flood up to S later; 0: at every arrival"},
    {"backoff-min", NUM(O_SECONDS, backoff_min_ms, 10, 3600000), true, "S  first reconnect delay after a failure; doubles, with jitter"},
    {"backoff-max", NUM(O_SECONDS, backoff_max_ms, 10, 3600000), true, "S  longest reconnect delay (not below backoff-min)"},
    {"tool-timeout", NUM(O_SECONDS, tool_timeout_ms, 10, 86400000), true, "S  time a function call may take unless its handler says otherwise"},
    {"idle-timeout", NUM(O_SECONDS, idle_timeout_ms, 1000, 604800000), true, "S  a session without turns, calls or subscribers closes its Live API connection after this (its conversation is kept: the next use resumes it)"},
    /* Code execution: today's Live models have none; gliveD then serves run_python itself. */
    {"code-exec", CHOICE(code_exec, "auto|local|server|off"), true, "MODE  code execution for sessions that ask for it: auto (local where the model has none; default), local, server, off"},
    {"code-sandbox", CHOICE(code_sandbox, "bwrap|none"), false, "MODE  how local code runs: bwrap (namespaces; default) or none (rlimits only: no isolation)"},
    {"code-timeout", NUM(O_SECONDS, code_timeout_ms, 1000, 3600000), true, "S  wall-clock limit of one run_python"},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

void gld_config_defaults(gld_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", GLD_DEFAULT_ENDPOINT);
    snprintf(c->model, sizeof c->model, "%s", GLD_DEFAULT_MODEL);
    snprintf(c->api_version, sizeof c->api_version, "v1beta");
    snprintf(c->socket_group, sizeof c->socket_group, "glive");
    c->log_level = GL_LOG_INFO;
    c->max_line = 1u << 20;
    c->max_output = 16u << 20;
    c->max_message = 16u << 20;
    c->max_queue = 64;
    c->max_clients = 1024;
    c->max_output_total = 256u << 20;
    c->sender_timeout_ms = 60000;
    c->max_sessions_per_uid = 64;
    c->ping_interval_ms = 30000;
    c->pong_timeout_ms = 90000;
    c->read_coalesce_ms = 1;
    c->backoff_min_ms = 250;
    c->backoff_max_ms = 30000;
    c->tool_timeout_ms = 30000;
    c->idle_timeout_ms = 300000;
    c->code_exec = GLD_CODE_EXEC_AUTO;
    c->code_sandbox = GLD_CODE_SANDBOX_BWRAP;
    c->code_timeout_ms = 60000;
}

static const struct opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(OPTS[i].name) == len && strncmp(OPTS[i].name, name, len) == 0)
            return &OPTS[i];
    return NULL;
}

/* "1024..67108864" or, for seconds, "0.01..3600". */
static void fmt_range(const struct opt *o, char *out, size_t n)
{
    if (o->kind == O_SECONDS)
        snprintf(out, n, "%g..%g", o->min / 1000.0, o->max / 1000.0);
    else
        snprintf(out, n, "%llu..%llu", o->min, o->max);
}

static unsigned long long get_num(const gld_config *c, const struct opt *o)
{
    const char *field = (const char *)c + o->off;
    return o->size == sizeof(size_t) ? *(const size_t *)field : *(const unsigned *)field;
}

static void put_num(gld_config *c, const struct opt *o, unsigned long long v)
{
    char *field = (char *)c + o->off;
    if (o->size == sizeof(size_t))
        *(size_t *)field = (size_t)v;
    else
        *(unsigned *)field = (unsigned)v;
}

/* The one error for a numeric value that cannot be used: the option, the rule, the value. */
static int num_fail(const char *who, const struct opt *o, const char *shown, gl_err *err)
{
    char range[64];
    fmt_range(o, range, sizeof range);
    const char *what = o->kind == O_SECONDS ? "seconds"
                       : o->kind == O_BYTES ? "a whole number of bytes"
                                            : "a whole number";
    return gl_fail(err, "bad_config", "%s wants %s in %s, not %s", who, what, range, shown);
}

/* Checks v (in the option's unit, before rounding) against the range and stores it. Seconds are
 * kept to the nearest millisecond; the small slack lets 0.29 s (289.99999999999994 ms) pass. */
static int put_checked(gld_config *c, const struct opt *o, double v, const char *who,
                       const char *shown, gl_err *err)
{
    if (!isfinite(v) || v < (double)o->min - 1e-6 || v > (double)o->max + 1e-6 ||
        (v > 0 && llround(v) == 0)) /* 0.0001 s is not 0 (where 0 is allowed: "off") */
        return num_fail(who, o, shown, err);
    put_num(c, o, (unsigned long long)llround(v));
    return 0;
}

/* A number as typed: digits, for seconds optionally with a fraction ("0.25", ".5"). No sign, no
 * spaces, no exponent, hex, inf or nan, nothing after it: strtoull would take "-2" as 2^64-2. */
static bool plain_number(const char *v, bool fraction)
{
    size_t digits = strspn(v, "0123456789");
    const char *p = v + digits;
    if (fraction && *p == '.') {
        size_t more = strspn(p + 1, "0123456789");
        if (!more)
            return false;
        p += 1 + more;
        digits += more;
    }
    return digits > 0 && *p == '\0';
}

int gld_lookup_id(const char *name, bool group, unsigned *id)
{
    size_t size = 16384; /* plenty for most; a group listing thousands of members needs more */
    for (;;) {
        char *buf = gl_xmalloc(size);
        int rc;
        if (group) {
            struct group gr, *res = NULL;
            rc = getgrnam_r(name, &gr, buf, size, &res);
            if (res)
                *id = gr.gr_gid;
            rc = res ? 0 : rc ? rc : ENOENT;
        } else {
            struct passwd pw, *res = NULL;
            rc = getpwnam_r(name, &pw, buf, size, &res);
            if (res)
                *id = pw.pw_uid;
            rc = res ? 0 : rc ? rc : ENOENT;
        }
        free(buf);
        if (rc != ERANGE || size >= ((size_t)16 << 20)) /* bounded: 16 MiB */
            return rc;
        size *= 4;
    }
}

/* One user or group (a name, or a number: a uid or gid) appended to the list at field. Names are
 * looked up now (NSS), so a typo is an error at start, not a peer refused later. */
static int add_id(char *field, enum opt_kind kind, const char *tok, size_t len, const char *who,
                  gl_err *err)
{
    gld_id_list *l = (gld_id_list *)field;
    bool group = kind == O_GIDS;
    char name[64];
    if (len == 0 || len >= sizeof name)
        return gl_fail(err, "bad_config", "%s wants %s names or numbers of 1..%zu characters", who,
                       group ? "group" : "user", sizeof name - 1);
    memcpy(name, tok, len);
    name[len] = '\0';
    if (l->n >= GLD_MAX_ALLOW)
        return gl_fail(err, "bad_config", "%s takes at most %d entries", who, GLD_MAX_ALLOW);
    unsigned long long id;
    if (plain_number(name, false)) {
        id = strtoull(name, NULL, 10);
        if (id >= (unsigned long long)(unsigned)-1) /* (uid_t)-1 means "no id" to the kernel */
            return gl_fail(err, "bad_config", "%s: %s is not a %s", who, name, group ? "gid" : "uid");
    } else {
        unsigned found;
        int rc = gld_lookup_id(name, group, &found);
        if (rc != 0)
            return gl_fail(err, "bad_config", "%s: no %s \"%s\"%s%s", who, group ? "group" : "user",
                           name, rc != ENOENT ? ": " : "", rc != ENOENT ? strerror(rc) : "");
        id = found;
    }
    l->id[l->n++] = (unsigned)id;
    return 0;
}

/* A comma-separated list ("alice, 1001"; "" or blanks: the empty list) replaces the list at
 * field; an empty entry ("a,,b") is an error. */
static int set_ids(char *field, enum opt_kind kind, const char *v, const char *who, gl_err *err)
{
    gld_id_list l = {0};
    const char *p = v + strspn(v, " \t");
    while (*p) {
        size_t n = strcspn(p, ","), t = n;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (add_id((char *)&l, kind, p, t, who, err) != 0)
            return -1;
        if (!p[n])
            break;
        p += n + 1;
        p += strspn(p, " \t");
        if (!*p) /* a trailing comma */
            return gl_fail(err, "bad_config", "%s: an empty entry after the last comma", who);
    }
    memcpy(field, &l, sizeof l);
    return 0;
}

/* Sets o from text (argv, or a string in the config file). who names it in errors. */
static int set_opt(gld_config *c, const struct opt *o, const char *v, const char *who, gl_err *err)
{
    char *field = (char *)c + o->off;
    char shown[48];
    switch (o->kind) {
    case O_STR: {
        size_t len = strlen(v);
        if (len == 0 && o->min > 0)
            return gl_fail(err, "bad_config", "%s must not be empty", who);
        if (len < o->min || len > o->max)
            return gl_fail(err, "bad_config", "%s wants %llu..%llu characters, got %zu", who, o->min,
                           o->max, len);
        memcpy(field, v, len + 1);
        return 0;
    }
    case O_BYTES:
    case O_COUNT:
    case O_SECONDS: {
        snprintf(shown, sizeof shown, "\"%.40s%s\"", v, strlen(v) > 40 ? "..." : "");
        if (!plain_number(v, o->kind == O_SECONDS))
            return num_fail(who, o, shown, err);
        double d = strtod(v, NULL);
        return put_checked(c, o, o->kind == O_SECONDS ? d * 1000 : d, who, shown, err);
    }
    case O_LEVEL:
        if (gl_log_parse_level(v, (enum gl_log_level *)field) != 0)
            return gl_fail(err, "bad_config", "%s wants error|warn|info|debug, not \"%.40s\"", who, v);
        return 0;
    case O_CHOICE: {
        size_t len = strlen(v);
        unsigned idx = 0;
        for (const char *p = o->choices; *p; idx++) {
            size_t n = strcspn(p, "|");
            if (n == len && strncmp(p, v, n) == 0) {
                *(unsigned *)field = idx;
                return 0;
            }
            p += n + (p[n] == '|');
        }
        return gl_fail(err, "bad_config", "%s wants %s, not \"%.40s\"", who, o->choices, v);
    }
    case O_UIDS:
    case O_GIDS:
        return set_ids(field, o->kind, v, who, err);
    }
    return 0;
}

/* Sets o from a config file value: strings as on the command line, JSON numbers directly (so
 * -2 stays -2 and 2048.5 is not an integer). */
static int set_json(gld_config *c, const struct opt *o, const json_t *v, const char *who, gl_err *err)
{
    if (json_is_string(v))
        return set_opt(c, o, json_string_value(v), who, err);
    if ((o->kind == O_UIDS || o->kind == O_GIDS) && json_is_array(v)) { /* ["alice", 1001] */
        gld_id_list l = {0};
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            char num[24];
            const char *tok = json_string_value(e);
            if (json_is_integer(e) && json_integer_value(e) >= 0) {
                snprintf(num, sizeof num, "%lld", (long long)json_integer_value(e));
                tok = num;
            }
            if (!tok)
                return gl_fail(err, "bad_config", "%s: entry %zu must be a name or a number", who, i);
            if (add_id((char *)&l, o->kind, tok, strlen(tok), who, err) != 0)
                return -1;
        }
        memcpy((char *)c + o->off, &l, sizeof l);
        return 0;
    }
    bool text = o->kind == O_STR || o->kind == O_LEVEL || o->kind == O_CHOICE || o->kind == O_UIDS ||
                o->kind == O_GIDS;
    if (text || !json_is_number(v))
        return gl_fail(err, "bad_config", "%s must be a %s", who,
                       !text ? "number" : o->kind == O_UIDS || o->kind == O_GIDS
                                              ? "string or an array of names and numbers" : "string");
    char shown[48];
    double d = json_number_value(v);
    if (json_is_integer(v))
        snprintf(shown, sizeof shown, "%lld", (long long)json_integer_value(v));
    else
        snprintf(shown, sizeof shown, "%.15g", d);
    if (o->kind != O_SECONDS && d != floor(d))
        return num_fail(who, o, shown, err);
    return put_checked(c, o, o->kind == O_SECONDS ? d * 1000 : d, who, shown, err);
}

/* Rules between settings, checked once everything is read. */
static int check_all(const gld_config *c, gl_err *err)
{
    if (c->backoff_min_ms > c->backoff_max_ms)
        return gl_fail(err, "bad_config", "backoff-min (%g s) must not exceed backoff-max (%g s)",
                       c->backoff_min_ms / 1000.0, c->backoff_max_ms / 1000.0);
    return 0;
}

/* Applies the JSON config file to c (every setting is checked); live_only: only settings marked
 * live are applied, the others are only checked (SIGHUP). */
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
    gld_config scratch = *c;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        const struct opt *o = find_opt(key, strlen(key));
        if (!o) {
            rc = strcmp(key, "api-key") == 0
                     ? gl_fail(err, "bad_config", "%s: put the API key in a file (api-key-file), not in the config", path)
                     : gl_fail(err, "bad_config", "%s: unknown setting \"%.64s\"", path, key);
            break;
        }
        char who[PATH_MAX + 80];
        snprintf(who, sizeof who, "%s: \"%s\"", path, key);
        if ((rc = set_json(&scratch, o, v, who, err)) != 0)
            break;
        if (!live_only || o->live)
            memcpy((char *)c + o->off, (char *)&scratch + o->off, o->size);
    }
    json_decref(root);
    return rc;
}

void gld_config_usage(FILE *f)
{
    gld_config def;
    gld_config_defaults(&def);
    fprintf(f, "usage: gliveD [--config FILE] [options]\n"
               "Keeps named Gemini Live sessions open and serves local clients on a Unix socket.\n"
               "  --config FILE  JSON object of the settings below (keys are the option names)\n");
    for (size_t i = 0; i < NOPTS; i++) {
        const struct opt *o = &OPTS[i];
        if (o->kind == O_STR || o->kind == O_LEVEL || o->kind == O_CHOICE || o->kind == O_UIDS ||
            o->kind == O_GIDS) {
            fprintf(f, "  --%s %s\n", o->name, o->help);
            continue;
        }
        char range[64];
        fmt_range(o, range, sizeof range);
        unsigned long long v = get_num(&def, o);
        if (o->kind == O_SECONDS)
            fprintf(f, "  --%s %s (%s, default %g)\n", o->name, o->help, range, v / 1000.0);
        else
            fprintf(f, "  --%s %s (%s, default %llu)\n", o->name, o->help, range, v);
    }
    fprintf(f, "API key: --api-key-file, $CREDENTIALS_DIRECTORY/gemini-api-key, $GEMINI_API_KEY or\n"
               "$GOOGLE_API_KEY (never on the command line). Signals: TERM/INT stop, HUP reloads.\n");
}

/* Walks argv: "--name VALUE" or "--name=VALUE", names matched exactly (getopt_long's prefix
 * matching would take "--api-key SECRET" for --api-key-file and print SECRET in its error).
 * Pass 1 (apply=false) checks the syntax and handles --config, --help, --version; pass 2 applies
 * the settings, so that they win over the config file. Never echoes a value it does not know
 * the meaning of: it may be a key. Returns 0, 1 (--help/--version done) or -1. */
static int scan_argv(gld_config *c, int argc, char **argv, bool apply, gl_err *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2])
            return gl_fail(err, "usage", "unexpected argument #%d (see --help)", i);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        bool flag = (nlen == 4 && !strncmp(name, "help", 4)) || (nlen == 7 && !strncmp(name, "version", 7));
        const struct opt *o = find_opt(name, nlen);
        bool is_config = nlen == 6 && !strncmp(name, "config", 6);
        if (nlen == 7 && !strncmp(name, "api-key", 7))
            return gl_fail(err, "usage", "the API key is never taken from the command line: use "
                           "--api-key-file FILE, $GEMINI_API_KEY or systemd credentials");
        if (!o && !flag && !is_config)
            return gl_fail(err, "usage", "unknown option --%.*s (see --help)", (int)(nlen > 64 ? 64 : nlen),
                           name);
        if (flag) {
            if (eq)
                return gl_fail(err, "usage", "--%.*s takes no value", (int)nlen, name);
            if (apply)
                continue;
            if (name[0] == 'h')
                gld_config_usage(stdout);
            else
                printf("gliveD %s\n", GL_VERSION);
            return 1;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v && (v = i + 1 < argc ? argv[++i] : NULL) == NULL)
            return gl_fail(err, "usage", "--%.*s needs a value (see --help)", (int)nlen, name);
        char who[80];
        snprintf(who, sizeof who, "--%.*s", (int)nlen, name);
        if (is_config && !apply) {
            if (!*v || strlen(v) >= sizeof c->config_file)
                return gl_fail(err, "usage", "--config wants a file name of 1..%zu characters",
                               sizeof c->config_file - 1);
            snprintf(c->config_file, sizeof c->config_file, "%s", v);
        } else if (o && apply && set_opt(c, o, v, who, err) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The endpoint, checked after every setting is in (file, then command line): the parser the
 * sessions use takes it here, so "wss:///" fails at start, once, not in every session. */
static int check_endpoint(gld_config *c, gl_err *err)
{
    if (strncmp(c->endpoint, "wss://", 6) != 0 && strncmp(c->endpoint, "ws://", 5) != 0)
        return gl_fail(err, "bad_config", "--endpoint must start with wss:// (or ws:// for tests)");
    gl_url url;
    gl_err uerr = {0};
    if (gl_url_parse(c->endpoint, &url, &uerr) != 0)
        return gl_fail(err, "bad_config", "--endpoint: %s", uerr.msg);
    size_t el = strlen(c->endpoint); /* a host is there, so the strip cannot reach it */
    while (el > 0 && c->endpoint[el - 1] == '/') /* we add the path */
        c->endpoint[--el] = '\0';
    return 0;
}

int gld_config_load(gld_config *c, int argc, char **argv, gl_err *err)
{
    int rc = scan_argv(c, argc, argv, false, err);
    if (rc != 0)
        return rc;
    if (c->config_file[0] && load_file(c, c->config_file, false, err) != 0)
        return -1;
    if (scan_argv(c, argc, argv, true, err) != 0) /* the command line wins over the file */
        return -1;
    if (check_all(c, err) != 0)
        return -1;
    if (!c->socket_path[0] && gl_default_socket_path(c->socket_path, sizeof c->socket_path, err) != 0)
        return -1;
    if (check_endpoint(c, err) != 0)
        return -1;
    gl_log_set_level(c->log_level);
    return 0;
}

int gld_config_reload(gld_config *c, gl_err *err)
{
    if (!c->config_file[0])
        return 0;
    gld_config tmp = *c;
    if (load_file(&tmp, c->config_file, true, err) != 0 || check_all(&tmp, err) != 0)
        return -1;
    *c = tmp;
    gl_log_set_level(c->log_level);
    return 0;
}

/* Reads the first line of a key file into c->api_key. */
static int find_key(gld_config *c, gl_err *err);

static int read_key(gld_config *c, const char *path, gl_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return gl_fail(err, GL_E_NO_KEY, "cannot read API key file %s: %s", path, strerror(errno));
    char line[sizeof c->api_key];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || !line[0])
        return gl_fail(err, GL_E_NO_KEY, "API key file %s is empty", path);
    snprintf(c->api_key, sizeof c->api_key, "%s", line);
    snprintf(c->api_key_source, sizeof c->api_key_source, "file %s", path);
    return 0;
}

/* A key goes into an HTTP header: anything but visible ASCII would break the request or inject
 * one (CR/LF). Real keys are letters, digits, '-' and '_'. */
static int check_key(gld_config *c, gl_err *err)
{
    for (const unsigned char *p = (const unsigned char *)c->api_key; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) {
            char where[sizeof c->api_key_source];
            snprintf(where, sizeof where, "%s", c->api_key_source);
            memset(c->api_key, 0, sizeof c->api_key);
            return gl_fail(err, "bad_key", "the API key from %s holds a space, control character or "
                           "non-ASCII byte at position %zu: refusing it", where,
                           (size_t)(p - (const unsigned char *)c->api_key));
        }
    return 0;
}

int gld_config_find_key(gld_config *c, gl_err *err)
{
    int rc = find_key(c, err);
    return rc == 0 ? check_key(c, err) : rc;
}

static int find_key(gld_config *c, gl_err *err)
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
                return gl_fail(err, GL_E_NO_KEY, "$%s is too long to be an API key", envs[i]);
            snprintf(c->api_key, sizeof c->api_key, "%s", v);
            snprintf(c->api_key_source, sizeof c->api_key_source, "$%s", envs[i]);
            return 0;
        }
    }
    return gl_fail(err, GL_E_NO_KEY,
                   "no API key: set GEMINI_API_KEY, or use --api-key-file or systemd credentials "
                   "(gemini-api-key)");
}
