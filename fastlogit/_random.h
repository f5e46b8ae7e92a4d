/*
 * The SGD loop's own random generator: SplitMix64, unbiased bounded integers
 * (Lemire's multiply-and-reject) and a Fisher-Yates shuffle.  Integer
 * arithmetic only, so every compiler gives the same stream for the same seed.
 *
 * The one non-portable piece is the high half of a 64 x 64 -> 128-bit product:
 * unsigned __int128 on GCC and Clang (64-bit targets), _umul128 / __umulh on
 * MSVC (x64 / ARM64), 32-bit limbs elsewhere.  Defining FL_PORTABLE_C forces
 * the limbs on every compiler (tests/test_c_formulas.py checks both agree).
 */
#ifndef FASTLOGIT_RANDOM_H
#define FASTLOGIT_RANDOM_H

#include <stdint.h>

#if !defined(FL_PORTABLE_C) && (defined(__GNUC__) || defined(__clang__)) && defined(__SIZEOF_INT128__)
#define FL_MULHI_INT128 1
#elif !defined(FL_PORTABLE_C) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64))
#define FL_MULHI_MSVC 1
#include <intrin.h>
#endif

/* High 64 bits of a * b from 32-bit limbs: plain C, any compiler. */
static inline uint64_t fl_mulhi_limbs(uint64_t a, uint64_t b)
{
    uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32;
    uint64_t b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo;
    uint64_t lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
    /* Each term < 2**32, so the sum < 3 * 2**32 cannot overflow. */
    uint64_t mid = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + (lo_hi & 0xFFFFFFFFu);
    return hi_hi + (hi_lo >> 32) + (lo_hi >> 32) + (mid >> 32);
}

/* a * b = 2**64 * (returned) + *lo, exactly. */
static inline uint64_t fl_mul_wide(uint64_t a, uint64_t b, uint64_t *lo)
{
#if defined(FL_MULHI_INT128)
    unsigned __int128 m = (unsigned __int128)a * b;
    *lo = (uint64_t)m;
    return (uint64_t)(m >> 64);
#elif defined(FL_MULHI_MSVC) && defined(_M_X64)
    uint64_t hi;
    *lo = _umul128(a, b, &hi);
    return hi;
#elif defined(FL_MULHI_MSVC)
    *lo = a * b;
    return __umulh(a, b);
#else
    *lo = a * b;
    return fl_mulhi_limbs(a, b);
#endif
}

/* SplitMix64 (Steele, Lea, Flood 2014): the loop's generator, seeded by the caller. */
static inline uint64_t fl_next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform integer in [0, bound), bound >= 1, without modulo bias (Lemire 2019). */
static inline uint64_t fl_bounded(uint64_t *state, uint64_t bound)
{
    uint64_t low;
    uint64_t high = fl_mul_wide(fl_next_u64(state), bound, &low);
    if (low < bound) {
        /* 2**64 mod bound, written 0 - bound: MSVC rejects unary minus on unsigned. */
        uint64_t threshold = (0 - bound) % bound;
        while (low < threshold)
            high = fl_mul_wide(fl_next_u64(state), bound, &low);
    }
    return high;
}

/* Fisher-Yates shuffle of a[0:n] in place. */
static inline void fl_shuffle(int64_t *a, int64_t n, uint64_t *state)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)fl_bounded(state, (uint64_t)i + 1);
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

#endif
