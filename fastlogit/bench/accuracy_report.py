"""The headline, the peers section and the calibration section of a ``fastlogit bench`` report.

- :func:`headline_rows`: per problem, fastlogit's time to equal accuracy,
  the fastest peer's name and time, their ratio and fastlogit's objective
  gap: the table at the top of report.md/.html and of the terminal summary.
- :func:`peer_blocks`: each problem's library-solvers in detail, with its
  convergence plot (:func:`fastlogit.bench.accuracy_plots.convergence_plot`).
- :func:`calibration_blocks`: the fitted probabilities against the Bayes
  posterior, with the reliability and learning-curve plots.

Everything reads the results dict of :func:`fastlogit.bench.run.run_bench`
(``results["peers"]``, ``results["calibration"]``); blocks are those of
:mod:`fastlogit.bench.document`.
"""

from . import accuracy_plots
from .document import seconds
from .equal_accuracy import headline
from .ladder import FASTLOGIT_DEFAULT

HEADLINE_HEADERS = [
    "problem",
    "data",
    f"fastlogit ({FASTLOGIT_DEFAULT.removeprefix('fastlogit-')})",
    "fastest peer",
    "its time",
    "peer / fastlogit",
    "fastlogit's objective gap",
]

DETAIL_HEADERS = [
    "library-solver",
    "time to equal accuracy",
    "at tol",
    "objective gap",
    "solver that ran",
    "note",
]

CALIBRATION_HEADERS = [
    "data",
    "training rows n",
    "log-loss fitted / Bayes",
    "excess log-loss (KL, nats)",
    "ROC AUC fitted / Bayes",
    "PR AUC fitted / Bayes",
    "|fitted − true| mean / max",
]

#: A rung's repeats spreading more than this (max / min) earn a note on its plot.
LARGE_SPREAD = 2.0


def _gap(gap):
    if gap is None:
        return "–"
    return "0" if gap <= 0 else f"{gap:.1e}"


def problem_shape(problem):
    """ "5,000 × 100, K=10, dense" for a problem of ``results["peers"]["problems"]``
    (", float32", ", unpenalized", ", + standard errors" where they apply)."""
    classes = "binary" if problem["n_classes"] == 2 else f"K={problem['n_classes']}"
    shape = f"{problem['n']:,} × {problem['d']:,}, {classes}, {problem['format']}"
    if problem.get("dtype", "float64") != "float64":
        shape += f" {problem['dtype']}"
    if problem["format"] == "CSR":
        shape += f" ({problem['nnz'] / problem['n']:.0f} nonzeros a row)"
    if problem["C"] is None:
        shape += ", unpenalized"
    elif problem["l1_ratio"] > 0:
        shape += f", L1 (C = {problem['C']:.3g})"
    if problem.get("standard_errors"):
        shape += ", + standard errors"
    return shape


def std_errors_text(accuracy):
    """ "standard errors within 2.1e-09 of fastlogit's at the optimum" for an
    ``accuracy`` entry that has a ``std_errors_gap``; "" without one."""
    gap = accuracy.get("std_errors_gap")
    if gap is None:
        return ""
    return f"standard errors within {gap:.1e} of fastlogit's at the optimum"


def peers_ran(results):
    """Whether the run has a peers section with problems (not ``--no-peers``)."""
    return bool(results.get("peers", {}).get("problems"))


def headline_rows(results):
    """One row per problem of the peers section (see :data:`HEADLINE_HEADERS`); [] without it."""
    if not peers_ran(results):
        return []
    rows = []
    for problem in results["peers"]["problems"]:
        top = headline(problem)
        ours = top["fastlogit"]
        if ours is None:
            ours_text, gap_text = "did not run", "–"
        elif ours["seconds"] is None:
            ours_text, gap_text = "not reached", f"closest {_gap(ours['gap'])}"
        else:
            ours_text, gap_text = seconds(ours["seconds"]), _gap(ours["gap"])
        if top["best_peer"] is not None:
            peer, peer_time = top["best_peer"], seconds(top["best_peer_seconds"])
            se_gap = problem["accuracy"][peer].get("std_errors_gap")
            if se_gap is not None:
                peer += f" (SE gap {se_gap:.1e})"
        elif top["peers_run"]:
            peer, peer_time = f"none of {top['peers_run']} got there", "–"
        else:
            peer, peer_time = "no peer ran", "–"
        ratio = "–" if top["ratio"] is None else f"{top['ratio']:.2f}×"
        rows.append([problem["title"], problem_shape(problem), ours_text, peer, peer_time, ratio, gap_text])
    return rows


def headline_note(results):
    """What the headline's columns mean, in one paragraph."""
    settings = results["peers"]["settings"]
    tols = ", ".join(f"{t:g}" for t in settings["tols"])
    repeats = settings["repeats"]
    fits = "one fit per rung" if repeats == 1 else f"the best of up to {repeats} fits per rung"
    threads = (
        "its library's default threads"
        if settings["threads"] is None
        else f"{settings['threads']} thread(s) (OMP/OpenBLAS/MKL/Numba set)"
    )
    return (
        f"Time to equal accuracy: each library-solver's fastest fit whose objective is within "
        f"{settings['rtol']:g} (relative) of the best objective any of them reached on that problem, "
        f"every objective evaluated by one yardstick (scikit-learn's objective, in NumPy); each one "
        f"goes down the tolerance ladder {tols} ({fits}, imports and compilation not timed) in its "
        f"own process with {threads}. Peer / fastlogit > 1: fastlogit is faster. fastlogit's "
        "objective gap: how far above the best objective fastlogit's timed fit is (relative). "
        "SE gap (where the timed fits include standard errors): the largest relative difference "
        "of the peer's standard errors, at that fit, to fastlogit's at the optimum."
    )


def absent_lines(results):
    """One line per peer library that is not installed (from ``results["peers"]["absent"]``)."""
    return list(results.get("peers", {}).get("absent", {}).values())


def calibration_line(results):
    """One sentence on the fitted probabilities at the largest n, or "" without the section."""
    calibration = results.get("calibration", {})
    parts = []
    for key, label in (("binary", "binary"), ("multinomial", f"K={results['settings']['n_classes']}")):
        curve = calibration.get(key)
        if not curve:
            continue
        top = curve[-1]
        parts.append(
            f"{label}: log-loss {top['log_loss_fitted']:.4f} vs Bayes {top['log_loss_bayes']:.4f}, "
            f"ROC AUC {top['roc_auc_fitted']:.4f} vs {top['roc_auc_bayes']:.4f}, "
            f"mean |fitted − true| {top['mean_abs_diff']:.4f}"
        )
    if not parts:
        return ""
    n = calibration["binary"][-1]["n"] if calibration.get("binary") else calibration["multinomial"][-1]["n"]
    return (
        f"Fitted probabilities (fastlogit's default fit on {n:,} rows, judged on "
        f"{calibration['n_test']:,} held-out rows against the true posterior): " + "; ".join(parts) + "."
    )


# -- the peers section ------------------------------------------------------------------------


def convergence_file(problem):
    """The PNG of one problem's convergence curves."""
    return f"convergence-{problem['key']}.png"


def _rung_solver(record, tol):
    for rung in record["rungs"]:
        if rung["tol"] == tol:
            return rung["solver"] or "–"
    return "–"


def detail_rows(problem):
    """One row per library-solver of a problem (see :data:`DETAIL_HEADERS`)."""
    records = {r["name"]: r for r in problem["records"]}
    rows = []
    for name, accuracy in problem["accuracy"].items():
        record = records[name]
        if accuracy["seconds"] is not None:
            time_text, tol = seconds(accuracy["seconds"]), f"{accuracy['tol']:g}"
            solver = _rung_solver(record, accuracy["tol"])
            note = record["stopped"] or ""
        else:
            time_text, tol, solver = "–", "–", "–"
            note = accuracy["reason"] or ""
        note = "; ".join(part for part in (std_errors_text(accuracy), note) if part)
        rows.append([name, time_text, tol, _gap(accuracy["gap"]), solver, note])
    return rows


def _spread(problem):
    """The largest max / min of any rung's repeats in a problem (1 with single fits)."""
    worst = 1.0
    for record in problem["records"]:
        for rung in record["rungs"]:
            times = rung["times_s"]
            if len(times) > 1 and min(times) > 0:
                worst = max(worst, max(times) / min(times))
    return worst


def write_convergence_plots(results, out_dir):
    """One convergence PNG per problem that has a curve; returns their paths."""
    written = []
    if not peers_ran(results):
        return written
    rtol = results["peers"]["settings"]["rtol"]
    for problem in results["peers"]["problems"]:
        curves = {name: [tuple(p) for p in points] for name, points in problem["curves"].items()}
        if not curves:
            continue
        skipped = [r["name"] for r in problem["records"] if r["skipped"] is not None]
        spread = _spread(problem)
        note = None
        if spread > LARGE_SPREAD:
            note = (
                f"Note: the repeats of one rung spread up to {spread:.1f}x (max / min): the machine "
                "was busy; each point is the fastest repeat."
            )
        path = out_dir / convergence_file(problem)
        accuracy_plots.convergence_plot(
            curves,
            path,
            title=f"{problem['title']}: {problem_shape(problem)}",
            rtol=rtol,
            skipped=skipped,
            note=note,
        )
        written.append(path)
    return written


def peer_blocks(results):
    """The "Time to equal accuracy" section: a paragraph, then per problem its
    data, its library-solvers' table and its convergence plot."""
    peers = results.get("peers", {})
    blocks = [("h2", "Time to equal accuracy, against every peer")]
    if not peers_ran(results):
        blocks.append(("p", f"Peers: {peers.get('skipped', 'not run')}."))
        return blocks
    blocks.append(("p", headline_note(results)))
    blocks += [("p", line) for line in absent_lines(results)]
    blocks.append(
        (
            "p",
            "The peers minimize fastlogit's objective (scikit-learn's) with their penalties mapped "
            "(glum: alpha = 1/(C n); sklearnex: tol scaled by n; liblinear: intercept_scaling 1e3): "
            "see fastlogit/bench/peers.py. A peer that forms a dense Hessian is declined where that "
            "Hessian would take too long or too much memory (the note says so). Standard errors are "
            "the inverse Fisher information's, statsmodels' Logit bse (glum's asked for with "
            "dispersion 1, not robust, its n/(n − p) factor undone); their gap is the largest "
            "relative difference to fastlogit's at the optimum, at the rung that gave the time.",
        )
    )
    for problem in peers["problems"]:
        blocks.append(("p", f"{problem['title']} — {problem_shape(problem)}: {problem['data']}."))
        blocks.append(("table", DETAIL_HEADERS, detail_rows(problem)))
        if problem["curves"]:
            blocks.append(
                ("img", convergence_file(problem), f"objective gap against time, {problem['title']}")
            )
    return blocks


# -- the calibration section --------------------------------------------------------------------


def calibration_rows(results):
    """One row per (data, training size) of the calibration section."""
    calibration = results.get("calibration", {})
    rows = []
    for key, label in (("binary", "binary"), ("multinomial", f"K={results['settings']['n_classes']}")):
        for entry in calibration.get(key) or []:
            rows.append(
                [
                    label,
                    f"{entry['n']:,}",
                    f"{entry['log_loss_fitted']:.4f} / {entry['log_loss_bayes']:.4f}",
                    f"{entry['excess_log_loss']:.2e}",
                    f"{entry['roc_auc_fitted']:.4f} / {entry['roc_auc_bayes']:.4f}",
                    f"{entry['pr_auc_fitted']:.4f} / {entry['pr_auc_bayes']:.4f}",
                    f"{entry['mean_abs_diff']:.4f} / {entry['max_abs_diff']:.4f}",
                ]
            )
    return rows


RELIABILITY_FILE = "reliability.png"
CALIBRATION_FILE = "calibration.png"


def write_calibration_plots(results, out_dir):
    """reliability.png (the smallest and largest n of each data set) and
    calibration.png (both gaps against n); returns their paths."""
    calibration = results.get("calibration", {})
    labels = {"binary": "binary", "multinomial": f"K={results['settings']['n_classes']}"}
    curves = {labels[key]: calibration[key] for key in labels if calibration.get(key)}
    if not curves:
        return []
    series = {}
    for label, curve in curves.items():
        for entry in [curve[0], curve[-1]] if len(curve) > 1 else curve:
            series[f"{label}, n={entry['n']:,}"] = entry["reliability"]
    reliability = out_dir / RELIABILITY_FILE
    accuracy_plots.reliability_plot(
        series,
        reliability,
        title="fastlogit's fitted probabilities against the true posterior (held-out rows)",
    )
    learning = out_dir / CALIBRATION_FILE
    accuracy_plots.calibration_learning_plot(
        curves, learning, title="how far the fitted probabilities are from the truth, against n"
    )
    return [reliability, learning]


def calibration_blocks(results):
    """The "Fitted probabilities against the truth" section."""
    calibration = results.get("calibration", {})
    blocks = [("h2", "The fitted probabilities against the truth")]
    if not (calibration.get("binary") or calibration.get("multinomial")):
        blocks.append(("p", f"Calibration: {calibration.get('skipped', 'not run')}."))
        return blocks
    blocks.append(
        (
            "p",
            "The bench data are Gaussian classes with a shared covariance, so the true posterior "
            "P(y | x) is known exactly: a sigmoid (softmax) of a known linear score, the "
            "Bayes-optimal classifier. "
            f"{calibration['estimator']} is fitted on the first n rows of one draw and judged on "
            f"the same {calibration['n_test']:,} held-out rows: its log-loss and ROC / PR AUC beside "
            "the Bayes posterior's on those rows (the gap can be negative on a sample: the labels are "
            "noisy), the expected excess log-loss (the mean Kullback-Leibler divergence from the true "
            "posterior to the fitted one, which has no label noise), and the mean and largest "
            "|fitted − true| probability (K classes: every row and class).",
        )
    )
    blocks.append(("table", CALIBRATION_HEADERS, calibration_rows(results)))
    blocks.append(
        (
            "img",
            RELIABILITY_FILE,
            "reliability: binned fitted probability against the true posterior and the observed frequency",
        )
    )
    blocks.append(("img", CALIBRATION_FILE, "excess log-loss and probability error against n"))
    return blocks
