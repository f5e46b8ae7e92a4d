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
from .calibration import FASTLOGIT
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
    "model",
    "log-loss fitted / Bayes",
    "excess log-loss (KL, nats)",
    "ROC AUC fitted / Bayes",
    "PR AUC fitted / Bayes",
    "mean / max abs(fitted − true)",  # no "|": it would split a markdown cell
    "note",
]

#: A peer's log-loss this far above fastlogit's (nats, held-out rows) is named in
#: the terminal's line: below it, two fits of one objective differ only where
#: their solvers stopped.
PEER_LOG_LOSS_ATOL = 1e-3
#: The note of a fit that raised scikit-learn's ConvergenceWarning.
CONVERGENCE_NOTE = "ConvergenceWarning: stopped at its iteration limit"

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
        + "".join(
            f" {problem['title']}: its own ladder {', '.join(f'{t:g}' for t in problem['tols'])}."
            for problem in results["peers"].get("problems", [])
            if problem.get("tols")
        )
    )


def absent_lines(results):
    """One line per peer library that is not installed (from ``results["peers"]["absent"]``)."""
    return list(results.get("peers", {}).get("absent", {}).values())


def calibration_data(results):
    """``(key, label)`` of the calibration section's data sets: "binary" and "K=10"."""
    return (("binary", "binary"), ("multinomial", f"K={results['settings']['n_classes']}"))


def calibration_curves(results, key):
    """``{model: curve}`` of one data set (``key`` "binary" or "multinomial"):
    fastlogit's first, then each peer's that was fitted; {} without the section."""
    calibration = results.get("calibration", {})
    curves = {FASTLOGIT: calibration[key]} if calibration.get(key) else {}
    curves.update((name, curve) for name, curve in calibration.get("peers", {}).get(key, {}).items() if curve)
    return curves


def peers_log_loss_text(results):
    """The peer fit furthest from Bayes among those whose log-loss at the largest n
    exceeds fastlogit's by more than :data:`PEER_LOG_LOSS_ATOL`, or "peers within
    1e-3 of fastlogit's log-loss"; "" when no peer was fitted."""
    worse, fitted = [], False
    for key, label in calibration_data(results):
        curves = calibration_curves(results, key)
        ours = curves.pop(FASTLOGIT, None)
        if ours is None:
            continue
        ours_at = {entry["n"]: entry for entry in ours}
        for name, curve in curves.items():
            fitted = True
            top = curve[-1]  # compared with fastlogit's fit on as many rows
            above = top["log_loss_fitted"] - ours_at[top["n"]]["log_loss_fitted"]
            if above > PEER_LOG_LOSS_ATOL:
                worse.append((top["log_loss_gap"], name, label, top["log_loss_fitted"], above))
    if not fitted:
        return ""
    if not worse:
        return f"peers within {PEER_LOG_LOSS_ATOL:.0e} of fastlogit's log-loss".replace("e-0", "e-")
    _, name, label, loss, above = max(worse)
    return f"furthest from Bayes: {name} ({label}: log-loss {loss:.4f}, {above:.1e} above fastlogit's)"


def calibration_line(results):
    """One sentence on the fitted probabilities at the largest n, or "" without the section."""
    calibration = results.get("calibration", {})
    parts = []
    for key, label in calibration_data(results):
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
    peers = peers_log_loss_text(results)
    if peers:
        parts.append(peers)
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
    """One row per (data, training size, model) of the calibration section (see
    :data:`CALIBRATION_HEADERS`): fastlogit first at each size, then the peers."""
    rows = []
    for key, label in calibration_data(results):
        curves = calibration_curves(results, key)
        by_n = {name: {entry["n"]: entry for entry in curve} for name, curve in curves.items()}
        sizes = sorted({n for entries in by_n.values() for n in entries})
        for n in sizes:
            for name, entries in by_n.items():
                entry = entries.get(n)
                if entry is None:
                    continue
                rows.append(
                    [
                        label,
                        f"{n:,}",
                        name,
                        f"{entry['log_loss_fitted']:.4f} / {entry['log_loss_bayes']:.4f}",
                        f"{entry['excess_log_loss']:.2e}",
                        f"{entry['roc_auc_fitted']:.4f} / {entry['roc_auc_bayes']:.4f}",
                        f"{entry['pr_auc_fitted']:.4f} / {entry['pr_auc_bayes']:.4f}",
                        f"{entry['mean_abs_diff']:.4f} / {entry['max_abs_diff']:.4f}",
                        CONVERGENCE_NOTE if entry.get("convergence_warning") else "",
                    ]
                )
    return rows


RELIABILITY_FILE = "reliability.png"
CALIBRATION_FILE = "calibration.png"


def _model_styles(models):
    """matplotlib keywords per model: one colour and marker each, fastlogit's line
    bold, the peers' thin, on top, with larger hollow markers (their fits of one
    objective often coincide with fastlogit's: every marker stays visible)."""
    from .accuracy_plots import MARKERS

    styles = {}
    for index, name in enumerate(models):
        style = {"color": f"C{index}", "marker": MARKERS[index % len(MARKERS)]}
        if name == FASTLOGIT:
            style.update(linewidth=2.2, markersize=5, zorder=2)
        else:
            style.update(linewidth=1.2, markerfacecolor="none", markersize=8, zorder=3)
        styles[name] = style
    return styles


def write_calibration_plots(results, out_dir):
    """reliability.png (one panel per data set at its smallest and largest n, one
    line per model) and calibration.png (both gaps against n, one line per model
    and data set); returns their paths."""
    data = {label: calibration_curves(results, key) for key, label in calibration_data(results)}
    data = {label: curves for label, curves in data.items() if curves}
    if not data:
        return []
    models = list(dict.fromkeys(name for curves in data.values() for name in curves))
    styles = _model_styles(models)
    panels = {}
    for label, curves in data.items():
        sizes = [entry["n"] for entry in curves[next(iter(curves))]]
        for n in sorted({sizes[0], sizes[-1]}):
            panels[f"{label}, n={n:,}"] = {
                name: entry["reliability"]
                for name, curve in curves.items()
                for entry in curve
                if entry["n"] == n
            }
    reliability = out_dir / RELIABILITY_FILE
    accuracy_plots.reliability_grid(
        panels,
        reliability,
        title="fitted probabilities against the true posterior (held-out rows), one line per model",
        styles=styles,
    )
    learning = out_dir / CALIBRATION_FILE
    lines, line_styles = {}, {}
    for index, (label, curves) in enumerate(data.items()):
        for name, curve in curves.items():
            lines[f"{name}, {label}"] = curve
            line_styles[f"{name}, {label}"] = {**styles[name], "linestyle": "-" if index == 0 else "--"}
    accuracy_plots.calibration_learning_plot(
        lines,
        learning,
        title="how far the fitted probabilities are from the truth, against n",
        styles=line_styles,
    )
    return [reliability, learning]


def calibration_peer_lines(results):
    """What each peer library's fit is (its call and a remark), and why each
    absent one was not fitted: one line each."""
    peers = results.get("calibration", {}).get("peers", {})
    lines = [
        f"{name}: {model}" + (f" ({peers['notes'][name]})" if peers.get("notes", {}).get(name) else "")
        for name, model in peers.get("models", {}).items()
    ]
    lines += [f"{name} not fitted: {why}" for name, why in peers.get("skipped", {}).items()]
    return lines


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
    if "peers" in calibration:
        blocks.append(
            (
                "p",
                "Beside it, each peer library's classifier as a user fits it, with its own defaults "
                f"at the same penalty (C = {results['settings']['C']:g}), on the same rows and "
                "judged the same way (in the bench's process, untimed, on one thread). A fit that "
                f'raised scikit-learn\'s ConvergenceWarning is noted "{CONVERGENCE_NOTE}" (the '
                "warning is recorded, not shown).",
            )
        )
        blocks += [("p", line) for line in calibration_peer_lines(results)]
    blocks.append(("table", CALIBRATION_HEADERS, calibration_rows(results)))
    blocks.append(
        (
            "img",
            RELIABILITY_FILE,
            "reliability: binned fitted probability against the true posterior and the observed "
            "frequency, one line per model",
        )
    )
    blocks.append(("img", CALIBRATION_FILE, "excess log-loss and probability error against n, per model"))
    return blocks
