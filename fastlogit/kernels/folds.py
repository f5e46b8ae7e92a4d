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

The kernels keep a block's scores model-major (``scratch[t, 0]`` is
(k, ROW_BLOCK) binary, ``scratch[t, :k K]`` (k K, ROW_BLOCK) softmax), so
that one model's loss over the block's rows is a contiguous loop that
vectorizes, and go through :func:`.rows.model_scores` and
:func:`.rows.model_add_outer`: for dense rows, 4 rows by 2 score rows
register blocks, the next block's rows prefetched during the gradient pass
(the row-major helpers, on the transposed views, for CSR).  The softmax
runs class by class across a block's rows (:func:`.special.softmax_block`).
"""

from numba import njit, prange

from .rows import (
    REDUCTION_FLAGS,
    ROW_BLOCK,
    Threaded,
    model_add_outer,
    model_scores,
    n_rows,
    thread_rows,
)
from .special import (
    SOFTMAX_BLOCK_ROWS,
    binary_loss_residual,
    sigmoid_slope,
    softmax_block,
    softmax_hessp_block,
)

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


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _softmax_fold_sums(B, c0, K, y, start, m, S, G, d):
    """Model j's block sums after :func:`.special.softmax_block`: its stats row ``S``
    (training loss, held-out loss, correct and weight) and intercept gradients
    ``G[c0 + c, d]``."""
    r0 = B.shape[0] - SOFTMAX_BLOCK_ROWS
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
    scratch: (n_threads, k * K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK) float64: a
    block's scores, model-major (then its residuals), and the per-row rows
    of :func:`.special.softmax_block`.  As in the binary kernel, dense rows go
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
                softmax_block(B, j * K, K, y, fold, sw, start, m, j)
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
def multinomial_hessp(X, fold, W3, b2, V3, v_b2, sw, n_threads, parts, scratch):
    """Per-thread sums of H_j @ (V_j, v_b_j) for every model j, H_j the Hessian of
    model j's softmax loss over its training rows at (W_j, b_j).

    W3, V3: float64 C-contiguous (k, K, d), b2, v_b2: float64 (k, K).  Per
    row and model j != its fold, with p = softmax(z_j) and u = V_j x + v_b_j:
    adds sw * p_c * (u_c - p.u) * [x, 1] to model j's class c.
    parts: (n_threads, k * K, d + 1), overwritten.  scratch: (n_threads,
    2 k K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK) float64: a block's scores and its
    directions' scores (then the products), model-major, and the rows of
    :func:`.special.softmax_block`.
    """
    n = n_rows(X)
    k, K, d = W3.shape
    kK = k * K
    W = W3.reshape((kK, d))
    V = V3.reshape((kK, d))
    b = b2.reshape(kK)
    v_b = v_b2.reshape(kK)
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        B = scratch[t]
        Zt = B[:kK]
        Ut = B[kK : 2 * kK]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W, b, Zt)
            model_scores(X, start, m, V, v_b, Ut)
            for j in range(k):
                softmax_block(B, j * K, K, None, fold, sw, start, m, j)
                softmax_hessp_block(B, j * K, kK + j * K, K, m, G, j * K, d)
            model_add_outer(G, Ut, X, start, m, start + ROW_BLOCK, hi)
