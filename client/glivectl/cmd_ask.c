/* glivectl ask: opens (or attaches to) a session, sends one prompt and streams the answer of
 * that turn: text, audio (to a WAV or raw PCM on stdout), transcripts, code, grounding sources;
 * it answers the turn's function calls with --tool-reply. Arguments and requests: ask_args.c. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/glivectl.h"
#include "common/xalloc.h"
#include "client/lib/b64.h"
#include "client/lib/glive.h"
#include "client/lib/wav.h"
#include "proto/errors.h"
#include "proto/line.h"

const char cmd_ask_usage[] =
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

#define ASK_MAX_TURNS 64  /* follow-up turns of one prompt: far more than any model makes */
#define ASK_MAX_CALLS 128 /* the daemon's own bound on pending calls of a session */

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
    /* What the prompt set going: its turn, the turns the model started to answer its calls
     * (turn_started of_turn), the calls still pending, and answers to non-blocking calls
     * whose follow-up turn has not started yet. ask ends when all of that has ended. */
    long long turns[ASK_MAX_TURNS];
    bool turn_done[ASK_MAX_TURNS];
    size_t nturns;
    char *calls[ASK_MAX_CALLS];
    bool call_async[ASK_MAX_CALLS];
    size_t ncalls;
    unsigned owed_followups;
} ask_state;

enum { EV_CONTINUE = -1 };

/* True when the audio goes nowhere (said once). */
static bool audio_unwanted(ask_state *st)
{
    if (st->wav_open || st->raw_pcm)
        return false;
    if (!st->o->json && !st->audio_ignored_noted) {
        errline("[audio not saved: use --wav FILE, or --audio for raw PCM on stdout]");
        st->audio_ignored_noted = true;
    }
    return true;
}

static int ask_pcm(ask_state *st, const char *mime, const unsigned char *pcm, size_t n)
{
    gl_err e;
    if (st->wav_open) {
        uint32_t rate = gl_wav_mime_rate(mime, GL_WAV_DEFAULT_RATE);
        if (gl_wav_set_rate(&st->wav, rate) != 0)
            errline("[audio: rate changed to %u Hz mid-stream; the WAV keeps %u Hz]", rate,
                    st->wav.rate);
        if (gl_wav_write(&st->wav, pcm, n, &e) < 0)
            return report(&e);
        return EV_CONTINUE;
    }
    if (n && fwrite(pcm, 1, n, stdout) != n) {
        gl_fail(&e, "io", "cannot write audio to stdout: %s", strerror(errno));
        return report(&e);
    }
    o_sync(&OUT);
    return EV_CONTINUE;
}

static int ask_audio(ask_state *st, const json_t *ev)
{
    if (audio_unwanted(st))
        return EV_CONTINUE;
    const char *data = str_or(ev, "data", "");
    unsigned char *pcm;
    size_t n;
    gl_err e;
    if (gl_b64_decode(data, strlen(data), &pcm, &n, &e) < 0)
        return report(&e);
    int rc = ask_pcm(st, str_or(ev, "mime", NULL), pcm, n);
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

static void call_answered(ask_state *st, const char *id, const char *scheduling);

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
        call_answered(st, call_id, NULL); /* the daemon's tool_result event may come later */
        char *resp = dump(st->tool_reply);
        errline("[tool] %s(%s) -> %s", name, args, resp);
        free(resp);
    } else if (strcmp(e.code, GL_E_UNKNOWN_CALL) != 0) /* else: already answered elsewhere */
        rc = report(&e);
    json_decref(reply);
    free(args);
    return rc;
}

static long turn_index(const ask_state *st, long long turn)
{
    for (size_t i = 0; i < st->nturns; i++)
        if (st->turns[i] == turn)
            return (long)i;
    return -1;
}

static void add_turn(ask_state *st, long long turn)
{
    if (st->nturns < ASK_MAX_TURNS && turn_index(st, turn) < 0)
        st->turns[st->nturns++] = turn;
}

static long call_index(const ask_state *st, const char *id)
{
    for (size_t i = 0; id && i < st->ncalls; i++)
        if (strcmp(st->calls[i], id) == 0)
            return (long)i;
    return -1;
}

static void call_ended(ask_state *st, const char *id)
{
    long i = call_index(st, id);
    if (i < 0)
        return;
    free(st->calls[i]);
    st->calls[i] = st->calls[st->ncalls - 1];
    st->call_async[i] = st->call_async[st->ncalls - 1];
    st->ncalls--;
}

/* A call got its (last) answer: a non-blocking one owes a follow-up turn unless SILENT. */
static void call_answered(ask_state *st, const char *id, const char *scheduling)
{
    long i = call_index(st, id);
    if (i >= 0 && st->call_async[i] && (!scheduling || strcmp(scheduling, "SILENT") != 0))
        st->owed_followups++;
    call_ended(st, id);
}

/* Keeps the book of what the prompt set going (see ask_state). */
static void track(ask_state *st, const char *name, const json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "call_id"));
    bool local_code = json_is_true(json_object_get(ev, "local")); /* run_python, served by gliveD */
    if ((strcmp(name, "tool_call") == 0 || (local_code && strcmp(name, "code") == 0)) && id &&
        call_index(st, id) < 0 && st->ncalls < ASK_MAX_CALLS) {
        st->call_async[st->ncalls] = strcmp(str_or(ev, "behavior", ""), "NON_BLOCKING") == 0;
        st->calls[st->ncalls++] = gl_xstrdup(id);
    } else if (strcmp(name, "tool_result") == 0 && !json_is_true(json_object_get(ev, "will_continue"))) {
        call_answered(st, id, json_string_value(json_object_get(ev, "scheduling")));
    } else if (local_code && strcmp(name, "code_result") == 0) {
        call_answered(st, id, NULL);
    } else if (strcmp(name, "tool_cancel") == 0) {
        call_ended(st, id);
    } else if (strcmp(name, "turn_complete") == 0) {
        long i = turn_index(st, json_integer_value(json_object_get(ev, "turn")));
        if (i >= 0)
            st->turn_done[i] = true;
    }
}

static bool all_done(const ask_state *st)
{
    for (size_t i = 0; i < st->nturns; i++)
        if (!st->turn_done[i])
            return false;
    return st->ncalls == 0 && st->owed_followups == 0;
}

/* A text or audio event read without a tree (glive_next_view): what ask_event does for them. */
static int ask_view(ask_state *st, const glive_view *v)
{
    if (v->session && strcmp(v->session, st->o->session) != 0)
        return EV_CONTINUE;
    if (v->has_turn && turn_index(st, v->turn) < 0)
        return EV_CONTINUE; /* another turn of the session */
    if (v->kind == GLIVE_VIEW_AUDIO)
        return audio_unwanted(st) ? EV_CONTINUE : ask_pcm(st, v->mime, v->pcm, v->pcm_len);
    o_putn(st->text, v->text, v->text_len);
    return all_done(st) ? EXIT_OK : EV_CONTINUE;
}

/* Handles one event; returns EV_CONTINUE or the exit status. */
static int ask_event(ask_state *st, const json_t *ev)
{
    const char *name = str_or(ev, "event", "");
    const char *session = json_string_value(json_object_get(ev, "session"));
    if (session && strcmp(session, st->o->session) != 0)
        return EV_CONTINUE;
    json_t *tj = json_object_get(ev, "turn");
    if (strcmp(name, "turn_started") == 0 && turn_index(st, json_integer_value(json_object_get(ev, "of_turn"))) >= 0) {
        add_turn(st, json_integer_value(tj)); /* the model answers one of our calls */
        st->owed_followups = 0;
    }
    if (tj && !json_is_null(tj) && (!json_is_integer(tj) || turn_index(st, json_integer_value(tj)) < 0))
        return EV_CONTINUE; /* another turn of the session */
    track(st, name, ev);
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
            json_array_clear(st->sources);
        }
    } else if (strcmp(name, "interrupted") == 0) {
        if (json_is_false(json_object_get(ev, "final"))) { /* the generation was cut; the turn goes on */
            if (!js)
                errline("[interrupted: %s]", str_or(ev, "reason", "the generation was cut"));
            return EV_CONTINUE;
        }
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
    return all_done(st) ? EXIT_OK : EV_CONTINUE;
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
    add_turn(st, st->turn);
    json_decref(reply);

    for (;;) {
        /* --json prints every event as it came: the JSON path; else text and audio come as
         * views, without a tree */
        glive_view v = {.kind = GLIVE_VIEW_JSON};
        if (o->json ? !(v.json = wait_event(st->c, g->timeout_ms, &e))
                    : wait_view(st->c, g->timeout_ms, &v, &e) < 0) {
            if (strcmp(e.code, "signal") == 0) {
                errline("glivectl: %s", e.msg);
                return EXIT_SIGNAL;
            }
            return report(&e);
        }
        int rc;
        if (v.kind == GLIVE_VIEW_JSON) {
            rc = ask_event(st, v.json);
            json_decref(v.json);
        } else
            rc = ask_view(st, &v);
        if (rc != EV_CONTINUE)
            return rc;
    }
}

int cmd_ask(const globals *g, int argc, char **argv)
{
    gl_ask_opts o;
    gl_err e;
    if (gl_ask_parse(argc, argv, &o, &e) < 0) {
        errline("glivectl ask: %s", e.msg);
        fputs(cmd_ask_usage, stderr);
        gl_ask_opts_free(&o);
        return EXIT_USAGE;
    }
    if (o.help) {
        fputs(cmd_ask_usage, stdout);
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
    /* A streamed answer is many small writes: flushed when glivectl is about to wait for
     * more rather than one by one; into a pipe or a file, in 64 KiB writes. */
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    o_defer(true);
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
    o_defer(false);
    if (st.wav_open && gl_wav_close(&st.wav, &e) < 0 && (rc == EXIT_OK))
        rc = report(&e);
    glive_close(st.c);
    json_decref(st.tool_reply);
    json_decref(st.sources);
    for (size_t i = 0; i < st.ncalls; i++)
        free(st.calls[i]);
    gl_ask_opts_free(&o);
    return rc;
}
