"""Formula fits with categorical columns: fastlogit against glum and statsmodels.

Run ``pytest benchmarks/test_formula.py --benchmark-only``.  The problems are
issue 22's, ``y ~ x0 + ... + x9 + C(g) + C(h) + x0:x1``: 10 numeric columns,
a categorical ``g`` and a 5-level categorical ``h`` and one interaction,
unpenalized, formula processing included in every time:

- ``test_formula_fit``: 200 000 rows, ``g`` of 200 levels (215 coefficients);
- ``test_many_levels_formula_fit``: 1 000 000 rows, ``g`` of 1 000 levels
  (1 015 coefficients: above ``solvers.NEWTON_CHOLESKY_MAX_PARAMS``, so
  fastlogit's Newton steps are solved through the Hessian's blocks,
  :mod:`fastlogit.block_hessian`, never a dense 1 016 x 1 016 Hessian).
  statsmodels is skipped there: its dense design alone would be
  1 000 000 x 1 015 float64, 8 GB, and its fit hours on this machine.

The implementations:

- ``fastlogit``: ``fastlogit.logit(formula, frame)`` (its default solver,
  ``C=inf``), the design encoded by formulaic and held split: the numeric
  columns and the interaction dense, each categorical as one int32 code per
  row (:class:`fastlogit.split.SplitRows`); ``fastlogit-newton`` the same
  with ``solver="newton"``;
- ``glum``: ``GeneralizedLinearRegressor(family="binomial", formula=...,
  alpha=0, drop_first=True)`` (IRLS; glum's tabmat keeps categoricals as
  codes);
- ``statsmodels``: ``smf.logit(formula, frame).fit(disp=0)`` (dense design).

Each implementation's log-likelihood (computed independently from its
predicted probabilities) is in ``extra_info`` and checked, untimed, to agree
with fastlogit's to 1e-6 relative: the times compare fits that reach the
same optimum.  Targets (issue 22): fastlogit >= 2x glum and >= 10x statsmodels
on 200 000 rows, >= 2x glum on 1 000 000 rows.  ``extra_info`` also holds
the frame's own size (``frame_bytes``) and, for fastlogit, the peak of the
Python-side allocations of its untimed fit (``peak_traced_bytes``, from
tracemalloc: NumPy arrays, formulaic's design; the Numba kernels' small
per-thread buffers are not traced).
glum and statsmodels are skipped with a message when not installed
(``pip install "fastlogit[peers]"`` brings glum).  Sizes scale with
``FASTLOGIT_BENCH_SCALE`` (at smoke-test scales a few thousand rows and
fewer levels).
"""

import functools
import warnings

import numpy as np
import pytest
from conftest import SEED, _scaled

pd = pytest.importorskip("pandas")
pytest.importorskip("formulaic")

N_NUMERIC = 10


@functools.lru_cache(maxsize=1)
def frame(n, levels):
    """Seeded data from a known logistic model with a categorical effect per level."""
    rng = np.random.default_rng(SEED)
    data = {f"x{j}": rng.standard_normal(n) for j in range(N_NUMERIC)}
    g = rng.integers(0, levels, n)
    h = rng.integers(0, 5, n)
    z = (
        sum(0.3 * rng.standard_normal() * data[f"x{j}"] for j in range(N_NUMERIC))
        + 0.5 * rng.standard_normal(levels)[g]
        + 0.3 * rng.standard_normal(5)[h]
        + 0.2 * data["x0"] * data["x1"]
    )
    data["g"] = np.char.add("g", g.astype(str))
    data["h"] = np.char.add("h", h.astype(str))
    data["y"] = (rng.random(n) < 1.0 / (1.0 + np.exp(-z))).astype(np.int64)
    return pd.DataFrame(data)


FORMULA = "y ~ " + " + ".join(f"x{j}" for j in range(N_NUMERIC)) + " + C(g) + C(h) + x0:x1"


def log_likelihood(p, y):
    p = np.clip(p, 1e-300, 1 - 1e-16)
    return float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))


def fit_fastlogit(df, **kwargs):
    import fastlogit

    model = fastlogit.logit(FORMULA, df, **kwargs)
    return model, lambda: model.predict_proba(df)[:, 1]


def fit_fastlogit_newton(df):
    return fit_fastlogit(df, solver="newton")


def fit_glum(df):
    from glum import GeneralizedLinearRegressor

    model = GeneralizedLinearRegressor(
        family="binomial", formula=FORMULA, alpha=0, drop_first=True, gradient_tol=1e-8
    ).fit(df)
    return model, lambda: model.predict(df)


def fit_statsmodels(df):
    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = smf.logit(FORMULA, df).fit(disp=0, maxiter=100)
    return model, lambda: np.asarray(model.predict(df))


FITS = {
    "fastlogit": fit_fastlogit,
    "fastlogit-newton": fit_fastlogit_newton,
    "glum": fit_glum,
    "statsmodels": fit_statsmodels,
}


def run_fit(benchmark, impl, n, levels, rounds):
    """Time ``impl``'s formula fit on ``frame(n, levels)``, after an untimed fit whose
    log-likelihood is checked against fastlogit's default fit (rel 1e-6)."""
    import tracemalloc

    if impl == "glum":
        pytest.importorskip("glum", reason='glum is a peer: pip install "fastlogit[peers]"')
    if impl == "statsmodels":
        pytest.importorskip("statsmodels")
    df = frame(n, levels)
    benchmark.group = f"formula fit {n} rows, {levels}-level and 5-level categoricals"
    benchmark.extra_info["frame_bytes"] = int(df.memory_usage(deep=True).sum())
    fit = FITS[impl]
    if impl.startswith("fastlogit"):
        fit(df)  # compilation (a new process's first fit) stays out of the traced fit
        tracemalloc.start()
        try:
            model, proba = fit(df)
            benchmark.extra_info["peak_traced_bytes"] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    else:
        model, proba = fit(df)  # the optimum reached
    ll = log_likelihood(proba(), df["y"].to_numpy())
    benchmark.extra_info["log_likelihood"] = ll
    if impl != "fastlogit":
        _, ours = fit_fastlogit(df)
        expected = log_likelihood(ours(), df["y"].to_numpy())
        assert ll == pytest.approx(expected, rel=1e-6)
    benchmark.pedantic(lambda: fit(df), rounds=rounds, iterations=1)


@pytest.mark.parametrize("impl", list(FITS))
def test_formula_fit(benchmark, impl):
    n = max(_scaled(200_000), 4_000)
    run_fit(benchmark, impl, n, min(200, n // 100), rounds=3)


@pytest.mark.parametrize("impl", list(FITS))
def test_many_levels_formula_fit(benchmark, impl):
    if impl == "statsmodels":
        pytest.skip("statsmodels' dense design of 1 000 000 x 1 015 float64 is 8 GB (see the docstring)")
    n = max(_scaled(1_000_000), 10_000)
    # 100 rows per level at least: fewer, and unpenalized levels separate (infinite coefficients).
    run_fit(benchmark, impl, n, min(1000, n // 100), rounds=2)
