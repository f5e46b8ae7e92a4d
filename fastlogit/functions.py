"""The public array functions: validate once, then call a Numba kernel.

Special functions accept Python scalars and float32/float64 arrays of any
shape; they return the input's float dtype (integers and bools compute in
float64, float16 in float32).  A scalar in gives a NumPy scalar out.  The
fast path is a C-contiguous array (and, for the row-wise functions, the last
axis); any other layout is copied once into C order.
"""

import numpy as np

from .data import as_float_array, check_axis
from .kernels import special as _sp

__all__ = ["sigmoid", "log_sigmoid", "log1pexp", "logsumexp", "softmax", "log_softmax"]


def _elementwise(op, x):
    arr, was_scalar = as_float_array(x, "x")
    out = np.empty(arr.shape, dtype=arr.dtype)
    kernel = (
        _sp.elementwise_into_parallel
        if arr.size >= _sp.PARALLEL_MIN_SIZE
        else _sp.elementwise_into
    )
    kernel(op, arr.reshape(-1), out.reshape(-1))
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


def _row_parallel(rows):
    return rows.size >= _sp.PARALLEL_MIN_SIZE and rows.shape[0] > 1


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
    out = np.empty(rows.shape[0], dtype=arr.dtype)
    if _row_parallel(rows):
        _sp.logsumexp_rows_into_parallel(rows, out)
    else:
        _sp.logsumexp_rows_into(rows, out)
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
    out = np.empty(rows.shape, dtype=arr.dtype)
    if _row_parallel(rows):
        _sp.softmax_rows_into_parallel(rows, out, log)
    else:
        _sp.softmax_rows_into(rows, out, log)
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
