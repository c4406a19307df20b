/* glivectl ask: opens (or attaches to) a session, sends one prompt (an argument, or stdin with
 * "-") and streams the answer of that turn: text, audio (to a WAV, raw PCM on stdout, the
 * speaker),
 * transcripts, code, grounding sources; it answers the turn's function calls with --tool-reply.
 * Arguments and requests: ask_args.c; following the prompt: follow.c. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/follow.h"
#include "client/glivectl/glivectl.h"
#include "client/lib/glive.h"
#include "client/lib/wav.h"
#include "common/xalloc.h"

const char cmd_ask_usage[] =
    "Usage: glivectl ask [OPTIONS] PROMPT\n"
    "       glivectl ask [OPTIONS] -          (the prompt from stdin)\n"
    "\n"
    "Opens (or attaches to) a session, sends PROMPT and streams the answer of that turn: text to\n"
    "stdout as it arrives, code and code results readably, search sources at the end. Function\n"
    "calls of the turn are answered by glivectl (logged to stderr).\n"
    "\n"
    "  --session NAME      the session (default \"default\"); created if it does not exist\n"
    "  --model NAME        model of a new session (default: gliveD's)\n"
    "  --audio             ask for AUDIO; without --wav or --play the PCM (s16le mono) goes to\n"
    "                      stdout (not a terminal) and text to stderr\n"
    "  --wav FILE          ask for AUDIO and write it to FILE as a WAV (24 kHz s16le mono)\n"
    "  --play              ask for AUDIO and play it as it comes on the audio device (ALSA);\n"
    "                      ask ends when it has been played (Ctrl-C stops it)\n"
    "  --device NAME       the ALSA device of --play (default \"default\")\n"
    "  --image FILE        send a picture (JPEG or PNG, at most 7 MiB) with PROMPT, in its turn\n"
    "  --code-execution    enable the code execution tool\n"
    "  --google-search     enable the Google Search tool\n"
    "  --function NAME     declare a function NAME (repeatable)\n"
    "  --tools FILE.json   add the Gemini Tool objects of a JSON array\n"
    "  --system TEXT       system instruction\n"
    "  --keep-connected    a new session stays connected even when unused\n"
    "  --tool-reply JSON   response object sent for function calls\n"
    "                      (default {\"result\":{\"string_value\":\"ok\"}})\n"
    "  --json              print the open/send replies and every event of the turn as JSON\n"
    "                      lines on stdout instead (audio still goes to --wav)\n"
    "  -q, --quiet         no status lines on stderr (queued, connecting, reconnecting)\n"
    "\n"
    "PROMPT \"-\" reads the prompt from stdin (up to 64 MiB; `ask -- -` sends a lone dash).\n"
    "Transcripts of the spoken answer go to stderr, prefixed \"[transcript] \". So do status\n"
    "lines saying what is happening when it is not the answer. If the Live API cannot be reached\n"
    "before the prompt is sent, ask says why and exits 1; gliveD then drops the prompt.\n";

#define STDIN_PROMPT_MAX ((size_t)64 << 20) /* gliveD's largest --max-line */

/* The whole of stdin as the prompt, its trailing newlines trimmed (`echo hi | glivectl ask -`
 * asks "hi"). NULL after saying why (a usage error). */
static char *read_stdin_prompt(void)
{
    size_t cap = 4096, len = 0;
    char *buf = gl_xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap >= STDIN_PROMPT_MAX) {
                usage_fail("ask", "the prompt on stdin is longer than %zu MiB", STDIN_PROMPT_MAX >> 20);
                free(buf);
                return NULL;
            }
            cap *= 2;
            buf = gl_xrealloc(buf, cap);
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            usage_fail("ask", "cannot read the prompt from stdin: %s", strerror(errno));
            free(buf);
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (!len) {
        usage_fail("ask", "the prompt on stdin is empty");
        free(buf);
        return NULL;
    }
    buf = gl_xrealloc(buf, len + 1);
    buf[len] = '\0';
    return buf;
}

static int ask_run(follower *f, const gl_ask_opts *o, json_t *open_req, const char *prompt)
{
    gl_err e;
    json_t *reply = request(f->c, f->g, open_req, &e);
    if (!reply)
        return report(&e);
    if (o->json)
        print_json_line(reply);
    if (glive_reply_error(reply, &e) < 0) {
        json_decref(reply);
        return report(&e);
    }
    follow_opened(f, reply);
    json_decref(reply);
    int rc = follow_prompt(f, prompt);
    if (rc == EXIT_SIGNAL)
        errline("glivectl: %s", f->err.msg);
    return rc;
}

int cmd_ask(const globals *g, int argc, char **argv)
{
    gl_ask_opts o;
    gl_err e;
    if (gl_ask_parse(argc, argv, &o, &e) < 0) {
        gl_ask_opts_free(&o);
        return usage_fail("ask", "%s", e.msg);
    }
    if (o.help) {
        fputs(cmd_ask_usage, stdout);
        gl_ask_opts_free(&o);
        return EXIT_OK;
    }
    bool raw_pcm = o.audio && !o.wav && !o.json && !o.play;
    if (raw_pcm && isatty(STDOUT_FILENO)) { /* binary noise on a terminal helps nobody */
        gl_ask_opts_free(&o);
        return usage_fail("ask", "--audio writes raw PCM to stdout, which is a terminal: redirect it "
                          "(> answer.pcm, | aplay -f S16_LE -r 24000) or use --wav FILE");
    }
    json_t *open_req = gl_ask_open_request(&o, &e);
    json_t *tool_reply = open_req ? gl_ask_tool_reply(&o, &e) : NULL;
    json_t *image = tool_reply && o.image ? gl_ask_image_part(o.image, &e) : NULL;
    char *stdin_prompt = NULL;
    if (!open_req || !tool_reply || (o.image && !image)) {
        json_decref(open_req);
        json_decref(tool_reply);
        gl_ask_opts_free(&o);
        return usage_fail("ask", "%s", e.msg);
    }
    if (o.prompt_stdin && !(stdin_prompt = read_stdin_prompt())) {
        json_decref(open_req);
        json_decref(tool_reply);
        json_decref(image);
        gl_ask_opts_free(&o);
        return EXIT_USAGE;
    }
    follower f = {.g = g, .session = o.session, .json = o.json, .quiet = o.quiet, .text = &OUT,
                  .raw_pcm = raw_pcm, .tool_reply = tool_reply, .image_part = image,
                  .audio_hint = "use --wav FILE, --play, or --audio for raw PCM on stdout"};
    if (raw_pcm)
        f.text = &ERR; /* stdout carries the PCM */
    /* A streamed answer is many small writes: flushed when glivectl is about to wait for more
     * (wait_view), not one by one; into a pipe or a file, in 64 KiB writes. (The buffer is
     * ours: given NULL, glibc ignores the size and allocates st_blksize, 4 KiB.) */
    static char stdout_buf[1 << 16];
    if (!isatty(STDOUT_FILENO))
        setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
    o_defer(true);
    follow_init(&f);
    gl_wav wav;
    int rc;
    /* the device first: a missing one is said before anything is asked */
    if (o.play && !(f.play = audio_play_open(o.device ? o.device : AUDIO_DEFAULT_DEVICE,
                                             GL_WAV_DEFAULT_RATE, &e))) {
        errline("glivectl: %s", e.msg);
        rc = EXIT_ERR;
        json_decref(open_req);
    } else if (!(f.c = connect_daemon(g))) {
        rc = EXIT_CONNECT;
        json_decref(open_req);
    } else if (o.wav && gl_wav_open(&wav, o.wav, &e) < 0) {
        rc = report(&e);
        json_decref(open_req);
    } else {
        f.wav = o.wav ? &wav : NULL;
        catch_signals();
        wait_feeds(f.play);
        rc = ask_run(&f, &o, open_req, stdin_prompt ? stdin_prompt : o.prompt);
        if (rc == EXIT_OK && f.play && play_out(f.play, &e) < 0) { /* the answer's end still plays */
            errline("glivectl: %s", e.msg);
            rc = strcmp(e.code, "signal") == 0 ? EXIT_SIGNAL : EXIT_ERR;
        }
        wait_feeds(NULL);
    }
    o_defer(false);
    if (f.wav && gl_wav_close(f.wav, &e) < 0 && (rc == EXIT_OK))
        rc = report(&e);
    if (rc == EXIT_OK)
        glive_close(f.c);
    else /* given up (unreachable, timeout, signal): gliveD must not send the prompt later */
        glive_abandon(f.c);
    audio_play_close(f.play);
    follow_free(&f);
    json_decref(tool_reply);
    json_decref(image);
    free(stdin_prompt);
    gl_ask_opts_free(&o);
    return rc;
}
