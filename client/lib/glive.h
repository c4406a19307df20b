/* libglive: a small blocking client for gliveD's line protocol (proto/PROTOCOL.md), for local C
 * programs. No event loop needed: every call blocks in poll() at most for its timeout.
 *
 *     gl_err err;
 *     glive_client *c = glive_connect(NULL, &err);          // NULL = the daemon's default socket
 *     if (!c) { fprintf(stderr, "%s\n", err.msg); ... }
 *     json_t *req = json_pack("{s:s, s:s, s:s}", "op", "send", "session", "main", "text", "Hi");
 *     json_t *reply = glive_request(c, req, 10000, &err);   // req is stolen
 *     if (!reply || glive_reply_error(reply, &err) < 0) { ... err.code, err.msg ... }
 *     json_decref(reply);
 *     json_t *ev;
 *     while ((ev = glive_next_event(c, -1, &err))) { ... json_decref(ev); }
 *     glive_close(c);
 *
 * Replies vs events: a line with "event" is an event; a line with "ok" is a reply. While a request
 * waits for its reply, events that arrive are queued (up to GLIVE_EVENT_QUEUE_MAX) and handed out
 * later, in arrival order, by glive_next_event. The library numbers requests itself ("id").
 *
 * Errors follow common/err.h (NULL / -1 and a gl_err). Codes produced here:
 *   connect   cannot connect to the socket (message names the path and the reason)
 *   timeout   the timeout passed with nothing (more) to return
 *   eof       "gliveD closed the connection"
 *   io        a read/write error on the socket
 *   protocol  the daemon sent a line that is not a protocol line (bad JSON, not an object,
 *             neither "event" nor "ok")
 *   line_too_long  the daemon sent a line over GLIVE_LINE_MAX
 *             (these two are reported by glive_next_event, in stream order; the line is skipped
 *             and the connection stays usable: call again. glive_request does not fail on them:
 *             they wait in the queue with the events)
 *   overflow  "event queue overflow": more than GLIVE_EVENT_QUEUE_MAX events arrived while a
 *             request waited for its reply; events were lost, so the connection is unusable
 *             (every later call fails with this error once the queue is drained)
 *   eintr     glive_next_event only: a signal handler interrupted the wait; nothing was lost,
 *             call again (lets callers check their signal flags). glive_request retries by itself.
 *   usage     a bad argument (NULL request, request not an object...)
 * Running out of memory aborts (common/xalloc.h); call gl_xalloc_init() first in main() so that
 * jansson's allocations abort too. After "eof" or "io" every later call fails the same way (queued events are still returned
 * first by glive_next_event). Not thread-safe: one client per thread. SIGPIPE is never raised. */
#ifndef GL_CLIENT_GLIVE_H
#define GL_CLIENT_GLIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

#define GLIVE_LINE_MAX ((size_t)16 << 20) /* longest line accepted from the daemon (audio) */
#define GLIVE_EVENT_QUEUE_MAX 10000       /* events held while waiting for a reply */

typedef struct glive_client glive_client;

/* Connects to the daemon's Unix socket. path NULL (or "") = gl_default_socket_path() (the same
 * default as gliveD: $GLIVE_SOCKET, $RUNTIME_DIRECTORY/gliveD.sock,
 * $XDG_RUNTIME_DIR/glive/gliveD.sock, /run/glive/gliveD.sock). Error code "connect", e.g.
 *   cannot connect to /run/user/1000/glive/gliveD.sock: No such file or directory (is gliveD running?) */
glive_client *glive_connect(const char *path, gl_err *err);

/* Closes the socket and frees everything, queued events included. NULL is fine. */
void glive_close(glive_client *c);

/* glive_close for a client giving up on its prompts: gliveD learns at once that the client is
 * gone (not merely done writing), so its prompts not sent yet are dropped, never sent later, and
 * its pending function calls are answered with an error. NULL is fine. */
void glive_abandon(glive_client *c);

/* The socket, for callers that poll() several things: POLLIN means glive_next_event(c, 0, ...)
 * has something to read. Events already queued do not show on the fd: check glive_queued() too.
 * Do not read from or write to it directly. */
int glive_fd(const glive_client *c);

/* Events queued and not yet returned by glive_next_event, plus one when glive_next_view left a
 * complete line read but not yet handed out (it takes the lines one at a time). */
size_t glive_queued(const glive_client *c);

/* The path this client connected to. */
const char *glive_path(const glive_client *c);

/* Sends one request and waits for its reply. `req` (an object with "op") is STOLEN, even on
 * failure; the library sets its "id" (overwriting any). timeout_ms < 0 waits forever; it bounds
 * the whole call (sending included). Events arriving meanwhile are queued. Returns the reply (new
 * reference) whether "ok" is true or false: check it, e.g. with glive_reply_error. A reply with
 * "id":null and "ok":false is taken as the answer to the pending request (the daemon could not
 * read its id, e.g. line_too_long); replies to other ids (e.g. to an earlier request that timed
 * out) are dropped. NULL on error (timeout, eof, io, overflow...). */
json_t *glive_request(glive_client *c, json_t *req, int timeout_ms, gl_err *err);

/* For a reply: 0 if "ok" is true; else -1 with err = the reply's error code and message (a reply
 * with no usable error gets code "protocol"). */
int glive_reply_error(const json_t *reply, gl_err *err);

/* The next event (new reference): a queued one first, else the next one from the socket. Waits up
 * to timeout_ms (0 = only what is already there, < 0 forever). NULL with err "timeout" when none
 * came, "eof" when the daemon closed the connection (after every queued event was returned),
 * "eintr" when a signal interrupted the wait, or another error. Replies arriving here (to
 * requests that timed out) are dropped. */
json_t *glive_next_event(glive_client *c, int timeout_ms, gl_err *err);

/* The next event as glive_next_event gives it, except that the two that stream (text and audio)
 * come without a JSON tree when their line is exactly what gliveD writes: that costs a fraction
 * of parsing them (text and audio are nearly all of a streamed answer). */
typedef enum {
    GLIVE_VIEW_JSON,  /* json: the event, a new reference (json_decref it) */
    GLIVE_VIEW_TEXT,  /* a "text" event: text */
    GLIVE_VIEW_AUDIO, /* an "audio" event: mime, pcm */
} glive_view_kind;

typedef struct glive_view {
    glive_view_kind kind;
    json_t *json;            /* GLIVE_VIEW_JSON only */
    /* TEXT and AUDIO: BORROWED, valid until the next call on the client */
    const char *session;     /* NULL when the event has none */
    bool has_turn;
    long long turn;
    const char *text;        /* TEXT: NUL-terminated (never holds a NUL) */
    size_t text_len;
    const char *mime;        /* AUDIO: NULL when absent */
    const unsigned char *pcm; /* AUDIO: "data", base64-decoded (gl_b64_decode's rules) */
    size_t pcm_len;
} glive_view;

/* Fills *v with the next event: 0, or -1 with err exactly as glive_next_event's NULL. A text
 * or audio line with anything unusual (another field, invalid base64...) comes as
 * GLIVE_VIEW_JSON, so a caller can always fall back to its JSON handling. */
int glive_next_view(glive_client *c, int timeout_ms, glive_view *v, gl_err *err);

#endif
