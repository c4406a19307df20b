#include "transport/tls.h"

#include <limits.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "transport/url.h"

/* OpenSSL reads and writes through one BIO of ours rather than two memory BIOs: it reads the
 * ciphertext straight from the caller's buffer (gl_tls_feed's data, borrowed for the call) and
 * writes straight into the caller's output buffer. That saves two copies of every byte, and the
 * memory BIOs' buffers, which kept the size of the largest read (~22 KiB per idle connection).
 * With SSL_MODE_RELEASE_BUFFERS OpenSSL also frees its record buffers (~33 KiB) whenever they
 * are empty, so an idle connection holds neither. */
struct gl_tls {
    SSL *ssl;
    bool ready;
    const unsigned char *in; /* ciphertext not yet read by OpenSSL, during a call only */
    size_t in_len;
    gl_buf *out;             /* where OpenSSL's output goes, during a call only */
};

static int bio_read(BIO *b, char *buf, int len)
{
    gl_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (!t->in_len) {
        BIO_set_retry_read(b); /* SSL_ERROR_WANT_READ: wait for the next gl_tls_feed */
        return -1;
    }
    size_t n = len < 0 ? 0 : (size_t)len < t->in_len ? (size_t)len : t->in_len;
    memcpy(buf, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    gl_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len < 0 || !t->out || gl_buf_append(t->out, buf, (size_t)len) != 0)
        return -1; /* past the output buffer's limit: the call fails */
    return len;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* written at once: flushing is a no-op */
}

static BIO_METHOD *bio_method;
static void make_bio_method(void)
{
    bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "glive-tls");
    if (bio_method && (BIO_meth_set_read(bio_method, bio_read) != 1 ||
                       BIO_meth_set_write(bio_method, bio_write) != 1 ||
                       BIO_meth_set_ctrl(bio_method, bio_ctrl) != 1)) {
        BIO_meth_free(bio_method);
        bio_method = NULL;
    }
}

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

static int load_cas(SSL_CTX *ctx, const char *ca_file, gl_err *err)
{
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ERR_clear_error();
        return gl_fail(err, "tls", "cannot load CA certificates%s%s", ca_file ? " from " : "",
                       ca_file ? ca_file : "");
    }
    return 0;
}

/* A lazy context's CA source, kept with it (ex_data) until gl_tls_client loads it. */
typedef struct lazy_cas {
    bool loaded;
    char ca_file[]; /* "" = the system store */
} lazy_cas;

static int lazy_index = -1;
static void free_lazy(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}
static void make_lazy_index(void)
{
    lazy_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_lazy);
}

static SSL_CTX *client_ctx_new(gl_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_fail(NULL, err, "context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Verification is on from the start: a connection made before the CAs are loaded would be
     * refused (an empty store trusts nothing), never let through. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
}

SSL_CTX *gl_tls_client_ctx(const char *ca_file, gl_err *err)
{
    SSL_CTX *ctx = client_ctx_new(err);
    if (ctx && load_cas(ctx, ca_file, err) != 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

SSL_CTX *gl_tls_client_ctx_lazy(const char *ca_file, gl_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_lazy_index);
    if (ca_file) { /* a wrong path is a start-up error, as it was when it was read at once */
        FILE *f = fopen(ca_file, "r");
        if (!f) {
            gl_fail(err, "tls", "cannot load CA certificates from %s", ca_file);
            return NULL;
        }
        fclose(f);
    }
    SSL_CTX *ctx = client_ctx_new(err);
    if (!ctx)
        return NULL;
    size_t n = ca_file ? strlen(ca_file) : 0;
    lazy_cas *lc = gl_xcalloc(1, sizeof *lc + n + 1);
    memcpy(lc->ca_file, ca_file ? ca_file : "", n + 1);
    if (lazy_index < 0 || SSL_CTX_set_ex_data(ctx, lazy_index, lc) != 1) {
        free(lc);
        SSL_CTX_free(ctx);
        gl_fail(err, "internal", "out of memory (TLS)");
        return NULL;
    }
    return ctx;
}

/* Loads a lazy context's CAs if not yet done (the first connection pays for it, once). */
static int ensure_cas(SSL_CTX *ctx, gl_err *err)
{
    lazy_cas *lc = lazy_index < 0 ? NULL : SSL_CTX_get_ex_data(ctx, lazy_index);
    if (!lc || lc->loaded)
        return 0;
    if (load_cas(ctx, lc->ca_file[0] ? lc->ca_file : NULL, err) != 0)
        return -1; /* tried again by the next connection */
    lc->loaded = true;
    return 0;
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
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_bio_method);
    gl_tls *t = gl_xcalloc(1, sizeof *t);
    t->ssl = SSL_new(ctx);
    BIO *bio = bio_method ? BIO_new(bio_method) : NULL;
    if (!t->ssl || !bio) {
        BIO_free(bio);
        SSL_free(t->ssl);
        free(t);
        gl_fail(err, "internal", "out of memory (TLS)");
        return NULL;
    }
    BIO_set_data(bio, t);
    BIO_set_init(bio, 1);
    SSL_set_bio(t->ssl, bio, bio); /* one BIO both ways; the SSL owns it (and takes the second
                                      reference itself when both are the same) */
    SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
    return t;
}

gl_tls *gl_tls_client(SSL_CTX *ctx, const char *host, bool verify, gl_err *err)
{
    if (verify && ensure_cas(ctx, err) != 0)
        return NULL;
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

void gl_tls_keep_buffers(gl_tls *t, bool keep)
{
    if (keep) {
        SSL_clear_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
    } else {
        SSL_set_mode(t->ssl, SSL_MODE_RELEASE_BUFFERS);
        SSL_free_buffers(t->ssl); /* refuses (harmlessly) while a partial record waits */
    }
}

bool gl_tls_ready(const gl_tls *t) { return t->ready; }

/* The output buffer was full: OpenSSL's write failed for that reason, not a TLS one. */
static bool out_full(const gl_tls *t)
{
    return t->out && t->out->limit && t->out->len + 16384 + 512 > t->out->limit;
}

static int handshake(gl_tls *t, gl_err *err)
{
    if (t->ready)
        return 0;
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->ready = true;
        return 0;
    }
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (out_full(t)) {
        ERR_clear_error();
        return gl_fail(err, "overflow", "TLS output buffer full");
    }
    return tls_fail(t, err, "handshake"); /* our alert, if any, is in out already */
}

int gl_tls_handshake(gl_tls *t, gl_buf *out, gl_err *err)
{
    t->out = out;
    int rc = handshake(t, err);
    t->out = NULL;
    return rc;
}

/* Decrypts what it can into plain: straight into its free space when there is room for a whole
 * record, else through a record-sized buffer (so that the limit is passed only by real bytes). */
static int read_plain(gl_tls *t, gl_buf *plain, bool *eof, gl_err *err)
{
    char tmp[16384];
    for (;;) {
        char *dst = gl_buf_reserve(plain, sizeof tmp);
        int n = SSL_read(t->ssl, dst ? dst : tmp, sizeof tmp);
        if (n > 0) {
            if (dst)
                gl_buf_commit(plain, (size_t)n);
            else if (gl_buf_append(plain, tmp, (size_t)n) != 0)
                return gl_fail(err, "overflow", "TLS plaintext buffer full");
            continue;
        }
        int e = SSL_get_error(t->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN) {
            *eof = true;
            return 0;
        }
        if (out_full(t)) { /* a post-handshake answer (key update) did not fit */
            ERR_clear_error();
            return gl_fail(err, "overflow", "TLS output buffer full");
        }
        return tls_fail(t, err, "read");
    }
}

int gl_tls_feed(gl_tls *t, const void *data, size_t len, gl_buf *plain, gl_buf *out, bool *eof,
                gl_err *err)
{
    *eof = false;
    t->in = data;
    t->in_len = len;
    t->out = out; /* post-handshake messages, key updates */
    int rc = handshake(t, err);
    if (rc == 0 && t->ready)
        rc = read_plain(t, plain, eof, err);
    /* OpenSSL took every byte (it keeps a partial record itself) unless the call failed or the
     * peer closed: what is left then is of no use */
    t->in = NULL;
    t->in_len = 0;
    t->out = NULL;
    return rc;
}

int gl_tls_write(gl_tls *t, const void *data, size_t len, gl_buf *out, gl_err *err)
{
    if (!t->ready)
        return gl_fail(err, "tls", "TLS write before handshake completed");
    t->out = out;
    const char *p = data;
    int rc = 0;
    while (len) {
        int chunk = len > 65536 ? 65536 : (int)len;
        int n = SSL_write(t->ssl, p, chunk);
        if (n <= 0) {
            if (out_full(t)) {
                ERR_clear_error();
                rc = gl_fail(err, "overflow", "TLS output buffer full");
            } else
                rc = tls_fail(t, err, "write");
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    t->out = NULL;
    return rc;
}

void gl_tls_shutdown(gl_tls *t, gl_buf *out)
{
    if (t->ready) {
        t->out = out;
        SSL_shutdown(t->ssl);
        t->out = NULL;
    }
    ERR_clear_error();
}
