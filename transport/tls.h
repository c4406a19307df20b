/* TLS as a pure byte engine: OpenSSL over memory BIOs, no sockets. The websocket layer feeds it
 * ciphertext read by libuv and writes out what it produces, so nothing ever blocks.
 * Certificate and hostname verification are ON for clients unless explicitly disabled (tests). */
#ifndef GL_TLS_H
#define GL_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct gl_tls gl_tls;

/* Client context: trusts ca_file if given, else the system CA store. */
SSL_CTX *gl_tls_client_ctx(const char *ca_file, gl_err *err);
/* The same, but the CA certificates are read by the first gl_tls_client that verifies (parsing
 * the system bundle takes tens of milliseconds: a daemon listens first). ca_file must be
 * readable now (else the same error as gl_tls_client_ctx's); if loading fails later, that
 * gl_tls_client fails with it (and the next one tries again). Peer verification is on from the
 * start either way: nothing is trusted before the CAs are loaded. */
SSL_CTX *gl_tls_client_ctx_lazy(const char *ca_file, gl_err *err);
/* Server context from PEM files. */
SSL_CTX *gl_tls_server_ctx(const char *cert_file, const char *key_file, gl_err *err);

/* host: sent as SNI (not for IP literals) and checked against the certificate (IP SANs for IP
 * literals). verify=false skips every check: for tests of the failure path only. */
gl_tls *gl_tls_client(SSL_CTX *ctx, const char *host, bool verify, gl_err *err);
gl_tls *gl_tls_server(SSL_CTX *ctx, gl_err *err);
void gl_tls_free(gl_tls *t);

/* Starts (client) or continues the handshake; ciphertext to send is appended to out. */
int gl_tls_handshake(gl_tls *t, gl_buf *out, gl_err *err);
/* Ciphertext from the peer: decrypted bytes are appended to plain, bytes to send to out.
 * Sets *eof when the peer sent close_notify. */
int gl_tls_feed(gl_tls *t, const void *data, size_t len, gl_buf *plain, gl_buf *out, bool *eof,
                gl_err *err);
/* Encrypts plaintext (only once gl_tls_ready) into out. */
int gl_tls_write(gl_tls *t, const void *data, size_t len, gl_buf *out, gl_err *err);
bool gl_tls_ready(const gl_tls *t);
/* Whether OpenSSL keeps its record buffers (~33 KiB) between records. Off (the default), it
 * frees them whenever they are empty, so an idle connection holds none, at ~35 ns a record;
 * on, for a connection that streams. Turning it off frees them at once (if empty). */
void gl_tls_keep_buffers(gl_tls *t, bool keep);
/* Appends a close_notify alert to out. */
void gl_tls_shutdown(gl_tls *t, gl_buf *out);

#endif
