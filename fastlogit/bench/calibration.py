"""The truth about the fitted probabilities: each model against the Bayes posterior.

The bench data (:func:`fastlogit.bench.problems.gaussian_classes`) are
Gaussian classes with a shared covariance, so the posterior ``P(y = k | x)``
is known exactly: the sigmoid (two classes) or softmax (K classes) of the
true linear score ``x @ coef.T + intercept`` (:func:`bayes_posterior`).  No
model can do better on average; how far a fitted model's probabilities are
from it is the truth about them, with no label noise in the way.

- :func:`calibration_summary`: the fitted model's log-loss, ROC AUC and PR
  AUC beside the Bayes-optimal classifier's on the same rows; the expected
  excess log-loss (the mean Kullback-Leibler divergence from the true
  posterior to the fitted one: what the log-loss gap estimates, without the
  labels' noise); the mean and largest absolute difference of fitted and
  true probabilities; and reliability-curve data (the fitted probability
  binned, against the mean true posterior and the observed frequency in
  each bin).
- :func:`calibration_learning_curve`: the same on held-out rows for fits on
  ``n`` rows, for several ``n``: how the gap shrinks as the data grow;
  :func:`calibration_learning_curves` for several models on one draw, each
  judged on the same held-out rows.
- :data:`USER_FITS`: the peer libraries' classifiers as a user fits them,
  each with its own defaults at scikit-learn's ``C``
  (:class:`UserFit`), to be judged the same way.

Probabilities are ``(n, K)`` arrays with column ``k`` for class ``k``, as
``predict_proba`` returns them for classes ``0 .. K-1``; for two classes a
``(n,)`` array is the probability of class 1.
"""

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .peers import PEERS, glum_alpha

#: Bins of the reliability curve (uniform on [0, 1], scikit-learn's default).
N_BINS = 10
#: Rows whose probabilities sum to 1 within this are accepted (float64
#: rounding of a softmax over many classes, float32 outputs).
ROW_SUM_ATOL = 1e-6
#: Held-out rows on which :func:`calibration_learning_curve` judges each fit.
N_TEST = 20_000


# -- the Bayes posterior ----------------------------------------------------------------


def bayes_posterior(X, coef, intercept):
    """The true posterior ``P(y = k | x)`` of every row, from the true linear score.

    Parameters
    ----------
    X : (n, d) array (or scipy sparse matrix).
    coef : (d,) or (1, d) for two classes (class 1 against class 0), as
        :func:`~fastlogit.bench.problems.gaussian_classes` returns it; (K, d)
        for K > 2 classes.
    intercept : float or (1,) for two classes, (K,) for K.

    Returns
    -------
    (n, 2) float64 ``[1 - p, p]`` with ``p = sigmoid(x @ coef + intercept)``
    for two classes (both columns from the sigmoid, so neither rounds to 0
    early); (n, K) ``softmax(x @ coef.T + intercept)`` for K.
    """
    from scipy.special import expit, softmax

    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
    if coef.ndim == 1:
        coef = coef[np.newaxis, :]
    if coef.ndim != 2:
        raise ValueError(f"coef must have shape (d,), (1, d) or (K, d), got {coef.shape}")
    if X.ndim != 2 or X.shape[1] != coef.shape[1]:
        raise ValueError(f"X must have shape (n, {coef.shape[1]}) to match coef, got {X.shape}")
    if intercept.shape != (coef.shape[0],):
        raise ValueError(f"intercept must have {coef.shape[0]} entries to match coef, got {intercept.shape}")
    Z = np.asarray(X @ coef.T, dtype=np.float64) + intercept
    if coef.shape[0] == 1:
        z = Z[:, 0]
        return np.column_stack([expit(-z), expit(z)])
    return softmax(Z, axis=1)


# -- checks --------------------------------------------------------------------------------


def _as_matrix(name, proba):
    """(n, K) probabilities; (n,) is class 1's of two."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise ValueError(f"{name} must have shape (n,) or (n, K) with K >= 2, got {proba.shape}")
    if not np.all(np.isfinite(proba)) or proba.min() < 0.0 or proba.max() > 1.0:
        raise ValueError(f"{name} must hold probabilities in [0, 1]")
    worst = np.abs(proba.sum(axis=1) - 1.0).max() if len(proba) else 0.0
    if worst > ROW_SUM_ATOL:
        raise ValueError(
            f"{name}: every row must sum to 1 (within {ROW_SUM_ATOL:g}); one is off by {worst:.3g}"
        )
    return proba


def _codes(y, n, n_classes):
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have one label per row ({n}), got shape {y.shape}")
    try:
        codes = y.astype(np.int64)
    except (TypeError, ValueError):
        codes = None
    if (
        codes is None
        or not np.array_equal(codes, y)
        or codes.min(initial=0) < 0
        or codes.max(initial=0) >= n_classes
    ):
        raise ValueError(
            f"y must hold class codes 0 .. {n_classes - 1} (column k of the probabilities is class k)"
        )
    return codes


def _check_n_bins(n_bins):
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be an integer >= 1, got {n_bins!r}")


# -- the summary ----------------------------------------------------------------------------


def reliability(proba_fitted, proba_true, observed, n_bins=N_BINS):
    """Reliability-curve data: the fitted probabilities in ``n_bins`` uniform bins.

    Parameters
    ----------
    proba_fitted, proba_true : (m,) probabilities of one event per entry.
    observed : (m,) 0/1, whether the event happened.
    n_bins : int >= 1.

    Returns
    -------
    dict of lists over the non-empty bins, in increasing order: ``bin``
    (index in ``0 .. n_bins-1``), ``count``, ``mean_fitted``, ``mean_true``
    (the mean true posterior) and ``observed`` (the frequency of the
    event), and ``edges`` (all ``n_bins + 1`` bin edges).  The bins are
    those of :func:`sklearn.calibration.calibration_curve` with
    ``strategy="uniform"`` (a probability on an inner edge falls in the
    lower bin), so ``observed`` and ``mean_fitted`` are its ``prob_true``
    and ``prob_pred``.
    """
    _check_n_bins(n_bins)
    proba_fitted = np.asarray(proba_fitted, dtype=np.float64)
    proba_true = np.asarray(proba_true, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if not (proba_fitted.ndim == 1 and proba_fitted.shape == proba_true.shape == observed.shape):
        raise ValueError(
            "proba_fitted, proba_true and observed must be 1-d of one length, got shapes "
            f"{proba_fitted.shape}, {proba_true.shape}, {observed.shape}"
        )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(edges[1:-1], proba_fitted)  # calibration_curve's rule
    count = np.bincount(ids, minlength=n_bins)
    kept = np.flatnonzero(count)

    def mean(values):
        return (np.bincount(ids, weights=values, minlength=n_bins)[kept] / count[kept]).tolist()

    return {
        "bin": kept.tolist(),
        "count": count[kept].tolist(),
        "mean_fitted": mean(proba_fitted),
        "mean_true": mean(proba_true),
        "observed": mean(observed),
        "edges": edges.tolist(),
    }


def _auc_or_nan(score, *args, **kwargs):
    try:
        return float(score(*args, **kwargs))
    except ValueError:  # a class absent from y: the curve is not defined
        return math.nan


def calibration_summary(proba_fitted, proba_true, y, n_bins=N_BINS, *, bayes=None):
    """The fitted probabilities against the Bayes posterior on the same rows.

    Parameters
    ----------
    proba_fitted : (n, K) the model's probabilities (``predict_proba``), or
        (n,) class 1's of two.
    proba_true : the true posterior in the same shape
        (:func:`bayes_posterior`).
    y : (n,) the observed labels, class codes ``0 .. K-1``.
    n_bins : int >= 1, bins of the reliability curve.
    bayes : None, or an earlier summary on the same ``proba_true`` and
        ``y``: its ``log_loss_bayes``, ``roc_auc_bayes`` and
        ``pr_auc_bayes`` are taken, not computed again (a learning curve
        judges every fit on one set of rows; K = 10 AUCs on 20 000 rows
        take 0.1 s).

    Returns
    -------
    dict of floats (and the ``reliability`` dict):

    - ``log_loss_fitted``, ``log_loss_bayes``: :func:`sklearn.metrics.log_loss`
      of each; ``log_loss_gap`` = fitted - Bayes (can be < 0 on a sample:
      the labels are noisy).
    - ``excess_log_loss``: the mean over rows of
      ``KL(true || fitted) = sum_k p_true log(p_true / p_fitted)``, the
      expected log-loss gap given the rows (>= 0, no label noise).
    - ``roc_auc_fitted``, ``roc_auc_bayes``, ``pr_auc_fitted``,
      ``pr_auc_bayes``: ROC AUC (:func:`~sklearn.metrics.roc_auc_score`) and
      PR AUC (:func:`~sklearn.metrics.average_precision_score`) of class 1
      for two classes, one-vs-rest macro averages for K; NaN when a class
      is absent from ``y``.
    - ``mean_abs_diff``, ``max_abs_diff``: of ``proba_fitted - proba_true``
      over class 1's probabilities (two classes) or every (row, class)
      entry (K).
    - ``reliability``: :func:`reliability` of class 1's probabilities (two
      classes) or of every (row, class) entry pooled, the event being
      ``y == k`` (K).
    - ``n``, ``n_classes``.
    """
    from scipy.special import rel_entr
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    fitted = _as_matrix("proba_fitted", proba_fitted)
    true = _as_matrix("proba_true", proba_true)
    if fitted.shape != true.shape:
        raise ValueError(
            f"proba_fitted and proba_true must have one shape, got {fitted.shape} and {true.shape}"
        )
    n, n_classes = fitted.shape
    if n == 0:
        raise ValueError("proba_fitted must have at least one row")
    codes = _codes(y, n, n_classes)
    _check_n_bins(n_bins)
    labels = np.arange(n_classes)
    onehot = (codes[:, np.newaxis] == labels).astype(np.float64)
    if n_classes == 2:
        events = (fitted[:, 1], true[:, 1], onehot[:, 1])

        def roc(p):
            return _auc_or_nan(roc_auc_score, codes, p[:, 1])

        def pr(p):
            return _auc_or_nan(average_precision_score, codes, p[:, 1])

    else:
        events = (fitted.ravel(), true.ravel(), onehot.ravel())

        def roc(p):
            return _auc_or_nan(roc_auc_score, codes, p, multi_class="ovr", average="macro", labels=labels)

        def pr(p):
            if not onehot.any(axis=0).all():
                return math.nan
            return _auc_or_nan(average_precision_score, onehot, p, average="macro")

    diff = np.abs(events[0] - events[1])
    loss_fitted = float(log_loss(codes, fitted, labels=labels))
    if bayes is None:
        loss_bayes, roc_bayes, pr_bayes = float(log_loss(codes, true, labels=labels)), roc(true), pr(true)
    else:
        loss_bayes, roc_bayes, pr_bayes = (
            bayes[key] for key in ("log_loss_bayes", "roc_auc_bayes", "pr_auc_bayes")
        )
    return {
        "n": int(n),
        "n_classes": int(n_classes),
        "log_loss_fitted": loss_fitted,
        "log_loss_bayes": loss_bayes,
        "log_loss_gap": loss_fitted - loss_bayes,
        "excess_log_loss": float(np.mean(rel_entr(true, fitted).sum(axis=1))),
        "roc_auc_fitted": roc(fitted),
        "roc_auc_bayes": roc_bayes,
        "pr_auc_fitted": pr(fitted),
        "pr_auc_bayes": pr_bayes,
        "mean_abs_diff": float(diff.mean()),
        "max_abs_diff": float(diff.max()),
        "reliability": reliability(*events, n_bins=n_bins),
    }


# -- what is judged --------------------------------------------------------------------------------


class ProbabilityFit(Protocol):
    """A model fitted on ``(X, y)`` and asked for its probabilities on ``X_test``.

    ``X`` (n, d) and ``X_test`` (m, d) float64; ``y`` (n,) class codes
    ``0 .. K-1`` (every class present).  Returns (m, K) probabilities with
    column ``k`` for class ``k``, or (m,) class 1's of two.
    """

    def __call__(self, X, y, X_test) -> np.ndarray: ...


def estimator_fit(estimator):
    """The :class:`ProbabilityFit` of an unfitted scikit-learn-compatible
    classifier: a clone fitted on ``(X, y)``, its ``predict_proba(X_test)``."""
    from sklearn.base import clone

    def fit(X, y, X_test):
        return clone(estimator).fit(X, y).predict_proba(X_test)

    return fit


def _sklearn_default(C):
    def fit(X, y, X_test):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=C).fit(X, y).predict_proba(X_test)

    return fit


def _sklearnex_default(C):
    def fit(X, y, X_test):
        from sklearnex.linear_model import LogisticRegression  # the class itself: nothing patched

        return LogisticRegression(C=C).fit(X, y).predict_proba(X_test)

    return fit


def _glum_default(C):
    def fit(X, y, X_test):
        from glum import GeneralizedLinearRegressor

        # glum's penalty is on the mean deviance: alpha = 1 / (C n) is C's (peers.glum_alpha).
        model = GeneralizedLinearRegressor(family="binomial", alpha=glum_alpha(C, X.shape[0]), l1_ratio=0)
        return model.fit(X, y).predict(X_test)  # the binomial mean: class 1's probability

    return fit


@dataclass(frozen=True)
class UserFit:
    """A peer library's classifier as a user fits it: its defaults at one ``C``.

    ``name`` is the library as a report names it, ``peer`` the entry of
    :data:`fastlogit.bench.peers.PEERS` whose imports it needs (what
    :meth:`absent` asks), ``model`` the call a user writes (a template of
    ``C``, see :meth:`call`), ``binary_only`` whether it fits two classes
    only, ``note`` a remark for the report, ``make`` maps scikit-learn's
    ``C`` to the :class:`ProbabilityFit`.
    """

    name: str
    peer: str
    model: str
    binary_only: bool
    note: str
    make: Callable[[float], ProbabilityFit]

    def absent(self):
        """Why the library does not import (one line), None when it does."""
        return PEERS[self.peer].reason

    def call(self, C):
        """The call a user writes for this ``C``, e.g. "...LogisticRegression(C=1)"."""
        return self.model.format(C=C)


#: The name of fastlogit's default fit among the models judged (the peers' are those of USER_FITS).
FASTLOGIT = "fastlogit"

#: The peers judged against the Bayes posterior, by name, in the report's order.
USER_FITS = {
    fit.name: fit
    for fit in (
        UserFit(
            "scikit-learn",
            "sklearn-lbfgs",
            "sklearn.linear_model.LogisticRegression(C={C:g})",
            False,
            "its defaults: lbfgs, max_iter=100, tol=1e-4",
            _sklearn_default,
        ),
        UserFit(
            "glum",
            "glum-irls-cd",
            "glum.GeneralizedLinearRegressor(family='binomial', alpha=1/(C n), l1_ratio=0) with C={C:g}",
            True,
            "binary only: glum has no multinomial family",
            _glum_default,
        ),
        UserFit(
            "scikit-learn-intelex",
            "sklearnex-lbfgs",
            "sklearnex.linear_model.LogisticRegression(C={C:g})",
            False,
            "its defaults: oneDAL's lbfgs, max_iter=100, tol=1e-4 on the summed loss's gradient",
            _sklearnex_default,
        ),
    )
}


# -- against n ---------------------------------------------------------------------------------


def _check_curve_settings(sizes, n_features, n_classes, n_test):
    sizes = sorted(int(s) for s in np.atleast_1d(sizes))
    if not sizes or any(s < 2 for s in sizes):
        raise ValueError(f"sizes must be training sizes >= 2, at least one, got {sizes}")
    for argument, value, least in (
        ("n_features", n_features, 1),
        ("n_classes", n_classes, 2),
        ("n_test", n_test, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
            raise ValueError(f"{argument} must be an integer >= {least}, got {value!r}")
    return sizes


def _fit_recording_convergence(fit, X, y, X_test):
    """``fit(X, y, X_test)`` and whether it raised a ConvergenceWarning (not shown;
    every other warning is)."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        proba = fit(X, y, X_test)
    warned = False
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            warned = True
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return proba, warned


def calibration_learning_curves(
    sizes, *, n_features, n_classes, fits, n_test=N_TEST, seed=0, n_bins=N_BINS, failures=None, max_rows=None
):
    """:func:`calibration_summary` of each model's fits on ``n`` rows, for each ``n``.

    One draw of :func:`~fastlogit.bench.problems.gaussian_classes` (one
    truth) gives ``max(sizes) + n_test`` rows: every model's fit on ``n``
    rows uses the first ``n``, and every fit is judged on the same last
    ``n_test`` (held out: the truth about new data, not the training rows).

    Parameters
    ----------
    sizes : training sizes, each an integer >= 2, in any order (run in
        increasing order).
    n_features, n_classes : int, the problem's d and K (K >= 2).
    fits : ``{name: fit}``, each a :class:`ProbabilityFit`.
    n_test : int >= 1, held-out rows.
    seed : the problem's seed.
    n_bins : bins of each reliability curve.
    failures : None (a fit's exception propagates) or a dict: a model
        whose fit raises is recorded there, ``{name: (n, exception)}``,
        fitted no more and left out of the result.
    max_rows : None or ``{name: n}``: that model is fitted only on up to ``n``
        rows (its curve stops there).

    Returns
    -------
    ``{name: curve}`` in the order of ``fits``, each curve a list of dicts,
    one per size in increasing order: ``{"n": size, ...}`` with the rest of
    :func:`calibration_summary` (its ``n`` renamed ``n_test``) and
    ``convergence_warning`` (whether the fit raised scikit-learn's
    ConvergenceWarning: it stopped at its iteration limit; recorded, not
    shown).

    Raises ValueError when a training prefix lacks a class (make ``n``
    larger).
    """
    from .problems import gaussian_classes

    sizes = _check_curve_settings(sizes, n_features, n_classes, n_test)
    X, y, coef, intercept = gaussian_classes(sizes[-1] + n_test, n_features, n_classes, seed=seed)
    X_test, y_test = X[-n_test:], y[-n_test:]
    proba_true = bayes_posterior(X_test, coef, intercept)
    curves = {name: [] for name in fits}
    bayes = None  # the truth's scores on the held-out rows: the same for every fit
    for n in sizes:
        present = np.unique(y[:n])
        if len(present) != n_classes:
            raise ValueError(
                f"sizes: the first {n} rows hold classes {present.astype(int).tolist()} of {n_classes}; "
                "use a larger n"
            )
        for name, fit in fits.items():
            if name not in curves:  # failed at a smaller n
                continue
            if max_rows is not None and n > max_rows.get(name, n):
                continue
            try:
                proba, warned = _fit_recording_convergence(fit, X[:n], y[:n], X_test)
            except Exception as exc:
                if failures is None:
                    raise
                failures[name] = (n, exc)
                del curves[name]
                continue
            summary = calibration_summary(proba, proba_true, y_test, n_bins=n_bins, bayes=bayes)
            bayes = summary
            summary["n_test"] = summary.pop("n")
            curves[name].append({"n": n, **summary, "convergence_warning": warned})
    return curves


def calibration_learning_curve(
    sizes, *, n_features, n_classes, estimator=None, n_test=N_TEST, seed=0, n_bins=N_BINS
):
    """:func:`calibration_summary` of fits on ``n`` rows, for each ``n`` of ``sizes``.

    One model's :func:`calibration_learning_curves`.

    Parameters
    ----------
    sizes : training sizes, each an integer >= 2, in any order (run in
        increasing order).
    n_features, n_classes : int, the problem's d and K (K >= 2).
    estimator : unfitted scikit-learn-compatible classifier with
        ``predict_proba``, cloned for each size; default fastlogit's
        ``LogisticRegression()``.
    n_test : int >= 1, held-out rows.
    seed : the problem's seed.
    n_bins : bins of each reliability curve.

    Returns
    -------
    list of dicts, one per size in increasing order: ``{"n": size, ...}``
    with the rest of :func:`calibration_summary` (its ``n`` renamed
    ``n_test``) and ``convergence_warning``.

    Raises ValueError when a training prefix lacks a class (make ``n``
    larger).
    """
    if estimator is None:
        from fastlogit import LogisticRegression

        estimator = LogisticRegression()
    curves = calibration_learning_curves(
        sizes,
        n_features=n_features,
        n_classes=n_classes,
        fits={"model": estimator_fit(estimator)},
        n_test=n_test,
        seed=seed,
        n_bins=n_bins,
    )
    return curves["model"]
