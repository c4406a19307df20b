/* Model-specific behaviour of the real service, in one table (emulator/rules.c): a new rule is one
 * line there. */
#ifndef EMU_RULES_H
#define EMU_RULES_H

#include <stdbool.h>

typedef struct emu_model_rules {
    bool audio_only;              /* native-audio models: only the AUDIO response modality */
    bool client_content_only_initial; /* 3.1 Live: clientContent only as initial history; later 1007 */
    bool known;                   /* false if the name is on the deny-list (1008 "not found") */
} emu_model_rules;

/* model: the setup's model field, "models/NAME" or bare "NAME". Fills *out. */
void emu_model_rules_for(const char *model, emu_model_rules *out);

/* Adds a name (bare or models/...) to the deny-list: setups naming it get the service's 1008
 * "not found" close. Used by --deny-model. */
void emu_model_deny(const char *model);

#endif
