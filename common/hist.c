#include "common/hist.h"

#define SUB (1u << GL_HIST_SUB_BITS)

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    if (msb >= GL_HIST_MAX_BITS)
        return GL_HIST_BUCKETS - 1;
    unsigned shift = msb - GL_HIST_SUB_BITS;
    return (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
}

/* The largest value bucket i holds. */
static uint64_t bucket_top(unsigned i)
{
    if (i < SUB)
        return i;
    unsigned shift = i / SUB - 1;
    return (((uint64_t)(i % SUB) + SUB + 1) << shift) - 1;
}

void gl_hist_add(gl_hist *h, uint64_t v)
{
    h->n[bucket_of(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

uint64_t gl_hist_quantile(const gl_hist *h, double q)
{
    if (!h->count)
        return 0;
    if (q < 0)
        q = 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < GL_HIST_BUCKETS; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            if (i == GL_HIST_BUCKETS - 1) /* values past the range: only max is known */
                return h->max;
            uint64_t top = bucket_top(i);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}
