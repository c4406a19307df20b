/* Media a local client streams in: base64 checked and decoded, microphone PCM resampled to the
 * 16 kHz the Live API takes. The resampler is libsoxr's (a band-limiting polyphase filter:
 * dropping or repeating samples would alias, and a hand-written filter is a solved problem
 * done worse). It streams: state is kept between chunks, so chunk edges add no clicks. */
#ifndef GLD_MEDIA_H
#define GLD_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define GLD_AUDIO_RATE 16000     /* what the Live API takes (audio/pcm;rate=16000) */
#define GLD_AUDIO_RATE_MIN 8000
#define GLD_AUDIO_RATE_MAX 192000

/* Standard base64 (with padding) -> bytes appended to out. bad_request naming `what` if it is
 * not base64. */
int gld_b64_decode(const char *b64, size_t len, gl_buf *out, const char *what, gl_err *err);
/* bytes -> standard base64, NUL-terminated, appended to out. */
void gld_b64_encode(const void *data, size_t len, gl_buf *out);

typedef struct gld_resampler gld_resampler;
/* s16le mono from in_rate (GLD_AUDIO_RATE_MIN..MAX) to GLD_AUDIO_RATE. */
gld_resampler *gld_resampler_new(unsigned in_rate, gl_err *err);
unsigned gld_resampler_rate(const gld_resampler *r);
/* Resamples n samples; what is ready is appended to out (s16le). */
int gld_resampler_feed(gld_resampler *r, const int16_t *in, size_t n, gl_buf *out, gl_err *err);
/* The end of the stream: the filter's tail is appended to out; r is then fresh again. */
int gld_resampler_flush(gld_resampler *r, gl_buf *out, gl_err *err);
void gld_resampler_free(gld_resampler *r);

#endif
