"""Formula fits with categorical columns: fastlogit against glum and statsmodels.

Run ``pytest benchmarks/test_formula.py --benchmark-only``.  The problem is
issue 22's: 200 000 rows, 10 numeric columns, a 200-level and a 5-level
categorical and one interaction, ``y ~ x0 + ... + x9 + C(g) + C(h) + x0:x1``
(215 coefficients), unpenalized, formula processing included in every time:

- ``fastlogit``: ``fastlogit.logit(formula, frame)`` (its default solver,
  ``C=inf``), the design encoded by formulaic and held split: the numeric
  columns and the interaction dense, each categorical as one int32 code per
  row (:class:`fastlogit.split.SplitRows`);
- ``glum``: ``GeneralizedLinearRegressor(family="binomial", formula=...,
  alpha=0, drop_first=True)`` (IRLS; glum's tabmat keeps categoricals as
  codes);
- ``statsmodels``: ``smf.logit(formula, frame).fit(disp=0)`` (dense design).

Each implementation's log-likelihood (computed independently from its
predicted probabilities) is in ``extra_info`` and checked, untimed, to agree
with fastlogit's to 1e-6 relative: the times compare fits that reach the
same optimum.  Targets (issue 22): fastlogit >= 2x glum and >= 10x statsmodels.
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


def fit_fastlogit(df):
    import fastlogit

    model = fastlogit.logit(FORMULA, df)
    return model, lambda: model.predict_proba(df)[:, 1]


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


FITS = {"fastlogit": fit_fastlogit, "glum": fit_glum, "statsmodels": fit_statsmodels}


@pytest.mark.parametrize("impl", list(FITS))
def test_formula_fit(benchmark, impl):
    if impl == "glum":
        pytest.importorskip("glum", reason='glum is a peer: pip install "fastlogit[peers]"')
    if impl == "statsmodels":
        pytest.importorskip("statsmodels")
    n = max(_scaled(200_000), 4_000)
    levels = min(200, n // 100)
    df = frame(n, levels)
    benchmark.group = f"formula fit {n} rows, {levels}-level and 5-level categoricals"
    fit = FITS[impl]
    model, proba = fit(df)  # warm-up (compilation), and the optimum reached
    ll = log_likelihood(proba(), df["y"].to_numpy())
    benchmark.extra_info["log_likelihood"] = ll
    if impl != "fastlogit":
        _, ours = fit_fastlogit(df)
        expected = log_likelihood(ours(), df["y"].to_numpy())
        assert ll == pytest.approx(expected, rel=1e-6)
    benchmark.pedantic(lambda: fit(df), rounds=3, iterations=1)
