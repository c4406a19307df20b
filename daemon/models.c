#include "daemon/models.h"

#include <fnmatch.h>
#include <string.h>

static const gld_model_info MODELS[] = {
    /* pattern                 realtime-text audio-only code-exec async-calls  why */
    {"gemini-3.8-live*",       false,        true,      false,    true,  "3.8 Live (default since 2026-09): AUDIO only, text via output transcription; clientContent all session long; no code execution; NON_BLOCKING calls by default (model page, live-tools table)"},
    {"gemini-3.1-flash-live*", true,         true,      false,    false, "3.1 Live closes mid-session clientContent with 1007 (livekit/agents PR #5251); an audio-to-audio model; no code execution; sync calls (model page, live-tools table)"},
    {"*native-audio*",         false,        true,      false,    false, "native-audio models accept only the AUDIO modality; no code execution (live-tools table)"},
    {"*",                      false,        false,     true,     false, "every other Live model (the retired half-cascade ones): clientContent prompts, TEXT or AUDIO, server code execution"},
};

const gld_model_info *gld_model_lookup(const char *name)
{
    if (strncmp(name, "models/", 7) == 0)
        name += 7;
    size_t n = sizeof MODELS / sizeof MODELS[0];
    for (size_t i = 0; i + 1 < n; i++)
        if (fnmatch(MODELS[i].pattern, name, 0) == 0)
            return &MODELS[i];
    return &MODELS[n - 1];
}
