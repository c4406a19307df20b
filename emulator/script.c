/* Loading and validating model scripts (format: docs/emulator-script.md). Every step is checked
 * here, at load time: an unknown key or a wrong type is an error naming its place, e.g.
 *   script.json: rules[2].steps[1]: unknown key "sya" */
#include "emulator/model_priv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define SCRIPT_FAIL(err, ...) gl_fail(err, "script", __VA_ARGS__)

/* ---------- freeing ---------- */

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void step_free(emu_step *st)
{
    free(st->text);
    free_strv(st->chunks, st->nchunks);
    for (size_t i = 0; i < st->ncalls; i++) {
        free(st->calls[i].name);
        json_decref(st->calls[i].args);
    }
    free(st->calls);
    free(st->via_code);
    free(st->program);
    free(st->failed);
    if (st->meanwhile) {
        emu_steps_free(st->meanwhile);
        free(st->meanwhile);
    }
}

void emu_steps_free(emu_steps *s)
{
    for (size_t i = 0; i < s->len; i++)
        step_free(&s->v[i]);
    free(s->v);
    s->v = NULL;
    s->len = 0;
}

void emu_script_free(emu_script *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrules; i++) {
        emu_rule *r = &s->rules[i];
        free_strv(r->any, r->nany);
        free_strv(r->all, r->nall);
        free_strv(r->requires, r->nrequires);
        free_strv(r->without, r->nwithout);
        emu_steps_free(&r->steps);
    }
    free(s->rules);
    emu_steps_free(&s->def);
    free(s);
}

/* ---------- parsing ---------- */

/* "where" names the object being parsed, e.g. "rules[2].steps[1]"; prefixed by the origin. */
typedef struct pctx {
    const char *origin;
    gl_err *err;
} pctx;

static int pfail(const pctx *c, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pfail(const pctx *c, const char *where, const char *fmt, ...)
{
    char what[GL_ERR_MSG];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return SCRIPT_FAIL(c->err, "%s: %s: %s", c->origin, where, what);
}

static int dup_str(const pctx *c, const char *where, const char *key, const json_t *v, char **out)
{
    if (!json_is_string(v))
        return pfail(c, where, "\"%s\" must be a string", key);
    *out = gl_xstrdup(json_string_value(v));
    return 0;
}

/* A string or an array of strings (allow_single) into a vector. */
static int dup_strv(const pctx *c, const char *where, const char *key, const json_t *v,
                    bool allow_single, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (allow_single && json_is_string(v)) {
        *out = gl_xcalloc(1, sizeof **out);
        *n = 1;
        return dup_str(c, where, key, v, &(*out)[0]);
    }
    if (!json_is_array(v))
        return pfail(c, where, "\"%s\" must be %s", key,
                     allow_single ? "a string or an array of strings" : "an array of strings");
    size_t len = json_array_size(v);
    if (len == 0)
        return 0;
    *out = gl_xcalloc(len, sizeof **out);
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return pfail(c, where, "\"%s\"[%zu] must be a string", key, i);
        (*out)[i] = gl_xstrdup(json_string_value(e));
        (*n)++;
    }
    return 0;
}

static int get_uint(const pctx *c, const char *where, const char *key, const json_t *v,
                    unsigned long long max, unsigned long long *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (unsigned long long)json_integer_value(v) > max)
        return pfail(c, where, "\"%s\" must be an integer in 0..%llu", key, max);
    *out = (unsigned long long)json_integer_value(v);
    return 0;
}

static int want_true(const pctx *c, const char *where, const char *key, const json_t *v)
{
    if (!json_is_true(v))
        return pfail(c, where, "\"%s\" must be true", key);
    return 0;
}

/* The action keys: exactly one per step. The modifiers each action accepts follow it. */
#define MODS_MAX 8
static const struct {
    const char *key;
    emu_step_kind kind;
    const char *mods[MODS_MAX];
} actions[] = {
    {"say", EMU_ST_SAY, {0}},
    {"chunks", EMU_ST_CHUNKS, {0}},
    {"call", EMU_ST_CALL, {"args", "via_code", "await", "no_id", "meanwhile", "failed", "arg"}},
    {"calls", EMU_ST_CALL, {"via_code", "await", "no_id", "meanwhile", "failed", "arg"}},
    {"code", EMU_ST_CODE, {"run", "seconds", "arg"}},
    {"search", EMU_ST_SEARCH, {0}},
    {"say_search", EMU_ST_SAY_SEARCH, {0}},
    {"delay_ms", EMU_ST_DELAY, {0}},
    {"goaway_ms", EMU_ST_GOAWAY, {0}},
    {"close", EMU_ST_CLOSE, {"reason"}},
    {"drop", EMU_ST_DROP, {0}},
    {"malformed", EMU_ST_MALFORMED, {0}},
    {"oversize", EMU_ST_OVERSIZE, {0}},
    {"stall", EMU_ST_STALL, {0}},
    {"cancel", EMU_ST_CANCEL, {0}},
    {"recall", EMU_ST_RECALL, {0}},
    {"echo", EMU_ST_ECHO, {0}},
    {"interim_transcription", EMU_ST_INTERIM, {0}},
    {"voice_activity", EMU_ST_VOICE, {0}},
    {"waiting_for_input", EMU_ST_WAITING, {0}},
    {"stream", EMU_ST_STREAM, {"parts", "audio_ms", "rate", "stamp"}},
    {"describe_image", EMU_ST_IMAGE, {0}},
};
#define NACTIONS (sizeof actions / sizeof actions[0])

static int find_action(const char *key)
{
    for (size_t i = 0; i < NACTIONS; i++)
        if (strcmp(actions[i].key, key) == 0)
            return (int)i;
    return -1;
}

static bool is_modifier(const char *key)
{
    if (strcmp(key, "comment") == 0)
        return true;
    for (size_t i = 0; i < NACTIONS; i++)
        for (size_t j = 0; j < MODS_MAX && actions[i].mods[j]; j++)
            if (strcmp(actions[i].mods[j], key) == 0)
                return true;
    return false;
}

static bool action_allows(int a, const char *key)
{
    if (strcmp(key, "comment") == 0)
        return true;
    for (size_t j = 0; j < MODS_MAX && actions[a].mods[j]; j++)
        if (strcmp(actions[a].mods[j], key) == 0)
            return true;
    return false;
}

static int parse_call_args(const pctx *c, const char *where, const json_t *v, json_t **out)
{
    if (!v) {
        *out = json_object();
    } else if (!json_is_object(v)) {
        return pfail(c, where, "\"args\" must be an object");
    } else {
        *out = json_deep_copy(v); /* a parsed tree has no cycles: only memory could fail it */
    }
    return 0;
}

static int parse_steps(const pctx *c, const char *where, const json_t *arr, emu_steps *out);

/* "meanwhile": what the model says while its non-blocking calls run. A string is one "say"; an
 * array is steps, which may not call functions (a call inside a call's waiting has no turn to
 * belong to). */
static int parse_meanwhile(const pctx *c, const char *where, const json_t *v, emu_step *st)
{
    char sub[160];
    snprintf(sub, sizeof sub, "%s.meanwhile", where);
    st->meanwhile = gl_xcalloc(1, sizeof *st->meanwhile);
    if (json_is_string(v)) {
        st->meanwhile->v = gl_xcalloc(1, sizeof *st->meanwhile->v);
        st->meanwhile->len = 1;
        st->meanwhile->v[0].kind = EMU_ST_SAY;
        st->meanwhile->v[0].text = gl_xstrdup(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v))
        return pfail(c, where, "\"meanwhile\" must be a string or an array of steps");
    if (parse_steps(c, sub, v, st->meanwhile) < 0)
        return -1;
    for (size_t i = 0; i < st->meanwhile->len; i++)
        if (st->meanwhile->v[i].kind == EMU_ST_CALL || st->meanwhile->v[i].kind == EMU_ST_CANCEL)
            return pfail(c, sub, "steps[%zu]: no calls or cancels while calls run", i);
    return 0;
}

/* The modifiers of "call" and "calls" (the calls themselves are parsed by the caller). */
static int parse_call_mods(const pctx *c, const char *where, const json_t *obj, emu_step *st)
{
    static const char *const flags[] = {"await", "no_id"};
    bool *dst[] = {&st->await, &st->no_id};
    for (size_t i = 0; i < 2; i++) {
        json_t *f = json_object_get(obj, flags[i]);
        if (!f)
            continue;
        if (!json_is_boolean(f))
            return pfail(c, where, "\"%s\" must be true or false", flags[i]);
        *dst[i] = json_is_true(f);
    }
    json_t *v = json_object_get(obj, "via_code");
    if (v && dup_str(c, where, "via_code", v, &st->via_code) < 0)
        return -1;
    v = json_object_get(obj, "failed");
    if (v && dup_str(c, where, "failed", v, &st->failed) < 0)
        return -1;
    v = json_object_get(obj, "arg");
    if (v) {
        unsigned long long u;
        if (get_uint(c, where, "arg", v, 1000000000000000000ULL, &u) < 0)
            return -1;
        st->has_arg = true;
        st->arg = u;
    }
    v = json_object_get(obj, "meanwhile");
    return v ? parse_meanwhile(c, where, v, st) : 0;
}

static int parse_step(const pctx *c, const char *where, const json_t *obj, emu_step *st)
{
    memset(st, 0, sizeof *st);
    st->await = true;
    st->seconds_ms = 1000;
    if (!json_is_object(obj))
        return pfail(c, where, "a step must be an object");

    /* Find the one action key; reject unknown keys and modifiers of other actions. */
    int a = -1;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int k = find_action(key);
        if (k >= 0) {
            if (a >= 0)
                return pfail(c, where, "two actions in one step: \"%s\" and \"%s\"",
                             actions[a].key, key);
            a = k;
        } else if (!is_modifier(key)) {
            return pfail(c, where, "unknown key \"%s\"", key);
        }
    }
    if (a < 0)
        return pfail(c, where, "no action key (say, chunks, call, calls, code, search, ...)");
    json_object_foreach((json_t *)obj, key, val) {
        if (find_action(key) < 0 && !action_allows(a, key))
            return pfail(c, where, "key \"%s\" does not apply to \"%s\"", key, actions[a].key);
    }

    const char *ak = actions[a].key;
    json_t *v = json_object_get(obj, ak);
    st->kind = actions[a].kind;
    unsigned long long u;
    switch (st->kind) {
    case EMU_ST_SAY:
    case EMU_ST_MALFORMED:
    case EMU_ST_INTERIM:
        return dup_str(c, where, ak, v, &st->text);
    case EMU_ST_VOICE: {
        const char *t = json_string_value(v);
        if (!t || (strcmp(t, "ACTIVITY_START") != 0 && strcmp(t, "ACTIVITY_END") != 0))
            return pfail(c, where, "\"voice_activity\" must be \"ACTIVITY_START\" or "
                                   "\"ACTIVITY_END\"");
        return dup_str(c, where, ak, v, &st->text);
    }
    case EMU_ST_CHUNKS:
        if (!json_is_array(v) || json_array_size(v) == 0)
            return pfail(c, where, "\"chunks\" must be a non-empty array of strings");
        return dup_strv(c, where, ak, v, false, &st->chunks, &st->nchunks);
    case EMU_ST_CALL: {
        if (parse_call_mods(c, where, obj, st) < 0)
            return -1;
        if (strcmp(ak, "call") == 0) {
            st->calls = gl_xcalloc(1, sizeof *st->calls);
            st->ncalls = 1;
            if (dup_str(c, where, "call", v, &st->calls[0].name) < 0)
                return -1;
            return parse_call_args(c, where, json_object_get(obj, "args"), &st->calls[0].args);
        }
        if (!json_is_array(v) || json_array_size(v) == 0)
            return pfail(c, where, "\"calls\" must be a non-empty array of {\"name\",\"args\"}");
        st->calls = gl_xcalloc(json_array_size(v), sizeof *st->calls);
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            char sub[160];
            snprintf(sub, sizeof sub, "%s.calls[%zu]", where, i);
            if (!json_is_object(e))
                return pfail(c, sub, "a call must be an object {\"name\",\"args\"}");
            const char *ck;
            json_t *cv;
            json_object_foreach(e, ck, cv) {
                if (strcmp(ck, "name") != 0 && strcmp(ck, "args") != 0)
                    return pfail(c, sub, "unknown key \"%s\"", ck);
            }
            st->ncalls++;
            if (dup_str(c, sub, "name", json_object_get(e, "name"), &st->calls[i].name) < 0)
                return -1;
            if (parse_call_args(c, sub, json_object_get(e, "args"), &st->calls[i].args) < 0)
                return -1;
        }
        return 0;
    }
    case EMU_ST_CODE: {
        if (dup_str(c, where, ak, v, &st->text) < 0)
            return -1;
        json_t *run = json_object_get(obj, "run");
        if (run && dup_str(c, where, "run", run, &st->program) < 0)
            return -1;
        json_t *sec = json_object_get(obj, "seconds");
        if (sec) {
            if (!json_is_number(sec) || json_number_value(sec) < 0 ||
                json_number_value(sec) > 3600)
                return pfail(c, where, "\"seconds\" must be a number in 0..3600");
            st->seconds_ms = (unsigned)(json_number_value(sec) * 1000.0 + 0.5);
        }
        json_t *arg = json_object_get(obj, "arg");
        if (arg) {
            if (get_uint(c, where, "arg", arg, 1000000000000000000ULL, &u) < 0)
                return -1;
            st->has_arg = true;
            st->arg = u;
        }
        return 0;
    }
    case EMU_ST_SEARCH:
        if (json_is_true(v))
            return 0;
        if (!json_is_string(v))
            return pfail(c, where, "\"search\" must be a query string or true (the prompt)");
        return dup_str(c, where, ak, v, &st->text);
    case EMU_ST_DELAY:
    case EMU_ST_GOAWAY:
        if (get_uint(c, where, ak, v, 86400000ULL, &u) < 0)
            return -1;
        st->ms = (unsigned)u;
        return 0;
    case EMU_ST_CLOSE: {
        if (get_uint(c, where, ak, v, 4999, &u) < 0)
            return -1;
        if (u < 1000)
            return pfail(c, where, "\"close\" must be a close code in 1000..4999");
        st->code = (int)u;
        json_t *r = json_object_get(obj, "reason");
        if (r)
            return dup_str(c, where, "reason", r, &st->text);
        return 0;
    }
    case EMU_ST_OVERSIZE:
        if (get_uint(c, where, ak, v, 1ULL << 30, &u) < 0 || u == 0)
            return u == 0 ? pfail(c, where, "\"oversize\" must be > 0") : -1;
        st->n = (size_t)u;
        return 0;
    case EMU_ST_STREAM: {
        if (want_true(c, where, ak, v) < 0)
            return -1;
        st->n = 1000;
        st->ms = 1000;
        json_t *p = json_object_get(obj, "parts");
        if (p && get_uint(c, where, "parts", p, EMU_STREAM_MAX_PARTS, &u) < 0)
            return -1;
        if (p)
            st->n = (size_t)u;
        p = json_object_get(obj, "audio_ms");
        if (p && get_uint(c, where, "audio_ms", p, EMU_STREAM_MAX_MS, &u) < 0)
            return -1;
        if (p)
            st->ms = (unsigned)u;
        p = json_object_get(obj, "rate");
        if (p && get_uint(c, where, "rate", p, EMU_STREAM_MAX_RATE, &u) < 0)
            return -1;
        if (p)
            st->rate = (unsigned)u;
        p = json_object_get(obj, "stamp");
        if (p && !json_is_boolean(p))
            return pfail(c, where, "\"stamp\" must be true or false");
        st->stamp = json_is_true(p);
        return 0;
    }
    case EMU_ST_SAY_SEARCH:
    case EMU_ST_DROP:
    case EMU_ST_STALL:
    case EMU_ST_CANCEL:
    case EMU_ST_RECALL:
    case EMU_ST_ECHO:
    case EMU_ST_WAITING:
    case EMU_ST_IMAGE:
        return want_true(c, where, ak, v);
    }
    return pfail(c, where, "internal: unhandled action \"%s\"", ak);
}

static int parse_steps(const pctx *c, const char *where, const json_t *arr, emu_steps *out)
{
    out->v = NULL;
    out->len = 0;
    if (!json_is_array(arr))
        return pfail(c, where, "steps must be an array");
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    out->v = gl_xcalloc(n, sizeof *out->v);
    for (size_t i = 0; i < n; i++) {
        char sub[128];
        snprintf(sub, sizeof sub, "%s[%zu]", where, i);
        out->len++; /* counted first so that a half-parsed step is freed */
        if (parse_step(c, sub, json_array_get(arr, i), &out->v[i]) < 0)
            return -1;
    }
    return 0;
}

static int parse_rule(const pctx *c, size_t idx, const json_t *obj, emu_rule *r)
{
    char where[64];
    snprintf(where, sizeof where, "rules[%zu]", idx);
    if (!json_is_object(obj))
        return pfail(c, where, "a rule must be an object");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        if (strcmp(key, "match") == 0) {
            if (dup_strv(c, where, key, v, true, &r->any, &r->nany) < 0)
                return -1;
        } else if (strcmp(key, "all") == 0) {
            if (dup_strv(c, where, key, v, false, &r->all, &r->nall) < 0)
                return -1;
        } else if (strcmp(key, "requires") == 0) {
            if (dup_strv(c, where, key, v, true, &r->requires, &r->nrequires) < 0)
                return -1;
        } else if (strcmp(key, "without") == 0) {
            if (dup_strv(c, where, key, v, true, &r->without, &r->nwithout) < 0)
                return -1;
        } else if (strcmp(key, "once") == 0) {
            if (!json_is_boolean(v))
                return pfail(c, where, "\"once\" must be true or false");
            r->once = json_is_true(v);
        } else if (strcmp(key, "steps") == 0) {
            char sw[80];
            snprintf(sw, sizeof sw, "%s.steps", where);
            if (parse_steps(c, sw, v, &r->steps) < 0)
                return -1;
        } else if (strcmp(key, "comment") != 0) {
            return pfail(c, where, "unknown key \"%s\" (rules take match, all, requires, "
                                   "without, once, steps)", key);
        }
    }
    if (!json_object_get(obj, "steps"))
        return pfail(c, where, "missing \"steps\"");
    return 0;
}

emu_script *emu_script_parse(const char *text, const char *origin, gl_err *err)
{
    pctx c = {origin ? origin : "script", err};
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    if (!root) {
        SCRIPT_FAIL(err, "%s:%d:%d: bad JSON: %s", c.origin, je.line, je.column, je.text);
        return NULL;
    }
    emu_script *s = gl_xcalloc(1, sizeof *s);
    if (!json_is_object(root)) {
        pfail(&c, "top level", "a script must be an object {\"rules\":[...],\"default\":[...]}");
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "rules") != 0 && strcmp(key, "default") != 0 &&
            strcmp(key, "comment") != 0 && strcmp(key, "session_id") != 0) {
            pfail(&c, "top level", "unknown key \"%s\" (a script has rules, default, "
                                   "session_id)", key);
            goto fail;
        }
    }
    json_t *sid = json_object_get(root, "session_id");
    if (sid && !json_is_boolean(sid)) {
        pfail(&c, "top level", "\"session_id\" must be true or false");
        goto fail;
    }
    s->session_id = json_is_true(sid);
    json_t *rules = json_object_get(root, "rules");
    if (rules) {
        if (!json_is_array(rules)) {
            pfail(&c, "top level", "\"rules\" must be an array");
            goto fail;
        }
        size_t n = json_array_size(rules);
        s->rules = n ? gl_xcalloc(n, sizeof *s->rules) : NULL;
        for (size_t i = 0; i < n; i++) {
            s->nrules++;
            if (parse_rule(&c, i, json_array_get(rules, i), &s->rules[i]) < 0)
                goto fail;
        }
    }
    json_t *def = json_object_get(root, "default");
    if (def) {
        if (parse_steps(&c, "default", def, &s->def) < 0)
            goto fail;
    } else {
        /* No default: echo the prompt, as the built-in script does. */
        s->def.v = gl_xcalloc(1, sizeof *s->def.v);
        s->def.len = 1;
        s->def.v[0].kind = EMU_ST_SAY;
        s->def.v[0].await = true;
        s->def.v[0].text = gl_xstrdup("I heard you say: {prompt}");
    }
    json_decref(root);
    return s;
fail:
    json_decref(root);
    emu_script_free(s);
    return NULL;
}

emu_script *emu_script_load_string(const char *text, gl_err *err)
{
    return emu_script_parse(text, "script", err);
}

emu_script *emu_script_load(const char *path, gl_err *err)
{
    if (!path)
        return emu_script_parse(emu_default_script_json, "built-in script", err);
    FILE *f = fopen(path, "rb");
    if (!f) {
        gl_fail(err, "io", "cannot open script %s: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            size_t ncap = cap ? cap * 2 : 8192;
            if (ncap > (64u << 20)) {
                free(text);
                fclose(f);
                gl_fail(err, "script", "%s: script larger than 64 MiB", path);
                return NULL;
            }
            text = gl_xrealloc(text, ncap + 1);
            cap = ncap;
        }
        size_t r = fread(text + len, 1, cap - len, f);
        len += r;
        if (r == 0)
            break;
    }
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        gl_fail(err, "io", "cannot read script %s", path);
        return NULL;
    }
    text[len] = '\0';
    if (strlen(text) != len) {
        free(text);
        gl_fail(err, "script", "%s: script contains a NUL byte", path);
        return NULL;
    }
    emu_script *s = emu_script_parse(text, path, err);
    free(text);
    return s;
}

/* ---------- selection ---------- */

bool emu_contains_ci(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0)
        return true;
    for (const char *h = hay; *h; h++) {
        size_t i = 0;
        while (i < nl && h[i] &&
               tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl)
            return true;
    }
    return false;
}

static bool rule_matches(const emu_rule *r, const char *prompt, emu_has_tool_fn has,
                         const void *ctx)
{
    if (r->once && r->fired)
        return false;
    if (r->nany) {
        bool any = false;
        for (size_t i = 0; i < r->nany && !any; i++)
            any = emu_contains_ci(prompt, r->any[i]);
        if (!any)
            return false;
    }
    for (size_t i = 0; i < r->nall; i++)
        if (!emu_contains_ci(prompt, r->all[i]))
            return false;
    for (size_t i = 0; i < r->nrequires; i++)
        if (!has(ctx, r->requires[i]))
            return false;
    for (size_t i = 0; i < r->nwithout; i++)
        if (has(ctx, r->without[i]))
            return false;
    return true;
}

const emu_steps *emu_script_select(emu_script *s, const char *prompt, emu_has_tool_fn has,
                                   const void *ctx)
{
    for (size_t i = 0; i < s->nrules; i++) {
        emu_rule *r = &s->rules[i];
        if (rule_matches(r, prompt, has, ctx)) {
            if (r->once)
                r->fired = true;
            return &r->steps;
        }
    }
    return &s->def;
}

void emu_script_next_call_id(emu_script *s, char *buf, size_t len)
{
    /* A bijection of the counter onto [10^18, 10^19): 19 digits, never repeating, and
     * deterministic for a freshly loaded script. The multiplier is coprime to 9*10^18. */
    const unsigned __int128 M = 9000000000000000000ULL;
    unsigned __int128 x = ((unsigned __int128)5831923424298605773ULL * s->next_call +
                           2718281828459045235ULL) % M;
    s->next_call++;
    snprintf(buf, len, "function-call-%llu",
             (unsigned long long)(x + 1000000000000000000ULL));
}
