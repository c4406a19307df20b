/* Live audio for glivectl through ALSA: the microphone (capture) and the speaker (playback), both
 * s16le mono. Nothing here blocks: the caller polls the devices' descriptors together with
 * gliveD's socket (audio_*_pollfds, then audio_*_ready), so neither stalls the other.
 *
 * Errors: code "audio" and one line naming the device, e.g.
 *   cannot open audio device "default": No such file or directory
 * An underrun while playback waits for the next chunk is normal and not reported. */
#ifndef GL_CLIENT_AUDIO_DEV_H
#define GL_CLIENT_AUDIO_DEV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AUDIO_DEFAULT_DEVICE "default"
#define AUDIO_MAX_FDS 8          /* descriptors one device may ask to be polled */
#define AUDIO_PLAY_MAX_S 300     /* the playback queue's bound, in seconds of audio */

typedef struct audio_mic audio_mic;
typedef struct audio_play audio_play;

/* ---- capture ------------------------------------------------------------------------------- */

/* Opens `device` for capture at *rate Hz, or at the nearest rate it takes (*rate is set to it),
 * and starts capturing. NULL with err. */
audio_mic *audio_mic_open(const char *device, unsigned *rate, gl_err *err);
void audio_mic_close(audio_mic *m);    /* NULL is fine */
/* Fills fds (at most max) with what to poll; returns how many. */
int audio_mic_pollfds(audio_mic *m, struct pollfd *fds, int max);
/* Takes the poll result of those n descriptors (some plugins need it). 0, or -1 with err. */
int audio_mic_ready(audio_mic *m, struct pollfd *fds, int n, gl_err *err);
/* Reads a chunk of `frames` samples into buf: 1 when it is complete, 0 when the device has no
 * more for now (the part read stays in buf: pass the same buf and frames again), -1 with err.
 * *lost (if not NULL) is set when an overrun lost audio. */
int audio_mic_read(audio_mic *m, int16_t *buf, size_t frames, bool *lost, gl_err *err);

/* ---- playback ------------------------------------------------------------------------------ */

/* Opens `device` for playback at exactly `rate` Hz (ALSA's plug layer converts when the hardware
 * needs it). NULL with err. */
audio_play *audio_play_open(const char *device, unsigned rate, gl_err *err);
/* Stops at once (what was not played is dropped) and closes. NULL is fine. */
void audio_play_close(audio_play *p);
unsigned audio_play_rate(const audio_play *p);
const char *audio_play_device(const audio_play *p);
/* Queues `bytes` of s16le samples and writes what the device takes now. The queue holds at most
 * AUDIO_PLAY_MAX_S seconds: what does not fit is dropped, and counted. Returns the frames
 * dropped (0 normally), or -1 with err. */
long audio_play_queue(audio_play *p, const void *pcm, size_t bytes, gl_err *err);
/* What to poll: the device's descriptors while something waits to be written, else none. */
int audio_play_pollfds(audio_play *p, struct pollfd *fds, int max);
/* Takes the poll result of those n descriptors and writes what the device takes. 0, or -1. */
int audio_play_ready(audio_play *p, struct pollfd *fds, int n, gl_err *err);
/* The end of an answer: plays what is queued even if it is less than the device waits for
 * before it starts. 0, or -1 with err. */
int audio_play_flush(audio_play *p, gl_err *err);
/* Barge-in: drops what is queued here and in the device, at once (snd_pcm_drop), and makes the
 * device ready for the next answer. Returns the milliseconds of audio dropped. */
unsigned audio_play_drop(audio_play *p);
/* Milliseconds of audio queued here or in the device and not yet played. */
unsigned audio_play_pending_ms(audio_play *p);
/* True when everything queued has been played. */
bool audio_play_idle(audio_play *p);

#endif
