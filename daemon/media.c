#include "daemon/media.h"

#include <openssl/evp.h>
#include <soxr.h>
#include <string.h>

#include "common/xalloc.h"
#include "proto/errors.h"

int gld_b64_decode(const char *b64, size_t len, gl_buf *out, const char *what, gl_err *err)
{
    if (len % 4 != 0)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" is not base64 (length %zu is not a multiple of 4)",
                       what, len);
    if (len > (size_t)INT32_MAX)
        return gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" is too long", what);
    size_t pad = len >= 1 && b64[len - 1] == '=' ? (len >= 2 && b64[len - 2] == '=' ? 2 : 1) : 0;
    size_t need = len / 4 * 3;
    unsigned char *tmp = gl_xmalloc(need + 1);
    int n = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)len);
    int rc = 0;
    /* EVP_DecodeBlock takes "=" for zero bits anywhere and whitespace: be stricter */
    for (size_t i = 0; i + pad < len && rc == 0; i++)
        if (b64[i] == '=' || b64[i] == ' ' || b64[i] == '\n' || b64[i] == '\r' || b64[i] == '\t')
            rc = gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" is not base64 (byte %zu)", what, i);
    if (rc == 0 && n < 0)
        rc = gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" is not base64", what);
    if (rc == 0 && gl_buf_append(out, tmp, (size_t)n - pad) != 0)
        rc = gl_fail(err, GL_E_BAD_REQUEST, "field \"%s\" is too long", what);
    free(tmp);
    return rc;
}

void gld_b64_encode(const void *data, size_t len, gl_buf *out)
{
    size_t need = 4 * ((len + 2) / 3) + 1;
    char *tmp = gl_xmalloc(need);
    int n = EVP_EncodeBlock((unsigned char *)tmp, data, (int)len);
    gl_buf_append(out, tmp, (size_t)n + 1); /* with its NUL */
    out->len--;                             /* ...which is not data */
    free(tmp);
}

struct gld_resampler {
    soxr_t soxr;
    unsigned rate;
};

static soxr_t make(unsigned in_rate, gl_err *err)
{
    soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_error_t e = NULL;
    soxr_t s = soxr_create(in_rate, GLD_AUDIO_RATE, 1, &e, &io, &q, NULL);
    if (!s || e) {
        gl_fail(err, GL_E_INTERNAL, "cannot create a resampler from %u Hz: %s", in_rate, e ? e : "?");
        return NULL;
    }
    return s;
}

gld_resampler *gld_resampler_new(unsigned in_rate, gl_err *err)
{
    if (in_rate < GLD_AUDIO_RATE_MIN || in_rate > GLD_AUDIO_RATE_MAX) {
        gl_fail(err, GL_E_BAD_REQUEST, "rate %u Hz is outside %u..%u", in_rate, GLD_AUDIO_RATE_MIN,
                GLD_AUDIO_RATE_MAX);
        return NULL;
    }
    soxr_t s = make(in_rate, err);
    if (!s)
        return NULL;
    gld_resampler *r = gl_xcalloc(1, sizeof *r);
    r->soxr = s;
    r->rate = in_rate;
    return r;
}

unsigned gld_resampler_rate(const gld_resampler *r) { return r->rate; }

/* Runs the filter on in (NULL: flush) until it has nothing more to give. */
static int run(gld_resampler *r, const int16_t *in, size_t n, gl_buf *out, gl_err *err)
{
    int16_t chunk[4096];
    size_t used = 0;
    for (;;) {
        size_t idone = 0, odone = 0;
        soxr_error_t e = soxr_process(r->soxr, in ? in + used : NULL, in ? n - used : 0, &idone, chunk,
                                      sizeof chunk / sizeof chunk[0], &odone);
        if (e)
            return gl_fail(err, GL_E_INTERNAL, "resampling failed: %s", e);
        used += idone;
        if (odone && gl_buf_append(out, chunk, odone * sizeof chunk[0]) != 0)
            return gl_fail(err, GL_E_BUSY, "too much audio at once");
        if ((!in || used == n) && odone < sizeof chunk / sizeof chunk[0])
            return 0;
    }
}

int gld_resampler_feed(gld_resampler *r, const int16_t *in, size_t n, gl_buf *out, gl_err *err)
{
    return n ? run(r, in, n, out, err) : 0;
}

int gld_resampler_flush(gld_resampler *r, gl_buf *out, gl_err *err)
{
    int rc = run(r, NULL, 0, out, err);
    soxr_clear(r->soxr); /* ready for the next stream */
    return rc;
}

void gld_resampler_free(gld_resampler *r)
{
    if (!r)
        return;
    soxr_delete(r->soxr);
    free(r);
}
