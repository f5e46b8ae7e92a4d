"""Fused multinomial (softmax) loss, gradient and Hessian products: dense and CSR.

The same shape as :mod:`.binary`: one pass over the rows of X per call,
rows split into ``n_threads`` contiguous chunks summing into per-thread
buffers the caller allocates and reduces in order.  Per row, the K scores,
the softmax and the K gradient updates all use the row while it is in L1;
nothing of size n x K is ever formed.

``X`` is a 2-d C-contiguous float32/float64 array or a CSR tuple
``(data, indices, indptr)``; ``W`` is float64 (K, d), ``b`` float64 (K,),
``y`` integer class indices in [0, K), ``sw`` float64 (n,) or None.
"""

import math


from numba import njit, prange

from .binary import _chunk
from .rows import axpy_row, dot_row, n_rows
from .special import row_exp_shifted, row_max, sum_but_one


@njit(cache=True, error_model="numpy", inline="always")
def _scores(X, i, W, b, z):
    for k in range(W.shape[0]):
        z[0, k] = dot_row(X, i, W[k]) + b[k]


@njit(cache=True, error_model="numpy", parallel=True)
def loss_grad(X, y, W, b, sw, n_threads, parts, loss_parts, scratch):
    """Per-thread sums of the softmax log-loss and its gradient.

    parts: (n_threads, K, d + 1) float64, overwritten: thread t's gradient
    for class k in parts[t, k, :d], its intercept gradient in [t, k, d].
    loss_parts: (n_threads,).  scratch: (n_threads, 3, K) float64.
    """
    n = n_rows(X)
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        z = scratch[t, 0:1]
        e = scratch[t, 1]
        e_lo = scratch[t, 2]
        lo, hi = _chunk(n, n_threads, t)
        loss = 0.0
        for i in range(lo, hi):
            _scores(X, i, W, b, z)
            m, jmax, _, _ = row_max(z, 0)
            row_exp_shifted(z, 0, m, e, e_lo)
            s, s_lo = sum_but_one(e, e_lo, jmax, 0.0)
            L = math.log1p(s) + s_lo / (1.0 + s)
            yi = y[i]
            wi = sw[i] if sw is not None else 1.0
            # logsumexp(z) - z[y] = (m - z[y]) + L: two terms >= 0, no cancellation.
            loss += wi * ((m - z[0, yi]) + L)
            inv = wi / (1.0 + s)
            for k in range(K):
                r = e[k] * inv
                if k == yi:
                    r -= wi
                G[k, d] += r
                axpy_row(G[k], r, X, i)
        loss_parts[t] = loss


@njit(cache=True, error_model="numpy", parallel=True)
def hessp(X, W, b, V, v_b, sw, n_threads, parts, scratch):
    """Per-thread sums of H @ (V, v_b), H the softmax loss Hessian at (W, b).

    Per row, with p = softmax(z) and u = V x + v_b: adds
    sw * p_k * (u_k - p.u) * [x, 1] to class k.
    parts: (n_threads, K, d + 1), overwritten; scratch: (n_threads, 4, K).
    """
    n = n_rows(X)
    K, d = W.shape
    for t in prange(n_threads):
        G = parts[t]
        G[:] = 0.0
        z = scratch[t, 0:1]
        e = scratch[t, 1]
        e_lo = scratch[t, 2]
        u = scratch[t, 3:4]
        lo, hi = _chunk(n, n_threads, t)
        for i in range(lo, hi):
            _scores(X, i, W, b, z)
            _scores(X, i, V, v_b, u)
            m, jmax, _, _ = row_max(z, 0)
            row_exp_shifted(z, 0, m, e, e_lo)
            s, _ = sum_but_one(e, e_lo, jmax, 1.0)
            pu = 0.0
            for k in range(K):
                e[k] /= s
                pu += e[k] * u[0, k]
            wi = sw[i] if sw is not None else 1.0
            for k in range(K):
                c = wi * e[k] * (u[0, k] - pu)
                G[k, d] += c
                axpy_row(G[k], c, X, i)


@njit(cache=True, error_model="numpy", parallel=True)
def predict_raw_into(X, W, b, out):
    """out[i, k] = x_i.W[k] + b[k] (the decision function), float64 (n, K)."""
    for i in prange(n_rows(X)):
        _scores(X, i, W, b, out[i:i + 1])
