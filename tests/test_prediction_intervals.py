"""Prediction uncertainty (issue 18): ``model.inference(...).predict(X, alpha)``.

Binary against statsmodels' ``Logit(...).get_prediction().summary_frame()``
for every covariance type; softmax against the delta method written out
with a finite-difference Jacobian (statsmodels' ``MNLogit`` has no
out-of-sample ``get_prediction``); dense, CSR and dask rows alike; intervals
inside [0, 1]; bad input.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse

from fastlogit import LogisticRegression
from fastlogit.inference import PredictionResult

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-6


def fit(X, y, **params):
    return LogisticRegression(C=np.inf, solver="newton", tol=1e-11, max_iter=500, **params).fit(X, y)


def spector():
    d = sm.datasets.spector.load_pandas().data
    return d[["GPA", "TUCE", "PSI"]].to_numpy(), d["GRADE"].to_numpy().astype(int)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "cluster"])
def test_binary_against_statsmodels_get_prediction(cov_type):
    X, y = spector()
    groups = np.arange(len(y)) % 5 if cov_type == "cluster" else None
    res = fit(X, y).inference(X, y, cov_type=cov_type, groups=groups)
    rng = np.random.default_rng(0)
    X_new = X[rng.permutation(len(y))[:10]] + rng.normal(0, 0.1, (10, 3))
    kwds = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = (
            sm.Logit(y, sm.add_constant(X))
            .fit(disp=0, method="newton", tol=1e-12, cov_type=cov_type, **kwds)
            .get_prediction(sm.add_constant(X_new, has_constant="add"))
            .summary_frame(alpha=0.1)
        )
    got = res.predict(X_new, alpha=0.1)
    assert isinstance(got, PredictionResult)
    frame = got.summary_frame()
    assert list(frame.columns) == ["predicted", "se", "ci_lower", "ci_upper"]
    np.testing.assert_allclose(frame.to_numpy(), expected.to_numpy(), rtol=RTOL)


def numeric_delta_method(res, X, alpha):
    """Probabilities' standard errors by the delta method with a central-difference
    Jacobian, and intervals on each class's log-odds: the definition, in NumPy."""
    from scipy.special import expit, logit
    from scipy.stats import norm

    B = np.atleast_2d(res.coef)
    Xt = np.column_stack([np.ones(len(X)), X])

    def probabilities(flat):
        scores = np.column_stack([np.zeros(len(X)), Xt @ flat.reshape(B.shape).T])
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    flat = B.ravel()
    P = probabilities(flat)
    J = np.empty(P.shape + (flat.size,))
    for i in range(flat.size):
        h = 1e-6 * max(1.0, abs(flat[i]))
        up, down = flat.copy(), flat.copy()
        up[i] += h
        down[i] -= h
        J[..., i] = (probabilities(up) - probabilities(down)) / (2 * h)
    se = np.sqrt(np.einsum("nki,ij,nkj->nk", J, res.cov, J))
    q = norm.ppf(1 - alpha / 2)
    se_eta = se / (P * (1 - P))
    return P, se, expit(logit(P) - q * se_eta), expit(logit(P) + q * se_eta)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
def test_softmax_against_the_delta_method_by_finite_differences(cov_type):
    d = sm.datasets.anes96.load_pandas().data
    X = d[["logpopul", "selfLR", "age", "educ", "income"]].to_numpy(float)
    y = d["PID"].to_numpy()
    res = fit(X, y).inference(X, y, cov_type=cov_type)
    got = res.predict(X[:25])
    expected = numeric_delta_method(res, X[:25], res.alpha)
    for a, b in zip((got.predicted, got.se, got.ci_lower, got.ci_upper), expected):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    np.testing.assert_allclose(got.predicted.sum(axis=1), 1.0, rtol=1e-12)
    frame = got.summary_frame()
    assert frame.shape == (25 * 7, 4) and frame.index.names == ["row", "class"]


@pytest.mark.parametrize("K", [2, 3])
def test_intervals_stay_inside_0_1_and_bracket_the_prediction(K):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 3)) * 3
    y = rng.integers(0, K, 300)
    res = fit(X, y).inference(X, y, cov_type="HC0")
    got = res.predict(rng.standard_normal((500, 3)) * 20, alpha=0.01)  # far outside the data
    assert np.all((got.ci_lower >= 0) & (got.ci_upper <= 1))
    assert np.all((got.ci_lower <= got.predicted) & (got.predicted <= got.ci_upper))
    wide = res.predict(X[:50], alpha=0.01)
    narrow = res.predict(X[:50], alpha=0.2)
    assert np.all(wide.ci_upper - wide.ci_lower >= narrow.ci_upper - narrow.ci_lower)


@pytest.mark.parametrize("K", [2, 4])
def test_dense_csr_dask_and_a_pickled_result_agree(K):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1000, 5))
    X[X < 0.3] = 0.0
    y = rng.integers(0, K, 1000)
    res = fit(X, y).inference(X, y)
    dense = res.predict(X)
    sparse = res.predict(scipy.sparse.csr_matrix(X))
    plain = pickle.loads(pickle.dumps(res)).predict(X)
    for other in (sparse, plain):
        for a, b in zip(
            (dense.predicted, dense.se, dense.ci_lower), (other.predicted, other.se, other.ci_lower)
        ):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    da = pytest.importorskip("dask.array")
    lazy = res.predict(da.from_array(X, chunks=(300, 5)))
    assert isinstance(lazy.predicted, da.Array)  # nothing computed yet
    np.testing.assert_allclose(lazy.se.compute(), dense.se, rtol=1e-12)
    np.testing.assert_allclose(lazy.ci_upper.compute(), dense.ci_upper, rtol=1e-12)


def test_bad_input():
    X, y = spector()
    res = fit(X, y).inference(X, y)
    with pytest.raises(ValueError, match="expecting 3 features"):
        res.predict(X[:, :2])
    with pytest.raises(ValueError, match="alpha"):
        res.predict(X, alpha=1.5)
    with pytest.raises(ValueError, match="NaN"):
        res.predict(np.where(X == X[0, 0], np.nan, X))
    plain = pickle.loads(pickle.dumps(res))
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        plain.predict(X[:, :2])
