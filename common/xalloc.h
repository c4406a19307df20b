/* The one out-of-memory policy of gliveD (as tmux and redis do): allocation failure is fatal.
 * A daemon that cannot allocate a few hundred bytes cannot keep any promise anyway, and one
 * policy removes a hundred untested error branches. Every allocation goes through these, and
 * gl_xalloc_init() points jansson's allocator at them, so json_*() never fails for memory:
 * a NULL from json_pack() & co means a programming error (a bad format or a NULL string). */
#ifndef GL_XALLOC_H
#define GL_XALLOC_H

#include <stddef.h>

void *gl_xmalloc(size_t n);
void *gl_xcalloc(size_t nmemb, size_t size);
void *gl_xrealloc(void *p, size_t n);
char *gl_xstrdup(const char *s);
char *gl_xstrndup(const char *s, size_t n);
/* Every program calls this first in main(): jansson allocates through gl_xmalloc. */
void gl_xalloc_init(void);

#endif
