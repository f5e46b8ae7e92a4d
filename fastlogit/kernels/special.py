"""Stable sigmoid, log-sigmoid, softplus, log-sum-exp and softmax (Numba).

Every formula here needs the exponential only of a non-positive number,
``exp(-|x|)`` or ``exp(z_j - max(z))``, and the logarithm only of ``1 + t``
with ``0 <= t <= 1``.  Both are written below as branch-free arithmetic
(Cody-Waite range reduction with a polynomial, fdlibm's ``log1p``) so that
LLVM vectorizes the elementwise loops; libm's ``exp`` is a scalar call per
element and would leave the SIMD units idle.

Scalar functions (``sigmoid``, ``log_sigmoid``, ``log1pexp``, ...) compute in
float64 and are inlined into every kernel that needs them, in this module and
in the loss kernels.  Array kernels (``*_into``) write into a caller-provided
output; they trust their inputs (C-contiguous, float32/float64, matching
shapes): validation lives in :mod:`fastlogit.data`.
"""

import math

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import intrinsic

# ---------------------------------------------------------------------------
# Constants, each with its numerical reason.
# ---------------------------------------------------------------------------
LOG2E = 1.4426950408889634
# ln 2 split so that k * LN2_HI is exact for |k| < 2**21 (LN2_HI has 32
# significant bits, fdlibm's split); LN2_LO carries the rest.
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
# exp(x) rounds to +0 in float64 for x < -745.1332 (half the smallest
# subnormal); clamping below that keeps the integer exponent in range.
EXP_CLAMP = -746.0
SQRT2 = 1.4142135623730951

# 1/j! for j = 2..13: the Taylor tail of exp(r) on |r| <= ln2/2 after r**13
# is below 4e-18 relative, far under half an ulp.
_E2 = 1.0 / 2.0
_E3 = 1.0 / 6.0
_E4 = 1.0 / 24.0
_E5 = 1.0 / 120.0
_E6 = 1.0 / 720.0
_E7 = 1.0 / 5040.0
_E8 = 1.0 / 40320.0
_E9 = 1.0 / 362880.0
_E10 = 1.0 / 3628800.0
_E11 = 1.0 / 39916800.0
_E12 = 1.0 / 479001600.0
_E13 = 1.0 / 6227020800.0

# fdlibm's minimax coefficients for log(1+f) = f - s*(f - R(s*s)),
# s = f / (2 + f), |f| <= sqrt(2) - 1: error below 2**-58.45.
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01

# Arrays shorter than this run on one thread: starting the thread pool
# costs more than the work.
PARALLEL_MIN_SIZE = 1 << 15
# Elements per parallel task: 64 KiB of float64 in and out, L2-resident.
ELEMENT_BLOCK = 1 << 13
# Rows per parallel task in the public row-wise kernels (logsumexp, softmax).
ROWWISE_BLOCK = 512

# The largest curvature of one row's loss along its scores, a bound on the
# Hessian everywhere: sigmoid'(z) = p (1 - p) <= 1/4; the softmax Hessian
# diag(p) - p p^T has eigenvalues <= 1/2.  (Step sizes of SGD and FISTA.)
BINARY_CURVATURE_BOUND = 0.25
MULTINOMIAL_CURVATURE_BOUND = 0.5


@intrinsic
def _bits_to_float64(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (vectorizes to nothing)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


@intrinsic
def _float64_to_bits(typingctx, x):
    """Reinterpret the bits of a float64 as an int64 (vectorizes to nothing)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return sig, codegen


# 1.5 * 2**52 and its bits: an integer m with 0 <= m < 2**51 added to it is
# exact, and the sum's bits are these bits plus m.
_SHIFT = 6755399441055744.0
_SHIFT_BITS = 0x4338000000000000


@njit(cache=True, error_model="numpy", inline="always")
def _pow2(k):
    """2.0**k for an integer-valued float64 -1022 <= k <= 1023, built from its bits.

    ``k + 1023`` is read from the bits of ``k + 1023 + 1.5 * 2**52``, not
    converted by a float-to-int64 instruction: AVX2 has none for vectors, and
    with one the loops calling :func:`exp_nonpos` ran a row at a time there.
    """
    return _bits_to_float64((_float64_to_bits(k + (1023.0 + _SHIFT)) - _SHIFT_BITS) << 52)


@njit(cache=True, error_model="numpy", inline="always")
def exp_nonpos(hi, lo):
    """exp(hi + lo) as a pair (e, e_lo), for hi <= 0 (-inf allowed), |lo| <= ulp(hi).

    ``lo`` carries the rounding error of a subtraction that produced ``hi``,
    so that ``exp(a - b)`` is accurate even when ``a - b`` is not exact.
    ``e`` is within 1 ulp (including subnormal results) and ``e + e_lo``
    within ~0.2 ulp: callers that divide or sum exponentials use ``e_lo``
    to stay under 2 ulp overall.  Branch free, so loops
    calling it vectorize (kernels must use ``error_model="numpy"``: Python's
    error model puts a zero check, and so a branch, on every division).  NaN is the caller's
    business (the result is then meaningless, not a trap).
    """
    x = hi if hi > EXP_CLAMP else EXP_CLAMP
    k = np.floor(x * LOG2E + 0.5)  # (a float: math.floor returns an int64 in Numba)
    r = (x - k * LN2_HI) - (k * LN2_LO - lo)
    # expm1(r) as r + r*r*q(r), then 1 + it: the only large rounding is the
    # final addition (half an ulp).
    q = _E12 + r * _E13
    q = _E11 + r * q
    q = _E10 + r * q
    q = _E9 + r * q
    q = _E8 + r * q
    q = _E7 + r * q
    q = _E6 + r * q
    q = _E5 + r * q
    q = _E4 + r * q
    q = _E3 + r * q
    q = _E2 + r * q
    e = r + r * r * q
    p = 1.0 + e
    p_lo = e - (p - 1.0)  # exact error of 1 + e (|e| < 1: Fast2Sum)
    # Scale by 2**k in two exact halves, so that -1076 <= k <= 0 never
    # leaves the normal exponent range before the final (single) rounding.
    k1 = np.floor(0.5 * k)  # k's two halves, integers as doubles
    s1 = _pow2(k1)
    s2 = _pow2(k - k1)
    return p * s1 * s2, p_lo * s1 * s2


@njit(cache=True, error_model="numpy", inline="always")
def log1p_unit(t, t_lo):
    """log(1 + t + t_lo) for 0 <= t <= 1, fdlibm's log1p without its branches."""
    u = 1.0 + t
    # The rounding error of 1 + t (u - 1 is exact for u in [1, 2]) plus the
    # caller's low part: log(u + c) = log(u) + c/u to first order.
    c = ((t - (u - 1.0)) + t_lo) / u
    big = u > SQRT2
    k = 1.0 if big else 0.0
    f = (0.5 * u if big else u) - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    r2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    R = r1 + r2
    return k * LN2_HI - ((hfsq - (s * (hfsq + R) + (k * LN2_LO + c))) - f)


# ---------------------------------------------------------------------------
# Scalar functions (float64 in, float64 out).  Inlined into the kernels.
# ---------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def sigmoid(x):
    """1 / (1 + exp(-x)), from exp(-|x|) so that nothing overflows."""
    t, t_lo = exp_nonpos(-abs(x), 0.0)
    u = 1.0 + t
    # (num + num_lo) / (u + c), c the rounding error of 1 + t + t_lo, to
    # first order: only the rounding of q is left (~0.6 ulp in all).
    c = (t - (u - 1.0)) + t_lo
    num_lo = 0.0 if x >= 0.0 else t_lo
    q = (1.0 if x >= 0.0 else t) / u
    out = q + (num_lo - q * c) / u
    return out if x == x else x


@njit(cache=True, error_model="numpy", inline="always")
def log1pexp(x):
    """log(1 + exp(x)) (softplus) = max(x, 0) + log1p(exp(-|x|))."""
    t, t_lo = exp_nonpos(-abs(x), 0.0)
    out = max(x, 0.0) + log1p_unit(t, t_lo)
    return out if x == x else x


@njit(cache=True, error_model="numpy", inline="always")
def log_sigmoid(x):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)); never log of a rounded 0."""
    t, t_lo = exp_nonpos(-abs(x), 0.0)
    out = min(x, 0.0) - log1p_unit(t, t_lo)
    return out if x == x else x


@njit(cache=True, error_model="numpy", inline="always")
def binary_loss_residual(z, y):
    """(log1pexp(z) - y*z, sigmoid(z) - y) from one exponential.

    The loss is written ``(max(z, 0) - y*z) + log1p(exp(-|z|))``: for y in
    {0, 1} the first term is exact (0, z or -z), so a confident right answer
    keeps its tiny loss instead of cancelling ``z - z``.
    """
    t, t_lo = exp_nonpos(-abs(z), 0.0)
    loss = (max(z, 0.0) - y * z) + log1p_unit(t, t_lo)
    u = 1.0 + t
    p = (1.0 if z >= 0.0 else t) / u
    return loss, p - y


@njit(cache=True, error_model="numpy", inline="always")
def binary_block_residuals(zbuf, lbuf, y, sw, start, m, b, loss, g_b):
    """A block of m rows (X's rows start .. start + m - 1) whose scores less
    ``b`` are in ``zbuf[:m]``: their weighted residuals ``sw (sigmoid(z) - y)``
    into ``zbuf`` (``lbuf`` receives the losses), and ``(loss, g_b)`` with the
    block's losses and residuals added, in row order.  The per-row loop has no
    sum in it, so it vectorizes; the sums follow in their own loop."""
    for k in range(m):
        li, ri = binary_loss_residual(zbuf[k] + b, float(y[start + k]))
        if sw is not None:
            li *= sw[start + k]
            ri *= sw[start + k]
        lbuf[k] = li
        zbuf[k] = ri
    for k in range(m):
        loss += lbuf[k]
        g_b += zbuf[k]
    return loss, g_b


@njit(cache=True, error_model="numpy", inline="always")
def sigmoid_slope(z):
    """sigmoid(z) * sigmoid(-z) = t / (1 + t)**2, t = exp(-|z|): no 1 - p cancellation."""
    t, _ = exp_nonpos(-abs(z), 0.0)
    q = 1.0 / (1.0 + t)
    return t * q * q


# ---------------------------------------------------------------------------
# Elementwise array kernels on 1-d C-contiguous arrays.
# ---------------------------------------------------------------------------
OP_SIGMOID = 0
OP_LOG_SIGMOID = 1
OP_LOG1PEXP = 2


@njit(cache=True, error_model="numpy")
def elementwise_into(op, x, out):
    """out[i] = f(x[i]) for the function selected by ``op`` (OP_*), one thread.

    x, out: 1-d, C-contiguous, float32 or float64, same length.  Computed in
    float64 and rounded once to ``out``'s dtype.
    """
    n = x.shape[0]
    if op == OP_SIGMOID:
        for i in range(n):
            out[i] = sigmoid(np.float64(x[i]))
    elif op == OP_LOG_SIGMOID:
        for i in range(n):
            out[i] = log_sigmoid(np.float64(x[i]))
    else:
        for i in range(n):
            out[i] = log1pexp(np.float64(x[i]))


@njit(cache=True, error_model="numpy", parallel=True)
def elementwise_into_parallel(op, x, out):
    """:func:`elementwise_into` over blocks of ELEMENT_BLOCK on all threads."""
    n = x.shape[0]
    n_blocks = (n + ELEMENT_BLOCK - 1) // ELEMENT_BLOCK
    for b in prange(n_blocks):
        lo = b * ELEMENT_BLOCK
        hi = min(lo + ELEMENT_BLOCK, n)
        elementwise_into(op, x[lo:hi], out[lo:hi])


# ---------------------------------------------------------------------------
# Row-wise kernels on the last axis of a 2-d C-contiguous array.
# ---------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _diff_err(a, b, d):
    """Exact rounding error of d = fl(a - b) (Knuth's two-sum, branch free).

    0 when ``a`` is -inf (the two-sum would give NaN; ``exp(-inf) == 0`` and
    ``-inf`` need no correction).
    """
    bv = a - d
    av = d + bv
    e = (a - av) - (b - bv)
    return e if e == e else 0.0


@njit(cache=True, error_model="numpy", inline="always")
def _sum_err(a, b, s):
    """Exact rounding error of s = fl(a + b) (Knuth's two-sum)."""
    bv = s - a
    av = s - bv
    return (a - av) + (b - bv)


@njit(cache=True, error_model="numpy", inline="always")
def row_max(a, i):
    """(max, argmax, has_nan, n_posinf) of row i of a 2-d array."""
    K = a.shape[1]
    m = -np.inf
    jmax = 0
    has_nan = False
    n_posinf = 0
    for j in range(K):
        v = np.float64(a[i, j])
        if v > m:
            m = v
            jmax = j
        if v != v:
            has_nan = True
        if v == np.inf:
            n_posinf += 1
    return m, jmax, has_nan, n_posinf


@njit(cache=True, error_model="numpy", inline="always")
def row_exp_shifted(a, i, m, e, e_lo):
    """e[j] + e_lo[j] = exp(a[i, j] - m) for every j (vectorizes over j).

    Each difference is taken exactly (its two-sum error goes to exp:
    |a - m| up to ~1e3 would otherwise cost ~1e3 ulp).  The max's own term
    comes out as exactly (1, 0).
    """
    for j in range(a.shape[1]):
        v = np.float64(a[i, j])
        d = v - m
        e[j], e_lo[j] = exp_nonpos(d, _diff_err(v, m, d))


@njit(cache=True, error_model="numpy", inline="always")
def sum_but_one(e, e_lo, skip, start):
    """start + sum over j != skip of e[j] + e_lo[j], compensated: (s, s_lo).

    Leaving out the max's own term (exactly 1) lets log-sum-exp use log1p,
    which keeps full relative accuracy when the other terms are tiny.
    """
    s = start
    s_lo = 0.0
    for j in range(e.shape[0]):
        if j != skip:
            t = s + e[j]
            s_lo += _sum_err(s, e[j], t) + e_lo[j]
            s = t
    return s, s_lo


@njit(cache=True, error_model="numpy")
def logsumexp_rows_into(a, out):
    """out[i] = log(sum_j exp(a[i, j])), one thread.

    a: (n, K) C-contiguous float32/float64; out: (n,).  A row with NaN gives
    NaN, a row containing +inf gives +inf, a row of all -inf (or K == 0)
    gives -inf.  Scratch: two float64 rows of K.
    """
    n, K = a.shape
    e = np.empty(K)
    e_lo = np.empty(K)
    for i in range(n):
        m, jmax, has_nan, n_posinf = row_max(a, i)
        if has_nan:
            out[i] = np.nan
        elif n_posinf > 0 or m == -np.inf:
            out[i] = m
        else:
            row_exp_shifted(a, i, m, e, e_lo)
            s, s_lo = sum_but_one(e, e_lo, jmax, 0.0)
            L = math.log1p(s)
            # m + L rounded once with L's low part: m < 0 < L cancel.
            t = m + L
            out[i] = t + (_sum_err(m, L, t) + s_lo / (1.0 + s))


@njit(cache=True, error_model="numpy")
def softmax_rows_into(a, out, log):
    """Row-wise softmax (``log=False``) or log-softmax (``log=True``), one thread.

    a, out: (n, K) C-contiguous, same shape.  Limits: entries at -inf get 0
    (log: -inf); a single +inf entry gets 1 (log: 0) and the rest 0
    (log: -inf).  Rows whose limit is undefined (NaN, two or more +inf,
    all -inf) are NaN.  Scratch: two float64 rows of K.
    """
    n, K = a.shape
    e = np.empty(K)
    e_lo = np.empty(K)
    for i in range(n):
        m, jmax, has_nan, n_posinf = row_max(a, i)
        if has_nan or n_posinf > 1 or m == -np.inf:
            for j in range(K):
                out[i, j] = np.nan
        elif n_posinf == 1:
            for j in range(K):
                hit = j == jmax
                if log:
                    out[i, j] = 0.0 if hit else -np.inf
                else:
                    out[i, j] = 1.0 if hit else 0.0
        else:
            row_exp_shifted(a, i, m, e, e_lo)
            if log:
                s, s_lo = sum_but_one(e, e_lo, jmax, 0.0)
                L = math.log1p(s) + s_lo / (1.0 + s)
                for j in range(K):
                    v = np.float64(a[i, j])
                    d = v - m
                    # (d - L) + err: d and -L are both <= 0, nothing cancels.
                    out[i, j] = (d - L) + _diff_err(v, m, d)
            else:
                s, s_lo = sum_but_one(e, e_lo, jmax, 1.0)
                for j in range(K):
                    # (e + e_lo) / (s + s_lo) to first order: q's rounding is all.
                    q = e[j] / s
                    out[i, j] = q + (e_lo[j] - q * s_lo) / s


@njit(cache=True, error_model="numpy", inline="always")
def softmax_row(Z, r, e, e_lo):
    """p = softmax(Z[r]) into e (e_lo is scratch); returns ``(m, L)`` with
    ``logsumexp(Z[r]) = m + L``.  For finite rows only (the loss kernels').

    The loss kernels' variant of :func:`softmax_rows_into`, from the same
    pieces (exact shifts, compensated sum): one reciprocal times K
    exponentials instead of K compensated divisions, because the residuals
    ``p - y`` need the probabilities to working accuracy, not to 2 ulp, and
    the row's log-sum-exp comes out of the same sum.
    """
    m, jmax, _, _ = row_max(Z, r)
    row_exp_shifted(Z, r, m, e, e_lo)
    s, s_lo = sum_but_one(e, e_lo, jmax, 0.0)
    inv = 1.0 / (1.0 + s)
    for k in range(e.shape[0]):
        e[k] *= inv
    return m, math.log1p(s) + s_lo / (1.0 + s)


@njit(cache=True, error_model="numpy", parallel=True)
def logsumexp_rows_into_parallel(a, out):
    """:func:`logsumexp_rows_into` over blocks of ROWWISE_BLOCK rows on all threads."""
    n = a.shape[0]
    n_blocks = (n + ROWWISE_BLOCK - 1) // ROWWISE_BLOCK
    for b in prange(n_blocks):
        lo = b * ROWWISE_BLOCK
        hi = min(lo + ROWWISE_BLOCK, n)
        logsumexp_rows_into(a[lo:hi], out[lo:hi])


@njit(cache=True, error_model="numpy", parallel=True)
def softmax_rows_into_parallel(a, out, log):
    """:func:`softmax_rows_into` over blocks of ROWWISE_BLOCK rows on all threads."""
    n = a.shape[0]
    n_blocks = (n + ROWWISE_BLOCK - 1) // ROWWISE_BLOCK
    for b in prange(n_blocks):
        lo = b * ROWWISE_BLOCK
        hi = min(lo + ROWWISE_BLOCK, n)
        softmax_rows_into(a[lo:hi], out[lo:hi], log)


#: Rows after a block's score rows that :func:`softmax_block` needs: per row of X,
#: its max score, argmax, true-class score, two compensated sums, loss and
#: training and held-out weights.
SOFTMAX_BLOCK_ROWS = 8


@njit(cache=True, error_model="numpy")
def softmax_block(B, c0, K, y, fold, sw, start, m, j):
    """Model j's softmax over a block of m rows (X's rows start .. start + m - 1),
    model-major, vectorized across rows.

    ``B[c0 + c, :m]`` holds the model's class-c scores and is overwritten
    with its training residuals ``tw * (p_c - [y == c])`` (0 on held-out
    rows: those whose ``fold`` id is j; ``fold`` None: no row is held out),
    or with ``y`` None with the probabilities p_c (no loss);
    ``B[-SOFTMAX_BLOCK_ROWS:]`` receives per row: the max score, its
    (first) argmax, the true class's score, the compensated sum of the
    other classes' exponentials (two rows: sum, then the probabilities'
    common factor), the loss ``logsumexp(z) - z[y]``, and the training and
    held-out weights.  The arithmetic is :func:`.special.softmax_row`'s
    (exact shifts, compensated sum leaving out the max's own exact 1),
    done class by class over the rows so that every loop vectorizes (a
    row-by-row softmax of a few values does not): no fast-math flags here
    (the compensated sums depend on the order of rounding).
    """
    n_rows_b = B.shape[0]
    r0 = n_rows_b - SOFTMAX_BLOCK_ROWS
    mx = B[r0]
    jm = B[r0 + 1]
    zy = B[r0 + 2]
    s = B[r0 + 3]
    s_lo = B[r0 + 4]
    li = B[r0 + 5]
    tw = B[r0 + 6]
    hw = B[r0 + 7]
    for q in range(m):
        i = start + q
        wi = sw[i] if sw is not None else 1.0
        train = fold[i] != j if fold is not None else True
        tw[q] = wi if train else 0.0
        hw[q] = 0.0 if train else wi
        mx[q] = B[c0, q]
        s[q] = 0.0
        s_lo[q] = 0.0
    if y is not None:
        for q in range(m):
            # (A gather, row by row: a select over the classes costs 10x more.)
            zy[q] = B[c0 + y[start + q], q]
    for c in range(1, K):
        z = B[c0 + c]
        for q in range(m):
            mx[q] = max(mx[q], z[q])
    # The first largest (numpy's argmax): the classes from the last down.
    for c in range(K - 1, -1, -1):
        z = B[c0 + c]
        cf = float(c)
        for q in range(m):
            jm[q] = cf if z[q] == mx[q] else jm[q]
    for c in range(K):
        z = B[c0 + c]
        cf = float(c)
        for q in range(m):
            v = z[q]
            dv = v - mx[q]
            e, e_lo = exp_nonpos(dv, _diff_err(v, mx[q], dv))
            z[q] = e
            # The max's own term (exactly 1) is left out of the sum: log1p below.
            keep = jm[q] != cf
            e = e if keep else 0.0
            e_lo = e_lo if keep else 0.0
            total = s[q] + e
            s_lo[q] += _sum_err(s[q], e, total) + e_lo
            s[q] = total
    if y is None:  # the probabilities (the Hessian products' case)
        for q in range(m):
            s[q] = 1.0 / (1.0 + s[q])
        for c in range(K):
            z = B[c0 + c]
            for q in range(m):
                z[q] *= s[q]
        return
    for q in range(m):
        # logsumexp(z) - z[y] = (m - z[y]) + L: both >= 0, no cancellation.
        li[q] = (mx[q] - zy[q]) + (math.log1p(s[q]) + s_lo[q] / (1.0 + s[q]))
        s[q] = 1.0 / (1.0 + s[q])
    for c in range(K):
        z = B[c0 + c]
        for q in range(m):
            yc = tw[q] if y[start + q] == c else 0.0
            z[q] = tw[q] * (z[q] * s[q]) - yc


@njit(cache=True, error_model="numpy")
def softmax_hessp_block(B, c0, u0, K, m, G, g0, d):
    """A block's softmax Hessian products after :func:`softmax_block` with ``y`` None.

    ``B[c0 + c, :m]`` holds the probabilities p_c, ``B[u0 + c, :m]`` the
    direction's class-c scores u_c, overwritten with ``tw * p_c * (u_c - p.u)``
    (tw the rows' training weights, 0 on held-out rows); their sums are added
    to ``G[g0 + c, d]`` (the intercepts' products).  Class by class across
    the rows, as :func:`softmax_block`.
    """
    r0 = B.shape[0] - SOFTMAX_BLOCK_ROWS
    pu = B[r0 + 5]
    tw = B[r0 + 6]
    for q in range(m):
        pu[q] = 0.0
    for c in range(K):
        z = B[c0 + c]
        u = B[u0 + c]
        for q in range(m):
            pu[q] += z[q] * u[q]
    for c in range(K):
        z = B[c0 + c]
        u = B[u0 + c]
        for q in range(m):
            u[q] = tw[q] * z[q] * (u[q] - pu[q])
        g_b = 0.0
        for q in range(m):
            g_b += u[q]
        G[g0 + c, d] += g_b
