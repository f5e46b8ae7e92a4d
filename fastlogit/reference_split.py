"""Plain NumPy twins of the split-design kernels, on the one-hot expansion.

A split design (:class:`fastlogit.split.SplitDesign`) is given here as its
arrays: ``dense`` (n, p) floats, ``codes`` a sequence of m integer arrays
(n,) with values in [-1, n_levels[j]) (-1: the dropped reference level) and
``n_levels``.  Every twin expands it into the obvious dense one-hot matrix
(:func:`one_hot`: dense columns first, then each categorical's levels) and
calls the matching twin of :mod:`fastlogit.reference` (same returns, same
``reduction``), or, for the robust covariances' sums, writes them out
plainly.  O(n d) memory: an oracle for tests, not for data.
"""

import numpy as np

from . import reference
from .data import check_reduction

__all__ = [
    "one_hot",
    "binary_loss_grad",
    "binary_hessp",
    "binary_hessian",
    "binary_loss_grad_hessian",
    "binary_predict_raw",
    "multinomial_loss_grad",
    "multinomial_hessp",
    "multinomial_hessian",
    "multinomial_predict_raw",
    "gram_matvec",
    "score_outer",
    "score_group_sums",
]


def one_hot(dense, codes, n_levels):
    """The design as one dense float64 (n, p + sum(n_levels)) array.

    ``dense`` (n, p) or None (p = 0, n from the codes); a row of categorical
    j gets a 1 in column ``p + n_levels[0] + ... + n_levels[j - 1] + code``,
    nothing for code -1.
    """
    codes = [np.asarray(c) for c in codes]
    if dense is None:
        dense = np.zeros((codes[0].shape[0], 0))
    dense = np.asarray(dense, dtype=np.float64)
    blocks = [dense]
    for c, L in zip(codes, n_levels):
        block = (c[:, None] == np.arange(int(L))[None, :]).astype(np.float64)
        blocks.append(block.reshape(c.shape[0], int(L)))
    return np.hstack(blocks)


def binary_loss_grad(dense, codes, n_levels, y, coef, intercept=0.0, sample_weight=None, reduction="mean"):
    """:func:`fastlogit.reference.binary_loss_grad` on :func:`one_hot`: ``(loss, grad_coef, grad_b)``."""
    X = one_hot(dense, codes, n_levels)
    return reference.binary_loss_grad(X, y, coef, intercept, sample_weight, reduction)


def binary_hessp(
    dense, codes, n_levels, coef, intercept, vec_coef, vec_intercept=0.0, sample_weight=None, reduction="mean"
):
    """:func:`fastlogit.reference.binary_hessp` on :func:`one_hot`: ``(hv_coef, hv_intercept)``."""
    X = one_hot(dense, codes, n_levels)
    return reference.binary_hessp(X, coef, intercept, vec_coef, vec_intercept, sample_weight, reduction)


def binary_hessian(dense, codes, n_levels, coef, intercept=0.0, sample_weight=None, reduction="mean"):
    """:func:`fastlogit.reference.binary_hessian` on :func:`one_hot`: float64 (d + 1, d + 1)."""
    X = one_hot(dense, codes, n_levels)
    return reference.binary_hessian(X, coef, intercept, sample_weight, reduction)


def binary_loss_grad_hessian(
    dense, codes, n_levels, y, coef, intercept=0.0, sample_weight=None, reduction="mean"
):
    """:func:`fastlogit.reference.binary_loss_grad_hessian` on :func:`one_hot`."""
    X = one_hot(dense, codes, n_levels)
    return reference.binary_loss_grad_hessian(X, y, coef, intercept, sample_weight, reduction)


def binary_predict_raw(dense, codes, n_levels, coef, intercept=0.0):
    """Binary scores, float64 (n,)."""
    return reference.binary_predict_raw(one_hot(dense, codes, n_levels), coef, intercept)


def multinomial_loss_grad(
    dense, codes, n_levels, y, coef, intercept=None, sample_weight=None, reduction="mean"
):
    """:func:`fastlogit.reference.multinomial_loss_grad` on :func:`one_hot`."""
    X = one_hot(dense, codes, n_levels)
    return reference.multinomial_loss_grad(X, y, coef, intercept, sample_weight, reduction)


def multinomial_hessp(
    dense,
    codes,
    n_levels,
    coef,
    intercept,
    vec_coef,
    vec_intercept=None,
    sample_weight=None,
    reduction="mean",
):
    """:func:`fastlogit.reference.multinomial_hessp` on :func:`one_hot`."""
    X = one_hot(dense, codes, n_levels)
    return reference.multinomial_hessp(X, coef, intercept, vec_coef, vec_intercept, sample_weight, reduction)


def multinomial_hessian(dense, codes, n_levels, coef, intercept=None, sample_weight=None, reduction="mean"):
    """:func:`fastlogit.reference.multinomial_hessian` on :func:`one_hot`, class-major."""
    X = one_hot(dense, codes, n_levels)
    return reference.multinomial_hessian(X, coef, intercept, sample_weight, reduction)


def multinomial_predict_raw(dense, codes, n_levels, coef, intercept=None):
    """Softmax scores, float64 (n, K)."""
    return reference.multinomial_predict_raw(one_hot(dense, codes, n_levels), coef, intercept)


def gram_matvec(dense, codes, n_levels, vec_coef, vec_intercept, sample_weight=None):
    """``[X, 1].T @ diag(s) @ [X, 1] @ [vec_coef, vec_intercept]`` (summed), float64 (d + 1,)."""
    X = one_hot(dense, codes, n_levels)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return A.T @ (s * (A @ np.append(vec_coef, vec_intercept)))


def _scores(dense, codes, n_levels, y, coef, intercept, sample_weight):
    """``(A, G, s)``: ``[X, 1]`` (n, d + 1), each row's log-likelihood gradient factor
    ``onehot(y) - p`` (n, q) (binary q = 1: ``y - p``) and the weights."""
    X = one_hot(dense, codes, n_levels)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim == 1:
        p = reference.sigmoid(X @ coef + intercept)
        G = (np.asarray(y, dtype=np.float64) - p)[:, None]
    else:
        P = reference.softmax(X @ coef.T + intercept, axis=1)
        G = -P
        G[np.arange(X.shape[0]), np.asarray(y)] += 1.0
    return A, G, s


def score_outer(dense, codes, n_levels, y, coef, intercept, sample_weight=None, reduction="sum"):
    """``sum_i s_i g_i g_i^T``, ``g_i = G_i kron [x_i, 1]`` row i's score: float64, class-major
    ((d + 1) square binary, K (d + 1) square softmax).  ``reduction="mean"`` divides by sum(s)."""
    check_reduction(reduction)
    A, G, s = _scores(dense, codes, n_levels, y, coef, intercept, sample_weight)
    scores = (G[:, :, None] * A[:, None, :]).reshape(A.shape[0], -1)  # (n, q (d + 1))
    M = scores.T @ (s[:, None] * scores)
    return M / s.sum() if reduction == "mean" else M


def score_group_sums(dense, codes, n_levels, y, coef, intercept, groups, n_groups, sample_weight=None):
    """Each group's summed score ``sum_{i in g} s_i g_i``, float64 (n_groups, q (d + 1))."""
    A, G, s = _scores(dense, codes, n_levels, y, coef, intercept, sample_weight)
    scores = (s[:, None, None] * G[:, :, None] * A[:, None, :]).reshape(A.shape[0], -1)
    member = np.asarray(groups)[None, :] == np.arange(n_groups)[:, None]
    return member.astype(np.float64) @ scores
