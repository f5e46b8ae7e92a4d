"""Fold-fused kernels: the k training objectives of k-fold cross-validation in one pass.

A row whose fold id is ``f`` belongs to the training set of every model
``j != f`` and is held out of model ``f``.  The k models' coefficients are
the rows of one matrix ``W``: (k, d) binary, (k * K, d) multinomial
(model-major: rows ``j * K .. j * K + K - 1`` are model j's classes), so
that one register-blocked scores pass gives every model's scores of a
block of rows, and one outer-product pass adds every model's gradient, with
the residual 0 for the model a row is held out of.  X is read once for all
folds.

The same shape as :mod:`.binary` and :mod:`.multinomial`: rows split into
``n_threads`` contiguous chunks, each summing into its own per-thread
buffers that the caller allocates and reduces in order (the same
``n_threads`` always gives bit-identical results), in blocks of ROW_BLOCK
rows with per-block partial sums; nothing allocated grows with n.

``X`` is a 2-d C-contiguous float32/float64 array or a CSR tuple
``(data, indices, indptr)``; ``fold`` int64 (n,) with values in [0, k);
``sw`` float64 (n,) or None.  Inputs are trusted.

The loss kernels keep a block's scores model-major (``scratch[t, 0]`` is
(k, ROW_BLOCK) binary, ``scratch[t, :k K]`` (k K, ROW_BLOCK) softmax), so
that one model's loss over the block's rows is a contiguous loop that
vectorizes, and go through :func:`model_scores` and
:func:`model_add_outer`: for dense rows, 4 rows by 2 score rows register
blocks, the next block's rows prefetched during the gradient pass (the
rows.py helpers, on the transposed views, for CSR).  The multinomial
Hessian product uses :func:`.rows.scores_rows` and
:func:`.rows.add_outer_rows` on a block's (ROW_BLOCK, k K) scores.
"""

import math

from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .rows import REDUCTION_FLAGS, ROW_BLOCK, Threaded, add_outer_rows, n_rows, scores_rows, thread_rows
from .special import _diff_err, _sum_err, binary_loss_residual, exp_nonpos, sigmoid_slope, softmax_row

#: Columns of ``stats[t]``: per model, the training loss, the held-out loss, the
#: held-out weight of correct predictions and the held-out weight.
TRAIN_LOSS, TEST_LOSS, TEST_CORRECT, TEST_WEIGHT = range(4)

#: A held-out row's loss is scikit-learn's ``log_loss``: its probability of the
#: true class clipped to ``[eps, 1 - eps]`` (float64 eps) first, so a held-out
#: loss lies in ``[-log(1 - eps), -log(eps)]`` (the scores the cross-validation
#: estimator's ``neg_log_loss`` compares equal scikit-learn's, even for
#: confidently wrong rows of nearly separable classes).  Training losses are
#: never clipped.
HELD_OUT_LOSS_MIN = 2.220446049250313e-16  # -log1p(-eps)
HELD_OUT_LOSS_MAX = 36.04365338911715  # -log(eps)


@njit(cache=True, error_model="numpy", inline="always")
def held_out_loss(li):
    """``li`` clipped to [HELD_OUT_LOSS_MIN, HELD_OUT_LOSS_MAX] (NaN stays NaN)."""
    if li > HELD_OUT_LOSS_MAX:
        return HELD_OUT_LOSS_MAX
    if li < HELD_OUT_LOSS_MIN:
        return HELD_OUT_LOSS_MIN
    return li


# -- the binary kernels' row helpers: several models, model-major, dense or CSR --------


@intrinsic
def _prefetch(typingctx, X, i, j):
    """A hint that X[i, j]'s cache line is read soon (into L2; no fault, no value)."""
    sig = types.void(X, i, j)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, a, t, types.intp) for a, t in zip(args[1:], signature.args[1:])]
        ptr = cgutils.get_item_pointer(context, builder, array_type, array, index, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        # (LLVM renames the typed-pointer spelling itself where pointers are opaque.)
        name = "llvm.prefetch.p0" if getattr(i8p, "is_opaque", False) else "llvm.prefetch.p0i8"
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), name
        )
        # read, locality 2 (kept in L2), data cache
        builder.call(
            fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)]
        )
        return context.get_dummy_value()

    return sig, codegen


def model_scores(X, i, m, W, b, Zt):
    """Zt[j, r] = X[i + r] . W[j] + b[j] for r < m (Zt float64 (k, >= m): model-major)."""
    raise NotImplementedError("only callable from Numba-compiled code")


def model_add_outer(G, Rt, X, i, m, ahead, hi):
    """G[j, :d] += sum_r Rt[j, r] * X[i + r] for r < m (G float64 (k, >= d)); dense X:
    rows ahead .. ahead + m - 1 (those below hi) are prefetched meanwhile."""
    raise NotImplementedError("only callable from Numba-compiled code")


#: Bytes per prefetch: a cache line.
_LINE_BYTES = 64


# Dense rows go 4 at a time (as rows.ROWS_PER_REGISTER_BLOCK) for 2 models at a
# time: each X element loaded serves 2 models, each W or G element 4 rows.  The
# per-block passes (scores, then the gradient from L2) leave the memory bus idle
# while the gradient is computed, so that pass prefetches the next block's rows:
# together 23 -> 17.5 ms at 300 000 x 100, k = 5, on two cores, where one model's
# binary.loss_grad takes 12.4 ms (measured).  Each helper is one compiled
# function with its loops (a call per row and model cost ~10%).
@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _dense_model_scores(X, i, m, W, b, Zt):
    k, d = W.shape
    done = m - m % 4
    # Pairs of models, and for an odd k the last three together: a model
    # alone would load 4 X values per 4 FMAs, as slow as a pair.
    pairs_end = k - 3 if k % 2 and k >= 3 else k - k % 2
    for r in range(0, done, 4):
        x = i + r
        for j in range(0, pairs_end, 2):
            a0 = a1 = a2 = a3 = c0 = c1 = c2 = c3 = 0.0
            for c in range(d):
                w = W[j, c]
                v = W[j + 1, c]
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                a0 += x0 * w
                a1 += x1 * w
                a2 += x2 * w
                a3 += x3 * w
                c0 += x0 * v
                c1 += x1 * v
                c2 += x2 * v
                c3 += x3 * v
            Zt[j, r] = a0 + b[j]
            Zt[j, r + 1] = a1 + b[j]
            Zt[j, r + 2] = a2 + b[j]
            Zt[j, r + 3] = a3 + b[j]
            Zt[j + 1, r] = c0 + b[j + 1]
            Zt[j + 1, r + 1] = c1 + b[j + 1]
            Zt[j + 1, r + 2] = c2 + b[j + 1]
            Zt[j + 1, r + 3] = c3 + b[j + 1]
        if k - pairs_end == 3:
            j = pairs_end
            a0 = a1 = a2 = a3 = c0 = c1 = c2 = c3 = e0 = e1 = e2 = e3 = 0.0
            for c in range(d):
                w = W[j, c]
                v = W[j + 1, c]
                u = W[j + 2, c]
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                a0 += x0 * w
                a1 += x1 * w
                a2 += x2 * w
                a3 += x3 * w
                c0 += x0 * v
                c1 += x1 * v
                c2 += x2 * v
                c3 += x3 * v
                e0 += x0 * u
                e1 += x1 * u
                e2 += x2 * u
                e3 += x3 * u
            Zt[j, r] = a0 + b[j]
            Zt[j, r + 1] = a1 + b[j]
            Zt[j, r + 2] = a2 + b[j]
            Zt[j, r + 3] = a3 + b[j]
            Zt[j + 1, r] = c0 + b[j + 1]
            Zt[j + 1, r + 1] = c1 + b[j + 1]
            Zt[j + 1, r + 2] = c2 + b[j + 1]
            Zt[j + 1, r + 3] = c3 + b[j + 1]
            Zt[j + 2, r] = e0 + b[j + 2]
            Zt[j + 2, r + 1] = e1 + b[j + 2]
            Zt[j + 2, r + 2] = e2 + b[j + 2]
            Zt[j + 2, r + 3] = e3 + b[j + 2]
        elif k - pairs_end == 1:
            j = k - 1
            a0 = a1 = a2 = a3 = 0.0
            for c in range(d):
                w = W[j, c]
                a0 += X[x, c] * w
                a1 += X[x + 1, c] * w
                a2 += X[x + 2, c] * w
                a3 += X[x + 3, c] * w
            Zt[j, r] = a0 + b[j]
            Zt[j, r + 1] = a1 + b[j]
            Zt[j, r + 2] = a2 + b[j]
            Zt[j, r + 3] = a3 + b[j]
    for r in range(done, m):
        for j in range(k):
            a = 0.0
            for c in range(d):
                a += X[i + r, c] * W[j, c]
            Zt[j, r] = a + b[j]


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _dense_model_add_outer(G, Rt, X, i, m, ahead, hi):
    k = G.shape[0]
    d = X.shape[1]
    step = max(1, _LINE_BYTES // X.itemsize)
    done = m - m % 4
    pairs_end = k - 3 if k % 2 and k >= 3 else k - k % 2  # as _dense_model_scores
    for r in range(0, done, 4):
        for q in range(ahead + r, min(ahead + r + 4, hi)):
            for c in range(0, d, step):
                _prefetch(X, q, c)
        x = i + r
        for j in range(0, pairs_end, 2):
            a0 = Rt[j, r]
            a1 = Rt[j, r + 1]
            a2 = Rt[j, r + 2]
            a3 = Rt[j, r + 3]
            e0 = Rt[j + 1, r]
            e1 = Rt[j + 1, r + 1]
            e2 = Rt[j + 1, r + 2]
            e3 = Rt[j + 1, r + 3]
            g = G[j]
            h = G[j + 1]
            for c in range(d):
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                g[c] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
                h[c] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
        if k - pairs_end == 3:
            j = pairs_end
            a0 = Rt[j, r]
            a1 = Rt[j, r + 1]
            a2 = Rt[j, r + 2]
            a3 = Rt[j, r + 3]
            e0 = Rt[j + 1, r]
            e1 = Rt[j + 1, r + 1]
            e2 = Rt[j + 1, r + 2]
            e3 = Rt[j + 1, r + 3]
            f0 = Rt[j + 2, r]
            f1 = Rt[j + 2, r + 1]
            f2 = Rt[j + 2, r + 2]
            f3 = Rt[j + 2, r + 3]
            g = G[j]
            h = G[j + 1]
            o = G[j + 2]
            for c in range(d):
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                g[c] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
                h[c] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
                o[c] += (f0 * x0 + f1 * x1) + (f2 * x2 + f3 * x3)
        elif k - pairs_end == 1:
            j = k - 1
            a0 = Rt[j, r]
            a1 = Rt[j, r + 1]
            a2 = Rt[j, r + 2]
            a3 = Rt[j, r + 3]
            g = G[j]
            for c in range(d):
                g[c] += (a0 * X[x, c] + a1 * X[x + 1, c]) + (a2 * X[x + 2, c] + a3 * X[x + 3, c])
    for r in range(done, m):
        for j in range(k):
            a = Rt[j, r]
            g = G[j]
            for c in range(d):
                g[c] += a * X[i + r, c]


def _is_csr(X):
    return isinstance(X, types.BaseTuple)


@overload(model_scores, jit_options={"cache": True, "error_model": "numpy"})
def _model_scores(X, i, m, W, b, Zt):
    if _is_csr(X):
        return lambda X, i, m, W, b, Zt: scores_rows(X, i, m, W, b, Zt.T)
    return lambda X, i, m, W, b, Zt: _dense_model_scores(X, i, m, W, b, Zt)


@overload(model_add_outer, jit_options={"cache": True, "error_model": "numpy"})
def _model_add_outer(G, Rt, X, i, m, ahead, hi):
    if _is_csr(X):
        return lambda G, Rt, X, i, m, ahead, hi: add_outer_rows(G, Rt.T, X, i, m)
    return lambda G, Rt, X, i, m, ahead, hi: _dense_model_add_outer(G, Rt, X, i, m, ahead, hi)


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _binary_fold_sums(z, l, r, y, fold, sw, start, m, j, S, g):
    """Model j's block sums from its scores ``z``, losses ``l`` and residuals ``r``
    (overwritten with the training weight times the residual, 0 on held-out
    rows): its stats row ``S`` and intercept gradient ``g[d]``.  Branch free
    (the held-out rows by their weights), so the loop vectorizes."""
    train_loss = 0.0
    test_loss = 0.0
    correct = 0.0
    weight = 0.0
    g_b = 0.0
    for q in range(m):
        i = start + q
        wi = sw[i] if sw is not None else 1.0
        train = fold[i] != j
        tw = wi if train else 0.0
        hw = 0.0 if train else wi
        train_loss += tw * l[q]
        test_loss += hw * held_out_loss(l[q])
        correct += hw if (z[q] > 0.0) == (float(y[i]) > 0.5) else 0.0
        weight += hw
        r[q] *= tw
        g_b += r[q]
    g[g.shape[0] - 1] += g_b
    S[TRAIN_LOSS] += train_loss
    S[TEST_LOSS] += test_loss
    S[TEST_CORRECT] += correct
    S[TEST_WEIGHT] += weight


@Threaded
def binary_loss_grad(X, y, fold, W, b, sw, n_threads, parts, stats, scratch):
    """Per-thread sums of k binary log-losses and gradients over their training rows,
    and of the held-out loss and correct predictions of each model.

    W: float64 (k, d), b: float64 (k,), y: labels 0/1 (any numeric dtype).
    parts: (n_threads, k, d + 1) float64, overwritten: model j's gradient in
    parts[t, j, :d], its intercept gradient in [t, j, d].  stats:
    (n_threads, k, 4) float64, overwritten: [train loss, held-out loss,
    held-out weight of correct predictions (score > 0 predicts 1, score <= 0
    predicts 0, as scikit-learn's predict), held-out weight].
    scratch: (n_threads, 3, k, ROW_BLOCK) float64.
    """
    n = n_rows(X)
    k, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        S = stats[t]
        S[:] = 0.0
        Zt = scratch[t, 0]  # scores (model-major)
        Lt = scratch[t, 1]  # losses
        Rt = scratch[t, 2]  # residuals, then weighted and masked
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W, b, Zt)
            for j in range(k):
                z = Zt[j]
                l = Lt[j]
                r = Rt[j]
                for q in range(m):
                    l[q], r[q] = binary_loss_residual(z[q], float(y[start + q]))
            for j in range(k):
                _binary_fold_sums(Zt[j], Lt[j], Rt[j], y, fold, sw, start, m, j, S[j], G[j])
            model_add_outer(G, Rt, X, start, m, start + ROW_BLOCK, hi)


#: Rows of ``scratch[t]`` after a multinomial loss block's k * K score rows: per row
#: of X, its max score, argmax, true-class score, two compensated sums, loss and
#: training and held-out weights (see :func:`_softmax_fold_block`).
MULTINOMIAL_ROWS = 8


@njit(cache=True, error_model="numpy")
def _softmax_fold_block(B, c0, K, y, fold, sw, start, m, j):
    """Model j's softmax over a block's m rows, model-major, vectorized across rows.

    ``B[c0 + c, :m]`` holds the model's class-c scores and is overwritten
    with its training residuals ``tw * (p_c - [y == c])`` (0 on held-out
    rows); ``B[-MULTINOMIAL_ROWS:]`` receives per row: the max score, its
    (first) argmax, the true class's score, the compensated sum of the
    other classes' exponentials (two rows: sum, then the probabilities'
    common factor), the loss ``logsumexp(z) - z[y]``, and the training and
    held-out weights.  The arithmetic is :func:`.special.softmax_row`'s
    (exact shifts, compensated sum leaving out the max's own exact 1),
    done class by class over the rows so that every loop vectorizes: no
    fast-math flags here (the compensated sums depend on the order of
    rounding).
    """
    n_rows_b = B.shape[0]
    r0 = n_rows_b - MULTINOMIAL_ROWS
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
        train = fold[i] != j
        tw[q] = wi if train else 0.0
        hw[q] = 0.0 if train else wi
        mx[q] = B[c0, q]
        s[q] = 0.0
        s_lo[q] = 0.0
        # (A gather, row by row: a select over the classes costs 10x more.)
        zy[q] = B[c0 + y[i], q]
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
    for q in range(m):
        # logsumexp(z) - z[y] = (m - z[y]) + L: both >= 0, no cancellation.
        li[q] = (mx[q] - zy[q]) + (math.log1p(s[q]) + s_lo[q] / (1.0 + s[q]))
        s[q] = 1.0 / (1.0 + s[q])
    for c in range(K):
        z = B[c0 + c]
        for q in range(m):
            yc = tw[q] if y[start + q] == c else 0.0
            z[q] = tw[q] * (z[q] * s[q]) - yc


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _softmax_fold_sums(B, c0, K, y, start, m, S, G, d):
    """Model j's block sums after :func:`_softmax_fold_block`: its stats row ``S``
    (training loss, held-out loss, correct and weight) and intercept gradients
    ``G[c0 + c, d]``."""
    r0 = B.shape[0] - MULTINOMIAL_ROWS
    jm = B[r0 + 1]
    li = B[r0 + 5]
    tw = B[r0 + 6]
    hw = B[r0 + 7]
    train_loss = 0.0
    test_loss = 0.0
    correct = 0.0
    weight = 0.0
    for q in range(m):
        train_loss += tw[q] * li[q]
        test_loss += hw[q] * held_out_loss(li[q])
        correct += hw[q] if jm[q] == y[start + q] else 0.0
        weight += hw[q]
    S[TRAIN_LOSS] += train_loss
    S[TEST_LOSS] += test_loss
    S[TEST_CORRECT] += correct
    S[TEST_WEIGHT] += weight
    for c in range(K):
        z = B[c0 + c]
        g_b = 0.0
        for q in range(m):
            g_b += z[q]
        G[c0 + c, d] += g_b


@Threaded
def multinomial_loss_grad(X, y, fold, W, b, sw, n_threads, parts, stats, scratch):
    """Per-thread sums of k softmax log-losses and gradients over their training rows,
    and of the held-out loss and correct predictions of each model.

    W: float64 (k * K, d), b: float64 (k * K,), model-major; y: integer class
    indices in [0, K).  parts: (n_threads, k * K, d + 1) float64, overwritten:
    model j's class c gradient in parts[t, j * K + c, :d], its intercept
    gradient in [..., d].  stats: (n_threads, k, 4) as in
    :func:`binary_loss_grad` (a correct prediction: the first largest of the
    model's K scores is y's, as numpy's argmax).
    scratch: (n_threads, k * K + MULTINOMIAL_ROWS, ROW_BLOCK) float64: a
    block's scores, model-major (then its residuals), and the per-row rows
    of :func:`_softmax_fold_block`.  As in the binary kernel, dense rows go
    through :func:`model_scores` / :func:`model_add_outer` (4 rows by 2
    score rows per register block, the next block prefetched), and the
    softmax runs class by class across a block's rows, where a row-by-row
    softmax of K values does not vectorize (measured 2x slower in all).
    """
    n = n_rows(X)
    kK, d = W.shape
    k = stats.shape[1]
    K = kK // k
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        S = stats[t]
        S[:] = 0.0
        B = scratch[t]
        Zt = B[:kK]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W, b, Zt)
            for j in range(k):
                _softmax_fold_block(B, j * K, K, y, fold, sw, start, m, j)
                _softmax_fold_sums(B, j * K, K, y, start, m, S[j], G, d)
            model_add_outer(G, Zt, X, start, m, start + ROW_BLOCK, hi)


@Threaded
def binary_hessp(X, fold, W, b, V, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H_j @ (V[j], v_b[j]) for every model j, H_j the Hessian of
    model j's binary loss over its training rows at (W[j], b[j]).

    Per row and model j != its fold: z = x.W[j] + b[j], u = x.V[j] + v_b[j],
    adds sw * sigmoid'(z) * u * [x, 1] to model j.  W, V: float64 (k, d);
    b, v_b: float64 (k,).  parts: (n_threads, k, d + 1), overwritten.
    scratch: (n_threads, 2, k, ROW_BLOCK) float64.
    """
    n = n_rows(X)
    k, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        Zt = scratch[t, 0]
        Ut = scratch[t, 1]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W, b, Zt)
            model_scores(X, start, m, V, v_b, Ut)
            for j in range(k):
                z = Zt[j]
                u = Ut[j]
                for q in range(m):
                    u[q] *= sigmoid_slope(z[q])
            for j in range(k):
                u = Ut[j]
                g_b = 0.0
                for q in range(m):
                    i = start + q
                    if fold[i] == j:
                        u[q] = 0.0
                    else:
                        if sw is not None:
                            u[q] *= sw[i]
                        g_b += u[q]
                G[j, d] += g_b
            model_add_outer(G, Ut, X, start, m, start + ROW_BLOCK, hi)


@Threaded
def multinomial_hessp(X, fold, W, b, V, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H_j @ (V_j, v_b_j) for every model j, H_j the Hessian of
    model j's softmax loss over its training rows at (W_j, b_j).

    W, V: float64 (k * K, d), b, v_b: float64 (k * K,), model-major.  Per row
    and model j != its fold, with p = softmax(z_j) and u = V_j x + v_b_j:
    adds sw * p_c * (u_c - p.u) * [x, 1] to model j's class c.
    parts: (n_threads, k * K, d + 1), overwritten.  scratch:
    (n_threads, 2 * ROW_BLOCK + 3, k, K) float64: a block's scores, its
    directions' scores (then the products), the block's intercept parts and
    two rows whose first K entries are the softmax's scratch.
    """
    n = n_rows(X)
    kK, d = W.shape
    k, K = scratch.shape[2], scratch.shape[3]
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        Z3 = scratch[t, :ROW_BLOCK]
        U3 = scratch[t, ROW_BLOCK : 2 * ROW_BLOCK]
        Z = Z3.reshape((ROW_BLOCK, kK))
        U = U3.reshape((ROW_BLOCK, kK))
        g_b = scratch[t, 2 * ROW_BLOCK]
        e = scratch[t, 2 * ROW_BLOCK + 1, 0]
        e_lo = scratch[t, 2 * ROW_BLOCK + 2, 0]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m_rows = min(ROW_BLOCK, hi - start)
            scores_rows(X, start, m_rows, W, b, Z)
            scores_rows(X, start, m_rows, V, v_b, U)
            g_b[:] = 0.0
            for r in range(m_rows):
                i = start + r
                f = fold[i]
                wi = sw[i] if sw is not None else 1.0
                for j in range(k):
                    ur = U3[r, j]
                    if j == f:
                        ur[:] = 0.0
                        continue
                    softmax_row(Z3[r], j, e, e_lo)
                    pu = 0.0
                    for c in range(K):
                        pu += e[c] * ur[c]
                    for c in range(K):
                        ur[c] = wi * e[c] * (ur[c] - pu)
                        g_b[j, c] += ur[c]
            for j in range(k):
                for c in range(K):
                    G[j * K + c, d] += g_b[j, c]
            add_outer_rows(G, U, X, start, m_rows)
