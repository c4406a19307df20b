/* The local line protocol codec (see proto/PROTOCOL.md): UTF-8, one JSON object per line, both
 * directions. Pure code: no sockets, no event loop.
 *
 *  - gl_line_reader: splits a byte stream into lines with a hard memory bound.
 *  - gl_req_*: parses one request line and fetches typed fields with uniform error messages.
 *  - gl_reply_ok / gl_reply_err / gl_event: build the daemon's output lines.
 *
 * Every fallible function follows common/err.h: returns -1 and fills a gl_err (code + message).
 * Error codes produced here: "line_too_long", "bad_json", "bad_request". */
#ifndef GL_PROTO_LINE_H
#define GL_PROTO_LINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* ---- Line reader ------------------------------------------------------------------------- */

#define GL_LINE_MAX_DEFAULT ((size_t)1 << 20) /* 1 MiB */

/* Splits a byte stream into lines. Usage, e.g. in a libuv read callback:
 *
 *     gl_line_feed(&r, buf, nread);
 *     const char *line; size_t len; int rc;
 *     while ((rc = gl_line_next(&r, &line, &len, &err)) != 0) {
 *         if (rc < 0) reply_error(NULL id, &err);   // "line_too_long"; keep going
 *         else        handle(line, len);
 *     }
 *
 * - A line ends at '\n'; a '\r' right before it is dropped. The newline is not part of the line.
 * - Blank lines (empty, or only spaces/tabs/'\r') are skipped silently.
 * - A line longer than `max` bytes (not counting the line end) yields ONE error, code
 *   "line_too_long", as soon as the limit is passed (the reader does not wait for the newline);
 *   then every byte up to and including the next '\n' is dropped and reading carries on.
 * - Memory: the reader copies at most max+2 bytes (the current line, a '\r', a NUL); it never holds
 *   more, whatever the peer sends and however large one feed is.
 * The struct is public for embedding; treat its fields as private. */
typedef struct gl_line_reader {
    size_t max;        /* longest accepted line, bytes */
    char *line;        /* current (partial) line; owned; capacity never exceeds max + 2 */
    size_t len, cap;
    const char *in;    /* fed bytes not yet scanned: borrowed from the caller (see gl_line_feed) */
    size_t in_len;
    bool discarding;   /* dropping the rest of an over-long line */
    bool returned;     /* `line` holds the line returned by the last gl_line_next */
} gl_line_reader;

/* max = 0 means GL_LINE_MAX_DEFAULT. Allocates nothing until the first byte arrives. */
void gl_line_reader_init(gl_line_reader *r, size_t max);
void gl_line_reader_free(gl_line_reader *r);

/* Hands the reader a chunk of the stream. The reader does not copy `data` up front: it BORROWS
 * it until gl_line_next returns 0 ("need more"), so call gl_line_next until it returns 0 before
 * freeing/reusing `data` or feeding again (feeding again earlier drops the unread rest: a bug). */
void gl_line_feed(gl_line_reader *r, const void *data, size_t len);

/* Next complete line of the fed bytes.
 *   1: *line (NUL-terminated, no line end) and *len are set; the bytes belong to the reader and
 *      stay valid until the next call on the reader.
 *   0: everything fed so far is consumed; feed more.
 *  -1: a line passed the limit: err = "line_too_long". Call again to continue. */
int gl_line_next(gl_line_reader *r, const char **line, size_t *len, gl_err *err);

/* End of stream: returns 1 with the last line if the peer sent one without a final '\n' (and it is
 * not blank and was not over the limit), else 0. Call after gl_line_next returned 0. */
int gl_line_eof(gl_line_reader *r, const char **line, size_t *len);

/* Bytes held for the current partial line (for stats and tests). */
static inline size_t gl_line_pending(const gl_line_reader *r) { return r->returned ? 0 : r->len; }

/* ---- Requests ---------------------------------------------------------------------------- */

typedef struct gl_req {
    json_t *root;   /* OWNED: the whole request object (freed by gl_req_free) */
    const char *op; /* borrowed from root; NULL if parsing failed before it was found */
    json_t *id;     /* borrowed from root: the client's "id" (any JSON scalar, incl. null);
                       NULL when absent or not a scalar */
} gl_req;

/* Parses one request line (len bytes, need not be NUL-terminated).
 * On failure *out is still usable: if the line was a JSON object, out->root is kept and out->id
 * is set when the id was a scalar, so the error reply can echo the id. ALWAYS call gl_req_free
 * (it is safe on a zeroed or failed gl_req).
 * Errors:
 *   bad_json     "invalid JSON at column 8: string or '}' expected near '}'" (jansson's text;
 *                duplicate keys are rejected too)
 *   bad_request  "request must be a JSON object" | "missing field \"op\"" |
 *                "field \"op\" must be a string" | "field \"op\" must not be empty" |
 *                "field \"id\" must be a string, number, boolean or null" */
int gl_req_parse(const char *line, size_t len, gl_req *out, gl_err *err);
void gl_req_free(gl_req *req);

/* Typed field access, all with code "bad_request" and uniform messages:
 *   missing field "session"              (required, and absent or null)
 *   field "session" must be a string     (must be an integer / a boolean / an object / an array)
 * A JSON null counts as absent. When the field is absent and not required, they return 0 and
 * leave *out UNCHANGED, so callers preset defaults. Borrowed results live as long as req->root. */
int gl_req_str(const gl_req *req, const char *key, bool required, const char **out, gl_err *err);
int gl_req_int(const gl_req *req, const char *key, bool required, long long *out, gl_err *err);
int gl_req_bool(const gl_req *req, const char *key, bool required, bool *out, gl_err *err);
int gl_req_obj(const gl_req *req, const char *key, bool required, json_t **out, gl_err *err);
int gl_req_arr(const gl_req *req, const char *key, bool required, json_t **out, gl_err *err);

#define GL_SESSION_NAME_MAX 64

/* Session names: 1-64 bytes of [A-Za-z0-9._-], not starting with '.'. Returns true if `name` is
 * valid; otherwise fills err ("bad_request") and returns false. Messages:
 *   session name must not be empty
 *   session name is longer than 64 characters
 *   session name must not start with '.'
 *   invalid character ' ' at position 3 in session name (allowed: A-Z a-z 0-9 . _ -)
 *   invalid byte 0x0a at position 3 in session name (allowed: A-Z a-z 0-9 . _ -) */
bool gl_session_name_ok(const char *name, gl_err *err);

/* gl_req_str(req, "session", required=true) + gl_session_name_ok, returning 0 / -1. */
int gl_req_session(const gl_req *req, const char **out, gl_err *err);

/* ---- Output lines ------------------------------------------------------------------------ */
/* All builders return a malloc'd, NUL-terminated line of compact JSON ending in exactly one '\n'
 * (the only newline in it: strings are escaped), which the caller frees with free(). They never
 * return NULL (out of memory aborts: common/xalloc.h).
 * `id` is BORROWED (the request's id; NULL is written as "id":null, so every reply has the same
 * leading keys). `fields` is STOLEN (its reference is always consumed) and may be NULL;
 * it must be an object: its keys follow the fixed leading keys in insertion order, except keys
 * that would clash with them ("id", "ok", "error" in replies; "event", "session" in events),
 * which are dropped. Strings that are not valid UTF-8 (e.g. a message cut mid-character) are
 * repaired ('?' per bad byte) rather than failing. */

/* {"id":ID,"ok":true,...fields}\n */
char *gl_reply_ok(json_t *id, json_t *fields);
/* {"id":ID,"ok":false,"error":{"code":CODE,"message":MSG}}\n */
char *gl_reply_err(json_t *id, const char *code, const char *message);
/* gl_reply_err with a gl_err's code and message. */
char *gl_reply_errf(json_t *id, const gl_err *err);
/* {"event":NAME,"session":S,...fields}\n ; session may be NULL (then omitted) */
char *gl_event(const char *name, const char *session, json_t *fields);

/* A JSON string for arbitrary C text: json_string() if s is valid UTF-8, else a copy with each
 * invalid byte replaced by '?'. New reference; NULL only if s is NULL. */
json_t *gl_json_text(const char *s);
/* Same for len bytes (may contain NUL bytes, kept as \u0000). */
json_t *gl_json_textn(const char *s, size_t len);

#endif
