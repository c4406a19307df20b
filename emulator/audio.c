/* PCM synthesis for the emulator's AUDIO answers (see audio.h). Integer arithmetic only, so the
 * bytes are the same on every machine. */
#include "emulator/audio.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

static size_t utf8_step(const unsigned char *p)
{
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 1;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 1;
    return n;
}

size_t emu_audio_chars(const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p += utf8_step(p))
        n++;
    return n;
}

size_t emu_audio_len(const char *text)
{
    return emu_audio_chars(text) * EMU_AUDIO_BYTES_PER_CHAR;
}

static int is_word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '\'' || c >= 0x80;
}

/* Sine from a 32-bit phase by a parabola per half period, in Q15 (|y| <= 32767). */
static int32_t sine_q15(uint32_t phase)
{
    uint32_t x = phase >> 16;    /* 0..65535 is one period */
    int32_t h = (int32_t)(x & 0x7FFF);
    int32_t y = (h * (32768 - h)) >> 13; /* 0..32768 */
    if (y > 32767)
        y = 32767;
    return (x & 0x8000) ? -y : y;
}

#define AMP 9000
#define ATTACK (EMU_AUDIO_RATE / 100)   /* 10 ms */
#define RELEASE (EMU_AUDIO_RATE / 60)   /* ~17 ms */

unsigned char *emu_audio_synth(const char *text, size_t *len)
{
    size_t nchars = emu_audio_chars(text);
    *len = 0;
    if (nchars == 0)
        return NULL;
    size_t total = nchars * EMU_AUDIO_SAMPLES_PER_CHAR;
    unsigned char *out = gl_xmalloc(total * 2);
    const unsigned char *p = (const unsigned char *)text;
    size_t s = 0; /* sample index */
    while (*p) {
        if (!is_word_byte(*p)) {
            /* Silence for one character. */
            memset(out + 2 * s, 0, 2 * EMU_AUDIO_SAMPLES_PER_CHAR);
            s += EMU_AUDIO_SAMPLES_PER_CHAR;
            p += utf8_step(p);
            continue;
        }
        /* A word: one tone, its pitch from an FNV-1a hash of the word, a little glide per
         * character, one envelope across the whole word. */
        const unsigned char *w = p;
        size_t wchars = 0;
        uint32_t hash = 2166136261u;
        while (*p && is_word_byte(*p)) {
            size_t k = utf8_step(p);
            for (size_t i = 0; i < k; i++)
                hash = (hash ^ p[i]) * 16777619u;
            p += k;
            wchars++;
        }
        size_t wsamples = wchars * EMU_AUDIO_SAMPLES_PER_CHAR;
        uint32_t base_hz = 140 + (hash % 16) * 15; /* 140..365 Hz */
        uint32_t phase = 0;
        const unsigned char *c = w;
        for (size_t i = 0; i < wchars; i++) {
            /* vowels a bit higher, like a sing-song voice */
            unsigned char ch = (unsigned char)(*c | 0x20);
            uint32_t hz = base_hz + ((ch == 'a' || ch == 'e' || ch == 'i' || ch == 'o' ||
                                      ch == 'u') ? 40 : 0);
            uint32_t inc = (uint32_t)(((uint64_t)hz << 32) / EMU_AUDIO_RATE);
            c += utf8_step(c);
            for (size_t j = 0; j < EMU_AUDIO_SAMPLES_PER_CHAR; j++) {
                size_t k = i * EMU_AUDIO_SAMPLES_PER_CHAR + j; /* sample within the word */
                int32_t env = 256;
                if (k < ATTACK)
                    env = (int32_t)(k * 256 / ATTACK);
                else if (wsamples - k <= RELEASE)
                    env = (int32_t)((wsamples - k) * 256 / RELEASE);
                int32_t v = sine_q15(phase) * AMP / 32768 * env / 256;
                phase += inc;
                uint16_t u = (uint16_t)(int16_t)v;
                out[2 * s] = (unsigned char)(u & 0xFF);
                out[2 * s + 1] = (unsigned char)(u >> 8);
                s++;
            }
        }
    }
    *len = total * 2;
    return out;
}

char *emu_base64(const unsigned char *data, size_t len)
{
    if (len > (size_t)INT32_MAX / 2)
        return NULL;
    char *out = gl_xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    out[n < 0 ? 0 : n] = '\0';
    return out;
}
