"""Fused loss+gradient (and Hessian-vector) kernels against their NumPy twins.

Run ``pytest benchmarks/test_kernels.py --benchmark-only``; each group is one
problem (kernel, layout, shape, dtype) with ``fastlogit`` and ``reference``
side by side.  ``extra_info["bytes_of_X"]`` gives the effective bandwidth as
bytes / time.  The CSR reference is scipy.sparse's matrix-vector products.
Sizes scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py).
"""

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import _scaled

import fastlogit
from fastlogit import reference

IMPLEMENTATIONS = {"fastlogit": fastlogit, "reference": reference}

# (name, kernel, layout, nominal shape, dtype, K)
CASES = [
    ("binary", "loss_grad", "dense", (1_000_000, 100), "float64", 2),
    ("binary", "loss_grad", "dense", (100_000, 1_000), "float64", 2),
    ("binary", "loss_grad", "dense", (1_000_000, 100), "float32", 2),
    ("binary", "loss_grad", "csr", (1_000_000, 100_000), "float64", 2),
    ("binary", "hessp", "dense", (1_000_000, 100), "float64", 2),
    ("multinomial", "loss_grad", "dense", (1_000_000, 100), "float64", 10),
    ("multinomial", "hessp", "dense", (1_000_000, 100), "float64", 10),
    ("binary", "hessian", "dense", (1_000_000, 100), "float64", 2),
    # Newton's input from one pass (and, on the fastlogit side, the two calls it replaces:
    # compare with the loss_grad and hessian groups of the same shape).
    ("binary", "loss_grad_hessian", "dense", (300_000, 30), "float64", 2),
    ("binary", "loss_grad_hessian", "dense", (1_000_000, 100), "float64", 2),
    ("binary", "loss_grad_hessian", "csr", (1_000_000, 300), "float64", 2),
    ("multinomial", "hessian", "dense", (200_000, 30), "float64", 5),
    ("multinomial", "loss_grad_hessian", "dense", (200_000, 30), "float64", 5),
    ("multinomial", "loss_grad_hessian", "csr", (200_000, 1_000), "float64", 3),
    ("binary", "predict_raw", "dense", (1_000_000, 100), "float64", 2),
    ("binary", "predict_raw", "csr", (1_000_000, 100_000), "float64", 2),
    ("multinomial", "predict_raw", "dense", (1_000_000, 100), "float64", 10),
]
CSR_DENSITY = 0.0005


@functools.lru_cache(maxsize=1)
def problem(shape, dtype, layout, K):
    """Seeded (X, y, coef, intercept) with the leading dimension scaled.

    Labels are drawn from the model itself (logistic / softmax of the true
    scores), so losses and gradients are those of a realistic fit.
    """
    n, d = _scaled(shape[0]), shape[1]
    rng = np.random.default_rng(2024)
    if layout == "csr":
        per_row = max(1, int(d * CSR_DENSITY))
        indptr = np.arange(n + 1, dtype=np.int64) * per_row
        indices = rng.integers(0, d, n * per_row).astype(np.int32)
        data = rng.standard_normal(n * per_row).astype(dtype)
        X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
        scale = 1.0 / np.sqrt(per_row)
    else:
        X = rng.standard_normal((n, d), dtype=np.dtype(dtype).type)
        scale = 1.0 / np.sqrt(d)
    if K == 2:
        coef = rng.standard_normal(d) * scale
        p = fastlogit.sigmoid(fastlogit.binary_predict_raw(X, coef, 0.1))
        y = (rng.random(n) < p).astype(np.float64)
        return X, y, coef, 0.1
    coef = rng.standard_normal((K, d)) * scale
    intercept = rng.standard_normal(K)
    P = fastlogit.softmax(fastlogit.multinomial_predict_raw(X, coef, intercept))
    y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    return X, y, coef, intercept


def bytes_of(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


@pytest.mark.parametrize("which", list(IMPLEMENTATIONS))
@pytest.mark.parametrize(
    "model, kernel, layout, shape, dtype, K",
    CASES,
    ids=[f"{m}-{k}-{lay}-{s[0]}x{s[1]}-{dt}-K{K}" for m, k, lay, s, dt, K in CASES],
)
def test_kernel(benchmark, model, kernel, layout, shape, dtype, K, which):
    X, y, coef, intercept = problem(shape, dtype, layout, K)
    mod = IMPLEMENTATIONS[which]
    function = getattr(mod, f"{model}_{kernel}")
    if kernel in ("loss_grad", "loss_grad_hessian"):
        f = functools.partial(function, X, y, coef, intercept)
    elif kernel == "hessp":
        f = functools.partial(function, X, coef, intercept, coef)
    else:  # hessian, predict_raw
        f = functools.partial(function, X, coef, intercept)
    expected = f()  # warm-up: compiles or loads the kernel from cache
    benchmark.group = f"{model} {kernel} {layout} {X.shape[0]}x{X.shape[1]} {dtype}" + (
        f" K={K}" if model == "multinomial" else ""
    )
    benchmark.extra_info["bytes_of_X"] = bytes_of(X)
    out = benchmark(f)
    out, expected = flat(out), flat(expected)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, expected)  # same inputs, same threads: same bits


def flat(result):
    """One float64 vector of everything a kernel returns."""
    parts = result if isinstance(result, tuple) else (result,)
    return np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in parts])


#: A Newton step's input, (loss, gradient, Hessian): the fused pass against fastlogit's
#: own two calls it replaces (gradient pass, then the blocked BLAS Hessian), and
#: (binary, the rule of solvers.auto's AUTO_SPREAD) against one gradient pass.
NEWTON_INPUTS = [
    ((300_000, 30), 2),
    ((50_000, 100), 2),
    ((200_000, 30), 5),
    ((50_000, 100), 3),
    ((1_797, 64), 10),
]
NEWTON_WAYS = {
    "fused": lambda X, y, W, b: (
        fastlogit.binary_loss_grad_hessian(X, y, W, b, reduction="sum")
        if W.ndim == 1
        else fastlogit.multinomial_loss_grad_hessian(X, y, W, b, reduction="sum")
    ),
    "two-passes": lambda X, y, W, b: (
        (
            *fastlogit.binary_loss_grad(X, y, W, b, reduction="sum"),
            fastlogit.binary_hessian(X, W, b, reduction="sum"),
        )
        if W.ndim == 1
        else (
            *fastlogit.multinomial_loss_grad(X, y, W, b, reduction="sum"),
            fastlogit.multinomial_hessian(X, W, b, reduction="sum"),
        )
    ),
    "gradient-only": lambda X, y, W, b: (
        fastlogit.binary_loss_grad(X, y, W, b, reduction="sum")
        if W.ndim == 1
        else fastlogit.multinomial_loss_grad(X, y, W, b, reduction="sum")
    ),
}


@pytest.mark.parametrize("way", list(NEWTON_WAYS))
@pytest.mark.parametrize("shape, K", NEWTON_INPUTS, ids=[f"{s[0]}x{s[1]}-K{K}" for s, K in NEWTON_INPUTS])
def test_newton_input(benchmark, shape, K, way):
    X, y, coef, intercept = problem(shape, "float64", "dense", K)
    f = functools.partial(NEWTON_WAYS[way], X, y, coef, intercept)
    reference_way = "gradient-only" if way == "gradient-only" else "two-passes"
    expected = flat(NEWTON_WAYS[reference_way](X, y, coef, intercept))
    model = "binary" if K == 2 else "multinomial"
    benchmark.group = f"{model} newton input dense {X.shape[0]}x{X.shape[1]} K={K}"
    out = flat(benchmark(f))
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9 * np.abs(expected).max())


#: The binary Hessian's diagonal (Newton-CG's Jacobi preconditioner, not public):
#: fastlogit's kernel against reference.binary_hessian_diagonal.
DIAGONAL_CASES = [("dense", (1_000_000, 100)), ("csr", (1_000_000, 100_000))]


def _kernel_hessian_diagonal(X, coef, intercept):
    """fastlogit's kernel on all Numba's threads, its inputs prepared as a fit prepares them."""
    import numba

    from fastlogit.data import as_matrix
    from fastlogit.matrix import KernelCalls

    Xm = as_matrix(X)
    Xk = (Xm.data, Xm.indices, Xm.indptr) if sp.issparse(Xm) else Xm
    calls = KernelCalls(Xm.shape[1], 2, numba.get_num_threads())
    return functools.partial(calls.hessian_diagonal, Xk, None, coef, float(intercept))


@pytest.mark.parametrize("which", list(IMPLEMENTATIONS))
@pytest.mark.parametrize(
    "layout, shape", DIAGONAL_CASES, ids=[f"{lay}-{s[0]}x{s[1]}" for lay, s in DIAGONAL_CASES]
)
def test_hessian_diagonal(benchmark, layout, shape, which):
    X, y, coef, intercept = problem(shape, "float64", layout, 2)
    if which == "fastlogit":
        f = _kernel_hessian_diagonal(X, coef, intercept)
    else:
        f = functools.partial(reference.binary_hessian_diagonal, X, coef, intercept, reduction="sum")
    expected = reference.binary_hessian_diagonal(X, coef, intercept, reduction="sum")
    benchmark.group = f"binary hessian_diagonal {layout} {X.shape[0]}x{X.shape[1]} float64"
    benchmark.extra_info["bytes_of_X"] = bytes_of(X)
    out = benchmark(f)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
