"""Convergence you can trust on real data (issue 17): default settings, raw columns.

The data sets a user meets first, unscaled as they ship with scikit-learn and
statsmodels, fitted with default arguments: no warning, and the objective
within 1e-5 (relative) of a tight Newton reference; the same standardized.
Softmax Newton-Cholesky against statsmodels' MNLogit; proximal Newton
against FISTA; the solvers' agreement at tight tolerances.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_wine
from sklearn.preprocessing import StandardScaler

from fastlogit import LogisticRegression, solvers
from fastlogit.objective import Objective

sm = pytest.importorskip("statsmodels.api")


def anes96():
    data = sm.datasets.anes96.load_pandas().data
    return data[["logpopul", "selfLR", "age", "educ", "income"]].to_numpy(float), data["PID"].to_numpy()


def spector():
    data = sm.datasets.spector.load_pandas().data
    return data[["GPA", "TUCE", "PSI"]].to_numpy(float), data["GRADE"].to_numpy().astype(int)


#: (data, settings) as the issue reports them: each defeats a plain first-order solver raw.
CASES = {
    "anes96-K7-unpenalized": (anes96, dict(C=np.inf)),
    "anes96-K7": (anes96, dict()),
    "wine-K3": (lambda: load_wine(return_X_y=True), dict()),
    "digits-K10": (lambda: load_digits(return_X_y=True), dict()),
    "spector-L1": (spector, dict(l1_ratio=1.0)),
    "spector-elastic-net": (spector, dict(l1_ratio=0.5, C=0.5)),
}


def objective_of(X, y, C=1.0, l1_ratio=0.0):
    classes, y_enc = np.unique(y, return_inverse=True)
    return Objective.from_arrays(X, y_enc, n_classes=len(classes), C=C, l1_ratio=l1_ratio)


@pytest.mark.parametrize("scaled", [False, True], ids=["raw", "standardized"])
@pytest.mark.parametrize("case", list(CASES))
def test_default_fit_converges_without_warning_to_the_optimum(case, scaled):
    load, settings = CASES[case]
    X, y = load()
    if scaled:
        X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        model = LogisticRegression(**settings).fit(X, y)
    assert model.converged_
    obj = objective_of(X, y, settings.get("C", 1.0), settings.get("l1_ratio", 0.0))
    reference = solvers.newton(obj, np.zeros(obj.n_params), max_iter=500, tol=1e-10)
    assert reference.converged
    best = obj.value(reference.x)
    got = obj.value(obj.pack(model.coef_, model.intercept_))
    assert got - best <= 1e-5 * abs(best), (got, best, model.solver_, model.n_iter_)


def test_softmax_newton_matches_statsmodels_mnlogit_quadratically():
    X, y = anes96()
    model = LogisticRegression(C=np.inf, solver="newton", tol=1e-10).fit(X, y)
    assert model.converged_ and model.n_iter_[0] <= 15  # Newton-Cholesky: quadratic
    sm_fit = sm.MNLogit(y, sm.add_constant(X)).fit(method="newton", tol=1e-12, maxiter=100, disp=0)
    # statsmodels: class k against the first; ours: symmetric, so take differences.
    ours = np.column_stack([model.intercept_, model.coef_])
    ours = (ours[1:] - ours[0]).T
    np.testing.assert_allclose(ours, sm_fit.params, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("scaled", [False, True], ids=["raw", "standardized"])
def test_softmax_cholesky_and_newton_cg_reach_the_same_optimum(scaled):
    X, y = load_wine(return_X_y=True)
    obj = objective_of(StandardScaler().fit_transform(X) if scaled else X, y)
    chol = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-10, use_cholesky=True)
    cg = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-10, use_cholesky=False, max_iter=500)
    assert chol.converged and cg.converged and chol.n_iter <= cg.n_iter
    np.testing.assert_allclose(obj.value(chol.x), obj.value(cg.x), rtol=1e-13)
    coef_chol, _ = obj.unpack(chol.x)
    coef_cg, _ = obj.unpack(cg.x)
    np.testing.assert_allclose(coef_chol, coef_cg, atol=1e-7)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [1.0, np.inf])
def test_null_space_is_exactly_the_flat_directions(C, fit_intercept):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 4)), rng.integers(0, 3, 300)
    obj = Objective.from_arrays(X, y, n_classes=3, C=C, fit_intercept=fit_intercept)
    x = rng.standard_normal(obj.n_params)
    N = obj.null_space()
    expected = (4 if not np.isfinite(C) else 0) + int(fit_intercept)
    assert N.shape == (obj.n_params, expected)
    np.testing.assert_allclose(N.T @ N, np.eye(expected), atol=1e-14)
    np.testing.assert_allclose(obj.hessian(x) @ N, 0.0, atol=1e-12)
    for v in N.T:  # the value does not change along them (the penalty neither)
        np.testing.assert_allclose(obj.value(x + 0.7 * v), obj.value(x), rtol=1e-13)
    binary = Objective.from_arrays(X, (y > 0).astype(int), C=C, fit_intercept=fit_intercept)
    assert binary.null_space().shape == (binary.n_params, 0)


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_proximal_newton_reaches_fistas_optimum_in_a_few_steps(l1_ratio, K):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((400, 6)) * np.array([1, 10, 100, 0.1, 1, 5]) + np.array([0, 5, 50, 0, 0, 0])
    y = rng.integers(0, K, 400)
    obj = Objective.from_arrays(X, y, n_classes=K, C=0.05, l1_ratio=l1_ratio)
    pn = solvers.proximal_newton(obj, np.zeros(obj.n_params), tol=1e-10)
    fista = solvers.proximal(obj, np.zeros(obj.n_params), tol=1e-9, max_iter=200_000)
    assert pn.converged and pn.n_iter <= 10
    assert fista.converged
    np.testing.assert_allclose(obj.value(pn.x), obj.value(fista.x), rtol=1e-9)
    assert obj.value(pn.x) <= obj.value(fista.x) + 1e-12
    coef, _ = obj.unpack(pn.x)
    assert np.count_nonzero(coef == 0) > 0  # exact zeros, as FISTA's


def raw_columns_problem():
    """Large enough for lbfgs first; raw columns in very different units."""
    rng = np.random.default_rng(5)
    n = 1 + solvers.AUTO_NEWTON_FLOPS // 9**2
    X = rng.standard_normal((n, 8)) * np.logspace(-2, 3, 8) + 100.0
    w = rng.standard_normal(8) / np.logspace(-2, 3, 8)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X - 100.0) @ w))).astype(int)
    return X, y


def test_auto_on_large_raw_columns():
    # Too many rows for a cheap Hessian, columns in disparate units.  Binary: Newton, whose
    # step is one fused pass (L-BFGS's line search needs many passes for the last digits
    # there).  Softmax: L-BFGS on standardized parameters converges on its own, where plain
    # L-BFGS-B did not in 1000 iterations.
    X, y = raw_columns_problem()
    obj = objective_of(X, y)
    assert obj.hessian_flops > solvers.AUTO_NEWTON_FLOPS and obj.column_spread() > solvers.AUTO_SPREAD
    assert objective_of((X - X.mean(0)) / X.std(0), y).column_spread() < 1.1  # standardized: 1 (sampled)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression().fit(X, y)
    assert model.solver_ == "newton" and model.converged_
    rng = np.random.default_rng(5)
    score = (X - 100.0) @ (rng.standard_normal(8) / np.logspace(-2, 3, 8)) + rng.logistic(size=len(y))
    y3 = np.digitize(score, np.quantile(score, [0.3, 0.7]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression().fit(X, y3)
    assert model.solver_.startswith("lbfgs") and model.converged_ and model.n_iter_[0] < 40


def test_auto_starts_with_newton_on_small_raw_columns_and_lbfgs_on_small_scaled_ones():
    X, y = spector()
    assert LogisticRegression().fit(X, y).solver_ == "newton"
    assert LogisticRegression().fit(StandardScaler().fit_transform(X), y).solver_.startswith("lbfgs")


def test_auto_does_not_start_newton_cg_on_sparse_text():
    # Rare words make the columns' spread large and few nonzeros a row make the
    # exact Hessian cheap in flops, but with more than NEWTON_CHOLESKY_MAX_PARAMS
    # coefficients Newton's step is CG: 7.8x lbfgs' time at 50 000 x 5 000.
    from fastlogit.bench.problems import text_like

    X, y, _, _ = text_like(4000, 1500, 20, seed=3)
    obj = objective_of(X, y)
    assert obj.hessian_flops <= solvers.AUTO_NEWTON_FLOPS
    assert obj.column_spread() > solvers.PRECONDITION_SPREAD
    assert obj.n_params > solvers.NEWTON_CHOLESKY_MAX_PARAMS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression(tol=1e-6).fit(X, y)
    assert model.solver_.startswith("lbfgs") and model.converged_
    ref = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-10)
    got = obj.value(obj.pack(model.coef_, model.intercept_))
    np.testing.assert_allclose(got, obj.value(ref.x), rtol=1e-7)


def test_auto_hands_an_unconverged_lbfgs_to_newton(monkeypatch):
    X, y = raw_columns_problem()
    monkeypatch.setattr(solvers, "AUTO_SPREAD", np.inf)  # lbfgs first, whatever the columns
    monkeypatch.setattr(solvers, "AUTO_LBFGS_ITER", 3)  # and stopped before it converges
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression(tol=1e-8).fit(X, y)
    assert model.solver_ == "lbfgs+newton" and model.converged_
    obj = objective_of(X, y)
    ref = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-10)
    got = obj.value(obj.pack(model.coef_, model.intercept_))
    np.testing.assert_allclose(got, obj.value(ref.x), rtol=1e-10)


def test_auto_keeps_lbfgs_where_newtons_step_would_be_cg(monkeypatch):
    # Beyond NEWTON_CHOLESKY_MAX_PARAMS Newton's step is CG, which crawls on text where
    # lbfgs does (rare words): lbfgs goes on instead of handing over.
    from fastlogit.bench.problems import text_like

    X, y, _, _ = text_like(4000, 1500, 20, seed=3)
    monkeypatch.setattr(solvers, "AUTO_LBFGS_ITER", 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression(C=10.0, tol=1e-6).fit(X, y)
    assert model.solver_ == "lbfgs" and model.converged_ and model.n_iter_[0] > 3
    # Within the exact limit it still hands over.
    X, y = raw_columns_problem()
    monkeypatch.setattr(solvers, "AUTO_SPREAD", np.inf)
    assert LogisticRegression(tol=1e-8).fit(X, y).solver_ == "lbfgs+newton"


def test_lbfgs_at_machine_precision_is_converged_not_a_warning():
    # tol=1e-10 is below what L-BFGS-B resolves here: it stops when the value no longer
    # changes in float64, with max|grad| ~1e-9 and the objective at its optimum to ~1e-14.
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression(solver="lbfgs", tol=1e-10, max_iter=2000).fit(X, y)
    assert model.converged_
    obj = objective_of(X, y)
    best = obj.value(solvers.newton(obj, np.zeros(obj.n_params), tol=1e-12, max_iter=200).x)
    assert obj.value(obj.pack(model.coef_, model.intercept_)) - best <= 1e-12 * best


@pytest.mark.parametrize("K", [2, 3])
def test_preconditioned_first_order_solvers_do_not_care_about_units(K):
    # Columns over 5 decades with offsets up to 100: plain L-BFGS-B does not converge in
    # 300 iterations; on the parameters of standardized columns it needs about as many
    # iterations as on standardized data, and reaches the same optimum.
    rng = np.random.default_rng(3)
    n, d = 5000, 8
    Z = rng.standard_normal((n, d))
    P = np.exp(Z @ rng.standard_normal((d, K)))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    X = Z * np.logspace(-2, 3, d) + np.linspace(0, 100, d)
    raw, standardized = objective_of(X, y), objective_of(Z, y)
    best = raw.value(solvers.newton(raw, np.zeros(raw.n_params), tol=1e-10).x)
    plain = solvers.lbfgs(raw, np.zeros(raw.n_params), tol=1e-6, max_iter=300, precondition=False)
    assert not plain.converged
    scaled = solvers.lbfgs(raw, np.zeros(raw.n_params), tol=1e-6, max_iter=300)
    reference = solvers.lbfgs(standardized, np.zeros(raw.n_params), tol=1e-6, max_iter=300)
    assert scaled.converged and scaled.n_iter <= 2 * reference.n_iter + 5
    assert raw.value(scaled.x) - best <= 1e-10 * abs(best)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_preconditioned_proximal_on_raw_columns(l1_ratio):
    X, y = spector()
    obj = objective_of(X, y, C=1.0, l1_ratio=l1_ratio)
    best = obj.value(solvers.proximal_newton(obj, np.zeros(obj.n_params), tol=1e-10, max_iter=200).x)
    res = solvers.proximal(obj, np.zeros(obj.n_params), tol=1e-8, max_iter=300)
    assert res.converged and res.n_iter < 100
    assert obj.value(res.x) - best <= 1e-10 * abs(best)
    plain = solvers.proximal(obj, np.zeros(obj.n_params), tol=1e-8, max_iter=300, precondition=False)
    assert not plain.converged


def test_column_scaling_is_an_exact_change_of_parameters():
    from fastlogit.objective import ColumnScaling

    rng = np.random.default_rng(0)
    for q, fit_intercept, blocks in [(1, True, 1), (3, True, 2), (3, False, 1), (1, False, 3)]:
        d = 5
        scaling = ColumnScaling(rng.normal(size=d) * 10, rng.uniform(0.1, 100, d), q, fit_intercept, blocks)
        n = blocks * (q * d + (q if fit_intercept else 0))
        v, g = rng.normal(size=n), rng.normal(size=n)
        x = scaling.to_x(v)
        np.testing.assert_allclose(scaling.to_v(x), v, rtol=1e-12, atol=1e-12)
        # grad_to_v is the transpose of to_x (a linear map): <g, T v> = <T^T g, v>
        np.testing.assert_allclose(g @ x, scaling.grad_to_v(g) @ v, rtol=1e-12)
        np.testing.assert_allclose(scaling.grad_to_x(scaling.grad_to_v(g)), g, rtol=1e-12, atol=1e-12)
