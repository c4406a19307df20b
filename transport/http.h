/* The HTTP/1.1 part of websockets: the upgrade request and response (RFC 6455 section 4),
 * parsed with Debian's http-parser. Header blocks are bounded (GL_HTTP_MAX_HEAD). */
#ifndef GL_HTTP_H
#define GL_HTTP_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"
#include "transport/url.h"

#define GL_HTTP_MAX_HEAD 16384
#define GL_HTTP_MAX_HEADERS 64

typedef struct gl_http_head {
    int status;           /* responses */
    char method[16];      /* requests */
    char path[4096];      /* requests: the target without the query */
    char query[4096];     /* requests: after '?', "" if none */
    size_t nheaders;
    struct { char *name, *value; } h[GL_HTTP_MAX_HEADERS];
    char arena[GL_HTTP_MAX_HEAD]; /* names and values live here */
    size_t used;
} gl_http_head;

/* Looks for a complete header block at the start of data. Returns its length (bytes to consume,
 * the rest belongs to the websocket) and parses it into *out; 0 if more bytes are needed;
 * -1 on a malformed or oversized head (err says which). */
long gl_http_parse_head(const char *data, size_t len, int is_request, gl_http_head *out,
                        gl_err *err);
/* Case-insensitive header lookup; NULL if absent. */
const char *gl_http_header(const gl_http_head *h, const char *name);
/* True if the comma-separated header value contains token (case-insensitive). */
int gl_http_header_has_token(const gl_http_head *h, const char *name, const char *token);

/* A fresh Sec-WebSocket-Key (24 chars + NUL) from OpenSSL's RNG. */
int gl_ws_key_new(char key[25], gl_err *err);
/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + RFC 6455 GUID)), 28 chars + NUL. */
void gl_ws_accept_for(const char *key, char out[29]);

/* Writes the client's upgrade request. headers: extra "Name: value" lines, NULL-terminated. */
int gl_http_write_upgrade(gl_buf *out, const gl_url *u, const char *key,
                          const char *const *headers, gl_err *err);
/* Checks a server's upgrade response against the key we sent. */
int gl_http_check_upgrade_response(const gl_http_head *h, const char *key, gl_err *err);

#endif
