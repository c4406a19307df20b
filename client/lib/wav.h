/* WAV (RIFF/WAVE, PCM) output for glivectl: a 44-byte header, then the samples; the sizes in the
 * header are patched when the file is finished, so the header always matches the PCM written. */
#ifndef GL_CLIENT_WAV_H
#define GL_CLIENT_WAV_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/err.h"

#define GL_WAV_HEADER_LEN 44
#define GL_WAV_DEFAULT_RATE 24000

/* Fills the canonical 44-byte header for integer PCM: "RIFF" size "WAVE" "fmt " 16 format=1
 * channels rate byte_rate block_align bits "data" data_bytes. The RIFF size counts the pad byte
 * RIFF requires after an odd-sized data chunk. */
void gl_wav_header(uint8_t out[GL_WAV_HEADER_LEN], uint32_t rate, uint16_t channels,
                   uint16_t bits, uint32_t data_bytes);

/* Parses the rate of a mime type like "audio/pcm;rate=24000" (also "audio/pcm; rate=16000").
 * Returns `dflt` when there is no usable rate parameter. */
uint32_t gl_wav_mime_rate(const char *mime, uint32_t dflt);

typedef struct gl_wav {
    FILE *f;          /* owned */
    char *path;       /* owned, for messages */
    uint32_t rate;
    uint16_t channels, bits;
    uint64_t data_bytes;
    bool rate_set;    /* the rate came from the first chunk's mime */
} gl_wav;

/* Creates (truncates) path and writes a provisional header (s16le mono, GL_WAV_DEFAULT_RATE,
 * zero sizes). Error code "io". */
int gl_wav_open(gl_wav *w, const char *path, gl_err *err);
/* The stream's rate: only the first call counts (returns 1 if a later call disagrees, else 0). */
int gl_wav_set_rate(gl_wav *w, uint32_t rate);
/* Appends samples. Error "io" (also when the data would pass the 4 GiB RIFF limit). */
int gl_wav_write(gl_wav *w, const void *pcm, size_t len, gl_err *err);
/* Pads an odd data chunk, rewrites the header with the final sizes and rate, closes the file.
 * Always releases everything; returns -1 if a write failed. Safe on a closed/zeroed gl_wav. */
int gl_wav_close(gl_wav *w, gl_err *err);

/* Reads a whole WAV file (RIFF/WAVE, integer PCM, 16 bits, 1 or 2 channels: stereo is
 * downmixed) of at most max_bytes of samples. *pcm (malloc'd) gets s16 mono samples, *n their
 * count, *rate the file's rate. Error code "bad_wav" naming what is wrong, or "io". */
int gl_wav_load(FILE *f, size_t max_bytes, int16_t **pcm, size_t *n, uint32_t *rate, gl_err *err);

#endif
