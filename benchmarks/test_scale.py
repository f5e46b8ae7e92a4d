"""Fits past one array in memory: from a file (out of core) and on a Dask cluster.

Run ``pytest benchmarks/test_scale.py --benchmark-only --benchmark-group-by=group``.

Out of core: the binary L2 lbfgs fit of 1 000 000 x 100 float64 from a
``.npy`` file (memory-mapped, streamed in chunks through the same kernels)
against the same fit of the array in memory.  The file is written once and
read before timing, so it is in the page cache: the ratio is the cost of
streaming, not of the disk (target: the file fit at most 1.5x the in-memory
fit).  Both fits end at the same loss (checked).

Dask: a ``distributed.LocalCluster`` of 2 worker processes with 1 thread each
(127.0.0.1, no dashboard), started once per module and not timed.  The data,
1 000 000 x 100 float64 in 8 row chunks, is generated on the workers and
persisted there before anything is timed; the group holds

- ``fastlogit-binary``: ``fastlogit.LogisticRegression(solver="lbfgs").fit``
  on the dask arrays (labels pass, per-block sources built on the workers,
  then per evaluation one task per worker over the blocks it holds);
- ``dask_glm-binary``: ``dask_glm.algorithms.lbfgs`` on the same arrays;
- ``fastlogit-softmax``: the K = 10 softmax fit on the same X (dask-glm has no
  multinomial model), so its ratio to the binary fit reads off the table.

The same function is minimized by both libraries.  dask-glm's ``lbfgs``
minimizes ``sum_i l_i(b) + lamduh * ||b||^2 / 2`` over all coefficients
(an intercept would be one more, *penalized*, column), after standardizing
the columns of X unless ``normalize=False`` (then the penalty is on the
standardized coefficients).  So dask-glm runs with ``regularizer="l2",
lamduh=1, normalize=False`` and no intercept column, and fastlogit with
``C=1, fit_intercept=False``: both objectives are then n times
scikit-learn's ``mean_i l_i(w) + ||w||^2 / (2 C n)``.  The labels come from a
model without intercept.  dask-glm's ``tol`` is L-BFGS-B's ``pgtol`` on the
gradient of that *sum*, so it gets ``n`` times fastlogit's tolerance.

"The same final loss" is checked as in test_fit.py: F* is the optimum of the
in-memory objective found once (untimed) by fastlogit's Newton solver at
tol=1e-10 on the computed arrays, and each fit gets the loosest ``tol`` of
``TOLERANCES`` that ends within ``MAX_GAP`` of F* (found with untimed fits),
recorded with the gap in ``extra_info`` (dask-glm's also with its own
objective, recomputed, to show the two formulas agree).

Sizes scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py); at tiny scales
the rows keep 8 chunks when there are at least 8 rows.
"""

import math
import warnings

import numpy as np
import pytest
from conftest import SEED, _scaled
from sklearn.exceptions import ConvergenceWarning

import fastlogit
from fastlogit import LogisticRegression
from fastlogit.objective import Objective

MAX_GAP = 1e-6
TOLERANCES = (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
MAX_ITER = 10_000
ROUNDS = 3

#: (nominal rows, columns, row chunks) of the Dask problems.
DASK_SHAPE = (1_000_000, 100)
DASK_CHUNKS = 8
DASK_CLUSTER = dict(
    n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
)
#: The penalty of the Dask problems (dask-glm's lamduh = 1 / C).
DASK_C = 1.0
SOFTMAX_K = 10


# -- shared helpers ----------------------------------------------------------------


def objective_value(X, y, C, model_coef, model_intercept=None, *, fit_intercept):
    """scikit-learn's penalized objective at given coefficients (fastlogit's formula)."""
    classes = np.unique(y)
    obj = Objective.from_arrays(
        X, np.searchsorted(classes, y), n_classes=len(classes), C=C, fit_intercept=fit_intercept
    )
    return obj.value(obj.pack(model_coef, model_intercept))


def quietly(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kwargs)


def loosest_tol(fit, value, best):
    """``(tol, result, gap)``: the loosest of TOLERANCES whose fit ends within MAX_GAP of ``best``."""
    for tol in TOLERANCES:  # untimed
        result = fit(tol)
        gap = value(result) - best
        if abs(gap) <= MAX_GAP:
            return tol, result, gap
    pytest.fail(f"no tol in {TOLERANCES} reached F* + {MAX_GAP} (gap {gap:.2e})")


# -- Dask ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client():
    """A 2-process LocalCluster and its client (the default client), for the module."""
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(**DASK_CLUSTER)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _binary_labels(X, u, *, w):
    return (u[:, 0] < fastlogit.sigmoid(X @ w)).astype(np.int64)


def _softmax_labels(X, u, *, W, b):
    P = fastlogit.softmax(X @ W.T + b, axis=1)
    return (P.cumsum(axis=1) < u).sum(axis=1).clip(0, W.shape[0] - 1).astype(np.int64)


@pytest.fixture(scope="module")
def dask_data(dask_client):
    """The seeded Dask problem, a dict: ``dX`` generated and persisted on the
    workers (rows scaled, 8 row chunks), ``dy[K]`` labels (K = 2, 10) from
    known models without intercept, their in-memory copies ``X``, ``y[K]``
    for the reference objective, and ``best`` (F* per K, see :func:`dask_best`)."""
    da = pytest.importorskip("dask.array")
    n, d = _scaled(DASK_SHAPE[0]), DASK_SHAPE[1]
    rows = max(1, math.ceil(n / DASK_CHUNKS))
    rng = da.random.default_rng(SEED)
    dX = rng.standard_normal((n, d), chunks=(rows, d))
    params = np.random.default_rng(2025)
    w = params.standard_normal(d) * 2 / np.sqrt(d)
    W = params.standard_normal((SOFTMAX_K, d)) * 2 / np.sqrt(d)
    b = params.standard_normal(SOFTMAX_K)
    u2 = rng.random((n, 1), chunks=(rows, 1))  # (n, 1): blocks line up with X's rows
    u10 = rng.random((n, 1), chunks=(rows, 1))
    y2 = da.map_blocks(_binary_labels, dX, u2, w=w, drop_axis=1, dtype=np.int64)
    y10 = da.map_blocks(_softmax_labels, dX, u10, W=W, b=b, drop_axis=1, dtype=np.int64)
    dX, y2, y10 = dask_client.persist([dX, y2, y10])
    X, y2_np, y10_np = dask_client.compute([dX, y2, y10], sync=True)
    return {"dX": dX, "dy": {2: y2, SOFTMAX_K: y10}, "X": X, "y": {2: y2_np, SOFTMAX_K: y10_np}, "best": {}}


def dask_best(data, K):
    """F* of the Dask problem with K classes: the in-memory optimum (untimed, cached)."""
    if K not in data["best"]:
        X, y = data["X"], data["y"][K]
        best = LogisticRegression(C=DASK_C, fit_intercept=False, solver="newton", tol=1e-10, max_iter=10_000)
        quietly(best.fit, X, y)
        data["best"][K] = objective_value(X, y, DASK_C, best.coef_, fit_intercept=False)
    return data["best"][K]


def fit_fastlogit_dask(dX, dy, tol):
    model = LogisticRegression(C=DASK_C, fit_intercept=False, solver="lbfgs", tol=tol, max_iter=MAX_ITER)
    return quietly(model.fit, dX, dy)


def fit_dask_glm(dX, dy, tol):
    from dask_glm.algorithms import lbfgs

    n = dX.shape[0]
    with warnings.catch_warnings():
        # dask-glm 0.4 sets a renamed dask option and a deprecated scipy one.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        # pgtol bounds the gradient of the summed loss: n times fastlogit's mean.
        return np.asarray(
            lbfgs(
                dX, dy, regularizer="l2", lamduh=1.0 / DASK_C, normalize=False, tol=tol * n, max_iter=MAX_ITER
            )
        )


def dask_glm_objective(X, y, beta):
    """dask-glm's own objective (sum of losses + lamduh ||b||^2 / 2), divided by n."""
    z = X @ beta
    return float((np.logaddexp(0.0, z) - y * z).sum() + 0.5 / DASK_C * beta @ beta) / X.shape[0]


DASK_CASES = ["fastlogit-binary", "dask_glm-binary", "fastlogit-softmax"]


@pytest.mark.parametrize("case", DASK_CASES)
def test_dask_fit(benchmark, dask_client, dask_data, case):
    which, kind = case.split("-")
    K = 2 if kind == "binary" else SOFTMAX_K
    dX, dy, X, y = dask_data["dX"], dask_data["dy"][K], dask_data["X"], dask_data["y"][K]
    best = dask_best(dask_data, K)
    if which == "fastlogit":

        def fit(tol):
            return fit_fastlogit_dask(dX, dy, tol)

        def value(model):
            return objective_value(X, y, DASK_C, model.coef_, fit_intercept=False)
    else:
        pytest.importorskip("dask_glm")

        def fit(tol):
            return fit_dask_glm(dX, dy, tol)

        def value(beta):
            return objective_value(X, y, DASK_C, beta, fit_intercept=False)

    tol, result, gap = loosest_tol(fit, value, best)
    n, d = X.shape
    benchmark.group = (
        f"dask fit {n}x{d} in {dX.numblocks[0]} row chunks, 2 workers "
        f"(binary vs dask_glm lbfgs; softmax K={SOFTMAX_K})"
    )
    benchmark.extra_info.update(tol=tol, gap=gap, objective=value(result), best=best)
    if which == "dask_glm":
        benchmark.extra_info["dask_glm_objective"] = dask_glm_objective(X, y, result)
        assert abs(benchmark.extra_info["dask_glm_objective"] - value(result)) <= 1e-12 * abs(best) + 1e-15
    else:
        benchmark.extra_info["n_iter"] = int(result.n_iter_[0])
    timed = benchmark.pedantic(lambda: fit(tol), rounds=ROUNDS, iterations=1)
    if which == "fastlogit":  # deterministic: the same fit was timed
        np.testing.assert_array_equal(timed.coef_, result.coef_)


# -- out of core ---------------------------------------------------------------------

OOC_SHAPE = (1_000_000, 100)


@pytest.fixture(scope="module")
def npy_problem(tmp_path_factory):
    """Seeded binary data (rows scaled), in memory and as a ``.npy`` file."""
    n, d = _scaled(OOC_SHAPE[0]), OOC_SHAPE[1]
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 2 / np.sqrt(d)
    y = (rng.random(n) < fastlogit.sigmoid(X @ w + 0.5)).astype(np.int64)
    if len(np.unique(y)) < 2:
        y[:2] = [0, 1]
    path = tmp_path_factory.mktemp("ooc") / "X.npy"
    np.save(path, X)
    return X, y, str(path)


@pytest.mark.parametrize("source", ["npy-file", "in-memory"])
def test_out_of_core_fit(benchmark, npy_problem, source):
    X, y, path = npy_problem
    data = path if source == "npy-file" else X

    def fit():
        return quietly(LogisticRegression(solver="lbfgs").fit, data, y)

    first = fit()  # untimed: the page cache, compiled kernels
    n, d = X.shape
    benchmark.group = f"out of core: binary lbfgs fit {n}x{d} float64, .npy file vs in memory"
    value = objective_value(X, y, 1.0, first.coef_, first.intercept_, fit_intercept=True)
    benchmark.extra_info.update(objective=value, n_iter=int(first.n_iter_[0]))
    timed = benchmark.pedantic(fit, rounds=5, iterations=1)
    np.testing.assert_array_equal(timed.coef_, first.coef_)
