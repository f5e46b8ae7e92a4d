/*
 * Row primitives of the Cython SGD loop: dense dot products and updates of
 * one row against float64 weights (x in float32 or float64).
 *
 * The dense loops are where an SGD epoch spends its time.  They are written
 * with "omp simd" reductions (setup.py compiles with -fopenmp-simd: no
 * OpenMP runtime, only the permission to reassociate these sums) and, on
 * x86-64 Linux with GCC, cloned for AVX2 and AVX-512 and picked at load
 * time (FL_CLONES, from _stable.h), so one wheel runs at the machine's
 * vector width.
 *
 * Portable C99: the pragmas, the clones and the prefetch builtin are for GCC
 * and Clang only (MSVC gets _mm_prefetch, other compilers none), and
 * FL_PORTABLE_C turns all of them off on every compiler.  Without them the
 * loops are the same sums taken in order: the same results up to the order
 * of the reductions (tests/test_c_formulas.py compares the two builds).
 */
#ifndef FASTLOGIT_ROWS_H
#define FASTLOGIT_ROWS_H

#include <stdint.h>
#include <stddef.h>

#include "_stable.h" /* FL_CLONES, fl_binary_loss_residual */

#if !defined(FL_PORTABLE_C) && (defined(__GNUC__) || defined(__clang__))
#define FL_PRAGMA(text) _Pragma(text)
#define FL_PREFETCH_GNUC 1
#else
#define FL_PRAGMA(text)
#endif
#if !defined(FL_PORTABLE_C) && defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#define FL_PREFETCH_MSVC 1
#include <xmmintrin.h>
#endif

/* Rows per block of fl_binary_residuals (its labels and weights on the stack). */
#define FL_RESIDUAL_BLOCK 64

#define FL_DEFINE_ROW_OPS(SUFFIX, XT)                                                      \
    FL_CLONES double fl_dot_##SUFFIX(const XT *x, const double *v, int64_t n)             \
    {                                                                                      \
        double s = 0.0;                                                                    \
        FL_PRAGMA("omp simd reduction(+:s)")                                               \
        for (int64_t j = 0; j < n; j++)                                                    \
            s += (double)x[j] * v[j];                                                      \
        return s;                                                                          \
    }                                                                                      \
    FL_CLONES void fl_axpy_##SUFFIX(double a, const XT *x, double *v, int64_t n)          \
    {                                                                                      \
        FL_PRAGMA("omp simd")                                                              \
        for (int64_t j = 0; j < n; j++)                                                    \
            v[j] += a * (double)x[j];                                                      \
    }                                                                                      \
    /* out[k] = x . V[k], k < K, V rows of stride ldv: four classes per pass over x. */    \
    FL_CLONES void fl_dots_##SUFFIX(const XT *x, const double *V, int64_t ldv, int64_t K,  \
                                    int64_t n, double *out)                                \
    {                                                                                      \
        int64_t k = 0;                                                                     \
        for (; k + 4 <= K; k += 4) {                                                       \
            const double *v0 = V + k * ldv, *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;\
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                                 \
            FL_PRAGMA("omp simd reduction(+:s0,s1,s2,s3)")                                 \
            for (int64_t j = 0; j < n; j++) {                                              \
                double xj = (double)x[j];                                                  \
                s0 += xj * v0[j];                                                          \
                s1 += xj * v1[j];                                                          \
                s2 += xj * v2[j];                                                          \
                s3 += xj * v3[j];                                                          \
            }                                                                              \
            out[k] = s0; out[k + 1] = s1; out[k + 2] = s2; out[k + 3] = s3;                \
        }                                                                                  \
        for (; k < K; k++)                                                                 \
            out[k] = fl_dot_##SUFFIX(x, V + k * ldv, n);                                   \
    }                                                                                      \
    /* V[k] += a[k] * x, k < K: four classes per pass over x. */                           \
    FL_CLONES void fl_axpys_##SUFFIX(const double *a, const XT *x, double *V, int64_t ldv, \
                                     int64_t K, int64_t n)                                 \
    {                                                                                      \
        int64_t k = 0;                                                                     \
        for (; k + 4 <= K; k += 4) {                                                       \
            double *v0 = V + k * ldv, *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;      \
            double a0 = a[k], a1 = a[k + 1], a2 = a[k + 2], a3 = a[k + 3];                 \
            FL_PRAGMA("omp simd")                                                          \
            for (int64_t j = 0; j < n; j++) {                                              \
                double xj = (double)x[j];                                                  \
                v0[j] += a0 * xj;                                                          \
                v1[j] += a1 * xj;                                                          \
                v2[j] += a2 * xj;                                                          \
                v3[j] += a3 * xj;                                                          \
            }                                                                              \
        }                                                                                  \
        for (; k < K; k++)                                                                 \
            fl_axpy_##SUFFIX(a[k], x, V + k * ldv, n);                                     \
    }

/*
 * Four rows at a time (the rows of a minibatch sit anywhere in X): each
 * weight is loaded once for four rows and each x once for four classes, so
 * the loop does two multiply-adds per load instead of one (a softmax epoch is bound
 * by loads, not by memory), and four rows in flight hide the latency of
 * fetching rows in random order.
 */
#define FL_DEFINE_ROW_BLOCK_OPS(SUFFIX, XT)                                                \
    /* out[r * ldo + k] = xs[r] . V[k] for r < 4, k < K. */                                \
    FL_CLONES void fl_scores4_##SUFFIX(const XT *const *xs, const double *V, int64_t ldv,   \
                                       int64_t K, int64_t n, double *out, int64_t ldo)     \
    {                                                                                      \
        const XT *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];                       \
        int64_t k = 0;                                                                     \
        for (; k + 4 <= K; k += 4) {                                                       \
            const double *v0 = V + k * ldv, *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;\
            double s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0; \
            double s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0; \
            FL_PRAGMA("omp simd reduction(+:s00,s01,s02,s03,s10,s11,s12,s13,s20,s21,s22,s23,s30,s31,s32,s33)") \
            for (int64_t j = 0; j < n; j++) {                                              \
                double a0 = (double)x0[j], a1 = (double)x1[j];                             \
                double a2 = (double)x2[j], a3 = (double)x3[j];                             \
                double w0 = v0[j], w1 = v1[j], w2 = v2[j], w3 = v3[j];                     \
                s00 += a0 * w0; s01 += a0 * w1; s02 += a0 * w2; s03 += a0 * w3;            \
                s10 += a1 * w0; s11 += a1 * w1; s12 += a1 * w2; s13 += a1 * w3;            \
                s20 += a2 * w0; s21 += a2 * w1; s22 += a2 * w2; s23 += a2 * w3;            \
                s30 += a3 * w0; s31 += a3 * w1; s32 += a3 * w2; s33 += a3 * w3;            \
            }                                                                              \
            double *o = out + k;                                                           \
            o[0] = s00; o[1] = s01; o[2] = s02; o[3] = s03; o += ldo;                      \
            o[0] = s10; o[1] = s11; o[2] = s12; o[3] = s13; o += ldo;                      \
            o[0] = s20; o[1] = s21; o[2] = s22; o[3] = s23; o += ldo;                      \
            o[0] = s30; o[1] = s31; o[2] = s32; o[3] = s33;                                \
        }                                                                                  \
        for (; k < K; k++) {                                                               \
            const double *v0 = V + k * ldv;                                                \
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                         \
            FL_PRAGMA("omp simd reduction(+:s0,s1,s2,s3)")                                 \
            for (int64_t j = 0; j < n; j++) {                                              \
                double w = v0[j];                                                          \
                s0 += (double)x0[j] * w; s1 += (double)x1[j] * w;                          \
                s2 += (double)x2[j] * w; s3 += (double)x3[j] * w;                          \
            }                                                                              \
            out[k] = s0; out[ldo + k] = s1; out[2 * ldo + k] = s2; out[3 * ldo + k] = s3;  \
        }                                                                                  \
    }                                                                                      \
    /* V[k] += sum_r a[r * lda + k] * xs[r] for r < 4, k < K. */                           \
    FL_CLONES void fl_axpys4_##SUFFIX(const double *a, int64_t lda, const XT *const *xs,   \
                                      double *V, int64_t ldv, int64_t K, int64_t n)        \
    {                                                                                      \
        const XT *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];                       \
        int64_t k = 0;                                                                     \
        for (; k + 4 <= K; k += 4) {                                                       \
            double *v0 = V + k * ldv, *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;      \
            const double *c0 = a + k, *c1 = c0 + lda, *c2 = c1 + lda, *c3 = c2 + lda;      \
            FL_PRAGMA("omp simd")                                                          \
            for (int64_t j = 0; j < n; j++) {                                              \
                double a0 = (double)x0[j], a1 = (double)x1[j];                             \
                double a2 = (double)x2[j], a3 = (double)x3[j];                             \
                v0[j] += c0[0] * a0 + c1[0] * a1 + c2[0] * a2 + c3[0] * a3;                \
                v1[j] += c0[1] * a0 + c1[1] * a1 + c2[1] * a2 + c3[1] * a3;                \
                v2[j] += c0[2] * a0 + c1[2] * a1 + c2[2] * a2 + c3[2] * a3;                \
                v3[j] += c0[3] * a0 + c1[3] * a1 + c2[3] * a2 + c3[3] * a3;                \
            }                                                                              \
        }                                                                                  \
        for (; k < K; k++) {                                                               \
            double *v0 = V + k * ldv;                                                      \
            double c0 = a[k], c1 = a[lda + k], c2 = a[2 * lda + k], c3 = a[3 * lda + k];   \
            FL_PRAGMA("omp simd")                                                          \
            for (int64_t j = 0; j < n; j++)                                                \
                v0[j] += c0 * (double)x0[j] + c1 * (double)x1[j]                           \
                         + c2 * (double)x2[j] + c3 * (double)x3[j];                        \
        }                                                                                  \
    }

FL_DEFINE_ROW_OPS(d, double)
FL_DEFINE_ROW_OPS(f, float)
FL_DEFINE_ROW_BLOCK_OPS(d, double)
FL_DEFINE_ROW_BLOCK_OPS(f, float)

/*
 * Binary residuals of a minibatch: Z[r] <- s_r * (sigmoid(Z[r]) - y_r),
 * returns sum_r s_r * loss_r with s_r = sw[rows[r]] * sw_scale (1 without
 * sw), summed in row order.  Each row is fl_binary_loss_residual, to the
 * bit (setup.py compiles without FMA contraction).  The labels and weights
 * are first gathered into contiguous blocks, so that the formula's loop has
 * independent rows, unit strides and no int64-to-double conversion (AVX2
 * has none for vectors): it vectorizes in the AVX2 and AVX-512 clones, where
 * one row's chain of dependent operations alone took about 40 ns.
 */
FL_CLONES double fl_binary_residuals(double *Z, int64_t m, const int64_t *y, const int64_t *rows,
                                     const double *sw, double sw_scale)
{
    double yv[FL_RESIDUAL_BLOCK], sv[FL_RESIDUAL_BLOCK], loss[FL_RESIDUAL_BLOCK];
    double total = 0.0;
    for (int64_t r0 = 0; r0 < m; r0 += FL_RESIDUAL_BLOCK) {
        int64_t n = m - r0 < FL_RESIDUAL_BLOCK ? m - r0 : FL_RESIDUAL_BLOCK;
        double *z = Z + r0;
        for (int64_t j = 0; j < n; j++) {
            yv[j] = (double)y[rows[r0 + j]];
            sv[j] = sw ? sw[rows[r0 + j]] * sw_scale : 1.0;
        }
        for (int64_t j = 0; j < n; j++) {
            double res;
            loss[j] = sv[j] * fl_binary_loss_residual(z[j], yv[j], &res);
            z[j] = sv[j] * res;
        }
        for (int64_t j = 0; j < n; j++)
            total += loss[j];
    }
    return total;
}

/* Ask for the cache lines of x[0:n] ahead of use (rows come in random order). */
static inline void fl_prefetch(const void *x, int64_t bytes)
{
#if defined(FL_PREFETCH_GNUC)
    const char *p = (const char *)x;
    for (int64_t off = 0; off < bytes; off += 64)
        __builtin_prefetch(p + off, 0, 3);
#elif defined(FL_PREFETCH_MSVC)
    const char *p = (const char *)x;
    for (int64_t off = 0; off < bytes; off += 64)
        _mm_prefetch(p + off, _MM_HINT_T0);
#else
    (void)x;
    (void)bytes;
#endif
}

#endif
