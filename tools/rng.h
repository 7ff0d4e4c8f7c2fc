/* A small deterministic RNG for the harness and the tests: xoshiro256** seeded by splitmix64.
 * The same seed gives the same sequence on every machine. Not for cryptography. */
#ifndef VKATTN_TOOL_RNG_H
#define VKATTN_TOOL_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
    double spare;   /* second Box-Muller draw, valid when has_spare */
    int has_spare;
} rng;

/* Any seed is fine, 0 included. */
void rng_seed(rng *r, uint64_t seed);

uint64_t rng_u64(rng *r);

/* Uniform integer in [0, n); n == 0 gives 0. Unbiased. */
uint32_t rng_below(rng *r, uint32_t n);

/* Uniform double in [0, 1), 53 random bits. */
double rng_uniform(rng *r);

/* Standard normal N(0, 1) (Box-Muller). */
double rng_normal(rng *r);

/* Fills x[0..n) with N(0, 1) draws. */
void rng_fill_normal(rng *r, float *x, size_t n);

#endif
