/* Strict parsing of Live API client messages (see strict.h).
 *
 * One static table per proto message drives both the validation and the snake_case ->
 * lowerCamelCase normalization. Reasons copy the wording of Google's proto3 JSON front end
 * (protobuf util/internal/proto_writer.cc, plus wordings seen in real Gemini errors):
 *   Invalid JSON payload received. Unknown name "x" at 'a.b[0]': Cannot find field.
 *   Invalid JSON payload received. Unknown name "x" at 'a': Proto field is not repeating, cannot start list.
 *   Invalid value at 'a.b' (TYPE_FLOAT), "hot"
 *   Invalid value at 'a' (b), Starting an object on a scalar field
 *   Invalid value at 'a' (oneof), oneof field 'data' is already set. Cannot set 'inlineData'
 * "Unknown name"/"Starting an object"/oneof errors name the enclosing message's path; "Invalid
 * value" names the field's own path. At the root the " at '...'" part is left out.
 *
 * These tables are written from the proto, NOT shared with proto/live.c, on purpose (strict.h);
 * tests/unit/test_codec_agreement.c checks the two agree. */
#include "emulator/strict.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REASON_MAX 123 /* a close frame carries at most 125 bytes, 2 of them the code */
#define MAX_DEPTH 100  /* protobuf's JSON parser gives up deeper than this */
#define CTX_BYTES 10   /* input shown each side of a syntax error; keeps the caret line under 123 */
#define PKG "google.ai.generativelanguage.v1beta."
#define JSON_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* ---- The schema ---------------------------------------------------------------------------- */

typedef enum {
    K_STRING, K_BOOL, K_INT32, K_INT64, K_FLOAT, K_DOUBLE, K_BYTES, K_ENUM,
    K_MSG,    /* nested message: msg */
    K_MAP,    /* map<string, msg>: keys are the client's, values are msg */
    K_STRUCT, /* FREEFORM google.protobuf.Struct: any JSON object, copied as is */
    K_VALUE,  /* FREEFORM google.protobuf.Value: any JSON value, copied as is */
} kind;

typedef struct enumdef {
    const char *type;          /* proto name for reasons, relative to PKG */
    const char *const *names;  /* index = proto number */
    size_t n;
} enumdef;

struct msgdef;

typedef struct field {
    const char *snake, *camel;
    kind k;
    bool repeated;
    const struct msgdef *msg; /* K_MSG, K_MAP */
    const enumdef *en;        /* K_ENUM */
    const char *oneof;        /* the field's oneof group; tables have at most one per message */
} field;

typedef struct msgdef {
    const char *type; /* proto name for reasons, relative to PKG unless it starts with "google." */
    const field *f;
    size_t n;
} msgdef;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define ENUMDEF(var, type, ...)                                                                  \
    static const char *const var##_names[] = {__VA_ARGS__};                                      \
    static const enumdef var = {type, var##_names, COUNT(var##_names)}
#define MSGDEF(var, type, fields) static const msgdef var = {type, fields, COUNT(fields)}
#define EMPTYMSG(var, type) static const msgdef var = {type, NULL, 0}

/* Field rows: scalar / repeated scalar / enum / repeated enum / message / repeated message /
 * map / oneof member message / oneof member scalar. FREEFORM fields are scalars of kind
 * K_STRUCT or K_VALUE. */
#define SC(s, c, k) {s, c, k, false, NULL, NULL, NULL}
#define SCR(s, c, k) {s, c, k, true, NULL, NULL, NULL}
#define EN(s, c, e) {s, c, K_ENUM, false, NULL, &e, NULL}
#define ENR(s, c, e) {s, c, K_ENUM, true, NULL, &e, NULL}
#define MS(s, c, m) {s, c, K_MSG, false, &m, NULL, NULL}
#define MSR(s, c, m) {s, c, K_MSG, true, &m, NULL, NULL}
#define MP(s, c, m) {s, c, K_MAP, false, &m, NULL, NULL}
#define OMS(s, c, m, o) {s, c, K_MSG, false, &m, NULL, o}
#define OSC(s, c, k, o) {s, c, k, false, NULL, NULL, o}

/* Enums, values in proto number order (v1beta protos; @google/genai 3.3.0 types). */
ENUMDEF(E_TYPE, "Type", "TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY",
        "OBJECT", "NULL");
ENUMDEF(E_MODALITY, "GenerationConfig.Modality", "MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO");
ENUMDEF(E_MEDIA_RES, "GenerationConfig.MediaResolution", "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH");
ENUMDEF(E_THINKING_LEVEL, "ThinkingConfig.ThinkingLevel", "THINKING_LEVEL_UNSPECIFIED", "LOW",
        "MEDIUM", "HIGH", "MINIMAL", "XHIGH");
ENUMDEF(E_BEHAVIOR, "FunctionDeclaration.Behavior", "UNSPECIFIED", "BLOCKING", "NON_BLOCKING");
ENUMDEF(E_SCHEDULING, "FunctionResponse.Scheduling", "SCHEDULING_UNSPECIFIED", "SILENT",
        "WHEN_IDLE", "INTERRUPT");
ENUMDEF(E_LANGUAGE, "ExecutableCode.Language", "LANGUAGE_UNSPECIFIED", "PYTHON");
ENUMDEF(E_OUTCOME, "CodeExecutionResult.Outcome", "OUTCOME_UNSPECIFIED", "OUTCOME_OK",
        "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED");
ENUMDEF(E_DYN_MODE, "DynamicRetrievalConfig.Mode", "MODE_UNSPECIFIED", "MODE_DYNAMIC");
ENUMDEF(E_START_SENS, "RealtimeInputConfig.AutomaticActivityDetection.StartSensitivity",
        "START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW");
ENUMDEF(E_END_SENS, "RealtimeInputConfig.AutomaticActivityDetection.EndSensitivity",
        "END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW");
ENUMDEF(E_ACTIVITY, "RealtimeInputConfig.ActivityHandling", "ACTIVITY_HANDLING_UNSPECIFIED",
        "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION");
ENUMDEF(E_TURN_COV, "RealtimeInputConfig.TurnCoverage", "TURN_COVERAGE_UNSPECIFIED",
        "TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT",
        "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO");

/* Messages are mutually recursive (Schema contains Schema): declare them all first. */
static const msgdef M_ROOT, M_SETUP, M_GEN, M_SPEECH, M_VOICE, M_PREBUILT, M_MULTI_SPK, M_SPK,
    M_THINKING, M_CONTENT, M_PART, M_BLOB, M_FILE, M_FCALL, M_FRESP, M_EXEC, M_EXEC_RES, M_TOOL,
    M_FDECL, M_SCHEMA, M_GSEARCH, M_INTERVAL, M_CODE_EXEC, M_GS_RETR, M_DYN_RETR, M_URL_CTX,
    M_RT_CFG, M_AAD, M_RESUME, M_CWC, M_SLIDING, M_TRANSCRIPT, M_PROACTIVE, M_HISTORY,
    M_CLIENT_CONTENT, M_RT_INPUT, M_ACT_START, M_ACT_END, M_TOOL_RESPONSE, M_CTX_UPDATE,
    M_CTX_TOOLS;

static const field F_ROOT[] = {
    OMS("setup", "setup", M_SETUP, "message_type"),
    OMS("client_content", "clientContent", M_CLIENT_CONTENT, "message_type"),
    OMS("realtime_input", "realtimeInput", M_RT_INPUT, "message_type"),
    OMS("tool_response", "toolResponse", M_TOOL_RESPONSE, "message_type"),
    OMS("context_update", "contextUpdate", M_CTX_UPDATE, "message_type"),
};
MSGDEF(M_ROOT, "BidiGenerateContentClientMessage", F_ROOT);

static const field F_SETUP[] = {
    SC("model", "model", K_STRING),
    MS("generation_config", "generationConfig", M_GEN),
    MS("system_instruction", "systemInstruction", M_CONTENT),
    MSR("tools", "tools", M_TOOL),
    MS("realtime_input_config", "realtimeInputConfig", M_RT_CFG),
    MS("session_resumption", "sessionResumption", M_RESUME),
    MS("context_window_compression", "contextWindowCompression", M_CWC),
    MS("input_audio_transcription", "inputAudioTranscription", M_TRANSCRIPT),
    MS("output_audio_transcription", "outputAudioTranscription", M_TRANSCRIPT),
    MS("proactivity", "proactivity", M_PROACTIVE),
    MS("history_config", "historyConfig", M_HISTORY),
};
MSGDEF(M_SETUP, "BidiGenerateContentSetup", F_SETUP);

static const field F_GEN[] = {
    SC("candidate_count", "candidateCount", K_INT32),
    SC("max_output_tokens", "maxOutputTokens", K_INT32),
    SC("temperature", "temperature", K_FLOAT),
    SC("top_p", "topP", K_FLOAT),
    SC("top_k", "topK", K_INT32),
    SC("seed", "seed", K_INT32),
    SC("presence_penalty", "presencePenalty", K_FLOAT),
    SC("frequency_penalty", "frequencyPenalty", K_FLOAT),
    ENR("response_modalities", "responseModalities", E_MODALITY),
    MS("speech_config", "speechConfig", M_SPEECH),
    MS("thinking_config", "thinkingConfig", M_THINKING),
    SC("enable_affective_dialog", "enableAffectiveDialog", K_BOOL),
    EN("media_resolution", "mediaResolution", E_MEDIA_RES),
};
MSGDEF(M_GEN, "GenerationConfig", F_GEN);

static const field F_SPEECH[] = {
    MS("voice_config", "voiceConfig", M_VOICE),
    MS("multi_speaker_voice_config", "multiSpeakerVoiceConfig", M_MULTI_SPK),
    SC("language_code", "languageCode", K_STRING),
};
MSGDEF(M_SPEECH, "SpeechConfig", F_SPEECH);

static const field F_VOICE[] = {
    OMS("prebuilt_voice_config", "prebuiltVoiceConfig", M_PREBUILT, "voice_config"),
};
MSGDEF(M_VOICE, "VoiceConfig", F_VOICE);

static const field F_PREBUILT[] = {SC("voice_name", "voiceName", K_STRING)};
MSGDEF(M_PREBUILT, "PrebuiltVoiceConfig", F_PREBUILT);

static const field F_MULTI_SPK[] = {MSR("speaker_voice_configs", "speakerVoiceConfigs", M_SPK)};
MSGDEF(M_MULTI_SPK, "MultiSpeakerVoiceConfig", F_MULTI_SPK);

static const field F_SPK[] = {
    SC("speaker", "speaker", K_STRING),
    MS("voice_config", "voiceConfig", M_VOICE),
};
MSGDEF(M_SPK, "SpeakerVoiceConfig", F_SPK);

static const field F_THINKING[] = {
    SC("include_thoughts", "includeThoughts", K_BOOL),
    SC("thinking_budget", "thinkingBudget", K_INT32),
    EN("thinking_level", "thinkingLevel", E_THINKING_LEVEL),
};
MSGDEF(M_THINKING, "ThinkingConfig", F_THINKING);

static const field F_CONTENT[] = {
    MSR("parts", "parts", M_PART),
    SC("role", "role", K_STRING),
};
MSGDEF(M_CONTENT, "Content", F_CONTENT);

static const field F_PART[] = {
    OSC("text", "text", K_STRING, "data"),
    OMS("inline_data", "inlineData", M_BLOB, "data"),
    OMS("function_call", "functionCall", M_FCALL, "data"),
    OMS("function_response", "functionResponse", M_FRESP, "data"),
    OMS("file_data", "fileData", M_FILE, "data"),
    OMS("executable_code", "executableCode", M_EXEC, "data"),
    OMS("code_execution_result", "codeExecutionResult", M_EXEC_RES, "data"),
    SC("thought", "thought", K_BOOL),
    SC("thought_signature", "thoughtSignature", K_BYTES),
};
MSGDEF(M_PART, "Part", F_PART);

static const field F_BLOB[] = {
    SC("mime_type", "mimeType", K_STRING),
    SC("data", "data", K_BYTES),
};
MSGDEF(M_BLOB, "Blob", F_BLOB);

static const field F_FILE[] = {
    SC("mime_type", "mimeType", K_STRING),
    SC("file_uri", "fileUri", K_STRING),
};
MSGDEF(M_FILE, "FileData", F_FILE);

static const field F_FCALL[] = {
    SC("id", "id", K_STRING),
    SC("name", "name", K_STRING),
    SC("args", "args", K_STRUCT),
};
MSGDEF(M_FCALL, "FunctionCall", F_FCALL);

static const field F_FRESP[] = {
    SC("id", "id", K_STRING),
    SC("name", "name", K_STRING),
    SC("response", "response", K_STRUCT),
    SC("will_continue", "willContinue", K_BOOL),
    EN("scheduling", "scheduling", E_SCHEDULING),
};
MSGDEF(M_FRESP, "FunctionResponse", F_FRESP);

static const field F_EXEC[] = {
    EN("language", "language", E_LANGUAGE),
    SC("code", "code", K_STRING),
};
MSGDEF(M_EXEC, "ExecutableCode", F_EXEC);

static const field F_EXEC_RES[] = {
    EN("outcome", "outcome", E_OUTCOME),
    SC("output", "output", K_STRING),
};
MSGDEF(M_EXEC_RES, "CodeExecutionResult", F_EXEC_RES);

static const field F_TOOL[] = {
    MSR("function_declarations", "functionDeclarations", M_FDECL),
    MS("google_search_retrieval", "googleSearchRetrieval", M_GS_RETR),
    MS("code_execution", "codeExecution", M_CODE_EXEC),
    MS("google_search", "googleSearch", M_GSEARCH),
    MS("url_context", "urlContext", M_URL_CTX),
};
MSGDEF(M_TOOL, "Tool", F_TOOL);

static const field F_FDECL[] = {
    SC("name", "name", K_STRING),
    SC("description", "description", K_STRING),
    MS("parameters", "parameters", M_SCHEMA),
    SC("parameters_json_schema", "parametersJsonSchema", K_VALUE),
    MS("response", "response", M_SCHEMA),
    SC("response_json_schema", "responseJsonSchema", K_VALUE),
    EN("behavior", "behavior", E_BEHAVIOR),
};
MSGDEF(M_FDECL, "FunctionDeclaration", F_FDECL);

static const field F_SCHEMA[] = {
    EN("type", "type", E_TYPE),
    SC("format", "format", K_STRING),
    SC("title", "title", K_STRING),
    SC("description", "description", K_STRING),
    SC("nullable", "nullable", K_BOOL),
    SCR("enum", "enum", K_STRING),
    MS("items", "items", M_SCHEMA),
    SC("max_items", "maxItems", K_INT64),
    SC("min_items", "minItems", K_INT64),
    MP("properties", "properties", M_SCHEMA),
    SCR("required", "required", K_STRING),
    SC("min_properties", "minProperties", K_INT64),
    SC("max_properties", "maxProperties", K_INT64),
    SC("min_length", "minLength", K_INT64),
    SC("max_length", "maxLength", K_INT64),
    SC("pattern", "pattern", K_STRING),
    SC("example", "example", K_VALUE),
    MSR("any_of", "anyOf", M_SCHEMA),
    SCR("property_ordering", "propertyOrdering", K_STRING),
    SC("default", "default", K_VALUE),
    SC("minimum", "minimum", K_DOUBLE),
    SC("maximum", "maximum", K_DOUBLE),
};
MSGDEF(M_SCHEMA, "Schema", F_SCHEMA);
/* walk_msg() tracks fields already seen in a 64-bit mask. */
_Static_assert(COUNT(F_SCHEMA) <= 64, "walk_msg seen-mask holds 64 fields");

static const field F_GSEARCH[] = {MS("time_range_filter", "timeRangeFilter", M_INTERVAL)};
MSGDEF(M_GSEARCH, "Tool.GoogleSearch", F_GSEARCH);

/* google.type.Interval; the timestamps are RFC 3339 strings. */
static const field F_INTERVAL[] = {
    SC("start_time", "startTime", K_STRING),
    SC("end_time", "endTime", K_STRING),
};
MSGDEF(M_INTERVAL, "google.type.Interval", F_INTERVAL);

EMPTYMSG(M_CODE_EXEC, "CodeExecution");
EMPTYMSG(M_URL_CTX, "UrlContext");

static const field F_GS_RETR[] = {
    MS("dynamic_retrieval_config", "dynamicRetrievalConfig", M_DYN_RETR),
};
MSGDEF(M_GS_RETR, "GoogleSearchRetrieval", F_GS_RETR);

static const field F_DYN_RETR[] = {
    EN("mode", "mode", E_DYN_MODE),
    SC("dynamic_threshold", "dynamicThreshold", K_FLOAT),
};
MSGDEF(M_DYN_RETR, "DynamicRetrievalConfig", F_DYN_RETR);

static const field F_RT_CFG[] = {
    MS("automatic_activity_detection", "automaticActivityDetection", M_AAD),
    EN("activity_handling", "activityHandling", E_ACTIVITY),
    EN("turn_coverage", "turnCoverage", E_TURN_COV),
};
MSGDEF(M_RT_CFG, "RealtimeInputConfig", F_RT_CFG);

static const field F_AAD[] = {
    SC("disabled", "disabled", K_BOOL),
    EN("start_of_speech_sensitivity", "startOfSpeechSensitivity", E_START_SENS),
    SC("prefix_padding_ms", "prefixPaddingMs", K_INT32),
    EN("end_of_speech_sensitivity", "endOfSpeechSensitivity", E_END_SENS),
    SC("silence_duration_ms", "silenceDurationMs", K_INT32),
};
MSGDEF(M_AAD, "RealtimeInputConfig.AutomaticActivityDetection", F_AAD);

static const field F_RESUME[] = {
    SC("handle", "handle", K_STRING),
    SC("transparent", "transparent", K_BOOL),
};
MSGDEF(M_RESUME, "SessionResumptionConfig", F_RESUME);

static const field F_CWC[] = {
    SC("trigger_tokens", "triggerTokens", K_INT64),
    OMS("sliding_window", "slidingWindow", M_SLIDING, "compression_mechanism"),
};
MSGDEF(M_CWC, "ContextWindowCompressionConfig", F_CWC);

static const field F_SLIDING[] = {SC("target_tokens", "targetTokens", K_INT64)};
MSGDEF(M_SLIDING, "ContextWindowCompressionConfig.SlidingWindow", F_SLIDING);

EMPTYMSG(M_TRANSCRIPT, "AudioTranscriptionConfig");

static const field F_PROACTIVE[] = {SC("proactive_audio", "proactiveAudio", K_BOOL)};
MSGDEF(M_PROACTIVE, "ProactivityConfig", F_PROACTIVE);

static const field F_HISTORY[] = {
    SC("initial_history_in_client_content", "initialHistoryInClientContent", K_BOOL),
};
MSGDEF(M_HISTORY, "HistoryConfig", F_HISTORY);

static const field F_CLIENT_CONTENT[] = {
    MSR("turns", "turns", M_CONTENT),
    SC("turn_complete", "turnComplete", K_BOOL),
};
MSGDEF(M_CLIENT_CONTENT, "BidiGenerateContentClientContent", F_CLIENT_CONTENT);

static const field F_RT_INPUT[] = {
    MSR("media_chunks", "mediaChunks", M_BLOB),
    MS("audio", "audio", M_BLOB),
    SC("audio_stream_end", "audioStreamEnd", K_BOOL),
    MS("video", "video", M_BLOB),
    SC("text", "text", K_STRING),
    MS("activity_start", "activityStart", M_ACT_START),
    MS("activity_end", "activityEnd", M_ACT_END),
};
MSGDEF(M_RT_INPUT, "BidiGenerateContentRealtimeInput", F_RT_INPUT);

EMPTYMSG(M_ACT_START, "BidiGenerateContentRealtimeInput.ActivityStart");
EMPTYMSG(M_ACT_END, "BidiGenerateContentRealtimeInput.ActivityEnd");

static const field F_TOOL_RESPONSE[] = {
    MSR("function_responses", "functionResponses", M_FRESP),
};
MSGDEF(M_TOOL_RESPONSE, "BidiGenerateContentToolResponse", F_TOOL_RESPONSE);

/* contextUpdate is SDK 3.x only and its server side is unverified: both fields optional, an
 * empty body is fine, but what is there is typed like setup's. */
static const field F_CTX_UPDATE[] = {
    MS("system_instruction", "systemInstruction", M_CONTENT),
    MS("tools", "tools", M_CTX_TOOLS),
};
MSGDEF(M_CTX_UPDATE, "BidiGenerateContentClientContextUpdate", F_CTX_UPDATE);

static const field F_CTX_TOOLS[] = {MSR("tools", "tools", M_TOOL)};
MSGDEF(M_CTX_TOOLS, "BidiGenerateContentClientContextUpdate.Tools", F_CTX_TOOLS);

/* ---- Reasons ------------------------------------------------------------------------------- */

/* The proto path of the value being walked, e.g. "setup.tools[0].function_declarations[1]".
 * Longer paths are truncated: reasons are cut at 123 bytes anyway. */
typedef struct path {
    char b[512];
    size_t n;
} path;

typedef struct ctx {
    path p;
    char *reason;
    size_t reasonlen;
} ctx;

__attribute__((format(printf, 2, 3))) static size_t path_add(path *p, const char *fmt, ...)
{
    size_t old = p->n;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(p->b + p->n, sizeof p->b - p->n, fmt, ap);
    va_end(ap);
    if (w > 0)
        p->n = p->n + (size_t)w < sizeof p->b ? p->n + (size_t)w : sizeof p->b - 1;
    return old;
}

static size_t path_field(path *p, const char *snake)
{
    return p->n ? path_add(p, ".%s", snake) : path_add(p, "%s", snake);
}

static void path_cut(path *p, size_t n)
{
    p->n = n;
    p->b[n] = '\0';
}

/* Largest n' <= n such that s[0..n') does not end inside a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void set_reason(ctx *c, const char *msg)
{
    if (!c->reason || c->reasonlen == 0)
        return;
    size_t n = strlen(msg), max = c->reasonlen - 1 < REASON_MAX ? c->reasonlen - 1 : REASON_MAX;
    if (n > max)
        n = utf8_cut(msg, max); /* msg[max] exists since n > max */
    memcpy(c->reason, msg, n);
    c->reason[n] = '\0';
}

/* Always returns NULL so walkers can `return fail(...)`. */
__attribute__((format(printf, 2, 3))) static json_t *fail(ctx *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    set_reason(c, buf);
    return NULL;
}

/* Names cut at 300 bytes: that is past byte 123, so the final cut always comes first. */
static json_t *fail_name(ctx *c, size_t plen, const char *name, const char *why)
{
    if (plen == 0)
        return fail(c, "Invalid JSON payload received. Unknown name \"%.300s\": %s", name, why);
    return fail(c, "Invalid JSON payload received. Unknown name \"%.300s\" at '%.*s': %s", name,
                (int)plen, c->p.b, why);
}

static json_t *fail_value(ctx *c, size_t plen, const char *type, const char *what)
{
    if (plen == 0)
        return fail(c, "Invalid value (%s), %s", type, what);
    return fail(c, "Invalid value at '%.*s' (%s), %s", (int)plen, c->p.b, type, what);
}

static const char *type_url(const char *type, char *b, size_t n)
{
    snprintf(b, n, "type.googleapis.com/%s%s", strncmp(type, "google.", 7) ? PKG : "", type);
    return b;
}

/* Shortest %g that reads back as d, like protobuf's SimpleDtoa. */
static void fmt_double(double d, char *b, size_t n)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(b, n, "%.*g", prec, d);
        if (strtod(b, NULL) == d)
            return;
    }
}

/* A JSON scalar as the service quotes it in "Invalid value" reasons. */
static const char *render(const json_t *v, char *b, size_t n)
{
    switch (json_typeof(v)) {
    case JSON_STRING: snprintf(b, n, "\"%.300s\"", json_string_value(v)); break;
    case JSON_INTEGER: snprintf(b, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: fmt_double(json_real_value(v), b, n); break;
    case JSON_TRUE: snprintf(b, n, "true"); break;
    case JSON_FALSE: snprintf(b, n, "false"); break;
    case JSON_NULL: snprintf(b, n, "null"); break;
    case JSON_OBJECT: snprintf(b, n, "{}"); break;
    case JSON_ARRAY: snprintf(b, n, "[]"); break;
    }
    return b;
}

static json_t *bad_value(ctx *c, const char *type, const json_t *v)
{
    char b[400];
    return fail_value(c, c->p.n, type, render(v, b, sizeof b));
}

/* ---- Scalars ------------------------------------------------------------------------------- */

/* An integer from a JSON integer, an integral real, or a decimal string (int64 travels as a
 * string in proto3 JSON). */
static bool to_int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= -9.2e18 && d <= 9.2e18) || (double)(long long)d != d) /* range first: UB */
            return false;
        *out = (long long)d;
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    size_t i = s[0] == '-';
    if (len == i || len > 20 || strlen(s) != len) /* empty, too long, or holding a NUL */
        return false;
    for (size_t j = i; j < len; j++)
        if (s[j] < '0' || s[j] > '9')
            return false;
    errno = 0;
    *out = strtoll(s, NULL, 10);
    return errno == 0;
}

/* A double from a JSON number or a numeric string; *keep is set for the proto3 JSON spellings
 * of non-finite values, which jansson cannot hold as numbers. */
static bool to_double(const json_t *v, double *out, bool *keep)
{
    *keep = false;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    if (!strcmp(s, "NaN") || !strcmp(s, "Infinity") || !strcmp(s, "-Infinity")) {
        *keep = true;
        return true;
    }
    /* Plain decimal only: strtod alone would also take hex, "inf" and leading spaces. */
    if (!*s || strlen(s) != json_string_length(v) || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return *end == '\0' && errno == 0 && isfinite(*out);
}

/* protobuf's safe_strtob spellings. */
static int to_bool(const json_t *v)
{
    static const char *const yes[] = {"true", "t", "yes", "y", "1"};
    static const char *const no[] = {"false", "f", "no", "n", "0"};
    if (json_is_boolean(v))
        return json_is_true(v);
    if (!json_is_string(v))
        return -1;
    for (size_t i = 0; i < COUNT(yes); i++) {
        if (!strcasecmp(json_string_value(v), yes[i]))
            return 1;
        if (!strcasecmp(json_string_value(v), no[i]))
            return 0;
    }
    return -1;
}

/* Standard or URL-safe alphabet, padding optional (what the service's decoder takes). */
static bool base64_ok(const char *s, size_t n)
{
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
                  ch == '+' || ch == '/' || ch == '-' || ch == '_';
        if (!ok)
            return false;
    }
    return n % 4 != 1 && (pad == 0 || (n + pad) % 4 == 0);
}

/* Exact name, then protobuf's case-insensitive form ('-' for '_'), then the number. */
static int enum_find(const enumdef *e, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        return n >= 0 && (size_t)n < e->n ? (int)n : -1;
    }
    if (!json_is_string(v))
        return -1;
    const char *s = json_string_value(v);
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->names[i], s))
            return (int)i;
    for (size_t i = 0; i < e->n; i++) {
        const char *t = e->names[i];
        size_t j = 0;
        for (; s[j] && t[j]; j++) {
            char u = s[j] == '-' ? '_' : (s[j] >= 'a' && s[j] <= 'z') ? (char)(s[j] - 32) : s[j];
            if (u != t[j])
                break;
        }
        if (!s[j] && !t[j])
            return (int)i;
    }
    return -1;
}

static json_t *walk_scalar(ctx *c, const field *f, json_t *v)
{
    char tb[160];
    switch (f->k) {
    case K_STRING:
        return json_is_string(v) ? json_incref(v) : bad_value(c, "TYPE_STRING", v);
    case K_BOOL: {
        int b = to_bool(v);
        return b < 0 ? bad_value(c, "TYPE_BOOL", v) : json_boolean(b);
    }
    case K_INT32:
    case K_INT64: {
        long long x;
        bool ok = to_int(v, &x) && (f->k == K_INT64 || (x >= INT32_MIN && x <= INT32_MAX));
        return ok ? json_integer(x) : bad_value(c, f->k == K_INT32 ? "TYPE_INT32" : "TYPE_INT64", v);
    }
    case K_FLOAT:
    case K_DOUBLE: {
        double d = 0;
        bool keep;
        const char *t = f->k == K_FLOAT ? "TYPE_FLOAT" : "TYPE_DOUBLE";
        if (!to_double(v, &d, &keep) || (f->k == K_FLOAT && !keep && (d > FLT_MAX || d < -FLT_MAX)))
            return bad_value(c, t, v);
        return keep ? json_incref(v) : json_real(d);
    }
    case K_BYTES:
        if (!json_is_string(v))
            return bad_value(c, "TYPE_BYTES", v);
        if (!base64_ok(json_string_value(v), json_string_length(v))) {
            char b[400];
            snprintf(b, sizeof b, "Base64 decoding failed for %s", render(v, tb, sizeof tb));
            return fail_value(c, c->p.n, "TYPE_BYTES", b);
        }
        return json_incref(v);
    case K_ENUM: {
        int i = enum_find(f->en, v);
        if (i < 0)
            return bad_value(c, type_url(f->en->type, tb, sizeof tb), v);
        return json_string(f->en->names[i]); /* canonical spelling for the server */
    }
    default:
        return NULL; /* not a scalar: walk_one() handles it */
    }
}

/* ---- Messages ------------------------------------------------------------------------------ */

/* The failure helpers below hold the scratch buffers, so that the recursive walkers' frames
 * stay small: nesting goes MAX_DEPTH deep. */

static json_t *fail_type(ctx *c, const char *type, const json_t *v)
{
    char tb[160];
    return bad_value(c, type_url(type, tb, sizeof tb), v);
}

static json_t *fail_map(ctx *c, const field *f, const json_t *v)
{
    char tb[160], b[400];
    snprintf(tb, sizeof tb, "map<string, %s>", f->msg->type);
    return fail_value(c, c->p.n, tb, render(v, b, sizeof b));
}

static json_t *fail_oneof(ctx *c, size_t plen, const char *oneof, const char *key)
{
    char b[200];
    snprintf(b, sizeof b, "oneof field '%s' is already set. Cannot set '%.100s'", oneof, key);
    return fail_value(c, plen, "oneof", b);
}

static json_t *fail_dup(ctx *c, size_t plen, const char *key)
{
    if (plen == 0)
        return fail(c, "Invalid JSON payload received. Duplicate name \"%.300s\": Field already set.",
                    key);
    return fail(c, "Invalid JSON payload received. Duplicate name \"%.300s\" at '%.*s': Field already set.",
                key, (int)plen, c->p.b);
}

static json_t *walk_msg(ctx *c, const msgdef *m, json_t *obj);
static json_t *walk_map(ctx *c, const field *f, json_t *obj);

/* One value of field f (an element if f is repeated). plen: length of the enclosing message's
 * path, where "Unknown name" style errors point; c->p is the value's own path. */
static json_t *walk_one(ctx *c, const field *f, const char *key, json_t *v, size_t plen)
{
    if (json_is_array(v) && f->k != K_VALUE) /* a list inside a list */
        return fail_name(c, plen, key, "Proto field is not repeating, cannot start list.");
    switch (f->k) {
    case K_MSG:
        return json_is_object(v) ? walk_msg(c, f->msg, v) : fail_type(c, f->msg->type, v);
    case K_MAP:
        return json_is_object(v) ? walk_map(c, f, v) : fail_map(c, f, v);
    case K_STRUCT:
        return json_is_object(v) ? json_incref(v) : fail_type(c, "google.protobuf.Struct", v);
    case K_VALUE:
        return json_incref(v);
    default:
        if (json_is_object(v))
            return fail_value(c, plen, f->snake, "Starting an object on a scalar field");
        return walk_scalar(c, f, v);
    }
}

/* map<string, Schema>: keys are the client's own; entry i is reported as "properties[i].value"
 * like the service does. */
static json_t *walk_map(ctx *c, const field *f, json_t *obj)
{
    const field vf = {f->snake, f->camel, K_MSG, false, f->msg, NULL, NULL};
    json_t *out = json_object(), *e;
    const char *k;
    size_t i = 0;
    json_object_foreach(obj, k, e) {
        size_t mark = path_add(&c->p, "[%zu]", i++), entry = c->p.n;
        path_add(&c->p, ".value");
        json_t *ne = walk_one(c, &vf, k, e, entry);
        path_cut(&c->p, mark);
        if (!ne) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, k, ne);
    }
    return out;
}

static json_t *walk_list(ctx *c, const field *f, const char *key, json_t *arr, size_t plen)
{
    json_t *out = json_array(), *e;
    size_t i;
    json_array_foreach(arr, i, e) {
        size_t mark = path_add(&c->p, "[%zu]", i);
        json_t *ne = walk_one(c, f, key, e, plen);
        path_cut(&c->p, mark);
        if (!ne) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, ne);
    }
    return out;
}

static json_t *walk_field(ctx *c, const field *f, const char *key, json_t *v, size_t plen)
{
    size_t mark = path_field(&c->p, f->snake);
    json_t *r;
    if (f->repeated && json_is_array(v)) {
        r = walk_list(c, f, key, v, plen);
    } else if (f->repeated) {
        /* protobuf takes a lone value for a repeated field as a one-element list */
        json_t *one = walk_one(c, f, key, v, plen);
        r = one ? json_array() : NULL;
        if (r)
            json_array_append_new(r, one);
    } else {
        r = walk_one(c, f, key, v, plen);
    }
    path_cut(&c->p, mark);
    return r;
}

static const field *find_field(const msgdef *m, const char *key, size_t *idx)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!strcmp(m->f[i].snake, key) || !strcmp(m->f[i].camel, key)) {
            *idx = i;
            return &m->f[i];
        }
    }
    return NULL;
}

/* Validates obj against m and returns a copy with camelCase keys. Keys are visited in document
 * order (jansson keeps insertion order), so the first error is the first in the text; the checks
 * on one key come in protobuf's order: name, list, oneof. */
static json_t *walk_msg(ctx *c, const msgdef *m, json_t *obj)
{
    size_t plen = c->p.n;
    uint64_t seen = 0;
    const char *oneof_taken = NULL; /* tables have at most one oneof group per message */
    json_t *out = json_object(), *v, *nv = out;
    const char *key;
    json_object_foreach(obj, key, v) {
        size_t i = 0;
        const field *f = find_field(m, key, &i);
        if (!f)
            nv = fail_name(c, plen, key, "Cannot find field.");
        else if (json_is_null(v) && f->k != K_VALUE)
            continue; /* proto3 JSON: null means "not set" */
        else if (json_is_array(v) && !f->repeated && f->k != K_VALUE)
            nv = fail_name(c, plen, key, "Proto field is not repeating, cannot start list.");
        else if (f->oneof && oneof_taken)
            nv = fail_oneof(c, plen, oneof_taken, key);
        else if (seen & (UINT64_C(1) << i)) /* both spellings of one field */
            nv = fail_dup(c, plen, key);
        else
            nv = walk_field(c, f, key, v, plen);
        if (!nv) {
            json_decref(out);
            return NULL;
        }
        seen |= UINT64_C(1) << i;
        if (f->oneof)
            oneof_taken = f->oneof;
        json_object_set_new(out, f->camel, nv);
    }
    return out;
}

/* ---- Whole messages ------------------------------------------------------------------------ */

/* jansson allows 2048 levels; the service stops at 100. Bounded recursion: <= MAX_DEPTH + 1. */
static int depth_check(ctx *c, json_t *v, int depth, const char *key)
{
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (depth > MAX_DEPTH) {
        fail(c, "Invalid JSON payload received. Message too deep. Max recursion depth reached for key '%.200s'",
             key);
        return -1;
    }
    json_t *e;
    if (json_is_array(v)) {
        size_t i;
        json_array_foreach(v, i, e) {
            if (depth_check(c, e, depth + 1, key) < 0)
                return -1;
        }
        return 0;
    }
    const char *k;
    json_object_foreach(v, k, e) {
        if (depth_check(c, e, depth + 1, k) < 0)
            return -1;
    }
    return 0;
}

/* Maps jansson's error texts onto the service's parser wordings. */
static const char *syntax_message(const json_error_t *je)
{
    static const struct {
        const char *jansson, *google;
    } map[] = {
        {"':' expected", "Expected : between key:value pair."},
        {"'}' expected", "Expected , or } after key:value pair."},
        {"']' expected", "Expected , or ] after array value."},
        {"string or '}' expected", "Expected an object key or }."},
        {"duplicate object key", "Duplicate key."},
    };
    switch (json_error_code(je)) {
    case json_error_invalid_utf8: return "Encountered non UTF-8 code points.";
    case json_error_premature_end_of_input: return "Unexpected end of string.";
    case json_error_end_of_input_expected: return "Parsing terminated before end of input.";
    case json_error_numeric_overflow: return "Number out of range.";
    default: break;
    }
    if (strstr(je->text, "near end of file"))
        return "Unexpected end of string.";
    for (size_t i = 0; i < COUNT(map); i++)
        if (!strncmp(je->text, map[i].jansson, strlen(map[i].jansson)))
            return map[i].google;
    return "Unexpected token.";
}

/* "<message>\n<input around the error>\n<caret>", like protobuf's JSON parser, with the input
 * made printable ASCII so the reason stays valid UTF-8 and the caret lines up. */
static void json_fail(ctx *c, const char *data, size_t len, const json_error_t *je)
{
    if (json_error_code(je) == json_error_stack_overflow) {
        fail(c, "Invalid JSON payload received. Message too deep. Max recursion depth reached.");
        return;
    }
    /* jansson's position is just past the offending token, or at the bad byte for UTF-8. */
    size_t pos = je->position > 0 ? (size_t)je->position : 0;
    if (json_error_code(je) != json_error_invalid_utf8 && pos > 0)
        pos--;
    if (pos > len)
        pos = len;
    size_t from = pos > CTX_BYTES ? pos - CTX_BYTES : 0;
    size_t to = len - pos > CTX_BYTES ? pos + CTX_BYTES : len;
    char snip[2 * CTX_BYTES + 1], caret[CTX_BYTES + 2];
    size_t n = 0;
    for (size_t i = from; i < to; i++) {
        unsigned char ch = (unsigned char)data[i];
        snip[n++] = ch >= 0x80 ? '?' : (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    snip[n] = '\0';
    memset(caret, ' ', pos - from);
    caret[pos - from] = '^';
    caret[pos - from + 1] = '\0';
    fail(c, "Invalid JSON payload received. %s\n%s\n%s", syntax_message(je), snip, caret);
}

static const struct {
    const char *camel;
    emu_msg_kind kind;
} KINDS[] = {
    {"setup", EMU_MSG_SETUP},
    {"clientContent", EMU_MSG_CLIENT_CONTENT},
    {"realtimeInput", EMU_MSG_REALTIME_INPUT},
    {"toolResponse", EMU_MSG_TOOL_RESPONSE},
    {"contextUpdate", EMU_MSG_CONTEXT_UPDATE},
};

/* The checks that need the whole (normalized) body. */
static int check_body(ctx *c, emu_msg_kind k, json_t *body)
{
    if (k == EMU_MSG_SETUP) {
        const char *model = json_string_value(json_object_get(body, "model"));
        if (!model || !*model) {
            fail(c, "Request contains an invalid argument: setup.model is required.");
            return -1;
        }
    }
    if (k == EMU_MSG_REALTIME_INPUT && json_object_size(body) != 1) {
        /* The notes: one field per realtimeInput message. */
        const char *names[2] = {"", ""};
        size_t n = 0, idx;
        const char *key;
        json_t *v;
        json_object_foreach(body, key, v) {
            if (n < 2) /* keys are camelCase here; reasons speak snake_case */
                names[n++] = find_field(&M_RT_INPUT, key, &idx)->snake;
        }
        if (n == 0)
            fail(c, "Request contains an invalid argument: realtime_input has no field set.");
        else
            fail(c, "Request contains an invalid argument: realtime_input sets more than one of "
                    "its fields (%s, %s).", names[0], names[1]);
        return -1;
    }
    return 0;
}

static emu_msg_kind parse_root(ctx *c, json_t *root, json_t **body)
{
    if (depth_check(c, root, 1, "") < 0)
        return EMU_MSG_INVALID;
    if (!json_is_object(root)) {
        fail_name(c, 0, "", "Root element must be a message.");
        return EMU_MSG_INVALID;
    }
    json_t *norm = walk_msg(c, &M_ROOT, root);
    if (!norm)
        return EMU_MSG_INVALID;
    emu_msg_kind k = EMU_MSG_INVALID;
    const char *key;
    json_t *v;
    json_object_foreach(norm, key, v) { /* at most one: message_type is a oneof */
        for (size_t i = 0; i < COUNT(KINDS); i++)
            if (!strcmp(KINDS[i].camel, key))
                k = KINDS[i].kind;
        *body = json_incref(v);
    }
    json_decref(norm);
    if (k == EMU_MSG_INVALID) {
        fail(c, "Request contains an invalid argument: empty client message.");
        return EMU_MSG_INVALID;
    }
    if (check_body(c, k, *body) < 0) {
        json_decref(*body);
        *body = NULL;
        return EMU_MSG_INVALID;
    }
    return k;
}

emu_msg_kind emu_parse_client_msg(const char *data, size_t len, json_t **out, char *reason,
                                  size_t reasonlen)
{
    ctx c = {.reason = reason, .reasonlen = reasonlen};
    json_t *body = NULL;
    emu_msg_kind k = EMU_MSG_INVALID;
    if (reason && reasonlen)
        reason[0] = '\0';
    if (!data)
        len = 0;

    json_error_t je;
    json_t *root = json_loadb(data ? data : "", len, JSON_FLAGS, &je);
    if (!root)
        json_fail(&c, data ? data : "", len, &je);
    else
        k = parse_root(&c, root, &body);
    json_decref(root);
    if (out)
        *out = body;
    else
        json_decref(body);
    return k;
}

const char *emu_msg_kind_name(emu_msg_kind k)
{
    for (size_t i = 0; i < COUNT(KINDS); i++)
        if (KINDS[i].kind == k)
            return KINDS[i].camel;
    return "invalid";
}
