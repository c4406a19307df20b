/* The "stream" step's messages (docs/emulator-script.md, "Streams"): one long model turn for
 * benchmarks, made one message at a time so that a million parts never sit in memory at once.
 * The model (model.c) decides what to stream (an EMU_ACT_STREAM action); the server (server.c)
 * paces it: as fast as the socket takes it, or at a fixed rate. This file only builds the bytes,
 * so clients can recompute them (bench/run.py checks a sha256 of what each client received). */
#ifndef EMU_STREAM_H
#define EMU_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_STREAM_AUDIO_MS 20      /* one inlineData message per 20 ms, as the service sends */
#define EMU_STREAM_AUDIO_CHUNK 960  /* bytes of 24 kHz s16le mono PCM in 20 ms */
#define EMU_STREAM_MSG_MAX 2048     /* the largest message emu_stream_msg writes */
/* Bounds of a stream's settings (script and prompt): a day of audio, 10^8 parts. */
#define EMU_STREAM_MAX_PARTS 100000000ULL
#define EMU_STREAM_MAX_MS 86400000ULL
#define EMU_STREAM_MAX_RATE 1000000ULL

typedef struct emu_stream {
    bool audio;      /* inlineData chunks (AUDIO session), else text parts */
    bool stamp;      /* text: each part carries its send time (CLOCK_MONOTONIC ns) */
    uint64_t count;  /* messages */
    unsigned rate;   /* messages per second; 0: as fast as the socket takes them */
} emu_stream;

/* Text of part i when not stamped: "%07u bench text, " (20 bytes while i < 10^7). Stamped:
 * "%07u@<ns> " with ns the CLOCK_MONOTONIC time it was made (the clock other processes read). */
size_t emu_stream_text(uint64_t i, bool stamp, uint64_t now_ns, char *buf, size_t len);
/* PCM of audio chunk i: 480 samples; sample k (counted from the stream's start) is
 * ((k * 7919) ^ (k >> 9)) & 0xFFFF, little-endian. Not a sound: a pattern in which a lost,
 * repeated or reordered chunk changes the sha256. */
void emu_stream_pcm(uint64_t i, unsigned char out[EMU_STREAM_AUDIO_CHUNK]);
/* Message i of the stream as the service would send it (a modelTurn with one part), JSON
 * without a NUL in buf (EMU_STREAM_MSG_MAX bytes); returns its length. */
size_t emu_stream_msg(const emu_stream *s, uint64_t i, uint64_t now_ns, char *buf);

#endif
