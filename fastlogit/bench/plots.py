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


def plain_log_axis(axis):
    """A log axis' tick labels as plain text (1e-08, 0.01, 1000), not mathtext.

    The same ticks and labels as matplotlib's default (minor ticks labelled
    when the axis spans few decades), but matplotlib writes its default as
    mathtext (10 to a power), which it parses and lays out glyph by glyph:
    that took about half of the 2.8 s the eight convergence plots of
    ``fastlogit bench --quick`` cost.
    """
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter())
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False))


def _times_axis(axis):
    """Ratio ticks written 0.5×, 1×, 2× on a log axis."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}×"))
    axis.set_minor_formatter(NullFormatter())


#: With fewer sizes than this, values against n are grouped bars per size (a
#: line through two or three points suggests a trend it does not show).
LINE_MIN_SIZES = 4
#: A figure whose timings spread more than this (max / min over the repeats,
#: or a ratio's best case over its worst) carries a note saying so.
LARGE_SPREAD = 2.0


def _series(records, key):
    groups = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return {k: sorted(v, key=lambda r: r["n"]) for k, v in groups.items()}


def legend_outside(ax, **options):
    """The axes' legend to the right of the axes: it covers no data."""
    return ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, **options)


def spread_note(fig, text, y=-0.01):
    """A note under the figure, its top at figure height ``y`` (saved with
    ``bbox_inches="tight"``, so it is kept): what a large spread means."""
    fig.text(0.01, y, text, fontsize=8, va="top", ha="left", wrap=True, color="darkred")


def save(plt, fig, path):
    """Save with everything drawn outside the axes (legends, notes) and close."""
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return fig


def by_size(ax, sizes, series, *, base=None, log=True):
    """Draw ``series`` against the sizes: grouped bars per size with fewer than
    :data:`LINE_MIN_SIZES` sizes, else lines on a log n axis.

    ``series``: ``{label: (values, low, high, style)}``, each list aligned
    with ``sizes`` (None where a series has no value at that size); ``low``
    and ``high`` (or None) the error bar's ends; ``style`` a dict of
    matplotlib options (``color``, ``linestyle``, ``hatch``).  ``base``:
    where bars start (1 for ratios: a bar grows up from 1x when > 1, down
    when < 1); default the axis' lower end.  Returns whether bars were drawn.
    """
    sizes = list(sizes)
    bars = len(sizes) < LINE_MIN_SIZES
    if log:
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis)
    if bars:
        x = np.arange(len(sizes))
        width = 0.8 / max(len(series), 1)
        finite = [v for values, *_ in series.values() for v in values if v is not None and v > 0]
        floor = base if base is not None else (min(finite) / 2 if finite and log else 0.0)
        for index, (label, (values, low, high, style)) in enumerate(series.items()):
            at = x - 0.4 + width * (index + 0.5)
            kept = [i for i, v in enumerate(values) if v is not None]
            v = np.array([values[i] for i in kept], dtype=float)
            err = None
            if low is not None and high is not None:
                err = np.clip([v - [low[i] for i in kept], [high[i] for i in kept] - v], 0, None)
            ax.bar(
                at[kept],
                v - floor,
                width=width,
                bottom=floor,
                yerr=err,
                capsize=2,
                label=label,
                color=style.get("color"),
                hatch=style.get("hatch"),
                edgecolor="black",
                linewidth=0.4,
                error_kw={"elinewidth": 0.8},
            )
        ax.set_xticks(x, [f"{n:,}" for n in sizes])
        ax.set_xlim(-0.6, len(sizes) - 0.4)
    else:
        for label, (values, low, high, style) in series.items():
            kept = [i for i, v in enumerate(values) if v is not None]
            v = np.array([values[i] for i in kept], dtype=float)
            err = None
            if low is not None and high is not None:
                err = np.clip([v - [low[i] for i in kept], [high[i] for i in kept] - v], 0, None)
            ax.errorbar(
                [sizes[i] for i in kept],
                v,
                yerr=err,
                marker="o",
                capsize=3,
                label=label,
                color=style.get("color"),
                linestyle=style.get("linestyle", "-"),
            )
        ax.set_xscale("log")
        plain_log_axis(ax.xaxis)
    return bars


def speedup_plot(results, path):
    """Speed-up of each kernel over its NumPy reference, per size: grouped bars
    (lines with :data:`LINE_MIN_SIZES` sizes or more), min–max error bars."""
    plt = pyplot()
    kernels = [c for c in results["comparisons"] if c["family"] == "kernel"]
    sizes = sorted({c["n"] for c in kernels})
    series = {}
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, (case, rows) in enumerate(_series(kernels, lambda c: c["case"]).items()):
        at = {r["n"]: r for r in rows}
        pick = [at.get(n) for n in sizes]
        series[case] = (
            [r and r["ratio"] for r in pick],
            [r and r["ratio_low"] for r in pick],
            [r and r["ratio_high"] for r in pick],
            {"color": colors[index % len(colors)], "hatch": "//" if index >= len(colors) else None},
        )
    fig, ax = plt.subplots(figsize=(10, 5))
    bars = by_size(ax, sizes, series, base=1.0)
    ax.axhline(1.0, color="grey", linestyle="--", linewidth=1, label="as fast as the reference")
    _times_axis(ax.yaxis)
    ax.set_xlabel(f"rows n (× {results['settings']['n_features']} features)")
    ax.set_ylabel("speed-up over NumPy reference (×, median; bars: min–max)")
    ax.set_title(f"fastlogit kernels vs fastlogit.reference, {results['settings']['threads']} thread(s)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    if not bars:
        ax.grid(True, axis="x", which="both", alpha=0.3)
    legend_outside(ax)
    wide = [c for c in kernels if c.get("unstable") or c["ratio_high"] / c["ratio_low"] > LARGE_SPREAD]
    if wide:
        spread_note(
            fig,
            f"Note: {len(wide)} of {len(kernels)} speed-ups spread more than {LARGE_SPREAD:g}x between "
            "their worst and best case (long error bars): the machine was busy; read the medians "
            "with care and rerun on a quiet machine.",
        )
    return save(plt, fig, path)


FIT_PANELS = (
    ("fit", "binary lbfgs", "binary fit (lbfgs)"),
    ("fit", "multinomial lbfgs", "softmax fit (lbfgs)"),
    ("sgd", "binary epoch", "one SGD epoch (binary)"),
)
FIT_STYLES = {
    "fastlogit": {"color": "tab:blue"},
    "sklearn": {"color": "tab:orange", "hatch": "//"},
    "true model": {"color": "lightgrey"},
}


def fit_plot(results, path):
    """Fit and SGD-epoch times, and the final training loss, against scikit-learn:
    one column of panels per problem (binary, softmax, SGD), times above, losses below."""
    plt = pyplot()
    records = [t for t in results["timings"] if t["family"] in ("fit", "sgd")]
    panels = [
        (family, case, title)
        for family, case, title in FIT_PANELS
        if any(t["family"] == family and t["case"] == case for t in records)
    ]
    if not panels:
        raise ValueError("results: no fit or SGD timings to draw")
    K = results["settings"].get("n_classes")
    fig, axes = plt.subplots(2, len(panels), figsize=(4.6 * len(panels), 8), squeeze=False)
    spreads = []
    for column, (family, case, title) in enumerate(panels):
        rows = [t for t in records if t["family"] == family and t["case"] == case]
        sizes = sorted({t["n"] for t in rows})
        by = {(t["implementation"], t["n"]): t for t in rows}
        times, losses = {}, {}
        for which in ("fastlogit", "sklearn"):
            pick = [by.get((which, n)) for n in sizes]
            times[which] = (
                [t and t["median_s"] for t in pick],
                [t and t["min_s"] for t in pick],
                [t and t["max_s"] for t in pick],
                FIT_STYLES[which],
            )
            spreads += [t["max_s"] / t["min_s"] for t in pick if t]
            key = "final_loss" if family == "fit" else "final_log_loss"
            losses[which] = ([t and t[key] for t in pick], None, None, FIT_STYLES[which])
        if family == "fit":
            pick = [by.get(("fastlogit", n)) for n in sizes]
            losses["true model"] = (
                [t and t["true_model_loss"] for t in pick],
                None,
                None,
                FIT_STYLES["true model"],
            )
        ax_time, ax_loss = axes[0, column], axes[1, column]
        name = title.replace("softmax", f"softmax K={K}") if K else title
        by_size(ax_time, sizes, times)
        ax_time.set_title(f"{name}: time")
        ax_time.set_ylabel("time (s, median; bars: min–max)")
        by_size(ax_loss, sizes, losses, log=False)
        values = [v for vals, *_ in losses.values() for v in vals if v is not None]
        low, high = min(values), max(values)
        pad = max((high - low) * 0.5, abs(high) * 1e-3)
        # equal losses, seen as equal at this zoom; a log-loss is never below 0
        ax_loss.set_ylim(max(low - pad, 0.0) if low >= 0 else low - pad, high + pad)
        ax_loss.set_title(f"{name}: final training loss")
        ax_loss.set_ylabel(
            "mean log-loss + L2 term (nats)"
            if family == "fit"
            else "training log-loss after the epoch (nats)"
        )
        for ax in (ax_time, ax_loss):
            ax.set_xlabel(f"rows n (× {results['settings']['n_features']} features)")
            ax.grid(True, axis="y", which="both", alpha=0.3)
    handles = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    labels = {"fastlogit": "fastlogit", "sklearn": "scikit-learn", "true model": "the true model's loss"}
    fig.suptitle("fits against scikit-learn: lower time is better; equal losses are expected")
    fig.tight_layout()
    fig.legend(
        list(handles.values()),
        [labels.get(label, label) for label in handles],
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=len(handles),
        fontsize=9,
    )
    wide = [x for x in spreads if x > LARGE_SPREAD]
    if wide:
        spread_note(
            fig,
            f"Note: {len(wide)} of {len(spreads)} timings spread more than {LARGE_SPREAD:g}x over their "
            "repeats (long error bars): the machine was busy.",
            y=-0.06,  # under the legend
        )
    return save(plt, fig, path)


def memory_plot(results, path):
    """Peak traced memory of one loss+gradient evaluation per size (grouped bars, or
    lines with :data:`LINE_MIN_SIZES` sizes or more), beside the size of X."""
    plt = pyplot()
    sizes = sorted({m["n"] for m in results["memory"]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = {}
    for index, ((case, which), rows) in enumerate(
        _series(results["memory"], lambda m: (m["case"], m["implementation"])).items()
    ):
        at = {r["n"]: r for r in rows}
        series[f"{which}: {case}"] = (
            [max(at[n]["peak_bytes"], 1) / 2**20 if n in at else None for n in sizes],
            None,
            None,
            {
                "color": colors[index % len(colors)],
                "linestyle": "-" if which == "fastlogit" else "--",
                "hatch": None if which == "fastlogit" else "//",
            },
        )
    x_bytes = {m["n"]: m["X_bytes"] for m in results["memory"]}
    series["size of X itself"] = (
        [x_bytes[n] / 2**20 for n in sizes],
        None,
        None,
        {"color": "lightgrey", "linestyle": ":"},
    )
    fig, ax = plt.subplots(figsize=(8, 5))
    by_size(ax, sizes, series)
    ax.set_xlabel(f"rows n (× {results['settings']['n_features']} features)")
    ax.set_ylabel("peak extra memory (MiB, tracemalloc)")
    ax.set_title("memory of one loss + gradient evaluation")
    legend_outside(ax)
    ax.grid(True, axis="y", which="both", alpha=0.3)
    return save(plt, fig, path)


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
