"""LogisticRegression: a scikit-learn estimator that solves scikit-learn's problem.

Three kinds of tests: scikit-learn's own estimator checks; coefficients
equal to scikit-learn's on real and synthetic data for every penalty; and
the behaviour users rely on (pipelines, pickling, labels, pandas, sparse
and float32 input, warm starts, partial_fit, warnings and errors).
"""

import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastlogit
from fastlogit import LogisticRegression, solvers
from fastlogit.objective import Objective

# No floating_point_warnings_are_errors here (tests/test_objective.py and
# test_solvers.py use it): scikit-learn's checks feed deliberately odd data
# and its own code warns, and several tests assert ConvergenceWarnings.

# -- scikit-learn's estimator checks ------------------------------------------------


def expected_failed_checks(estimator):
    if estimator.solver == "sgd":
        # Stochastic: a minibatch of repeated rows is not a minibatch of
        # weighted rows, so weights equal repetitions only in expectation,
        # not to the checks' rtol=1e-7 (the full-batch solvers, whose
        # objective is a weighted sum, pass these checks).
        reason = "SGD: sample weights equal repeated rows in expectation only"
        return {
            "check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason,
        }
    return {}


# The checks also yield check_array_api_input, which scikit-learn skips
# unless SCIPY_ARRAY_API=1 was set before SciPy was imported; it runs in a
# subprocess below (test_array_api_dispatch_with_numpy_inputs_changes_nothing).
@parametrize_with_checks(
    [
        LogisticRegression(),
        LogisticRegression(solver="lbfgs"),
        LogisticRegression(solver="newton"),
        LogisticRegression(solver="proximal", l1_ratio=0.5),
        LogisticRegression(solver="sgd"),
        LogisticRegression(solver="sgd", learning_rate="adagrad", eta0=0.1, average=True),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # Some checks fit 15-row problems where max_iter=100 is not enough for
        # tol=1e-4; the warning is the right answer there, not a failure.
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_array_api_dispatch_with_numpy_inputs_changes_nothing():
    code = """
        from sklearn.utils.estimator_checks import check_array_api_input
        from fastlogit import LogisticRegression
        for est in (LogisticRegression(), LogisticRegression(solver="newton"),
                    LogisticRegression(solver="proximal", l1_ratio=0.5),
                    LogisticRegression(solver="sgd", random_state=0)):
            check_array_api_input("LogisticRegression", est, array_namespace="numpy",
                                  expect_only_array_outputs=False)
        print("ok")
    """
    env = {**__import__("os").environ, "SCIPY_ARRAY_API": "1"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "ok"


# -- the same coefficients as scikit-learn ---------------------------------------


def standardized(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def synthetic(n=100_000, d=50, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if K == 2:
        w = rng.standard_normal(d) * 2 / np.sqrt(d)
        y = (rng.random(n) < fastlogit.sigmoid(X @ w + 0.3)).astype(np.int64)
    else:
        W = rng.standard_normal((K, d)) * 2 / np.sqrt(d)
        P = fastlogit.softmax(X @ W.T)
        y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    return X, y


def sparse_truth(n=2000, d=10, K=2, seed=0):
    """A small well-conditioned problem whose true coefficients are mostly zero."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = np.zeros((1 if K == 2 else K, d))
    W[:, :4] = rng.standard_normal((W.shape[0], 4)) * 2
    if K == 2:
        y = (rng.random(n) < fastlogit.sigmoid(X @ W[0] + 0.3)).astype(np.int64)
    else:
        P = fastlogit.softmax(X @ W.T)
        y = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, K - 1)
    return X, y


DATASETS = {
    "breast_cancer": lambda: standardized(load_breast_cancer),
    "digits": lambda: standardized(load_digits),
    "synthetic_100000x50": synthetic,
}


def sklearn_reference(X, y, **params):
    """scikit-learn's exact optimum of the same problem.

    Newton-Cholesky, not lbfgs: with tol=1e-10 scikit-learn's lbfgs stops on
    its ftol (64 eps) at max|grad| ~ 2e-8, which on digits is 7e-6 away
    from the optimum that newton-cholesky reaches to 1e-13, so it cannot
    referee a 1e-6 comparison.
    """
    return SklearnLogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=1000, **params).fit(X, y)


def assert_same_coefficients(model, reference, rtol=1e-6):
    """Equal to ``rtol`` relative to the largest coefficient (small ones compare in absolute)."""
    for ours, theirs in ((model.coef_, reference.coef_), (model.intercept_, reference.intercept_)):
        assert ours.shape == theirs.shape
        scale = max(np.abs(reference.coef_).max(), np.abs(reference.intercept_).max())
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=rtol * scale)


tight_lbfgs = pytest.mark.filterwarnings(
    # lbfgs may stop where float64 stops resolving the objective, a little
    # above tol=1e-10 (it says so in a warning); still well within 1e-6.
    "ignore:lbfgs stopped:sklearn.exceptions.ConvergenceWarning"
)


@tight_lbfgs
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_l2_coefficients_equal_scikit_learns(dataset, solver):
    X, y = DATASETS[dataset]()
    reference = sklearn_reference(X, y)
    model = LogisticRegression(solver=solver, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_array_equal(model.classes_, reference.classes_)
    assert_same_coefficients(model, reference)
    np.testing.assert_allclose(model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-6)


def test_lbfgs_takes_scikit_learns_steps_at_default_settings():
    # The same algorithm on the same objective: the same iterates, up to rounding.
    for X, y in (standardized(load_breast_cancer), standardized(load_digits)):
        ours = LogisticRegression(solver="lbfgs").fit(X, y)
        theirs = SklearnLogisticRegression().fit(X, y)
        assert ours.n_iter_[0] == theirs.n_iter_[0]
        assert_same_coefficients(ours, theirs, rtol=1e-8)


@tight_lbfgs
@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("K", [2, 3])
def test_sample_weight_and_balanced_class_weight_equal_scikit_learns(K, solver):
    X, y = synthetic(n=3000, d=8, K=K, seed=1)
    y = np.where(np.arange(3000) % 4 == 0, 0, y)  # unbalanced classes
    sw = np.random.default_rng(2).uniform(0, 4, 3000)
    for params, fit_kw in (
        ({}, {"sample_weight": sw}),
        ({"class_weight": "balanced"}, {}),
        ({"class_weight": "balanced", "C": 0.1}, {"sample_weight": sw}),
    ):
        reference = SklearnLogisticRegression(
            solver="newton-cholesky", tol=1e-10, max_iter=1000, **params
        ).fit(X, y, **fit_kw)
        model = LogisticRegression(solver=solver, tol=1e-10, max_iter=1000, **params).fit(X, y, **fit_kw)
        assert_same_coefficients(model, reference)


@pytest.mark.parametrize("K", [2, 3])
def test_no_penalty_with_c_inf_equals_scikit_learns(K):
    X, y = synthetic(n=3000, d=6, K=K, seed=3)
    reference = sklearn_reference(X, y, C=np.inf)
    model = LogisticRegression(C=np.inf, solver="newton", tol=1e-10, max_iter=1000).fit(X, y)
    assert_same_coefficients(model, reference)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_l1_and_elastic_net_equal_scikit_learns_saga(K, l1_ratio):
    X, y = sparse_truth(K=K)
    reference = SklearnLogisticRegression(
        solver="saga", C=0.01, l1_ratio=l1_ratio, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    model = LogisticRegression(C=0.01, l1_ratio=l1_ratio, tol=1e-10, max_iter=10_000).fit(X, y)
    assert model.solver_ in ("newton", "proximal", "proximal+newton")  # auto, for an L1 term
    assert_same_coefficients(model, reference)
    np.testing.assert_array_equal(model.coef_ == 0, reference.coef_ == 0)
    assert 0 < np.count_nonzero(model.coef_) < model.coef_.size


# -- solver choice ----------------------------------------------------------------


def test_auto_solver_follows_the_documented_rule():
    # Newton when the exact Hessian is cheap and the columns' units far apart: binary or
    # softmax, dense or sparse, any penalty.
    X, y = synthetic(n=500, d=10)
    raw = X * np.logspace(-2, 2, 10) + 50.0
    assert LogisticRegression().fit(raw, y).solver_ == "newton"
    assert LogisticRegression(l1_ratio=0.3).fit(raw, y).solver_ == "newton"  # proximal Newton
    assert LogisticRegression().fit(scipy.sparse.csr_matrix(raw), y).solver_ == "newton"
    X3, y3 = synthetic(n=500, d=10, K=3)
    assert LogisticRegression().fit(X3 * np.logspace(-2, 2, 10), y3).solver_ == "newton"
    # Well-scaled small data: lbfgs, cheaper than Newton there (a final Newton step at
    # loose tol); with an L1 term still proximal Newton.
    assert LogisticRegression().fit(X, y).solver_ in ("lbfgs", "lbfgs+newton")
    assert LogisticRegression(l1_ratio=0.3).fit(X, y).solver_ == "newton"
    # Otherwise lbfgs (handing over to newton when it does not converge), or proximal for L1.
    big, y_big = synthetic(n=1 + solvers.AUTO_NEWTON_FLOPS // 11**2, d=10)
    assert LogisticRegression().fit(big, y_big).solver_ in ("lbfgs", "lbfgs+newton")
    assert LogisticRegression(l1_ratio=0.3).fit(big, y_big).solver_.startswith("proximal")


# -- the estimator in use ----------------------------------------------------------


def test_works_in_a_pipeline_and_grid_search():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["logisticregression__C"] in (0.01, 1.0)
    assert search.score(X, y) > 0.95


def test_clone_pickle_and_joblib_round_trip(tmp_path):
    X, y = standardized(load_digits)
    model = LogisticRegression(C=0.5, max_iter=300, n_threads=1).fit(X, y)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "coef_")
    restored = pickle.loads(pickle.dumps(model))
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    for other in (restored, loaded):
        np.testing.assert_array_equal(other.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(other.coef_, model.coef_)


def test_warm_start_continues_from_the_previous_coefficients():
    X, y = standardized(load_digits)
    model = LogisticRegression(solver="lbfgs", warm_start=True, max_iter=5)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)
    first_curve = model.loss_curve_
    with pytest.warns(ConvergenceWarning):
        model.fit(X, y)
    assert model.loss_curve_[0] < first_curve[-1] + 1e-12  # no restart from zero
    model.set_params(max_iter=1000).fit(X, y)
    converged = model.coef_.copy()
    model.fit(X, y)
    assert model.n_iter_[0] == 0  # already optimal
    np.testing.assert_array_equal(model.coef_, converged)
    cold = LogisticRegression(solver="lbfgs", max_iter=1000).fit(X, y)
    assert cold.n_iter_[0] > 10


def test_warm_start_with_other_classes_is_an_error():
    X, y = synthetic(n=300, d=4, K=3)
    model = LogisticRegression(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="same classes"):
        model.fit(X, np.where(y == 2, 1, y))


def test_one_vs_rest_wraps_the_binary_model():
    X, y = standardized(load_iris)
    ovr = OneVsRestClassifier(LogisticRegression()).fit(X, y)
    assert len(ovr.estimators_) == 3
    assert all(est.coef_.shape == (1, 4) for est in ovr.estimators_)
    np.testing.assert_allclose(ovr.predict_proba(X).sum(axis=1), 1.0)
    assert ovr.score(X, y) > 0.9


@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog"]), np.array([True, False]), np.array(["a", "b", "c"]), np.array([-3, 10, 7])],
)
def test_labels_of_any_kind(labels):
    X, y = synthetic(n=600, d=4, K=len(labels), seed=4)
    named = labels[y]
    model = LogisticRegression().fit(X, named)
    np.testing.assert_array_equal(model.classes_, np.sort(labels))
    assert model.predict(X).dtype == named.dtype
    assert set(model.predict(X)) <= set(labels)
    encoded = LogisticRegression().fit(X, np.searchsorted(np.sort(labels), named))
    np.testing.assert_allclose(model.coef_, encoded.coef_)
    rows = 1 if len(labels) == 2 else len(labels)
    assert model.coef_.shape == (rows, 4) and model.intercept_.shape == (rows,)


def test_pandas_input_records_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_breast_cancer(return_X_y=True, as_frame=False)
    names = [f"f{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(StandardScaler().fit_transform(X), columns=names)
    model = LogisticRegression().fit(frame, pd.Series(y))
    np.testing.assert_array_equal(model.feature_names_in_, names)
    assert model.n_features_in_ == 30
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        unnamed = model.predict(frame.to_numpy())  # scikit-learn's own warning
    np.testing.assert_array_equal(model.predict(frame), unnamed)
    renamed = frame.rename(columns={"f0": "g0"})
    with pytest.raises(ValueError, match="feature names"):
        model.predict(renamed)


@tight_lbfgs
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "proximal"])
@pytest.mark.parametrize("K", [2, 3])
def test_csr_input_gives_the_dense_fit(solver, K):
    X, y = sparse_truth(n=1500, d=12, K=K, seed=5)
    X[np.random.default_rng(6).random(X.shape) < 0.7] = 0.0
    params = {
        "solver": solver,
        "tol": 1e-10,
        "max_iter": 2000,
        "l1_ratio": 0.5 if solver == "proximal" else 0.0,
    }
    dense = LogisticRegression(**params).fit(X, y)
    sparse = LogisticRegression(**params).fit(scipy.sparse.csr_matrix(X), y)
    assert_same_coefficients(sparse, dense)
    np.testing.assert_allclose(
        sparse.predict_proba(scipy.sparse.csr_matrix(X)), dense.predict_proba(X), rtol=0, atol=1e-6
    )


def test_float32_input_is_fitted_in_place_and_close_to_float64():
    X, y = standardized(load_breast_cancer)
    X32 = X.astype(np.float32)
    model = LogisticRegression(tol=1e-8).fit(X32, y)
    reference = LogisticRegression(tol=1e-8).fit(X, y)
    assert model.coef_.dtype == np.float64
    assert_same_coefficients(model, reference, rtol=1e-4)
    assert model.predict_proba(X32).dtype == np.float64


def test_probabilities_are_exact_in_the_tails():
    X = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    model = LogisticRegression(C=1e6).fit(X, [0, 1, 0, 1])
    far = np.array([[-1e4], [1e4]])
    proba = model.predict_proba(far)
    np.testing.assert_array_equal(proba, [[1.0, 0.0], [0.0, 1.0]])
    log_proba = model.predict_log_proba(far)
    assert np.all(np.isfinite(log_proba))
    z = model.decision_function(far)
    np.testing.assert_allclose(log_proba[:, 1], -np.logaddexp(0, -z))
    np.testing.assert_allclose(log_proba[:, 0], -np.logaddexp(0, z))


def test_decision_function_and_probabilities_agree_for_softmax():
    X, y = standardized(load_iris)
    model = LogisticRegression().fit(X, y)
    z = model.decision_function(X)
    assert z.shape == (150, 3)
    np.testing.assert_allclose(z, X @ model.coef_.T + model.intercept_, rtol=1e-12)
    np.testing.assert_allclose(model.predict_log_proba(X), np.log(model.predict_proba(X)), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(X), model.classes_[np.argmax(z, axis=1)])


def test_thread_count_changes_only_rounding():
    X, y = synthetic(n=200_000, d=20, K=3)
    one = LogisticRegression(n_threads=1, tol=1e-8, max_iter=300).fit(X, y)
    again = LogisticRegression(n_threads=1, tol=1e-8, max_iter=300).fit(X, y)
    every = LogisticRegression(tol=1e-8, max_iter=300).fit(X, y)
    np.testing.assert_array_equal(one.coef_, again.coef_)
    assert_same_coefficients(every, one, rtol=1e-6)


# -- warnings, errors, progress ------------------------------------------------------


@pytest.mark.parametrize("solver", ["lbfgs", "newton", "proximal"])
def test_too_few_iterations_warn_once_naming_the_solver_and_the_remedy(solver):
    X, y = load_breast_cancer(return_X_y=True)  # unscaled: hard for first-order solvers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = LogisticRegression(solver=solver, max_iter=2, tol=1e-10).fit(X, y)
    relevant = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert len(relevant) == 1
    message = str(relevant[0].message)
    assert solver in message and "max_iter=2" in message and "scale the data" in message
    assert model.n_iter_[0] == 2


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            {"solver": "liblinear"},
            ValueError,
            r"(?s)(?=.*'auto')(?=.*'lbfgs')(?=.*'newton')(?=.*'proximal')(?=.*'sgd').*'solver' parameter",
        ),
        ({"C": -1.0}, ValueError, "'C' parameter"),
        ({"C": "large"}, TypeError, "'C' parameter"),
        ({"l1_ratio": 1.5}, ValueError, "'l1_ratio' parameter"),
        ({"max_iter": 0}, ValueError, "'max_iter' parameter"),
        (
            {"learning_rate": "fast"},
            ValueError,
            r"(?s)(?=.*'constant')(?=.*'invscaling')(?=.*'optimal')(?=.*'adaptive')(?=.*'adagrad')"
            r".*'learning_rate' parameter",
        ),
        ({"class_weight": "even"}, ValueError, "'class_weight' parameter"),
        ({"n_threads": 0}, ValueError, "'n_threads' parameter"),
        ({"n_threads": 10_000}, ValueError, "n_threads must be between 1 and"),
        ({"solver": "lbfgs", "l1_ratio": 0.5}, ValueError, "solver='lbfgs' supports only the L2"),
        ({"solver": "lbfgs", "l1_ratio": 1.0}, ValueError, "use solver='proximal'"),
        ({"solver": "lbfgs", "tol": None}, ValueError, "tol=None .* is for solver='sgd'"),
    ],
)
def test_bad_hyper_parameters_are_named_with_the_valid_values(params, error, match):
    X, y = synthetic(n=100, d=3)
    with pytest.raises(error, match=match):
        LogisticRegression(**params).fit(X, y)


def test_one_class_is_an_error_naming_classes():
    X, y = synthetic(n=100, d=3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="only one class"):
        LogisticRegression().fit(X, y, sample_weight=(y == 1).astype(float))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # max_iter=20
@pytest.mark.parametrize("solver", ["newton", "lbfgs", "proximal", "sgd"])
def test_verbose_shows_a_progress_bar_with_the_loss(solver, capsys):
    X, y = standardized(load_breast_cancer)
    LogisticRegression(
        solver=solver,
        verbose=1,
        max_iter=20,
        tol=None if solver == "sgd" else 1e-6,
        l1_ratio=0.5 if solver == "proximal" else 0.0,
    ).fit(X, y)
    err = capsys.readouterr().err
    assert f"fastlogit {solver}" in err and "loss=" in err
    LogisticRegression(
        solver=solver,
        max_iter=20,
        l1_ratio=0.5 if solver == "proximal" else 0.0,
        tol=None if solver == "sgd" else 1e-6,
    ).fit(X, y)
    assert capsys.readouterr().err == ""


def test_loss_curve_records_the_objective_per_iteration():
    X, y = standardized(load_digits)
    model = LogisticRegression(solver="newton", C=0.3).fit(X, y)
    assert len(model.loss_curve_) == model.n_iter_[0]
    obj = Objective.from_arrays(X, y, n_classes=10, C=0.3)
    final = obj.value(obj.pack(model.coef_, model.intercept_))
    assert model.loss_curve_[-1] == pytest.approx(final, rel=1e-12)


def test_import_fastlogit_exposes_logistic_regression_lazily():
    assert "LogisticRegression" in fastlogit.__all__
    assert fastlogit.LogisticRegression is LogisticRegression
    with pytest.raises(AttributeError, match="no attribute 'Logistic'"):
        fastlogit.Logistic  # noqa: B018


# -- SGD and partial_fit -----------------------------------------------------------------


def test_sgd_with_tol_none_runs_exactly_max_iter_epochs():
    X, y = standardized(load_digits)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = LogisticRegression(solver="sgd", max_iter=7, tol=None, random_state=0).fit(X, y)
    assert model.n_iter_[0] == 7 and len(model.loss_curve_) == 7
    assert model.coef_.shape == (10, 64)


def test_sgd_approaches_the_full_batch_optimum():
    X, y = synthetic(n=20_000, d=10, seed=7)
    exact = LogisticRegression(solver="newton", tol=1e-10).fit(X, y)
    sgd = LogisticRegression(solver="sgd", average=True, max_iter=20, tol=None, random_state=0).fit(X, y)
    obj = Objective.from_arrays(X, y, C=1.0)
    gap = obj.value(obj.pack(sgd.coef_, sgd.intercept_)) - obj.value(obj.pack(exact.coef_, exact.intercept_))
    assert 0 <= gap < 1e-3
    assert sgd.score(X, y) == pytest.approx(exact.score(X, y), abs=0.01)


def test_sgd_is_reproducible_with_a_random_state():
    X, y = standardized(load_iris)
    a = LogisticRegression(solver="sgd", random_state=3, max_iter=5, tol=None).fit(X, y)
    b = LogisticRegression(solver="sgd", random_state=3, max_iter=5, tol=None).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_partial_fit_needs_classes_first_and_rejects_unknown_labels():
    X, y = standardized(load_iris)
    model = LogisticRegression()
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        model.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"not in classes \[0, 1\]: \[2\]"):
        model.partial_fit(X, y, classes=[0, 1])
    model.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # a batch may miss a class
    assert model.coef_.shape == (3, 4)
    with pytest.raises(ValueError, match="not the same as on the first call"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(X[:, :3], y)


def test_partial_fit_streams_epochs_and_improves_the_fit():
    X, y = standardized(load_breast_cancer)
    model = LogisticRegression(random_state=0)
    losses = []
    obj = Objective.from_arrays(X, y, C=1.0)
    for _ in range(5):
        for lo in range(0, len(y), 100):
            model.partial_fit(X[lo : lo + 100], y[lo : lo + 100], classes=[0, 1])
        losses.append(obj.value(obj.pack(model.coef_, model.intercept_)))
    assert model.n_iter_[0] == 5 * len(range(0, len(y), 100))
    assert losses[-1] < losses[0]
    assert model.score(X, y) > 0.95


def test_partial_fit_after_fit_continues_from_its_coefficients():
    X, y = standardized(load_breast_cancer)
    model = LogisticRegression(solver="lbfgs").fit(X, y)
    fitted = model.coef_.copy()
    model.partial_fit(X, y)  # classes known from fit
    assert model.solver_ == "sgd"
    step = np.abs(model.coef_ - fitted).max()
    assert 0 < step < 0.1 * np.abs(fitted).max()  # a small step from the optimum, not a restart


def test_a_failed_fit_leaves_the_previous_fit_intact():
    X, y = synthetic(n=300, d=4)
    model = LogisticRegression().fit(X, y)
    coef, classes = model.coef_.copy(), model.classes_
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.fit(bad, np.where(y == 1, "b", "a"))
    np.testing.assert_array_equal(model.coef_, coef)
    np.testing.assert_array_equal(model.classes_, classes)


def test_partial_fit_refuses_balanced_class_weight():
    X, y = standardized(load_iris)
    with pytest.raises(ValueError, match="compute_class_weight"):
        LogisticRegression(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "newton", "proximal", "sgd"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_x_is_an_error_for_every_solver_dense_and_csr(solver, bad):
    X, y = synthetic(n=200, d=5)
    X[17, 3] = bad
    for data in (X, scipy.sparse.csr_matrix(X)):
        with pytest.raises(ValueError, match="NaN" if np.isnan(bad) else "infinity"):
            LogisticRegression(solver=solver, l1_ratio=0.5 if solver == "proximal" else 0.0).fit(data, y)


@pytest.mark.parametrize("K", [2, 3])
def test_sgd_balanced_class_weight_equals_the_same_sample_weights_set_by_hand(K):
    X, y = synthetic(n=900, d=6, K=K, seed=11)
    y = np.where(np.arange(900) % 5 == 0, 0, y)  # unbalanced classes
    counts = np.bincount(y)
    by_hand = len(y) / (len(counts) * counts[y])  # n / (K * n_k)
    params = dict(solver="sgd", max_iter=4, tol=None, average=True, random_state=5)
    a = LogisticRegression(class_weight="balanced", **params).fit(X, y)
    b = LogisticRegression(**params).fit(X, y, sample_weight=by_hand)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)


def test_sgd_divergence_is_a_clear_error_and_leaves_the_estimator_unfitted():
    from fastlogit.sgd import SGDDivergenceError

    X, y = synthetic(n=300, d=4)
    model = LogisticRegression(solver="sgd", learning_rate="constant", eta0=1.0, max_iter=3, tol=None)
    with pytest.raises(FloatingPointError, match="lower the learning rate") as info:
        model.fit(X * 1e160, y)
    assert isinstance(info.value, SGDDivergenceError)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 1, 3, 7]),
        np.array([True, False, True]),
        np.array([-128, 127, 0, 127], dtype=np.int8),
        np.array([5, 5, 2], dtype=np.uint16),
        np.array([0, 10**12, 5]),  # a range too wide to count: sorted
        np.array([1.0, 0.0, 1.0]),
        np.array([3.0, -1.0, 3.0, 7.0]),
        np.array(["b", "a", "b"]),
    ],
    ids=["int", "bool", "int8", "uint16", "wide", "float", "float-negative", "str"],
)
def test_label_codes_are_numpy_unique(y):
    from fastlogit.data import label_codes

    classes, codes = label_codes(y)
    expected, inverse = np.unique(y, return_inverse=True)
    np.testing.assert_array_equal(classes, expected)
    assert classes.dtype == expected.dtype
    np.testing.assert_array_equal(codes, inverse)
    assert codes.dtype == np.intp


@pytest.mark.parametrize("y", [[0.5, 1.5, 2.25], [1.0, 0.0, 2.5], [0.0, np.inf, 1.0], [0.0, np.nan, 1.0]])
def test_label_codes_refuse_continuous_targets(y):
    from fastlogit.data import label_codes

    with pytest.raises(ValueError):
        label_codes(np.array(y))
