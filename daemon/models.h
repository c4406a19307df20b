/* What the daemon knows about Live models, in one table (daemon/models.c): models change, the
 * daemon copes by looking names up here. A new rule is one line. */
#ifndef GLD_MODELS_H
#define GLD_MODELS_H

#include <stdbool.h>

/* The default model when neither --model nor open.model names one: Google's default stable Live
 * model (its model page, September 2026). */
#define GLD_DEFAULT_MODEL "gemini-3.8-live"

typedef struct gld_model_info {
    const char *pattern;     /* glob on the bare name (no "models/") */
    bool text_via_realtime;  /* prompts as realtimeInput.text: clientContent only as history */
    bool audio_only;         /* speaks only AUDIO: TEXT sessions get output transcription */
    bool code_execution;     /* the service runs code (codeExecution tool); else gliveD runs it */
    bool calls_nonblocking;  /* a function without `behavior` is NON_BLOCKING (asynchronous) */
    const char *why;         /* where the rule comes from */
} gld_model_info;

/* The first matching row (the table ends with a catch-all). name: bare or "models/NAME". */
const gld_model_info *gld_model_lookup(const char *name);

#endif
