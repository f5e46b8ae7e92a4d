/*
 * Stable sigmoid, log1pexp, log_sigmoid, binary loss/residual and softmax of
 * a row: the C twin of fastlogit/kernels/special.py, for the Cython SGD loop.
 *
 * Same operations in the same order as the Numba versions (exp of a
 * non-positive number by Cody-Waite reduction and a degree-13 polynomial
 * returning a double-double; fdlibm's log1p on [0, 1]), so the two agree to
 * the last bit; tests/test_sgd.py checks that on a grid including +-1e4.
 * Those formulas must not be contracted into FMAs (Numba does not fuse them
 * either): they are compiled for the baseline x86-64 target, which has no
 * FMA (only the row loops of _rows.h are cloned for wider targets).  A build
 * with -march=native may fuse them; the test allows 1 ulp for that.
 */
#ifndef FASTLOGIT_STABLE_H
#define FASTLOGIT_STABLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define FL_LOG2E 1.4426950408889634
/* ln 2 split so that k * LN2_HI is exact for |k| < 2**21 (fdlibm's split). */
#define FL_LN2_HI 6.93147180369123816490e-01
#define FL_LN2_LO 1.90821492927058770002e-10
/* exp(x) rounds to +0 below -745.1332: clamping keeps the exponent in range. */
#define FL_EXP_CLAMP (-746.0)
#define FL_SQRT2 1.4142135623730951

/* fdlibm's minimax coefficients for log(1+f), |f| <= sqrt(2) - 1. */
#define FL_LG1 6.666666666666735130e-01
#define FL_LG2 3.999999999940941908e-01
#define FL_LG3 2.857142874366239149e-01
#define FL_LG4 2.222219843214978396e-01
#define FL_LG5 1.818357216161805012e-01
#define FL_LG6 1.531383769920937332e-01
#define FL_LG7 1.479819860511658591e-01

static inline double fl_pow2(int64_t k)
{
    /* 2.0**k for -1022 <= k <= 1023, built from its bits. */
    uint64_t bits = (uint64_t)(k + 1023) << 52;
    double out;
    memcpy(&out, &bits, sizeof out);
    return out;
}

/* exp(hi + lo) = e + *e_lo for hi <= 0 (-inf allowed), |lo| <= ulp(hi). */
static inline double fl_exp_nonpos(double hi, double lo, double *e_lo)
{
    double x = hi > FL_EXP_CLAMP ? hi : FL_EXP_CLAMP;
    double k = floor(x * FL_LOG2E + 0.5);
    double r = (x - k * FL_LN2_HI) - (k * FL_LN2_LO - lo);
    double q = (1.0 / 479001600.0) + r * (1.0 / 6227020800.0);
    q = (1.0 / 39916800.0) + r * q;
    q = (1.0 / 3628800.0) + r * q;
    q = (1.0 / 362880.0) + r * q;
    q = (1.0 / 40320.0) + r * q;
    q = (1.0 / 5040.0) + r * q;
    q = (1.0 / 720.0) + r * q;
    q = (1.0 / 120.0) + r * q;
    q = (1.0 / 24.0) + r * q;
    q = (1.0 / 6.0) + r * q;
    q = (1.0 / 2.0) + r * q;
    double e = r + r * r * q;
    double p = 1.0 + e;
    double p_lo = e - (p - 1.0);
    int64_t ki = (int64_t)k;
    int64_t k1 = ki >> 1;
    double s1 = fl_pow2(k1);
    double s2 = fl_pow2(ki - k1);
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
    double r1 = w * (FL_LG2 + w * (FL_LG4 + w * FL_LG6));
    double r2 = z * (FL_LG1 + w * (FL_LG3 + w * (FL_LG5 + w * FL_LG7)));
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

#endif
