#include "client/glivectl/follow.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/glivectl/ask_args.h"
#include "client/lib/b64.h"
#include "common/xalloc.h"
#include "proto/errors.h"
#include "proto/line.h"

enum { EV_CONTINUE = -1 };

/* For --timeout (seconds), read twice per event of a streamed answer: the coarse clock (the
 * kernel's last tick, a few ms) is exact enough and a quarter of the cost (no TSC read). */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void follow_init(follower *f)
{
    f->unreachable = f->conn_lost = false;
    memset(&f->err, 0, sizeof f->err);
    f->sources = json_array();
    f->audio_noted = f->play_noted = f->started = f->troubled = false;
    f->nturns = f->ncalls = 0;
    f->owed_followups = 0;
}

static void forget_calls(follower *f)
{
    for (size_t i = 0; i < f->ncalls; i++)
        free(f->calls[i]);
    f->ncalls = 0;
}

void follow_free(follower *f)
{
    forget_calls(f);
    json_decref(f->sources);
    f->sources = NULL;
}

void follow_fmt_ms(char *buf, size_t size, long long ms)
{
    if (ms < 0)
        ms = 0;
    if (ms < 10000) /* tenths below 10 s: "0.3 s" says more than "0 s" */
        snprintf(buf, size, "%.1f s", (double)ms / 1000);
    else if (ms < 120000)
        snprintf(buf, size, "%lld s", (ms + 500) / 1000);
    else
        snprintf(buf, size, "%lld min", (ms + 30000) / 60000);
}

/* A failure talking to gliveD: said, and marked when the connection is gone for good. */
static int conn_failed(follower *f, const gl_err *e)
{
    if (strcmp(e->code, "eof") == 0 || strcmp(e->code, "io") == 0 || strcmp(e->code, "overflow") == 0)
        f->conn_lost = true;
    return report(e);
}

/* ---- the answer ---------------------------------------------------------------------------- */

/* True when the audio goes nowhere (said once). */
static bool audio_unwanted(follower *f)
{
    if (f->wav || f->raw_pcm || f->play)
        return false;
    if (!f->json && !f->audio_noted) {
        errline("[audio not saved: %s]", f->audio_hint ? f->audio_hint : "no place to put it");
        f->audio_noted = true;
    }
    return true;
}

static int write_pcm(follower *f, const char *mime, const unsigned char *pcm, size_t n)
{
    gl_err e;
    if (f->play && play_chunk(f->play, mime, pcm, n, &f->play_noted, &e) < 0)
        return report(&e);
    if (f->wav) {
        uint32_t rate = gl_wav_mime_rate(mime, GL_WAV_DEFAULT_RATE);
        if (gl_wav_set_rate(f->wav, rate) != 0)
            errline("[audio: rate changed to %u Hz mid-stream; the WAV keeps %u Hz]", rate,
                    f->wav->rate);
        if (gl_wav_write(f->wav, pcm, n, &e) < 0)
            return report(&e);
        return EV_CONTINUE;
    }
    if (!f->raw_pcm)
        return EV_CONTINUE;
    if (n && fwrite(pcm, 1, n, stdout) != n) {
        gl_fail(&e, "io", "cannot write audio to stdout: %s", strerror(errno));
        return report(&e);
    }
    o_sync(&OUT);
    return EV_CONTINUE;
}

static int on_audio(follower *f, const json_t *ev)
{
    if (audio_unwanted(f))
        return EV_CONTINUE;
    const char *data = str_or(ev, "data", "");
    unsigned char *pcm;
    size_t n;
    gl_err e;
    if (gl_b64_decode(data, strlen(data), &pcm, &n, &e) < 0)
        return report(&e);
    int rc = write_pcm(f, str_or(ev, "mime", NULL), pcm, n);
    free(pcm);
    return rc;
}

static void on_transcript(const json_t *ev)
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

/* ---- what the prompt set going ------------------------------------------------------------- */

static long turn_index(const follower *f, long long turn)
{
    for (size_t i = 0; i < f->nturns; i++)
        if (f->turns[i] == turn)
            return (long)i;
    return -1;
}

static void add_turn(follower *f, long long turn)
{
    if (f->nturns < FOLLOW_MAX_TURNS && turn_index(f, turn) < 0) {
        f->turn_done[f->nturns] = false;
        f->turns[f->nturns++] = turn;
    }
}

static long call_index(const follower *f, const char *id)
{
    for (size_t i = 0; id && i < f->ncalls; i++)
        if (strcmp(f->calls[i], id) == 0)
            return (long)i;
    return -1;
}

static void call_ended(follower *f, const char *id)
{
    long i = call_index(f, id);
    if (i < 0)
        return;
    free(f->calls[i]);
    f->calls[i] = f->calls[f->ncalls - 1];
    f->call_async[i] = f->call_async[f->ncalls - 1];
    f->ncalls--;
}

/* A call got its (last) answer: a non-blocking one owes a follow-up turn unless SILENT. */
static void call_answered(follower *f, const char *id, const char *scheduling)
{
    long i = call_index(f, id);
    if (i >= 0 && f->call_async[i] && (!scheduling || strcmp(scheduling, "SILENT") != 0))
        f->owed_followups++;
    call_ended(f, id);
}

/* Keeps the book of what the prompt set going. */
static void track(follower *f, const char *name, const json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "call_id"));
    bool local_code = json_is_true(json_object_get(ev, "local")); /* run_python, served by gliveD */
    if ((strcmp(name, "tool_call") == 0 || (local_code && strcmp(name, "code") == 0)) && id &&
        call_index(f, id) < 0 && f->ncalls < FOLLOW_MAX_CALLS) {
        f->call_async[f->ncalls] = strcmp(str_or(ev, "behavior", ""), "NON_BLOCKING") == 0;
        f->calls[f->ncalls++] = gl_xstrdup(id);
    } else if (strcmp(name, "tool_result") == 0 && !json_is_true(json_object_get(ev, "will_continue"))) {
        call_answered(f, id, json_string_value(json_object_get(ev, "scheduling")));
    } else if (local_code && strcmp(name, "code_result") == 0) {
        call_answered(f, id, NULL);
    } else if (strcmp(name, "tool_cancel") == 0) {
        call_ended(f, id);
    } else if (strcmp(name, "turn_complete") == 0) {
        long i = turn_index(f, json_integer_value(json_object_get(ev, "turn")));
        if (i >= 0)
            f->turn_done[i] = true;
    }
}

static bool all_done(const follower *f)
{
    for (size_t i = 0; i < f->nturns; i++)
        if (!f->turn_done[i])
            return false;
    return f->ncalls == 0 && f->owed_followups == 0;
}

static int on_tool_call(follower *f, const json_t *ev)
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
    json_t *req = json_pack("{s:s, s:s, s:s, s:O}", "op", "tool.result", "session", f->session,
                            "call_id", call_id, "response", f->tool_reply);
    gl_err e;
    json_t *reply = request(f->c, f->g, req, &e);
    int rc = EV_CONTINUE;
    if (!reply)
        rc = conn_failed(f, &e);
    else if (glive_reply_error(reply, &e) == 0) {
        call_answered(f, call_id, NULL); /* the daemon's tool_result event may come later */
        char *resp = dump(f->tool_reply);
        errline("[tool] %s(%s) -> %s", name, args, resp);
        free(resp);
    } else if (strcmp(e.code, GL_E_UNKNOWN_CALL) != 0) /* else: already answered elsewhere */
        rc = report(&e);
    json_decref(reply);
    free(args);
    return rc;
}

/* ---- status lines -------------------------------------------------------------------------- */

/* The daemon's reason for a failed connection ends with "; reconnecting in N ms", which the
 * status line says its own way (rounded, from retry_in_ms). */
static void reason_core(const char *reason, char *buf, size_t size)
{
    snprintf(buf, size, "%s", reason ? reason : "");
    char *tail = strstr(buf, "; reconnecting in ");
    if (tail)
        *tail = '\0';
}

/* A `state` event of the session. Returns EV_CONTINUE or the exit status. */
static int on_state(follower *f, const json_t *ev, bool in_prompt)
{
    const char *state = str_or(ev, "state", "");
    const char *reason = json_string_value(json_object_get(ev, "reason"));
    json_t *retry = json_object_get(ev, "retry_in_ms");
    char why[300];
    reason_core(reason, why, sizeof why);
    if (strcmp(state, "closed") == 0 && reason) {
        errline("glivectl: closed: session \"%s\" closed: %s", f->session, reason);
        return in_prompt ? EXIT_ERR : EV_CONTINUE;
    }
    /* Never reached the service, and the prompt is not on the wire: waiting would only show the
     * same failure again, and leaving makes gliveD drop the prompt (it is never sent later). */
    if (in_prompt && json_is_integer(retry) && json_is_false(json_object_get(ev, "ever_ready")) &&
        !f->started) {
        errline("glivectl: cannot reach the Live API: %s (the prompt was not sent)",
                *why ? why : "the connection failed");
        f->unreachable = true;
        return EXIT_ERR;
    }
    if (f->json || f->quiet)
        return EV_CONTINUE;
    if (strcmp(state, "connecting") == 0) {
        errline("[connecting to the Live API%s%s]", *why ? ": " : "", why);
    } else if (strcmp(state, "reconnecting") == 0 && json_is_integer(retry)) {
        char in[32];
        follow_fmt_ms(in, sizeof in, json_integer_value(retry));
        json_t *attempt = json_object_get(ev, "attempt");
        if (json_is_integer(attempt))
            errline("[reconnecting: %s; attempt %lld failed, next in %s]", *why ? why : "connection lost",
                    (long long)json_integer_value(attempt), in);
        else
            errline("[reconnecting: %s; next attempt in %s]", *why ? why : "connection lost", in);
        f->troubled = true;
        snprintf(f->trouble, sizeof f->trouble, "%s", *why ? why : "connection lost");
    } else if (strcmp(state, "reconnecting") == 0 || strcmp(state, "draining") == 0) {
        errline("[%s%s%s]", state, *why ? ": " : "", why);
        f->troubled = true;
        snprintf(f->trouble, sizeof f->trouble, "%s", *why ? why : state);
    } else if (strcmp(state, "ready") == 0 && f->troubled) {
        errline("[ready%s%s]", *why ? ": " : "", why);
        f->troubled = false;
    }
    return EV_CONTINUE;
}

void follow_idle_event(follower *f, const json_t *ev)
{
    const char *session = json_string_value(json_object_get(ev, "session"));
    if (session && strcmp(session, f->session) != 0)
        return;
    const char *name = str_or(ev, "event", "");
    if (strcmp(name, "state") == 0)
        on_state(f, ev, false);
    else if (strcmp(name, "error") == 0 && !json_object_get(ev, "turn"))
        errline("[error: %s: %s]", str_or(ev, "code", "error"), str_or(ev, "message", "(no message)"));
}

/* The session's entry of `list` (new reference), or NULL. */
static json_t *list_entry(follower *f)
{
    gl_err e;
    json_t *reply = request(f->c, f->g, json_pack("{s:s}", "op", "list"), &e), *found = NULL;
    size_t i;
    json_t *s;
    if (reply && glive_reply_error(reply, &e) == 0)
        json_array_foreach(json_object_get(reply, "sessions"), i, s)
            if (strcmp(str_or(s, "session", ""), f->session) == 0)
                found = json_incref(s);
    json_decref(reply);
    return found;
}

void follow_opened(follower *f, const json_t *open_reply)
{
    if (strcmp(str_or(open_reply, "state", ""), "reconnecting") != 0)
        return;
    /* Attached to a session whose connection keeps failing: the next state event may be many
     * seconds away (the backoff), so say now what list knows of the last failure. */
    json_t *entry = list_entry(f);
    const char *why = str_or(entry, "last_close", "its connection is being re-established");
    snprintf(f->trouble, sizeof f->trouble, "%s", why);
    f->troubled = true;
    if (!f->json && !f->quiet)
        errline("[reconnecting: %s]", why);
    json_decref(entry);
}

/* ---- one event ----------------------------------------------------------------------------- */

/* Handles one event; returns EV_CONTINUE or the exit status. */
static int on_event(follower *f, const json_t *ev)
{
    const char *name = str_or(ev, "event", "");
    const char *session = json_string_value(json_object_get(ev, "session"));
    if (session && strcmp(session, f->session) != 0)
        return EV_CONTINUE;
    json_t *tj = json_object_get(ev, "turn");
    if (strcmp(name, "turn_started") == 0 && turn_index(f, json_integer_value(json_object_get(ev, "of_turn"))) >= 0) {
        add_turn(f, json_integer_value(tj)); /* the model answers one of our calls */
        f->owed_followups = 0;
    }
    if (tj && !json_is_null(tj) && (!json_is_integer(tj) || turn_index(f, json_integer_value(tj)) < 0))
        return EV_CONTINUE; /* another turn of the session */
    if (tj && !json_is_null(tj))
        f->started = true;
    track(f, name, ev);
    bool js = f->json;
    if (js)
        print_json_line(ev);

    if (strcmp(name, "text") == 0) {
        if (!js)
            o_puts(f->text, str_or(ev, "text", ""));
    } else if (strcmp(name, "transcript") == 0) {
        if (!js)
            on_transcript(ev);
    } else if (strcmp(name, "audio") == 0) {
        return on_audio(f, ev);
    } else if (strcmp(name, "code") == 0) {
        if (!js)
            print_code(f->text, ev);
    } else if (strcmp(name, "code_result") == 0) {
        if (!js)
            print_code_result(f->text, ev);
    } else if (strcmp(name, "grounding") == 0) {
        gl_grounding_collect(json_object_get(ev, "metadata"), f->sources);
    } else if (strcmp(name, "tool_call") == 0) {
        return on_tool_call(f, ev);
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
        gl_err e;
        if (f->play && audio_play_flush(f->play, &e) < 0) /* a short answer plays too */
            return report(&e);
        if (!js) {
            if (transcript_run) /* end the transcript line before anything else is printed */
                o_newline(&ERR), transcript_run = NULL;
            char *src = gl_grounding_format(f->sources);
            if (src) {
                o_newline(f->text);
                o_puts(f->text, src);
                free(src);
            }
            o_newline(f->text);
            json_array_clear(f->sources);
        }
    } else if (strcmp(name, "interrupted") == 0) {
        if (f->play) /* barge-in: what the device still holds is not said any more */
            audio_play_drop(f->play);
        if (json_is_false(json_object_get(ev, "final"))) { /* the generation was cut; the turn goes on */
            if (!js)
                errline("[interrupted: %s]", str_or(ev, "reason", "the generation was cut"));
            return EV_CONTINUE;
        }
        errline("glivectl: interrupted: %s", str_or(ev, "reason", "the turn was interrupted"));
        return EXIT_ERR;
    } else if (strcmp(name, "error") == 0) {
        if (!tj || json_is_null(tj)) { /* not about this prompt (e.g. persist): said, not fatal */
            if (!js)
                errline("[error: %s: %s]", str_or(ev, "code", "error"), str_or(ev, "message", "(no message)"));
            return EV_CONTINUE;
        }
        errline("glivectl: %s: %s", str_or(ev, "code", "error"), str_or(ev, "message", "(no message)"));
        return EXIT_ERR;
    } else if (strcmp(name, "state") == 0) {
        int rc = on_state(f, ev, true);
        if (rc != EV_CONTINUE)
            return rc;
    }
    return all_done(f) ? EXIT_OK : EV_CONTINUE;
}

/* ---- the prompt ---------------------------------------------------------------------------- */

/* "queued": where the prompt stands, from `list` (the session's waiting prompts; this one was
 * the last when it was counted). */
static void say_queued(follower *f)
{
    json_t *entry = list_entry(f);
    long long queued = entry ? json_integer_value(json_object_get(entry, "queued")) : -1;
    bool running = json_is_true(json_object_get(entry, "turn_running"));
    json_decref(entry);
    /* Alone in the queue of an idle session, the prompt only waits for the connection, which
     * the connecting line says. */
    if (queued > 1 || (queued > 0 && running))
        errline("[queued: position %lld; %s]", queued,
                running ? "the session is answering another prompt" : "waiting for the connection");
    else if (queued < 0)
        errline("[queued: the session is busy]");
}

/* A text or audio event read without a tree (glive_next_view, the hot path of a streamed
 * answer): what on_event does for them. */
static int on_view(follower *f, const glive_view *v)
{
    if (v->session && strcmp(v->session, f->session) != 0)
        return EV_CONTINUE;
    if (v->has_turn && turn_index(f, v->turn) < 0)
        return EV_CONTINUE; /* another turn of the session */
    if (v->has_turn)
        f->started = true;
    if (v->kind == GLIVE_VIEW_AUDIO)
        return audio_unwanted(f) ? EV_CONTINUE : write_pcm(f, v->mime, v->pcm, v->pcm_len);
    o_putn(f->text, v->text, v->text_len);
    return all_done(f) ? EXIT_OK : EV_CONTINUE;
}

int follow_prompt(follower *f, const char *text)
{
    gl_err e;
    f->unreachable = f->started = false;
    f->nturns = 0;
    forget_calls(f);
    f->owed_followups = 0;
    json_array_clear(f->sources);

    json_t *send;
    if (f->image_part) /* the picture and the question in one turn, as a typed question about it */
        send = json_pack("{s:s, s:s, s:[O, {s:o}]}", "op", "send", "session", f->session, "parts",
                         f->image_part, "text", gl_json_text(text));
    else
        send = json_pack("{s:s, s:s, s:o}", "op", "send", "session", f->session, "text",
                         gl_json_text(text));
    json_t *reply = request(f->c, f->g, send, &e);
    if (!reply)
        return conn_failed(f, &e);
    if (f->json)
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
    add_turn(f, json_integer_value(tj));
    bool queued = json_is_true(json_object_get(reply, "queued"));
    json_decref(reply);
    if (queued && !f->json && !f->quiet)
        say_queued(f);

    /* --timeout bounds the wait for progress: `state` events of a connection failing again and
     * again are not, so a prompt waiting for an unreachable service is given up too. */
    int timeout = f->g->timeout_ms;
    int64_t progress = mono_ms();
    for (;;) {
        int wait = timeout;
        if (timeout >= 0) {
            int64_t left = progress + timeout - mono_ms();
            wait = left > 0 ? (int)left : 0;
        }
        /* --json prints every event as it came: the JSON path; else text and audio come as
         * views, without a tree */
        glive_view v = {.kind = GLIVE_VIEW_JSON};
        json_t *ev = NULL;
        bool got = f->json ? (ev = wait_event(f->c, wait, &e)) != NULL : wait_view(f->c, wait, &v, &e) == 0;
        if (got && !f->json && v.kind != GLIVE_VIEW_JSON) {
            progress = mono_ms();
            int rc = on_view(f, &v);
            if (rc != EV_CONTINUE)
                return rc;
            continue;
        }
        if (got && !f->json)
            ev = v.json;
        if (!ev) {
            if (strcmp(e.code, "signal") == 0) {
                f->err = e;
                return EXIT_SIGNAL;
            }
            if (strcmp(e.code, "timeout") == 0 && !f->started && f->troubled) {
                errline("glivectl: timeout: the Live API was not reached within %d s (the prompt was "
                        "not sent): %s", (timeout + 999) / 1000, f->trouble);
                f->unreachable = true;
                return EXIT_ERR;
            }
            if (strcmp(e.code, "timeout") == 0)
                gl_fail(&e, "timeout", "no event from gliveD for %d s (see --timeout)",
                        (timeout + 999) / 1000);
            return conn_failed(f, &e);
        }
        if (strcmp(str_or(ev, "event", ""), "state") != 0)
            progress = mono_ms();
        int rc = on_event(f, ev);
        json_decref(ev);
        if (rc != EV_CONTINUE)
            return rc;
    }
}
