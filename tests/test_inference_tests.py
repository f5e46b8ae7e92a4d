"""Wald and likelihood-ratio tests and average marginal effects (issue 18).

Against statsmodels' ``wald_test(..., scalar=True)``, the likelihood ratio of
nested ``Logit`` fits, and ``get_margeff(at="overall")`` (``Logit`` and
``MNLogit``) on its shipped data sets, with the model-based and a robust
covariance; the same effects from dense, CSR and dask rows; bad input.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse

import fastlogit
from fastlogit import LogisticRegression

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")

RTOL = 1e-6


def fit(X, y, **params):
    return LogisticRegression(C=np.inf, solver="newton", tol=1e-11, max_iter=500, **params).fit(X, y)


def spector():
    d = sm.datasets.spector.load_pandas().data
    return d[["GPA", "TUCE", "PSI"]], d["GRADE"].to_numpy().astype(int)


def anes96():
    d = sm.datasets.anes96.load_pandas().data
    return d[["logpopul", "selfLR", "age", "educ", "income"]].to_numpy(float), d["PID"].to_numpy()


def statsmodels_fit(X, y, cov_type="nonrobust"):
    model = sm.Logit if len(np.unique(y)) == 2 else sm.MNLogit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model(y, sm.add_constant(X)).fit(
            disp=0, method="newton", maxiter=200, tol=1e-12, cov_type=cov_type
        )


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
@pytest.mark.parametrize("restrictions", ["GPA = 0, TUCE = PSI", "2*GPA - PSI = 1.5", "TUCE"])
def test_wald_test_against_statsmodels(restrictions, cov_type):
    X, y = spector()
    res = fit(X, y).inference(X, y, cov_type=cov_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = statsmodels_fit(X, y, cov_type).wald_test(
            restrictions if "=" in restrictions else f"{restrictions} = 0", scalar=True
        )
    got = res.wald_test(restrictions)
    np.testing.assert_allclose(got.statistic, expected.statistic, rtol=RTOL)
    np.testing.assert_allclose(got.p_value, expected.pvalue, rtol=RTOL)
    assert got.df == int(expected.df_denom)
    # The same restrictions as a matrix on res.labels.
    labels = res.labels
    assert labels == ["const", "GPA", "TUCE", "PSI"]
    if restrictions == "GPA = 0, TUCE = PSI":
        R = np.array([[0, 1, 0, 0], [0, 0, 1, -1]])
        np.testing.assert_allclose(res.wald_test(R).statistic, got.statistic, rtol=1e-12)


def test_wald_test_on_softmax_labels():
    X, y = anes96()
    res = fit(X, y).inference(X, y)
    got = res.wald_test("1.0:x2 = 0, 6.0:x2 = 0")
    expected = statsmodels_fit(X, y)
    cov = np.asarray(expected.cov_params())
    # statsmodels orders parameters equation by equation, as res.labels does.
    i, j = res.labels.index("1.0:x2"), res.labels.index("6.0:x2")
    b = np.asarray(expected.params).T.ravel()[[i, j]]
    stat = b @ np.linalg.solve(cov[np.ix_([i, j], [i, j])], b)
    np.testing.assert_allclose(got.statistic, stat, rtol=RTOL)


def test_lr_test_of_nested_models_against_statsmodels():
    X, y = spector()
    full = fit(X, y).inference(X, y)
    restricted = fit(X[["GPA"]], y).inference(X[["GPA"]], y)
    got = fastlogit.lr_test(full, restricted)
    expected = 2 * (statsmodels_fit(X, y).llf - statsmodels_fit(X[["GPA"]], y).llf)
    np.testing.assert_allclose(got.statistic, expected, rtol=RTOL)
    assert got.df == 2 and "PSI" in got.restrictions and "TUCE" in got.restrictions
    from scipy.stats import chi2

    np.testing.assert_allclose(got.p_value, chi2.sf(expected, 2), rtol=RTOL)
    assert full.compare_lr_test(restricted).statistic == got.statistic


@pytest.mark.parametrize("data", ["spector", "anes96"])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0"])
def test_average_marginal_effects_against_statsmodels(data, cov_type):
    X, y = spector() if data == "spector" else anes96()
    res = fit(X, y).inference(X, y, cov_type=cov_type)
    got = res.get_margeff(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = statsmodels_fit(X, y, cov_type).get_margeff(at="overall")
    margeff, se = np.asarray(expected.margeff), np.asarray(expected.margeff_se)
    if data == "anes96":  # statsmodels: (features, classes); ours: (classes, features)
        margeff, se = margeff.T, se.T
    np.testing.assert_allclose(got.margeff, margeff, rtol=RTOL)
    np.testing.assert_allclose(got.margeff_se, se, rtol=RTOL)
    frame = got.summary_frame()
    assert list(frame.columns) == ["dy/dx", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
    if data == "anes96":
        np.testing.assert_allclose(got.margeff.sum(axis=0), 0.0, atol=1e-12)  # probabilities sum to 1


@pytest.mark.parametrize("K", [2, 3])
def test_margeff_from_weights_csr_dask_and_a_pickled_result_agree(K):
    import pickle

    rng = np.random.default_rng(3)
    X = rng.standard_normal((900, 4))
    X[X < 0] = 0.0
    y = rng.integers(0, K, 900)
    counts = rng.integers(1, 4, 900)
    res = fit(X, y).inference(X, y)
    weighted = res.get_margeff(X, sample_weight=counts)
    repeated = res.get_margeff(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(weighted.margeff, repeated.margeff, rtol=1e-12)
    np.testing.assert_allclose(weighted.margeff_se, repeated.margeff_se, rtol=1e-12)
    sparse = res.get_margeff(scipy.sparse.csr_matrix(X), sample_weight=counts)
    plain = pickle.loads(pickle.dumps(res)).get_margeff(X, sample_weight=counts)
    for other in (sparse, plain):
        np.testing.assert_allclose(other.margeff_se, weighted.margeff_se, rtol=1e-12)
    da = pytest.importorskip("dask.array")
    on_dask = res.get_margeff(
        da.from_array(X, chunks=(250, 4)), sample_weight=da.from_array(counts, chunks=300)
    )
    np.testing.assert_allclose(on_dask.margeff, weighted.margeff, rtol=1e-12)
    np.testing.assert_allclose(on_dask.margeff_se, weighted.margeff_se, rtol=1e-12)


def test_bad_input_names_the_problem():
    X, y = spector()
    res = fit(X, y).inference(X, y)
    with pytest.raises(ValueError, match=r"R must have shape \(restrictions, 4\)"):
        res.wald_test(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"q must have shape \(1,\)"):
        res.wald_test(np.ones((1, 4)), q=[1.0, 2.0])
    with pytest.raises(ValueError, match="cannot read 'AGE'"):
        res.wald_test("AGE = 0")
    with pytest.raises(ValueError, match="linearly dependent"):
        res.wald_test("GPA = 0, 2*GPA = 0")
    with pytest.raises(ValueError, match="q= goes with a matrix"):
        res.wald_test("GPA = 0", q=[0.0])
    restricted = fit(X[["GPA"]], y).inference(X[["GPA"]], y)
    with pytest.raises(ValueError, match="the full model has no parameter"):
        fastlogit.lr_test(restricted, res)
    with pytest.raises(ValueError, match="restricted model has 4 parameters, the full one 4"):
        fastlogit.lr_test(res, res)
    other = fit(X.iloc[:30], y[:30]).inference(X.iloc[:30], y[:30])
    with pytest.raises(ValueError, match="different rows"):
        fastlogit.lr_test(res, other)
    renamed = fit(X.rename(columns={"GPA": "gpa"})[["gpa"]], y).inference(
        X.rename(columns={"GPA": "gpa"})[["gpa"]], y
    )
    with pytest.raises(ValueError, match="no parameter"):
        fastlogit.lr_test(res, renamed)
    penalized = LogisticRegression(C=1.0).fit(X, y).inference(X, y)
    with pytest.raises(ValueError, match="penalized"):
        fastlogit.lr_test(penalized, restricted)
    with pytest.raises(TypeError, match="InferenceResult"):
        fastlogit.lr_test(res, 3)
    with pytest.raises(ValueError, match="expecting 3 features"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (no feature names: a plain array)
        res.get_margeff(X.to_numpy()[:, :2])
