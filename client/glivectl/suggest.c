#include "client/glivectl/suggest.h"

#include <ctype.h>
#include <string.h>

size_t gl_edit_distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen > GL_SUGGEST_MAX_LEN || blen > GL_SUGGEST_MAX_LEN)
        return (size_t)-1;
    /* Three rows of the dynamic programme are enough: the swap looks two rows back. */
    size_t rows[3][GL_SUGGEST_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = j;
    for (size_t i = 1; i <= alen; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = prev[j - 1] + (ca != cb);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen];
}

/* How many edits a word of this length may carry and still be recognised: a short word with
 * two wrong letters is more likely another word altogether. Leading dashes do not count. */
static size_t tolerance(const char *word, size_t wlen)
{
    size_t dashes = 0;
    while (dashes < wlen && word[dashes] == '-')
        dashes++;
    size_t len = wlen - dashes;
    return len <= 4 ? 1 : len <= 8 ? 2 : 3;
}

const char *gl_suggest(const char *word, size_t wlen, const char *const *names, size_t n)
{
    const char *prefix_of = NULL;
    size_t prefixes = 0;
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        size_t len = strlen(names[i]);
        if (len == wlen && strncmp(names[i], word, wlen) == 0)
            return NULL;
        /* "--" or "-" alone is a prefix of every option: not a hint */
        if (len > wlen && strncmp(names[i], word, wlen) == 0 && strspn(word, "-") < wlen) {
            if (!prefix_of || strcmp(prefix_of, names[i]) != 0)
                prefixes++;
            prefix_of = names[i];
        }
    }
    if (prefixes == 1)
        return prefix_of;
    const char *best = NULL;
    size_t best_d = tolerance(word, wlen) + 1;
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        size_t d = gl_edit_distance(word, wlen, names[i]);
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}
