/* The emulator's offline stand-in for Google Search: a few small documents, ranked by how many
 * distinct query words they contain. Deterministic: ties go to the earlier document. */
#ifndef EMU_CORPUS_H
#define EMU_CORPUS_H

#include <stddef.h>

typedef struct emu_doc {
    const char *uri;
    const char *title; /* the site, as the real service titles grounding chunks */
    const char *text;
} emu_doc;

size_t emu_corpus_size(void);
const emu_doc *emu_corpus_doc(size_t i);

/* Ranks the corpus for query; writes up to max document indices (best first, score > 0 only)
 * into idx and their scores into scores (may be NULL). Returns how many. */
size_t emu_corpus_search(const char *query, size_t *idx, unsigned *scores, size_t max);

#endif
