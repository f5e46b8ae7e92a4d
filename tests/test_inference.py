"""Statistical inference (issue 9): against statsmodels, NumPy formulas, and itself out of core.

Unpenalized fits are compared with statsmodels' ``Logit``/``MNLogit`` (and
``GLM(freq_weights=...)``) on the same data; penalized standard errors with
the inverse of the penalized Hessian written out in NumPy; the multinomial
Hessian (the row-source protocol's ``hessian`` for K > 2) with its NumPy
twin and with finite differences of the gradient.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from fastlogit import LogisticRegression, reference
from fastlogit.inference import COLUMNS, InferenceWarning, compute_inference
from fastlogit.matrix import multinomial_hessian_sum as _multinomial_hessian_sum
from fastlogit.objective import Objective
from fastlogit.row_sources import ArrayRows

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-6


def breast_cancer():
    """Five standardized columns of sklearn's breast cancer data: not separable."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = data.data[:, [0, 1, 4, 8, 9]]
    return (X - X.mean(axis=0)) / X.std(axis=0), data.target


def synthetic(n=400, d=4, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + np.linspace(-0.5, 0.5, d)
    W = rng.standard_normal((K, d)) * 0.8
    Z = X @ W.T + rng.standard_normal(K) * 0.3
    if K == 2:
        y = (rng.random(n) < 1 / (1 + np.exp(-(Z[:, 1] - Z[:, 0])))).astype(int)
    else:
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    return X, y


def fit(X, y, sample_weight=None, **params):
    params = {"C": np.inf, "tol": 1e-10, "max_iter": 1000, "solver": "newton", **params}
    return LogisticRegression(**params).fit(X, y, sample_weight=sample_weight)


def sm_logit(X, y, fit_intercept=True):
    exog = sm.add_constant(X, has_constant="add") if fit_intercept else X
    return sm.Logit(y, exog).fit(disp=0, method="newton", tol=1e-12, maxiter=200)


def assert_matches_statsmodels(res, ref, rtol=RTOL):
    np.testing.assert_allclose(res.coef, ref.params, rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(res.std_err, ref.bse, rtol=rtol)
    np.testing.assert_allclose(res.z, ref.tvalues, rtol=rtol)
    np.testing.assert_allclose(res.p_value, ref.pvalues, rtol=10 * rtol, atol=1e-300)
    np.testing.assert_allclose(res.conf_int, ref.conf_int(alpha=res.alpha), rtol=rtol, atol=1e-9)
    np.testing.assert_allclose(res.cov, ref.cov_params(), rtol=rtol, atol=1e-12)
    assert res.log_likelihood == pytest.approx(ref.llf, rel=1e-9)
    # statsmodels fits its null model numerically (Nelder-Mead, then BFGS); ours is closed form.
    assert res.null_log_likelihood == pytest.approx(ref.llnull, rel=RTOL)
    assert res.pseudo_r2 == pytest.approx(ref.prsquared, rel=RTOL)
    assert res.llr_p_value == pytest.approx(ref.llr_pvalue, rel=1e-4, abs=1e-300)
    assert res.aic == pytest.approx(ref.aic, rel=1e-9)
    assert res.bic == pytest.approx(ref.bic, rel=1e-9)
    assert res.df_model == ref.df_model
    assert res.df_resid == pytest.approx(ref.df_resid)
    assert res.n_obs == ref.nobs


# -- binary: statsmodels Logit ------------------------------------------------


@pytest.mark.parametrize("data", ["breast_cancer", "synthetic"])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_binary_unpenalized_matches_statsmodels_logit(data, alpha):
    X, y = breast_cancer() if data == "breast_cancer" else synthetic()
    res = fit(X, y).inference(X, y, alpha=alpha)
    assert_matches_statsmodels(res, sm_logit(X, y))
    assert not res.penalized and res.covariance_type == "nonrobust" and not res.warnings
    np.testing.assert_allclose(res.odds_ratio, np.exp(res.coef))
    np.testing.assert_allclose(res.odds_ratio_conf_int, np.exp(res.conf_int))


def test_binary_without_intercept_matches_statsmodels_logit():
    X, y = synthetic(seed=3)
    res = fit(X, y, fit_intercept=False).inference(X, y)
    # statsmodels' null model is intercept-only even without a constant in exog: so is ours.
    assert_matches_statsmodels(res, sm_logit(X, y, fit_intercept=False))
    assert res.parameter_names == ["x1", "x2", "x3", "x4"]


def test_frequency_weights_are_repeated_rows():
    X, y = synthetic(n=300, seed=5)
    counts = np.random.default_rng(0).integers(1, 4, len(y))  # integer weights 1..3
    res = fit(X, y, sample_weight=counts.astype(float)).inference(X, y, counts.astype(float))
    repeated = sm_logit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    assert_matches_statsmodels(res, repeated)
    assert res.n_obs == counts.sum()
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial(), freq_weights=counts).fit(tol=1e-12)
    np.testing.assert_allclose(res.std_err, glm.bse, rtol=RTOL)
    assert res.log_likelihood == pytest.approx(glm.llf, rel=1e-9)
    assert res.bic == pytest.approx(glm.bic_llf, rel=1e-9)


# -- softmax: statsmodels MNLogit ----------------------------------------------------


def sm_mnlogit(X, y):
    return sm.MNLogit(y, sm.add_constant(X)).fit(disp=0, method="newton", tol=1e-12, maxiter=200)


@pytest.mark.parametrize("data", ["iris", "synthetic"])
def test_softmax_unpenalized_matches_statsmodels_mnlogit(data):
    if data == "iris":
        from sklearn.datasets import load_iris

        X, y = load_iris(return_X_y=True)
        X = X[:, [0]]  # sepal length: the classes overlap (with sepal width too, setosa separates)
        labels = np.array(["setosa", "versicolor", "virginica"])[y]
    else:
        X, y = synthetic(n=600, d=3, K=3, seed=7)
        labels = y
    res = fit(X, labels).inference(X, labels)
    ref = sm_mnlogit(X, y)
    # MNLogit's params are (k_exog, K - 1): one column per class against class 0.
    np.testing.assert_allclose(res.coef, ref.params.T, rtol=RTOL, atol=1e-9)
    np.testing.assert_allclose(res.std_err, ref.bse.T, rtol=RTOL)
    np.testing.assert_allclose(res.z, ref.tvalues.T, rtol=RTOL)
    np.testing.assert_allclose(res.p_value, ref.pvalues.T, rtol=10 * RTOL, atol=1e-300)
    np.testing.assert_allclose(res.cov, ref.cov_params(), rtol=RTOL, atol=1e-12)
    ci = ref.conf_int()  # stacked by equation
    np.testing.assert_allclose(
        res.conf_int.reshape(-1, 2), np.asarray(ci).reshape(-1, 2), rtol=RTOL, atol=1e-9
    )
    assert res.log_likelihood == pytest.approx(ref.llf, rel=1e-9)
    assert res.null_log_likelihood == pytest.approx(ref.llnull, rel=RTOL)
    assert res.pseudo_r2 == pytest.approx(ref.prsquared, rel=RTOL)
    assert res.aic == pytest.approx(ref.aic, rel=1e-9)
    assert res.bic == pytest.approx(ref.bic, rel=1e-9)
    assert res.df_model == ref.df_model and res.df_resid == pytest.approx(ref.df_resid)
    assert res.reference_class == res.classes[0]


# -- summary and frame ------------------------------------------------------------


def test_summary_and_frame_binary_with_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = breast_cancer()
    frame = pd.DataFrame(X, columns=["radius", "texture", "smoothness", "symmetry", "fractal"])
    res = fit(frame, y).inference(frame, y)
    text = res.summary()
    for label in (
        "Logit",
        "No. Observations:",
        "Df Model:",
        "Pseudo R-squ.:",
        "Log-Likelihood:",
        "LL-Null:",
        "LLR p-value:",
        "AIC:",
        "BIC:",
        "Covariance Type:",
        "nonrobust",
        "Penalized:",
        "no (MLE)",
        "coef",
        "std err",
        "P>|z|",
        "[0.025",
        "0.975]",
        "const",
        "radius",
        "fractal",
    ):
        assert label in text, label
    assert "569" in text and f"{res.log_likelihood:.5g}" in text
    assert f"{res.coef[1]:.4f}" in text and f"{res.std_err[1]:.4f}" in text
    df = res.to_frame()
    assert list(df.columns) == COLUMNS
    assert list(df.index) == ["const", "radius", "texture", "smoothness", "symmetry", "fractal"]
    np.testing.assert_array_equal(df["coef"], res.coef)
    np.testing.assert_allclose(df["odds_ratio_upper"], np.exp(res.conf_int[:, 1]))


def test_summary_and_frame_softmax():
    X, y = synthetic(n=300, d=2, K=3, seed=2)
    labels = np.array(["a", "b", "c"])[y]
    res = fit(X, labels).inference(X, labels, alpha=0.1)
    text = res.summary()
    assert "MNLogit" in text and "y=b" in text and "y=c" in text and "[0.05" in text
    assert "reference class a" in text
    df = res.to_frame()
    assert df.shape == (6, 9)
    assert df.index.names == ["class", "feature"]
    assert list(df.index) == [(c, f) for c in ("b", "c") for f in ("const", "x1", "x2")]
    np.testing.assert_array_equal(df["std_err"].to_numpy().reshape(2, 3), res.std_err)


# -- penalized -------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_penalized_binary_uses_the_penalized_hessian(fit_intercept):
    X, y = synthetic(seed=11)
    C = 0.05
    model = fit(X, y, C=C, fit_intercept=fit_intercept)
    res = model.inference(X, y)
    w, b = model.coef_[0], model.intercept_[0]
    p = 1 / (1 + np.exp(-(X @ w + b)))
    A = np.column_stack([np.ones(len(y)), X]) if fit_intercept else X
    penalty = np.eye(A.shape[1]) / C
    if fit_intercept:
        penalty[0, 0] = 0.0
    cov = np.linalg.inv(A.T @ (A * (p * (1 - p))[:, None]) + penalty)
    np.testing.assert_allclose(res.cov, cov, rtol=1e-9)
    np.testing.assert_allclose(res.std_err, np.sqrt(np.diag(cov)), rtol=1e-9)
    assert res.penalized and "Penalized fit (L2, C=0.05)" in res.summary()
    assert "penalized MLE" in res.summary()


def test_penalized_softmax_is_the_contrast_of_the_symmetric_pseudo_inverse():
    X, y = synthetic(n=300, d=3, K=3, seed=4)
    C = 0.1
    model = fit(X, y, C=C, solver="lbfgs", tol=1e-8)
    res = model.inference(X, y)
    K, d = model.coef_.shape
    m = d + 1
    H = reference.multinomial_hessian(X, model.coef_, model.intercept_, reduction="sum")
    penalty = np.tile(np.r_[np.ones(d), 0.0], K) / C  # coefficients, not intercepts
    H_pen = H + np.diag(penalty)  # singular along the intercepts' common shift
    contrast = np.kron(np.column_stack([-np.ones(K - 1), np.eye(K - 1)]), np.eye(m))
    cov = contrast @ np.linalg.pinv(H_pen, rcond=1e-12, hermitian=True) @ contrast.T
    # Our parameter order puts the intercept first in each equation.
    order = np.concatenate([k * m + np.r_[d, np.arange(d)] for k in range(K - 1)])
    np.testing.assert_allclose(res.cov, cov[np.ix_(order, order)], rtol=1e-8, atol=1e-14)
    full = np.column_stack([model.intercept_, model.coef_])
    np.testing.assert_allclose(res.coef, full[1:] - full[0], rtol=1e-14)


def test_l1_penalty_is_refused():
    X, y = synthetic()
    model = LogisticRegression(C=1.0, l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="L1"):
        model.inference(X, y)


# -- singular information and separation -------------------------------------------------


def test_duplicate_column_gives_a_warning_and_nan_for_those_columns_only():
    X, y = synthetic(seed=8)
    X_dup = np.column_stack([X, X[:, 1]])
    with pytest.warns(InferenceWarning, match=r"singular.*\['x2', 'x5'\] look collinear"):
        res = fit(X_dup, y, solver="lbfgs", tol=1e-8).inference(X_dup, y)
    assert np.isnan(res.std_err[[2, 5]]).all() and np.isnan(res.p_value[[2, 5]]).all()
    assert np.isnan(res.conf_int[[2, 5]]).all()
    ok = [0, 1, 3, 4]
    assert np.isfinite(res.std_err[ok]).all()
    # The identifiable parameters' errors are those of the model without the copy.
    ref = sm_logit(np.delete(X_dup, 4, axis=1), y)
    np.testing.assert_allclose(res.std_err[ok], ref.bse[ok], rtol=1e-4)
    assert res.n_params == 5 and res.df_model == 4  # the rank, as statsmodels counts it
    assert "look collinear" in res.summary()


def test_softmax_duplicate_column_marks_every_class():
    X, y = synthetic(n=300, d=2, K=3, seed=9)
    X_dup = np.column_stack([X, 2 * X[:, 0]])
    with pytest.warns(InferenceWarning, match="collinear"):
        res = fit(X_dup, y, solver="lbfgs", tol=1e-8).inference(X_dup, y)
    assert np.isnan(res.std_err[:, [1, 3]]).all()
    assert np.isfinite(res.std_err[:, [0, 2]]).all()


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("K", [2, 3])
def test_perfect_separation_warns_and_gives_nan(solver, K):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int) if K == 2 else np.digitize(X[:, 0], [-0.5, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=np.inf, solver=solver).fit(X, y)
    with pytest.warns(InferenceWarning, match="separation"):
        res = model.inference(X, y)
    assert np.isnan(res.std_err).all()
    assert np.isfinite(res.log_likelihood)
    # With a penalty the estimate exists: no warning, finite errors.
    with warnings.catch_warnings():
        warnings.simplefilter("error", InferenceWarning)
        penalized = LogisticRegression(C=1.0).fit(X, y).inference(X, y)
    assert np.isfinite(penalized.std_err).all()


# -- out of core: several row sources ---------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("C", [np.inf, 0.3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_several_row_sources_give_the_one_source_result(K, C, fit_intercept):
    X, y = synthetic(n=500, d=3, K=K, seed=12)
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    model = fit(X, y, sw, C=C, fit_intercept=fit_intercept, solver="lbfgs", tol=1e-8)
    kw = dict(C=C, fit_intercept=fit_intercept)
    one = Objective([ArrayRows(X, y, sw, K)], **kw)
    k, j = 123, 377
    three = Objective(
        [
            ArrayRows(X[:k], y[:k], sw[:k], K),
            ArrayRows(X[k:j], y[k:j], sw[k:j], K),
            ArrayRows(scipy.sparse.csr_matrix(X[j:]), y[j:], sw[j:], K),
        ],
        **kw,
    )
    a = compute_inference(one, model.coef_, model.intercept_)
    b = compute_inference(three, model.coef_, model.intercept_)
    for name in ("coef", "std_err", "z", "conf_int", "cov"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10, err_msg=name)
    np.testing.assert_allclose(b.p_value, a.p_value, rtol=1e-9)
    for name in ("log_likelihood", "null_log_likelihood", "aic", "bic", "n_obs"):
        assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-10), name
    # And the model's own entry point gives the one-source numbers.
    c = model.inference(X, y, sw)
    np.testing.assert_allclose(c.std_err, a.std_err, rtol=1e-12)


# -- bad input ----------------------------------------------------------------------------


def test_bad_inputs():
    X, y = synthetic()
    with pytest.raises(NotFittedError):
        LogisticRegression().inference(X, y)
    model = fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.inference(X[:, :3], y)
    with pytest.raises(ValueError, match="not in classes"):
        model.inference(X, np.where(y == 1, 7, 0))
    for alpha in (0, 1, -0.1, 1.5, np.nan, "a"):
        with pytest.raises(ValueError, match="alpha"):
            model.inference(X, y, alpha=alpha)


# -- the multinomial Hessian (row-source protocol) --------------------------------------------


@pytest.mark.parametrize("layout", ["dense", "csr", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_multinomial_hessian_matches_its_numpy_twin(layout, weighted):
    rng = np.random.default_rng(0)
    n, d, K = 5000, 5, 4  # more rows than one block of HESSIAN_BLOCK
    X = rng.standard_normal((n, d))
    if layout == "csr":
        X[rng.random((n, d)) < 0.6] = 0.0
        X = scipy.sparse.csr_matrix(X)
    elif layout == "float32":
        X = X.astype(np.float32)
    W, b = rng.standard_normal((K, d)), rng.standard_normal(K)
    sw = rng.uniform(0, 2, n) if weighted else None
    H = _multinomial_hessian_sum(X, W, b, sw)
    expected = reference.multinomial_hessian(X, W, b, sw, reduction="sum")
    assert H.shape == (K * (d + 1), K * (d + 1))
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-12)
    rtol = 1e-5 if layout == "float32" else 1e-11
    np.testing.assert_allclose(H, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_multinomial_hessian_is_the_gradients_derivative(fit_intercept):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3))
    y = rng.integers(0, 3, 200)
    obj = Objective.from_arrays(X, y, rng.uniform(0, 2, 200), n_classes=3, C=0.5, fit_intercept=fit_intercept)
    x = rng.standard_normal(obj.n_params) * 0.5
    H = obj.hessian(x)
    assert H.shape == (obj.n_params, obj.n_params)
    columns = np.column_stack([obj.hessp(x, e) for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(H, columns, rtol=1e-12, atol=1e-15)
    eps = 1e-6
    numeric = np.column_stack(
        [
            (obj.loss_grad(x + eps * e)[1] - obj.loss_grad(x - eps * e)[1]) / (2 * eps)
            for e in np.eye(obj.n_params)
        ]
    )
    np.testing.assert_allclose(H, numeric, rtol=1e-6, atol=1e-8)
    N = obj.null_space()  # flat directions of the softmax model: the Hessian vanishes on them
    np.testing.assert_allclose(H @ N, 0.0, atol=1e-10)


def test_inference_after_a_fit_that_did_not_converge_warns_and_says_so():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)  # unscaled: lbfgs needs far more than 3 steps
    with pytest.warns(ConvergenceWarning):
        model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=3).fit(X[:, :5], y)
    assert model.converged_ is False
    with pytest.warns(InferenceWarning, match="did not converge"):
        result = model.inference(X[:, :5], y)
    assert result.converged is False and result.n_iter == 3
    line = next(line for line in result.summary().splitlines() if line.startswith("Converged:"))
    assert line.split()[1] == "no"
    assert any("did not converge" in m for m in result.warnings)


def test_inference_after_a_converged_fit_says_so():
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=400, n_features=4, n_informative=3, n_redundant=0, random_state=0)
    model = LogisticRegression(C=np.inf, solver="newton", tol=1e-10).fit(X, y)
    assert model.converged_ is True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = model.inference(X, y)
    assert result.converged is True and result.n_iter == model.n_iter_[0]
    line = next(line for line in result.summary().splitlines() if line.startswith("Converged:"))
    assert line.split()[1] == "yes"
