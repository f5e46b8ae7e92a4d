"""Fused multinomial (softmax) loss, gradient and Hessian products: dense and CSR.

The same shape as :mod:`.binary`: one pass over the rows of X per call,
rows split into ``n_threads`` contiguous chunks summing into per-thread
buffers the caller allocates and reduces in order.  Nothing of size n x K
is ever formed.

Rows go in blocks of ROW_BLOCK: the block's K scores per row (register
blocked over rows and classes for dense X, see :mod:`.rows`), its softmax
and residuals, then one gradient update for the block while it is in L2.

``X`` is a 2-d C-contiguous float32/float64 array or a CSR tuple
``(data, indices, indptr)``; ``W`` is float64 (K, d), ``b`` float64 (K,),
``y`` integer class indices in [0, K), ``sw`` float64 (n,) or None.
"""

from numba import njit, prange

from .rows import (
    REDUCTION_FLAGS,
    ROW_BLOCK,
    Threaded,
    dense_add_outer_from,
    dense_scores_from,
    hessian_add,
    hessian_finish,
    hessian_rows,
    model_add_outer,
    model_scores,
    n_rows,
    scores_rows,
    thread_rows,
)
from .special import SOFTMAX_BLOCK_ROWS, softmax_block, softmax_hessp_block


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _block_sums(B, K, m, G, d):
    """A block's weighted loss (returned) and intercept gradients (added to
    ``G[:, d]``) after :func:`.special.softmax_block`."""
    li = B[B.shape[0] - SOFTMAX_BLOCK_ROWS + 5]
    tw = B[B.shape[0] - SOFTMAX_BLOCK_ROWS + 6]
    loss = 0.0
    for q in range(m):
        loss += tw[q] * li[q]
    for c in range(K):
        z = B[c]
        g_b = 0.0
        for q in range(m):
            g_b += z[q]
        G[c, d] += g_b
    return loss


@njit(cache=True, error_model="numpy", inline="always")
def _block_loss_grad(X, y, W, b, sw, B, G, start, m, hi):
    """One block of m rows from ``start``: its scores into ``B[:K]`` (left there as
    the residuals), its softmax, its gradient added to ``G`` (the next block,
    below ``hi``, prefetched meanwhile); returns its weighted loss."""
    K, d = W.shape
    Zt = B[:K]
    model_scores(X, start, m, W, b, Zt)
    softmax_block(B, 0, K, y, None, sw, start, m, 0)
    loss = _block_sums(B, K, m, G, d)
    model_add_outer(G, Zt, X, start, m, start + ROW_BLOCK, hi)
    return loss


@Threaded
def loss_grad(X, y, W, b, sw, n_threads, parts, loss_parts, scratch):
    """Per-thread sums of the softmax log-loss and its gradient.

    parts: (n_threads, K, d + 1) float64, overwritten: thread t's gradient
    for class k in parts[t, k, :d], its intercept gradient in [t, k, d].
    loss_parts: (n_threads,).  scratch: (n_threads, K + SOFTMAX_BLOCK_ROWS,
    ROW_BLOCK) float64: a block's scores class-major (then its residuals)
    and the per-row rows of :func:`.special.softmax_block`.  Dense rows go
    4 at a time for 2 classes at a time (:func:`.rows.model_scores`,
    :func:`.rows.model_add_outer`, the next block prefetched), the softmax
    class by class across the block's rows (vectorized).  Sums go through
    per-block partials: rounding grows with the block count, not with n.
    """
    n = n_rows(X)
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        B = scratch[t]
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            loss += _block_loss_grad(X, y, W, b, sw, B, G, start, min(ROW_BLOCK, hi - start), hi)
        loss_parts[t] = loss


@njit(cache=True, error_model="numpy")
def loss_grad_small(X, y, W, b, sw, parts, loss_parts, scratch):
    """:func:`loss_grad` on one thread for a small dense X: its blocks of rows,
    their scores and gradient updates a row and a class at a time.

    The same sums (to rounding) into ``parts[0]`` and ``loss_parts[0]``
    (``parts``, ``loss_parts``, ``scratch`` as for :func:`loss_grad`, for one
    thread).  It compiles in about half the time of :func:`loss_grad`'s
    register-blocked rows (a first fit in a new process,
    :data:`fastlogit.matrix.SMALL_WORK`).
    """
    n = X.shape[0]
    K, d = W.shape
    G = parts[0]
    G[:] = 0.0
    B = scratch[0]
    Zt = B[:K]
    loss = 0.0
    for start in range(0, n, ROW_BLOCK):
        m = min(ROW_BLOCK, n - start)
        dense_scores_from(X, start, 0, m, W, b, Zt)
        softmax_block(B, 0, K, y, None, sw, start, m, 0)
        loss += _block_sums(B, K, m, G, d)
        dense_add_outer_from(G, Zt, X, start, 0, m)
    loss_parts[0] = loss


@Threaded
def loss_grad_hessian(X, y, W, b, sw, n_threads, parts, loss_parts, hess_parts, scratch, rows_scratch):
    """Per-thread sums of the softmax log-loss, its gradient and its Hessian: one pass.

    What a softmax Newton step needs from one read of X.  Each block of rows
    goes as in :func:`loss_grad` (scores, softmax, loss, gradient), then, for
    every pair of classes a <= b, its rows' weights ``c = tw p_a (delta_ab -
    p_b)`` and their part of block (a, b), ``sum c [x, 1][x, 1]^T``, added as
    :func:`.binary.loss_grad_hessian` adds its one block: dense, the block's
    rows copied as columns into scratch once (:func:`.rows.hessian_rows`),
    then each pair's tiles summed over it from cache
    (:func:`.rows.hessian_add`); CSR, each row's nonzeros' outer product,
    O(nnz^2) a row and pair.  O(n K^2 d^2 / 2) work in all, as the blocked
    BLAS Hessian, without its second read of X.

    parts, loss_parts, scratch: as in :func:`loss_grad`.
    hess_parts: (n_threads, K, K, d + 1, d + 1) float64, overwritten: thread
    t's block (a, b) for a <= b (the class-major Hessian's block; each block
    is symmetric, and block (b, a) is its transpose); blocks a > b are zeros.
    rows_scratch: (n_threads, 2, d + 1, ROW_BLOCK + PANEL_PAD) float64 (CSR:
    any number of rows >= 1 in place of d + 1; only the last is used).
    """
    n = n_rows(X)
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        H = hess_parts[t]
        H[:] = 0.0
        B = scratch[t]
        Zt = B[:K]
        r0 = B.shape[0] - SOFTMAX_BLOCK_ROWS
        inv = B[r0]  # (the max scores' row, free once the block's softmax is done)
        tw = B[r0 + 6]
        A = rows_scratch[t, 0]
        S = rows_scratch[t, 1]
        weight = S[S.shape[0] - 1]  # a pair's row weights, hessian_add's c
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            loss += _block_loss_grad(X, y, W, b, sw, B, G, start, m, hi)
            # The residuals tw (p - [y == c]) back to tw p, and 1 / tw (0 for a
            # row of weight 0, whose tw p are 0: it adds nothing).
            for q in range(m):
                Zt[y[start + q], q] += tw[q]
                inv[q] = 1.0 / tw[q] if tw[q] > 0.0 else 0.0
            hessian_rows(A, X, start, m)
            for a in range(K):
                pa = Zt[a]
                for c in range(a, K):
                    pc = Zt[c]
                    same = 1.0 if c == a else 0.0
                    for q in range(m):
                        weight[q] = pa[q] * (same - pc[q] * inv[q])
                    hessian_add(H[a, c], A, S, X, start, m, weight)
        for a in range(K):
            for c in range(a, K):
                hessian_finish(H[a, c], X)
        loss_parts[t] = loss


@Threaded
def hessp(X, W, b, V, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H @ (V, v_b), H the softmax loss Hessian at (W, b).

    Per row, with p = softmax(z) and u = V x + v_b: adds
    sw * p_k * (u_k - p.u) * [x, 1] to class k.
    parts: (n_threads, K, d + 1), overwritten;
    scratch: (n_threads, 2 K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK): a block's
    scores and direction scores, class-major, and softmax_block's rows.
    """
    n = n_rows(X)
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        B = scratch[t]
        Zt = B[:K]
        Ut = B[K : 2 * K]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W, b, Zt)
            model_scores(X, start, m, V, v_b, Ut)
            softmax_block(B, 0, K, None, None, sw, start, m, 0)
            softmax_hessp_block(B, 0, K, K, m, G, 0, d)
            model_add_outer(G, Ut, X, start, m, start + ROW_BLOCK, hi)


@Threaded
def predict_raw_into(X, W, b, out):
    """out[i, k] = x_i.W[k] + b[k] (the decision function), float64 (n, K)."""
    n = n_rows(X)
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for blk in prange(n_blocks):
        start = blk * ROW_BLOCK
        scores_rows(X, start, min(ROW_BLOCK, n - start), W, b, out[start:])
