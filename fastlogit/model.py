"""``LogisticRegression``: the scikit-learn compatible estimator.

Thin by design (see DESIGN.md): it validates with scikit-learn's own tools,
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
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import functions, solvers
from .data import as_matrix, check_estimator_input, check_n_threads, encode_labels
from .objective import ChunkRows, Objective
from .sources import ChunkedData, _load_npy, as_chunk_source, chunk_progress, is_chunked_input

#: Full-batch solvers by name; "sgd" goes to :func:`fastlogit.sgd.fit_sgd`.
FULL_BATCH_SOLVERS = {"lbfgs": solvers.lbfgs, "newton": solvers.newton, "proximal": solvers.proximal}
SOLVERS = ("auto", *FULL_BATCH_SOLVERS, "sgd")
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
        - "newton": Newton's method (L2 only): Cholesky on the exact Hessian
          for binary problems with at most
          ``solvers.NEWTON_CHOLESKY_MAX_PARAMS`` parameters, else Newton-CG
          on fused Hessian-vector products.
        - "proximal": accelerated proximal gradient (FISTA) with
          backtracking, on working sets of features when there is an L1 term.
          Each working set is solved on a copy of its columns of X
          (n x size of the set; all of X if every feature enters).
        - "sgd": minibatch stochastic gradient descent (the Cython loop);
          ``max_iter`` counts epochs.  Also what :meth:`partial_fit` runs.
        - "auto": "proximal" when there is an L1 term (``l1_ratio > 0``
          and ``C`` finite); else "newton" for a binary problem on dense
          data with at most ``solvers.NEWTON_CHOLESKY_MAX_PARAMS`` (33)
          parameters (features + intercept), where the exact Hessian is
          cheap and a handful of Newton steps converge whatever the scaling
          of X; else "lbfgs" (multinomial, sparse, or wider data, where one
          fused pass per iteration is cheapest).  "sgd" is never chosen
          automatically.
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
        gives bit-identical results.
    verbose : int, default 0
        > 0 shows a progress bar (tqdm) over iterations with the current loss.

    Attributes
    ----------
    classes_ : (K,) the labels, sorted.
    coef_ : float64 (1, d) for two classes, (K, d) for more.
    intercept_ : float64 (1,) or (K,); zeros without ``fit_intercept``.
    n_iter_ : int32 (1,), iterations (epochs) run.
    n_features_in_ : int.  feature_names_in_ : (d,) object, for pandas input.
    loss_curve_ : list of float, the objective after each iteration
        (full-batch) or the training loss after each epoch (SGD).
    solver_ : str, the solver actually used.
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
    }

    def __init__(self, C=1.0, l1_ratio=0.0, fit_intercept=True, solver="auto", class_weight=None,
                 max_iter=100, tol=1e-4, batch_size=256, learning_rate="optimal", eta0=0.01,
                 average=False, early_stopping=False, validation_fraction=0.1, n_iter_no_change=5,
                 random_state=None, warm_start=False, n_threads=None, verbose=0):
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
        if has_l1 and self.solver in ("lbfgs", "newton"):
            raise ValueError(
                f"solver={self.solver!r} supports only the L2 penalty (l1_ratio=0), got "
                f"l1_ratio={self.l1_ratio}; use solver='proximal' (or 'sgd', or 'auto')"
            )
        if self.tol is None and self.solver != "sgd":
            raise ValueError(
                f"tol=None (run exactly max_iter epochs) is for solver='sgd'; solver={self.solver!r} "
                "needs a number, e.g. tol=1e-4"
            )

    def _validate_X(self, X, reset):
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

    def _solver_for(self, n_features, n_classes, dense):
        if self.solver != "auto":
            return self.solver
        if self.l1_ratio > 0 and np.isfinite(self.C):
            return "proximal"
        n_params = n_features + int(self.fit_intercept)
        if n_classes == 2 and dense and n_params <= solvers.NEWTON_CHOLESKY_MAX_PARAMS:
            return "newton"
        return "lbfgs"

    def _weights(self, X, y_enc, classes, sample_weight):
        """float64 (n,) sample weights with the class weights multiplied in, or None."""
        if sample_weight is None and self.class_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True)
        if self.class_weight is not None:
            # "balanced" counts each class by its sample weight, as scikit-learn does.
            sw *= compute_class_weight(self.class_weight, classes=classes, y=classes[y_enc],
                                       sample_weight=sw)[y_enc]
        present = np.bincount(y_enc, weights=sw, minlength=len(classes)) > 0
        if present.sum() < 2:
            raise ValueError(
                "sample_weight leaves only one class with a positive weight "
                f"({classes[present].tolist()}); fitting needs at least 2 classes"
            )
        return sw

    # -- fitting ----------------------------------------------------------------

    def fit(self, X, y=None, sample_weight=None, *, classes=None, target=None, features=None,
            weight=None):
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
        if _is_dask(X) or is_chunked_input(X):
            return self._fit_rows(X, y, sample_weight, classes=classes, target=target,
                                  features=features, weight=weight)
        if any(v is not None for v in (classes, target, features, weight)):
            given = [k for k, v in dict(classes=classes, target=target, features=features,
                                         weight=weight).items() if v is not None]
            raise ValueError(
                f"{', '.join(given)}= apply to chunked, Parquet or dask data, not to an in-memory "
                "array (its labels are y)"
            )
        # Full-batch solvers: NaN or inf in X surfaces as a ValueError at the first
        # evaluation (see Objective.data_loss_grad), so scikit-learn's separate
        # finiteness scan, as long as one fused pass (42 ms vs 30 ms at 1e6 x 100),
        # is skipped.  The SGD loop gets checked data.
        check_estimator_input(X)
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=_KERNEL_DTYPES, order="C",
                             ensure_all_finite=self.solver == "sgd")
        check_classification_targets(y)
        classes, y_enc = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                "LogisticRegression needs samples of at least 2 classes in the data, but the data "
                f"contains only one class: {classes[0]!r}"
            )
        y_enc = y_enc.astype(np.intp, copy=False)
        sw = self._weights(X, y_enc, classes, sample_weight)
        init = self._initial_coef(classes, X.shape[1])
        solver = self._solver_for(X.shape[1], len(classes), isinstance(X, np.ndarray))
        # Fitted attributes are set only once the solver has succeeded: a fit
        # that raises (e.g. on NaN in X) leaves a previous fit intact.
        if solver == "sgd":
            res = self._run_sgd(X, y_enc, sw, classes, init, state=None, max_iter=self.max_iter,
                                tol=self.tol, early_stopping=self.early_stopping)
            self.classes_, self.solver_ = classes, solver
            self._store_sgd(res, accumulate=False)
            return self
        objective = Objective.from_arrays(
            X, y_enc, sw, n_classes=len(classes), C=self.C, l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept, n_threads=self.n_threads,
        )
        self._fit_objective(objective, solver, init)
        self.classes_, self.solver_ = classes, solver
        self._sgd_state = None  # a later partial_fit starts a fresh SGD from coef_
        return self

    def _data_rows(self, X, y, sample_weight, *, classes, for_fit, **source_options):
        """``(rows, classes, sparse, feature_names)`` for chunked or dask data."""
        if _is_dask(X):
            from .distributed import dask_rows

            if for_fit and self.solver == "sgd":
                raise ValueError(
                    "solver='sgd' does not run on dask arrays: use a full-batch solver "
                    "('lbfgs', 'newton', 'proximal' or 'auto'), or stream the data as chunks"
                )
            if any(v is not None for v in source_options.values()):
                raise ValueError("target=, features=, weight= apply to Parquet data, not to dask arrays")
            rows, classes = dask_rows(X, y, sample_weight, classes=classes,
                                      class_weight=self.class_weight,
                                      n_threads=1 if self.n_threads is None else self.n_threads)
            names = getattr(X, "columns", None)
            return rows, np.asarray(classes), False, None if names is None else list(names)
        source = as_chunk_source(X, y, sample_weight, **source_options)
        data = ChunkedData(source, classes=classes, class_weight=self.class_weight)
        progress = chunk_progress if self.verbose else None
        names = getattr(source, "features", None)
        return ChunkRows(data, self.n_threads, progress), data.classes, data.sparse, names

    def _fit_rows(self, X, y, sample_weight, *, classes, **source_options):
        """Fit on chunked (out-of-core) or dask data: the same objective, streamed."""
        if classes is not None:
            classes = np.unique(np.asarray(classes))
        rows, classes, sparse, names = self._data_rows(X, y, sample_weight, classes=classes,
                                                       for_fit=True, **source_options)
        d = rows.n_features
        init = self._initial_coef(classes, d)
        solver = self._solver_for(d, len(classes), not sparse)
        if solver == "sgd":
            res = self._run_sgd(rows.data, None, None, classes, init, state=None,
                                max_iter=self.max_iter, tol=self.tol,
                                early_stopping=self.early_stopping)
            self._set_features(d, names)
            self.classes_, self.solver_ = classes, solver
            self._store_sgd(res, accumulate=False)
            return self
        objective = Objective([rows], C=self.C, l1_ratio=self.l1_ratio,
                              fit_intercept=self.fit_intercept)
        self._fit_objective(objective, solver, init)
        self._set_features(d, names)
        self.classes_, self.solver_ = classes, solver
        self._sgd_state = None
        return self

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
        n_rows = 1 if len(classes) == 2 else len(classes)
        if self.coef_.shape != (n_rows, n_features) or not np.array_equal(self.classes_, classes):
            raise ValueError(
                "warm_start=True needs the same classes and features as the previous fit: it had "
                f"classes {self.classes_.tolist()} and coef_ of shape {self.coef_.shape}, this fit "
                f"has classes {classes.tolist()} and {n_features} features"
            )
        return self.coef_, self.intercept_

    def _fit_objective(self, objective, solver, init):
        x0 = objective.pack(*init) if init is not None else np.zeros(objective.n_params)
        with self._progress(solver) as callback:
            res = FULL_BATCH_SOLVERS[solver](objective, x0, max_iter=self.max_iter, tol=self.tol,
                                             callback=callback)
        if not res.converged:
            warnings.warn(res.message, ConvergenceWarning, stacklevel=3)
        coef, intercept = objective.unpack(res.x)
        n_rows = objective.n_rows
        self.coef_ = np.array(coef, dtype=np.float64).reshape(n_rows, -1)
        self.intercept_ = np.array(intercept, dtype=np.float64).reshape(-1) * np.ones(n_rows)
        self.n_iter_ = np.array([res.n_iter], dtype=np.int32)
        self.loss_curve_ = list(res.loss_curve)

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

    def _run_sgd(self, X, y_enc, sw, classes, init, *, state, max_iter, tol, early_stopping):
        from .sgd import fit_sgd

        # (a ChunkedData is streamed by the driver as it is)
        Xk = X if isinstance(X, ChunkedData) else as_matrix(X)[1]
        if init is not None:
            coef, intercept = init
        else:
            # Zeros given explicitly: the driver reads the width of CSR input from coef.
            n_rows = 1 if len(classes) == 2 else len(classes)
            d = X.n_features if isinstance(X, ChunkedData) else X.shape[1]
            coef, intercept = np.zeros((n_rows, d)), np.zeros(n_rows)
        return fit_sgd(
            Xk, y_enc, sw, len(classes), C=self.C, l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept, batch_size=self.batch_size,
            learning_rate=self.learning_rate, eta0=self.eta0, average=self.average,
            early_stopping=early_stopping, validation_fraction=self.validation_fraction,
            n_iter_no_change=self.n_iter_no_change, tol=tol, max_iter=max_iter,
            random_state=self.random_state, coef=coef, intercept=intercept, state=state,
            verbose=self.verbose,
        )

    def _store_sgd(self, res, accumulate):
        self.coef_ = np.array(res.coef, dtype=np.float64)
        self.intercept_ = np.array(res.intercept, dtype=np.float64)
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
                ConvergenceWarning, stacklevel=3,
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
        first = not hasattr(self, "classes_")
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError(f"classes must hold at least 2 classes, got {classes.tolist()}")
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
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=_KERNEL_DTYPES, order="C",
                             reset=first)
        check_classification_targets(y)
        known = classes if first else self.classes_
        y_enc = self._encode(y, known, X.shape[0])
        sw = self._weights_partial(X, y_enc, known, sample_weight)
        if first:
            init, state = None, None
        else:
            init, state = (self.coef_, self.intercept_), getattr(self, "_sgd_state", None)
        res = self._run_sgd(X, y_enc, sw, known, init, state=state, max_iter=1, tol=None,
                            early_stopping=False)
        self.classes_, self.solver_ = known, "sgd"
        self._store_sgd(res, accumulate=not first)
        return self

    def _encode(self, y, known, n_samples):
        """Labels ``y`` as indices into ``known`` (sorted); ValueError for others."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        if y.ndim != 1 or len(y) != n_samples:
            raise ValueError(f"y must be 1-d with {n_samples} entries (one per row of X), got shape {y.shape}")
        return encode_labels(y, known).astype(np.intp, copy=False)

    def _objective_for(self, X, y, sample_weight=None, **source_options):
        """The fitted model's objective (same C, l1_ratio, fit_intercept, class
        weights) on the data ``(X, y, sample_weight)``, labels in ``classes_``.

        What :meth:`inference` evaluates; accepts the data :meth:`fit` accepts
        (``source_options``: Parquet's ``target``, ``features``, ``weight``).
        """
        check_is_fitted(self)
        if _is_dask(X) or is_chunked_input(X):
            rows, _, _, _ = self._data_rows(X, y, sample_weight, classes=self.classes_,
                                            for_fit=False, **source_options)
            if rows.n_features != self.n_features_in_:
                raise ValueError(
                    f"X has {rows.n_features} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input"
                )
            return Objective([rows], C=self.C, l1_ratio=self.l1_ratio,
                             fit_intercept=self.fit_intercept)
        X = self._validate_X(X, reset=False)
        y_enc = self._encode(y, self.classes_, X.shape[0])
        sw = self._weights(X, y_enc, self.classes_, sample_weight)
        return Objective.from_arrays(
            X, y_enc, sw, n_classes=len(self.classes_), C=self.C, l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept, n_threads=self.n_threads,
        )

    def _weights_partial(self, X, y_enc, classes, sample_weight):
        if sample_weight is None and self.class_weight is None:
            return None
        sw = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True, copy=True)
        if self.class_weight is not None:
            sw *= compute_class_weight(self.class_weight, classes=classes, y=classes[y_enc])[y_enc]
        return sw

    # -- prediction -------------------------------------------------------------

    def _predict_dask(self, X, method):
        from .distributed import predict_dask

        check_is_fitted(self)
        return predict_dask(self, X, method)

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``: float64 (n,) for two classes
        (the log-odds of ``classes_[1]``), (n, K) for more."""
        check_is_fitted(self)
        if _is_dask(X):
            from .distributed import predict_dask

            return predict_dask(self, X, "decision_function")
        X = self._validate_X(X, reset=False)
        if self.coef_.shape[0] == 1:
            return functions.binary_predict_raw(X, self.coef_[0], self.intercept_[0],
                                                n_threads=self.n_threads)
        return functions.multinomial_predict_raw(X, self.coef_, self.intercept_,
                                                 n_threads=self.n_threads)

    def predict(self, X):
        """Most probable label per row: (n,) of ``classes_``' dtype (a lazy dask
        array for dask input)."""
        if _is_dask(X):
            return self._predict_dask(X, "predict")
        z = self.decision_function(X)
        index = (z > 0).astype(np.intp) if z.ndim == 1 else np.argmax(z, axis=1)
        return self.classes_[index]

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
            return np.column_stack([functions.sigmoid(-z), functions.sigmoid(z)])
        return functions.softmax(z, axis=1)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed directly (finite where the
        probability underflows): float64 (n, K)."""
        if _is_dask(X):
            return self._predict_dask(X, "predict_log_proba")
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([functions.log_sigmoid(-z), functions.log_sigmoid(z)])
        return functions.log_softmax(z, axis=1)

    # -- inference --------------------------------------------------------------

    def inference(self, X, y=None, sample_weight=None, alpha=0.05, **source_options):
        """Standard errors, z tests, confidence intervals and fit statistics on ``(X, y)``.

        Parameters
        ----------
        X, y, sample_weight : the data, as :meth:`fit` accepts it (arrays,
            sparse, memmaps, files, chunk iterators, Dask arrays;
            ``source_options`` as in :meth:`fit`), usually the training data.
            ``sample_weight`` are frequency weights (a weight of 3 counts
            the row three times); class weights are multiplied in.
        alpha : float in (0, 1), default 0.05: intervals at ``1 - alpha``.

        Returns
        -------
        :class:`fastlogit.inference.InferenceResult`: ``.summary()`` prints
        a statsmodels-style table, ``.to_frame()`` gives a DataFrame.
        Unpenalized fits (``C=np.inf``) match statsmodels' ``Logit`` /
        ``MNLogit`` (softmax: each class against ``classes_[0]``); L2 fits
        use the penalized information (labelled so); L1 or elastic-net
        fits raise ``ValueError``.  Warns
        :class:`fastlogit.inference.InferenceWarning` (NaN standard errors)
        for singular information or separated classes.
        """
        from .inference import check_alpha, compute_inference

        alpha = check_alpha(alpha)
        objective = self._objective_for(X, y, sample_weight, **source_options)
        return compute_inference(objective, self.coef_, self.intercept_, alpha=alpha,
                                 feature_names=getattr(self, "feature_names_in_", None),
                                 classes=self.classes_)


def _is_dask(X):
    """Whether X is a dask collection (checked without importing dask)."""
    return type(X).__module__.partition(".")[0] in ("dask", "dask_expr")

