/* Signal analysis (see dsp.h). Doubles throughout: the results go to logs and comparisons with
 * generous margins, never into bytes that must be identical across machines. */
#include "emulator/dsp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

#define FULL_SCALE 32768.0
#define MIN_PEAK_HZ 40.0 /* below this is hum and DC leakage, not a voice or a test tone */

void emu_fft(double *re, double *im, size_t n)
{
    if (n < 2)
        return;
    /* bit-reversal permutation */
    for (size_t i = 1, j = 0; i < n; i++) {
        size_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j |= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    /* butterflies, twiddle-major: each twiddle factor comes straight from cos/sin (n - 1 calls
     * per transform in all), so no rounding error builds up along a recurrence */
    for (size_t len = 2; len <= n; len <<= 1) {
        double ang = -2.0 * M_PI / (double)len;
        for (size_t k = 0; k < len / 2; k++) {
            double wr = cos(ang * (double)k), wi = sin(ang * (double)k);
            for (size_t i = k; i < n; i += len) {
                size_t j = i + len / 2;
                double xr = re[j] * wr - im[j] * wi;
                double xi = re[j] * wi + im[j] * wr;
                re[j] = re[i] - xr;
                im[j] = im[i] - xi;
                re[i] += xr;
                im[i] += xi;
            }
        }
    }
}

double emu_goertzel(const int16_t *pcm, size_t n, unsigned rate, double hz)
{
    if (n == 0 || rate == 0)
        return 0;
    double w = 2.0 * M_PI * hz / (double)rate, c = 2.0 * cos(w);
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = pcm[i] / FULL_SCALE + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    /* |X|^2 from the last two states; for a non-integer bin the phase term drops out of the
     * magnitude, so this holds for any hz */
    double p = s1 * s1 + s2 * s2 - c * s1 * s2;
    return p / ((double)n * (double)n);
}

void emu_spectrum_free(emu_spectrum *s)
{
    free(s->acc);
    free(s->block);
    memset(s, 0, sizeof *s);
}

void emu_spectrum_init(emu_spectrum *s, unsigned rate)
{
    emu_spectrum_free(s);
    size_t n = 256;
    while (n < rate / 4)
        n <<= 1;
    s->rate = rate;
    s->n = n;
    s->acc = gl_xcalloc(n / 2 + 1, sizeof *s->acc);
    s->block = gl_xcalloc(n, sizeof *s->block);
}

void emu_spectrum_reset(emu_spectrum *s)
{
    if (!s->rate)
        return;
    memset(s->acc, 0, (s->n / 2 + 1) * sizeof *s->acc);
    s->fill = 0;
    s->blocks = 0;
    s->energy = 0;
    s->samples = 0;
}

/* Adds the power spectrum of the first `len` samples of the block (zero-padded to n). The Hann
 * window spans those len samples, so a short last block is windowed properly too. */
static void add_block(emu_spectrum *s, size_t len)
{
    size_t n = s->n;
    double *re = gl_xcalloc(n, sizeof *re), *im = gl_xcalloc(n, sizeof *im);
    double mean = 0;
    for (size_t i = 0; i < len; i++)
        mean += s->block[i];
    mean /= (double)len;
    for (size_t i = 0; i < len; i++) {
        double w = len > 1 ? 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)(len - 1)) : 1.0;
        re[i] = (s->block[i] - mean) * w;
    }
    emu_fft(re, im, n);
    for (size_t k = 0; k <= n / 2; k++)
        s->acc[k] += re[k] * re[k] + im[k] * im[k];
    free(re);
    free(im);
    s->blocks++;
}

void emu_spectrum_add(emu_spectrum *s, const int16_t *pcm, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = (float)(pcm[i] / FULL_SCALE);
        s->energy += (double)v * v;
        s->block[s->fill++] = v;
        if (s->fill == s->n) {
            add_block(s, s->n);
            s->fill = 0;
        }
    }
    s->samples += n;
}

double emu_spectrum_peak_hz(emu_spectrum *s)
{
    if (!s->rate || s->samples == 0)
        return 0;
    /* RMS below one LSB: nothing to name */
    if (s->energy / (double)s->samples < 1.0 / (FULL_SCALE * FULL_SCALE))
        return 0;
    if (s->fill > 0 && (s->blocks == 0 || s->fill >= s->n / 4)) {
        add_block(s, s->fill);
        s->fill = 0;
    }
    if (s->blocks == 0)
        return 0;
    double bin = (double)s->rate / (double)s->n;
    size_t lo = (size_t)ceil(MIN_PEAK_HZ / bin), hi = s->n / 2, k = 0;
    if (lo < 1)
        lo = 1;
    double best = -1;
    for (size_t i = lo; i <= hi; i++) {
        if (s->acc[i] > best) {
            best = s->acc[i];
            k = i;
        }
    }
    if (best <= 0)
        return 0;
    double delta = 0;
    if (k > 0 && k < hi) {
        /* Gaussian interpolation: a parabola through the log powers of the three bins. The tiny
         * floor keeps log() finite next to an exact zero. */
        double a = log(s->acc[k - 1] + 1e-300), b = log(s->acc[k]), c = log(s->acc[k + 1] + 1e-300);
        double den = a - 2 * b + c;
        if (den < 0)
            delta = 0.5 * (a - c) / den;
        if (delta > 0.5 || delta < -0.5) /* not a peak shape: trust the bin */
            delta = 0;
    }
    return ((double)k + delta) * bin;
}

double emu_dominant_hz(const int16_t *pcm, size_t n, unsigned rate)
{
    emu_spectrum s = {0};
    emu_spectrum_init(&s, rate);
    emu_spectrum_add(&s, pcm, n);
    double hz = emu_spectrum_peak_hz(&s);
    emu_spectrum_free(&s);
    return hz;
}

static float to_db(double power)
{
    if (power <= 0)
        return -100.0f;
    double db = 10.0 * log10(power);
    return (float)(db < -100 ? -100 : db);
}

emu_frame emu_frame_of(const int16_t *pcm, size_t n, unsigned rate)
{
    static const double edges[EMU_BANDS + 1] = EMU_BAND_EDGES;
    emu_frame f = {.db = -100.0f, .voice_db = -100.0f};
    for (int b = 0; b < EMU_BANDS; b++)
        f.band[b] = -100.0f;
    if (n == 0 || n > EMU_FRAME_MAX || rate == 0)
        return f;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)pcm[i] * pcm[i];
    f.db = to_db(sum / (double)n / (FULL_SCALE * FULL_SCALE));
    size_t nfft = 64;
    while (nfft < n)
        nfft <<= 1;
    double re[2 * EMU_FRAME_MAX] = {0}, im[2 * EMU_FRAME_MAX] = {0}, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double w = 0.5 - 0.5 * cos(2.0 * M_PI * ((double)i + 0.5) / (double)n);
        re[i] = pcm[i] / FULL_SCALE * w;
        wsum += w * w;
    }
    emu_fft(re, im, nfft);
    /* Parseval: the mean square of the windowed frame is sum |X_k|^2 / (nfft * sum w^2) over all
     * nfft bins; a band's share counts its positive and negative frequencies (x2). So band
     * levels are in the same unit as db whatever the rate and the FFT length. */
    double band[EMU_BANDS] = {0}, norm = 2.0 / ((double)nfft * wsum);
    for (size_t k = 1; k < nfft / 2; k++) {
        double hz = (double)k * rate / (double)nfft;
        for (int b = 0; b < EMU_BANDS; b++)
            if (hz >= edges[b] && hz < edges[b + 1])
                band[b] += (re[k] * re[k] + im[k] * im[k]) * norm;
    }
    double voice = 0;
    for (int b = 0; b < EMU_BANDS; b++) {
        f.band[b] = to_db(band[b]);
        voice += band[b];
    }
    f.voice_db = to_db(voice);
    return f;
}
