/* The media a client may stream in realtimeInput (audio, video frames): which MIME types the
 * emulator takes, and the decoding and fingerprinting of their bytes. */
#ifndef EMU_MEDIA_H
#define EMU_MEDIA_H

#include <stdbool.h>
#include <stddef.h>

/* realtimeInput.audio: "audio/pcm" with an optional ";rate=N" (spaces around ';' and '=' and
 * any case allowed; no other parameter). Without a rate the service assumes 16000, and so does
 * this. Returns the rate, or 0 if the type is not PCM or the rate is not an integer in
 * EMU_RATE_MIN..EMU_RATE_MAX. */
unsigned emu_media_audio_rate(const char *mime);

/* realtimeInput.video: "image/jpeg" or "image/png" (any case). */
bool emu_media_image_type(const char *mime);
/* Whether data starts like an image of that type (JPEG: FF D8 FF; PNG: its 8-byte signature),
 * which is as far as the emulator decodes it. */
bool emu_media_image_ok(const char *mime, const unsigned char *data, size_t len);

/* Decodes base64 (standard or URL-safe alphabet, padding optional: what the strict parser
 * accepts). Returns a malloc'd buffer (never NULL; free it) and sets *len, or NULL if the text
 * is not base64. */
unsigned char *emu_base64_decode(const char *text, size_t textlen, size_t *len);

/* Lowercase hex SHA-256 of data into hex (65 bytes). */
void emu_sha256_hex(const unsigned char *data, size_t len, char hex[65]);

#endif
