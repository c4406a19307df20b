/* Model-specific behaviour of the real service (see rules.h). */
#include "emulator/rules.h"

#include <fnmatch.h>
#include <stddef.h>
#include <string.h>

/* One line per rule: a glob (fnmatch) on the bare model name, i.e. without "models/". Every
 * line that matches applies; the flags add up. */
static const struct rule {
    const char *pattern;
    bool audio_only;
    bool client_content_only_initial;
} RULES[] = {
    /* Native-audio models answer in AUDIO only (rules.h; ai.google.dev live guide, notes §4
     * "native-audio models" e.g. gemini-2.5-flash-native-audio-preview-09-2025). */
    {"*native-audio*", true, false},
    /* 3.1 Live takes clientContent only as initial history, later it closes 1007 (notes §2
     * "clientContent"; §6.11 livekit/agents PR #5251). */
    {"gemini-3.1-flash-live*", false, true},
    /* 3.1 Live is an "audio-to-audio model" (its model page, ai.google.dev, March 2026). */
    {"gemini-3.1-flash-live*", true, false},
    /* 3.8 Live, the default stable Live model since September 2026: "the supported response
     * modality is audio; for text, enable output audio transcription" (its model page). */
    {"gemini-3.8-live*", true, false},
};

#define DENY_MAX 32       /* --deny-model is for a handful of names, not a registry */
#define DENY_NAME_LEN 128 /* longer names are not real model names: they are not stored */

static char deny[DENY_MAX][DENY_NAME_LEN];
static size_t ndeny;

static const char *bare_name(const char *model)
{
    return strncmp(model, "models/", 7) == 0 ? model + 7 : model;
}

static bool denied(const char *name)
{
    for (size_t i = 0; i < ndeny; i++)
        if (strcmp(deny[i], name) == 0)
            return true;
    return false;
}

void emu_model_rules_for(const char *model, emu_model_rules *out)
{
    *out = (emu_model_rules){.known = true};
    if (!model)
        return;
    const char *name = bare_name(model);
    for (size_t i = 0; i < sizeof RULES / sizeof RULES[0]; i++) {
        if (fnmatch(RULES[i].pattern, name, 0) != 0)
            continue;
        out->audio_only |= RULES[i].audio_only;
        out->client_content_only_initial |= RULES[i].client_content_only_initial;
    }
    out->known = !denied(name);
}

void emu_model_deny(const char *model)
{
    if (!model)
        return;
    const char *name = bare_name(model);
    size_t len = strlen(name);
    if (len == 0 || len >= DENY_NAME_LEN || ndeny == DENY_MAX || denied(name))
        return;
    memcpy(deny[ndeny++], name, len + 1);
}
