"""``fastlogit bench``'s report: the headline, the peers section (peers present and
absent), the calibration section, plots that fit their data, the machine block.

The runs are tiny (200 rows, 5 features, the quick ladder) with few
library-solvers (each is a process: 1.5 to 2.5 s of start-up); an absent peer
library is simulated by :func:`fastlogit.bench.equal_accuracy.installed`
saying it is not there.  Nothing here judges a speed.
"""

import contextlib
import html
import io
import json

import numpy as np
import pytest

from fastlogit.__main__ import main
from fastlogit.bench import (
    accuracy_report,
    equal_accuracy,
    ladder_worker,
    machine,
    peers,
    plots,
    report,
    run,
    timing,
)
from fastlogit.bench.calibration import USER_FITS
from fastlogit.bench.ladder import LadderProblem, run_ladder_suite
from fastlogit.bench.peers import PEERS_EXTRA
from fastlogit.bench.problems import gaussian_classes, real_data, sparse_truth, text_like

pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TINY = ["--quick", "--sizes", "200", "--repeats", "2", "--features", "5", "--no-progress", "--no-dask"]
PROBLEMS = [
    "dense-binary",
    "dense-float32",
    "dense-K10",
    "csr-text",
    "l1-sparse-truth",
    "unpenalized-se",
    "breast-cancer",
    "wine",
]
TITLES = [
    "dense binary",
    "dense binary float32",
    "dense softmax K=10",
    "CSR text-like binary",
    "L1, sparse truth",
    "unpenalized + standard errors",
    "breast cancer (raw)",
    "wine (raw)",
]
FILES = [
    "results.json",
    "report.md",
    "report.html",
    "speedup.png",
    "fits.png",
    "memory.png",
    "reliability.png",
    "calibration.png",
    *[f"convergence-{key}.png" for key in PROBLEMS],
]


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    assert len(data) > 5000, path  # a drawn figure, not an empty canvas


def bench(out, *, l2_names, l1_names, missing=()):
    """``fastlogit bench`` on TINY with these quick library-solvers (the L2 ones on
    the float32 problem too, the L1 ones on the standard-errors problem: no worker
    beyond theirs), the modules in ``missing`` looking uninstalled (to the peers
    section and to the calibration section's in-process fits); returns
    (stdout, results)."""
    real = equal_accuracy.installed
    real_import_error = peers._import_error

    def import_error(module):
        if module.split(".")[0] in missing:
            return f"ModuleNotFoundError: No module named '{module}'"
        return real_import_error(module)

    stdout = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(stdout):
        patch.setattr(equal_accuracy, "QUICK_L2_NAMES", l2_names)
        patch.setattr(equal_accuracy, "QUICK_L1_NAMES", l1_names)
        patch.setattr(equal_accuracy, "QUICK_FLOAT32_NAMES", l2_names)
        patch.setattr(equal_accuracy, "QUICK_SE_NAMES", l1_names)
        patch.setattr(equal_accuracy, "installed", lambda module: module not in missing and real(module))
        patch.setattr(peers, "_import_error", import_error)
        patch.setattr(timing, "SETTLE_S", 0.0)  # the kernels' timings are not under test here
        assert main(["bench", *TINY, "--threads", "1", "--out", str(out)]) == 0
    return stdout.getvalue(), json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def peer_run(tmp_path_factory):
    """fastlogit's default and scikit-learn's newton-cholesky: two worker processes."""
    out = tmp_path_factory.mktemp("peers")
    stdout, results = bench(
        out, l2_names=("fastlogit-auto", "sklearn-newton-cholesky"), l1_names=("fastlogit-auto",)
    )
    return out, stdout, results


@pytest.fixture(scope="module")
def absent_run(tmp_path_factory):
    """glum and scikit-learn-intelex look uninstalled: only fastlogit's process starts."""
    out = tmp_path_factory.mktemp("absent")
    stdout, results = bench(
        out,
        l2_names=("fastlogit-auto", "glum-irls-cd", "sklearnex-lbfgs"),
        l1_names=("fastlogit-auto", "glum-irls-cd"),
        missing=("glum", "sklearnex"),
    )
    return out, stdout, results


# -- every output file, peers present and absent ---------------------------------------------


def test_every_output_file_is_written_with_peers_present(peer_run):
    out, _, results = peer_run
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    for name in FILES:
        if name.endswith(".png"):
            assert_png(out / name)
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for name in FILES[3:]:
        assert f"]({name})" in md and f"src='{name}'" in page, name
    assert results["peers"]["absent"] == {}


def test_every_output_file_is_written_with_peers_absent_and_each_says_how_to_install(absent_run):
    out, stdout, results = absent_run
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    # said before the measurements, once per library, with what installs it
    first = stdout.splitlines()[:2]
    assert first == [
        f"glum is not installed: glum-irls-cd, glum-irls-ls, glum-lbfgs skipped; {PEERS_EXTRA}",
        f"scikit-learn-intelex is not installed: sklearnex-lbfgs skipped; {PEERS_EXTRA}",
    ]
    assert set(results["peers"]["absent"]) == {"glum", "scikit-learn-intelex"}
    for problem in results["peers"]["problems"]:
        records = {r["name"]: r for r in problem["records"]}
        assert records["fastlogit-auto"]["skipped"] is None and records["fastlogit-auto"]["rungs"]
        assert records["glum-irls-cd"]["skipped"] in (
            f"glum is not installed; {PEERS_EXTRA}",
            "glum-irls-cd fits no multinomial model",
        )
        if "sklearnex-lbfgs" in records and problem["format"] == "dense":
            assert (
                records["sklearnex-lbfgs"]["skipped"]
                == f"scikit-learn-intelex is not installed; {PEERS_EXTRA}"
            )
    md = (out / "report.md").read_text(encoding="utf-8")
    page = (out / "report.html").read_text(encoding="utf-8")
    for line in results["peers"]["absent"].values():
        assert line in md and html.escape(line) in page and line in stdout
    headline = {row[0]: row for row in accuracy_report.headline_rows(results)}
    assert headline["dense binary"][3] == "no peer ran" and headline["dense binary"][5] == "–"
    # the calibration section fits no absent library either, and says why
    skipped = results["calibration"]["peers"]["skipped"]
    assert set(skipped) >= {"glum", "scikit-learn-intelex"}
    for name in ("glum", "scikit-learn-intelex"):
        assert name not in results["calibration"]["peers"]["binary"]
        assert f"{name} not fitted: {skipped[name]}" in md and skipped[name].endswith(PEERS_EXTRA)
    models = {row[2] for row in accuracy_report.calibration_rows(results)}
    assert "fastlogit" in models and not models & {"glum", "scikit-learn-intelex"}


# -- what results.json holds ------------------------------------------------------------------------


def test_results_hold_each_problems_records_times_to_accuracy_and_curves(peer_run):
    _, _, results = peer_run
    peers = results["peers"]
    assert peers["settings"]["tols"] == list(equal_accuracy.PLANS["quick"]["tols"])
    assert peers["settings"]["threads"] == 1 and peers["settings"]["rtol"] == 1e-6
    assert [p["key"] for p in peers["problems"]] == PROBLEMS
    assert [p["title"] for p in peers["problems"]] == TITLES
    by_key = {p["key"]: p for p in peers["problems"]}
    assert (by_key["dense-binary"]["n"], by_key["dense-binary"]["d"]) == (200, 5)  # capped by --sizes
    assert by_key["dense-K10"]["n_classes"] == 10 and by_key["wine"]["n_classes"] == 3
    assert by_key["csr-text"]["format"] == "CSR" and by_key["l1-sparse-truth"]["l1_ratio"] == 1.0
    assert (by_key["breast-cancer"]["n"], by_key["breast-cancer"]["d"]) == (569, 30)
    for problem in peers["problems"]:
        names = [r["name"] for r in problem["records"]]
        expected = (
            ["fastlogit-auto"]
            if problem["l1_ratio"] or problem["standard_errors"]
            else ["fastlogit-auto", "sklearn-newton-cholesky"]
        )
        assert names == expected == list(problem["accuracy"])
        ours = problem["accuracy"]["fastlogit-auto"]
        assert ours["seconds"] > 0 and ours["gap"] <= 1e-6, problem["key"]
        assert set(problem["curves"]) == set(names)
        for points in problem["curves"].values():
            assert [s for s, _ in points] == sorted(s for s, _ in points)
        assert problem["best_objective"] == min(
            rung["objective"] for record in problem["records"] for rung in record["rungs"]
        )
    assert set(results["sections_s"]) == {"kernels, fits, SGD, out of core, Dask", "peers", "calibration"}


def test_the_calibration_section_compares_every_default_fit_with_the_bayes_posterior(peer_run):
    out, stdout, results = peer_run
    calibration = results["calibration"]
    assert calibration["sizes"] == [200] and calibration["n_test"] == 20_000
    for key, K in (("binary", 2), ("multinomial", 10)):
        for entry in calibration[key]:
            assert entry["n_classes"] == K and entry["n_test"] == 20_000
            # no fitted model beats the truth on 20 000 held-out rows
            assert entry["excess_log_loss"] > 0
            assert entry["roc_auc_fitted"] <= entry["roc_auc_bayes"] + 1e-3
            assert 0 < entry["mean_abs_diff"] <= entry["max_abs_diff"] < 1
    importable = [name for name, user in USER_FITS.items() if user.absent() is None]
    multinomial = [name for name in importable if not USER_FITS[name].binary_only]
    assert list(calibration["peers"]["binary"]) == importable
    assert list(calibration["peers"]["multinomial"]) == multinomial
    for key in ("binary", "multinomial"):
        for curve in calibration["peers"][key].values():
            assert [entry["n"] for entry in curve] == [200]
            assert curve[0]["log_loss_bayes"] == calibration[key][0]["log_loss_bayes"]  # the same rows
    rows = accuracy_report.calibration_rows(results)
    assert [row[:3] for row in rows] == [
        *(["binary", "200", name] for name in ["fastlogit", *importable]),
        *(["K=10", "200", name] for name in ["fastlogit", *multinomial]),
    ]
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md[md.index("## The fitted probabilities") : md.index("## Same-run comparisons")]
    for row in rows:
        assert "| " + " | ".join(row) + " |" in section
    for name, model in calibration["peers"]["models"].items():
        assert f"{name}: {model}" in section
    if "glum" in importable:
        assert "binary only" in section
    assert "peers within 1e-3" in stdout or "furthest from Bayes" in stdout


# -- the headline -----------------------------------------------------------------------------------


def test_the_headline_opens_the_terminal_summary_and_the_report(peer_run):
    out, stdout, results = peer_run
    rows = accuracy_report.headline_rows(results)
    assert [row[0] for row in rows] == TITLES
    for row in rows:
        assert row[2].endswith("s")  # fastlogit's time to equal accuracy, with its unit
    by_title = {row[0]: row for row in rows}
    assert by_title["L1, sparse truth"][3] == "no peer ran"
    summary = stdout[stdout.index("Time to equal accuracy") :]
    assert summary.splitlines()[1].split() == [
        "problem",
        "data",
        "fastlogit",
        "(auto)",
        "fastest",
        "peer",
        "its",
        "time",
        "peer",
        "/",
        "fastlogit",
        "fastlogit's",
        "objective",
        "gap",
    ]
    assert summary.index("Fitted probabilities") < summary.index("family")  # before the old tables
    md = (out / "report.md").read_text(encoding="utf-8")
    first_table = md.index("| problem | data | fastlogit (auto) |")
    assert first_table < md.index("CPU:") < md.index("## Time to equal accuracy")
    assert md.index("## Time to equal accuracy") < md.index("## The fitted probabilities")
    assert md.index("## The fitted probabilities") < md.index("## Same-run comparisons")
    for row in rows:
        assert "| " + " | ".join(row) + " |" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.index("<table>") < page.index("CPU:")
    assert "BLAS:" in md and "OpenMP:" in md


def peer_problem(accuracy, records=None, **description):
    """A problem of results["peers"]["problems"], by hand."""
    names = list(accuracy)
    records = records or [{"name": name, "skipped": None, "rungs": []} for name in names]
    return {
        "key": "p",
        "title": "dense binary",
        "data": "test",
        "n": 1000,
        "d": 10,
        "n_classes": 2,
        "format": "dense",
        "nnz": 10_000,
        "C": 1.0,
        "l1_ratio": 0.0,
        "records": records,
        "curves": {},
        "accuracy": {
            name: {"seconds": s, "tol": None if s is None else 1e-6, "gap": g, "reason": None if s else "x"}
            for name, (s, g) in accuracy.items()
        },
        **description,
    }


def hand_made(problems):
    settings = {"tols": [1e-2, 1e-6], "repeats": 1, "rtol": 1e-6, "threads": None, "quick": True}
    return {
        "settings": {"n_classes": 10},
        "peers": {"settings": settings, "absent": {}, "problems": problems},
    }


def test_headline_rows_name_the_fastest_peer_and_the_ratio_to_fastlogits_default():
    problem = peer_problem(
        {
            "fastlogit-auto": (0.020, 3e-9),
            "fastlogit-newton": (0.010, 0.0),  # faster, but not the default: the headline is the default
            "sklearn-lbfgs": (0.050, 1e-7),
            "sklearn-newton-cholesky": (0.030, 2e-8),
            "glum-irls-cd": (None, 4e-5),
        }
    )
    (row,) = accuracy_report.headline_rows(hand_made([problem]))
    assert row == [
        "dense binary",
        "1,000 × 10, binary, dense",
        "20.00 ms",
        "sklearn-newton-cholesky",
        "30.00 ms",
        "1.50×",
        "3.0e-09",
    ]
    top = equal_accuracy.headline(problem)
    assert top["fastest_fastlogit"] == "fastlogit-newton" and top["peers_run"] == 3


def test_headline_rows_say_when_fastlogit_or_every_peer_falls_short():
    problem = peer_problem(
        {"fastlogit-auto": (None, 2e-5), "sklearn-lbfgs": (None, 3e-4), "sklearn-saga": (None, 1e-2)},
        format="CSR",
        nnz=20_000,
        l1_ratio=1.0,
        C=0.05,
    )
    (row,) = accuracy_report.headline_rows(hand_made([problem]))
    assert row[1] == "1,000 × 10, binary, CSR (20 nonzeros a row), L1 (C = 0.05)"
    assert row[2:] == ["not reached", "none of 2 got there", "–", "–", "closest 2.0e-05"]
    assert accuracy_report.headline_rows({"peers": {"skipped": "skipped (--no-peers)"}}) == []


def test_detail_rows_give_every_library_solvers_time_tolerance_and_why_not(peer_run):
    _, _, results = peer_run
    problem = results["peers"]["problems"][0]
    rows = {row[0]: row for row in accuracy_report.detail_rows(problem)}
    assert set(rows) == {"fastlogit-auto", "sklearn-newton-cholesky"}
    ours = rows["fastlogit-auto"]
    assert ours[1].endswith("s") and float(ours[2]) in equal_accuracy.PLANS["quick"]["tols"]
    assert ours[4] in ("lbfgs", "newton", "lbfgs+newton")  # what "auto" chose


# -- plots that fit the data ------------------------------------------------------------------------


def legend_is_outside(fig, ax, legend):
    renderer = FigureCanvasAgg(fig).get_renderer()  # the closed figure's canvas has none
    box, frame = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    return box.x0 >= frame.x1 or box.y1 <= frame.y0 or box.x1 <= frame.x0 or box.y0 >= frame.y1


def kernel_results(sizes, unstable=False):
    comparisons = []
    for n in sizes:
        for case, ratio in (("sigmoid", 3.0), ("softmax", 0.8)):
            low, high = (ratio / 4, ratio * 4) if unstable else (ratio * 0.9, ratio * 1.1)
            comparisons.append(
                {
                    "family": "kernel",
                    "case": case,
                    "n": n,
                    "ratio": ratio,
                    "ratio_low": low,
                    "ratio_high": high,
                    "unstable": unstable,
                }
            )
    return {"comparisons": comparisons, "settings": {"n_features": 5, "threads": 2}}


def test_speedups_are_grouped_bars_per_size_below_four_sizes_and_lines_from_four(tmp_path):
    fig = plots.speedup_plot(kernel_results([1000, 10_000]), tmp_path / "bars.png")
    (ax,) = fig.axes
    assert len(ax.containers) >= 2 and [t.get_text() for t in ax.get_xticklabels()] == ["1,000", "10,000"]
    assert ax.get_title().startswith("fastlogit kernels") and "rows n" in ax.get_xlabel()
    assert "speed-up" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["as fast as the reference", "sigmoid", "softmax"]
    assert legend_is_outside(fig, ax, ax.get_legend())
    assert not fig.texts  # a small spread earns no note
    assert_png(tmp_path / "bars.png")

    fig = plots.speedup_plot(
        kernel_results([1000, 3000, 10_000, 30_000], unstable=True), tmp_path / "lines.png"
    )
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and len(ax.get_lines()) >= 3  # two kernels and the 1x line
    (note,) = fig.texts
    assert note.get_text().startswith("Note: 8 of 8 speed-ups spread more than 2x")


def test_fits_get_one_column_per_problem_and_a_legend_below_every_panel(peer_run, tmp_path):
    _, _, results = peer_run
    fig = plots.fit_plot(results, tmp_path / "fits.png")
    assert len(fig.axes) == 6
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "binary fit (lbfgs): time",
        "softmax K=10 fit (lbfgs): time",
        "one SGD epoch (binary): time",
        "binary fit (lbfgs): final training loss",
        "softmax K=10 fit (lbfgs): final training loss",
        "one SGD epoch (binary): final training loss",
    ]
    for ax in fig.axes:
        assert ax.get_xlabel().startswith("rows n") and ax.get_ylabel()
        assert ax.get_legend() is None  # one legend for the figure, under the panels
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "fastlogit",
        "scikit-learn",
        "the true model's loss",
    ]
    renderer = FigureCanvasAgg(fig).get_renderer()
    lowest = min(ax.get_tightbbox(renderer).y0 for ax in fig.axes)
    assert legend.get_window_extent(renderer).y1 <= lowest + 1
    assert_png(tmp_path / "fits.png")


def test_memory_plot_keeps_its_legend_off_the_bars(peer_run, tmp_path):
    _, _, results = peer_run
    fig = plots.memory_plot(results, tmp_path / "memory.png")
    (ax,) = fig.axes
    assert ax.get_title() and "MiB" in ax.get_ylabel() and "rows n" in ax.get_xlabel()
    assert legend_is_outside(fig, ax, ax.get_legend())


# -- the machine block ---------------------------------------------------------------------------------


def test_the_machine_block_names_blas_and_openmp_readably():
    info = {
        "cpu": "test CPU",
        "cores": 2,
        "threads": 2,
        "blas": [
            {
                "user_api": "blas",
                "internal_api": "openblas",
                "version": "0.3.31.188.0",
                "num_threads": 2,
                "architecture": "SkylakeX",
                "threading_layer": "pthreads",
                "prefix": "libscipy_openblas",
                "loaded_by": "numpy",
            },
            {
                "user_api": "openmp",
                "internal_api": "openmp",
                "version": None,
                "num_threads": 2,
                "prefix": "libgomp",
                "loaded_by": "scikit-learn",
            },
        ],
        "numba_threading_layer": "omp",
        "versions": {"numpy": "2.0", "glum": None},
    }
    assert report.machine_text(info) == (
        "CPU: test CPU; 2 cores; 2 thread(s) used. BLAS: OpenBLAS 0.3.31 (pthreads, SkylakeX; "
        "numpy's), 2 threads. OpenMP: libgomp (GNU; scikit-learn's), 2 threads. Numba threading "
        "layer: omp. Versions: numpy 2.0."
    )
    assert (
        machine.loaded_by("/venv/lib/python3.11/site-packages/scikit_learn.libs/libgomp.so") == "scikit-learn"
    )
    assert machine.loaded_by("/usr/lib/libgomp.so.1") is None
    assert "OpenMP: none loaded" in machine.thread_libraries_text({"blas": []})


# -- the problems and the plan ---------------------------------------------------------------------------


def test_the_text_like_problem_has_unit_rows_and_a_long_tail_of_columns():
    X, y, coef, intercept = text_like(2000, 500, 20, seed=3)
    assert X.format == "csr" and X.has_sorted_indices and X.shape == (2000, 500)
    np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)), 1.0)
    per_column = X.getnnz(axis=0)
    assert per_column[:10].mean() > 10 * per_column[-100:].mean()  # common words, rare words
    assert set(np.unique(y)) == {0.0, 1.0} and coef.shape == (500,) and intercept == 0.0


def test_the_sparse_truth_and_the_real_data_sets():
    X, y, coef, intercept = sparse_truth(1000, 50, n_nonzero=5, seed=0)
    assert np.count_nonzero(coef) == 5 and X.shape == (1000, 50) and 0.3 < y.mean() < 0.8
    with pytest.raises(ValueError, match="n_nonzero"):
        sparse_truth(10, 3, n_nonzero=4)
    X, y = real_data("breast_cancer")
    assert X.shape == (569, 30) and X.max() > 1000  # unscaled columns
    assert real_data("wine")[0].shape == (178, 13)
    with pytest.raises(ValueError, match="breast_cancer, wine"):
        real_data("iris")


def test_peers_forming_a_large_dense_hessian_are_declined_with_the_reason():
    problems = equal_accuracy.peer_problems(
        equal_accuracy.PLANS["full"], max_rows=20_000, n_features=100, n_classes=10, seed=0, absent={}
    )
    declined = {problem.key: problem.declined for problem, _ in problems}
    assert "sklearn-newton-cholesky" not in declined["dense-binary"]  # 2e8 multiply-adds
    assert declined["dense-K10"]["sklearn-newton-cholesky"].startswith(
        "declined: sklearn-newton-cholesky forms a dense Hessian of 1,000 parameters, ~2.0e+10"
    )
    assert [p.names for p, _ in problems][0] == tuple(equal_accuracy.library_solver_names(0.0))  # every peer
    wide = {"n": 200_000, "d": 20_000, "n_classes": 2, "nnz": 6_000_000}
    reasons = equal_accuracy._declined(["glum-irls-cd", "sklearn-lbfgs"], wide, absent={})
    assert (
        list(reasons) == ["glum-irls-cd"]
        and "(3.0 GiB; the limit is 8,192 parameters)" in reasons["glum-irls-cd"]
    )
    assert equal_accuracy.hessian_flops(1000, 1000 * 10, 10, 2) == pytest.approx(1000 * 100 + 1000 / 3)


def test_absent_libraries_name_the_skipped_peers_and_the_install_line(monkeypatch):
    assert equal_accuracy.installed("numpy") and not equal_accuracy.installed("no_such_module_here")
    monkeypatch.setattr(equal_accuracy, "installed", lambda module: module != "glum")
    assert equal_accuracy.absent_libraries() == {
        "glum": f"glum is not installed: glum-irls-cd, glum-irls-ls, glum-lbfgs skipped; {PEERS_EXTRA}"
    }


def test_calibration_sizes_add_smaller_ones_below_the_largest():
    assert run.calibration_sizes([10_000, 30_000]) == [1_000, 3_000, 10_000, 30_000]
    assert run.calibration_sizes([200, 300]) == [200, 300]


# -- the suite: one process per library-solver ------------------------------------------------------------

FAKE_GLUM = '''
import os, time
import numpy as np


class GeneralizedLinearRegressor:
    """Stands in for glum's: fits by scikit-learn, crashes on 301 rows, hangs on 302."""

    def __init__(self, alpha, gradient_tol, max_iter, **options):
        self.alpha, self.tol, self.max_iter = alpha, gradient_tol, max_iter

    def fit(self, X, y, sample_weight=None):
        if X.shape[0] == 301:
            os._exit(3)
        if X.shape[0] == 302:
            time.sleep(600)
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0 / (self.alpha * X.shape[0]), tol=self.tol, max_iter=self.max_iter)
        model.fit(X, y)
        self.coef_, self.intercept_ = model.coef_[0], model.intercept_[0]
        return self
'''


def test_the_suite_starts_one_worker_per_library_solver_and_goes_on_after_a_crash_or_a_timeout(tmp_path):
    fake = tmp_path / "fake" / "glum"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(FAKE_GLUM)
    problems = []
    for n in (300, 301, 302, 303):
        X, y, _, _ = gaussian_classes(n, 3, 2, seed=n)
        problems.append(LadderProblem(f"n{n}", X, y, names=("glum-irls-cd",)))
    done = []
    records = run_ladder_suite(
        problems,
        tols=(1e-4,),
        repeats=1,
        timeout_s=8.0,
        env={"PYTHONPATH": str(tmp_path / "fake")},
        progress=lambda key, record: done.append(key),
    )
    assert list(records) == ["n300", "n301", "n302", "n303"] and sorted(done) == sorted(records)
    (ok,), (crashed,), (hung,), (after,) = records.values()
    assert ok.skipped is None and len(ok.rungs) == 1 and np.isfinite(ok.rungs[0].objective)
    assert crashed.skipped.startswith("the worker exited with status 3")
    assert hung.skipped == "the worker timed out after timeout_s=8 s"
    assert after.skipped is None and len(after.rungs) == 1  # a fresh worker took it


def test_a_slow_rung_is_timed_fewer_times_under_a_repeat_limit():
    calls = []

    def fit():
        calls.append(1)
        return len(calls)

    times, outcome = ladder_worker.timed(fit, 5, limit_s=0.0)
    assert len(times) == 1 == outcome
    times, _ = ladder_worker.timed(fit, 3, limit_s=None)
    assert len(times) == 3
