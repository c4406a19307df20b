#include "common/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* No stdio (it may allocate): one write, then abort for a core dump. */
static void out_of_memory(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof msg, "fatal: out of memory (allocating %zu bytes)\n", n);
    if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0) { /* nothing left to try */ }
    abort();
}

void *gl_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *gl_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        out_of_memory(nmemb * size);
    return p;
}

void *gl_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

char *gl_xstrdup(const char *s)
{
    return gl_xstrndup(s, strlen(s));
}

char *gl_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = gl_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void gl_xalloc_init(void)
{
    json_set_alloc_funcs(gl_xmalloc, free);
}
