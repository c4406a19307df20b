/* What glivectl's commands share: exit statuses, the global options, output (output.c), talking
 * to gliveD (conn.c), the simple commands' arguments (args.c), and each command's entry point
 * and usage text (cmd_*.c) for the COMMANDS table of main.c. */
#ifndef GL_CLIENT_GLIVECTL_H
#define GL_CLIENT_GLIVECTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "client/glivectl/audio_dev.h"
#include "client/lib/glive.h"
#include "common/err.h"

/* Part of glivectl's interface: scripts and the integration tests rely on them. */
enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3, EXIT_SIGNAL = 130 };

typedef struct globals {
    const char *socket;  /* NULL = the default */
    int timeout_ms;      /* -1 = no limit */
} globals;

/* ---- output.c ------------------------------------------------------------------------------ */

/* A stream and whether its last byte written left it mid-line. Every write is flushed (text is
 * streamed as it arrives) unless output is deferred (o_defer): then waits flush it. */
typedef struct ostream {
    FILE *f;
    bool midline;
} ostream;

extern ostream OUT, ERR;            /* stdout and stderr; main() sets their FILE */
extern const char *transcript_run;  /* source of the transcript being streamed to stderr, or NULL */

void o_puts(ostream *o, const char *s);
void o_putn(ostream *o, const char *s, size_t n);
/* Deferred output, for streams of many small writes (ask): writes are not flushed one by one but
 * when the command is about to wait (wait_view flushes when nothing more is pending), and
 * before the other stream is written (the order stays). o_defer(false) flushes. */
void o_defer(bool on);
void o_flush(void);
/* o's FILE was written to directly (raw PCM): flushed now unless deferred. */
void o_sync(ostream *o);
void o_printf(ostream *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Moves o to the start of a line. */
void o_newline(ostream *o);
/* Moves stderr to the start of a line for a diagnostic: ends a streamed transcript, and a
 * half-written stdout line when both are the same terminal. */
void err_linestart(void);
/* One diagnostic line on stderr, on a line of its own. */
void errline(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "glivectl: CODE: MESSAGE" on stderr; returns EXIT_ERR. */
int report(const gl_err *e);

/* Compact JSON of v (malloc'd; "?" if it cannot be encoded). */
char *dump(const json_t *v);
void print_json_line(const json_t *v);
/* A JSON value for humans (malloc'd, never NULL): strings as they are, null as "-", reals
 * rounded (12.7, 0.12, 1235), containers as compact JSON with their reals rounded. */
char *human(const json_t *v);
/* Compact JSON of v with its reals rounded as human() does (malloc'd; "?" if it cannot be
 * encoded). */
char *dump_human(const json_t *v);
const char *str_or(const json_t *o, const char *key, const char *dflt);
/* The readable form of a "code" / "code_result" event (shared by ask and watch). */
void print_code(ostream *o, const json_t *ev);
void print_code_result(ostream *o, const json_t *ev);

/* ---- conn.c -------------------------------------------------------------------------------- */

/* SIGINT/SIGTERM set a flag that wait_event notices (no SA_RESTART). */
void catch_signals(void);
/* The signal caught since the last call (0 if none), and forget it: chat goes on after Ctrl-C. */
int take_signal(void);
/* The signal caught and not yet taken (0 if none); it stays for take_signal. */
int peek_signal(void);
/* Waits for the next event, at most timeout_ms (-1 forever) but in slices so that a signal is
 * seen; deferred output (o_defer) is flushed before it blocks. NULL with err (code "timeout"
 * when timeout_ms passed, "signal" on SIGINT/SIGTERM). */
json_t *wait_event(glive_client *c, int timeout_ms, gl_err *err);
/* The same with glive_next_view (text and audio without a JSON tree); it takes what is already
 * there first, and flushes deferred output (o_flush) before it blocks. 0, or -1 with err. */
int wait_view(glive_client *c, int timeout_ms, glive_view *v, gl_err *err);
/* A speaker (--play) fed while wait_event and wait_view wait: its device is polled with the
 * socket, so the audio queued in it goes on playing. NULL: none. */
void wait_feeds(audio_play *p);
/* Queues an `audio` event's PCM (mime "audio/pcm;rate=24000") on p. Audio of another rate than
 * p's, or past the queue's bound, is not played: said once (*noted). 0, or -1 with err. */
int play_chunk(audio_play *p, const char *mime, const void *pcm, size_t n, bool *noted, gl_err *err);
/* Waits until p has played everything queued (the end of an answer goes on playing after its
 * turn_complete). 0, or -1 with err: "signal" (SIGINT/SIGTERM: the rest is dropped), "audio"
 * (the device failed, or stalled: the rest is dropped). */
int play_out(audio_play *p, gl_err *err);
/* Connects to gliveD; on failure prints why and returns NULL (exit with EXIT_CONNECT). */
glive_client *connect_daemon(const globals *g);
/* Sends req (stolen) and returns the reply whatever "ok" says, or NULL with err. */
json_t *request(glive_client *c, const globals *g, json_t *req, gl_err *err);
/* For commands that just need one successful reply: NULL after reporting, with *rc set. */
json_t *request_ok(glive_client *c, const globals *g, json_t *req, int *rc);

/* ---- args.c -------------------------------------------------------------------------------- */

/* Parses "[--json] [--help]" plus `npos` positional arguments. Returns -1 on a usage error
 * (printed), 1 for --help (printed), 0 to go on. */
int simple_args(int argc, char **argv, const char *usage, bool *json, const char **pos, int npos,
                const char *cmd);
/* A usage error of `glivectl CMD` (cmd NULL: of glivectl itself): the message on one line, then
 * "Try 'glivectl CMD --help'." on stderr. Returns EXIT_USAGE. */
int usage_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the commands (cmd_*.c) ---------------------------------------------------------------- */

/* argv holds the arguments after the command's name; returns the exit status. */
typedef int (*cmd_fn)(const globals *g, int argc, char **argv);

int cmd_ask(const globals *g, int argc, char **argv);
int cmd_chat(const globals *g, int argc, char **argv);
int cmd_open(const globals *g, int argc, char **argv);
int cmd_close(const globals *g, int argc, char **argv);
int cmd_watch(const globals *g, int argc, char **argv);
int cmd_sessions(const globals *g, int argc, char **argv);
int cmd_status(const globals *g, int argc, char **argv);
int cmd_tool(const globals *g, int argc, char **argv);
int cmd_talk(const globals *g, int argc, char **argv);

extern const char cmd_talk_usage[];
extern const char cmd_ask_usage[], cmd_chat_usage[], cmd_open_usage[], cmd_close_usage[],
    cmd_watch_usage[], cmd_sessions_usage[], cmd_status_usage[], cmd_tool_usage[];

#endif
