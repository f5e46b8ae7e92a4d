/*
 * The stable formulas of the Cython SGD loop, in C, each the twin to the
 * last bit of a Numba function of fastlogit/kernels/special.py:
 *
 *   fl_exp_nonpos, fl_log1p_unit     exp_nonpos, log1p_unit
 *   fl_sigmoid, fl_log1pexp,         sigmoid, log1pexp,
 *   fl_log_sigmoid                   log_sigmoid
 *   fl_binary_loss_residual          binary_loss_residual
 *   fl_diff_err, fl_sum_err          _diff_err, _sum_err
 *   fl_softmax_row                   softmax_row
 *   fl_softmax_residuals             softmax_row and the residual loop of
 *                                    kernels/multinomial.py's loss_grad
 *
 * Same operations in the same order (exp of a non-positive number by
 * Cody-Waite reduction and a degree-13 polynomial returning a double-double;
 * fdlibm's log1p on [0, 1]), and the same constants under the same names:
 * FL_ followed by special.py's name (FL_EXP_CLAMP is EXP_CLAMP, FL__E2 is
 * _E2), as decimal literals of the same doubles (special.py's own digits, or
 * the repr of what it computes, e.g. 1.0 / 6.0).  tests/test_c_formulas.py
 * checks the constants one for one, to the bit, and that no number is
 * written here unnamed; tests/test_sgd.py checks the functions bit for bit
 * on a grid including +-1e4.
 *
 * The formulas must not be contracted into FMAs (Numba does not fuse them
 * either): setup.py compiles with -ffp-contract=off, so that they stay
 * equal to the bit in the AVX2/AVX-512 clones of fl_softmax_residuals here
 * and of fl_binary_residuals in _rows.h too (the tests allow the softmax
 * residuals 1 ulp, from when they were contracted).
 *
 * Portable C99: builds with GCC, Clang and MSVC.  The only compiler-specific
 * piece is FL_CLONES (GCC's target_clones, x86-64 Linux), empty elsewhere or
 * when FL_PORTABLE_C is defined.
 */
#ifndef FASTLOGIT_STABLE_H
#define FASTLOGIT_STABLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * Functions compiled for the baseline target plus AVX2 and AVX-512 clones,
 * one picked at load time (GCC on x86-64 Linux: ifuncs), so one wheel runs
 * at the machine's vector width.  Used by _rows.h too.
 */
#if !defined(FL_PORTABLE_C) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) \
    && defined(__linux__)
#define FL_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FL_CLONES
#endif

/* The constants of kernels/special.py, each FL_ + its name there. */
#define FL_LOG2E 1.4426950408889634
/* ln 2 split so that k * LN2_HI is exact for |k| < 2**21 (fdlibm's split). */
#define FL_LN2_HI 6.93147180369123816490e-01
#define FL_LN2_LO 1.90821492927058770002e-10
/* exp(x) rounds to +0 below -745.1332: clamping keeps the exponent in range. */
#define FL_EXP_CLAMP (-746.0)
#define FL_SQRT2 1.4142135623730951

/* 1/j! for j = 2..13, the Taylor coefficients of exp (1.0 / 6.0 etc. rounded). */
#define FL__E2 0.5
#define FL__E3 0.16666666666666666
#define FL__E4 0.041666666666666664
#define FL__E5 0.008333333333333333
#define FL__E6 0.001388888888888889
#define FL__E7 0.0001984126984126984
#define FL__E8 2.48015873015873e-05
#define FL__E9 2.7557319223985893e-06
#define FL__E10 2.755731922398589e-07
#define FL__E11 2.505210838544172e-08
#define FL__E12 2.08767569878681e-09
#define FL__E13 1.6059043836821613e-10

/* fdlibm's minimax coefficients for log(1+f), |f| <= sqrt(2) - 1. */
#define FL__LG1 6.666666666666735130e-01
#define FL__LG2 3.999999999940941908e-01
#define FL__LG3 2.857142874366239149e-01
#define FL__LG4 2.222219843214978396e-01
#define FL__LG5 1.818357216161805012e-01
#define FL__LG6 1.531383769920937332e-01
#define FL__LG7 1.479819860511658591e-01

/*
 * Bounds on one row's loss curvature along its scores: sigmoid' <= 1/4, the
 * softmax Hessian's eigenvalues <= 1/2.  No formula here uses them (the
 * Python driver sizes the SGD steps with them): named for the twin's sake.
 */
#define FL_BINARY_CURVATURE_BOUND 0.25
#define FL_MULTINOMIAL_CURVATURE_BOUND 0.5

/* 1.5 * 2**52: an integer m with 0 <= m < 2**51 added to it is exact, and the
 * sum's bits are its bits plus m. */
#define FL__SHIFT 6755399441055744.0

static inline double fl_pow2(double k)
{
    /* 2.0**k for an integer-valued -1022 <= k <= 1023, built from its bits:
     * k + 1023 read from the bits of k + 1023 + 1.5 * 2**52, not converted
     * (AVX2 has no vector float-to-int64 conversion, so a loop with one
     * does not vectorize). */
    double shifted = k + (1023.0 + FL__SHIFT), shift = FL__SHIFT, out;
    uint64_t bits, shift_bits;
    memcpy(&bits, &shifted, sizeof bits);
    memcpy(&shift_bits, &shift, sizeof shift_bits);
    bits = (bits - shift_bits) << 52;
    memcpy(&out, &bits, sizeof out);
    return out;
}

/* exp(hi + lo) = e + *e_lo for hi <= 0 (-inf allowed), |lo| <= ulp(hi). */
static inline double fl_exp_nonpos(double hi, double lo, double *e_lo)
{
    double x = hi > FL_EXP_CLAMP ? hi : FL_EXP_CLAMP;
    double k = floor(x * FL_LOG2E + 0.5);
    double r = (x - k * FL_LN2_HI) - (k * FL_LN2_LO - lo);
    double q = FL__E12 + r * FL__E13;
    q = FL__E11 + r * q;
    q = FL__E10 + r * q;
    q = FL__E9 + r * q;
    q = FL__E8 + r * q;
    q = FL__E7 + r * q;
    q = FL__E6 + r * q;
    q = FL__E5 + r * q;
    q = FL__E4 + r * q;
    q = FL__E3 + r * q;
    q = FL__E2 + r * q;
    double e = r + r * r * q;
    double p = 1.0 + e;
    double p_lo = e - (p - 1.0);
    double k1 = floor(0.5 * k);
    double s1 = fl_pow2(k1);
    double s2 = fl_pow2(k - k1);
    *e_lo = p_lo * s1 * s2;
    return p * s1 * s2;
}

/* log(1 + t + t_lo) for 0 <= t <= 1: fdlibm's log1p without its branches. */
static inline double fl_log1p_unit(double t, double t_lo)
{
    double u = 1.0 + t;
    double c = ((t - (u - 1.0)) + t_lo) / u;
    int big = u > FL_SQRT2;
    double k = big ? 1.0 : 0.0;
    double f = (big ? 0.5 * u : u) - 1.0;
    double hfsq = 0.5 * f * f;
    double s = f / (2.0 + f);
    double z = s * s;
    double w = z * z;
    double r1 = w * (FL__LG2 + w * (FL__LG4 + w * FL__LG6));
    double r2 = z * (FL__LG1 + w * (FL__LG3 + w * (FL__LG5 + w * FL__LG7)));
    double R = r1 + r2;
    return k * FL_LN2_HI - ((hfsq - (s * (hfsq + R) + (k * FL_LN2_LO + c))) - f);
}

/* Python's max(x, 0.0) and min(x, 0.0), -0.0 and all, as in the Numba code. */
static inline double fl_max0(double x) { return 0.0 > x ? 0.0 : x; }
static inline double fl_min0(double x) { return 0.0 < x ? 0.0 : x; }

static inline double fl_sigmoid(double x)
{
    double t_lo;
    double t = fl_exp_nonpos(-fabs(x), 0.0, &t_lo);
    double u = 1.0 + t;
    double c = (t - (u - 1.0)) + t_lo;
    double num_lo = x >= 0.0 ? 0.0 : t_lo;
    double q = (x >= 0.0 ? 1.0 : t) / u;
    double out = q + (num_lo - q * c) / u;
    return x == x ? out : x;
}

static inline double fl_log1pexp(double x)
{
    double t_lo;
    double t = fl_exp_nonpos(-fabs(x), 0.0, &t_lo);
    double out = fl_max0(x) + fl_log1p_unit(t, t_lo);
    return x == x ? out : x;
}

static inline double fl_log_sigmoid(double x)
{
    double t_lo;
    double t = fl_exp_nonpos(-fabs(x), 0.0, &t_lo);
    double out = fl_min0(x) - fl_log1p_unit(t, t_lo);
    return x == x ? out : x;
}

/* Returns log1pexp(z) - y*z; *residual = sigmoid(z) - y (one exponential). */
static inline double fl_binary_loss_residual(double z, double y, double *residual)
{
    double t_lo;
    double t = fl_exp_nonpos(-fabs(z), 0.0, &t_lo);
    double loss = (fl_max0(z) - y * z) + fl_log1p_unit(t, t_lo);
    double u = 1.0 + t;
    double p = (z >= 0.0 ? 1.0 : t) / u;
    *residual = p - y;
    return loss;
}

static inline double fl_diff_err(double a, double b, double d)
{
    double bv = a - d;
    double av = d + bv;
    double e = (a - av) - (b - bv);
    return e == e ? e : 0.0;
}

static inline double fl_sum_err(double a, double b, double s)
{
    double bv = s - a;
    double av = s - bv;
    return (a - av) + (b - bv);
}

/*
 * p[0:K] = softmax(z[0:K]) (p_lo is K doubles of scratch); returns
 * logsumexp(z) - max(z) in *L and max(z) as the result, so that the row
 * loss is (max - z[y]) + L with no cancellation.  Finite z only (the SGD
 * loop stops on a non-finite loss before anything else sees it).
 */
static inline double fl_softmax_row(const double *z, int64_t K, double *p, double *p_lo, double *L)
{
    double m = -INFINITY;
    int64_t jmax = 0;
    for (int64_t j = 0; j < K; j++) {
        if (z[j] > m) {
            m = z[j];
            jmax = j;
        }
    }
    for (int64_t j = 0; j < K; j++) {
        double d = z[j] - m;
        p[j] = fl_exp_nonpos(d, fl_diff_err(z[j], m, d), &p_lo[j]);
    }
    double s = 0.0, s_lo = 0.0;
    for (int64_t j = 0; j < K; j++) {
        if (j != jmax) {
            double t = s + p[j];
            s_lo += fl_sum_err(s, p[j], t) + p_lo[j];
            s = t;
        }
    }
    double inv = 1.0 / (1.0 + s);
    for (int64_t j = 0; j < K; j++)
        p[j] *= inv;
    *L = log1p(s) + s_lo / (1.0 + s);
    return m;
}

/*
 * Softmax residuals of a minibatch: Z[r] <- s_r * (softmax(Z[r]) - onehot(y_r)),
 * returns sum_r s_r * loss_r.  fl_softmax_row inlined into a function cloned
 * for AVX2/AVX-512: the exponentials stay scalar (GCC does not vectorize
 * them), but with fewer instructions (a softmax epoch ran 0.30 s -> 0.24 s,
 * then with FMAs).
 * scratch: 2 * K doubles.
 */
FL_CLONES double fl_softmax_residuals(double *Z, int64_t m, int64_t K, const int64_t *y,
                                      const int64_t *rows, const double *sw, double sw_scale,
                                      double *scratch)
{
    double total = 0.0, L;
    for (int64_t r = 0; r < m; r++) {
        double *z = Z + r * K;
        int64_t i = rows[r], yi = y[i];
        double si = sw ? sw[i] * sw_scale : 1.0;
        double max = fl_softmax_row(z, K, scratch, scratch + K, &L);
        total += si * ((max - z[yi]) + L);
        for (int64_t j = 0; j < K; j++)
            z[j] = si * scratch[j];
        z[yi] -= si;
    }
    return total;
}

#endif
