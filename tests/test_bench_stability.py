"""``fastlogit bench`` says when its figures cannot be trusted: a comparison whose
timings spread beyond UNSTABLE_SPREAD is marked, and a busy machine (load
average, or any unstable comparison) gets one warning line, in the console and
in the report.  Synthetic timings only: nothing here is timed.
"""

import html
import os

import pytest

from fastlogit.bench import machine, run, timing
from fastlogit.bench.report import UNSTABLE_MARK, console_summary, unstable_note, write_bench_report

STEADY = [1.0, 1.1, 1.2]
STALLED = [1.0, 1.1, 3.0]  # one repeat 3x the fastest: something else held the CPU


def kernel_timing(case, which, times):
    return {"family": "kernel", "case": case, "n": 1000, "implementation": which, **timing.summarize(times)}


def synthetic_results(stalled_side, load):
    """A results dict as run_bench returns it, with one steady and one stalled comparison."""
    steady = [2 * t for t in STEADY]
    timings = [
        kernel_timing("sigmoid", "fastlogit", STEADY),
        kernel_timing("sigmoid", "reference", steady),
        kernel_timing("softmax", "fastlogit", STALLED if stalled_side == "fastlogit" else STEADY),
        kernel_timing("softmax", "reference", STALLED if stalled_side == "reference" else steady),
    ]
    compared = run.comparisons(timings)
    return {
        "created": "2024-06-01T00:00:00+00:00",
        "quick": True,
        "settings": {"n_features": 5, "n_classes": 10, "C": 1.0, "kernel_repeats": 3, "fit_repeats": 3},
        "machine": {"cpu": "test CPU", "cores": 2, "threads": 1, "blas": [], "versions": {}},
        "timings": timings,
        "comparisons": compared,
        "memory": [],
        "dask": "skipped (--no-dask)",
        "load": load,
        "busy_warning": machine.busy_warning(load, sum(c["unstable"] for c in compared), len(compared)),
        "wall_time_s": 1.0,
    }


QUIET = {"usable_cpus": 2, "start": 0.1, "end": 1.2, "bench_cpus": 1.0}


def test_spread_beyond_2x_on_either_side_makes_a_comparison_unstable():
    assert timing.UNSTABLE_SPREAD == 2.0
    assert timing.spread(timing.summarize(STALLED)) == pytest.approx(3.0)
    assert timing.is_unstable(timing.summarize(STALLED))
    assert not timing.is_unstable(timing.summarize(STEADY), timing.summarize([1.0, 1.9, 2.0]))
    for side in ("fastlogit", "reference"):
        by_case = {c["case"]: c for c in synthetic_results(side, QUIET)["comparisons"]}
        assert by_case["softmax"]["unstable"] and by_case["softmax"]["repeats"] == 3
        assert by_case["softmax"]["spread"] == pytest.approx(3.0)
        assert not by_case["sigmoid"]["unstable"]


def test_a_quiet_machine_gets_no_warning():
    assert machine.busy_warning(QUIET, unstable=0, compared=2) is None
    # the run's own threads at the end are not another program
    own = {"usable_cpus": 2, "start": 0.2, "end": 2.4, "bench_cpus": 1.8}
    assert machine.busy_warning(own, unstable=0, compared=2) is None
    unknown = {"usable_cpus": 2, "start": None, "end": None, "bench_cpus": 1.0}
    assert machine.busy_warning(unknown, unstable=0, compared=2) is None


@pytest.mark.parametrize(
    "load",
    [
        {"usable_cpus": 2, "start": 1.7, "end": 1.0, "bench_cpus": 1.0},  # busy before the run
        {"usable_cpus": 2, "start": 0.1, "end": 3.0, "bench_cpus": 1.0},  # busy by its end
    ],
)
def test_load_above_the_usable_cpus_less_half_warns_with_what_was_seen(load):
    warning = machine.busy_warning(load, unstable=0, compared=2)
    assert warning.startswith("Warning: the machine looked busy")
    assert f"{load['start']:.2f} at the start, {load['end']:.2f} at the end" in warning
    assert "on 2 usable CPU(s)" in warning and "0 of 2 comparisons unstable" in warning
    assert "\n" not in warning


def test_unstable_comparisons_alone_make_the_warning():
    warning = machine.busy_warning(QUIET, unstable=1, compared=2)
    assert "1 of 2 comparisons unstable" in warning


def test_load_average_is_read_from_the_os(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (3.5, 1.0, 0.5))
    assert machine.load_average() == 3.5

    def unavailable():
        raise OSError("no load average")

    monkeypatch.setattr(os, "getloadavg", unavailable)
    assert machine.load_average() is None
    assert machine.usable_cpus() >= 1


def test_run_bench_stores_the_warning_when_the_load_is_high(monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (99.0, 99.0, 99.0))
    monkeypatch.setattr(timing, "SETTLE_S", 0.0)
    results = run.run_bench(
        sizes=[200],
        threads=1,
        kernel_repeats=2,
        fit_repeats=2,
        n_features=5,
        progress=False,
        dask=False,
        peers=False,
        calibration=False,
    )
    assert "1-minute load average 99.00 at the start" in results["busy_warning"]
    assert results["load"]["start"] == results["load"]["end"] == 99.0
    assert results["load"]["usable_cpus"] == machine.usable_cpus()
    assert all(isinstance(c["unstable"], bool) for c in results["comparisons"])
    assert results["busy_warning"] in console_summary(results)


def test_console_and_report_mark_the_unstable_ratio_and_say_why(tmp_path):
    results = synthetic_results("fastlogit", QUIET)
    note = unstable_note(results)
    assert note == (
        f"{UNSTABLE_MARK} unstable (1 of 2 comparisons): timings varied more than 2x "
        "over 3 repeats; the machine was probably busy."
    )
    warning = results["busy_warning"]
    assert "1 of 2 comparisons unstable" in warning
    console = console_summary(results)
    rows = {line.split()[1]: line for line in console.splitlines() if line.startswith("kernel")}
    assert rows["softmax"].endswith(UNSTABLE_MARK) and not rows["sigmoid"].endswith(UNSTABLE_MARK)
    assert console.count(note) == 1 and console.count(warning) == 1
    write_bench_report(results, tmp_path, png=False)
    for name in ("report.md", "report.html"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        escape = html.escape if name.endswith(".html") else str
        assert escape(note) in text and escape(warning) in text, name
        assert f"2.00× [0.67 – 2.40] {UNSTABLE_MARK}" in text  # softmax
        assert f"2.00× [1.67 – 2.40] {UNSTABLE_MARK}" not in text  # sigmoid


def test_steady_timings_on_a_quiet_machine_are_not_marked(tmp_path):
    results = synthetic_results(None, QUIET)
    assert results["busy_warning"] is None and unstable_note(results) == ""
    console = console_summary(results)
    assert "unstable" not in console and "busy" not in console
    write_bench_report(results, tmp_path, png=False)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "unstable" not in md and "busy" not in md


# -- fastlogit report: pytest-benchmark runs ----------------------------------------------


def pytest_benchmark_json(path, rounds, fast_times, other_times):
    """A pytest-benchmark JSON run of one group: fastlogit and the reference."""
    import json

    import numpy as np

    def entry(which, times):
        t = np.asarray(times, dtype=float)
        q1, median, q3 = np.percentile(t, [25, 50, 75])
        stats = dict(min=t.min(), max=t.max(), median=median, q1=q1, q3=q3, iqr=q3 - q1, rounds=rounds)
        return {"name": f"test_k[{which}]", "group": "kernel k", "params": {"which": which}, "stats": stats}

    path.write_text(
        json.dumps({"benchmarks": [entry("fastlogit", fast_times), entry("reference", other_times)]})
    )
    return path


@pytest.mark.parametrize(
    "rounds, times, flagged",
    [
        (3, STALLED, True),  # few rounds: max / min
        (3, STEADY, False),
        (100, [1.0] * 98 + [5.0, 9.0], False),  # many rounds: two outliers are not instability
        (100, [1.0] * 50 + [3.0] * 50, True),  # ... a bimodal run is (q3 / q1 = 3)
    ],
)
def test_pytest_benchmark_report_marks_unstable_ratios(tmp_path, capsys, rounds, times, flagged):
    from fastlogit.__main__ import main

    steady = [1.0 + 0.01 * (i % 3) for i in range(len(times))]
    run_json = pytest_benchmark_json(tmp_path / "run.json", rounds, times, [2 * t for t in steady])
    assert main(["report", str(run_json), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "report.md").read_text()
    out = capsys.readouterr().out
    assert (f"× {UNSTABLE_MARK}" in md) == flagged
    assert ("unstable (1 of 1 comparisons)" in md) == flagged
    assert ("Warning:" in out and "unstable" in out) == flagged
