/* libFuzzer target: the Live API codec (proto/live.c) on input it does not control.
 *  - live_parse_server on the bytes as a server message: the service (or whoever sits on the
 *    network path before TLS verification fails, or a buggy proxy) writes them. Every borrowed
 *    pointer of every event is read in full, so ASan sees a dangling or short one.
 *  - The normalizers, live_build_setup and live_build_tool_response on the bytes as JSON: a local
 *    client writes those pieces (open's tools/generation_config/system_instruction,
 *    tool.register's declaration, tool.result's response).
 * Contracts checked (abort = reported as a crash):
 *  - events: text/data hold text_len/data_len bytes then a NUL; TOOL_CALL args is an object and
 *    index < count; returning non-zero from the callback stops the events;
 *  - a normalizer's success is camelCase JSON the same normalizer takes again unchanged
 *    (idempotent), and its failure leaves *out NULL with a bad_request message;
 *  - every builder's output is one JSON object. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "proto/line.h"
#include "proto/live.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init();
    return 0;
}

/* Reads every byte of a borrowed string (and its NUL), so ASan checks the whole range. */
static size_t touch(const char *s, size_t len)
{
    if (!s)
        return 0;
    size_t sum = 0;
    for (size_t i = 0; i <= len; i++)
        sum += (unsigned char)s[i];
    CHECK(s[len] == '\0');
    return sum;
}

static size_t touchz(const char *s) { return s ? touch(s, strlen(s)) : 0; }

typedef struct sink {
    unsigned events, stop_after; /* stop_after 0: never stop */
    size_t sum;
} sink;

static int on_event(const live_event *ev, void *ud)
{
    sink *k = ud;
    CHECK(k->stop_after == 0 || k->events < k->stop_after); /* stopped means stopped */
    k->events++;
    CHECK(strcmp(live_event_kind_name(ev->kind), "?") != 0);
    k->sum += touch(ev->text, ev->text_len) + touch(ev->data, ev->data_len);
    k->sum += touchz(ev->session_id) + touchz(ev->activity) + touchz(ev->mime) +
              touchz(ev->language) + touchz(ev->code) + touchz(ev->outcome) + touchz(ev->output) +
              touchz(ev->reason) + touchz(ev->call_id) + touchz(ev->name) + touchz(ev->new_handle);
    switch (ev->kind) {
    case LIVE_EV_TEXT:
    case LIVE_EV_INPUT_TRANSCRIPTION:
    case LIVE_EV_OUTPUT_TRANSCRIPTION:
        CHECK(ev->text);
        break;
    case LIVE_EV_AUDIO:
        CHECK(ev->data);
        break;
    case LIVE_EV_EXECUTABLE_CODE:
        CHECK(ev->code);
        break;
    case LIVE_EV_VOICE_ACTIVITY:
        CHECK(ev->activity);
        break;
    case LIVE_EV_TOOL_CALL:
        CHECK(ev->name && json_is_object(ev->json) && ev->index < ev->count);
        break;
    case LIVE_EV_TOOL_CALL_CANCELLATION:
        CHECK(json_is_array(ev->json));
        break;
    case LIVE_EV_GROUNDING:
    case LIVE_EV_USAGE:
        CHECK(json_is_object(ev->json));
        break;
    case LIVE_EV_UNKNOWN:
        CHECK(ev->name);
        break;
    default:
        break;
    }
    if (ev->json) { /* borrowed: must be alive and whole */
        char *s = json_dumps(ev->json, JSON_COMPACT | JSON_ENCODE_ANY);
        CHECK(s);
        free(s);
    }
    return k->stop_after && k->events >= k->stop_after;
}

static void check_json_out(char *s)
{
    if (!s)
        return;
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    CHECK(j && json_is_object(j) && json_object_size(j) == 1);
    json_decref(j);
    free(s);
}

typedef int (*normalizer)(const json_t *in, const char *where, json_t **out, gl_err *err);

/* One normalizer on v: failure is clean, success is idempotent. */
static void normalize(normalizer f, const json_t *v)
{
    json_t *out = (json_t *)1;
    gl_err err;
    if (f(v, "w", &out, &err) < 0) {
        CHECK(out == NULL && !strcmp(err.code, "bad_request"));
        return;
    }
    CHECK(out);
    json_t *again = NULL;
    CHECK(f(out, "w", &again, &err) == 0 && json_equal(out, again));
    json_decref(again);
    json_decref(out);
}

static const json_t *member(const json_t *o, const char *k)
{
    return json_object_get(o, k); /* NULL unless o is an object holding k */
}

static long long int_or(const json_t *v, long long dflt)
{
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* live_build_setup with a configuration taken from the object's fields, as daemon/session.c
 * fills it from an open request. */
static void build_setup(const json_t *o)
{
    live_setup cfg = {
        .model = json_string_value(member(o, "model")),
        .modality = json_is_true(member(o, "audio")) ? LIVE_AUDIO : LIVE_TEXT,
        .generation_config = member(o, "generation_config"),
        .system_instruction = member(o, "system_instruction"),
        .tools = member(o, "tools"),
        .manual_activity = json_is_true(member(o, "manual")),
        .resumption = json_is_true(member(o, "resumption")),
        .resume_handle = json_string_value(member(o, "handle")),
        .compression = json_is_true(member(o, "compression")),
        .compression_trigger_tokens = int_or(member(o, "trigger"), 0),
        .compression_target_tokens = int_or(member(o, "target"), 0),
        .input_transcription = json_is_true(member(o, "in")),
        .output_transcription = json_is_true(member(o, "out")),
    };
    if (cfg.generation_config && !json_is_object(cfg.generation_config))
        cfg.generation_config = NULL; /* the daemon checks the type first (gl_req_obj) */
    if (cfg.tools && !json_is_array(cfg.tools))
        cfg.tools = NULL;
    live_modality m;
    gl_err err;
    if (cfg.generation_config && live_config_modality(cfg.generation_config, &m, &err) < 0)
        return;
    check_json_out(live_build_setup(&cfg, &err));
}

/* The string helpers, on every string of the document (bounded). */
static void strings(const json_t *v, unsigned *budget)
{
    if (!*budget)
        return;
    if (json_is_string(v)) {
        (*budget)--;
        const char *s = json_string_value(v);
        gl_err err;
        live_modality m;
        long long ms = live_parse_duration_ms(s);
        CHECK(ms >= -1);
        (void)live_function_name_ok(s, &err);
        (void)live_modality_parse(s, &m, "m", &err);
        char *c = live_camel(s);
        CHECK(strlen(c) <= strlen(s));
        free(c);
        check_json_out(live_build_client_text(s, true));
        check_json_out(live_build_realtime_text(s));
        check_json_out(live_build_realtime_audio(s, (int)(ms % 100000)));
        return;
    }
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(v))
        json_array_foreach(v, i, x) strings(x, budget);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, k, x) strings(x, budget);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    /* Server side: the raw bytes, stopping after a few events for some inputs. */
    sink k = {.stop_after = size % 7 == 3 ? (unsigned)(size % 4) : 0};
    gl_err err;
    if (live_parse_server(s, size, on_event, &k, &err) < 0)
        CHECK(k.events == 0 && !strcmp(err.code, "bad_server_json"));

    /* Client side: the same bytes as a local client's JSON (the daemon rejects duplicates). */
    json_error_t je;
    json_t *v = json_loadb(s, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return 0;
    normalize(live_normalize_generation_config, v);
    normalize(live_normalize_tools, v);
    normalize(live_normalize_function_decl, v);
    normalize(live_normalize_content, v);
    static const char *const pieces[] = {"generation_config", "tools", "declaration",
                                         "system_instruction"};
    static const normalizer fns[] = {live_normalize_generation_config, live_normalize_tools,
                                     live_normalize_function_decl, live_normalize_content};
    for (size_t i = 0; i < 4; i++)
        if (member(v, pieces[i]))
            normalize(fns[i], member(v, pieces[i]));
    if (json_is_object(v))
        build_setup(v);
    check_json_out(live_build_tool_response(json_is_array(member(v, "responses")) ? member(v, "responses") : v,
                                            &err));
    live_modality m;
    (void)live_config_modality(v, &m, &err);
    json_t *camel = live_json_camel_keys(v);
    CHECK(camel && json_typeof(camel) == json_typeof(v));
    json_decref(camel);
    unsigned budget = 16;
    strings(v, &budget);
    json_decref(v);
    return 0;
}
