#include "client/glivectl/ask_args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/glivectl/suggest.h"
#include "client/lib/b64.h"
#include "common/xalloc.h"
#include "proto/line.h"

void gl_ask_opts_free(gl_ask_opts *o)
{
    free(o->functions);
    o->functions = NULL;
    o->nfunctions = 0;
}

/* The session options of ask, chat, open and close, and which commands take each. */
enum opt_kind { O_SESSION, O_MODEL, O_WAV, O_IMAGE, O_FUNCTION, O_TOOLS, O_SYSTEM, O_TOOL_REPLY,
                O_DEVICE, O_PLAY, O_AUDIO, O_CODE, O_SEARCH, O_JSON, O_KEEP, O_NO_KEEP, O_QUIET, O_HELP };

#define ASK (1u << GL_CMD_ASK)
#define CHAT (1u << GL_CMD_CHAT)
#define OPEN (1u << GL_CMD_OPEN)
#define CLOSE (1u << GL_CMD_CLOSE)
#define CONFIG (ASK | CHAT | OPEN) /* what a session is opened with */

static const struct {
    const char *name;
    enum opt_kind kind;
    bool value;
    unsigned cmds;
} ASK_OPTS[] = {
    {"--session", O_SESSION, true, CONFIG | CLOSE}, {"--model", O_MODEL, true, CONFIG},
    {"--wav", O_WAV, true, ASK},                    {"--function", O_FUNCTION, true, CONFIG},
    {"--image", O_IMAGE, true, ASK},
    {"--tools", O_TOOLS, true, CONFIG},             {"--system", O_SYSTEM, true, CONFIG},
    {"--tool-reply", O_TOOL_REPLY, true, ASK | CHAT},
    {"--play", O_PLAY, false, ASK | CHAT},          {"--device", O_DEVICE, true, ASK | CHAT},
    {"--audio", O_AUDIO, false, CONFIG},            {"--code-execution", O_CODE, false, CONFIG},
    {"--google-search", O_SEARCH, false, CONFIG},   {"--json", O_JSON, false, ASK | OPEN | CLOSE},
    {"--keep-connected", O_KEEP, false, CONFIG},   {"--no-keep-connected", O_NO_KEEP, false, CONFIG},
    {"--quiet", O_QUIET, false, ASK | CHAT},        {"-q", O_QUIET, false, ASK | CHAT},
    {"--help", O_HELP, false, CONFIG | CLOSE},      {"-h", O_HELP, false, CONFIG | CLOSE},
};
#define NOPTS (sizeof ASK_OPTS / sizeof ASK_OPTS[0])

static const char *const CMD_NAMES[] = {"ask", "chat", "open", "close"};

static int unknown_option(gl_cmd cmd, const char *a, size_t nlen, gl_err *err)
{
    const char *names[NOPTS];
    for (size_t j = 0; j < NOPTS; j++)
        names[j] = ASK_OPTS[j].cmds & (1u << cmd) ? ASK_OPTS[j].name : NULL;
    const char *hint = gl_suggest(a, nlen, names, NOPTS);
    int shown = (int)(nlen > 60 ? 60 : nlen);
    if (hint)
        return gl_fail(err, "usage", "unknown option \"%.*s\" for %s (did you mean \"%s\"?)", shown,
                       a, CMD_NAMES[cmd], hint);
    return gl_fail(err, "usage", "unknown option \"%.*s\" for %s", shown, a, CMD_NAMES[cmd]);
}

int gl_session_parse(gl_cmd cmd, int argc, char **argv, gl_ask_opts *o, gl_err *err)
{
    memset(o, 0, sizeof *o);
    o->session = GL_ASK_DEFAULT_SESSION;
    bool opts_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (opts_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (cmd != GL_CMD_ASK)
                return gl_fail(err, "usage", "unexpected argument \"%.40s\"%s", a,
                               cmd == GL_CMD_CHAT ? " (chat reads its prompts from stdin)" : "");
            if (o->prompt)
                return gl_fail(err, "usage", "more than one PROMPT (\"%.40s\", \"%.40s\"): quote the prompt",
                               o->prompt, a);
            o->prompt = a;
            /* "-" is stdin, as for most tools; `ask -- -` still sends a lone dash */
            o->prompt_stdin = !opts_done && strcmp(a, "-") == 0;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            opts_done = true;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        int k = -1;
        for (size_t j = 0; j < NOPTS; j++)
            if ((ASK_OPTS[j].cmds & (1u << cmd)) && strlen(ASK_OPTS[j].name) == nlen &&
                strncmp(ASK_OPTS[j].name, a, nlen) == 0)
                k = (int)j;
        if (k < 0)
            return unknown_option(cmd, a, nlen, err);
        const char *val = NULL;
        if (ASK_OPTS[k].value) {
            if (eq && a[1] == '-')
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return gl_fail(err, "usage", "option \"%s\" needs a value", ASK_OPTS[k].name);
        } else if (eq && a[1] == '-') {
            return gl_fail(err, "usage", "option \"%s\" takes no value", ASK_OPTS[k].name);
        }
        switch (ASK_OPTS[k].kind) {
        case O_SESSION: o->session = val; break;
        case O_MODEL: o->model = val; break;
        case O_WAV: o->wav = val; break;
        case O_IMAGE: o->image = val; break;
        case O_TOOLS: o->tools_file = val; break;
        case O_SYSTEM: o->system = val; break;
        case O_TOOL_REPLY: o->tool_reply = val; break;
        case O_DEVICE: o->device = val; break;
        case O_PLAY: o->play = true; break;
        case O_AUDIO: o->audio = true; break;
        case O_CODE: o->code_execution = true; break;
        case O_SEARCH: o->google_search = true; break;
        case O_JSON: o->json = true; break;
        case O_KEEP: o->keep_connected = 1; break;
        case O_NO_KEEP: o->keep_connected = -1; break;
        case O_QUIET: o->quiet = true; break;
        case O_HELP: o->help = true; break;
        case O_FUNCTION: {
            if (!*val)
                return gl_fail(err, "usage", "option \"--function\" needs a non-empty NAME");
            o->functions = gl_xrealloc(o->functions, (o->nfunctions + 1) * sizeof *o->functions);
            o->functions[o->nfunctions++] = val;
            break;
        }
        }
    }
    if (o->help)
        return 0;
    if (o->wav && !*o->wav)
        return gl_fail(err, "usage", "option \"--wav\" needs a FILE");
    if (o->image && !*o->image)
        return gl_fail(err, "usage", "option \"--image\" needs a FILE");
    if (o->device && !*o->device)
        return gl_fail(err, "usage", "option \"--device\" needs a NAME");
    if (o->device && !o->play)
        return gl_fail(err, "usage", "option \"--device\" names the device of --play: give --play too");
    if (o->model && !*o->model)
        return gl_fail(err, "usage", "option \"--model\" needs a NAME");
    if (cmd == GL_CMD_ASK && !o->prompt)
        return gl_fail(err, "usage", "missing PROMPT");
    if (cmd == GL_CMD_ASK && !*o->prompt)
        return gl_fail(err, "usage", "PROMPT is empty");
    gl_err e;
    if (!gl_session_name_ok(o->session, &e))
        return gl_fail(err, "usage", "%s", e.msg);
    return 0;
}

int gl_ask_parse(int argc, char **argv, gl_ask_opts *o, gl_err *err)
{
    return gl_session_parse(GL_CMD_ASK, argc, argv, o, err);
}

const char *gl_ask_modality(const gl_ask_opts *o)
{
    return o->audio || o->wav || o->play ? "AUDIO" : "TEXT";
}

json_t *gl_ask_tools(const gl_ask_opts *o, const json_t *extra)
{
    json_t *tools = json_array();
    if (o->code_execution)
        json_array_append_new(tools, json_pack("{s:{}}", "code_execution"));
    if (o->google_search)
        json_array_append_new(tools, json_pack("{s:{}}", "google_search"));
    if (o->nfunctions) {
        json_t *decls = json_array();
        for (size_t i = 0; i < o->nfunctions; i++)
            json_array_append_new(decls, json_pack("{s:o}", "name", gl_json_text(o->functions[i])));
        json_array_append_new(tools, json_pack("{s:o}", "function_declarations", decls));
    }
    size_t i;
    json_t *t;
    if (json_is_array(extra))
        json_array_foreach(extra, i, t)
            json_array_append(tools, t);
    return tools;
}

json_t *gl_ask_image_part(const char *path, gl_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gl_fail(err, "usage", "--image %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = gl_xmalloc(GL_ASK_IMAGE_MAX + 1);
    size_t n = fread(buf, 1, GL_ASK_IMAGE_MAX + 1, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    const char *mime = NULL;
    if (n >= 8 && memcmp(buf, "\x89PNG\r\n\x1a\n", 8) == 0)
        mime = "image/png";
    else if (n >= 3 && memcmp(buf, "\xff\xd8\xff", 3) == 0)
        mime = "image/jpeg";
    json_t *part = NULL;
    if (rerr)
        gl_fail(err, "usage", "--image %s: %s", path, strerror(rerr));
    else if (n > GL_ASK_IMAGE_MAX)
        gl_fail(err, "usage", "--image %s: more than %zu MiB, the most the Live API takes inline", path,
                GL_ASK_IMAGE_MAX >> 20);
    else if (!mime)
        gl_fail(err, "usage", "--image %s: neither a PNG nor a JPEG", path);
    else {
        char *b64 = gl_b64_encode(buf, n);
        part = json_pack("{s:{s:s, s:s}}", "inline_data", "mime_type", mime, "data", b64);
        free(b64);
    }
    free(buf);
    return part;
}

json_t *gl_ask_load_tools(const char *path, gl_err *err)
{
    json_error_t jerr;
    json_t *t = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!t) {
        if (jerr.line < 0 || jerr.position == 0) /* cannot open/read it */
            gl_fail(err, "usage", "--tools %s: %s", path, jerr.text);
        else
            gl_fail(err, "usage", "--tools %s: invalid JSON at line %d column %d: %s", path,
                    jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_array(t)) {
        json_decref(t);
        gl_fail(err, "usage", "--tools %s: expected a JSON array of Tool objects", path);
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(t, i, v) {
        if (!json_is_object(v)) {
            json_decref(t);
            gl_fail(err, "usage", "--tools %s: element %zu is not an object (a Tool)", path, i);
            return NULL;
        }
    }
    return t;
}

json_t *gl_ask_open_request(const gl_ask_opts *o, gl_err *err)
{
    gl_err e;
    if (!gl_session_name_ok(o->session, &e)) {
        gl_fail(err, "usage", "%s", e.msg);
        return NULL;
    }
    json_t *extra = NULL;
    if (o->tools_file && !(extra = gl_ask_load_tools(o->tools_file, err)))
        return NULL;
    json_t *tools = gl_ask_tools(o, extra);
    json_decref(extra);
    json_t *req = json_pack("{s:s, s:s, s:s}", "op", "open", "session", o->session, "modality",
                            gl_ask_modality(o));
    if (o->model)
        json_object_set_new(req, "model", gl_json_text(o->model));
    if (o->system)
        json_object_set_new(req, "system_instruction", gl_json_text(o->system));
    if (o->keep_connected) /* given for an existing session, it changes its setting */
        json_object_set_new(req, "keep_connected", json_boolean(o->keep_connected > 0));
    if (json_array_size(tools))
        json_object_set(req, "tools", tools);
    json_decref(tools);
    return req;
}

json_t *gl_ask_tool_reply(const gl_ask_opts *o, gl_err *err)
{
    const char *s = o->tool_reply ? o->tool_reply : GL_ASK_DEFAULT_TOOL_REPLY;
    json_error_t jerr;
    json_t *r = json_loads(s, JSON_REJECT_DUPLICATES, &jerr);
    if (!r) {
        gl_fail(err, "usage", "--tool-reply: invalid JSON at column %d: %s", jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(r)) {
        json_decref(r);
        gl_fail(err, "usage", "--tool-reply must be a JSON object, e.g. %s", GL_ASK_DEFAULT_TOOL_REPLY);
        return NULL;
    }
    return r;
}

static json_t *get2(const json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    return v ? v : json_object_get(o, snake);
}

size_t gl_grounding_collect(const json_t *metadata, json_t *acc)
{
    json_t *chunks = get2(metadata, "groundingChunks", "grounding_chunks");
    size_t added = 0, i;
    json_t *ch;
    json_array_foreach(chunks, i, ch) {
        json_t *web = json_object_get(ch, "web");
        const char *uri = json_string_value(json_object_get(web, "uri"));
        const char *title = json_string_value(json_object_get(web, "title"));
        if (!uri || !*uri)
            continue;
        bool seen = false;
        size_t j;
        json_t *s;
        json_array_foreach(acc, j, s)
            if (strcmp(json_string_value(json_object_get(s, "uri")), uri) == 0)
                seen = true;
        if (seen)
            continue;
        json_t *src = json_pack("{s:s}", "uri", uri);
        if (title && *title)
            json_object_set_new(src, "title", json_string(title));
        if (json_array_append_new(acc, src) == 0)
            added++;
    }
    return added;
}

char *gl_grounding_format(const json_t *acc)
{
    if (!json_array_size(acc))
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fputs("Sources:\n", f);
    size_t i;
    json_t *s;
    json_array_foreach(acc, i, s) {
        const char *title = json_string_value(json_object_get(s, "title"));
        const char *uri = json_string_value(json_object_get(s, "uri"));
        if (title)
            fprintf(f, "  %zu. %s \u2014 %s\n", i + 1, title, uri);
        else
            fprintf(f, "  %zu. %s\n", i + 1, uri);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

int gl_parse_timeout(const char *s, int *ms, gl_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < 0 || v > 2000000)
        return gl_fail(err, "usage", "--timeout needs a number of seconds (0 = no limit), not \"%.40s\"", s);
    *ms = v == 0 ? -1 : (int)ceil(v * 1000);
    return 0;
}
