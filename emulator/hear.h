/* The emulator's ears: cuts the realtimeInput audio of one connection into user turns, the way
 * the service's activity detection does, and sums each turn up (length, rate, dominant
 * frequency, which recording it was). Pure logic: no sockets, no clocks. All time here is AUDIO
 * time (samples received / rate), never wall time, so the same audio gives the same turns
 * however fast it is sent and however it is cut into messages.
 *
 * Automatic activity detection (the default): a 20 ms frame is speech when its level reaches
 * speech_db. prefix_ms of consecutive speech start a turn (EMU_HEAR_START: the server barges in
 * on its own answer there); silence_ms of consecutive non-speech end it (EMU_HEAR_END), as does
 * audioStreamEnd (emu_hear_stream_end). A turn's audio is everything received since the previous
 * turn ended, so the byte counts of all turns add up to what the client sent.
 *
 * Manual (automaticActivityDetection.disabled): activityStart and activityEnd delimit a turn,
 * whatever it contains; audio outside them is not part of any turn (TURN_INCLUDES_ONLY_ACTIVITY).
 *
 * Memory is bounded whatever the client sends: recognition keeps at most EMU_HEAR_MAX_FRAMES
 * frames of a turn (longer turns are marked truncated), the spectrum is fixed-size, and between
 * turns only a short pre-roll of frames is kept. */
#ifndef EMU_HEAR_H
#define EMU_HEAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emulator/dsp.h"
#include "emulator/voice.h"

#define EMU_HEAR_MAX_FRAMES 1500 /* 30 s of audio kept per turn for recognition (42 KB) */
#define EMU_HEAR_PREROLL 25      /* frames (500 ms) kept before speech starts */

typedef struct emu_hear_cfg {
    bool manual;        /* turns are delimited by activityStart / activityEnd */
    double speech_db;   /* frames at or above this level (dBFS) are speech */
    unsigned prefix_ms; /* speech needed to start a turn (rounded up to whole frames, >= 1) */
    unsigned silence_ms; /* silence that ends a turn */
} emu_hear_cfg;

/* A finished turn. */
typedef struct emu_heard {
    unsigned rate;        /* its (last) sample rate */
    uint64_t bytes;       /* PCM bytes */
    unsigned duration_ms; /* their length in time */
    unsigned speech_ms;   /* from the first speech frame to the end of the last one; 0: none */
    double dominant_hz;   /* strongest frequency of the turn's audio; 0: silent */
    bool truncated;       /* longer than recognition keeps */
    emu_voice_match match;
} emu_heard;

typedef enum {
    EMU_HEAR_NOTHING,
    EMU_HEAR_START, /* a turn started (automatic detection only) */
    EMU_HEAR_END,   /* a turn ended (automatic detection only); *out describes it */
} emu_hear_event;

typedef struct emu_hear emu_hear;

emu_hear *emu_hear_new(const emu_hear_cfg *cfg);
void emu_hear_free(emu_hear *h);

/* Feeds s16le PCM at rate (EMU_RATE_MIN..EMU_RATE_MAX). Chunks may have any length, odd ones
 * included: a trailing odd byte waits for the next chunk (a change of rate drops it). Stops
 * right after the first event and returns the bytes consumed (len if there was no event); call
 * again with the rest. */
size_t emu_hear_feed(emu_hear *h, const uint8_t *data, size_t len, unsigned rate,
                     emu_hear_event *ev, emu_heard *out);

/* Whether a turn is in progress (automatic: speech started and has not ended; manual: between
 * activityStart and activityEnd). */
bool emu_hear_in_turn(const emu_hear *h);

/* audioStreamEnd (automatic detection): ends the turn in progress, if any (true, *out set);
 * otherwise the silence received since the last turn is forgotten. */
bool emu_hear_stream_end(emu_hear *h, emu_heard *out);

/* Manual turns. A second activityStart keeps the turn open; activityEnd without a start
 * returns false. */
void emu_hear_activity_start(emu_hear *h);
bool emu_hear_activity_end(emu_hear *h, emu_heard *out);

#endif
