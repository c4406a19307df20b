/* libFuzzer target: the local line protocol's input path (proto/line.c), what a local client
 * controls byte for byte: gl_line_reader over a stream, gl_req_parse on each line, the gl_req_*
 * accessors, and the reply/event builders that echo the client's id and fields back.
 *
 * Input: byte 0 picks the line limit, byte 1 the feed size, the rest is the stream.
 * Besides ASan/UBSan it checks the reader's documented contract (proto/line.h) and aborts on a
 * breach, so libFuzzer reports it like a crash:
 *  - the same stream fed whole and fed in chunks gives the same lines and errors;
 *  - a line never holds '\n', never ends in '\r', is never blank, never exceeds the limit;
 *  - the reader never holds more than max + 2 bytes;
 *  - every built line is a JSON object ending in exactly one '\n'. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "proto/line.h"
#include "fuzz/fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init(); /* as in every program: jansson allocates through gl_xmalloc */
    return 0;
}

/* A built line: one '\n', at the end, after a JSON object (jansson wrote it; parsing it back is
 * kept for the short lines, the echo of a whole request is only checked for its shape). */
static void check_built(char *s, bool parse)
{
    CHECK(s);
    size_t n = strlen(s);
    CHECK(n >= 3 && s[0] == '{' && s[n - 2] == '}' && s[n - 1] == '\n' &&
          memchr(s, '\n', n - 1) == NULL);
    if (parse) {
        json_error_t je;
        json_t *j = json_loadb(s, n - 1, 0, &je);
        CHECK(j && json_is_object(j));
        json_decref(j);
    }
    free(s);
}

/* Everything the daemon does with one request line before dispatching it. */
static void handle_line(const char *line, size_t len)
{
    gl_req req;
    gl_err err;
    if (gl_req_parse(line, len, &req, &err) < 0) {
        CHECK(req.op == NULL);
        check_built(gl_reply_errf(req.id, &err), true);
        gl_req_free(&req);
        return;
    }
    CHECK(req.root && req.op && *req.op);
    /* Every accessor on a few keys, required or not; the last failure is answered, like the
     * daemon answers the first (one reply per request). */
    static const char *const keys[] = {"session", "text", "id", "x"};
    gl_err last;
    bool failed = false;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *s = NULL;
        long long n = 0;
        bool b = false;
        json_t *j = NULL;
        bool required = i & 1;
        failed |= gl_req_str(&req, keys[i], required, &s, &last) < 0;
        failed |= gl_req_int(&req, keys[i], required, &n, &last) < 0;
        failed |= gl_req_bool(&req, keys[i], required, &b, &last) < 0;
        failed |= gl_req_obj(&req, keys[i], required, &j, &last) < 0;
        failed |= gl_req_arr(&req, keys[i], required, &j, &last) < 0;
    }
    if (failed)
        check_built(gl_reply_errf(req.id, &last), true);
    const char *session = NULL;
    if (gl_req_session(&req, &session, &err) < 0)
        check_built(gl_reply_err(req.id, err.code, err.msg), true);
    else
        CHECK(session && strlen(session) <= GL_SESSION_NAME_MAX);
    /* Echo the whole request back as fields (reserved keys must be dropped, not duplicated),
     * and an event named by the client's op. */
    check_built(gl_reply_ok(req.id, json_incref(req.root)), false);
    check_built(gl_event(req.op, session, NULL), true);
    gl_req_free(&req);
}

/* Runs the reader over the stream in feeds of `chunk` bytes; appends to `log` one record per
 * result ("L" + length + bytes, or "E"), which must not depend on the feed size. */
static void run_reader(const char *s, size_t n, size_t max, size_t chunk, gl_buf *log, bool handle)
{
    gl_line_reader r;
    gl_line_reader_init(&r, max);
    for (size_t off = 0;; off += chunk) {
        size_t k = n - off < chunk ? n - off : chunk;
        if (k)
            gl_line_feed(&r, s + off, k);
        const char *line;
        size_t len;
        gl_err err;
        int rc;
        while ((rc = gl_line_next(&r, &line, &len, &err)) != 0) {
            CHECK(r.cap <= r.max + 2);
            if (rc < 0) {
                CHECK(!strcmp(err.code, "line_too_long"));
                gl_buf_append(log, "E", 1);
                continue;
            }
            CHECK(len <= r.max && line[len] == '\0' && !memchr(line, '\n', len));
            CHECK(len > 0 && strspn(line, " \t\r") < len); /* one final \r is dropped, not all */
            gl_buf_append(log, "L", 1);
            gl_buf_append(log, &len, sizeof len);
            gl_buf_append(log, line, len);
            if (handle)
                handle_line(line, len);
        }
        CHECK(r.cap <= r.max + 2);
        if (off + k >= n)
            break;
    }
    const char *line;
    size_t len;
    if (gl_line_eof(&r, &line, &len) == 1) {
        CHECK(len <= r.max && len > 0 && line[len] == '\0' && !memchr(line, '\n', len));
        gl_buf_append(log, "F", 1);
        gl_buf_append(log, &len, sizeof len);
        gl_buf_append(log, line, len);
        if (handle)
            handle_line(line, len);
    }
    gl_line_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    /* Small limits reach the over-long paths; 0 is the 1 MiB default. */
    size_t max = data[0] < 0xc0 ? data[0] : 0;
    size_t chunk = (size_t)data[1] % 64 + 1;
    const char *s = (const char *)data + 2;
    size_t n = size - 2;

    gl_buf whole, chunked;
    gl_buf_init(&whole, 0);
    gl_buf_init(&chunked, 0);
    run_reader(s, n, max, n ? n : 1, &whole, false);
    run_reader(s, n, max, chunk, &chunked, true);
    CHECK(whole.len == chunked.len &&
          (whole.len == 0 || !memcmp(gl_buf_head(&whole), gl_buf_head(&chunked), whole.len)));
    gl_buf_free(&whole);
    gl_buf_free(&chunked);

    /* The UTF-8 repair every reply applies to client text. */
    json_t *t = gl_json_textn(s, n);
    CHECK(t && json_string_length(t) == n);
    json_decref(t);
    return 0;
}
