"""Fused kernels of a split design: a dense block and categorical blocks held as codes.

Row i of the design is ``[x_i, e(c_i0), ..., e(c_i,m-1)]``: the dense block's
row ``x_i`` (p floats) and, for each categorical j, the one-hot row of its
code ``c_ij`` over its ``n_levels[j]`` levels; a code of -1 (the dropped
reference level) is a zero row.  A categorical costs one small integer per
row, not a column of floats per level: its part of a score is one lookup
``w[offsets[j] + c_ij]``, of a gradient one scattered add (a bincount), and
its block of ``X^T diag(h) X`` is diagonal.

Arguments (trusted, as :class:`fastlogit.split.SplitDesign` holds them):

- ``X``: the dense block, (n, p) C-contiguous float32/float64 (p may be 0);
- ``codes``: (n, m) C-contiguous int32, ``codes[i, j]`` in [-1, n_levels[j]);
- ``offsets``: (m,) int64, the design column of categorical j's level 0
  (``p + n_levels[0] + ... + n_levels[j - 1]``);
- ``n_levels``: (m,) int64; ``pair_offsets``: (m, m) int64, where the
  contingency table of categoricals j < k starts in the flat pair buffer
  (laid out ``c_j * n_levels[k] + c_k``);
- coefficients float64 over the d = p + sum(n_levels) design columns,
  ``sw`` float64 (n,) or None.

Threads as in :mod:`.binary`: rows split into ``n_threads`` contiguous
parts, each summing into its own row of buffers that the caller allocates
and reduces in order (bit-identical results for one ``n_threads``; the
serial twin of :class:`.rows.Threaded` gives the same bits).  Sums
accumulate in float64.

Structured Gram sums (the exact Hessians and the score outer products):
``sum_i h_iq [x~_i, e_i][x~_i, e_i]^T`` for Q weights per row
(``x~ = [x, 1]``; Q = 1 binary, one per pair of classes k <= l softmax),
kept as its distinct blocks, per thread:

- ``dense`` (p + 1, Q (p + 1)): ``sum h_q x~ x~^T``, the Q blocks side by
  side (the dense block and its intercept row and column), one BLAS product
  per block of rows;
- ``cross`` (Q, L, p): per level, ``sum h_q x`` over its rows (L the levels
  of all categoricals);
- ``levels`` (Q, L): per level, ``sum h_q``: each categorical's own block
  (diagonal) and its intercept column;
- ``pairs`` (Q, P): for categoricals j < k, the weighted contingency table.

O(p^2 + m p + m^2) per row and weight instead of O(d^2); the caller
assembles the matrix (:func:`fastlogit.split.assemble_gram`).
"""

import numpy as np
from numba import njit, prange

from .rows import (
    REDUCTION_FLAGS,
    ROW_BLOCK,
    Threaded,
    axpy_row,
    dot_row,
    model_add_outer,
    model_scores,
    scores_rows,
    thread_rows,
)
from .special import (
    SOFTMAX_BLOCK_ROWS,
    binary_block_residuals,
    binary_loss_residual,
    sigmoid_slope,
    softmax_block,
    softmax_hessp_block,
)

# -- a block of rows ------------------------------------------------------------


@njit(cache=True, error_model="numpy")
def _block_scores(X, codes, offsets, start, m, w, b, z):
    """``z[r] = row (start + r) . w + b`` for r < m: the dense dots, then one lookup per
    categorical.  (Two loops over the block: the dense loop stays a vectorized dot per
    row, 1.5x faster than the lookups interleaved row by row, measured.)"""
    for r in range(m):
        z[r] = dot_row(X, start + r, w) + b  # (the dense block's p columns: w[:p])
    for r in range(m):
        for j in range(codes.shape[1]):
            c = codes[start + r, j]
            if c >= 0:
                z[r] += w[offsets[j] + c]


@njit(cache=True, error_model="numpy")
def _block_add_rows(g, R, X, codes, offsets, start, m):
    """``g += sum_r R[r] * row (start + r)``: the dense axpys, then one add per categorical
    (a bincount of the residuals over the levels)."""
    for r in range(m):
        axpy_row(g, R[r], X, start + r)
    for r in range(m):
        for j in range(codes.shape[1]):
            c = codes[start + r, j]
            if c >= 0:
                g[offsets[j] + c] += R[r]


@njit(cache=True, error_model="numpy")
def _level_scores(codes, offsets, start, m, W, Zt):
    """``Zt[k, r] += W[k, offsets[j] + codes[start + r, j]]`` (class-major scores)."""
    K = W.shape[0]
    for r in range(m):
        for j in range(codes.shape[1]):
            c = codes[start + r, j]
            if c >= 0:
                col = offsets[j] + c
                for k in range(K):
                    Zt[k, r] += W[k, col]


@njit(cache=True, error_model="numpy")
def _level_add_outer(G, Rt, codes, offsets, start, m):
    """``G[k, offsets[j] + codes[start + r, j]] += Rt[k, r]``: the levels' gradient (a bincount)."""
    K = G.shape[0]
    for r in range(m):
        for j in range(codes.shape[1]):
            c = codes[start + r, j]
            if c >= 0:
                col = offsets[j] + c
                for k in range(K):
                    G[k, col] += Rt[k, r]


@njit(cache=True, error_model="numpy")
def _gram_block(X, codes, offsets, n_levels, pair_offsets, start, m, H, A, S, dense, cross, levels, pairs):
    """Rows ``start .. start + m - 1``'s part of the structured Gram sums, row r weighted by
    ``H[r]`` (Q,).

    The dense part: ``x~`` into the scratch rows of ``A``, ``h_q x~`` side by
    side into ``S``, then one BLAS product added to ``dense``.  The
    categorical parts go to ``cross``, ``levels`` and ``pairs``, one
    categorical (or pair) at a time over the block.
    """
    p = X.shape[1]
    Q = H.shape[1]
    for r in range(m):
        a = A[r]
        for col in range(p):
            a[col] = X[start + r, col]
        a[p] = 1.0
        s = S[r]
        for q in range(Q):
            hq = H[r, q]
            base = q * (p + 1)
            for col in range(p + 1):
                s[base + col] = hq * a[col]
    dense += np.dot(A[:m].T, S[:m])
    n_cat = codes.shape[1]
    for j in range(n_cat):
        first = offsets[j] - p  # (levels are numbered across the categoricals)
        for r in range(m):
            c = codes[start + r, j]
            if c >= 0:
                lev = first + c
                s = S[r]
                for q in range(Q):
                    levels[q, lev] += H[r, q]
                    row = cross[q, lev]
                    base = q * (p + 1)
                    for col in range(p):
                        row[col] += s[base + col]
        for k in range(j + 1, n_cat):
            at0 = pair_offsets[j, k]
            width = n_levels[k]
            for r in range(m):
                c = codes[start + r, j]
                c2 = codes[start + r, k]
                if c >= 0 and c2 >= 0:
                    at = at0 + c * width + c2
                    for q in range(Q):
                        pairs[q, at] += H[r, q]


# -- binary (sigmoid) model ---------------------------------------------------------


@Threaded
def binary_loss_grad(X, codes, offsets, y, w, b, sw, n_threads, parts, scratch):
    """Per-thread sums of the binary log-loss and its gradient.

    parts: (n_threads, d + 2) float64, overwritten: row t holds thread t's
    gradient in [:d], intercept gradient in [d] and loss in [d + 1].
    scratch: (n_threads, 2, ROW_BLOCK) float64.
    """
    n = X.shape[0]
    d = w.shape[0]
    for t in prange(n_threads):
        g = parts[t]
        g[:] = 0.0
        zbuf = scratch[t, 0]
        lbuf = scratch[t, 1]
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        g_b = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            _block_scores(X, codes, offsets, start, m, w, b, zbuf)
            loss, g_b = binary_block_residuals(zbuf, lbuf, y, sw, start, m, 0.0, loss, g_b)
            _block_add_rows(g, zbuf, X, codes, offsets, start, m)
        g[d] = g_b
        g[d + 1] = loss


@Threaded
def binary_loss_grad_gram(
    X,
    codes,
    offsets,
    n_levels,
    pair_offsets,
    y,
    w,
    b,
    sw,
    score_outer,
    n_threads,
    parts,
    dense_parts,
    cross_parts,
    level_parts,
    pair_parts,
    a_scratch,
    s_scratch,
    h_scratch,
    scratch,
):
    """Per-thread sums of the binary log-loss, its gradient and a structured Gram sum: one pass.

    The Gram weight of row i is ``s_i sigmoid'(z_i)`` (the Hessian: a Newton
    step's whole input from one read of the rows) or, with ``score_outer``,
    ``s_i (p_i - y_i)^2`` (the outer products of the rows' scores, the
    robust covariances' meat; frequency weights enter once).

    parts: (n_threads, d + 2) as in :func:`binary_loss_grad`.
    dense_parts (n_threads, p + 1, p + 1), cross_parts (n_threads, 1, L, p),
    level_parts (n_threads, 1, L), pair_parts (n_threads, 1, P): the
    structured sums of the module docstring (Q = 1), overwritten.
    a_scratch, s_scratch: (n_threads, ROW_BLOCK, p + 1), h_scratch
    (n_threads, ROW_BLOCK, 1), scratch (n_threads, 2, ROW_BLOCK) float64.
    The caller keeps BLAS on one thread (the threads here are Numba's).
    """
    n = X.shape[0]
    d = w.shape[0]
    for t in prange(n_threads):
        g = parts[t]
        g[:] = 0.0
        dense = dense_parts[t]
        dense[:] = 0.0
        cross = cross_parts[t]
        cross[:] = 0.0
        levels = level_parts[t]
        levels[:] = 0.0
        pairs = pair_parts[t]
        pairs[:] = 0.0
        H = h_scratch[t]
        zbuf = scratch[t, 0]
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        g_b = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            _block_scores(X, codes, offsets, start, m, w, b, zbuf)
            for k in range(m):
                i = start + k
                z = zbuf[k]
                li, ri = binary_loss_residual(z, float(y[i]))
                hw = ri * ri if score_outer else sigmoid_slope(z)
                if sw is not None:
                    li *= sw[i]
                    ri *= sw[i]
                    hw *= sw[i]
                loss += li
                g_b += ri
                zbuf[k] = ri
                H[k, 0] = hw
            _block_add_rows(g, zbuf, X, codes, offsets, start, m)
            _gram_block(
                X,
                codes,
                offsets,
                n_levels,
                pair_offsets,
                start,
                m,
                H,
                a_scratch[t],
                s_scratch[t],
                dense,
                cross,
                levels,
                pairs,
            )
        g[d] = g_b
        g[d + 1] = loss


@Threaded
def binary_hessp(X, codes, offsets, w, b, v, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H @ (v, v_b), H the Hessian of the binary loss at (w, b).

    Each row gives z = row.w + b and u = row.v + v_b, then adds
    sw * sigmoid'(z) * u * [row, 1].  parts: (n_threads, d + 1), overwritten;
    scratch: (n_threads, 2, ROW_BLOCK) float64.
    """
    n = X.shape[0]
    d = w.shape[0]
    for t in prange(n_threads):
        g = parts[t]
        g[:] = 0.0
        zbuf = scratch[t, 0]
        ubuf = scratch[t, 1]
        lo, hi = thread_rows(n, n_threads, t)
        g_b = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            _block_scores(X, codes, offsets, start, m, w, b, zbuf)
            _block_scores(X, codes, offsets, start, m, v, v_b, ubuf)
            for k in range(m):
                c = sigmoid_slope(zbuf[k]) * ubuf[k]
                if sw is not None:
                    c *= sw[start + k]
                ubuf[k] = c
            for k in range(m):
                g_b += ubuf[k]
            _block_add_rows(g, ubuf, X, codes, offsets, start, m)
        g[d] = g_b


@Threaded
def binary_predict_raw_into(X, codes, offsets, w, b, out):
    """out[i] = row_i.w + b (the decision function), float64 (n,)."""
    n = X.shape[0]
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for blk in prange(n_blocks):
        start = blk * ROW_BLOCK
        _block_scores(X, codes, offsets, start, min(ROW_BLOCK, n - start), w, b, out[start:])


# -- softmax model ------------------------------------------------------------------


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _softmax_block_sums(B, K, m, G, d):
    """A block's weighted loss (returned) and intercept gradients (added to
    ``G[:, d]``) after :func:`.special.softmax_block` with labels."""
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


@Threaded
def multinomial_loss_grad(X, codes, offsets, y, W, W_dense, b, sw, n_threads, parts, loss_parts, scratch):
    """Per-thread sums of the softmax log-loss and its gradient.

    ``W`` float64 (K, d); ``W_dense`` its first p columns, C-contiguous (the
    dense block's register-blocked scores of :func:`.rows.model_scores`).
    parts: (n_threads, K, d + 1), overwritten (intercepts in the last
    column); loss_parts: (n_threads,); scratch: (n_threads, K +
    SOFTMAX_BLOCK_ROWS, ROW_BLOCK): a block's scores class-major (then its
    residuals) and :func:`.special.softmax_block`'s rows.
    """
    n = X.shape[0]
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        B = scratch[t]
        Zt = B[:K]
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W_dense, b, Zt)
            _level_scores(codes, offsets, start, m, W, Zt)
            softmax_block(B, 0, K, y, None, sw, start, m, 0)
            loss += _softmax_block_sums(B, K, m, G, d)
            model_add_outer(G, Zt, X, start, m, start + ROW_BLOCK, hi)
            _level_add_outer(G, Zt, codes, offsets, start, m)
        loss_parts[t] = loss


@Threaded
def multinomial_hessp(X, codes, offsets, W, W_dense, b, V, V_dense, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H @ (V, v_b), H the softmax loss Hessian at (W, b).

    Per row, with p = softmax(z) and u = V row + v_b: adds
    sw * p_k * (u_k - p.u) * [row, 1] to class k.  ``W_dense``, ``V_dense``:
    the first p columns of W and V, C-contiguous.  parts: (n_threads, K,
    d + 1), overwritten; scratch: (n_threads, 2 K + SOFTMAX_BLOCK_ROWS,
    ROW_BLOCK).
    """
    n = X.shape[0]
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
            model_scores(X, start, m, W_dense, b, Zt)
            _level_scores(codes, offsets, start, m, W, Zt)
            model_scores(X, start, m, V_dense, v_b, Ut)
            _level_scores(codes, offsets, start, m, V, Ut)
            softmax_block(B, 0, K, None, None, sw, start, m, 0)
            softmax_hessp_block(B, 0, K, K, m, G, 0, d)
            model_add_outer(G, Ut, X, start, m, start + ROW_BLOCK, hi)
            _level_add_outer(G, Ut, codes, offsets, start, m)


@Threaded
def multinomial_gram(
    X,
    codes,
    offsets,
    n_levels,
    pair_offsets,
    y,
    W,
    W_dense,
    b,
    sw,
    score_outer,
    n_threads,
    dense_parts,
    cross_parts,
    level_parts,
    pair_parts,
    a_scratch,
    s_scratch,
    h_scratch,
    scratch,
):
    """Per-thread structured Gram sums of the softmax model: its Hessian or its scores' outer products.

    Weight q of a row, for the pair of classes (k, l), k <= l, in the order
    (0, 0), (0, 1), ..., (0, K - 1), (1, 1), ...: ``s (p_k [k == l] - p_k p_l)``
    (the Hessian's block (k, l)), or with ``score_outer``
    ``s (p_k - [y == k]) (p_l - [y == l])``.  ``y`` is read only with
    ``score_outer``.

    dense_parts (n_threads, p + 1, Q (p + 1)), cross_parts (n_threads, Q, L, p),
    level_parts (n_threads, Q, L), pair_parts (n_threads, Q, P): overwritten
    (Q = K (K + 1) / 2).  a_scratch (n_threads, ROW_BLOCK, p + 1), s_scratch
    (n_threads, ROW_BLOCK, Q (p + 1)), h_scratch (n_threads, ROW_BLOCK, Q) (the
    rows' weights), scratch (n_threads, K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK) float64.
    """
    n = X.shape[0]
    K = W.shape[0]
    for t in prange(n_threads):
        dense = dense_parts[t]
        dense[:] = 0.0
        cross = cross_parts[t]
        cross[:] = 0.0
        levels = level_parts[t]
        levels[:] = 0.0
        pairs = pair_parts[t]
        pairs[:] = 0.0
        A = a_scratch[t]
        S = s_scratch[t]
        B = scratch[t]
        H = h_scratch[t]
        Zt = B[:K]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            model_scores(X, start, m, W_dense, b, Zt)
            _level_scores(codes, offsets, start, m, W, Zt)
            # Unweighted: the rows' probabilities (or residuals p - onehot(y)).
            if score_outer:
                softmax_block(B, 0, K, y, None, None, start, m, 0)
            else:
                softmax_block(B, 0, K, None, None, None, start, m, 0)
            for r in range(m):
                s = sw[start + r] if sw is not None else 1.0
                q = 0
                for k in range(K):
                    pk = Zt[k, r]
                    for l in range(k, K):
                        pl = Zt[l, r]
                        if score_outer:
                            H[r, q] = s * (pk * pl)
                        elif k == l:
                            H[r, q] = s * (pk - pk * pl)
                        else:
                            H[r, q] = -s * (pk * pl)
                        q += 1
            _gram_block(
                X, codes, offsets, n_levels, pair_offsets, start, m, H, A, S, dense, cross, levels, pairs
            )


@Threaded
def multinomial_predict_raw_into(X, codes, offsets, W, W_dense, b, out):
    """out[i, k] = row_i.W[k] + b[k] (the decision function), float64 (n, K)."""
    n = X.shape[0]
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for blk in prange(n_blocks):
        start = blk * ROW_BLOCK
        m = min(ROW_BLOCK, n - start)
        Z = out[start:]
        scores_rows(X, start, m, W_dense, b, Z)
        for r in range(m):
            for j in range(codes.shape[1]):
                c = codes[start + r, j]
                if c >= 0:
                    col = offsets[j] + c
                    for k in range(W.shape[0]):
                        Z[r, k] += W[k, col]
