"""Fused multinomial (softmax) loss, gradient and Hessian products: dense and CSR.

The same shape as :mod:`.binary`: one pass over the rows of X per call,
rows split into ``n_threads`` contiguous chunks summing into per-thread
buffers the caller allocates and reduces in order.  Nothing of size n x K
is ever formed.

Rows go in blocks of ROW_BLOCK: the block's K scores per row (register
blocked over rows for dense X, see :mod:`.rows`), its softmax and
residuals, then one gradient update for the block while it is in L2.

``X`` is a 2-d C-contiguous float32/float64 array or a CSR tuple
``(data, indices, indptr)``; ``W`` is float64 (K, d), ``b`` float64 (K,),
``y`` integer class indices in [0, K), ``sw`` float64 (n,) or None.
"""

from numba import prange

from .rows import ROW_BLOCK, Threaded, add_outer_rows, n_rows, scores_rows, thread_rows
from .special import softmax_row


@Threaded
def loss_grad(X, y, W, b, sw, n_threads, parts, loss_parts, scratch):
    """Per-thread sums of the softmax log-loss and its gradient.

    parts: (n_threads, K, d + 1) float64, overwritten: thread t's gradient
    for class k in parts[t, k, :d], its intercept gradient in [t, k, d].
    loss_parts: (n_threads,).  scratch: (n_threads, ROW_BLOCK + 3, K)
    float64: a block's scores (then residuals) and three rows of K.
    Sums go through per-block partials: rounding grows with the block
    count, not with n.
    """
    n = n_rows(X)
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        Z = scratch[t, :ROW_BLOCK]
        e = scratch[t, ROW_BLOCK]
        e_lo = scratch[t, ROW_BLOCK + 1]
        g_b = scratch[t, ROW_BLOCK + 2]
        lo, hi = thread_rows(n, n_threads, t)
        loss = 0.0
        for start in range(lo, hi, ROW_BLOCK):
            m_rows = min(ROW_BLOCK, hi - start)
            scores_rows(X, start, m_rows, W, b, Z)
            block_loss = 0.0
            g_b[:] = 0.0
            for r in range(m_rows):
                yi = y[start + r]
                wi = sw[start + r] if sw is not None else 1.0
                zy = Z[r, yi]
                m, L = softmax_row(Z, r, e, e_lo)
                # logsumexp(z) - z[y] = (m - z[y]) + L: both >= 0, no cancellation.
                block_loss += wi * ((m - zy) + L)
                for k in range(K):
                    Z[r, k] = wi * e[k]
                    g_b[k] += Z[r, k]
                Z[r, yi] -= wi
                g_b[yi] -= wi
            loss += block_loss
            for k in range(K):
                G[k, d] += g_b[k]
            add_outer_rows(G, Z, X, start, m_rows)
        loss_parts[t] = loss


@Threaded
def hessp(X, W, b, V, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H @ (V, v_b), H the softmax loss Hessian at (W, b).

    Per row, with p = softmax(z) and u = V x + v_b: adds
    sw * p_k * (u_k - p.u) * [x, 1] to class k.
    parts: (n_threads, K, d + 1), overwritten;
    scratch: (n_threads, 2 * ROW_BLOCK + 2, K).
    """
    n = n_rows(X)
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        Z = scratch[t, :ROW_BLOCK]
        U = scratch[t, ROW_BLOCK : 2 * ROW_BLOCK]
        e = scratch[t, 2 * ROW_BLOCK]
        e_lo = scratch[t, 2 * ROW_BLOCK + 1]
        lo, hi = thread_rows(n, n_threads, t)
        for start in range(lo, hi, ROW_BLOCK):
            m_rows = min(ROW_BLOCK, hi - start)
            scores_rows(X, start, m_rows, W, b, Z)
            scores_rows(X, start, m_rows, V, v_b, U)
            for r in range(m_rows):
                softmax_row(Z, r, e, e_lo)
                pu = 0.0
                for k in range(K):
                    pu += e[k] * U[r, k]
                wi = sw[start + r] if sw is not None else 1.0
                for k in range(K):
                    Z[r, k] = wi * e[k] * (U[r, k] - pu)
                    G[k, d] += Z[r, k]
            add_outer_rows(G, Z, X, start, m_rows)


@Threaded
def predict_raw_into(X, W, b, out):
    """out[i, k] = x_i.W[k] + b[k] (the decision function), float64 (n, K)."""
    n = n_rows(X)
    n_blocks = (n + ROW_BLOCK - 1) // ROW_BLOCK
    for blk in prange(n_blocks):
        start = blk * ROW_BLOCK
        scores_rows(X, start, min(ROW_BLOCK, n - start), W, b, out[start:])
