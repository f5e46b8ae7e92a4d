"""PNG plots of a bench run and of a pytest-benchmark run (matplotlib, Agg).

matplotlib is optional (the ``report`` extra): without it the reports are
written without their plots (see :func:`available`).
"""

import numpy as np

#: What the ``fastlogit`` command prints when it writes a report without plots.
MISSING = 'matplotlib is not installed: PNG plots skipped (pip install "fastlogit[report]")'


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported only when a plot is drawn."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            'fastlogit\'s report plots need matplotlib: pip install "fastlogit[report]"'
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def available():
    """Whether the plots can be drawn: matplotlib.pyplot imports."""
    try:
        pyplot()
    except ImportError:
        return False
    return True


def _times_axis(axis):
    """Ratio ticks written 0.5×, 1×, 2× on a log axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    axis.set_minor_formatter(NullFormatter())


def _series(records, key):
    groups = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return {k: sorted(v, key=lambda r: r["n"]) for k, v in groups.items()}


def speedup_plot(results, path):
    """Speed-up of each kernel over its NumPy reference against n."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    kernels = [c for c in results["comparisons"] if c["family"] == "kernel"]
    for case, rows in _series(kernels, lambda c: c["case"]).items():
        n = [r["n"] for r in rows]
        ratio = np.array([r["ratio"] for r in rows])
        err = [ratio - [r["ratio_low"] for r in rows], [r["ratio_high"] for r in rows] - ratio]
        ax.errorbar(n, ratio, yerr=np.clip(err, 0, None), marker="o", capsize=3, label=case)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="as fast as the reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _times_axis(ax.yaxis)
    ax.set_xlabel(f"rows n (× {results['settings']['n_features']} features)")
    ax.set_ylabel("speed-up over NumPy reference (×, median; bars: min–max)")
    ax.set_title(f"fastlogit kernels vs fastlogit.reference, {results['settings']['threads']} thread(s)")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fit_plot(results, path):
    """Fit and SGD-epoch times, and the final training objective, against scikit-learn."""
    plt = pyplot()
    fig, (ax_time, ax_loss) = plt.subplots(1, 2, figsize=(12, 5))
    records = [t for t in results["timings"] if t["family"] in ("fit", "sgd")]
    styles = {"fastlogit": "-", "sklearn": "--"}
    for (family, case, which), rows in _series(
        records, lambda t: (t["family"], t["case"], t["implementation"])
    ).items():
        n = [r["n"] for r in rows]
        med = np.array([r["median_s"] for r in rows])
        err = [med - [r["min_s"] for r in rows], [r["max_s"] for r in rows] - med]
        label = f"{which}: {case}" + (" (1 SGD epoch)" if family == "sgd" else " fit")
        ax_time.errorbar(
            n,
            med,
            yerr=np.clip(err, 0, None),
            marker="o",
            capsize=3,
            linestyle=styles.get(which, "-"),
            label=label,
        )
        if family == "fit":
            ax_loss.plot(
                n,
                [r["final_loss"] for r in rows],
                marker="o" if which == "fastlogit" else "x",
                markersize=8,
                linestyle=styles.get(which, "-"),
                label=f"{which}: {case}",
            )
    for (case,), rows in _series(
        [t for t in records if t["family"] == "fit" and t["implementation"] == "fastlogit"],
        lambda t: (t["case"],),
    ).items():
        ax_loss.plot(
            [r["n"] for r in rows],
            [r["true_model_loss"] for r in rows],
            color="grey",
            linestyle=":",
            label=f"true model: {case}",
        )
    for ax in (ax_time, ax_loss):
        ax.set_xscale("log")
        ax.set_xlabel(f"rows n (× {results['settings']['n_features']} features)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_time.set_yscale("log")
    ax_time.set_ylabel("time (s, median; bars: min–max)")
    ax_time.set_title("fit time: fastlogit vs scikit-learn")
    ax_loss.set_ylabel("final training objective (mean log-loss + L2 term, nats)")
    ax_loss.set_title("final training loss: lower is better, equal is expected")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def memory_plot(results, path):
    """Peak traced memory of one loss+gradient evaluation against n."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for (case, which), rows in _series(results["memory"], lambda m: (m["case"], m["implementation"])).items():
        ax.plot(
            [r["n"] for r in rows],
            [max(r["peak_bytes"], 1) / 2**20 for r in rows],
            marker="o",
            linestyle="-" if which == "fastlogit" else "--",
            label=f"{which}: {case}",
        )
    sizes = sorted({m["n"] for m in results["memory"]})
    x_bytes = {m["n"]: m["X_bytes"] for m in results["memory"]}
    ax.plot(sizes, [x_bytes[n] / 2**20 for n in sizes], color="grey", linestyle=":", label="size of X itself")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"rows n (× {results['settings']['n_features']} features)")
    ax.set_ylabel("peak extra memory (MiB, tracemalloc)")
    ax.set_title("memory of one loss + gradient evaluation")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ratio_bar_plot(groups, path, title):
    """Horizontal bars: for each pytest-benchmark group, other implementations' time / fastlogit's."""
    plt = pyplot()
    labels, values = [], []
    for g in groups:
        for r in g["ratios"]:
            labels.append(f"{g['group']}: {r['implementation']}")
            values.append(r["ratio"])
    fig, ax = plt.subplots(figsize=(10, max(3, 0.3 * len(labels) + 1.5)))
    if labels:
        y = np.arange(len(labels))
        colors = ["tab:green" if v >= 1 else "tab:red" for v in values]
        ax.barh(y, [v - 1 for v in values], left=1, color=colors)  # bars grow from 1×
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        _times_axis(ax.xaxis)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1, label="same time as fastlogit")
    ax.set_xlabel("time relative to fastlogit (×, medians; > 1: fastlogit faster)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # long group labels
    plt.close(fig)
