#include "client/lib/b64.h"

#include <limits.h>
#include <pthread.h>
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

int gl_b64_decode_into(const char *in, size_t len, unsigned char *out, size_t *outlen, gl_err *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, make_pairs);
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
    size_t full = body / 4 * 4;
    for (size_t i = 0; i < full; i += 4) {
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
