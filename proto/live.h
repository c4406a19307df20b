/* The Gemini Live API (BidiGenerateContent) message codec, daemon side. Pure code: no sockets.
 * Wire notes: the project's shared protocol notes (live-api-protocol.md beside the repository);
 * the facts the code relies on are restated where they are used.
 *
 * Builders produce client messages: compact JSON, lowerCamelCase, and only fields the real API
 * knows (the service closes the socket with 1007 on one unknown field). User-supplied pieces
 * (generation_config, system_instruction, tools, function declarations) are normalized here:
 * snake_case or camelCase in, camelCase out, checked against a table of the fields the API knows,
 * so a typo becomes a clear error for the local client instead of a 1007 on the session.
 *
 * The parser turns one server message (JSON, camelCase or snake_case) into a sequence of typed
 * events delivered to a callback.
 *
 * Errors (common/err.h): "bad_request" for bad user-supplied config, "bad_server_json" for
 * server messages that are not a JSON object. Out of memory aborts (common/xalloc.h).
 *
 * The field tables in live.c are independent of the emulator's (emulator/strict.c) ON PURPOSE:
 * the emulator is a second, separate reading of the API, so it can catch bugs here. Do not share
 * them. tests/unit/test_codec_agreement.c proves the two agree (and lists where they knowingly
 * differ); a field added here belongs there too. */
#ifndef GL_PROTO_LIVE_H
#define GL_PROTO_LIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* ---- Names ------------------------------------------------------------------------------- */

/* proto3 JSON name of a field: "function_declarations" -> "functionDeclarations" (every '_' is
 * dropped and the next letter upper-cased; camelCase input comes back unchanged).
 * Writes at most outlen bytes including the NUL; returns the length it needed (like snprintf). */
size_t live_snake_to_camel(const char *in, char *out, size_t outlen);
/* Same, malloc'd (free it); never NULL. */
char *live_camel(const char *in);
/* Deep copy of v with EVERY object key converted to camelCase (no exceptions; for data known to
 * hold no free-form maps). New reference. */
json_t *live_json_camel_keys(const json_t *v);

/* ---- Durations --------------------------------------------------------------------------- */

/* proto3 JSON Duration -> milliseconds: "50s" -> 50000, "1.5s" -> 1500, "0.0001s" -> 0
 * (fractions truncate). Returns -1 if s is NULL or not of the form DIGITS[.DIGITS]s. */
long long live_parse_duration_ms(const char *s);

/* ---- Client messages --------------------------------------------------------------------- */

typedef enum { LIVE_TEXT = 0, LIVE_AUDIO = 1 } live_modality;

/* "TEXT" / "AUDIO" (any case) -> *out; else -1 with a bad_request message naming `what`. */
int live_modality_parse(const char *s, live_modality *out, const char *what, gl_err *err);
const char *live_modality_name(live_modality m); /* "TEXT" / "AUDIO" */

/* A user generation_config's first response modality (response_modalities or
 * responseModalities), if it states one: returns 1 and sets *out; 0 if absent; -1 if invalid. */
int live_config_modality(const json_t *generation_config, live_modality *out, gl_err *err);

/* Everything the daemon puts in a setup. All pointers are BORROWED for the duration of the call. */
typedef struct live_setup {
    const char *model;                 /* required: "NAME" (gets "models/") or "models/NAME" */
    live_modality modality;            /* always written as generationConfig.responseModalities;
                                          it REPLACES any responseModalities in generation_config */
    const json_t *generation_config;   /* NULL or object, snake or camel (see live_normalize_*) */
    const json_t *system_instruction;  /* NULL, a string, or a Content object {parts:[..],role?} */
    const json_t *tools;               /* NULL or array of Tool objects, snake or camel */
    bool manual_activity;              /* realtimeInputConfig.automaticActivityDetection.disabled
                                          = true (client sends activityStart/End itself) */
    const json_t *activity_detection;  /* NULL, or automaticActivityDetection's settings (snake or
                                          camel: live_normalize_activity_detection) */
    bool resumption;                   /* "sessionResumption":{} (ask for handles) */
    const char *resume_handle;         /* with resumption: {"handle":..} to resume; NULL = new */
    bool compression;                  /* "contextWindowCompression":{"slidingWindow":{}} */
    long long compression_trigger_tokens; /* > 0: triggerTokens (written as a JSON string) */
    long long compression_target_tokens;  /* > 0: slidingWindow.targetTokens (JSON string) */
    bool input_transcription;          /* "inputAudioTranscription":{} */
    bool output_transcription;         /* "outputAudioTranscription":{} */
} live_setup;

/* {"setup":{...}} as a malloc'd compact JSON string (free it), or NULL and err:
 * bad_request for a missing model or a bad user-supplied piece, with the path in the message
 * (e.g. unknown field "tools[0].function_declarations[0].paramters"). Key order: model,
 * generationConfig (responseModalities first), systemInstruction, tools, realtimeInputConfig,
 * sessionResumption, contextWindowCompression, inputAudioTranscription, outputAudioTranscription.
 * Optional parts are omitted when unset. */
char *live_build_setup(const live_setup *cfg, gl_err *err);

/* Normalizers for user-supplied pieces: snake/camel -> camel, unknown fields and wrong JSON types
 * rejected with bad_request naming the path (`where` is the path prefix for messages, e.g.
 * "generation_config"). Free-form values (Schema `properties` NAMES, enum/default/example,
 * parametersJsonSchema, responseJsonSchema) are copied untouched. *out is a NEW reference.
 * live_normalize_tools also checks function names (live_function_name_ok) and rejects a name
 * declared twice. */
int live_normalize_generation_config(const json_t *in, const char *where, json_t **out, gl_err *err);
int live_normalize_tools(const json_t *in, const char *where, json_t **out, gl_err *err);
int live_normalize_function_decl(const json_t *in, const char *where, json_t **out, gl_err *err);
/* automaticActivityDetection settings: disabled, start/endOfSpeechSensitivity, prefixPaddingMs,
 * silenceDurationMs. */
int live_normalize_activity_detection(const json_t *in, const char *where, json_t **out, gl_err *err);
/* String -> {"parts":[{"text":S}]}; Content object -> normalized copy. */
int live_normalize_content(const json_t *in, const char *where, json_t **out, gl_err *err);

/* Function names: 1-64 chars, first a letter or '_', then letters, digits, '_', '.', ':', '-'.
 * true if ok, else false and err (bad_request). */
bool live_function_name_ok(const char *name, gl_err *err);

/* The rest return a malloc'd compact JSON string (free it); NULL only for bad input: a NULL text,
 * a b64 that is not UTF-8, or (with err) bad responses for live_build_tool_response. */

/* {"clientContent":{"turns":[{"role":"user","parts":[{"text":T}]}],"turnComplete":B}} */
char *live_build_client_text(const char *text, bool turn_complete);
/* {"realtimeInput":{"text":T}} (3.1 Live models take text prompts this way) */
char *live_build_realtime_text(const char *text);
/* {"realtimeInput":{"audio":{"data":B64,"mimeType":"audio/pcm;rate=R"}}}; rate 0 -> 16000.
 * b64 is passed through as is (standard base64 of s16le mono PCM). */
char *live_build_realtime_audio(const char *b64, int rate);
char *live_build_activity_start(void); /* {"realtimeInput":{"activityStart":{}}} */
char *live_build_activity_end(void);   /* {"realtimeInput":{"activityEnd":{}}} */
char *live_build_audio_stream_end(void); /* {"realtimeInput":{"audioStreamEnd":true}} */
/* {"realtimeInput":{"video":{"data":B64,"mimeType":M}}}: one still frame (b64 passed through). */
char *live_build_realtime_video(const char *b64, const char *mime);
/* {"clientContent":{"turns":[{"role":"user","parts":PARTS}],"turnComplete":true}}: a typed turn
 * with parts (text, inlineData images), normalized like a Content; NULL with bad_request. */
char *live_build_client_parts(const json_t *parts, gl_err *err);
/* responses: BORROWED array of {id, name, response} (snake or camel keys; optional
 * will_continue/scheduling are passed on, nothing else allowed; response must be an object).
 * -> {"toolResponse":{"functionResponses":[{"id":..,"name":..,"response":{..}},..]}} */
char *live_build_tool_response(const json_t *responses, gl_err *err);

/* ---- Server messages --------------------------------------------------------------------- */

typedef enum {
    LIVE_EV_SETUP_COMPLETE,       /* session_id: setupComplete.sessionId (Vertex) or NULL */
    LIVE_EV_TEXT,                 /* text, text_len, thought */
    LIVE_EV_AUDIO,                /* mime, data, data_len (any inlineData part; mime tells) */
    LIVE_EV_EXECUTABLE_CODE,      /* language, code */
    LIVE_EV_CODE_RESULT,          /* outcome, output (output may be NULL) */
    LIVE_EV_GROUNDING,            /* json: groundingMetadata */
    LIVE_EV_INPUT_TRANSCRIPTION,  /* text, text_len ("" if absent), finished, interim (from
                                     interimInputTranscription: a guess the final one replaces) */
    LIVE_EV_OUTPUT_TRANSCRIPTION, /* text, text_len, finished */
    LIVE_EV_GENERATION_COMPLETE,
    LIVE_EV_TURN_COMPLETE,        /* json: usageMetadata or NULL; reason: turnCompleteReason or NULL;
                                     waiting_for_input: serverContent.waitingForInput */
    LIVE_EV_INTERRUPTED,
    LIVE_EV_TOOL_CALL,            /* call_id (may be NULL), name, json: args ({} if absent),
                                     index, count (position in this toolCall's functionCalls) */
    LIVE_EV_TOOL_CALL_CANCELLATION, /* json: array of id strings ([] if absent) */
    LIVE_EV_GO_AWAY,              /* time_left_ms (-1 if absent or unparseable) */
    LIVE_EV_RESUMPTION_UPDATE,    /* new_handle (may be NULL or ""), resumable */
    LIVE_EV_USAGE,                /* json: usageMetadata (on a message without turnComplete) */
    LIVE_EV_VOICE_ACTIVITY,       /* activity: voiceActivity.voiceActivityType ("" if absent) */
    LIVE_EV_UNKNOWN,              /* name: a top-level field we do not know (log it, no error) */
} live_event_kind;

const char *live_event_kind_name(live_event_kind k); /* "TEXT", "TOOL_CALL", ... */

/* One event. Fields not listed for a kind are zero/NULL. Every pointer is BORROWED from the
 * parsed message and valid ONLY during the callback: copy (or json_incref) what you keep.
 * Strings are NUL-terminated; text/data may hold NUL bytes, hence the lengths. */
typedef struct live_event {
    live_event_kind kind;
    const char *text;  size_t text_len;
    bool thought;      /* TEXT: a thought summary part */
    bool finished;     /* transcriptions */
    bool interim;      /* INPUT_TRANSCRIPTION from interimInputTranscription */
    bool waiting_for_input; /* TURN_COMPLETE */
    const char *session_id; /* SETUP_COMPLETE */
    const char *activity;   /* VOICE_ACTIVITY */
    const char *mime;
    const char *data;  size_t data_len;
    const char *language, *code;
    const char *outcome, *output;
    const char *reason;   /* TURN_COMPLETE: turnCompleteReason */
    const char *call_id, *name;
    size_t index, count;
    json_t *json;         /* GROUNDING, TURN_COMPLETE (usage), TOOL_CALL (args),
                             TOOL_CALL_CANCELLATION (ids), USAGE */
    long long time_left_ms;
    const char *new_handle;
    bool resumable;       /* RESUMPTION_UPDATE: false when absent. Keep new_handle as the resume
                             handle ONLY when resumable is true (empty handles come with false). */
} live_event;

/* Return 0 to go on, non-zero to stop delivering this message's remaining events. */
typedef int (*live_server_cb)(const live_event *ev, void *ud);

/* Parses one server message (a text or binary frame's payload) and calls cb once per event, in
 * order of appearance of the top-level fields; within serverContent: modelTurn parts (one event
 * per part, in order), inputTranscription, interimInputTranscription, outputTranscription,
 * groundingMetadata, interrupted,
 * generationComplete, turnComplete. usageMetadata next to a turnComplete rides on TURN_COMPLETE;
 * otherwise it is its own USAGE event. Unknown or wrongly typed nested fields are ignored; unknown
 * top-level fields give UNKNOWN. Returns 0 (also when cb stopped early), or -1 with
 * "bad_server_json" if data is not a JSON object (no event is delivered then). */
int live_parse_server(const char *data, size_t len, live_server_cb cb, void *ud, gl_err *err);

#endif
