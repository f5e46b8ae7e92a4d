"""Plain NumPy twins of every fastlogit kernel: the test oracle and the baseline.

Each function has the same signature and the same limits (±inf, NaN, empty)
as its fastlogit twin, written the obvious stable way with whole-array NumPy
operations, computed in the input's float dtype.  Benchmarks time these
against the kernels; tests compare the kernels to these (and both to mpmath).
"""

import numpy as np
import scipy.sparse

from .data import as_float_array, check_axis, check_reduction

__all__ = [
    "sigmoid",
    "log_sigmoid",
    "log1pexp",
    "logsumexp",
    "softmax",
    "log_softmax",
    "binary_loss_grad",
    "multinomial_loss_grad",
    "binary_hessp",
    "multinomial_hessp",
    "binary_hessian",
    "binary_loss_grad_hessian",
    "multinomial_loss_grad_hessian",
    "binary_predict_raw",
    "multinomial_predict_raw",
    "fold_loss_grad",
    "fold_hessp",
    "binary_hessian_diagonal",
]


def _scalar_or_array(out, was_scalar):
    return out[()] if was_scalar or out.ndim == 0 else out


def sigmoid(x):
    """Reference ``1 / (1 + exp(-x))`` from ``t = exp(-|x|)``: no overflow."""
    x, was_scalar = as_float_array(x, "x")
    t = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + t), t / (1 + t))
    return _scalar_or_array(out, was_scalar)


def log1pexp(x):
    """Reference ``log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|))``."""
    x, was_scalar = as_float_array(x, "x")
    out = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return _scalar_or_array(out, was_scalar)


def log_sigmoid(x):
    """Reference ``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``."""
    x, was_scalar = as_float_array(x, "x")
    out = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
    return _scalar_or_array(out, was_scalar)


def _max_and_shift(a, axis):
    """(a as >= 1-d float array, axis, max over axis kept, a - max).

    Where the max is not finite it is replaced by 0 in the shift, so that no
    ``inf - inf`` is formed; the callers apply the limits themselves.
    """
    a, _ = as_float_array(a, "a")
    axis = check_axis(axis, max(a.ndim, 1))
    a = np.atleast_1d(a)
    m = np.max(a, axis=axis, keepdims=True, initial=-np.inf)
    shifted = a - np.where(np.isfinite(m), m, 0)
    return a, axis, m, shifted


def logsumexp(a, axis=-1, keepdims=False):
    """Reference ``m + log(sum(exp(a - m)))`` with ``m`` the max over ``axis``."""
    was_scalar = np.ndim(a) == 0
    a, axis, m, shifted = _max_and_shift(a, axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.sum(np.exp(shifted), axis=axis, keepdims=True)
        out = np.where(np.isfinite(m), m + np.log(s), m)
    # A NaN anywhere in a slice makes it NaN (max already propagates NaN).
    if not keepdims or was_scalar:
        out = out.squeeze(axis=axis) if axis is not None else out.reshape(())
    return _scalar_or_array(out, was_scalar)


def _softmax_limits(a, axis, m, out, log):
    """Apply the ±inf limits fastlogit documents to a softmax computed on finite rows."""
    n_posinf = np.sum(a == np.inf, axis=axis, keepdims=True)
    one_inf = n_posinf == 1
    if log:
        limit = np.where(a == np.inf, 0.0, -np.inf).astype(a.dtype)
    else:
        limit = (a == np.inf).astype(a.dtype)
    out = np.where(one_inf, limit, out)
    undefined = (n_posinf > 1) | (m == -np.inf) | np.isnan(m)
    return np.where(undefined, np.nan, out).astype(a.dtype, copy=False)


def softmax(a, axis=-1):
    """Reference ``exp(a - m) / sum(exp(a - m))``, limits as in fastlogit."""
    was_scalar = np.ndim(a) == 0
    a, axis, m, shifted = _max_and_shift(a, axis)
    with np.errstate(invalid="ignore", over="ignore"):
        e = np.exp(shifted)
        out = e / np.sum(e, axis=axis, keepdims=True)
    out = _softmax_limits(a, axis, m, out, log=False)
    return _scalar_or_array(out.reshape(()) if was_scalar else out, was_scalar)


def log_softmax(a, axis=-1):
    """Reference ``(a - m) - log(sum(exp(a - m)))``, limits as in fastlogit."""
    was_scalar = np.ndim(a) == 0
    a, axis, m, shifted = _max_and_shift(a, axis)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    out = _softmax_limits(a, axis, m, out, log=True)
    return _scalar_or_array(out.reshape(()) if was_scalar else out, was_scalar)


# ---------------------------------------------------------------------------
# Losses, gradients and Hessian products.
#
# X is a dense (n, d) array (float32 or float64, any layout) or a SciPy CSR
# matrix; the products with X are plain ``@`` (NumPy upcasts float32 X to
# float64 against the float64 parameters).  Everything returned is float64.
# ``n_threads`` is accepted for signature parity and ignored.
# ---------------------------------------------------------------------------


def _as_matrix(X):
    """X itself when sparse, else an ndarray (a memmap or a view is kept as is)."""
    return X if scipy.sparse.issparse(X) else np.asarray(X)


def _row_weights(sample_weight, n, reduction):
    """Each row's factor in the reduced sum, float64 (n,).

    ``s_i`` for ``"sum"``; ``s_i / sum(s)`` for ``"mean"`` (``1 / n`` when
    ``sample_weight`` is None).
    """
    check_reduction(reduction)
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return s / s.sum() if reduction == "mean" else s


def _binary_scores(X, coef, intercept):
    """``X @ coef + intercept``, float64 (n,)."""
    z = X @ np.asarray(coef, dtype=np.float64)
    return np.asarray(z, dtype=np.float64) + float(intercept)


def _multinomial_scores(X, coef, intercept):
    """``X @ coef.T + intercept``, float64 (n, K); intercept None means zeros."""
    coef = np.asarray(coef, dtype=np.float64)
    z = np.asarray(X @ coef.T, dtype=np.float64)
    return z if intercept is None else z + np.asarray(intercept, dtype=np.float64)


def _xt_dot(X, r):
    """``X.T @ r`` as an ndarray: (d,) for r (n,), (d, K) for r (n, K)."""
    return np.asarray(X.T @ r, dtype=np.float64)


def binary_loss_grad(X, y, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """Reference binary log-loss and its gradient.

    ``X`` (n, d) dense or CSR, ``y`` (n,) labels in {0, 1} of any numeric
    dtype, ``coef`` (d,), ``intercept`` a scalar, ``sample_weight`` (n,) or
    None.  Returns ``(loss, grad_coef, grad_intercept)``: a float, float64
    (d,), a float.  Per row, with ``z = x @ coef + intercept``,
    ``loss_i = log1pexp(z) - y z`` and the residual is ``sigmoid(z) - y``.
    """
    X = _as_matrix(X)
    z = _binary_scores(X, coef, intercept)
    y = np.asarray(y, dtype=np.float64)
    w = _row_weights(sample_weight, z.shape[0], reduction)
    # log1pexp(z) - y z and sigmoid(z) - y, rewritten (equal for any y) so
    # that nothing cancels for y in {0, 1}: at y = 1, z = 30 the loss
    # 30 + 9e-14 - 30 keeps one digit, the residual sigmoid(30) - 1 three.
    loss = np.sum(w * ((1 - y) * log1pexp(z) + y * log1pexp(-z)))
    r = w * ((1 - y) * sigmoid(z) - y * sigmoid(-z))
    return float(loss), _xt_dot(X, r), float(np.sum(r))


def multinomial_loss_grad(X, y, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None):
    """Reference multinomial (softmax) log-loss and its gradient.

    ``X`` (n, d) dense or CSR, ``y`` (n,) integer class indices in
    ``0..K-1``, ``coef`` (K, d) (scikit-learn's ``coef_``), ``intercept``
    (K,) or None.  Returns ``(loss, grad_coef, grad_intercept)``: a float,
    float64 (K, d), float64 (K,).  Per row, with ``z = coef @ x +
    intercept``, ``loss_i = logsumexp(z) - z[y]`` and the residual is
    ``softmax(z) - onehot(y)``.
    """
    X = _as_matrix(X)
    z = _multinomial_scores(X, coef, intercept)
    y = np.asarray(y).astype(np.intp)
    rows = np.arange(z.shape[0])
    w = _row_weights(sample_weight, z.shape[0], reduction)
    loss = np.sum(w * (logsumexp(z, axis=1) - z[rows, y]))
    R = softmax(z, axis=1)
    R[rows, y] -= 1
    R *= w[:, None]
    return float(loss), _xt_dot(X, R).T, R.sum(axis=0)


def _binary_curvature(X, coef, intercept, sample_weight, reduction):
    """``w_i p_i (1 - p_i)``: 1 - p written as sigmoid(-z), exact where p rounds to 1."""
    z = _binary_scores(X, coef, intercept)
    return _row_weights(sample_weight, z.shape[0], reduction) * sigmoid(z) * sigmoid(-z)


def binary_hessp(
    X, coef, intercept, vec_coef, vec_intercept=0.0, sample_weight=None, reduction="mean", n_threads=None
):
    """Reference product of the binary log-loss Hessian with a vector.

    The Hessian at ``(coef, intercept)`` times ``(vec_coef, vec_intercept)``
    (shapes as ``coef`` (d,) and a scalar).  Returns ``(hv_coef, hv_intercept)``:
    float64 (d,) and a float.  With ``h_i = w_i p_i (1 - p_i)``, ``p =
    sigmoid(z)``, ``u = X @ vec_coef + vec_intercept``: ``hv_coef = X.T @
    (h u)``, ``hv_intercept = sum(h u)``.
    """
    X = _as_matrix(X)
    h = _binary_curvature(X, coef, intercept, sample_weight, reduction)
    hu = h * _binary_scores(X, vec_coef, vec_intercept)
    return _xt_dot(X, hu), float(np.sum(hu))


def multinomial_hessp(
    X, coef, intercept, vec_coef, vec_intercept=None, sample_weight=None, reduction="mean", n_threads=None
):
    """Reference product of the multinomial log-loss Hessian with a vector.

    The Hessian at ``(coef (K, d), intercept (K,) or None)`` times
    ``(vec_coef (K, d), vec_intercept (K,) or None)``.  Returns ``(hv_coef,
    hv_intercept)``: float64 (K, d) and (K,).  With ``P = softmax(z)``, ``U =
    X @ vec_coef.T + vec_intercept``: ``S = w (P U - P sum(P U))`` row-wise,
    ``hv_coef = S.T @ X``, ``hv_intercept = S.sum(0)``.
    """
    X = _as_matrix(X)
    z = _multinomial_scores(X, coef, intercept)
    P = softmax(z, axis=1)
    PU = P * _multinomial_scores(X, vec_coef, vec_intercept)
    w = _row_weights(sample_weight, z.shape[0], reduction)
    S = w[:, None] * (PU - P * PU.sum(axis=1, keepdims=True))
    return _xt_dot(X, S).T, S.sum(axis=0)


def binary_hessian(X, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """Reference full Hessian of the binary log-loss, float64 (d + 1, d + 1).

    ``[X, 1].T @ diag(h) @ [X, 1]`` with ``h`` as in :func:`binary_hessp`;
    the last row and column belong to the intercept.  CSR input is
    densified (an oracle for small d).
    """
    X = _as_matrix(X)
    h = _binary_curvature(X, coef, intercept, sample_weight, reduction)
    A = X.toarray() if scipy.sparse.issparse(X) else X
    A = np.hstack([A, np.ones((A.shape[0], 1), dtype=A.dtype)])
    return A.T @ (h[:, None] * A)


def binary_loss_grad_hessian(X, y, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """Reference ``(loss, grad_coef, grad_intercept, hessian)``: what a Newton step needs.

    :func:`binary_loss_grad` and :func:`binary_hessian`, one after the other
    (two passes over X where the fused kernel makes one).
    """
    loss, grad_coef, grad_intercept = binary_loss_grad(X, y, coef, intercept, sample_weight, reduction)
    return loss, grad_coef, grad_intercept, binary_hessian(X, coef, intercept, sample_weight, reduction)


def multinomial_loss_grad_hessian(
    X, y, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None
):
    """Reference ``(loss, grad_coef, grad_intercept, hessian)`` of the softmax log-loss.

    :func:`multinomial_loss_grad` and :func:`multinomial_hessian`, one after the
    other (two passes over X where the fused kernel makes one).
    """
    loss, grad_coef, grad_intercept = multinomial_loss_grad(X, y, coef, intercept, sample_weight, reduction)
    return loss, grad_coef, grad_intercept, multinomial_hessian(X, coef, intercept, sample_weight, reduction)


def multinomial_hessian(X, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None):
    """Reference full Hessian of the softmax log-loss, float64 (K (d + 1), K (d + 1)).

    Block ``(k, l)`` (rows ``k (d + 1) ...``, columns ``l (d + 1) ...``) is
    ``[X, 1].T @ diag(w (p_k delta_kl - p_k p_l)) @ [X, 1]`` with ``P =
    softmax(X @ coef.T + intercept)`` and ``w`` as in :func:`binary_hessp`;
    index ``k (d + 1) + d`` is class k's intercept.  CSR input is densified
    (an oracle for small d).  Twin of
    :func:`fastlogit.functions._multinomial_hessian_sum` (``reduction="sum"``).
    """
    X = _as_matrix(X)
    P = softmax(_multinomial_scores(X, coef, intercept), axis=1)
    w = _row_weights(sample_weight, P.shape[0], reduction)
    A = X.toarray() if scipy.sparse.issparse(X) else X
    A = np.hstack([A, np.ones((A.shape[0], 1), dtype=A.dtype)]).astype(np.float64)
    K, m = P.shape[1], A.shape[1]
    H = np.empty((K * m, K * m))
    for k in range(K):
        for l in range(K):
            c = w * (P[:, k] * (k == l) - P[:, k] * P[:, l])
            H[k * m : (k + 1) * m, l * m : (l + 1) * m] = A.T @ (c[:, None] * A)
    return H


def _squared(X):
    """X's entries squared, float64, dense or CSR."""
    if scipy.sparse.issparse(X):
        return X.astype(np.float64).multiply(X.astype(np.float64)).tocsr()
    return np.square(np.asarray(X, dtype=np.float64))


def binary_hessian_diagonal(X, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """Reference diagonal of :func:`binary_hessian`, float64 (d + 1,), without forming it:
    ``(X**2).T @ h`` and ``sum(h)`` (the intercept's, last), ``h`` as in
    :func:`binary_hessp`.  Twin of ``fastlogit.kernels.binary.hessian_diagonal``."""
    X = _as_matrix(X)
    h = _binary_curvature(X, coef, intercept, sample_weight, reduction)
    return np.append(_xt_dot(_squared(X), h), h.sum())


def binary_predict_raw(X, coef, intercept=0.0, n_threads=None):
    """Reference binary scores ``X @ coef + intercept``, float64 (n,)."""
    return _binary_scores(_as_matrix(X), coef, intercept)


def multinomial_predict_raw(X, coef, intercept=None, n_threads=None):
    """Reference multinomial scores ``X @ coef.T + intercept``, float64 (n, K)."""
    return _multinomial_scores(_as_matrix(X), coef, intercept)


# ---------------------------------------------------------------------------
# k-fold cross-validation, written plainly: one masked call per model.
# ---------------------------------------------------------------------------


def _fold_models(fold, coef, intercept, sample_weight):
    """Per model j: ``(coef_j, intercept_j, train weights, test mask)`` (weights 0 on fold j)."""
    coef = np.asarray(coef, dtype=np.float64)
    fold = np.asarray(fold)
    s = np.ones(fold.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    b = np.zeros(coef.shape[:-1]) if intercept is None else np.asarray(intercept, dtype=np.float64)
    for j in range(coef.shape[0]):
        test = fold == j
        yield coef[j], b[j], np.where(test, 0.0, s), test


def _per_model_mean(values, weight):
    weight = np.asarray(weight, dtype=np.float64).reshape((-1,) + (1,) * (np.ndim(values) - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(weight > 0, values / np.where(weight > 0, weight, 1.0), np.nan)


def fold_loss_grad(X, y, fold, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None):
    """Reference k-fold losses: ``(loss (k,), grad, test_loss (k,), test_accuracy (k,))``.

    Model j (``coef[j]``: (d,) binary when ``coef`` is (k, d), (K, d) softmax
    when it is (k, K, d)) is :func:`binary_loss_grad` /
    :func:`multinomial_loss_grad` with the weights of fold j's rows set to 0;
    its held-out loss and correct predictions are summed over fold j's rows
    from its scores (binary: score > 0 predicts 1; softmax: ``argmax``); a
    held-out row's loss is scikit-learn's ``log_loss``, the probability of
    its class clipped to ``[eps, 1 - eps]``.
    ``grad`` is (k, d + 1) or (k, K, d + 1), the intercept's in the last
    column.  ``"mean"`` divides the training sums by the training weight and
    the held-out ones by the held-out weight (NaN where that is 0).
    """
    check_reduction(reduction)
    X = _as_matrix(X)
    binary = np.ndim(coef) == 2
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    out = {name: [] for name in ("loss", "grad", "test_loss", "correct", "train_w", "test_w")}
    for w, b, train_s, test in _fold_models(fold, coef, intercept, sample_weight):
        if binary:
            loss, g, g_b = binary_loss_grad(X, y, w, b, train_s, reduction="sum")
            grad = np.append(g, g_b)
            z = _binary_scores(X[test], w, b)
            yt = np.asarray(y, dtype=np.float64)[test]
            test_loss = (1 - yt) * log1pexp(z) + yt * log1pexp(-z)
            right = (z > 0) == (yt == 1)
        else:
            loss, g, g_b = multinomial_loss_grad(X, y, w, b, train_s, reduction="sum")
            grad = np.column_stack([g, g_b])
            z = _multinomial_scores(X[test], w, b)
            yt = np.asarray(y).astype(np.intp)[test]
            test_loss = logsumexp(z, axis=1) - z[np.arange(z.shape[0]), yt]
            right = np.argmax(z, axis=1) == yt
        eps = np.finfo(np.float64).eps
        test_loss = np.clip(test_loss, -np.log1p(-eps), -np.log(eps))
        st = s[test]
        out["loss"].append(loss)
        out["grad"].append(grad)
        out["test_loss"].append(float(np.sum(st * test_loss)))
        out["correct"].append(float(np.sum(st * right)))
        out["train_w"].append(train_s.sum())
        out["test_w"].append(st.sum())
    loss, grad, test_loss, correct = (np.array(out[k]) for k in ("loss", "grad", "test_loss", "correct"))
    if reduction == "mean":
        loss, grad = _per_model_mean(loss, out["train_w"]), _per_model_mean(grad, out["train_w"])
        test_loss = _per_model_mean(test_loss, out["test_w"])
        correct = _per_model_mean(correct, out["test_w"])
    return loss, grad, test_loss, correct


def fold_hessp(
    X,
    fold,
    coef,
    intercept,
    vec_coef,
    vec_intercept=None,
    sample_weight=None,
    reduction="mean",
    n_threads=None,
):
    """Reference k-fold Hessian products: model j's :func:`binary_hessp` /
    :func:`multinomial_hessp` at ``(coef[j], intercept[j])`` times
    ``(vec_coef[j], vec_intercept[j])`` with fold j's rows weighted 0; float64
    (k, d + 1) or (k, K, d + 1), the intercept's in the last column,
    ``"mean"``: divided by each model's training weight."""
    check_reduction(reduction)
    X = _as_matrix(X)
    binary = np.ndim(coef) == 2
    vec_coef = np.asarray(vec_coef, dtype=np.float64)
    v_b = (
        np.zeros(vec_coef.shape[:-1])
        if vec_intercept is None
        else np.asarray(vec_intercept, dtype=np.float64)
    )
    out, weights = [], []
    for j, (w, b, train_s, _) in enumerate(_fold_models(fold, coef, intercept, sample_weight)):
        if binary:
            hv, hv_b = binary_hessp(X, w, b, vec_coef[j], v_b[j], train_s, reduction="sum")
            out.append(np.append(hv, hv_b))
        else:
            hv, hv_b = multinomial_hessp(X, w, b, vec_coef[j], v_b[j], train_s, reduction="sum")
            out.append(np.column_stack([hv, hv_b]))
        weights.append(train_s.sum())
    out = np.array(out)
    return _per_model_mean(out, weights) if reduction == "mean" else out


# ---------------------------------------------------------------------------
# The SGD loop (fastlogit._sgd), written plainly: explicit weights (no scale
# trick), an explicit running sum for averaging, L1 by the same cumulative
# clipping.  Slow (Python loops over batches and a Python shuffle): for tests.
# ---------------------------------------------------------------------------
_U64 = 1 << 64


def _splitmix64(state):
    state[0] = (state[0] + 0x9E3779B97F4A7C15) % _U64
    z = state[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % _U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % _U64
    return z ^ (z >> 31)


def _bounded(state, bound):
    m = _splitmix64(state) * bound
    if m % _U64 < bound:
        threshold = (_U64 - bound) % bound
        while m % _U64 < threshold:
            m = _splitmix64(state) * bound
    return m >> 64


def sgd_shuffle(rows, state):
    """Fisher-Yates with SplitMix64, the twin of ``fastlogit._sgd.shuffle``.

    rows: int64 array shuffled in place; state: a one-element list holding
    the generator's 64-bit state, advanced in place.
    """
    for i in range(rows.shape[0] - 1, 0, -1):
        j = _bounded(state, i + 1)
        rows[i], rows[j] = rows[j], rows[i]


_SCHEDULES = ("constant", "invscaling", "optimal", "adaptive", "adagrad")


def sgd_epochs(
    X,
    y,
    sample_weight,
    n_classes,
    coef,
    intercept,
    *,
    n_epochs,
    batch_size,
    learning_rate,
    eta0,
    power_t,
    alpha_opt,
    t0_opt,
    lam2,
    lam1,
    fit_intercept,
    avg_start,
    sw_scale,
    seed,
    rows=None,
):
    """``n_epochs`` epochs of minibatch SGD, as ``fastlogit._sgd`` runs them.

    X: (n, d) ndarray or CSR; y: class indices; coef: (n_w, d) start
    (n_w = 1 binary, else n_classes); intercept (n_w,); the remaining
    arguments are the loop's settings (see ``fastlogit.sgd.fit_sgd``, which
    stores them in ``result.state.config``); ``rows``: the training rows
    (default all), shuffled every epoch with ``seed``.

    Returns ``(coef, intercept, loss_sums)``: the averaged weights when
    averaging has started, and per epoch the sum of normalized weight times
    loss, each row at the weights of its step.
    """
    if learning_rate not in _SCHEDULES:
        raise ValueError(f"learning_rate must be one of {_SCHEDULES}, got {learning_rate!r}")
    sparse = scipy.sparse.issparse(X)
    n = X.shape[0]
    multinomial = n_classes > 2
    W = np.array(coef, dtype=np.float64, copy=True)
    b = np.array(intercept, dtype=np.float64, copy=True)
    n_w, d = W.shape
    q = np.zeros_like(W)
    G2, G2b = np.zeros_like(W), np.zeros_like(b)
    W_sum, b_sum, count = np.zeros_like(W), np.zeros_like(b), 0
    u, t, seen = 0.0, 0, 0
    state = [int(seed)]
    rows = np.arange(n, dtype=np.int64) if rows is None else np.array(rows, dtype=np.int64)
    loss_sums = []
    for _ in range(n_epochs):
        order = rows.copy()
        sgd_shuffle(order, state)
        loss_sum = 0.0
        for lo in range(0, order.shape[0], batch_size):
            batch = order[lo : lo + batch_size]
            m = batch.shape[0]
            Xb = X[batch]
            Xd = Xb.toarray() if sparse else np.asarray(Xb, dtype=np.float64)
            s = (sample_weight[batch] * sw_scale) if sample_weight is not None else np.ones(m)
            Z = Xd @ W.T + b
            yb = y[batch]
            if multinomial:
                loss = logsumexp(Z, axis=1) - Z[np.arange(m), yb]
                R = softmax(Z, axis=1)
                R[np.arange(m), yb] -= 1.0
            else:
                z = Z[:, 0]
                loss = log1pexp(z) - yb * z
                R = (sigmoid(z) - yb)[:, None]
            R *= s[:, None]
            loss_sum += float(np.sum(s * loss))
            seen += m
            averaging = avg_start > 0 and seen >= avg_start
            if learning_rate == "optimal":
                eta = 1.0 / (alpha_opt * (t0_opt + t))
            elif learning_rate == "invscaling":
                eta = eta0 / (t + 1.0) ** power_t
            else:
                eta = eta0
            g = R.T @ Xd / m
            gb = R.sum(axis=0) / m
            if learning_rate == "adagrad":
                gj = g + lam2 * W
                G2 += gj * gj
                step = eta / (np.sqrt(G2) + 1e-8)
                W = W - step * gj
                if lam1 > 0:
                    W = np.sign(W) * np.maximum(np.abs(W) - step * lam1, 0.0)
                if fit_intercept:
                    G2b += gb * gb
                    b = b - eta * gb / (np.sqrt(G2b) + 1e-8)
            else:
                factor = 1.0 - eta * lam2
                W = (W * factor if factor > 0 else np.zeros_like(W)) - eta * g
                if fit_intercept:
                    b = b - eta * gb
                if lam1 > 0:
                    u += eta * lam1
                    cols = np.unique(Xb.indices) if sparse else np.arange(d)
                    w = W[:, cols]
                    w0 = w.copy()
                    qc = q[:, cols]
                    pos, neg = w > 0, w < 0
                    w = np.where(pos, np.maximum(0.0, w - (u + qc)), w)
                    w = np.where(neg, np.minimum(0.0, w + (u - qc)), w)
                    q[:, cols] = qc + (w - w0)
                    W[:, cols] = w
            if averaging:
                W_sum += W
                b_sum += b
                count += 1
            t += 1
        loss_sums.append(loss_sum)
    if count:
        return W_sum / count, b_sum / count, loss_sums
    return W, b, loss_sums
