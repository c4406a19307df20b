/* Signal analysis of the PCM the emulator hears (realtimeInput audio: s16le mono at any rate
 * the service takes). Three pieces, each usable alone (tests/unit/test_model.c tests them):
 *   - an FFT and a Goertzel filter;
 *   - a streaming average power spectrum (Welch's method), whose peak is the "dominant
 *     frequency" that /emulator/log reports for every heard turn;
 *   - the features of one 20 ms frame (its level, and its levels in five voice bands), from
 *     which emulator/hear.c detects speech and emulator/voice.c recognises recordings.
 * Nothing here depends on how the audio was cut into messages: the spectrum and the frames are
 * fed sample by sample in effect, whatever the chunk sizes. */
#ifndef EMU_DSP_H
#define EMU_DSP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The input sample rates the emulator takes (audio/pcm;rate=N): telephony to studio. */
#define EMU_RATE_MIN 8000
#define EMU_RATE_MAX 48000
#define EMU_FRAME_MS 20
#define EMU_FRAME_MAX (EMU_RATE_MAX / (1000 / EMU_FRAME_MS) + 1) /* samples in one frame, at most */

/* In-place iterative radix-2 complex DFT: X[k] = sum x[j] e^(-2 pi i jk/n), no scaling. n must be
 * a power of two (>= 1). */
void emu_fft(double *re, double *im, size_t n);

/* |X(hz)|^2 / n^2 of n samples at rate, by the Goertzel recurrence (any hz, not only bins):
 * a full-scale sine at hz gives about 0.25. */
double emu_goertzel(const int16_t *pcm, size_t n, unsigned rate, double hz);

/* Average power spectrum of a stream: Hann-windowed blocks of `n` samples (the power of two at
 * or above rate/4, so bins are at most 4 Hz apart), each block's mean removed, block spectra
 * summed. Memory is fixed by the rate, whatever the length of the stream. */
typedef struct emu_spectrum {
    unsigned rate;        /* 0: not set up */
    size_t n;             /* block length */
    double *acc;          /* n/2 + 1 summed power values */
    float *block;         /* the block being filled */
    size_t fill;
    unsigned long blocks; /* blocks summed */
    double energy;        /* sum of squared samples (full scale = 1) */
    uint64_t samples;
} emu_spectrum;

/* Sets s up for rate (EMU_RATE_MIN..EMU_RATE_MAX), empty; a previous setup is freed first. */
void emu_spectrum_init(emu_spectrum *s, unsigned rate);
void emu_spectrum_reset(emu_spectrum *s); /* empty again, same rate */
void emu_spectrum_free(emu_spectrum *s);
void emu_spectrum_add(emu_spectrum *s, const int16_t *pcm, size_t n);
/* The frequency (Hz) of the strongest component at or above 40 Hz, refined between bins by
 * interpolating the log power of the peak and its neighbours (a Hann window makes a tone's peak
 * nearly Gaussian, which this fits exactly); 0 if the stream is silent (RMS below 1 LSB) or
 * empty. A partial last block counts when it is the only one or at least a quarter long. */
double emu_spectrum_peak_hz(emu_spectrum *s);

/* The dominant frequency of a whole buffer (emu_spectrum over it). */
double emu_dominant_hz(const int16_t *pcm, size_t n, unsigned rate);

/* The bands a fingerprint looks at (Hz): voicing, first formant, second formant, upper
 * formants. They stop at 3.4 kHz, below the Nyquist frequency of every rate taken, so audio
 * that went through a telephone-band resampler (8 kHz) and audio that did not look alike. */
#define EMU_BANDS 5
#define EMU_BAND_EDGES {100.0, 300.0, 700.0, 1300.0, 2200.0, 3400.0}

/* One frame's features. Levels are mean power in dB relative to full scale (a full-scale
 * square wave is 0 dBFS), -100 for nothing. */
typedef struct emu_frame {
    float db;              /* the whole frame, as received: activity detection */
    float voice_db;        /* within 100..3400 Hz */
    float band[EMU_BANDS]; /* within each band */
} emu_frame;

/* Features of n samples (n <= EMU_FRAME_MAX), the bands from a Hann-windowed FFT. */
emu_frame emu_frame_of(const int16_t *pcm, size_t n, unsigned rate);

#endif
