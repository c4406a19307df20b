/* A growable byte buffer with a hard upper bound: a peer can never make it grow past `limit`. */
#ifndef GL_BUF_H
#define GL_BUF_H

#include <stddef.h>

typedef struct gl_buf {
    char *data;
    size_t len;   /* bytes held, starting at data[off] */
    size_t off;   /* consumed prefix not yet compacted */
    size_t cap;
    size_t limit; /* hard bound on len; 0 = no bound (only for data we produce ourselves) */
} gl_buf;

void gl_buf_init(gl_buf *b, size_t limit);
void gl_buf_free(gl_buf *b);
/* Appends; returns -1 (and appends nothing) only if it would pass the limit, so with limit 0 it
 * cannot fail (out of memory aborts: common/xalloc.h). */
int gl_buf_append(gl_buf *b, const void *data, size_t len);
/* Room for n more bytes at the end, for a writer that fills it directly: returns where they go
 * (then gl_buf_commit the bytes actually written), or NULL if n more would pass the limit. */
char *gl_buf_reserve(gl_buf *b, size_t n);
void gl_buf_commit(gl_buf *b, size_t n);
/* Start of the unconsumed bytes. */
static inline char *gl_buf_head(const gl_buf *b) { return b->data + b->off; }
/* Drops n bytes from the front. */
void gl_buf_consume(gl_buf *b, size_t n);
void gl_buf_reset(gl_buf *b);

#endif
