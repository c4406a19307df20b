/* glivectl chat: a conversation with one session. On a terminal, lines are read with libedit
 * (editing, history kept across runs); otherwise stdin is read line by line with no prompt, so
 * scripts and tests can drive it. Each line is a prompt followed to its end (follow.c), or a
 * command: /audio FILE.wav, /audio off, /close, /quit, /help. With --play each answer is played
 * on the audio device, to its end, before the next line is read. */
#include <errno.h>
#include <histedit.h>
#include <jansson.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include "client/glivectl/ask_args.h"
#include "client/glivectl/follow.h"
#include "client/glivectl/glivectl.h"
#include "client/glivectl/suggest.h"
#include "client/lib/glive.h"
#include "client/lib/wav.h"
#include "common/xalloc.h"

const char cmd_chat_usage[] =
    "Usage: glivectl chat [--session NAME] [OPTIONS]\n"
    "\n"
    "A conversation with a session: each line is a prompt, its answer streams to stdout as in\n"
    "ask, status lines and the prompt go to stderr. On a terminal, lines can be edited and the\n"
    "history (up/down, Ctrl-R) is kept in $XDG_STATE_HOME/glive/chat_history; otherwise lines are\n"
    "read from stdin as they come. Ctrl-D (end of input) or /quit leaves; Ctrl-C stops waiting\n"
    "for an answer.\n"
    "\n"
    "  --session NAME      the session (default \"default\"); created if it does not exist\n"
    "  --model NAME        model of a new session (default: gliveD's)\n"
    "  --audio             ask for AUDIO (save it with /audio FILE.wav; transcripts go to stderr)\n"
    "  --play              ask for AUDIO and play each answer on the audio device (ALSA) as it\n"
    "                      comes; the next prompt is read once it has been played (Ctrl-C stops\n"
    "                      the playing)\n"
    "  --device NAME       the ALSA device of --play (default \"default\")\n"
    "  --code-execution    enable the code execution tool\n"
    "  --google-search     enable the Google Search tool\n"
    "  --function NAME     declare a function NAME (repeatable)\n"
    "  --tools FILE.json   add the Gemini Tool objects of a JSON array\n"
    "  --system TEXT       system instruction\n"
    "  --keep-connected    a new session stays connected even when unused\n"
    "  --tool-reply JSON   response object sent for function calls\n"
    "  -q, --quiet         no status lines on stderr (queued, connecting, reconnecting)\n"
    "\n"
    "Commands (a line starting with // sends the rest with one /):\n"
    "  /audio FILE.wav     save the audio of the next answers to FILE.wav (an AUDIO session)\n"
    "  /audio off          stop saving audio (the WAV is finished)\n"
    "  /close              close the session (gliveD forgets the conversation) and leave\n"
    "  /quit               leave (the session stays in gliveD); also /exit\n"
    "  /help               list the commands\n"
    "\n"
    "Exit status: 0, or 1 if a prompt failed or gliveD went away (2 usage, 3 no gliveD).\n";

static const char CHAT_HELP[] =
    "/audio FILE.wav  save the audio of the next answers    /audio off  stop saving\n"
    "/close           close the session and leave            /quit       leave (also /exit, Ctrl-D)\n"
    "/help            this list                              //text      send \"/text\"\n";

#define LINE_MAX_BYTES ((size_t)1 << 20) /* gliveD's default --max-line: a longer prompt fails */
#define HISTORY_SIZE 1000

typedef struct chat {
    const globals *g;
    const gl_ask_opts *o;
    json_t *open_req;       /* kept: a reconnection opens the session again */
    follower f;
    gl_wav wav;
    bool audio_session;     /* the session answers in AUDIO (from the open reply) */
    bool interactive;
    bool failed;            /* a prompt failed: exit 1 at the end */
    EditLine *el;
    mbstate_t mbs;          /* a character split across reads of the terminal (edit_getc) */
    History *hist;
    char hist_path[PATH_MAX];
    char prompt[80];
} chat;

/* ---- the daemon ---------------------------------------------------------------------------- */

/* Connects and opens the session; says how it stands when `banner`. 0, or the exit status. */
static int chat_connect(chat *ch, bool banner)
{
    if (!(ch->f.c = connect_daemon(ch->g)))
        return EXIT_CONNECT;
    gl_err e;
    json_t *reply = request(ch->f.c, ch->g, json_deep_copy(ch->open_req), &e);
    if (!reply)
        return report(&e);
    if (glive_reply_error(reply, &e) < 0) {
        json_decref(reply);
        return report(&e);
    }
    ch->audio_session = strcmp(str_or(reply, "modality", ""), "AUDIO") == 0;
    follow_opened(&ch->f, reply);
    if (banner && ch->interactive)
        errline("[session %s: %s, %s, %s, %s; /help lists the commands, Ctrl-D leaves]",
                ch->o->session, json_is_true(json_object_get(reply, "created")) ? "created" : "attached",
                str_or(reply, "state", "?"), str_or(reply, "model", "?"), str_or(reply, "modality", "?"));
    json_decref(reply);
    return 0;
}

/* A new connection to gliveD: it drops the prompts the old one had waiting (never sent later)
 * and answers its pending function calls with an error, which is how a prompt is given up. */
static int chat_reconnect(chat *ch)
{
    glive_abandon(ch->f.c);
    ch->f.c = NULL;
    return chat_connect(ch, false);
}

/* Says the status lines of events that came between prompts. -1 if gliveD went away. */
static int drain_idle(chat *ch)
{
    for (;;) {
        gl_err e;
        json_t *ev = glive_next_event(ch->f.c, 0, &e);
        if (!ev) {
            if (strcmp(e.code, "timeout") == 0 || strcmp(e.code, "eintr") == 0)
                return 0;
            if (strcmp(e.code, "protocol") == 0 || strcmp(e.code, "line_too_long") == 0)
                continue; /* one bad line was skipped; the connection goes on */
            report(&e);
            return -1;
        }
        follow_idle_event(&ch->f, ev);
        json_decref(ev);
    }
}

/* ---- reading lines ------------------------------------------------------------------------- */

static char *prompt_fn(EditLine *el)
{
    chat *ch = NULL;
    el_get(el, EL_CLIENTDATA, &ch);
    return ch ? ch->prompt : "> ";
}

static void history_setup(chat *ch)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[PATH_MAX];
    int n;
    if (state && *state)
        n = snprintf(dir, sizeof dir, "%s/glive", state);
    else if (home && *home)
        n = snprintf(dir, sizeof dir, "%s/.local/state/glive", home);
    else
        return;
    if (n < 0 || (size_t)n >= sizeof dir)
        return;
    /* Best effort, one level at a time: a missing history is no reason to refuse to chat. */
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    mkdir(dir, 0700);
    n = snprintf(ch->hist_path, sizeof ch->hist_path, "%s/chat_history", dir);
    if (n < 0 || (size_t)n >= sizeof ch->hist_path) {
        ch->hist_path[0] = '\0';
        return;
    }
    HistEvent ev;
    history(ch->hist, &ev, H_LOAD, ch->hist_path); /* none yet is fine */
}

/* libedit's read of one character, ours so that a SIGINT caught at any moment ends el_gets:
 * its own read blocks on the terminal even when the signal came just before it (a Ctrl-C typed
 * while the terminal was not yet raw: the tty driver eats the line and nothing more comes).
 * SIGINT and SIGTERM are blocked outside ppoll, which lets them in atomically: caught before
 * the wait, the flag is seen; during it, ppoll returns. 1 with a character, 0 at EOF, -1 and
 * errno (EINTR for a signal, which read_edited takes). */
static int edit_getc(EditLine *el, wchar_t *wc)
{
    chat *ch;
    el_get(el, EL_CLIENTDATA, &ch);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    int rc = -1;
    for (;;) {
        if (peek_signal()) {
            errno = EINTR;
            break;
        }
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        if (ppoll(&p, 1, NULL, &old) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        char b;
        ssize_t n = read(STDIN_FILENO, &b, 1);
        if (n == 0) {
            rc = 0;
            break;
        }
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            break;
        }
        size_t m = mbrtowc(wc, &b, 1, &ch->mbs);
        if (m == (size_t)-2) /* more bytes of this character to come */
            continue;
        if (m == (size_t)-1) { /* not in the locale's encoding: the byte as it is, as libedit does */
            memset(&ch->mbs, 0, sizeof ch->mbs);
            *wc = (wchar_t)(unsigned char)b;
        }
        rc = 1;
        break;
    }
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return rc;
}

static void editor_start(chat *ch, const char *argv0)
{
    snprintf(ch->prompt, sizeof ch->prompt, "%.60s> ", ch->o->session);
    ch->hist = history_init();
    HistEvent ev;
    history(ch->hist, &ev, H_SETSIZE, HISTORY_SIZE);
    history(ch->hist, &ev, H_SETUNIQUE, 1);
    /* The prompt and the editing go to stderr: stdout carries only answers, so it can be
     * redirected or tee'd while the conversation goes on. */
    ch->el = el_init(argv0, stdin, stderr, stderr);
    el_set(ch->el, EL_CLIENTDATA, ch);
    el_set(ch->el, EL_PROMPT, prompt_fn);
    el_set(ch->el, EL_EDITOR, "emacs");
    el_set(ch->el, EL_HIST, history, ch->hist);
    /* SIGINT is ours (catch_signals): it ends the read with EINTR. libedit's own handlers would
     * re-send each signal to the whole process group, a test runner included. */
    el_set(ch->el, EL_SIGNAL, 0);
    el_set(ch->el, EL_GETCFN, edit_getc);
    el_set(ch->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
    el_source(ch->el, NULL); /* the user's ~/.editrc, as every libedit program */
    history_setup(ch);
}

static void editor_end(chat *ch)
{
    if (ch->hist) {
        HistEvent ev;
        if (ch->hist_path[0]) {
            mode_t old = umask(077); /* prompts are nobody else's business */
            history(ch->hist, &ev, H_SAVE, ch->hist_path);
            umask(old);
        }
        history_end(ch->hist);
    }
    if (ch->el)
        el_end(ch->el);
}

enum { LINE_EOF = -1, LINE_SIGNAL = -2, LINE_TOO_LONG = -3 };

/* One line without its newline into buf (size LINE_MAX_BYTES + 1). Its length, or LINE_*. */
static long read_plain(char *buf)
{
    size_t len = 0;
    bool too_long = false;
    for (;;) {
        int c = getchar();
        if (c == EOF) {
            if (ferror(stdin) && errno == EINTR) {
                clearerr(stdin);
                if (take_signal())
                    return LINE_SIGNAL;
                continue;
            }
            if (len == 0 && !too_long)
                return LINE_EOF;
            break; /* a last line without a newline */
        }
        if (c == '\n')
            break;
        if (len < LINE_MAX_BYTES)
            buf[len++] = (char)c;
        else
            too_long = true; /* the rest of the line is read and dropped */
    }
    buf[len] = '\0';
    return too_long ? LINE_TOO_LONG : (long)len;
}

static long read_edited(chat *ch, char *buf)
{
    /* A Ctrl-C that came after the answer ended, before this prompt, stopped nothing: it must
     * not stop the next answer either. */
    int pending = take_signal();
    if (pending && pending != SIGINT)
        return LINE_SIGNAL;
    for (;;) {
        int count = 0;
        /* No EL_SIGNAL (its handler re-sends signals to the whole process group), so libedit
         * does not follow SIGWINCH: the terminal's width is read again before each line. */
        el_resize(ch->el);
        const char *line = el_gets(ch->el, &count);
        if (!line) {
            if (count < 0 && errno == EINTR) {
                int sig = take_signal();
                if (sig == SIGINT) { /* as in a shell: the line is dropped, a new prompt */
                    o_puts(&ERR, "\n");
                    continue;
                }
                if (sig)
                    return LINE_SIGNAL;
                continue;
            }
            o_puts(&ERR, "\n"); /* Ctrl-D leaves the cursor after the prompt */
            return LINE_EOF;
        }
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len > LINE_MAX_BYTES)
            return LINE_TOO_LONG;
        memcpy(buf, line, len);
        buf[len] = '\0';
        if (len) {
            HistEvent ev;
            history(ch->hist, &ev, H_ENTER, buf);
        }
        return (long)len;
    }
}

/* ---- commands ------------------------------------------------------------------------------ */

static void audio_stop(chat *ch)
{
    if (!ch->f.wav)
        return;
    gl_err e;
    double secs = ch->wav.rate ? (double)ch->wav.data_bytes / 2 / ch->wav.rate : 0;
    char *path = gl_xstrdup(ch->wav.path ? ch->wav.path : "?");
    if (gl_wav_close(&ch->wav, &e) < 0)
        report(&e);
    else
        errline("[audio saved to %s: %.1f s]", path, secs);
    free(path);
    ch->f.wav = NULL;
}

static void cmd_audio(chat *ch, const char *arg)
{
    if (!*arg || strcmp(arg, "off") == 0) {
        if (!ch->f.wav)
            errline("[audio is not being saved]");
        audio_stop(ch);
        return;
    }
    if (!ch->audio_session) {
        errline("[session %s answers in TEXT: there is no audio to save (start chat with --audio, "
                "in a session of its own)]", ch->o->session);
        return;
    }
    audio_stop(ch);
    gl_err e;
    if (gl_wav_open(&ch->wav, arg, &e) < 0) {
        report(&e);
        return;
    }
    ch->f.wav = &ch->wav;
    errline("[saving the audio of the next answers to %s]", arg);
}

enum { GO_ON, LEAVE };

static int chat_command(chat *ch, const char *line, int *rc)
{
    static const char *const names[] = {"/audio", "/close", "/quit", "/exit", "/help"};
    size_t wlen = strcspn(line, " \t");
    const char *arg = line + wlen;
    arg += strspn(arg, " \t");
    if (wlen == 5 && strncmp(line, "/quit", 5) == 0)
        return LEAVE;
    if (wlen == 5 && strncmp(line, "/exit", 5) == 0)
        return LEAVE;
    if (wlen == 5 && strncmp(line, "/help", 5) == 0) {
        o_newline(&ERR);
        o_puts(&ERR, CHAT_HELP);
        return GO_ON;
    }
    if (wlen == 6 && strncmp(line, "/audio", 6) == 0) {
        cmd_audio(ch, arg);
        return GO_ON;
    }
    if (wlen == 6 && strncmp(line, "/close", 6) == 0) {
        json_t *r = request_ok(ch->f.c, ch->g, json_pack("{s:s, s:s}", "op", "close", "session",
                                                         ch->o->session), rc);
        if (r)
            errline("[session %s closed]", ch->o->session);
        json_decref(r);
        return LEAVE;
    }
    const char *hint = gl_suggest(line, wlen, names, sizeof names / sizeof names[0]);
    errline("[unknown command %.*s%s%s%s; /help lists them, // starts a prompt with /]", (int)(wlen > 40 ? 40 : wlen),
            line, hint ? " (did you mean " : "", hint ? hint : "", hint ? "?)" : "");
    return GO_ON;
}

/* ---- the conversation ---------------------------------------------------------------------- */

static int chat_loop(chat *ch)
{
    char *buf = gl_xmalloc(LINE_MAX_BYTES + 1);
    int rc = EXIT_OK;
    for (;;) {
        if (drain_idle(ch) < 0) {
            rc = EXIT_ERR;
            break;
        }
        long n = ch->interactive ? read_edited(ch, buf) : read_plain(buf);
        if (n == LINE_EOF)
            break;
        if (n == LINE_SIGNAL) {
            rc = EXIT_SIGNAL;
            break;
        }
        if (n == LINE_TOO_LONG) {
            errline("glivectl: the line is longer than %zu bytes; not sent", LINE_MAX_BYTES);
            ch->failed = true;
            continue;
        }
        const char *line = buf + strspn(buf, " \t");
        if (!*line)
            continue;
        if (line[0] == '/' && line[1] != '/') {
            if (chat_command(ch, line, &rc) == LEAVE)
                break;
            continue;
        }
        if (line[0] == '/')
            line++; /* "//text" sends "/text" */
        if (drain_idle(ch) < 0) {
            rc = EXIT_ERR;
            break;
        }
        int r = follow_prompt(&ch->f, line);
        gl_err pe;
        if (ch->f.play && r == EXIT_OK && play_out(ch->f.play, &pe) < 0) {
            r = strcmp(pe.code, "signal") == 0 ? EXIT_SIGNAL : EXIT_ERR;
            if (r == EXIT_SIGNAL && ch->interactive) {
                take_signal();
                errline("[playing stopped]");
                continue;
            }
            errline("glivectl: %s", pe.msg);
            if (r == EXIT_SIGNAL) {
                rc = EXIT_SIGNAL;
                break;
            }
        }
        if (r == EXIT_SIGNAL && !ch->interactive) {
            errline("glivectl: %s", ch->f.err.msg);
            rc = EXIT_SIGNAL;
            break;
        }
        if (ch->f.conn_lost) {
            rc = EXIT_ERR;
            break;
        }
        if (r == EXIT_SIGNAL || ch->f.unreachable) {
            if (r == EXIT_SIGNAL) {
                take_signal();
                errline("[stopped waiting for this answer]");
            }
            /* Leaving the connection is what makes gliveD drop a prompt it has not sent. */
            int c = chat_reconnect(ch);
            if (c != 0) {
                rc = c;
                break;
            }
        }
        if (r != EXIT_OK && r != EXIT_SIGNAL)
            ch->failed = true;
    }
    free(buf);
    if (rc == EXIT_OK && ch->failed)
        rc = EXIT_ERR;
    return rc;
}

int cmd_chat(const globals *g, int argc, char **argv)
{
    gl_ask_opts o;
    gl_err e;
    if (gl_session_parse(GL_CMD_CHAT, argc, argv, &o, &e) < 0) {
        gl_ask_opts_free(&o);
        return usage_fail("chat", "%s", e.msg);
    }
    if (o.help) {
        gl_ask_opts_free(&o);
        fputs(cmd_chat_usage, stdout);
        return EXIT_OK;
    }
    chat ch = {.g = g, .o = &o};
    ch.open_req = gl_ask_open_request(&o, &e);
    json_t *tool_reply = ch.open_req ? gl_ask_tool_reply(&o, &e) : NULL;
    if (!ch.open_req || !tool_reply) {
        json_decref(ch.open_req);
        gl_ask_opts_free(&o);
        return usage_fail("chat", "%s", e.msg);
    }
    ch.f = (follower){.g = g, .session = o.session, .quiet = o.quiet, .text = &OUT,
                      .tool_reply = tool_reply, .audio_hint = "/audio FILE.wav saves it"};
    follow_init(&ch.f);
    ch.interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
    /* the device first: a missing one is said before anything is asked */
    if (o.play && !(ch.f.play = audio_play_open(o.device ? o.device : AUDIO_DEFAULT_DEVICE,
                                                GL_WAV_DEFAULT_RATE, &e))) {
        errline("glivectl: %s", e.msg);
        follow_free(&ch.f);
        json_decref(ch.open_req);
        json_decref(tool_reply);
        gl_ask_opts_free(&o);
        return EXIT_ERR;
    }
    catch_signals();
    wait_feeds(ch.f.play);
    int rc = chat_connect(&ch, true);
    if (rc == 0) {
        if (ch.interactive) {
            setlocale(LC_CTYPE, ""); /* libedit edits characters, not bytes, in the user's locale */
            editor_start(&ch, "glivectl");
        }
        rc = chat_loop(&ch);
        editor_end(&ch);
    }
    audio_stop(&ch);
    wait_feeds(NULL);
    audio_play_close(ch.f.play);
    if (rc == EXIT_SIGNAL) /* a prompt may still wait: it must not be sent after we left */
        glive_abandon(ch.f.c);
    else
        glive_close(ch.f.c);
    follow_free(&ch.f);
    json_decref(ch.open_req);
    json_decref(tool_reply);
    gl_ask_opts_free(&o);
    return rc;
}
