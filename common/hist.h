/* A latency histogram of fixed size: 32 buckets per power of two (every value within 1/32 of
 * its bucket's bounds), from 0 to 2^37 ns (137 s; larger values count in the last bucket). No
 * allocation: recording is an index computation and an increment, cheap enough for every write
 * of a daemon's hot path. Values are unitless; gliveD records nanoseconds. */
#ifndef GL_HIST_H
#define GL_HIST_H

#include <stdint.h>

#define GL_HIST_SUB_BITS 5
#define GL_HIST_MAX_BITS 37
#define GL_HIST_BUCKETS (((GL_HIST_MAX_BITS - GL_HIST_SUB_BITS) + 1) << GL_HIST_SUB_BITS)

typedef struct gl_hist {
    uint64_t count, max;
    uint64_t n[GL_HIST_BUCKETS];
} gl_hist;

void gl_hist_add(gl_hist *h, uint64_t v);
/* The value at quantile q (0..1): the upper bound of the bucket holding the ceil(q * count)-th
 * smallest value (never below it, at most 1/32 above), capped at the largest value seen; 0 when
 * empty. */
uint64_t gl_hist_quantile(const gl_hist *h, double q);

#endif
