#include "client/lib/wav.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/xalloc.h"

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void gl_wav_header(uint8_t out[GL_WAV_HEADER_LEN], uint32_t rate, uint16_t channels,
                   uint16_t bits, uint32_t data_bytes)
{
    uint16_t align = (uint16_t)(channels * ((bits + 7) / 8));
    memcpy(out, "RIFF", 4);
    put32(out + 4, 36 + data_bytes + (data_bytes & 1));
    memcpy(out + 8, "WAVE", 4);
    memcpy(out + 12, "fmt ", 4);
    put32(out + 16, 16);   /* fmt chunk size */
    put16(out + 20, 1);    /* PCM */
    put16(out + 22, channels);
    put32(out + 24, rate);
    put32(out + 28, rate * align);
    put16(out + 32, align);
    put16(out + 34, bits);
    memcpy(out + 36, "data", 4);
    put32(out + 40, data_bytes);
}

uint32_t gl_wav_mime_rate(const char *mime, uint32_t dflt)
{
    if (!mime)
        return dflt;
    const char *p = strchr(mime, ';');
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncasecmp(p, "rate=", 5) == 0) {
            p += 5;
            if (!isdigit((unsigned char)*p))
                return dflt;
            char *end;
            errno = 0;
            unsigned long v = strtoul(p, &end, 10);
            if (errno || v == 0 || v > 1000000 || (*end && *end != ';' && *end != ' '))
                return dflt;
            return (uint32_t)v;
        }
        p = strchr(p, ';');
    }
    return dflt;
}

int gl_wav_open(gl_wav *w, const char *path, gl_err *err)
{
    memset(w, 0, sizeof *w);
    w->rate = GL_WAV_DEFAULT_RATE;
    w->channels = 1;
    w->bits = 16;
    w->f = fopen(path, "wb");
    if (!w->f)
        return gl_fail(err, "io", "cannot create %s: %s", path, strerror(errno));
    w->path = gl_xstrdup(path);
    uint8_t h[GL_WAV_HEADER_LEN];
    gl_wav_header(h, w->rate, w->channels, w->bits, 0);
    if (fwrite(h, 1, sizeof h, w->f) != sizeof h) {
        int e = errno;
        fclose(w->f);
        free(w->path);
        memset(w, 0, sizeof *w);
        return gl_fail(err, "io", "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}

int gl_wav_set_rate(gl_wav *w, uint32_t rate)
{
    if (!w->rate_set) {
        w->rate = rate;
        w->rate_set = true;
        return 0;
    }
    return w->rate != rate;
}

int gl_wav_write(gl_wav *w, const void *pcm, size_t len, gl_err *err)
{
    if (!w->f)
        return gl_fail(err, "io", "WAV file is not open");
    if (w->data_bytes + len > UINT32_MAX - 64)
        return gl_fail(err, "io", "%s: audio passes the 4 GiB WAV limit", w->path);
    if (len && fwrite(pcm, 1, len, w->f) != len)
        return gl_fail(err, "io", "cannot write %s: %s", w->path, strerror(errno));
    w->data_bytes += len;
    return 0;
}

int gl_wav_close(gl_wav *w, gl_err *err)
{
    if (!w->f) {
        free(w->path);
        w->path = NULL;
        return 0;
    }
    int rc = 0;
    int e = 0;
    uint8_t h[GL_WAV_HEADER_LEN];
    gl_wav_header(h, w->rate, w->channels, w->bits, (uint32_t)w->data_bytes);
    if ((w->data_bytes & 1) && fputc(0, w->f) == EOF)
        rc = -1, e = errno;
    if (rc == 0 && fseek(w->f, 0, SEEK_SET) != 0) {
        if (errno != ESPIPE) /* a pipe (e.g. /dev/stdout): the sizes cannot be patched */
            rc = -1, e = errno;
    } else if (rc == 0 && fwrite(h, 1, sizeof h, w->f) != sizeof h)
        rc = -1, e = errno;
    if (fclose(w->f) != 0 && rc == 0)
        rc = -1, e = errno;
    if (rc < 0)
        gl_fail(err, "io", "cannot finish %s: %s", w->path ? w->path : "WAV file", strerror(e));
    free(w->path);
    memset(w, 0, sizeof *w);
    return rc;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

int gl_wav_load(FILE *f, size_t max_bytes, int16_t **pcm, size_t *n, uint32_t *rate, gl_err *err)
{
    uint8_t h[12];
    if (fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0)
        return gl_fail(err, "bad_wav", "not a WAV file (no RIFF/WAVE header)");
    uint16_t fmt = 0, channels = 0, bits = 0;
    *rate = 0;
    for (;;) { /* chunks: "fmt " before "data"; others (LIST, fact) skipped */
        uint8_t ch[8];
        if (fread(ch, 1, 8, f) != 8)
            return gl_fail(err, "bad_wav", "no \"data\" chunk");
        uint32_t size = le32(ch + 4);
        if (memcmp(ch, "fmt ", 4) == 0) {
            uint8_t b[40];
            if (size < 16 || size > sizeof b || fread(b, 1, size, f) != size)
                return gl_fail(err, "bad_wav", "a bad \"fmt \" chunk");
            fmt = le16(b), channels = le16(b + 2), *rate = le32(b + 4), bits = le16(b + 14);
            if (fmt == 0xfffe && size >= 26) /* WAVE_FORMAT_EXTENSIBLE: the subformat says */
                fmt = le16(b + 24);
            if (size & 1)
                fgetc(f);
            continue;
        }
        if (memcmp(ch, "data", 4) != 0) {
            if (fseek(f, (long)size + (size & 1), SEEK_CUR) != 0)
                return gl_fail(err, "bad_wav", "a truncated chunk");
            continue;
        }
        if (fmt != 1 || bits != 16 || (channels != 1 && channels != 2) || !*rate)
            return gl_fail(err, "bad_wav", "only 16-bit integer PCM, mono or stereo, is read (this "
                           "file: format %u, %u bits, %u channels)", fmt, bits, channels);
        if (size > max_bytes)
            return gl_fail(err, "bad_wav", "%u bytes of samples: more than the %zu read at once",
                           size, max_bytes);
        uint8_t *raw = gl_xmalloc(size ? size : 1);
        size_t got = fread(raw, 1, size, f); /* a file cut short keeps what it has */
        size_t frames = got / (2u * channels);
        int16_t *out = gl_xmalloc((frames ? frames : 1) * sizeof *out);
        for (size_t i = 0; i < frames; i++) {
            int a = (int16_t)le16(raw + i * 2 * channels);
            int b = channels == 2 ? (int16_t)le16(raw + i * 4 + 2) : a;
            out[i] = (int16_t)((a + b) / 2); /* stereo: the mean of the two channels */
        }
        free(raw);
        *pcm = out;
        *n = frames;
        return 0;
    }
}
