/* Realtime media types, base64 and SHA-256 (see media.h). */
#include "emulator/media.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"
#include "emulator/dsp.h"

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

unsigned emu_media_audio_rate(const char *mime)
{
    if (!mime || strncasecmp(mime, "audio/pcm", 9) != 0)
        return 0;
    const char *p = skip_spaces(mime + 9);
    if (!*p)
        return 16000; /* the documented input rate, assumed by the service for a bare type */
    if (*p != ';')
        return 0; /* "audio/pcmx", "audio/pcm rate" */
    p = skip_spaces(p + 1);
    if (strncasecmp(p, "rate", 4) != 0)
        return 0;
    p = skip_spaces(p + 4);
    if (*p != '=')
        return 0;
    p = skip_spaces(p + 1);
    unsigned long rate = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 7; p++, digits++)
        rate = rate * 10 + (unsigned long)(*p - '0');
    p = skip_spaces(p);
    if (!digits || *p || rate < EMU_RATE_MIN || rate > EMU_RATE_MAX)
        return 0;
    return (unsigned)rate;
}

bool emu_media_image_type(const char *mime)
{
    return mime && (!strcasecmp(mime, "image/jpeg") || !strcasecmp(mime, "image/png"));
}

bool emu_media_image_ok(const char *mime, const unsigned char *data, size_t len)
{
    static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF};
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (!mime)
        return false;
    if (!strcasecmp(mime, "image/jpeg"))
        return len >= sizeof jpeg && !memcmp(data, jpeg, sizeof jpeg);
    if (!strcasecmp(mime, "image/png"))
        return len >= sizeof png && !memcmp(data, png, sizeof png);
    return false;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

unsigned char *emu_base64_decode(const char *text, size_t n, size_t *len)
{
    while (n > 0 && text[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = gl_xmalloc(n / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *len = o;
    return out;
}

void emu_sha256_hex(const unsigned char *data, size_t len, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        mdlen = 0; /* only a broken libcrypto fails here: an empty hash shows it in the log */
    for (unsigned i = 0; i < mdlen && i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    hex[2 * (mdlen < 32 ? mdlen : 32)] = '\0';
}
