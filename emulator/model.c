/* The scripted deterministic model (see model.h; script format: docs/emulator-script.md).
 *
 * A turn runs its rule's steps in order, appending actions; a tool call that awaits ends the
 * batch, and emu_session_continue() resumes at the next step. Everything a turn needs between
 * batches lives in struct turn. */
#include "emulator/model.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "emulator/audio.h"
#include "emulator/compute.h"
#include "emulator/corpus.h"
#include "emulator/model_priv.h"

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
        char *ns = realloc(b->s, cap);
        if (!ns)
            return; /* out of memory: the text is cut, never corrupt */
        b->s = ns;
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

struct turn {
    bool active;
    const emu_steps *steps;
    size_t pc;
    char *prompt;          /* user text (or "[audio N.N s]") */
    sb said;               /* the model's text so far (answer text / transcript) */
    json_t *awaiting;      /* ids the current batch waits for */
    char *result;          /* last code output, trailing whitespace trimmed */
    char arg[24];          /* last program argument, decimal, "" if none */
    unsigned prompt_tokens, prompt_audio_tokens, response_tokens;
    json_t *queries;       /* grounding: webSearchQueries so far, or NULL */
    json_t *chunks;        /* grounding: groundingChunks */
    json_t *confidence;    /* grounding: a confidence score per chunk */
    size_t ground_start;   /* offset in said where grounded text begins */
    const char *top_doc;   /* text of the best document of the last search */
};

struct emu_session {
    emu_script *s;
    char *model;
    bool audio, transcribe, code_exec, search;
    char **fns;
    size_t nfns;
    json_t *history;       /* [{"user":..,"model":..(,"interrupted":true)}] */
    json_t *tool_results;  /* name -> last response */
    json_t *pending;       /* [{"id":..,"name":..}] calls not yet answered */
    struct turn t;
};

static bool declared_fn(const emu_session *m, const char *name)
{
    for (size_t i = 0; i < m->nfns; i++)
        if (strcmp(m->fns[i], name) == 0)
            return true;
    return false;
}

/* For "requires": a declared function, or the built-in tools by their snake_case names. */
static bool has_tool(const void *ctx, const char *name)
{
    const emu_session *m = ctx;
    if (strcmp(name, "code_execution") == 0 || strcmp(name, "codeExecution") == 0)
        return m->code_exec;
    if (strcmp(name, "google_search") == 0 || strcmp(name, "googleSearch") == 0)
        return m->search;
    return declared_fn(m, name);
}

emu_session *emu_session_new(emu_script *s, const json_t *setup)
{
    emu_session *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->s = s;
    m->history = json_array();
    m->tool_results = json_object();
    m->pending = json_array();
    const char *model = json_string_value(json_object_get(setup, "model"));
    m->model = strdup(model ? model : "");
    if (!m->history || !m->tool_results || !m->pending || !m->model) {
        emu_session_free(m);
        return NULL;
    }
    /* The real service answers in AUDIO when no modality is asked for. */
    m->audio = true;
    json_t *mods = json_object_get(json_object_get(setup, "generationConfig"),
                                   "responseModalities");
    const char *mod0 = json_string_value(json_array_get(mods, 0));
    if (mod0 && strcasecmp(mod0, "TEXT") == 0)
        m->audio = false;
    m->transcribe = json_object_get(setup, "outputAudioTranscription") != NULL;

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
        json_array_foreach(json_object_get(tool, "functionDeclarations"), j, fd) {
            const char *name = json_string_value(json_object_get(fd, "name"));
            if (!name)
                continue;
            char **nf = realloc(m->fns, (m->nfns + 1) * sizeof *nf);
            if (!nf)
                continue;
            m->fns = nf;
            if ((m->fns[m->nfns] = strdup(name)))
                m->nfns++;
        }
    }
    return m;
}

static void turn_reset(struct turn *t)
{
    free(t->prompt);
    sb_free(&t->said);
    json_decref(t->awaiting);
    free(t->result);
    json_decref(t->queries);
    json_decref(t->chunks);
    json_decref(t->confidence);
    memset(t, 0, sizeof *t);
}

void emu_session_free(emu_session *m)
{
    if (!m)
        return;
    turn_reset(&m->t);
    free(m->model);
    for (size_t i = 0; i < m->nfns; i++)
        free(m->fns[i]);
    free(m->fns);
    json_decref(m->history);
    json_decref(m->tool_results);
    json_decref(m->pending);
    free(m);
}

/* ---------- history ---------- */

json_t *emu_session_history(const emu_session *m)
{
    return json_deep_copy(m->history);
}

void emu_session_restore(emu_session *m, const json_t *history)
{
    json_t *h = json_is_array(history) ? json_deep_copy(history) : json_array();
    if (!h)
        return;
    json_decref(m->history);
    m->history = h;
}

size_t emu_session_turns(const emu_session *m)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(m->history, i, e) {
        if (!json_is_true(json_object_get(e, "interrupted")))
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
    size_t n = json_array_size(m->history);
    if (n == 0)
        return NULL;
    return json_string_value(json_object_get(json_array_get(m->history, n - 1), "user"));
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

/* Appends act, taking its owned fields (freed if memory is out). */
static void push(emu_actions *a, emu_action act)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        emu_action *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv) {
            json_decref(act.msg);
            json_decref(act.ids);
            free(act.text);
            return;
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->len++] = act;
}

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

static void push_text_action(emu_actions *a, emu_act_kind kind, int code, const char *text)
{
    char *t = strdup(text ? text : "");
    if (t)
        push(a, (emu_action){.kind = kind, .code = code, .text = t});
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
    char *out = malloc(strlen(text) + 2);
    if (out)
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
        if (b64)
            push_part(a, json_pack("{s:{s:s, s:s}}", "inlineData", "mimeType", EMU_AUDIO_MIME,
                                   "data", b64));
        free(b64);
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
    if (!j)
        return;
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
        sb_add(&all, e ? e : "");
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
        if (!e || !e[0]) {
            free(e);
            continue;
        }
        char *j = first ? joined(&m->t, e) : strdup(e);
        first = false;
        free(e);
        if (!j)
            continue;
        push_part(a, json_pack("{s:s}", "text", j));
        m->t.response_tokens += count_words(j);
        sb_add(&m->t.said, j);
        free(j);
    }
}

/* Replaces {prompt}, {result}, {arg}, {previous} and {tool:NAME}; other braces stay. */
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
    return out.s; /* NULL only if memory is out */
}

static void say_expanded(emu_session *m, emu_actions *a, const char *tmpl)
{
    char *text = expand(m, tmpl);
    say(m, a, text);
    free(text);
}

/* ---------- steps ---------- */

static void step_call(emu_session *m, emu_actions *a, const emu_step *st, bool *stop)
{
    json_t *calls = json_array(), *ids = json_array();
    for (size_t i = 0; i < st->ncalls; i++) {
        /* The model only calls functions the setup declared. */
        if (!declared_fn(m, st->calls[i].name))
            continue;
        char id[48];
        emu_script_next_call_id(m->s, id, sizeof id);
        json_array_append_new(calls, json_pack("{s:s, s:s, s:O}", "id", id, "name",
                                               st->calls[i].name, "args", st->calls[i].args));
        json_array_append_new(m->pending, json_pack("{s:s, s:s}", "id", id, "name",
                                                    st->calls[i].name));
        json_array_append_new(ids, json_string(id));
        m->t.response_tokens += 1 + count_words(st->calls[i].name);
    }
    if (json_array_size(calls) == 0) {
        json_decref(calls);
        json_decref(ids);
        return;
    }
    if (st->via_code && m->code_exec) {
        char *code = expand(m, st->via_code);
        push_part(a, json_pack("{s:{s:s, s:s}}", "executableCode", "language", "PYTHON", "code",
                               code ? code : ""));
        m->t.response_tokens += count_words(code);
        free(code);
    }
    push_msg(a, json_pack("{s:{s:o}}", "toolCall", "functionCalls", calls));
    if (!st->await) {
        json_decref(ids);
        return;
    }
    json_decref(m->t.awaiting);
    m->t.awaiting = ids;
    json_t *copy = json_deep_copy(ids);
    if (copy)
        push(a, (emu_action){.kind = EMU_ACT_AWAIT_TOOL, .ids = copy});
    *stop = true;
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
                           code ? code : ""));
    m->t.response_tokens += count_words(code);
    free(code);
    if (out.delay_ms)
        push(a, (emu_action){.kind = EMU_ACT_DELAY, .ms = out.delay_ms});
    const char *output = out.output ? out.output : "";
    push_part(a, json_pack("{s:{s:s, s:s}}", "codeExecutionResult", "outcome",
                           out.ok ? "OUTCOME_OK" : "OUTCOME_FAILED", "output", output));
    m->t.response_tokens += count_words(output);
    free(m->t.result);
    m->t.result = strdup(output);
    if (m->t.result) {
        size_t n = strlen(m->t.result);
        while (n && isspace((unsigned char)m->t.result[n - 1]))
            m->t.result[--n] = '\0';
    }
    free(out.output);
}

static void step_search(emu_session *m, const emu_step *st)
{
    if (!m->search)
        return;
    char *query = st->text ? expand(m, st->text) : strdup(m->t.prompt ? m->t.prompt : "");
    if (!query)
        return;
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
    push_msg(a, json_pack("{s:{s:b}, s:{s:i, s:i, s:i, s:o, s:[{s:s, s:i}]}}", "serverContent",
                          "turnComplete", 1, "usageMetadata", "promptTokenCount", (int)p,
                          "responseTokenCount", (int)r, "totalTokenCount", (int)(p + r),
                          "promptTokensDetails", pdetails, "responseTokensDetails", "modality",
                          m->audio ? "AUDIO" : "TEXT", "tokenCount", (int)r));
    json_array_append_new(m->history, json_pack("{s:s, s:s}", "user", t->prompt ? t->prompt : "",
                                                "model", sb_str(&t->said)));
    turn_reset(t);
}

/* The connection dies in this turn: no turnComplete, nothing for the history. */
static void fault_turn(emu_session *m)
{
    turn_reset(&m->t);
    json_array_clear(m->pending);
}

static void run_steps(emu_session *m, emu_actions *a)
{
    struct turn *t = &m->t;
    while (t->pc < t->steps->len) {
        const emu_step *st = &t->steps->v[t->pc++];
        bool stop = false;
        switch (st->kind) {
        case EMU_ST_SAY:
            say_expanded(m, a, st->text);
            break;
        case EMU_ST_CHUNKS:
            say_chunks(m, a, st->chunks, st->nchunks);
            break;
        case EMU_ST_CALL:
            step_call(m, a, st, &stop);
            if (stop)
                return;
            break;
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
        case EMU_ST_CANCEL: {
            json_t *ids = emu_session_pending_calls(m);
            if (ids && json_array_size(ids))
                push_msg(a, json_pack("{s:{s:o}}", "toolCallCancellation", "ids", ids));
            else
                json_decref(ids);
            json_array_clear(m->pending);
            break;
        }
        case EMU_ST_RECALL: {
            const char *prev = previous_prompt(m);
            if (!prev) {
                say(m, a, "This is the start of our conversation.");
            } else {
                sb s = {0};
                sb_add(&s, "You said before: ");
                sb_add(&s, prev);
                say(m, a, sb_str(&s));
                sb_free(&s);
            }
            break;
        }
        case EMU_ST_ECHO: {
            sb s = {0};
            sb_add(&s, "You said: ");
            sb_add(&s, t->prompt ? t->prompt : "");
            say(m, a, sb_str(&s));
            sb_free(&s);
            break;
        }
        case EMU_ST_CLOSE: {
            const char *reason = st->text;
            if (!reason)
                reason = st->code == 1011 ? "Internal error occurred." : "";
            push_text_action(a, EMU_ACT_CLOSE, st->code, reason);
            fault_turn(m);
            return;
        }
        case EMU_ST_DROP:
            push(a, (emu_action){.kind = EMU_ACT_DROP});
            fault_turn(m);
            return;
        case EMU_ST_MALFORMED:
            push_text_action(a, EMU_ACT_RAW, 0, st->text);
            fault_turn(m);
            return;
        case EMU_ST_OVERSIZE:
            push(a, (emu_action){.kind = EMU_ACT_OVERSIZE, .n = st->n});
            fault_turn(m);
            return;
        case EMU_ST_STALL:
            push(a, (emu_action){.kind = EMU_ACT_STALL});
            fault_turn(m);
            return;
        }
    }
    finish_turn(m, a);
}

/* ---------- turns ---------- */

void emu_session_interrupt(emu_session *m)
{
    if (m->t.active) {
        json_array_append_new(m->history,
                              json_pack("{s:s, s:s, s:b}", "user", m->t.prompt ? m->t.prompt : "",
                                        "model", sb_str(&m->t.said), "interrupted", 1));
        turn_reset(&m->t);
        json_array_clear(m->pending);
    }
}

static bool start_turn(emu_session *m, const char *user_text)
{
    emu_session_interrupt(m);
    struct turn *t = &m->t;
    t->prompt = strdup(user_text ? user_text : "");
    if (!t->prompt)
        return false;
    t->active = true;
    t->prompt_tokens = history_tokens(m);
    return true;
}

void emu_session_prompt(emu_session *m, const char *text, emu_actions *out)
{
    if (!start_turn(m, text))
        return;
    unsigned words = count_words(m->t.prompt);
    m->t.prompt_tokens += words ? words : 1;
    m->t.steps = emu_script_select(m->s, m->t.prompt, has_tool, m);
    run_steps(m, out);
}

void emu_session_continue(emu_session *m, emu_actions *out)
{
    if (!m->t.active)
        return;
    /* Still waiting for some ids (the server called early): wait again for those. */
    json_t *left = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(m->t.awaiting, i, id) {
        size_t k;
        json_t *p;
        json_array_foreach(m->pending, k, p) {
            if (json_equal(json_object_get(p, "id"), id))
                json_array_append(left, id);
        }
    }
    if (left && json_array_size(left)) {
        push(out, (emu_action){.kind = EMU_ACT_AWAIT_TOOL, .ids = left});
        return;
    }
    json_decref(left);
    json_decref(m->t.awaiting);
    m->t.awaiting = NULL;
    run_steps(m, out);
}

void emu_session_audio_turn(emu_session *m, size_t pcm_bytes, emu_actions *out)
{
    char label[64], answer[96];
    /* one decimal, rounded half up, from integer arithmetic */
    unsigned long long tenths = ((unsigned long long)pcm_bytes + 1600) / 3200;
    snprintf(label, sizeof label, "[audio %llu.%llu s]", tenths / 10, tenths % 10);
    snprintf(answer, sizeof answer, "I heard %llu.%llu seconds of audio.", tenths / 10,
             tenths % 10);
    if (!start_turn(m, label))
        return;
    /* 16 kHz s16le: 32000 bytes a second; 25 tokens a second. */
    unsigned tok = (unsigned)(((unsigned long long)pcm_bytes * 25 + 31999) / 32000);
    m->t.prompt_audio_tokens = tok ? tok : 1;
    say(m, out, answer);
    finish_turn(m, out);
}

/* ---------- tools ---------- */

bool emu_session_tool_response(emu_session *m, const char *id, const char *name,
                               const json_t *response)
{
    if (!id)
        return false;
    size_t i;
    json_t *p;
    json_array_foreach(m->pending, i, p) {
        if (strcmp(json_string_value(json_object_get(p, "id")), id) != 0)
            continue;
        const char *call_name = json_string_value(json_object_get(p, "name"));
        const char *key = call_name ? call_name : name;
        json_t *copy = response ? json_deep_copy(response) : json_null();
        if (key && copy)
            json_object_set_new(m->tool_results, key, copy);
        else
            json_decref(copy);
        json_array_remove(m->pending, i);
        return true;
    }
    return false;
}

json_t *emu_session_pending_calls(const emu_session *m)
{
    json_t *ids = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(m->pending, i, p) {
        json_array_append(ids, json_object_get(p, "id"));
    }
    return ids;
}

void emu_session_cancel_pending(emu_session *m)
{
    json_array_clear(m->pending);
}
