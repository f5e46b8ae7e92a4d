"""Inference (standard errors, tests, summary table) against statsmodels.

Run ``pytest benchmarks/test_inference.py --benchmark-only``.  One group,
binary, 1 000 000 x 100 float64 (seeded; labels from a known model), the
two side by side, each timed from the data to the printed table:

- fastlogit: ``LogisticRegression(C=np.inf).fit`` + ``inference()`` +
  ``summary()``;
- statsmodels: ``Logit(y, add_constant(X)).fit(disp=0)`` + ``summary()``.

Both end at the same numbers (checked, untimed: coefficients and standard
errors within 1e-4 relative).

Robust covariances and prediction uncertainty (issue 18), binary 1 000 000
x 50, ``C=np.inf``, side by side with statsmodels:

- ``test_robust_inference``: fit + ``inference(cov_type="HC1")`` against
  ``Logit(...).fit(cov_type="HC1")``, and with 1 000 clusters
  ``cov_type="cluster"`` against statsmodels' ``cov_type="cluster"``
  (target: fastlogit >= 5x faster on both);
- ``test_prediction_intervals``: standard errors and intervals of the
  predicted probabilities of all rows, ``result.predict(X)`` against
  ``get_prediction(X).summary_frame()`` on fitted results (target >= 5x).

statsmodels takes seconds per round at full scale, so both run ``ROUNDS``
rounds.  Sizes scale with
``FASTLOGIT_BENCH_SCALE`` (see conftest.py); the width shrinks with the
rows (at most one feature per 20 rows) so that the smoke scale stays an
ordinary, non-separable problem.
"""

import functools
import warnings

import numpy as np
import pytest
from conftest import _scaled

import fastlogit
from fastlogit import LogisticRegression

sm = pytest.importorskip("statsmodels.api")

ROUNDS = 3
#: fastlogit's tolerance (max |mean gradient|): coefficients within ~1e-5 of the optimum,
#: as close as statsmodels' Newton steps (tol 1e-8 on the parameter change) end.
TOL = 1e-6
SHAPE = (1_000_000, 100)


@functools.lru_cache(maxsize=1)
def problem(shape):
    """Seeded ``(X, y)``: the rows scaled, the width at most rows / 20."""
    n = _scaled(shape[0])
    d = max(1, min(shape[1], n // 20))
    rng = np.random.default_rng(2025)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 2 / np.sqrt(d)
    y = (rng.random(n) < fastlogit.sigmoid(fastlogit.binary_predict_raw(X, w, 0.5))).astype(np.int64)
    return X, y


def run_fastlogit(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny smoke-scale problems may warn; timing is the point
        model = LogisticRegression(C=np.inf, tol=TOL).fit(X, y)
        result = model.inference(X, y)
    return result, result.summary()


def run_statsmodels(X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = sm.Logit(y, sm.add_constant(X)).fit(disp=0)
        return result, str(result.summary())


@pytest.mark.parametrize("which", ["fastlogit", "statsmodels"])
@pytest.mark.parametrize("shape", [SHAPE], ids=[f"binary-{SHAPE[0]}x{SHAPE[1]}"])
def test_inference(benchmark, shape, which):
    X, y = problem(shape)
    benchmark.group = f"inference binary {X.shape[0]}x{X.shape[1]} vs statsmodels Logit"
    run = run_fastlogit if which == "fastlogit" else run_statsmodels
    result, text = benchmark.pedantic(run, args=(X, y), rounds=ROUNDS, iterations=1)
    assert "std err" in text
    if which == "fastlogit" and X.shape[0] >= 10_000:  # untimed: the same numbers as statsmodels
        ref, _ = run_statsmodels(X, y)
        np.testing.assert_allclose(result.coef, ref.params, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(result.std_err, ref.bse, rtol=1e-4)


ROBUST_SHAPE = (1_000_000, 50)
N_CLUSTERS = 1_000


@functools.lru_cache(maxsize=1)
def robust_problem(shape):
    """``problem(shape)`` with a cluster label per row (N_CLUSTERS groups, at most rows / 20)."""
    X, y = problem(shape)
    groups = np.random.default_rng(7).integers(0, max(2, min(N_CLUSTERS, X.shape[0] // 20)), X.shape[0])
    return X, y, groups


def robust_fastlogit(X, y, cov_type, groups):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(C=np.inf, tol=TOL).fit(X, y)
        return model.inference(X, y, cov_type=cov_type, groups=groups if cov_type == "cluster" else None)


def robust_statsmodels(X, y, cov_type, groups):
    kwds = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type=cov_type, **kwds)


@pytest.mark.parametrize("which", ["fastlogit", "statsmodels"])
@pytest.mark.parametrize("cov_type", ["HC1", "cluster"])
def test_robust_inference(benchmark, cov_type, which):
    X, y, groups = robust_problem(ROBUST_SHAPE)
    benchmark.group = f"fit + {cov_type} inference binary {X.shape[0]}x{X.shape[1]} vs statsmodels Logit"
    run = robust_fastlogit if which == "fastlogit" else robust_statsmodels
    result = benchmark.pedantic(run, args=(X, y, cov_type, groups), rounds=ROUNDS, iterations=1)
    if which == "fastlogit" and X.shape[0] >= 10_000:  # untimed: the same standard errors
        ref = robust_statsmodels(X, y, cov_type, groups)
        np.testing.assert_allclose(result.std_err, ref.bse, rtol=1e-4)


@pytest.mark.parametrize("which", ["fastlogit", "statsmodels"])
def test_prediction_intervals(benchmark, which):
    X, y, _ = robust_problem(ROBUST_SHAPE)
    benchmark.group = f"prediction intervals of {X.shape[0]}x{X.shape[1]} rows vs statsmodels get_prediction"
    if which == "fastlogit":
        result = robust_fastlogit(X, y, "HC1", None)
        out = benchmark.pedantic(result.predict, args=(X,), rounds=ROUNDS, iterations=1)
        if X.shape[0] >= 10_000:
            ref = robust_statsmodels(X[:1000], y[:1000], "nonrobust", None)  # shape check only
            assert out.se.shape == (X.shape[0],) and ref.params.shape == (X.shape[1] + 1,)
    else:
        fitted = robust_statsmodels(X, y, "HC1", None)
        exog = sm.add_constant(X)
        frame = benchmark.pedantic(
            lambda: fitted.get_prediction(exog).summary_frame(), rounds=ROUNDS, iterations=1
        )
        assert list(frame.columns) == ["predicted", "se", "ci_lower", "ci_upper"]
