/* Base64 decoding (standard alphabet, as the Live API sends inlineData) for glivectl. */
#ifndef GL_CLIENT_B64_H
#define GL_CLIENT_B64_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Decodes len bytes of base64. Padding is optional ("QQ==" and "QQ" both give "A"); trailing
 * whitespace is ignored. *out is malloc'd (the caller frees it; never NULL on success, even for
 * an empty input) and *outlen is the exact decoded length. Error code "bad_base64". */
int gl_b64_decode(const char *in, size_t len, unsigned char **out, size_t *outlen, gl_err *err);

/* Standard base64 with padding, NUL-terminated, malloc'd. */
char *gl_b64_encode(const void *data, size_t len);
/* The same into out, which must hold gl_b64_decoded_max(len) bytes (no allocation). */
int gl_b64_decode_into(const char *in, size_t len, unsigned char *out, size_t *outlen, gl_err *err);
size_t gl_b64_decoded_max(size_t len);
/* Whether gl_b64_decode_into may use the CPU's vector instructions (AVX2 on x86-64) for the
 * bulk (default true; the results are the same either way): false for the table alone, for
 * tests and bench/b64_speed. Returns the previous setting. Not thread-safe. */
bool gl_b64_use_simd(bool on);

/* Bytes that len chars of (well-formed) base64 decode to, without decoding (for display). */
size_t gl_b64_decoded_len(const char *in, size_t len);

#endif
