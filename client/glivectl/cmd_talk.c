/* glivectl talk: speak to a session. Streams a WAV file (any rate, mono or stereo), raw s16le
 * from stdin or the microphone (--mic) through gliveD's `audio` op, at real-time pace unless
 * --fast, prints what the service heard and what the model says (transcripts, on stderr), and
 * writes the spoken answer (a WAV, raw PCM on stdout) or plays it (--play, with barge-in). It
 * ends when the input has ended (the microphone's: Ctrl-C or --seconds) and the turns it caused
 * (the spoken turns, the model's follow-ups of its function calls) have ended. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/glivectl/glivectl.h"
#include "client/lib/b64.h"
#include "client/lib/wav.h"
#include "common/xalloc.h"

const char cmd_talk_usage[] =
    "Usage: glivectl talk [--session NAME] [--model NAME] [--in FILE.wav|- | --mic [--seconds N]]\n"
    "                     [--out FILE.wav|-] [--play] [--device NAME] [--rate HZ] [--fast]\n"
    "                     [--function NAME]... [--json]\n"
    "\n"
    "Speaks to a session: streams the input's audio to gliveD (it resamples any rate to the 16 kHz\n"
    "the Live API takes), prints the transcripts on stderr (\"[you] ...\", \"[model] ...\"), and\n"
    "writes or plays the spoken answer. Ends when the input has ended and the answer (with the\n"
    "follow-ups of its function calls) is complete. `talk --mic --play` is a conversation: it\n"
    "listens until Ctrl-C (or --seconds), and the model's answers play as they come; speaking\n"
    "over one stops it (barge-in). Use headphones: a microphone hearing the speaker interrupts\n"
    "the model with its own voice.\n"
    "\n"
    "  --session NAME   the session (default \"talk\"); opened for AUDIO with both transcriptions\n"
    "  --model NAME     the model of a new session\n"
    "  --in FILE.wav    16-bit PCM WAV, mono or stereo (downmixed), any rate; \"-\" (default):\n"
    "                   raw s16le mono on stdin at --rate, streamed as it comes\n"
    "  --mic            the input is the audio device's microphone (ALSA), instead of --in;\n"
    "                   Ctrl-C or SIGTERM ends it (the answer being given is finished; a second\n"
    "                   Ctrl-C stops at once)\n"
    "  --seconds N      with --mic: stop listening after N seconds of audio\n"
    "  --out FILE.wav   the answer as a WAV (24 kHz s16le mono); \"-\": raw PCM on stdout\n"
    "  --play           play the answer on the audio device as it comes (with --out too, if\n"
    "                   given); an interruption drops what the device still holds\n"
    "  --device NAME    the ALSA device of --mic and --play (default \"default\"; see\n"
    "                   `aplay -L`)\n"
    "  --rate HZ        the rate of raw stdin input (8000..192000, default 16000); with --mic,\n"
    "                   the rate asked of the microphone (the nearest it takes is used)\n"
    "  --fast           send a file as fast as gliveD takes it, not at real-time pace\n"
    "  --function NAME  declare a function (no parameters) and answer its calls with\n"
    "                   {\"result\":{\"string_value\":\"ok\"}} (the seed notebook's answer)\n"
    "  --json           print every event as JSON lines on stdout (then --out must be a file)\n";

#define CHUNK_MS 20
#define MAX_WAV_BYTES ((size_t)256 << 20) /* 256 MiB of samples: over an hour at 48 kHz */
#define MAX_FUNCTIONS 16
#define MAX_TRACKED 64
#define WAIT_SLICE_MS 250 /* the microphone loop's longest wait, so signals are seen */

typedef struct talk {
    const globals *g;
    glive_client *c;
    const char *session, *model, *in, *out, *device;
    unsigned rate;
    bool fast, json, use_mic, use_play;
    double seconds;          /* --seconds: how much of the microphone to send (0: until a signal) */
    audio_mic *mic;
    audio_play *play;
    bool play_noted;         /* a playback problem was said */
    const char *functions[MAX_FUNCTIONS];
    int nfunctions;
    gl_wav wav;
    bool wav_open, raw_out;
    long long turns[MAX_TRACKED]; /* spoken turns and the model's follow-ups of their calls */
    bool done[MAX_TRACKED];
    size_t nturns;
    int pending_calls;
    int nonblocking_calls;   /* of those, the ones the model answers in a turn of its own */
    unsigned owed_followups; /* answered non-blocking calls whose follow-up has not started */
    bool input_ended;
    bool by_signal;          /* the microphone was ended by Ctrl-C: no turn need have started */
} talk;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static long tracked(const talk *t, long long turn)
{
    for (size_t i = 0; i < t->nturns; i++)
        if (t->turns[i] == turn)
            return (long)i;
    return -1;
}

/* A conversation (--mic) has more turns than fit: the older ones that ended are forgotten; the
 * newest half stays, so a follow-up's of_turn is still known. */
static void forget_old_turns(talk *t)
{
    size_t k = 0;
    for (size_t i = 0; i < t->nturns; i++)
        if (!t->done[i] || i >= t->nturns - MAX_TRACKED / 2) {
            t->turns[k] = t->turns[i];
            t->done[k++] = t->done[i];
        }
    t->nturns = k;
}

static bool finished(const talk *t)
{
    if (!t->input_ended || (!t->nturns && !t->by_signal) || t->pending_calls > 0 || t->owed_followups)
        return false;
    for (size_t i = 0; i < t->nturns; i++)
        if (!t->done[i])
            return false;
    return true;
}

static int answer_call(talk *t, const json_t *ev)
{
    const char *id = json_string_value(json_object_get(ev, "call_id"));
    if (!id || json_is_true(json_object_get(ev, "handler")))
        return EXIT_OK; /* a registered handler answers it */
    json_t *req = json_pack("{s:s, s:s, s:s, s:{s:{s:s}}}", "op", "tool.result", "session", t->session,
                            "call_id", id, "response", "result", "string_value", "ok");
    gl_err e;
    json_t *reply = request(t->c, t->g, req, &e);
    if (!reply)
        return report(&e);
    int rc = glive_reply_error(reply, &e) == 0 || strcmp(e.code, "unknown_call") == 0 ? EXIT_OK : report(&e);
    json_decref(reply);
    errline("[tool] %s -> {\"result\":{\"string_value\":\"ok\"}}", str_or(ev, "name", "?"));
    return rc;
}

static int on_audio(talk *t, const json_t *ev)
{
    const char *data = str_or(ev, "data", "");
    unsigned char *pcm;
    size_t n;
    gl_err e;
    if (gl_b64_decode(data, strlen(data), &pcm, &n, &e) < 0)
        return report(&e);
    int rc = EXIT_OK;
    if (t->play && play_chunk(t->play, str_or(ev, "mime", NULL), pcm, n, &t->play_noted, &e) < 0)
        rc = report(&e);
    else if (t->wav_open) {
        gl_wav_set_rate(&t->wav, gl_wav_mime_rate(str_or(ev, "mime", NULL), GL_WAV_DEFAULT_RATE));
        if (gl_wav_write(&t->wav, pcm, n, &e) < 0)
            rc = report(&e);
    } else if (t->raw_out && n && fwrite(pcm, 1, n, stdout) != n) {
        gl_fail(&e, "io", "cannot write audio to stdout: %s", strerror(errno));
        rc = report(&e);
    }
    free(pcm);
    return rc;
}

/* Transcripts stream on stderr, one line per speaker: "[you] ..." then "[model] ...". */
static void say(const char *source, const char *text, bool finished)
{
    const char *run = strcmp(source, "input") == 0 ? "input" : "output";
    if (!transcript_run || strcmp(transcript_run, run) != 0) {
        err_linestart();
        o_puts(&ERR, strcmp(run, "input") == 0 ? "[you] " : "[model] ");
        transcript_run = run;
    }
    o_puts(&ERR, text);
    if (finished) {
        o_newline(&ERR);
        transcript_run = NULL;
    }
}

/* One event; EXIT_OK to go on, else the exit status. */
static int on_event(talk *t, const json_t *ev)
{
    const char *name = str_or(ev, "event", "");
    if (strcmp(str_or(ev, "session", t->session), t->session) != 0)
        return EXIT_OK;
    long long turn = json_integer_value(json_object_get(ev, "turn"));
    if (strcmp(name, "turn_started") == 0) {
        const char *cause = str_or(ev, "cause", "");
        long long of = json_integer_value(json_object_get(ev, "of_turn"));
        if (t->nturns == MAX_TRACKED)
            forget_old_turns(t);
        if ((strcmp(cause, "audio") == 0 || (of && tracked(t, of) >= 0)) && t->nturns < MAX_TRACKED) {
            t->turns[t->nturns++] = turn;
            if (of)
                t->owed_followups = 0; /* the model answers its calls */
        }
    }
    if (t->json)
        print_json_line(ev);
    if (strcmp(name, "state") == 0) {
        const char *reason = json_string_value(json_object_get(ev, "reason"));
        if (!t->json)
            errline("[%s%s%s]", str_or(ev, "state", "?"), reason ? ": " : "", reason ? reason : "");
        if (strcmp(str_or(ev, "state", ""), "closed") == 0 && reason)
            return EXIT_ERR;
        return EXIT_OK;
    }
    if (strcmp(name, "error") == 0) {
        errline("glivectl: %s: %s", str_or(ev, "code", "error"), str_or(ev, "message", ""));
        return EXIT_ERR;
    }
    if (turn && tracked(t, turn) < 0 && strcmp(name, "transcript") != 0)
        return EXIT_OK; /* another client's turn */
    if ((strcmp(name, "transcript") == 0 || strcmp(name, "text") == 0) && !t->json &&
        !json_is_true(json_object_get(ev, "interim"))) {
        say(str_or(ev, "source", "output"), str_or(ev, "text", ""), json_is_true(json_object_get(ev, "finished")));
    } else if (strcmp(name, "audio") == 0) {
        return on_audio(t, ev);
    } else if (strcmp(name, "interrupted") == 0) {
        if (t->play) /* barge-in: what the device still holds is not said any more */
            audio_play_drop(t->play);
        if (!t->json)
            errline("[interrupted: %s]", str_or(ev, "reason", ""));
    } else if (strcmp(name, "tool_call") == 0) {
        t->pending_calls++;
        if (strcmp(str_or(ev, "behavior", ""), "NON_BLOCKING") == 0)
            t->nonblocking_calls++;
        return answer_call(t, ev);
    } else if (strcmp(name, "tool_result") == 0 || strcmp(name, "tool_cancel") == 0) {
        t->pending_calls--;
        if (t->nonblocking_calls > 0) {
            t->nonblocking_calls--;
            if (strcmp(name, "tool_result") == 0 && strcmp(str_or(ev, "scheduling", ""), "SILENT") != 0)
                t->owed_followups++;
        }
    } else if (strcmp(name, "turn_complete") == 0) {
        long i = tracked(t, turn);
        if (i >= 0)
            t->done[i] = true;
        gl_err e;
        if (t->play && audio_play_flush(t->play, &e) < 0) /* a short answer plays too */
            return report(&e);
    }
    return EXIT_OK;
}

/* Reads events until deadline (loop time in ms; 0: just what is there). */
static int pump(talk *t, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        int wait = deadline > now ? (int)(deadline - now) : 0;
        gl_err e;
        json_t *ev = wait_event(t->c, wait ? wait : 1, &e);
        if (!ev)
            return strcmp(e.code, "timeout") == 0 ? EXIT_OK : strcmp(e.code, "signal") == 0 ? EXIT_SIGNAL
                                                                                             : report(&e);
        int rc = on_event(t, ev);
        json_decref(ev);
        if (rc != EXIT_OK)
            return rc;
        if (now_ms() >= deadline)
            return EXIT_OK;
    }
}

static int send_audio(talk *t, const int16_t *pcm, size_t n, unsigned rate)
{
    char *b64 = gl_b64_encode(pcm, n * 2);
    json_t *req = json_pack("{s:s, s:s, s:s, s:I}", "op", "audio", "session", t->session, "data", b64,
                            "rate", (json_int_t)rate);
    free(b64);
    int rc = EXIT_OK;
    json_t *reply = request_ok(t->c, t->g, req, &rc);
    json_decref(reply);
    return reply ? EXIT_OK : rc;
}

/* A WAV file, 20 ms at a time, at real-time pace (or as fast as gliveD takes it). */
static int stream_file(talk *t)
{
    FILE *f = fopen(t->in, "rb");
    gl_err e;
    if (!f) {
        errline("glivectl: cannot open %s: %s", t->in, strerror(errno));
        return EXIT_USAGE;
    }
    int16_t *pcm;
    size_t n;
    uint32_t rate;
    int rc = gl_wav_load(f, MAX_WAV_BYTES, &pcm, &n, &rate, &e);
    fclose(f);
    if (rc < 0)
        return report(&e);
    size_t step = rate * CHUNK_MS / 1000;
    uint64_t t0 = now_ms();
    for (size_t i = 0; i < n && rc == EXIT_OK; i += step) {
        rc = send_audio(t, pcm + i, n - i < step ? n - i : step, rate);
        if (rc == EXIT_OK)
            rc = pump(t, t->fast ? 0 : t0 + (i + step) * 1000 / rate);
    }
    free(pcm);
    return rc;
}

/* Raw s16le from stdin, sent as it comes (the producer sets the pace: a microphone pipe). */
static int stream_stdin(talk *t)
{
    size_t step = t->rate * CHUNK_MS / 1000;
    int16_t *buf = gl_xmalloc(step * sizeof *buf);
    int rc = EXIT_OK;
    size_t have = 0;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, (char *)buf + have, step * 2 - have);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        have += (size_t)r;
        if (have == step * 2) {
            if ((rc = send_audio(t, buf, step, t->rate)) != EXIT_OK || (rc = pump(t, 0)) != EXIT_OK)
                break;
            have = 0;
        }
    }
    if (rc == EXIT_OK && have >= 2)
        rc = send_audio(t, buf, have / 2, t->rate);
    free(buf);
    return rc;
}

/* The events already there, without waiting. */
static int drain_events(talk *t)
{
    for (;;) {
        gl_err e;
        json_t *ev = glive_next_event(t->c, 0, &e);
        if (!ev) {
            if (strcmp(e.code, "timeout") == 0 || strcmp(e.code, "eintr") == 0)
                return EXIT_OK;
            if (strcmp(e.code, "protocol") == 0 || strcmp(e.code, "line_too_long") == 0)
                continue; /* that line was skipped; the connection goes on */
            return report(&e);
        }
        int rc = on_event(t, ev);
        json_decref(ev);
        if (rc != EXIT_OK)
            return rc;
    }
}

/* The microphone, 20 ms at a time as the device captures it, until a signal or --seconds. One
 * poll waits for the device, gliveD's socket and the speaker, so the answer plays (and a
 * barge-in stops it) while the user speaks. */
static int stream_mic(talk *t)
{
    size_t step = t->rate * CHUNK_MS / 1000;
    int16_t *buf = gl_xmalloc(step * sizeof *buf);
    uint64_t limit = (uint64_t)llround(t->seconds * t->rate), sent = 0;
    int rc = EXIT_OK;
    if (!t->json)
        errline("[listening on \"%s\" at %u Hz; %s]", t->device, t->rate,
                t->seconds > 0 ? "--seconds ends it" : "Ctrl-C ends");
    while (rc == EXIT_OK) {
        if (peek_signal()) {
            take_signal(); /* this one ends the input; another stops the rest at once */
            t->by_signal = true;
            break;
        }
        if (limit && sent >= limit)
            break;
        gl_err e;
        bool lost;
        int r = audio_mic_read(t->mic, buf, step, &lost, &e);
        if (r < 0) {
            rc = report(&e);
            break;
        }
        if (lost && !t->json)
            errline("[microphone overrun: some audio was lost]");
        if (r == 1) {
            sent += step;
            if ((rc = send_audio(t, buf, step, t->rate)) == EXIT_OK)
                rc = drain_events(t); /* a device faster than real time must not starve them */
            continue;
        }
        if ((rc = drain_events(t)) != EXIT_OK)
            break;
        struct pollfd fds[1 + 2 * AUDIO_MAX_FDS] = {{.fd = glive_fd(t->c), .events = POLLIN}};
        int nm = audio_mic_pollfds(t->mic, fds + 1, AUDIO_MAX_FDS);
        int np = t->play ? audio_play_pollfds(t->play, fds + 1 + nm, AUDIO_MAX_FDS) : 0;
        int pr = glive_queued(t->c) ? 0 : poll(fds, (nfds_t)(1 + nm + np), WAIT_SLICE_MS);
        if (pr < 0 && errno != EINTR) {
            gl_fail(&e, "io", "poll: %s", strerror(errno));
            rc = report(&e);
        } else if (audio_mic_ready(t->mic, fds + 1, pr > 0 ? nm : 0, &e) < 0 ||
                   (t->play && audio_play_ready(t->play, fds + 1 + nm, pr > 0 ? np : 0, &e) < 0)) {
            rc = report(&e);
        }
    }
    free(buf);
    if (rc == EXIT_OK && !t->json)
        errline("[stopped listening%s]", t->by_signal ? ": the answer being given is finished" : "");
    return rc;
}

static int parse(talk *t, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--session") == 0 || strcmp(a, "--model") == 0 || strcmp(a, "--in") == 0 ||
                     strcmp(a, "--out") == 0 || strcmp(a, "--rate") == 0 || strcmp(a, "--function") == 0 ||
                     strcmp(a, "--device") == 0 || strcmp(a, "--seconds") == 0;
        if (takes && !v) {
            errline("glivectl talk: %s needs a value (glivectl talk --help)", a);
            return EXIT_USAGE;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(cmd_talk_usage, stdout);
            return -1;
        } else if (strcmp(a, "--session") == 0) {
            t->session = v;
        } else if (strcmp(a, "--model") == 0) {
            t->model = v;
        } else if (strcmp(a, "--in") == 0) {
            t->in = v;
        } else if (strcmp(a, "--out") == 0) {
            t->out = v;
        } else if (strcmp(a, "--device") == 0) {
            if (!*v) {
                errline("glivectl talk: --device needs a NAME (glivectl talk --help)");
                return EXIT_USAGE;
            }
            t->device = v;
        } else if (strcmp(a, "--seconds") == 0) {
            char *end;
            errno = 0;
            double sec = strtod(v, &end);
            if (*end || !*v || errno || !(sec > 0 && sec <= 86400)) {
                errline("glivectl talk: --seconds wants a number of seconds (0..86400], not \"%.20s\"", v);
                return EXIT_USAGE;
            }
            t->seconds = sec;
        } else if (strcmp(a, "--rate") == 0) {
            char *end;
            unsigned long r = strtoul(v, &end, 10);
            if (*end || !*v || r < 8000 || r > 192000) {
                errline("glivectl talk: --rate wants 8000..192000 Hz, not \"%.20s\"", v);
                return EXIT_USAGE;
            }
            t->rate = (unsigned)r;
        } else if (strcmp(a, "--function") == 0) {
            if (t->nfunctions == MAX_FUNCTIONS) {
                errline("glivectl talk: at most %d --function", MAX_FUNCTIONS);
                return EXIT_USAGE;
            }
            t->functions[t->nfunctions++] = v;
        } else if (strcmp(a, "--fast") == 0) {
            t->fast = true;
            continue;
        } else if (strcmp(a, "--mic") == 0) {
            t->use_mic = true;
            continue;
        } else if (strcmp(a, "--play") == 0) {
            t->use_play = true;
            continue;
        } else if (strcmp(a, "--json") == 0) {
            t->json = true;
            continue;
        } else {
            errline("glivectl talk: unknown option \"%.40s\" (glivectl talk --help)", a);
            return EXIT_USAGE;
        }
        i++;
    }
    const char *clash = t->use_mic && t->in ? "--mic and --in are two inputs: give one"
                        : t->use_mic && t->fast ? "--fast paces a file, not --mic"
                        : t->seconds > 0 && !t->use_mic ? "--seconds needs --mic"
                        : t->device && !t->use_mic && !t->use_play ? "--device names the device of --mic and --play"
                        : NULL;
    if (clash) {
        errline("glivectl talk: %s (glivectl talk --help)", clash);
        return EXIT_USAGE;
    }
    if (!t->in)
        t->in = "-";
    if (!t->device)
        t->device = AUDIO_DEFAULT_DEVICE;
    if (t->out && strcmp(t->out, "-") == 0 && (t->json || isatty(STDOUT_FILENO))) {
        errline("glivectl talk: --out - writes raw PCM to stdout: not with --json nor to a terminal");
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_talk(const globals *g, int argc, char **argv)
{
    talk t = {.g = g, .session = "talk", .rate = 16000};
    int rc = parse(&t, argc, argv);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    gl_err e;
    /* the devices first: a missing one is said before anything is sent */
    if ((t.use_mic && !(t.mic = audio_mic_open(t.device, &t.rate, &e))) ||
        (t.use_play && !(t.play = audio_play_open(t.device, GL_WAV_DEFAULT_RATE, &e)))) {
        errline("glivectl: %s", e.msg);
        audio_mic_close(t.mic);
        return EXIT_ERR;
    }
    if (t.out && strcmp(t.out, "-") != 0) {
        if (gl_wav_open(&t.wav, t.out, &e) < 0) {
            audio_mic_close(t.mic);
            audio_play_close(t.play);
            return report(&e);
        }
        t.wav_open = true;
    }
    t.raw_out = t.out && strcmp(t.out, "-") == 0;
    if (!(t.c = connect_daemon(g))) {
        gl_wav_close(&t.wav, &e);
        audio_mic_close(t.mic);
        audio_play_close(t.play);
        return EXIT_CONNECT;
    }
    catch_signals();
    wait_feeds(t.play);
    json_t *open = json_pack("{s:s, s:s, s:s, s:b, s:b}", "op", "open", "session", t.session, "modality",
                             "AUDIO", "input_transcription", 1, "output_transcription", 1);
    if (t.model)
        json_object_set_new(open, "model", json_string(t.model));
    if (t.nfunctions) {
        json_t *decls = json_array();
        for (int i = 0; i < t.nfunctions; i++)
            json_array_append_new(decls, json_pack("{s:s}", "name", t.functions[i]));
        json_object_set_new(open, "tools", json_pack("[{s:o}]", "function_declarations", decls));
    }
    json_t *reply = request_ok(t.c, g, open, &rc);
    if (reply) {
        if (t.json)
            print_json_line(reply);
        json_decref(reply);
        rc = t.mic ? stream_mic(&t) : strcmp(t.in, "-") == 0 ? stream_stdin(&t) : stream_file(&t);
        audio_mic_close(t.mic); /* not listening any more */
        t.mic = NULL;
    }
    if (rc == EXIT_OK) {
        t.input_ended = true;
        json_t *r = request_ok(t.c, g, json_pack("{s:s, s:s}", "op", "audio.end", "session", t.session), &rc);
        json_decref(r);
    }
    while (rc == EXIT_OK && !finished(&t)) {
        gl_err we;
        json_t *ev = wait_event(t.c, g->timeout_ms, &we);
        if (!ev) {
            rc = strcmp(we.code, "signal") == 0 ? EXIT_SIGNAL : report(&we);
            break;
        }
        rc = on_event(&t, ev);
        json_decref(ev);
    }
    if (rc == EXIT_OK && t.play && play_out(t.play, &e) < 0) { /* the answer's end still plays */
        errline("glivectl: %s", e.msg);
        rc = strcmp(e.code, "signal") == 0 ? EXIT_SIGNAL : EXIT_ERR;
    }
    wait_feeds(NULL);
    if (transcript_run)
        o_newline(&ERR);
    if (t.wav_open && gl_wav_close(&t.wav, &e) < 0 && rc == EXIT_OK)
        rc = report(&e);
    audio_mic_close(t.mic);
    audio_play_close(t.play);
    glive_close(t.c);
    return rc;
}
