"""Plain NumPy twins of every fastlogit kernel: the test oracle and the baseline.

Each function has the same signature and the same limits (±inf, NaN, empty)
as its fastlogit twin, written the obvious stable way with whole-array NumPy
operations, computed in the input's float dtype.  Benchmarks time these
against the kernels; tests compare the kernels to these (and both to mpmath).
"""

import numpy as np

from .data import as_float_array, check_axis

__all__ = ["sigmoid", "log_sigmoid", "log1pexp", "logsumexp", "softmax", "log_softmax"]


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
