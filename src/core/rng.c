/* rng.c - the random number generator: xoshiro256** seeded through splitmix64.
 * Generator and seeding follow Blackman & Vigna, https://prng.di.unimi.it/ (xoshiro256starstar.c,
 * splitmix64.c). Everything is deterministic given the seed; nothing here is cryptographic and
 * nothing here is shared between threads (each thread owns its assay_rng). */
#include "../internal.h"

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void assay_rng_seed(assay_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64 is a bijection of its counter, so four consecutive outputs are never all zero */
}

uint64_t assay_rng_next(assay_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double assay_rng_uniform(assay_rng *r) {
    /* the top 53 bits scaled by 2^-53: every double in [0, 1) on the 2^-53 grid, equally likely */
    return (double)(assay_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t assay_rng_below(assay_rng *r, uint64_t n) {
    ASSAY_ASSERT(n > 0);
    if (n == 0) return 0;
    /* Lemire, "Fast random integer generation in an interval" (2019): multiply-shift with a
     * rejection step on the low half, which removes the bias exactly. */
    __extension__ typedef unsigned __int128 u128;
    u128 m = (u128)assay_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t threshold = -n % n; /* 2^64 mod n */
        while (lo < threshold) {
            m = (u128)assay_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double assay_rng_normal(assay_rng *r) {
    /* Marsaglia polar method. The second variate of each pair is discarded: assay_rng has no
     * room to cache it, and a stateless draw keeps results independent of call history. */
    double u, v, s;
    do {
        u = 2.0 * assay_rng_uniform(r) - 1.0;
        v = 2.0 * assay_rng_uniform(r) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    return u * sqrt(-2.0 * log(s) / s);
}

void assay_rng_shuffle_i64(assay_rng *r, int64_t *a, int64_t n) {
    /* Fisher-Yates (Durstenfeld): position i takes a uniform pick of a[0..i] */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)assay_rng_below(r, (uint64_t)i + 1);
        int64_t tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}
