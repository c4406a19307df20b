/* Deterministic speech stand-in for the emulator: PCM s16le mono 24 kHz, a short tone per word
 * (pitch from the word, attack/release envelope), silence for spaces and punctuation. Every
 * character (UTF-8 code point) lasts exactly EMU_AUDIO_MS_PER_CHAR, so the length of the audio
 * is a function of the text: emu_audio_len(text) == emu_audio_chars(text) * 2880 bytes. */
#ifndef EMU_AUDIO_H
#define EMU_AUDIO_H

#include <stddef.h>

#define EMU_AUDIO_RATE 24000
#define EMU_AUDIO_MS_PER_CHAR 60
#define EMU_AUDIO_SAMPLES_PER_CHAR (EMU_AUDIO_RATE / 1000 * EMU_AUDIO_MS_PER_CHAR) /* 1440 */
#define EMU_AUDIO_BYTES_PER_CHAR (2 * EMU_AUDIO_SAMPLES_PER_CHAR)                   /* 2880 */
#define EMU_AUDIO_CHUNK 9600 /* bytes per inlineData message: 200 ms */
#define EMU_AUDIO_MIME "audio/pcm;rate=24000"

/* UTF-8 code points in text (invalid bytes count one each). */
size_t emu_audio_chars(const char *text);
/* Bytes of PCM emu_audio_synth produces for text. */
size_t emu_audio_len(const char *text);
/* Synthesizes text; returns a malloc'd buffer of *len bytes (little-endian samples), or NULL
 * (with *len = 0) when the text is empty. */
unsigned char *emu_audio_synth(const char *text, size_t *len);

/* Standard base64 (no newlines) of data, NUL-terminated, malloc'd; NULL only if len is too
 * large for EVP_EncodeBlock (over INT32_MAX / 2). */
char *emu_base64(const unsigned char *data, size_t len);

#endif
