/* tls_records: what a TLS record costs to read through transport/tls.c (gl_tls_feed, OpenSSL
 * underneath), by record size and by records per feed (one socket read). gliveD reads every
 * Live API message this way (the emulator sends each message as one record; before
 * transport/ws.c staged wslay's output it sent two, the websocket header and the payload):
 * bench/PROFILE.md's per-record figures come from this program.
 *
 *   build/bench/tls_records [RECORDS]     (default 200,000 records per case, best of 5)
 *
 * A client and a server engine are connected in memory (no socket: only TLS is timed), with
 * the emulator's kind of certificate made in a temporary directory; the server writes RECORDS
 * records of each size, the client is fed them a given number of records at a time. Prints ns
 * per record for each case. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/err.h"
#include "emulator/certs.h"
#include "transport/tls.h"

#include <openssl/crypto.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Feeds all of from to `to`, step bytes at a time. */
static int pipe_all(gl_buf *from, gl_tls *to, gl_buf *plain, gl_buf *out, size_t step)
{
    bool eof;
    gl_err err;
    while (from->len) {
        size_t n = from->len < step ? from->len : step;
        if (gl_tls_feed(to, gl_buf_head(from), n, plain, out, &eof, &err) != 0) {
            fprintf(stderr, "tls_records: feed failed: %s\n", err.msg);
            return -1;
        }
        gl_buf_consume(from, n);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long records = argc > 1 ? atol(argv[1]) : 200000;
    char dir[] = "/tmp/tls-records-XXXXXX", cert[64], key[64], ca[64];
    gl_err err;
    if (!mkdtemp(dir) || emu_certs_ensure(dir, &err) != 0) {
        fprintf(stderr, "tls_records: cannot make certificates in %s\n", dir);
        return 1;
    }
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server-key.pem", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    SSL_CTX *sctx = gl_tls_server_ctx(cert, key, &err), *cctx = gl_tls_client_ctx(ca, &err);
    gl_tls *cl = cctx ? gl_tls_client(cctx, "127.0.0.1", true, &err) : NULL;
    gl_tls *sv = sctx ? gl_tls_server(sctx, &err) : NULL;
    if (!cl || !sv) {
        fprintf(stderr, "tls_records: %s\n", err.msg);
        return 1;
    }
    gl_buf c_out, c_plain, s_out, s_plain;
    gl_buf_init(&c_out, 0), gl_buf_init(&c_plain, 0), gl_buf_init(&s_out, 0), gl_buf_init(&s_plain, 0);
    gl_tls_handshake(cl, &c_out, &err);
    for (int r = 0; r < 10 && !(gl_tls_ready(cl) && gl_tls_ready(sv)); r++)
        if (pipe_all(&c_out, sv, &s_plain, &s_out, 1 << 20) || pipe_all(&s_out, cl, &c_plain, &c_out, 1 << 20))
            return 1;
    if (pipe_all(&s_out, cl, &c_plain, &c_out, 1 << 20)) /* session tickets */
        return 1;
    static char msg[2000];
    memset(msg, 'a', sizeof msg);
    static const size_t sizes[] = {6, 50, 1400};
    static const int per_feed[] = {1, 2, 10, 45};
    printf("ns per record read through gl_tls_feed (best of 5 x %ld records; %s)\n",
           records, OpenSSL_version(OPENSSL_VERSION));
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (size_t p = 0; p < sizeof per_feed / sizeof *per_feed; p++) {
            double best = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                gl_buf_reset(&s_out);
                for (long i = 0; i < records; i++)
                    if (gl_tls_write(sv, msg, sizes[s], &s_out, &err) != 0)
                        return 1;
                size_t step = s_out.len / (size_t)records * (size_t)per_feed[p];
                gl_buf_reset(&c_plain);
                gl_buf_reserve(&c_plain, (size_t)records * sizes[s] + 65536);
                double t0 = now_ns();
                if (pipe_all(&s_out, cl, &c_plain, &c_out, step))
                    return 1;
                double t = (now_ns() - t0) / (double)records;
                if (c_plain.len != (size_t)records * sizes[s]) {
                    fprintf(stderr, "tls_records: %zu bytes out, want %zu\n", c_plain.len,
                            (size_t)records * sizes[s]);
                    return 1;
                }
                if (t < best)
                    best = t;
            }
            printf("  %5zu-byte records, %2d per feed: %6.0f ns\n", sizes[s], per_feed[p], best);
        }
    gl_tls_free(cl);
    gl_tls_free(sv);
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    gl_buf_free(&c_out), gl_buf_free(&c_plain), gl_buf_free(&s_out), gl_buf_free(&s_plain);
    char cmd[80];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
