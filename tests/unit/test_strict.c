/* emulator/strict.c (client message parsing) and emulator/rules.c (model rules table). */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "emulator/rules.h"
#include "emulator/strict.h"
#include "tests/unit/testlib.h"

static char reason[256];

/* Parses a NUL-terminated payload; *out (if given) receives the body. */
static emu_msg_kind parse(const char *s, json_t **out)
{
    return emu_parse_client_msg(s, strlen(s), out, reason, sizeof reason);
}

/* Parses a message that must be rejected and returns the reason. */
static const char *reject(const char *s)
{
    json_t *out = (json_t *)1;
    if (parse(s, &out) != EMU_MSG_INVALID || out != NULL)
        return "(accepted)";
    return reason;
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

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0)
            return false;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80)
                return false;
    }
    return true;
}

/* Does any object key anywhere (outside free-form values) contain '_'? */
static bool has_snake_key(json_t *v)
{
    const char *k;
    json_t *e;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, e) if (has_snake_key(e)) return true;
    } else if (json_is_object(v)) {
        json_object_foreach(v, k, e) if (strchr(k, '_') || has_snake_key(e)) return true;
    }
    return false;
}

/* ---- Good messages ------------------------------------------------------------------------- */

static const char *SETUP_CAMEL =
    "{\"setup\":{\"model\":\"models/gemini-2.5-flash-native-audio-preview-09-2025\","
    "\"generationConfig\":{\"responseModalities\":[\"AUDIO\"],\"temperature\":0.7,\"topP\":0.9,"
    "\"topK\":40,\"maxOutputTokens\":1024,\"candidateCount\":1,\"presencePenalty\":0.1,"
    "\"frequencyPenalty\":0.2,\"seed\":7,\"mediaResolution\":\"MEDIA_RESOLUTION_LOW\","
    "\"speechConfig\":{\"voiceConfig\":{\"prebuiltVoiceConfig\":{\"voiceName\":\"Kore\"}},"
    "\"languageCode\":\"en-US\"},\"thinkingConfig\":{\"thinkingBudget\":0,\"includeThoughts\":false,"
    "\"thinkingLevel\":\"LOW\"},\"enableAffectiveDialog\":true},"
    "\"systemInstruction\":{\"role\":\"system\",\"parts\":[{\"text\":\"Be brief.\"}]},"
    "\"tools\":[{\"functionDeclarations\":[{\"name\":\"turn_on_the_lights\"},{\"name\":\"f\","
    "\"description\":\"d\",\"behavior\":\"NON_BLOCKING\",\"parameters\":{\"type\":\"OBJECT\","
    "\"properties\":{\"room\":{\"type\":\"STRING\",\"enum\":[\"a\",\"b\"]},\"n\":{\"type\":\"INTEGER\","
    "\"minimum\":1,\"maximum\":9}},\"required\":[\"room\"],\"propertyOrdering\":[\"room\",\"n\"]}}]},"
    "{\"googleSearch\":{}},{\"codeExecution\":{}},{\"urlContext\":{}}],"
    "\"realtimeInputConfig\":{\"automaticActivityDetection\":{\"disabled\":false,"
    "\"startOfSpeechSensitivity\":\"START_SENSITIVITY_HIGH\",\"endOfSpeechSensitivity\":"
    "\"END_SENSITIVITY_LOW\",\"prefixPaddingMs\":20,\"silenceDurationMs\":100},"
    "\"activityHandling\":\"NO_INTERRUPTION\",\"turnCoverage\":\"TURN_INCLUDES_ONLY_ACTIVITY\"},"
    "\"sessionResumption\":{\"handle\":\"h1\"},"
    "\"contextWindowCompression\":{\"triggerTokens\":\"25600\",\"slidingWindow\":{\"targetTokens\":\"12800\"}},"
    "\"inputAudioTranscription\":{},\"outputAudioTranscription\":{},"
    "\"proactivity\":{\"proactiveAudio\":true},\"historyConfig\":{\"initialHistoryInClientContent\":true}}}";

TEST(setup_camel_full)
{
    json_t *b = NULL;
    CHECK_INT(parse(SETUP_CAMEL, &b), EMU_MSG_SETUP);
    CHECK_STR(jstr(b, "model"), "models/gemini-2.5-flash-native-audio-preview-09-2025");
    CHECK_STR(jstr(b, "generationConfig.responseModalities.0"), "AUDIO");
    CHECK_STR(jstr(b, "generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName"), "Kore");
    CHECK_STR(jstr(b, "tools.0.functionDeclarations.1.parameters.properties.room.type"), "STRING");
    CHECK_INT(json_integer_value(jget(b, "contextWindowCompression.triggerTokens")), 25600);
    CHECK_INT(json_integer_value(jget(b, "contextWindowCompression.slidingWindow.targetTokens")), 12800);
    CHECK(json_is_true(jget(b, "historyConfig.initialHistoryInClientContent")));
    CHECK(json_is_object(jget(b, "inputAudioTranscription")));
    CHECK(json_real_value(jget(b, "generationConfig.temperature")) > 0.69);
    CHECK(!has_snake_key(b));
    json_decref(b);
}

TEST(setup_snake_normalized_to_camel)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"models/gemini-2.0-flash-live-001\","
                    "\"generation_config\":{\"response_modalities\":[\"TEXT\"],\"max_output_tokens\":5,"
                    "\"speech_config\":{\"voice_config\":{\"prebuilt_voice_config\":{\"voice_name\":\"Puck\"}}}},"
                    "\"system_instruction\":{\"parts\":[{\"text\":\"x\"}]},"
                    "\"tools\":[{\"function_declarations\":[{\"name\":\"turn_on_the_lights\"},"
                    "{\"name\":\"turn_off_the_lights\"}]},{\"code_execution\":{}},{\"google_search\":{}}],"
                    "\"realtime_input_config\":{\"automatic_activity_detection\":{\"disabled\":true}},"
                    "\"session_resumption\":{},\"context_window_compression\":{\"sliding_window\":{}},"
                    "\"input_audio_transcription\":{},\"history_config\":"
                    "{\"initial_history_in_client_content\":false}}}", &b),
              EMU_MSG_SETUP);
    CHECK_STR(jstr(b, "generationConfig.responseModalities.0"), "TEXT");
    CHECK_INT(json_integer_value(jget(b, "generationConfig.maxOutputTokens")), 5);
    CHECK_STR(jstr(b, "generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName"), "Puck");
    CHECK_STR(jstr(b, "tools.0.functionDeclarations.1.name"), "turn_off_the_lights");
    CHECK(json_is_object(jget(b, "tools.1.codeExecution")));
    CHECK(json_is_object(jget(b, "tools.2.googleSearch")));
    CHECK(json_is_true(jget(b, "realtimeInputConfig.automaticActivityDetection.disabled")));
    CHECK(json_is_object(jget(b, "contextWindowCompression.slidingWindow")));
    CHECK(json_is_false(jget(b, "historyConfig.initialHistoryInClientContent")));
    CHECK(!has_snake_key(b));
    json_decref(b);
}

TEST(mixed_case_at_every_level)
{
    json_t *b = NULL;
    /* the Python SDK's shape: snake outside, camel inside */
    CHECK_INT(parse("{\"realtime_input\":{\"mediaChunks\":[{\"mime_type\":\"audio/pcm;rate=16000\","
                    "\"data\":\"AAAA\"}]}}", &b),
              EMU_MSG_REALTIME_INPUT);
    CHECK_STR(jstr(b, "mediaChunks.0.mimeType"), "audio/pcm;rate=16000");
    json_decref(b);
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"generation_config\":{\"responseModalities\":[\"TEXT\"],"
                    "\"thinking_config\":{\"thinkingBudget\":0}}}}", &b),
              EMU_MSG_SETUP);
    CHECK_INT(json_integer_value(jget(b, "generationConfig.thinkingConfig.thinkingBudget")), 0);
    CHECK(!has_snake_key(b));
    json_decref(b);
}

TEST(setup_minimal_like_the_js_sdk)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"models/gemini-3.1-flash-live-preview\"}}", &b), EMU_MSG_SETUP);
    CHECK_INT(json_object_size(b), 1);
    CHECK_STR(jstr(b, "model"), "models/gemini-3.1-flash-live-preview");
    json_decref(b);
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\"}}", NULL), EMU_MSG_SETUP); /* out may be NULL */
}

TEST(client_content_seed_prompt)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"client_content\":{\"turns\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Hello?\"}]}],"
                    "\"turn_complete\":true}}", &b),
              EMU_MSG_CLIENT_CONTENT);
    CHECK_STR(jstr(b, "turns.0.parts.0.text"), "Hello?");
    CHECK_STR(jstr(b, "turns.0.role"), "user");
    CHECK(json_is_true(jget(b, "turnComplete")));
    json_decref(b);
    /* every Part kind */
    CHECK_INT(parse("{\"clientContent\":{\"turns\":[{\"role\":\"model\",\"parts\":["
                    "{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
                    "{\"fileData\":{\"mimeType\":\"text/plain\",\"fileUri\":\"files/x\"}},"
                    "{\"functionCall\":{\"id\":\"1\",\"name\":\"f\",\"args\":{\"a\":1}}},"
                    "{\"functionResponse\":{\"id\":\"1\",\"name\":\"f\",\"response\":{\"ok\":true}}},"
                    "{\"executableCode\":{\"language\":\"PYTHON\",\"code\":\"print(1)\"}},"
                    "{\"codeExecutionResult\":{\"outcome\":\"OUTCOME_OK\",\"output\":\"1\"}},"
                    "{\"text\":\"hm\",\"thought\":true,\"thoughtSignature\":\"c2ln\"}]}],"
                    "\"turnComplete\":false}}", &b),
              EMU_MSG_CLIENT_CONTENT);
    CHECK_STR(jstr(b, "turns.0.parts.4.executableCode.language"), "PYTHON");
    CHECK(json_is_true(jget(b, "turns.0.parts.6.thought")));
    json_decref(b);
}

TEST(realtime_input_each_field)
{
    static const char *const ok[] = {
        "{\"realtimeInput\":{\"audio\":{\"data\":\"AAAAAA==\",\"mimeType\":\"audio/pcm;rate=16000\"}}}",
        "{\"realtimeInput\":{\"video\":{\"data\":\"/9j/4A\",\"mimeType\":\"image/jpeg\"}}}",
        "{\"realtimeInput\":{\"text\":\"hi\"}}",
        "{\"realtimeInput\":{\"activityStart\":{}}}",
        "{\"realtime_input\":{\"activity_end\":{}}}",
        "{\"realtimeInput\":{\"audioStreamEnd\":true}}",
        "{\"realtime_input\":{\"media_chunks\":[{\"data\":\"AAAA\",\"mime_type\":\"audio/pcm\"},{\"data\":\"\"}]}}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        json_t *b = NULL;
        CHECK_INT(parse(ok[i], &b), EMU_MSG_REALTIME_INPUT);
        CHECK_INT(json_object_size(b), 1);
        CHECK(!has_snake_key(b));
        json_decref(b);
    }
}

TEST(realtime_input_needs_exactly_one_field)
{
    CHECK_STR(reject("{\"realtimeInput\":{\"audio\":{\"data\":\"AAAA\"},\"text\":\"hi\"}}"),
              "Request contains an invalid argument: realtime_input sets more than one of its fields "
              "(audio, text).");
    CHECK_STR(reject("{\"realtimeInput\":{}}"),
              "Request contains an invalid argument: realtime_input has no field set.");
    CHECK_STR(reject("{\"realtimeInput\":{\"text\":null}}"),
              "Request contains an invalid argument: realtime_input has no field set.");
}

TEST(tool_response_seed_shape)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"tool_response\":{\"function_responses\":[{\"id\":\"function-call-5831923424298605773\","
                    "\"name\":\"turn_on_the_lights\",\"response\":{\"result\":{\"string_value\":\"ok\"}},"
                    "\"will_continue\":false,\"scheduling\":\"WHEN_IDLE\"}]}}", &b),
              EMU_MSG_TOOL_RESPONSE);
    CHECK_STR(jstr(b, "functionResponses.0.id"), "function-call-5831923424298605773");
    /* free-form: keys inside response keep their spelling */
    CHECK_STR(jstr(b, "functionResponses.0.response.result.string_value"), "ok");
    CHECK(json_is_false(jget(b, "functionResponses.0.willContinue")));
    CHECK_STR(jstr(b, "functionResponses.0.scheduling"), "WHEN_IDLE");
    json_decref(b);
}

TEST(context_update_typed)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"contextUpdate\":{\"systemInstruction\":{\"parts\":[{\"text\":\"new\"}]},"
                    "\"tools\":{\"tools\":[{\"google_search\":{}}]}}}", &b),
              EMU_MSG_CONTEXT_UPDATE);
    CHECK(json_is_object(jget(b, "tools.tools.0.googleSearch")));
    json_decref(b);
    CHECK_INT(parse("{\"context_update\":{}}", NULL), EMU_MSG_CONTEXT_UPDATE);
    CHECK_STR(reject("{\"contextUpdate\":{\"tools\":{\"tools\":[{\"bogus\":{}}]}}}"),
              "Invalid JSON payload received. Unknown name \"bogus\" at 'context_update.tools.tools[0]': "
              "Cannot find field.");
}

TEST(freeform_values_copied_unchanged)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
                    "\"parametersJsonSchema\":{\"type\":\"object\",\"additional_properties\":false,"
                    "\"$defs\":{}},\"responseJsonSchema\":true,\"parameters\":{\"type\":\"object\","
                    "\"example\":{\"snake_key\":[1,{\"x_y\":null}]},\"default\":null}}]}]}}", &b),
              EMU_MSG_SETUP);
    json_t *fd = jget(b, "tools.0.functionDeclarations.0");
    CHECK(json_is_false(jget(fd, "parametersJsonSchema.additional_properties")));
    CHECK(json_is_true(jget(fd, "responseJsonSchema")));
    CHECK(json_is_null(jget(fd, "parameters.example.snake_key.1.x_y")));
    CHECK(json_is_null(json_object_get(jget(fd, "parameters"), "default"))); /* Value null is kept */
    CHECK_STR(jstr(fd, "parameters.type"), "OBJECT"); /* enum: canonical spelling */
    json_decref(b);
    CHECK_INT(parse("{\"clientContent\":{\"turns\":[{\"parts\":[{\"function_call\":{\"name\":\"f\","
                    "\"args\":{\"deep_key\":{\"unknownEverywhere\":[[[]]]}}}}]}]}}", &b),
              EMU_MSG_CLIENT_CONTENT);
    CHECK(json_is_array(jget(b, "turns.0.parts.0.functionCall.args.deep_key.unknownEverywhere.0.0")));
    json_decref(b);
}

/* ---- Unknown fields ------------------------------------------------------------------------ */

TEST(unknown_top_level_key)
{
    CHECK_STR(reject("{\"foo\":1}"), "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\"},\"foo\":{}}"),
              "Invalid JSON payload received. Unknown name \"foo\": Cannot find field.");
}

TEST(unknown_field_paths)
{
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"bogus\":1}}"),
              "Invalid JSON payload received. Unknown name \"bogus\" at 'setup': Cannot find field.");
    /* the name is echoed as sent; the path is snake_case */
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"responseLogprobs\":true}}}"),
              "Invalid JSON payload received. Unknown name \"responseLogprobs\" at "
              "'setup.generation_config': Cannot find field.");
    CHECK_STR(reject("{\"tool_response\":{\"function_responses\":[{\"id\":\"1\",\"x\":1}]}}"),
              "Invalid JSON payload received. Unknown name \"x\" at 'tool_response.function_responses[0]': "
              "Cannot find field.");
    CHECK_STR(reject("{\"clientContent\":{\"turns\":[{\"parts\":[{\"text\":\"a\"},{\"videoMetadata\":{}}]}]}}"),
              "Invalid JSON payload received. Unknown name \"videoMetadata\" at "
              "'client_content.turns[0].parts[1]': Cannot find field.");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"speechConfig\":{\"voiceConfig\":"
                     "{\"prebuiltVoiceConfig\":{\"voice\":\"Kore\"}}}}}}"),
              /* cut at 123 bytes, as the service cuts its close reasons */
              "Invalid JSON payload received. Unknown name \"voice\" at "
              "'setup.generation_config.speech_config.voice_config.prebuilt_voice_c");
}

TEST(unknown_field_in_schema_map)
{
    /* map entries are addressed as properties[i].value, like the real service */
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"a\"},"
                     "{\"name\":\"b\",\"parameters\":{\"type\":\"OBJECT\",\"properties\":{\"x\":{\"type\":"
                     "\"STRING\"},\"y\":{\"type\":\"STRING\",\"x\":false}}}}]}]}}"),
              "Invalid JSON payload received. Unknown name \"x\" at "
              "'setup.tools[0].function_declarations[1].parameters.properties[1].value'");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"a\","
                     "\"parameters\":{\"type\":\"ARRAY\",\"items\":{\"anyOf\":[{\"const\":1}]}}}]}]}}"),
              "Invalid JSON payload received. Unknown name \"const\" at "
              "'setup.tools[0].function_declarations[0].parameters.items.any_of[0]'"); /* cut at 123 */
}

/* ---- Oneofs and duplicates ----------------------------------------------------------------- */

TEST(two_top_level_keys)
{
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\"},\"clientContent\":{}}"),
              "Invalid value (oneof), oneof field 'message_type' is already set. Cannot set 'clientContent'");
    CHECK_STR(reject("{\"client_content\":{},\"clientContent\":{}}"),
              "Invalid value (oneof), oneof field 'message_type' is already set. Cannot set 'clientContent'");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\"},\"setup\":{\"model\":\"n\"}}"),
              "Invalid JSON payload received. Duplicate key.\nm\"},\"setup\":{\"model\"\n          ^");
}

TEST(same_field_in_both_spellings)
{
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generation_config\":{},\"generationConfig\":{}}}"),
              "Invalid JSON payload received. Duplicate name \"generationConfig\" at 'setup': Field already set.");
    CHECK_STR(reject("{\"clientContent\":{\"turnComplete\":true,\"turn_complete\":true}}"),
              "Invalid JSON payload received. Duplicate name \"turn_complete\" at 'client_content': "
              "Field already set.");
}

TEST(part_data_is_a_oneof)
{
    CHECK_STR(reject("{\"clientContent\":{\"turns\":[{\"parts\":[{\"text\":\"a\",\"inlineData\":"
                     "{\"data\":\"AAAA\"}}]}]}}"),
              "Invalid value at 'client_content.turns[0].parts[0]' (oneof), oneof field 'data' is already "
              "set. Cannot set 'inlineData'");
    /* thought is outside the oneof */
    CHECK_INT(parse("{\"clientContent\":{\"turns\":[{\"parts\":[{\"text\":\"a\",\"thought\":true}]}]}}", NULL),
              EMU_MSG_CLIENT_CONTENT);
}

/* ---- Types --------------------------------------------------------------------------------- */

TEST(wrong_scalar_types)
{
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"temperature\":\"hot\"}}}"),
              "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), \"hot\"");
    CHECK_STR(reject("{\"setup\":{\"model\":5}}"), "Invalid value at 'setup.model' (TYPE_STRING), 5");
    CHECK_STR(reject("{\"clientContent\":{\"turnComplete\":\"maybe\"}}"),
              "Invalid value at 'client_content.turn_complete' (TYPE_BOOL), \"maybe\"");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"topK\":1.5}}}"),
              "Invalid value at 'setup.generation_config.top_k' (TYPE_INT32), 1.5");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"seed\":4294967296}}}"),
              "Invalid value at 'setup.generation_config.seed' (TYPE_INT32), 4294967296");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"contextWindowCompression\":{\"triggerTokens\":\"lots\"}}}"),
              "Invalid value at 'setup.context_window_compression.trigger_tokens' (TYPE_INT64), \"lots\"");
    CHECK_STR(reject("{\"realtimeInput\":{\"text\":true}}"),
              "Invalid value at 'realtime_input.text' (TYPE_STRING), true");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
                     "\"parameters\":{\"type\":\"STRING\",\"enum\":[\"a\",2]}}]}]}}"),
              "Invalid value at 'setup.tools[0].function_declarations[0].parameters.enum[1]' (TYPE_STRING), 2");
}

TEST(wrong_shapes)
{
    /* a list where no list goes */
    CHECK_STR(reject("{\"setup\":{\"model\":[\"m\"]}}"),
              "Invalid JSON payload received. Unknown name \"model\" at 'setup': Proto field is not "
              "repeating, cannot start list.");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generation_config\":[]}}"),
              "Invalid JSON payload received. Unknown name \"generation_config\" at 'setup': Proto field "
              "is not repeating, cannot start list"); /* cut at 123 */
    CHECK_STR(reject("{\"setup\":[]}"),
              "Invalid JSON payload received. Unknown name \"setup\": Proto field is not repeating, cannot "
              "start list.");
    /* an object on a scalar */
    CHECK_STR(reject("{\"setup\":{\"model\":{\"name\":\"m\"}}}"),
              "Invalid value at 'setup' (model), Starting an object on a scalar field");
    /* a scalar on a message */
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":\"x\"}}"),
              "Invalid value at 'setup.generation_config' "
              "(type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig), \"x\"");
    CHECK_STR(reject("{\"setup\":\"models/x\"}"),
              "Invalid value at 'setup' (type.googleapis.com/google.ai.generativelanguage.v1beta."
              "BidiGenerateContentSetup), \"models/x\"");
    CHECK_STR(reject("{\"clientContent\":{\"turns\":[\"hello\"]}}"),
              "Invalid value at 'client_content.turns[0]' "
              "(type.googleapis.com/google.ai.generativelanguage.v1beta.Content), \"hello\"");
    /* a Struct must be an object */
    CHECK_STR(reject("{\"toolResponse\":{\"functionResponses\":[{\"id\":\"1\",\"response\":\"ok\"}]}}"),
              "Invalid value at 'tool_response.function_responses[0].response' "
              "(type.googleapis.com/google.protobuf.Struct), \"ok\"");
    CHECK_STR(reject("{\"toolResponse\":{\"functionResponses\":[{\"id\":\"1\",\"response\":[1]}]}}"),
              "Invalid JSON payload received. Unknown name \"response\" at "
              "'tool_response.function_responses[0]': Proto field is not repeati"); /* cut at 123 */
    /* a list inside a list */
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"tools\":[[{}]]}}"),
              "Invalid JSON payload received. Unknown name \"tools\" at 'setup': Proto field is not "
              "repeating, cannot start list.");
}

TEST(numbers_as_proto3_json_allows)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"temperature\":\"0.5\",\"topK\":\"40\","
                    "\"maxOutputTokens\":100.0,\"topP\":1},\"contextWindowCompression\":{\"triggerTokens\":"
                    "25600,\"slidingWindow\":{\"targetTokens\":\"-1\"}}}}", &b),
              EMU_MSG_SETUP);
    CHECK(json_real_value(jget(b, "generationConfig.temperature")) == 0.5);
    CHECK_INT(json_integer_value(jget(b, "generationConfig.topK")), 40);
    CHECK_INT(json_integer_value(jget(b, "generationConfig.maxOutputTokens")), 100);
    CHECK(json_is_real(jget(b, "generationConfig.topP")));
    CHECK_INT(json_integer_value(jget(b, "contextWindowCompression.triggerTokens")), 25600);
    CHECK_INT(json_integer_value(jget(b, "contextWindowCompression.slidingWindow.targetTokens")), -1);
    json_decref(b);
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"temperature\":\"NaN\"}}}", &b),
              EMU_MSG_SETUP);
    CHECK_STR(jstr(b, "generationConfig.temperature"), "NaN");
    json_decref(b);
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"temperature\":\"0x10\"}}}"),
              "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), \"0x10\"");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"temperature\":1e300}}}"),
              "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), 1e+300");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"topK\":\" 4\"}}}"),
              "Invalid value at 'setup.generation_config.top_k' (TYPE_INT32), \" 4\"");
    CHECK_INT(parse("{\"clientContent\":{\"turnComplete\":\"true\"}}", &b), EMU_MSG_CLIENT_CONTENT);
    CHECK(json_is_true(jget(b, "turnComplete")));
    json_decref(b);
}

TEST(enums_names_case_and_numbers)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"responseModalities\":[\"audio\",3],"
                    "\"mediaResolution\":\"media-resolution-high\"}}}", &b),
              EMU_MSG_SETUP);
    CHECK_STR(jstr(b, "generationConfig.responseModalities.0"), "AUDIO");
    CHECK_STR(jstr(b, "generationConfig.responseModalities.1"), "AUDIO");
    CHECK_STR(jstr(b, "generationConfig.mediaResolution"), "MEDIA_RESOLUTION_HIGH");
    json_decref(b);
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
                     "\"parameters\":{\"type\":\"enum\"}}]}]}}"),
              "Invalid value at 'setup.tools[0].function_declarations[0].parameters.type' "
              "(type.googleapis.com/google.ai.generativelanguag"); /* cut at 123 */
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"tools\":{\"functionDeclarations\":{\"parameters\":"
                     "{\"type\":\"enum\"}}}}}"),
              "Invalid value at 'setup.tools.function_declarations.parameters.type' "
              "(type.googleapis.com/google.ai.generativelanguage.v1be"); /* cut at 123 */
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"responseModalities\":[\"VIDEO\"]}}}"),
              "Invalid value at 'setup.generation_config.response_modalities[0]' (type.googleapis.com/goog"
              "le.ai.generativelanguage.v1beta.");
    CHECK_STR(reject("{\"toolResponse\":{\"functionResponses\":[{\"scheduling\":9}]}}"),
              "Invalid value at 'tool_response.function_responses[0].scheduling' (type.googleapis.com/goo"
              "gle.ai.generativelanguage.v1beta.");
}

TEST(bytes_must_be_base64)
{
    CHECK_INT(parse("{\"realtimeInput\":{\"audio\":{\"data\":\"-_-_\"}}}", NULL), EMU_MSG_REALTIME_INPUT);
    CHECK_INT(parse("{\"realtimeInput\":{\"audio\":{\"data\":\"QUI\"}}}", NULL), EMU_MSG_REALTIME_INPUT);
    CHECK_STR(reject("{\"realtimeInput\":{\"audio\":{\"data\":\"not base64!\"}}}"),
              "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), Base64 decoding failed for "
              "\"not base64!\"");
    CHECK_STR(reject("{\"realtimeInput\":{\"audio\":{\"data\":\"QUJDR\"}}}"),
              "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), Base64 decoding failed for \"QUJDR\"");
    CHECK_STR(reject("{\"realtimeInput\":{\"audio\":{\"data\":12}}}"),
              "Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), 12");
}

TEST(setup_model_required)
{
    CHECK_STR(reject("{\"setup\":{}}"), "Request contains an invalid argument: setup.model is required.");
    CHECK_STR(reject("{\"setup\":{\"model\":\"\"}}"),
              "Request contains an invalid argument: setup.model is required.");
    CHECK_STR(reject("{\"setup\":{\"model\":null,\"generationConfig\":{}}}"),
              "Request contains an invalid argument: setup.model is required.");
}

TEST(nulls_mean_unset)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"generationConfig\":null,\"tools\":null}}", &b), EMU_MSG_SETUP);
    CHECK_INT(json_object_size(b), 1);
    json_decref(b);
    CHECK_STR(reject("{\"setup\":null}"), "Request contains an invalid argument: empty client message.");
    CHECK_STR(reject("{}"), "Request contains an invalid argument: empty client message.");
    /* a null element of a repeated message field is not a message */
    CHECK_STR(reject("{\"clientContent\":{\"turns\":[null]}}"),
              "Invalid value at 'client_content.turns[0]' "
              "(type.googleapis.com/google.ai.generativelanguage.v1beta.Content), null");
}

TEST(lone_value_for_repeated_field_becomes_a_list)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"tools\":{\"googleSearch\":{}},"
                    "\"generationConfig\":{\"responseModalities\":\"TEXT\"}}}", &b),
              EMU_MSG_SETUP);
    CHECK(json_is_array(jget(b, "tools")));
    CHECK(json_is_object(jget(b, "tools.0.googleSearch")));
    CHECK_STR(jstr(b, "generationConfig.responseModalities.0"), "TEXT");
    json_decref(b);
}

/* ---- Bad payloads -------------------------------------------------------------------------- */

TEST(invalid_json)
{
    CHECK_STR(reject(""), "Invalid JSON payload received. Unexpected end of string.\n\n^");
    CHECK_STR(reject("{\"setup\":{\"model\":\"m\"}"),
              "Invalid JSON payload received. Unexpected end of string.\nmodel\":\"m\"}\n          ^");
    CHECK_STR(reject("{\"setup\" {}}"),
              "Invalid JSON payload received. Expected : between key:value pair.\n{\"setup\" {}}\n         ^");
    CHECK_STR(reject("{\"setup\":{}} x"),
              "Invalid JSON payload received. Parsing terminated before end of input.\netup\":{}} x\n"
              "          ^");
    CHECK_STR(reject("hello"), "Invalid JSON payload received. Unexpected token.\nhello\n    ^");
    CHECK_CONTAINS(reject("{'setup':{}}"), "Invalid JSON payload received. Expected an object key or }.");
    CHECK_CONTAINS(reject("{\"setup\":{\"model\":\"m\",}}"), "Invalid JSON payload received.");
    CHECK_CONTAINS(reject("{\"setup\":{\"model\":99999999999999999999999}}"), "Number out of range.");
}

TEST(garbage_bytes_nul_and_non_utf8)
{
    static const char garbage[] = "\xff\xfe\x00\x01{\"setup\":\x80}";
    json_t *out = (json_t *)1;
    CHECK_INT(emu_parse_client_msg(garbage, sizeof garbage - 1, &out, reason, sizeof reason), EMU_MSG_INVALID);
    CHECK(out == NULL);
    CHECK_CONTAINS(reason, "Invalid JSON payload received. Encountered non UTF-8 code points.");
    CHECK(utf8_valid(reason));
    /* a raw NUL inside the payload: the length counts, not the terminator */
    static const char nul[] = "{\"setup\":{\"model\":\"m\"}}\0trailing";
    CHECK_INT(emu_parse_client_msg(nul, sizeof nul - 1, &out, reason, sizeof reason), EMU_MSG_INVALID);
    CHECK_CONTAINS(reason, "Parsing terminated before end of input.");
    /* an escaped NUL is a legal string character */
    CHECK_INT(parse("{\"realtimeInput\":{\"text\":\"a\\u0000b\"}}", NULL), EMU_MSG_REALTIME_INPUT);
    CHECK_CONTAINS(reject("{\"realtimeInput\":{\"te\\u0000xt\":\"a\"}}"), "Invalid JSON payload received.");
    CHECK_CONTAINS(reject("{\"realtimeInput\":{\"text\":\"\\ud800\"}}"), "Invalid JSON payload received.");
    /* NULL data with a length is treated as empty */
    CHECK_INT(emu_parse_client_msg(NULL, 5, &out, reason, sizeof reason), EMU_MSG_INVALID);
    CHECK(out == NULL);
    CHECK_CONTAINS(reason, "Unexpected end of string.");
}

TEST(root_must_be_an_object)
{
    CHECK_STR(reject("[{\"setup\":{\"model\":\"m\"}}]"),
              "Invalid JSON payload received. Unknown name \"\": Root element must be a message.");
    CHECK_STR(reject("\"setup\""), "Invalid JSON payload received. Unknown name \"\": Root element must be a message.");
    CHECK_STR(reject("42"), "Invalid JSON payload received. Unknown name \"\": Root element must be a message.");
    CHECK_STR(reject("null"), "Invalid JSON payload received. Unknown name \"\": Root element must be a message.");
}

static char *repeat_wrap(const char *open, const char *inner, const char *close, int n)
{
    size_t lo = strlen(open), li = strlen(inner), lc = strlen(close);
    char *s = malloc((lo + lc) * (size_t)n + li + 1), *p = s;
    for (int i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, inner, li);
    p += li;
    for (int i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = '\0';
    return s;
}

TEST(deep_nesting_is_refused_not_crashed)
{
    /* far past jansson's own limit */
    char *s = repeat_wrap("[", "", "]", 200000);
    CHECK_STR(reject(s), "Invalid JSON payload received. Message too deep. Max recursion depth reached.");
    free(s);
    /* deep but legal JSON inside a free-form value: the service's 100-level limit */
    char *inner = repeat_wrap("{\"k\":", "1", "}", 150);
    char msg[4096];
    snprintf(msg, sizeof msg, "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"1\",\"response\":%s}]}}", inner);
    CHECK_STR(reject(msg),
              "Invalid JSON payload received. Message too deep. Max recursion depth reached for key 'k'");
    free(inner);
    /* Schema nests Schema: 90 levels is fine */
    inner = repeat_wrap("{\"type\":\"ARRAY\",\"items\":", "{\"type\":\"STRING\"}", "}", 90);
    snprintf(msg, sizeof msg, "{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
             "\"parameters\":%s}]}]}}", inner);
    json_t *b = NULL;
    CHECK_INT(parse(msg, &b), EMU_MSG_SETUP);
    json_decref(b);
    free(inner);
}

TEST(reason_is_cut_at_123_bytes_on_a_utf8_boundary)
{
    /* an unknown name of 2-byte characters makes the cut land mid-character at some offset */
    for (int lead = 0; lead < 4; lead++) {
        char msg[1024], key[600];
        size_t n = 0;
        for (int i = 0; i < lead; i++)
            key[n++] = 'a';
        for (int i = 0; i < 100; i++) {
            key[n++] = (char)0xC3;
            key[n++] = (char)0xA9; /* é */
        }
        key[n] = '\0';
        snprintf(msg, sizeof msg, "{\"setup\":{\"model\":\"m\",\"%s\":1}}", key);
        const char *r = reject(msg);
        CHECK(strlen(r) <= 123 && strlen(r) >= 121);
        CHECK(utf8_valid(r));
        CHECK(!strncmp(r, "Invalid JSON payload received. Unknown name \"", 45));
    }
    /* a small caller buffer */
    char small[10];
    CHECK_INT(emu_parse_client_msg("{\"x\":1}", 7, NULL, small, sizeof small), EMU_MSG_INVALID);
    CHECK_STR(small, "Invalid J");
    CHECK_INT(emu_parse_client_msg("{\"x\":1}", 7, NULL, NULL, 0), EMU_MSG_INVALID);
    CHECK_INT(emu_parse_client_msg("{\"x\":1}", 7, NULL, small, 0), EMU_MSG_INVALID);
    /* a very deep path still yields a short reason */
    char *inner = repeat_wrap("{\"type\":\"ARRAY\",\"items\":", "{\"typo\":1}", "}", 60);
    char msg[4096];
    snprintf(msg, sizeof msg, "{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":[{\"name\":\"f\","
             "\"parameters\":%s}]}]}}", inner);
    const char *r = reject(msg);
    CHECK_INT(strlen(r), 123);
    CHECK_CONTAINS(r, "at 'setup.tools[0].function_declarations[0].parameters.items.items.items");
    free(inner);
}

TEST(huge_strings)
{
    size_t big = 8u << 20;
    char *msg = malloc(big + 64);
    /* 8 MiB of base64 audio is fine */
    int n = sprintf(msg, "{\"realtimeInput\":{\"audio\":{\"data\":\"");
    memset(msg + n, 'A', big);
    strcpy(msg + n + big, "\"}}}");
    json_t *b = NULL;
    CHECK_INT(parse(msg, &b), EMU_MSG_REALTIME_INPUT);
    CHECK_INT(json_string_length(jget(b, "audio.data")), big);
    json_decref(b);
    /* 8 MiB in a wrong-typed field: the quoted value is cut with the reason */
    n = sprintf(msg, "{\"setup\":{\"model\":\"m\",\"generationConfig\":{\"temperature\":\"");
    memset(msg + n, 'x', big);
    strcpy(msg + n + big, "\"}}}");
    const char *r = reject(msg);
    CHECK_INT(strlen(r), 123);
    CHECK(!strncmp(r, "Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), \"xxx", 73));
    free(msg);
}

/* Flips and drops bytes of good messages: whatever comes out, the contract holds. */
TEST(mutations_never_break_the_contract)
{
    static const char *const seeds[] = {
        "{\"tool_response\":{\"function_responses\":[{\"id\":\"1\",\"name\":\"f\",\"response\":{\"a\":[1,2]}}]}}",
        "{\"realtimeInput\":{\"audio\":{\"data\":\"AAAA\",\"mimeType\":\"audio/pcm\"}}}",
    };
    static const char alphabet[] = "{}[]\":,0a_\\ \xc3\xff";
    uint32_t rng = 12345;
    size_t accepted = 0;
    for (size_t s = 0; s < 3; s++) {
        const char *seed = s < 2 ? seeds[s] : SETUP_CAMEL;
        size_t len = strlen(seed);
        char *buf = malloc(len + 1);
        for (int iter = 0; iter < 3000; iter++) {
            memcpy(buf, seed, len + 1);
            size_t n = len;
            for (int m = 0; m < 1 + iter % 4; m++) {
                rng = rng * 1103515245u + 12345u;
                size_t at = (rng >> 8) % n;
                if (rng & 1)
                    buf[at] = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
                else if (n > 1)
                    memmove(buf + at, buf + at + 1, n-- - at);
            }
            json_t *out = NULL;
            reason[0] = 'Z';
            emu_msg_kind k = emu_parse_client_msg(buf, n, &out, reason, sizeof reason);
            if (k == EMU_MSG_INVALID) {
                CHECK(out == NULL);
                CHECK(reason[0] != '\0' && reason[0] != 'Z');
                CHECK(strlen(reason) <= 123);
                CHECK(utf8_valid(reason));
            } else {
                CHECK(out != NULL && json_is_object(out));
                accepted++;
            }
            json_decref(out);
        }
        free(buf);
    }
    CHECK(accepted > 0);
}

TEST(kind_names)
{
    CHECK_STR(emu_msg_kind_name(EMU_MSG_SETUP), "setup");
    CHECK_STR(emu_msg_kind_name(EMU_MSG_CLIENT_CONTENT), "clientContent");
    CHECK_STR(emu_msg_kind_name(EMU_MSG_REALTIME_INPUT), "realtimeInput");
    CHECK_STR(emu_msg_kind_name(EMU_MSG_TOOL_RESPONSE), "toolResponse");
    CHECK_STR(emu_msg_kind_name(EMU_MSG_CONTEXT_UPDATE), "contextUpdate");
    CHECK_STR(emu_msg_kind_name(EMU_MSG_INVALID), "invalid");
}

/* ---- Model rules --------------------------------------------------------------------------- */

TEST(rules_table_lookups)
{
    emu_model_rules r;
    emu_model_rules_for("models/gemini-2.5-flash-native-audio-preview-09-2025", &r);
    CHECK(r.audio_only && !r.client_content_only_initial && r.known);
    emu_model_rules_for("gemini-2.5-flash-native-audio-latest", &r); /* bare name */
    CHECK(r.audio_only && r.known);
    emu_model_rules_for("models/gemini-3.1-flash-live-preview", &r);
    CHECK(r.audio_only && r.client_content_only_initial && r.known);
    emu_model_rules_for("models/gemini-3.8-live", &r);
    CHECK(r.audio_only && !r.client_content_only_initial && r.known);
    emu_model_rules_for("gemini-3.1-flash-live-preview", &r);
    CHECK(r.client_content_only_initial);
    emu_model_rules_for("models/gemini-live-2.5-flash-preview", &r);
    CHECK(!r.audio_only && !r.client_content_only_initial && r.known);
    emu_model_rules_for("models/gemini-2.0-flash-live-001", &r);
    CHECK(!r.audio_only && !r.client_content_only_initial && r.known);
    emu_model_rules_for("xmodels/gemini-3.1-flash-live-preview", &r); /* only "models/" is stripped */
    CHECK(!r.client_content_only_initial);
    emu_model_rules_for(NULL, &r);
    CHECK(!r.audio_only && !r.client_content_only_initial && r.known);
}

TEST(rules_deny_list)
{
    emu_model_rules r;
    emu_model_deny("gemini-live-2.5-flash-preview");
    emu_model_deny("models/gemini-2.0-flash-live-001");
    emu_model_rules_for("models/gemini-live-2.5-flash-preview", &r);
    CHECK(!r.known);
    emu_model_rules_for("gemini-2.0-flash-live-001", &r);
    CHECK(!r.known);
    emu_model_rules_for("gemini-2.0-flash-live-0011", &r);
    CHECK(r.known);
    /* deny keeps the other rules */
    emu_model_deny("gemini-3.1-flash-live-preview");
    emu_model_rules_for("models/gemini-3.1-flash-live-preview", &r);
    CHECK(!r.known && r.client_content_only_initial);
    /* bounded: extra names, duplicates, empty and absurdly long names are ignored, no overflow */
    char name[64], longname[300];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "denied-%d", i);
        emu_model_deny(name);
        emu_model_deny(name);
    }
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    emu_model_deny(longname);
    emu_model_deny("");
    emu_model_deny("models/");
    emu_model_deny(NULL);
    emu_model_rules_for("denied-0", &r);
    CHECK(!r.known);
    emu_model_rules_for("denied-99", &r); /* past the bound */
    CHECK(r.known);
    emu_model_rules_for(longname, &r);
    CHECK(r.known);
    emu_model_rules_for("models/gemini-2.5-flash-native-audio-latest", &r);
    CHECK(r.known && r.audio_only);
}

TEST(rules_tools_and_function_behaviour)
{
    static const struct {
        const char *model;
        bool code_execution;
        emu_fn_mode functions;
        unsigned rejects;
    } want[] = {
        {"models/gemini-3.8-live", false, EMU_FN_ASYNC,
         EMU_REJECT_THINKING_LEVEL | EMU_REJECT_PROACTIVE_AUDIO_OFF | EMU_REJECT_AFFECTIVE_DIALOG},
        {"gemini-3.1-flash-live-preview", false, EMU_FN_BLOCKING, 0},
        {"models/gemini-2.5-flash-native-audio-preview-12-2025", false, EMU_FN_OPT_IN_ASYNC, 0},
        {"gemini-live-2.5-flash-native-audio", false, EMU_FN_OPT_IN_ASYNC, 0}, /* native first */
        {"models/gemini-live-2.5-flash-preview", true, EMU_FN_OPT_IN_ASYNC, 0},
        {"models/gemini-2.0-flash-live-001", true, EMU_FN_OPT_IN_ASYNC, 0},
        {"models/some-future-model", true, EMU_FN_OPT_IN_ASYNC, 0},
        {NULL, true, EMU_FN_OPT_IN_ASYNC, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        emu_model_rules r;
        emu_model_rules_for(want[i].model, &r);
        if (r.code_execution != want[i].code_execution || r.functions != want[i].functions ||
            r.rejects != want[i].rejects)
            GL_FAILF("%s: code %d functions %d rejects %u", want[i].model ? want[i].model : "NULL",
                     r.code_execution, (int)r.functions, r.rejects);
    }
    CHECK(emu_model_fn_async(EMU_FN_ASYNC, NULL));
    CHECK(emu_model_fn_async(EMU_FN_ASYNC, "NON_BLOCKING"));
    CHECK(emu_model_fn_async(EMU_FN_ASYNC, "UNSPECIFIED"));
    CHECK(!emu_model_fn_async(EMU_FN_ASYNC, "BLOCKING"));
    CHECK(!emu_model_fn_async(EMU_FN_OPT_IN_ASYNC, NULL));
    CHECK(emu_model_fn_async(EMU_FN_OPT_IN_ASYNC, "NON_BLOCKING"));
    CHECK(!emu_model_fn_async(EMU_FN_BLOCKING, "NON_BLOCKING"));
}

/* The setup as the server sees it: strict-parsed (so normalized), then the model's rules. */
static const char *setup_refusal(const char *setup_json)
{
    static char why[128];
    json_t *b = NULL;
    if (parse(setup_json, &b) != EMU_MSG_SETUP)
        return "(not a setup)";
    emu_model_rules r;
    emu_model_rules_for(json_string_value(json_object_get(b, "model")), &r);
    const char *out = emu_model_check_setup(&r, b, why, sizeof why);
    json_decref(b);
    return out ? out : "(accepted)";
}

TEST(rules_check_setup)
{
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"models/gemini-3.8-live\","
                            "\"tools\":[{\"google_search\":{}},{\"code_execution\":{}}]}}"),
              "Request contains an invalid argument: tool code_execution is not supported by this "
              "model.");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.8-live\",\"generation_config\":"
                            "{\"thinking_config\":{\"thinking_level\":\"HIGH\"}}}}"),
              "Request contains an invalid argument: thinking_level is not supported by this model.");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.8-live\","
                            "\"proactivity\":{\"proactive_audio\":false}}}"),
              "Request contains an invalid argument: proactive_audio cannot be disabled for this "
              "model.");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.8-live\",\"generationConfig\":"
                            "{\"enableAffectiveDialog\":false}}}"),
              "Request contains an invalid argument: enable_affective_dialog is not supported by "
              "this model.");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.8-live\",\"proactivity\":"
                            "{\"proactiveAudio\":true},\"generationConfig\":{\"thinkingConfig\":"
                            "{\"thinkingBudget\":0},\"responseModalities\":[\"AUDIO\"]}}}"),
              "(accepted)");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.8-live\",\"generationConfig\":"
                            "{\"responseModalities\":[\"TEXT\"]}}}"),
              "Cannot extract voices from a non-audio request.");
    /* the same requests on models that have these */
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-live-2.5-flash-preview\","
                            "\"tools\":[{\"codeExecution\":{}}],\"generationConfig\":"
                            "{\"enableAffectiveDialog\":true}}}"),
              "(accepted)");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.1-flash-live-preview\","
                            "\"generationConfig\":{\"thinkingConfig\":{\"thinkingLevel\":\"LOW\"}}}}"),
              "(accepted)");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"gemini-3.1-flash-live-preview\","
                            "\"tools\":[{\"codeExecution\":{}}]}}"),
              "Request contains an invalid argument: tool code_execution is not supported by this "
              "model.");
    CHECK_STR(setup_refusal("{\"setup\":{\"model\":\"m\",\"generationConfig\":"
                            "{\"responseModalities\":[\"TEXT\",\"AUDIO\"]}}}"),
              "At most one response modality can be specified in the setup request.");
}

/* NON_BLOCKING functions: behavior in declarations, scheduling and willContinue in responses,
 * in both spellings; their values are checked like any enum. */
TEST(async_function_fields)
{
    json_t *b = NULL;
    CHECK_INT(parse("{\"setup\":{\"model\":\"m\",\"tools\":[{\"function_declarations\":["
                    "{\"name\":\"a\",\"behavior\":\"BLOCKING\"},{\"name\":\"b\",\"behavior\":\"NON_BLOCKING\"},"
                    "{\"name\":\"c\",\"behavior\":2}]}]}}", &b),
              EMU_MSG_SETUP);
    CHECK_STR(jstr(b, "tools.0.functionDeclarations.0.behavior"), "BLOCKING");
    CHECK_STR(jstr(b, "tools.0.functionDeclarations.1.behavior"), "NON_BLOCKING");
    CHECK_STR(jstr(b, "tools.0.functionDeclarations.2.behavior"), "NON_BLOCKING"); /* by number */
    json_decref(b);
    static const char *const scheds[] = {"SILENT", "WHEN_IDLE", "INTERRUPT"};
    for (size_t i = 0; i < 3; i++) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "{\"toolResponse\":{\"functionResponses\":[{\"id\":\"x\",\"name\":\"f\",\"response\":{},"
                 "\"scheduling\":\"%s\",\"willContinue\":true}]}}", scheds[i]);
        CHECK_INT(parse(msg, &b), EMU_MSG_TOOL_RESPONSE);
        CHECK_STR(jstr(b, "functionResponses.0.scheduling"), scheds[i]);
        CHECK(json_is_true(jget(b, "functionResponses.0.willContinue")));
        json_decref(b);
    }
    /* the docs' sample nests scheduling inside response: free-form there, kept as is */
    CHECK_INT(parse("{\"toolResponse\":{\"functionResponses\":[{\"id\":\"x\",\"response\":"
                    "{\"result\":\"ok\",\"scheduling\":\"INTERRUPT\"}}]}}", &b),
              EMU_MSG_TOOL_RESPONSE);
    CHECK_STR(jstr(b, "functionResponses.0.response.scheduling"), "INTERRUPT");
    json_decref(b);
    /* no id: parsing accepts it (Vertex calls carry none); the server decides */
    CHECK_INT(parse("{\"toolResponse\":{\"functionResponses\":[{\"name\":\"f\",\"response\":{}}]}}", NULL),
              EMU_MSG_TOOL_RESPONSE);
    CHECK_CONTAINS(reject("{\"setup\":{\"model\":\"m\",\"tools\":[{\"functionDeclarations\":"
                          "[{\"name\":\"a\",\"behavior\":\"SOMETIMES\"}]}]}}"),
                   "Invalid value at 'setup.tools[0].function_declarations[0].behavior'");
    CHECK_CONTAINS(reject("{\"toolResponse\":{\"functionResponses\":[{\"id\":\"x\",\"will_continue\":"
                          "\"maybe\"}]}}"),
                   "Invalid value at 'tool_response.function_responses[0].will_continue' (TYPE_BOOL)");
    CHECK_CONTAINS(reject("{\"toolResponse\":{\"functionResponses\":[{\"id\":\"x\",\"scheduling\":"
                          "\"LATER\"}]}}"),
                   "Invalid value at 'tool_response.function_responses[0].scheduling'");
}
