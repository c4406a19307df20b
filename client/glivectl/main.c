/* glivectl: the command-line client of gliveD (see `glivectl --help` and proto/PROTOCOL.md).
 * Exit status: 0 ok, 1 gliveD/model error, 2 usage error, 3 cannot connect to gliveD
 * (130 when `ask` is stopped by SIGINT/SIGTERM; `watch` and `tool` exit 0 then). */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/glivectl/ask_args.h"
#include "common/xalloc.h"
#include "client/lib/b64.h"
#include "client/lib/glive.h"
#include "client/glivectl/tool_cmd.h"
#include "client/glivectl/tool_run.h"
#include "client/lib/wav.h"
#include "proto/line.h"
#include "proto/version.h"

#define DEFAULT_TIMEOUT_MS 60000
#define SLICE_MS 250 /* longest blocking wait, so signals are noticed promptly */

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3, EXIT_SIGNAL = 130 };

typedef struct globals {
    const char *socket;  /* NULL = the default */
    int timeout_ms;      /* -1 = no limit */
} globals;

/* ---- output -------------------------------------------------------------------------------- */

/* A stream and whether its last byte written left it mid-line. Every write is flushed: text is
 * streamed as it arrives. */
typedef struct ostream {
    FILE *f;
    bool midline;
} ostream;

static ostream OUT, ERR;
static const char *transcript_run; /* source of the transcript being streamed to stderr, or NULL */

static void o_write(ostream *o, const char *s, size_t n)
{
    if (!n)
        return;
    fwrite(s, 1, n, o->f);
    o->midline = s[n - 1] != '\n';
    fflush(o->f);
}

static void o_puts(ostream *o, const char *s) { o_write(o, s, strlen(s)); }

static void o_vprintf(ostream *o, const char *fmt, va_list ap)
{
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    if (n > 0)
        o_write(o, s, (size_t)n);
    free(s);
}

static __attribute__((format(printf, 2, 3))) void o_printf(ostream *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o_vprintf(o, fmt, ap);
    va_end(ap);
}

/* Moves o to the start of a line. */
static void o_newline(ostream *o)
{
    if (o->midline)
        o_write(o, "\n", 1);
}

/* Moves stderr to the start of a line for a diagnostic: ends a streamed transcript, and a
 * half-written stdout line when both are the same terminal. */
static void err_linestart(void)
{
    transcript_run = NULL;
    if (OUT.midline && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO))
        o_write(&OUT, "\n", 1);
    o_newline(&ERR);
}

/* One diagnostic line on stderr, on a line of its own. */
static __attribute__((format(printf, 1, 2))) void errline(const char *fmt, ...)
{
    err_linestart();
    va_list ap;
    va_start(ap, fmt);
    o_vprintf(&ERR, fmt, ap);
    va_end(ap);
    o_write(&ERR, "\n", 1);
}

static int report(const gl_err *e)
{
    errline("glivectl: %s: %s", e->code, e->msg);
    return EXIT_ERR;
}

/* Compact JSON of v (malloc'd; "?" if it cannot be encoded). */
static char *dump(const json_t *v)
{
    char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
    return s ? s : strdup("?");
}

static void print_json_line(const json_t *v)
{
    char *s = dump(v);
    o_newline(&OUT);
    o_puts(&OUT, s);
    o_write(&OUT, "\n", 1);
    free(s);
}

/* A JSON value for humans: strings as they are, null as "-", containers as compact JSON. */
static char *human(const json_t *v)
{
    char *s = NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (!v || json_is_null(v))
        return strdup("-");
    if (json_is_integer(v)) {
        if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0)
            return strdup("?");
        return s;
    }
    return dump(v);
}

static const char *str_or(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

/* ---- signals ------------------------------------------------------------------------------- */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) { got_signal = sig; }

/* No SA_RESTART: a blocking poll() returns EINTR, and loops check got_signal at least every
 * SLICE_MS anyway. */
static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for the next event, at most timeout_ms (-1 forever) but in slices so that a signal is
 * seen. NULL with err (code "timeout" when timeout_ms passed, "signal" on SIGINT/SIGTERM). */
static json_t *wait_event(glive_client *c, int timeout_ms, gl_err *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    for (;;) {
        if (got_signal) {
            gl_fail(err, "signal", "stopped by signal %d", (int)got_signal);
            return NULL;
        }
        int slice = SLICE_MS;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            if (left <= 0) {
                gl_fail(err, "timeout", "no event from gliveD for %d s (see --timeout)",
                        (timeout_ms + 999) / 1000);
                return NULL;
            }
            if (left < slice)
                slice = (int)left;
        }
        json_t *ev = glive_next_event(c, slice, err);
        if (ev)
            return ev;
        if (strcmp(err->code, "timeout") != 0 && strcmp(err->code, "eintr") != 0)
            return NULL;
    }
}

/* ---- usage --------------------------------------------------------------------------------- */

static const char USAGE[] =
    "Usage: glivectl [--socket PATH] [--timeout S] COMMAND [ARGS...]\n"
    "       glivectl --help | --version | help COMMAND | COMMAND --help\n"
    "\n"
    "Talks to gliveD, the daemon keeping Gemini Live sessions open, over its Unix socket.\n"
    "\n"
    "Global options (before COMMAND):\n"
    "  --socket PATH   gliveD's socket (default: $GLIVE_SOCKET, else $RUNTIME_DIRECTORY/gliveD.sock,\n"
    "                  else $XDG_RUNTIME_DIR/glive/gliveD.sock, else /run/glive/gliveD.sock)\n"
    "  --timeout S     give up when gliveD stays silent for S seconds: a reply, or the next event\n"
    "                  of a turn (default 60; 0 = wait forever)\n"
    "  -h, --help      show this help\n"
    "  --version       show the version\n"
    "\n"
    "Commands:\n"
    "%s"
    "\n"
    "Exit status: 0 ok, 1 gliveD or model error, 2 usage error, 3 cannot connect to gliveD.\n";

static const char USAGE_ASK[] =
    "Usage: glivectl ask [OPTIONS] PROMPT\n"
    "\n"
    "Opens (or attaches to) a session, sends PROMPT and streams the answer of that turn: text to\n"
    "stdout as it arrives, code and code results readably, search sources at the end. Function\n"
    "calls of the turn are answered by glivectl (logged to stderr).\n"
    "\n"
    "  --session NAME      the session (default \"default\"); created if it does not exist\n"
    "  --model NAME        model of a new session (default: gliveD's)\n"
    "  --audio             ask for AUDIO; without --wav the PCM (s16le mono) goes to stdout and\n"
    "                      text to stderr\n"
    "  --wav FILE          ask for AUDIO and write it to FILE as a WAV (24 kHz s16le mono)\n"
    "  --code-execution    enable the code execution tool\n"
    "  --google-search     enable the Google Search tool\n"
    "  --function NAME     declare a function NAME (repeatable)\n"
    "  --tools FILE.json   add the Gemini Tool objects of a JSON array\n"
    "  --system TEXT       system instruction\n"
    "  --tool-reply JSON   response object sent for function calls\n"
    "                      (default {\"result\":{\"string_value\":\"ok\"}})\n"
    "  --json              print the open/send replies and every event of the turn as JSON\n"
    "                      lines on stdout instead (audio still goes to --wav)\n"
    "\n"
    "Transcripts of the spoken answer go to stderr, prefixed \"[transcript] \".\n";

static const char USAGE_WATCH[] =
    "Usage: glivectl watch [--json] SESSION\n"
    "\n"
    "Subscribes to SESSION and prints every event of it as it arrives, whoever prompted: text\n"
    "streamed, other events one readable line each (--json: the event lines as they are). Runs\n"
    "until interrupted (exit 0) or until gliveD closes the connection.\n";

static const char USAGE_SESSIONS[] =
    "Usage: glivectl sessions [--json]\n"
    "\n"
    "Lists gliveD's sessions: name, state, model, modality, turns, subscribers\n"
    "(--json: the reply as it is).\n";

static const char USAGE_STATUS[] =
    "Usage: glivectl status [--json]\n"
    "\n"
    "Shows gliveD's status (uptime, sessions, clients, traffic) as \"key: value\" lines\n"
    "(--json: the reply as it is).\n";

static const char USAGE_TOOL[] =
    "Usage: glivectl tool [--session NAME|'*'] --name NAME [--description TEXT]\n"
    "                     [--parameters SCHEMA.json] [--timeout S] [--json] -- COMMAND [ARGS...]\n"
    "\n"
    "Registers the function NAME with gliveD and serves the model's calls of it by running\n"
    "COMMAND ARGS (no shell; use sh -c '...' for one) once per call, until interrupted (exit 0,\n"
    "running commands are killed) or until gliveD closes the connection (exit 1).\n"
    "\n"
    "  --session NAME      the session to serve, or '*' (default) for every session that declares\n"
    "                      the function; a session that did not declare it is re-established\n"
    "                      with it (its conversation is kept)\n"
    "  --name NAME         the function's name (required)\n"
    "  --description TEXT  the function's description, for the model\n"
    "  --parameters FILE   a JSON file with the parameters schema (an object, e.g.\n"
    "                      {\"type\":\"object\",\"properties\":{\"room\":{\"type\":\"string\"}}})\n"
    "  --timeout S         longest run of one call, in seconds (default 30): past it the\n"
    "                      command's whole process group is killed and the model gets the\n"
    "                      error (gliveD is told S + 1 s, as a safety net)\n"
    "  --json              print every event and reply received as JSON lines on stdout\n"
    "\n"
    "Each call runs COMMAND in a new process group with the call's args as one line of compact\n"
    "JSON on stdin (then EOF) and GLIVE_CALL_ID, GLIVE_TOOL, GLIVE_SESSION in the environment.\n"
    "Calls run concurrently (at most 64 at once). The answer sent to the model:\n"
    "  stdout that is a JSON object   that object, as is\n"
    "  any other stdout               {\"output\": \"<stdout>\"} (trailing newlines trimmed)\n"
    "  exit status N != 0             {\"error\": \"COMMAND exited with status N: <stderr tail>\"}\n"
    "  a signal                       {\"error\": \"COMMAND killed by signal SIGx: <stderr tail>\"}\n"
    "  past --timeout                 {\"error\": \"COMMAND timed out after S s\"}\n"
    "  cannot execute                 {\"error\": \"cannot run COMMAND: <reason>\"}\n"
    "stdout is limited to 1 MiB per call; the stderr tail is its last 2 KiB. A call the model\n"
    "cancels is killed and not answered. One line per call is logged to stderr:\n"
    "  [tool] NAME(ARGS) -> RESPONSE (0.12 s)\n"
    "\n"
    "Example: glivectl tool --name turn_on_the_lights -- sh -c 'echo on > /tmp/lights'\n";

/* ---- connecting and requests --------------------------------------------------------------- */

static glive_client *connect_daemon(const globals *g)
{
    gl_err e;
    glive_client *c = glive_connect(g->socket, &e);
    if (!c)
        errline("glivectl: %s", e.msg);
    return c;
}

/* Sends req (stolen) and returns the reply whatever "ok" says, or NULL with err. */
static json_t *request(glive_client *c, const globals *g, json_t *req, gl_err *err)
{
    if (!req) {
        gl_fail(err, "internal", "out of memory");
        return NULL;
    }
    return glive_request(c, req, g->timeout_ms, err);
}

/* For commands that just need one successful reply. */
static json_t *request_ok(glive_client *c, const globals *g, json_t *req, int *rc)
{
    gl_err e;
    json_t *r = request(c, g, req, &e);
    if (r && glive_reply_error(r, &e) < 0) {
        json_decref(r);
        r = NULL;
    }
    if (!r)
        *rc = report(&e);
    return r;
}

/* ---- readable events (shared by ask and watch) ---------------------------------------------- */

static void print_code(ostream *o, const json_t *ev)
{
    const char *code = str_or(ev, "code", "");
    size_t n = strlen(code);
    o_newline(o);
    o_printf(o, "[code: %s]\n%s%s[/code]\n", str_or(ev, "language", "?"), code,
             n && code[n - 1] == '\n' ? "" : "\n");
}

static void print_code_result(ostream *o, const json_t *ev)
{
    const char *out = str_or(ev, "output", "");
    size_t n = strlen(out);
    o_newline(o);
    o_printf(o, "[result: %s]\n%s%s", str_or(ev, "outcome", "?"), out,
             n && out[n - 1] != '\n' ? "\n" : "");
}

/* ---- ask ----------------------------------------------------------------------------------- */

typedef struct ask_state {
    const globals *g;
    const gl_ask_opts *o;
    glive_client *c;
    long long turn;
    ostream *text;          /* where text goes: stdout, or stderr when stdout carries PCM */
    bool raw_pcm;           /* --audio without --wav (and not --json): PCM to stdout */
    gl_wav wav;
    bool wav_open;
    bool audio_ignored_noted;
    json_t *tool_reply;     /* response for function calls */
    json_t *sources;        /* grounding sources of the turn */
} ask_state;

enum { EV_CONTINUE = -1 };

static int ask_audio(ask_state *st, const json_t *ev)
{
    const char *data = str_or(ev, "data", "");
    if (!st->wav_open && !st->raw_pcm) {
        if (!st->o->json && !st->audio_ignored_noted) {
            errline("[audio not saved: use --wav FILE, or --audio for raw PCM on stdout]");
            st->audio_ignored_noted = true;
        }
        return EV_CONTINUE;
    }
    unsigned char *pcm;
    size_t n;
    gl_err e;
    if (gl_b64_decode(data, strlen(data), &pcm, &n, &e) < 0)
        return report(&e);
    int rc = EV_CONTINUE;
    if (st->wav_open) {
        uint32_t rate = gl_wav_mime_rate(str_or(ev, "mime", NULL), GL_WAV_DEFAULT_RATE);
        if (gl_wav_set_rate(&st->wav, rate) != 0)
            errline("[audio: rate changed to %u Hz mid-stream; the WAV keeps %u Hz]", rate,
                    st->wav.rate);
        if (gl_wav_write(&st->wav, pcm, n, &e) < 0)
            rc = report(&e);
    } else {
        if (n && fwrite(pcm, 1, n, stdout) != n) {
            gl_fail(&e, "io", "cannot write audio to stdout: %s", strerror(errno));
            rc = report(&e);
        }
        fflush(stdout);
    }
    free(pcm);
    return rc;
}

static void ask_transcript(const json_t *ev)
{
    const char *src = str_or(ev, "source", "output");
    const char *text = str_or(ev, "text", "");
    bool input = strcmp(src, "input") == 0;
    const char *run = input ? "input" : "output";
    if (!transcript_run || strcmp(transcript_run, run) != 0) {
        err_linestart();
        o_puts(&ERR, input ? "[input transcript] " : "[transcript] ");
        transcript_run = run;
    }
    o_puts(&ERR, text);
    if (json_is_true(json_object_get(ev, "finished"))) {
        o_newline(&ERR);
        transcript_run = NULL;
    }
}

static int ask_tool_call(ask_state *st, const json_t *ev)
{
    const char *call_id = json_string_value(json_object_get(ev, "call_id"));
    const char *name = str_or(ev, "name", "?");
    char *args = dump(json_object_get(ev, "args") ? json_object_get(ev, "args") : json_object());
    if (!call_id) {
        errline("[tool] %s(%s): the call has no call_id; not answered", name, args);
        free(args);
        return EV_CONTINUE;
    }
    if (json_is_true(json_object_get(ev, "handler"))) { /* served by a registered handler */
        errline("[tool] %s(%s) -> (answered by its handler)", name, args);
        free(args);
        return EV_CONTINUE;
    }
    json_t *req = json_pack("{s:s, s:s, s:s, s:O}", "op", "tool.result", "session", st->o->session,
                            "call_id", call_id, "response", st->tool_reply);
    gl_err e;
    json_t *reply = request(st->c, st->g, req, &e);
    int rc = EV_CONTINUE;
    if (!reply)
        rc = report(&e);
    else if (glive_reply_error(reply, &e) == 0) {
        char *resp = dump(st->tool_reply);
        errline("[tool] %s(%s) -> %s", name, args, resp);
        free(resp);
    } else if (strcmp(e.code, "unknown_call") != 0) /* else: already answered elsewhere */
        rc = report(&e);
    json_decref(reply);
    free(args);
    return rc;
}

/* Handles one event; returns EV_CONTINUE or the exit status. */
static int ask_event(ask_state *st, const json_t *ev)
{
    const char *name = str_or(ev, "event", "");
    const char *session = json_string_value(json_object_get(ev, "session"));
    if (session && strcmp(session, st->o->session) != 0)
        return EV_CONTINUE;
    json_t *tj = json_object_get(ev, "turn");
    if (tj && !json_is_null(tj) && (!json_is_integer(tj) || json_integer_value(tj) != st->turn))
        return EV_CONTINUE; /* another turn of the session */
    bool js = st->o->json;
    if (js)
        print_json_line(ev);

    if (strcmp(name, "text") == 0) {
        if (!js)
            o_puts(st->text, str_or(ev, "text", ""));
    } else if (strcmp(name, "transcript") == 0) {
        if (!js)
            ask_transcript(ev);
    } else if (strcmp(name, "audio") == 0) {
        return ask_audio(st, ev);
    } else if (strcmp(name, "code") == 0) {
        if (!js)
            print_code(st->text, ev);
    } else if (strcmp(name, "code_result") == 0) {
        if (!js)
            print_code_result(st->text, ev);
    } else if (strcmp(name, "grounding") == 0) {
        gl_grounding_collect(json_object_get(ev, "metadata"), st->sources);
    } else if (strcmp(name, "tool_call") == 0) {
        return ask_tool_call(st, ev);
    } else if (strcmp(name, "tool_result") == 0) {
        const char *by = str_or(ev, "by", "");
        if (!js && strcmp(by, "client") != 0) {
            json_t *r = json_object_get(ev, "response");
            char *resp = dump(r ? r : json_object_get(ev, "error"));
            errline("[tool] %s -> %s%s (by %s)", str_or(ev, "name", "?"), r ? "" : "error: ", resp,
                    *by ? by : "gliveD");
            free(resp);
        }
    } else if (strcmp(name, "tool_cancel") == 0) {
        if (!js)
            errline("[tool] call %s cancelled by the model", str_or(ev, "call_id", "?"));
    } else if (strcmp(name, "turn_complete") == 0) {
        if (!js) {
            if (transcript_run) /* end the transcript line before anything else is printed */
                o_newline(&ERR), transcript_run = NULL;
            char *src = gl_grounding_format(st->sources);
            if (src) {
                o_newline(st->text);
                o_puts(st->text, src);
                free(src);
            }
            o_newline(st->text);
        }
        return EXIT_OK;
    } else if (strcmp(name, "interrupted") == 0) {
        errline("glivectl: interrupted: %s", str_or(ev, "reason", "the turn was interrupted"));
        return EXIT_ERR;
    } else if (strcmp(name, "error") == 0) {
        errline("glivectl: %s: %s", str_or(ev, "code", "error"), str_or(ev, "message", "(no message)"));
        return EXIT_ERR;
    } else if (strcmp(name, "state") == 0) {
        const char *state = str_or(ev, "state", "");
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        if (strcmp(state, "closed") == 0 && reason) {
            errline("glivectl: closed: session \"%s\" closed: %s", st->o->session, reason);
            return EXIT_ERR;
        }
    }
    return EV_CONTINUE;
}

static int ask_run(ask_state *st, json_t *open_req)
{
    const globals *g = st->g;
    const gl_ask_opts *o = st->o;
    gl_err e;

    json_t *reply = request(st->c, g, open_req, &e);
    if (!reply)
        return report(&e);
    if (o->json)
        print_json_line(reply);
    if (glive_reply_error(reply, &e) < 0) {
        json_decref(reply);
        return report(&e);
    }
    json_decref(reply);

    json_t *send = json_pack("{s:s, s:s, s:o}", "op", "send", "session", o->session, "text",
                             gl_json_text(o->prompt));
    if (!(reply = request(st->c, g, send, &e)))
        return report(&e);
    if (o->json)
        print_json_line(reply);
    if (glive_reply_error(reply, &e) < 0) {
        json_decref(reply);
        return report(&e);
    }
    json_t *tj = json_object_get(reply, "turn");
    if (!json_is_integer(tj)) {
        json_decref(reply);
        gl_fail(&e, "protocol", "the reply to \"send\" has no turn number");
        return report(&e);
    }
    st->turn = json_integer_value(tj);
    json_decref(reply);

    for (;;) {
        json_t *ev = wait_event(st->c, g->timeout_ms, &e);
        if (!ev) {
            if (strcmp(e.code, "signal") == 0) {
                errline("glivectl: %s", e.msg);
                return EXIT_SIGNAL;
            }
            return report(&e);
        }
        int rc = ask_event(st, ev);
        json_decref(ev);
        if (rc != EV_CONTINUE)
            return rc;
    }
}

static int cmd_ask(const globals *g, int argc, char **argv)
{
    gl_ask_opts o;
    gl_err e;
    if (gl_ask_parse(argc, argv, &o, &e) < 0) {
        errline("glivectl ask: %s", e.msg);
        fputs(USAGE_ASK, stderr);
        gl_ask_opts_free(&o);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs(USAGE_ASK, stdout);
        gl_ask_opts_free(&o);
        return EXIT_OK;
    }
    ask_state st = {.g = g, .o = &o, .text = &OUT};
    json_t *open_req = gl_ask_open_request(&o, &e);
    if (open_req)
        st.tool_reply = gl_ask_tool_reply(&o, &e);
    if (!open_req || !st.tool_reply) {
        errline("glivectl ask: %s", e.msg);
        json_decref(open_req);
        gl_ask_opts_free(&o);
        return EXIT_USAGE;
    }
    st.raw_pcm = o.audio && !o.wav && !o.json;
    if (st.raw_pcm)
        st.text = &ERR; /* stdout carries the PCM */
    st.sources = json_array();

    int rc;
    if (!(st.c = connect_daemon(g))) {
        rc = EXIT_CONNECT;
        json_decref(open_req);
    } else if (o.wav && gl_wav_open(&st.wav, o.wav, &e) < 0) {
        rc = report(&e);
        json_decref(open_req);
    } else {
        st.wav_open = o.wav != NULL;
        catch_signals();
        rc = ask_run(&st, open_req);
    }
    if (st.wav_open && gl_wav_close(&st.wav, &e) < 0 && (rc == EXIT_OK))
        rc = report(&e);
    glive_close(st.c);
    json_decref(st.tool_reply);
    json_decref(st.sources);
    gl_ask_opts_free(&o);
    return rc;
}

/* ---- watch --------------------------------------------------------------------------------- */

static void watch_event(const json_t *ev)
{
    const char *name = str_or(ev, "event", "?");
    json_t *tj = json_object_get(ev, "turn");
    char turn[48] = "";
    if (json_is_integer(tj))
        snprintf(turn, sizeof turn, " turn %lld", (long long)json_integer_value(tj));

    if (strcmp(name, "text") == 0) {
        o_puts(&OUT, str_or(ev, "text", ""));
        return;
    }
    o_newline(&OUT);
    if (strcmp(name, "turn_complete") == 0) {
        o_printf(&OUT, "[turn %lld complete]\n", (long long)json_integer_value(tj));
    } else if (strcmp(name, "state") == 0) {
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        o_printf(&OUT, "[state %s%s%s]\n", str_or(ev, "state", "?"), reason ? ": " : "",
                 reason ? reason : "");
    } else if (strcmp(name, "code") == 0) {
        print_code(&OUT, ev);
    } else if (strcmp(name, "code_result") == 0) {
        print_code_result(&OUT, ev);
    } else if (strcmp(name, "audio") == 0) {
        const char *data = str_or(ev, "data", "");
        o_printf(&OUT, "[audio%s: %zu bytes %s]\n", turn, gl_b64_decoded_len(data, strlen(data)),
                 str_or(ev, "mime", ""));
    } else if (strcmp(name, "transcript") == 0) {
        o_printf(&OUT, "[transcript %s%s] %s\n", str_or(ev, "source", "output"), turn,
                 str_or(ev, "text", ""));
    } else if (strcmp(name, "grounding") == 0) {
        json_t *acc = json_array();
        gl_grounding_collect(json_object_get(ev, "metadata"), acc);
        char *src = gl_grounding_format(acc);
        o_printf(&OUT, "[grounding%s]\n%s", turn, src ? src : "");
        free(src);
        json_decref(acc);
    } else if (strcmp(name, "tool_call") == 0) {
        char *args = dump(json_object_get(ev, "args"));
        o_printf(&OUT, "[tool_call%s] %s(%s) id=%s\n", turn, str_or(ev, "name", "?"), args,
                 str_or(ev, "call_id", "?"));
        free(args);
    } else if (strcmp(name, "tool_result") == 0) {
        json_t *r = json_object_get(ev, "response");
        char *resp = dump(r ? r : json_object_get(ev, "error"));
        o_printf(&OUT, "[tool_result%s] %s -> %s%s (by %s) id=%s\n", turn, str_or(ev, "name", "?"),
                 r ? "" : "error: ", resp, str_or(ev, "by", "?"), str_or(ev, "call_id", "?"));
        free(resp);
    } else if (strcmp(name, "tool_cancel") == 0) {
        o_printf(&OUT, "[tool_cancel%s] id=%s\n", turn, str_or(ev, "call_id", "?"));
    } else if (strcmp(name, "interrupted") == 0) {
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        o_printf(&OUT, "[turn %lld interrupted%s%s]\n", (long long)json_integer_value(tj),
                 reason ? ": " : "", reason ? reason : "");
    } else if (strcmp(name, "error") == 0) {
        o_printf(&OUT, "[error%s] %s: %s\n", turn, str_or(ev, "code", "?"), str_or(ev, "message", ""));
    } else {
        char *s = dump(ev);
        o_printf(&OUT, "[%s%s] %s\n", name, turn, s);
        free(s);
    }
}

/* Parses "[--json] [--help]" plus `npos` positional arguments. Returns -1 on a usage error
 * (printed), 1 for --help (printed), 0 to go on. */
static int simple_args(int argc, char **argv, const char *usage, bool *json, const char **pos,
                       int npos, const char *cmd)
{
    int got = 0;
    bool opts_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = true;
        } else if (!opts_done && strcmp(a, "--json") == 0) {
            *json = true;
        } else if (!opts_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(usage, stdout);
            return 1;
        } else if (!opts_done && a[0] == '-' && a[1]) {
            errline("glivectl %s: unknown option \"%s\"", cmd, a);
            fputs(usage, stderr);
            return -1;
        } else if (got < npos) {
            pos[got++] = a;
        } else {
            errline("glivectl %s: unexpected argument \"%s\"", cmd, a);
            fputs(usage, stderr);
            return -1;
        }
    }
    if (got < npos) {
        errline("glivectl %s: missing SESSION", cmd);
        fputs(usage, stderr);
        return -1;
    }
    return 0;
}

static int cmd_watch(const globals *g, int argc, char **argv)
{
    bool json = false;
    const char *session = NULL;
    int r = simple_args(argc, argv, USAGE_WATCH, &json, &session, 1, "watch");
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    gl_err e;
    if (!gl_session_name_ok(session, &e)) {
        errline("glivectl watch: %s", e.msg);
        return EXIT_USAGE;
    }
    glive_client *c = connect_daemon(g);
    if (!c)
        return EXIT_CONNECT;
    catch_signals();
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s, s:s}", "op", "subscribe", "session", session),
                               &rc);
    if (reply) {
        json_decref(reply);
        for (;;) {
            json_t *ev = wait_event(c, -1, &e);
            if (!ev) {
                if (strcmp(e.code, "signal") == 0) {
                    o_newline(&OUT);
                    rc = EXIT_OK;
                } else if (strcmp(e.code, "eof") == 0) {
                    o_newline(&OUT);
                    errline("[%s]", e.msg);
                    rc = EXIT_OK;
                } else {
                    rc = report(&e);
                }
                break;
            }
            if (json)
                print_json_line(ev);
            else
                watch_event(ev);
            json_decref(ev);
        }
    }
    glive_close(c);
    return rc;
}

/* ---- sessions and status ------------------------------------------------------------------- */

static int cmd_sessions(const globals *g, int argc, char **argv)
{
    bool json = false;
    int r = simple_args(argc, argv, USAGE_SESSIONS, &json, NULL, 0, "sessions");
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    glive_client *c = connect_daemon(g);
    if (!c)
        return EXIT_CONNECT;
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s}", "op", "list"), &rc);
    if (reply && json) {
        print_json_line(reply);
    } else if (reply) {
        static const char *const cols[] = {"session", "state", "model", "modality", "turns",
                                           "subscribers"};
        static const char *const heads[] = {"SESSION", "STATE", "MODEL", "MODALITY", "TURNS",
                                            "SUBSCRIBERS"};
        enum { NC = 6 };
        json_t *list = json_object_get(reply, "sessions");
        size_t n = json_array_size(list);
        char **cells = calloc(n * NC + 1, sizeof *cells);
        size_t w[NC];
        for (int k = 0; k < NC; k++)
            w[k] = strlen(heads[k]);
        for (size_t i = 0; cells && i < n; i++)
            for (int k = 0; k < NC; k++) {
                json_t *item = json_array_get(list, i);
                json_t *v = json_object_get(item, cols[k]);
                if (!v && k == 0)
                    v = json_object_get(item, "name");
                char *s = human(v);
                cells[i * NC + k] = s;
                if (s && strlen(s) > w[k])
                    w[k] = strlen(s);
            }
        for (int k = 0; k < NC; k++)
            o_printf(&OUT, "%-*s%s", k < NC - 1 ? (int)w[k] : 0, heads[k], k < NC - 1 ? "  " : "\n");
        for (size_t i = 0; cells && i < n; i++)
            for (int k = 0; k < NC; k++) {
                const char *s = cells[i * NC + k] ? cells[i * NC + k] : "?";
                o_printf(&OUT, "%-*s%s", k < NC - 1 ? (int)w[k] : 0, s, k < NC - 1 ? "  " : "\n");
            }
        for (size_t i = 0; cells && i < n * NC; i++)
            free(cells[i]);
        free(cells);
    }
    json_decref(reply);
    glive_close(c);
    return rc;
}

/* "key: value" lines; objects are flattened with dotted keys; arrays of objects get one line per
 * element. */
static void print_kv(const char *prefix, const json_t *obj)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!prefix && (strcmp(k, "id") == 0 || strcmp(k, "ok") == 0))
            continue;
        char *key = NULL;
        if (asprintf(&key, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", k) < 0)
            continue;
        if (json_is_object(v) && json_object_size(v)) {
            print_kv(key, v);
        } else if (json_is_array(v) && json_array_size(v) && json_is_object(json_array_get(v, 0))) {
            o_printf(&OUT, "%s:\n", key);
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item) {
                char *s = dump(item);
                o_printf(&OUT, "  - %s\n", s);
                free(s);
            }
        } else {
            char *s = human(v);
            if (strcmp(k, "uptime_s") == 0 && json_is_integer(v)) {
                long long t = json_integer_value(v);
                o_printf(&OUT, "%s: %s (%lldd %02lld:%02lld:%02lld)\n", key, s, t / 86400,
                         t / 3600 % 24, t / 60 % 60, t % 60);
            } else {
                o_printf(&OUT, "%s: %s\n", key, s ? s : "?");
            }
            free(s);
        }
        free(key);
    }
}

static int cmd_status(const globals *g, int argc, char **argv)
{
    bool json = false;
    int r = simple_args(argc, argv, USAGE_STATUS, &json, NULL, 0, "status");
    if (r)
        return r > 0 ? EXIT_OK : EXIT_USAGE;
    glive_client *c = connect_daemon(g);
    if (!c)
        return EXIT_CONNECT;
    int rc = EXIT_OK;
    json_t *reply = request_ok(c, g, json_pack("{s:s}", "op", "status"), &rc);
    if (reply && json)
        print_json_line(reply);
    else if (reply)
        print_kv(NULL, reply);
    json_decref(reply);
    glive_close(c);
    return rc;
}

/* ---- tool (the loop is client/tool_cmd.c) ------------------------------------------------- */

static int cmd_tool(const globals *g, int argc, char **argv)
{
    gl_tool_opts o;
    gl_err e;
    if (gl_tool_parse(argc, argv, &o, &e) < 0) {
        errline("glivectl tool: %s", e.msg);
        fputs(USAGE_TOOL, stderr);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs(USAGE_TOOL, stdout);
        return EXIT_OK;
    }
    json_t *req = gl_tool_register_request(&o, &e);
    if (!req) {
        errline("glivectl tool: %s", e.msg);
        return strcmp(e.code, "usage") == 0 ? EXIT_USAGE : EXIT_ERR;
    }
    return gl_tool_serve(g->socket, g->timeout_ms, &o, req);
}

/* ---- the command table --------------------------------------------------------------------- */

typedef int (*cmd_fn)(const globals *g, int argc, char **argv);

static const struct command {
    const char *name;
    cmd_fn fn;
    const char *usage;
    const char *summary;
} COMMANDS[] = {
    {"ask", cmd_ask, USAGE_ASK, "send a prompt and stream the answer"},
    {"watch", cmd_watch, USAGE_WATCH, "print every event of a session as it arrives"},
    {"sessions", cmd_sessions, USAGE_SESSIONS, "list gliveD's sessions"},
    {"status", cmd_status, USAGE_STATUS, "show gliveD's status"},
    {"tool", cmd_tool, USAGE_TOOL, "serve a function: run a command for each of its calls"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static void print_usage(FILE *f)
{
    char list[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < NCOMMANDS && len < sizeof list; i++) {
        int n = snprintf(list + len, sizeof list - len, "  %-9s %s\n", COMMANDS[i].name,
                         COMMANDS[i].summary);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    fprintf(f, USAGE, list);
}

static int usage_error(const char *fmt, const char *arg)
{
    errline(fmt, arg);
    print_usage(stderr);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    gl_xalloc_init();
    OUT.f = stdout;
    ERR.f = stderr;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout shows as a write error, not a silent death */
    globals g = {.socket = NULL, .timeout_ms = DEFAULT_TIMEOUT_MS};
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-')
            break;
        gl_err e;
        const char *val = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            return EXIT_OK;
        } else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("glivectl %s (protocol %d)\n", GL_VERSION, GL_PROTOCOL_VERSION);
            return EXIT_OK;
        } else if (strcmp(a, "--socket") == 0 || strcmp(a, "--timeout") == 0) {
            if (i + 1 >= argc)
                return usage_error("glivectl: option \"%s\" needs a value", a);
            val = argv[++i];
        } else if (strncmp(a, "--socket=", 9) == 0 || strncmp(a, "--timeout=", 10) == 0) {
            val = strchr(a, '=') + 1;
        } else {
            return usage_error("glivectl: unknown option \"%s\" (global options come before the "
                               "command)", a);
        }
        if (strncmp(a, "--socket", 8) == 0) {
            if (!*val)
                return usage_error("glivectl: %s needs a PATH", "--socket");
            g.socket = val;
        } else if (gl_parse_timeout(val, &g.timeout_ms, &e) < 0) {
            return usage_error("glivectl: %s", e.msg);
        }
    }
    if (i >= argc)
        return usage_error("glivectl: %s", "missing COMMAND");
    const char *name = argv[i];
    if (strcmp(name, "help") == 0) {
        const struct command *cmd = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
        if (i + 1 < argc && !cmd)
            return usage_error("glivectl: unknown command \"%s\"", argv[i + 1]);
        if (cmd)
            fputs(cmd->usage, stdout);
        else
            print_usage(stdout);
        return EXIT_OK;
    }
    const struct command *cmd = find_command(name);
    if (!cmd)
        return usage_error("glivectl: unknown command \"%s\"", name);
    int rc = cmd->fn(&g, argc - i - 1, argv + i + 1);
    if (fflush(stdout) != 0 && rc == EXIT_OK) {
        fprintf(stderr, "glivectl: io: cannot write to stdout: %s\n", strerror(errno));
        rc = EXIT_ERR;
    }
    return rc;
}
