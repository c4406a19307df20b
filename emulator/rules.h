/* Model-specific behaviour of the real service, in one table (emulator/rules.c): a new model or
 * a new fact about one is one line there. */
#ifndef EMU_RULES_H
#define EMU_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* How a model treats function calls (FunctionDeclaration.behavior). */
typedef enum {
    EMU_FN_BLOCKING,     /* sync only: the model waits for every response; behavior is ignored */
    EMU_FN_OPT_IN_ASYNC, /* blocking unless the declaration says behavior NON_BLOCKING */
    EMU_FN_ASYNC,        /* NON_BLOCKING unless the declaration says behavior BLOCKING */
} emu_fn_mode;

/* Setup fields a model refuses (closed 1007), one bit each. */
enum {
    EMU_REJECT_THINKING_LEVEL = 1u << 0,      /* generationConfig.thinkingConfig.thinkingLevel */
    EMU_REJECT_PROACTIVE_AUDIO_OFF = 1u << 1, /* proactivity.proactiveAudio: false */
    EMU_REJECT_AFFECTIVE_DIALOG = 1u << 2,    /* generationConfig.enableAffectiveDialog */
};

typedef struct emu_model_rules {
    bool audio_only;              /* only the AUDIO response modality */
    bool client_content_only_initial; /* 3.1 Live: clientContent only as initial history; later 1007 */
    bool code_execution;          /* the model can run code on the server (tools[].codeExecution) */
    emu_fn_mode functions;
    unsigned rejects;             /* EMU_REJECT_* */
    bool no_media_chunks;         /* realtimeInput.mediaChunks is refused (1007) */
    bool known;                   /* false if the name is on the deny-list (1008 "not found") */
} emu_model_rules;

/* model: the setup's model field, "models/NAME" or bare "NAME" (NULL: an unknown model). */
void emu_model_rules_for(const char *model, emu_model_rules *out);

/* Whether a function declared with this behavior ("BLOCKING", "NON_BLOCKING", or NULL/other for
 * none) is called asynchronously by a model of this mode. */
bool emu_model_fn_async(emu_fn_mode mode, const char *behavior);

/* Checks a setup (normalized camelCase body) against the model's rules: modalities, tools,
 * refused fields. NULL if the model accepts it, else the 1007 close reason, written into buf. */
const char *emu_model_check_setup(const emu_model_rules *r, const json_t *setup, char *buf,
                                  size_t len);

/* Adds a name (bare or models/...) to the deny-list: setups naming it get the service's 1008
 * "not found" close. Used by --deny-model. */
void emu_model_deny(const char *model);

#endif
