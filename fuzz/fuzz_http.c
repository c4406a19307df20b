/* libFuzzer target: the HTTP side of the websocket handshake (transport/http.c, transport/url.c).
 * Byte 0 picks what the rest is:
 *   0: an upgrade request as a client sends it to the emulator's server (gl_http_parse_head,
 *      then the lookups ws.c's server does: Upgrade, Connection, Sec-WebSocket-Key/-Version);
 *   1: an upgrade response as the Live API endpoint sends it to gliveD's client
 *      (gl_http_parse_head + gl_http_check_upgrade_response against a fixed key);
 *   2: a URL as --endpoint gives it (gl_url_parse), then gl_http_write_upgrade with the rest as
 *      extra header lines and the written request parsed back.
 * Contracts checked (abort = reported as a crash): a parsed head's length is at most the input
 * and ends at the first blank line; every header has a NUL-terminated name and value inside the
 * arena; the request we write parses back with our path and key. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xalloc.h"
#include "transport/http.h"
#include "transport/url.h"
#include "fuzz/fuzz.h"

/* RFC 6455's example key; seeds answer it with its accept value, s3pPLMBiTxaQ9kYGzzhZRbK+xOo=. */
static const char KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gl_xalloc_init();
    return 0;
}

static void check_head(const gl_http_head *h, const char *data, size_t len, long n)
{
    CHECK(n > 0 && (size_t)n <= len && (size_t)n <= GL_HTTP_MAX_HEAD);
    CHECK(!memcmp(data + n - 4, "\r\n\r\n", 4));
    const char *first = memmem(data, len, "\r\n\r\n", 4);
    CHECK(first == data + n - 4);
    CHECK(h->nheaders <= GL_HTTP_MAX_HEADERS && h->used <= sizeof h->arena);
    for (size_t i = 0; i < h->nheaders; i++) {
        const char *nm = h->h[i].name, *v = h->h[i].value;
        CHECK(nm >= h->arena && nm < h->arena + h->used);
        CHECK(v >= h->arena && v < h->arena + h->used);
        CHECK(nm + strlen(nm) < h->arena + h->used && v + strlen(v) < h->arena + h->used);
    }
    CHECK(memchr(h->method, '\0', sizeof h->method) && memchr(h->path, '\0', sizeof h->path) &&
          memchr(h->query, '\0', sizeof h->query));
}

static void lookups(const gl_http_head *h)
{
    static const char *const names[] = {"Upgrade", "Connection", "Sec-WebSocket-Key",
                                        "Sec-WebSocket-Version", "Sec-WebSocket-Accept",
                                        "x-goog-api-key", "Host", ""};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *v = gl_http_header(h, names[i]);
        if (v)
            CHECK(strlen(v) < GL_HTTP_MAX_HEAD);
        (void)gl_http_header_has_token(h, names[i], "websocket");
        (void)gl_http_header_has_token(h, names[i], "upgrade");
        (void)gl_http_header_has_token(h, names[i], "");
    }
}

static bool visible(const char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e)
            return false;
    return true;
}

/* The client's own request for a fuzzed URL and extra headers, read back as the server would. */
static void write_and_reparse(const char *data, size_t size)
{
    /* The URL is the first line; the other lines are extra headers (NUL-free, like argv/env). */
    char *copy = gl_xstrndup(data, size);
    char *lines[9];
    size_t n = 0;
    for (char *p = copy; p && n < 9;) {
        lines[n++] = p;
        p = strchr(p, '\n');
        if (p)
            *p++ = '\0';
    }
    gl_url u;
    gl_err err;
    if (gl_url_parse(lines[0], &u, &err) == 0) {
        CHECK(u.port >= 1 && u.port <= 65535 && u.host[0] && u.target[0] == '/');
        const char *headers[9];
        for (size_t i = 1; i < n; i++)
            headers[i - 1] = lines[i];
        headers[n - 1] = NULL;
        gl_buf out;
        gl_buf_init(&out, 0);
        if (gl_http_write_upgrade(&out, &u, KEY, headers, &err) == 0) {
            gl_http_head *h = gl_xmalloc(sizeof *h);
            long r = gl_http_parse_head(gl_buf_head(&out), out.len, 1, h, &err);
            /* The URL and the extra lines are the operator's and the daemon's to get right
             * (--endpoint, daemon/upstream.c's fixed headers), so odd bytes there may break the
             * head; a visible-ASCII URL and no extra line must parse back as what we meant. */
            if (n == 1 && visible(lines[0])) {
                CHECK(r == (long)out.len);
                CHECK(!strcmp(h->method, "GET"));
                CHECK(gl_http_header(h, "Sec-WebSocket-Key") &&
                      !strcmp(gl_http_header(h, "Sec-WebSocket-Key"), KEY));
            }
            if (r > 0)
                lookups(h);
            free(h);
        }
        gl_buf_free(&out);
    }
    (void)gl_host_is_ip(lines[0]);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] % 3;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (mode == 2) {
        write_and_reparse(s, n);
        return 0;
    }
    gl_http_head *h = gl_xmalloc(sizeof *h);
    gl_err err;
    long r = gl_http_parse_head(s, n, mode == 0, h, &err);
    if (r > 0) {
        check_head(h, s, n, r);
        lookups(h);
        if (mode == 1)
            (void)gl_http_check_upgrade_response(h, KEY, &err);
    } else if (r == 0) {
        CHECK(!memmem(s, n, "\r\n\r\n", 4) && n <= GL_HTTP_MAX_HEAD);
    }
    free(h);
    return 0;
}
