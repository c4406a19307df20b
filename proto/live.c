/* Live API codec (see live.h). The field tables below are deliberately NOT shared with
 * emulator/strict.c: two independent readings of the API catch each other's mistakes;
 * tests/unit/test_codec_agreement.c checks that they agree. */
#include "proto/live.h"
#include "proto/errors.h"
#include "proto/line.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

/* ---- Names ------------------------------------------------------------------------------- */

size_t live_snake_to_camel(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    bool up = false;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c == '_') {
            up = true;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = false;
        if (n + 1 < outlen)
            out[n] = c;
        n++;
    }
    if (outlen)
        out[n < outlen ? n : outlen - 1] = '\0';
    return n;
}

char *live_camel(const char *in)
{
    size_t n = live_snake_to_camel(in, NULL, 0);
    char *s = gl_xmalloc(n + 1);
    live_snake_to_camel(in, s, n + 1);
    return s;
}

json_t *live_json_camel_keys(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            char *ck = live_camel(k);
            json_object_set_new(o, ck, live_json_camel_keys(x));
            free(ck);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
            json_array_append_new(a, live_json_camel_keys(x));
        return a;
    }
    return json_deep_copy(v);
}

/* camel -> snake for lookups of snake_case server fields ("modelTurn" -> "model_turn"). */
static void camel_to_snake(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 2 < outlen; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            out[n++] = '_';
            out[n++] = (char)(*p - 'A' + 'a');
        } else
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* A field of a server object by its camelCase name, or its snake_case twin. */
static json_t *get(const json_t *o, const char *camel)
{
    if (!json_is_object(o))
        return NULL;
    json_t *v = json_object_get(o, camel);
    if (v)
        return v;
    char snake[96];
    camel_to_snake(camel, snake, sizeof snake);
    return strcmp(snake, camel) ? json_object_get(o, snake) : NULL;
}

/* ---- Durations --------------------------------------------------------------------------- */

long long live_parse_duration_ms(const char *s)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    long long sec = 0;
    int digits = 0;
    for (; isdigit((unsigned char)*s); s++) {
        if (++digits > 15)
            return -1;
        sec = sec * 10 + (*s - '0');
    }
    long long ms = 0;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        int i = 0;
        for (; isdigit((unsigned char)*s); s++, i++)
            if (i < 3)
                ms = ms * 10 + (*s - '0');
        for (; i < 3; i++)
            ms *= 10;
    }
    if (s[0] != 's' || s[1] != '\0')
        return -1;
    return sec * 1000 + ms;
}

/* ---- Modalities -------------------------------------------------------------------------- */

const char *live_modality_name(live_modality m)
{
    return m == LIVE_AUDIO ? "AUDIO" : "TEXT";
}

int live_modality_parse(const char *s, live_modality *out, const char *what, gl_err *err)
{
    if (s && !strcasecmp(s, "TEXT"))
        *out = LIVE_TEXT;
    else if (s && !strcasecmp(s, "AUDIO"))
        *out = LIVE_AUDIO;
    else
        return gl_fail(err, GL_E_BAD_REQUEST, "%s must be \"TEXT\" or \"AUDIO\"", what);
    return 0;
}

int live_config_modality(const json_t *gc, live_modality *out, gl_err *err)
{
    json_t *m = get(gc, "responseModalities");
    if (!m || json_is_null(m))
        return 0;
    if (!json_is_array(m))
        return gl_fail(err, GL_E_BAD_REQUEST, "generation_config.response_modalities must be an array");
    if (!json_array_size(m))
        return 0;
    if (live_modality_parse(json_string_value(json_array_get(m, 0)), out,
                            "generation_config.response_modalities[0]", err) < 0)
        return -1;
    return 1;
}

/* ---- Normalizing user-supplied pieces ---------------------------------------------------- */

typedef enum {
    T_ANY,        /* free-form JSON value, copied as is */
    T_ANYOBJ,     /* free-form JSON object (google.protobuf.Struct), copied as is */
    T_STR,
    T_NUM,
    T_INT,        /* integer (or a string, as int64s are written), or an integral number */
    T_BOOL,
    T_ENUM,       /* string (or integer) */
    T_STR_ARR,    /* array of strings */
    T_ENUM_ARR,   /* array of strings */
    T_OBJ,        /* object with fields `sub` */
    T_OBJ_ARR,    /* array of such objects */
    T_SCHEMA,     /* Gemini Schema (recursive) */
    T_SCHEMA_ARR,
    T_SCHEMA_MAP, /* object: NAME -> Schema; names kept verbatim */
    T_FNAME,      /* function name (string, checked) */
} ftype;

typedef struct fdef {
    const char *name; /* camelCase */
    ftype t;
    const struct fdef *sub;
} fdef;

static const fdef f_empty[] = {{NULL, 0, NULL}};

static const fdef f_prebuilt_voice[] = {{"voiceName", T_STR, NULL}, {NULL, 0, NULL}};
static const fdef f_voice[] = {{"prebuiltVoiceConfig", T_OBJ, f_prebuilt_voice}, {NULL, 0, NULL}};
static const fdef f_speaker_voice[] = {
    {"speaker", T_STR, NULL},
    {"voiceConfig", T_OBJ, f_voice},
    {NULL, 0, NULL},
};
static const fdef f_multi_speaker[] = {
    {"speakerVoiceConfigs", T_OBJ_ARR, f_speaker_voice},
    {NULL, 0, NULL},
};
static const fdef f_speech[] = {
    {"voiceConfig", T_OBJ, f_voice},
    {"multiSpeakerVoiceConfig", T_OBJ, f_multi_speaker},
    {"languageCode", T_STR, NULL},
    {NULL, 0, NULL},
};
static const fdef f_activity_detection[] = {
    {"disabled", T_BOOL, NULL},
    {"startOfSpeechSensitivity", T_ENUM, NULL},
    {"endOfSpeechSensitivity", T_ENUM, NULL},
    {"prefixPaddingMs", T_INT, NULL},
    {"silenceDurationMs", T_INT, NULL},
    {NULL, 0, NULL},
};
static const fdef f_thinking[] = {
    {"thinkingBudget", T_INT, NULL},
    {"includeThoughts", T_BOOL, NULL},
    {"thinkingLevel", T_ENUM, NULL},
    {NULL, 0, NULL},
};
/* What the Live API's generationConfig accepts (no logprobs, response MIME type/schema, stop
 * sequences: the Live API rejects them). */
static const fdef f_generation_config[] = {
    {"responseModalities", T_ENUM_ARR, NULL},
    {"candidateCount", T_INT, NULL},
    {"maxOutputTokens", T_INT, NULL},
    {"temperature", T_NUM, NULL},
    {"topP", T_NUM, NULL},
    {"topK", T_INT, NULL},
    {"seed", T_INT, NULL},
    {"presencePenalty", T_NUM, NULL},
    {"frequencyPenalty", T_NUM, NULL},
    {"mediaResolution", T_ENUM, NULL},
    {"speechConfig", T_OBJ, f_speech},
    {"thinkingConfig", T_OBJ, f_thinking},
    {"enableAffectiveDialog", T_BOOL, NULL},
    {NULL, 0, NULL},
};

/* google.ai.generativelanguage Schema (OpenAPI subset). */
static const fdef f_schema[] = {
    {"type", T_ENUM, NULL},
    {"format", T_STR, NULL},
    {"title", T_STR, NULL},
    {"description", T_STR, NULL},
    {"nullable", T_BOOL, NULL},
    {"enum", T_STR_ARR, NULL},
    {"items", T_SCHEMA, NULL},
    {"maxItems", T_INT, NULL},
    {"minItems", T_INT, NULL},
    {"properties", T_SCHEMA_MAP, NULL},
    {"required", T_STR_ARR, NULL},
    {"minProperties", T_INT, NULL},
    {"maxProperties", T_INT, NULL},
    {"minLength", T_INT, NULL},
    {"maxLength", T_INT, NULL},
    {"pattern", T_STR, NULL},
    {"example", T_ANY, NULL},
    {"anyOf", T_SCHEMA_ARR, NULL},
    {"propertyOrdering", T_STR_ARR, NULL},
    {"default", T_ANY, NULL},
    {"minimum", T_NUM, NULL},
    {"maximum", T_NUM, NULL},
    {NULL, 0, NULL},
};

static const fdef f_function_decl[] = {
    {"name", T_FNAME, NULL},
    {"description", T_STR, NULL},
    {"behavior", T_ENUM, NULL},
    {"parameters", T_SCHEMA, NULL},
    {"parametersJsonSchema", T_ANY, NULL},
    {"response", T_SCHEMA, NULL},
    {"responseJsonSchema", T_ANY, NULL},
    {NULL, 0, NULL},
};
static const fdef f_interval[] = {
    {"startTime", T_STR, NULL},
    {"endTime", T_STR, NULL},
    {NULL, 0, NULL},
};
static const fdef f_google_search[] = {{"timeRangeFilter", T_OBJ, f_interval}, {NULL, 0, NULL}};
static const fdef f_dynamic_retrieval[] = {
    {"mode", T_ENUM, NULL},
    {"dynamicThreshold", T_NUM, NULL},
    {NULL, 0, NULL},
};
static const fdef f_google_search_retrieval[] = {
    {"dynamicRetrievalConfig", T_OBJ, f_dynamic_retrieval},
    {NULL, 0, NULL},
};
static const fdef f_tool[] = {
    {"functionDeclarations", T_OBJ_ARR, f_function_decl},
    {"codeExecution", T_OBJ, f_empty},
    {"googleSearch", T_OBJ, f_google_search},
    {"googleSearchRetrieval", T_OBJ, f_google_search_retrieval},
    {"urlContext", T_OBJ, f_empty},
    {NULL, 0, NULL},
};

static const fdef f_blob[] = {{"mimeType", T_STR, NULL}, {"data", T_STR, NULL}, {NULL, 0, NULL}};
static const fdef f_file_data[] = {
    {"mimeType", T_STR, NULL},
    {"fileUri", T_STR, NULL},
    {NULL, 0, NULL},
};
static const fdef f_part[] = {
    {"text", T_STR, NULL},
    {"inlineData", T_OBJ, f_blob},
    {"fileData", T_OBJ, f_file_data},
    {NULL, 0, NULL},
};
static const fdef f_content[] = {
    {"role", T_STR, NULL},
    {"parts", T_OBJ_ARR, f_part},
    {NULL, 0, NULL},
};

static const fdef f_function_response[] = {
    {"id", T_STR, NULL},
    {"name", T_STR, NULL},
    {"response", T_ANYOBJ, NULL},
    {"willContinue", T_BOOL, NULL},
    {"scheduling", T_ENUM, NULL},
    {NULL, 0, NULL},
};

/* The path of the value being normalized, as the user spelled it: tools[0].function_declarations */
typedef struct path {
    char s[240];
    size_t len;
} path;

static size_t path_push_key(path *p, const char *key)
{
    size_t old = p->len;
    int n = snprintf(p->s + p->len, sizeof p->s - p->len, "%s%s", p->len ? "." : "", key);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof p->s ? p->len + (size_t)n : sizeof p->s - 1;
    return old;
}

static size_t path_push_index(path *p, size_t i)
{
    size_t old = p->len;
    int n = snprintf(p->s + p->len, sizeof p->s - p->len, "[%zu]", i);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof p->s ? p->len + (size_t)n : sizeof p->s - 1;
    return old;
}

static void path_pop(path *p, size_t old)
{
    p->len = old;
    p->s[old] = '\0';
}

static void path_init(path *p, const char *where)
{
    p->len = 0;
    p->s[0] = '\0';
    if (where && *where)
        path_push_key(p, where);
}

static int type_err(const path *p, const char *what, gl_err *err)
{
    return gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" must be %s", p->s, what);
}

static int norm_value(const json_t *v, ftype t, const fdef *sub, path *p, json_t **out, gl_err *err);

static int norm_object(const json_t *in, const fdef *defs, path *p, json_t **out, gl_err *err)
{
    *out = NULL;
    if (!json_is_object(in))
        return type_err(p, "an object", err);
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v) {
        char camel[128];
        if (live_snake_to_camel(k, camel, sizeof camel) >= sizeof camel)
            camel[0] = '\0';
        const fdef *d = defs;
        while (d->name && strcmp(d->name, camel))
            d++;
        size_t mark = path_push_key(p, k);
        if (!d->name) {
            gl_fail(err, GL_E_BAD_REQUEST, "unknown field \"%s\"", p->s);
            goto fail;
        }
        if (json_object_get(o, camel)) {
            gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" given twice (snake_case and camelCase)", p->s);
            goto fail;
        }
        /* proto3 JSON: null = unset, except in a free-form google.protobuf.Value, where it is a
         * value (a schema's "default": null) and is copied like any other */
        if (json_is_null(v) && d->t != T_ANY) {
            path_pop(p, mark);
            continue;
        }
        json_t *nv;
        if (norm_value(v, d->t, d->sub, p, &nv, err) < 0)
            goto fail;
        json_object_set_new(o, camel, nv);
        path_pop(p, mark);
    }
    /* Every field of a Part is in its oneof `data`: the service closes 1007 on a part with two. */
    if (defs == f_part && json_object_size(o) > 1) {
        gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" must have only one of text, inline_data, file_data", p->s);
        goto fail;
    }
    *out = o;
    return 0;
fail:
    json_decref(o);
    return -1;
}

static int norm_array(const json_t *in, ftype elem, const fdef *sub, path *p, json_t **out,
                      gl_err *err)
{
    *out = NULL;
    if (!json_is_array(in))
        return type_err(p, "an array", err);
    json_t *a = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(in, i, v) {
        size_t mark = path_push_index(p, i);
        json_t *nv;
        if (norm_value(v, elem, sub, p, &nv, err) < 0) {
            json_decref(a);
            return -1;
        }
        json_array_append_new(a, nv);
        path_pop(p, mark);
    }
    *out = a;
    return 0;
}

static bool integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        return d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (*s == '-')
            s++;
        if (!*s)
            return false;
        for (; *s; s++)
            if (!isdigit((unsigned char)*s))
                return false;
        return true;
    }
    return false;
}

static int norm_value(const json_t *v, ftype t, const fdef *sub, path *p, json_t **out, gl_err *err)
{
    *out = NULL;
    switch (t) {
    case T_ANY:
        break;
    case T_ANYOBJ:
        if (!json_is_object(v))
            return type_err(p, "an object", err);
        break;
    case T_STR:
        if (!json_is_string(v))
            return type_err(p, "a string", err);
        break;
    case T_FNAME:
        if (!json_is_string(v))
            return type_err(p, "a string", err);
        if (!live_function_name_ok(json_string_value(v), err)) {
            char m[GL_ERR_MSG];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            return gl_fail(err, GL_E_BAD_REQUEST, "%s: %s", p->s, m);
        }
        break;
    case T_NUM:
        if (!json_is_number(v))
            return type_err(p, "a number", err);
        break;
    case T_INT:
        if (!integral(v))
            return type_err(p, "an integer", err);
        break;
    case T_BOOL:
        if (!json_is_boolean(v))
            return type_err(p, "a boolean", err);
        break;
    case T_ENUM:
        if (!json_is_string(v) && !json_is_integer(v))
            return type_err(p, "a string", err);
        break;
    case T_STR_ARR:
    case T_ENUM_ARR: {
        if (!json_is_array(v))
            return type_err(p, "an array of strings", err);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (!json_is_string(x)) {
                size_t mark = path_push_index(p, i);
                type_err(p, "a string", err);
                path_pop(p, mark);
                return -1;
            }
        }
        break;
    }
    case T_OBJ:
        return norm_object(v, sub, p, out, err);
    case T_OBJ_ARR:
        return norm_array(v, T_OBJ, sub, p, out, err);
    case T_SCHEMA:
        return norm_object(v, f_schema, p, out, err);
    case T_SCHEMA_ARR:
        return norm_array(v, T_SCHEMA, NULL, p, out, err);
    case T_SCHEMA_MAP: {
        if (!json_is_object(v))
            return type_err(p, "an object", err);
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            size_t mark = path_push_key(p, k);
            json_t *nx;
            if (norm_object(x, f_schema, p, &nx, err) < 0) {
                json_decref(o);
                return -1;
            }
            json_object_set_new(o, k, nx); /* property NAME kept verbatim */
            path_pop(p, mark);
        }
        *out = o;
        return 0;
    }
    }
    *out = json_deep_copy(v);
    return 0;
}

bool live_function_name_ok(const char *name, gl_err *err)
{
    if (!name || !*name) {
        gl_fail(err, GL_E_BAD_REQUEST, "function name must not be empty");
        return false;
    }
    size_t n = strlen(name);
    if (n > 64) {
        gl_fail(err, GL_E_BAD_REQUEST, "function name is longer than 64 characters");
        return false;
    }
    if (!isalpha((unsigned char)name[0]) && name[0] != '_') {
        gl_fail(err, GL_E_BAD_REQUEST, "function name must start with a letter or '_'");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (isalnum(c) || c == '_' || c == '.' || c == ':' || c == '-')
            continue;
        if (c >= 0x20 && c < 0x7f)
            gl_fail(err, GL_E_BAD_REQUEST,
                    "invalid character '%c' in function name (allowed: A-Z a-z 0-9 _ . : -)", c);
        else
            gl_fail(err, GL_E_BAD_REQUEST,
                    "invalid byte 0x%02x in function name (allowed: A-Z a-z 0-9 _ . : -)", c);
        return false;
    }
    return true;
}

int live_normalize_generation_config(const json_t *in, const char *where, json_t **out, gl_err *err)
{
    path p;
    path_init(&p, where);
    return norm_object(in, f_generation_config, &p, out, err);
}

int live_normalize_activity_detection(const json_t *in, const char *where, json_t **out, gl_err *err)
{
    path p;
    path_init(&p, where);
    return norm_object(in, f_activity_detection, &p, out, err);
}

int live_normalize_function_decl(const json_t *in, const char *where, json_t **out, gl_err *err)
{
    path p;
    path_init(&p, where);
    if (norm_object(in, f_function_decl, &p, out, err) < 0)
        return -1;
    if (!json_object_get(*out, "name")) {
        json_decref(*out);
        *out = NULL;
        return gl_fail(err, GL_E_BAD_REQUEST, "missing field \"%s%sname\"", p.s, p.len ? "." : "");
    }
    return 0;
}

int live_normalize_tools(const json_t *in, const char *where, json_t **out, gl_err *err)
{
    path p;
    path_init(&p, where);
    if (norm_array(in, T_OBJ, f_tool, &p, out, err) < 0)
        return -1;
    /* Every declaration has a name, and no name twice across all tools. */
    json_t *seen = json_object();
    size_t i, j;
    json_t *tool, *decl;
    int rc = 0;
    json_array_foreach(*out, i, tool) {
        json_array_foreach(json_object_get(tool, "functionDeclarations"), j, decl) {
            const char *name = json_string_value(json_object_get(decl, "name"));
            if (!name) {
                rc = gl_fail(err, GL_E_BAD_REQUEST, "missing field \"%s[%zu].function_declarations[%zu].name\"",
                             p.s, i, j);
                goto done;
            }
            if (json_object_get(seen, name)) {
                rc = gl_fail(err, GL_E_BAD_REQUEST, "function \"%s\" declared twice", name);
                goto done;
            }
            json_object_set_new(seen, name, json_true());
        }
    }
done:
    json_decref(seen);
    if (rc < 0) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int live_normalize_content(const json_t *in, const char *where, json_t **out, gl_err *err)
{
    *out = NULL;
    if (json_is_string(in)) {
        *out = json_pack("{s:[{s:O}]}", "parts", "text", in);
        return 0;
    }
    path p;
    path_init(&p, where);
    if (!json_is_object(in))
        return type_err(&p, "a string or a Content object", err);
    return norm_object(in, f_content, &p, out, err);
}

/* ---- Client messages --------------------------------------------------------------------- */

/* Dumps {key: body} compactly, stealing body. A NULL body (json_pack refused a NULL or
 * non-UTF-8 input string) gives NULL; nothing else can fail. */
static char *wrap_dump(const char *key, json_t *body)
{
    if (!body)
        return NULL;
    json_t *msg = json_object();
    json_object_set_new(msg, key, body);
    char *s = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(msg);
    return s;
}

static json_t *tokens_str(long long n)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", n);
    return json_string(b);
}

char *live_build_setup(const live_setup *cfg, gl_err *err)
{
    if (!cfg || !cfg->model || !*cfg->model) {
        gl_fail(err, GL_E_BAD_REQUEST, "missing model");
        return NULL;
    }
    json_t *setup = json_object();
    json_t *gc = json_object(), *x = NULL;

    /* model */
    size_t ml = strlen(cfg->model);
    char *model = gl_xmalloc(ml + 8);
    snprintf(model, ml + 8, "%s%s", strncmp(cfg->model, "models/", 7) ? "models/" : "", cfg->model);
    json_object_set_new(setup, "model", json_string(model));
    free(model);
    if (!json_object_get(setup, "model")) {
        gl_fail(err, GL_E_BAD_REQUEST, "model must be valid UTF-8");
        goto fail;
    }

    /* generationConfig: responseModalities first, always, then the user's fields. */
    json_object_set_new(gc, "responseModalities",
                        json_pack("[s]", live_modality_name(cfg->modality)));
    if (cfg->generation_config) {
        if (live_normalize_generation_config(cfg->generation_config, "generation_config", &x, err) < 0)
            goto fail;
        json_object_del(x, "responseModalities");
        json_object_update(gc, x);
        json_decref(x);
        x = NULL;
    }
    json_object_set(setup, "generationConfig", gc);

    if (cfg->system_instruction && !json_is_null(cfg->system_instruction)) {
        if (live_normalize_content(cfg->system_instruction, "system_instruction", &x, err) < 0)
            goto fail;
        json_object_set_new(setup, "systemInstruction", x);
        x = NULL;
    }
    if (cfg->tools && !json_is_null(cfg->tools)) {
        if (live_normalize_tools(cfg->tools, "tools", &x, err) < 0)
            goto fail;
        if (json_array_size(x))
            json_object_set_new(setup, "tools", x);
        else
            json_decref(x);
        x = NULL;
    }
    if (cfg->activity_detection) {
        if (live_normalize_activity_detection(cfg->activity_detection, "vad", &x, err) < 0)
            goto fail;
        if (cfg->manual_activity)
            json_object_set_new(x, "disabled", json_true());
        json_object_set_new(setup, "realtimeInputConfig", json_pack("{s:o}", "automaticActivityDetection", x));
        x = NULL;
    } else if (cfg->manual_activity) {
        json_object_set_new(setup, "realtimeInputConfig",
                            json_pack("{s:{s:b}}", "automaticActivityDetection", "disabled", 1));
    }
    if (cfg->resumption) {
        json_t *r = cfg->resume_handle && *cfg->resume_handle
                        ? json_pack("{s:s}", "handle", cfg->resume_handle)
                        : json_object();
        if (!r) { /* json_pack refuses a string that is not UTF-8 */
            gl_fail(err, GL_E_BAD_REQUEST, "resume handle must be valid UTF-8");
            goto fail;
        }
        json_object_set_new(setup, "sessionResumption", r);
    }
    if (cfg->compression) {
        json_t *cw = json_object(), *sw = json_object();
        if (cfg->compression_trigger_tokens > 0)
            json_object_set_new(cw, "triggerTokens", tokens_str(cfg->compression_trigger_tokens));
        if (cfg->compression_target_tokens > 0)
            json_object_set_new(sw, "targetTokens", tokens_str(cfg->compression_target_tokens));
        json_object_set_new(cw, "slidingWindow", sw);
        json_object_set_new(setup, "contextWindowCompression", cw);
    }
    if (cfg->input_transcription)
        json_object_set_new(setup, "inputAudioTranscription", json_object());
    if (cfg->output_transcription)
        json_object_set_new(setup, "outputAudioTranscription", json_object());

    json_decref(gc);
    return wrap_dump("setup", setup);
fail:
    json_decref(x);
    json_decref(gc);
    json_decref(setup);
    return NULL;
}

char *live_build_client_text(const char *text, bool turn_complete)
{
    json_t *t = gl_json_text(text);
    if (!t)
        return NULL;
    return wrap_dump("clientContent",
                     json_pack("{s:[{s:s,s:[{s:o}]}],s:b}", "turns", "role", "user", "parts", "text",
                               t, "turnComplete", turn_complete));
}

char *live_build_realtime_text(const char *text)
{
    json_t *t = gl_json_text(text);
    return t ? wrap_dump("realtimeInput", json_pack("{s:o}", "text", t)) : NULL;
}

char *live_build_realtime_audio(const char *b64, int rate)
{
    char mime[48];
    snprintf(mime, sizeof mime, "audio/pcm;rate=%d", rate > 0 ? rate : 16000);
    return wrap_dump("realtimeInput",
                     json_pack("{s:{s:s,s:s}}", "audio", "data", b64 ? b64 : "", "mimeType", mime));
}

char *live_build_activity_start(void)
{
    return wrap_dump("realtimeInput", json_pack("{s:{}}", "activityStart"));
}

char *live_build_activity_end(void)
{
    return wrap_dump("realtimeInput", json_pack("{s:{}}", "activityEnd"));
}

char *live_build_realtime_video(const char *b64, const char *mime)
{
    return wrap_dump("realtimeInput", json_pack("{s:{s:s, s:s}}", "video", "data", b64, "mimeType", mime));
}

char *live_build_client_parts(const json_t *parts, gl_err *err)
{
    json_t *content = json_pack("{s:O}", "parts", parts), *norm;
    int rc = live_normalize_content(content, "parts", &norm, err);
    json_decref(content);
    if (rc < 0)
        return NULL;
    json_object_set_new(norm, "role", json_string("user"));
    return wrap_dump("clientContent", json_pack("{s:[o], s:b}", "turns", norm, "turnComplete", 1));
}

char *live_build_audio_stream_end(void)
{
    return wrap_dump("realtimeInput", json_pack("{s:b}", "audioStreamEnd", 1));
}

char *live_build_tool_response(const json_t *responses, gl_err *err)
{
    path p;
    path_init(&p, "function_responses");
    json_t *arr;
    if (norm_array(responses, T_OBJ, f_function_response, &p, &arr, err) < 0)
        return NULL;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        /* no "id": the answer to a call the server sent without one (seen on Vertex) */
        static const char *const req[] = {"name", "response"};
        for (size_t k = 0; k < 2; k++) {
            if (!json_object_get(r, req[k])) {
                gl_fail(err, GL_E_BAD_REQUEST, "missing field \"function_responses[%zu].%s\"", i, req[k]);
                json_decref(arr);
                return NULL;
            }
        }
    }
    return wrap_dump("toolResponse", json_pack("{s:o}", "functionResponses", arr));
}

/* ---- Server messages --------------------------------------------------------------------- */

const char *live_event_kind_name(live_event_kind k)
{
    static const char *const names[] = {
        [LIVE_EV_SETUP_COMPLETE] = "SETUP_COMPLETE",
        [LIVE_EV_TEXT] = "TEXT",
        [LIVE_EV_AUDIO] = "AUDIO",
        [LIVE_EV_EXECUTABLE_CODE] = "EXECUTABLE_CODE",
        [LIVE_EV_CODE_RESULT] = "CODE_RESULT",
        [LIVE_EV_GROUNDING] = "GROUNDING",
        [LIVE_EV_INPUT_TRANSCRIPTION] = "INPUT_TRANSCRIPTION",
        [LIVE_EV_OUTPUT_TRANSCRIPTION] = "OUTPUT_TRANSCRIPTION",
        [LIVE_EV_GENERATION_COMPLETE] = "GENERATION_COMPLETE",
        [LIVE_EV_TURN_COMPLETE] = "TURN_COMPLETE",
        [LIVE_EV_INTERRUPTED] = "INTERRUPTED",
        [LIVE_EV_TOOL_CALL] = "TOOL_CALL",
        [LIVE_EV_TOOL_CALL_CANCELLATION] = "TOOL_CALL_CANCELLATION",
        [LIVE_EV_GO_AWAY] = "GO_AWAY",
        [LIVE_EV_RESUMPTION_UPDATE] = "RESUMPTION_UPDATE",
        [LIVE_EV_USAGE] = "USAGE",
        [LIVE_EV_VOICE_ACTIVITY] = "VOICE_ACTIVITY",
        [LIVE_EV_UNKNOWN] = "UNKNOWN",
    };
    return (unsigned)k < sizeof names / sizeof *names && names[k] ? names[k] : "?";
}

typedef struct emitter {
    live_server_cb cb;
    void *ud;
    bool stopped;
} emitter;

static void emit(emitter *e, live_event *ev)
{
    if (!e->stopped && e->cb(ev, e->ud) != 0)
        e->stopped = true;
}

static void emit_kind(emitter *e, live_event_kind k)
{
    live_event ev = {.kind = k};
    emit(e, &ev);
}

static const char *str_of(const json_t *o, const char *camel)
{
    return json_string_value(get(o, camel)); /* NULL unless a string */
}

static void emit_part(emitter *e, const json_t *part)
{
    live_event ev = {0};
    json_t *v;
    if ((v = get(part, "text")) && json_is_string(v)) {
        ev.kind = LIVE_EV_TEXT;
        ev.text = json_string_value(v);
        ev.text_len = json_string_length(v);
        ev.thought = json_is_true(get(part, "thought"));
    } else if ((v = get(part, "inlineData")) && json_is_object(v)) {
        json_t *d = get(v, "data");
        ev.kind = LIVE_EV_AUDIO;
        ev.mime = str_of(v, "mimeType");
        ev.data = json_is_string(d) ? json_string_value(d) : "";
        ev.data_len = json_is_string(d) ? json_string_length(d) : 0;
    } else if ((v = get(part, "executableCode")) && json_is_object(v)) {
        ev.kind = LIVE_EV_EXECUTABLE_CODE;
        ev.language = str_of(v, "language");
        ev.code = str_of(v, "code");
        if (!ev.code)
            ev.code = "";
    } else if ((v = get(part, "codeExecutionResult")) && json_is_object(v)) {
        ev.kind = LIVE_EV_CODE_RESULT;
        ev.outcome = str_of(v, "outcome");
        ev.output = str_of(v, "output");
    } else
        return; /* a part kind we do not handle (functionCall parts do not occur in Live) */
    emit(e, &ev);
}

static void emit_transcription(emitter *e, const json_t *t, live_event_kind k, bool interim)
{
    if (!json_is_object(t))
        return;
    json_t *text = get(t, "text");
    live_event ev = {.kind = k, .text = "", .text_len = 0, .interim = interim};
    if (json_is_string(text)) {
        ev.text = json_string_value(text);
        ev.text_len = json_string_length(text);
    }
    ev.finished = json_is_true(get(t, "finished"));
    emit(e, &ev);
}

static void server_content(emitter *e, const json_t *sc, json_t *usage)
{
    if (!json_is_object(sc))
        return;
    json_t *parts = get(get(sc, "modelTurn"), "parts");
    size_t i;
    json_t *part;
    json_array_foreach(parts, i, part) /* no-op unless an array */
        emit_part(e, part);
    emit_transcription(e, get(sc, "inputTranscription"), LIVE_EV_INPUT_TRANSCRIPTION, false);
    emit_transcription(e, get(sc, "interimInputTranscription"), LIVE_EV_INPUT_TRANSCRIPTION, true);
    emit_transcription(e, get(sc, "outputTranscription"), LIVE_EV_OUTPUT_TRANSCRIPTION, false);
    json_t *g = get(sc, "groundingMetadata");
    if (json_is_object(g)) {
        live_event ev = {.kind = LIVE_EV_GROUNDING, .json = g};
        emit(e, &ev);
    }
    if (json_is_true(get(sc, "interrupted")))
        emit_kind(e, LIVE_EV_INTERRUPTED);
    if (json_is_true(get(sc, "generationComplete")))
        emit_kind(e, LIVE_EV_GENERATION_COMPLETE);
    if (json_is_true(get(sc, "turnComplete"))) {
        live_event ev = {.kind = LIVE_EV_TURN_COMPLETE,
                         .json = json_is_object(usage) ? usage : NULL,
                         .reason = str_of(sc, "turnCompleteReason"),
                         .waiting_for_input = json_is_true(get(sc, "waitingForInput"))};
        emit(e, &ev);
    }
}

static void tool_call(emitter *e, const json_t *tc)
{
    json_t *calls = get(tc, "functionCalls");
    if (!json_is_array(calls))
        return;
    size_t n = json_array_size(calls), i;
    json_t *call;
    json_array_foreach(calls, i, call) {
        json_t *args = get(call, "args");
        json_t *empty = NULL;
        if (!json_is_object(args))
            args = empty = json_object();
        live_event ev = {.kind = LIVE_EV_TOOL_CALL,
                         .call_id = str_of(call, "id"),
                         .name = str_of(call, "name"),
                         .json = args,
                         .index = i,
                         .count = n};
        if (!ev.name)
            ev.name = "";
        emit(e, &ev);
        json_decref(empty);
    }
}

int live_parse_server(const char *data, size_t len, live_server_cb cb, void *ud, gl_err *err)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!root) {
        if (je.column > 0)
            return gl_fail(err, "bad_server_json", "invalid JSON from server at column %d: %s",
                           je.column, je.text);
        return gl_fail(err, "bad_server_json", "invalid JSON from server: %s", je.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return gl_fail(err, "bad_server_json", "server message is not a JSON object");
    }
    emitter e = {.cb = cb, .ud = ud};
    json_t *usage = get(root, "usageMetadata");
    bool usage_rides = json_is_true(get(get(root, "serverContent"), "turnComplete"));

    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (e.stopped)
            break;
        char name[64];
        if (live_snake_to_camel(k, name, sizeof name) >= sizeof name)
            name[0] = '\0';
        if (!strcmp(name, "setupComplete")) {
            live_event ev = {.kind = LIVE_EV_SETUP_COMPLETE, .session_id = str_of(v, "sessionId")};
            emit(&e, &ev);
        } else if (!strcmp(name, "voiceActivity")) {
            const char *a = str_of(v, "voiceActivityType");
            live_event ev = {.kind = LIVE_EV_VOICE_ACTIVITY, .activity = a ? a : ""};
            emit(&e, &ev);
        } else if (!strcmp(name, "serverContent")) {
            server_content(&e, v, usage);
        } else if (!strcmp(name, "toolCall")) {
            tool_call(&e, v);
        } else if (!strcmp(name, "toolCallCancellation")) {
            json_t *ids = get(v, "ids"), *empty = NULL;
            if (!json_is_array(ids))
                ids = empty = json_array();
            live_event ev = {.kind = LIVE_EV_TOOL_CALL_CANCELLATION, .json = ids};
            emit(&e, &ev);
            json_decref(empty);
        } else if (!strcmp(name, "goAway")) {
            json_t *t = get(v, "timeLeft");
            live_event ev = {.kind = LIVE_EV_GO_AWAY, .time_left_ms = -1};
            if (json_is_string(t))
                ev.time_left_ms = live_parse_duration_ms(json_string_value(t));
            /* The same bound as the string form's 15 digits: a larger number would overflow
             * the conversion to long long (undefined behaviour), so it counts as unparseable. */
            else if (json_is_number(t) && json_number_value(t) >= 0 && json_number_value(t) < 1e15)
                ev.time_left_ms = (long long)(json_number_value(t) * 1000.0);
            emit(&e, &ev);
        } else if (!strcmp(name, "sessionResumptionUpdate")) {
            live_event ev = {.kind = LIVE_EV_RESUMPTION_UPDATE,
                             .new_handle = str_of(v, "newHandle"),
                             .resumable = json_is_true(get(v, "resumable"))};
            emit(&e, &ev);
        } else if (!strcmp(name, "usageMetadata")) {
            if (!usage_rides && json_is_object(v)) {
                live_event ev = {.kind = LIVE_EV_USAGE, .json = v};
                emit(&e, &ev);
            }
        } else {
            live_event ev = {.kind = LIVE_EV_UNKNOWN, .name = k};
            emit(&e, &ev);
        }
    }
    json_decref(root);
    return 0;
}
