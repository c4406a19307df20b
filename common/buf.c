#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"

void gl_buf_init(gl_buf *b, size_t limit)
{
    memset(b, 0, sizeof *b);
    b->limit = limit;
}

void gl_buf_free(gl_buf *b)
{
    free(b->data);
    size_t limit = b->limit;
    gl_buf_init(b, limit);
}

char *gl_buf_reserve(gl_buf *b, size_t len)
{
    if (b->limit && b->len + len > b->limit)
        return NULL;
    if (b->off + b->len + len > b->cap) {
        if (b->off) { /* compact first */
            memmove(b->data, b->data + b->off, b->len);
            b->off = 0;
        }
        if (b->len + len > b->cap) {
            size_t cap = b->cap ? b->cap : 256;
            while (cap < b->len + len)
                cap *= 2;
            b->data = gl_xrealloc(b->data, cap);
            b->cap = cap;
        }
    }
    return b->data + b->off + b->len;
}

void gl_buf_commit(gl_buf *b, size_t n) { b->len += n; }

int gl_buf_append(gl_buf *b, const void *data, size_t len)
{
    if (b->limit && b->len + len > b->limit)
        return -1;
    if (b->off + b->len + len > b->cap) {
        if (b->off) { /* compact first */
            memmove(b->data, b->data + b->off, b->len);
            b->off = 0;
        }
        if (b->len + len > b->cap) {
            size_t cap = b->cap ? b->cap : 256;
            while (cap < b->len + len)
                cap *= 2;
            b->data = gl_xrealloc(b->data, cap);
            b->cap = cap;
        }
    }
    if (len)
        memcpy(b->data + b->off + b->len, data, len);
    b->len += len;
    return 0;
}

void gl_buf_consume(gl_buf *b, size_t n)
{
    if (n >= b->len) {
        b->off = b->len = 0;
        return;
    }
    b->off += n;
    b->len -= n;
}

void gl_buf_reset(gl_buf *b) { b->off = b->len = 0; }
