"""Fused binary (sigmoid) loss, gradient and Hessian products: dense and CSR.

One pass over the rows of X per call.  Rows are split into ``n_threads``
contiguous chunks, one per parallel iteration, each summing into its own row
of a per-thread buffer that the caller allocates and then reduces in order:
the same ``n_threads`` always gives bit-identical results, and nothing
allocated grows with n.

``X`` is a 2-d C-contiguous float32/float64 array or a CSR tuple
``(data, indices, indptr)`` (see :mod:`.rows`); ``w`` is float64 (d,), ``b``
a float, ``sw`` a float64 (n,) array or None.  Inputs are trusted.
"""

from numba import njit, prange

from .rows import (
    ROW_BLOCK,
    Threaded,
    axpy_rows,
    axpy_square_row,
    dense_axpy_row,
    dense_dot_row,
    dot_row,
    dot_rows,
    hessian_add,
    hessian_finish,
    hessian_rows,
    n_rows,
    thread_rows,
)
from .special import binary_block_residuals, binary_loss_residual, sigmoid_slope


@Threaded
def loss_grad(X, y, w, b, sw, n_threads, parts, scratch):
    """Per-thread sums of the binary log-loss and its gradient.

    parts: (n_threads, d + 2) float64, overwritten: row t holds thread t's
    gradient in [:d], intercept gradient in [d] and loss in [d + 1].
    scratch: (n_threads, 2, ROW_BLOCK) float64.
    """
    n = n_rows(X)
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
            dot_rows(X, start, m, w, zbuf)
            loss, g_b = binary_block_residuals(zbuf, lbuf, y, sw, start, m, b, loss, g_b)
            axpy_rows(g, zbuf, X, start, m, start + ROW_BLOCK, hi)
        g[d] = g_b
        g[d + 1] = loss


@njit(cache=True, error_model="numpy")
def loss_grad_small(X, y, w, b, sw, parts, scratch):
    """:func:`loss_grad` on one thread for a small dense X: its blocks of rows,
    their dot products and gradient updates a row at a time.

    The same sums (to rounding) into ``parts[0]`` (``parts``, ``scratch`` as
    for :func:`loss_grad`, for one thread).  It compiles in a fraction of the
    time of :func:`loss_grad`'s groups of 4 rows (a first fit in a new
    process, :data:`fastlogit.matrix.SMALL_WORK`).
    """
    n = X.shape[0]
    d = w.shape[0]
    g = parts[0]
    g[:] = 0.0
    zbuf = scratch[0, 0]
    lbuf = scratch[0, 1]
    loss = 0.0
    g_b = 0.0
    for start in range(0, n, ROW_BLOCK):
        m = min(ROW_BLOCK, n - start)
        for k in range(m):
            zbuf[k] = dense_dot_row(X, start + k, w)
        loss, g_b = binary_block_residuals(zbuf, lbuf, y, sw, start, m, b, loss, g_b)
        for k in range(m):
            dense_axpy_row(g, zbuf[k], X, start + k)
    g[d] = g_b
    g[d + 1] = loss


@Threaded
def loss_grad_hessian(X, y, w, b, sw, n_threads, parts, hess_parts, scratch):
    """Per-thread sums of the binary log-loss, its gradient and its Hessian: one pass.

    The Newton step's whole input from one read of X.  Each block of
    ROW_BLOCK rows goes as in :func:`loss_grad` (scores, loss, gradient);
    then its weights ``h = s sigmoid'(z)`` and its part of the Hessian,
    ``sum h [x, 1][x, 1]^T``, are added from cache: dense, the block is
    copied as columns into per-thread scratch and each tile of the upper
    triangle summed over it (:func:`.rows.hessian_rows`,
    :func:`.rows.hessian_add`); CSR, each row's nonzeros' outer product,
    O(nnz^2) per row.

    parts: (n_threads, d + 2) float64 as in :func:`loss_grad`.
    hess_parts: (n_threads, d + 1, d + 1) float64, overwritten: thread t's
    sum of ``s h [x, 1][x, 1]^T`` (the last row and column: the intercept).
    scratch: (n_threads, 2, d + 1, ROW_BLOCK + PANEL_PAD) float64 (CSR: any
    number of rows >= 1 in place of d + 1; only the last is used).
    """
    n = n_rows(X)
    d = w.shape[0]
    for t in prange(n_threads):
        g = parts[t]
        g[:] = 0.0
        H = hess_parts[t]
        H[:] = 0.0
        A = scratch[t, 0]
        S = scratch[t, 1]
        last = A.shape[0] - 1
        rbuf = A[last]  # the residuals, free until hessian_rows writes the block
        hbuf = S[last]  # the rows' weights h, hessian_add's c
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        g_b = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            dot_rows(X, start, m, w, rbuf)
            for k in range(m):
                z = rbuf[k] + b
                li, ri = binary_loss_residual(z, float(y[start + k]))
                h = sigmoid_slope(z)
                if sw is not None:
                    li *= sw[start + k]
                    ri *= sw[start + k]
                    h *= sw[start + k]
                loss += li
                g_b += ri
                rbuf[k] = ri
                hbuf[k] = h
            axpy_rows(g, rbuf, X, start, m, start + ROW_BLOCK, hi)
            hessian_rows(A, X, start, m)
            hessian_add(H, A, S, X, start, m, hbuf)
        hessian_finish(H, X)
        g[d] = g_b
        g[d + 1] = loss


@Threaded
def hessp(X, w, b, v, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H @ (v, v_b), H the Hessian of the binary loss at (w, b).

    One pass: each row gives z = x.w + b and u = x.v + v_b, then adds
    sw * sigmoid'(z) * u * [x, 1].  parts: (n_threads, d + 1), overwritten.
    scratch: (n_threads, 2, ROW_BLOCK) float64.
    """
    n = n_rows(X)
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
            dot_rows(X, start, m, w, zbuf)
            dot_rows(X, start, m, v, ubuf)  # (the block's rows from cache)
            for k in range(m):
                c = sigmoid_slope(zbuf[k] + b) * (ubuf[k] + v_b)
                if sw is not None:
                    c *= sw[start + k]
                g_b += c
                ubuf[k] = c
            axpy_rows(g, ubuf, X, start, m, start + ROW_BLOCK, hi)
        g[d] = g_b


@Threaded
def hessian_diagonal(X, w, b, sw, n_threads, parts, scratch, acc):
    """Per-thread sums of the binary Hessian's diagonal: ``sum_i s_i h_i x_ij^2``.

    ``h = sigmoid'(x.w + b)``; one pass (Newton-CG's Jacobi preconditioner).
    parts: (n_threads, d + 1), overwritten: row t holds thread t's sums, the
    intercept's (``sum s h``) in [d].  scratch: (n_threads, 2, ROW_BLOCK) float64.
    acc: (n_threads, d) float64 zeros, left zeros (CSR rows' repeated columns).
    """
    n = n_rows(X)
    d = w.shape[0]
    for t in prange(n_threads):
        g = parts[t]
        g[:] = 0.0
        zbuf = scratch[t, 0]
        lo, hi = thread_rows(n, n_threads, t)
        h_sum = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m = min(ROW_BLOCK, hi - start)
            dot_rows(X, start, m, w, zbuf)
            for k in range(m):
                h = sigmoid_slope(zbuf[k] + b)
                if sw is not None:
                    h *= sw[start + k]
                h_sum += h
                axpy_square_row(g, h, X, start + k, acc[t])
        g[d] = h_sum


@njit(cache=True, error_model="numpy")
def curvature_into(X, w, b, sw, out):
    """out[i] = sw[i] * sigmoid'(x_i.w + b), the diagonal of the Hessian's middle factor.

    One thread: it is called on row blocks between multithreaded BLAS
    products, and a Numba thread pool spin-waiting beside BLAS's on the same
    cores made the whole Hessian 4x slower (measured at 1e6 x 100).
    """
    for i in range(n_rows(X)):
        h = sigmoid_slope(dot_row(X, i, w) + b)
        out[i] = h * sw[i] if sw is not None else h


@Threaded
def predict_raw_into(X, w, b, out):
    """out[i] = x_i.w + b (the decision function), float64."""
    for i in prange(n_rows(X)):
        out[i] = dot_row(X, i, w) + b
