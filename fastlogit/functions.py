"""The public array functions (the façade): validate once, then call a Numba kernel.

Nothing inside fastlogit imports this module: it is the public surface over
:mod:`fastlogit.data` (the rules) and :mod:`fastlogit.matrix` (the kernels'
calls); see ARCHITECTURE.md.

Special functions accept Python scalars and float32/float64 arrays of any
shape; they return the input's float dtype (integers and bools compute in
float64, float16 in float32).  A scalar in gives a NumPy scalar out.  The
fast path is a C-contiguous array (and, for the row-wise functions, the last
axis); any other layout is copied once into C order.
"""

from typing import NamedTuple

import numpy as np

from .data import (
    as_binary_labels,
    as_class_indices,
    as_coef,
    as_float_array,
    as_fold_ids,
    as_matrix,
    as_sample_weight,
    as_scalar,
    check_axis,
    check_n_threads,
    check_reduction,
)
from .kernels import special as _sp
from .matrix import (
    FoldKernelCalls,
    KernelCalls,
    binary_hessian_sum,
    check_finite,
    check_finite_results,
    elementwise,
    kernel_view,
    logsumexp_rows,
    multinomial_hessian_sum,
    n_entries,
    predict_raw,
    softmax_rows,
    threads_for,
)

# The package lists these names too (fastlogit._FUNCTIONS, served lazily without
# importing this module); a test checks the two lists agree.
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
    "multinomial_hessian",
    "binary_predict_raw",
    "multinomial_predict_raw",
    "fold_loss_grad",
    "fold_hessp",
    "FoldLossGrad",
]


def _elementwise(op, x):
    arr, was_scalar = as_float_array(x, "x")
    out = elementwise(op, arr)
    return out[()] if was_scalar else out


def sigmoid(x):
    """Logistic sigmoid ``1 / (1 + exp(-x))`` (scipy's ``expit``), elementwise.

    Parameters
    ----------
    x : array_like of real numbers, any shape.

    Returns
    -------
    ndarray of the same shape (float32 for float32/float16 input, else
    float64), or a NumPy scalar for scalar input.  Within 2 ulp of the exact
    value everywhere; ``sigmoid(-inf) == 0``, ``sigmoid(inf) == 1``, NaN
    stays NaN.
    """
    return _elementwise(_sp.OP_SIGMOID, x)


def log_sigmoid(x):
    """``log(sigmoid(x)) = -log1pexp(-x)`` (scipy's ``log_expit``), elementwise.

    Accurate where ``sigmoid`` itself rounds to 0 or 1: ``log_sigmoid(-1e4)
    == -1e4`` and ``log_sigmoid(40) == -exp(-40)``.  Shapes and dtypes as in
    :func:`sigmoid`; ``log_sigmoid(-inf) == -inf``, ``log_sigmoid(inf) == 0``.
    """
    return _elementwise(_sp.OP_LOG_SIGMOID, x)


def log1pexp(x):
    """Softplus ``log(1 + exp(x))``, elementwise, never overflowing.

    This is the binary log-loss of a row with label 0 at score ``x``.
    Shapes and dtypes as in :func:`sigmoid`; ``log1pexp(-inf) == 0``,
    ``log1pexp(inf) == inf``.
    """
    return _elementwise(_sp.OP_LOG1PEXP, x)


def _as_rows(arr, axis):
    """View ``arr`` as C-contiguous (n, K) rows along ``axis``.

    Returns ``(rows, moved_shape)`` where ``moved_shape`` is ``arr.shape``
    with ``axis`` moved last.  ``axis=None`` makes the whole array one row.
    Copies only when ``axis`` is not the last axis.
    """
    if arr.ndim == 0:
        return arr.reshape(1, 1), (1,)
    if axis is None:
        return arr.reshape(1, arr.size), (arr.size,)
    moved = np.moveaxis(arr, axis, -1)
    K = moved.shape[-1]
    n = int(np.prod(moved.shape[:-1]))
    return np.ascontiguousarray(moved).reshape(n, K), moved.shape


def logsumexp(a, axis=-1, keepdims=False):
    """``log(sum(exp(a), axis))`` without overflow, in one pass per row.

    Parameters
    ----------
    a : array_like of real numbers, any shape.
    axis : int or None, default -1
        Axis to reduce; None reduces over all elements.
    keepdims : bool, default False
        Keep the reduced axis with length 1.

    Returns
    -------
    ndarray with ``axis`` removed (float32 for float32 input, else float64),
    or a NumPy scalar when the result is 0-d.  A slice with NaN gives NaN,
    one containing +inf gives +inf, all -inf (or empty) gives -inf.
    """
    arr, was_scalar = as_float_array(a, "a")
    axis = check_axis(axis, max(arr.ndim, 1))
    rows, moved_shape = _as_rows(arr, axis)
    out = logsumexp_rows(rows)
    if was_scalar:
        return out[0]
    if axis is None:
        shape = (1,) * arr.ndim if keepdims else ()
    else:
        shape = moved_shape[:-1]
        if keepdims:
            shape = shape[:axis] + (1,) + shape[axis:]
    out = out.reshape(shape)
    return out[()] if out.ndim == 0 else out


def _softmax(a, axis, log):
    arr, was_scalar = as_float_array(a, "a")
    axis = check_axis(axis, max(arr.ndim, 1))
    rows, moved_shape = _as_rows(arr, axis)
    out = softmax_rows(rows, log)
    if was_scalar:
        return out[0, 0]
    if axis is None:
        return out.reshape(arr.shape)
    return np.moveaxis(out.reshape(moved_shape), -1, axis)


def softmax(a, axis=-1):
    """``exp(a) / sum(exp(a), axis)``, stable, one pass per row.

    Parameters
    ----------
    a : array_like of real numbers, any shape.
    axis : int or None, default -1
        Axis along which entries sum to 1; None normalizes the whole array.

    Returns
    -------
    ndarray of ``a``'s shape (float32 for float32 input, else float64).
    Each entry is within 2 ulp of the exact value.  Limits: an entry at
    -inf gets 0; a slice with exactly one +inf gets 1 there and 0 elsewhere.
    Slices whose limit is undefined (a NaN, two or more +inf, all -inf) are
    NaN.  Returned as a view in ``a``'s axis order (not C-contiguous when
    ``axis`` is not the last).
    """
    return _softmax(a, axis, False)


def log_softmax(a, axis=-1):
    """``a - logsumexp(a, axis)``, computed without cancellation.

    Shapes, dtypes and limits as in :func:`softmax` (log of each: -inf where
    softmax is 0, 0 where it is 1).
    """
    return _softmax(a, axis, True)


# ---------------------------------------------------------------------------
# Fused loss, gradient and Hessian of the binary and multinomial models.
# ---------------------------------------------------------------------------


def _normalizer(reduction, sw, n):
    check_reduction(reduction)
    if reduction == "sum":
        return 1.0
    return 1.0 / (sw.sum() if sw is not None else n)


def _binary_inputs(X, coef, intercept, sample_weight, reduction, n_threads):
    X = as_matrix(X)
    n, d = X.shape
    w = as_coef(coef, (d,), "coef")
    b = as_scalar(intercept, "intercept")
    sw = as_sample_weight(sample_weight, n)
    return X, w, b, sw, _normalizer(reduction, sw, n), _threads(n_threads, X, 2)


def _threads(n_threads, X, n_classes):
    # At most n_threads, and one per MIN_WORK_PER_THREAD of work (see
    # fastlogit.matrix.threads_for): a small call stays on the calling thread.
    return threads_for(check_n_threads(n_threads), n_entries(X), n_classes)


def _multinomial_inputs(X, coef, intercept, sample_weight, reduction, n_threads):
    X = as_matrix(X)
    n, d = X.shape
    W = np.asarray(coef)
    if W.ndim != 2:
        raise ValueError(f"coef must have shape (n_classes, {d}), got {W.shape}")
    W = as_coef(W, (W.shape[0], d), "coef")
    K = W.shape[0]
    b = np.zeros(K) if intercept is None else as_coef(intercept, (K,), "intercept")
    sw = as_sample_weight(sample_weight, n)
    return X, W, b, sw, _normalizer(reduction, sw, n), _threads(n_threads, X, K)


def binary_loss_grad(X, y, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """Binary log-loss and its gradient in one pass over ``X``.

    Parameters
    ----------
    X : (n, d) ndarray (float32/float64, any layout) or scipy.sparse CSR.
        C-contiguous float arrays and CSR are used in place (read-only and
        memmapped ones too); other layouts are copied once into C order.
    y : (n,) labels in {0, 1}.
    coef : (d,) coefficients; intercept : float.
    sample_weight : (n,) nonnegative weights, or None.
    reduction : "mean" divides by the weight sum (n without weights), "sum"
        returns plain sums (what chunked and distributed callers add up).
    n_threads : the most threads to use (None: all the process allows, see
        :func:`fastlogit.data.check_n_threads`); fewer when the work is
        small (one per ``fastlogit.matrix.MIN_WORK_PER_THREAD`` stored
        entries times classes).  The same value always gives bit-identical
        results.

    Returns
    -------
    loss : float, sum_i s_i * (log1pexp(z_i) - y_i z_i) (reduced),
        z = X @ coef + intercept.
    grad_coef : (d,) float64.
    grad_intercept : float.

    Extra memory is O(n_threads * d), independent of n.
    """
    X, w, b, sw, scale, T = _binary_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    y = as_binary_labels(y, X.shape[0])
    loss, grad = KernelCalls(w.shape[0], 2, T).loss_grad(kernel_view(X), y, sw, w, b)
    check_finite_results(X, grad, loss)
    grad = grad * scale
    return loss * scale, grad[:-1], float(grad[-1])


def multinomial_loss_grad(X, y, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None):
    """Softmax (multinomial) log-loss and its gradient in one pass over ``X``.

    Parameters
    ----------
    X : (n, d) ndarray or CSR, as in :func:`binary_loss_grad`.
    y : (n,) class indices in [0, K).
    coef : (K, d) coefficients, as scikit-learn's ``coef_``.
    intercept : (K,) or None (zeros).
    sample_weight, reduction, n_threads : as in :func:`binary_loss_grad`.

    Returns
    -------
    loss : float, sum_i s_i * (logsumexp(z_i) - z_i[y_i]) (reduced),
        z = X @ coef.T + intercept.
    grad_coef : (K, d) float64.
    grad_intercept : (K,) float64.

    No n x K temporary: extra memory is O(n_threads * K * d).
    """
    X, W, b, sw, scale, T = _multinomial_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    K, d = W.shape
    y = as_class_indices(y, X.shape[0], K)
    loss, grad = KernelCalls(d, K, T, binary=False).loss_grad(kernel_view(X), y, sw, W, b)
    check_finite_results(X, grad, loss)
    grad = grad * scale
    return loss * scale, grad[:, :d], grad[:, d]


def binary_hessp(
    X, coef, intercept, vec_coef, vec_intercept=0.0, sample_weight=None, reduction="mean", n_threads=None
):
    """Hessian of the binary log-loss at (coef, intercept) times (vec_coef, vec_intercept).

    ``H = [X, 1].T @ diag(s * p * (1 - p)) @ [X, 1]`` (reduced as in
    :func:`binary_loss_grad`), applied in one pass over ``X`` without forming
    it: what Newton-CG needs.  Returns ``(hv_coef (d,), hv_intercept float)``.
    """
    X, w, b, sw, scale, T = _binary_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    d = w.shape[0]
    v = as_coef(vec_coef, (d,), "vec_coef")
    v_b = as_scalar(vec_intercept, "vec_intercept")
    hv = KernelCalls(d, 2, T).hessp(kernel_view(X), sw, w, b, v, v_b)
    check_finite_results(X, hv)
    hv = hv * scale
    return hv[:d], float(hv[d])


def multinomial_hessp(
    X, coef, intercept, vec_coef, vec_intercept=None, sample_weight=None, reduction="mean", n_threads=None
):
    """Hessian of the softmax log-loss at (coef, intercept) times (vec_coef, vec_intercept).

    One pass over ``X``; per row, class k gets ``s * p_k * (u_k - p.u) * [x, 1]``
    with ``p = softmax(z)``, ``u = vec_coef @ x + vec_intercept``.
    Returns ``(hv_coef (K, d), hv_intercept (K,))``.
    """
    X, W, b, sw, scale, T = _multinomial_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    K, d = W.shape
    V = as_coef(vec_coef, (K, d), "vec_coef")
    v_b = np.zeros(K) if vec_intercept is None else as_coef(vec_intercept, (K,), "vec_intercept")
    hv = KernelCalls(d, K, T, binary=False).hessp(kernel_view(X), sw, W, b, V, v_b)
    check_finite_results(X, hv)
    hv = hv * scale
    return hv[:, :d], hv[:, d]


def binary_hessian(X, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """The binary log-loss Hessian ``[X, 1].T @ diag(s * p * (1 - p)) @ [X, 1]``.

    A (d + 1, d + 1) float64 matrix (last row/column: the intercept), for the
    Newton-Cholesky step when d is small.  One pass over ``X`` in blocks of
    HESSIAN_BLOCK rows, each a BLAS product (whose threads, not
    ``n_threads``, set the parallelism): extra memory is
    O(HESSIAN_BLOCK * d + d**2), independent of n.
    """
    X, w, b, sw, scale, _ = _binary_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    check_finite(X)  # before the BLAS products (an O(n d) scan next to their O(n d^2))
    return binary_hessian_sum(X, w, b, sw) * scale


def binary_loss_grad_hessian(X, y, coef, intercept=0.0, sample_weight=None, reduction="mean", n_threads=None):
    """Binary log-loss, its gradient and its Hessian in one pass over ``X``: a Newton step's input.

    Parameters as in :func:`binary_loss_grad`.  Returns ``(loss, grad_coef
    (d,), grad_intercept, hessian)`` with ``hessian`` the float64 (d + 1,
    d + 1) matrix of :func:`binary_hessian`.  One read of X (dense: each
    block of rows is copied once, as columns, into per-thread scratch, and
    the Hessian's upper triangle summed over it in tiles, from cache; CSR:
    each row's nonzeros' outer product), where :func:`binary_loss_grad` and
    :func:`binary_hessian` read it several times.  Extra memory:
    O(n_threads * (ROW_BLOCK + d) * d), independent of n; dense scratch
    rows, so for CSR data meant for small d.
    """
    X, w, b, sw, scale, T = _binary_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    d = w.shape[0]
    y = as_binary_labels(y, X.shape[0])
    loss, grad, H = KernelCalls(d, 2, T).loss_grad_hessian(kernel_view(X), y, sw, w, b)
    check_finite_results(X, grad, loss)
    grad = grad * scale
    return loss * scale, grad[:-1], float(grad[-1]), H * scale


def multinomial_loss_grad_hessian(
    X, y, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None
):
    """Softmax log-loss, its gradient and its Hessian in one pass over ``X``: a Newton step's input.

    Parameters as in :func:`multinomial_loss_grad`.  Returns ``(loss,
    grad_coef (K, d), grad_intercept (K,), hessian)`` with ``hessian`` the
    float64 (K (d + 1), K (d + 1)) class-major matrix of
    :func:`multinomial_hessian`.  One read of X: each block of rows gives its
    loss and gradient, then its part of every block (k, l <= k) of the
    Hessian from per-thread scratch in cache (dense: the block copied once as
    columns, each pair of classes' tiles summed over it; CSR: each row's
    nonzeros' outer products), where
    :func:`multinomial_loss_grad` and :func:`multinomial_hessian` read X
    twice.  Extra memory: O(n_threads * (ROW_BLOCK d + K^2 d^2)),
    independent of n.
    """
    X, W, b, sw, scale, T = _multinomial_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    K, d = W.shape
    y = as_class_indices(y, X.shape[0], K)
    loss, grad, H = KernelCalls(d, K, T, binary=False).loss_grad_hessian(kernel_view(X), y, sw, W, b)
    check_finite_results(X, grad, loss)
    grad = grad * scale
    return loss * scale, grad[:, :d], grad[:, d], H * scale


def multinomial_hessian(X, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None):
    """The softmax log-loss Hessian, float64 (K (d + 1), K (d + 1)), class-major.

    Entry ``k * (d + 1) + j`` is class k's coefficient j (``j = d``: its
    intercept); block ``(k, l)`` is ``[X, 1].T @ diag(s (p_k delta_kl - p_k
    p_l)) @ [X, 1]``.  Singular: the symmetric parameterization does not
    change when one vector is added to every class.  One pass over ``X`` in
    blocks of HESSIAN_BLOCK rows with BLAS products (their threads, not
    ``n_threads``, set the parallelism); extra memory O(HESSIAN_BLOCK * K
    + (K d)**2), independent of n.  What :mod:`fastlogit.inference` uses.
    """
    X, W, b, sw, scale, _ = _multinomial_inputs(X, coef, intercept, sample_weight, reduction, n_threads)
    check_finite(X)  # before the BLAS products (an O(n d) scan next to their O(n K^2 d^2))
    return multinomial_hessian_sum(X, W, b, sw) * scale


def binary_predict_raw(X, coef, intercept=0.0, n_threads=None):
    """Decision function ``X @ coef + intercept``: (n,) float64."""
    X, w, b, _, _, T = _binary_inputs(X, coef, intercept, None, "sum", n_threads)
    return predict_raw(X, w, b, T)


def multinomial_predict_raw(X, coef, intercept=None, n_threads=None):
    """Decision function ``X @ coef.T + intercept``: (n, K) float64."""
    X, W, b, _, _, T = _multinomial_inputs(X, coef, intercept, None, "sum", n_threads)
    return predict_raw(X, W, b, T)


# ---------------------------------------------------------------------------
# k-fold cross-validation: the k models' objectives from one pass over X.
# ---------------------------------------------------------------------------


class FoldLossGrad(NamedTuple):
    """What :func:`fold_loss_grad` returns, one entry per model (fold) j.

    loss : (k,) float64, model j's loss over its training rows (the rows not
        in fold j).
    grad : its gradient, float64 (k, d + 1) binary or (k, K, d + 1) softmax,
        the intercept's in the last column (see :attr:`grad_coef`,
        :attr:`grad_intercept`).
    test_loss : (k,) float64, model j's loss over its held-out rows (fold j).
    test_accuracy : (k,) float64, the held-out weight of its correct
        predictions (reduction "mean": divided by the held-out weight, the
        accuracy).
    """

    loss: np.ndarray
    grad: np.ndarray
    test_loss: np.ndarray
    test_accuracy: np.ndarray

    @property
    def grad_coef(self):
        """The coefficients' gradient: (k, d) binary, (k, K, d) softmax (a view)."""
        return self.grad[..., :-1]

    @property
    def grad_intercept(self):
        """The intercepts' gradient: (k,) binary, (k, K) softmax (a view)."""
        return self.grad[..., -1]


def _fold_inputs(X, fold, coef, intercept, sample_weight, reduction, n_threads):
    """Validated ``(X, fold, W, b, sw, T, K)`` of the fold functions; ``K`` is 2 for
    binary coefficients (k, d), the classes for softmax ones (k, K, d)."""
    X = as_matrix(X)
    n, d = X.shape
    W = np.asarray(coef)
    if W.ndim not in (2, 3) or W.shape[0] < 1:
        raise ValueError(
            f"coef must have shape (n_folds, {d}) (binary) or (n_folds, n_classes, {d}) (softmax), "
            f"one model per fold, got {W.shape}"
        )
    k = W.shape[0]
    shape = (k,) if W.ndim == 2 else W.shape[:2]
    W = as_coef(W, (*shape, d), "coef")
    b = np.zeros(shape) if intercept is None else as_coef(intercept, shape, "intercept")
    check_reduction(reduction)
    fold = as_fold_ids(fold, n, k)
    sw = as_sample_weight(sample_weight, n)
    scores = 1 if W.ndim == 2 else shape[1]
    # One thread per MIN_WORK_PER_THREAD of work, as for one model: the k
    # models' scores are k (binary) or k K (softmax) products per stored entry.
    T = threads_for(check_n_threads(n_threads), n_entries(X) * k * scores, 2)
    return X, fold, W, b, sw, T, (2 if W.ndim == 2 else shape[1])


def _fold_calls(W, K, T):
    return FoldKernelCalls(W.shape[-1], K, W.shape[0], T, binary=W.ndim == 2)


def _training_weights(test_weight):
    """Model j's training weight: the held-out weights of the other folds, summed."""
    total = np.empty_like(test_weight)
    for j in range(test_weight.shape[0]):
        total[j] = np.delete(test_weight, j).sum()
    return total


def _per_model(values, weight):
    """``values / weight`` along the models' axis (the first), NaN where weight is 0."""
    weight = weight.reshape((-1,) + (1,) * (values.ndim - 1))
    return np.divide(values, weight, out=np.full(values.shape, np.nan), where=weight > 0)


def fold_loss_grad(X, y, fold, coef, intercept=None, sample_weight=None, reduction="mean", n_threads=None):
    """The k models of k-fold cross-validation: each one's training loss and
    gradient and its held-out loss and accuracy, in one pass over ``X``.

    A row whose fold id is ``f`` is in the training set of every model
    ``j != f`` and held out of model ``f``.  Each row's scores under all k
    models come from one read of the row (the k models' coefficients are
    the rows of one matrix): X is read once, not k times (at k = 5 the call
    takes about a third of the time of k :func:`binary_loss_grad` calls with
    the held-out rows weighted 0; ``benchmarks/test_cv.py``).

    Parameters
    ----------
    X : (n, d) ndarray or CSR, as in :func:`binary_loss_grad`.
    y : (n,) labels in {0, 1} (binary coef) or class indices in [0, K) (softmax coef).
    fold : (n,) integer fold ids in [0, k).
    coef : (k, d) coefficients of k binary models, or (k, K, d) of k softmax
        models: model j is the one that fold j is held out of.
    intercept : (k,) / (k, K), or None (zeros).
    sample_weight : (n,) nonnegative weights, or None.
    reduction : "mean": each model's training loss and gradient divided by
        its training weight, its held-out loss and correct predictions by
        its held-out weight (NaN for a model whose held-out, or training,
        weight is 0); "sum": plain weighted sums.
    n_threads : as in :func:`binary_loss_grad`.

    Returns
    -------
    FoldLossGrad ``(loss (k,), grad, test_loss (k,), test_accuracy (k,))``:
    see :class:`FoldLossGrad`.  A prediction is the score's sign (binary: 0
    predicts class 0, as scikit-learn's ``predict``) or the first largest
    score (softmax).

    Extra memory is O(n_threads * (ROW_BLOCK + d) * k * K), independent of n.
    """
    X, fold, W, b, sw, T, K = _fold_inputs(X, fold, coef, intercept, sample_weight, reduction, n_threads)
    n = X.shape[0]
    y = as_binary_labels(y, n) if W.ndim == 2 else as_class_indices(y, n, K)
    loss, grad, test_loss, correct, test_weight = _fold_calls(W, K, T).loss_grad(
        kernel_view(X), y, fold, sw, W, b
    )
    check_finite_results(X, grad, loss, test_loss)
    if reduction == "mean":
        train_weight = _training_weights(test_weight)
        loss, grad = _per_model(loss, train_weight), _per_model(grad, train_weight)
        test_loss, correct = _per_model(test_loss, test_weight), _per_model(correct, test_weight)
    return FoldLossGrad(loss, grad, test_loss, correct)


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
    """For each of the k models of :func:`fold_loss_grad`, the Hessian of its
    training loss at ``(coef[j], intercept[j])`` times ``(vec_coef[j],
    vec_intercept[j])``, in one pass over ``X``.

    ``vec_coef`` is shaped as ``coef`` ((k, d) or (k, K, d)), ``vec_intercept``
    as the intercepts ((k,) or (k, K); None: zeros).  Rows of fold j add
    nothing to model j.  Returns float64 (k, d + 1) (binary) or (k, K, d + 1)
    (softmax), the intercept's part in the last column, each model's
    divided by its training weight for ``reduction="mean"`` (NaN where that
    is 0).
    """
    X, fold, W, b, sw, T, K = _fold_inputs(X, fold, coef, intercept, sample_weight, reduction, n_threads)
    V = as_coef(vec_coef, W.shape, "vec_coef")
    v_b = np.zeros(b.shape) if vec_intercept is None else as_coef(vec_intercept, b.shape, "vec_intercept")
    hv = _fold_calls(W, K, T).hessp(kernel_view(X), fold, sw, W, b, V, v_b)
    check_finite_results(X, hv)
    if reduction == "mean":
        k = W.shape[0]
        test_weight = np.bincount(fold, weights=sw, minlength=k).astype(np.float64, copy=False)
        hv = _per_model(hv, _training_weights(test_weight))
    return hv
