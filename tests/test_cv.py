"""LogisticRegressionCV and logistic_path against scikit-learn on the same folds."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GroupKFold, KFold, ShuffleSplit, StratifiedKFold
from sklearn.preprocessing import StandardScaler

import fastlogit
from fastlogit import LogisticRegression, LogisticRegressionCV, logistic_path

TIGHT = dict(tol=1e-10, max_iter=1000)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X[:600]
    y = y[:600]
    X = StandardScaler().fit_transform(X)
    return X[:, X.std(axis=0) > 0], y


def sklearn_cv(**kwargs):
    kwargs.setdefault("use_legacy_attributes", True)
    kwargs.setdefault("scoring", None)
    kwargs.setdefault("l1_ratios", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        return sk.LogisticRegressionCV(**kwargs)


def fit_both(X, y, sk_solver="newton-cholesky", fit_kwargs=None, **kwargs):
    fit_kwargs = fit_kwargs or {}
    ours = LogisticRegressionCV(**kwargs, **TIGHT).fit(X, y, **fit_kwargs)
    theirs = sklearn_cv(solver=sk_solver, **kwargs, **TIGHT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs.fit(X, y, **fit_kwargs)
    return ours, theirs


def assert_same_cv(ours, theirs, rtol=1e-4, atol=1e-6):
    np.testing.assert_allclose(ours.Cs_, theirs.Cs_, rtol=1e-12)
    assert ours.coefs_paths_.keys() == theirs.coefs_paths_.keys()
    for key in theirs.coefs_paths_:
        assert ours.coefs_paths_[key].shape == theirs.coefs_paths_[key].shape
        np.testing.assert_allclose(ours.coefs_paths_[key], theirs.coefs_paths_[key], rtol=rtol, atol=atol)
        np.testing.assert_allclose(ours.scores_[key], theirs.scores_[key], rtol=rtol, atol=atol)
    np.testing.assert_array_equal(ours.C_, theirs.C_)
    assert ours.l1_ratio_.tolist() == theirs.l1_ratio_.tolist()
    assert ours.n_iter_.shape == theirs.n_iter_.shape
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=rtol, atol=atol)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)


# -- against scikit-learn ----------------------------------------------------------


def test_binary_l2_breast_cancer(cancer):
    X, y = cancer
    ours, theirs = fit_both(X, y, Cs=6, cv=StratifiedKFold(5))
    assert_same_cv(ours, theirs)
    assert ours.coefs_paths_[1].shape == (5, 6, X.shape[1] + 1)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_multinomial_l2_digits(digits):
    X, y = digits
    ours, theirs = fit_both(X, y, Cs=[0.01, 0.1, 1.0], cv=3)
    assert_same_cv(ours, theirs)
    assert ours.C_.shape == (10,)


@pytest.mark.parametrize("solver", ["lbfgs", "newton", "auto"])
def test_solvers_agree(cancer, solver):
    X, y = cancer
    # (C up to 1: lbfgs does not reach 1e-8 at C = 1e4 on these nearly separable classes.)
    Cs = [1e-4, 0.01, 0.1, 1.0]
    ours = LogisticRegressionCV(Cs=Cs, cv=4, solver=solver, tol=1e-8, max_iter=1000).fit(X, y)
    ref = LogisticRegressionCV(Cs=Cs, cv=4, solver="newton", **TIGHT).fit(X, y)
    np.testing.assert_allclose(ours.coefs_paths_[1], ref.coefs_paths_[1], rtol=1e-5, atol=1e-6)


def test_sample_and_class_weights():
    X, y = make_classification(n_samples=400, n_features=8, n_informative=5, weights=[0.7], random_state=0)
    sw = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    ours, theirs = fit_both(
        X, y, Cs=5, cv=StratifiedKFold(4), class_weight="balanced", fit_kwargs={"sample_weight": sw}
    )
    assert_same_cv(ours, theirs)


def test_multinomial_class_weight_dict():
    X, y = make_classification(
        n_samples=450, n_features=6, n_informative=4, n_classes=3, n_clusters_per_class=1, random_state=1
    )
    ours, theirs = fit_both(X, y, Cs=[0.05, 1.0, 20.0], cv=3, class_weight={0: 2.0, 1: 0.5})
    assert_same_cv(ours, theirs)


def test_neg_log_loss_and_new_layout(cancer):
    X, y = cancer
    # Up to C = 1: beyond it some held-out rows get scores of 30 and more against
    # their label, and scikit-learn's log_loss of 1 - expit(30) (rounded in the
    # subtraction, 1e-3 relative) moves the mean by 1e-4; fastlogit's held-out loss is
    # log1pexp's, exact to rounding (and clipped at -log(eps) as scikit-learn clips).
    Cs = [1e-4, 1e-3, 1e-2, 0.1, 1.0]
    ours, theirs = fit_both(X, y, Cs=Cs, cv=4, scoring="neg_log_loss", use_legacy_attributes=False)
    assert ours.coefs_paths_.shape == theirs.coefs_paths_.shape == (4, 1, 5, 1, X.shape[1] + 1)
    np.testing.assert_allclose(ours.coefs_paths_, theirs.coefs_paths_, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-6)
    assert ours.C_ == theirs.C_ and ours.l1_ratio_ == theirs.l1_ratio_
    assert ours.n_iter_.shape == theirs.n_iter_.shape
    np.testing.assert_allclose(ours.score(X, y), theirs.score(X, y), rtol=1e-5)


def test_generic_scorer_and_shuffle_split(cancer):
    # roc_auc is scored on each split's held-out rows; ShuffleSplit's test sets
    # overlap, so every split is fitted on its own.
    X, y = cancer
    cv = ShuffleSplit(n_splits=3, test_size=0.3, random_state=0)
    ours, theirs = fit_both(X, y, Cs=4, cv=cv, scoring="roc_auc")
    assert_same_cv(ours, theirs)


def test_refit_false_multinomial():
    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=3
    )
    ours, theirs = fit_both(X, y, Cs=4, cv=3, refit=False)
    assert_same_cv(ours, theirs)


def test_no_intercept_csr(cancer):
    X, y = cancer
    ours, theirs = fit_both(sp.csr_matrix(X), y, Cs=3, cv=3, fit_intercept=False)
    assert_same_cv(ours, theirs)
    assert ours.coefs_paths_[1].shape == (3, 3, X.shape[1])


def test_float32_equals_float64_fit_on_the_same_values(cancer):
    X, y = cancer
    X32 = X.astype(np.float32)
    a = LogisticRegressionCV(Cs=3, cv=3, **TIGHT).fit(X32, y)
    b = LogisticRegressionCV(Cs=3, cv=3, **TIGHT).fit(X32.astype(np.float64), y)
    np.testing.assert_allclose(a.coefs_paths_[1], b.coefs_paths_[1], rtol=1e-7, atol=1e-9)


def small_l1_problem():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((240, 10))
    w = np.array([2.0, -1.5, 0, 0, 1.0, 0, 0, 0, 0, 0])
    y = (X @ w + 0.5 * rng.standard_normal(240) > 0).astype(int)
    return X, y


def test_l1_against_saga():
    # (Not at C = 0.02, where every coefficient is 0: saga stops there after 5
    # epochs, its weights unchanged, with the intercept 0.025 from the optimum,
    # the log-odds of the training labels, which fastlogit finds.)
    X, y = small_l1_problem()
    Cs = [0.06, 0.1, 1.0]
    ours = LogisticRegressionCV(Cs=Cs, l1_ratios=[1.0], cv=3, **TIGHT).fit(X, y)
    theirs = sklearn_cv(Cs=Cs, l1_ratios=[1.0], cv=3, solver="saga", tol=1e-12, max_iter=100000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs.fit(X, y)
    assert_same_cv(ours, theirs, rtol=1e-4, atol=1e-5)
    assert ours.coefs_paths_[1].shape == (3, 3, 1, 11)
    assert (ours.coefs_paths_[1][:, 0, 0, :10] == 0).sum() > 0  # exact zeros at small C


def test_elastic_net_against_saga():
    X, y = small_l1_problem()
    kwargs = dict(Cs=[0.05, 0.5], l1_ratios=[0.2, 0.8], cv=3)
    ours = LogisticRegressionCV(**kwargs, **TIGHT).fit(X, y)
    theirs = sklearn_cv(**kwargs, solver="saga", tol=1e-12, max_iter=100000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs.fit(X, y)
    assert_same_cv(ours, theirs, rtol=1e-4, atol=1e-5)
    assert ours.scores_[1].shape == (3, 2, 2)


def test_groups_through_metadata_routing(cancer):
    X, y = cancer
    groups = np.arange(len(y)) % 7
    with config_context(enable_metadata_routing=True):
        ours = LogisticRegressionCV(Cs=3, cv=GroupKFold(3), **TIGHT).fit(X, y, groups=groups)
        theirs = sklearn_cv(Cs=3, cv=GroupKFold(3), solver="newton-cholesky", **TIGHT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            theirs.fit(X, y, groups=groups)
    assert_same_cv(ours, theirs)
    with pytest.raises(ValueError, match="groups"):
        LogisticRegressionCV(Cs=3, cv=GroupKFold(3)).fit(X, y, groups=groups)


# -- the fused path equals separate fits ---------------------------------------------


def test_fused_folds_equal_separate_fits(cancer):
    X, y = cancer
    cv = KFold(4, shuffle=True, random_state=0)
    model = LogisticRegressionCV(Cs=[0.1, 1.0], cv=cv, solver="lbfgs", **TIGHT).fit(X, y)
    for j, (train, _) in enumerate(cv.split(X)):
        for c, C in enumerate([0.1, 1.0]):
            single = LogisticRegression(C=C, solver="newton", **TIGHT).fit(X[train], y[train])
            path = model.coefs_paths_[1][j, c]
            # (lbfgs stops where float64 no longer resolves a decrease: max|grad| ~ 1e-8.)
            np.testing.assert_allclose(path[:-1], single.coef_[0], rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(path[-1], single.intercept_[0], rtol=1e-5, atol=1e-6)


def test_logistic_path_equals_fits(cancer):
    X, y = cancer
    path = logistic_path(X, y, Cs=[0.01, 0.1, 1.0], solver="newton", **TIGHT)
    assert path.coefs.shape == (3, 1, X.shape[1]) and path.intercepts.shape == (3, 1)
    for c, C in enumerate(path.Cs):
        single = LogisticRegression(C=C, solver="newton", **TIGHT).fit(X, y)
        np.testing.assert_allclose(path.coefs[c], single.coef_, rtol=1e-7, atol=1e-9)


def test_logistic_path_folds_and_held_out(digits):
    X, y = digits
    fold = np.arange(len(y)) % 3
    path = logistic_path(X, y, Cs=[0.1, 1.0], fold=fold, **TIGHT)
    assert path.coefs.shape == (3, 2, 10, X.shape[1])
    for j in range(3):
        train, test = fold != j, fold == j
        single = LogisticRegression(C=1.0, solver="newton", **TIGHT).fit(X[train], y[train])
        np.testing.assert_allclose(path.coefs[j, 1], single.coef_, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(path.test_accuracy[j, 1], single.score(X[test], y[test]), rtol=1e-12)
        proba = single.predict_proba(X[test])
        loss = -np.mean(np.log(proba[np.arange(test.sum()), np.searchsorted(single.classes_, y[test])]))
        np.testing.assert_allclose(path.test_loss[j, 1], loss, rtol=1e-6)


def test_l1_path_starts_empty():
    X, y = small_l1_problem()
    path = logistic_path(X, y, Cs=8, l1_ratio=1.0, **TIGHT)
    assert np.all(path.coefs[0] == 0)
    assert np.count_nonzero(path.coefs[1]) >= 1
    assert np.count_nonzero(path.coefs[-1]) > np.count_nonzero(path.coefs[2])
    # Just above the start, the first feature to enter is the most correlated one.
    assert np.all(np.diff(path.Cs) > 0)


def test_convergence_warning_names_C_and_fold(cancer):
    X, y = cancer
    with pytest.warns(ConvergenceWarning, match=r"C=10000, l1_ratio=0: the fit of fold \d"):
        LogisticRegressionCV(Cs=[1e4], cv=3, solver="lbfgs", max_iter=2).fit(X * 100, y)


def test_verbose_progress_bar(cancer, capsys):
    X, y = cancer
    LogisticRegressionCV(Cs=3, cv=3, verbose=1).fit(X, y)
    assert "fastlogit path" in capsys.readouterr().err


# -- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(Cs=[]), ValueError, "Cs"),
        (dict(Cs=[1.0, -1.0]), ValueError, "Cs"),
        (dict(Cs=0), ValueError, "Cs"),
        (dict(l1_ratios=[0.5, 1.5]), ValueError, "l1_ratios"),
        (dict(l1_ratios=[]), ValueError, "l1_ratios"),
        (dict(scoring="bogus"), ValueError, "scoring"),
        (dict(solver="sgd"), ValueError, "solver"),
        (dict(dual=True), ValueError, "dual"),
    ],
)
def test_bad_parameters(cancer, kwargs, error, match):
    X, y = cancer
    with pytest.raises(error, match=match):
        LogisticRegressionCV(**kwargs).fit(X, y)


def test_fold_with_one_class():
    X = np.random.default_rng(0).standard_normal((40, 3))
    y = np.r_[np.zeros(20), np.ones(20)]
    with pytest.raises(ValueError, match="cv: the training set of split 0 holds only one class"):
        LogisticRegressionCV(cv=[(np.arange(20), np.arange(20, 40))]).fit(X, y)


def test_logistic_path_bad_input(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match="fold"):
        logistic_path(X, y, fold=np.zeros(3, dtype=int))
    with pytest.raises(TypeError, match="fold"):
        logistic_path(X, y, fold=np.zeros(len(y)) + 0.5)
    with pytest.raises(ValueError, match="l1_ratio"):
        logistic_path(X, y, l1_ratio=2.0)
    with pytest.raises(ValueError, match="Cs"):
        logistic_path(X, y, Cs=[])


def test_nan_in_X_is_a_clear_error(cancer):
    X, y = cancer
    X = X.copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegressionCV(Cs=2, cv=3).fit(X, y)


def test_check_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    check_estimator(LogisticRegressionCV(Cs=3, cv=3))


def test_exported():
    assert fastlogit.LogisticRegressionCV is LogisticRegressionCV
    assert "logistic_path" in fastlogit.__all__
