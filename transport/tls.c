#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "common/xalloc.h"
#include "transport/url.h"

struct gl_tls {
    SSL *ssl;
    BIO *rbio; /* network -> OpenSSL */
    BIO *wbio; /* OpenSSL -> network */
    bool ready;
};

/* Fills err from OpenSSL's error queue (and the verify result, which explains most failures). */
static int tls_fail(gl_tls *t, gl_err *err, const char *what)
{
    long vr = t ? SSL_get_verify_result(t->ssl) : X509_V_OK;
    unsigned long e = ERR_peek_last_error();
    char buf[200] = "unknown error";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    if (vr != X509_V_OK)
        return gl_fail(err, "tls_verify", "TLS certificate rejected: %s",
                       X509_verify_cert_error_string(vr));
    return gl_fail(err, "tls", "TLS %s failed: %s", what, buf);
}

SSL_CTX *gl_tls_client_ctx(const char *ca_file, gl_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_fail(NULL, err, "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ERR_clear_error();
        gl_fail(err, "tls", "cannot load CA certificates%s%s", ca_file ? " from " : "",
                ca_file ? ca_file : "");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *gl_tls_server_ctx(const char *cert_file, const char *key_file, gl_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_fail(NULL, err, "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        ERR_clear_error();
        gl_fail(err, "tls", "cannot load certificate %s / key %s", cert_file, key_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static gl_tls *tls_new(SSL_CTX *ctx, gl_err *err)
{
    gl_tls *t = gl_xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        gl_fail(err, "internal", "out of memory (TLS)");
        return NULL;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio); /* the SSL owns both BIOs now */
    return t;
}

gl_tls *gl_tls_client(SSL_CTX *ctx, const char *host, bool verify, gl_err *err)
{
    gl_tls *t = tls_new(ctx, err);
    if (!t)
        return NULL;
    SSL_set_connect_state(t->ssl);
    bool ip = gl_host_is_ip(host);
    if (!ip)
        SSL_set_tlsext_host_name(t->ssl, host);
    if (!verify) {
        SSL_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
    } else {
        X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                    : X509_VERIFY_PARAM_set1_host(param, host, 0);
        if (ok != 1) {
            gl_tls_free(t);
            gl_fail(err, "tls", "cannot set expected TLS host name %s", host);
            return NULL;
        }
    }
    return t;
}

gl_tls *gl_tls_server(SSL_CTX *ctx, gl_err *err)
{
    gl_tls *t = tls_new(ctx, err);
    if (t)
        SSL_set_accept_state(t->ssl);
    return t;
}

void gl_tls_free(gl_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl);
    free(t);
}

bool gl_tls_ready(const gl_tls *t) { return t->ready; }

/* Moves whatever OpenSSL wants to send into out. */
static int drain_wbio(gl_tls *t, gl_buf *out, gl_err *err)
{
    char tmp[16384];
    int n;
    while ((n = BIO_read(t->wbio, tmp, sizeof tmp)) > 0)
        if (gl_buf_append(out, tmp, (size_t)n) != 0)
            return gl_fail(err, "overflow", "TLS output buffer full");
    return 0;
}

int gl_tls_handshake(gl_tls *t, gl_buf *out, gl_err *err)
{
    if (!t->ready) {
        int r = SSL_do_handshake(t->ssl);
        if (r == 1) {
            t->ready = true;
        } else {
            int e = SSL_get_error(t->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                drain_wbio(t, out, NULL); /* let the peer see our alert */
                return tls_fail(t, err, "handshake");
            }
        }
    }
    return drain_wbio(t, out, err);
}

int gl_tls_feed(gl_tls *t, const void *data, size_t len, gl_buf *plain, gl_buf *out, bool *eof,
                gl_err *err)
{
    *eof = false;
    if (len && BIO_write(t->rbio, data, (int)len) != (int)len)
        return gl_fail(err, "tls", "TLS input buffer write failed");
    if (!t->ready && gl_tls_handshake(t, out, err) != 0)
        return -1;
    if (!t->ready)
        return 0;
    char tmp[16384];
    for (;;) {
        int n = SSL_read(t->ssl, tmp, sizeof tmp);
        if (n > 0) {
            if (gl_buf_append(plain, tmp, (size_t)n) != 0)
                return gl_fail(err, "overflow", "TLS plaintext buffer full");
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            *eof = true;
            break;
        }
        return tls_fail(t, err, "read");
    }
    return drain_wbio(t, out, err); /* post-handshake messages, key updates */
}

int gl_tls_write(gl_tls *t, const void *data, size_t len, gl_buf *out, gl_err *err)
{
    if (!t->ready)
        return gl_fail(err, "tls", "TLS write before handshake completed");
    const char *p = data;
    while (len) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int n = SSL_write(t->ssl, p, chunk);
        if (n <= 0)
            return tls_fail(t, err, "write");
        p += n;
        len -= (size_t)n;
        if (drain_wbio(t, out, err) != 0)
            return -1;
    }
    return 0;
}

void gl_tls_shutdown(gl_tls *t, gl_buf *out)
{
    if (t->ready) {
        SSL_shutdown(t->ssl);
        drain_wbio(t, out, NULL);
    }
    ERR_clear_error();
}
