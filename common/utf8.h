/* UTF-8 validation by Jansson's rules, for the code that checks or copies JSON strings without
 * Jansson (the fast path, the output escaper): both must accept exactly what Jansson accepts. */
#ifndef GL_UTF8_H
#define GL_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence at s, n > 0 bytes left, or 0 if invalid: no overlong
 * forms, no surrogates, nothing past U+10FFFF. An ASCII byte is 1. */
size_t gl_utf8_len(const unsigned char *s, size_t n);

#endif
