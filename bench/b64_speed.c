/* b64_speed: the base64 decoders glivectl could use, timed on what it decodes most: a 20 ms
 * audio chunk of the Live API (960 bytes of PCM, 1,280 characters). Written to choose the
 * decoder of client/lib/b64.c by measurement (the project prefers library code where it is
 * as fast): OpenSSL's EVP_DecodeBlock and EVP_DecodeUpdate/Final, libglive's table decoder
 * (two characters a lookup) and its AVX2 bulk (where the CPU has it). Every decoder's output is
 * checked against the PCM before it is timed.
 *
 *   build/bench/b64_speed [ROUNDS]      (default 200,000 chunks per decoder, best of 5)
 *
 * Prints one line per decoder: ns per chunk and MB/s of base64. On the bench machine (2 vCPUs,
 * Intel Xeon, gcc -O2, OpenSSL 3.0.19), ns per chunk: EVP_DecodeBlock 431, EVP_DecodeUpdate
 * 2,065, the table 369, AVX2 65. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/lib/b64.h"
#include "common/err.h"

#define PCM 960
#define CHARS 1280

static unsigned char pcm[PCM], out[PCM + 64];
static char b64[CHARS + 1];
static volatile size_t sink;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static size_t evp_block(void)
{
    return (size_t)EVP_DecodeBlock(out, (const unsigned char *)b64, CHARS);
}

static size_t evp_update(void)
{
    static EVP_ENCODE_CTX *ctx;
    if (!ctx)
        ctx = EVP_ENCODE_CTX_new();
    EVP_DecodeInit(ctx);
    int n = 0, m = 0;
    if (EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)b64, CHARS) < 0 ||
        EVP_DecodeFinal(ctx, out + n, &m) < 0)
        return 0;
    return (size_t)(n + m);
}

static size_t ours(void)
{
    size_t n = 0;
    gl_err err;
    return gl_b64_decode_into(b64, CHARS, out, &n, &err) == 0 ? n : 0;
}

static size_t table(void)
{
    gl_b64_use_simd(false);
    size_t n = ours();
    gl_b64_use_simd(true);
    return n;
}

static void run(const char *name, size_t (*dec)(void), long rounds)
{
    memset(out, 0, sizeof out);
    if (dec() != PCM || memcmp(out, pcm, PCM) != 0) {
        printf("%-18s wrong output\n", name);
        return;
    }
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();
        for (long i = 0; i < rounds; i++)
            sink += dec();
        double t = (now_ns() - t0) / (double)rounds;
        if (t < best)
            best = t;
    }
    printf("%-18s %8.1f ns/chunk  %7.0f MB/s\n", name, best, CHARS / best * 1e3);
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 200000;
    for (size_t k = 0; k < PCM / 2; k++) { /* the emulator's stream samples (emulator/stream.c) */
        uint16_t v = (uint16_t)((k * 7919) ^ (k >> 9));
        pcm[2 * k] = (unsigned char)v;
        pcm[2 * k + 1] = (unsigned char)(v >> 8);
    }
    EVP_EncodeBlock((unsigned char *)b64, pcm, PCM);
    printf("decoding %d characters of base64 (%d bytes of PCM), best of 5 x %ld\n", CHARS, PCM,
           rounds);
    run("EVP_DecodeBlock", evp_block, rounds);
    run("EVP_DecodeUpdate", evp_update, rounds);
    run("libglive table", table, rounds);
    run("libglive (AVX2)", ours, rounds);
    return 0;
}
