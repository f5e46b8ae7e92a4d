"""Regularization paths and cross-validation: :func:`logistic_path` and
:class:`LogisticRegressionCV`.

The k training objectives of k-fold cross-validation are k weighted sums over
the same rows (a row of fold j weighs 0 in model j), so when the folds
partition the rows and the penalty is smooth, all k models are solved
together on a :class:`~fastlogit.objective.FoldObjective`: every evaluation
is one pass over X for all folds (:class:`~fastlogit.row_sources.FoldRows`),
where k separate fits read it k times.  The path over ``Cs`` is warm-started
from one ``C`` to the next, as scikit-learn's is.  L1 and elastic-net paths,
and splits that do not partition the rows (``ShuffleSplit``, bootstraps),
fit each split on its own (the split's rows weighted by how often it holds
them, nothing copied), warm-started the same way.

Held-out accuracy and log-loss (the default scoring, and ``"neg_log_loss"``)
come from the fused pass itself: the solver's last evaluation at each ``C``
(or, with class weights, one more pass under the sample weights alone); any
other scorer is called on a copy of each split's held-out rows.

Data that is not in memory (chunk sources, ``.npy`` paths, memmaps, Parquet;
Dask arrays) is cross-validated the same way, one pass over the chunks or
blocks per evaluation for all folds (:class:`~fastlogit.row_sources.ChunkFoldRows`,
:class:`~fastlogit.distributed.DaskFoldRows`), with fold ids given per row or
derived from each row's position (:func:`~fastlogit.data.position_fold_ids`).
"""

import math
import os
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, get_scorer_names, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params, _check_sample_weight, validate_data

from . import solvers
from .data import as_fold_ids, check_estimator_input, check_n_threads, check_two_classes, label_codes
from .model import _KERNEL_DTYPES, FULL_BATCH_SOLVERS, LogisticRegression, _is_dask
from .objective import FoldObjective, Objective
from .row_sources import ArrayRows, ChunkFoldRows, FoldRows
from .sources import is_chunked_input, parquet_columns

#: ``Cs=int`` spans these decades of C, as scikit-learn's grid does (L2);
#: an L1 or elastic-net path of :func:`logistic_path` starts instead at the
#: largest C whose solution is all zeros and spans ``L1_PATH_DECADES`` above it.
DEFAULT_C_RANGE = (-4.0, 4.0)
L1_PATH_DECADES = 4.0
#: The L1 path's first C is this much (relative) below the boundary C at
#: which the first coefficient leaves zero.
L1_PATH_START_MARGIN = 1e-9

#: Solvers whose L2 fits run on all folds at once (one data pass per evaluation).
FOLD_FUSED_SOLVERS = ("auto", "lbfgs", "newton")

#: Scorers computed from the fused held-out pass (no copy of the held-out rows).
FUSED_SCORERS = ("accuracy", "neg_log_loss")


#: ``fit`` options of out-of-core and Dask cross-validation: the Parquet columns
#: (as ``LogisticRegression.fit``) and the fold ids.
STREAMED_OPTIONS = ("target", "features", "weight", "fold")


def _seed(random_state):
    """An int seed of ``random_state`` (None: 0) for the position fold ids."""
    if random_state is None:
        return 0
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _fold_array(fold, n):
    """``(ids, n_folds)`` of given fold ids: integer, one per row, every id below the largest used."""
    arr = np.asarray(fold)
    top = int(arr.max()) if arr.size and arr.dtype.kind in "iu" else 0
    ids = as_fold_ids(arr, n, max(top + 1, 2))
    n_folds = top + 1
    if n_folds < 2:
        raise ValueError(f"fold must hold at least 2 distinct fold ids, got {n_folds}")
    missing = np.setdiff1d(np.arange(n_folds), ids)
    if missing.size:
        raise ValueError(f"fold: fold ids {missing.tolist()} name no rows (ids must be 0 .. {n_folds - 1})")
    return ids, n_folds


def check_Cs(Cs):
    """``Cs`` (an int >= 1 or a list of positive floats, ``inf`` allowed) -> float64 array.
    An int gives scikit-learn's grid ``np.logspace(-4, 4, Cs)``."""
    if isinstance(Cs, Integral) and not isinstance(Cs, bool):
        if Cs < 1:
            raise ValueError(f"Cs must be a positive int or a list of positive floats, got Cs={Cs}")
        return np.logspace(*DEFAULT_C_RANGE, int(Cs))
    try:
        values = np.asarray(Cs, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"Cs must be an int or a list of positive floats, got {Cs!r}") from None
    if values.size == 0:
        raise ValueError("Cs is empty: give at least one C (or an int, the number of Cs of a grid)")
    if np.isnan(values).any() or (values <= 0).any():
        raise ValueError(f"Cs must all be positive (inf allowed), got {values.tolist()}")
    return values


def check_l1_ratios(l1_ratios):
    """``l1_ratios`` (floats in [0, 1]) -> float64 array; None -> ``[0.0]``."""
    if l1_ratios is None:
        return np.zeros(1)
    try:
        values = np.asarray(l1_ratios, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"l1_ratios must be a list of floats in [0, 1], got {l1_ratios!r}") from None
    if values.size == 0:
        raise ValueError("l1_ratios is empty: give at least one value in [0, 1]")
    if np.isnan(values).any() or (values < 0).any() or (values > 1).any():
        raise ValueError(f"l1_ratios must all lie in [0, 1], got {values.tolist()}")
    return values


def _split_weights(n, train):
    """How many times each row is in ``train``: float64 (n,) (a bootstrap repeats rows)."""
    return np.bincount(np.asarray(train, dtype=np.intp), minlength=n).astype(np.float64)


def _fold_ids(n, splits):
    """Fold id per row when the splits' test sets partition the rows and each
    train set is the rest (k-fold splitters), else None."""
    fold = np.full(n, -1, dtype=np.int64)
    for j, (train, test) in enumerate(splits):
        test = np.asarray(test, dtype=np.intp)
        if test.size == 0 or (fold[test] != -1).any():
            return None
        fold[test] = j
        if len(train) + len(test) != n:
            return None
    if (fold == -1).any():
        return None
    for j, (train, _) in enumerate(splits):
        if (fold[np.asarray(train, dtype=np.intp)] == j).any():
            return None
    return fold


class _Problem:
    """One CV problem: the validated data, the splits and how models are fitted and scored."""

    def __init__(
        self, X, y_enc, classes, sw, score_sw, splits, *, fit_intercept, solver, tol, max_iter, n_threads
    ):
        self.X, self.y, self.classes = X, y_enc, classes
        self.K = len(classes)
        self.sw, self.score_sw = sw, score_sw
        self.splits = splits
        self.n, self.d = X.shape
        self.fit_intercept, self.solver, self.tol, self.max_iter = fit_intercept, solver, tol, max_iter
        self.n_threads = n_threads
        self.fold = _fold_ids(self.n, splits)
        self.n_folds = len(splits)
        for j, (train, _) in enumerate(splits):
            weights = _split_weights(self.n, train) * (1.0 if sw is None else sw)
            counts = np.bincount(y_enc, weights=weights, minlength=self.K)
            if (counts > 0).sum() < 2:
                raise ValueError(
                    f"cv: the training set of split {j} holds only one class "
                    f"({classes[np.argmax(counts)]!r}); use a stratified splitter (StratifiedKFold)"
                )
        self.rows = None
        if self.fold is not None:
            self.rows = FoldRows(
                X, y_enc, sw, self.fold, self.n_folds, self.K, n_threads, score_weight=score_sw
            )
        self._set_layout()
        self.full_rows = None

    @classmethod
    def streamed(cls, rows, full_rows, *, fit_intercept, solver, tol, max_iter, n_threads):
        """A problem on a fold-fused row source that is not in memory (chunks, Dask):
        ``rows`` (:class:`~fastlogit.row_sources.ChunkFoldRows` or
        :class:`~fastlogit.distributed.DaskFoldRows`), ``full_rows`` the same
        data's row source for the refit.  L2 paths on the fused solvers, scored
        by the fused scorers only (the caller checks); ``rows`` None: one path
        over ``full_rows``, any penalty and solver."""
        self = cls.__new__(cls)
        self.X = self.y = self.splits = self.fold = None
        some = rows if rows is not None else full_rows
        self.classes = some.classes
        self.K, self.d, self.n = some.n_classes, some.n_features, some.n_samples
        self.sw = self.score_sw = None
        self.fit_intercept, self.solver, self.tol, self.max_iter = fit_intercept, solver, tol, max_iter
        self.n_threads = n_threads
        # Without fold-fused rows: one path over all of full_rows (any penalty).
        self.n_folds = rows.n_folds if rows is not None else 1
        self.rows, self.full_rows = rows, full_rows
        self._set_layout()
        return self

    def _set_layout(self):
        ref = Objective.from_arrays(
            np.zeros((1, self.d)),
            np.zeros(1, dtype=np.intp),
            n_classes=self.K,
            fit_intercept=self.fit_intercept,
        )
        self.fold_params = ref.n_params
        self.layout = ref

    def refit_rows(self, sw, n_threads):
        """The row source of all the data, for the refit at the chosen C."""
        if self.full_rows is not None:
            return self.full_rows
        return ArrayRows(self.X, self.y, sw, self.K, n_threads)

    # -- fitting --------------------------------------------------------------

    def path(self, Cs, l1_ratio, progress):
        """Fit every split along ``Cs``: ``(xs (k, n_cs, p), n_iter (k, n_cs), converged
        (k, n_cs), held (k, n_cs, 3))``, ``held`` the held-out sums of
        :meth:`FoldRows.held_out` where the fused fit's last pass gave them
        (NaN elsewhere)."""
        k, p = self.n_folds, self.fold_params
        xs = np.zeros((k, len(Cs), p))
        held = np.full((k, len(Cs), 3), np.nan)
        n_iter = np.zeros((k, len(Cs)), dtype=np.int32)
        converged = np.ones((k, len(Cs)), dtype=bool)
        fused = self.rows is not None and self.solver in FOLD_FUSED_SOLVERS
        x = np.zeros(k * p)
        per_fold = None
        for c, C in enumerate(Cs):
            smooth = l1_ratio == 0 or math.isinf(C)
            if fused and smooth:
                objective = FoldObjective(self.rows, C=C, fit_intercept=self.fit_intercept)
                options = {"polish": False} if self.solver == "auto" else {}
                res = FULL_BATCH_SOLVERS[self.solver](
                    objective, x, max_iter=self.max_iter, tol=self.tol, **options
                )
                x = res.x
                _, g = objective.loss_grad(x)
                converged[:, c] = objective.fold_optimality(g) <= max(
                    self.tol, solvers.MACHINE_PRECISION_GRAD
                )
                n_iter[:, c] = res.n_iter
                last = self.rows.last_held_out(*objective.stacked(x))
                if last is not None:
                    held[:, c] = np.column_stack(last)
            else:
                if per_fold is None:
                    per_fold = [self._fold_rows(j) for j in range(k)]
                for j in range(k):
                    objective = Objective(
                        [per_fold[j]], C=C, l1_ratio=l1_ratio, fit_intercept=self.fit_intercept
                    )
                    res = FULL_BATCH_SOLVERS[self.solver](
                        objective, x[j * p : (j + 1) * p], max_iter=self.max_iter, tol=self.tol
                    )
                    x[j * p : (j + 1) * p] = res.x
                    converged[j, c] = res.converged
                    n_iter[j, c] = res.n_iter
            xs[:, c] = x.reshape(k, p)
            for j in np.flatnonzero(~converged[:, c]):
                warnings.warn(
                    f"C={C:.6g}, l1_ratio={l1_ratio:g}: the fit of fold {j} did not reach tol={self.tol} "
                    f"within max_iter={self.max_iter} iterations; increase max_iter, or scale the data",
                    ConvergenceWarning,
                    stacklevel=4,
                )
            if progress is not None:
                progress.update(1)
        return xs, n_iter, converged, held

    def _fold_rows(self, j):
        if self.X is None:  # streamed, one path over all rows
            return self.full_rows
        train, _ = self.splits[j]
        weights = _split_weights(self.n, train)
        if self.sw is not None:
            weights *= self.sw
        return ArrayRows(self.X, self.y, weights, self.K, self.n_threads)

    # -- scoring --------------------------------------------------------------

    def estimator_params(self, x):
        """``(coef_, intercept_)`` of a flat vector, scikit-learn's layout."""
        return self.layout.to_estimator(x)

    def scores(self, xs, scorer_name, scorer, score_params, held=None):
        """Held-out scores, float64 (k, n_cs); ``held``: :meth:`path`'s held-out sums."""
        k, n_cs, _ = xs.shape
        out = np.empty((k, n_cs))
        if self.rows is not None and scorer_name in FUSED_SCORERS:
            stack = FoldObjective(self.rows, C=np.inf, fit_intercept=self.fit_intercept)
            for c in range(n_cs):
                if held is not None and not np.isnan(held[:, c]).any():
                    loss, correct, weight = held[:, c].T
                else:
                    loss, correct, weight = self.rows.held_out(*stack.stacked(xs[:, c].ravel()))
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[:, c] = correct / weight if scorer_name == "accuracy" else -loss / weight
            return out
        shim = LogisticRegression(fit_intercept=self.fit_intercept)
        shim.classes_ = self.classes
        shim.n_features_in_ = self.d
        for j, (_, test) in enumerate(self.splits):
            test = np.asarray(test, dtype=np.intp)
            X_test, y_test = self.X[test], self.classes[self.y[test]]
            params = _check_method_params(self.X, params=score_params, indices=test)
            for c in range(n_cs):
                shim.coef_, shim.intercept_ = self.estimator_params(xs[j, c])
                out[j, c] = scorer(shim, X_test, y_test, **params)
        return out


def _scorer_for(scoring, classes):
    """``(name, scorer)``: name one of FUSED_SCORERS when the fused pass can score, else None.

    As scikit-learn's LogisticRegressionCV does, a scorer whose metric takes
    ``labels`` is rebuilt with all the classes (a held-out fold may lack some).
    """
    if scoring is None or (isinstance(scoring, str) and scoring in FUSED_SCORERS):
        name = "accuracy" if scoring is None else scoring
        return name, get_scorer(name)
    if isinstance(scoring, str) and scoring not in get_scorer_names():
        raise ValueError(
            f"scoring={scoring!r} is not a scikit-learn scorer name (see sklearn.metrics.get_scorer_names())"
        )
    scorer = get_scorer(scoring)
    func = getattr(scorer, "_score_func", None)
    if func is not None:
        import inspect

        sig = inspect.signature(func).parameters
        if "labels" in sig:
            extra = {"pos_label": classes[-1]} if len(classes) == 2 and "pos_label" in sig else {}
            scorer = make_scorer(
                func,
                greater_is_better=scorer._sign == 1,
                response_method=scorer._response_method,
                labels=classes,
                **extra,
                **getattr(scorer, "_kwargs", {}),
            )
    return None, scorer


@dataclass
class LogisticPath:
    """What :func:`logistic_path` returns.

    Cs : float64 (n_cs,), in the order fitted.
    coefs : float64 (n_cs, n_scores, d), or (n_folds, n_cs, n_scores, d)
        with ``fold``; ``n_scores`` is 1 for two classes, else K.
    intercepts : float64 (n_cs, n_scores) or (n_folds, n_cs, n_scores).
    n_iter : int32 (n_cs,) or (n_folds, n_cs): solver iterations.
    classes : the sorted labels.
    test_loss, test_accuracy : with ``fold``, float64 (n_folds, n_cs): each
        fold's held-out mean log-loss and accuracy (weighted by
        ``sample_weight``); else None.
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    n_iter: np.ndarray
    classes: np.ndarray
    test_loss: np.ndarray = None
    test_accuracy: np.ndarray = None


def _l1_path_start(rows, l1_ratio, fit_intercept):
    """The largest C whose L1 / elastic-net solution has every coefficient 0:
    ``l1_ratio / (S max |grad|)``, the gradient of the mean log-loss at zero
    coefficients and the intercepts that are optimal there.  Two passes over
    any row source: the classes' weights from the intercepts' gradient at
    zero (``S / K - S_k``), then the gradient at that model."""
    K = rows.n_classes
    probe = Objective([rows], C=np.inf, fit_intercept=True)
    _, g = probe.loss_grad(np.zeros(probe.n_params))
    S = probe.weight_sum
    g_b = g[probe.n_coef :] * S
    counts = np.array([S / 2 + g_b[0], S / 2 - g_b[0]]) if K == 2 else S / K - g_b
    p = np.clip(counts / S, 1e-300, None)
    objective = Objective([rows], C=np.inf, fit_intercept=fit_intercept)
    intercept = None
    if fit_intercept:
        intercept = math.log(p[1] / p[0]) if K == 2 else np.log(p)
        if K == 2 and not math.isfinite(intercept):
            intercept = 0.0
    x0 = objective.pack(np.zeros((objective.n_scores, objective.n_features)), intercept)
    _, g = objective.loss_grad(x0)
    top = float(np.abs(g[: objective.n_coef]).max()) if objective.n_coef else 0.0
    if top == 0.0:
        return 1.0
    # A hair inside the boundary (L1_PATH_START_MARGIN): exactly on it, a solver's
    # rounding decides whether the first coefficient is 0 or 1e-16.
    return (1.0 - L1_PATH_START_MARGIN) * l1_ratio / (objective.weight_sum * top)


def _path_Cs(Cs, l1_ratio, rows, fit_intercept):
    """``Cs`` as a float array: an int with an L1 term gives that many values over
    L1_PATH_DECADES from the largest C whose model is empty (two passes over
    ``rows``); else as :func:`check_Cs`."""
    if isinstance(Cs, Integral) and not isinstance(Cs, bool) and l1_ratio > 0:
        if Cs < 1:
            raise ValueError(f"Cs must be a positive int or a list of positive floats, got Cs={Cs}")
        start = _l1_path_start(rows, l1_ratio, fit_intercept)
        return start * np.logspace(0.0, L1_PATH_DECADES, int(Cs))
    return check_Cs(Cs)


def logistic_path(
    X,
    y,
    Cs=10,
    l1_ratio=0.0,
    *,
    fit_intercept=True,
    solver="auto",
    max_iter=100,
    tol=1e-4,
    class_weight=None,
    sample_weight=None,
    fold=None,
    n_threads=None,
    verbose=0,
    **source_options,
):
    """Coefficients along a path of decreasing penalty (increasing ``C``), warm-started.

    Parameters
    ----------
    X : (n, d) array-like or sparse matrix in memory, or what
        ``LogisticRegression.fit`` streams (a chunk source, a ``.npy`` path, a
        memmap, a Parquet file or directory) or a Dask array.
    y : (n,) labels, two classes (sigmoid) or more (softmax); None for data
        that holds its labels (chunk sources, Parquet).
    Cs : int or list of floats > 0.  A list is fitted in its order.  An int:
        for ``l1_ratio = 0``, scikit-learn's grid ``np.logspace(-4, 4, Cs)``;
        with an L1 term, ``Cs`` values from the largest C whose solution is
        all zeros up over four decades (glmnet's path), so the first model is
        empty and each next one adds features.
    l1_ratio : float in [0, 1], the elastic-net mixing (0: L2, 1: L1).
    fit_intercept, solver, max_iter, tol, class_weight, n_threads :
        as :class:`fastlogit.LogisticRegression` (each ``C`` starts from the
        previous one's solution).
    sample_weight : (n,) nonnegative weights, or None.
    fold : None, or (n,) integer fold ids in ``[0, n_folds)``: then one path
        per fold, fold ``j``'s model trained on the other folds' rows and
        scored on its own; with an L2 penalty all folds are fitted together,
        one pass over X per evaluation for all of them.
    verbose : a progress bar over the path when true.
    **source_options : ``target=``, ``features=``, ``weight=`` for Parquet data
        (as ``LogisticRegression.fit``).  Out-of-core and Dask data: any
        penalty and solver without ``fold``; with ``fold`` (an array aligned
        with the rows, a Parquet column name, or a dask array in X's row
        chunks) the L2 per-fold paths of the fused solvers.

    Returns
    -------
    :class:`LogisticPath`.
    """
    if solver not in FULL_BATCH_SOLVERS:
        raise ValueError(f"solver must be one of {sorted(FULL_BATCH_SOLVERS)} for a path, got {solver!r}")
    if not isinstance(l1_ratio, Real) or not 0.0 <= float(l1_ratio) <= 1.0:
        raise ValueError(f"l1_ratio must be a float in [0, 1], got {l1_ratio!r}")
    l1_ratio = float(l1_ratio)
    check_n_threads(n_threads)
    # (LogisticRegressionCV reads every kind of data as the path needs it.)
    helper = LogisticRegressionCV(fit_intercept=fit_intercept, class_weight=class_weight, n_threads=n_threads)
    common = dict(fit_intercept=fit_intercept, solver=solver, tol=tol, max_iter=max_iter, n_threads=n_threads)
    if is_chunked_input(X) or _is_dask(X):
        problem, fold = _streamed_path_problem(
            helper, X, y, sample_weight, fold, l1_ratio, source_options, common
        )
        Cs = _path_Cs(Cs, l1_ratio, problem.full_rows, fit_intercept)
        return _run_path(problem, Cs, l1_ratio, fold, verbose)
    if source_options:
        raise TypeError(
            f"{', '.join(sorted(source_options))}= apply to out-of-core or dask data, not to an "
            "in-memory array"
        )
    X, y = validate_data(helper, X, y, accept_sparse="csr", dtype=_KERNEL_DTYPES, order="C")
    classes, y_enc = label_codes(y)
    check_two_classes(classes)
    sw = helper._sample_weights(X, y_enc, classes, sample_weight, require_two_classes=True)
    score_sw = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
    n = X.shape[0]
    Cs = _path_Cs(Cs, l1_ratio, ArrayRows(X, y_enc, sw, len(classes), n_threads), fit_intercept)
    if fold is None:
        splits = [(np.arange(n), np.zeros(0, dtype=np.intp))]
    else:
        # The ids' rules are as_fold_ids' (dtype, shape, range): the number of folds
        # is the largest id + 1, and every id below it must name a fold.
        top = np.max(fold) if np.size(fold) and np.asarray(fold).dtype.kind in "iu" else 0
        n_folds = int(top) + 1
        fold = as_fold_ids(fold, n, n_folds)
        if n_folds < 2:
            raise ValueError(f"fold must hold at least 2 distinct fold ids, got {n_folds}")
        splits = [(np.flatnonzero(fold != j), np.flatnonzero(fold == j)) for j in range(n_folds)]
    problem = _Problem(X, y_enc, classes, sw, score_sw, splits, **common)
    return _run_path(problem, Cs, l1_ratio, fold, verbose)


def _run_path(problem, Cs, l1_ratio, fold, verbose):
    """The :class:`LogisticPath` of ``problem`` (one split, or one per fold when ``fold`` is not None)."""
    with _progress_bar(verbose, len(Cs)) as bar:
        xs, n_iter, _, held = problem.path(Cs, l1_ratio, bar)
    k = problem.n_folds
    coefs = np.empty((k, len(Cs), problem.layout.n_scores, problem.d))
    intercepts = np.empty((k, len(Cs), problem.layout.n_scores))
    for j in range(k):
        for c in range(len(Cs)):
            coefs[j, c], intercepts[j, c] = problem.estimator_params(xs[j, c])
    if fold is None:
        return LogisticPath(Cs, coefs[0], intercepts[0], n_iter[0], problem.classes)
    test_loss = -problem.scores(xs, "neg_log_loss", None, {}, held) if problem.rows is not None else None
    test_accuracy = problem.scores(xs, "accuracy", None, {}, held) if problem.rows is not None else None
    return LogisticPath(Cs, coefs, intercepts, n_iter, problem.classes, test_loss, test_accuracy)


def _streamed_path_problem(helper, X, y, sample_weight, fold, l1_ratio, source_options, common):
    """``(problem, fold)`` of :func:`logistic_path` on out-of-core or Dask data: one
    path over all rows (any penalty and solver), or with ``fold`` the per-fold
    L2 paths on the fused solvers (as :class:`LogisticRegressionCV`)."""
    if fold is None:
        rows, _, _ = helper._rows(X, y, sample_weight, classes=None, for_fit=True, **source_options)
        return _Problem.streamed(None, rows, **common), None
    if l1_ratio > 0 or common["solver"] not in FOLD_FUSED_SOLVERS:
        raise ValueError(
            "fold= with out-of-core or dask data runs L2 paths (l1_ratio=0) on the solvers "
            f"{', '.join(map(repr, FOLD_FUSED_SOLVERS))}; got l1_ratio={l1_ratio:g}, "
            f"solver={common['solver']!r}"
        )
    rows, full_rows, _ = helper._fold_rows_of(X, y, sample_weight, fold, 0, 0, dict(source_options))
    return _Problem.streamed(rows, full_rows, **common), fold


class _progress_bar:
    """A tqdm bar over the path when ``verbose``, else nothing (``None``)."""

    def __init__(self, verbose, total):
        self.verbose, self.total, self.bar = verbose, total, None

    def __enter__(self):
        if self.verbose:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc="fastlogit path", unit="C")
        return self.bar

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


class LogisticRegressionCV(LogisticRegression):
    """Logistic regression with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    scikit-learn's :class:`sklearn.linear_model.LogisticRegressionCV` on
    fastlogit's objective and solvers: the same parameters (those of
    scikit-learn's solvers that fastlogit has no use for are accepted:
    ``dual`` must be False, ``intercept_scaling`` has no effect since the
    intercept is never penalized, ``n_jobs`` is ignored: the kernels are
    multithreaded, see ``n_threads``), the same fitted attributes in the same
    layout (``use_legacy_attributes``), the same default scoring (accuracy).

    For every split of ``cv`` and every ``l1_ratio``, the models along ``Cs``
    are fitted in order, each warm-started from the previous one.  When the
    splits partition the rows (k-fold splitters: the default
    ``StratifiedKFold(5)``) and the penalty is L2, all k models are fitted
    together, every evaluation one pass over X for all of them; held-out
    accuracy and log-loss come from the same passes.  Other scorers are
    called on a copy of each split's held-out rows.  Out-of-core and Dask
    data: see :meth:`fit`.

    Parameters
    ----------
    Cs : int or list of floats > 0, default 10
        An int gives ``np.logspace(-4, 4, Cs)``.
    l1_ratios : list of floats in [0, 1] or None, default None
        None fits the L2 penalty and leaves the ``l1_ratio`` dimension out of
        the legacy attributes, as scikit-learn does.
    fit_intercept : bool, default True
    cv : int, cross-validation generator or iterable, default None (5 stratified folds)
    dual : False
    penalty : deprecated, as in scikit-learn ('l1', 'l2', 'elasticnet').
    scoring : str, callable or None (accuracy), default None
    solver : {'auto', 'lbfgs', 'newton', 'proximal'}, default 'auto'
        As :class:`fastlogit.LogisticRegression` (L1 and elastic net need
        'auto', 'newton' or 'proximal').
    tol, max_iter, class_weight : as :class:`fastlogit.LogisticRegression`.
    n_jobs : ignored (accepted for scikit-learn compatibility).
    verbose : a progress bar over the path when true.
    refit : bool, default True
    intercept_scaling : no effect (accepted for scikit-learn compatibility).
    random_state : int, RandomState or None: seeds the folds drawn from the
        rows' positions for out-of-core and Dask data (see :meth:`fit`);
        the solvers are deterministic.
    n_threads : int or None, the kernels' threads.
    use_legacy_attributes : bool, default True
        scikit-learn 1.9's two layouts of ``C_``, ``l1_ratio_``,
        ``coefs_paths_``, ``scores_`` and ``n_iter_`` (see its docstring).

    Attributes
    ----------
    classes_, coef_, intercept_, Cs_, l1_ratios_, coefs_paths_, scores_,
    C_, l1_ratio_, n_iter_, n_features_in_, feature_names_in_ : as scikit-learn's.
    """

    _parameter_constraints: dict = {
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like", None],
        "fit_intercept": ["boolean"],
        "cv": ["cv_object"],
        "dual": ["boolean"],
        "penalty": [StrOptions({"l1", "l2", "elasticnet", "deprecated"})],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "solver": [StrOptions(set(FULL_BATCH_SOLVERS))],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "refit": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "use_legacy_attributes": ["boolean"],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=None,
        fit_intercept=True,
        cv=None,
        dual=False,
        penalty="deprecated",
        scoring=None,
        solver="auto",
        tol=1e-4,
        max_iter=100,
        class_weight=None,
        n_jobs=None,
        verbose=0,
        refit=True,
        intercept_scaling=1.0,
        random_state=None,
        n_threads=None,
        use_legacy_attributes=True,
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.fit_intercept = fit_intercept
        self.cv = cv
        self.dual = dual
        self.penalty = penalty
        self.scoring = scoring
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.refit = refit
        self.intercept_scaling = intercept_scaling
        self.random_state = random_state
        self.n_threads = n_threads
        self.use_legacy_attributes = use_legacy_attributes

    # Not for a cross-validated model (scikit-learn's has neither): partial_fit
    # streams minibatches at one C, and inference after choosing C by the same
    # data is not the classical inference; refit LogisticRegression(C=model.C_).
    partial_fit = available_if(lambda self: False)(LogisticRegression.partial_fit)
    inference = available_if(lambda self: False)(LogisticRegression.inference)

    def _check_params(self):
        self._validate_params()
        check_n_threads(self.n_threads)
        if self.dual:
            raise ValueError(
                "dual=True is liblinear's dual formulation; fastlogit solves the primal (dual=False)"
            )

    def _penalty(self, l1_ratios):
        """scikit-learn's penalty name for ``l1_ratios`` (or the deprecated ``penalty``)."""
        if self.penalty != "deprecated":
            warnings.warn(
                "'penalty' is deprecated (as in scikit-learn 1.8+): use l1_ratios=(0,) for 'l2', "
                "(1,) for 'l1', values in between for 'elasticnet'",
                FutureWarning,
                stacklevel=3,
            )
            return self.penalty
        if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
            return "l2"
        if np.all(np.asarray(l1_ratios) == 1):
            return "l1"
        return "elasticnet"

    def fit(self, X, y, sample_weight=None, **params):
        """Fit the model: choose ``C`` (and ``l1_ratio``) by cross-validation, then refit.

        Parameters
        ----------
        X : (n, d) array-like or sparse matrix in memory; or data that
            ``LogisticRegression.fit`` streams (a chunk source, a ``.npy``
            path, a memmap, a Parquet file or directory) or a Dask array.
        y : (n,) labels (None for chunk sources and Parquet, which hold them).
        sample_weight : (n,) nonnegative weights, or None: used in the fits and
            in the held-out scores (as scikit-learn does).
        **params : in memory, routed to the splitter (``groups``) and the
            scorer when scikit-learn's metadata routing is enabled.  Streamed
            or Dask data: ``target=``, ``features=``, ``weight=`` (Parquet
            columns, as ``LogisticRegression.fit``) and ``fold=``: the fold
            ids (an (n,) integer array aligned with the rows, a Parquet column
            name, or a dask array chunked as X's rows); without it, ``cv``
            (an int, default 5) folds from the rows' positions, seeded by
            ``random_state``.  Streamed data fits L2 paths (``l1_ratios`` None
            or (0,)) with the fused solvers ('auto', 'lbfgs', 'newton') and
            scores with accuracy or ``neg_log_loss``.

        Returns
        -------
        self
        """
        self._check_params()
        penalty = self._penalty(self.l1_ratios)
        if penalty == "elasticnet" and self.l1_ratios is None:
            raise ValueError("penalty='elasticnet' needs l1_ratios: a list of floats in [0, 1]")
        if penalty == "l1" and self.l1_ratios is None:
            l1_values = np.ones(1)
        else:
            l1_values = check_l1_ratios(self.l1_ratios)
        Cs = check_Cs(self.Cs)
        if is_chunked_input(X) or _is_dask(X):
            return self._fit_streamed(X, y, sample_weight, Cs, l1_values, penalty, params)
        _raise_for_params(params, self, "fit")
        check_estimator_input(X)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=_KERNEL_DTYPES, order="C")
        classes, y_enc = label_codes(y)
        if len(classes) < 2:
            raise ValueError(
                f"y: this solver needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {classes[0]!r}"
            )
        score_sw = None
        if sample_weight is not None:
            score_sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        sw = self._sample_weights(X, y_enc, classes, sample_weight, require_two_classes=True)
        if _routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
            split_params, score_params = routed.splitter.split, routed.scorer.score
        else:
            split_params = {}
            score_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        cv = check_cv(self.cv, y, classifier=True)
        splits = [(np.asarray(a), np.asarray(b)) for a, b in cv.split(X, y, **split_params)]
        if not splits:
            raise ValueError("cv produced no splits")
        scorer_name, scorer = _scorer_for(self.scoring, classes)
        problem = _Problem(
            X,
            y_enc,
            classes,
            sw,
            score_sw,
            splits,
            fit_intercept=self.fit_intercept,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            n_threads=self.n_threads,
        )
        self._fit_problem(problem, Cs, l1_values, penalty, scorer_name, scorer, score_params, sw)
        return self

    def _fit_problem(self, problem, Cs, l1_values, penalty, scorer_name, scorer, score_params, sw):
        """The paths of every l1_ratio, their scores, and the fitted attributes."""
        k, n_cs, n_l1 = problem.n_folds, len(Cs), len(l1_values)
        xs = np.empty((k, n_l1, n_cs, problem.fold_params))
        n_iter = np.empty((k, n_l1, n_cs), dtype=np.int32)
        scores = np.empty((k, n_l1, n_cs))
        with _progress_bar(self.verbose, n_cs * n_l1) as bar:
            for r, l1_ratio in enumerate(l1_values):
                xs[:, r], n_iter[:, r], _, held = problem.path(Cs, float(l1_ratio), bar)
                scores[:, r] = problem.scores(xs[:, r], scorer_name, scorer, score_params, held)
        self.classes_ = problem.classes
        self.Cs_ = Cs
        self._store(problem, xs, n_iter, scores, Cs, l1_values, penalty, sw)

    def _fit_streamed(self, X, y, sample_weight, Cs, l1_values, penalty, params):
        """Cross-validation of data that is not in memory: chunks (a ``.npy`` path, a
        memmap, a Parquet file or directory, a chunk source) or a Dask array.

        All k folds in one pass over the data per evaluation, as in memory.
        Fold ids: ``fold=`` (an (n,) integer array aligned with the rows, a
        Parquet column name, or for Dask a dask array chunked as X's rows),
        else ``cv`` folds (an int, default 5) from each row's position
        (:func:`~fastlogit.data.position_fold_ids`, seeded by ``random_state``:
        the same folds whatever the chunking; not stratified).
        """
        options = {name: params.pop(name) for name in STREAMED_OPTIONS if name in params}
        fold = options.pop("fold", None)
        if params:
            raise TypeError(
                f"unexpected keyword argument(s) {', '.join(map(repr, sorted(params)))} for "
                f"out-of-core or dask data; its options are {', '.join(STREAMED_OPTIONS)}"
            )
        if np.any(np.asarray(l1_values) != 0):
            raise ValueError(
                f"l1_ratios={self.l1_ratios!r}: cross-validation of out-of-core or dask data fits L2 paths "
                "(l1_ratios=None or (0,)); fit L1 and elastic-net paths on in-memory data"
            )
        if self.solver not in FOLD_FUSED_SOLVERS:
            raise ValueError(
                f"solver={self.solver!r}: cross-validation of out-of-core or dask data runs on "
                f"{', '.join(map(repr, FOLD_FUSED_SOLVERS))}"
            )
        if not (self.scoring is None or (isinstance(self.scoring, str) and self.scoring in FUSED_SCORERS)):
            raise ValueError(
                f"scoring={self.scoring!r}: cross-validation of out-of-core or dask data scores the held-out "
                f"rows in the fitting pass, with {' or '.join(map(repr, FUSED_SCORERS))} (or None: accuracy)"
            )
        if fold is None and not (self.cv is None or isinstance(self.cv, Integral)):
            raise ValueError(
                f"cv={self.cv!r}: with out-of-core or dask data, cv must be an int (folds from the rows' "
                "positions) or None (5); to choose the folds, pass fit(..., fold=ids or a Parquet column)"
            )
        n_folds = 5 if self.cv is None else int(self.cv)
        seed = _seed(self.random_state)
        common = dict(
            fit_intercept=self.fit_intercept,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            n_threads=self.n_threads,
        )
        rows, full_rows, features = self._fold_rows_of(X, y, sample_weight, fold, n_folds, seed, options)
        problem = _Problem.streamed(rows, full_rows, **common)
        scorer_name, scorer = _scorer_for(self.scoring, rows.classes)
        self._fit_problem(problem, Cs, l1_values, penalty, scorer_name, scorer, {}, None)
        self._set_features(*features)
        return self

    def _fold_rows_of(self, X, y, sample_weight, fold, n_folds, seed, options):
        """``(fold_rows, full_rows, features)`` of out-of-core or Dask data: the
        fold-fused rows (fold ids ``fold``, else ``n_folds`` folds from the rows'
        positions and ``seed``) and all rows, for the refit."""
        if _is_dask(X):
            return self._dask_fold_rows(X, y, sample_weight, fold, n_folds, seed, options)
        return self._chunk_fold_rows(X, y, sample_weight, fold, n_folds, seed, options)

    def _chunk_fold_rows(self, X, y, sample_weight, fold, n_folds, seed, options):
        if isinstance(fold, str):
            if not (isinstance(X, (str, os.PathLike)) and not os.fspath(X).endswith(".npy")):
                raise TypeError(
                    f"fold={fold!r} names a column: that needs Parquet data (a path), not {type(X).__name__}"
                )
            if options.get("features") is None:
                options["features"] = parquet_columns(
                    X, exclude=(options.get("target"), options.get("weight"), fold)
                )
        rows, _, features = self._rows(X, y, sample_weight, classes=None, for_fit=True, **options)
        if isinstance(fold, str):
            fold = rows.source.column(fold, "fold column")
        if fold is not None:
            fold, n_folds = _fold_array(fold, rows.n_samples)
        return ChunkFoldRows(rows, n_folds, fold=fold, seed=seed), rows, features

    def _dask_fold_rows(self, X, y, sample_weight, fold, n_folds, seed, options):
        from .distributed import dask_fold_rows

        given = [name for name, value in options.items() if value is not None]
        if given:
            raise ValueError(f"{', '.join(given)}= apply to Parquet data, not to dask arrays")
        if isinstance(fold, str):
            raise TypeError(
                f"fold={fold!r} names a column: that needs Parquet data (a path), not a dask array"
            )
        if fold is not None:
            if _is_dask(fold):
                n_folds = int(fold.max().compute()) + 1
            else:
                fold, n_folds = _fold_array(fold, X.shape[0])
        threads = 1 if self.n_threads is None else self.n_threads
        rows, classes = dask_fold_rows(
            X,
            y,
            sample_weight,
            n_folds=n_folds,
            fold=fold,
            seed=seed,
            class_weight=self.class_weight,
            n_threads=threads,
        )
        # The refit's rows: the same blocks as an ordinary fit reads them.
        full_rows, _, features = self._rows(X, y, sample_weight, classes=classes, for_fit=True)
        return rows, full_rows, features

    def _store(self, problem, xs, n_iter, scores, Cs, l1_values, penalty, sw):
        """The fitted attributes, in scikit-learn's layouts."""
        k, n_l1, n_cs, _ = xs.shape
        K, d = problem.K, problem.d
        q = 1 if K == 2 else K
        n_dof = d + int(self.fit_intercept)
        # Per fold, l1_ratio and C: the (q, n_dof) rows [coef, intercept] of each class.
        paths = np.empty((k, n_l1, n_cs, q, n_dof))
        for index in np.ndindex(k, n_l1, n_cs):
            coef, intercept = problem.estimator_params(xs[index])
            paths[index][:, :d] = coef
            if self.fit_intercept:
                paths[index][:, d] = intercept
        sum_scores = scores.sum(axis=0)  # (n_l1, n_cs)
        if self.refit:
            r, c = np.unravel_index(np.argmax(sum_scores.T), (n_cs, n_l1))[::-1]
            C_, l1_ratio_ = float(Cs[c]), float(l1_values[r])
            init = paths[:, r, c].mean(axis=0)
            objective = Objective(
                [problem.refit_rows(sw, self.n_threads)],
                C=C_,
                l1_ratio=l1_ratio_,
                fit_intercept=self.fit_intercept,
            )
            init_coef, init_intercept = init[:, :d], (init[:, d] if self.fit_intercept else None)
            self.solver_ = self._fit_objective(objective, self.solver, (init_coef, init_intercept))
        else:
            flat = scores.transpose(0, 2, 1).reshape(k, -1)  # (k, n_cs * n_l1), C-major as scikit-learn
            best = np.argmax(flat, axis=1)
            best_c, best_r = np.unravel_index(best, (n_cs, n_l1))
            w = np.mean([paths[j, best_r[j], best_c[j]] for j in range(k)], axis=0)
            self.coef_ = np.ascontiguousarray(w[:, :d])
            self.intercept_ = w[:, d].copy() if self.fit_intercept else np.zeros(q)
            C_ = float(np.mean(Cs[best_c]))
            l1_ratio_ = float(np.mean(l1_values[best_r])) if penalty == "elasticnet" else 0.0
            self.solver_ = self.solver
            self.converged_ = True
        legacy_l1 = self.l1_ratios is not None or penalty == "elasticnet"
        self.l1_ratios_ = np.asarray(l1_values) if legacy_l1 else np.asarray([None])
        if self.use_legacy_attributes:
            keys = self.classes_[1:] if K == 2 else self.classes_
            if legacy_l1:
                # (k, n_cs, n_l1, n_dof) per class; scores (k, n_cs, n_l1).
                self.coefs_paths_ = {
                    key: paths[:, :, :, i].transpose(0, 2, 1, 3).copy() for i, key in enumerate(keys)
                }
                self.scores_ = {key: scores.transpose(0, 2, 1).copy() for key in keys}
                self.n_iter_ = n_iter.transpose(0, 2, 1)[None].copy()
            else:
                self.coefs_paths_ = {key: paths[:, 0, :, i].copy() for i, key in enumerate(keys)}
                self.scores_ = {key: scores[:, 0].copy() for key in keys}
                self.n_iter_ = n_iter[:, 0][None].copy()
            if self.refit and not legacy_l1:
                l1_out = [None]
            else:
                l1_out = [l1_ratio_]
            self.C_ = np.full(1 if K == 2 else K, C_)
            self.l1_ratio_ = np.asarray(l1_out * (1 if K == 2 else K))
        else:
            self.coefs_paths_ = paths
            self.scores_ = scores
            self.n_iter_ = n_iter
            self.C_ = C_
            if not legacy_l1:
                self.l1_ratio_ = 1.0 if penalty == "l1" else 0.0
            else:
                self.l1_ratio_ = l1_ratio_

    def score(self, X, y, sample_weight=None, **score_params):
        """The ``scoring`` metric (accuracy by default) of the model on ``(X, y)``."""
        _raise_for_params(score_params, self, "score")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        scorer = get_scorer(self.scoring or "accuracy")
        if _routing_enabled():
            score_params = process_routing(self, "score", **score_params).scorer.score
        return scorer(self, X, y, **score_params)

    def get_metadata_routing(self):
        """The metadata routing of this estimator: ``groups`` to the splitter,
        score parameters to the scorer (as scikit-learn's LogisticRegressionCV)."""
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(splitter=check_cv(self.cv), method_mapping=MethodMapping().add(caller="fit", callee="split"))
            .add(
                scorer=get_scorer(self.scoring or "accuracy"),
                method_mapping=MethodMapping()
                .add(caller="score", callee="score")
                .add(caller="fit", callee="score"),
            )
        )
