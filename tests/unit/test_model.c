/* The scripted model (emulator/model.c and friends): the seven seed scenarios through the
 * built-in script, script rules (once, requires), faults, placeholders, history, loading
 * errors, determinism, and the pieces (compute, corpus, audio). */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "emulator/audio.h"
#include "emulator/compute.h"
#include "emulator/corpus.h"
#include "emulator/dsp.h"
#include "emulator/hear.h"
#include "emulator/media.h"
#include "emulator/model.h"
#include "emulator/model_priv.h"
#include "emulator/stream.h"
#include "emulator/voice.h"
#include "tests/unit/testlib.h"

#define SEED7_PROMPT                                                                       \
    "Hey, I need you to do three things for me.\n\n"                                      \
    "1. Turn on the lights.\n"                                                             \
    "2. Then compute the largest prime palindrome under 100000.\n"                        \
    "3. Then use Google Search to look up information about the largest earthquake in "   \
    "California the week of Dec 5 2024.\n\nThanks!"
#define SEED5_PROMPT                                                                       \
    "Can you use google search tell me about the largest earthquake in California the "   \
    "week of Dec 5 2024?"
#define SEED6_PROMPT                                                                       \
    "write and run python code to turn on the lights, wait 10s and then turn off the lights"

/* ---------- helpers ---------- */

enum { T_FNS = 1, T_CODE = 2, T_SEARCH = 4, T_TRANSCRIBE = 8, T_NOMOD = 16, T_INPUT_TR = 32 };

static json_t *mk_setup(const char *modality, int flags)
{
    json_t *setup = json_pack("{s:s}", "model", "models/gemini-2.0-flash-live-001");
    if (!(flags & T_NOMOD))
        json_object_set_new(setup, "generationConfig",
                            json_pack("{s:[s]}", "responseModalities", modality));
    json_t *tools = json_array();
    if (flags & T_FNS)
        json_array_append_new(tools, json_pack("{s:[{s:s},{s:s}]}", "functionDeclarations",
                                               "name", "turn_on_the_lights", "name",
                                               "turn_off_the_lights"));
    if (flags & T_CODE)
        json_array_append_new(tools, json_pack("{s:{}}", "codeExecution"));
    if (flags & T_SEARCH)
        json_array_append_new(tools, json_pack("{s:{}}", "googleSearch"));
    json_object_set_new(setup, "tools", tools);
    if (flags & T_TRANSCRIBE)
        json_object_set_new(setup, "outputAudioTranscription", json_object());
    if (flags & T_INPUT_TR)
        json_object_set_new(setup, "inputAudioTranscription", json_object());
    return setup;
}

static emu_session *mk_session(emu_script *s, const char *modality, int flags)
{
    json_t *setup = mk_setup(modality, flags);
    emu_session *m = emu_session_new(s, setup);
    json_decref(setup);
    return m;
}

static const json_t *sc(const emu_action *a) /* serverContent of a SEND, or NULL */
{
    return a->kind == EMU_ACT_SEND ? json_object_get(a->msg, "serverContent") : NULL;
}

static const json_t *part(const emu_action *a) /* the one modelTurn part, or NULL */
{
    const json_t *parts = json_object_get(json_object_get(sc(a), "modelTurn"), "parts");
    return json_array_size(parts) == 1 ? json_array_get(parts, 0) : NULL;
}

static const char *part_text(const emu_action *a)
{
    return json_string_value(json_object_get(part(a), "text"));
}

static bool is_gen_complete(const emu_action *a)
{
    return json_is_true(json_object_get(sc(a), "generationComplete"));
}

static bool is_turn_complete(const emu_action *a)
{
    return json_is_true(json_object_get(sc(a), "turnComplete"));
}

/* Concatenation of every text part in a. */
static char text_buf[8192];
static const char *all_text(const emu_actions *a)
{
    text_buf[0] = '\0';
    for (size_t i = 0; i < a->len; i++) {
        const char *t = part_text(&a->v[i]);
        if (t)
            strncat(text_buf, t, sizeof text_buf - strlen(text_buf) - 1);
    }
    return text_buf;
}

/* Concatenation of every outputTranscription in a. */
static char tr_buf[8192];
static const char *all_transcript(const emu_actions *a, size_t *count)
{
    tr_buf[0] = '\0';
    *count = 0;
    for (size_t i = 0; i < a->len; i++) {
        const char *t = json_string_value(
            json_object_get(json_object_get(sc(&a->v[i]), "outputTranscription"), "text"));
        if (t) {
            strncat(tr_buf, t, sizeof tr_buf - strlen(tr_buf) - 1);
            (*count)++;
        }
    }
    return tr_buf;
}

static size_t b64_decoded_len(const char *b64)
{
    size_t n = strlen(b64);
    size_t len = n / 4 * 3;
    if (n && b64[n - 1] == '=')
        len--;
    if (n > 1 && b64[n - 2] == '=')
        len--;
    return len;
}

/* Checks the audio chunks in a: count, every one 9600 bytes but the last; returns total. */
static size_t audio_total(const emu_actions *a, size_t *chunks, bool *sizes_ok)
{
    size_t total = 0, last = 0;
    *chunks = 0;
    *sizes_ok = true;
    for (size_t i = 0; i < a->len; i++) {
        const json_t *d = json_object_get(part(&a->v[i]), "inlineData");
        if (!d)
            continue;
        if (strcmp(json_string_value(json_object_get(d, "mimeType")), "audio/pcm;rate=24000"))
            *sizes_ok = false;
        size_t n = b64_decoded_len(json_string_value(json_object_get(d, "data")));
        if (*chunks && last != EMU_AUDIO_CHUNK)
            *sizes_ok = false;
        if (n == 0 || n > EMU_AUDIO_CHUNK)
            *sizes_ok = false;
        last = n;
        total += n;
        (*chunks)++;
    }
    return total;
}

static int find_action(const emu_actions *a, bool (*pred)(const emu_action *))
{
    for (size_t i = 0; i < a->len; i++)
        if (pred(&a->v[i]))
            return (int)i;
    return -1;
}

static bool is_tool_call(const emu_action *a)
{
    return a->kind == EMU_ACT_SEND && json_object_get(a->msg, "toolCall");
}

static bool is_code(const emu_action *a)
{
    return json_object_get(part(a), "executableCode") != NULL;
}

static bool is_code_result(const emu_action *a)
{
    return json_object_get(part(a), "codeExecutionResult") != NULL;
}

static bool is_grounding(const emu_action *a)
{
    return json_object_get(sc(a), "groundingMetadata") != NULL;
}

static bool is_audio(const emu_action *a)
{
    return json_object_get(part(a), "inlineData") != NULL;
}

static bool valid_call_id(const char *id)
{
    if (!id || strncmp(id, "function-call-", 14) != 0)
        return false;
    size_t n = 0;
    for (const char *p = id + 14; *p; p++, n++)
        if (!isdigit((unsigned char)*p))
            return false;
    return n >= 15 && n <= 20;
}

/* The one function call of a toolCall action. */
static const json_t *the_call(const emu_action *a)
{
    const json_t *fc = json_object_get(json_object_get(a->msg, "toolCall"), "functionCalls");
    return json_array_size(fc) == 1 ? json_array_get(fc, 0) : NULL;
}

static const char *call_id(const emu_action *a)
{
    return json_string_value(json_object_get(the_call(a), "id"));
}

static json_t *ok_response(void)
{
    return json_pack("{s:{s:s}}", "result", "string_value", "ok");
}

static const json_t *usage(const emu_action *a)
{
    return a->kind == EMU_ACT_SEND ? json_object_get(a->msg, "usageMetadata") : NULL;
}

static long long usage_int(const emu_action *a, const char *key)
{
    return json_integer_value(json_object_get(usage(a), key));
}

static const char *resp_modality(const emu_action *a)
{
    return json_string_value(json_object_get(
        json_array_get(json_object_get(usage(a), "responseTokensDetails"), 0), "modality"));
}

static emu_script *load_str(const char *text)
{
    gl_err e = {0};
    emu_script *s = emu_script_load_string(text, &e);
    if (!s)
        printf("# load failed: %s\n", e.msg);
    return s;
}

/* ---------- the seed scenarios ---------- */

TEST(default_script_loads)
{
    gl_err e = {0};
    emu_script *s = emu_script_load(NULL, &e);
    CHECK(s != NULL);
    CHECK(s->nrules >= 10);
    emu_script_free(s);
}

TEST(seed1_hello_text_in_chunks)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "Hello?", &a);
    CHECK_INT(a.len, 4);
    CHECK_STR(part_text(&a.v[0]), "Hello");
    CHECK_STR(part_text(&a.v[1]), "! How can I help you today?");
    CHECK(is_gen_complete(&a.v[2]));
    CHECK(is_turn_complete(&a.v[3]));
    CHECK(!is_turn_complete(&a.v[2]));
    long long p = usage_int(&a.v[3], "promptTokenCount");
    long long r = usage_int(&a.v[3], "responseTokenCount");
    CHECK(p > 0 && r > 0);
    CHECK_INT(usage_int(&a.v[3], "totalTokenCount"), p + r);
    CHECK_STR(resp_modality(&a.v[3]), "TEXT");
    CHECK_INT(emu_session_turns(m), 1);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed2_lights_tool_call_text)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_FNS);
    emu_actions a = {0};
    emu_session_prompt(m, "Turn on the lights", &a);
    CHECK_INT(a.len, 2);
    CHECK(is_tool_call(&a.v[0]));
    const json_t *call = the_call(&a.v[0]);
    CHECK(call != NULL);
    CHECK_STR(json_string_value(json_object_get(call, "name")), "turn_on_the_lights");
    CHECK(json_is_object(json_object_get(call, "args")));
    CHECK_INT(json_object_size(json_object_get(call, "args")), 0);
    const char *id = call_id(&a.v[0]);
    CHECK(valid_call_id(id));
    CHECK_INT(a.v[1].kind, EMU_ACT_AWAIT_TOOL);
    CHECK_INT(json_array_size(a.v[1].ids), 1);
    CHECK_STR(json_string_value(json_array_get(a.v[1].ids, 0)), id);
    json_t *pend = emu_session_pending_calls(m);
    CHECK_INT(json_array_size(pend), 1);
    json_decref(pend);

    json_t *resp = ok_response();
    CHECK(emu_session_tool_response(m, id, "turn_on_the_lights", resp));
    json_decref(resp);
    emu_actions b = {0};
    emu_session_continue(m, &b);
    CHECK_STR(all_text(&b), "OK, I've turned on the lights.");
    CHECK(b.len >= 4);
    CHECK(is_gen_complete(&b.v[b.len - 2]));
    CHECK(is_turn_complete(&b.v[b.len - 1]));
    CHECK_INT(emu_session_turns(m), 1);
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed3_lights_audio_pcm_matches_text)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", T_FNS);
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, "Turn on the lights", &a);
    CHECK_INT(a.len, 2);
    json_t *resp = ok_response();
    CHECK(emu_session_tool_response(m, call_id(&a.v[0]), "turn_on_the_lights", resp));
    json_decref(resp);
    emu_session_continue(m, &b);
    size_t chunks, tcount;
    bool ok;
    size_t total = audio_total(&b, &chunks, &ok);
    const char *said = "OK, I've turned on the lights.";
    CHECK(ok);
    CHECK_INT(total, strlen(said) * EMU_AUDIO_BYTES_PER_CHAR);
    CHECK_INT(total, emu_audio_len(said));
    CHECK_INT(chunks, (total + EMU_AUDIO_CHUNK - 1) / EMU_AUDIO_CHUNK);
    all_transcript(&b, &tcount);
    CHECK_INT(tcount, 0); /* not asked for */
    CHECK_STR(all_text(&b), "");
    CHECK_INT(b.len, chunks + 2);
    CHECK_STR(resp_modality(&b.v[b.len - 1]), "AUDIO");
    json_t *h = emu_session_history(m);
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 0), "model")), said);
    json_decref(h);
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(audio_transcription_only_when_asked)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", T_TRANSCRIBE);
    emu_actions a = {0};
    emu_session_prompt(m, "Hello?", &a);
    size_t tcount, chunks;
    bool ok;
    CHECK_STR(all_transcript(&a, &tcount), "Hello! How can I help you today?");
    CHECK(tcount >= 2);
    CHECK(audio_total(&a, &chunks, &ok) == emu_audio_len("Hello! How can I help you today?"));
    CHECK(ok);
    /* order: the first audio chunk comes first, every transcript before generationComplete */
    CHECK(is_audio(&a.v[0]));
    int gen = find_action(&a, is_gen_complete);
    CHECK(gen > 0);
    for (int i = gen; i < (int)a.len; i++)
        CHECK(!json_object_get(sc(&a.v[i]), "outputTranscription"));
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(default_modality_is_audio)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, NULL, T_NOMOD);
    emu_actions a = {0};
    emu_session_prompt(m, "Hello?", &a);
    CHECK(is_audio(&a.v[0]));
    CHECK_STR(all_text(&a), "");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed4_prime_palindrome_computed)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_CODE);
    emu_actions a = {0};
    emu_session_prompt(m, "What is the largest prime palindrome under 100000", &a);
    int c = find_action(&a, is_code), r = find_action(&a, is_code_result);
    CHECK(c >= 0 && r == c + 1);
    const json_t *code = json_object_get(part(&a.v[c]), "executableCode");
    CHECK_STR(json_string_value(json_object_get(code, "language")), "PYTHON");
    CHECK_CONTAINS(json_string_value(json_object_get(code, "code")), "range(100000)");
    const json_t *res = json_object_get(part(&a.v[r]), "codeExecutionResult");
    CHECK_STR(json_string_value(json_object_get(res, "outcome")), "OUTCOME_OK");
    CHECK_STR(json_string_value(json_object_get(res, "output")), "98689\n");
    CHECK_STR(all_text(&a), "The largest prime palindrome under 100000 is 98689.");
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    emu_actions_free(&a);

    /* the number comes from the prompt, the answer is computed */
    emu_session_prompt(m, "What is the largest prime palindrome under 1000?", &a);
    CHECK_STR(all_text(&a), "The largest prime palindrome under 1000 is 929.");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed4_audio_and_without_code_execution)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", T_CODE | T_TRANSCRIBE);
    emu_actions a = {0};
    emu_session_prompt(m, "What is the largest prime palindrome under 100000", &a);
    size_t tc;
    CHECK_STR(all_transcript(&a, &tc), "The largest prime palindrome under 100000 is 98689.");
    CHECK(find_action(&a, is_audio) > find_action(&a, is_code_result));
    emu_actions_free(&a);
    emu_session_free(m);

    m = mk_session(s, "TEXT", 0);
    emu_session_prompt(m, "What is the largest prime palindrome under 100000", &a);
    CHECK(find_action(&a, is_code) < 0);
    CHECK_CONTAINS(all_text(&a), "can't run code");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed5_earthquake_grounded)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_SEARCH);
    emu_actions a = {0};
    emu_session_prompt(m, SEED5_PROMPT, &a);
    const char *t = all_text(&a);
    CHECK_CONTAINS(t, "M7.0");
    CHECK_CONTAINS(t, "Cape Mendocino");
    CHECK_CONTAINS(t, "December 5, 2024");
    CHECK_CONTAINS(t, "10:44");
    CHECK_CONTAINS(t, "tsunami warning");
    CHECK_CONTAINS(t, "lifted");
    int g = find_action(&a, is_grounding);
    CHECK(g >= 0);
    CHECK_INT(g, (int)a.len - 3); /* right before generationComplete */
    const json_t *gm = json_object_get(sc(&a.v[g]), "groundingMetadata");
    CHECK_INT(json_array_size(json_object_get(gm, "webSearchQueries")), 1);
    CHECK_CONTAINS(json_string_value(json_object_get(json_object_get(gm, "searchEntryPoint"),
                                                     "renderedContent")),
                   "<div");
    const json_t *chunks = json_object_get(gm, "groundingChunks");
    CHECK(json_array_size(chunks) >= 1);
    CHECK_CONTAINS(json_string_value(json_object_get(
                       json_object_get(json_array_get(chunks, 0), "web"), "uri")),
                   "cape-mendocino");
    const json_t *sup = json_array_get(json_object_get(gm, "groundingSupports"), 0);
    const json_t *seg = json_object_get(sup, "segment");
    CHECK_INT(json_integer_value(json_object_get(seg, "startIndex")), 0);
    CHECK_INT(json_integer_value(json_object_get(seg, "endIndex")), strlen(t));
    CHECK_STR(json_string_value(json_object_get(seg, "text")), t);
    CHECK_INT(json_integer_value(json_array_get(json_object_get(sup, "groundingChunkIndices"), 0)),
              0);
    CHECK(json_real_value(json_array_get(json_object_get(sup, "confidenceScores"), 0)) > 0.5);
    emu_actions_free(&a);
    emu_session_free(m);

    /* without google_search the rule falls through: no grounding */
    m = mk_session(s, "TEXT", 0);
    emu_session_prompt(m, SEED5_PROMPT, &a);
    CHECK(find_action(&a, is_grounding) < 0);
    CHECK_CONTAINS(all_text(&a), "can't search");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed6_code_lights_wait_10s)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", T_FNS | T_CODE);
    emu_actions a = {0}, b = {0}, c = {0};
    emu_session_prompt(m, SEED6_PROMPT, &a);
    CHECK_INT(a.len, 3);
    CHECK(is_code(&a.v[0]));
    CHECK_CONTAINS(json_string_value(json_object_get(
                       json_object_get(part(&a.v[0]), "executableCode"), "code")),
                   "time.sleep(10)");
    CHECK(is_tool_call(&a.v[1]));
    CHECK_STR(json_string_value(json_object_get(the_call(&a.v[1]), "name")), "turn_on_the_lights");
    CHECK_INT(a.v[2].kind, EMU_ACT_AWAIT_TOOL);
    json_t *resp = ok_response();
    CHECK(emu_session_tool_response(m, call_id(&a.v[1]), "turn_on_the_lights", resp));

    emu_session_continue(m, &b);
    CHECK_INT(b.len, 3);
    CHECK_INT(b.v[0].kind, EMU_ACT_DELAY);
    CHECK_INT(b.v[0].ms, 10000);
    CHECK(is_tool_call(&b.v[1]));
    CHECK_STR(json_string_value(json_object_get(the_call(&b.v[1]), "name")),
              "turn_off_the_lights");
    CHECK(strcmp(call_id(&b.v[1]), call_id(&a.v[1])) != 0);
    CHECK_INT(b.v[2].kind, EMU_ACT_AWAIT_TOOL);
    CHECK(emu_session_tool_response(m, call_id(&b.v[1]), "turn_off_the_lights", resp));
    json_decref(resp);

    emu_session_continue(m, &c);
    CHECK(is_audio(&c.v[0]));
    CHECK(is_turn_complete(&c.v[c.len - 1]));
    CHECK_INT(emu_session_turns(m), 1);
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_actions_free(&c);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(seed7_three_tasks)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", T_FNS | T_CODE | T_SEARCH | T_TRANSCRIBE);
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, SEED7_PROMPT, &a);
    CHECK_INT(a.len, 2);
    CHECK_STR(json_string_value(json_object_get(the_call(&a.v[0]), "name")), "turn_on_the_lights");
    json_t *resp = ok_response();
    CHECK(emu_session_tool_response(m, call_id(&a.v[0]), "turn_on_the_lights", resp));
    json_decref(resp);
    emu_session_continue(m, &b);
    int r = find_action(&b, is_code_result);
    CHECK(r > 0 && is_code(&b.v[r - 1]));
    CHECK_STR(json_string_value(json_object_get(json_object_get(part(&b.v[r]),
                                                                "codeExecutionResult"),
                                                "output")),
              "98689\n");
    int au = find_action(&b, is_audio), g = find_action(&b, is_grounding);
    CHECK(au > r && g > au);
    size_t tc;
    const char *tr = all_transcript(&b, &tc);
    CHECK_CONTAINS(tr, "turned on the lights");
    CHECK_CONTAINS(tr, "under 100000 is 98689");
    CHECK_CONTAINS(tr, "Cape Mendocino");
    CHECK(is_turn_complete(&b.v[b.len - 1]));
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(lights_without_function_is_plain_text)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_CODE);
    emu_actions a = {0};
    emu_session_prompt(m, "Turn on the lights", &a);
    CHECK(find_action(&a, is_tool_call) < 0);
    CHECK_STR(all_text(&a), "I can't control the lights.");
    emu_actions_free(&a);
    emu_session_prompt(m, "tell me a story", &a);
    CHECK_STR(all_text(&a), "I heard you say: tell me a story");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

/* ---------- rules ---------- */

TEST(once_rule_fires_once_across_sessions)
{
    emu_script *s = load_str("{\"rules\":[{\"match\":\"go\",\"once\":true,"
                             "\"steps\":[{\"say\":\"part\"},{\"close\":1011}]},"
                             "{\"match\":\"go\",\"steps\":[{\"say\":\"fine\"}]}]}");
    CHECK(s != NULL);
    emu_session *m1 = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m1, "GO now", &a);
    CHECK_INT(a.len, 2);
    CHECK_STR(part_text(&a.v[0]), "part");
    CHECK_INT(a.v[1].kind, EMU_ACT_CLOSE);
    CHECK_INT(a.v[1].code, 1011);
    CHECK_STR(a.v[1].text, "Internal error occurred.");
    CHECK_INT(emu_session_turns(m1), 0); /* the fault ended the turn: nothing recorded */
    emu_actions_free(&a);
    emu_session_free(m1);

    emu_session *m2 = mk_session(s, "TEXT", 0); /* the retry, on a new connection */
    emu_session_prompt(m2, "go now", &a);
    CHECK_STR(all_text(&a), "fine");
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    emu_actions_free(&a);
    emu_session_free(m2);
    emu_script_free(s);
}

TEST(requires_falls_through)
{
    emu_script *s = load_str(
        "{\"rules\":["
        "{\"match\":\"x\",\"requires\":[\"f\"],\"steps\":[{\"say\":\"has f\"}]},"
        "{\"match\":\"x\",\"requires\":\"code_execution\",\"steps\":[{\"say\":\"has code\"}]},"
        "{\"match\":[\"nope\",\"x\"],\"all\":[\"y\"],\"steps\":[{\"say\":\"x and y\"}]},"
        "{\"match\":\"x\",\"steps\":[{\"say\":\"plain\"}]}],"
        "\"default\":[{\"say\":\"default\"}]}");
    CHECK(s != NULL);
    json_t *setup = json_pack("{s:s, s:{s:[s]}, s:[{s:[{s:s}]}]}", "model", "m",
                              "generationConfig", "responseModalities", "TEXT", "tools",
                              "functionDeclarations", "name", "f");
    emu_session *with = emu_session_new(s, setup);
    json_decref(setup);
    emu_session *code = mk_session(s, "TEXT", T_CODE);
    emu_session *none = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(with, "x", &a);
    CHECK_STR(all_text(&a), "has f");
    emu_actions_free(&a);
    emu_session_prompt(code, "x", &a);
    CHECK_STR(all_text(&a), "has code");
    emu_actions_free(&a);
    emu_session_prompt(none, "X Y", &a);
    CHECK_STR(all_text(&a), "x and y");
    emu_actions_free(&a);
    emu_session_prompt(none, "x", &a);
    CHECK_STR(all_text(&a), "plain");
    emu_actions_free(&a);
    emu_session_prompt(none, "zzz", &a);
    CHECK_STR(all_text(&a), "default");
    emu_actions_free(&a);
    emu_session_free(with);
    emu_session_free(code);
    emu_session_free(none);
    emu_script_free(s);
}

TEST(fault_steps)
{
    emu_script *s = load_str(
        "{\"rules\":["
        "{\"match\":\"drop\",\"steps\":[{\"drop\":true},{\"say\":\"never\"}]},"
        "{\"match\":\"stall\",\"steps\":[{\"stall\":true}]},"
        "{\"match\":\"bad\",\"steps\":[{\"malformed\":\"{not json\"}]},"
        "{\"match\":\"big\",\"steps\":[{\"oversize\":12345}]},"
        "{\"match\":\"close\",\"steps\":[{\"close\":1007,\"reason\":\"Request contains an "
        "invalid argument.\"}]},"
        "{\"match\":\"bye\",\"steps\":[{\"goaway_ms\":50000},{\"delay_ms\":5},{\"say\":\"ok\"}]}"
        "]}");
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "drop", &a);
    CHECK_INT(a.len, 1);
    CHECK_INT(a.v[0].kind, EMU_ACT_DROP);
    emu_actions_free(&a);
    emu_session_prompt(m, "stall", &a);
    CHECK_INT(a.len, 1);
    CHECK_INT(a.v[0].kind, EMU_ACT_STALL);
    emu_actions_free(&a);
    emu_session_prompt(m, "bad", &a);
    CHECK_INT(a.len, 1);
    CHECK_INT(a.v[0].kind, EMU_ACT_RAW);
    CHECK_STR(a.v[0].text, "{not json");
    emu_actions_free(&a);
    emu_session_prompt(m, "big", &a);
    CHECK_INT(a.len, 1);
    CHECK_INT(a.v[0].kind, EMU_ACT_OVERSIZE);
    CHECK_INT(a.v[0].n, 12345);
    emu_actions_free(&a);
    emu_session_prompt(m, "close", &a);
    CHECK_INT(a.len, 1);
    CHECK_INT(a.v[0].kind, EMU_ACT_CLOSE);
    CHECK_INT(a.v[0].code, 1007);
    CHECK_STR(a.v[0].text, "Request contains an invalid argument.");
    emu_actions_free(&a);
    CHECK_INT(emu_session_turns(m), 0);
    /* goAway does not end the turn */
    emu_session_prompt(m, "bye", &a);
    CHECK_INT(a.v[0].kind, EMU_ACT_GOAWAY);
    CHECK_INT(a.v[0].ms, 50000);
    CHECK_INT(a.v[1].kind, EMU_ACT_DELAY);
    CHECK_INT(a.v[1].ms, 5);
    CHECK_STR(all_text(&a), "ok");
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    CHECK_INT(emu_session_turns(m), 1);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(default_script_fault_prompts)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_FNS);
    emu_actions a = {0};
    emu_session_prompt(m, "emu:once-close", &a);
    CHECK_INT(a.v[a.len - 1].kind, EMU_ACT_CLOSE);
    emu_actions_free(&a);
    emu_session_prompt(m, "emu:once-close", &a);
    CHECK_STR(all_text(&a), "OK, this time it worked.");
    emu_actions_free(&a);
    emu_session_prompt(m, "emu:cancel", &a);
    /* a call that does not await, then its cancellation */
    CHECK(is_tool_call(&a.v[0]));
    char id[64];
    snprintf(id, sizeof id, "%s", call_id(&a.v[0]));
    CHECK_INT(a.v[1].kind, EMU_ACT_DELAY);
    const json_t *ids =
        json_object_get(json_object_get(a.v[2].msg, "toolCallCancellation"), "ids");
    CHECK_INT(json_array_size(ids), 1);
    CHECK_STR(json_string_value(json_array_get(ids, 0)), id);
    CHECK_CONTAINS(all_text(&a), "cancelled");
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    json_t *resp = ok_response();
    CHECK(!emu_session_tool_response(m, id, "turn_on_the_lights", resp));
    json_decref(resp);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

/* ---------- history ---------- */

TEST(recall_after_restore)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m1 = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m1, "what did I say before?", &a);
    CHECK_STR(all_text(&a), "This is the start of our conversation.");
    emu_actions_free(&a);
    emu_session_prompt(m1, "My name is Ada", &a);
    CHECK_STR(all_text(&a), "I heard you say: My name is Ada");
    emu_actions_free(&a);
    CHECK_INT(emu_session_turns(m1), 2);
    json_t *h = emu_session_history(m1);
    emu_session_free(m1); /* the copy outlives the session */

    emu_session *m2 = mk_session(s, "TEXT", 0);
    emu_session_restore(m2, h);
    json_decref(h);
    CHECK_INT(emu_session_turns(m2), 2);
    emu_session_prompt(m2, "What was my previous message?", &a);
    CHECK_STR(all_text(&a), "You said before: My name is Ada");
    emu_actions_free(&a);
    CHECK_INT(emu_session_turns(m2), 3);
    h = emu_session_history(m2);
    CHECK_INT(json_array_size(h), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 2), "model")),
              "You said before: My name is Ada");
    json_decref(h);
    emu_session_free(m2);
    emu_script_free(s);
}

TEST(history_grows_prompt_tokens_and_restore_replaces)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "one two three", &a);
    long long p1 = usage_int(&a.v[a.len - 1], "promptTokenCount");
    emu_actions_free(&a);
    emu_session_prompt(m, "one two three", &a);
    long long p2 = usage_int(&a.v[a.len - 1], "promptTokenCount");
    emu_actions_free(&a);
    CHECK_INT(p1, 3);
    CHECK(p2 > p1);
    json_t *empty = json_array();
    emu_session_restore(m, empty);
    json_decref(empty);
    CHECK_INT(emu_session_turns(m), 0);
    emu_session_add_turn(m, "earlier", "answer");
    CHECK_INT(emu_session_turns(m), 1);
    emu_session_prompt(m, "repeat after me: hi", &a);
    CHECK_STR(all_text(&a), "You said: repeat after me: hi");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(prompt_during_tool_wait_interrupts)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_FNS);
    emu_actions a = {0};
    emu_session_prompt(m, "Turn on the lights", &a);
    char id[64];
    snprintf(id, sizeof id, "%s", call_id(&a.v[0]));
    emu_actions_free(&a);
    /* continue while the call is unanswered: wait again */
    emu_session_continue(m, &a);
    CHECK_INT(a.len, 1);
    CHECK_INT(a.v[0].kind, EMU_ACT_AWAIT_TOOL);
    CHECK_STR(json_string_value(json_array_get(a.v[0].ids, 0)), id);
    emu_actions_free(&a);
    emu_session_prompt(m, "Hello?", &a);
    CHECK_STR(all_text(&a), "Hello! How can I help you today?");
    emu_actions_free(&a);
    json_t *pend = emu_session_pending_calls(m);
    CHECK_INT(json_array_size(pend), 0);
    json_decref(pend);
    CHECK_INT(emu_session_turns(m), 1);
    json_t *h = emu_session_history(m);
    CHECK_INT(json_array_size(h), 2);
    CHECK(json_is_true(json_object_get(json_array_get(h, 0), "interrupted")));
    json_decref(h);
    json_t *resp = ok_response();
    CHECK(!emu_session_tool_response(m, id, "turn_on_the_lights", resp));
    json_decref(resp);
    emu_session_continue(m, &a); /* no turn running: nothing */
    CHECK_INT(a.len, 0);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

/* ---------- tools and placeholders ---------- */

TEST(tool_placeholder_quotes_response)
{
    emu_script *s = load_str("{\"rules\":[{\"match\":\"\",\"steps\":["
                             "{\"calls\":[{\"name\":\"f\",\"args\":{\"n\":1}},{\"name\":\"g\"}]},"
                             "{\"say\":\"f said {tool:f}, g said {tool:g}, h said {tool:h} {x}\"}"
                             "]}]}");
    CHECK(s != NULL);
    json_t *setup = json_pack("{s:s, s:{s:[s]}, s:[{s:[{s:s},{s:s}]}]}", "model", "m",
                              "generationConfig", "responseModalities", "TEXT", "tools",
                              "functionDeclarations", "name", "f", "name", "g");
    emu_session *m = emu_session_new(s, setup);
    json_decref(setup);
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, "go", &a);
    CHECK_INT(a.len, 2);
    const json_t *fc = json_object_get(json_object_get(a.v[0].msg, "toolCall"), "functionCalls");
    CHECK_INT(json_array_size(fc), 2);
    CHECK_INT(json_integer_value(json_object_get(json_object_get(json_array_get(fc, 0), "args"),
                                                 "n")),
              1);
    const char *id_f = json_string_value(json_object_get(json_array_get(fc, 0), "id"));
    const char *id_g = json_string_value(json_object_get(json_array_get(fc, 1), "id"));
    CHECK_INT(json_array_size(a.v[1].ids), 2);
    json_t *err = json_pack("{s:s}", "error", "bulb broken");
    json_t *ok = ok_response();
    CHECK(!emu_session_tool_response(m, "function-call-1", "f", err));
    CHECK(emu_session_tool_response(m, id_f, "f", err));
    CHECK(!emu_session_tool_response(m, id_f, "f", err)); /* answered already */
    emu_session_continue(m, &b); /* g still pending */
    CHECK_INT(b.len, 1);
    CHECK_INT(b.v[0].kind, EMU_ACT_AWAIT_TOOL);
    emu_actions_free(&b);
    CHECK(emu_session_tool_response(m, id_g, "g", ok));
    emu_session_continue(m, &b);
    CHECK_STR(all_text(&b), "f said {\"error\":\"bulb broken\"}, g said "
                            "{\"result\":{\"string_value\":\"ok\"}}, h said null {x}");
    json_decref(err);
    json_decref(ok);
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(undeclared_calls_are_skipped)
{
    emu_script *s = load_str("{\"default\":[{\"call\":\"f\"},{\"say\":\"no call\"}]}");
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "go", &a);
    CHECK(find_action(&a, is_tool_call) < 0);
    CHECK_STR(all_text(&a), "no call");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(call_ids_unique_19_digits)
{
    emu_script *s = load_str("{}");
    CHECK(s != NULL);
    static char ids[2000][48];
    for (int i = 0; i < 2000; i++) {
        emu_script_next_call_id(s, ids[i], sizeof ids[i]);
        CHECK(valid_call_id(ids[i]));
        CHECK_INT(strlen(ids[i]), 14 + 19);
    }
    for (int i = 0; i < 2000; i++)
        for (int j = i + 1; j < 2000; j++)
            CHECK(strcmp(ids[i], ids[j]) != 0);
    emu_script_free(s);
}

/* ---------- code execution ---------- */

TEST(code_steps_programs)
{
    emu_script *s = load_str(
        "{\"rules\":["
        "{\"match\":\"nope\",\"steps\":[{\"code\":\"x()\",\"run\":\"nope\"},{\"say\":\"r={result}\"}]},"
        "{\"match\":\"sleep\",\"steps\":[{\"code\":\"time.sleep(2)\",\"run\":\"sleep\","
        "\"seconds\":2.5},{\"say\":\"slept\"}]},"
        "{\"match\":\"sum\",\"steps\":[{\"code\":\"print(sum(range({arg}+1)))\",\"run\":"
        "\"sum_to_n\"},{\"say\":\"{result}\"}]},"
        "{\"match\":\"fixed\",\"steps\":[{\"code\":\"p({arg})\",\"run\":"
        "\"largest_prime_palindrome\",\"arg\":100},{\"say\":\"{result}\"}]}]}");
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", T_CODE);
    emu_actions a = {0};
    emu_session_prompt(m, "nope", &a);
    const json_t *res = json_object_get(part(&a.v[1]), "codeExecutionResult");
    CHECK_STR(json_string_value(json_object_get(res, "outcome")), "OUTCOME_FAILED");
    CHECK_CONTAINS(json_string_value(json_object_get(res, "output")), "nope");
    CHECK_CONTAINS(all_text(&a), "NameError");
    emu_actions_free(&a);

    emu_session_prompt(m, "sleep please", &a);
    CHECK(is_code(&a.v[0]));
    CHECK_INT(a.v[1].kind, EMU_ACT_DELAY);
    CHECK_INT(a.v[1].ms, 2500);
    res = json_object_get(part(&a.v[2]), "codeExecutionResult");
    CHECK_STR(json_string_value(json_object_get(res, "output")), "");
    emu_actions_free(&a);

    emu_session_prompt(m, "sum up to 1000", &a);
    CHECK_CONTAINS(json_string_value(json_object_get(
                       json_object_get(part(&a.v[0]), "executableCode"), "code")),
                   "range(1000+1)");
    CHECK_STR(all_text(&a), "500500");
    emu_actions_free(&a);

    emu_session_prompt(m, "fixed under 5", &a);
    CHECK_STR(all_text(&a), "11");
    emu_actions_free(&a);
    emu_session_free(m);

    /* without codeExecution declared the code step is skipped */
    m = mk_session(s, "TEXT", 0);
    emu_session_prompt(m, "sum to 10", &a);
    CHECK(find_action(&a, is_code) < 0);
    CHECK(find_action(&a, is_code_result) < 0);
    CHECK_INT(a.len, 2);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(compute_prime_palindromes)
{
    uint64_t p;
    CHECK(emu_largest_prime_palindrome(100000, &p));
    CHECK_INT(p, 98689);
    CHECK(emu_largest_prime_palindrome(1000, &p));
    CHECK_INT(p, 929);
    CHECK(emu_largest_prime_palindrome(12, &p));
    CHECK_INT(p, 11);
    CHECK(emu_largest_prime_palindrome(11, &p));
    CHECK_INT(p, 7);
    CHECK(emu_largest_prime_palindrome(3, &p));
    CHECK_INT(p, 2);
    CHECK(!emu_largest_prime_palindrome(2, &p));
    CHECK(emu_largest_prime_palindrome(10000000, &p));
    CHECK_INT(p, 9989899);
    CHECK(emu_largest_prime_palindrome(1000000000, &p));
    CHECK_INT(p, 999727999);
    /* brute force agreement below 3000 */
    for (uint64_t n = 3; n < 3000; n += 37) {
        uint64_t want = 0;
        for (uint64_t k = n - 1; k >= 2 && !want; k--) {
            char buf[24], rev[24];
            int len = snprintf(buf, sizeof buf, "%llu", (unsigned long long)k);
            for (int i = 0; i < len; i++)
                rev[i] = buf[len - 1 - i];
            rev[len] = '\0';
            bool prime = k >= 2;
            for (uint64_t d = 2; d * d <= k && prime; d++)
                prime = k % d != 0;
            if (prime && strcmp(buf, rev) == 0)
                want = k;
        }
        CHECK(emu_largest_prime_palindrome(n, &p));
        CHECK_INT(p, want);
    }
    CHECK(emu_is_prime(1000000007));
    CHECK(!emu_is_prime(1000000007ULL * 998244353ULL));
}

TEST(compute_prompt_number)
{
    CHECK_INT(emu_prompt_number("largest prime palindrome under 100000", 1), 100000);
    CHECK_INT(emu_prompt_number(SEED7_PROMPT, 1), 100000);
    CHECK_INT(emu_prompt_number("below 100,000 please", 1), 100000);
    CHECK_INT(emu_prompt_number("no numbers here", 42), 42);
    CHECK_INT(emu_prompt_number("take 7 and 9", 1), 7);
    CHECK_INT(emu_prompt_number("abc123 then 5", 1), 5);
}

/* ---------- search, audio ---------- */

TEST(corpus_ranks_by_overlap)
{
    size_t idx[3];
    unsigned sc[3];
    size_t n = emu_corpus_search("largest earthquake California Dec 5 2024", idx, sc, 3);
    CHECK(n >= 2);
    CHECK_CONTAINS(emu_corpus_doc(idx[0])->text, "Cape Mendocino");
    CHECK_CONTAINS(emu_corpus_doc(idx[0])->text, "10:44");
    CHECK(sc[0] >= sc[1]);
    n = emu_corpus_search("palindromic prime", idx, NULL, 3);
    CHECK(n >= 1);
    CHECK_CONTAINS(emu_corpus_doc(idx[0])->text, "98689");
    CHECK_INT(emu_corpus_search("the of and", idx, NULL, 3), 0);
    CHECK(emu_corpus_size() >= 8);
}

TEST(say_search_and_search_skipped)
{
    emu_script *s = load_str("{\"default\":[{\"search\":true},{\"say_search\":true}]}");
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", T_SEARCH);
    emu_actions a = {0};
    emu_session_prompt(m, "Ridgecrest earthquakes 2019", &a);
    CHECK_CONTAINS(all_text(&a), "Ridgecrest");
    int g = find_action(&a, is_grounding);
    CHECK(g >= 0);
    CHECK_STR(json_string_value(json_array_get(
                  json_object_get(json_object_get(sc(&a.v[g]), "groundingMetadata"),
                                  "webSearchQueries"),
                  0)),
              "Ridgecrest earthquakes 2019");
    emu_actions_free(&a);
    emu_session_free(m);
    m = mk_session(s, "TEXT", 0);
    emu_session_prompt(m, "Ridgecrest earthquakes 2019", &a);
    CHECK(find_action(&a, is_grounding) < 0);
    CHECK_STR(all_text(&a), "I couldn't find anything about that.");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

/* ---------- spoken input: the model's side ---------- */

static bool has_audio_prompt_tokens(const emu_action *last)
{
    const json_t *pd = json_object_get(usage(last), "promptTokensDetails");
    for (size_t i = 0; i < json_array_size(pd); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(pd, i), "modality")),
                    "AUDIO"))
            return true;
    return false;
}

TEST(voice_turn_unrecognised_speech)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", T_INPUT_TR);
    emu_actions a = {0};
    emu_session_voice_turn(m, NULL, 2500, &a);
    CHECK_STR(all_text(&a), EMU_NOT_UNDERSTOOD);
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    CHECK(has_audio_prompt_tokens(&a.v[a.len - 1]));
    for (size_t i = 0; i < a.len; i++) /* nothing was made out: nothing to transcribe */
        CHECK(!json_object_get(sc(&a.v[i]), "inputTranscription"));
    CHECK_INT(emu_session_turns(m), 1);
    json_t *h = emu_session_history(m);
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 0), "user")), "[audio 2.5 s]");
    json_decref(h);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

/* The input transcription of a, joined; *finished: the last piece (only) said finished. */
static char in_buf[512];
static const char *input_transcript(const emu_actions *a, bool *finished)
{
    in_buf[0] = '\0';
    *finished = false;
    size_t n = 0;
    for (size_t i = 0; i < a->len; i++) {
        const json_t *t = json_object_get(sc(&a->v[i]), "inputTranscription");
        if (!t)
            continue;
        if (*finished) /* a piece after the finished one */
            *finished = false;
        strncat(in_buf, json_string_value(json_object_get(t, "text")),
                sizeof in_buf - strlen(in_buf) - 1);
        *finished = json_is_true(json_object_get(t, "finished"));
        n++;
    }
    return n ? in_buf : NULL;
}

TEST(voice_turn_answers_like_the_typed_phrase)
{
    emu_script *s = emu_script_load(NULL, NULL);
    /* with the function declared: the call, as for the typed prompt (seed 2) */
    emu_session *m = mk_session(s, "AUDIO", T_FNS | T_INPUT_TR | T_TRANSCRIBE);
    emu_actions a = {0};
    emu_session_voice_turn(m, "Turn on the lights", 1200, &a);
    bool fin;
    CHECK_STR(input_transcript(&a, &fin), "Turn on the lights");
    CHECK(fin);
    CHECK(find_action(&a, is_tool_call) > 0); /* after the transcription */
    const char *id = call_id(&a.v[find_action(&a, is_tool_call)]);
    json_t *ok = ok_response();
    CHECK(emu_session_tool_response(m, id, "turn_on_the_lights", ok));
    json_decref(ok);
    emu_actions b = {0};
    emu_session_continue(m, &b);
    size_t n;
    CHECK_STR(all_transcript(&b, &n), "OK, I've turned on the lights.");
    CHECK(has_audio_prompt_tokens(&b.v[b.len - 1]));
    json_t *h = emu_session_history(m); /* the phrase, as if typed: recall quotes it */
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 0), "user")),
              "Turn on the lights");
    json_decref(h);
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);

    /* without inputAudioTranscription: no transcription, same answer ("Hello?", seed 1) */
    m = mk_session(s, "TEXT", 0);
    emu_session_voice_turn(m, "Hello?", 700, &a);
    CHECK(input_transcript(&a, &fin) == NULL);
    CHECK_STR(all_text(&a), "Hello! How can I help you today?");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(audio_answer_chunks_carry_their_playback_time)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "Hello?", &a);
    unsigned total = 0;
    for (size_t i = 0; i < a.len; i++) {
        if (is_audio(&a.v[i])) {
            size_t n = b64_decoded_len(json_string_value(
                json_object_get(json_object_get(part(&a.v[i]), "inlineData"), "data")));
            CHECK_INT(a.v[i].ms, n / 48); /* 24 kHz s16le: 48 bytes a millisecond */
            total += a.v[i].ms;
        } else {
            CHECK_INT(a.v[i].ms, 0);
        }
    }
    CHECK_INT(total, emu_audio_chars("Hello! How can I help you today?") * EMU_AUDIO_MS_PER_CHAR);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(describe_image_names_the_last_picture)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "What is on this picture?", &a);
    CHECK_STR(all_text(&a), "I don't see any picture.");
    emu_actions_free(&a);
    emu_session_set_image(m, "image/png", 1234,
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    emu_session_prompt(m, "what is on this picture?", &a);
    CHECK_STR(all_text(&a),
              "I see a PNG picture of 1234 bytes whose SHA-256 begins with 0123456789ab.");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
    s = load_str("{\"rules\":[],\"default\":[{\"describe_image\":true}]}");
    CHECK(s != NULL);
    emu_script_free(s);
    gl_err e = {0};
    CHECK(emu_script_load_string("{\"rules\":[],\"default\":[{\"describe_image\":1}]}", &e) == NULL);
}

/* ---------- spoken input: signal analysis ---------- */

/* A deterministic pseudo-random generator (LCG), uniform in [-1, 1). */
static double lcg_next(uint32_t *st)
{
    *st = *st * 1664525u + 1013904223u;
    return (double)(*st >> 8) / (double)(1u << 23) - 1.0;
}

static int16_t *tone(size_t n, unsigned rate, double hz, double amp)
{
    int16_t *p = gl_xmalloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[i] = (int16_t)lrint(amp * 32767.0 * sin(2 * M_PI * hz * (double)i / rate));
    return p;
}

TEST(fft_matches_the_definition)
{
    enum { N = 64 };
    double re[N], im[N], x[N], y[N];
    uint32_t st = 7;
    for (int i = 0; i < N; i++) {
        re[i] = x[i] = lcg_next(&st);
        im[i] = y[i] = lcg_next(&st);
    }
    emu_fft(re, im, N);
    double worst = 0;
    for (int k = 0; k < N; k++) {
        double sr = 0, si = 0;
        for (int j = 0; j < N; j++) {
            double a = -2 * M_PI * j * k / N;
            sr += x[j] * cos(a) - y[j] * sin(a);
            si += x[j] * sin(a) + y[j] * cos(a);
        }
        worst = fmax(worst, fmax(fabs(sr - re[k]), fabs(si - im[k])));
    }
    CHECK(worst < 1e-9);
}

TEST(goertzel_measures_one_frequency)
{
    int16_t *p = tone(16000, 16000, 1000, 0.5);
    /* half full scale: (0.5 / 2)^2 at the tone; almost nothing 50 Hz away (whole periods) */
    CHECK(fabs(emu_goertzel(p, 16000, 16000, 1000) - 0.0625) < 0.0005);
    CHECK(emu_goertzel(p, 16000, 16000, 1050) < 1e-6);
    free(p);
}

TEST(dominant_frequency_of_tones_within_a_tenth_of_a_percent)
{
    static const unsigned rates[] = {8000, 11025, 16000, 22050, 44100, 48000};
    static const double hz[] = {97.0, 440.0, 1000.0, 1234.5, 3150.7};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        for (size_t f = 0; f < sizeof hz / sizeof *hz; f++) {
            size_t n = rates[r] * 3 / 4; /* 750 ms: not a whole number of blocks */
            int16_t *p = tone(n, rates[r], hz[f], 0.3);
            uint32_t st = 99;
            for (size_t i = 0; i < n; i++) /* a DC offset and a little noise (-50 dBFS) */
                p[i] = (int16_t)(p[i] + 300 + lrint(lcg_next(&st) * 100));
            double got = emu_dominant_hz(p, n, rates[r]);
            if (fabs(got - hz[f]) > hz[f] * 0.001)
                printf("# %u Hz rate, %.1f Hz tone: %.3f\n", rates[r], hz[f], got);
            CHECK(fabs(got - hz[f]) <= hz[f] * 0.001);
            /* fed in odd-sized pieces: the same */
            emu_spectrum sp = {0};
            emu_spectrum_init(&sp, rates[r]);
            for (size_t off = 0; off < n; off += 333)
                emu_spectrum_add(&sp, p + off, n - off < 333 ? n - off : 333);
            CHECK(fabs(emu_spectrum_peak_hz(&sp) - got) < 1e-9);
            emu_spectrum_free(&sp);
            free(p);
        }
    }
    int16_t zero[4000] = {0};
    CHECK(emu_dominant_hz(zero, 4000, 16000) == 0); /* silence has none */
    CHECK(emu_dominant_hz(zero, 0, 16000) == 0);
}

TEST(frame_levels_overall_and_in_bands)
{
    int16_t *p = tone(320, 16000, 500, 1.0);
    emu_frame f = emu_frame_of(p, 320, 16000);
    CHECK(fabs(f.db - -3.01) < 0.05); /* a full-scale sine */
    /* 500 Hz is in the second band (300..700): nearly all of the power, within 0.5 dB */
    CHECK(fabs(f.band[1] - f.db) < 0.5 && fabs(f.voice_db - f.db) < 0.5);
    CHECK(f.band[0] < f.db - 20 && f.band[3] < f.db - 30);
    for (int i = 0; i < 320; i++)
        p[i] = (int16_t)(p[i] / 8);
    emu_frame g = emu_frame_of(p, 320, 16000);
    CHECK(fabs(g.db - (f.db - 18.06)) < 0.1); /* 1/8: -18 dB, in every band alike */
    CHECK(fabs(g.band[1] - (f.band[1] - 18.06)) < 0.1);
    free(p);
    /* the same tone at 48 kHz: the same levels (the bands do not depend on the rate) */
    p = tone(960, 48000, 1700, 0.5);
    emu_frame h = emu_frame_of(p, 960, 48000);
    free(p);
    p = tone(320, 16000, 1700, 0.5);
    emu_frame k = emu_frame_of(p, 320, 16000);
    free(p);
    CHECK(fabs(h.band[3] - k.band[3]) < 0.3 && fabs(h.voice_db - k.voice_db) < 0.3);
    /* 5 kHz is outside the voice bands: heard as sound, not as voice */
    p = tone(320, 16000, 5000, 0.5);
    emu_frame v = emu_frame_of(p, 320, 16000);
    CHECK(v.db > -10 && v.voice_db < -40);
    memset(p, 0, 320 * sizeof *p);
    CHECK(emu_frame_of(p, 320, 16000).db == -100);
    free(p);
}

/* ---------- spoken input: recognition ---------- */

/* A band-limited resampler (windowed sinc, Blackman window, 16 zero crossings each side of the
 * narrower band, cutoff at 90% of the lower Nyquist): the kind of filter a client or the daemon
 * puts between a microphone and the Live API. */
static int16_t *resample(const int16_t *x, size_t n, unsigned in, unsigned out, size_t *m)
{
    double ratio = (double)out / in, c = (ratio < 1 ? ratio : 1) * 0.9, half = 16 / c;
    *m = (size_t)((double)n * ratio);
    int16_t *y = gl_xmalloc((*m ? *m : 1) * sizeof *y);
    for (size_t j = 0; j < *m; j++) {
        double t = (double)j / ratio, acc = 0;
        long lo = (long)ceil(t - half), hi = (long)floor(t + half);
        for (long k = lo < 0 ? 0 : lo; k <= hi && k < (long)n; k++) {
            double d = t - (double)k, s = d == 0 ? 1 : sin(M_PI * c * d) / (M_PI * c * d);
            double w = 0.42 + 0.5 * cos(M_PI * d / half) + 0.08 * cos(2 * M_PI * d / half);
            acc += x[k] * c * s * w;
        }
        y[j] = (int16_t)lrint(fmax(-32768, fmin(32767, acc)));
    }
    return y;
}

/* pcm with `before` and `after` ms of silence around it, times gain. */
static int16_t *padded(const int16_t *pcm, size_t n, unsigned rate, unsigned before,
                       unsigned after, double gain, size_t *m)
{
    size_t b = (size_t)before * rate / 1000, a = (size_t)after * rate / 1000;
    *m = b + n + a;
    int16_t *p = gl_xcalloc(*m, sizeof *p);
    for (size_t i = 0; i < n; i++)
        p[b + i] = (int16_t)lrint(fmax(-32768, fmin(32767, pcm[i] * gain)));
    return p;
}

static emu_voice_match match_pcm(const int16_t *pcm, size_t n, unsigned rate)
{
    size_t nf;
    emu_frame *f = emu_voice_frames(pcm, n, rate, 0, &nf);
    emu_voice_match vm;
    emu_voice_match_frames(f, nf, &vm);
    free(f);
    return vm;
}

TEST(recordings_are_embedded_and_recognise_themselves)
{
    CHECK_INT(emu_voice_count(), 4);
    CHECK_STR(emu_voice_phrase(1), "Turn on the lights");
    for (size_t i = 0; i < emu_voice_count(); i++) {
        size_t n;
        unsigned rate;
        const int16_t *pcm = emu_voice_pcm(i, &n, &rate);
        CHECK(pcm && rate == 16000 && n > 8000);
        emu_voice_match vm = match_pcm(pcm, n, rate);
        CHECK_INT(vm.voice, (long long)i);
        CHECK(vm.score > 0.99 && vm.second < 0.3);
    }
}

TEST(recognition_survives_resampling_gain_silence_and_noise)
{
    for (size_t i = 0; i < emu_voice_count(); i++) {
        size_t n, m, k;
        unsigned rate;
        const int16_t *pcm = emu_voice_pcm(i, &n, &rate);
        /* to 48 kHz and back, as a client at 48 kHz and a resampler to 16 kHz would */
        int16_t *up = resample(pcm, n, 16000, 48000, &m);
        int16_t *back = resample(up, m, 48000, 16000, &k);
        emu_voice_match vm = match_pcm(back, k, 16000);
        CHECK_INT(vm.voice, (long long)i);
        CHECK(vm.score > 0.95);
        /* heard at 48 kHz itself, a little softer, 313 ms of silence before it */
        size_t pn;
        int16_t *p = padded(up, m, 48000, 313, 700, 0.7, &pn);
        vm = match_pcm(p, pn, 48000);
        CHECK_INT(vm.voice, (long long)i);
        CHECK(vm.score > 0.95);
        free(p);
        /* through a telephone band (8 kHz) and louder, with noise at -55 dBFS */
        int16_t *tel = resample(pcm, n, 16000, 8000, &m);
        int16_t *wide = resample(tel, m, 8000, 16000, &k);
        p = padded(wide, k, 16000, 100, 100, 1.3, &pn);
        uint32_t st = (uint32_t)i;
        for (size_t j = 0; j < pn; j++)
            p[j] = (int16_t)(p[j] + lrint(lcg_next(&st) * 100));
        vm = match_pcm(p, pn, 16000);
        if (vm.voice != (int)i)
            printf("# %s by telephone: best %d %.3f, second %.3f\n", emu_voice_name(i),
                   vm.best, vm.score, vm.second);
        CHECK_INT(vm.voice, (long long)i);
        free(p);
        free(tel);
        free(wide);
        free(up);
        free(back);
    }
}

TEST(recognition_rejects_other_sounds)
{
    /* the recordings backwards: speech-like, same length, same sounds, wrong order */
    for (size_t i = 0; i < emu_voice_count(); i++) {
        size_t n;
        unsigned rate;
        const int16_t *pcm = emu_voice_pcm(i, &n, &rate);
        int16_t *rev = gl_xmalloc(n * sizeof *rev);
        for (size_t j = 0; j < n; j++)
            rev[j] = pcm[n - 1 - j];
        emu_voice_match vm = match_pcm(rev, n, rate);
        if (vm.voice != -1)
            printf("# %s backwards: best %s %.3f\n", emu_voice_name(i),
                   vm.best >= 0 ? emu_voice_name((size_t)vm.best) : "-", vm.score);
        CHECK_INT(vm.voice, -1);
        CHECK(vm.score < 0.6); /* margins measured: at most 0.52 */
        free(rev);
    }
    /* a steady tone, and noise, of a second */
    int16_t *p = tone(16000, 16000, 440, 0.3);
    CHECK_INT(match_pcm(p, 16000, 16000).voice, -1);
    uint32_t st = 5;
    for (size_t j = 0; j < 16000; j++)
        p[j] = (int16_t)lrint(lcg_next(&st) * 8000);
    CHECK_INT(match_pcm(p, 16000, 16000).voice, -1);
    free(p);
    /* silence has no fingerprint at all */
    int16_t zero[8000] = {0};
    emu_voice_match vm = match_pcm(zero, 8000, 16000);
    CHECK(vm.voice == -1 && vm.best == -1);
}

/* ---------- spoken input: turns ---------- */

/* Feeds pcm to h in pieces of `piece` bytes; records the events (S, E) in evs and the last
 * turn in *last. */
static void feed_all(emu_hear *h, const int16_t *pcm, size_t n, unsigned rate, size_t piece,
                     char *evs, size_t evcap, emu_heard *last)
{
    const uint8_t *b = (const uint8_t *)pcm; /* little-endian host, like the wire */
    size_t len = n * 2, e = strlen(evs);
    for (size_t off = 0; off < len;) {
        size_t take = len - off < piece ? len - off : piece, done = 0;
        while (done < take) {
            emu_hear_event ev;
            emu_heard hd;
            done += emu_hear_feed(h, b + off + done, take - done, rate, &ev, &hd);
            if (ev != EMU_HEAR_NOTHING && e + 1 < evcap) {
                evs[e++] = ev == EMU_HEAR_START ? 'S' : 'E';
                evs[e] = '\0';
            }
            if (ev == EMU_HEAR_END)
                *last = hd;
        }
        off += take;
    }
}

TEST(turns_end_after_silence_by_audio_time)
{
    emu_hear_cfg cfg = {.speech_db = -45, .prefix_ms = 40, .silence_ms = 500};
    emu_hear *h = emu_hear_new(&cfg);
    size_t n;
    int16_t *t = tone(16000, 16000, 440, 0.3); /* 1 s */
    int16_t *p = padded(t, 16000, 16000, 300, 600, 1.0, &n);
    char evs[16] = "";
    emu_heard hd = {0};
    feed_all(h, p, n, 16000, 777, evs, sizeof evs, &hd); /* odd-sized pieces */
    CHECK_STR(evs, "SE");
    CHECK_INT(hd.rate, 16000);
    CHECK_INT(hd.duration_ms, 1800); /* 300 before, 1000 of tone, the 500 that ended it */
    CHECK_INT(hd.bytes, 1800 * 32);
    CHECK_INT(hd.speech_ms, 1000);
    CHECK(fabs(hd.dominant_hz - 440) < 0.44);
    CHECK(!emu_hear_in_turn(h));
    CHECK(!emu_hear_stream_end(h, &hd)); /* the last 100 ms were silence */
    /* audioStreamEnd ends a turn whose silence has not run out */
    evs[0] = '\0';
    feed_all(h, t, 16000, 16000, 1000, evs, sizeof evs, &hd);
    CHECK_STR(evs, "S");
    CHECK(emu_hear_in_turn(h));
    CHECK(emu_hear_stream_end(h, &hd));
    CHECK_INT(hd.duration_ms, 1000);
    emu_hear_free(h);
    /* silenceDurationMs honoured: a 300 ms pause ends a turn at 200, not at 500 */
    int16_t *two = gl_xcalloc(16000 * 2, sizeof *two);
    memcpy(two, t, 8000 * sizeof *two);              /* 0.5 s tone */
    memcpy(two + 8000 + 4800, t, 8000 * sizeof *two); /* 0.3 s pause, 0.5 s tone, silence */
    for (unsigned ms = 200; ms <= 500; ms += 300) {
        cfg.silence_ms = ms;
        h = emu_hear_new(&cfg);
        evs[0] = '\0';
        feed_all(h, two, 32000, 16000, 32000 * 2, evs, sizeof evs, &hd);
        CHECK_STR(evs, ms == 200 ? "SESE" : "SE");
        emu_hear_free(h);
    }
    free(two);
    free(p);
    free(t);
}

TEST(speech_needs_prefix_padding_to_start)
{
    emu_hear_cfg cfg = {.speech_db = -45, .prefix_ms = 100, .silence_ms = 500};
    emu_hear *h = emu_hear_new(&cfg);
    int16_t *t = tone(16000, 16000, 440, 0.3);
    size_t n;
    int16_t *click = padded(t, 1280, 16000, 0, 600, 1.0, &n); /* 80 ms: too short */
    char evs[8] = "";
    emu_heard hd;
    feed_all(h, click, n, 16000, 4096, evs, sizeof evs, &hd);
    CHECK_STR(evs, "");
    feed_all(h, t, 1600, 16000, 4096, evs, sizeof evs, &hd); /* 100 ms: starts */
    CHECK_STR(evs, "S");
    emu_hear_free(h);
    free(click);
    free(t);
}

TEST(manual_turns_follow_activity_and_ignore_audio_outside)
{
    emu_hear_cfg cfg = {.manual = true, .speech_db = -45, .prefix_ms = 40, .silence_ms = 500};
    emu_hear *h = emu_hear_new(&cfg);
    int16_t *t = tone(8000, 16000, 440, 0.3);
    char evs[8] = "";
    emu_heard hd;
    CHECK(!emu_hear_activity_end(h, &hd)); /* no activity yet */
    feed_all(h, t, 8000, 16000, 1000, evs, sizeof evs, &hd); /* outside: not heard */
    emu_hear_activity_start(h);
    CHECK(emu_hear_in_turn(h));
    int16_t zero[16000] = {0};
    feed_all(h, zero, 16000, 16000, 999, evs, sizeof evs, &hd); /* a second of silence */
    feed_all(h, t, 8000, 16000, 999, evs, sizeof evs, &hd);
    CHECK_STR(evs, ""); /* no detector: silence does not end it */
    CHECK(!emu_hear_stream_end(h, &hd));
    CHECK(emu_hear_activity_end(h, &hd));
    CHECK_INT(hd.bytes, 24000 * 2);
    CHECK_INT(hd.duration_ms, 1500);
    CHECK_INT(hd.speech_ms, 500);
    CHECK(!emu_hear_in_turn(h));
    emu_hear_free(h);
    free(t);
}

TEST(recognition_through_the_ears_at_any_chunking_and_rate)
{
    emu_hear_cfg cfg = {.speech_db = -45, .prefix_ms = 40, .silence_ms = 500};
    for (size_t i = 0; i < emu_voice_count(); i++) {
        size_t n, m, pn;
        unsigned rate;
        const int16_t *pcm = emu_voice_pcm(i, &n, &rate);
        int16_t *up = resample(pcm, n, 16000, 44100, &m);
        int16_t *p = padded(up, m, 44100, 250, 800, 0.8, &pn);
        emu_hear *h = emu_hear_new(&cfg);
        char evs[8] = "";
        emu_heard hd = {0};
        feed_all(h, p, pn, 44100, 1 + 2 * 317 * i, evs, sizeof evs, &hd); /* odd sizes */
        CHECK_STR(evs, "SE");
        CHECK_INT(hd.match.voice, (long long)i);
        CHECK_INT(hd.rate, 44100);
        emu_hear_free(h);
        free(p);
        free(up);
    }
}

TEST(ears_keep_bounded_memory_for_endless_speech)
{
    emu_hear_cfg cfg = {.speech_db = -45, .prefix_ms = 40, .silence_ms = 500};
    emu_hear *h = emu_hear_new(&cfg);
    int16_t *t = tone(16000, 16000, 300, 0.3);
    char evs[8] = "";
    emu_heard hd;
    for (int s = 0; s < 40; s++) /* 40 s without a pause: longer than what is kept */
        feed_all(h, t, 16000, 16000, 32000, evs, sizeof evs, &hd);
    CHECK_STR(evs, "S");
    CHECK(emu_hear_stream_end(h, &hd));
    CHECK(hd.truncated);
    CHECK_INT(hd.duration_ms, 40000);
    CHECK_INT(hd.speech_ms, 40000);
    CHECK(fabs(hd.dominant_hz - 300) < 0.3);
    CHECK_INT(hd.match.voice, -1);
    emu_hear_free(h);
    free(t);
}

TEST(media_types_base64_and_sha256)
{
    CHECK_INT(emu_media_audio_rate("audio/pcm;rate=16000"), 16000);
    CHECK_INT(emu_media_audio_rate("audio/pcm; rate = 48000"), 48000);
    CHECK_INT(emu_media_audio_rate("AUDIO/PCM;RATE=8000"), 8000);
    CHECK_INT(emu_media_audio_rate("audio/pcm"), 16000);
    CHECK_INT(emu_media_audio_rate("audio/pcm;rate=7999"), 0);
    CHECK_INT(emu_media_audio_rate("audio/pcm;rate=96000"), 0);
    CHECK_INT(emu_media_audio_rate("audio/pcm;rate="), 0);
    CHECK_INT(emu_media_audio_rate("audio/pcm;rate=16000x"), 0);
    CHECK_INT(emu_media_audio_rate("audio/pcm;channels=1"), 0);
    CHECK_INT(emu_media_audio_rate("audio/wav"), 0);
    CHECK_INT(emu_media_audio_rate("audio/pcmx"), 0);
    CHECK_INT(emu_media_audio_rate(NULL), 0);
    CHECK(emu_media_image_type("image/jpeg") && emu_media_image_type("IMAGE/PNG"));
    CHECK(!emu_media_image_type("image/gif") && !emu_media_image_type("image/jpg"));
    static const unsigned char jpg[] = {0xFF, 0xD8, 0xFF, 0xE0}, png[] = {0x89, 'P', 'N', 'G',
                                                                          '\r', '\n', 0x1A, '\n'};
    CHECK(emu_media_image_ok("image/jpeg", jpg, 4) && !emu_media_image_ok("image/png", jpg, 4));
    CHECK(emu_media_image_ok("image/png", png, 8) && !emu_media_image_ok("image/png", png, 7));
    size_t n;
    unsigned char *d = emu_base64_decode("aGVsbG8_-w", 10, &n); /* URL-safe, unpadded */
    CHECK(d && n == 7 && !memcmp(d, "hello?\xfb", 7));
    free(d);
    d = emu_base64_decode("aGk=", 4, &n);
    CHECK(d && n == 2 && !memcmp(d, "hi", 2));
    free(d);
    CHECK(emu_base64_decode("a", 1, &n) == NULL);
    CHECK(emu_base64_decode("a*==", 4, &n) == NULL);
    char hex[65];
    emu_sha256_hex((const unsigned char *)"abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(text_chunks_bounded_and_complete)
{
    const char *long_text =
        "Supercalifragilisticexpialidocious is a long word, and this sentence goes on for a "
        "while so that it needs several chunks of at most forty bytes each; "
        "Pneumonoultramicroscopicsilicovolcanoconiosis-and-more-without-spaces-at-all end.";
    char script[1024];
    snprintf(script, sizeof script, "{\"default\":[{\"say\":\"%s\"},{\"chunks\":[\"A\",\"b\"]}]}",
             long_text);
    emu_script *s = load_str(script);
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "go", &a);
    char want[1024];
    snprintf(want, sizeof want, "%s Ab", long_text);
    CHECK_STR(all_text(&a), want);
    size_t n = 0;
    for (size_t i = 0; i < a.len; i++) {
        const char *t = part_text(&a.v[i]);
        if (!t)
            continue;
        if (n > 0 && strcmp(t, " A") != 0 && strcmp(t, "b") != 0)
            CHECK(strlen(t) <= 40);
        n++;
    }
    CHECK(n >= 7);
    CHECK_STR(part_text(&a.v[0]), "Supercalifragilisticexpialidocious");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(chunks_step_exact_messages)
{
    emu_script *s = load_str("{\"default\":[{\"chunks\":[\"Hello\",\"! You said {prompt}\"]}]}");
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "hi", &a);
    CHECK_INT(a.len, 4);
    CHECK_STR(part_text(&a.v[0]), "Hello");
    CHECK_STR(part_text(&a.v[1]), "! You said hi");
    emu_actions_free(&a);
    emu_session_free(m);
    m = mk_session(s, "AUDIO", T_TRANSCRIBE);
    emu_session_prompt(m, "hi", &a);
    size_t tc, chunks;
    bool ok;
    CHECK_STR(all_transcript(&a, &tc), "Hello! You said hi");
    CHECK_INT(audio_total(&a, &chunks, &ok), emu_audio_len("Hello! You said hi"));
    CHECK(ok);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(audio_synth_deterministic_and_sized)
{
    size_t n1, n2;
    unsigned char *p1 = emu_audio_synth("héllo, world", &n1);
    unsigned char *p2 = emu_audio_synth("héllo, world", &n2);
    CHECK(p1 && p2);
    CHECK_INT(n1, 12 * EMU_AUDIO_BYTES_PER_CHAR); /* 12 code points */
    CHECK(n1 == n2 && memcmp(p1, p2, n1) == 0);
    /* not silent in a word, silent in the gap */
    int peak = 0;
    for (size_t i = 0; i < EMU_AUDIO_BYTES_PER_CHAR * 4; i += 2) {
        int v = (int16_t)(p1[i] | p1[i + 1] << 8);
        if (abs(v) > peak)
            peak = abs(v);
    }
    CHECK(peak > 3000);
    size_t gap = 6 * EMU_AUDIO_BYTES_PER_CHAR; /* the space after the comma */
    for (size_t i = gap; i < gap + EMU_AUDIO_BYTES_PER_CHAR; i++)
        CHECK(p1[i] == 0);
    free(p1);
    free(p2);
    size_t n0;
    CHECK(emu_audio_synth("", &n0) == NULL);
    CHECK_INT(n0, 0);
    char *b = emu_base64((const unsigned char *)"hello", 5);
    CHECK_STR(b, "aGVsbG8=");
    free(b);
}

/* ---------- loading ---------- */

TEST(script_load_errors)
{
    gl_err e = {0};
    CHECK(emu_script_load_string("{\"rules\": [", &e) == NULL);
    CHECK_STR(e.code, "script");
    CHECK_CONTAINS(e.msg, "bad JSON");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"rules\":[{\"match\":\"a\",\"steps\":[{\"say\":\"x\"},"
                                 "{\"sya\":\"typo\"}]}]}",
                                 &e) == NULL);
    CHECK_CONTAINS(e.msg, "rules[0].steps[1]");
    CHECK_CONTAINS(e.msg, "unknown key \"sya\"");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"default\":[{\"say\":\"a\",\"call\":\"f\"}]}", &e) == NULL);
    CHECK_CONTAINS(e.msg, "default[0]");
    CHECK_CONTAINS(e.msg, "two actions");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"default\":[{\"say\":\"a\",\"run\":\"sleep\"}]}", &e) ==
          NULL);
    CHECK_CONTAINS(e.msg, "\"run\" does not apply to \"say\"");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"default\":[{\"delay_ms\":\"10\"}]}", &e) == NULL);
    CHECK_CONTAINS(e.msg, "delay_ms");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"rules\":[{\"match\":\"a\"}]}", &e) == NULL);
    CHECK_CONTAINS(e.msg, "missing \"steps\"");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"rules\":[{\"mtch\":\"a\",\"steps\":[]}]}", &e) == NULL);
    CHECK_CONTAINS(e.msg, "rules[0]");
    CHECK_CONTAINS(e.msg, "mtch");

    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"default\":[{\"close\":99}]}", &e) == NULL);
    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("{\"default\":[{\"calls\":[{\"name\":\"f\",\"x\":1}]}]}", &e) ==
          NULL);
    CHECK_CONTAINS(e.msg, "default[0].calls[0]");
    memset(&e, 0, sizeof e);
    CHECK(emu_script_load_string("[]", &e) == NULL);
    CHECK_CONTAINS(e.msg, "top level");
}

TEST(script_load_file)
{
    char path[] = "/tmp/test_model_scriptXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "{\"default\":[{\"say\":\"from file\"}]}";
    CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    gl_err e = {0};
    emu_script *s = emu_script_load(path, &e);
    unlink(path);
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "anything", &a);
    CHECK_STR(all_text(&a), "from file");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
    CHECK(emu_script_load("/nonexistent/script.json", &e) == NULL);
    CHECK_STR(e.code, "io");
    CHECK_CONTAINS(e.msg, "/nonexistent/script.json");
}

/* ---------- determinism ---------- */

static char *run_all_seeds(void)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_session(s, "AUDIO", T_FNS | T_CODE | T_SEARCH | T_TRANSCRIBE);
    const char *prompts[] = {"Hello?", "Turn on the lights",
                             "What is the largest prime palindrome under 100000", SEED5_PROMPT,
                             SEED6_PROMPT, SEED7_PROMPT};
    json_t *log = json_array();
    for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++) {
        emu_actions a = {0};
        emu_session_prompt(m, prompts[i], &a);
        for (int rounds = 0; rounds < 10 && a.len; rounds++) {
            bool awaiting = false;
            for (size_t k = 0; k < a.len; k++) {
                json_array_append_new(
                    log, json_pack("{s:i, s:O?, s:O?, s:i, s:i}", "kind", (int)a.v[k].kind, "msg",
                                   a.v[k].msg, "ids", a.v[k].ids, "ms", (int)a.v[k].ms, "code",
                                   a.v[k].code));
                if (a.v[k].kind == EMU_ACT_AWAIT_TOOL) {
                    awaiting = true;
                    json_t *ok = ok_response();
                    for (size_t j = 0; j < json_array_size(a.v[k].ids); j++)
                        emu_session_tool_response(
                            m, json_string_value(json_array_get(a.v[k].ids, j)), "x", ok);
                    json_decref(ok);
                }
            }
            emu_actions_free(&a);
            if (awaiting)
                emu_session_continue(m, &a);
        }
        emu_actions_free(&a);
    }
    json_t *h = emu_session_history(m);
    json_array_append_new(log, h);
    char *out = json_dumps(log, JSON_COMPACT);
    json_decref(log);
    emu_session_free(m);
    emu_script_free(s);
    return out;
}

TEST(deterministic_output)
{
    char *a = run_all_seeds();
    char *b = run_all_seeds();
    CHECK(a && b);
    CHECK(strlen(a) > 100000); /* audio included */
    CHECK(strcmp(a, b) == 0);
    free(a);
    free(b);
}

/* ---------- today's models: NON_BLOCKING calls, run_python, named functions, shapes ----------
 * The model follows the setup's responseModalities whatever the model (the server enforces
 * AUDIO-only models), so these use TEXT on 3.8 to read the answers directly. */

static emu_session *mk_json_session(emu_script *s, const char *setup_json)
{
    json_error_t je;
    json_t *setup = json_loads(setup_json, 0, &je);
    if (!setup)
        printf("# bad setup JSON: %s\n", je.text);
    emu_session *m = emu_session_new(s, setup);
    json_decref(setup);
    return m;
}

#define LIGHTS_DECL "{\"functionDeclarations\":[{\"name\":\"turn_on_the_lights\"},{\"name\":\"turn_off_the_lights\"}]}"
#define PY_DECL "{\"functionDeclarations\":[{\"name\":\"run_python\"}]}"
#define SETUP(model, tools)                                                                     \
    "{\"model\":\"models/" model "\",\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},"  \
    "\"tools\":[" tools "]}"

static bool is_await(const emu_action *a)
{
    return a->kind == EMU_ACT_AWAIT_TOOL;
}

static emu_resp_kind respond(emu_session *m, const char *id, const char *name, const char *json,
                             emu_scheduling sched, bool will_continue)
{
    json_t *resp = json_loads(json, 0, NULL);
    emu_fn_response r = {id, name, resp, sched, will_continue};
    emu_resp_kind k = emu_session_function_response(m, &r, NULL);
    json_decref(resp);
    return k;
}

/* The code of the one run_python call in a. */
static const char *python_code(const emu_actions *a)
{
    int i = find_action(a, is_tool_call);
    const json_t *fc = i < 0 ? NULL : the_call(&a->v[i]);
    if (!fc || strcmp(json_string_value(json_object_get(fc, "name")), "run_python") != 0)
        return NULL;
    return json_string_value(json_object_get(json_object_get(fc, "args"), "code"));
}

TEST(async_38_turn_completes_then_a_followup_answers)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_json_session(s, SETUP("gemini-3.8-live", LIGHTS_DECL));
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, "Turn on the lights", &a);
    CHECK(is_tool_call(&a.v[0]));
    CHECK(find_action(&a, is_await) < 0); /* the model does not wait */
    CHECK_STR(all_text(&a), "Sure, turning on the lights.");
    CHECK(is_gen_complete(&a.v[a.len - 2]) && is_turn_complete(&a.v[a.len - 1]));
    char id[64];
    snprintf(id, sizeof id, "%s", call_id(&a.v[0]));
    json_t *pend = emu_session_pending_calls(m); /* an interruption does not cancel it */
    CHECK_INT(json_array_size(pend), 0);
    json_decref(pend);
    CHECK(!emu_session_has_followup(m));
    CHECK_INT(emu_session_turns(m), 1);

    json_t *resp = ok_response();
    const char *key = NULL;
    emu_fn_response r = {id, "turn_on_the_lights", resp, EMU_SCHED_WHEN_IDLE, false};
    CHECK_INT(emu_session_function_response(m, &r, &key), EMU_RESP_WHEN_IDLE);
    CHECK_STR(key, id);
    CHECK_INT(emu_session_function_response(m, &r, NULL), EMU_RESP_UNKNOWN); /* answered */
    json_decref(resp);
    CHECK(emu_session_has_followup(m));
    CHECK(emu_session_followup(m, &b));
    CHECK_STR(all_text(&b), "OK, I've turned on the lights.");
    CHECK(find_action(&b, is_tool_call) < 0);
    CHECK(is_gen_complete(&b.v[b.len - 2]) && is_turn_complete(&b.v[b.len - 1]));
    CHECK(usage_int(&b.v[b.len - 1], "promptTokenCount") > 0);
    CHECK(!emu_session_followup(m, &b));
    CHECK(!emu_session_has_followup(m));

    json_t *h = emu_session_history(m);
    CHECK_INT(json_array_size(h), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 1), "function")),
              "turn_on_the_lights");
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 2), "after_function")),
              "turn_on_the_lights");
    CHECK(!json_object_get(json_array_get(h, 2), "user"));
    json_decref(h);
    CHECK_INT(emu_session_turns(m), 1); /* follow-ups are not user turns */
    emu_actions_free(&a);
    emu_session_prompt(m, "What did I say before?", &a);
    CHECK_STR(all_text(&a), "You said before: Turn on the lights");
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(async_behaviour_follows_model_and_declaration)
{
    static const struct {
        const char *setup;
        bool waits;
    } cases[] = {
        {SETUP("gemini-3.8-live", LIGHTS_DECL), false},
        {SETUP("gemini-3.8-live", "{\"functionDeclarations\":[{\"name\":\"turn_on_the_lights\","
                                  "\"behavior\":\"BLOCKING\"}]}"), true},
        {SETUP("gemini-3.1-flash-live-preview", "{\"functionDeclarations\":[{\"name\":"
                                  "\"turn_on_the_lights\",\"behavior\":\"NON_BLOCKING\"}]}"), true},
        {SETUP("gemini-2.5-flash-native-audio-latest", LIGHTS_DECL), true},
        {SETUP("gemini-2.5-flash-native-audio-latest", "{\"functionDeclarations\":[{\"name\":"
                                  "\"turn_on_the_lights\",\"behavior\":\"NON_BLOCKING\"}]}"), false},
        {SETUP("gemini-live-2.5-flash-preview", LIGHTS_DECL), true},
        {SETUP("gemini-live-2.5-flash-preview", "{\"functionDeclarations\":[{\"name\":"
                                  "\"turn_on_the_lights\",\"behavior\":\"NON_BLOCKING\"}]}"), false},
    };
    emu_script *s = emu_script_load(NULL, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        emu_session *m = mk_json_session(s, cases[i].setup);
        emu_actions a = {0};
        emu_session_prompt(m, "Turn on the lights", &a);
        bool waits = find_action(&a, is_await) >= 0;
        bool completes = is_turn_complete(&a.v[a.len - 1]);
        emu_actions_free(&a);
        emu_session_free(m);
        if (waits != cases[i].waits || completes == cases[i].waits)
            GL_FAILF("case %zu: waits %d completes %d", i, waits, completes);
    }
    /* a batch with one blocking function in it is waited for as a whole */
    emu_script *s2 = load_str("{\"default\":[{\"calls\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
                              "{\"say\":\"a {tool:a} b {tool:b}\"}]}");
    emu_session *m = mk_json_session(s2, SETUP("gemini-3.8-live", "{\"functionDeclarations\":["
                                     "{\"name\":\"a\"},{\"name\":\"b\",\"behavior\":\"BLOCKING\"}]}"));
    emu_actions a = {0};
    emu_session_prompt(m, "go", &a);
    int w = find_action(&a, is_await);
    CHECK(w >= 0);
    CHECK_INT(json_array_size(a.v[w].ids), 2);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s2);
    emu_script_free(s);
}

TEST(async_scheduling_and_will_continue)
{
    emu_script *s = load_str("{\"default\":[{\"call\":\"f\",\"meanwhile\":[{\"say\":\"wait\"}]},"
                             "{\"say\":\"f gave {tool:f}\"}]}");
    emu_session *m = mk_json_session(s, SETUP("gemini-3.8-live",
                                              "{\"functionDeclarations\":[{\"name\":\"f\"}]}"));
    emu_actions a = {0};
    char id1[64], id2[64];
    emu_session_prompt(m, "one", &a);
    CHECK_STR(all_text(&a), "wait");
    snprintf(id1, sizeof id1, "%s", call_id(&a.v[0]));
    emu_actions_free(&a);
    emu_session_prompt(m, "two", &a);
    snprintf(id2, sizeof id2, "%s", call_id(&a.v[0]));
    emu_actions_free(&a);

    /* intermediate answers: an update each unless SILENT; the call stays pending */
    CHECK_INT(respond(m, id1, "f", "{\"p\":1}", EMU_SCHED_SILENT, true), EMU_RESP_KEPT);
    CHECK(!emu_session_has_followup(m));
    CHECK_INT(respond(m, id1, "f", "{\"p\":2}", EMU_SCHED_WHEN_IDLE, true), EMU_RESP_WHEN_IDLE);
    /* a final SILENT answer: remembered, nothing generated */
    CHECK_INT(respond(m, id2, "f", "{\"quiet\":true}", EMU_SCHED_SILENT, false), EMU_RESP_KEPT);
    /* INTERRUPT answers run before the WHEN_IDLE ones */
    CHECK_INT(respond(m, id1, "f", "{\"done\":1}", EMU_SCHED_INTERRUPT, false), EMU_RESP_INTERRUPT);
    CHECK_INT(respond(m, id1, "f", "{}", EMU_SCHED_WHEN_IDLE, false), EMU_RESP_UNKNOWN);
    CHECK(emu_session_followup(m, &a));
    CHECK_STR(all_text(&a), "f gave {\"done\":1}");
    emu_actions_free(&a);
    CHECK(emu_session_followup(m, &a));
    CHECK_STR(all_text(&a), "An update from f: {\"p\":2}");
    emu_actions_free(&a);
    CHECK(!emu_session_followup(m, &a));
    json_t *h = emu_session_history(m);
    size_t fn_entries = 0, i;
    json_t *e;
    json_array_foreach(h, i, e)
        fn_entries += json_object_get(e, "function") != NULL;
    CHECK_INT(fn_entries, 4); /* every answer, SILENT ones too */
    json_decref(h);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(async_batch_waits_for_every_call_and_chains)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_json_session(s, SETUP("gemini-3.8-live", LIGHTS_DECL));
    emu_actions a = {0};
    /* seed 6 without code: on, then off, each answer starting the next generation */
    emu_session_prompt(m, SEED6_PROMPT, &a);
    CHECK_STR(json_string_value(json_object_get(the_call(&a.v[0]), "name")), "turn_on_the_lights");
    char id[64];
    snprintf(id, sizeof id, "%s", call_id(&a.v[0]));
    emu_actions_free(&a);
    CHECK_INT(respond(m, id, "turn_on_the_lights", "{}", EMU_SCHED_WHEN_IDLE, false),
              EMU_RESP_WHEN_IDLE);
    CHECK(emu_session_followup(m, &a));
    int i = find_action(&a, is_tool_call);
    CHECK(i >= 0);
    CHECK_STR(json_string_value(json_object_get(the_call(&a.v[i]), "name")), "turn_off_the_lights");
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    snprintf(id, sizeof id, "%s", call_id(&a.v[i]));
    emu_actions_free(&a);
    CHECK_INT(respond(m, id, "turn_off_the_lights", "{}", EMU_SCHED_WHEN_IDLE, false),
              EMU_RESP_WHEN_IDLE);
    CHECK(emu_session_followup(m, &a));
    CHECK_CONTAINS(all_text(&a), "turned off the lights");
    emu_actions_free(&a);
    emu_session_free(m);

    /* two calls in one toolCall: one follow-up, once both are answered */
    emu_script *s2 = load_str("{\"default\":[{\"calls\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
                              "{\"say\":\"a {tool:a} b {tool:b}\"}]}");
    m = mk_json_session(s2, SETUP("gemini-3.8-live", "{\"functionDeclarations\":[{\"name\":\"a\"},"
                                  "{\"name\":\"b\"}]}"));
    emu_session_prompt(m, "go", &a);
    const json_t *fc = json_object_get(json_object_get(a.v[0].msg, "toolCall"), "functionCalls");
    char ida[64], idb[64];
    snprintf(ida, sizeof ida, "%s", json_string_value(json_object_get(json_array_get(fc, 0), "id")));
    snprintf(idb, sizeof idb, "%s", json_string_value(json_object_get(json_array_get(fc, 1), "id")));
    CHECK_STR(all_text(&a), "OK, working on it."); /* no "meanwhile": the default */
    emu_actions_free(&a);
    CHECK_INT(respond(m, idb, "b", "{\"v\":2}", EMU_SCHED_INTERRUPT, false), EMU_RESP_KEPT);
    CHECK(!emu_session_has_followup(m));
    CHECK_INT(respond(m, ida, "a", "{\"v\":1}", EMU_SCHED_WHEN_IDLE, false), EMU_RESP_WHEN_IDLE);
    CHECK(emu_session_followup(m, &a));
    CHECK_STR(all_text(&a), "a {\"v\":1} b {\"v\":2}");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s2);
    emu_script_free(s);
}

TEST(async_call_cancelled_and_prompt_keeps_it)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_json_session(s, SETUP("gemini-3.8-live", LIGHTS_DECL));
    emu_actions a = {0};
    emu_session_prompt(m, "Turn on the lights", &a);
    char id[64];
    snprintf(id, sizeof id, "%s", call_id(&a.v[0]));
    emu_actions_free(&a);
    emu_session_prompt(m, "Hello?", &a); /* a new turn: the call goes on */
    emu_actions_free(&a);
    emu_session_cancel_pending(m);
    CHECK_INT(respond(m, id, "turn_on_the_lights", "{}", EMU_SCHED_WHEN_IDLE, false),
              EMU_RESP_WHEN_IDLE);
    emu_session_free(m);
    /* the cancel step cancels NON_BLOCKING calls too */
    m = mk_json_session(s, SETUP("gemini-3.8-live", LIGHTS_DECL));
    emu_session_prompt(m, "emu:cancel", &a);
    int c = -1;
    for (size_t i = 0; i < a.len; i++)
        if (a.v[i].kind == EMU_ACT_SEND && json_object_get(a.v[i].msg, "toolCallCancellation"))
            c = (int)i;
    CHECK(c > 0);
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_object_get(
                  a.v[c].msg, "toolCallCancellation"), "ids"), 0)),
              call_id(&a.v[0]));
    CHECK_CONTAINS(all_text(&a), "cancelled");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(run_python_blocking_on_half_cascade)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_json_session(s, SETUP("gemini-live-2.5-flash-preview", PY_DECL));
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, "What is the largest prime palindrome under 100000", &a);
    const char *code = python_code(&a);
    CHECK(code != NULL);
    CHECK_CONTAINS(code, "range(100000)");
    CHECK_CONTAINS(code, "def is_prime(n):");
    CHECK(find_action(&a, is_code) < 0);
    int w = find_action(&a, is_await);
    CHECK(w >= 0);
    const char *key = json_string_value(json_array_get(a.v[w].ids, 0));
    CHECK_INT(respond(m, key, "run_python", "{\"outcome\":\"OUTCOME_OK\",\"output\":\"checking\\n98689\\n\\n\"}",
                      EMU_SCHED_WHEN_IDLE, false),
              EMU_RESP_AWAITED);
    emu_session_continue(m, &b);
    CHECK_STR(all_text(&b), "The largest prime palindrome under 100000 is 98689.");
    emu_actions_free(&a);
    emu_actions_free(&b);
    /* the code failed: the model says so and stops there */
    emu_session_prompt(m, "the largest palindromic prime below 1000", &a);
    CHECK_CONTAINS(python_code(&a), "range(1000)");
    w = find_action(&a, is_await);
    key = json_string_value(json_array_get(a.v[w].ids, 0));
    respond(m, key, "run_python", "{\"outcome\":\"OUTCOME_DEADLINE_EXCEEDED\",\"output\":\"\"}",
            EMU_SCHED_WHEN_IDLE, false);
    emu_session_continue(m, &b);
    CHECK_STR(all_text(&b), "I tried to compute it with Python, but the code failed "
                            "(OUTCOME_DEADLINE_EXCEEDED).");
    CHECK(is_turn_complete(&b.v[b.len - 1]));
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    /* with codeExecution too, the half-cascade model runs the code itself, as before */
    m = mk_json_session(s, SETUP("gemini-live-2.5-flash-preview", PY_DECL ",{\"codeExecution\":{}}"));
    emu_session_prompt(m, "What is the largest prime palindrome under 100000", &a);
    CHECK(find_action(&a, is_code) >= 0 && find_action(&a, is_tool_call) < 0);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(run_python_seed6_code_and_time_scale)
{
    emu_script *s = emu_script_load(NULL, NULL);
    static const struct {
        double scale;
        const char *sleep;
    } cases[] = {{1, "time.sleep(10)"}, {0.01, "time.sleep(0.1)"}, {0.2, "time.sleep(2)"}};
    for (size_t i = 0; i < 3; i++) {
        emu_session *m = mk_json_session(s, SETUP("gemini-3.8-live", LIGHTS_DECL "," PY_DECL));
        emu_session_set_time_scale(m, cases[i].scale);
        emu_actions a = {0};
        emu_session_prompt(m, SEED6_PROMPT, &a);
        const char *code = python_code(&a);
        CHECK(code != NULL);
        CHECK_CONTAINS(code, cases[i].sleep);
        if (cases[i].scale == 1)
            CHECK_STR(code, "import time\n\nprint(default_api.turn_on_the_lights())\n"
                            "time.sleep(10)\nprint(default_api.turn_off_the_lights())\n");
        char id[64];
        snprintf(id, sizeof id, "%s", call_id(&a.v[find_action(&a, is_tool_call)]));
        emu_actions_free(&a);
        respond(m, id, "run_python", "{\"outcome\":\"OUTCOME_OK\",\"output\":\"{'r': 'on'}\\n{'r': 'off'}\\n\"}",
                EMU_SCHED_WHEN_IDLE, false);
        CHECK(emu_session_followup(m, &a));
        CHECK_STR(all_text(&a), "I turned on the lights, waited 10 seconds, and then turned off the "
                                "lights. The last thing the code printed was {'r': 'off'}.");
        emu_actions_free(&a);
        emu_session_free(m);
    }
    emu_script_free(s);
}

TEST(run_python_seed7_one_toolcall_then_search)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_json_session(s, SETUP("gemini-3.8-live",
                                              LIGHTS_DECL "," PY_DECL ",{\"googleSearch\":{}}"));
    emu_actions a = {0};
    emu_session_prompt(m, SEED7_PROMPT, &a);
    const json_t *fc = json_object_get(json_object_get(a.v[0].msg, "toolCall"), "functionCalls");
    CHECK_INT(json_array_size(fc), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(fc, 0), "name")), "turn_on_the_lights");
    CHECK_STR(json_string_value(json_object_get(json_array_get(fc, 1), "name")), "run_python");
    char on[64], py[64];
    snprintf(on, sizeof on, "%s", json_string_value(json_object_get(json_array_get(fc, 0), "id")));
    snprintf(py, sizeof py, "%s", json_string_value(json_object_get(json_array_get(fc, 1), "id")));
    emu_actions_free(&a);
    respond(m, py, "run_python", "{\"outcome\":\"OUTCOME_OK\",\"output\":\"98689\\n\"}",
            EMU_SCHED_WHEN_IDLE, false);
    respond(m, on, "turn_on_the_lights", "{}", EMU_SCHED_WHEN_IDLE, false);
    CHECK(emu_session_followup(m, &a));
    CHECK_CONTAINS(all_text(&a), "The largest prime palindrome under 100000 is 98689.");
    CHECK_CONTAINS(all_text(&a), "Cape Mendocino");
    CHECK(find_action(&a, is_grounding) >= 0);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(prompt_naming_a_function_calls_it)
{
    emu_script *s = emu_script_load(NULL, NULL);
    emu_session *m = mk_json_session(s, SETUP("gemini-live-2.5-flash-preview",
                                              "{\"functionDeclarations\":[{\"name\":\"turn_on_the_lights\"},"
                                              "{\"name\":\"open_garage_door\"},{\"name\":\"_\"}]}"));
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, "GARAGE: door, open!", &a);
    CHECK_STR(json_string_value(json_object_get(the_call(&a.v[0]), "name")), "open_garage_door");
    CHECK_INT(json_object_size(json_object_get(the_call(&a.v[0]), "args")), 0);
    respond(m, call_id(&a.v[0]), "open_garage_door", "{\"open\":true}", EMU_SCHED_WHEN_IDLE, false);
    emu_session_continue(m, &b);
    CHECK_STR(all_text(&b), "I called open_garage_door, and it returned {\"open\":true}.");
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_prompt(m, "please switch the lights on", &a); /* "turn" is missing */
    CHECK(find_action(&a, is_tool_call) < 0);
    CHECK_STR(all_text(&a), "I heard you say: please switch the lights on");
    emu_actions_free(&a);
    emu_session_prompt(m, "turn the lights on, and open the garage door", &a); /* both, in order */
    const json_t *fc = json_object_get(json_object_get(a.v[0].msg, "toolCall"), "functionCalls");
    CHECK_INT(json_array_size(fc), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(fc, 0), "name")), "turn_on_the_lights");
    emu_actions_free(&a);
    emu_session_free(m);
    /* a script rule that matches wins */
    emu_script *s2 = load_str("{\"rules\":[{\"match\":\"garage\",\"steps\":[{\"say\":\"rule\"}]}]}");
    m = mk_json_session(s2, SETUP("m", "{\"functionDeclarations\":[{\"name\":\"open_garage_door\"}]}"));
    emu_session_prompt(m, "open the garage door", &a);
    CHECK_STR(all_text(&a), "rule");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s2);
    emu_script_free(s);
}

TEST(shape_steps)
{
    emu_script *s = load_str(
        "{\"session_id\":true,\"rules\":[{\"match\":\"\",\"steps\":["
        "{\"interim_transcription\":\"you said {prompt}\"},{\"voice_activity\":\"ACTIVITY_START\"},"
        "{\"voice_activity\":\"ACTIVITY_END\"},{\"call\":\"f\",\"no_id\":true},"
        "{\"say\":\"f said {tool:f}\"},{\"waiting_for_input\":true}]}]}");
    CHECK(s != NULL);
    CHECK(emu_script_session_id(s));
    emu_session *m = mk_json_session(s, SETUP("m", "{\"functionDeclarations\":[{\"name\":\"f\"}]}"));
    emu_actions a = {0}, b = {0};
    emu_session_prompt(m, "hi", &a);
    CHECK_INT(a.len, 5);
    CHECK_STR(json_string_value(json_object_get(json_object_get(sc(&a.v[0]),
                                                                "interimInputTranscription"), "text")),
              "you said hi");
    CHECK_STR(json_string_value(json_object_get(json_object_get(a.v[1].msg, "voiceActivity"),
                                                "voiceActivityType")),
              "ACTIVITY_START");
    CHECK_STR(json_string_value(json_object_get(json_object_get(a.v[2].msg, "voiceActivity"),
                                                "voiceActivityType")),
              "ACTIVITY_END");
    CHECK(json_object_get(the_call(&a.v[3]), "id") == NULL);
    CHECK_INT(json_object_size(the_call(&a.v[3])), 2); /* name and args only */
    const char *awaited = json_string_value(json_array_get(a.v[4].ids, 0));
    json_t *pend = emu_session_pending_calls(m); /* no id to cancel it by */
    CHECK_INT(json_array_size(pend), 0);
    json_decref(pend);
    /* answered by name, without id */
    json_t *resp = json_pack("{s:i}", "x", 1);
    const char *key = NULL;
    emu_fn_response r = {NULL, "g", resp, EMU_SCHED_WHEN_IDLE, false};
    CHECK_INT(emu_session_function_response(m, &r, &key), EMU_RESP_UNKNOWN);
    r.name = "f";
    CHECK_INT(emu_session_function_response(m, &r, &key), EMU_RESP_AWAITED);
    CHECK_STR(key, awaited);
    json_decref(resp);
    emu_session_continue(m, &b);
    CHECK_STR(all_text(&b), "f said {\"x\":1}");
    const json_t *done = sc(&b.v[b.len - 1]);
    CHECK(json_is_true(json_object_get(done, "turnComplete")));
    CHECK(json_is_true(json_object_get(done, "waitingForInput")));
    emu_actions_free(&a);
    emu_actions_free(&b);
    emu_session_free(m);
    emu_script_free(s);
}

TEST(script_load_errors_for_new_keys)
{
    static const struct {
        const char *script, *want;
    } cases[] = {
        {"{\"default\":[{\"call\":\"f\",\"meanwhile\":[{\"call\":\"g\"}]}]}", "no calls or cancels"},
        {"{\"default\":[{\"call\":\"f\",\"meanwhile\":[{\"sya\":\"x\"}]}]}",
         "default[0].meanwhile[0]: unknown key \"sya\""},
        {"{\"default\":[{\"call\":\"f\",\"meanwhile\":3}]}", "\"meanwhile\" must be"},
        {"{\"default\":[{\"call\":\"f\",\"no_id\":1}]}", "\"no_id\" must be true or false"},
        {"{\"default\":[{\"call\":\"f\",\"failed\":1}]}", "\"failed\" must be a string"},
        {"{\"default\":[{\"say\":\"x\",\"meanwhile\":\"y\"}]}", "does not apply to \"say\""},
        {"{\"default\":[{\"voice_activity\":\"ACTIVITY_MAYBE\"}]}", "ACTIVITY_START"},
        {"{\"default\":[{\"waiting_for_input\":false}]}", "must be true"},
        {"{\"default\":[{\"interim_transcription\":true}]}", "must be a string"},
        {"{\"rules\":[{\"without\":3,\"steps\":[]}]}", "\"without\" must be"},
        {"{\"session_id\":\"yes\"}", "\"session_id\" must be true or false"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gl_err e = {0};
        emu_script *s = emu_script_load_string(cases[i].script, &e);
        if (s || !strstr(e.msg, cases[i].want)) {
            emu_script_free(s);
            GL_FAILF("case %zu: \"%s\" lacks \"%s\"", i, e.msg, cases[i].want);
        }
    }
    emu_script *s = load_str("{\"rules\":[{\"match\":\"x\",\"without\":\"f\",\"steps\":[{\"say\":\"r\"}]}],"
                             "\"default\":[{\"say\":\"d\"}]}");
    CHECK(s != NULL && !emu_script_session_id(s));
    emu_session *m = mk_json_session(s, SETUP("m", "{\"functionDeclarations\":[{\"name\":\"f\"}]}"));
    emu_actions a = {0};
    emu_session_prompt(m, "x", &a);
    CHECK_STR(all_text(&a), "d"); /* f is declared: the rule is skipped */
    emu_actions_free(&a);
    emu_session_free(m);
    m = mk_session(s, "TEXT", 0);
    emu_session_prompt(m, "x", &a);
    CHECK_STR(all_text(&a), "r");
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);
}

/* The stream step: one action with the count in messages; the prompt's key=N words override the
 * step's settings; the answer text records only the size. */
TEST(stream_step)
{
    emu_script *s = load_str("{\"rules\":[{\"match\":\"go\",\"steps\":[{\"stream\":true,"
                             "\"parts\":7,\"audio_ms\":50,\"rate\":3}]}]}");
    CHECK(s != NULL);
    emu_session *m = mk_session(s, "TEXT", 0);
    emu_actions a = {0};
    emu_session_prompt(m, "go", &a);
    CHECK_INT(a.v[0].kind, EMU_ACT_STREAM);
    CHECK_INT(a.v[0].stream.count, 7);
    CHECK_INT(a.v[0].stream.rate, 3);
    CHECK(!a.v[0].stream.audio && !a.v[0].stream.stamp);
    CHECK(is_turn_complete(&a.v[a.len - 1]));
    emu_actions_free(&a);
    emu_session_prompt(m, "go parts=12 rate=0 stamp=1 xparts=99", &a);
    CHECK_INT(a.v[0].stream.count, 12);
    CHECK_INT(a.v[0].stream.rate, 0);
    CHECK(a.v[0].stream.stamp);
    emu_actions_free(&a);
    json_t *h = emu_session_history(m);
    CHECK_STR(json_string_value(json_object_get(json_array_get(h, 1), "model")),
              "[stream: 12 text parts]");
    json_decref(h);
    emu_session_free(m);
    m = mk_session(s, "AUDIO", 0);
    emu_session_prompt(m, "go", &a); /* 50 ms: three 20 ms chunks, the last one whole */
    CHECK_INT(a.v[0].stream.count, 3);
    CHECK(a.v[0].stream.audio);
    emu_actions_free(&a);
    emu_session_free(m);
    emu_script_free(s);

    char buf[EMU_STREAM_MSG_MAX];
    emu_stream text = {.count = 1};
    size_t n = emu_stream_msg(&text, 42, 0, buf);
    CHECK_INT(n, strlen("{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"0000042 bench text, \"}]}}}"));
    CHECK(memcmp(buf, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"0000042 bench text, \"}]}}}", n) == 0);
    text.stamp = true;
    n = emu_stream_msg(&text, 3, 123456789, buf);
    CHECK(n > 0 && memmem(buf, n, "\"0000003@123456789 \"", 20) != NULL);
    unsigned char pcm[EMU_STREAM_AUDIO_CHUNK];
    emu_stream_pcm(1, pcm); /* sample 480: (480 * 7919) ^ (480 >> 9) = 3801120, low 16 bits */
    CHECK_INT(pcm[0] | pcm[1] << 8, 3801120 & 0xFFFF);
    emu_stream audio = {.audio = true, .count = 1};
    n = emu_stream_msg(&audio, 0, 0, buf);
    CHECK(n > 1280 && memmem(buf, n, "\"audio/pcm;rate=24000\",\"data\":\"", 31));
}
