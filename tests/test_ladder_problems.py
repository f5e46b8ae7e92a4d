"""The peers section's float32 problem and its unpenalized fit timed with standard errors.

Each peer reaches fastlogit's optimum on them (judged in float64 by
:func:`fastlogit.bench.peers.objective_value`), the standard errors every
library reports agree with fastlogit's, and both problems run end to end in
a tiny suite (one worker process per library-solver: 1.5 to 2.5 s each).
A peer whose library is not installed is skipped with the reason.
"""

import functools
import math
import warnings

import numpy as np
import pytest

from fastlogit.bench import accuracy_report, equal_accuracy, ladder
from fastlogit.bench.ladder import reference_standard_errors, run_ladders, std_errors_gap, why_not
from fastlogit.bench.peers import PEERS, objective_value
from fastlogit.bench.problems import gaussian_classes, sparse_truth

#: The objective gap every solver must close at tight tolerance (relative).
RTOL = 1e-8
#: Far below any default: each solver stops on its own precision, not on its tolerance.
TIGHT_TOL = 1e-10
#: Tolerances float32 data do not let a solver meet: glum's IRLS compares a
#: gradient computed in float32 with ``gradient_tol`` and at 1e-8 or below runs to
#: its iteration limit (6 s for 100 iterations on 2 000 x 8); at 1e-6 it stops at
#: the optimum to 1e-13.  saga's coefficient-change rule at 1e-10 takes 1.8 s to
#: reach the point (1e-10 above the optimum) it reaches in 6 ms at 1e-6.
FLOAT32_TOLS = {"glum-irls-cd": 1e-6, "glum-irls-ls": 1e-6, "sklearn-saga": 1e-6}
#: L-BFGS-B on scikit-learn's float32 loss stops on its line search ~1.4e-8
#: above the optimum at any tolerance: short of 1e-8, well within the bench's
#: equal accuracy (1e-6).
FLOAT32_STALLS = {"sklearn-lbfgs"}
#: How far the standard errors of a fit at TIGHT_TOL may be from fastlogit's
#: (relative): the coefficients are within ~1e-8 of the optimum's.
SE_RTOL = 1e-6


def skip_if_absent(name):
    peer = PEERS[name]
    pytest.importorskip(peer.module, reason=f"{peer.distribution} is not installed ({peer.install})")


@functools.cache
def float32_problem():
    """``(X32, y, F*)``: 2 000 x 8 Gaussian classes rounded to float32, and the
    optimum of their (float64) objective by fastlogit's Newton on the float64 values."""
    from fastlogit import LogisticRegression

    X, y, _, _ = gaussian_classes(2000, 8, 2, seed=0)
    X32 = X.astype(np.float32)
    exact = X32.astype(np.float64)
    model = LogisticRegression(solver="newton", tol=1e-12, max_iter=100).fit(exact, y)
    assert model.converged_
    return X32, y, objective_value(exact, y, model.coef_, model.intercept_, 1.0, 0.0)


@functools.cache
def se_problem():
    """``(X, y, F*, standard errors)``: the unpenalized problem's data (its seed, small)."""
    from fastlogit import LogisticRegression

    X, y, _, _ = sparse_truth(1000, 6, n_nonzero=6, seed=equal_accuracy.SE_SEED)
    model = LogisticRegression(C=math.inf, solver="newton", tol=1e-12, max_iter=100).fit(X, y)
    assert model.converged_
    best = objective_value(X, y, model.coef_, model.intercept_, math.inf, 0.0)
    return X, y, best, reference_standard_errors(X, y)


def float32_solvers():
    """Every library-solver that fits the dense binary L2 problem (the float32 one's)."""
    flags = {"n_classes": 2, "C": 1.0, "l1_ratio": 0.0, "fit_intercept": True}
    return [name for name in ladder.library_solver_names(0.0) if why_not(name, **flags) is None]


def se_solvers():
    """Every library-solver that fits the unpenalized problem and reports standard errors."""
    flags = {"n_classes": 2, "C": math.inf, "l1_ratio": 0.0, "fit_intercept": True, "standard_errors": True}
    return [name for name in ladder.library_solver_names(0.0) if why_not(name, **flags) is None]


def fit(name, X, y, *, C, tol, standard_errors=False):
    """``(coef, intercept, std_errors or None)`` of library-solver ``name`` at ``tol``."""
    if name.startswith(ladder.FASTLOGIT_PREFIX):
        from fastlogit import LogisticRegression

        model = LogisticRegression(
            C=C, solver=name.removeprefix(ladder.FASTLOGIT_PREFIX), tol=tol, max_iter=1000
        )
        model.fit(X, y)
        se = model.inference(X, y).std_err if standard_errors else None
        return model.coef_, model.intercept_, se
    skip_if_absent(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # precision-limit warnings at tight tol: the objective judges
        result = PEERS[name].fit(
            X,
            y,
            C=C,
            l1_ratio=0.0,
            fit_intercept=True,
            tol=tol,
            max_iter=100 if name.startswith("glum") else 10_000,
            standard_errors=standard_errors,
        )
    return (*result, None) if not standard_errors else result


# -- float32 ---------------------------------------------------------------------------------


def test_every_solver_of_dense_binary_data_is_tried_on_float32():
    names = float32_solvers()
    assert {"fastlogit-auto", "sklearn-newton-cholesky", "glum-irls-cd", "sklearnex-lbfgs"} <= set(names)
    assert FLOAT32_STALLS <= set(names) and set(FLOAT32_TOLS) <= set(names)


@pytest.mark.parametrize("name", float32_solvers())
def test_every_solver_fed_float32_reaches_the_float64_optimum_of_those_values(name):
    X32, y, best = float32_problem()
    coef, intercept, _ = fit(name, X32, y, C=1.0, tol=FLOAT32_TOLS.get(name, TIGHT_TOL))
    value = objective_value(X32, y, coef, intercept, 1.0, 0.0)
    assert value >= best * (1 - 1e-13), (name, value, best)  # no fit beats the optimum
    gap = (value - best) / best
    if name in FLOAT32_STALLS:
        assert gap <= equal_accuracy.RTOL, (name, gap)
    else:
        assert gap <= RTOL, (name, gap)


def test_the_yardstick_judges_float32_data_by_their_float64_values():
    X32, y, _ = float32_problem()
    rng = np.random.default_rng(1)
    coef, intercept = rng.standard_normal((1, 8)), rng.standard_normal(1)
    exact = objective_value(X32.astype(np.float64), y, coef, intercept, 1.0, 0.0)
    assert objective_value(X32, y, coef, intercept, 1.0, 0.0) == exact


# -- standard errors --------------------------------------------------------------------------


def test_fastlogits_standard_errors_are_statsmodels_logit_bse():
    sm = pytest.importorskip("statsmodels.api", reason="statsmodels is not installed")
    X, y, _, reference = se_problem()
    result = sm.Logit(y, sm.add_constant(X)).fit(method="newton", tol=1e-10, disp=0)
    assert reference.shape == (X.shape[1] + 1,)  # the intercept's first, as add_constant puts it
    assert std_errors_gap(reference, result.bse) <= SE_RTOL


def test_standard_errors_are_asked_of_the_libraries_that_report_them_only():
    assert set(se_solvers()) == {
        "fastlogit-auto",
        "fastlogit-lbfgs",
        "fastlogit-newton",
        "glum-irls-cd",
        "glum-irls-ls",
        "glum-lbfgs",
        "statsmodels-newton",
    }
    flags = {"n_classes": 2, "C": math.inf, "l1_ratio": 0.0, "fit_intercept": True}
    assert why_not("sklearn-newton-cholesky", **flags, standard_errors=True) == (
        "sklearn-newton-cholesky reports no standard errors"
    )
    assert why_not("statsmodels-newton", **{**flags, "C": 1.0}) == (
        "statsmodels-newton fits only the unpenalized model (C=inf)"
    )
    X, y, _, _ = gaussian_classes(100, 2, 2, seed=0)
    with pytest.raises(ValueError, match=r"standard_errors .* unpenalized \(C=inf\) binary fits only"):
        run_ladders(X, y, ["fastlogit-auto"], C=1.0, standard_errors=True)


@pytest.mark.parametrize("name", se_solvers())
def test_every_solver_with_standard_errors_reaches_the_optimum_and_fastlogits_standard_errors(name):
    X, y, best, reference = se_problem()
    coef, intercept, se = fit(name, X, y, C=math.inf, tol=TIGHT_TOL, standard_errors=True)
    value = objective_value(X, y, coef, intercept, math.inf, 0.0)
    assert value >= best * (1 - 1e-13) and value - best <= RTOL * best, (name, value, best)
    # glum's own default would be robust and dispersion-scaled, and even its
    # non-robust errors carry n / (n - p): 3.5e-3 here, were the peer not to undo it.
    assert se.shape == reference.shape
    assert std_errors_gap(se, reference) <= SE_RTOL, (name, se, reference)


# -- the problems in the suite ----------------------------------------------------------------


def test_the_plans_add_a_float32_twin_of_dense_binary_and_an_unpenalized_fit_with_standard_errors():
    problems = equal_accuracy.peer_problems(
        equal_accuracy.PLANS["full"], max_rows=20_000, n_features=10, n_classes=3, seed=0, absent={}
    )
    by_key = {problem.key: (problem, description) for problem, description in problems}
    dense, _ = by_key["dense-binary"]
    single, description = by_key["dense-float32"]
    assert single.X.dtype == np.float32 and description["dtype"] == "float32"
    np.testing.assert_array_equal(single.X, dense.X.astype(np.float32))  # the same data, rounded
    np.testing.assert_array_equal(single.y, dense.y)
    assert single.names == tuple(ladder.library_solver_names(0.0))  # every peer in a full run
    se, description = by_key["unpenalized-se"]
    assert se.standard_errors and math.isinf(se.C) and se.X.shape == (20_000, 20)
    assert description["C"] is None and description["standard_errors"] and description["n_classes"] == 2
    quick = {
        problem.key: problem
        for problem, _ in equal_accuracy.peer_problems(
            equal_accuracy.PLANS["quick"], max_rows=10**6, n_features=10, n_classes=3, seed=0, absent={}
        )
    }
    assert quick["dense-float32"].names == equal_accuracy.QUICK_FLOAT32_NAMES
    assert quick["dense-float32"].X.shape == (5_000, 10)
    assert quick["unpenalized-se"].names == equal_accuracy.QUICK_SE_NAMES
    assert quick["unpenalized-se"].X.shape == (5_000, 10)


@pytest.fixture(scope="module")
def suite():
    """The two problems, tiny, down a two-rung ladder: three worker processes."""
    pytest.importorskip("statsmodels", reason="statsmodels is not installed")
    plan = {**equal_accuracy.PLANS["quick"], "tols": (1e-2, 1e-8), "dense_rows": 400, "se": (400, 4)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(equal_accuracy, "QUICK_SE_NAMES", ("fastlogit-auto", "statsmodels-newton"))
        problems = equal_accuracy.peer_problems(
            plan, max_rows=400, n_features=4, n_classes=3, seed=0, absent=equal_accuracy.absent_libraries()
        )
    problems = [(p, d) for p, d in problems if p.key in ("dense-float32", "unpenalized-se")]
    return equal_accuracy.run_peers(plan, problems, absent={}, threads=1)


def test_the_new_problems_appear_in_the_records_of_a_suite_run(suite):
    by_key = {problem["key"]: problem for problem in suite["problems"]}
    assert list(by_key) == ["dense-float32", "unpenalized-se"]
    single = by_key["dense-float32"]
    assert [r["name"] for r in single["records"]] == ["fastlogit-auto", "sklearn-newton-cholesky"]
    for name, accuracy in single["accuracy"].items():
        assert accuracy["seconds"] > 0 and accuracy["std_errors_gap"] is None, name
    se = by_key["unpenalized-se"]
    assert [r["name"] for r in se["records"]] == ["fastlogit-auto", "statsmodels-newton"]
    for record in se["records"]:
        assert record["skipped"] is None and len(record["rungs"]) == 2, record
        tight = record["rungs"][-1]
        # every timed fit brought its standard errors, judged against fastlogit's
        assert tight["std_errors_gap"] <= SE_RTOL, record["name"]
        # at equal accuracy (the objective within 1e-6) the coefficients, and so the
        # standard errors, are within ~sqrt(1e-6) of the optimum's
        accuracy = se["accuracy"][record["name"]]
        assert accuracy["seconds"] > 0 and accuracy["std_errors_gap"] <= 1e-2, accuracy


def test_the_report_shows_how_close_each_libraries_standard_errors_are(suite):
    results = {"peers": suite}
    se = suite["problems"][1]
    rows = {row[0]: row for row in accuracy_report.detail_rows(se)}
    assert rows["statsmodels-newton"][5].startswith("standard errors within ")
    assert rows["statsmodels-newton"][5].endswith(" of fastlogit's at the optimum")
    headline = {row[0]: row for row in accuracy_report.headline_rows(results)}
    assert headline["dense binary float32"][1] == "400 × 4, binary, dense float32"
    assert headline["unpenalized + standard errors"][1] == (
        "400 × 4, binary, dense, unpenalized, + standard errors"
    )
    peer = headline["unpenalized + standard errors"][3]
    assert peer.startswith("statsmodels-newton (SE gap ") and peer.endswith(")"), peer
    assert float(peer.removeprefix("statsmodels-newton (SE gap ")[:-1]) <= 1e-2, peer


def test_a_plan_gives_the_text_problem_its_own_ladder():
    own = {"tols": (1e-4, 1e-6), "budget_counts_warm_up": False, "timeout_s": 100.0}
    plan = {**equal_accuracy.PLANS["quick"], "sparse_ladder": own}
    problems = equal_accuracy.peer_problems(
        plan, max_rows=2_000, n_features=5, n_classes=3, seed=0, absent={}
    )
    by_key = {problem.key: (problem, description) for problem, description in problems}
    text, description = by_key["csr-text"]
    assert text.tols == (1e-4, 1e-6) and description["tols"] == [1e-4, 1e-6]
    assert text.overrides() == {"tols": [1e-4, 1e-6], "budget_counts_warm_up": False, "timeout_s": 100.0}
    dense, description = by_key["dense-binary"]
    assert dense.tols is None and "tols" not in description
    assert dense.overrides() == {"budget_counts_warm_up": True}
    from fastlogit.bench.accuracy_report import headline_note

    results = {
        "peers": {
            "settings": {"tols": [1e-2, 1e-8], "repeats": 1, "threads": None, "rtol": 1e-6},
            "problems": [{"title": "CSR text-like binary", "tols": [1e-4, 1e-6]}, {"title": "dense"}],
        }
    }
    assert headline_note(results).endswith("CSR text-like binary: its own ladder 0.0001, 1e-06.")
