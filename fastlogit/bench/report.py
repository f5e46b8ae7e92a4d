"""The report of a ``fastlogit bench`` run: a console table, report.md/.html,
results.json and the PNG plots (when matplotlib is installed).

Both the console summary and the report open with the headline
(:func:`fastlogit.bench.accuracy_report.headline_rows`: per problem,
fastlogit's time to equal accuracy against the fastest peer's); then the
machine, the peers in detail, the fitted probabilities against the truth,
and the same-run comparisons and memory of the kernels and fits.
"""

import json

from . import accuracy_report, document, plots
from .document import mib, seconds
from .machine import thread_libraries_text
from .timing import UNSTABLE_SPREAD

#: Follows a speed-up whose timings were unstable; :func:`unstable_note` says what it means.
UNSTABLE_MARK = "!"


def _spread(t):
    return f"{seconds(t['median_s'])} [{seconds(t['min_s'])} – {seconds(t['max_s'])}]"


def _compared(results):
    """(comparison, fastlogit's timing, the baseline's timing) for each same-run comparison."""
    times = {(t["family"], t["case"], t["n"], t["implementation"]): t for t in results["timings"]}
    for c in results["comparisons"]:
        yield (
            c,
            times[(c["family"], c["case"], c["n"], "fastlogit")],
            times[(c["family"], c["case"], c["n"], c["baseline"])],
        )


def _marked(c, ratio_text):
    return f"{ratio_text} {UNSTABLE_MARK}" if c.get("unstable") else ratio_text


def unstable_note(results):
    """The footnote to :data:`UNSTABLE_MARK`, or "" when no comparison is unstable."""
    flagged = [c for c in results["comparisons"] if c.get("unstable")]
    if not flagged:
        return ""
    repeats = " or ".join(str(r) for r in sorted({c["repeats"] for c in flagged}))
    return (
        f"{UNSTABLE_MARK} unstable ({len(flagged)} of {len(results['comparisons'])} comparisons): "
        f"timings varied more than {UNSTABLE_SPREAD:g}x over {repeats} repeats; "
        "the machine was probably busy."
    )


def comparison_rows(results):
    """One row per same-run comparison: what, n, fastlogit, baseline, ratio."""
    rows = []
    for c, fast, base in _compared(results):
        row = [
            c["family"],
            c["case"],
            f"{c['n']:,}",
            _spread(fast),
            c["baseline"],
            _spread(base),
            _marked(c, f"{c['ratio']:.2f}× [{c['ratio_low']:.2f} – {c['ratio_high']:.2f}]"),
        ]
        if c["family"] in ("fit", "dask"):
            row.append(f"{fast['final_loss']:.6f} / {base['final_loss']:.6f}")
        elif c["family"] == "sgd":
            row.append(f"{fast['final_log_loss']:.4f} / {base['final_log_loss']:.4f}")
        else:
            row.append("")
        rows.append(row)
    return rows


COMPARISON_HEADERS = [
    "family",
    "case",
    "n",
    "fastlogit (median [min – max])",
    "baseline",
    "baseline (median [min – max])",
    "speed-up (baseline / fastlogit)",
    "final loss fastlogit / baseline",
]


def memory_rows(results):
    by = {}
    for m in results["memory"]:
        by.setdefault((m["case"], m["n"]), {})[m["implementation"]] = m
    return [
        [
            case,
            f"{n:,}",
            mib(impls["fastlogit"]["peak_bytes"]),
            mib(impls["reference"]["peak_bytes"]),
            mib(impls["fastlogit"]["X_bytes"]),
        ]
        for (case, n), impls in by.items()
    ]


MEMORY_HEADERS = ["loss + gradient", "n", "fastlogit peak", "reference peak", "X itself"]


def text_table(headers, rows):
    """A plain monospace table for the terminal."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), "  ".join("-" * w for w in widths)]
    out += [line.format(*[str(c) for c in row]) for row in rows]
    return "\n".join(line.rstrip() for line in out)


def headline_text(results):
    """The headline for the terminal: the table, the absent peers, the calibration line."""
    rows = accuracy_report.headline_rows(results)
    if rows:
        text = "Time to equal accuracy (peer / fastlogit > 1: fastlogit is faster)\n"
        text += text_table(accuracy_report.HEADLINE_HEADERS, rows)
    else:
        text = f"Peers: {results.get('peers', {}).get('skipped', 'not run')}."
    for line in accuracy_report.absent_lines(results):
        text += "\n" + line
    line = accuracy_report.calibration_line(results)
    if line:
        text += "\n\n" + line
    return text


def console_summary(results):
    """The headline, then the comparisons and memory as terminal tables: medians, and
    the ratio's spread; unstable speed-ups marked, and the busy-machine warning last.
    """
    rows = []
    for c, fast, base in _compared(results):
        loss = (
            f"{fast['final_loss']:.6f} / {base['final_loss']:.6f}"
            if c["family"] in ("fit", "dask")
            else f"{fast['final_log_loss']:.4f} / {base['final_log_loss']:.4f}"
            if c["family"] == "sgd"
            else ""
        )
        rows.append(
            [
                c["family"],
                c["case"],
                f"{c['n']:,}",
                seconds(fast["median_s"]),
                f"{c['baseline']} {seconds(base['median_s'])}",
                _marked(c, f"{c['ratio']:6.2f}× [{c['ratio_low']:.2f}–{c['ratio_high']:.2f}]"),
                loss,
            ]
        )
    headers = [
        "family",
        "case",
        "n",
        "fastlogit",
        "baseline",
        "speed-up [min–max]",
        "final loss (fastlogit / baseline)",
    ]
    text = headline_text(results) + "\n\n" + text_table(headers, rows)
    for note in (unstable_note(results), dask_softmax_note(results)):
        if note:
            text += "\n" + note
    text += "\n\n" + text_table(MEMORY_HEADERS, memory_rows(results))
    if results.get("busy_warning"):
        text += "\n\n" + results["busy_warning"]
    return text


def dask_softmax_note(results):
    """'Dask softmax K=10: X s, R x the binary fit' (fastlogit only: dask-glm has no softmax)."""
    dask = {
        t["case"].split()[0]: t
        for t in results["timings"]
        if t["family"] == "dask" and t["implementation"] == "fastlogit"
    }
    if "softmax" not in dask or "binary" not in dask:
        return ""
    soft, binary = dask["softmax"], dask["binary"]
    return (
        f"Dask {soft['case']}: {seconds(soft['median_s'])}, "
        f"{soft['median_s'] / binary['median_s']:.2f}x the binary fit "
        "(dask-glm has no softmax model)."
    )


def machine_text(machine):
    """The machine in one paragraph: CPU, cores, threads, the BLAS and OpenMP
    libraries (which package loaded each, their threads) and the versions."""
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v is not None)
    return (
        f"CPU: {machine['cpu']}; {machine['cores']} cores; {machine['threads']} thread(s) used. "
        f"{thread_libraries_text(machine)} Versions: {versions}."
    )


PLOTS = {"speedup.png": plots.speedup_plot, "fits.png": plots.fit_plot, "memory.png": plots.memory_plot}


def sections_text(results):
    """Where the run's time went, e.g. "peers 14 s, calibration 3 s"."""
    sections = results.get("sections_s") or {}
    return ", ".join(f"{name} {value:.0f} s" for name, value in sections.items())


def write_bench_report(results, out_dir, png=None):
    """Write results.json, the PNGs, report.md and report.html; returns the paths.

    ``png=False`` (default: whether matplotlib is installed) writes no PNG, and
    the report names none.
    """
    if png is None:
        png = plots.available()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [out_dir / "results.json"]
    written[0].write_text(json.dumps(results, indent=2), encoding="utf-8")
    if png:
        for name, draw in PLOTS.items():
            draw(results, out_dir / name)
            written.append(out_dir / name)
        written += accuracy_report.write_convergence_plots(results, out_dir)
        written += accuracy_report.write_calibration_plots(results, out_dir)
    s = results["settings"]
    headline = accuracy_report.headline_rows(results)
    sections = sections_text(results)
    blocks = [
        ("h1", "fastlogit bench"),
        *(
            [
                ("p", "Time to equal accuracy (peer / fastlogit > 1: fastlogit is faster)."),
                ("table", accuracy_report.HEADLINE_HEADERS, headline),
            ]
            if headline
            else [("p", f"Peers: {results.get('peers', {}).get('skipped', 'not run')}.")]
        ),
        *[("p", line) for line in accuracy_report.absent_lines(results)],
        *(
            [("p", accuracy_report.calibration_line(results))]
            if accuracy_report.calibration_line(results)
            else []
        ),
        *([("p", results["busy_warning"])] if results.get("busy_warning") else []),
        (
            "p",
            f"{'Quick' if results['quick'] else 'Full'} run of {results['created']}, "
            f"{results['wall_time_s']:.0f} s{f' ({sections})' if sections else ''}. Data of the kernels, "
            f"fits and probabilities: seeded Gaussian classes with a shared "
            f"covariance ({s['n_features']} features; 2 classes, and {s['n_classes']} for the "
            "multinomial cases), whose true posterior is logistic / softmax with known "
            "coefficients.",
        ),
        ("p", machine_text(results["machine"])),
        *accuracy_report.peer_blocks(results),
        *accuracy_report.calibration_blocks(results),
        ("h2", "Same-run comparisons"),
        (
            "p",
            f"Each time is the median of {s['kernel_repeats']} (kernels) or {s['fit_repeats']} "
            "(fits, SGD) measurements with its min and max; each speed-up is baseline time / "
            "fastlogit time measured in this run (> 1: fastlogit is faster), with the worst "
            "and best case of the spread. Kernels are called once before timing, so Numba "
            f"compilation is never timed. Fits: L2, C = {s['C']}, lbfgs, each library at its "
            "default tol; the final loss is the training objective (mean log-loss + "
            "|w|²/(2Cn)) of the fitted model. SGD: one epoch, fastlogit solver='sgd' against "
            "SGDClassifier(loss='log_loss'), each at its defaults; the loss is the training "
            "log-loss after the epoch.",
        ),
        (
            "p",
            "Out of core: the binary fit from a .npy file (memory-mapped, streamed in chunks, "
            "in the page cache) against the same fit in memory; a speed-up below 1 is the cost "
            "of streaming. Dask: "
            + (
                "fits without intercept (dask-glm's model) on a LocalCluster of 2 worker "
                "processes with 1 thread each, the data in 8 row chunks persisted on the "
                "workers, fastlogit against dask-glm's lbfgs minimizing the same function. "
                + dask_softmax_note(results)
                if results.get("dask") == "run at the largest size"
                else str(results.get("dask", "not run")) + "."
            ),
        ),
        ("table", COMPARISON_HEADERS, comparison_rows(results)),
        *([("p", unstable_note(results))] if unstable_note(results) else []),
        ("img", "speedup.png", "speed-up over the NumPy reference at each size"),
        ("img", "fits.png", "fit time and final loss against scikit-learn, one column per problem"),
        ("h2", "Memory"),
        (
            "p",
            "Peak memory allocated during one loss + gradient evaluation beyond what was live "
            "before it, from tracemalloc: it sees every NumPy array (the reference's n × K "
            "temporaries) but not the small per-thread buffers inside fastlogit's Numba "
            "kernels, which are bounded by threads × block × K by design.",
        ),
        ("table", MEMORY_HEADERS, memory_rows(results)),
        ("img", "memory.png", "peak memory against n"),
    ]
    if not png:
        blocks = document.without_images(blocks)
    written += document.write(blocks, out_dir, "fastlogit bench")
    return written
