#include "client/glivectl/tool_run.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/suggest.h"
#include "common/buf.h"
#include "common/xalloc.h"
#include "proto/line.h"

/* ---- arguments ----------------------------------------------------------------------------- */

bool gl_tool_scheduling_ok(const char *s)
{
    return s && (strcmp(s, "INTERRUPT") == 0 || strcmp(s, "WHEN_IDLE") == 0 || strcmp(s, "SILENT") == 0);
}

const char *gl_tool_take_scheduling(json_t *response, const char *dflt)
{
    static char chosen[16];
    const char *s = json_string_value(json_object_get(response, "scheduling"));
    if (!gl_tool_scheduling_ok(s))
        return dflt;
    snprintf(chosen, sizeof chosen, "%s", s);
    json_object_del(response, "scheduling");
    return chosen;
}

enum tool_opt { T_SESSION, T_NAME, T_DESCRIPTION, T_PARAMETERS, T_TIMEOUT, T_SCHEDULING, T_JSON, T_HELP };

static const struct {
    const char *name;
    enum tool_opt kind;
    bool value;
} TOOL_OPTS[] = {
    {"--session", T_SESSION, true},       {"--name", T_NAME, true},
    {"--description", T_DESCRIPTION, true}, {"--parameters", T_PARAMETERS, true},
    {"--timeout", T_TIMEOUT, true},       {"--scheduling", T_SCHEDULING, true},
    {"--json", T_JSON, false},
    {"--help", T_HELP, false},            {"-h", T_HELP, false},
};

static int parse_timeout_s(const char *s, double *out, gl_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = *s ? strtod(s, &end) : NAN;
    if (!*s || errno || !end || *end || !isfinite(v) || v <= 0 || v > GL_TOOL_MAX_TIMEOUT_S)
        return gl_fail(err, "usage",
                       "--timeout must be a number of seconds > 0 and <= %g, not \"%.40s\"",
                       GL_TOOL_MAX_TIMEOUT_S, s);
    *out = v;
    return 0;
}

int gl_tool_parse(int argc, char **argv, gl_tool_opts *o, gl_err *err)
{
    memset(o, 0, sizeof *o);
    o->session = GL_TOOL_DEFAULT_SESSION;
    o->timeout_s = GL_TOOL_DEFAULT_TIMEOUT_S;
    int i = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0)
            break; /* COMMAND */
        const char *eq = strchr(a, '=');
        size_t nlen = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        int k = -1;
        for (size_t j = 0; j < sizeof TOOL_OPTS / sizeof TOOL_OPTS[0]; j++)
            if (strlen(TOOL_OPTS[j].name) == nlen && strncmp(TOOL_OPTS[j].name, a, nlen) == 0)
                k = (int)j;
        if (k < 0) {
            const char *names[sizeof TOOL_OPTS / sizeof TOOL_OPTS[0]];
            for (size_t j = 0; j < sizeof TOOL_OPTS / sizeof TOOL_OPTS[0]; j++)
                names[j] = TOOL_OPTS[j].name;
            const char *hint = gl_suggest(a, nlen, names, sizeof names / sizeof names[0]);
            if (hint)
                return gl_fail(err, "usage", "unknown option \"%.*s\" for tool (did you mean \"%s\"?)",
                               (int)(nlen > 60 ? 60 : nlen), a, hint);
            return gl_fail(err, "usage", "unknown option \"%.*s\" for tool (COMMAND goes after --)",
                           (int)(nlen > 60 ? 60 : nlen), a);
        }
        const char *val = NULL;
        if (TOOL_OPTS[k].value) {
            if (eq && a[1] == '-')
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return gl_fail(err, "usage", "option \"%s\" needs a value", TOOL_OPTS[k].name);
        } else if (eq && a[1] == '-') {
            return gl_fail(err, "usage", "option \"%s\" takes no value", TOOL_OPTS[k].name);
        }
        switch (TOOL_OPTS[k].kind) {
        case T_SESSION: o->session = val; break;
        case T_NAME: o->name = val; break;
        case T_DESCRIPTION: o->description = val; break;
        case T_PARAMETERS: o->parameters = val; break;
        case T_TIMEOUT:
            if (parse_timeout_s(val, &o->timeout_s, err) < 0)
                return -1;
            break;
        case T_SCHEDULING:
            if (!gl_tool_scheduling_ok(val))
                return gl_fail(err, "usage", "--scheduling wants INTERRUPT, WHEN_IDLE or SILENT, not \"%.40s\"", val);
            o->scheduling = val;
            break;
        case T_JSON: o->json = true; break;
        case T_HELP: o->help = true; break;
        }
    }
    if (i < argc) {
        o->command = argv + i;
        o->ncommand = argc - i;
    }
    if (o->help)
        return 0;
    if (!o->name)
        return gl_fail(err, "usage", "missing --name NAME (the function to serve)");
    if (!*o->name)
        return gl_fail(err, "usage", "option \"--name\" needs a non-empty NAME");
    if (o->parameters && !*o->parameters)
        return gl_fail(err, "usage", "option \"--parameters\" needs a FILE");
    if (strcmp(o->session, "*") != 0) {
        gl_err e;
        if (!gl_session_name_ok(o->session, &e))
            return gl_fail(err, "usage", "%s (or \"*\" for every session)", e.msg);
    }
    if (!o->ncommand || !*o->command[0])
        return gl_fail(err, "usage",
                       "missing COMMAND (glivectl tool --name NAME -- COMMAND ARGS...)");
    return 0;
}

json_t *gl_tool_load_parameters(const char *path, gl_err *err)
{
    json_error_t je;
    json_t *v = json_load_file(path, 0, &je);
    if (!v) {
        if (je.line <= 0)
            gl_fail(err, "usage", "--parameters %s: %s", path, je.text);
        else
            gl_fail(err, "usage", "--parameters %s:%d:%d: %s", path, je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        gl_fail(err, "usage", "--parameters %s: must hold a JSON object (a schema such as "
                "{\"type\":\"object\",\"properties\":{...}})", path);
        return NULL;
    }
    return v;
}

json_t *gl_tool_register_request(const gl_tool_opts *o, gl_err *err)
{
    json_t *params = NULL;
    if (o->parameters && !(params = gl_tool_load_parameters(o->parameters, err)))
        return NULL;
    json_t *decl = json_object();
    json_object_set_new(decl, "name", gl_json_text(o->name));
    if (o->description)
        json_object_set_new(decl, "description", gl_json_text(o->description));
    if (params)
        json_object_set_new(decl, "parameters", params);
    double t = o->timeout_s + GL_TOOL_DAEMON_GRACE_S, whole;
    if (t > GL_TOOL_MAX_TIMEOUT_S) /* gliveD's bound too */
        t = GL_TOOL_MAX_TIMEOUT_S;
    json_t *req = json_object();
    json_object_set_new(req, "op", json_string("tool.register"));
    json_object_set_new(req, "session", gl_json_text(o->session));
    json_object_set_new(req, "declaration", decl);
    json_object_set_new(req, "timeout_s", modf(t, &whole) == 0 && whole < 1e15
                                              ? json_integer((json_int_t)whole)
                                              : json_real(t));
    return req;
}

/* ---- what the command gets ----------------------------------------------------------------- */

char *gl_tool_stdin(const json_t *args, size_t *len)
{
    char *s = NULL;
    if (args && !json_is_null(args))
        s = json_dumps(args, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!s)
        s = gl_xstrdup("{}");
    size_t n = strlen(s);
    char *line = gl_xrealloc(s, n + 2);
    line[n] = '\n';
    line[n + 1] = '\0';
    if (len)
        *len = n + 1;
    return line;
}

static bool is_ours(const char *entry)
{
    static const char *const names[] = {"GLIVE_CALL_ID=", "GLIVE_TOOL=", "GLIVE_SESSION="};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static char *kv(const char *k, const char *v)
{
    size_t kl = strlen(k), vl = strlen(v);
    char *s = gl_xmalloc(kl + vl + 2);
    memcpy(s, k, kl);
    s[kl] = '=';
    memcpy(s + kl + 1, v, vl + 1);
    return s;
}

char **gl_tool_env(char *const *base, const char *call_id, const char *tool, const char *session)
{
    size_t n = 0;
    while (base && base[n])
        n++;
    char **env = gl_xcalloc(n + 4, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_ours(base[i]))
            env[k++] = gl_xstrdup(base[i]);
    env[k++] = kv("GLIVE_CALL_ID", call_id);
    env[k++] = kv("GLIVE_TOOL", tool);
    if (session)
        env[k++] = kv("GLIVE_SESSION", session);
    return env;
}

void gl_tool_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}

/* ---- stderr's tail ------------------------------------------------------------------------- */

void gl_ring_init(gl_ring *r) { memset(r, 0, sizeof *r); }

void gl_ring_push(gl_ring *r, const void *data, size_t n)
{
    const char *p = data;
    if (n >= GL_TOOL_STDERR_TAIL) {
        r->dropped = r->dropped || r->len > 0 || n > GL_TOOL_STDERR_TAIL;
        memcpy(r->data, p + n - GL_TOOL_STDERR_TAIL, GL_TOOL_STDERR_TAIL);
        r->head = 0;
        r->len = GL_TOOL_STDERR_TAIL;
        return;
    }
    if (r->len + n > GL_TOOL_STDERR_TAIL)
        r->dropped = true;
    size_t first = GL_TOOL_STDERR_TAIL - r->head;
    if (first > n)
        first = n;
    memcpy(r->data + r->head, p, first);
    memcpy(r->data, p + first, n - first);
    r->head = (r->head + n) % GL_TOOL_STDERR_TAIL;
    r->len = r->len + n > GL_TOOL_STDERR_TAIL ? GL_TOOL_STDERR_TAIL : r->len + n;
}

size_t gl_ring_read(const gl_ring *r, char *out)
{
    size_t start = (r->head + GL_TOOL_STDERR_TAIL - r->len) % GL_TOOL_STDERR_TAIL;
    size_t first = GL_TOOL_STDERR_TAIL - start;
    if (first > r->len)
        first = r->len;
    memcpy(out, r->data + start, first);
    memcpy(out + first, r->data, r->len - first);
    return r->len;
}

/* ---- the response -------------------------------------------------------------------------- */

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

const char *gl_tool_signame(int sig, char *buf, size_t size)
{
    static const struct { int sig; const char *name; } SIGS[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
        {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
        {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"},
    };
    for (size_t i = 0; i < sizeof SIGS / sizeof SIGS[0]; i++)
        if (SIGS[i].sig == sig)
            return SIGS[i].name;
    snprintf(buf, size, "signal %d", sig);
    return buf;
}

/* {"error": prefix + (": " + stderr tail, when there is one)} */
static json_t *error_response(const char *prefix, const gl_ring *ring)
{
    char tail[GL_TOOL_STDERR_TAIL];
    size_t n = ring ? gl_ring_read(ring, tail) : 0;
    size_t a = 0;
    if (ring && ring->dropped) /* do not start in the middle of a UTF-8 character */
        while (a < n && a < 4 && ((unsigned char)tail[a] & 0xC0) == 0x80)
            a++;
    while (a < n && is_space(tail[a]))
        a++;
    while (n > a && is_space(tail[n - 1]))
        n--;
    gl_buf b;
    gl_buf_init(&b, 0);
    json_t *text = NULL;
    if (gl_buf_append(&b, prefix, strlen(prefix)) == 0 &&
        (n == a || (gl_buf_append(&b, ": ", 2) == 0 &&
                    (!ring->dropped || gl_buf_append(&b, "...", 3) == 0) &&
                    gl_buf_append(&b, tail + a, n - a) == 0)))
        text = gl_json_textn(gl_buf_head(&b), b.len);
    gl_buf_free(&b);
    if (!text)
        return NULL;
    json_t *r = json_object();
    json_object_set_new(r, "error", text);
    return r;
}

static json_t *error_responsef(const gl_ring *ring, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static json_t *error_responsef(const gl_ring *ring, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    json_t *r = error_response(s, ring);
    free(s);
    return r;
}

json_t *gl_tool_response(const char *command, double timeout_s, const gl_tool_outcome *o)
{
    char sigbuf[32];
    switch (o->end) {
    case GL_TOOL_EXEC_FAILED:
        return error_responsef(NULL, "cannot run %s: %s", command, strerror(o->status));
    case GL_TOOL_TIMED_OUT:
        return error_responsef(NULL, "%s timed out after %g s", command, timeout_s);
    case GL_TOOL_TOO_BIG:
        return error_responsef(NULL, "%s output larger than %zu MiB", command,
                               GL_TOOL_STDOUT_MAX >> 20);
    case GL_TOOL_SIGNALED:
        return error_responsef(o->err, "%s killed by signal %s", command,
                               gl_tool_signame(o->status, sigbuf, sizeof sigbuf));
    case GL_TOOL_EXITED:
        break;
    }
    if (o->status != 0)
        return error_responsef(o->err, "%s exited with status %d", command, o->status);
    if (o->out_len) {
        json_t *v = json_loadb(o->out, o->out_len, 0, NULL);
        if (json_is_object(v))
            return v;
        json_decref(v);
    }
    size_t n = o->out_len;
    while (n && (o->out[n - 1] == '\n' || o->out[n - 1] == '\r'))
        n--;
    json_t *text = gl_json_textn(n ? o->out : "", n);
    if (!text)
        return NULL;
    json_t *r = json_object();
    json_object_set_new(r, "output", text);
    return r;
}

char *gl_tool_brief(const json_t *v, size_t max)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY)
                : gl_xstrdup("null");
    if (!s)
        return gl_xstrdup("?");
    size_t n = strlen(s);
    if (n <= max)
        return s;
    size_t cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--; /* s[cut] starts a character: cut before it */
    char *out = gl_xmalloc(cut + 4);
    memcpy(out, s, cut);
    memcpy(out + cut, "...", 4);
    free(s);
    return out;
}
