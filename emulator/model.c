/* The scripted deterministic model (see model.h; script format: docs/emulator-script.md).
 *
 * A turn runs its rule's steps in order, appending actions; a tool call that awaits ends the
 * batch, and emu_session_continue() resumes at the next step. Everything a turn needs between
 * batches lives in struct turn.
 *
 * NON_BLOCKING calls (3.8 Live's default) do not end a batch: the turn says something meanwhile
 * and completes, and the rest of its steps wait in a struct later until the calls are answered;
 * then they run as a generation of their own (a follow-up) when the server asks for it. */
#include "emulator/model.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "emulator/audio.h"
#include "emulator/compute.h"
#include "emulator/corpus.h"
#include "emulator/model_priv.h"
#include "emulator/rules.h"

#define TEXT_CHUNK_MAX 40   /* bytes per streamed text chunk after the first word */
#define MAX_GROUNDING 3     /* documents per search */

/* ---------- a small string builder ---------- */

typedef struct sb {
    char *s;
    size_t len, cap;
} sb;

static void sb_addn(sb *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = gl_xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_add(sb *b, const char *p)
{
    sb_addn(b, p, strlen(p));
}

static void sb_addf(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_addn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *sb_str(const sb *b)
{
    return b->s ? b->s : "";
}

static void sb_free(sb *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* ---------- the session ---------- */

#define PYTHON_FN "run_python" /* the function gliveD serves by running Python locally */
#define DEFAULT_MEANWHILE "OK, working on it."
#define DEFAULT_FAILED "Sorry, the code I ran failed ({outcome}), so I don't have an answer."
#define KEY_MAX 48 /* "function-call-" + 19 digits, with room */

struct turn {
    bool active;
    bool followup;         /* started by a function response, not by a prompt */
    const emu_steps *steps;
    size_t pc;
    char *prompt;          /* user text (or "[audio N.N s]"); a follow-up keeps its turn's */
    char *after;           /* follow-up: the function whose answer started it */
    sb said;               /* the model's text so far (answer text / transcript) */
    json_t *awaiting;      /* ids the current batch waits for */
    bool python;           /* the awaited batch called run_python */
    const char *failed;    /* ... and what to say if its code failed (NULL: the default) */
    char *result;          /* last code output (or run_python's last line), trimmed */
    char *outcome;         /* run_python's last outcome, e.g. "OUTCOME_FAILED" */
    char arg[24];          /* last program argument, decimal, "" if none */
    bool waiting_for_input; /* turnComplete carries waitingForInput */
    unsigned prompt_tokens, prompt_audio_tokens, response_tokens;
    json_t *queries;       /* grounding: webSearchQueries so far, or NULL */
    json_t *chunks;        /* grounding: groundingChunks */
    json_t *confidence;    /* grounding: a confidence score per chunk */
    size_t ground_start;   /* offset in said where grounded text begins */
    const char *top_doc;   /* text of the best document of the last search */
};

struct fn {
    char *name;
    bool async;            /* NON_BLOCKING under the model's rules and its declaration */
};

/* A function call sent and not finally answered yet. */
struct call {
    char key[KEY_MAX];     /* the id sent; for a call sent without id, an internal one */
    char *name;
    bool async;            /* NON_BLOCKING: outlives its turn, answered in a follow-up */
    bool no_id;
    unsigned batch;        /* async: the toolCall it came in, whose `later` waits; 0: none */
};

/* What waits for NON_BLOCKING calls: the rest of the turn that made them (steps from pc), to
 * run as a follow-up generation once every call of the batch is finally answered; or, for an
 * intermediate (willContinue) answer, a text to say. */
struct later {
    struct later *next;
    unsigned batch;
    size_t waiting;        /* calls of the batch not finally answered */
    const emu_steps *steps;
    size_t pc;
    char *text;            /* an update: say this, no steps */
    char *prompt, *result, *after;
    char arg[24];
    bool python;           /* the batch called run_python */
    const char *failed;
    bool interrupt;        /* became ready with scheduling INTERRUPT */
};

struct emu_session {
    emu_script *s;
    char *model;
    emu_model_rules rules;
    bool audio, transcribe, code_exec, search;
    bool transcribe_input; /* inputAudioTranscription: spoken turns get inputTranscription */
    struct {               /* the last picture received (realtimeInput video, inlineData) */
        bool set;
        char mime[16];
        size_t bytes;
        char sha256[65];
    } image;
    double time_scale;
    struct fn *fns;
    size_t nfns;
    json_t *history;       /* see "history" below */
    json_t *tool_results;  /* name -> last response */
    struct call *calls;    /* pending */
    size_t ncalls;
    struct later *waiting; /* laters whose calls are not all answered */
    struct later *ready;   /* laters to run, in order */
    unsigned next_batch;
    emu_steps **named;     /* steps made for prompts naming functions (cached: laters point */
    char **named_keys;     /*  into them), and which functions each calls, e.g. "0,2" */
    size_t nnamed;
    char last_key[KEY_MAX];
    struct turn t;
};

static const struct fn *find_fn(const emu_session *m, const char *name)
{
    for (size_t i = 0; i < m->nfns; i++)
        if (strcmp(m->fns[i].name, name) == 0)
            return &m->fns[i];
    return NULL;
}

/* For "requires": a declared function, or the built-in tools by their snake_case names. */
static bool has_tool(const void *ctx, const char *name)
{
    const emu_session *m = ctx;
    if (strcmp(name, "code_execution") == 0 || strcmp(name, "codeExecution") == 0)
        return m->code_exec;
    if (strcmp(name, "google_search") == 0 || strcmp(name, "googleSearch") == 0)
        return m->search;
    return find_fn(m, name) != NULL;
}

static void add_fn(emu_session *m, const json_t *decl)
{
    const char *name = json_string_value(json_object_get(decl, "name"));
    if (!name)
        return;
    const char *behavior = json_string_value(json_object_get(decl, "behavior"));
    m->fns = gl_xrealloc(m->fns, (m->nfns + 1) * sizeof *m->fns);
    m->fns[m->nfns++] = (struct fn){gl_xstrdup(name),
                                    emu_model_fn_async(m->rules.functions, behavior)};
}

emu_session *emu_session_new(emu_script *s, const json_t *setup)
{
    emu_session *m = gl_xcalloc(1, sizeof *m);
    m->s = s;
    m->time_scale = 1.0;
    m->history = json_array();
    m->tool_results = json_object();
    const char *model = json_string_value(json_object_get(setup, "model"));
    m->model = gl_xstrdup(model ? model : "");
    emu_model_rules_for(model, &m->rules);
    /* The real service answers in AUDIO when no modality is asked for. */
    m->audio = true;
    json_t *mods = json_object_get(json_object_get(setup, "generationConfig"),
                                   "responseModalities");
    const char *mod0 = json_string_value(json_array_get(mods, 0));
    if (mod0 && strcasecmp(mod0, "TEXT") == 0)
        m->audio = false;
    m->transcribe = json_object_get(setup, "outputAudioTranscription") != NULL;
    m->transcribe_input = json_object_get(setup, "inputAudioTranscription") != NULL;

    json_t *tools = json_object_get(setup, "tools");
    size_t i;
    json_t *tool;
    json_array_foreach(tools, i, tool) {
        if (json_object_get(tool, "codeExecution"))
            m->code_exec = true;
        if (json_object_get(tool, "googleSearch") || json_object_get(tool, "googleSearchRetrieval"))
            m->search = true;
        size_t j;
        json_t *fd;
        json_array_foreach(json_object_get(tool, "functionDeclarations"), j, fd)
            add_fn(m, fd);
    }
    return m;
}

void emu_session_set_time_scale(emu_session *m, double scale)
{
    m->time_scale = scale > 0 ? scale : 1.0;
}

bool emu_script_session_id(const emu_script *s)
{
    return s->session_id;
}

static void turn_reset(struct turn *t)
{
    free(t->prompt);
    free(t->after);
    sb_free(&t->said);
    json_decref(t->awaiting);
    free(t->result);
    free(t->outcome);
    json_decref(t->queries);
    json_decref(t->chunks);
    json_decref(t->confidence);
    memset(t, 0, sizeof *t);
}

static void later_free(struct later *l)
{
    free(l->text);
    free(l->prompt);
    free(l->result);
    free(l->after);
    free(l);
}

static void laters_free(struct later **list)
{
    while (*list) {
        struct later *l = *list;
        *list = l->next;
        later_free(l);
    }
}

static void drop_call(emu_session *m, size_t i)
{
    free(m->calls[i].name);
    memmove(&m->calls[i], &m->calls[i + 1], (m->ncalls - i - 1) * sizeof *m->calls);
    m->ncalls--;
}

/* Forgets the pending calls, all of them or only those an interruption cancels. */
static void drop_calls(emu_session *m, bool also_async)
{
    for (size_t i = m->ncalls; i-- > 0;)
        if (also_async || !m->calls[i].async)
            drop_call(m, i);
}

void emu_session_free(emu_session *m)
{
    if (!m)
        return;
    turn_reset(&m->t);
    free(m->model);
    for (size_t i = 0; i < m->nfns; i++)
        free(m->fns[i].name);
    free(m->fns);
    drop_calls(m, true);
    free(m->calls);
    laters_free(&m->waiting);
    laters_free(&m->ready);
    for (size_t i = 0; i < m->nnamed; i++) {
        emu_steps_free(m->named[i]);
        free(m->named[i]);
        free(m->named_keys[i]);
    }
    free(m->named);
    free(m->named_keys);
    json_decref(m->history);
    json_decref(m->tool_results);
    free(m);
}

/* ---------- history ----------
 * Entries, in order: a user turn {"user", "model"}; a follow-up generation {"model",
 * "after_function"}; either with "interrupted": true if it was cut; and each answer to a
 * NON_BLOCKING call {"function", "response"} (SILENT ones included: that is all they do). */

json_t *emu_session_history(const emu_session *m)
{
    return json_deep_copy(m->history);
}

void emu_session_restore(emu_session *m, const json_t *history)
{
    json_decref(m->history);
    m->history = json_is_array(history) ? json_deep_copy(history) : json_array();
}

static bool is_user_turn(const json_t *e)
{
    return json_object_get(e, "user") != NULL;
}

size_t emu_session_turns(const emu_session *m)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(m->history, i, e) {
        if (is_user_turn(e) && !json_is_true(json_object_get(e, "interrupted")))
            n++;
    }
    return n;
}

void emu_session_add_turn(emu_session *m, const char *user, const char *model)
{
    json_array_append_new(m->history, json_pack("{s:s, s:s}", "user", user ? user : "",
                                                 "model", model ? model : ""));
}

static const char *previous_prompt(const emu_session *m)
{
    for (size_t i = json_array_size(m->history); i-- > 0;) {
        const json_t *e = json_array_get(m->history, i);
        if (is_user_turn(e))
            return json_string_value(json_object_get(e, "user"));
    }
    return NULL;
}

static unsigned count_words(const char *s)
{
    unsigned n = 0;
    bool in = false;
    for (; s && *s; s++) {
        bool sp = isspace((unsigned char)*s);
        if (!sp && !in)
            n++;
        in = !sp;
    }
    return n;
}

static unsigned history_tokens(const emu_session *m)
{
    unsigned n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(m->history, i, e) {
        n += count_words(json_string_value(json_object_get(e, "user")));
        n += count_words(json_string_value(json_object_get(e, "model")));
    }
    return n;
}

/* ---------- actions ---------- */

void emu_actions_free(emu_actions *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->len; i++) {
        json_decref(a->v[i].msg);
        json_decref(a->v[i].ids);
        free(a->v[i].text);
    }
    free(a->v);
    a->v = NULL;
    a->len = a->cap = 0;
}

/* Appends act, taking its owned fields. */
static void push(emu_actions *a, emu_action act)
{
    if (a->len == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 16;
        a->v = gl_xrealloc(a->v, a->cap * sizeof *a->v);
    }
    a->v[a->len++] = act;
}

/* NULL here is a json_pack() that refused its input (a NULL or invalid UTF-8 string), not
 * memory: that message is left out. */
static void push_msg(emu_actions *a, json_t *msg)
{
    if (msg)
        push(a, (emu_action){.kind = EMU_ACT_SEND, .msg = msg});
}

static void push_content(emu_actions *a, json_t *server_content)
{
    if (server_content)
        push_msg(a, json_pack("{s:o}", "serverContent", server_content));
}

static void push_part(emu_actions *a, json_t *part)
{
    if (part)
        push_content(a, json_pack("{s:{s:[o]}}", "modelTurn", "parts", part));
}

/* ---------- text ---------- */

static bool is_word_byte(unsigned char c)
{
    return isalnum(c) || c == '\'' || c >= 0x80;
}

/* End of the stream chunk starting at pos: the first chunk of an answer is its first word
 * (as the real service's first chunk is short), later ones at most TEXT_CHUNK_MAX bytes, cut
 * before a space (or, in a long word, at a UTF-8 boundary). */
static size_t chunk_end(const char *t, size_t pos, size_t len, bool first)
{
    if (first) {
        size_t i = pos;
        while (i < len && !is_word_byte((unsigned char)t[i]))
            i++;
        while (i < len && is_word_byte((unsigned char)t[i]))
            i++;
        if (i > pos && i < len && i - pos <= TEXT_CHUNK_MAX)
            return i;
    }
    if (len - pos <= TEXT_CHUNK_MAX)
        return len;
    size_t cut = 0;
    for (size_t i = pos + 1; i <= pos + TEXT_CHUNK_MAX; i++)
        if (t[i] == ' ')
            cut = i;
    if (cut)
        return cut;
    cut = pos + TEXT_CHUNK_MAX;
    while (cut > pos + 1 && ((unsigned char)t[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/* Text to add to the answer: separated by a space from what was said before. */
static char *joined(const struct turn *t, const char *text)
{
    bool sep = t->said.len && !isspace((unsigned char)t->said.s[t->said.len - 1]) && text[0] &&
               !isspace((unsigned char)text[0]);
    char *out = gl_xmalloc(strlen(text) + 2);
    sprintf(out, "%s%s", sep ? " " : "", text);
    return out;
}

static void say_audio(emu_session *m, emu_actions *a, const char *text)
{
    size_t pcm_len;
    unsigned char *pcm = emu_audio_synth(text, &pcm_len);
    if (!pcm)
        return;
    size_t len = strlen(text), tpos = 0;
    bool tfirst = true;
    for (size_t off = 0; off < pcm_len; off += EMU_AUDIO_CHUNK) {
        size_t n = pcm_len - off < EMU_AUDIO_CHUNK ? pcm_len - off : EMU_AUDIO_CHUNK;
        char *b64 = emu_base64(pcm + off, n);
        size_t before = a->len;
        if (b64)
            push_part(a, json_pack("{s:{s:s, s:s}}", "inlineData", "mimeType", EMU_AUDIO_MIME,
                                   "data", b64));
        free(b64);
        if (a->len > before) /* its playback time: the server paces the speech by it */
            a->v[a->len - 1].ms = (unsigned)(n / (2 * EMU_AUDIO_RATE / 1000));
        /* Transcript pieces whose audio has started by the end of this chunk. */
        while (m->transcribe && tpos < len) {
            size_t chars_before = 0;
            for (size_t i = 0; i < tpos; i++)
                chars_before += ((unsigned char)text[i] & 0xC0) != 0x80;
            if (chars_before * EMU_AUDIO_BYTES_PER_CHAR >= off + n && off + n < pcm_len)
                break;
            size_t e = chunk_end(text, tpos, len, tfirst);
            push_content(a, json_pack("{s:{s:s%}}", "outputTranscription", "text", text + tpos,
                                      e - tpos));
            tfirst = false;
            tpos = e;
        }
    }
    free(pcm);
    m->t.response_tokens += (unsigned)((pcm_len + 1919) / 1920); /* 25 tokens per second */
}

static void say_text_chunks(emu_session *m, emu_actions *a, const char *text)
{
    size_t len = strlen(text), pos = 0;
    bool first = true;
    while (pos < len) {
        size_t e = chunk_end(text, pos, len, first);
        push_part(a, json_pack("{s:s%}", "text", text + pos, e - pos));
        first = false;
        pos = e;
    }
    m->t.response_tokens += count_words(text);
}

/* Says text (already expanded) in the session's modality, and adds it to the answer. */
static void say(emu_session *m, emu_actions *a, const char *text)
{
    if (!text || !text[0])
        return;
    char *j = joined(&m->t, text);
    if (m->audio)
        say_audio(m, a, j);
    else
        say_text_chunks(m, a, j);
    sb_add(&m->t.said, j);
    free(j);
}

/* Explicit chunks: in TEXT each is one message, as given; in AUDIO they are said as one text. */
static char *expand(emu_session *m, const char *tmpl);

static void say_chunks(emu_session *m, emu_actions *a, char *const *chunks, size_t n)
{
    sb all = {0};
    for (size_t i = 0; i < n; i++) {
        char *e = expand(m, chunks[i]);
        sb_add(&all, e);
        free(e);
    }
    if (m->audio || all.len == 0) {
        say(m, a, sb_str(&all));
        sb_free(&all);
        return;
    }
    sb_free(&all);
    bool first = true; /* only the step's first chunk is separated from earlier text */
    for (size_t i = 0; i < n; i++) {
        char *e = expand(m, chunks[i]);
        if (!e[0]) {
            free(e);
            continue;
        }
        char *j = first ? joined(&m->t, e) : gl_xstrdup(e);
        first = false;
        free(e);
        push_part(a, json_pack("{s:s}", "text", j));
        m->t.response_tokens += count_words(j);
        sb_add(&m->t.said, j);
        free(j);
    }
}

/* {seconds:N}: N seconds scaled by --time-scale, as a Python number ("0.1" for 10 at 0.01).
 * False if N is not a number. */
static bool scaled_seconds(const emu_session *m, const char *num, size_t n, sb *out)
{
    char buf[32], *end;
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, num, n);
    buf[n] = '\0';
    double v = strtod(buf, &end);
    if (*end || v < 0)
        return false;
    sb_addf(out, "%g", v * m->time_scale);
    return true;
}

/* Replaces {prompt}, {result}, {arg}, {previous}, {outcome}, {seconds:N} and {tool:NAME}; other
 * braces stay. */
static char *expand(emu_session *m, const char *tmpl)
{
    sb out = {0};
    sb_add(&out, "");
    const char *p = tmpl;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open) {
            sb_add(&out, p);
            break;
        }
        sb_addn(&out, p, (size_t)(open - p));
        const char *close = strchr(open, '}');
        if (!close) {
            sb_add(&out, open);
            break;
        }
        size_t n = (size_t)(close - open - 1);
        const char *name = open + 1;
        const char *prev;
        if (n == 6 && strncmp(name, "prompt", 6) == 0) {
            sb_add(&out, m->t.prompt ? m->t.prompt : "");
        } else if (n == 6 && strncmp(name, "result", 6) == 0) {
            sb_add(&out, m->t.result ? m->t.result : "");
        } else if (n == 3 && strncmp(name, "arg", 3) == 0) {
            sb_add(&out, m->t.arg);
        } else if (n == 8 && strncmp(name, "previous", 8) == 0) {
            sb_add(&out, (prev = previous_prompt(m)) ? prev : "");
        } else if (n == 7 && strncmp(name, "outcome", 7) == 0) {
            sb_add(&out, m->t.outcome ? m->t.outcome : "");
        } else if (n > 8 && strncmp(name, "seconds:", 8) == 0 &&
                   scaled_seconds(m, name + 8, n - 8, &out)) {
            /* written by scaled_seconds */
        } else if (n > 5 && strncmp(name, "tool:", 5) == 0) {
            char tname[128];
            snprintf(tname, sizeof tname, "%.*s", (int)(n - 5), name + 5);
            json_t *r = json_object_get(m->tool_results, tname);
            char *dump = r ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
            sb_add(&out, dump ? dump : "null");
            free(dump);
        } else {
            sb_addn(&out, open, (size_t)(close - open + 1));
        }
        p = close + 1;
    }
    return out.s; /* never NULL: sb_add(&out, "") allocated it */
}

static void say_expanded(emu_session *m, emu_actions *a, const char *tmpl)
{
    char *text = expand(m, tmpl);
    say(m, a, text);
    free(text);
}

/* ---------- steps ---------- */

/* args with placeholders expanded in every string (the code of a run_python call). */
static json_t *expand_json(emu_session *m, const json_t *v)
{
    if (json_is_string(v)) {
        char *e = expand(m, json_string_value(v));
        json_t *r = json_string(e);
        free(e);
        return r ? r : json_deep_copy(v);
    }
    json_t *r, *e;
    if (json_is_object(v)) {
        r = json_object();
        const char *k;
        json_object_foreach((json_t *)v, k, e)
            json_object_set_new(r, k, expand_json(m, e));
        return r;
    }
    if (json_is_array(v)) {
        r = json_array();
        size_t i;
        json_array_foreach(v, i, e)
            json_array_append_new(r, expand_json(m, e));
        return r;
    }
    return json_deep_copy(v);
}

/* {arg} for code that a call carries: the number in the prompt (docs: "Where the argument comes
 * from"), else the step's "arg"; a code step of the turn, if any, already set it. */
static void call_arg(emu_session *m, const emu_step *st)
{
    if (m->t.arg[0])
        return;
    uint64_t n = emu_prompt_number(m->t.prompt, st->has_arg ? st->arg : 0);
    if (n || st->has_arg)
        snprintf(m->t.arg, sizeof m->t.arg, "%llu", (unsigned long long)n);
}

static void add_call(emu_session *m, const char *key, const char *name, bool async, bool no_id,
                     unsigned batch)
{
    m->calls = gl_xrealloc(m->calls, (m->ncalls + 1) * sizeof *m->calls);
    struct call *c = &m->calls[m->ncalls++];
    *c = (struct call){.name = gl_xstrdup(name), .async = async, .no_id = no_id, .batch = batch};
    snprintf(c->key, sizeof c->key, "%s", key);
}

/* How a step ended: go on; the batch waits for tool responses; the turn is complete; the
 * connection dies (a fault: nothing more, not even turnComplete). */
typedef enum { FLOW_NEXT, FLOW_WAIT, FLOW_DONE, FLOW_DEAD } flow;

static flow run_step(emu_session *m, emu_actions *a, const emu_step *st);

static flow run_list(emu_session *m, emu_actions *a, const emu_steps *steps)
{
    for (size_t i = 0; i < steps->len; i++)
        if (run_step(m, a, &steps->v[i]) == FLOW_DEAD)
            return FLOW_DEAD;
    return FLOW_NEXT;
}

/* The turn made NON_BLOCKING calls (batch): it says something meanwhile and completes; the rest
 * of its steps wait in a later until every call of the batch is finally answered. */
static flow defer(emu_session *m, emu_actions *a, const emu_step *st, unsigned batch, size_t n,
                  bool python)
{
    struct turn *t = &m->t;
    struct later *l = gl_xcalloc(1, sizeof *l);
    *l = (struct later){.next = m->waiting, .batch = batch, .waiting = n, .steps = t->steps,
                        .pc = t->pc, .prompt = gl_xstrdup(t->prompt ? t->prompt : ""),
                        .result = t->result ? gl_xstrdup(t->result) : NULL, .python = python,
                        .failed = st->failed};
    memcpy(l->arg, t->arg, sizeof l->arg);
    m->waiting = l;
    if (!st->meanwhile) {
        say(m, a, DEFAULT_MEANWHILE);
        return FLOW_DONE;
    }
    return run_list(m, a, st->meanwhile) == FLOW_DEAD ? FLOW_DEAD : FLOW_DONE;
}

/* One toolCall. A batch is NON_BLOCKING only if every function in it is: a blocking one makes
 * the model wait for all of them within the turn, as before. */
static flow step_call(emu_session *m, emu_actions *a, const emu_step *st)
{
    call_arg(m, st);
    json_t *calls = json_array(), *keys = json_array();
    bool async = true, python = false;
    for (size_t i = 0; i < st->ncalls; i++) {
        const struct fn *f = find_fn(m, st->calls[i].name);
        if (!f)
            continue; /* the model only calls functions the setup declared */
        char id[KEY_MAX];
        emu_script_next_call_id(m->s, id, sizeof id);
        json_t *fc = json_object(); /* in the order the service sends them */
        if (!st->no_id)
            json_object_set_new(fc, "id", json_string(id));
        json_object_set_new(fc, "name", json_string(f->name));
        json_object_set_new(fc, "args", expand_json(m, st->calls[i].args));
        json_array_append_new(calls, fc);
        json_array_append_new(keys, json_string(id));
        async &= f->async;
        python |= strcmp(f->name, PYTHON_FN) == 0;
        m->t.response_tokens += 1 + count_words(f->name);
    }
    size_t n = json_array_size(calls);
    unsigned batch = async && st->await ? ++m->next_batch : 0;
    for (size_t i = 0; i < n; i++) {
        json_t *fc = json_array_get(calls, i);
        add_call(m, json_string_value(json_array_get(keys, i)),
                 json_string_value(json_object_get(fc, "name")), async, st->no_id, batch);
    }
    if (n == 0) {
        json_decref(calls);
        json_decref(keys);
        return FLOW_NEXT;
    }
    if (st->via_code && m->code_exec) {
        char *code = expand(m, st->via_code);
        push_part(a, json_pack("{s:{s:s, s:s}}", "executableCode", "language", "PYTHON", "code",
                               code));
        m->t.response_tokens += count_words(code);
        free(code);
    }
    push_msg(a, json_pack("{s:{s:o}}", "toolCall", "functionCalls", calls));
    if (!st->await) {
        json_decref(keys);
        return FLOW_NEXT;
    }
    if (async) {
        json_decref(keys);
        return defer(m, a, st, batch, n, python);
    }
    json_decref(m->t.awaiting);
    m->t.awaiting = keys;
    m->t.python = python;
    m->t.failed = st->failed;
    push(a, (emu_action){.kind = EMU_ACT_AWAIT_TOOL, .ids = json_deep_copy(keys)});
    return FLOW_WAIT;
}

static void step_code(emu_session *m, emu_actions *a, const emu_step *st)
{
    if (!m->code_exec)
        return; /* the model cannot run code it was not given */
    emu_compute_in in = {.program = st->program, .prompt = m->t.prompt, .has_arg = st->has_arg,
                         .arg = st->arg, .seconds_ms = st->seconds_ms};
    emu_compute_out out;
    emu_compute_run(&in, &out);
    if (st->program && strcmp(st->program, "sleep") != 0)
        snprintf(m->t.arg, sizeof m->t.arg, "%llu", (unsigned long long)out.arg);
    char *code = expand(m, st->text);
    push_part(a, json_pack("{s:{s:s, s:s}}", "executableCode", "language", "PYTHON", "code",
                           code));
    m->t.response_tokens += count_words(code);
    free(code);
    if (out.delay_ms)
        push(a, (emu_action){.kind = EMU_ACT_DELAY, .ms = out.delay_ms});
    const char *output = out.output;
    push_part(a, json_pack("{s:{s:s, s:s}}", "codeExecutionResult", "outcome",
                           out.ok ? "OUTCOME_OK" : "OUTCOME_FAILED", "output", output));
    m->t.response_tokens += count_words(output);
    free(m->t.result);
    m->t.result = gl_xstrdup(output);
    size_t n = strlen(m->t.result);
    while (n && isspace((unsigned char)m->t.result[n - 1]))
        m->t.result[--n] = '\0';
    free(out.output);
}

static void step_search(emu_session *m, const emu_step *st)
{
    if (!m->search)
        return;
    char *query = st->text ? expand(m, st->text) : gl_xstrdup(m->t.prompt ? m->t.prompt : "");
    size_t idx[MAX_GROUNDING];
    unsigned score[MAX_GROUNDING];
    size_t n = emu_corpus_search(query, idx, score, MAX_GROUNDING);
    if (!m->t.queries) {
        m->t.queries = json_array();
        m->t.chunks = json_array();
        m->t.confidence = json_array();
        m->t.ground_start = m->t.said.len;
    }
    json_array_append_new(m->t.queries, json_string(query));
    for (size_t i = 0; i < n; i++) {
        /* Only documents at least half as relevant as the best one ground the answer. */
        if (2 * score[i] < score[0])
            break;
        const emu_doc *d = emu_corpus_doc(idx[i]);
        bool dup = false;
        size_t k;
        json_t *c;
        json_array_foreach(m->t.chunks, k, c) {
            const char *uri = json_string_value(json_object_get(json_object_get(c, "web"), "uri"));
            if (uri && strcmp(uri, d->uri) == 0)
                dup = true;
        }
        if (dup)
            continue;
        json_array_append_new(m->t.chunks, json_pack("{s:{s:s, s:s}}", "web", "uri", d->uri,
                                                     "title", d->title));
        /* k/128: exact in binary, so it prints short (0.9609375) whatever the dump flags */
        json_array_append_new(m->t.confidence,
                              json_real((double)(64 + 59 * score[i] / score[0]) / 128.0));
    }
    m->t.top_doc = n ? emu_corpus_doc(idx[0])->text : NULL;
    free(query);
}

static void html_escape(sb *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': sb_add(b, "&lt;"); break;
        case '>': sb_add(b, "&gt;"); break;
        case '&': sb_add(b, "&amp;"); break;
        case '"': sb_add(b, "&quot;"); break;
        default: sb_addn(b, s, 1);
        }
    }
}

static void url_escape(sb *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            sb_addn(b, s, 1);
        else if (c == ' ')
            sb_add(b, "+");
        else
            sb_addf(b, "%%%02X", c);
    }
}

static json_t *grounding_metadata(emu_session *m)
{
    sb html = {0};
    sb_add(&html, "<div class=\"container\"><div class=\"headline\">Google Search</div>"
                  "<div class=\"carousel\">");
    size_t i;
    json_t *q;
    json_array_foreach(m->t.queries, i, q) {
        sb_add(&html, "<a class=\"chip\" href=\"https://www.google.com/search?q=");
        url_escape(&html, json_string_value(q));
        sb_add(&html, "\">");
        html_escape(&html, json_string_value(q));
        sb_add(&html, "</a>");
    }
    sb_add(&html, "</div></div>");

    json_t *supports = json_array();
    size_t start = m->t.ground_start;
    while (start < m->t.said.len && isspace((unsigned char)m->t.said.s[start]))
        start++;
    size_t nchunks = json_array_size(m->t.chunks);
    if (start < m->t.said.len && nchunks) {
        json_t *idx = json_array(), *conf = json_deep_copy(m->t.confidence);
        for (size_t k = 0; k < nchunks; k++)
            json_array_append_new(idx, json_integer((json_int_t)k));
        json_array_append_new(
            supports,
            json_pack("{s:{s:I, s:I, s:s%}, s:o, s:o}", "segment", "startIndex",
                      (json_int_t)start, "endIndex", (json_int_t)m->t.said.len, "text",
                      m->t.said.s + start, m->t.said.len - start, "groundingChunkIndices", idx,
                      "confidenceScores", conf));
    }
    json_t *gm = json_pack("{s:O, s:{s:s}, s:O, s:o}", "webSearchQueries", m->t.queries,
                           "searchEntryPoint", "renderedContent", sb_str(&html),
                           "groundingChunks", m->t.chunks, "groundingSupports", supports);
    sb_free(&html);
    return gm;
}

static void finish_turn(emu_session *m, emu_actions *a)
{
    struct turn *t = &m->t;
    if (t->queries)
        push_content(a, json_pack("{s:o}", "groundingMetadata", grounding_metadata(m)));
    push_content(a, json_pack("{s:b}", "generationComplete", 1));
    unsigned p = t->prompt_tokens + t->prompt_audio_tokens, r = t->response_tokens;
    json_t *pdetails = json_array();
    if (t->prompt_tokens || !t->prompt_audio_tokens)
        json_array_append_new(pdetails, json_pack("{s:s, s:i}", "modality", "TEXT", "tokenCount",
                                                  (int)t->prompt_tokens));
    if (t->prompt_audio_tokens)
        json_array_append_new(pdetails, json_pack("{s:s, s:i}", "modality", "AUDIO",
                                                  "tokenCount", (int)t->prompt_audio_tokens));
    json_t *done = json_pack("{s:b}", "turnComplete", 1);
    if (t->waiting_for_input)
        json_object_set_new(done, "waitingForInput", json_true());
    push_msg(a, json_pack("{s:o, s:{s:i, s:i, s:i, s:o, s:[{s:s, s:i}]}}", "serverContent", done,
                          "usageMetadata", "promptTokenCount", (int)p,
                          "responseTokenCount", (int)r, "totalTokenCount", (int)(p + r),
                          "promptTokensDetails", pdetails, "responseTokensDetails", "modality",
                          m->audio ? "AUDIO" : "TEXT", "tokenCount", (int)r));
    if (t->followup)
        json_array_append_new(m->history, json_pack("{s:s, s:s}", "model", sb_str(&t->said),
                                                    "after_function", t->after ? t->after : ""));
    else
        json_array_append_new(m->history, json_pack("{s:s, s:s}", "user",
                                                    t->prompt ? t->prompt : "", "model",
                                                    sb_str(&t->said)));
    turn_reset(t);
}

/* The connection dies in this turn: no turnComplete, nothing for the history. */
static void fault_turn(emu_session *m)
{
    turn_reset(&m->t);
    drop_calls(m, true);
}

/* The cancel step: every pending call, NON_BLOCKING ones included, and what waited for them. */
static void cancel_all(emu_session *m, emu_actions *a)
{
    json_t *ids = json_array();
    for (size_t i = 0; i < m->ncalls; i++)
        if (!m->calls[i].no_id)
            json_array_append_new(ids, json_string(m->calls[i].key));
    if (json_array_size(ids))
        push_msg(a, json_pack("{s:{s:O}}", "toolCallCancellation", "ids", ids));
    json_decref(ids);
    drop_calls(m, true);
    laters_free(&m->waiting);
}

static void say_prefixed(emu_session *m, emu_actions *a, const char *prefix, const char *text)
{
    sb s = {0};
    sb_add(&s, prefix);
    sb_add(&s, text);
    say(m, a, sb_str(&s));
    sb_free(&s);
}

/* A fault: the action, and the turn is gone. */
static flow fault(emu_session *m, emu_actions *a, emu_action act)
{
    push(a, act);
    fault_turn(m);
    return FLOW_DEAD;
}

/* A "key=N" word in the prompt (at its start or after a space); false if absent or not a number
 * within max. Lets one script rule serve every size of benchmark. */
static bool prompt_setting(const char *prompt, const char *key, unsigned long long max,
                           unsigned long long *out)
{
    size_t kl = strlen(key);
    for (const char *p = prompt; p && (p = strstr(p, key)); p += kl) {
        if ((p != prompt && p[-1] != ' ') || p[kl] != '=' || !isdigit((unsigned char)p[kl + 1]))
            continue;
        char *end;
        unsigned long long v = strtoull(p + kl + 1, &end, 10);
        if (v <= max && (*end == '\0' || *end == ' ')) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The stream step: one action the server paces; the answer text records only its size (a
 * million parts would otherwise be carried in every resumption handle). */
static void step_stream(emu_session *m, emu_actions *a, const emu_step *st)
{
    const char *prompt = m->t.prompt ? m->t.prompt : "";
    unsigned long long parts = st->n, ms = st->ms, rate = st->rate, stamp = st->stamp;
    prompt_setting(prompt, "parts", EMU_STREAM_MAX_PARTS, &parts);
    prompt_setting(prompt, "audio_ms", EMU_STREAM_MAX_MS, &ms);
    prompt_setting(prompt, "rate", EMU_STREAM_MAX_RATE, &rate);
    prompt_setting(prompt, "stamp", 1, &stamp);
    emu_stream s = {.audio = m->audio, .stamp = stamp && !m->audio, .rate = (unsigned)rate};
    char summary[96];
    if (m->audio) {
        s.count = (ms + EMU_STREAM_AUDIO_MS - 1) / EMU_STREAM_AUDIO_MS;
        m->t.response_tokens += (unsigned)((s.count * EMU_STREAM_AUDIO_MS * 25 + 999) / 1000);
        snprintf(summary, sizeof summary, "[stream: %llu ms of audio]",
                 (unsigned long long)s.count * EMU_STREAM_AUDIO_MS);
    } else {
        s.count = parts;
        m->t.response_tokens += (unsigned)(3 * parts); /* "0000001 bench text, ": 3 words */
        snprintf(summary, sizeof summary, "[stream: %llu text parts]", parts);
    }
    if (s.count)
        push(a, (emu_action){.kind = EMU_ACT_STREAM, .stream = s});
    char *j = joined(&m->t, summary);
    if (j)
        sb_add(&m->t.said, j);
    free(j);
}

/* What the model "sees": the facts of the last picture, so a test can tell which bytes
 * arrived (the model cannot look at pixels). */
static void describe_image(emu_session *m, emu_actions *a)
{
    if (!m->image.set) {
        say(m, a, "I don't see any picture.");
        return;
    }
    char text[200];
    snprintf(text, sizeof text,
             "I see a %s picture of %zu bytes whose SHA-256 begins with %.12s.",
             strcasecmp(m->image.mime, "image/png") == 0 ? "PNG" : "JPEG", m->image.bytes,
             m->image.sha256);
    say(m, a, text);
}

void emu_session_set_image(emu_session *m, const char *mime, size_t bytes, const char *sha256)
{
    m->image.set = true;
    snprintf(m->image.mime, sizeof m->image.mime, "%s", mime);
    m->image.bytes = bytes;
    snprintf(m->image.sha256, sizeof m->image.sha256, "%s", sha256);
}

static flow run_step(emu_session *m, emu_actions *a, const emu_step *st)
{
    struct turn *t = &m->t;
    switch (st->kind) {
    case EMU_ST_SAY:
        say_expanded(m, a, st->text);
        break;
    case EMU_ST_CHUNKS:
        say_chunks(m, a, st->chunks, st->nchunks);
        break;
    case EMU_ST_CALL:
        return step_call(m, a, st);
    case EMU_ST_CODE:
        step_code(m, a, st);
        break;
    case EMU_ST_SEARCH:
        step_search(m, st);
        break;
    case EMU_ST_SAY_SEARCH:
        say(m, a, t->top_doc ? t->top_doc : "I couldn't find anything about that.");
        break;
    case EMU_ST_DELAY:
        push(a, (emu_action){.kind = EMU_ACT_DELAY, .ms = st->ms});
        break;
    case EMU_ST_GOAWAY:
        push(a, (emu_action){.kind = EMU_ACT_GOAWAY, .ms = st->ms});
        break;
    case EMU_ST_CANCEL:
        cancel_all(m, a);
        break;
    case EMU_ST_RECALL: {
        const char *prev = previous_prompt(m);
        if (prev)
            say_prefixed(m, a, "You said before: ", prev);
        else
            say(m, a, "This is the start of our conversation.");
        break;
    }
    case EMU_ST_ECHO:
        say_prefixed(m, a, "You said: ", t->prompt ? t->prompt : "");
        break;
    case EMU_ST_INTERIM: {
        char *text = expand(m, st->text);
        push_content(a, json_pack("{s:{s:s}}", "interimInputTranscription", "text", text));
        free(text);
        break;
    }
    case EMU_ST_VOICE:
        push_msg(a, json_pack("{s:{s:s}}", "voiceActivity", "voiceActivityType", st->text));
        break;
    case EMU_ST_WAITING:
        t->waiting_for_input = true;
        break;
    case EMU_ST_STREAM:
        step_stream(m, a, st);
        break;
    case EMU_ST_IMAGE:
        describe_image(m, a);
        break;
    case EMU_ST_CLOSE: {
        const char *reason = st->text;
        if (!reason)
            reason = st->code == 1011 ? "Internal error occurred." : "";
        return fault(m, a, (emu_action){.kind = EMU_ACT_CLOSE, .code = st->code,
                                        .text = gl_xstrdup(reason)});
    }
    case EMU_ST_DROP:
        return fault(m, a, (emu_action){.kind = EMU_ACT_DROP});
    case EMU_ST_MALFORMED:
        return fault(m, a, (emu_action){.kind = EMU_ACT_RAW, .text = gl_xstrdup(st->text)});
    case EMU_ST_OVERSIZE:
        return fault(m, a, (emu_action){.kind = EMU_ACT_OVERSIZE, .n = st->n});
    case EMU_ST_STALL:
        return fault(m, a, (emu_action){.kind = EMU_ACT_STALL});
    }
    return FLOW_NEXT;
}

static void run_steps(emu_session *m, emu_actions *a)
{
    struct turn *t = &m->t;
    while (t->steps && t->pc < t->steps->len) {
        switch (run_step(m, a, &t->steps->v[t->pc++])) {
        case FLOW_NEXT:
            continue;
        case FLOW_WAIT:
        case FLOW_DEAD:
            return;
        case FLOW_DONE:
            break;
        }
        break;
    }
    finish_turn(m, a);
}

/* ---------- turns ---------- */

void emu_session_interrupt(emu_session *m)
{
    struct turn *t = &m->t;
    if (!t->active)
        return;
    if (t->followup)
        json_array_append_new(m->history, json_pack("{s:s, s:s, s:b}", "model", sb_str(&t->said),
                                                    "after_function", t->after ? t->after : "",
                                                    "interrupted", 1));
    else
        json_array_append_new(m->history, json_pack("{s:s, s:s, s:b}", "user",
                                                    t->prompt ? t->prompt : "", "model",
                                                    sb_str(&t->said), "interrupted", 1));
    turn_reset(t);
    drop_calls(m, false); /* NON_BLOCKING calls outlive the turn */
}

static void start_turn(emu_session *m, const char *user_text)
{
    emu_session_interrupt(m);
    struct turn *t = &m->t;
    t->prompt = gl_xstrdup(user_text ? user_text : "");
    t->active = true;
    t->prompt_tokens = history_tokens(m);
}

static const emu_steps *named_call_steps(emu_session *m, const char *prompt);

/* The steps for the turn's prompt: the script's, else a call of the functions it names. */
static void select_steps(emu_session *m)
{
    m->t.steps = emu_script_select(m->s, m->t.prompt, has_tool, m);
    if (m->t.steps == &m->s->def) { /* no rule: maybe the prompt names a declared function */
        const emu_steps *named = named_call_steps(m, m->t.prompt);
        if (named)
            m->t.steps = named;
    }
}

void emu_session_prompt(emu_session *m, const char *text, emu_actions *out)
{
    start_turn(m, text);
    unsigned words = count_words(m->t.prompt);
    m->t.prompt_tokens += words ? words : 1;
    select_steps(m);
    run_steps(m, out);
}

/* run_python's answer ({"outcome", "output"}, the last one received) for the steps after its
 * call: {result} becomes the output's last line and {outcome} the outcome. If the code failed,
 * the model says so (the call step's "failed" text) and the turn ends there: false. */
static bool python_result(emu_session *m, emu_actions *a, const char *failed)
{
    struct turn *t = &m->t;
    const json_t *r = json_object_get(m->tool_results, PYTHON_FN);
    const char *outcome = json_string_value(json_object_get(r, "outcome"));
    const char *output = json_string_value(json_object_get(r, "output"));
    free(t->outcome);
    t->outcome = gl_xstrdup(outcome ? outcome : "OUTCOME_OK");
    /* the last line that is not blank, trimmed */
    const char *end = output ? output + strlen(output) : NULL, *start;
    while (end && end > output && isspace((unsigned char)end[-1]))
        end--;
    for (start = end; start && start > output && start[-1] != '\n';)
        start--;
    while (start && start < end && isspace((unsigned char)*start))
        start++;
    free(t->result);
    t->result = start ? gl_xstrndup(start, (size_t)(end - start)) : gl_xstrdup("");
    if (strcmp(t->outcome, "OUTCOME_OK") == 0)
        return true;
    say_expanded(m, a, failed ? failed : DEFAULT_FAILED);
    finish_turn(m, a);
    return false;
}

void emu_session_continue(emu_session *m, emu_actions *out)
{
    struct turn *t = &m->t;
    if (!t->active)
        return;
    /* Still waiting for some ids (the server called early): wait again for those. */
    json_t *left = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(t->awaiting, i, id) {
        for (size_t k = 0; k < m->ncalls; k++)
            if (strcmp(m->calls[k].key, json_string_value(id)) == 0)
                json_array_append(left, id);
    }
    if (json_array_size(left)) {
        push(out, (emu_action){.kind = EMU_ACT_AWAIT_TOOL, .ids = left});
        return;
    }
    json_decref(left);
    json_decref(t->awaiting);
    t->awaiting = NULL;
    if (t->python) {
        t->python = false;
        if (!python_result(m, out, t->failed))
            return;
    }
    run_steps(m, out);
}

/* inputTranscription of a spoken turn: the phrase in the pieces a text answer would stream
 * in, the last one marked finished. */
static void transcribe_input(emu_actions *a, const char *text)
{
    size_t len = strlen(text), pos = 0;
    bool first = true;
    while (pos < len) {
        size_t e = chunk_end(text, pos, len, first);
        json_t *t = json_pack("{s:s%}", "text", text + pos, e - pos);
        if (t && e == len)
            json_object_set_new(t, "finished", json_true());
        if (t)
            push_content(a, json_pack("{s:o}", "inputTranscription", t));
        first = false;
        pos = e;
    }
}

void emu_session_voice_turn(emu_session *m, const char *transcript, unsigned audio_ms,
                            emu_actions *out)
{
    char label[64];
    unsigned tenths = (audio_ms + 50) / 100; /* one decimal, rounded half up */
    snprintf(label, sizeof label, "[audio %u.%u s]", tenths / 10, tenths % 10);
    start_turn(m, transcript ? transcript : label);
    /* what the service counts for audio input: 25 tokens a second, as AUDIO */
    unsigned tok = (unsigned)(((unsigned long long)audio_ms * 25 + 999) / 1000);
    m->t.prompt_audio_tokens = tok ? tok : 1;
    if (!transcript) {
        say(m, out, EMU_NOT_UNDERSTOOD);
        finish_turn(m, out);
        return;
    }
    if (m->transcribe_input)
        transcribe_input(out, transcript);
    select_steps(m); /* the same answer as to the phrase typed */
    run_steps(m, out);
}

/* ---------- follow-ups: the answers to NON_BLOCKING calls ---------- */

bool emu_session_has_followup(const emu_session *m)
{
    return m->ready != NULL;
}

/* Queues a later to run: INTERRUPT ones before the others, each kind in arrival order. */
static void make_ready(emu_session *m, struct later *l, bool interrupt)
{
    l->interrupt = interrupt;
    struct later **p = &m->ready;
    while (*p && (!interrupt || (*p)->interrupt))
        p = &(*p)->next;
    l->next = *p;
    *p = l;
}

static char *compact(const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    return s ? s : gl_xstrdup("null");
}

/* What a follow-up says when there is nothing left of its turn to run. */
static char *returned_text(const char *name, const json_t *response)
{
    char *json = compact(response);
    sb s = {0};
    sb_addf(&s, "%.100s returned ", name);
    sb_add(&s, json);
    sb_add(&s, ".");
    free(json);
    return s.s; /* not NULL: never empty */
}

bool emu_session_followup(emu_session *m, emu_actions *out)
{
    struct later *l = m->ready;
    if (!l)
        return false;
    m->ready = l->next;
    emu_session_interrupt(m);
    struct turn *t = &m->t;
    t->active = t->followup = true;
    t->prompt = l->prompt;
    t->result = l->result;
    t->after = l->after;
    l->prompt = l->result = l->after = NULL;
    memcpy(t->arg, l->arg, sizeof t->arg);
    t->prompt_tokens = history_tokens(m) + 1;
    t->steps = l->steps;
    t->pc = l->pc;
    if (l->text) {
        say(m, out, l->text);
        finish_turn(m, out);
    } else if (l->python && !python_result(m, out, l->failed)) {
        /* said that the code failed */
    } else if (!t->steps || t->pc >= t->steps->len) {
        char *text = returned_text(t->after ? t->after : "",
                                   json_object_get(m->tool_results, t->after ? t->after : ""));
        say(m, out, text);
        free(text);
        finish_turn(m, out);
    } else {
        run_steps(m, out);
    }
    later_free(l);
    return true;
}

/* ---------- tools ---------- */

static struct call *find_call(emu_session *m, const char *id, const char *name, size_t *idx)
{
    for (size_t i = 0; i < m->ncalls; i++) {
        struct call *c = &m->calls[i];
        bool hit = id ? !c->no_id && strcmp(c->key, id) == 0
                      : c->no_id && name && strcmp(c->name, name) == 0;
        if (hit) {
            *idx = i;
            return c;
        }
    }
    return NULL;
}

static struct later *take_waiting(emu_session *m, unsigned batch)
{
    for (struct later **p = &m->waiting; *p; p = &(*p)->next) {
        if ((*p)->batch == batch) {
            struct later *l = *p;
            *p = l->next;
            l->next = NULL;
            return l;
        }
    }
    return NULL;
}

static struct later *find_waiting(emu_session *m, unsigned batch)
{
    for (struct later *l = m->waiting; l; l = l->next)
        if (l->batch == batch)
            return l;
    return NULL;
}

static emu_resp_kind ready_kind(emu_scheduling s)
{
    return s == EMU_SCHED_INTERRUPT ? EMU_RESP_INTERRUPT : EMU_RESP_WHEN_IDLE;
}

/* An answer to a NON_BLOCKING call (docs: "Asynchronous calls"). An intermediate answer
 * (willContinue) that is not SILENT gets an update generation of its own; the final answer
 * ends the call, and the one that completes its batch releases the batch's later, per its own
 * scheduling (SILENT: the later is dropped, nothing is generated). */
static emu_resp_kind async_response(emu_session *m, size_t idx, const emu_fn_response *r)
{
    struct call *c = &m->calls[idx];
    json_array_append_new(m->history,
                          json_pack("{s:s, s:o}", "function", c->name, "response",
                                    r->response ? json_deep_copy(r->response) : json_null()));
    if (r->will_continue) {
        if (r->scheduling == EMU_SCHED_SILENT)
            return EMU_RESP_KEPT;
        struct later *u = gl_xcalloc(1, sizeof *u);
        char *json = compact(r->response);
        sb s = {0};
        sb_addf(&s, "An update from %.100s: ", c->name);
        sb_add(&s, json);
        free(json);
        u->text = s.s; /* not NULL: the prefix is never empty */
        u->after = gl_xstrdup(c->name);
        make_ready(m, u, r->scheduling == EMU_SCHED_INTERRUPT);
        return ready_kind(r->scheduling);
    }
    unsigned batch = c->batch;
    char *name = gl_xstrdup(c->name);
    drop_call(m, idx);
    struct later *l = batch ? find_waiting(m, batch) : NULL;
    if (!l || --l->waiting > 0) {
        free(name);
        return EMU_RESP_KEPT;
    }
    l = take_waiting(m, batch);
    if (r->scheduling == EMU_SCHED_SILENT) {
        free(name);
        later_free(l);
        return EMU_RESP_KEPT;
    }
    l->after = name;
    make_ready(m, l, r->scheduling == EMU_SCHED_INTERRUPT);
    return ready_kind(r->scheduling);
}

emu_resp_kind emu_session_function_response(emu_session *m, const emu_fn_response *r,
                                            const char **key)
{
    size_t idx;
    struct call *c = find_call(m, r->id, r->name, &idx);
    if (!c)
        return EMU_RESP_UNKNOWN;
    snprintf(m->last_key, sizeof m->last_key, "%s", c->key);
    if (key)
        *key = m->last_key;
    json_object_set_new(m->tool_results, c->name,
                        r->response ? json_deep_copy(r->response) : json_null());
    if (c->async)
        return async_response(m, idx, r);
    drop_call(m, idx); /* scheduling and willContinue apply to NON_BLOCKING calls only */
    return EMU_RESP_AWAITED;
}

bool emu_session_tool_response(emu_session *m, const char *id, const char *name,
                               const json_t *response)
{
    emu_fn_response r = {.id = id, .name = name, .response = response};
    return id && emu_session_function_response(m, &r, NULL) != EMU_RESP_UNKNOWN;
}

json_t *emu_session_pending_calls(const emu_session *m)
{
    json_t *ids = json_array();
    for (size_t i = 0; i < m->ncalls; i++)
        if (!m->calls[i].async && !m->calls[i].no_id)
            json_array_append_new(ids, json_string(m->calls[i].key));
    return ids;
}

void emu_session_cancel_pending(emu_session *m)
{
    drop_calls(m, false);
}

/* ---------- prompts that name a declared function ----------
 * Beyond the script (a lower priority than any rule): a prompt containing every word of a
 * declared function's name (split at '_', case-insensitive, in any order) calls it with args {}
 * and then says what it returned, so that a user can try their own functions offline. Every
 * function the prompt names is called, in one toolCall. */

/* Whether word (n bytes) is a whole word of the prompt. */
static bool has_word(const char *prompt, const char *word, size_t n)
{
    for (const char *p = prompt; *p;) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *w = p;
        while (*p && isalnum((unsigned char)*p))
            p++;
        if ((size_t)(p - w) == n && n && strncasecmp(w, word, n) == 0)
            return true;
    }
    return false;
}

static bool names_fn(const char *prompt, const char *name)
{
    bool any = false;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "_");
        if (n) {
            if (!has_word(prompt, p, n))
                return false;
            any = true;
        }
        p += n + (p[n] == '_');
    }
    return any;
}

static emu_steps *make_named_steps(const emu_session *m, const size_t *idx, size_t n)
{
    emu_steps *steps = gl_xcalloc(1, sizeof *steps);
    steps->v = gl_xcalloc(2, sizeof *steps->v);
    steps->len = 2;
    emu_step *call = &steps->v[0], *answer = &steps->v[1];
    *call = (emu_step){.kind = EMU_ST_CALL, .await = true, .ncalls = n,
                       .calls = gl_xcalloc(n, sizeof *call->calls)};
    sb text = {0};
    for (size_t i = 0; i < n; i++) {
        const char *name = m->fns[idx[i]].name;
        call->calls[i] = (emu_call_spec){gl_xstrdup(name), json_object()};
        sb_add(&text, i ? " I called " : "I called ");
        sb_add(&text, name);
        sb_add(&text, ", and it returned {tool:");
        sb_add(&text, name);
        sb_add(&text, "}.");
    }
    *answer = (emu_step){.kind = EMU_ST_SAY, .await = true,
                         .text = text.s ? text.s : gl_xstrdup("")};
    return steps;
}

static const emu_steps *named_call_steps(emu_session *m, const char *prompt)
{
    size_t *idx = gl_xcalloc(m->nfns ? m->nfns : 1, sizeof *idx), n = 0;
    sb key = {0};
    for (size_t i = 0; i < m->nfns; i++) {
        if (!names_fn(prompt, m->fns[i].name))
            continue;
        sb_addf(&key, "%s%zu", n ? "," : "", i);
        idx[n++] = i;
    }
    const emu_steps *found = NULL;
    for (size_t i = 0; n && i < m->nnamed && !found; i++)
        if (strcmp(m->named_keys[i], sb_str(&key)) == 0)
            found = m->named[i];
    if (n && !found) {
        m->named = gl_xrealloc(m->named, (m->nnamed + 1) * sizeof *m->named);
        m->named_keys = gl_xrealloc(m->named_keys, (m->nnamed + 1) * sizeof *m->named_keys);
        m->named[m->nnamed] = make_named_steps(m, idx, n);
        m->named_keys[m->nnamed] = gl_xstrdup(sb_str(&key));
        found = m->named[m->nnamed++];
    }
    sb_free(&key);
    free(idx);
    return found;
}
