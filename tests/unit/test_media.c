/* Microphone audio in (daemon/media.c): base64 strictness, and the resampler measured: tones keep
 * their frequency within 1% at 16 kHz, and a tone above the new Nyquist frequency is removed
 * (>= 40 dB down), not folded back (aliasing). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/media.h"
#include "tests/unit/testlib.h"

static int16_t *tone(unsigned rate, double hz, double seconds, size_t *n)
{
    *n = (size_t)(rate * seconds);
    int16_t *s = malloc(*n * sizeof *s);
    for (size_t i = 0; i < *n; i++)
        s[i] = (int16_t)(12000 * sin(2 * M_PI * hz * (double)i / rate));
    return s;
}

/* Resamples in chunks of odd sizes, as a client would send them, then flushes. */
static void resample(unsigned rate, const int16_t *in, size_t n, gl_buf *out)
{
    gl_err err;
    gld_resampler *r = gld_resampler_new(rate, &err);
    size_t step = 1237;
    for (size_t i = 0; i < n; i += step)
        gld_resampler_feed(r, in + i, n - i < step ? n - i : step, out, &err);
    gld_resampler_flush(r, out, &err);
    gld_resampler_free(r);
}

/* The frequency of a pure tone from its zero crossings, over the middle of the signal. */
static double frequency(const int16_t *s, size_t n, unsigned rate)
{
    size_t from = n / 10, to = n - n / 10, crossings = 0, first = 0, last = 0;
    for (size_t i = from + 1; i < to; i++)
        if ((s[i - 1] < 0) != (s[i] < 0)) {
            if (!crossings)
                first = i;
            last = i;
            crossings++;
        }
    return crossings > 1 ? (double)(crossings - 1) / 2.0 * rate / (double)(last - first) : 0;
}

static double rms(const int16_t *s, size_t n)
{
    double acc = 0;
    for (size_t i = n / 10; i < n - n / 10; i++)
        acc += (double)s[i] * s[i];
    return sqrt(acc / (double)(n - n / 5));
}

TEST(tones_keep_their_frequency_at_16k)
{
    static const unsigned rates[] = {8000, 22050, 44100, 48000};
    static const double hz[] = {440, 1000, 3000};
    for (size_t r = 0; r < 4; r++)
        for (size_t h = 0; h < 3; h++) {
            size_t n;
            int16_t *in = tone(rates[r], hz[h], 1.0, &n);
            gl_buf out;
            gl_buf_init(&out, 0);
            resample(rates[r], in, n, &out);
            size_t m = out.len / 2;
            double got = frequency((const int16_t *)gl_buf_head(&out), m, GLD_AUDIO_RATE);
            double expect_len = (double)n * GLD_AUDIO_RATE / rates[r];
            if (fabs(got - hz[h]) > hz[h] * 0.01 || fabs((double)m - expect_len) > expect_len * 0.01)
                GL_FAILF("%u Hz input, %.0f Hz tone: %.2f Hz and %zu samples at 16 kHz", rates[r], hz[h],
                         got, m);
            free(in);
            gl_buf_free(&out);
        }
}

TEST(a_tone_above_8k_is_removed_not_aliased)
{
    size_t n;
    int16_t *in = tone(48000, 12000, 1.0, &n);
    gl_buf out;
    gl_buf_init(&out, 0);
    resample(48000, in, n, &out);
    double db = 20 * log10(rms((const int16_t *)gl_buf_head(&out), out.len / 2) / rms(in, n) + 1e-12);
    if (db > -40)
        GL_FAILF("12 kHz at 48 kHz in: only %.1f dB down at 16 kHz", db);
    free(in);
    gl_buf_free(&out);
}

TEST(rates_outside_the_range_are_refused)
{
    gl_err err;
    CHECK(gld_resampler_new(7999, &err) == NULL);
    CHECK_CONTAINS(err.msg, "7999 Hz is outside 8000..192000");
    CHECK(gld_resampler_new(192001, &err) == NULL);
    gld_resampler *r = gld_resampler_new(192000, &err);
    CHECK(r != NULL);
    gld_resampler_free(r);
}

TEST(base64_is_strict)
{
    gl_buf b;
    gl_buf_init(&b, 0);
    gl_err err;
    CHECK_INT(gld_b64_decode("AAECAw==", 8, &b, "data", &err), 0);
    CHECK_INT(b.len, 4);
    CHECK(memcmp(gl_buf_head(&b), "\0\1\2\3", 4) == 0);
    gl_buf_reset(&b);
    CHECK_INT(gld_b64_decode("AAE", 3, &b, "data", &err), -1);
    CHECK_CONTAINS(err.msg, "multiple of 4");
    CHECK_INT(gld_b64_decode("AA=A", 4, &b, "data", &err), -1);
    CHECK_INT(gld_b64_decode("A A=", 4, &b, "data", &err), -1);
    CHECK_INT(gld_b64_decode("!!!!", 4, &b, "data", &err), -1);
    CHECK_STR(err.code, "bad_request");
    gl_buf_reset(&b);
    gld_b64_encode("\0\1\2\3", 4, &b);
    CHECK_STR(gl_buf_head(&b), "AAECAw==");
    gl_buf_free(&b);
}
