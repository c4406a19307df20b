/* Server messages for comparing the fast path (proto/fastpath.h) with live_parse_server: every
 * server message shape of tests/unit/test_live.c (the recorded ones included), the benchmark
 * stream's, and generated ones: message templates crossed with strings that stress the string
 * rules (escapes, unicode, \u0000, surrogates, what Jansson writes differently, invalid input),
 * plus shapes the fast path must leave to the slow one. Used by test_fastpath.c (the events) and
 * test_session.c (the event lines). */
#ifndef GL_TEST_FAST_CORPUS_H
#define GL_TEST_FAST_CORPUS_H

#include <stdlib.h>
#include <string.h>

/* Whole messages, as test_live.c and the emulator send them. */
static const char *const FAST_FIXED[] = {
    "{\n  \"setupComplete\": {}\n}\n",
    "{\n  \"serverContent\": {\n    \"modelTurn\": {\n      \"parts\": [\n        {\n"
    "          \"text\": \"Hello\"\n        }\n      ]\n    }\n  }\n}\n",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"! How can I help you today?\"}]}}}",
    "{\"serverContent\":{\"generationComplete\":true}}",
    "{\"serverContent\":{\"turnComplete\":true},\"usageMetadata\":{\"promptTokenCount\":9,"
    "\"responseTokenCount\":10,\"totalTokenCount\":19}}",
    "{\"toolCall\":{\"functionCalls\":[{\"id\":\"function-call-1\",\"name\":\"f\",\"args\":{}}]}}",
    "{\"toolCallCancellation\":{\"ids\":[\"function-call-2\",\"x\"]}}",
    "{\"setup_complete\":{}}",
    "{\"server_content\":{\"model_turn\":{\"parts\":[{\"inline_data\":"
    "{\"mime_type\":\"audio/pcm;rate=24000\",\"data\":\"AAEC\"}}]}}}",
    "{\"server_content\":{\"output_transcription\":{\"text\":\"hi\"},"
    "\"generation_complete\":true,\"turn_complete\":true,\"turn_complete_reason\":\"NEED_MORE_INPUT\"},"
    "\"usage_metadata\":{\"total_token_count\":3}}",
    "{\"go_away\":{\"time_left\":\"1.5s\"}}",
    "{\"session_resumption_update\":{\"new_handle\":\"h\",\"resumable\":true}}",
    "{\"usageMetadata\":{\"totalTokenCount\":5},\"serverContent\":{\"turnComplete\":true}}",
    "{\"serverContent\":{\"turnComplete\":true,\"generationComplete\":true,"
    "\"groundingMetadata\":{\"webSearchQueries\":[\"q\"]},"
    "\"outputTranscription\":{\"text\":\"out\",\"finished\":true},"
    "\"inputTranscription\":{\"text\":\"in\"},"
    "\"modelTurn\":{\"role\":\"model\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"},"
    "{\"text\":\"hmm\",\"thought\":true},{\"inlineData\":{\"mimeType\":\"audio/pcm;rate=24000\","
    "\"data\":\"AA==\"}}]},\"interrupted\":true,\"waitingForInput\":true}}",
    "{\"outputTranscription\":{\"text\":\"out\",\"finished\":true},"
    "\"inputTranscription\":{\"text\":\"in\"}}",
    "{\"serverContent\":{\"outputTranscription\":{\"text\":\"out\",\"finished\":true},"
    "\"inputTranscription\":{\"text\":\"in\"},"
    "\"modelTurn\":{\"role\":\"model\",\"parts\":[{\"text\":\"a\"},{\"text\":\"b\"},"
    "{\"text\":\"hmm\",\"thought\":true},{\"inlineData\":{\"mimeType\":\"audio/pcm;rate=24000\","
    "\"data\":\"AA==\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"executableCode\":"
    "{\"language\":\"PYTHON\",\"code\":\"print(98689)\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"codeExecutionResult\":"
    "{\"outcome\":\"OUTCOME_OK\",\"output\":\"98689\\n\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"Once upon\"}]}}}",
    "{\"serverContent\":{\"interrupted\":true}}",
    "{\"setupComplete\":{\"sessionId\":\"abc\",\"voiceConsentSignature\":\"x\"}}",
    "{\"voiceActivity\":{\"type\":\"START\"},\"serverContent\":{\"turnComplete\":true}}",
    "{}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"fileData\":{}},{\"text\":5},"
    "{\"text\":\"ok\"}]},\"turnComplete\":\"yes\"}}",
    "{\"setupComplete\":{\"sessionId\":\"s-123\"}}",
    "{\"voiceActivity\":{\"voiceActivityType\":\"ACTIVITY_START\"}}",
    "{\"serverContent\":{\"interimInputTranscription\":{\"text\":\"turn on\"}}}",
    "{\"serverContent\":{\"inputTranscription\":{\"text\":\"turn on the\",\"finished\":true}}}",
    "{\"serverContent\":{\"turnComplete\":true,\"waitingForInput\":true}}",
    "not json",
    "{\"serverContent\":",
    "[1,2]",
    "\"text\"",
    "42",
    "",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\\u0000b\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"1\"},{\"text\":\"2\"},"
    "{\"text\":\"3\"}]},\"turnComplete\":true},\"goAway\":{\"timeLeft\":\"1s\"}}",
    /* the benchmark stream's (emulator/stream.c) */
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"0000042 bench text, \"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"audio/pcm;rate=24000\","
    "\"data\":\"AAABAAIAAwAEAAUABgAHAAgACQAKAAsADAANAA4ADwAQABEAEgATABQAFQAWABcAGAAZABoAGwAcAB0AHgAf\"}}]}}}",
    /* shapes at the fast path's edges */
    "{\"serverContent\":{}}",
    "{\"serverContent\":{\"modelTurn\":{}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[ ]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"thought\":true}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"data\":5}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"a\\u0000b\",\"data\":\"AA\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\",\"inlineData\":{\"data\":\"AA\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\",\"text\":\"b\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]},\"model_turn\":{\"parts\":[{\"text\":\"b\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}},\"server_content\":{}}",
    "{\"serverContent\":{\"model\\u0054urn\":{\"parts\":[{\"text\":\"a\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]},\"turnComplete\":true}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]},\"generationComplete\":true}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}},\"usageMetadata\":{\"x\":1}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}],\"extra\":1}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\",\"thoughtSignature\":\"x\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\",\"thought\":null}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\",\"thought\":1}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\",\"thought\":truex}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"},]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}},}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}}} x",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}}}{}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":{\"text\":\"a\"}}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}],\"role\":5}}}",
    "{\"serverContent\":{\"outputTranscription\":{}}}",
    "{\"serverContent\":{\"outputTranscription\":{\"finished\":false}}}",
    "{\"serverContent\":{\"outputTranscription\":{\"text\":\"a\",\"finished\":\"yes\"}}}",
    "{\"serverContent\":{\"outputTranscription\":{\"text\":null}}}",
    "{\"serverContent\":{\"outputTranscription\":\"a\"}}",
    "{\"serverContent\":{\"inputTranscription\":{\"text\":\"a\"},\"input_transcription\":{\"text\":\"b\"}}}",
    "{\"serverContent\":{\"interim_input_transcription\":{\"text\":\"a\",\"finished\":true},"
    "\"input_transcription\":{\"text\":\"b\"},\"output_transcription\":{\"text\":\"c\"},"
    "\"model_turn\":{\"parts\":[{\"text\":\"d\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"x\",\"mime_type\":\"y\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"data\":\"AA\",\"extra\":\"x\"}}]}}}",
    "{\"serverContent\":null}",
    "{\"serverContent\":[]}",
    "{\"server_Content\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}}}",
    "\xef\xbb\xbf{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}}}",
};

/* Strings as they stand in a message (escaped), good and bad. */
static const char *const FAST_STRINGS[] = {
    "Hello", "", " ", "a\\nb", "tab\\tq\\\"uote\\\\", "\\/slash\\/", "\\u0041", "\\u00e9", "\\u00E9",
    "\xc3\xa9 raw", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x98\x80 4-byte",
    "\\ud83d\\ude00", "\\uD83D\\uDE00", "\\u0000", "a\\u0000b", "\\u001f", "\\u001F",
    "\\u0008\\u0009\\u000a\\u000c\\u000d", "\\u000A", "\\b\\f\\n\\r\\t", "\\u007f", "\x7f raw",
    "\\u2028\\u2029", "\xe2\x80\xa8", "\\u0022\\u005c\\u005C\\u002f", "<>&='",
    "\\u003c\\u003e\\u0026\\u003d\\u0027", "\\u00", "\\u12", "\\ud800", "\\udc00", "\\ud800\\u0041",
    "\\ud800\\udbff", "\\uZZZZ", "\\x", "\\", "\x01", "\x1f", "\xff", "\xc0\x80", "\xc2", "\xed\xa0\x80",
    "\xe6\x97", "\xf4\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xe0\x9f\xbf", "\xef\xbf\xbf", "\xf4\x8f\xbf\xbf",
    "0123456789abcdef0123456789ABCDEF", "ends with backslash quote \\\"", "\\\\\\\\", "\\\\u0041",
    "AAABAAIAAwAEAAUABgAHAAgACQAKAAsADAANAA4ADwAQ/+/=", "AAAB\\/+/A==",
};

/* Templates: each "@" is replaced by the string (every "@" by the same one). */
static const char *const FAST_TEMPLATES[] = {
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\",\"thought\":true}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"thought\":false,\"text\":\"@\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"mimeType\":\"audio/pcm;rate=24000\",\"data\":\"@\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"inlineData\":{\"data\":\"AAAA\",\"mimeType\":\"@\"}}]}}}",
    "{\"server_content\":{\"model_turn\":{\"role\":\"model\",\"parts\":[{\"inline_data\":{\"mime_type\":\"@\",\"data\":\"@\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"role\":\"@\",\"parts\":[{\"text\":\"@\"},{\"text\":\"x\",\"thought\":false},"
    "{\"inlineData\":{\"data\":\"@\"}},{\"text\":\"@\",\"thought\":true},{\"text\":\"@\"}]}}}",
    "{\"serverContent\":{\"outputTranscription\":{\"text\":\"@\",\"finished\":true},"
    "\"inputTranscription\":{\"finished\":false,\"text\":\"@\"},\"interimInputTranscription\":{\"text\":\"@\"}}}",
    "{\"serverContent\":{\"output_transcription\":{\"text\":\"@\"}}}",
    "{\"serverContent\":{\"input_transcription\":{\"text\":\"@\",\"finished\":true}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\"}]},\"outputTranscription\":{\"text\":\"@\"}}}",
    "{\n  \"serverContent\": {\n    \"modelTurn\": {\n      \"parts\": [\n        {\n"
    "          \"text\": \"@\"\n        }\n      ]\n    }\n  }\n}\n",
    " \t\r\n{ \"serverContent\" : { \"modelTurn\" : { \"parts\" : [ { \"text\" : \"@\" } , "
    "{ \"text\" : \"@\" , \"thought\" : false } ] } } } \n",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\"}]},\"turnComplete\":true}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\"}]}},\"usageMetadata\":{\"t\":\"@\"}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\"}]},\"groundingMetadata\":{}}}",
    "{\"serverContent\":{\"model\\u0054urn\":{\"parts\":[{\"text\":\"@\"}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"@\",\"inlineData\":{\"data\":\"@\"}}]}}}",
    "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"@\":\"a\"}]}}}",
};

/* The template with every '@' replaced by str; malloc'd, *len set. */
static char *fast_fill(const char *tmpl, const char *str, size_t *len)
{
    size_t sl = strlen(str), n = 0;
    for (const char *t = tmpl; *t; t++)
        n += *t == '@' ? sl : 1;
    char *out = malloc(n + 1), *o = out;
    for (const char *t = tmpl; *t; t++) {
        if (*t == '@') {
            memcpy(o, str, sl);
            o += sl;
        } else
            *o++ = *t;
    }
    *o = '\0';
    *len = n;
    return out;
}

/* Calls fn on every message: the fixed ones, templates x strings, long and many-part ones. */
static void fast_corpus_each(void (*fn)(const char *msg, size_t len, void *ud), void *ud)
{
    for (size_t i = 0; i < sizeof FAST_FIXED / sizeof *FAST_FIXED; i++)
        fn(FAST_FIXED[i], strlen(FAST_FIXED[i]), ud);
    /* raw NUL bytes: in a string, after the message */
    static const char nul_in[] = "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\x00\"}]}}}";
    static const char nul_after[] = "{\"serverContent\":{\"modelTurn\":{\"parts\":[{\"text\":\"a\"}]}}}\x00";
    fn(nul_in, sizeof nul_in - 1, ud);
    fn(nul_after, sizeof nul_after - 1, ud);
    for (size_t t = 0; t < sizeof FAST_TEMPLATES / sizeof *FAST_TEMPLATES; t++)
        for (size_t s = 0; s < sizeof FAST_STRINGS / sizeof *FAST_STRINGS; s++) {
            size_t len;
            char *m = fast_fill(FAST_TEMPLATES[t], FAST_STRINGS[s], &len);
            fn(m, len, ud);
            free(m);
        }
    /* a long text (a whole paragraph in one part) and a long audio chunk */
    size_t big = 70000;
    char *s = malloc(big + 1);
    for (size_t i = 0; i < big; i++)
        s[i] = (char)("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ "[i % 65]);
    s[big] = '\0';
    memcpy(s + 1000, "\\n\\u00e9\\\"", 10);
    for (size_t t = 0; t < 4; t++) {
        size_t len;
        char *m = fast_fill(FAST_TEMPLATES[t], s, &len);
        fn(m, len, ud);
        free(m);
    }
    free(s);
    /* many parts: up to what the fast path takes (29 with no transcription), and past it */
    for (int nparts = 27; nparts <= 33; nparts++) {
        char m[8192];
        size_t n = (size_t)snprintf(m, sizeof m, "{\"serverContent\":{\"modelTurn\":{\"parts\":[");
        for (int i = 0; i < nparts; i++)
            n += (size_t)snprintf(m + n, sizeof m - n, "%s{\"text\":\"p%d\"}", i ? "," : "", i);
        n += (size_t)snprintf(m + n, sizeof m - n, "]}%s}}",
                              nparts % 2 ? ",\"outputTranscription\":{\"text\":\"o\"},"
                                           "\"inputTranscription\":{\"text\":\"i\"}" : "");
        fn(m, n, ud);
    }
}

#endif
