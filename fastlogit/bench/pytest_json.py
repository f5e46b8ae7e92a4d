"""``fastlogit report``: pytest-benchmark ``--benchmark-json`` output as a report.

Within a run, each benchmark group (one problem, the implementations side by
side) gives every other implementation's median time relative to
fastlogit's.  Given a baseline run, each benchmark's median is compared
with the baseline's, and changes beyond a threshold are flagged.
"""

import json

from . import document, plots
from .document import seconds
from .report import UNSTABLE_MARK
from .timing import UNSTABLE_SPREAD

#: Rounds up to which a benchmark's spread is its max / min.  With more, a
#: single outlier round (a page fault, a garbage collection) is expected, and
#: the spread is the upper over the lower quartile instead.
FEW_ROUNDS = 20


def member_spread(stats):
    """How far a benchmark's rounds spread: max / min for at most FEW_ROUNDS
    rounds, else q3 / q1; None when the stats do not say."""
    rounds = stats.get("rounds") or 0
    lo, hi = ("min", "max") if rounds <= FEW_ROUNDS else ("q1", "q3")
    if not stats.get(lo) or stats.get(hi) is None:
        return None
    return stats[hi] / stats[lo]


#: Parameter values that name an implementation in the benchmark suites.
IMPLEMENTATIONS = ("fastlogit", "reference", "scipy", "sklearn", "numpy", "statsmodels")


class ReportError(Exception):
    """An input file that is missing or is not pytest-benchmark JSON."""


def load(path):
    """The ``benchmarks`` list of a pytest-benchmark JSON file, checked."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from None
    benchmarks = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(benchmarks, list):
        raise ReportError(
            f"{path}: not pytest-benchmark JSON (no 'benchmarks' list); "
            "write one with pytest --benchmark-json=FILE"
        )
    for b in benchmarks:
        if not (
            isinstance(b, dict)
            and isinstance(b.get("stats"), dict)
            and isinstance(b["stats"].get("median"), (int, float))
            and "name" in b
        ):
            raise ReportError(f"{path}: a benchmark without a name or stats.median")
    if not benchmarks:
        raise ReportError(f"{path}: holds no benchmarks (was it run with --benchmark-disable?)")
    return benchmarks


def implementation(bench):
    """Which implementation a benchmark times: its ``which`` parameter, else a name token."""
    params = bench.get("params") or {}
    if params.get("which") in IMPLEMENTATIONS:
        return params["which"]
    for value in params.values():
        if value in IMPLEMENTATIONS:
            return value
    tokens = bench["name"].replace("[", "-").replace("]", "-").split("-")
    return next((t for t in tokens if t in IMPLEMENTATIONS), "?")


def group_ratios(benchmarks):
    """``[{"group", "members": [...], "ratios": [...]}]``, one entry per group.

    A member's label is its implementation plus any parameter that differs
    between members of the group (e.g. ``average=True``).  A ratio is that
    member's median / the median of the group's first plain fastlogit member.
    """
    groups = {}
    for b in benchmarks:
        groups.setdefault(b.get("group") or b["name"], []).append(b)
    out = []
    for name, members in groups.items():
        params = [b.get("params") or {} for b in members]
        keys = sorted({k for p in params for k in p})
        varying = [
            k
            for k in keys
            if k != "which"
            and len({json.dumps(p.get(k), default=str) for p in params}) > 1
            and not any(p.get(k) in IMPLEMENTATIONS for p in params)
        ]
        rows = []
        for b, p in zip(members, params):
            extra = ", ".join(f"{k}={p.get(k)}" for k in varying)
            label = implementation(b) + (f" ({extra})" if extra else "")
            rows.append(
                {
                    "implementation": label,
                    "which": implementation(b),
                    "name": b["name"],
                    "median_s": b["stats"]["median"],
                    "min_s": b["stats"].get("min"),
                    "max_s": b["stats"].get("max"),
                    "iqr_s": b["stats"].get("iqr"),
                    "rounds": b["stats"].get("rounds"),
                    "spread": member_spread(b["stats"]),
                }
            )
        fast = next((r for r in rows if r["which"] == "fastlogit"), None)
        ratios = (
            []
            if fast is None
            else [
                {
                    "implementation": r["implementation"],
                    "ratio": r["median_s"] / fast["median_s"],
                    "unstable": any((m["spread"] or 1.0) > UNSTABLE_SPREAD for m in (r, fast)),
                }
                for r in rows
                if r is not fast
            ]
        )
        out.append(
            {"group": name, "members": rows, "fastlogit": fast and fast["implementation"], "ratios": ratios}
        )
    return out


def unstable_warning(groups):
    """The footnote to the unstable ratios (a one-line warning), or None."""
    ratios = [r for g in groups for r in g["ratios"]]
    flagged = sum(r["unstable"] for r in ratios)
    if not flagged:
        return None
    return (
        f"{UNSTABLE_MARK} unstable ({flagged} of {len(ratios)} comparisons): the rounds of one side "
        f"spread more than {UNSTABLE_SPREAD:g}x (max / min up to {FEW_ROUNDS} rounds, else the "
        "quartiles); the machine looked busy (stalls were seen). Rerun on a quiet machine "
        "before trusting those ratios."
    )


def changes(run, baseline, threshold):
    """Each benchmark's median against the baseline's, matched by ``fullname``."""
    base = {b.get("fullname", b["name"]): b for b in baseline}
    out = []
    for b in run:
        key = b.get("fullname", b["name"])
        if key not in base:
            continue
        old, new = base[key]["stats"]["median"], b["stats"]["median"]
        change = new / old - 1.0
        status = "regression" if change > threshold else ("improvement" if change < -threshold else "same")
        out.append(
            {
                "benchmark": key,
                "name": b["name"],
                "group": b.get("group"),
                "baseline_median_s": old,
                "median_s": new,
                "change": change,
                "status": status,
            }
        )
    missing = sorted(set(base) - {b.get("fullname", b["name"]) for b in run})
    return out, missing


def write_pytest_report(run_path, baseline_path, out_dir, threshold, png=None):
    """Write report.md, report.html and ratios.png (and summary.json); returns
    ``(paths, number of regressions, warning)``, ``warning`` the line of
    :func:`unstable_warning` (None when every ratio is stable).

    ``png=False`` (default: whether matplotlib is installed) writes no
    ratios.png, and the report names none.
    """
    if png is None:
        png = plots.available()
    run = load(run_path)
    baseline = load(baseline_path) if baseline_path else None
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = group_ratios(run)
    if png:
        plots.ratio_bar_plot(
            groups,
            out_dir / "ratios.png",
            "pytest-benchmark: time of each implementation relative to fastlogit",
        )
    blocks = [
        ("h1", "fastlogit benchmark report"),
        ("p", f"Run: {run_path} ({len(run)} benchmarks in {len(groups)} groups)."),
        ("h2", "Implementations side by side"),
        (
            "p",
            "Medians (min – max) from pytest-benchmark; 'relative' is the time divided "
            "by fastlogit's in the same group and run (> 1: fastlogit is faster).",
        ),
    ]
    rows = []
    for g in groups:
        ratio = {r["implementation"]: r for r in g["ratios"]}
        for m in g["members"]:
            r = ratio.get(m["implementation"])
            rel = (
                "1 (fastlogit)"
                if m["implementation"] == g["fastlogit"]
                else (f"{r['ratio']:.2f}×" + (f" {UNSTABLE_MARK}" if r["unstable"] else "") if r else "–")
            )
            spread = (
                f"{seconds(m['min_s'])} – {seconds(m['max_s'])}"
                if m["min_s"] is not None and m["max_s"] is not None
                else ""
            )
            rows.append([g["group"], m["implementation"], seconds(m["median_s"]), spread, m["rounds"], rel])
    warning = unstable_warning(groups)
    blocks += [
        ("table", ["group", "implementation", "median", "min – max", "rounds", "relative"], rows),
        *([("p", warning)] if warning else []),
        ("img", "ratios.png", "time relative to fastlogit per group"),
    ]
    summary = {"run": str(run_path), "groups": groups, "warning": warning}
    regressions = 0
    if baseline is not None:
        changed, missing = changes(run, baseline, threshold)
        regressions = sum(c["status"] == "regression" for c in changed)
        summary.update(
            baseline=str(baseline_path), threshold=threshold, changes=changed, missing_from_run=missing
        )
        blocks += [
            ("h2", "Change against the baseline"),
            (
                "p",
                f"Baseline: {baseline_path}. Median of this run / baseline's − 1; beyond "
                f"±{threshold:.0%} a change is flagged. {regressions} regression(s), "
                f"{len(changed)} benchmarks matched, {len(missing)} only in the baseline.",
            ),
            (
                "table",
                ["benchmark", "baseline median", "median", "change", "status"],
                [
                    [
                        c["name"],
                        seconds(c["baseline_median_s"]),
                        seconds(c["median_s"]),
                        f"{c['change']:+.1%}",
                        "REGRESSION" if c["status"] == "regression" else c["status"],
                    ]
                    for c in changed
                ],
            ),
        ]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if not png:
        blocks = document.without_images(blocks)
    paths = document.write(blocks, out_dir, "fastlogit benchmark report")
    return (
        [*([out_dir / "ratios.png"] if png else []), out_dir / "summary.json", *paths],
        regressions,
        warning,
    )
