"""The solver table: every full-batch solver on each shape, to the same tolerance.

Run ``pytest benchmarks/test_solvers.py --benchmark-only``.  Each group is one
shape (n, d, K, layout, penalty, scaling) with fastlogit's solvers side by
side, each fitting from zero to ``tol=1e-6`` (the largest entry of the
gradient); ``extra_info`` records iterations, convergence and the solver
``"auto"`` chose.  This is the table behind ``solver="auto"``
(:func:`fastlogit.solvers.auto`): on every shape it should be within 1.3x of
the fastest solver that converges.  Sizes scale with
``FASTLOGIT_BENCH_SCALE`` (see conftest.py).
"""

import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import _scaled
from sklearn.exceptions import ConvergenceWarning

import fastlogit
from fastlogit import LogisticRegression

TOL = 1e-6
MAX_ITER = 1000

# (name, nominal n, d, K, layout, l1_ratio, raw columns)
SHAPES = [
    ("small binary", 2_000, 20, 2, "dense", 0.0, False),
    ("small K=3", 2_000, 20, 3, "dense", 0.0, False),
    ("binary", 300_000, 30, 2, "dense", 0.0, False),
    ("binary raw columns", 300_000, 30, 2, "dense", 0.0, True),
    ("binary", 1_000_000, 100, 2, "dense", 0.0, False),
    ("K=5", 200_000, 30, 5, "dense", 0.0, False),
    ("K=5 raw columns", 200_000, 30, 5, "dense", 0.0, True),
    ("K=10", 100_000, 100, 10, "dense", 0.0, False),
    ("binary text-like CSR", 200_000, 10_000, 2, "csr", 0.0, False),
    ("binary L1", 100_000, 1_000, 2, "dense", 1.0, False),
    ("binary L1 raw columns", 100_000, 100, 2, "dense", 1.0, True),
]
SOLVERS = {0.0: ("auto", "lbfgs", "newton"), 1.0: ("auto", "proximal", "newton")}


@functools.lru_cache(maxsize=1)
def problem(n, d, K, layout, l1_ratio, raw):
    """Seeded data from a known model (20 nonzero coefficients for L1); at least
    200 rows, so that every class appears at the smoke-test scale."""
    n = max(_scaled(n), 200)
    rng = np.random.default_rng(7)
    if layout == "csr":
        X = sp.random(n, d, density=0.001, format="csr", random_state=7, dtype=np.float64)
        X.data[:] = 1.0 + rng.random(X.nnz)
        w = rng.standard_normal(d) * 3
    else:
        X = rng.standard_normal((n, d))
        w = rng.standard_normal(d) * 2 / np.sqrt(d)
        if l1_ratio:
            w = np.zeros(d)
            w[rng.choice(d, 20, replace=False)] = rng.standard_normal(20) * 2
    if K == 2:
        y = (rng.random(n) < fastlogit.sigmoid(fastlogit.binary_predict_raw(X, w, 0.3))).astype(np.int64)
    else:
        W = rng.standard_normal((K, d)) * 2 / np.sqrt(d)
        P = fastlogit.softmax(fastlogit.multinomial_predict_raw(X, W, np.zeros(K)))
        y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    if raw:  # columns in disparate units and offsets, as raw data come
        X = X * np.logspace(-2, 3, d) + np.linspace(0, 100, d)
    C = 1.0 / (0.01 * n) if l1_ratio else 1.0
    return X, y, C


def fit(X, y, C, l1_ratio, solver):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(C=C, l1_ratio=l1_ratio, solver=solver, tol=TOL, max_iter=MAX_ITER).fit(X, y)


CASES = [(shape, solver) for shape in SHAPES for solver in SOLVERS[shape[5]]]


@pytest.mark.parametrize(
    "shape, solver", CASES, ids=[f"{s[0]}-{s[1]}x{s[2]}-{solver}".replace(" ", "_") for s, solver in CASES]
)
def test_solver(benchmark, shape, solver):
    name, n, d, K, layout, l1_ratio, raw = shape
    X, y, C = problem(n, d, K, layout, l1_ratio, raw)
    model = fit(X, y, C, l1_ratio, solver)  # untimed: warm-up and the record
    benchmark.group = f"solvers: {name} {X.shape[0]}x{X.shape[1]}" + (f" K={K}" if K > 2 else "")
    benchmark.extra_info.update(
        n_iter=int(model.n_iter_[0]), converged=bool(model.converged_), solver_=model.solver_
    )
    benchmark.pedantic(lambda: fit(X, y, C, l1_ratio, solver), rounds=3, iterations=1)
