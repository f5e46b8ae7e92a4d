"""Time to equal accuracy: the selection on hand-made ladders, one real ladder run in
worker processes, and the records that say why a library-solver did not run."""

import json
import math

import numpy as np
import pytest
from test_bench_report import FAKE_GLUM

from fastlogit.bench import ladder, ladder_worker
from fastlogit.bench.ladder import LadderRecord, Rung, convergence_curve, run_ladders, time_to_accuracy
from fastlogit.bench.peers import PEERS_EXTRA, objective_value
from fastlogit.bench.problems import gaussian_classes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def rung(tol, seconds, objective, converged=True):
    return Rung(tol, seconds, np.zeros((1, 2)), np.zeros(1), None, converged, objective=objective)


def hand_made_records():
    """Four library-solvers around a best objective of 2.0 (``F = 2 (1 + gap)``)."""
    return [
        LadderRecord(
            "fastlogit-auto",
            (rung(1e-2, 0.010, 2 * (1 + 1e-3)), rung(1e-4, 0.020, 2 * (1 + 7.5e-7)), rung(1e-6, 0.030, 2.0)),
        ),
        LadderRecord(
            "sklearn-lbfgs",
            (
                rung(1e-2, 0.005, 2 * (1 + 1e-2)),
                rung(1e-4, 0.050, 2 * (1 + 2e-6)),
                # A tighter rung timed faster than a looser one (noise): the fastest counts.
                rung(1e-6, 0.015, 2 * (1 + 1e-7), converged=False),
            ),
        ),
        LadderRecord(
            "glum-lbfgs",
            (
                rung(1e-2, 0.001, 2 * (1 + 1e-3)),
                rung(1e-6, 0.002, 2 * (1 + 1e-4)),
                rung(1e-8, 0.003, math.nan),
            ),
            stopped="budget_s=1 spent",
        ),
        LadderRecord("sklearnex-lbfgs", skipped="scikit-learn-intelex is not importable"),
    ]


# -- the selection -------------------------------------------------------------------------


def test_time_to_accuracy_takes_the_fastest_rung_within_rtol_of_the_best_objective():
    accuracy = time_to_accuracy(hand_made_records(), rtol=1e-6)
    assert list(accuracy) == ["fastlogit-auto", "sklearn-lbfgs", "glum-lbfgs", "sklearnex-lbfgs"]
    # The gap is relative: 1.5e-6 above F* = 2 is 7.5e-7 relative, within 1e-6.
    fastlogit = accuracy["fastlogit-auto"]
    assert (fastlogit.seconds, fastlogit.tol) == (0.020, 1e-4)
    assert fastlogit.gap == pytest.approx(7.5e-7, rel=1e-6) and fastlogit.reason is None
    # 2e-6 relative at tol 1e-4 is not equal accuracy; the 1e-6 rung is, and was faster;
    # its library's "not converged" does not matter, its objective does.
    sklearn = accuracy["sklearn-lbfgs"]
    assert (sklearn.seconds, sklearn.tol) == (0.015, 1e-6)


def test_a_library_that_never_gets_there_has_no_time_and_says_how_close_it_came():
    accuracy = time_to_accuracy(hand_made_records(), rtol=1e-6)
    glum = accuracy["glum-lbfgs"]
    assert glum.seconds is None and glum.tol is None
    assert glum.gap == pytest.approx(1e-4, rel=1e-9)  # the NaN rung is ignored
    assert (
        glum.reason.startswith("closest: 1.0e-04 relative above the best at tol=1e-06;")
        and "budget_s=1 spent" in glum.reason
    )
    skipped = accuracy["sklearnex-lbfgs"]
    assert skipped.seconds is None and skipped.gap is None
    assert skipped.reason == "skipped: scikit-learn-intelex is not importable"


def test_a_looser_rtol_takes_a_looser_faster_rung():
    accuracy = time_to_accuracy(hand_made_records(), rtol=2e-2)
    assert accuracy["sklearn-lbfgs"].seconds == 0.005
    assert accuracy["glum-lbfgs"].seconds == 0.001


def test_convergence_curve_is_time_sorted_gaps_to_the_best_objective():
    curves = convergence_curve(hand_made_records())
    assert list(curves) == ["fastlogit-auto", "sklearn-lbfgs", "glum-lbfgs"]  # skipped: no points
    sklearn = curves["sklearn-lbfgs"]
    assert [s for s, _ in sklearn] == [0.005, 0.015, 0.050]
    np.testing.assert_allclose([g for _, g in sklearn], [1e-2, 1e-7, 2e-6], rtol=1e-8)
    assert curves["fastlogit-auto"][-1] == (0.030, 0.0)
    assert len(curves["glum-lbfgs"]) == 2  # the NaN objective is not a point


def test_records_without_any_finite_objective_give_no_times_and_no_curves():
    records = [
        LadderRecord("sklearn-lbfgs", (rung(1e-4, 0.1, math.nan),)),
        LadderRecord("glum-lbfgs", skipped="x"),
    ]
    accuracy = time_to_accuracy(records)
    assert accuracy["sklearn-lbfgs"].seconds is None
    assert accuracy["sklearn-lbfgs"].reason == "no rung with a finite objective"
    assert convergence_curve(records) == {}
    with pytest.raises(ValueError, match="records: no rung has a finite objective"):
        ladder.best_objective(records)


def test_unevaluated_rungs_and_bad_rtol_are_refused():
    unevaluated = [LadderRecord("fastlogit-auto", (rung(1e-4, 0.1, None),))]
    with pytest.raises(ValueError, match="records: .*fastlogit-auto.*no objective"):
        time_to_accuracy(unevaluated)
    for rtol in (0, -1e-6, math.inf, "1e-6"):
        with pytest.raises(ValueError, match="rtol"):
            time_to_accuracy(hand_made_records(), rtol=rtol)


# -- which library-solvers run -----------------------------------------------------------------


def test_every_library_solver_is_listed_and_proximal_only_with_an_l1_term():
    l2 = ladder.library_solver_names(0.0)
    assert l2[0] == ladder.FASTLOGIT_DEFAULT
    assert "fastlogit-proximal" not in l2 and "sklearn-newton-cholesky" in l2 and "glum-irls-cd" in l2
    assert "fastlogit-proximal" in ladder.library_solver_names(1.0)


def test_library_solvers_that_do_not_solve_the_problem_are_skipped_without_a_process(monkeypatch):
    def no_worker(*args, **kwargs):
        raise AssertionError("a worker was started for a library-solver that cannot run")

    monkeypatch.setattr(ladder, "_run_worker", no_worker)
    X, y, _, _ = gaussian_classes(300, 3, 3, seed=1)
    done = []
    records = run_ladders(
        X,
        y,
        ["glum-irls-cd", "sklearn-liblinear", "fastlogit-lbfgs"],
        l1_ratio=1.0,
        C=0.5,
        sample_weight=np.ones(len(y)),
        progress=done.append,
    )
    assert (
        [r.name for r in records]
        == [r.name for r in done]
        == ["glum-irls-cd", "sklearn-liblinear", "fastlogit-lbfgs"]
    )
    assert all(not r.rungs for r in records)
    assert records[0].skipped == "glum-irls-cd fits no multinomial model"
    assert records[1].skipped == "sklearn-liblinear fits no multinomial model"
    assert "supports only the L2 penalty" in records[2].skipped
    X2, y2, _, _ = gaussian_classes(300, 3, 2, seed=1)
    (record,) = run_ladders(X2, y2, ["sklearnex-lbfgs"], sample_weight=np.ones(len(y2)))
    assert record.skipped == "sklearnex-lbfgs takes no sample weights on its own path"
    assert (
        time_to_accuracy(records)["glum-irls-cd"].reason == "skipped: glum-irls-cd fits no multinomial model"
    )


@pytest.mark.parametrize(
    ("options", "argument"),
    [
        ({"names": ["sklearn-sgd"]}, "names"),
        ({"names": ["fastlogit-sgd"]}, "names"),
        ({"tols": []}, "tols"),
        ({"tols": [1e-4, 0.0]}, "tols"),
        ({"tols": [1e-4, math.nan]}, "tols"),
        ({"tols": [1e-4, 1e-4]}, "tols"),
        ({"tols": ["tight"]}, "tols"),
        ({"repeats": 0}, "repeats"),
        ({"repeats": 1.5}, "repeats"),
        ({"max_iter": 0}, "max_iter"),
        ({"budget_s": 0}, "budget_s"),
        ({"timeout_s": -1}, "timeout_s"),
        ({"y": np.zeros(3)}, "y"),
        ({"sample_weight": np.ones(3)}, "sample_weight"),
        ({"X": [[1.0, 2.0]]}, "X"),
    ],
)
def test_bad_settings_are_refused_naming_the_argument(options, argument):
    X, y, _, _ = gaussian_classes(50, 2, 2, seed=0)
    arguments = {"X": X, "y": y, "names": ["sklearn-lbfgs"], **options}
    with pytest.raises(ValueError, match=argument):
        run_ladders(arguments.pop("X"), arguments.pop("y"), **arguments)


# -- the worker, in this process ------------------------------------------------------------------


def worker_spec(tmp_path, X, y, name="sklearn-lbfgs", **settings):
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    spec = {
        "name": name,
        "X": str(tmp_path / "X.npy"),
        "X_format": "dense",
        "y": str(tmp_path / "y.npy"),
        "sample_weight": None,
        "C": 1.0,
        "l1_ratio": 0.0,
        "fit_intercept": True,
        "tols": [1e-2, 1e-4, 1e-6],
        "repeats": 2,
        "max_iter": 100,
        "budget_s": None,
    }
    spec.update(settings)
    return spec


def test_a_fit_that_fails_is_a_skipped_result_not_an_exception(tmp_path):
    X, _, _, _ = gaussian_classes(100, 3, 2, seed=0)
    result = ladder_worker.run(worker_spec(tmp_path, X, np.zeros(100)), tmp_path)
    assert result["rungs"] == []
    assert result["skipped"].startswith("the warm-up fit at tol=0.01 failed: ValueError:")
    assert "at least two classes" in result["skipped"]
    assert json.loads((tmp_path / ladder_worker.RESULT).read_text()) == result


def test_the_worker_command_wants_a_spec_and_a_folder(capsys):
    assert ladder_worker.main([]) == 2
    assert "usage: python -m fastlogit.bench.ladder_worker SPEC OUT" in capsys.readouterr().err


def test_the_budget_stops_the_ladder_after_the_first_rung(tmp_path):
    X, y, _, _ = gaussian_classes(200, 3, 2, seed=0)
    result = ladder_worker.run(worker_spec(tmp_path, X, y, budget_s=1e-9), tmp_path)
    assert [r["tol"] for r in result["rungs"]] == [1e-2]
    assert len(result["rungs"][0]["times_s"]) == 2 and result["warm_up_s"] > 0
    assert (
        result["stopped"].startswith("budget_s=1e-09 spent") and "tol <= 0.0001 not run" in result["stopped"]
    )
    with np.load(tmp_path / ladder_worker.rung_file(0)) as saved:
        assert saved["coef"].shape == (1, 3) and saved["intercept"].shape == (1,)


@pytest.mark.parametrize(
    ("name", "warm_tols"), [("fastlogit-auto", [1e-2, 1e-6]), ("sklearn-newton-cg", [1e-2])]
)
def test_warm_up_fits_reach_the_kernels_of_both_ends_of_fastlogits_ladder(
    tmp_path, monkeypatch, name, warm_tols
):
    # Which kernels a fastlogit fit loads depends on tol (a Newton polish at a loose
    # one, lbfgs then Newton at a tight one): it warms up at both ends, a peer at the
    # loose end only.  Then every rung is timed `repeats` times, loosest first.
    calls = []

    def make_fit(name, **settings):
        def fit(X, y, sample_weight, tol):
            calls.append(tol)
            return {
                "coef": np.zeros((1, 3)),
                "intercept": np.zeros(1),
                "n_iter": 1,
                "converged": True,
                "solver": "fake",
                "messages": [],
            }

        return fit

    monkeypatch.setattr(ladder_worker, "make_fit", make_fit)
    X, y, _, _ = gaussian_classes(50, 3, 2, seed=0)
    result = ladder_worker.run(worker_spec(tmp_path, X, y, name=name, tols=[1e-6, 1e-2, 1e-4]), tmp_path)
    assert calls == [*warm_tols, 1e-2, 1e-2, 1e-4, 1e-4, 1e-6, 1e-6]
    assert [r["tol"] for r in result["rungs"]] == [1e-2, 1e-4, 1e-6]


def test_the_worker_says_why_a_peer_is_not_converged(tmp_path):
    X, y, _, _ = gaussian_classes(500, 4, 2, seed=0)
    X = X * np.array([1.0, 1e3, 1e-3, 1.0])  # raw-looking columns: lbfgs needs more than 2 iterations
    result = ladder_worker.run(worker_spec(tmp_path, X, y, max_iter=2, tols=[1e-8], repeats=1), tmp_path)
    (entry,) = result["rungs"]
    assert entry["converged"] is False and entry["n_iter"] is None
    assert any(line.startswith("ConvergenceWarning:") for line in entry["messages"])


# -- real ladders, each library-solver in its own process --------------------------------------------


@pytest.fixture(scope="module")
def small_problem():
    X, y, _, _ = gaussian_classes(2000, 5, 2, seed=7)
    return X, y


@pytest.fixture(scope="module")
def real_records(small_problem):
    X, y = small_problem
    return run_ladders(X, y, ["fastlogit-auto", "sklearn-lbfgs"], tols=(1e-8, 1e-2, 1e-5), repeats=1)


def test_a_real_ladder_runs_every_rung_loosest_first(real_records):
    for record in real_records:
        assert record.skipped is None and record.stopped is None, record
        assert [r.tol for r in record.rungs] == [1e-2, 1e-5, 1e-8]
        for r in record.rungs:
            assert r.seconds > 0 and len(r.times_s) == 1 and math.isfinite(r.objective)
            assert r.coef.shape == (1, 5) and r.intercept.shape == (1,)
        assert record.warm_up_s > 0
    fastlogit, sklearn = real_records
    assert fastlogit.library == "fastlogit" and sklearn.library == "scikit-learn"
    assert all(isinstance(r.n_iter, int) and r.n_iter >= 1 for r in fastlogit.rungs)
    assert all(r.n_iter is None for r in sklearn.rungs)
    assert fastlogit.rungs[-1].converged and sklearn.rungs[-1].converged


def test_a_real_ladder_is_judged_by_the_independent_objective(small_problem, real_records):
    from fastlogit import LogisticRegression

    X, y = small_problem
    reference = LogisticRegression(solver="newton", tol=1e-12, max_iter=100).fit(X, y)
    best = objective_value(X, y, reference.coef_, reference.intercept_, 1.0, 0.0)
    for record in real_records:
        tight = record.rungs[-1]
        assert tight.objective == objective_value(X, y, tight.coef, tight.intercept, 1.0, 0.0)
        assert abs(tight.objective - best) <= 1e-10 * best, record.name
        np.testing.assert_allclose(tight.coef, reference.coef_, rtol=0, atol=1e-5)
        assert record.rungs[0].objective >= tight.objective * (1 - 1e-14)
    accuracy = time_to_accuracy(real_records)
    assert all(a.seconds is not None and a.gap <= ladder.RTOL for a in accuracy.values()), accuracy
    curves = convergence_curve(real_records)
    assert set(curves) == {"fastlogit-auto", "sklearn-lbfgs"}
    for points in curves.values():
        assert [s for s, _ in points] == sorted(s for s, _ in points) and min(g for _, g in points) >= 0
    json.dumps([record.as_dict() for record in real_records])  # what a report stores


def test_an_absent_peer_library_is_a_skipped_record_with_the_install_line(tmp_path, small_problem):
    # A glum that fails to import, first on the worker's path: what a machine without glum sees.
    fake = tmp_path / "fake" / "glum"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no glum on this machine')\n")
    X, y = small_problem
    (record,) = run_ladders(X, y, ["glum-irls-cd"], tols=(1e-4,), env={"PYTHONPATH": str(tmp_path / "fake")})
    assert not record.rungs and record.stopped is None
    assert record.skipped.startswith("glum is not importable (ImportError: no glum on this machine)")
    assert record.skipped.endswith(PEERS_EXTRA)


def test_a_worker_past_its_timeout_is_a_skipped_record(small_problem):
    X, y = small_problem
    (record,) = run_ladders(X, y, ["sklearn-lbfgs"], tols=(1e-4,), timeout_s=0.01)
    assert record.skipped == "the worker timed out after timeout_s=0.01 s" and not record.rungs


# -- the plot ------------------------------------------------------------------------------------------


def test_convergence_plot_is_log_log_with_title_labels_and_a_legend_outside_the_axes(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from fastlogit.bench.accuracy_plots import GAP_FLOOR, convergence_plot

    records = hand_made_records()
    path = tmp_path / "convergence.png"
    fig = convergence_plot(
        convergence_curve(records), path, title="binary 2000 x 5", skipped=["sklearnex-lbfgs"]
    )
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    (ax,) = fig.axes
    assert ax.get_title() == "binary 2000 x 5"
    assert "time" in ax.get_xlabel() and "objective gap" in ax.get_ylabel()
    assert ax.get_xscale() == ax.get_yscale() == "log"
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["fastlogit-auto", "sklearn-lbfgs", "glum-lbfgs", "equal accuracy (1e-06)"]
    renderer = FigureCanvasAgg(fig).get_renderer()  # the closed figure's canvas has none
    assert legend.get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1  # covers no line
    fastlogit_line = ax.get_lines()[0]
    assert min(fastlogit_line.get_ydata()) == GAP_FLOOR  # the gap of 0, drawn on the log axis
    assert any("sklearnex-lbfgs" in t.get_text() for t in fig.texts)
    with pytest.raises(ValueError, match="curves"):
        convergence_plot({"sklearn-lbfgs": []}, tmp_path / "empty.png", title="nothing")


# -- a problem's own ladder settings --------------------------------------------------------


def test_a_problem_has_its_own_ladder_and_timeout(tmp_path):
    fake = tmp_path / "fake" / "glum"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_GLUM)  # hangs on 302 rows
    problems = []
    for n, own in ((300, {"tols": (1e-5, 1e-3)}), (302, {"timeout_s": 3.0}), (303, {})):
        X, y, _, _ = gaussian_classes(n, 3, 2, seed=n)
        problems.append(ladder.LadderProblem(f"n{n}", X, y, names=("glum-irls-cd",), **own))
    records = ladder.run_ladder_suite(
        problems, tols=(1e-2, 1e-4), repeats=1, timeout_s=120.0, env={"PYTHONPATH": str(tmp_path / "fake")}
    )
    (own_ladder,), (hung,), (plain,) = records.values()
    assert [rung.tol for rung in own_ladder.rungs] == [1e-3, 1e-5]  # its own, loosest first
    assert hung.skipped == "the worker timed out after timeout_s=3 s"  # not the suite's 120
    assert [rung.tol for rung in plain.rungs] == [1e-2, 1e-4]


@pytest.mark.parametrize(
    ("own", "message"),
    [
        ({"tols": (1e-2, 1e-2)}, "problem 'p': tols must not repeat"),
        ({"tols": (0.0,)}, "problem 'p': tols must be finite"),
        ({"budget_s": -1.0}, "problem 'p': budget_s must be None or seconds > 0"),
        ({"timeout_s": 0}, "problem 'p': timeout_s must be None or seconds > 0"),
    ],
)
def test_a_problems_own_settings_are_checked_before_any_worker_starts(own, message):
    X, y, _, _ = gaussian_classes(50, 2, 2, seed=0)
    with pytest.raises(ValueError, match=message):
        ladder.run_ladder_suite(
            [ladder.LadderProblem("p", X, y, names=("sklearn-lbfgs",), **own)], tols=(1e-2,)
        )


@pytest.mark.parametrize("counts", [True, False])
def test_the_budget_leaves_out_the_warm_up_where_a_problem_asks(tmp_path, monkeypatch, counts):
    # Warm-up fits that take 10 s and rungs of 0.1 s, a budget of 1 s: counted, the
    # warm-up ends the ladder after its first rung; not counted, every rung runs.
    calls = []
    original = ladder_worker.timed

    def timed(fit, repeats, limit_s=None):
        times, outcome = original(fit, repeats, limit_s)
        calls.append(1)
        return [10.0 if len(calls) <= 2 else 0.1] * len(times), outcome

    monkeypatch.setattr(ladder_worker, "timed", timed)
    X, y, _, _ = gaussian_classes(200, 3, 2, seed=0)
    spec = worker_spec(
        tmp_path, X, y, name="fastlogit-auto", repeats=1, budget_s=1.0, budget_counts_warm_up=counts
    )
    result = ladder_worker.run(spec, tmp_path)
    assert result["warm_up_s"] == 20.0  # fastlogit warms up at the loosest and the tightest rung
    if counts:
        assert [r["tol"] for r in result["rungs"]] == [1e-2]
        assert "warm-up included" in result["stopped"]
    else:
        assert [r["tol"] for r in result["rungs"]] == [1e-2, 1e-4, 1e-6] and result.get("stopped") is None
