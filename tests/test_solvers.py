"""Full-batch solvers on the Objective: they reach tol, agree, and say why they stop."""

import numpy as np
import pytest
import scipy.sparse

import fastlogit
from fastlogit import solvers
from fastlogit.objective import Objective

pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")


def make_objective(n=2000, d=8, K=2, C=1.0, l1_ratio=0.0, sparse_truth=False, seed=0, **kw):
    """Labels drawn from a logistic/softmax model, so the optimum is finite and informative."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + 0.3
    rows = 1 if K == 2 else K
    W = rng.standard_normal((rows, d))
    if sparse_truth:
        W[:, d // 4 :] = 0.0
    if K == 2:
        y = (rng.random(n) < fastlogit.sigmoid(X @ W[0] - 0.5)).astype(np.int64)
    else:
        P = fastlogit.softmax(X @ W.T)
        y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    return Objective.from_arrays(X, y, n_classes=K, C=C, l1_ratio=l1_ratio, **kw)


SMOOTH = [solvers.lbfgs, solvers.newton, solvers.proximal]


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_every_solver_reaches_tol_and_they_agree(K, fit_intercept):
    obj = make_objective(K=K, fit_intercept=fit_intercept)
    results = {}
    for solver in SMOOTH:
        res = solver(obj, np.zeros(obj.n_params), max_iter=5000, tol=1e-7)
        assert res.converged, (solver.__name__, res.message)
        assert obj.optimality(res.x, obj.loss_grad(res.x)[1]) <= 1e-7
        results[solver.__name__] = res.x
    for name, x in results.items():
        np.testing.assert_allclose(x, results["newton"], rtol=0, atol=1e-5, err_msg=name)


def test_lbfgs_stopped_by_float64_at_machine_precision_has_converged():
    # tol=1e-14 is below what float64 resolves: L-BFGS-B stops when the value no longer
    # changes, with a gradient below sqrt(eps), the optimum to machine precision (issue 17:
    # a ConvergenceWarning only when the stopping rule was not met).
    obj = make_objective(K=4)
    res = solvers.lbfgs(obj, np.zeros(obj.n_params), max_iter=5000, tol=1e-14)
    assert res.converged
    f, g = obj.loss_grad(res.x)
    assert 1e-14 < obj.optimality(res.x, g) <= solvers.MACHINE_PRECISION_GRAD


def test_newton_cholesky_and_newton_cg_take_the_same_steps():
    obj = make_objective(d=10)
    chol = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-10, use_cholesky=True)
    cg = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-10, use_cholesky=False)
    assert chol.converged and cg.converged
    np.testing.assert_allclose(chol.x, cg.x, rtol=1e-8, atol=1e-10)
    assert chol.n_iter <= 10  # quadratic convergence


@pytest.mark.parametrize("fit_intercept, C", [(True, 1.0), (False, np.inf)])
def test_objective_hessian_diagonal_is_the_hessians(fit_intercept, C):
    # Newton-CG's preconditioner: the penalized Hessian's diagonal in x's layout.
    obj = make_objective(n=600, d=7, C=C, fit_intercept=fit_intercept)
    x = np.random.default_rng(3).standard_normal(obj.n_params) * 0.3
    np.testing.assert_allclose(obj.hessian_diagonal(x), np.diag(obj.hessian(x)), rtol=1e-12)
    assert make_objective(n=600, d=7, K=3).hessian_diagonal(np.zeros(24)) is None  # softmax: none


def disparate_columns_objective(K, n=3000, d=12, seed=4, sparse=False):
    """Columns from 10^-2 to 10^2: curvatures 10^8 apart (C = 1); ``sparse``: CSR, half zeros."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(-2, 2, d)
    if sparse:
        X[rng.random((n, d)) < 0.5] = 0.0
    W = rng.standard_normal((1 if K == 2 else K, d)) / np.logspace(-2, 2, d)
    if K == 2:
        y = (rng.random(n) < fastlogit.sigmoid(X @ W[0])).astype(np.int64)
    else:
        y = (fastlogit.softmax(X @ W.T).cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    return Objective.from_arrays(scipy.sparse.csr_matrix(X) if sparse else X, y, n_classes=K, C=1.0)


@pytest.mark.parametrize("sparse", [False, True])
def test_newton_cg_is_jacobi_preconditioned_where_columns_differ(sparse, monkeypatch):
    obj = disparate_columns_objective(2, sparse=sparse)
    products = []
    plain_hessp = obj.hessp

    def counted(x, v):
        products.append(1)
        return plain_hessp(x, v)

    monkeypatch.setattr(obj, "hessp", counted)
    x0 = np.zeros(obj.n_params)
    chol = solvers.newton(obj, x0, tol=1e-9, use_cholesky=True)
    assert solvers._jacobi(obj, chol.x) is not None
    cg = solvers.newton(obj, x0, tol=1e-9, use_cholesky=False, max_iter=200)
    with_jacobi = len(products)
    products.clear()
    monkeypatch.setattr(solvers, "_jacobi", lambda objective, x: None)
    plain = solvers.newton(obj, x0, tol=1e-9, use_cholesky=False, max_iter=200)
    assert chol.converged and cg.converged
    np.testing.assert_allclose(obj.value(cg.x), obj.value(chol.x), rtol=1e-13)
    np.testing.assert_allclose(cg.x, chol.x, rtol=1e-6, atol=1e-9)
    # 13 against 149 products when written
    assert with_jacobi < 0.25 * len(products), (with_jacobi, len(products), plain.converged)


def test_newton_cg_is_plain_where_columns_are_alike():
    obj = make_objective(d=10)
    assert solvers._jacobi(obj, np.zeros(obj.n_params)) is None


def test_newton_handles_a_singular_hessian():
    # A duplicated column and no penalty: the Hessian is singular along
    # (e_j - e_k), Cholesky fails, the least-squares step still converges.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 3))
    X = np.column_stack([X, X[:, 0]])
    y = (rng.random(500) < fastlogit.sigmoid(X[:, 0] - X[:, 1])).astype(int)
    obj = Objective.from_arrays(X, y, C=np.inf)
    res = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-8, use_cholesky=True)
    assert res.converged
    single = Objective.from_arrays(X[:, :3], y, C=np.inf)
    expected = solvers.newton(single, np.zeros(single.n_params), tol=1e-10).x
    # Any split of the duplicated coefficient is optimal; their sum is unique.
    np.testing.assert_allclose(np.r_[res.x[0] + res.x[3], res.x[1:3], res.x[4]], expected, rtol=1e-6)


def test_newton_and_lbfgs_decrease_the_objective_every_iteration():
    obj = make_objective(K=3)
    for solver in (solvers.newton, solvers.lbfgs):
        curve = solver(obj, np.zeros(obj.n_params), tol=1e-8).loss_curve
        assert len(curve) >= 2
        assert np.all(np.diff(curve) <= 0), solver.__name__


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_proximal_solves_l1_and_elastic_net_with_exact_zeros(K, l1_ratio):
    obj = make_objective(n=3000, d=40, K=K, C=0.02, l1_ratio=l1_ratio, sparse_truth=True)
    res = solvers.proximal(obj, np.zeros(obj.n_params), max_iter=2000, tol=1e-8)
    assert res.converged, res.message
    coef = res.x[: obj.n_coef]
    assert 0 < np.count_nonzero(coef) < obj.n_coef // 2  # sparse, not empty
    assert obj.optimality(res.x, obj.loss_grad(res.x)[1]) <= 1e-8
    # Working sets or not, the same optimum (FISTA on all features, no sets).
    full = solvers._fista(obj, np.zeros(obj.n_params), max_iter=5000, tol=1e-8)
    assert full.converged
    np.testing.assert_allclose(res.x, full.x, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(coef == 0, full.x[: obj.n_coef] == 0)


def test_proximal_objective_values_reach_the_optimum():
    obj = make_objective(n=3000, d=40, C=0.02, l1_ratio=1.0, sparse_truth=True)
    res = solvers.proximal(obj, np.zeros(obj.n_params), max_iter=2000, tol=1e-10)
    best = obj.value(res.x)
    assert res.loss_curve[-1] == pytest.approx(best, rel=1e-12)
    assert res.loss_curve[0] > best


def test_solvers_for_smooth_objectives_refuse_an_l1_term():
    obj = make_objective(C=1.0, l1_ratio=0.5)
    for solver in (solvers.lbfgs,):  # (newton takes proximal Newton steps)
        with pytest.raises(ValueError, match="proximal"):
            solver(obj, np.zeros(obj.n_params))


@pytest.mark.parametrize("solver", ["lbfgs", "newton", "proximal"])
def test_running_out_of_iterations_is_reported_with_the_remedy(solver):
    obj = make_objective(K=3, l1_ratio=0.5 if solver == "proximal" else 0.0)
    res = getattr(solvers, solver)(obj, np.zeros(obj.n_params), max_iter=1, tol=1e-12)
    assert not res.converged
    assert res.n_iter == 1
    assert solver in res.message and "max_iter" in res.message


@pytest.mark.parametrize("solver", ["lbfgs", "newton", "proximal"])
def test_starting_at_the_optimum_takes_no_iteration(solver):
    obj = make_objective()
    x = solvers.newton(obj, np.zeros(obj.n_params), tol=1e-12).x
    res = getattr(solvers, solver)(obj, x, tol=1e-6)
    assert res.converged and res.n_iter == 0
    np.testing.assert_array_equal(res.x, x)


@pytest.mark.parametrize("solver", ["lbfgs", "newton", "proximal"])
def test_callback_sees_each_iteration_and_its_objective(solver):
    obj = make_objective(K=3, l1_ratio=0.5 if solver == "proximal" else 0.0)
    seen = []
    res = getattr(solvers, solver)(
        obj, np.zeros(obj.n_params), tol=1e-6, callback=lambda it, loss: seen.append((it, loss))
    )
    assert [it for it, _ in seen] == list(range(1, res.n_iter + 1))
    assert [loss for _, loss in seen] == res.loss_curve
