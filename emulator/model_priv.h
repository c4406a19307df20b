/* The model's internals, one module in two files: model.c runs turns, script.c loads and selects
 * their steps. A loaded script is parsed and validated once at load time so that running a turn
 * never meets a malformed step.
 * Format: docs/emulator-script.md. */
#ifndef EMU_MODEL_PRIV_H
#define EMU_MODEL_PRIV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emulator/model.h"

typedef enum {
    EMU_ST_SAY,        /* text */
    EMU_ST_CHUNKS,     /* chunks[] */
    EMU_ST_CALL,       /* calls[] (+ via_code, await) — "call" and "calls" both land here */
    EMU_ST_CODE,       /* text = source, program, seconds, arg */
    EMU_ST_SEARCH,     /* text = query, or NULL: the prompt */
    EMU_ST_SAY_SEARCH,
    EMU_ST_DELAY,      /* ms */
    EMU_ST_GOAWAY,     /* ms */
    EMU_ST_CLOSE,      /* code, text = reason */
    EMU_ST_DROP,
    EMU_ST_MALFORMED,  /* text */
    EMU_ST_OVERSIZE,   /* n */
    EMU_ST_STALL,
    EMU_ST_CANCEL,
    EMU_ST_RECALL,
    EMU_ST_ECHO,
    EMU_ST_INTERIM,    /* text: serverContent.interimInputTranscription */
    EMU_ST_VOICE,      /* text: voiceActivity.voiceActivityType */
    EMU_ST_WAITING,    /* the turn's turnComplete carries waitingForInput: true */
    EMU_ST_STREAM,     /* n text parts or ms of audio, at rate (0: as fast as possible), stamp */
    EMU_ST_IMAGE,      /* says what it knows of the last picture received */
} emu_step_kind;

typedef struct emu_call_spec {
    char *name;
    json_t *args; /* object, owned */
} emu_call_spec;

typedef struct emu_steps emu_steps;

typedef struct emu_step {
    emu_step_kind kind;
    char *text;
    char **chunks;
    size_t nchunks;
    emu_call_spec *calls;
    size_t ncalls;
    char *via_code;  /* CALL: executableCode emitted before the toolCall, or NULL */
    bool await;      /* CALL: end the batch with EMU_ACT_AWAIT_TOOL (default true) */
    bool no_id;      /* CALL: the function calls carry no "id" (as recorded on Vertex) */
    emu_steps *meanwhile; /* CALL: said while non-blocking calls run, or NULL: the default */
    char *failed;    /* CALL: said instead of the rest if run_python's code failed, or NULL */
    char *program;   /* CODE: "run", or NULL */
    unsigned seconds_ms; /* CODE: "seconds" in ms (sleep), default 1000 */
    bool has_arg;    /* CODE: explicit "arg"; CALL: {arg} when the prompt has no number */
    uint64_t arg;
    unsigned ms;     /* DELAY, GOAWAY; STREAM: ms of audio */
    int code;        /* CLOSE */
    size_t n;        /* OVERSIZE; STREAM: text parts */
    unsigned rate;   /* STREAM: messages per second, 0 = as fast as the socket takes them */
    bool stamp;      /* STREAM: text parts carry their send time */
} emu_step;

struct emu_steps {
    emu_step *v;
    size_t len;
};

typedef struct emu_rule {
    char **any;      /* "match": the prompt contains one of these (case-insensitive) */
    size_t nany;
    char **all;      /* "all": the prompt contains every one of these */
    size_t nall;
    char **requires; /* declared functions, or "code_execution" / "google_search" */
    size_t nrequires;
    char **without;  /* none of these tools may be declared */
    size_t nwithout;
    bool once;
    bool fired;      /* once-rules: set when first selected; shared by every session */
    emu_steps steps;
} emu_rule;

struct emu_script {
    emu_rule *rules;
    size_t nrules;
    emu_steps def;       /* "default" */
    uint64_t next_call;  /* function-call id counter, shared by every session */
    bool session_id;     /* "session_id": setupComplete carries a sessionId */
};

/* Whether the session declared a tool (function name, "code_execution" or "google_search"). */
typedef bool (*emu_has_tool_fn)(const void *ctx, const char *name);

/* The steps for a prompt: the first rule that matches, whose tools are all declared and that is
 * not a spent once-rule (marking a once-rule spent), else the default steps. */
const emu_steps *emu_script_select(emu_script *s, const char *prompt, emu_has_tool_fn has,
                                   const void *ctx);

/* Frees the steps (and what they own), not the struct itself. */
void emu_steps_free(emu_steps *s);

/* Writes the next unique function call id, "function-call-" + 19 digits, into buf (>= 40). */
void emu_script_next_call_id(emu_script *s, char *buf, size_t len);

/* Parses a script from JSON text; origin names it in error messages. */
emu_script *emu_script_parse(const char *text, const char *origin, gl_err *err);

/* Case-insensitive (ASCII) substring test. */
bool emu_contains_ci(const char *hay, const char *needle);

/* The built-in script (emulator/default-script.json embedded by emulator/default_script.c). */
extern const char emu_default_script_json[] __attribute__((visibility("hidden")));

#endif
