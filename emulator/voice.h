/* Recognition of spoken input: the emulator "understands" exactly the phrases of the recordings
 * it embeds (tests/data/voice-*.wav, made by tests/data/make-voices.sh), whatever happened to
 * them on the way: resampled (even through a telephone band), cut into chunks of any size, with
 * silence around them, louder or softer, with a little noise.
 *
 * The fingerprint of a stretch of audio is its sequence of 20 ms frames (emulator/dsp.h) from
 * the first to the last frame within EMU_VOICE_TRIM_BELOW dB of the loudest (in the voice bands),
 * and its six profiles: the level in 100..3400 Hz and the level in each of five bands (formant
 * regions), each in dB below its own loudest frame, floored at -40. Relative levels make a gain
 * irrelevant; bands below 3.4 kHz make any rate from 8 kHz up look alike. Two fingerprints are
 * compared at every shift of up to +-200 ms; at each shift both are extended to the span they
 * cover together with silence (so a length mismatch costs), and the similarity is the best mean
 * over the six profiles of their Pearson correlations. Each recording is fingerprinted at four
 * sub-frame offsets (0, 5, 10, 15 ms), so where the client's frames happen to fall does not
 * matter.
 *
 * A turn is recognised as the best recording when its similarity reaches EMU_VOICE_THRESHOLD
 * and beats the runner-up by EMU_VOICE_MARGIN. Measured (tests/unit/test_model.c): the same
 * recording after any of those changes scores 0.97 to 1.0 (0.91 at -20 dB), another recording
 * at most 0.19, an unknown phrase 0.17, a recording played backwards at most 0.52. */
#ifndef EMU_VOICE_H
#define EMU_VOICE_H

#include <stddef.h>
#include <stdint.h>

#include "emulator/dsp.h"

#define EMU_VOICE_TRIM_BELOW 25.0 /* a fingerprint spans the frames within this many dB of */
#define EMU_VOICE_TRIM_DB (-55.0) /* its loudest (voice bands), and at least this loud */
#define EMU_VOICE_THRESHOLD 0.75
#define EMU_VOICE_MARGIN 0.15

typedef struct emu_voice_match {
    int voice;     /* the recognised recording, or -1 */
    int best;      /* the most similar recording, recognised or not (-1: none at all) */
    double score;  /* its similarity, -1..1 */
    double second; /* the runner-up's similarity (-1 if there is none) */
} emu_voice_match;

/* The embedded recordings, in a fixed order. */
size_t emu_voice_count(void);
const char *emu_voice_name(size_t i);   /* "hello", "lights", "palindrome", "stop" */
const char *emu_voice_phrase(size_t i); /* what it says, e.g. "Turn on the lights" */
/* The recording's samples and rate (for tests); NULL if its WAV could not be read. */
const int16_t *emu_voice_pcm(size_t i, size_t *n, unsigned *rate);

/* Similarity of two frame sequences (each trimmed as described above first). */
double emu_voice_similarity(const emu_frame *a, size_t na, const emu_frame *b, size_t nb);

/* Recognises a turn from its frames (any leading and trailing silence is trimmed here). */
void emu_voice_match_frames(const emu_frame *f, size_t n, emu_voice_match *out);

/* Fingerprint frames of a whole buffer, the way emulator/hear.c frames a stream; *n gets the count, free() the result. offset: samples
 * skipped first. For tests and the references. */
emu_frame *emu_voice_frames(const int16_t *pcm, size_t len, unsigned rate, size_t offset,
                            size_t *n);

#endif
