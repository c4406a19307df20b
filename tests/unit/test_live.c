#include "proto/live.h"
#include "proto/line.h"
#include "tests/unit/testlib.h"

/* ---- helpers ----------------------------------------------------------------------------- */

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

/* Each event appended as one token, space-separated, e.g. "TEXT(Hello) TURN_COMPLETE(-,-)". */
typedef struct rec {
    char s[4096];
    int n;
    int stop_after; /* 0 = never */
    size_t last_len; /* text_len of the last TEXT event */
} rec;

static void put(rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(rec *r, const char *fmt, ...)
{
    size_t used = strlen(r->s);
    if (used && used + 1 < sizeof r->s)
        r->s[used++] = ' ', r->s[used] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->s + used, sizeof r->s - used, fmt, ap);
    va_end(ap);
}

static char *dump(const json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : strdup("-");
}

static int on_event(const live_event *ev, void *ud)
{
    rec *r = ud;
    char *j = dump(ev->json);
    const char *k = live_event_kind_name(ev->kind);
    switch (ev->kind) {
    case LIVE_EV_TEXT:
        put(r, "%s%s(%.*s)", k, ev->thought ? "*" : "", (int)ev->text_len, ev->text);
        r->last_len = ev->text_len;
        break;
    case LIVE_EV_AUDIO:
        put(r, "%s(%s,%s)", k, ev->mime ? ev->mime : "-", ev->data);
        break;
    case LIVE_EV_EXECUTABLE_CODE:
        put(r, "%s(%s,%s)", k, ev->language ? ev->language : "-", ev->code);
        break;
    case LIVE_EV_CODE_RESULT:
        put(r, "%s(%s,%s)", k, ev->outcome ? ev->outcome : "-", ev->output ? ev->output : "-");
        break;
    case LIVE_EV_INPUT_TRANSCRIPTION:
    case LIVE_EV_OUTPUT_TRANSCRIPTION:
        put(r, "%s(%s%s%s)", k, ev->text, ev->finished ? ",fin" : "", ev->interim ? ",interim" : "");
        break;
    case LIVE_EV_TURN_COMPLETE:
        put(r, "%s(%s,%s%s)", k, j, ev->reason ? ev->reason : "-", ev->waiting_for_input ? ",waiting" : "");
        break;
    case LIVE_EV_SETUP_COMPLETE:
        put(r, "%s%s%s", k, ev->session_id ? ":" : "", ev->session_id ? ev->session_id : "");
        break;
    case LIVE_EV_VOICE_ACTIVITY:
        put(r, "%s(%s)", k, ev->activity);
        break;
    case LIVE_EV_TOOL_CALL:
        put(r, "%s(%s,%s,%s,%zu/%zu)", k, ev->call_id ? ev->call_id : "-", ev->name, j, ev->index,
            ev->count);
        break;
    case LIVE_EV_GROUNDING:
    case LIVE_EV_TOOL_CALL_CANCELLATION:
    case LIVE_EV_USAGE:
        put(r, "%s(%s)", k, j);
        break;
    case LIVE_EV_GO_AWAY:
        put(r, "%s(%lld)", k, ev->time_left_ms);
        break;
    case LIVE_EV_RESUMPTION_UPDATE:
        put(r, "%s(%s,%s)", k, ev->new_handle ? ev->new_handle : "-", ev->resumable ? "yes" : "no");
        break;
    case LIVE_EV_UNKNOWN:
        put(r, "%s(%s)", k, ev->name);
        break;
    default:
        put(r, "%s", k);
    }
    free(j);
    r->n++;
    return r->stop_after && r->n >= r->stop_after;
}

/* Parses one server message into r (appending). */
static int parse(rec *r, const char *msg, gl_err *e)
{
    return live_parse_server(msg, strlen(msg), on_event, r, e);
}

static char *setup_of(const live_setup *cfg)
{
    gl_err e;
    char *s = live_build_setup(cfg, &e);
    if (!s)
        printf("  (setup error: %s: %s)\n", e.code, e.msg);
    return s;
}

/* ---- names and durations ----------------------------------------------------------------- */

TEST(snake_to_camel)
{
    char b[64];
    live_snake_to_camel("function_declarations", b, sizeof b);
    CHECK_STR(b, "functionDeclarations");
    live_snake_to_camel("functionDeclarations", b, sizeof b);
    CHECK_STR(b, "functionDeclarations");
    live_snake_to_camel("response_modalities", b, sizeof b);
    CHECK_STR(b, "responseModalities");
    live_snake_to_camel("top_k", b, sizeof b);
    CHECK_STR(b, "topK");
    live_snake_to_camel("a_1_b", b, sizeof b);
    CHECK_STR(b, "a1B");
    CHECK_INT(live_snake_to_camel("google_search_retrieval", b, 8), 21); /* needed length */
    CHECK_STR(b, "googleS");
    char *c = live_camel("input_audio_transcription");
    CHECK_STR(c, "inputAudioTranscription");
    free(c);
    json_t *in = J("{\"a_b\":[{\"c_d\":1}],\"e\":{\"f_g\":\"h_i\"}}");
    json_t *out = live_json_camel_keys(in);
    char *s = json_dumps(out, JSON_COMPACT);
    CHECK_STR(s, "{\"aB\":[{\"cD\":1}],\"e\":{\"fG\":\"h_i\"}}");
    free(s);
    json_decref(in);
    json_decref(out);
}

TEST(duration_parse)
{
    CHECK_INT(live_parse_duration_ms("50s"), 50000);
    CHECK_INT(live_parse_duration_ms("1.5s"), 1500);
    CHECK_INT(live_parse_duration_ms("0s"), 0);
    CHECK_INT(live_parse_duration_ms("0.000000001s"), 0);
    CHECK_INT(live_parse_duration_ms("2.123456s"), 2123);
    CHECK_INT(live_parse_duration_ms("59.9s"), 59900);
    CHECK_INT(live_parse_duration_ms(NULL), -1);
    CHECK_INT(live_parse_duration_ms(""), -1);
    CHECK_INT(live_parse_duration_ms("50"), -1);
    CHECK_INT(live_parse_duration_ms("50ms"), -1);
    CHECK_INT(live_parse_duration_ms("-5s"), -1);
    CHECK_INT(live_parse_duration_ms("1.s"), -1);
    CHECK_INT(live_parse_duration_ms("s"), -1);
    CHECK_INT(live_parse_duration_ms("9999999999999999s"), -1);
}

TEST(modality_helpers)
{
    live_modality m = LIVE_TEXT;
    gl_err e;
    CHECK_INT(live_modality_parse("audio", &m, "modality", &e), 0);
    CHECK_INT(m, LIVE_AUDIO);
    CHECK_INT(live_modality_parse("VIDEO", &m, "modality", &e), -1);
    CHECK_STR(e.msg, "modality must be \"TEXT\" or \"AUDIO\"");
    json_t *gc = J("{\"response_modalities\":[\"TEXT\"]}");
    m = LIVE_AUDIO;
    CHECK_INT(live_config_modality(gc, &m, &e), 1);
    CHECK_INT(m, LIVE_TEXT);
    json_decref(gc);
    gc = J("{\"temperature\":1}");
    CHECK_INT(live_config_modality(gc, &m, &e), 0);
    json_decref(gc);
    CHECK_INT(live_config_modality(NULL, &m, &e), 0);
}

/* ---- setup ------------------------------------------------------------------------------- */

TEST(setup_minimal_always_states_modality)
{
    live_setup cfg = {.model = "gemini-live-2.5-flash-preview"};
    char *s = setup_of(&cfg);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/gemini-live-2.5-flash-preview\","
                 "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]}}}");
    free(s);
    cfg.model = "models/gemini-2.5-flash-native-audio-latest";
    cfg.modality = LIVE_AUDIO;
    s = setup_of(&cfg);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/gemini-2.5-flash-native-audio-latest\","
                 "\"generationConfig\":{\"responseModalities\":[\"AUDIO\"]}}}");
    free(s);
}

TEST(setup_missing_model)
{
    gl_err e;
    live_setup cfg = {.model = ""};
    CHECK(live_build_setup(&cfg, &e) == NULL);
    CHECK_STR(e.code, "bad_request");
    CHECK_STR(e.msg, "missing model");
}

TEST(setup_seed_lights_snake_tools)
{
    /* Seed scenario 2, tools as the notebook writes them (snake_case, names only). */
    json_t *tools = J("[{\"function_declarations\":[{\"name\":\"turn_on_the_lights\"},"
                      "{\"name\":\"turn_off_the_lights\"}]}]");
    live_setup cfg = {.model = "gemini-2.0-flash-live-001", .tools = tools};
    char *s = setup_of(&cfg);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/gemini-2.0-flash-live-001\","
                 "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},"
                 "\"tools\":[{\"functionDeclarations\":[{\"name\":\"turn_on_the_lights\"},"
                 "{\"name\":\"turn_off_the_lights\"}]}]}}");
    free(s);
    json_decref(tools);
}

TEST(setup_full_config)
{
    json_t *gc = J("{\"temperature\":0.5,\"response_modalities\":[\"TEXT\"],"
                   "\"speech_config\":{\"voice_config\":{\"prebuilt_voice_config\":{\"voice_name\":\"Kore\"}},"
                   "\"language_code\":\"en-US\"},\"max_output_tokens\":256}");
    json_t *tools = J(
        "[{\"code_execution\":{}},{\"google_search\":{}},"
        "{\"functionDeclarations\":[{\"name\":\"set_light\",\"description\":\"Sets a light\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"room_name\":{\"type\":\"string\","
        "\"enum\":[\"living_room\",\"bed_room\"]},\"brightness_pct\":{\"type\":\"integer\","
        "\"max_length\":3,\"default\":{\"some_key\":1}}},\"required\":[\"room_name\"],"
        "\"property_ordering\":[\"room_name\",\"brightness_pct\"]},\"behavior\":\"NON_BLOCKING\"}]}]");
    json_t *si = json_string("You are a lighting assistant.");
    live_setup cfg = {
        .model = "gemini-2.5-flash-native-audio-latest",
        .modality = LIVE_AUDIO, /* wins over the user's response_modalities */
        .generation_config = gc,
        .system_instruction = si,
        .tools = tools,
        .resumption = true,
        .resume_handle = "h-123",
        .compression = true,
        .compression_trigger_tokens = 25600,
        .compression_target_tokens = 12800,
        .input_transcription = true,
        .output_transcription = true,
    };
    char *s = setup_of(&cfg);
    CHECK_STR(s,
              "{\"setup\":{\"model\":\"models/gemini-2.5-flash-native-audio-latest\","
              "\"generationConfig\":{\"responseModalities\":[\"AUDIO\"],\"temperature\":0.5,"
              "\"speechConfig\":{\"voiceConfig\":{\"prebuiltVoiceConfig\":{\"voiceName\":\"Kore\"}},"
              "\"languageCode\":\"en-US\"},\"maxOutputTokens\":256},"
              "\"systemInstruction\":{\"parts\":[{\"text\":\"You are a lighting assistant.\"}]},"
              "\"tools\":[{\"codeExecution\":{}},{\"googleSearch\":{}},"
              "{\"functionDeclarations\":[{\"name\":\"set_light\",\"description\":\"Sets a light\","
              "\"parameters\":{\"type\":\"object\",\"properties\":{\"room_name\":{\"type\":\"string\","
              "\"enum\":[\"living_room\",\"bed_room\"]},\"brightness_pct\":{\"type\":\"integer\","
              "\"maxLength\":3,\"default\":{\"some_key\":1}}},\"required\":[\"room_name\"],"
              "\"propertyOrdering\":[\"room_name\",\"brightness_pct\"]},\"behavior\":\"NON_BLOCKING\"}]}],"
              "\"sessionResumption\":{\"handle\":\"h-123\"},"
              "\"contextWindowCompression\":{\"triggerTokens\":\"25600\","
              "\"slidingWindow\":{\"targetTokens\":\"12800\"}},"
              "\"inputAudioTranscription\":{},\"outputAudioTranscription\":{}}}");
    free(s);
    json_decref(gc);
    json_decref(tools);
    json_decref(si);
}

TEST(setup_resumption_compression_plain)
{
    live_setup cfg = {.model = "m", .resumption = true, .compression = true,
                      .manual_activity = true};
    char *s = setup_of(&cfg);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/m\","
                 "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},"
                 "\"realtimeInputConfig\":{\"automaticActivityDetection\":{\"disabled\":true}},"
                 "\"sessionResumption\":{},\"contextWindowCompression\":{\"slidingWindow\":{}}}}");
    free(s);
    cfg.resume_handle = ""; /* empty handle = new session */
    cfg.manual_activity = false;
    cfg.compression = false;
    s = setup_of(&cfg);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/m\","
                 "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},\"sessionResumption\":{}}}");
    free(s);
}

TEST(setup_system_instruction_content_and_free_forms)
{
    json_t *si = J("{\"role\":\"system\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]}");
    /* parametersJsonSchema is free-form JSON Schema: kept exactly, snake keys included. */
    json_t *tools = J("[{\"function_declarations\":[{\"name\":\"f\",\"parameters_json_schema\":"
                      "{\"type\":\"object\",\"additionalProperties\":false,\"x_y\":1}}]},"
                      "{\"url_context\":{}}]");
    live_setup cfg = {.model = "m", .system_instruction = si, .tools = tools};
    char *s = setup_of(&cfg);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/m\","
                 "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]},"
                 "\"systemInstruction\":{\"role\":\"system\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"}]},"
                 "\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\",\"parametersJsonSchema\":"
                 "{\"type\":\"object\",\"additionalProperties\":false,\"x_y\":1}}]},"
                 "{\"urlContext\":{}}]}}");
    free(s);
    json_decref(si);
    json_decref(tools);
    /* An empty tools array is left out. */
    tools = J("[]");
    live_setup c2 = {.model = "m", .tools = tools};
    s = setup_of(&c2);
    CHECK_STR(s, "{\"setup\":{\"model\":\"models/m\","
                 "\"generationConfig\":{\"responseModalities\":[\"TEXT\"]}}}");
    free(s);
    json_decref(tools);
}

/* Each bad piece gives bad_request naming the path as the user wrote it. */
TEST(setup_rejects_unknown_fields_and_bad_types)
{
    struct { const char *gc, *tools, *si, *msg; } cases[] = {
        {"{\"temprature\":1}", NULL, NULL, "unknown field \"generation_config.temprature\""},
        {"{\"response_mime_type\":\"application/json\"}", NULL, NULL,
         "unknown field \"generation_config.response_mime_type\""},
        {"{\"temperature\":\"hot\"}", NULL, NULL, "field \"generation_config.temperature\" must be a number"},
        {"{\"top_k\":1.5}", NULL, NULL, "field \"generation_config.top_k\" must be an integer"},
        {"{\"speech_config\":{\"voice\":\"Kore\"}}", NULL, NULL,
         "unknown field \"generation_config.speech_config.voice\""},
        {"{\"top_p\":1,\"topP\":0.5}", NULL, NULL,
         "field \"generation_config.topP\" given twice (snake_case and camelCase)"},
        {"[1]", NULL, NULL, "field \"generation_config\" must be an object"},
        {NULL, "{\"function_declarations\":[]}", NULL, "field \"tools\" must be an array"},
        {NULL, "[{\"function_declarationz\":[]}]", NULL, "unknown field \"tools[0].function_declarationz\""},
        {NULL, "[{\"google_search\":{}},{\"function_declarations\":[{\"name\":\"f\",\"parameters\":"
               "{\"type\":\"object\",\"properties\":{\"a_b\":{\"type\":\"string\",\"additionalProperties\":false}}}}]}]",
         NULL, "unknown field \"tools[1].function_declarations[0].parameters.properties.a_b.additionalProperties\""},
        {NULL, "[{\"function_declarations\":[{\"name\":\"f\",\"parameters\":\"object\"}]}]", NULL,
         "field \"tools[0].function_declarations[0].parameters\" must be an object"},
        {NULL, "[{\"function_declarations\":[{\"description\":\"no name\"}]}]", NULL,
         "missing field \"tools[0].function_declarations[0].name\""},
        {NULL, "[{\"function_declarations\":[{\"name\":\"1up\"}]}]", NULL,
         "tools[0].function_declarations[0].name: function name must start with a letter or '_'"},
        {NULL, "[{\"function_declarations\":[{\"name\":\"f\"}]},{\"function_declarations\":[{\"name\":\"f\"}]}]",
         NULL, "function \"f\" declared twice"},
        {NULL, "[{\"code_execution\":{\"x\":1}}]", NULL, "unknown field \"tools[0].code_execution.x\""},
        {NULL, "[{\"function_declarations\":[{\"name\":\"f\",\"parameters\":{\"required\":[1]}}]}]", NULL,
         "field \"tools[0].function_declarations[0].parameters.required[0]\" must be a string"},
        {NULL, NULL, "5", "field \"system_instruction\" must be a string or a Content object"},
        {NULL, NULL, "{\"parts\":[{\"txt\":\"a\"}]}", "unknown field \"system_instruction.parts[0].txt\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *gc = cases[i].gc ? J(cases[i].gc) : NULL;
        json_t *tools = cases[i].tools ? J(cases[i].tools) : NULL;
        json_t *si = cases[i].si ? J(cases[i].si) : NULL;
        live_setup cfg = {.model = "m", .generation_config = gc, .tools = tools, .system_instruction = si};
        gl_err e = {{0}, {0}};
        char *s = live_build_setup(&cfg, &e);
        json_decref(gc);
        json_decref(tools);
        json_decref(si);
        if (s)
            printf("  case %zu unexpectedly accepted: %s\n", i, s);
        free(s);
        CHECK(s == NULL);
        CHECK_STR(e.code, "bad_request");
        CHECK_STR(e.msg, cases[i].msg);
    }
}

TEST(function_decl_normalizer)
{
    gl_err e;
    json_t *in = J("{\"name\":\"lights.set:v2\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":"
                   "{\"on\":{\"type\":\"BOOLEAN\",\"nullable\":true}},\"any_of\":[{\"type\":\"STRING\","
                   "\"min_length\":1}]},\"response\":{\"type\":\"OBJECT\"}}");
    json_t *out = NULL;
    CHECK_INT(live_normalize_function_decl(in, "declaration", &out, &e), 0);
    char *s = json_dumps(out, JSON_COMPACT);
    CHECK_STR(s, "{\"name\":\"lights.set:v2\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":"
                 "{\"on\":{\"type\":\"BOOLEAN\",\"nullable\":true}},\"anyOf\":[{\"type\":\"STRING\","
                 "\"minLength\":1}]},\"response\":{\"type\":\"OBJECT\"}}");
    free(s);
    json_decref(out);
    json_decref(in);

    in = J("{\"description\":\"x\"}");
    CHECK_INT(live_normalize_function_decl(in, "declaration", &out, &e), -1);
    CHECK_STR(e.msg, "missing field \"declaration.name\"");
    CHECK(out == NULL);
    json_decref(in);

    CHECK(live_function_name_ok("_private-fn", &e));
    CHECK(!live_function_name_ok("has space", &e));
    CHECK_STR(e.msg, "invalid character ' ' in function name (allowed: A-Z a-z 0-9 _ . : -)");
    char longname[70];
    memset(longname, 'a', 65);
    longname[65] = '\0';
    CHECK(!live_function_name_ok(longname, &e));
    CHECK_STR(e.msg, "function name is longer than 64 characters");
}

/* ---- other client messages --------------------------------------------------------------- */

TEST(client_text_and_realtime)
{
    char *s = live_build_client_text("Turn on the lights", true);
    CHECK_STR(s, "{\"clientContent\":{\"turns\":[{\"role\":\"user\",\"parts\":[{\"text\":"
                 "\"Turn on the lights\"}]}],\"turnComplete\":true}}");
    free(s);
    s = live_build_client_text("say \"hi\"\n", false);
    CHECK_STR(s, "{\"clientContent\":{\"turns\":[{\"role\":\"user\",\"parts\":[{\"text\":"
                 "\"say \\\"hi\\\"\\n\"}]}],\"turnComplete\":false}}");
    free(s);
    s = live_build_realtime_text("Hello?");
    CHECK_STR(s, "{\"realtimeInput\":{\"text\":\"Hello?\"}}");
    free(s);
    s = live_build_realtime_audio("AAAA", 0);
    CHECK_STR(s, "{\"realtimeInput\":{\"audio\":{\"data\":\"AAAA\",\"mimeType\":\"audio/pcm;rate=16000\"}}}");
    free(s);
    s = live_build_realtime_audio("AQID", 24000);
    CHECK_STR(s, "{\"realtimeInput\":{\"audio\":{\"data\":\"AQID\",\"mimeType\":\"audio/pcm;rate=24000\"}}}");
    free(s);
    s = live_build_activity_start();
    CHECK_STR(s, "{\"realtimeInput\":{\"activityStart\":{}}}");
    free(s);
    s = live_build_activity_end();
    CHECK_STR(s, "{\"realtimeInput\":{\"activityEnd\":{}}}");
    free(s);
    s = live_build_audio_stream_end();
    CHECK_STR(s, "{\"realtimeInput\":{\"audioStreamEnd\":true}}");
    free(s);
}

TEST(tool_response_build)
{
    gl_err e;
    /* Seed scenario 2's answer; response is free-form (snake keys kept). */
    json_t *r = J("[{\"id\":\"function-call-1\",\"name\":\"turn_on_the_lights\","
                  "\"response\":{\"result\":{\"string_value\":\"ok\"}}},"
                  "{\"id\":\"function-call-2\",\"name\":\"f\",\"response\":{},\"will_continue\":false}]");
    char *s = live_build_tool_response(r, &e);
    CHECK_STR(s, "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"function-call-1\","
                 "\"name\":\"turn_on_the_lights\",\"response\":{\"result\":{\"string_value\":\"ok\"}}},"
                 "{\"id\":\"function-call-2\",\"name\":\"f\",\"response\":{},\"willContinue\":false}]}}");
    free(s);
    json_decref(r);

    /* an id-less call (recorded on Vertex) is answered by name alone */
    r = J("[{\"name\":\"f\",\"response\":{}}]");
    s = live_build_tool_response(r, &e);
    CHECK_STR(s, "{\"toolResponse\":{\"functionResponses\":[{\"name\":\"f\",\"response\":{}}]}}");
    free(s);
    json_decref(r);

    struct { const char *in, *msg; } bad[] = {
        {"{}", "field \"function_responses\" must be an array"},
        {"[{\"id\":\"1\",\"name\":\"f\"}]", "missing field \"function_responses[0].response\""},
        {"[{\"id\":\"1\",\"response\":{}}]", "missing field \"function_responses[0].name\""},
        {"[{\"id\":\"1\",\"name\":\"f\",\"response\":\"ok\"}]",
         "field \"function_responses[0].response\" must be an object"},
        {"[{\"id\":\"1\",\"name\":\"f\",\"response\":{},\"error\":\"x\"}]",
         "unknown field \"function_responses[0].error\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = J(bad[i].in);
        s = live_build_tool_response(r, &e);
        json_decref(r);
        free(s);
        CHECK(s == NULL);
        CHECK_STR(e.code, "bad_request");
        CHECK_STR(e.msg, bad[i].msg);
    }
}

/* ---- server messages --------------------------------------------------------------------- */

TEST(server_recorded_text_turn)
{
    /* The recorded real session (pretty-printed, as the server sends it). */
    const char *msgs[] = {
        "{\n  \"setupComplete\": {}\n}\n",
        "{\n  \"serverContent\": {\n    \"modelTurn\": {\n      \"parts\": [\n        {\n"
        "          \"text\": \"Hello\"\n        }\n      ]\n    }\n  }\n}\n",
        "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"! How can I help you today?\"}]}}}",
        "{\"serverContent\":{\"generationComplete\":true}}",
        "{\"serverContent\":{\"turnComplete\":true},\"usageMetadata\":{\"promptTokenCount\":9,"
        "\"responseTokenCount\":10,\"totalTokenCount\":19,\"promptTokensDetails\":[{\"modality\":\"TEXT\","
        "\"tokenCount\":9}],\"responseTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":10}]}}",
    };
    rec r = {0};
    gl_err e;
    for (size_t i = 0; i < sizeof msgs / sizeof *msgs; i++)
        CHECK_INT(parse(&r, msgs[i], &e), 0);
    CHECK_STR(r.s, "SETUP_COMPLETE TEXT(Hello) TEXT(! How can I help you today?) GENERATION_COMPLETE "
                   "TURN_COMPLETE({\"promptTokenCount\":9,\"responseTokenCount\":10,\"totalTokenCount\":19,"
                   "\"promptTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":9}],"
                   "\"responseTokensDetails\":[{\"modality\":\"TEXT\",\"tokenCount\":10}]},-)");
}

TEST(server_tool_call_parallel)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"toolCall\":{\"functionCalls\":["
                        "{\"id\":\"function-call-5831923424298605773\",\"name\":\"turn_on_the_lights\",\"args\":{}},"
                        "{\"id\":\"function-call-2\",\"name\":\"set\",\"args\":{\"room_name\":\"k\",\"n\":[1]}}]}}",
                    &e),
              0);
    CHECK_STR(r.s, "TOOL_CALL(function-call-5831923424298605773,turn_on_the_lights,{},0/2) "
                   "TOOL_CALL(function-call-2,set,{\"room_name\":\"k\",\"n\":[1]},1/2)");
    /* args absent -> {}; id absent -> NULL */
    rec r2 = {0};
    CHECK_INT(parse(&r2, "{\"toolCall\":{\"functionCalls\":[{\"name\":\"f\"}]}}", &e), 0);
    CHECK_STR(r2.s, "TOOL_CALL(-,f,{},0/1)");
    rec r3 = {0};
    CHECK_INT(parse(&r3, "{\"toolCallCancellation\":{\"ids\":[\"function-call-2\",\"x\"]}}", &e), 0);
    CHECK_INT(parse(&r3, "{\"toolCallCancellation\":{}}", &e), 0);
    CHECK_STR(r3.s, "TOOL_CALL_CANCELLATION([\"function-call-2\",\"x\"]) TOOL_CALL_CANCELLATION([])");
}

TEST(server_snake_case_input)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"setup_complete\":{}}", &e), 0);
    CHECK_INT(parse(&r, "{\"server_content\":{\"model_turn\":{\"parts\":[{\"inline_data\":"
                        "{\"mime_type\":\"audio/pcm;rate=24000\",\"data\":\"AAEC\"}}]}}}", &e), 0);
    CHECK_INT(parse(&r, "{\"tool_call\":{\"function_calls\":[{\"id\":\"c1\",\"name\":\"f\",\"args\":{\"a_b\":1}}]}}",
                    &e), 0);
    CHECK_INT(parse(&r, "{\"server_content\":{\"output_transcription\":{\"text\":\"hi\"},"
                        "\"generation_complete\":true,\"turn_complete\":true,\"turn_complete_reason\":\"NEED_MORE_INPUT\"},"
                        "\"usage_metadata\":{\"total_token_count\":3}}", &e), 0);
    CHECK_INT(parse(&r, "{\"go_away\":{\"time_left\":\"1.5s\"}}", &e), 0);
    CHECK_INT(parse(&r, "{\"session_resumption_update\":{\"new_handle\":\"h\",\"resumable\":true}}", &e), 0);
    CHECK_STR(r.s, "SETUP_COMPLETE AUDIO(audio/pcm;rate=24000,AAEC) TOOL_CALL(c1,f,{\"a_b\":1},0/1) "
                   "OUTPUT_TRANSCRIPTION(hi) GENERATION_COMPLETE "
                   "TURN_COMPLETE({\"total_token_count\":3},NEED_MORE_INPUT) GO_AWAY(1500) "
                   "RESUMPTION_UPDATE(h,yes)");
}

TEST(server_go_away)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":\"50s\"}}", &e), 0);
    CHECK_INT(parse(&r, "{\"goAway\":{}}", &e), 0);
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":\"soon\"}}", &e), 0);
    CHECK_STR(r.s, "GO_AWAY(50000) GO_AWAY(-1) GO_AWAY(-1)");
}

/* Seen while writing fuzz/fuzz_live.c, which reproduces it: a numeric timeLeft too large for
 * long long milliseconds was converted anyway (undefined behaviour; UBSan: "1e+303 is outside
 * the range of representable values of type 'long long'"). Now it is unparseable, like a string
 * of more than 15 digits. */
TEST(server_go_away_numeric_time_left)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":1.5}}", &e), 0);
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":999999999999}}", &e), 0);
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":1e300}}", &e), 0);
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":1e15}}", &e), 0);
    CHECK_INT(parse(&r, "{\"goAway\":{\"timeLeft\":-2}}", &e), 0);
    CHECK_STR(r.s, "GO_AWAY(1500) GO_AWAY(999999999999000) GO_AWAY(-1) GO_AWAY(-1) GO_AWAY(-1)");
}

TEST(server_resumption_update)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"sessionResumptionUpdate\":{\"newHandle\":\"CiQ5\",\"resumable\":true}}", &e), 0);
    CHECK_INT(parse(&r, "{\"sessionResumptionUpdate\":{\"newHandle\":\"\",\"resumable\":false}}", &e), 0);
    CHECK_INT(parse(&r, "{\"sessionResumptionUpdate\":{\"newHandle\":\"h2\"}}", &e), 0);
    CHECK_INT(parse(&r, "{\"sessionResumptionUpdate\":{}}", &e), 0);
    CHECK_STR(r.s, "RESUMPTION_UPDATE(CiQ5,yes) RESUMPTION_UPDATE(,no) RESUMPTION_UPDATE(h2,no) "
                   "RESUMPTION_UPDATE(-,no)");
}

TEST(server_usage_rides_or_stands_alone)
{
    rec r = {0};
    gl_err e;
    /* usage before serverContent in key order still rides on TURN_COMPLETE */
    CHECK_INT(parse(&r, "{\"usageMetadata\":{\"totalTokenCount\":5},\"serverContent\":{\"turnComplete\":true}}",
                    &e), 0);
    CHECK_STR(r.s, "TURN_COMPLETE({\"totalTokenCount\":5},-)");
    rec r2 = {0};
    CHECK_INT(parse(&r2, "{\"usageMetadata\":{\"totalTokenCount\":7}}", &e), 0);
    CHECK_INT(parse(&r2, "{\"serverContent\":{\"generationComplete\":true},\"usageMetadata\":{\"totalTokenCount\":8}}",
                    &e), 0);
    CHECK_INT(parse(&r2, "{\"serverContent\":{\"turnComplete\":true}}", &e), 0);
    CHECK_INT(parse(&r2, "{\"serverContent\":{\"turnComplete\":false}}", &e), 0);
    CHECK_STR(r2.s, "USAGE({\"totalTokenCount\":7}) GENERATION_COMPLETE USAGE({\"totalTokenCount\":8}) "
                    "TURN_COMPLETE(-,-)");
}

TEST(server_content_event_order)
{
    /* A 3.1-style bundle: fields listed in scrambled order; events in the documented order. */
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"serverContent\":{\"turnComplete\":true,\"generationComplete\":true,"
                        "\"groundingMetadata\":{\"webSearchQueries\":[\"q\"]},"
                        "\"outputTranscription\":{\"text\":\"out\",\"finished\":true},"
                        "\"inputTranscription\":{\"text\":\"in\"},"
                        "\"modelTurn\":{\"role\":\"model\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"},"
                        "{\"text\":\"hmm\",\"thought\":true},{\"inlineData\":{\"mimeType\":\"audio/pcm;rate=24000\","
                        "\"data\":\"AA==\"}}]},\"interrupted\":true,\"waitingForInput\":true}}", &e), 0);
    CHECK_STR(r.s, "TEXT(a) TEXT(b) TEXT*(hmm) AUDIO(audio/pcm;rate=24000,AA==) INPUT_TRANSCRIPTION(in) "
                   "OUTPUT_TRANSCRIPTION(out,fin) GROUNDING({\"webSearchQueries\":[\"q\"]}) INTERRUPTED "
                   "GENERATION_COMPLETE TURN_COMPLETE(-,-,waiting)");
}

TEST(server_code_execution_parts)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"executableCode\":"
                        "{\"language\":\"PYTHON\",\"code\":\"print(98689)\"}}]}}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"codeExecutionResult\":"
                        "{\"outcome\":\"OUTCOME_OK\",\"output\":\"98689\\n\"}}]}}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"codeExecutionResult\":"
                        "{\"outcome\":\"OUTCOME_FAILED\"}}]}}}", &e), 0);
    CHECK_STR(r.s, "EXECUTABLE_CODE(PYTHON,print(98689)) CODE_RESULT(OUTCOME_OK,98689\n) "
                   "CODE_RESULT(OUTCOME_FAILED,-)");
}

TEST(server_interrupted_turn)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Once upon\"}]}}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"interrupted\":true}}", &e), 0);
    CHECK_INT(parse(&r, "{\"toolCallCancellation\":{\"ids\":[\"c9\"]}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"turnComplete\":true}}", &e), 0);
    CHECK_STR(r.s, "TEXT(Once upon) INTERRUPTED TOOL_CALL_CANCELLATION([\"c9\"]) TURN_COMPLETE(-,-)");
}

TEST(server_unknown_fields_are_not_errors)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"setupComplete\":{\"sessionId\":\"abc\",\"voiceConsentSignature\":\"x\"}}", &e), 0);
    CHECK_INT(parse(&r, "{\"voiceActivity\":{\"type\":\"START\"},\"serverContent\":{\"turnComplete\":true}}", &e), 0);
    CHECK_INT(parse(&r, "{}", &e), 0);
    /* unknown part kinds and wrongly typed known fields are skipped */
    CHECK_INT(parse(&r, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"fileData\":{}},{\"text\":5},"
                        "{\"text\":\"ok\"}]},\"turnComplete\":\"yes\"}}", &e), 0);
    CHECK_STR(r.s, "SETUP_COMPLETE:abc VOICE_ACTIVITY() TURN_COMPLETE(-,-) TEXT(ok)");
}

/* Shapes recorded from today's service (issue 8): Vertex's sessionId, interim input
 * transcriptions, waitingForInput on a turn completion, voice activity. */
TEST(server_real_shapes_of_today)
{
    rec r = {0};
    gl_err e;
    CHECK_INT(parse(&r, "{\"setupComplete\":{\"sessionId\":\"s-123\"}}", &e), 0);
    CHECK_INT(parse(&r, "{\"voiceActivity\":{\"voiceActivityType\":\"ACTIVITY_START\"}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"interimInputTranscription\":{\"text\":\"turn on\"}}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"inputTranscription\":{\"text\":\"turn on the\",\"finished\":true}}}", &e), 0);
    CHECK_INT(parse(&r, "{\"serverContent\":{\"turnComplete\":true,\"waitingForInput\":true}}", &e), 0);
    CHECK_INT(parse(&r, "{\"toolCall\":{\"functionCalls\":[{\"name\":\"f\",\"args\":{}}]}}", &e), 0);
    CHECK_STR(r.s, "SETUP_COMPLETE:s-123 VOICE_ACTIVITY(ACTIVITY_START) INPUT_TRANSCRIPTION(turn on,interim) "
                   "INPUT_TRANSCRIPTION(turn on the,fin) TURN_COMPLETE(-,-,waiting) TOOL_CALL(-,f,{},0/1)");
}

TEST(server_garbage_is_bad_server_json)
{
    struct { const char *in, *msg; } bad[] = {
        {"not json", "invalid JSON from server at column 3: invalid token near 'not'"},
        {"{\"serverContent\":", NULL},
        {"[1,2]", "server message is not a JSON object"},
        {"\"text\"", "server message is not a JSON object"},
        {"42", "server message is not a JSON object"},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rec r = {0};
        gl_err e;
        CHECK_INT(parse(&r, bad[i].in, &e), -1);
        CHECK_STR(e.code, "bad_server_json");
        if (bad[i].msg)
            CHECK_STR(e.msg, bad[i].msg);
        CHECK_INT(r.n, 0);
    }
    /* binary junk, NUL inside */
    rec r = {0};
    gl_err e;
    CHECK_INT(live_parse_server("\x00\x01\xff", 3, on_event, &r, &e), -1);
    CHECK_STR(e.code, "bad_server_json");
    /* NUL inside a text string is kept, with its length */
    const char msg[] = "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\\u0000b\"}]}}}";
    CHECK_INT(live_parse_server(msg, sizeof msg - 1, on_event, &r, &e), 0);
    CHECK_INT(r.n, 1);
    CHECK_INT(r.last_len, 3);
}

TEST(server_callback_can_stop)
{
    rec r = {.stop_after = 2};
    gl_err e;
    CHECK_INT(parse(&r, "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"1\"},{\"text\":\"2\"},"
                        "{\"text\":\"3\"}]},\"turnComplete\":true},\"goAway\":{\"timeLeft\":\"1s\"}}", &e), 0);
    CHECK_STR(r.s, "TEXT(1) TEXT(2)");
}

TEST(event_kind_names)
{
    CHECK_STR(live_event_kind_name(LIVE_EV_SETUP_COMPLETE), "SETUP_COMPLETE");
    CHECK_STR(live_event_kind_name(LIVE_EV_UNKNOWN), "UNKNOWN");
    CHECK_STR(live_event_kind_name((live_event_kind)999), "?");
}
