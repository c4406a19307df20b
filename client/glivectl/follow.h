/* One prompt of a session followed to its end: `send`, then the events of everything the prompt
 * set going (its turn, its function calls, the turns the model starts to answer them), printed as
 * they come: text, audio (a WAV, raw PCM, the speaker), transcripts, code, search sources; the function
 * calls answered. What is not the answer goes to stderr as one status line each: queued (with
 * the position), connecting, reconnecting (why, and when the next attempt is), upstream errors.
 * `ask` follows one prompt, `chat` one per line. */
#ifndef GL_CLIENT_FOLLOW_H
#define GL_CLIENT_FOLLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/glivectl/glivectl.h"
#include "client/lib/glive.h"
#include "client/lib/wav.h"

#define FOLLOW_MAX_TURNS 64  /* follow-up turns of one prompt: far more than any model makes */
#define FOLLOW_MAX_CALLS 128 /* the daemon's own bound on pending calls of a session */

typedef struct follower {
    /* Set by the caller (follow_init zeroes the rest). */
    const globals *g;
    glive_client *c;
    const char *session;
    bool json;              /* the send reply and every event as JSON lines on stdout */
    bool quiet;             /* no status lines (errors are still said) */
    ostream *text;          /* where text goes: stdout, or stderr when stdout carries PCM */
    bool raw_pcm;           /* audio PCM to stdout */
    gl_wav *wav;            /* audio to this open WAV (NULL: not saved) */
    audio_play *play;       /* audio played on this speaker as it comes (NULL: not played) */
    const char *audio_hint; /* how to save audio, said once when some is dropped */
    const json_t *tool_reply; /* the response to function calls (borrowed) */
    const json_t *image_part; /* ask --image: a Part sent before the prompt's text (borrowed) */

    /* What happened (read by the caller after follow_prompt). */
    bool unreachable;       /* gave up: the Live API was never reached and the prompt not sent */
    bool conn_lost;         /* the connection to gliveD failed (eof, io...): do not go on */
    gl_err err;             /* the "signal" that stopped a wait, for the caller to say */

    /* Internal. */
    json_t *sources;        /* grounding sources of the turn */
    bool audio_noted;
    bool play_noted;        /* a playback problem (audio dropped, another rate) was said */
    bool started;           /* an event of the prompt's turn came: it is on the wire */
    bool troubled;          /* a reconnecting line was said: say when it is ready */
    char trouble[300];      /* why, for a timeout's message */
    long long turns[FOLLOW_MAX_TURNS];
    bool turn_done[FOLLOW_MAX_TURNS];
    size_t nturns;
    char *calls[FOLLOW_MAX_CALLS];
    bool call_async[FOLLOW_MAX_CALLS];
    size_t ncalls;
    unsigned owed_followups;
} follower;

/* Zeroes the internal part and allocates what it needs; the caller's fields are kept. */
void follow_init(follower *f);
void follow_free(follower *f);

/* Sends `text` to the session (already opened on f->c) and prints everything it sets going until
 * all of it has ended. Returns the exit status: EXIT_OK; EXIT_ERR after saying why (an error or
 * an interruption of the turn, a closed session, the service unreachable: f->unreachable, the
 * connection to gliveD lost: f->conn_lost); EXIT_SIGNAL when SIGINT/SIGTERM stopped the wait
 * (not said: f->err has it). */
int follow_prompt(follower *f, const char *text);

/* After the session's `open` reply: attached to a session that is reconnecting, says so (and
 * why, from `list`'s last_close), as the state events to come may be a backoff away. */
void follow_opened(follower *f, const json_t *open_reply);

/* An event that came while no prompt ran (chat, between lines): says the status lines, as
 * during a prompt. Events of turns are ignored. */
void follow_idle_event(follower *f, const json_t *ev);

/* "0.3 s", "12 s", "4 min": a duration for people. */
void follow_fmt_ms(char *buf, size_t size, long long ms);

#endif
