"""``LogisticRegression``: the scikit-learn compatible estimator.

Thin by design (see ARCHITECTURE.md): it validates with scikit-learn's own tools,
encodes the labels, picks a solver, and stores ``coef_``, ``intercept_``,
``classes_`` and ``n_iter_``.  The math lives in
:mod:`fastlogit.objective` (full-batch solvers from :mod:`fastlogit.solvers`)
and in the SGD driver :mod:`fastlogit.sgd`.
"""

import os
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, column_or_1d, validate_data

from . import solvers
from .data import (
    as_classes,
    as_group_codes,
    as_label_vector,
    check_estimator_input,
    check_n_threads,
    check_two_classes,
    class_weights_from_counts,
    encode_labels,
    label_codes,
)
from .kernels.special import OP_LOG_SIGMOID, OP_SIGMOID
from .matrix import elementwise, predict_raw, softmax_rows
from .objective import Objective
from .row_sources import ArrayRows, ChunkRows
from .sources import _load_npy, as_chunk_source, is_chunked_input
from .split import SplitDesign, SplitRows
from .split import predict_raw as split_predict_raw

#: The keyword arguments of fit() and inference() that describe a data source (Parquet's columns).
SOURCE_OPTIONS = frozenset({"target", "features", "weight"})

#: Full-batch solvers by name; "sgd" goes to :func:`fastlogit.sgd.fit_sgd`.
FULL_BATCH_SOLVERS = {
    "auto": solvers.auto,
    "lbfgs": solvers.lbfgs,
    "newton": solvers.newton,
    "proximal": solvers.proximal,
}
SOLVERS = (*FULL_BATCH_SOLVERS, "sgd")
LEARNING_RATES = ("constant", "invscaling", "optimal", "adaptive", "adagrad")

# What the kernels take without a copy (int and bool become float64 once).
_KERNEL_DTYPES = [np.float64, np.float32]


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression (sigmoid for two classes, softmax for more) on fused kernels.

    Minimizes exactly scikit-learn's objective::

        (1/S) sum_i s_i l_i + (1 - l1_ratio) / (2 C S) ||W||^2 + l1_ratio / (C S) ||W||_1

    with ``S`` the sum of the sample weights (times the class weights; n
    without weights), ``l_i`` the log-loss of row i, the intercept not
    penalized, so coefficients compare one to one with
    ``sklearn.linear_model.LogisticRegression``.  Two classes fit one
    sigmoid model (``coef_`` of shape (1, d)); K > 2 classes fit the softmax
    model with one row per class (``coef_`` (K, d)), as scikit-learn's
    multinomial solvers do.  For one-vs-rest use
    ``sklearn.multiclass.OneVsRestClassifier(LogisticRegression())``.

    Parameters
    ----------
    C : float > 0 or np.inf, default 1.0
        Inverse penalty strength; ``np.inf`` fits without a penalty.
    l1_ratio : float in [0, 1], default 0.0
        0 is the L2 penalty, 1 the L1 penalty (sparse coefficients), in
        between the elastic net.
    fit_intercept : bool, default True
    solver : {"auto", "lbfgs", "newton", "proximal", "sgd"}, default "auto"
        - "lbfgs": scipy's L-BFGS-B on the fused loss and gradient (L2 only).
        - "newton": Newton's method: Cholesky on the exact Hessian (binary
          and softmax, the softmax model's flat directions handled exactly)
          with at most ``solvers.NEWTON_CHOLESKY_MAX_PARAMS`` parameters,
          else, on a formula's split design, the exact step through the
          Hessian's blocks (:mod:`fastlogit.block_hessian`: no dense Hessian
          over the levels), otherwise Newton-CG on fused Hessian-vector
          products.  With an L1 term,
          proximal Newton (the exact Hessian's quadratic model plus the L1
          term minimized by coordinate descent, as glmnet and glum do).
        - "proximal": accelerated proximal gradient (FISTA) with
          backtracking, on working sets of features when there is an L1 term.
          Each working set is solved on a copy of its columns of X
          (n x size of the set; all of X if every feature enters).
        - "sgd": minibatch stochastic gradient descent (the Cython loop);
          ``max_iter`` counts epochs.  Also what :meth:`partial_fit` runs.
        - "auto" (:func:`fastlogit.solvers.auto`): "newton" when the exact
          Hessian is cheap (at most ``solvers.AUTO_NEWTON_FLOPS``
          multiply-adds: small n or d), where a handful of Newton steps
          converge whatever the units and correlations of the columns;
          otherwise "proximal" when there is an L1 term, else "lbfgs" (one
          fused pass per iteration, the cheapest on large data) and, when it
          has not converged after ``solvers.AUTO_LBFGS_ITER`` iterations
          (raw, ill-conditioned columns), "newton" from its iterate.
          ``solver_`` says which ran ("lbfgs+newton" for both).  "sgd" is
          never chosen automatically.
    class_weight : dict, "balanced" or None, default None
        Multiplies the sample weights per class; "balanced" uses
        ``n / (K * count(class))``.
    max_iter : int >= 1, default 100
        Iterations (epochs for "sgd").
    tol : float >= 0 or None, default 1e-4
        Full-batch solvers stop when the largest entry of the objective's
        (sub)gradient is at most ``tol`` (L-BFGS-B's ``gtol``).  For "sgd",
        the tolerance of its stopping rule; None runs exactly ``max_iter``
        epochs (None is for "sgd" only).
    batch_size, learning_rate, eta0, average, early_stopping,
    validation_fraction, n_iter_no_change :
        SGD settings (used by "sgd" and :meth:`partial_fit` only):
        minibatch size; schedule in {"constant", "invscaling", "optimal",
        "adaptive", "adagrad"}; initial step; average the iterates (ASGD);
        stop on a held-out fraction's score; epochs without improvement
        before stopping.
    random_state : int, RandomState or None, default None
        Seeds the SGD shuffles and validation split; the full-batch solvers
        are deterministic.
    warm_start : bool, default False
        Start from the previous fit's coefficients (same classes and features).
    n_threads : int or None, default None
        Threads of the fused kernels (None: all of Numba's).  The same count
        gives bit-identical results.  ``solver="sgd"`` computes on one
        thread; with two or more, a second thread reads dense rows ahead of
        it (the same results, whatever the count).
    verbose : int, default 0
        > 0 shows a progress bar (tqdm) over iterations with the current loss.
    formula : str or None, default None
        A formula over a pandas DataFrame, ``"y ~ x1 + C(x2) + x1:x3"``
        (parsed and encoded by formulaic: ``pip install "fastlogit[formula]"``;
        see :mod:`fastlogit.formula`).  :meth:`fit` then takes the frame
        (``fit(df)``: the left side gives the labels, ``y`` stays None; a
        formula without a left side, ``"~ x1 + C(x2)"``, takes ``y``), and
        :meth:`predict`, :meth:`predict_proba`, :meth:`score` and
        :meth:`inference` take frames encoded as the training frame was.
        The intercept is the formula's (``- 1`` or ``+ 0`` removes it; then
        ``fit_intercept`` must stay True or be False, and a formula with an
        intercept refuses ``fit_intercept=False``).  Columns and names in
        statsmodels' order and spelling (``Intercept``, ``C(x2)[T.b]``,
        ``x1:x3``).  In memory, categorical terms (``C(x2)``, string and
        category columns) are held as codes, one int32 per row, not as a
        column per level (:class:`fastlogit.split.SplitRows`; the rule is
        :mod:`fastlogit.formula`'s), except for ``solver="sgd"``.  Out of
        core and on a cluster, :meth:`fit` and
        :meth:`inference` also take a Parquet path (``weight=`` a column)
        and a dask DataFrame, with the in-memory fit's result (see
        :mod:`fastlogit.formula_scale`).
    na_action : {"drop", "raise"}, default "drop"
        With a formula: rows with a missing value in a variable of the
        formula are dropped by :meth:`fit`, :meth:`score` and
        :meth:`inference` (counted in ``n_dropped_``; formulaic's rule), or
        raise ``ValueError``.  Prediction always raises on missing values.

    Attributes
    ----------
    classes_ : (K,) the labels, sorted.
    coef_ : float64 (1, d) for two classes, (K, d) for more.
    intercept_ : float64 (1,) or (K,); zeros without ``fit_intercept``.
    n_iter_ : int32 (1,), iterations (epochs) run.
    converged_ : bool, whether the solver met its stopping rule (``tol``;
        SGD with ``tol=None``: ran its ``max_iter`` epochs).  False comes
        with a ``ConvergenceWarning``, and :meth:`inference` then warns.
    n_features_in_ : int.  feature_names_in_ : (d,) object, for pandas input.
    loss_curve_ : list of float, the objective after each iteration
        (full-batch) or the training loss after each epoch (SGD).
    solver_ : str, the solver actually used.
    feature_names_ : list of str, with a formula: the names of ``coef_``'s
        columns (the intercept apart), statsmodels' spelling.
    formula_spec_ : :class:`fastlogit.formula.FormulaSpec`, with a formula:
        what encodes new frames as the training frame was (formulaic's
        ``model_spec`` inside).  n_dropped_ : int, training rows dropped for
        missing values.  With a formula, ``n_features_in_`` counts the
        design's columns (without the intercept) and ``feature_names_in_``
        is not set.
    """

    _parameter_constraints = {
        "C": [Interval(Real, 0, None, closed="right")],  # np.inf: no penalty
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "solver": [StrOptions(set(SOLVERS))],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "average": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
        "formula": [str, None],
        "na_action": [StrOptions({"drop", "raise"})],
    }

    def __init__(
        self,
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        solver="auto",
        class_weight=None,
        max_iter=100,
        tol=1e-4,
        batch_size=256,
        learning_rate="optimal",
        eta0=0.01,
        average=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        random_state=None,
        warm_start=False,
        n_threads=None,
        verbose=0,
        formula=None,
        na_action="drop",
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.average = average
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose
        self.formula = formula
        self.na_action = na_action

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def __sklearn_is_fitted__(self):
        # Fitted means coef_ exists.  A fit that raises or is interrupted
        # (Ctrl-C) after validate_data has set n_features_in_ leaves the
        # estimator unfitted: predict then raises NotFittedError, not an
        # AttributeError on coef_.
        return hasattr(self, "coef_")

    # -- validation -------------------------------------------------------------

    def _check_params(self):
        """Validate hyper-parameters; raise ValueError/TypeError naming them."""
        self._validate_params()
        check_n_threads(self.n_threads)
        has_l1 = self.l1_ratio > 0 and np.isfinite(self.C)
        if has_l1 and self.solver == "lbfgs":
            raise ValueError(
                f"solver={self.solver!r} supports only the L2 penalty (l1_ratio=0), got "
                f"l1_ratio={self.l1_ratio}; use solver='proximal' (or 'newton', 'sgd', 'auto')"
            )
        if self.tol is None and self.solver != "sgd":
            raise ValueError(
                f"tol=None (run exactly max_iter epochs) is for solver='sgd'; solver={self.solver!r} "
                "needs a number, e.g. tol=1e-4"
            )

    def _validate_X(self, X, reset, encoded=False, split=False):
        """``X`` as the kernels take it; a formula model's frames encoded first
        (``encoded``: ``X`` is already its design matrix; ``split``: a frame's
        design as a :class:`~fastlogit.split.SplitDesign` when the formula's
        designs split, else dense or CSR)."""
        spec = getattr(self, "formula_spec_", None)
        if isinstance(X, SplitDesign) and encoded:
            return X
        if spec is not None and not reset and not encoded:  # a frame, encoded as the training frame was
            if isinstance(X, (str, os.PathLike)):
                from .formula_scale import parquet_design

                return parquet_design(spec, X)
            return _split_design(spec.design(X, labels=False, na_action="raise", split=split).X, spec)
        if isinstance(X, (str, os.PathLike)):
            # Predicting from a .npy file: memory-mapped, read in place.
            if not os.fspath(X).endswith(".npy"):
                raise ValueError(
                    f"X={os.fspath(X)!r}: prediction takes arrays, memmaps, .npy paths and dask "
                    "arrays; for Parquet, read the feature columns (e.g. with pyarrow) first"
                )
            X = _load_npy(X, "X")
        check_estimator_input(X)
        return validate_data(self, X, accept_sparse="csr", dtype=_KERNEL_DTYPES, order="C", reset=reset)

    def _solver_for(self):
        if self.solver != "auto":
            return self.solver
        return "auto"  # solvers.auto: newton, lbfgs, lbfgs then newton, or proximal

    def _sample_weights(self, X, y_enc, classes, sample_weight, *, require_two_classes):
        """float64 (n,) sample weights with the class weights multiplied in, or None.

        The class weights come from the classes' total sample weights
        (:func:`fastlogit.data.class_weights_from_counts`), as for chunked
        and Dask data.  ``require_two_classes``: a fit's data (not a
        ``partial_fit`` minibatch) must keep two classes with a positive
        weight.
        """
        if sample_weight is None and self.class_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True)
        K = len(classes)
        if self.class_weight is not None:
            # "balanced" counts each class by its sample weight, as scikit-learn does.
            counts = np.bincount(y_enc, weights=sw, minlength=K)
            sw *= class_weights_from_counts(self.class_weight, classes, counts)[y_enc]
        if require_two_classes:
            check_two_classes(classes, np.bincount(y_enc, weights=sw, minlength=K))
        return sw

    # -- fitting ----------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None, *, classes=None, target=None, features=None, weight=None):
        """Fit the model.

        Parameters
        ----------
        X : the data, one of:

            - an (n, d) array-like or sparse matrix, in memory (used in place
              when a C-contiguous float32/float64 array or a CSR matrix);
            - out of core, streamed in chunks of rows (one pass per
              evaluation of a full-batch solver, one per SGD epoch; peak
              extra memory a few chunks plus O(d K), whatever n): an
              ``np.memmap`` (C order), a path to a ``.npy`` file
              (memory-mapped, never loaded whole), a path to a Parquet file
              or dataset directory (with ``target=``), or any re-iterable
              chunk source (see :mod:`fastlogit.sources`: e.g. a list of
              ``(X, y)`` / ``(X, y, sample_weight)`` tuples,
              :class:`~fastlogit.sources.ArrayChunks`,
              :class:`~fastlogit.sources.ParquetChunks`);
            - a ``dask.array`` (or dask DataFrame): the fused kernel runs on
              each block where it lives and the solver on the client (see
              :mod:`fastlogit.distributed`; needs ``pip install
              "fastlogit[dask]"``).  Full-batch solvers only.
        y : (n,) labels of any kind (strings, ints, bools): an array, for
            a ``.npy`` X also a ``.npy`` path; a dask array for dask X.  None
            for chunk sources and Parquet (they carry their labels).
        sample_weight : (n,) nonnegative weights, or None (like ``y``).
        classes : the labels, when known, for chunked and dask data: the
            chunks are then checked against them instead of discovered.
        target, features, weight : Parquet only: the label column, the
            feature columns (default: all others) and an optional weight
            column.

        Returns
        -------
        self
        """
        self._check_params()
        spec = design = None
        if self.formula is not None:  # a frame, a Parquet path or a dask DataFrame: its design
            spec, design = self._formula_design(
                X, y, sample_weight, target=target, features=features, weight=weight
            )
            X, y, sample_weight, weight = design.X, design.y, design.sample_weight, None
        fit_intercept = self.fit_intercept if spec is None else spec.fit_intercept
        if classes is not None:
            classes = as_classes(classes)
        rows, classes, features = self._rows(
            X,
            y,
            sample_weight,
            classes=classes,
            for_fit=True,
            target=target,
            features=features,
            weight=weight,
        )
        d = rows.n_features
        init = self._initial_coef(classes, d)
        solver = self._solver_for()
        # Fitted attributes are set only once the solver has succeeded: a fit
        # that raises (e.g. on NaN in X) leaves a previous fit intact.
        if solver == "sgd":
            res = self._run_sgd(
                rows,
                classes,
                init,
                state=None,
                max_iter=self.max_iter,
                tol=self.tol,
                early_stopping=self.early_stopping,
                fit_intercept=fit_intercept,
            )
            self._store_sgd(res, accumulate=False)
        else:
            objective = Objective([rows], C=self.C, l1_ratio=self.l1_ratio, fit_intercept=fit_intercept)
            solver = self._fit_objective(objective, solver, init)
            self._sgd_state = None  # a later partial_fit starts a fresh SGD from coef_
        if features is not None:
            self._set_features(*features)
        self._set_formula(spec, design)
        self.classes_, self.solver_ = classes, solver
        return self

    def _formula_design(self, X, y, sample_weight=None, *, target=None, features=None, weight=None):
        """``(FormulaSpec, FormulaData)`` of :attr:`formula` on the training data ``X``
        (a frame, a Parquet path or a dask DataFrame; see :mod:`fastlogit.formula_scale`)."""
        from .formula_scale import formula_data

        if target is not None or features is not None:
            raise ValueError(
                "target= and features= do not apply to a formula model: the formula's left side "
                "names the label column and its right side the features"
            )
        # In memory, a design with categorical terms is held split (codes: SplitRows), but
        # for SGD, whose minibatch loop reads dense or CSR rows.
        spec, design = formula_data(
            self.formula,
            X,
            y,
            sample_weight,
            na_action=self.na_action,
            weight=weight,
            split=self.solver != "sgd",
        )
        design.X = _split_design(design.X, spec)
        if spec.fit_intercept and not self.fit_intercept:
            raise ValueError(
                f"fit_intercept=False, but formula={self.formula!r} has an intercept: with a formula "
                "the intercept is the formula's; write '- 1' (or '+ 0') in it to fit none"
            )
        return spec, design

    def _set_formula(self, spec, design):
        """The formula's fitted attributes, or none of them after a fit without one."""
        if spec is None:
            for name in ("formula_spec_", "feature_names_", "n_dropped_"):
                if hasattr(self, name):
                    delattr(self, name)
            return
        self.formula_spec_ = spec
        self.feature_names_ = list(spec.feature_names)
        self.n_dropped_ = int(design.n_dropped)

    def _fitted_intercept(self):
        """Whether the fitted model has an intercept: its formula's, else ``fit_intercept``."""
        spec = getattr(self, "formula_spec_", None)
        return self.fit_intercept if spec is None else spec.fit_intercept

    def _rows(self, X, y, sample_weight, *, classes, for_fit, encoded=False, **source_options):
        """The row source of ``(X, y, sample_weight)``: ``(rows, classes, features)``.

        The one way from :meth:`fit`'s (and :meth:`inference`'s) data to the
        objective: in memory an :class:`~fastlogit.row_sources.ArrayRows` (a
        formula's split design: :class:`~fastlogit.split.SplitRows`),
        streamed a :class:`~fastlogit.row_sources.ChunkRows`, on a cluster a
        :class:`~fastlogit.distributed.DaskRows`.  ``classes``: the labels
        (given, or the fitted ``classes_``), or None to discover them.
        ``features``: None when ``validate_data`` has set ``n_features_in_``
        (in memory), else ``(n_features, names)`` to set once the fit succeeds.
        """
        unknown = sorted(set(source_options) - SOURCE_OPTIONS)
        if unknown:
            raise TypeError(
                f"unexpected keyword argument(s) {', '.join(map(repr, unknown))}; the data-source "
                f"options are {', '.join(sorted(SOURCE_OPTIONS))} (for Parquet data)"
            )
        if _is_dask(X):
            from .distributed import dask_rows

            if for_fit and self.solver == "sgd":
                raise ValueError(
                    "solver='sgd' does not run on dask arrays: use a full-batch solver "
                    "('lbfgs', 'newton', 'proximal' or 'auto'), or stream the data as chunks"
                )
            if any(v is not None for v in source_options.values()):
                raise ValueError("target=, features=, weight= apply to Parquet data, not to dask arrays")
            rows, classes = dask_rows(
                X,
                y,
                sample_weight,
                classes=classes,
                class_weight=self.class_weight,
                n_threads=1 if self.n_threads is None else self.n_threads,
            )
            names = getattr(X, "columns", None)
            return rows, np.asarray(classes), (rows.n_features, None if names is None else list(names))
        if is_chunked_input(X):
            source = as_chunk_source(X, y, sample_weight, **source_options)
            rows = ChunkRows(
                source,
                classes=classes,
                class_weight=self.class_weight,
                n_threads=self.n_threads,
                progress=bool(self.verbose),
            )
            return rows, rows.classes, (rows.n_features, getattr(source, "features", None))
        if for_fit:
            given = [k for k, v in dict(classes=classes, **source_options).items() if v is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}= apply to chunked, Parquet or dask data, not to an "
                    "in-memory array (its labels are y)"
                )
            if isinstance(X, SplitDesign):  # a formula's design: its labels, one per row
                y = column_or_1d(y, warn=True)
                if len(y) != X.n_samples:
                    raise ValueError(f"y has {len(y)} labels for {X.n_samples} rows of X")
                self._set_features(X.n_features, None)
            else:
                # NaN or inf in X surfaces as a ValueError at the first evaluation of a
                # full-batch solver (see Objective.data_loss_grad) or after the first SGD
                # epoch (fit_sgd's check_finite), so scikit-learn's separate finiteness
                # scan, as long as one fused pass (42 ms vs 30 ms at 1e6 x 100), is skipped.
                check_estimator_input(X)
                X, y = validate_data(
                    self,
                    X,
                    y,
                    accept_sparse="csr",
                    dtype=_KERNEL_DTYPES,
                    order="C",
                    ensure_all_finite=False,
                )
            classes, y_enc = label_codes(y)
            check_two_classes(classes)
        else:
            if any(v is not None for v in source_options.values()):
                given = [k for k, v in source_options.items() if v is not None]
                raise TypeError(f"{', '.join(given)}= apply to Parquet data, not to an in-memory array")
            X = self._validate_X(X, reset=False, encoded=encoded)
            y_enc = self._encode(y, classes, X.shape[0])
        sw = self._sample_weights(X, y_enc, classes, sample_weight, require_two_classes=True)
        if isinstance(X, SplitDesign):
            return SplitRows(X, y_enc, sw, len(classes), self.n_threads), classes, None
        return ArrayRows(X, y_enc, sw, len(classes), self.n_threads), classes, None

    def _set_features(self, n_features, names):
        """n_features_in_ (and feature_names_in_ for named columns), as validate_data sets them."""
        self.n_features_in_ = int(n_features)
        if names is not None and all(isinstance(c, str) for c in names):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _keeps_warm_start(self):
        return self.warm_start and hasattr(self, "coef_")

    def _initial_coef(self, classes, n_features):
        """(coef_, intercept_) of the previous fit to start from, or None."""
        if not self._keeps_warm_start():
            return None
        n_scores = 1 if len(classes) == 2 else len(classes)
        if self.coef_.shape != (n_scores, n_features) or not np.array_equal(self.classes_, classes):
            raise ValueError(
                "warm_start=True needs the same classes and features as the previous fit: it had "
                f"classes {self.classes_.tolist()} and coef_ of shape {self.coef_.shape}, this fit "
                f"has classes {classes.tolist()} and {n_features} features"
            )
        return self.coef_, self.intercept_

    def _fit_objective(self, objective, solver, init):
        x0 = objective.pack(*init) if init is not None else np.zeros(objective.n_params)
        with self._progress(solver) as callback:
            res = FULL_BATCH_SOLVERS[solver](
                objective, x0, max_iter=self.max_iter, tol=self.tol, callback=callback
            )
        if not res.converged:
            warnings.warn(res.message, ConvergenceWarning, stacklevel=3)
        self.coef_, self.intercept_ = objective.to_estimator(res.x)
        self.n_iter_ = np.array([res.n_iter], dtype=np.int32)
        self.converged_ = bool(res.converged)
        self.loss_curve_ = list(res.loss_curve)
        return res.solver or solver

    @contextmanager
    def _progress(self, solver):
        """A ``callback(n_iter, loss)`` driving a tqdm bar when verbose, else None."""
        if not self.verbose:
            yield None
            return
        from tqdm import tqdm

        bar = tqdm(total=self.max_iter, desc=f"fastlogit {solver}", unit="it")

        def callback(n_iter, loss):
            bar.set_postfix(loss=f"{loss:.8g}", refresh=False)
            bar.update(max(0, min(n_iter, bar.total) - bar.n))

        try:
            yield callback
        finally:
            bar.close()

    # -- SGD ----------------------------------------------------------------

    def _run_sgd(self, rows, classes, init, *, state, max_iter, tol, early_stopping, fit_intercept=None):
        """:func:`fastlogit.sgd.fit_sgd` on an in-memory or chunked row source."""
        from .sgd import fit_sgd

        if fit_intercept is None:  # (partial_fit: never a formula)
            fit_intercept = self.fit_intercept

        if isinstance(rows, ChunkRows):
            data, y_enc, sw = rows, None, None  # streamed by the driver
        else:
            data, y_enc, sw = rows.kernel_X, rows.y, rows.sample_weight
        if init is not None:
            coef, intercept = init
        else:
            # Zeros given explicitly: the driver reads the width of CSR input from coef.
            n_scores = 1 if len(classes) == 2 else len(classes)
            coef, intercept = np.zeros((n_scores, rows.n_features)), np.zeros(n_scores)
        return fit_sgd(
            data,
            y_enc,
            sw,
            len(classes),
            C=self.C,
            l1_ratio=self.l1_ratio,
            fit_intercept=fit_intercept,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            eta0=self.eta0,
            average=self.average,
            early_stopping=early_stopping,
            validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change,
            tol=tol,
            max_iter=max_iter,
            random_state=self.random_state,
            coef=coef,
            intercept=intercept,
            state=state,
            verbose=self.verbose,
            check_finite=rows.check_finite,
            n_threads=rows.requested_threads,
        )

    def _store_sgd(self, res, accumulate):
        self.coef_ = np.array(res.coef, dtype=np.float64)
        self.intercept_ = np.array(res.intercept, dtype=np.float64)
        self.converged_ = bool(res.converged)
        self._sgd_state = res.state
        previous = int(self.n_iter_[0]) if accumulate and hasattr(self, "n_iter_") else 0
        self.n_iter_ = np.array([previous + int(res.n_iter)], dtype=np.int32)
        curve = list(getattr(self, "loss_curve_", [])) if accumulate else []
        self.loss_curve_ = curve + [float(v) for v in res.loss_curve]
        if self.tol is not None and not res.converged and not accumulate:
            warnings.warn(
                f"sgd ran max_iter={self.max_iter} epochs without meeting its stopping rule "
                f"(tol={self.tol}); increase max_iter, scale the data (e.g. StandardScaler), or "
                "change learning_rate/eta0",
                ConvergenceWarning,
                stacklevel=3,
            )

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One SGD epoch over ``(X, y)``, continuing from the current model.

        Parameters
        ----------
        X : (n, d) array-like or sparse matrix.
        y : (n,) labels, all in ``classes``.
        classes : (K,) every label the stream will contain: required on the
            first call (as in ``SGDClassifier``), optional (and then equal
            to ``classes_``) afterwards.
        sample_weight : (n,) nonnegative weights, or None.

        Returns
        -------
        self
        """
        self._check_params()
        if self.formula is not None or hasattr(self, "formula_spec_"):
            raise ValueError(
                "partial_fit takes arrays, not formulas: fit a formula with fit(df), or build the "
                "design once (fastlogit.formula.build) and stream its rows"
            )
        first = not hasattr(self, "classes_")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = as_classes(classes)
        elif classes is not None:
            classes = np.unique(np.asarray(classes))
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} is not the same as on the first call to "
                    f"partial_fit, {self.classes_.tolist()}"
                )
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the whole y, which partial_fit does not see; pass "
                "class_weight=dict(zip(classes, sklearn.utils.compute_class_weight('balanced', "
                "classes=classes, y=y)))"
            )
        check_estimator_input(X)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=_KERNEL_DTYPES,
            order="C",
            reset=first,
            ensure_all_finite=False,  # checked when an epoch comes out non-finite
        )
        check_classification_targets(y)
        known = classes if first else self.classes_
        y_enc = self._encode(y, known, X.shape[0])
        sw = self._sample_weights(X, y_enc, known, sample_weight, require_two_classes=False)
        rows = ArrayRows(X, y_enc, sw, len(known), self.n_threads)
        if first:
            init, state = None, None
        else:
            init, state = (self.coef_, self.intercept_), getattr(self, "_sgd_state", None)
        res = self._run_sgd(rows, known, init, state=state, max_iter=1, tol=None, early_stopping=False)
        self.classes_, self.solver_ = known, "sgd"
        self._store_sgd(res, accumulate=not first)
        return self

    def _encode(self, y, known, n_samples):
        """Labels ``y`` as indices into ``known`` (sorted); ValueError for others."""
        return encode_labels(as_label_vector(y, n_samples), known).astype(np.intp, copy=False)

    def _objective_for(self, X, y, sample_weight=None, *, encoded=False, **source_options):
        """The fitted model's objective (same C, l1_ratio, fit_intercept, class
        weights) on the data ``(X, y, sample_weight)``, labels in ``classes_``.

        What :meth:`inference` evaluates; accepts the data :meth:`fit` accepts
        (``source_options``: Parquet's ``target``, ``features``, ``weight``).
        """
        check_is_fitted(self)
        rows, _, _ = self._rows(
            X, y, sample_weight, classes=self.classes_, for_fit=False, encoded=encoded, **source_options
        )
        if rows.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {rows.n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return Objective([rows], C=self.C, l1_ratio=self.l1_ratio, fit_intercept=self._fitted_intercept())

    # -- prediction -------------------------------------------------------------

    def _predict_dask(self, X, method):
        """``method`` over the row blocks of a dask array, lazily (see
        :func:`fastlogit.distributed.predict_dask`)."""
        from .distributed import predict_dask

        check_is_fitted(self)
        if hasattr(self, "formula_spec_"):
            from .formula_scale import predict_dask_frame

            return predict_dask_frame(self, X, method)
        return predict_dask(self, X, method)

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: float64 (n,) for two classes
        (the log-odds of ``classes_[1]``), (n, K) for more."""
        if _is_dask(X):
            return self._predict_dask(X, "decision_function")
        check_is_fitted(self)
        return self._scores(self._validate_X(X, reset=False, split=True))

    def _scores(self, X):
        """:meth:`decision_function` of an already validated matrix (or split design)."""
        coef = np.ascontiguousarray(self.coef_, dtype=np.float64)
        intercept = np.ascontiguousarray(self.intercept_, dtype=np.float64)
        if coef.shape[0] == 1:
            coef, intercept = coef[0], float(intercept[0])
        if isinstance(X, SplitDesign):
            return split_predict_raw(X, coef, intercept, check_n_threads(self.n_threads))
        return predict_raw(X, coef, intercept, check_n_threads(self.n_threads))

    def predict(self, X):
        """Most probable label per row: (n,) of ``classes_``' dtype (a lazy dask
        array for dask input)."""
        if _is_dask(X):
            return self._predict_dask(X, "predict")
        return self._labels_of(self.decision_function(X))

    def _labels_of(self, z):
        index = (z > 0).astype(np.intp) if z.ndim == 1 else np.argmax(z, axis=1)
        return self.classes_[index]

    def score(self, X, y=None, sample_weight=None):
        """Mean accuracy of :meth:`predict` on ``(X, y)`` (scikit-learn's).

        With a formula, ``X`` is a frame whose left-side column gives the
        labels (``y`` None), rows with missing values handled by
        ``na_action`` as in :meth:`fit`.
        """
        spec = getattr(self, "formula_spec_", None)
        if spec is None:
            return super().score(X, y, sample_weight=sample_weight)
        from sklearn.metrics import accuracy_score

        design = spec.design(X, y=y, labels=True, na_action=self.na_action, split=True)
        sw = design.kept(sample_weight, "sample_weight")
        z = self._scores(_split_design(design.X, spec))
        return float(accuracy_score(design.y, self._labels_of(z), sample_weight=sw))

    def predict_proba(self, X):
        """Class probabilities, float64 (n, K), columns in ``classes_`` order.

        Two classes: ``[sigmoid(-z), sigmoid(z)]``, both exact in the tails
        (never ``1 - sigmoid(z)``); more: ``softmax(z)`` per row.  A lazy
        dask array for dask input.
        """
        if _is_dask(X):
            return self._predict_dask(X, "predict_proba")
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([elementwise(OP_SIGMOID, -z), elementwise(OP_SIGMOID, z)])
        return softmax_rows(z)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed directly (finite where the
        probability underflows): float64 (n, K)."""
        if _is_dask(X):
            return self._predict_dask(X, "predict_log_proba")
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([elementwise(OP_LOG_SIGMOID, -z), elementwise(OP_LOG_SIGMOID, z)])
        return softmax_rows(z, log=True)

    # -- inference --------------------------------------------------------------

    def inference(
        self, X, y=None, sample_weight=None, alpha=0.05, cov_type="nonrobust", groups=None, **source_options
    ):
        """Standard errors, z tests, confidence intervals and fit statistics on ``(X, y)``.

        Parameters
        ----------
        X, y, sample_weight : the data, as :meth:`fit` accepts it (arrays,
            sparse, memmaps, files, chunk iterators, Dask arrays;
            ``source_options`` as in :meth:`fit`), usually the training data.
            ``sample_weight`` are frequency weights (a weight of 3 counts
            the row three times); class weights are multiplied in.
        alpha : float in (0, 1), default 0.05: intervals at ``1 - alpha``.
        cov_type : "nonrobust" (default: the inverse Fisher information, as
            statsmodels' default), "HC0" / "HC1" (heteroscedasticity robust:
            the sandwich with the rows' score outer products; statsmodels'
            discrete models give both the same, with no small-sample factor)
            or "cluster" (robust to correlation within ``groups``: CRV1,
            statsmodels' default factor).  One more pass over the data.
        groups : with ``cov_type="cluster"``: a cluster label per row (any
            sortable labels), in the rows' order (chunks in the order they
            come, a dask array's rows in order); for Parquet data also the
            name of a column holding them.

        Returns
        -------
        :class:`fastlogit.inference.InferenceResult`: ``.summary()`` prints
        a statsmodels-style table, ``.to_frame()`` gives a DataFrame, and
        ``.predict(X_new, alpha)`` predicted probabilities with standard
        errors and intervals from this covariance.
        Unpenalized fits (``C=np.inf``) match statsmodels' ``Logit`` /
        ``MNLogit`` (softmax: each class against ``classes_[0]``); L2 fits
        use the penalized information (labelled so); L1 or elastic-net
        fits raise ``ValueError``.  Warns
        :class:`fastlogit.inference.InferenceWarning` when the fit did not
        converge (``converged_`` False: the summary then says "Converged:
        no"), and (NaN standard errors) for singular information or
        separated classes.
        """
        from .inference import check_alpha, check_cov_type, compute_inference

        alpha = check_alpha(alpha)
        cov_type = check_cov_type(cov_type)
        spec = getattr(self, "formula_spec_", None)
        if spec is not None:  # encoded as the training data, rows dropped as in fit
            from .formula_scale import formula_data

            if source_options.get("target") is not None or source_options.get("features") is not None:
                raise ValueError(
                    "target= and features= do not apply to a formula model: the formula names them"
                )
            _, design = formula_data(
                spec.formula,
                X,
                y,
                sample_weight,
                na_action=self.na_action,
                spec=spec,
                weight=source_options.pop("weight", None),
                split=True,
            )
            X, y, sample_weight = _split_design(design.X, spec), design.y, design.sample_weight
            if groups is not None and not isinstance(groups, str):
                groups = design.kept(groups, "groups")
        objective = self._objective_for(X, y, sample_weight, encoded=spec is not None, **source_options)
        if isinstance(groups, str):  # a column of the Parquet data
            source = getattr(objective.sources[0], "source", None)
            if not hasattr(source, "column"):
                raise ValueError(
                    f"groups={groups!r} names a column, which applies to Parquet data; for other "
                    "data give one cluster label per row (an array)"
                )
            groups = source.column(groups, "groups column")
        codes, n_groups = (None, None) if groups is None else as_group_codes(groups, objective.n_samples)
        result = compute_inference(
            objective,
            self.coef_,
            self.intercept_,
            alpha=alpha,
            feature_names=getattr(self, "feature_names_in_", None) if spec is None else spec.feature_names,
            intercept_name="const" if spec is None else "Intercept",
            classes=self.classes_,
            converged=getattr(self, "converged_", None),
            n_iter=int(self.n_iter_[0]),
            cov_type=cov_type,
            groups=codes,
            n_groups=n_groups,
        )
        result._predictor = _EstimatorData(self, result)
        if spec is not None:
            result.n_dropped = design.n_dropped
        return result


class _EstimatorData:
    """How an :class:`~fastlogit.inference.InferenceResult` reaches new data: ``X``
    validated as :meth:`LogisticRegression.predict_proba` validates it (by a
    snapshot of the estimator, so a later refit changes nothing), dask arrays
    block by block."""

    def __init__(self, model, result):
        import copy

        self.model = copy.deepcopy(model)
        self.result = result

    def __call__(self, X, alpha):
        """``result.predict(X, alpha)``: lazily for a dask array."""
        if _is_dask(X):
            from .distributed import prediction_intervals_dask

            return prediction_intervals_dask(self.model, self.result, X, alpha)
        return self.result.intervals_for(self.model._validate_X(X, reset=False), alpha)

    def margeff_blocks(self, X, sample_weight, sums):
        """``[sums(X_block, sw=weights_block), ...]`` over the row blocks of X (one
        in memory; a dask array's computed block by block, in parallel)."""
        if _is_dask(X):
            from .distributed import map_row_blocks

            return map_row_blocks(self.model, X, sample_weight, sums)
        X = self.model._validate_X(X, reset=False)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X, dtype=np.float64)
        return [sums(X, sw=sw)]


def logit(formula, data, *, sample_weight=None, **params):
    """Fit ``formula`` on the frame ``data``: statsmodels' ``smf.logit(formula, data).fit()``
    (and ``smf.mnlogit`` for more than two classes) as a fitted :class:`LogisticRegression`.

    ``params`` are the estimator's (``solver=``, ``na_action=``, ...); ``C``
    defaults to ``np.inf`` (no penalty: maximum likelihood, as statsmodels).
    ``.inference(data).summary()`` then gives statsmodels' table.
    """
    params.setdefault("C", np.inf)
    return LogisticRegression(formula=formula, **params).fit(data, sample_weight=sample_weight)


def _split_design(X, spec):
    """A formula's :class:`~fastlogit.formula.SplitMatrix` as the
    :class:`~fastlogit.split.SplitDesign` that :class:`~fastlogit.split.SplitRows`
    reads (columns named and ordered as the formula's); any other ``X`` as it is."""
    from .formula import SplitMatrix

    if not isinstance(X, SplitMatrix):
        return X
    return SplitDesign(
        X.dense,
        X.codes.T,
        X.n_levels,
        names=spec.feature_names,
        n_samples=X.shape[0],
        column_order=X.column_order,
    )


def _is_dask(X):
    """Whether X is a dask collection (checked without importing dask)."""
    return type(X).__module__.partition(".")[0] in ("dask", "dask_expr")
