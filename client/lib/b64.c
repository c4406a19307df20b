#include "client/lib/b64.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

/* A base64 character's value + 1 (0: not base64). '=' counts as 0 bits wherever it stands, as
 * OpenSSL's EVP_DecodeBlock (which this decoder replaced) reads it: the results are the same,
 * byte for byte, errors included (tests/unit/test_client.c compares the two). */
static const unsigned char VAL1[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64,
    ['='] = 1,
};

/* Two characters at once: PAIR[a << 8 | b] = their 12 bits, or PAIR_BAD if either is not
 * base64. Half the lookups of VAL1 per 3 bytes (audio chunks are 1,280 characters each). Built
 * once, from VAL1 (128 KiB, of which the base64 characters touch about 8). */
#define PAIR_BAD 0xffffu
static uint16_t PAIR[1 << 16];
static void make_pairs(void)
{
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++)
            PAIR[a << 8 | b] = VAL1[a] && VAL1[b] ? (uint16_t)((VAL1[a] - 1u) << 6 | (VAL1[b] - 1u))
                                                 : PAIR_BAD;
}

/* The bulk of an audio chunk with AVX2, 32 characters to 24 bytes a step, where the CPU has it.
 * Hand-written because nothing packaged decodes base64 with SIMD: OpenSSL's EVP_DecodeBlock and
 * EVP_DecodeUpdate, and the two-characters-a-lookup table below, read a character or two at a
 * time; bench/b64_speed.c times all four on a 1,280-character chunk: EVP_DecodeBlock 431 ns,
 * EVP_DecodeUpdate 2,065 ns, the table 369 ns, this 65 ns (2 vCPUs, Intel Xeon, OpenSSL 3.0).
 * It takes only blocks of 32 characters of the 64-letter alphabet ('=' and anything else stop
 * it: the table decodes the rest and gives every verdict), so the results are the table's,
 * byte for byte; tests/unit/test_client.c compares the two (and EVP_DecodeBlock) on random
 * inputs with the odd character anywhere. The method is Muła and Lemire's ("Faster Base64
 * Encoding and Decoding Using AVX2 Instructions", 2018): the high and low nibble of each
 * character index two small tables whose AND is zero only for the alphabet, a third table
 * gives the offset from ASCII to the 6-bit value, and two multiply-adds and two shuffles pack
 * four values into three bytes. Returns the characters it decoded (a multiple of 32) into out. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_DECODER 1
__attribute__((target("avx2"))) static size_t decode_avx2(const unsigned char *in, size_t len,
                                                          unsigned char *out)
{
    /* bits of the classes a low nibble is NOT valid in (0x10: the high nibbles of no class) */
    const __m256i lut_lo = _mm256_setr_epi8(0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                            0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a, 0x15, 0x11,
                                            0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13,
                                            0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
    /* the class of a high nibble: 2 ('+' '/'), 3 (digits), 4 and 6 (A-O, a-o), 5 and 7 (P-Z,
       p-z); the others are never valid */
    const __m256i lut_hi = _mm256_setr_epi8(0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10,
                                            0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
                                            0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10,
                                            0x10, 0x10, 0x10, 0x10, 0x10);
    /* ASCII to value, by high nibble ('/' moved to index 1): '/' +16, '+' +19, digits +4,
       upper case -65, lower case -71 */
    const __m256i lut_roll = _mm256_setr_epi8(0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0,
                                              0, 0, 0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0,
                                              0, 0, 0, 0);
    const __m256i nib = _mm256_set1_epi8(0x0f), slash = _mm256_set1_epi8('/');
    /* the three bytes of each 32-bit group, big-endian, at the front of each 128-bit lane */
    const __m256i pack = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1, 2,
                                          1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    size_t i = 0;
    for (; i + 32 <= len; i += 32) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(in + i));
        __m256i hi = _mm256_and_si256(_mm256_srli_epi32(c, 4), nib);
        __m256i lo = _mm256_and_si256(c, nib);
        if (!_mm256_testz_si256(_mm256_shuffle_epi8(lut_lo, lo), _mm256_shuffle_epi8(lut_hi, hi)))
            break; /* not all of the alphabet: the table takes it from here */
        __m256i idx = _mm256_add_epi8(hi, _mm256_cmpeq_epi8(c, slash));
        __m256i v = _mm256_add_epi8(c, _mm256_shuffle_epi8(lut_roll, idx));
        /* [a b c d] -> a<<6|b, c<<6|d -> a<<18|b<<12|c<<6|d in each 32-bit group */
        v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
        v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
        v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pack), lanes);
        unsigned char *o = out + i / 4 * 3;
        _mm_storeu_si128((__m128i *)o, _mm256_castsi256_si128(v));
        _mm_storel_epi64((__m128i *)(o + 16), _mm256_extracti128_si256(v, 1));
    }
    return i;
}
#endif

static bool use_simd = true;
bool gl_b64_use_simd(bool on)
{
    bool was = use_simd;
    use_simd = on;
    return was;
}

int gl_b64_decode_into(const char *in, size_t len, unsigned char *out, size_t *outlen, gl_err *err)
{
    *outlen = 0;
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\n' || in[len - 1] == '\r' ||
                   in[len - 1] == '\t'))
        len--;
    size_t pad = 0; /* '=' present at the end */
    while (pad < len && pad < 2 && in[len - 1 - pad] == '=')
        pad++;
    size_t body = len - pad;
    if (body % 4 == 1)
        return gl_fail(err, "bad_base64", "invalid base64 length %zu", len);
    if (body + (4 - body % 4) % 4 > (size_t)INT_MAX - 4) /* the bound EVP_DecodeBlock's int had */
        return gl_fail(err, "bad_base64", "base64 input too large");
    const unsigned char *p = (const unsigned char *)in;
    unsigned char *o = out;
    size_t full = body / 4 * 4, i = 0;
#ifdef HAVE_AVX2_DECODER
    if (use_simd && __builtin_cpu_supports("avx2")) {
        i = decode_avx2(p, full, o);
        o += i / 4 * 3;
    }
#endif
    /* A short rest (what AVX2 leaves of an audio chunk) a character a lookup; the pair table
     * (128 KiB, built on first use) only for long runs: a glivectl that never needs it does
     * not build it (65,536 entries, ~0.6 million instructions, at every start). */
    if (full - i <= 128) {
        for (; i < full; i += 4) {
            unsigned a = VAL1[p[i]], b = VAL1[p[i + 1]], c = VAL1[p[i + 2]], d = VAL1[p[i + 3]];
            if (!a || !b || !c || !d)
                return gl_fail(err, "bad_base64", "invalid base64 data");
            uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
            o[0] = (unsigned char)(v >> 16);
            o[1] = (unsigned char)(v >> 8);
            o[2] = (unsigned char)v;
            o += 3;
        }
    } else {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, make_pairs);
    }
    for (; i < full; i += 4) {
        unsigned hi = PAIR[p[i] << 8 | p[i + 1]], lo = PAIR[p[i + 2] << 8 | p[i + 3]];
        if ((hi | lo) > 0xfff) /* either is PAIR_BAD */
            return gl_fail(err, "bad_base64", "invalid base64 data");
        uint32_t v = hi << 12 | lo;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o += 3;
    }
    size_t rest = body - full; /* 0, 2 or 3 characters: 1 or 2 bytes */
    if (rest) {
        uint32_t v = 0;
        for (size_t i = 0; i < 4; i++) {
            unsigned x = i < rest ? VAL1[p[full + i]] : 1; /* the missing padding: 0 bits */
            if (!x)
                return gl_fail(err, "bad_base64", "invalid base64 data");
            v = v << 6 | (x - 1);
        }
        o[0] = (unsigned char)(v >> 16);
        if (rest == 3)
            o[1] = (unsigned char)(v >> 8);
        o += rest - 1;
    }
    *outlen = (size_t)(o - out);
    return 0;
}

int gl_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen, gl_err *err)
{
    unsigned char *buf = gl_xmalloc(gl_b64_decoded_max(len));
    if (gl_b64_decode_into(in, len, buf, outlen, err) < 0) {
        free(buf);
        *out = NULL;
        return -1;
    }
    *out = buf;
    return 0;
}

size_t gl_b64_decoded_max(size_t len) { return len / 4 * 3 + 3; }

size_t gl_b64_decoded_len(const char *in, size_t len)
{
    while (len && (in[len - 1] == '=' || in[len - 1] == '\n' || in[len - 1] == '\r' ||
                   in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    return len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
}

char *gl_b64_encode(const void *data, size_t len)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    char *out = gl_xmalloc(4 * ((len + 2) / 3) + 1), *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = abc[v >> 18], *o++ = abc[v >> 12 & 63], *o++ = abc[v >> 6 & 63], *o++ = abc[v & 63];
    }
    if (i < len) { /* one or two bytes left: padded */
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        *o++ = abc[v >> 18], *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < len ? abc[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    *o = '\0';
    return out;
}
