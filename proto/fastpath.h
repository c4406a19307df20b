/* The fast path for the hot messages: a small purpose-written JSON scanner that recognizes the
 * few shapes that make up nearly all of a streamed answer, and hands their strings on still
 * escaped, so that they can be copied straight into an event line: no tree, no unescape and
 * re-escape, no allocation.
 *
 *  - Server messages (live_fast_parse): {"serverContent":{...}} holding only modelTurn (text or
 *    inlineData parts), inputTranscription, interimInputTranscription and outputTranscription,
 *    camelCase or snake_case, any whitespace. Anything else, or anything it does not fully
 *    recognize (an unknown or repeated key, a value of another type, a key with escapes, too
 *    many parts, invalid JSON...), is refused: the caller then uses live_parse_server, which
 *    stays the reference. When it accepts, the events are exactly those live_parse_server gives
 *    (same kinds, flags, order and string bytes): tests/unit/test_fastpath.c compares the two on
 *    every shape the codec tests know, on generated ones and on random mutations.
 *  - Event lines (gl_fast_flat): a flat object of strings, integers and booleans, as gliveD
 *    writes its text and audio events; client/lib uses it to read those without a tree.
 *
 * Strings (gl_jstr) are checked while scanned as Jansson's reader checks them (UTF-8, escapes,
 * surrogate pairs; \u0000 is flagged), so an accepted message is one Jansson would accept.
 * gl_jstr_put then writes a string exactly as json_dumps (compact) writes it, which is a plain
 * copy unless the sender escaped differently than Jansson does (\/, \u00e9...). */
#ifndef GL_PROTO_FASTPATH_H
#define GL_PROTO_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/live.h"

/* A JSON string as it stands in the scanned text: the bytes between its quotes, still escaped. */
typedef struct gl_jstr {
    const char *p; /* BORROWED from the scanned text */
    size_t len;
    unsigned flags; /* GL_JSTR_* */
} gl_jstr;

#define GL_JSTR_ESC 1u     /* holds escapes: the bytes are not the string's own */
#define GL_JSTR_REWRITE 2u /* json_dumps would write it differently from how it stands */
#define GL_JSTR_NUL 4u     /* holds \u0000 */
#define GL_JSTR_RAW 8u     /* not checked (gl_fast_flat's raw_key): the caller checks the bytes */

/* Writes the string's JSON form as json_dumps(JSON_COMPACT) writes it, without the quotes: at
 * most s->len bytes (an escape never gets longer). Returns the bytes written. */
size_t gl_jstr_put(const gl_jstr *s, char *out);

/* Writes the string's own bytes (escapes decoded; no NUL added), at most s->len, and stops once
 * `max` or more are written: out must hold min(s->len, max + 3) bytes (the last character may be
 * up to 4 bytes). Returns the bytes written. */
size_t gl_jstr_decode(const gl_jstr *s, char *out, size_t max);

/* Scans the JSON string whose opening quote is at p (p < end): the byte after its closing quote,
 * with *out set (flags as above), or NULL if it is not a string Jansson would read. */
const char *gl_jstr_scan(const char *p, const char *end, gl_jstr *out);

/* ---- server messages ---- */

#define LIVE_FAST_MAX 32 /* events of one message; more parts than that: refused */

/* One event of a recognized message: the fields of live_event it can have. */
typedef struct live_fast_event {
    live_event_kind kind; /* LIVE_EV_TEXT, _AUDIO, _INPUT_TRANSCRIPTION, _OUTPUT_TRANSCRIPTION */
    gl_jstr str;          /* TEXT and transcriptions: the text ("" when absent); AUDIO: data */
    gl_jstr mime;         /* AUDIO: mimeType ("" when absent; never holds \u0000) */
    bool thought;         /* TEXT */
    bool finished;        /* transcriptions */
    bool interim;         /* INPUT_TRANSCRIPTION from interimInputTranscription */
} live_fast_event;

/* Scans one server message. Returns true, with its events in out[0..*n) (in live_parse_server's
 * order; strings BORROWED from data), if it is one of the shapes above; false if not (out and *n
 * are then meaningless; use live_parse_server). */
bool live_fast_parse(const char *data, size_t len, live_fast_event out[LIVE_FAST_MAX], size_t *n);

/* ---- flat objects (event lines) ---- */

typedef enum { GL_FAST_STR, GL_FAST_INT, GL_FAST_BOOL } gl_fast_type;

typedef struct gl_fast_field {
    const char *key; /* BORROWED, not NUL-terminated; keys with escapes are refused */
    size_t key_len;
    gl_fast_type type;
    gl_jstr str;     /* GL_FAST_STR */
    long long num;   /* GL_FAST_INT (at most 18 digits, else refused) */
    bool b;          /* GL_FAST_BOOL */
} gl_fast_field;

/* Scans a JSON object whose values are all strings, integers or booleans, with no key twice and
 * at most max fields. Returns the number of fields, or -1 if the text is anything else
 * (including invalid JSON): the caller then parses it with Jansson.
 *
 * raw_key (NULL: none): that key's string value is not checked, only found (up to the next
 * '"'), and flagged GL_JSTR_RAW: the caller must check every byte itself and treat the line
 * as unknown (Jansson's) unless they are all of a set that needs no escaping and holds no quote
 * or backslash (base64's alphabet: its decoder's own check is that check, so the string is
 * read once, not twice). */
int gl_fast_flat(const char *data, size_t len, gl_fast_field *f, size_t max, const char *raw_key);

#endif
