"""Inference (standard errors, tests, summary table) against statsmodels.

Run ``pytest benchmarks/test_inference.py --benchmark-only``.  One group,
binary, 1 000 000 x 100 float64 (seeded; labels from a known model), the
two side by side, each timed from the data to the printed table:

- fastlogit: ``LogisticRegression(C=np.inf).fit`` + ``inference()`` +
  ``summary()``;
- statsmodels: ``Logit(y, add_constant(X)).fit(disp=0)`` + ``summary()``.

Both end at the same numbers (checked, untimed: coefficients and standard
errors within 1e-4 relative).  statsmodels takes seconds per round at full
scale, so both run ``ROUNDS`` rounds.  Sizes scale with
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
