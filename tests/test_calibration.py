"""The truth about the fitted probabilities: the Bayes posterior of the bench data,
and the summary of a fit against it, on cases whose answers are known in closed form."""

import json
import math

import numpy as np
import pytest
from scipy.special import expit

from fastlogit.bench import accuracy_report, calibration, peers, run
from fastlogit.bench.calibration import (
    USER_FITS,
    bayes_posterior,
    calibration_learning_curve,
    calibration_learning_curves,
    calibration_summary,
    estimator_fit,
    reliability,
)
from fastlogit.bench.problems import gaussian_classes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- the Bayes posterior ------------------------------------------------------------------------


def test_bayes_posterior_is_the_sigmoid_or_softmax_of_the_true_score():
    X, _, coef, intercept = gaussian_classes(500, 4, 2, seed=1)
    p = bayes_posterior(X, coef, intercept)
    assert p.shape == (500, 2)
    np.testing.assert_allclose(p[:, 1], expit(X @ coef + intercept), rtol=1e-15)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(bayes_posterior(X, coef[np.newaxis], [intercept]), p)
    X, _, coef, intercept = gaussian_classes(500, 4, 3, seed=1)
    p = bayes_posterior(X, coef, intercept)
    Z = X @ coef.T + intercept
    np.testing.assert_allclose(p, np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True), rtol=1e-13)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_bayes_posterior_matches_the_observed_frequencies_of_the_bench_data(n_classes):
    # What makes it the truth: among rows given posterior ~p, a fraction ~p are of the class.
    X, y, coef, intercept = gaussian_classes(200_000, 4, n_classes, seed=5)
    p = bayes_posterior(X, coef, intercept)
    summary = calibration_summary(p, p, y)
    bins = summary["reliability"]
    for count, true, observed in zip(bins["count"], bins["mean_true"], bins["observed"], strict=True):
        if count >= 200:
            sigma = math.sqrt(max(true * (1 - true), 1e-4) / count)
            assert abs(observed - true) <= 5 * sigma, (count, true, observed)


def test_bayes_posterior_refuses_mismatched_shapes():
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="X must have shape"):
        bayes_posterior(X, np.zeros(4), 0.0)
    with pytest.raises(ValueError, match="intercept must have 3 entries"):
        bayes_posterior(X, np.zeros((3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="coef must have shape"):
        bayes_posterior(X, np.zeros((2, 3, 3)), np.zeros(2))


# -- closed-form cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_fit_equal_to_the_truth_has_no_gap(n_classes):
    X, y, coef, intercept = gaussian_classes(3000, 5, n_classes, seed=2)
    p = bayes_posterior(X, coef, intercept)
    summary = calibration_summary(p, p, y)
    assert summary["log_loss_gap"] == summary["excess_log_loss"] == 0.0
    assert summary["mean_abs_diff"] == summary["max_abs_diff"] == 0.0
    assert summary["roc_auc_fitted"] == summary["roc_auc_bayes"] > 0.5
    assert summary["pr_auc_fitted"] == summary["pr_auc_bayes"]
    bins = summary["reliability"]
    assert bins["mean_fitted"] == bins["mean_true"] and sum(bins["count"]) == 3000 * (
        1 if n_classes == 2 else 3
    )
    assert (summary["n"], summary["n_classes"]) == (3000, n_classes)


def test_a_shifted_intercept_costs_the_kullback_leibler_divergence_computed_by_hand():
    # No features: the truth is P(y=1) = 1/4 (intercept log 1/3) on every row, and a
    # quarter of the 400 labels are 1.  The fit's intercept is off by log 3: it says 1/2.
    # Its log-loss exceeds the truth's by KL(1/4 || 1/2) = 1/4 log(1/2) + 3/4 log(3/2)
    # = (3/4) log 3 - log 2, on the labels and in expectation alike.
    X = np.zeros((400, 3))
    y = (np.arange(400) % 4 == 0).astype(np.float64)
    true = bayes_posterior(X, np.zeros(3), math.log(1 / 3))
    fitted = bayes_posterior(X, np.zeros(3), math.log(1 / 3) + math.log(3))
    summary = calibration_summary(fitted, true, y)
    kl = 0.75 * math.log(3) - math.log(2)
    assert summary["log_loss_gap"] == pytest.approx(kl, rel=1e-12)
    assert summary["excess_log_loss"] == pytest.approx(kl, rel=1e-12)
    assert summary["log_loss_bayes"] == pytest.approx(
        -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), rel=1e-12
    )
    assert summary["mean_abs_diff"] == pytest.approx(0.25, rel=1e-12)
    assert summary["max_abs_diff"] == pytest.approx(0.25, rel=1e-12)
    # Every row scored alike: both rankings are coin flips; PR AUC is the share of positives.
    assert summary["roc_auc_fitted"] == summary["roc_auc_bayes"] == 0.5
    assert summary["pr_auc_fitted"] == summary["pr_auc_bayes"] == 0.25
    # One bin: 1/2 sits on an inner edge and falls in the lower bin, [0.4, 0.5].
    bins = summary["reliability"]
    assert bins["bin"] == [4] and bins["count"] == [400]
    assert bins["mean_fitted"] == pytest.approx([0.5]) and bins["mean_true"] == pytest.approx([0.25])
    assert bins["observed"] == [0.25]


def test_uniform_probabilities_over_three_classes_cost_kl_to_the_priors():
    # Truth: priors (1/2, 1/4, 1/4) on every row, labels in those shares; fit: 1/3 each.
    # KL = 1/2 log(3/2) + 2 (1/4) log(3/4) = 1/2 log(9/8); |diff| is 1/6, 1/12, 1/12.
    X = np.zeros((400, 2))
    y = np.repeat([0, 1, 2], [200, 100, 100])
    true = bayes_posterior(X, np.zeros((3, 2)), np.log([0.5, 0.25, 0.25]))
    fitted = bayes_posterior(X, np.zeros((3, 2)), np.zeros(3))
    summary = calibration_summary(fitted, true, y)
    assert summary["log_loss_gap"] == pytest.approx(0.5 * math.log(9 / 8), rel=1e-12)
    assert summary["excess_log_loss"] == pytest.approx(0.5 * math.log(9 / 8), rel=1e-12)
    assert summary["max_abs_diff"] == pytest.approx(1 / 6, rel=1e-12)
    assert summary["mean_abs_diff"] == pytest.approx(1 / 9, rel=1e-12)
    # Pooled over (row, class): every fitted entry is 1/3; the true entries and the
    # labels' indicators both average 1/3.
    bins = summary["reliability"]
    assert bins["bin"] == [3] and bins["count"] == [1200]
    assert bins["mean_true"] == pytest.approx([1 / 3]) and bins["observed"] == pytest.approx([1 / 3])


def test_a_monotone_shift_of_the_score_leaves_the_rankings_and_their_aucs_alone():
    X, y, coef, intercept = gaussian_classes(4000, 5, 2, seed=3)
    true = bayes_posterior(X, coef, intercept)
    fitted = bayes_posterior(X, coef, intercept + 1.5)
    summary = calibration_summary(fitted, true, y)
    assert summary["roc_auc_fitted"] == summary["roc_auc_bayes"]
    assert summary["pr_auc_fitted"] == summary["pr_auc_bayes"]
    assert summary["log_loss_gap"] > 0 and summary["excess_log_loss"] > 0
    # A common shift of all K intercepts changes no softmax probability at all.
    X, y, coef, intercept = gaussian_classes(4000, 5, 3, seed=3)
    shifted = calibration_summary(
        bayes_posterior(X, coef, intercept + 2.0), bayes_posterior(X, coef, intercept), y
    )
    assert abs(shifted["log_loss_gap"]) < 1e-14 and shifted["max_abs_diff"] < 1e-14


def test_a_one_dimensional_binary_probability_means_class_one():
    X, y, coef, intercept = gaussian_classes(1000, 3, 2, seed=4)
    true = bayes_posterior(X, coef, intercept)
    fitted = bayes_posterior(X, coef * 0.8, intercept)
    one_column = calibration_summary(fitted[:, 1], true[:, 1], y)
    two_columns = calibration_summary(fitted, true, y)
    # 1 - p rounds where the sigmoid of -z does not: equal to the last bits.
    assert one_column.keys() == two_columns.keys()
    for key, value in two_columns.items():
        if key == "reliability":
            assert value["bin"] == one_column[key]["bin"] and value["count"] == one_column[key]["count"]
            assert value["mean_true"] == pytest.approx(one_column[key]["mean_true"], rel=1e-12)
        else:
            assert one_column[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_reliability_bins_are_those_of_scikit_learns_calibration_curve():
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(0)
    fitted = np.concatenate([rng.uniform(0, 1, 5000), np.linspace(0, 1, 11)])  # edges included
    true = np.clip(fitted + rng.normal(0, 0.05, fitted.shape), 0, 1)
    observed = (rng.uniform(0, 1, fitted.shape) < true).astype(np.float64)
    for n_bins in (5, 10, 17):
        bins = reliability(fitted, true, observed, n_bins=n_bins)
        prob_true, prob_pred = calibration_curve(observed, fitted, n_bins=n_bins)
        np.testing.assert_allclose(bins["observed"], prob_true, rtol=1e-12)
        np.testing.assert_allclose(bins["mean_fitted"], prob_pred, rtol=1e-12)
        assert len(bins["edges"]) == n_bins + 1 and sum(bins["count"]) == len(fitted)


@pytest.mark.parametrize(
    ("fitted", "true", "y", "argument"),
    [
        (np.full((4, 2), 0.5), np.full((4, 3), 1 / 3), [0, 1, 0, 1], "proba_fitted and proba_true"),
        (np.full((4, 2), 0.6), np.full((4, 2), 0.5), [0, 1, 0, 1], "proba_fitted: every row must sum to 1"),
        (
            np.full((4, 2), 0.5),
            np.array([[1.5, -0.5]] * 4),
            [0, 1, 0, 1],
            "proba_true must hold probabilities",
        ),
        (np.full((4, 2), 0.5), np.full((4, 2), 0.5), [0, 1, 2, 1], "y must hold class codes 0 .. 1"),
        (np.full((4, 2), 0.5), np.full((4, 2), 0.5), [0, 1, 0.5, 1], "y must hold class codes"),
        (np.full((4, 2), 0.5), np.full((4, 2), 0.5), ["a", "b", "a", "b"], "y must hold class codes"),
        (np.full((4, 2), 0.5), np.full((4, 2), 0.5), [0, 1, 0], "y must have one label per row"),
        (np.full((4, 1), 1.0), np.full((4, 1), 1.0), [0, 0, 0, 0], "proba_fitted must have shape"),
    ],
)
def test_bad_probabilities_and_labels_are_refused_naming_the_argument(fitted, true, y, argument):
    with pytest.raises(ValueError, match=argument):
        calibration_summary(fitted, true, y)


def test_bad_bins_are_refused():
    with pytest.raises(ValueError, match="n_bins"):
        calibration_summary(np.full((4, 2), 0.5), np.full((4, 2), 0.5), [0, 1, 0, 1], n_bins=0)


# -- against n -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def learning_curve():
    return calibration_learning_curve([20_000, 200, 2000], n_features=5, n_classes=3, n_test=10_000, seed=1)


def test_the_calibration_gap_shrinks_as_the_training_rows_grow(learning_curve):
    assert [row["n"] for row in learning_curve] == [200, 2000, 20_000]
    assert all(row["n_test"] == 10_000 and row["n_classes"] == 3 for row in learning_curve)
    excess = [row["excess_log_loss"] for row in learning_curve]
    diff = [row["mean_abs_diff"] for row in learning_curve]
    assert excess[0] > excess[1] > excess[2] > 0 and diff[0] > diff[1] > diff[2] > 0
    # About (number of parameters) / (2 n) nats for a well-specified model: 18 / 40 000 here.
    assert excess[2] < 5e-3
    assert learning_curve[2]["roc_auc_fitted"] == pytest.approx(learning_curve[2]["roc_auc_bayes"], abs=2e-3)


def test_learning_curve_settings_are_checked():
    with pytest.raises(ValueError, match="sizes"):
        calibration_learning_curve([1], n_features=2, n_classes=2)
    with pytest.raises(ValueError, match="sizes"):
        calibration_learning_curve([], n_features=2, n_classes=2)
    with pytest.raises(ValueError, match="sizes: the first 2 rows hold classes"):
        calibration_learning_curve([2], n_features=2, n_classes=3)
    with pytest.raises(ValueError, match="n_classes"):
        calibration_learning_curve([100], n_features=2, n_classes=1)
    with pytest.raises(ValueError, match="n_features"):
        calibration_learning_curve([100], n_features=0, n_classes=2)
    with pytest.raises(ValueError, match="n_test"):
        calibration_learning_curve([100], n_features=2, n_classes=2, n_test=0)


# -- the peers, as a user fits them ----------------------------------------------------------------


def present_user_fit(name):
    user = USER_FITS[name]
    why = user.absent()
    if why is not None:
        pytest.skip(why)
    return user


@pytest.mark.parametrize("name", list(USER_FITS))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_peers_default_fit_without_features_predicts_the_class_shares(name, n_classes):
    # Every column is 0: the penalty has nothing to shrink, the intercepts alone fit,
    # and the maximum-likelihood probabilities are the training labels' shares
    # (1/4, 3/4; or 1/2, 1/4, 1/4) on every row, whatever C is.
    user = present_user_fit(name)
    if n_classes > 2 and user.binary_only:
        pytest.skip(f"{name}: binary only")
    shares = [0.25, 0.75] if n_classes == 2 else [0.5, 0.25, 0.25]
    y = np.repeat(np.arange(n_classes), [int(400 * share) for share in shares]).astype(np.float64)
    proba = np.asarray(user.make(1.0)(np.zeros((400, 3)), y, np.zeros((7, 3))))
    if proba.ndim == 1:
        proba = np.column_stack([1 - proba, proba])
    assert proba.shape == (7, n_classes)
    # (scikit-learn's lbfgs stops when the mean loss's gradient, here p - share, is below 1e-4)
    np.testing.assert_allclose(proba, np.tile(shares, (7, 1)), rtol=0, atol=1e-4)


@pytest.fixture(scope="module")
def peer_curves():
    """fastlogit's default fit and every importable peer's, K = 2 and 3, one draw each."""
    from fastlogit import LogisticRegression

    curves = {}
    for n_classes in (2, 3):
        fits = {"fastlogit": estimator_fit(LogisticRegression())}
        for name, user in USER_FITS.items():
            if user.absent() is None and (n_classes == 2 or not user.binary_only):
                fits[name] = user.make(1.0)
        curves[n_classes] = calibration_learning_curves(
            [1000, 300], n_features=4, n_classes=n_classes, fits=fits, n_test=2000, seed=3
        )
    return curves


@pytest.mark.parametrize("n_classes", [2, 3])
def test_scikit_learns_curve_entries_are_the_summary_of_its_own_fit_on_the_held_out_rows(
    peer_curves, n_classes
):
    from sklearn.linear_model import LogisticRegression

    present_user_fit("scikit-learn")
    X, y, coef, intercept = gaussian_classes(1000 + 2000, 4, n_classes, seed=3)
    X_test, y_test = X[-2000:], y[-2000:]
    curve = peer_curves[n_classes]["scikit-learn"]
    assert [entry["n"] for entry in curve] == [300, 1000]
    for entry in curve:
        n = entry["n"]
        proba = LogisticRegression(C=1.0).fit(X[:n], y[:n]).predict_proba(X_test)
        expected = calibration_summary(proba, bayes_posterior(X_test, coef, intercept), y_test)
        expected["n_test"] = expected.pop("n")
        assert entry == {"n": n, **expected, "convergence_warning": False}


@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_peer_fit_of_the_same_objective_is_judged_on_the_same_rows_as_fastlogits(
    peer_curves, n_classes
):
    curves = peer_curves[n_classes]
    expected = {"fastlogit", *(n for n, u in USER_FITS.items() if u.absent() is None)}
    if n_classes > 2:
        expected -= {n for n, u in USER_FITS.items() if u.binary_only}
    assert set(curves) == expected
    ours = curves["fastlogit"]
    for name, curve in curves.items():
        for entry, own in zip(curve, ours, strict=True):
            assert entry["n"] == own["n"] and entry["n_test"] == own["n_test"] == 2000
            for key in ("log_loss_bayes", "roc_auc_bayes", "pr_auc_bayes"):
                assert entry[key] == own[key], (name, key)  # one truth, one set of rows
            # C = 1 mapped right (glum: alpha = 1/(C n)): each minimizes fastlogit's
            # objective, so its probabilities are fastlogit's up to where it stopped
            # (4e-5 at most here; C off by a factor 2 moves the log-loss 4e-4 or more).
            assert entry["log_loss_fitted"] == pytest.approx(own["log_loss_fitted"], abs=1e-4), name
            assert entry["mean_abs_diff"] == pytest.approx(own["mean_abs_diff"], abs=1e-4), name


def test_scikit_learns_default_iteration_limit_warns_on_unscaled_data_and_the_curve_records_it():
    from sklearn.datasets import load_breast_cancer
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_breast_cancer(return_X_y=True)  # raw columns: lbfgs's 100 steps fall short
    with pytest.warns(ConvergenceWarning):
        present_user_fit("scikit-learn").make(1.0)(X, y, X[:5])

    def warns(X, y, X_test):
        import warnings

        warnings.warn("stopped early", ConvergenceWarning, stacklevel=2)
        warnings.warn("something else", UserWarning, stacklevel=2)
        return np.full(len(X_test), 0.5)

    with pytest.warns(UserWarning, match="something else") as shown:
        curves = calibration_learning_curves(
            [50], n_features=2, n_classes=2, fits={"warns": warns}, n_test=100, seed=0
        )
    assert not [w for w in shown if issubclass(w.category, ConvergenceWarning)]  # recorded, not shown
    assert curves["warns"][0]["convergence_warning"] is True


def test_a_failing_fit_is_recorded_when_failures_are_asked_for_and_raises_otherwise():
    def fails(X, y, X_test):
        if len(X) > 60:
            raise FloatingPointError("diverged")
        return np.full(len(X_test), 0.5)

    def coin(X, y, X_test):
        return np.full(len(X_test), 0.5)

    failures = {}
    curves = calibration_learning_curves(
        [50, 100, 200],
        n_features=2,
        n_classes=2,
        fits={"fails": fails, "coin": coin},
        n_test=100,
        failures=failures,
    )
    assert list(curves) == ["coin"] and [entry["n"] for entry in curves["coin"]] == [50, 100, 200]
    assert failures["fails"][0] == 100 and isinstance(failures["fails"][1], FloatingPointError)
    with pytest.raises(FloatingPointError, match="diverged"):
        calibration_learning_curves([100], n_features=2, n_classes=2, fits={"fails": fails}, n_test=100)


def test_a_model_fitted_up_to_max_rows_has_a_shorter_curve_and_the_terminal_line_compares_like_n():
    def coin(X, y, X_test):
        return np.full(len(X_test), 0.5)

    seen = []

    def capped(X, y, X_test):
        seen.append(len(X))
        return np.full(len(X_test), 0.5)

    curves = calibration_learning_curves(
        [50, 100, 200],
        n_features=2,
        n_classes=2,
        fits={calibration.FASTLOGIT: coin, "capped": capped},
        n_test=100,
        max_rows={"capped": 100},
    )
    assert seen == [50, 100] and [entry["n"] for entry in curves["capped"]] == [50, 100]
    assert [entry["n"] for entry in curves[calibration.FASTLOGIT]] == [50, 100, 200]
    # The peer's last entry (100 rows) is judged against fastlogit's on 100 rows, not 200.
    ours = [dict(entry) for entry in curves[calibration.FASTLOGIT]]
    ours[-1]["log_loss_fitted"] -= 0.5  # fastlogit far better at 200 rows only
    results = {
        "settings": {"n_classes": 3, "C": 1.0},
        "calibration": {"binary": ours, "n_test": 100, "peers": {"binary": {"capped": curves["capped"]}}},
    }
    assert "within" in accuracy_report.calibration_line(results)


def pretend_absent(monkeypatch, *modules):
    """``modules`` (and their submodules) look uninstalled to the peers' registry."""
    real = peers._import_error

    def import_error(module):
        if module.split(".")[0] in modules:
            return f"ModuleNotFoundError: No module named '{module}'"
        return real(module)

    monkeypatch.setattr(peers, "_import_error", import_error)


@pytest.fixture(scope="module")
def calibrated():
    """run_calibration on tiny data, every peer present, and glum and sklearnex absent."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(calibration, "N_TEST", 3000)
        present = run.run_calibration([300], 4)
        pretend_absent(monkeypatch, "glum", "sklearnex")
        absent = run.run_calibration([300], 4)
    return present, absent


def calibration_results(calibrated_section):
    return {"settings": {"n_classes": run.N_CLASSES, "C": run.C}, "calibration": calibrated_section}


def test_run_calibration_fits_every_importable_peer_beside_fastlogit(calibrated):
    present, _ = calibrated
    if any(user.absent() for user in USER_FITS.values()):
        pytest.skip("a peer library is not installed")
    section = present["peers"]
    assert list(section["binary"]) == ["scikit-learn", "glum", "scikit-learn-intelex"]
    assert list(section["multinomial"]) == ["scikit-learn", "scikit-learn-intelex"]
    assert section["skipped"] == {} and "binary only" in section["notes"]["glum"]
    assert section["models"]["scikit-learn"] == "sklearn.linear_model.LogisticRegression(C=1)"
    for key, K in (("binary", 2), ("multinomial", run.N_CLASSES)):
        for curve in section[key].values():
            (entry,) = curve
            assert entry["n"] == 300 and entry["n_classes"] == K and entry["n_test"] == 3000
            assert entry["log_loss_bayes"] == present[key][0]["log_loss_bayes"]
    json.dumps(present)  # results.json takes it as it is
    rows = accuracy_report.calibration_rows(calibration_results(present))
    assert [row[:3] for row in rows] == [
        ["binary", "300", "fastlogit"],
        ["binary", "300", "scikit-learn"],
        ["binary", "300", "glum"],
        ["binary", "300", "scikit-learn-intelex"],
        ["K=10", "300", "fastlogit"],
        ["K=10", "300", "scikit-learn"],
        ["K=10", "300", "scikit-learn-intelex"],
    ]
    blocks = accuracy_report.calibration_blocks(calibration_results(present))
    text = " ".join(block[1] for block in blocks if block[0] == "p")
    assert "glum: glum.GeneralizedLinearRegressor(family='binomial'" in text and "binary only" in text


def test_run_calibration_skips_an_absent_peer_saying_why_and_the_report_still_reads(calibrated):
    _, absent = calibrated
    section = absent["peers"]
    assert set(section["skipped"]) >= {"glum", "scikit-learn-intelex"}
    assert section["skipped"]["glum"].startswith("glum is not importable (ModuleNotFoundError")
    assert section["skipped"]["glum"].endswith(peers.PEERS_EXTRA)
    assert "glum" not in section["binary"] and "scikit-learn-intelex" not in section["multinomial"]
    assert absent["binary"][0]["n"] == 300  # fastlogit's curve as before
    results = calibration_results(absent)
    models = {row[2] for row in accuracy_report.calibration_rows(results)}
    assert "glum" not in models and "scikit-learn-intelex" not in models and "fastlogit" in models
    lines = [block[1] for block in accuracy_report.calibration_blocks(results) if block[0] == "p"]
    assert f"glum not fitted: {section['skipped']['glum']}" in lines


def test_no_peers_skips_every_peer_fit():
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(calibration, "N_TEST", 500)
        section = run.run_calibration([100], 2, peers=False)
    assert section["peers"]["skipped"] == {name: "skipped (--no-peers)" for name in USER_FITS}
    assert section["peers"]["binary"] == section["peers"]["multinomial"] == {}
    results = calibration_results(section)
    assert accuracy_report.peers_log_loss_text(results) == ""
    assert {row[2] for row in accuracy_report.calibration_rows(results)} == {"fastlogit"}


def test_the_terminal_line_names_the_peer_furthest_from_bayes_only_beyond_1e_3(calibrated):
    present, _ = calibrated
    results = calibration_results(json.loads(json.dumps(present)))
    peer_names = list(results["calibration"]["peers"]["binary"])
    if not peer_names:
        pytest.skip("no peer library is installed")
    ours = results["calibration"]["binary"][-1]["log_loss_fitted"]
    for name in peer_names:  # every peer's fit on fastlogit's: within 1e-3
        results["calibration"]["peers"]["binary"][name][-1]["log_loss_fitted"] = ours + 5e-4
    assert accuracy_report.calibration_line(results).endswith("; peers within 1e-3 of fastlogit's log-loss.")
    first = results["calibration"]["peers"]["binary"][peer_names[0]][-1]
    first["log_loss_fitted"] = ours + 0.02
    first["log_loss_gap"] = first["log_loss_fitted"] - first["log_loss_bayes"]
    line = accuracy_report.calibration_line(results)
    assert f"furthest from Bayes: {peer_names[0]} (binary: log-loss {ours + 0.02:.4f}, 2.0e-02 above" in line


# -- the plots --------------------------------------------------------------------------------------


def assert_drawn(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, path


def assert_legend_outside(fig, ax):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # the closed figure's canvas has none
    assert ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_reliability_plot_has_the_diagonal_a_title_labels_and_a_legend_outside(tmp_path, learning_curve):
    pytest.importorskip("matplotlib")
    from fastlogit.bench.accuracy_plots import reliability_plot

    series = {f"n = {row['n']}": row["reliability"] for row in learning_curve}
    path = tmp_path / "reliability.png"
    fig = reliability_plot(series, path, title="fastlogit, K = 3: fitted vs true posterior")
    assert_drawn(path)
    (ax,) = fig.axes
    assert ax.get_title() == "fastlogit, K = 3: fitted vs true posterior"
    assert "fitted probability" in ax.get_xlabel() and "true posterior" in ax.get_ylabel()
    diagonal = ax.get_lines()[0]
    assert list(diagonal.get_xdata()) == list(diagonal.get_ydata()) == [0, 1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "fitted = true (perfect)" and "n = 200: true posterior" in labels
    assert "n = 20000: observed frequency" in labels
    assert_legend_outside(fig, ax)
    with pytest.raises(ValueError, match="series"):
        reliability_plot({}, tmp_path / "empty.png", title="nothing")


def test_calibration_learning_plot_draws_both_gaps_against_n(tmp_path, learning_curve):
    pytest.importorskip("matplotlib")
    from fastlogit.bench.accuracy_plots import calibration_learning_plot

    path = tmp_path / "calibration_n.png"
    fig = calibration_learning_plot({"fastlogit": learning_curve}, path, title="K = 3, d = 5")
    assert_drawn(path)
    ax_loss, ax_diff = fig.axes
    assert fig.get_suptitle() == "K = 3, d = 5"
    assert ax_loss.get_title() and ax_diff.get_title()
    assert ax_loss.get_xlabel() == ax_diff.get_xlabel() == "training rows n"
    assert "excess log-loss" in ax_loss.get_ylabel() and "fitted - true" in ax_diff.get_ylabel()
    assert [t.get_text() for t in ax_diff.get_legend().get_texts()] == ["fastlogit"]
    assert list(ax_loss.get_lines()[0].get_xdata()) == [200, 2000, 20_000]
    assert_legend_outside(fig, ax_diff)


def test_reliability_grid_draws_one_line_per_model_in_each_panel_with_one_legend_outside(tmp_path):
    pytest.importorskip("matplotlib")
    from fastlogit.bench.accuracy_plots import reliability_grid

    X, y, coef, intercept = gaussian_classes(3000, 3, 2, seed=1)
    true = bayes_posterior(X, coef, intercept)
    bins = {
        name: calibration_summary(bayes_posterior(X, coef * scale, intercept), true, y)["reliability"]
        for name, scale in (("fastlogit", 1.0), ("scikit-learn", 0.8), ("glum", 1.2))
    }
    panels = {"binary, n=300": bins, "binary, n=3,000": {"fastlogit": bins["fastlogit"]}, "empty": {}}
    path = tmp_path / "grid.png"
    fig = reliability_grid(panels, path, title="one line per model", styles={"glum": {"color": "C7"}})
    assert_drawn(path)
    assert fig.get_suptitle() == "one line per model"
    assert [ax.get_title() for ax in fig.axes] == ["binary, n=300", "binary, n=3,000"]  # empty: no panel
    first, second = fig.axes
    for ax in fig.axes:
        assert "fitted probability" in ax.get_xlabel() and "true posterior" in ax.get_ylabel()
    # the diagonal, then a true-posterior and an observed-frequency line per model
    assert len(first.get_lines()) == 1 + 2 * 3 and len(second.get_lines()) == 1 + 2
    glum_line = next(line for line in first.get_lines() if line.get_label() == "glum: true posterior")
    assert glum_line.get_color() == "C7"
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == [
        "fitted = true (perfect)",
        *(f"{name}: {what}" for name in bins for what in ("true posterior", "observed frequency")),
    ]  # one entry per label, however many panels draw it

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    right = max(ax.get_window_extent(renderer).x1 for ax in fig.axes)
    assert legend.get_window_extent(renderer).x0 >= right
    with pytest.raises(ValueError, match="panels"):
        reliability_grid({"empty": {}}, tmp_path / "none.png", title="nothing")
