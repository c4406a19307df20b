/* The daemon's Live API codec (proto/live.c) against the emulator's strict parser
 * (emulator/strict.c). The two field tables are independent ON PURPOSE: the emulator is a second,
 * separate reading of the API, so it can catch codec bugs. This test is what keeps them honest:
 *   - every message the codec can build, with every option that changes the bytes, is accepted
 *     by the strict parser and read back with the same values (a deep comparison of the daemon's
 *     JSON with the emulator's normalized body, plus explicit read-backs);
 *   - user-supplied pieces (generation_config, tools, system_instruction, function responses)
 *     normalize to the same JSON on both sides, or are rejected by both; the places where the two
 *     knowingly differ are listed in GAPS below, each with what the real service does;
 *   - the daemon's model table and the emulator's model rules lead to a setup and prompts the
 *     emulator takes;
 *   - a deliberate typo is rejected, so this test can fail.
 * A field added to either table belongs in FULL_GEN / FULL_TOOLS / FULL_CONTENT below. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/models.h"
#include "emulator/rules.h"
#include "emulator/strict.h"
#include "proto/live.h"
#include "tests/unit/testlib.h"

static char why[2048]; /* what the last failed helper saw */

#define CHECK_OK(x)                                                                            \
    do { if (!(x)) GL_FAILF("%s: %s", #x, why); } while (0)

static json_t *J(const char *text) /* test JSON literal; aborts on typos in the test itself */
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", text, e.text);
        abort();
    }
    return j;
}

/* Follows "a.b.0.c" (numbers index arrays). */
static json_t *jget(json_t *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = root;
    for (char *save, *seg = strtok_r(buf, ".", &save); seg && v; seg = strtok_r(NULL, ".", &save))
        v = json_is_array(v) ? json_array_get(v, strtoul(seg, NULL, 10)) : json_object_get(v, seg);
    return v;
}

static const char *jstr(json_t *root, const char *path)
{
    return json_string_value(jget(root, path));
}

/* ---- Deep agreement ------------------------------------------------------------------------ */

/* Enum names are case-insensitive ('-' for '_') and the emulator gives the canonical name:
 * "object" reads as "OBJECT". */
static bool enum_spelling(const char *d, const char *e)
{
    for (; *d && *e; d++, e++) {
        char u = *d == '-' ? '_' : *d >= 'a' && *d <= 'z' ? (char)(*d - 'a' + 'A') : *d;
        if (u != *e || (*e >= 'a' && *e <= 'z'))
            return false;
    }
    return !*d && !*e;
}

/* Same value as the service would read it: int64s travel as JSON strings ("1000" == 1000), a
 * float field may come back as a real (1 == 1.0), enums as their canonical names; everything
 * else must be equal. */
static bool agree(const json_t *d, const json_t *e, const char *path)
{
    if (json_is_string(d) && json_is_string(e) && enum_spelling(json_string_value(d), json_string_value(e))) {
        return true;
    } else if (json_is_string(d) && json_is_integer(e)) {
        char b[32];
        snprintf(b, sizeof b, "%" JSON_INTEGER_FORMAT, json_integer_value(e));
        if (strcmp(b, json_string_value(d)) == 0)
            return true;
    } else if (json_is_number(d) && json_is_number(e)) {
        if (json_number_value(d) == json_number_value(e))
            return true;
    } else if (json_is_object(d) && json_is_object(e)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) {
            char p[512];
            snprintf(p, sizeof p, "%s.%s", path, k);
            json_t *ev = json_object_get(e, k);
            if (!ev) {
                snprintf(why, sizeof why, "%s: the daemon wrote it, the emulator did not read it", p);
                return false;
            }
            if (!agree(v, ev, p))
                return false;
        }
        json_object_foreach((json_t *)e, k, v) {
            if (!json_object_get(d, k)) {
                snprintf(why, sizeof why, "%s.%s: the emulator has it, the daemon did not write it", path, k);
                return false;
            }
        }
        return true;
    } else if (json_is_array(d) && json_is_array(e) && json_array_size(d) == json_array_size(e)) {
        for (size_t i = 0; i < json_array_size(d); i++) {
            char p[512];
            snprintf(p, sizeof p, "%s[%zu]", path, i);
            if (!agree(json_array_get(d, i), json_array_get(e, i), p))
                return false;
        }
        return true;
    } else if (json_equal((json_t *)d, (json_t *)e)) {
        return true;
    }
    char *ds = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY), *es = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(why, sizeof why, "%s: daemon %.400s, emulator %.400s", path, ds ? ds : "?", es ? es : "?");
    free(ds);
    free(es);
    return false;
}

/* The emulator's reading of a daemon-built message: the body if it is accepted as `want` and
 * agrees field by field with what the daemon wrote; else NULL and `why`. Frees wire. */
static json_t *emu_read(char *wire, emu_msg_kind want)
{
    if (!wire) {
        snprintf(why, sizeof why, "the daemon built nothing");
        return NULL;
    }
    char reason[256];
    json_t *body = NULL, *mine = json_loads(wire, 0, NULL);
    emu_msg_kind k = emu_parse_client_msg(wire, strlen(wire), &body, reason, sizeof reason);
    if (k != want) {
        snprintf(why, sizeof why, "emulator read %s (%s) from %.1500s", emu_msg_kind_name(k), reason, wire);
        json_decref(body);
        body = NULL;
    } else if (!mine || json_object_size(mine) != 1) {
        snprintf(why, sizeof why, "the daemon's message is not one JSON object with one key: %.1500s", wire);
        json_decref(body);
        body = NULL;
    } else {
        const char *key = json_object_iter_key(json_object_iter(mine));
        if (strcmp(key, emu_msg_kind_name(k)) != 0 || !agree(json_object_iter_value(json_object_iter(mine)), body, key)) {
            if (strcmp(key, emu_msg_kind_name(k)) != 0)
                snprintf(why, sizeof why, "top-level key %s, emulator says %s", key, emu_msg_kind_name(k));
            json_decref(body);
            body = NULL;
        }
    }
    json_decref(mine);
    free(wire);
    return body;
}

/* ---- The fullest user-supplied pieces the normalizer accepts ------------------------------- */

/* Every generationConfig field of live.c's table, snake_case (camelCase below is the same). */
static const char *FULL_GEN_SNAKE =
    "{\"response_modalities\":[\"AUDIO\"],\"candidate_count\":1,\"max_output_tokens\":1024,"
    "\"temperature\":0.7,\"top_p\":0.9,\"top_k\":40,\"seed\":7,\"presence_penalty\":0.1,"
    "\"frequency_penalty\":-0.2,\"media_resolution\":\"MEDIA_RESOLUTION_LOW\","
    "\"speech_config\":{\"voice_config\":{\"prebuilt_voice_config\":{\"voice_name\":\"Kore\"}},"
    "\"multi_speaker_voice_config\":{\"speaker_voice_configs\":[{\"speaker\":\"Ann\",\"voice_config\":"
    "{\"prebuilt_voice_config\":{\"voice_name\":\"Puck\"}}}]},\"language_code\":\"en-US\"},"
    "\"thinking_config\":{\"thinking_budget\":0,\"include_thoughts\":true,\"thinking_level\":\"LOW\"},"
    "\"enable_affective_dialog\":true}";
static const char *FULL_GEN_CAMEL =
    "{\"responseModalities\":[\"TEXT\"],\"candidateCount\":\"1\",\"maxOutputTokens\":1024,"
    "\"temperature\":1,\"topP\":0.5,\"topK\":40.0,\"seed\":-3,\"presencePenalty\":0,"
    "\"frequencyPenalty\":0.25,\"mediaResolution\":\"MEDIA_RESOLUTION_HIGH\","
    "\"speechConfig\":{\"voiceConfig\":{\"prebuiltVoiceConfig\":{\"voiceName\":\"Kore\"}},"
    "\"languageCode\":\"de-DE\"},\"thinkingConfig\":{\"thinkingLevel\":\"HIGH\"},"
    "\"enableAffectiveDialog\":false}";

/* Every Tool kind, every FunctionDeclaration field, every Schema field (property names and
 * free-form JSON Schema keep their snake_case). */
static const char *FULL_TOOLS =
    "[{\"function_declarations\":["
    "{\"name\":\"turn_on_the_lights\",\"description\":\"Turns the lights on.\",\"behavior\":\"NON_BLOCKING\","
    "\"parameters\":{\"type\":\"OBJECT\",\"title\":\"Lights\",\"description\":\"where\",\"nullable\":false,"
    "\"properties\":{\"room_name\":{\"type\":\"STRING\",\"format\":\"enum\",\"enum\":[\"hall\",\"kitchen\"],"
    "\"example\":\"hall\",\"default\":\"kitchen\",\"min_length\":1,\"max_length\":\"20\",\"pattern\":\"^[a-z]+$\"},"
    "\"level\":{\"type\":\"INTEGER\",\"format\":\"int32\",\"minimum\":0,\"maximum\":100.5},"
    "\"tags\":{\"type\":\"ARRAY\",\"items\":{\"type\":\"STRING\"},\"min_items\":\"0\",\"max_items\":5},"
    "\"color\":{\"any_of\":[{\"type\":\"STRING\"},{\"type\":\"OBJECT\",\"properties\":{\"r\":{\"type\":\"NUMBER\"}},"
    "\"min_properties\":1,\"max_properties\":3}]}},"
    "\"required\":[\"room_name\"],\"property_ordering\":[\"room_name\",\"level\",\"tags\",\"color\"]},"
    "\"response\":{\"type\":\"OBJECT\",\"properties\":{\"ok\":{\"type\":\"BOOLEAN\"}}}},"
    "{\"name\":\"get.weather:v2-beta\",\"parameters_json_schema\":{\"type\":\"object\",\"properties\":"
    "{\"city_name\":{\"type\":\"string\"}},\"additional_properties\":false},"
    "\"response_json_schema\":{\"type\":\"string\"}},"
    "{\"name\":\"_blocking\",\"behavior\":\"BLOCKING\"}]},"
    "{\"code_execution\":{}},"
    "{\"google_search\":{}},"
    "{\"googleSearch\":{\"timeRangeFilter\":{\"startTime\":\"2026-01-01T00:00:00Z\",\"endTime\":\"2026-02-01T00:00:00Z\"}}},"
    "{\"google_search_retrieval\":{\"dynamic_retrieval_config\":{\"mode\":\"MODE_DYNAMIC\",\"dynamic_threshold\":0.5}}},"
    "{\"url_context\":{}},"
    "{\"functionDeclarations\":[{\"name\":\"camelOnly\",\"parameters\":{\"type\":\"OBJECT\","
    "\"properties\":{\"x\":{\"type\":\"NUMBER\",\"nullable\":true}},\"propertyOrdering\":[\"x\"]}}]}]";
static const char *const FULL_TOOL_NAMES[] = {"turn_on_the_lights", "get.weather:v2-beta", "_blocking", "camelOnly"};

/* Every Content and Part field. */
static const char *FULL_CONTENT =
    "{\"role\":\"user\",\"parts\":[{\"text\":\"Be brief.\"},"
    "{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
    "{\"fileData\":{\"mimeType\":\"application/pdf\",\"fileUri\":\"https://example.com/a.pdf\"}}]}";

/* ---- setup --------------------------------------------------------------------------------- */

/* Every combination of the options that change a setup's bytes, with each user-supplied piece
 * absent, snake_case and camelCase. */
TEST(setup_every_option_combination)
{
    json_t *gens[] = {NULL, J(FULL_GEN_SNAKE), J(FULL_GEN_CAMEL)};
    json_t *syss[] = {NULL, J("\"You are a lamp. \\\"Quotes\\\", \\\\ and \\u00e9 \\u2603\\n\""), J(FULL_CONTENT)};
    json_t *tools[] = {NULL, J(FULL_TOOLS), J("[]")};
    const char *models[] = {"gemini-test-live", "models/gemini-test-live"};
    const char *handles[] = {NULL, "", "h-123_abc/="};
    long long tokens[][2] = {{0, 0}, {1000, 0}, {0, 500}, {32000, 16000}};
    int n = 0;
    /* every option combination; the pieces cycle through their 27 combinations as they go */
    for (int bits = 0; bits < 1 << 7; bits++) {
        for (size_t h = 0; h < 3; h++) for (size_t tk = 0; tk < 4; tk++) {
            size_t g = (size_t)n % 3, sy = (size_t)n / 3 % 3, t = (size_t)n / 9 % 3;
            live_setup cfg = {
                .model = models[bits & 1],
                .modality = bits & 2 ? LIVE_AUDIO : LIVE_TEXT,
                .generation_config = gens[g],
                .system_instruction = syss[sy],
                .tools = tools[t],
                .manual_activity = bits & 4,
                .resumption = bits & 8,
                .resume_handle = handles[h],
                .compression = bits & 16,
                .compression_trigger_tokens = tokens[tk][0],
                .compression_target_tokens = tokens[tk][1],
                .input_transcription = bits & 32,
                .output_transcription = bits & 64,
            };
            gl_err err = {0};
            char *wire = live_build_setup(&cfg, &err);
            if (!wire)
                GL_FAILF("daemon refused combination %d: %s", n, err.msg);
            json_t *b = emu_read(wire, EMU_MSG_SETUP);
            if (!b)
                GL_FAILF("combination %d: %s", n, why);
            n++;
            CHECK_STR(jstr(b, "model"), "models/gemini-test-live");
            CHECK_INT(json_array_size(jget(b, "generationConfig.responseModalities")), 1);
            CHECK_STR(jstr(b, "generationConfig.responseModalities.0"), cfg.modality == LIVE_AUDIO ? "AUDIO" : "TEXT");
            CHECK_INT(json_is_true(jget(b, "realtimeInputConfig.automaticActivityDetection.disabled")), cfg.manual_activity);
            CHECK_INT(jget(b, "sessionResumption") != NULL, cfg.resumption);
            if (cfg.resumption && h == 2)
                CHECK_STR(jstr(b, "sessionResumption.handle"), handles[h]);
            else
                CHECK(!jget(b, "sessionResumption.handle"));
            CHECK_INT(json_is_object(jget(b, "contextWindowCompression.slidingWindow")), cfg.compression);
            if (cfg.compression && tokens[tk][0])
                CHECK_INT(json_integer_value(jget(b, "contextWindowCompression.triggerTokens")), tokens[tk][0]);
            if (cfg.compression && tokens[tk][1])
                CHECK_INT(json_integer_value(jget(b, "contextWindowCompression.slidingWindow.targetTokens")), tokens[tk][1]);
            CHECK_INT(jget(b, "inputAudioTranscription") != NULL, cfg.input_transcription);
            CHECK_INT(jget(b, "outputAudioTranscription") != NULL, cfg.output_transcription);
            if (sy == 1)
                CHECK_STR(jstr(b, "systemInstruction.parts.0.text"), "You are a lamp. \"Quotes\", \\ and \xc3\xa9 \xe2\x98\x83\n");
            if (sy == 2)
                CHECK_STR(jstr(b, "systemInstruction.parts.1.inlineData.mimeType"), "image/png");
            if (t == 1) {
                for (size_t i = 0; i < 3; i++) {
                    char p[64];
                    snprintf(p, sizeof p, "tools.0.functionDeclarations.%zu.name", i);
                    CHECK_STR(jstr(b, p), FULL_TOOL_NAMES[i]);
                }
                CHECK_STR(jstr(b, "tools.6.functionDeclarations.0.name"), FULL_TOOL_NAMES[3]);
                CHECK_STR(jstr(b, "tools.0.functionDeclarations.0.behavior"), "NON_BLOCKING");
                CHECK(json_is_object(jget(b, "tools.1.codeExecution")));
                CHECK(json_is_object(jget(b, "tools.2.googleSearch")));
                CHECK(json_is_object(jget(b, "tools.0.functionDeclarations.0.parameters.properties.room_name")));
                CHECK(json_is_false(jget(b, "tools.0.functionDeclarations.1.parametersJsonSchema.additional_properties")));
            } else {
                CHECK(!jget(b, "tools")); /* an empty list is left out */
            }
            if (g == 1) {
                CHECK_STR(jstr(b, "generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName"), "Kore");
                CHECK_STR(jstr(b, "generationConfig.thinkingConfig.thinkingLevel"), "LOW");
                CHECK(json_is_true(jget(b, "generationConfig.enableAffectiveDialog")));
                CHECK_INT(json_integer_value(jget(b, "generationConfig.topK")), 40);
            }
            json_decref(b);
        }
    }
    for (size_t i = 0; i < 3; i++) {
        json_decref(gens[i]);
        json_decref(syss[i]);
        json_decref(tools[i]);
    }
    CHECK_INT(n, 128 * 3 * 4);
}

/* ---- the other client messages ------------------------------------------------------------- */

static const char *const TEXTS[] = {
    "Turn on the lights",
    "",
    "quotes \" backslash \\ slash / tab \t newline \n",
    "\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x8e\x89",
    "{\"setup\":{}}",
};

TEST(client_text_turn_complete_true_and_false)
{
    for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) {
        for (int tc = 0; tc < 2; tc++) {
            json_t *b = emu_read(live_build_client_text(TEXTS[i], tc), EMU_MSG_CLIENT_CONTENT);
            CHECK_OK(b);
            CHECK_STR(jstr(b, "turns.0.role"), "user");
            CHECK_STR(jstr(b, "turns.0.parts.0.text"), TEXTS[i]);
            CHECK(json_is_boolean(jget(b, "turnComplete")));
            CHECK_INT(json_is_true(jget(b, "turnComplete")), tc);
            json_decref(b);
        }
    }
}

TEST(realtime_text)
{
    for (size_t i = 0; i < sizeof TEXTS / sizeof *TEXTS; i++) {
        json_t *b = emu_read(live_build_realtime_text(TEXTS[i]), EMU_MSG_REALTIME_INPUT);
        CHECK_OK(b);
        CHECK_STR(jstr(b, "text"), TEXTS[i]);
        json_decref(b);
    }
}

TEST(realtime_audio_and_activity)
{
    const char *b64 = "AAABAP//AQA="; /* 4 s16le samples */
    int rates[] = {0, 16000, 24000};
    const char *mimes[] = {"audio/pcm;rate=16000", "audio/pcm;rate=16000", "audio/pcm;rate=24000"};
    for (size_t i = 0; i < 3; i++) {
        json_t *b = emu_read(live_build_realtime_audio(b64, rates[i]), EMU_MSG_REALTIME_INPUT);
        CHECK_OK(b);
        CHECK_STR(jstr(b, "audio.data"), b64);
        CHECK_STR(jstr(b, "audio.mimeType"), mimes[i]);
        json_decref(b);
    }
    json_t *b = emu_read(live_build_realtime_audio("", 0), EMU_MSG_REALTIME_INPUT);
    CHECK_OK(b);
    json_decref(b);

    CHECK_OK(b = emu_read(live_build_activity_start(), EMU_MSG_REALTIME_INPUT));
    CHECK(json_is_object(jget(b, "activityStart")));
    json_decref(b);
    CHECK_OK(b = emu_read(live_build_activity_end(), EMU_MSG_REALTIME_INPUT));
    CHECK(json_is_object(jget(b, "activityEnd")));
    json_decref(b);
    CHECK_OK(b = emu_read(live_build_audio_stream_end(), EMU_MSG_REALTIME_INPUT));
    CHECK(json_is_true(jget(b, "audioStreamEnd")));
    json_decref(b);
}

TEST(video_frames_and_typed_parts)
{
    static const char *mimes[] = {"image/jpeg", "image/png"};
    for (size_t i = 0; i < 2; i++) {
        json_t *b = emu_read(live_build_realtime_video("iVBORw0KGgo=", mimes[i]), EMU_MSG_REALTIME_INPUT);
        CHECK_OK(b);
        CHECK_STR(jstr(b, "video.data"), "iVBORw0KGgo=");
        CHECK_STR(jstr(b, "video.mimeType"), mimes[i]);
        json_decref(b);
    }
    json_t *parts = json_loads("[{\"text\":\"what is this?\"},{\"inline_data\":{\"mime_type\":\"image/png\","
                               "\"data\":\"iVBORw0KGgo=\"}}]", 0, NULL);
    gl_err e;
    json_t *b = emu_read(live_build_client_parts(parts, &e), EMU_MSG_CLIENT_CONTENT);
    json_decref(parts);
    CHECK_OK(b);
    CHECK_STR(jstr(b, "turns.0.role"), "user");
    CHECK_STR(jstr(b, "turns.0.parts.0.text"), "what is this?");
    CHECK_STR(jstr(b, "turns.0.parts.1.inlineData.mimeType"), "image/png");
    CHECK(json_is_true(jget(b, "turnComplete")));
    json_decref(b);
}

TEST(activity_detection_settings_in_the_setup)
{
    json_t *vad = json_loads("{\"start_of_speech_sensitivity\":\"START_SENSITIVITY_HIGH\","
                             "\"silence_duration_ms\":300,\"prefixPaddingMs\":20}", 0, NULL);
    live_setup st = {.model = "gemini-test-live", .activity_detection = vad};
    gl_err e;
    json_t *b = emu_read(live_build_setup(&st, &e), EMU_MSG_SETUP);
    CHECK_OK(b);
    CHECK_STR(jstr(b, "realtimeInputConfig.automaticActivityDetection.startOfSpeechSensitivity"),
              "START_SENSITIVITY_HIGH");
    CHECK_INT(json_integer_value(jget(b, "realtimeInputConfig.automaticActivityDetection.silenceDurationMs")), 300);
    json_decref(b);
    st.manual_activity = true;
    CHECK_OK(b = emu_read(live_build_setup(&st, &e), EMU_MSG_SETUP));
    CHECK(json_is_true(jget(b, "realtimeInputConfig.automaticActivityDetection.disabled")));
    json_decref(b);
    json_decref(vad);
}

TEST(tool_response_results_errors_and_options)
{
    json_t *rs = J("[{\"id\":\"function-call-5831923424298605773\",\"name\":\"turn_on_the_lights\","
                   "\"response\":{\"result\":\"ok\",\"snake_key\":[1,2.5,null,true],\"nested\":{\"a_b\":{}}}},"
                   "{\"id\":\"c2\",\"name\":\"get.weather:v2-beta\",\"response\":{\"error\":\"no such city\"}},"
                   "{\"id\":\"c3\",\"name\":\"_blocking\",\"response\":{},\"will_continue\":true,\"scheduling\":\"WHEN_IDLE\"},"
                   "{\"id\":\"c4\",\"name\":\"f\",\"response\":{\"x\":1},\"willContinue\":false,\"scheduling\":\"SILENT\"},"
                   "{\"id\":\"c5\",\"name\":\"f\",\"response\":{},\"scheduling\":\"INTERRUPT\"}]");
    gl_err err = {0};
    char *wire = live_build_tool_response(rs, &err);
    CHECK(wire);
    json_t *b = emu_read(wire, EMU_MSG_TOOL_RESPONSE);
    CHECK_OK(b);
    CHECK_INT(json_array_size(jget(b, "functionResponses")), 5);
    CHECK_STR(jstr(b, "functionResponses.0.id"), "function-call-5831923424298605773");
    CHECK_STR(jstr(b, "functionResponses.0.name"), "turn_on_the_lights");
    CHECK(json_is_object(jget(b, "functionResponses.0.response.nested.a_b")));
    CHECK_STR(jstr(b, "functionResponses.1.response.error"), "no such city");
    CHECK(json_is_true(jget(b, "functionResponses.2.willContinue")));
    CHECK_STR(jstr(b, "functionResponses.2.scheduling"), "WHEN_IDLE");
    CHECK(json_is_false(jget(b, "functionResponses.3.willContinue")));
    CHECK_STR(jstr(b, "functionResponses.4.scheduling"), "INTERRUPT");
    json_decref(b);
    json_decref(rs);

    /* what daemon/calls.c builds: exactly {id, name, response} per call */
    rs = J("[{\"id\":\"1\",\"name\":\"a\",\"response\":{\"error\":\"the handler went away\"}}]");
    CHECK_OK(b = emu_read(live_build_tool_response(rs, &err), EMU_MSG_TOOL_RESPONSE));
    json_decref(b);
    json_decref(rs);
}

/* ---- the daemon's model table against the emulator's model rules --------------------------- */

/* session.c builds its setup and prompts from daemon/models.c; the emulator judges them with
 * emulator/rules.c. Both claim to describe the same service, so they must agree. */
TEST(model_tables_agree)
{
    const char *names[] = {"gemini-3.8-live", "gemini-3.8-live-preview", "gemini-3.1-flash-live-preview",
                           "gemini-2.5-flash-native-audio-preview-09-2025", "gemini-2.5-flash-native-audio-latest",
                           "gemini-live-2.5-flash-preview", "gemini-2.0-flash-live-001", "models/gemini-3.8-live",
                           GLD_DEFAULT_MODEL};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const gld_model_info *mi = gld_model_lookup(names[i]);
        for (int want = 0; want < 2; want++) {
            live_modality m = mi->audio_only ? LIVE_AUDIO : (live_modality)want; /* as session.c */
            live_setup cfg = {.model = names[i], .modality = m, .resumption = true, .compression = true,
                              .output_transcription = mi->audio_only || want == LIVE_AUDIO};
            gl_err err;
            json_t *b = emu_read(live_build_setup(&cfg, &err), EMU_MSG_SETUP);
            CHECK_OK(b);
            emu_model_rules r;
            emu_model_rules_for(jstr(b, "model"), &r);
            CHECK(r.known);
            if (r.audio_only)
                CHECK_STR(jstr(b, "generationConfig.responseModalities.0"), "AUDIO");
            if (r.audio_only != mi->audio_only || r.client_content_only_initial != mi->text_via_realtime)
                GL_FAILF("%s: daemon audio_only=%d text_via_realtime=%d, emulator audio_only=%d "
                         "client_content_only_initial=%d", names[i], mi->audio_only,
                         mi->text_via_realtime, r.audio_only, r.client_content_only_initial);
            json_decref(b);
        }
    }
}

/* ---- user-supplied pieces: the same normalization on both sides --------------------------- */

typedef enum { P_GEN, P_TOOLS, P_CONTENT, P_RESPONSES, P_DECL } piece;

/* The daemon's normalization of a piece, or NULL with `why`. */
static json_t *daemon_norm(piece p, const json_t *in)
{
    gl_err err = {0};
    json_t *out = NULL;
    int rc = 0;
    switch (p) {
    case P_GEN: rc = live_normalize_generation_config(in, "generation_config", &out, &err); break;
    case P_TOOLS: rc = live_normalize_tools(in, "tools", &out, &err); break;
    case P_CONTENT: rc = live_normalize_content(in, "system_instruction", &out, &err); break;
    case P_DECL: rc = live_normalize_function_decl(in, "declaration", &out, &err); break; /* tool.register */
    case P_RESPONSES: {
        char *wire = live_build_tool_response(in, &err);
        json_t *m = wire ? json_loads(wire, 0, NULL) : NULL;
        out = json_incref(jget(m, "toolResponse.functionResponses"));
        json_decref(m);
        free(wire);
        rc = out ? 0 : -1;
        break;
    }
    }
    if (rc != 0)
        snprintf(why, sizeof why, "daemon: %s: %s", err.code, err.msg);
    return rc == 0 ? out : NULL;
}

/* The emulator's normalization of the same piece sent raw, as a client could. */
static json_t *emu_norm(piece p, const json_t *in)
{
    static const char *const wrap[] = {
        [P_GEN] = "{\"setup\":{\"model\":\"models/m\",\"generation_config\":%s}}",
        [P_TOOLS] = "{\"setup\":{\"model\":\"models/m\",\"tools\":%s}}",
        [P_CONTENT] = "{\"setup\":{\"model\":\"models/m\",\"system_instruction\":%s}}",
        [P_RESPONSES] = "{\"tool_response\":{\"function_responses\":%s}}",
        [P_DECL] = "{\"setup\":{\"model\":\"models/m\",\"tools\":[{\"function_declarations\":[%s]}]}}",
    };
    static const char *const key[] = {"generationConfig", "tools", "systemInstruction", "functionResponses",
                                      "tools.0.functionDeclarations.0"};
    char *s = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    char msg[8192], reason[256];
    snprintf(msg, sizeof msg, wrap[p], s);
    free(s);
    json_t *body = NULL;
    if (emu_parse_client_msg(msg, strlen(msg), &body, reason, sizeof reason) == EMU_MSG_INVALID) {
        snprintf(why, sizeof why, "emulator: %s", reason);
        return NULL;
    }
    json_t *out = json_incref(jget(body, key[p]));
    json_decref(body);
    return out;
}

typedef enum {
    AGREE,       /* both accept, same result */
    BOTH_REJECT, /* e.g. a typo: the daemon's bad_request, the service's 1007 */
    DAEMON_LAX,  /* KNOWN GAP: the daemon takes what the emulator (like the service) refuses */
    EMU_LAX,     /* KNOWN GAP: the daemon refuses what the emulator takes */
} verdict;

typedef struct probe {
    piece p;
    const char *json;
    verdict v;
} probe;

static const probe PROBES[] = {
    {P_GEN, NULL, AGREE}, /* FULL_GEN_SNAKE */
    {P_GEN, NULL, AGREE}, /* FULL_GEN_CAMEL */
    {P_TOOLS, NULL, AGREE}, /* FULL_TOOLS */
    {P_CONTENT, NULL, AGREE}, /* FULL_CONTENT */
    {P_GEN, "{\"top_p\":0.5,\"topK\":3}", AGREE},      /* mixed spellings */
    {P_GEN, "{\"temperature\":null}", AGREE},          /* proto3 JSON: null = unset */
    {P_TOOLS, "[{\"function_declarations\":[{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}]}]", AGREE},
    {P_RESPONSES, "[{\"id\":\"1\",\"name\":\"f\",\"response\":{\"k_k\":null}}]", AGREE},
    /* A google.protobuf.Value field keeps a null (a JSON null default/example), unlike others */
    {P_TOOLS, "[{\"function_declarations\":[{\"name\":\"f\",\"parameters\":{\"type\":\"STRING\",\"nullable\":true,"
              "\"default\":null,\"example\":null}}]}]", AGREE},
    {P_DECL, "{\"name\":\"lamp\",\"description\":\"d\",\"behavior\":\"BLOCKING\",\"parameters\":{\"type\":\"OBJECT\","
             "\"properties\":{\"on\":{\"type\":\"BOOLEAN\"}},\"required\":[\"on\"]}}", AGREE},
    {P_DECL, "{\"name\":\"lamp\",\"parameters\":{\"type\":\"OBJECT\",\"propertys\":{}}}", BOTH_REJECT},
    {P_GEN, "{\"top_p\":0.5,\"topP\":0.5}", BOTH_REJECT}, /* one field, both spellings */
    /* typos, each rejected by both */
    {P_GEN, "{\"topp\":1}", BOTH_REJECT},
    {P_GEN, "{\"responseModality\":[\"TEXT\"]}", BOTH_REJECT},
    {P_GEN, "{\"thinking_config\":{\"budget\":1}}", BOTH_REJECT},
    {P_GEN, "{\"speech_config\":{\"voice_config\":{\"voice_name\":\"Kore\"}}}", BOTH_REJECT},
    {P_GEN, "{\"stop_sequences\":[\"x\"]}", BOTH_REJECT},       /* not in the Live API */
    {P_GEN, "{\"response_mime_type\":\"application/json\"}", BOTH_REJECT},
    {P_GEN, "{\"temperature\":{}}", BOTH_REJECT},
    {P_GEN, "{\"topK\":1.5}", BOTH_REJECT},
    {P_TOOLS, "[{\"function_declarations\":[{\"name\":\"f\",\"paramters\":{}}]}]", BOTH_REJECT},
    {P_TOOLS, "[{\"functionDeclarations\":[{\"name\":\"f\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":"
              "{\"a\":{\"type\":\"NUMBER\",\"minimun\":1}}}}]}]", BOTH_REJECT},
    {P_TOOLS, "[{\"google_search\":{\"filter\":{}}}]", BOTH_REJECT},
    {P_TOOLS, "[{\"code_execution\":{\"language\":\"PYTHON\"}}]", BOTH_REJECT},
    {P_TOOLS, "[{\"retrieval\":{}}]", BOTH_REJECT},
    {P_CONTENT, "{\"parts\":[{\"text\":\"x\",\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"AAAA\"}}]}",
     BOTH_REJECT}, /* Part.data is a oneof: one of text, inline_data, file_data per part */
    {P_CONTENT, "{\"parts\":[{\"file_data\":{\"file_uri\":\"u\"},\"text\":null}]}", AGREE},
    {P_CONTENT, "{\"parts\":[{\"txt\":\"x\"}]}", BOTH_REJECT},
    {P_CONTENT, "{\"parts\":[{\"text\":\"x\"}],\"rolle\":\"user\"}", BOTH_REJECT},
    {P_RESPONSES, "[{\"id\":\"1\",\"name\":\"f\",\"response\":{},\"will_continu\":true}]", BOTH_REJECT},
    {P_RESPONSES, "[{\"id\":\"1\",\"name\":\"f\",\"response\":\"ok\"}]", BOTH_REJECT},
    /* Known gaps. The daemon checks field names and JSON types, not values: an unknown enum
     * value, bad base64 or an int32 overflow reaches the service, which closes with 1007 (the
     * emulator does too). Enum values are left open on purpose: the service adds values. */
    {P_GEN, "{\"media_resolution\":\"LOW\"}", DAEMON_LAX},
    {P_GEN, "{\"thinking_config\":{\"thinking_level\":\"ULTRA\"}}", DAEMON_LAX},
    {P_GEN, "{\"candidate_count\":3000000000}", DAEMON_LAX},
    {P_TOOLS, "[{\"function_declarations\":[{\"name\":\"f\",\"behavior\":\"ASYNC\"}]}]", DAEMON_LAX},
    {P_TOOLS, "[{\"function_declarations\":[{\"name\":\"f\",\"parameters\":{\"type\":\"DATE\"}}]}]", DAEMON_LAX},
    {P_CONTENT, "{\"parts\":[{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"not base64!\"}}]}", DAEMON_LAX},
    {P_RESPONSES, "[{\"id\":\"1\",\"name\":\"f\",\"response\":{},\"scheduling\":\"LATER\"}]", DAEMON_LAX},
    /* Spellings only the daemon reads (it maps any '_'-separated form to camelCase); harmless:
     * it writes "topP". */
    {P_GEN, "{\"top__p\":0.5,\"max_output_tokens_\":9,\"top_K\":1}", DAEMON_LAX},
    /* The other way: proto3 JSON takes numbers and bools as strings and a lone value for a
     * list; the daemon wants the plain JSON types (a clear local error, never a 1007). */
    {P_GEN, "{\"temperature\":\"0.5\"}", EMU_LAX},
    {P_GEN, "{\"enable_affective_dialog\":\"true\"}", EMU_LAX},
    {P_GEN, "{\"response_modalities\":\"TEXT\"}", EMU_LAX},
    /* Rules of the real API that only the daemon checks (function name syntax; a declaration's
     * name): the strict parser checks fields and types, not these. */
    {P_TOOLS, "[{\"function_declarations\":[{\"name\":\"9lives\"}]}]", EMU_LAX},
    {P_TOOLS, "[{\"function_declarations\":[{\"description\":\"no name\"}]}]", EMU_LAX},
    /* A response without an id answers a call the server sent without one (Vertex). */
    {P_RESPONSES, "[{\"name\":\"f\",\"response\":{}}]", AGREE},
    /* The daemon's Part has text, inlineData and fileData only (what a user can mean). */
    {P_CONTENT, "{\"parts\":[{\"thought\":true,\"text\":\"x\"}]}", EMU_LAX},
};

static const char *const VERDICT[] = {"agree", "both reject", "daemon lax", "emulator lax"};

TEST(user_pieces_normalize_alike)
{
    const char *full[] = {FULL_GEN_SNAKE, FULL_GEN_CAMEL, FULL_TOOLS, FULL_CONTENT};
    static char bad[8192]; /* every probe that went wrong, not just the first */
    size_t nbad = 0;
    bad[0] = '\0';
    for (size_t i = 0; i < sizeof PROBES / sizeof *PROBES; i++) {
        const probe *pr = &PROBES[i];
        json_t *in = J(pr->json ? pr->json : full[i]);
        json_t *d = daemon_norm(pr->p, in);
        char dwhy[sizeof why], ewhy[sizeof why], line[1024];
        snprintf(dwhy, sizeof dwhy, "%s", d ? "accepted" : why);
        json_t *e = emu_norm(pr->p, in);
        snprintf(ewhy, sizeof ewhy, "%s", e ? "accepted" : why);
        verdict got = d && e ? AGREE : !d && !e ? BOTH_REJECT : d ? DAEMON_LAX : EMU_LAX;
        line[0] = '\0';
        if (got != pr->v)
            snprintf(line, sizeof line, " | probe %zu %.300s: expected %s, got %s (daemon: %.200s; emulator: %.200s)",
                     i, pr->json ? pr->json : "(full)", VERDICT[pr->v], VERDICT[got], dwhy, ewhy);
        else if (got == AGREE && !agree(d, e, "piece"))
            snprintf(line, sizeof line, " | probe %zu %.300s: %.600s", i, pr->json ? pr->json : "(full)", why);
        if (line[0]) {
            nbad++;
            strncat(bad, line, sizeof bad - strlen(bad) - 1);
        }
        json_decref(d);
        json_decref(e);
        json_decref(in);
    }
    if (nbad)
        GL_FAILF("%zu probe(s) went wrong:%s", nbad, bad);
}

/* ---- the test can fail --------------------------------------------------------------------- */

/* Replaces the first `from` in s (which must occur) with `to`. Frees s. */
static char *replace(char *s, const char *from, const char *to)
{
    char *at = s ? strstr(s, from) : NULL;
    if (!at) {
        free(s);
        return NULL;
    }
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    free(s);
    return out;
}

static const char *rejected(char *wire)
{
    static char reason[256];
    json_t *body = NULL;
    if (!wire)
        return "(nothing to parse)";
    emu_msg_kind k = emu_parse_client_msg(wire, strlen(wire), &body, reason, sizeof reason);
    free(wire);
    json_decref(body);
    return k == EMU_MSG_INVALID ? reason : "(accepted)";
}

TEST(a_typo_in_the_codec_would_be_caught)
{
    live_setup cfg = {.model = "m", .modality = LIVE_AUDIO, .resumption = true, .compression = true,
                      .output_transcription = true};
    gl_err err;
    CHECK_STR(rejected(replace(live_build_setup(&cfg, &err), "\"responseModalities\"", "\"responseModality\"")),
              "Invalid JSON payload received. Unknown name \"responseModality\" at 'setup.generation_config': "
              "Cannot find field.");
    CHECK_CONTAINS(rejected(replace(live_build_setup(&cfg, &err), "\"outputAudioTranscription\"",
                                    "\"outputTranscription\"")),
                   "Unknown name \"outputTranscription\" at 'setup'");
    CHECK_CONTAINS(rejected(replace(live_build_client_text("hi", true), "turnComplete", "turn_completed")),
                   "Unknown name \"turn_completed\" at 'client_content'");
    CHECK_CONTAINS(rejected(replace(live_build_realtime_audio("AAAA", 0), "mimeType", "mimetype")),
                   "Unknown name \"mimetype\" at 'realtime_input.audio'");
    /* a wrong JSON type: audioStreamEnd is a bool */
    CHECK_CONTAINS(rejected(replace(live_build_audio_stream_end(), "true", "{}")),
                   "Starting an object on a scalar field");
    json_t *rs = J("[{\"id\":\"1\",\"name\":\"f\",\"response\":{}}]");
    CHECK_CONTAINS(rejected(replace(live_build_tool_response(rs, &err), "functionResponses", "functionResponse")),
                   "Unknown name \"functionResponse\" at 'tool_response'");
    json_decref(rs);
    /* and the comparison itself can fail */
    json_t *a = J("{\"x\":{\"y\":[1,\"2\"]}}"), *b = J("{\"x\":{\"y\":[1,3]}}");
    CHECK(!agree(a, b, "t"));
    CHECK_STR(why, "t.x.y[1]: daemon \"2\", emulator 3");
    json_decref(a);
    json_decref(b);
}
