/* The pure parts of `glivectl ask` (and helpers shared by the other commands): argument parsing,
 * the `open` request built from the flags, the default tool reply, grounding sources. No I/O
 * except reading the --tools and --image files. */
#ifndef GL_CLIENT_ASK_ARGS_H
#define GL_CLIENT_ASK_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define GL_ASK_DEFAULT_SESSION "default"
/* The seed notebook's answer to a function call. */
#define GL_ASK_DEFAULT_TOOL_REPLY "{\"result\":{\"string_value\":\"ok\"}}"

typedef struct gl_ask_opts {
    const char *session;        /* default GL_ASK_DEFAULT_SESSION */
    const char *model;          /* NULL: the daemon's default */
    bool audio;                 /* --audio */
    const char *wav;            /* --wav FILE (implies AUDIO) */
    const char *image;          /* --image FILE: a JPEG or PNG sent with the prompt, in its turn */
    bool play;                  /* --play: the answer's audio on the speaker (implies AUDIO) */
    const char *device;         /* --device NAME: the ALSA device --play uses (NULL: "default") */
    bool code_execution;
    bool google_search;
    const char **functions;     /* --function NAME..., owned array of borrowed strings */
    size_t nfunctions;
    const char *tools_file;     /* --tools FILE.json */
    const char *system;         /* --system TEXT */
    const char *tool_reply;     /* --tool-reply JSON (text) */
    bool json;                  /* --json */
    int keep_connected;         /* 1: --keep-connected (the daemon never parks the session),
                                   -1: --no-keep-connected (it may again), 0: neither */
    bool quiet;                 /* --quiet: no status lines (queued, connecting...) on stderr */
    bool help;                  /* --help / -h was given: nothing else is checked */
    const char *prompt;
    bool prompt_stdin;          /* PROMPT was "-" (before any "--"): read it from stdin */
} gl_ask_opts;

/* The commands sharing these options: ask, and chat/open/close, which take the session
 * options of ask that fit them (chat: not --wav/--json; open: not --wav/--tool-reply/--play;
 * close: --session and --json only) and no PROMPT. */
typedef enum gl_cmd { GL_CMD_ASK, GL_CMD_CHAT, GL_CMD_OPEN, GL_CMD_CLOSE } gl_cmd;

/* Parses the arguments after "ask" (argv[0] is the first of them). Options and the one PROMPT may
 * come in any order; "--opt VALUE" and "--opt=VALUE" both work; "--" ends the options (a prompt
 * starting with '-' goes after it). Strings are borrowed from argv. Error code "usage", e.g.
 * `unknown option "--foo"`, `option "--session" needs a value`, `missing PROMPT`,
 * `more than one PROMPT ("a", "b"): quote the prompt`. Always call gl_ask_opts_free. */
int gl_ask_parse(int argc, char **argv, gl_ask_opts *o, gl_err *err);
/* The same for any of the commands of gl_cmd. An unknown option's message names the closest
 * one the command takes: `unknown option "--sesion" for ask (did you mean "--session"?)`. */
int gl_session_parse(gl_cmd cmd, int argc, char **argv, gl_ask_opts *o, gl_err *err);
void gl_ask_opts_free(gl_ask_opts *o);

/* "AUDIO" if --audio, --wav or --play, else "TEXT". */
const char *gl_ask_modality(const gl_ask_opts *o);

/* The `tools` array from the flags: {"code_execution":{}}, {"google_search":{}}, one
 * {"function_declarations":[{"name":N}...]} with every --function, then the Tool objects of
 * `extra` (a JSON array, borrowed; may be NULL) appended as they are. New reference (an empty
 * array when no flag was given). */
json_t *gl_ask_tools(const gl_ask_opts *o, const json_t *extra);

/* Reads the --tools file: a JSON array of objects. Error code "usage" naming the file. */
json_t *gl_ask_load_tools(const char *path, gl_err *err);

/* The whole `open` request: {op, session, modality, model?, system_instruction?,
 * keep_connected?, tools?}, with
 * `tools` only when non-empty. Loads o->tools_file. Error code "usage" (bad session name, bad
 * tools file). */
json_t *gl_ask_open_request(const gl_ask_opts *o, gl_err *err);

/* The --image file as a Gemini Part, {"inline_data":{"mime_type","data"}}: a JPEG or PNG (told
 * by its first bytes, not its name) of at most GL_ASK_IMAGE_MAX bytes, the most the Live API
 * takes inline. Error code "usage" naming the file. */
#define GL_ASK_IMAGE_MAX ((size_t)7 << 20)
json_t *gl_ask_image_part(const char *path, gl_err *err);

/* The response object for function calls: --tool-reply parsed (must be a JSON object), else
 * GL_ASK_DEFAULT_TOOL_REPLY. Error code "usage". */
json_t *gl_ask_tool_reply(const gl_ask_opts *o, gl_err *err);

/* Adds the web sources of a groundingMetadata object (groundingChunks[].web {uri, title}; the
 * snake_case spelling is accepted too) to `acc`, an array of {"title","uri"} objects, skipping
 * URIs already in it. Returns how many were added. */
size_t gl_grounding_collect(const json_t *metadata, json_t *acc);

/* Appends "Sources:\n  1. Title — uri\n..." for acc to a malloc'd string (NULL if acc is empty).
 * A source without a title shows only its uri. */
char *gl_grounding_format(const json_t *acc);

/* Parses a --timeout value in seconds (decimal allowed, e.g. "2.5"; "0" = no limit) into
 * milliseconds (-1 for no limit). Error code "usage". */
int gl_parse_timeout(const char *s, int *ms, gl_err *err);

#endif
