"""PNG plots of time to equal accuracy and of the fitted probabilities (matplotlib, Agg).

- :func:`convergence_plot`: the objective gap against time, one line per
  library-solver (:func:`fastlogit.bench.ladder.convergence_curve`), what
  benchopt draws.
- :func:`reliability_plot`: binned fitted probabilities against the true
  posterior (:func:`fastlogit.bench.calibration.calibration_summary`);
  :func:`reliability_grid` the same in several panels (one per data set
  and training size, one line per model in each).
- :func:`calibration_learning_plot`: how far the fitted probabilities are
  from the truth, against the training size
  (:func:`fastlogit.bench.calibration.calibration_learning_curve`).

matplotlib is optional, as for :mod:`fastlogit.bench.plots` (its
:func:`~fastlogit.bench.plots.pyplot` imports it).  Every function writes
``path`` and returns the (closed) figure, whose axes, titles and legends a
caller or a test can read.  Legends sit outside the axes, so they cover no
line, and the figure is saved with its legend (``bbox_inches="tight"``).
"""

import math

from .ladder import FASTLOGIT_PREFIX, RTOL
from .plots import plain_log_axis, pyplot

#: Where a gap of 0 (the best objective itself) is drawn on the log axis: a
#: relative difference of objectives below float64's resolution (2.2e-16)
#: is not measured.
GAP_FLOOR = 1e-16
#: Markers cycled through the lines, so lines of one colour still differ.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")


def _legend_outside(ax):
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def _save(plt, fig, path):
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps the legend outside the axes
    plt.close(fig)
    return fig


def convergence_plot(curves, path, *, title, rtol=RTOL, skipped=(), note=None):
    """Relative objective gap against time, log-log, one line per library-solver.

    Parameters
    ----------
    curves : ``{name: [(seconds, gap), ...]}`` as
        :func:`~fastlogit.bench.ladder.convergence_curve` returns it.  Gaps
        of 0 are drawn at :data:`GAP_FLOOR` (the axis label says so).
    path : where the PNG goes.
    title : the figure's title (name the problem).
    rtol : "equal accuracy", drawn as a horizontal line.
    skipped : names not drawn (skipped records), listed under the axes.
    note : a line written under the axes (e.g. that the timings spread
        widely), or None.

    Returns
    -------
    matplotlib Figure (closed).
    """
    drawn = {name: points for name, points in curves.items() if points}
    if not drawn:
        raise ValueError("curves: no library-solver has a point to draw")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for index, (name, points) in enumerate(drawn.items()):
        seconds = [s for s, _ in points]
        gaps = [max(gap, GAP_FLOOR) for _, gap in points]
        ours = name.startswith(FASTLOGIT_PREFIX)
        ax.plot(
            seconds,
            gaps,
            marker=MARKERS[index % len(MARKERS)],
            linestyle="-" if ours else "--",
            linewidth=2.0 if ours else 1.2,
            label=name,
        )
    ax.axhline(rtol, color="grey", linestyle=":", linewidth=1, label=f"equal accuracy ({rtol:g})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    plain_log_axis(ax.xaxis)
    plain_log_axis(ax.yaxis)
    ax.set_xlabel("fit time (s, best of the repeats at each tolerance)")
    ax.set_ylabel(f"objective gap to the best reached (relative; 0 drawn at {GAP_FLOOR:g})")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    _legend_outside(ax)
    below = []
    if skipped:
        below.append("not drawn (skipped): " + ", ".join(skipped))
    if note:
        below.append(note)
    if below:
        fig.text(0.01, -0.02, "\n".join(below), fontsize=7, va="top", wrap=True)
    return _save(plt, fig, path)


def _draw_reliability(ax, series, styles):
    """The diagonal, then each series' true posterior (solid) and observed frequency
    (dotted, the same colour) against its mean fitted probability, on ``ax``."""
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="fitted = true (perfect)")
    for index, (label, bins) in enumerate(series.items()):
        style = {"marker": MARKERS[index % len(MARKERS)], **styles.get(label, {})}
        (line,) = ax.plot(bins["mean_fitted"], bins["mean_true"], label=f"{label}: true posterior", **style)
        ax.plot(
            bins["mean_fitted"],
            bins["observed"],
            color=line.get_color(),
            linestyle=":",
            marker=".",
            alpha=0.7,
            label=f"{label}: observed frequency",
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("fitted probability (mean in each bin)")
    ax.set_ylabel("true posterior probability / observed frequency (mean in each bin)")
    ax.grid(True, alpha=0.3)


def reliability_plot(series, path, *, title, styles=None):
    """Fitted probability (binned) against the true posterior, with the diagonal.

    Parameters
    ----------
    series : ``{label: reliability}``, each the ``reliability`` dict of
        :func:`~fastlogit.bench.calibration.calibration_summary` (one model,
        or one training size).  Each is drawn as the bins' mean true
        posterior (solid) and observed frequency (dotted, the same colour)
        against their mean fitted probability.
    path : where the PNG goes.
    title : the figure's title.
    styles : ``{label: matplotlib keywords}`` for a series' true-posterior
        line (colour, marker, width), or None.

    Returns
    -------
    matplotlib Figure (closed).
    """
    if not series:
        raise ValueError("series: nothing to draw")
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 6))
    _draw_reliability(ax, series, styles or {})
    ax.set_title(title)
    _legend_outside(ax)
    return _save(plt, fig, path)


def reliability_grid(panels, path, *, title, styles=None):
    """:func:`reliability_plot` in panels, two a row, with one legend beside them.

    Parameters
    ----------
    panels : ``{panel title: series}``, each ``series`` as
        :func:`reliability_plot` takes it (e.g. one panel per data set and
        training size, one series per model).  A label drawn in several
        panels has one legend entry.
    path : where the PNG goes.
    title : the figure's title.
    styles : ``{label: matplotlib keywords}`` (give each label one colour, so
        it keeps it in every panel), or None.

    Returns
    -------
    matplotlib Figure (closed); its legend is the figure's, right of the panels.
    """
    panels = {name: series for name, series in panels.items() if series}
    if not panels:
        raise ValueError("panels: nothing to draw")
    plt = pyplot()
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 5.0 * nrows), squeeze=False)
    for ax, (name, series) in zip(axes.flat, panels.items(), strict=False):
        _draw_reliability(ax, series, styles or {})
        ax.set_title(name)
    for ax in axes.flat[len(panels) :]:
        ax.remove()
    fig.suptitle(title)
    fig.tight_layout()
    entries = {}
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    fig.legend(
        entries.values(),
        entries.keys(),
        fontsize=8,
        loc="upper left",
        bbox_to_anchor=(max(ax.get_position().x1 for ax in fig.axes) + 0.01, 0.95),
        borderaxespad=0.0,
    )
    return _save(plt, fig, path)


def calibration_learning_plot(curves, path, *, title, styles=None):
    """Expected excess log-loss and mean |fitted - true| against the training size n.

    Parameters
    ----------
    curves : ``{label: curve}``, each a list of dicts from
        :func:`~fastlogit.bench.calibration.calibration_learning_curve`.
    path : where the PNG goes.
    title : the figure's title.
    styles : ``{label: matplotlib keywords}`` for a curve's lines (colour,
        marker, line style), or None.

    Returns
    -------
    matplotlib Figure (closed), two panels side by side, log-log.
    """
    if not any(curves.values()):
        raise ValueError("curves: nothing to draw")
    plt = pyplot()
    fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(11, 4.5))
    for index, (label, rows) in enumerate(curves.items()):
        n = [row["n"] for row in rows]
        style = {"marker": MARKERS[index % len(MARKERS)], **(styles or {}).get(label, {})}
        # An exact fit has no excess: a log axis cannot draw 0, so such a point is left out.
        loss = [row["excess_log_loss"] if row["excess_log_loss"] > 0 else math.nan for row in rows]
        ax_loss.plot(n, loss, label=label, **style)
        ax_diff.plot(n, [row["mean_abs_diff"] for row in rows], label=label, **style)
    for ax, ylabel in (
        (ax_loss, "expected excess log-loss over Bayes (nats)"),
        (ax_diff, "mean |fitted - true posterior|"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain_log_axis(ax.xaxis)
        plain_log_axis(ax.yaxis)
        ax.set_xlabel("training rows n")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_loss.set_title("log-loss gap to the Bayes posterior")
    ax_diff.set_title("probability error")
    fig.suptitle(title)
    _legend_outside(ax_diff)
    fig.tight_layout()
    return _save(plt, fig, path)
