"""The ``fastlogit`` command: arguments, output files, the results schema, reports.

``bench`` runs at tiny sizes through hidden options (``--repeats``,
``--features``, ``--no-progress``); ``report`` reads two real
pytest-benchmark JSON files kept in tests/data/, written by::

    FASTLOGIT_BENCH_SCALE=0.001 pytest benchmarks/test_special.py --benchmark-only \
        -k "(sigmoid and not log_sigmoid) or logsumexp" --benchmark-max-time=0.05 \
        --benchmark-json=FILE

with each benchmark's raw ``stats["data"]`` list removed (4 MB → 40 kB).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fastlogit.__main__ import main

DATA = Path(__file__).parent / "data"
RUN = DATA / "pytest_benchmark_special.json"
BASELINE = DATA / "pytest_benchmark_special_baseline.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# --no-peers: the peers section (a process per library-solver) is tested in test_bench_report.py.
TINY = ["--sizes", "200", "300", "--repeats", "2", "--features", "5", "--no-progress", "--no-peers"]


def exit_status(argv):
    """main's exit status, whether returned or raised by argparse."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def assert_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE), path
    assert len(data) > 5000, path  # a drawn figure, not an empty canvas


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    assert main(["bench", *TINY, "--threads", "1", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["bench", "--sizes"],
        ["bench", "--sizes", "ten"],
        ["bench", "--sizes", "5"],
        ["bench", "--sizes", "100.5"],
        ["bench", "--threads", "0"],
        ["bench", "--threads", "100000"],
        ["bench", "--bogus"],
        ["report"],
        ["report", "a.json", "b.json", "c.json"],
        ["report", "a.json", "--threshold", "x"],
        ["report", "a.json", "--threshold", "-0.1"],
    ],
)
def test_bad_arguments_exit_with_status_2_and_a_message(argv, capsys):
    assert exit_status(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_help_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "fastlogit", "bench", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--quick" in result.stdout and "--repeats" not in result.stdout


def test_bench_writes_every_output_file(bench_run, capsys):
    pngs = ("speedup.png", "fits.png", "memory.png", "reliability.png", "calibration.png")
    for name in ("results.json", "report.md", "report.html", *pngs):
        assert (bench_run / name).stat().st_size > 0, name
    for name in pngs:
        assert_png(bench_run / name)
    assert not list(bench_run.glob("convergence-*.png"))  # --no-peers
    md = (bench_run / "report.md").read_text()
    page = (bench_run / "report.html").read_text()
    for text in ("binary_loss_grad", "multinomial lbfgs", "binary epoch", "speedup.png", "reliability.png"):
        assert text in md and text in page
    assert "Peers: skipped (--no-peers)." in md


def test_results_json_schema(bench_run):
    results = json.loads((bench_run / "results.json").read_text())
    assert results["schema"] == "fastlogit-bench/2"
    assert results["peers"] == {"skipped": "skipped (--no-peers)"}
    assert set(results["sections_s"]) == {"kernels, fits, SGD, out of core, Dask", "calibration"}
    calibration = results["calibration"]
    assert calibration["sizes"] == [200, 300]
    for key in ("binary", "multinomial"):
        assert [entry["n"] for entry in calibration[key]] == [200, 300]
        assert all(entry["n_test"] == calibration["n_test"] for entry in calibration[key])
    assert results["settings"]["sizes"] == [200, 300]
    assert results["settings"]["threads"] == 1
    machine = results["machine"]
    assert isinstance(machine["cpu"], str) and isinstance(machine["cores"], int)
    assert machine["threads"] == 1
    assert isinstance(machine["blas"], list)
    assert set(machine["versions"]) >= {"python", "numpy", "numba", "scipy", "scikit-learn", "fastlogit"}
    families = {(t["family"], t["implementation"]) for t in results["timings"]}
    assert families == {
        ("kernel", "fastlogit"),
        ("kernel", "reference"),
        ("fit", "fastlogit"),
        ("fit", "sklearn"),
        ("sgd", "fastlogit"),
        ("sgd", "sklearn"),
        ("out-of-core", "fastlogit"),
        ("out-of-core", "in-memory"),
        ("dask", "fastlogit"),
        ("dask", "dask_glm"),
    }
    assert results["dask"] == "run at the largest size"
    dask_fits = {(t["case"], t["implementation"]): t for t in results["timings"] if t["family"] == "dask"}
    largest = max(t["n"] for t in results["timings"])
    assert len(dask_fits) == 3 and {t["n"] for t in dask_fits.values()} == {largest}
    binary = [t["final_loss"] for (case, _), t in dask_fits.items() if case.startswith("binary")]
    assert binary[0] == pytest.approx(binary[1], rel=1e-3)  # the same objective, both near its optimum
    # the .npy fit and the in-memory fit take the same iterations (the same sums, chunked)
    ooc = {}
    for t in results["timings"]:
        if t["family"] == "out-of-core":
            ooc.setdefault(t["n"], set()).add(t["n_iter"])
    assert ooc and all(len(iters) == 1 for iters in ooc.values())
    for t in results["timings"]:
        assert len(t["times_s"]) == 2
        assert t["min_s"] <= t["q1_s"] <= t["median_s"] <= t["q3_s"] <= t["max_s"]
        assert isinstance(t["n"], int) and t["min_s"] > 0
        if t["family"] == "fit":
            assert isinstance(t["final_loss"], float) and isinstance(t["n_iter"], int)
    fits = {
        (t["case"], t["n"], t["implementation"]): t["final_loss"]
        for t in results["timings"]
        if t["family"] == "fit"
    }
    for (case, n, _), loss in fits.items():  # the same objective, minimized by both
        assert loss == pytest.approx(fits[(case, n, "sklearn")], abs=1e-4)
    assert len(results["comparisons"]) == len(results["timings"]) // 2
    for c in results["comparisons"]:
        assert c["ratio_low"] <= c["ratio"] <= c["ratio_high"]
    assert {(m["case"], m["implementation"]) for m in results["memory"]} == {
        (k, w) for k in ("binary_loss_grad", "multinomial_loss_grad") for w in ("fastlogit", "reference")
    }
    assert all(isinstance(m["peak_bytes"], int) for m in results["memory"])


def test_report_on_a_pytest_benchmark_run(tmp_path, capsys):
    assert main(["report", str(RUN), "--out", str(tmp_path)]) == 0
    assert_png(tmp_path / "ratios.png")
    md = (tmp_path / "report.md").read_text()
    assert "sigmoid float64" in md and "scipy" in md and "reference" in md
    assert "baseline" not in md.lower()
    summary = json.loads((tmp_path / "summary.json").read_text())
    for group in summary["groups"]:
        assert group["fastlogit"] == "fastlogit"
        assert {r["implementation"] for r in group["ratios"]} == {
            m["implementation"] for m in group["members"]
        } - {"fastlogit"}
    assert "<table>" in (tmp_path / "report.html").read_text()


def test_report_against_a_baseline_flags_regressions(tmp_path, capsys):
    assert main(["report", str(RUN), str(BASELINE), "--out", str(tmp_path), "--threshold", "0.1"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    run = {b["fullname"]: b["stats"]["median"] for b in json.loads(RUN.read_text())["benchmarks"]}
    assert len(summary["changes"]) == len(run)
    for c in summary["changes"]:
        assert c["change"] == pytest.approx(run[c["benchmark"]] / c["baseline_median_s"] - 1)
        assert (c["status"] == "regression") == (c["change"] > 0.1)
    assert "Change against the baseline" in (tmp_path / "report.md").read_text()
    assert "regression(s)" in capsys.readouterr().out


def test_report_fails_on_regression_when_asked(tmp_path):
    # The run against itself slowed down by half: every benchmark regresses.
    data = json.loads(RUN.read_text())
    for b in data["benchmarks"]:
        b["stats"]["median"] *= 1.5
    slower = tmp_path / "slower.json"
    slower.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert main(["report", str(slower), str(RUN), "--out", str(out)]) == 0
    assert main(["report", str(slower), str(RUN), "--out", str(out), "--fail-on-regression"]) == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        ("{not json", "not valid JSON"),
        ('{"machine_info": {}}', "not pytest-benchmark JSON"),
        ('{"benchmarks": []}', "holds no benchmarks"),
        ('{"benchmarks": [{"name": "x"}]}', "stats.median"),
    ],
)
def test_missing_or_invalid_json_exits_1_without_traceback(tmp_path, content, message):
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    for argv in (["report", str(path)], ["report", str(RUN), str(path)]):
        result = subprocess.run(
            [sys.executable, "-m", "fastlogit", *argv, "--out", str(tmp_path / "out")],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_out_that_is_a_file_exits_1(tmp_path, capsys):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    assert main(["bench", *TINY, "--out", str(not_a_folder)]) == 1
    assert "not a folder" in capsys.readouterr().err
    assert main(["report", str(RUN), "--out", str(not_a_folder)]) == 1


def test_version(capsys):
    import fastlogit

    assert exit_status(["--version"]) == 0
    assert capsys.readouterr().out == f"fastlogit {fastlogit.__version__}\n"
    result = subprocess.run([sys.executable, "-m", "fastlogit", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout == f"fastlogit {fastlogit.__version__}\n"


def test_without_matplotlib_reports_are_written_without_plots(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    from fastlogit.bench import plots

    with pytest.raises(ImportError, match=r'pip install "fastlogit\[report\]"'):
        plots.pyplot()
    assert not plots.available()

    bench, report = tmp_path / "bench", tmp_path / "report"
    assert main(["bench", *TINY, "--threads", "1", "--no-dask", "--out", str(bench)]) == 0
    assert main(["report", str(RUN), str(BASELINE), "--out", str(report)]) == 0
    out = capsys.readouterr().out
    assert out.count(plots.MISSING) == 2, out  # one line per command
    wrote = [line for line in out.splitlines() if "Wrote" in line]
    assert len(wrote) == 2 and not any(".png" in line for line in wrote), wrote
    assert sorted(p.name for p in bench.iterdir()) == ["report.html", "report.md", "results.json"]
    assert sorted(p.name for p in report.iterdir()) == ["report.html", "report.md", "summary.json"]
    for folder in (bench, report):
        for name in ("report.md", "report.html"):
            text = (folder / name).read_text()
            assert ".png" not in text and "<img" not in text and "![" not in text, name
            assert "matplotlib is not installed" in text
    assert "binary_loss_grad" in (bench / "report.md").read_text()
    assert "Change against the baseline" in (report / "report.md").read_text()
