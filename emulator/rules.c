/* Model-specific behaviour of the real service (see rules.h). */
#include "emulator/rules.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

/* One line per model family: a glob (fnmatch) on the bare model name, i.e. without "models/".
 * The FIRST line that matches gives every fact about the model, so more specific patterns come
 * first ("*native-audio*" before "gemini-live-2.5-flash*", which would also match
 * gemini-live-2.5-flash-native-audio). The last line is for names nobody described.
 * Sources: /work/shared/live-api-protocol.md (the notes), §4b is the Live tools page's per-model
 * table (ai.google.dev gemini-api/docs/live-tools) and the 3.8 Live model page. */
static const struct rule {
    const char *pattern;
    bool audio_only;
    bool client_content_only_initial;
    bool code_execution;
    emu_fn_mode functions;
    unsigned rejects;
    bool no_media_chunks; /* realtimeInput.mediaChunks (deprecated) is closed with 1007 */
} RULES[] = {
    /* Native audio (e.g. gemini-2.5-flash-native-audio-preview-12-2025, -latest): AUDIO only
     * (live guide; notes §4); no code execution, sync and async calls, blocking unless declared
     * NON_BLOCKING (notes §4b table). */
    {"*native-audio*", true, false, false, EMU_FN_OPT_IN_ASYNC, 0, false},
    /* 3.8 Live, the default stable Live model since 2026-09: "the supported response modality
     * is audio; for text, enable output audio transcription"; NON_BLOCKING by default, a
     * declaration may say BLOCKING; no code execution; no thinkingLevel, proactive audio always
     * on (false is an error), affective dialog removed (the field is an error) (notes §4b: the
     * Live tools table and the 3.8 model page's migration notes). */
    {"gemini-3.8-live*", true, false, false, EMU_FN_ASYNC,
     EMU_REJECT_THINKING_LEVEL | EMU_REJECT_PROACTIVE_AUDIO_OFF | EMU_REJECT_AFFECTIVE_DIALOG, false},
    /* 3.1 Live: an "audio-to-audio model" (its model page, March 2026); clientContent only as
     * initial history, later 1007 (notes §2 "clientContent", §6.11 livekit/agents PR #5251);
     * sync function calls only, no code execution (notes §4b table); it closes the deprecated
     * realtimeInput.mediaChunks with 1007 (aicc2025/sip-to-ai PR #5, June 2026: "newer Live API
     * models (e.g. gemini-3.1-flash-live-preview) reject [it] with WebSocket close 1007"). */
    {"gemini-3.1-flash-live*", true, true, false, EMU_FN_BLOCKING, 0, true},
    /* The retired half-cascade models: TEXT or AUDIO, code execution, function calls (notes §4b
     * table). Blocking as the emulator always was; NON_BLOCKING is honoured when declared, as
     * the 2025 Live tools page documented it for these models. */
    {"gemini-2.0-flash-live*", false, false, true, EMU_FN_OPT_IN_ASYNC, 0, false},
    {"gemini-live-2.5-flash*", false, false, true, EMU_FN_OPT_IN_ASYNC, 0, false},
    /* Any other name (the emulator accepts any name, notes §4): the permissive half-cascade set. */
    {"*", false, false, true, EMU_FN_OPT_IN_ASYNC, 0, false},
};

/* The fields behind EMU_REJECT_*: a dotted path in the normalized setup, and the 1007 reason.
 * The service's wording is not known for the Live API; these follow its "Request contains an
 * invalid argument" close (notes §4) and the wording Vertex gives for the same refusal in
 * generateContent ("thinking_level is not supported by this model.", gemini-cli #14025). */
static const struct refused {
    unsigned bit;
    const char *path;
    bool only_false; /* refused only when the value is false (a flag that is always on) */
    const char *reason;
} REFUSED[] = {
    {EMU_REJECT_THINKING_LEVEL, "generationConfig.thinkingConfig.thinkingLevel", false,
     "Request contains an invalid argument: thinking_level is not supported by this model."},
    {EMU_REJECT_PROACTIVE_AUDIO_OFF, "proactivity.proactiveAudio", true,
     "Request contains an invalid argument: proactive_audio cannot be disabled for this model."},
    /* Refused even when false (python-genai #865: the field itself is the error). */
    {EMU_REJECT_AFFECTIVE_DIALOG, "generationConfig.enableAffectiveDialog", false,
     "Request contains an invalid argument: enable_affective_dialog is not supported by this "
     "model."},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
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
    const char *name = model ? bare_name(model) : "";
    const struct rule *r = &RULES[COUNT(RULES) - 1];
    for (size_t i = 0; i < COUNT(RULES); i++) {
        if (fnmatch(RULES[i].pattern, name, 0) == 0) {
            r = &RULES[i];
            break;
        }
    }
    *out = (emu_model_rules){
        .audio_only = r->audio_only,
        .client_content_only_initial = r->client_content_only_initial,
        .code_execution = r->code_execution,
        .functions = r->functions,
        .rejects = r->rejects,
        .no_media_chunks = r->no_media_chunks,
        .known = !model || !denied(name),
    };
}

bool emu_model_fn_async(emu_fn_mode mode, const char *behavior)
{
    switch (mode) {
    case EMU_FN_ASYNC:
        return !behavior || strcmp(behavior, "BLOCKING") != 0;
    case EMU_FN_OPT_IN_ASYNC:
        return behavior && strcmp(behavior, "NON_BLOCKING") == 0;
    case EMU_FN_BLOCKING:
        break;
    }
    return false;
}

/* The value at a dotted path of objects, or NULL. */
static const json_t *at_path(const json_t *obj, const char *path)
{
    char key[64];
    while (obj && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        obj = json_object_get(obj, key);
        path += n + (path[n] == '.');
    }
    return obj;
}

static const char *check_modalities(const emu_model_rules *r, const json_t *setup)
{
    const json_t *mods = at_path(setup, "generationConfig.responseModalities");
    size_t i;
    const json_t *m;
    json_array_foreach(mods, i, m) {
        const char *v = json_string_value(m);
        if (v && strcmp(v, "AUDIO") != 0 && strcmp(v, "TEXT") != 0)
            return "Invalid value at 'setup.generation_config.response_modalities'";
        if (v && r->audio_only && strcmp(v, "AUDIO") != 0)
            return "Cannot extract voices from a non-audio request.";
    }
    if (json_array_size(mods) > 1)
        return "At most one response modality can be specified in the setup request.";
    return NULL;
}

/* A tool the model lacks. The real wording is unknown (no recording of a 3.8 setup asking for
 * codeExecution has been published): this names the tool in the style of the service's other
 * argument errors. */
static const char *check_tools(const emu_model_rules *r, const json_t *setup)
{
    size_t i;
    const json_t *tool;
    json_array_foreach(json_object_get(setup, "tools"), i, tool) {
        if (!r->code_execution && json_object_get(tool, "codeExecution"))
            return "Request contains an invalid argument: tool code_execution is not supported "
                   "by this model.";
    }
    return NULL;
}

const char *emu_model_check_setup(const emu_model_rules *r, const json_t *setup, char *buf,
                                  size_t len)
{
    const char *why = check_modalities(r, setup);
    if (!why)
        why = check_tools(r, setup);
    for (size_t i = 0; !why && i < COUNT(REFUSED); i++) {
        if (!(r->rejects & REFUSED[i].bit))
            continue;
        const json_t *v = at_path(setup, REFUSED[i].path);
        if (v && (!REFUSED[i].only_false || json_is_false(v)))
            why = REFUSED[i].reason;
    }
    if (!why)
        return NULL;
    snprintf(buf, len, "%s", why);
    return buf;
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
