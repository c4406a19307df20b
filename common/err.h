/* The one error idiom of gliveD: a fallible function returns 0 on success and -1 on failure,
 * and on failure fills the caller's gl_err with a short machine code and a human message. */
#ifndef GL_ERR_H
#define GL_ERR_H

#include <stddef.h>

#define GL_ERR_MSG 256

typedef struct gl_err {
    char code[32];          /* stable, machine-readable: "bad_request", "tls", "io"... */
    char msg[GL_ERR_MSG];   /* one line for humans, never containing secrets */
} gl_err;

/* Fills err (may be NULL) and returns -1, so callers can write `return gl_fail(err, ...)`. */
int gl_fail(gl_err *err, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
