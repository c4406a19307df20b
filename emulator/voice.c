/* Recognition of the embedded recordings (see voice.h). */
#include "emulator/voice.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xalloc.h"

#define PHASES 4        /* reference fingerprints per recording, a quarter frame apart */
#define MAX_LAG 10      /* frames (200 ms) of misalignment tried either way */
#define FLOOR_DB (-40.0) /* level envelope floor, below the loudest frame */

/* emulator/voices_data.c */
#define WAV(sym) extern const unsigned char sym[], sym##_end[] __attribute__((visibility("hidden")))
WAV(emu_wav_hello);
WAV(emu_wav_lights);
WAV(emu_wav_palindrome);
WAV(emu_wav_stop);

static const struct {
    const char *name, *phrase;
    const unsigned char *wav, *end;
} VOICES[] = {
    {"hello", "Hello?", emu_wav_hello, emu_wav_hello_end},
    {"lights", "Turn on the lights", emu_wav_lights, emu_wav_lights_end},
    {"palindrome", "What is the largest prime palindrome under 100000", emu_wav_palindrome,
     emu_wav_palindrome_end},
    {"stop", "Stop, wait a moment", emu_wav_stop, emu_wav_stop_end},
};
#define NVOICES (sizeof VOICES / sizeof VOICES[0])

/* Loaded once, on first use, and kept for the life of the process (read-only afterwards). */
static struct ref {
    int16_t *pcm;
    size_t len;
    unsigned rate;
    emu_frame *frames[PHASES];
    size_t nframes[PHASES];
} refs[NVOICES];
static bool loaded;

size_t emu_voice_count(void) { return NVOICES; }
const char *emu_voice_name(size_t i) { return i < NVOICES ? VOICES[i].name : NULL; }
const char *emu_voice_phrase(size_t i) { return i < NVOICES ? VOICES[i].phrase : NULL; }

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* A RIFF/WAVE file of 16-bit mono PCM: its samples, or false. Chunks are walked by their sizes
 * (word-aligned), so extra chunks (LIST, fact) are skipped. */
static bool parse_wav(const unsigned char *w, size_t n, struct ref *r)
{
    if (n < 12 || memcmp(w, "RIFF", 4) || memcmp(w + 8, "WAVE", 4))
        return false;
    bool fmt_ok = false;
    for (size_t p = 12; p + 8 <= n;) {
        uint32_t sz = le32(w + p + 4);
        const unsigned char *body = w + p + 8;
        if (sz > n - p - 8)
            return false;
        if (!memcmp(w + p, "fmt ", 4) && sz >= 16) {
            r->rate = le32(body + 4);
            fmt_ok = le16(body) == 1 && le16(body + 2) == 1 && le16(body + 14) == 16 &&
                     r->rate >= EMU_RATE_MIN && r->rate <= EMU_RATE_MAX;
        } else if (!memcmp(w + p, "data", 4) && fmt_ok) {
            r->len = sz / 2;
            r->pcm = gl_xmalloc((r->len ? r->len : 1) * sizeof *r->pcm);
            for (size_t i = 0; i < r->len; i++)
                r->pcm[i] = (int16_t)le16(body + 2 * i);
            return true;
        }
        p += 8 + (size_t)sz + (sz & 1);
    }
    return false;
}

emu_frame *emu_voice_frames(const int16_t *pcm, size_t len, unsigned rate, size_t offset,
                            size_t *n)
{
    /* frame k covers [floor(k rate / 50), floor((k + 1) rate / 50)) after the offset: exactly
     * 20 ms on average at any rate, 44100 and 11025 included */
    size_t per = 1000 / EMU_FRAME_MS, avail = len > offset ? len - offset : 0;
    size_t count = (size_t)((uint64_t)avail * per / rate);
    emu_frame *f = gl_xmalloc((count ? count : 1) * sizeof *f);
    for (size_t k = 0; k < count; k++) {
        size_t a = (size_t)((uint64_t)k * rate / per), b = (size_t)((uint64_t)(k + 1) * rate / per);
        f[k] = emu_frame_of(pcm + offset + a, b - a, rate);
    }
    *n = count;
    return f;
}

/* [first, last] frames loud enough in the voice bands (relative to the loudest, so a gain does
 * not move the ends; with an absolute floor, so that noise around quiet speech does not extend
 * them); false if there are none. */
static bool trim(const emu_frame *f, size_t n, size_t *first, size_t *last)
{
    double top = -1000;
    for (size_t i = 0; i < n; i++)
        top = f[i].voice_db > top ? f[i].voice_db : top;
    double thr = top - EMU_VOICE_TRIM_BELOW;
    if (thr < EMU_VOICE_TRIM_DB)
        thr = EMU_VOICE_TRIM_DB;
    size_t a = 0, b = n;
    while (a < n && f[a].voice_db < thr)
        a++;
    while (b > a && f[b - 1].voice_db < thr)
        b--;
    if (a == b)
        return false;
    *first = a;
    *last = b - 1;
    return true;
}

static void load(void)
{
    if (loaded)
        return;
    loaded = true;
    for (size_t i = 0; i < NVOICES; i++) {
        struct ref *r = &refs[i];
        if (!parse_wav(VOICES[i].wav, (size_t)(VOICES[i].end - VOICES[i].wav), r)) {
            log_error("emulator: embedded recording %s is not a 16-bit mono WAV", VOICES[i].name);
            continue;
        }
        for (size_t p = 0; p < PHASES; p++) {
            size_t n, a, b;
            emu_frame *f = emu_voice_frames(r->pcm, r->len, r->rate,
                                            p * r->rate / (1000 / EMU_FRAME_MS) / PHASES, &n);
            if (!trim(f, n, &a, &b)) {
                free(f);
                continue;
            }
            memmove(f, f + a, (b - a + 1) * sizeof *f);
            r->frames[p] = f;
            r->nframes[p] = b - a + 1;
        }
    }
}

const int16_t *emu_voice_pcm(size_t i, size_t *n, unsigned *rate)
{
    load();
    if (i >= NVOICES || !refs[i].pcm)
        return NULL;
    *n = refs[i].len;
    *rate = refs[i].rate;
    return refs[i].pcm;
}

/* A trimmed fingerprint: frames [0, n); outside them, silence. Its profiles are the voice-band
 * level and each band's level, each in dB below its own loudest frame, floored. */
#define NPROF (1 + EMU_BANDS)
typedef struct prof {
    const emu_frame *f;
    size_t n;
    double top[NPROF];
} prof;

static double raw(const emu_frame *f, int k) { return k == 0 ? f->voice_db : f->band[k - 1]; }

static double level_at(const prof *p, int k, long t)
{
    if (t < 0 || (size_t)t >= p->n)
        return FLOOR_DB;
    double d = raw(&p->f[t], k) - p->top[k];
    return d < FLOOR_DB ? FLOOR_DB : d;
}

/* Pearson correlation from running sums; 0 when either side is constant. */
static double pearson(double n, double sa, double sb, double saa, double sbb, double sab)
{
    double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
    if (va <= 1e-12 || vb <= 1e-12)
        return 0;
    return (sab - sa * sb / n) / sqrt(va * vb);
}

/* Best mean correlation of a's profiles with b's, b shifted by every lag in
 * [-MAX_LAG, MAX_LAG]; both are extended with silence to the span they cover together, so a
 * length mismatch costs. */
static double compare(const prof *a, const prof *b)
{
    double best = -1;
    for (long d = -MAX_LAG; d <= MAX_LAG; d++) {
        long lo = d < 0 ? d : 0;
        long hi = (long)a->n > (long)b->n + d ? (long)a->n : (long)b->n + d;
        double n = (double)(hi - lo), sum = 0;
        for (int k = 0; k < NPROF; k++) {
            double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
            for (long t = lo; t < hi; t++) {
                double x = level_at(a, k, t), y = level_at(b, k, t - d);
                sa += x, sb += y, saa += x * x, sbb += y * y, sab += x * y;
            }
            sum += pearson(n, sa, sb, saa, sbb, sab);
        }
        if (sum / NPROF > best)
            best = sum / NPROF;
    }
    return best;
}

static bool make_prof(const emu_frame *f, size_t n, prof *p)
{
    size_t a, b;
    if (!trim(f, n, &a, &b))
        return false;
    p->f = f + a;
    p->n = b - a + 1;
    for (int k = 0; k < NPROF; k++) {
        p->top[k] = -1000;
        for (size_t i = 0; i < p->n; i++)
            p->top[k] = raw(&p->f[i], k) > p->top[k] ? raw(&p->f[i], k) : p->top[k];
    }
    return true;
}

double emu_voice_similarity(const emu_frame *a, size_t na, const emu_frame *b, size_t nb)
{
    prof pa, pb;
    if (!make_prof(a, na, &pa) || !make_prof(b, nb, &pb))
        return -1;
    return compare(&pa, &pb);
}

void emu_voice_match_frames(const emu_frame *f, size_t n, emu_voice_match *out)
{
    load();
    *out = (emu_voice_match){.voice = -1, .best = -1, .score = -1, .second = -1};
    prof q;
    if (!make_prof(f, n, &q))
        return;
    for (size_t i = 0; i < NVOICES; i++) {
        double s = -1;
        for (size_t p = 0; p < PHASES; p++) {
            prof r;
            if (refs[i].frames[p] && make_prof(refs[i].frames[p], refs[i].nframes[p], &r)) {
                double c = compare(&q, &r);
                s = c > s ? c : s;
            }
        }
        if (s > out->score) {
            out->second = out->score;
            out->score = s;
            out->best = (int)i;
        } else if (s > out->second) {
            out->second = s;
        }
    }
    if (out->best >= 0 && out->score >= EMU_VOICE_THRESHOLD &&
        out->score - out->second >= EMU_VOICE_MARGIN)
        out->voice = out->best;
}
