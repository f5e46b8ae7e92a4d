"""The Dask path: fitting and predicting on ``dask.array`` / ``dask.dataframe`` input.

The objective is a sum over rows, so a Dask array of row blocks is one more
row source (see :mod:`fastlogit.objective`): every evaluation runs the same
fused kernel as the in-memory path on each row block *where the block
lives*, one task per block, and the driver adds the blocks' small results
``(loss, grad)`` (d + 1 or K (d + 1) floats each) and runs the solver.

- :func:`dask_rows` validates the inputs (on the cluster: one pass over the
  labels and weights), encodes the labels, combines sample and class
  weights, and builds one in-memory row source per block
  (:class:`~fastlogit.row_sources.ArrayRows` on the block's rows, one kernel
  thread) on the workers.  It returns a :class:`DaskRows`, which implements
  the row-source protocol, so ``Objective([rows], C=...)`` and any solver of
  :mod:`fastlogit.solvers` fit on the cluster unchanged.
- :func:`dask_fold_rows` does the same for k-fold cross-validation: one
  :class:`~fastlogit.row_sources.FoldRows` per block (the block's rows with
  their fold ids), in a :class:`DaskFoldRows`, the interface of ``FoldRows``:
  ``FoldObjective(rows, C=...)`` evaluates all k models in one pass over the
  blocks.
- :func:`predict_dask` maps a fitted model's prediction over the row blocks
  of a Dask array, lazily.
- :func:`is_dask_collection` tells the estimator which path to take without
  importing Dask.

Scheduling: with a ``distributed.Client`` (the default one, as
``distributed.get_client()`` finds it), the per-block row sources are held
on the workers as futures (``persist=True``) and each evaluation submits one
task per worker over the blocks that worker holds (coefficients travel as
task arguments; the kernel runs once per block); the per-block results come
back and are added on the driver in block order, so the sums are
bit-identical from run to run whatever the placement.  One task per worker
instead of one per block (``client.map``) saved 5-10 ms of scheduler round
trips per evaluation on a loaded 2-core machine (13 ms instead of 18-24 ms
for 8 blocks on 2 workers); ``dask.delayed`` over the held futures cost
15 ms.  Without a client, the blocks are computed with Dask's local
scheduler into this process and evaluated one after the other.

Faults: the per-block sources are built from the input's task graph, so if a
worker dies, Dask recomputes the lost blocks from their lineage and the
evaluation is retried (same data, same results).  When the futures
themselves are gone (``client.restart()``), the blocks are rebuilt from the
graph once and the evaluation repeated; if that fails too, or a block keeps
killing its workers, :class:`DaskFitError` is raised.  A fit never continues
on partial sums.

Dask is an optional extra: ``pip install "fastlogit[dask]"``.
"""

import sys
import warnings
from functools import partial

import numpy as np

from .data import (
    as_classes,
    as_fold_ids,
    as_matrix,
    check_finite_labels,
    check_two_classes,
    check_weight_values,
    class_weights_from_counts,
    position_fold_ids,
)
from .matrix import find_nonfinite, nonfinite_message, select_features
from .row_sources import ArrayRows, FoldRows, _FoldSums

#: Methods :func:`predict_dask` maps over the row blocks.
PREDICT_METHODS = ("decision_function", "predict", "predict_proba", "predict_log_proba")

_INSTALL_HINT = 'pip install "fastlogit[dask]"'


class DaskFitError(RuntimeError):
    """An evaluation over the Dask row blocks could not complete (lost workers or data)."""


# -- imports -------------------------------------------------------------------


def is_dask_collection(obj):
    """Whether ``obj`` is a Dask collection (array, DataFrame, Series, ...).

    Never imports Dask: an object can only be a Dask collection if ``dask``
    is already imported, so ``import fastlogit`` stays light.
    """
    dask = sys.modules.get("dask")
    if dask is None:
        return False
    try:
        return bool(dask.is_dask_collection(obj))
    except Exception:  # a partially imported or blocked dask
        return False


def _import_dask():
    """``(dask, dask.array)``, or an ImportError naming the extra to install."""
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError(
            "fitting or predicting on Dask collections needs dask and distributed, which are "
            f"not installed: {_INSTALL_HINT}"
        ) from exc
    return dask, da


def _get_client():
    """The default ``distributed.Client``, or None (no distributed, or no client)."""
    if sys.modules.get("distributed") is None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            return None
    from distributed import get_client

    try:
        return get_client()
    except ValueError:  # no client: Dask's local scheduler
        return None


# -- input normalization -------------------------------------------------------


def _as_dask_matrix(X, da, *, lengths):
    """X as a 2-d dask array of numbers, one column chunk; DataFrames converted."""
    if not is_dask_collection(X) and not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array or dask DataFrame here, got {type(X).__name__}")
    if hasattr(X, "to_dask_array") and not isinstance(X, da.Array):
        if getattr(X, "ndim", 2) != 2:
            raise ValueError(
                "X must be 2-d (n_samples, n_features): got a 1-d dask Series; use "
                "series.to_frame() for a single feature"
            )
        X = X.to_dask_array(lengths=lengths)
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask array or dask DataFrame, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-d array (n_samples, n_features), got shape {X.shape}")
    kind = X.dtype.kind
    if kind == "c":
        raise TypeError(f"X must be real, got complex dtype {X.dtype}")
    if kind not in "biuf":
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def _chunks_text(chunks):
    shown = ", ".join(str(int(c)) for c in chunks[:4])
    return f"({shown}{', ...' if len(chunks) > 4 else ''}) ({len(chunks)} blocks)"


def _as_dask_vector(v, name, X, da, *, rechunk=True):
    """A 1-d dask array with X's row chunks (split as needed; a dask array is
    rechunked, or with ``rechunk=False`` must have them already: ValueError)."""
    n = X.shape[0]
    if is_dask_collection(v):
        if hasattr(v, "to_dask_array") and not isinstance(v, da.Array):
            if getattr(v, "ndim", 1) == 2 and len(v.columns) != 1:
                raise ValueError(f"{name} must be 1-d, got a DataFrame with {len(v.columns)} columns")
            with warnings.catch_warnings():
                # Labels of a pandas extension dtype (strings) become an object array: intended.
                warnings.filterwarnings("ignore", message=".*extension dtypes to arrays")
                v = v.to_dask_array(lengths=True)
        if not isinstance(v, da.Array):
            raise TypeError(f"{name} must be a dask array or Series, got {type(v).__name__}")
        if v.ndim == 2 and v.shape[1] == 1:
            v = v[:, 0]
        if v.ndim != 1:
            raise ValueError(f"{name} must be 1-d with {n} entries (one per row of X), got shape {v.shape}")
        if np.isnan(v.shape[0]):
            v = v.compute_chunk_sizes()  # 1-d: a cheap pass
        if v.shape[0] != n:
            raise ValueError(
                f"{name} has {v.shape[0]} entries but X has {n} rows; they must have the same length"
            )
        if v.chunks[0] != X.chunks[0]:
            if not rechunk:
                raise ValueError(
                    f"{name} must have the row chunks of X (its block i holds the rows of X's "
                    f"block i): got {_chunks_text(v.chunks[0])}, X has {_chunks_text(X.chunks[0])}; "
                    f"use {name}.rechunk((X.chunks[0],))"
                )
            v = v.rechunk((X.chunks[0],))
        return v
    arr = np.asarray(v)
    if arr.ndim == 0 and name == "sample_weight":
        arr = np.full(n, arr)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d with {n} entries (one per row of X), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but X has {n} rows; they must have the same length"
        )
    return da.from_array(arr, chunks=(X.chunks[0],))


# -- tasks (run on the workers) ----------------------------------------------


def _checked_labels(y, sw, offset):
    """One block's labels and weights, checked: ``(labels, inverse, sw)`` (sw float64 or None)."""
    y = np.asarray(y).reshape(-1)
    check_finite_labels(y, "y", offset)
    labels, inverse = np.unique(y, return_inverse=True)
    if sw is not None:
        sw = np.asarray(sw, dtype=np.float64).reshape(-1)
        check_weight_values(sw)  # raised on the worker, re-raised by Dask on the client
    return labels, inverse.reshape(-1), sw


def _weighted_counts(index, sw, size):
    return np.bincount(index, weights=sw, minlength=size).astype(np.float64, copy=False)


def _label_stats(y, sw, offset):
    """One block's labels and weights, checked: ``(labels, weighted counts)``."""
    labels, inverse, sw = _checked_labels(y, sw, offset)
    return labels, _weighted_counts(inverse, sw, len(labels))


def _block_fold_ids(fold, n, offset, n_folds, seed):
    """A block's fold ids, int64 (n,): ``fold`` checked, or from the rows' positions."""
    if fold is None:
        return position_fold_ids(offset, n, n_folds, seed)
    return as_fold_ids(np.asarray(fold).reshape(-1), n, n_folds)


def _fold_label_stats(y, sw, fold, *, offset, n_folds, seed):
    """:func:`_label_stats` and the block's fold ids, checked: ``(labels, counts,
    held (k, L), rows (k,))``, ``held[j]`` the weighted counts of the labels
    among the rows of fold j, ``rows[j]`` how many rows fold j has.  A label
    whose rows here are all in fold j has ``held[j] == counts`` exactly (the
    same additions in the same order)."""
    labels, inverse, sw = _checked_labels(y, sw, offset)
    fold = _block_fold_ids(fold, inverse.shape[0], offset, n_folds, seed)
    L = len(labels)
    held = _weighted_counts(fold * L + inverse, sw, n_folds * L).reshape(n_folds, L)
    return labels, _weighted_counts(inverse, sw, L), held, np.bincount(fold, minlength=n_folds)


class _Block:
    """One row block on a worker: an :class:`ArrayRows` (or a :class:`FoldRows`)
    and where its rows start.

    A block whose weights are all zero contributes nothing; it keeps its X
    (for :meth:`check_finite`) but no kernel source (ArrayRows rejects a zero
    weight sum).  A fold block's ``score_rows`` gives its held-out scores:
    ``rows`` itself, or, where the class weights zero every training weight
    of the block but the sample weights do not, a source weighted by the
    sample weights for the scores alone.
    """

    def __init__(self, rows, X, offset, n_samples, weight_sum, score_rows=None):
        self.rows = rows
        self.X = X
        self.offset = offset
        self.n_samples = n_samples
        self.weight_sum = weight_sum
        self.score_rows = score_rows

    def __sizeof__(self):
        # What Dask's sizeof sees (it falls back to sys.getsizeof): the held
        # arrays, so that the scheduler never thinks a block is cheap to move.
        total = 256
        arrays = [self.X]
        for rows in {id(r): r for r in (self.rows, self.score_rows) if r is not None}.values():
            arrays += [
                rows.y,
                rows.sample_weight,
                getattr(rows, "score_weight", None),
                getattr(rows, "fold", None),
            ]
        for arr in arrays:
            if arr is None:
                continue
            if isinstance(arr, np.ndarray):
                total += arr.nbytes
            else:  # CSR
                total += arr.data.nbytes + arr.indices.nbytes + arr.indptr.nbytes
        return total


def _encoded_block(y, sw, classes, class_weights):
    """A block's encoded labels and training weights (sample times class weights, or None)."""
    y = np.asarray(y).reshape(-1)
    y_enc = np.searchsorted(classes, y).astype(np.intp, copy=False)
    weights = None
    if sw is not None:
        weights = np.array(sw, dtype=np.float64).reshape(-1)
    if class_weights is not None:
        cw = class_weights[y_enc]
        weights = cw if weights is None else weights * cw
    return y_enc, weights


def _make_block(X, y, sw, *, offset, classes, class_weights, n_classes, n_threads):
    y_enc, weights = _encoded_block(y, sw, classes, class_weights)
    n = y_enc.shape[0]
    weight_sum = float(n if weights is None else weights.sum())
    if n == 0:
        return _Block(None, None, offset, 0, 0.0)
    if weights is not None and not weight_sum > 0:
        return _Block(None, as_matrix(X), offset, n, 0.0)
    rows = ArrayRows(X, y_enc, weights, n_classes, n_threads)
    return _Block(rows, rows.X, offset, n, rows.weight_sum)


def _make_fold_block(X, y, sw, fold, *, offset, classes, class_weights, n_classes, n_folds, seed, n_threads):
    """A block of k-fold rows: a :class:`FoldRows` trained with the sample times
    class weights and scored with the sample weights (as scikit-learn scores)."""
    y_enc, weights = _encoded_block(y, sw, classes, class_weights)
    n = y_enc.shape[0]
    if n == 0:
        return _Block(None, None, offset, 0, np.zeros(n_folds))
    fold = _block_fold_ids(fold, n, offset, n_folds, seed)
    score = (
        None
        if sw is None
        else (weights if class_weights is None else np.array(sw, dtype=np.float64).reshape(-1))
    )

    def rows(train):
        return FoldRows(X, y_enc, train, fold, n_folds, n_classes, n_threads, score_weight=score)

    if weights is None or weights.sum() > 0:
        block = rows(weights)
        return _Block(block, block.X, offset, n, block.weight_sums, score_rows=block)
    if score is None or score.sum() > 0:  # class weights of 0 leave the rows their scores
        scores = rows(score)
        return _Block(None, scores.X, offset, n, np.zeros(n_folds), score_rows=scores)
    return _Block(None, as_matrix(X), offset, n, np.zeros(n_folds))


def _run_on_blocks(task, blocks):
    """``(this worker's address, [task(block) for block in blocks])``."""
    from distributed import get_worker

    return get_worker().address, [task(block) for block in blocks]


def _block_info(block):
    return block.n_samples, block.weight_sum


def _block_loss_grad(block, coef, intercept, grad_shape):
    if block.rows is None:
        return 0.0, np.zeros(grad_shape)
    return block.rows.loss_grad(coef, intercept)


def _block_hessp(block, coef, intercept, vec_coef, vec_intercept, grad_shape):
    if block.rows is None:
        return np.zeros(grad_shape)
    return block.rows.hessp(coef, intercept, vec_coef, vec_intercept)


def _block_gram_matvec(block, vec_coef, vec_intercept, d):
    if block.rows is None:
        return np.zeros(d + 1)
    return block.rows.gram_matvec(vec_coef, vec_intercept)


def _block_loss_grad_hessian(block, coef, intercept, grad_shape, size):
    if block.rows is None:
        return 0.0, np.zeros(grad_shape), np.zeros((size, size))
    return block.rows.loss_grad_hessian(coef, intercept)


def _block_hessian(block, coef, intercept, size, fold=None):
    """The block's Hessian; with ``fold``, model ``fold``'s (a :class:`FoldRows` block)."""
    if block.rows is None:
        return np.zeros((size, size))
    if fold is None:
        return block.rows.hessian(coef, intercept)
    return block.rows.hessian(fold, coef, intercept)


def _fold_block_loss_grad(block, coefs, intercepts, grad_shape):
    """``(loss (k,), grad, held)``: ``held`` the held-out sums of the same pass
    (:meth:`FoldRows.last_held_out`), or None where the block's score weights
    are not its training weights."""
    k = grad_shape[0]
    if block.rows is None:
        held = None if block.score_rows is not None else tuple(np.zeros(k) for _ in range(3))
        return np.zeros(k), np.zeros(grad_shape), held
    loss, grad = block.rows.loss_grad(coefs, intercepts)
    held = block.rows.last_held_out(coefs, intercepts)
    return loss, grad, None if held is None else tuple(np.array(h) for h in held)


def _fold_block_held_out(block, coefs, intercepts, n_folds):
    if block.score_rows is None:
        return tuple(np.zeros(n_folds) for _ in range(3))
    return tuple(block.score_rows.held_out(coefs, intercepts))


def _block_score_outer(block, coef, intercept, size):
    if block.rows is None:
        return np.zeros((size, size))
    return block.rows.score_outer(coef, intercept)


def _block_score_group_sums(block, coef, intercept, groups, n_groups, size):
    if block.rows is None:
        return np.zeros((n_groups, size))
    mine = groups[block.offset : block.offset + block.n_samples]
    return block.rows.score_group_sums(coef, intercept, mine, n_groups)


def _block_moments(block, d, n_total):
    if block.rows is None:
        return 0.0, np.zeros(d), np.zeros(d)
    return block.rows.column_moments(n_total=n_total, offset=block.offset)


def _block_nonfinite(block):
    """``None``, or ``(row, column, what)`` of the block's first NaN/inf (row within all of X)."""
    if block.X is None:
        return None
    found = find_nonfinite(block.X)
    if found is None:
        return None
    row, col, what = found
    return block.offset + row, col, what


def _block_select(block, features):
    if block.rows is not None:
        rows = block.rows.select_features(features)
        return _Block(rows, rows.X, block.offset, block.n_samples, block.weight_sum)
    X = None if block.X is None else select_features(block.X, features)
    return _Block(None, X, block.offset, block.n_samples, block.weight_sum)


# -- the row source ------------------------------------------------------------


class _HeldBlocks:
    """Row blocks built on the workers from a task graph, and one pass over them.

    The machinery the Dask row sources share: the blocks held as futures
    (``persist=True``) or recomputed from ``builders`` (one ``dask.delayed``
    per block, the lineage) on every pass; :meth:`_map` runs a function on
    every block, one task per worker over the blocks it holds, and returns
    the results in block order; lost blocks are rebuilt once (see the module
    docstring).
    """

    def __init__(self, builders, *, client, persist, n_features, n_classes, classes):
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.classes = classes
        self._builders = builders  # dask.delayed, one per block: the lineage
        self.client = client
        self.persisted = bool(persist)
        self.n_blocks = len(builders)
        self._blocks = None
        self._placement = None  # [(worker, block indices)] of the held blocks
        if self.persisted:
            self._persist()

    # -- block storage -------------------------------------------------------

    def _persist(self):
        self._placement = None
        if self.client is not None:
            self._blocks = self.client.compute(self._builders)
        else:
            import dask

            self._blocks = list(dask.compute(*self._builders, scheduler="threads"))

    def close(self):
        """Release the blocks held on the workers (or in this process)."""
        blocks, self._blocks = self._blocks, None
        if blocks is not None and self.client is not None:
            for future in blocks:
                future.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _map(self, func, **kwargs):
        """``func(block, **kwargs)`` for every block, results in block order."""
        task = partial(func, **kwargs)
        if not self.persisted:
            import dask

            tasks = [dask.delayed(task, pure=False)(b) for b in self._builders]
            if self.client is not None:
                return self.client.gather(self.client.compute(tasks))
            return list(dask.compute(*tasks, scheduler="threads"))
        if self._blocks is None:
            raise ValueError("these Dask rows were closed: their blocks are released")
        if self.client is None:
            return [task(block) for block in self._blocks]
        return self._map_distributed(task)

    def _groups(self):
        """The held blocks' indices grouped by the worker holding them: ``[(worker, indices)]``.

        Looked up (one scheduler call) after the blocks are built, and again
        when a group's task ran on another worker than its own (a worker died
        and its blocks were recomputed elsewhere).  A stale grouping is still
        correct, only slower (a task fetches the blocks it does not hold).
        """
        if self._placement is None:
            from distributed import wait

            wait(self._blocks)
            who_has = self.client.who_has(self._blocks)
            groups = {}
            for i, future in enumerate(self._blocks):
                holders = sorted(who_has.get(future.key, ())) or [None]
                groups.setdefault(holders[0], []).append(i)
            self._placement = list(groups.items())
        return self._placement

    def _map_distributed(self, task):
        from concurrent.futures import CancelledError

        from distributed import KilledWorker

        for attempt in (0, 1):
            try:
                # One task per worker over the blocks it holds (fewer scheduler
                # round trips than one per block); results come back per block.
                groups = self._groups()
                futures = [
                    self.client.submit(
                        _run_on_blocks,
                        task,
                        [self._blocks[i] for i in index],
                        pure=False,
                        workers=None if worker is None else [worker],
                        allow_other_workers=True,
                    )
                    for worker, index in groups
                ]
                parts = [None] * self.n_blocks
                for (worker, index), (ran_on, results) in zip(groups, self.client.gather(futures)):
                    if ran_on != worker:
                        self._placement = None  # blocks moved: group them again next time
                    for i, result in zip(index, results):
                        parts[i] = result
                return parts
            except CancelledError as exc:
                self._placement = None
                # The blocks' futures were dropped (client.restart(), a lost
                # scheduler): rebuild them from the graph once and repeat.
                if attempt:
                    raise DaskFitError(
                        "the row blocks of this Dask fit were lost twice (the cluster was "
                        f"restarted or lost its data: {exc!r}); no result is returned"
                    ) from exc
                self._persist()
            except KilledWorker as exc:
                self._placement = None
                raise DaskFitError(
                    "a Dask worker died while evaluating the objective, and the block's task "
                    f"failed on several workers ({exc}); no result is returned"
                ) from exc

    def _sum(self, parts):
        total = None
        for part in parts:  # block order: bit-identical sums run to run
            total = part if total is None else total + part
        return total

    def column_moments(self):
        """Weighted column sums over the rows an in-memory X of the same rows would sample
        (see :func:`fastlogit.matrix.column_moments`), each block summing its own."""
        parts = self._map(_block_moments, d=self.n_features, n_total=self.n_samples)
        return tuple(self._sum(part[k] for part in parts) for k in range(3))

    def check_finite(self):
        """Raise ``ValueError`` naming the row and column of the first NaN or infinity in X."""
        for found in self._map(_block_nonfinite):
            if found is not None:
                raise ValueError(nonfinite_message(found, "X"))


def _as_params(x):
    """Coefficients (or intercepts) as the kernels take them: float64 C-contiguous
    (a float stays a float)."""
    if np.ndim(x) == 0:
        return float(x)
    return np.ascontiguousarray(x, dtype=np.float64)


class DaskRows(_HeldBlocks):
    """A row source over the row blocks of a Dask array (see :func:`dask_rows`).

    Implements :class:`~fastlogit.row_sources.RowSource`:
    ``n_features``, ``n_classes``, ``weight_sum``, ``n_samples``, and the
    unreduced sums ``loss_grad``, ``hessp``, ``gram_matvec``, ``hessian``, plus
    ``check_finite`` and ``select_features``.  Each call is one pass over X
    on the workers: one task per worker, running the kernel on each row
    block it holds; the blocks' results are added on the driver in block
    order.

    Attributes
    ----------
    classes : the sorted labels (also returned by :func:`dask_rows`).
    n_blocks : the number of row blocks (kernel calls per evaluation).
    client : the ``distributed.Client`` used, or None (local scheduler).
    persisted : whether the blocks are held in memory (on the workers, or in
        this process without a client) between evaluations.

    :meth:`close` (or leaving a ``with`` block, or garbage collection)
    releases the blocks held on the workers.
    """

    def __init__(self, builders, *, n_samples, weight_sum, **common):
        # common: client, persist, n_features, n_classes, classes (see _HeldBlocks)
        self.n_samples = int(n_samples)
        self.weight_sum = float(weight_sum)
        super().__init__(builders, **common)

    # -- the row-source protocol ---------------------------------------------

    @property
    def _grad_shape(self):
        d = self.n_features
        return (d + 1,) if self.binary else (self.n_classes, d + 1)

    @staticmethod
    def _params(coef, intercept):
        return _as_params(coef), _as_params(intercept)

    def loss_grad(self, coef, intercept):
        """Summed loss and gradient (see :meth:`ArrayRows.loss_grad`): one task per block."""
        coef, intercept = self._params(coef, intercept)
        parts = self._map(_block_loss_grad, coef=coef, intercept=intercept, grad_shape=self._grad_shape)
        loss = 0.0
        for part_loss, _ in parts:
            loss += part_loss
        return float(loss), self._sum(g for _, g in parts)

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian-vector product (see :meth:`ArrayRows.hessp`)."""
        coef, intercept = self._params(coef, intercept)
        vec_coef, vec_intercept = self._params(vec_coef, vec_intercept)
        return self._sum(
            self._map(
                _block_hessp,
                coef=coef,
                intercept=intercept,
                vec_coef=vec_coef,
                vec_intercept=vec_intercept,
                grad_shape=self._grad_shape,
            )
        )

    def gram_matvec(self, vec_coef, vec_intercept):
        """Weighted Gram matrix of ``[X, 1]`` times a vector (see :meth:`ArrayRows.gram_matvec`)."""
        vec_coef, vec_intercept = self._params(vec_coef, vec_intercept)
        return self._sum(
            self._map(_block_gram_matvec, vec_coef=vec_coef, vec_intercept=vec_intercept, d=self.n_features)
        )

    @property
    def fused_newton(self):
        """One task per block gives its loss, gradient and Hessian (each block's
        :class:`ArrayRows` fuses them from FUSED_NEWTON_MIN_ROWS rows)."""
        return True

    def loss_grad_hessian(self, coef, intercept):
        """Summed ``(loss, grad, hessian)`` (see :meth:`ArrayRows.loss_grad_hessian`)."""
        coef, intercept = self._params(coef, intercept)
        size = (self.n_features + 1) * (1 if self.binary else self.n_classes)
        parts = self._map(
            _block_loss_grad_hessian, coef=coef, intercept=intercept, grad_shape=self._grad_shape, size=size
        )
        loss = 0.0
        for part_loss, _, _ in parts:
            loss += part_loss
        return float(loss), self._sum(g for _, g, _ in parts), self._sum(H for _, _, H in parts)

    def hessian(self, coef, intercept):
        """Summed exact Hessian: (d + 1, d + 1) binary; (K (d + 1), K (d + 1))
        multinomial, class-major (as :meth:`ArrayRows.hessian`)."""
        coef, intercept = self._params(coef, intercept)
        size = (self.n_features + 1) * (1 if self.binary else self.n_classes)
        return self._sum(self._map(_block_hessian, coef=coef, intercept=intercept, size=size))

    def score_outer(self, coef, intercept):
        """Summed outer products of the rows' scores (see :meth:`ArrayRows.score_outer`):
        one task per block, added up in block order."""
        coef, intercept = self._params(coef, intercept)
        size = (self.n_features + 1) * (1 if self.binary else self.n_classes)
        return self._sum(self._map(_block_score_outer, coef=coef, intercept=intercept, size=size))

    def score_group_sums(self, coef, intercept, groups, n_groups):
        """Each group's summed score; ``groups`` (int codes, one per row in the
        dask array's order) goes to every block, which takes its own rows' codes."""
        coef, intercept = self._params(coef, intercept)
        size = (self.n_features + 1) * (1 if self.binary else self.n_classes)
        parts = self._map(
            _block_score_group_sums,
            coef=coef,
            intercept=intercept,
            groups=np.ascontiguousarray(groups, dtype=np.intp),
            n_groups=int(n_groups),
            size=size,
        )
        return self._sum(parts)

    def select_features(self, features):
        """The same rows restricted to the columns ``features``: a copy per block, on the workers."""
        import dask

        features = np.asarray(features, dtype=np.intp)
        builders = [dask.delayed(_block_select, pure=True)(b, features) for b in self._builders]
        sub = DaskRows(
            builders,
            client=self.client,
            persist=False,
            n_features=len(features),
            n_classes=self.n_classes,
            classes=self.classes,
            n_samples=self.n_samples,
            weight_sum=self.weight_sum,
        )
        if self.persisted:
            # Derived from the parent's held blocks (no recomputation of X);
            # the builders stay as lineage for a rebuild.
            sub.persisted = True
            if self.client is not None:
                sub._blocks = self.client.map(
                    partial(_block_select, features=features), self._blocks, pure=False
                )
            else:
                sub._blocks = [_block_select(b, features) for b in self._blocks]
        return sub


class DaskFoldRows(_FoldSums, _HeldBlocks):
    """:class:`~fastlogit.row_sources.FoldRows` over the row blocks of a Dask
    array (see :func:`dask_fold_rows`): the k training sets of k-fold
    cross-validation, every model's sums from one pass over the blocks.

    The interface of ``FoldRows``, so ``FoldObjective(rows, C=...)`` fits the
    k models on the cluster unchanged: ``n_folds``, ``n_features``,
    ``n_classes``, ``binary``, ``n_samples``, ``weight_sums`` (k,) and
    ``n_samples_per_fold`` (k,) (each model's training weight and rows),
    ``loss_grad``, ``held_out``, ``last_held_out``, ``hessp``,
    ``hessian(j, ...)``, ``column_moments`` and ``check_finite``.  Each call
    is one task per worker, running the fold-fused kernels on each block it
    holds (one :class:`FoldRows` per block); the blocks' results are added on
    the driver in block order (bit-identical run to run).

    Attributes
    ----------
    classes : the sorted labels (also returned by :func:`dask_fold_rows`).
    fold : int64 dask array (n,) of the fold ids, X's row chunks (lazy).
    n_blocks, client, persisted : as :class:`DaskRows`; :meth:`close` (or a
        ``with`` block) releases the held blocks.
    """

    def __init__(
        self, builders, *, n_folds, weight_sums, n_samples_per_fold, fold, scores_from_training, **common
    ):
        # common: client, persist, n_features, n_classes, classes (see _HeldBlocks)
        self.n_folds = int(n_folds)
        self.fold = fold
        self.n_samples = int(fold.shape[0])
        self.weight_sums = np.asarray(weight_sums, dtype=np.float64)
        self.n_samples_per_fold = np.asarray(n_samples_per_fold, dtype=np.int64)
        self._scores_from_training = bool(scores_from_training)
        super().__init__(builders, **common)

    @property
    def _grad_shape(self):
        d, k = self.n_features, self.n_folds
        return (k, d + 1) if self.binary else (k, self.n_classes, d + 1)

    def loss_grad(self, coefs, intercepts):
        """Each model's summed training loss (k,) and gradient (k, d + 1) or
        (k, K, d + 1), one pass (see :meth:`FoldRows.loss_grad`)."""
        coefs, intercepts = _as_params(coefs), _as_params(intercepts)
        parts = self._map(
            _fold_block_loss_grad, coefs=coefs, intercepts=intercepts, grad_shape=self._grad_shape
        )
        loss = self._sum(part[0] for part in parts)
        grad = self._sum(part[1] for part in parts)
        if all(part[2] is not None for part in parts):
            self._remember(coefs, intercepts, (self._sum(part[2][i] for part in parts) for i in range(3)))
        return loss, grad

    def _held_out_pass(self, coefs, intercepts):
        coefs, intercepts = _as_params(coefs), _as_params(intercepts)
        parts = self._map(_fold_block_held_out, coefs=coefs, intercepts=intercepts, n_folds=self.n_folds)
        return tuple(self._sum(part[i] for part in parts) for i in range(3))

    def hessp(self, coefs, intercepts, vec_coefs, vec_intercepts):
        """Each model's summed training Hessian times its vector, one pass."""
        return self._sum(
            self._map(
                _block_hessp,
                coef=_as_params(coefs),
                intercept=_as_params(intercepts),
                vec_coef=_as_params(vec_coefs),
                vec_intercept=_as_params(vec_intercepts),
                grad_shape=self._grad_shape,
            )
        )

    def hessian(self, j, coef, intercept):
        """Model ``j``'s summed training Hessian (layout as :meth:`ArrayRows.hessian`), one pass."""
        size = (self.n_features + 1) * (1 if self.binary else self.n_classes)
        coef, intercept = _as_params(coef), _as_params(intercept)
        return self._sum(self._map(_block_hessian, coef=coef, intercept=intercept, size=size, fold=int(j)))


class _Inputs:
    """The validated inputs of a Dask fit: X, y and sample weights as row blocks.

    Raises TypeError/ValueError naming the argument for a non-2-d or
    non-numeric X, unknown chunk sizes, and lengths that do not match X's
    rows.  ``x_blocks``, ``y_blocks``, ``sw_blocks`` (None each without
    weights) are ``dask.delayed`` per row block, ``offsets`` the blocks'
    first rows; ``client`` the default client, or None (local scheduler).
    """

    def __init__(self, X, y, sample_weight):
        self.dask, self.da = dask, da = _import_dask()
        X = _as_dask_matrix(X, da, lengths=True)
        self.n, self.d = X.shape
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                "X has unknown chunk sizes (rows per block); call X.compute_chunk_sizes() first, or "
                "convert a DataFrame with to_dask_array(lengths=True)"
            )
        if self.n == 0 or self.d == 0:
            raise ValueError(f"X is empty: shape {X.shape}; it needs at least one row and one column")
        if y is None:
            raise ValueError("y is required: the labels of the rows of X")
        y = _as_dask_vector(y, "y", X, da)
        if y.dtype.kind in "cMm":
            raise TypeError(f"y must hold class labels, got dtype {y.dtype}")
        sw = None
        if sample_weight is not None:
            sw = _as_dask_vector(sample_weight, "sample_weight", X, da)
            if sw.dtype.kind not in "biuf":
                raise TypeError(f"sample_weight must be numeric, got dtype {sw.dtype}")
        self.X, self.y, self.sw = X, y, sw
        self.client = _get_client()
        self.x_blocks = X.to_delayed().ravel().tolist()
        self.y_blocks = y.to_delayed().ravel().tolist()
        self.sw_blocks = sw.to_delayed().ravel().tolist() if sw is not None else [None] * len(self.y_blocks)
        self.offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(int).tolist()

    def builders(self, func, blocks, **kwargs):
        """``[dask.delayed(func)(*block i of each of blocks, offset=..., **kwargs)]``, one per row block."""
        delayed = self.dask.delayed(func, pure=True)
        return [delayed(*args, offset=off, **kwargs) for *args, off in zip(*blocks, self.offsets)]

    def source(self, cls, builders, classes, *, persist, **kwargs):
        """``cls`` (a Dask row source) over ``builders``, on this client, of these classes."""
        return cls(
            builders,
            client=self.client,
            persist=persist,
            n_features=self.d,
            n_classes=len(classes),
            classes=classes,
            **kwargs,
        )

    def compute(self, func, blocks, **kwargs):
        """:meth:`builders` computed (on the cluster when there is a client): the
        results in block order."""
        tasks = self.builders(func, blocks, **kwargs)
        if self.client is not None:
            return self.client.gather(self.client.compute(tasks))
        return self.dask.compute(*tasks)

    def classes(self, stats, classes, class_weight):
        """``(classes, counts, class weights)`` from the blocks' ``(labels, weighted
        counts, ...)``: the sorted labels (checked against ``classes`` when given),
        their total sample weights (added in block order) and the class weights'
        multipliers (None for none).  ValueError for fewer than 2 classes with a
        positive weight and labels outside ``classes``."""
        seen = np.unique(np.concatenate([labels for labels, *_ in stats]))
        from sklearn.utils.multiclass import check_classification_targets

        check_classification_targets(seen)
        if classes is None:
            classes = seen
            check_two_classes(classes)
        else:
            classes = as_classes(classes)
            unknown = np.setdiff1d(seen, classes)
            if unknown.size:
                raise ValueError(
                    f"y holds labels that are not in classes {classes.tolist()}: {unknown.tolist()}"
                )
        counts = np.zeros(len(classes))
        for labels, block_counts, *_ in stats:  # block order: reproducible sums
            counts[np.searchsorted(classes, labels)] += block_counts
        cw = class_weights_from_counts(class_weight, classes, counts)
        check_two_classes(classes, counts if cw is None else counts * cw, weighted=self.sw is not None)
        return classes, counts, cw


# -- entry points ----------------------------------------------------------------


def dask_rows(X, y, sample_weight=None, *, classes=None, class_weight=None, n_threads=1, persist=True):
    """A row source over the Dask array ``X`` and the sorted labels: ``(rows, classes)``.

    Parameters
    ----------
    X : dask array (n, d) of numbers, or a dask DataFrame (converted with
        ``to_dask_array(lengths=True)``).  Rechunked to one column chunk if
        needed; each row block is one task per evaluation.  Blocks are
        converted as in memory (int/bool to float64, float16 to float32;
        float32/float64 kept), on the workers.
    y : (n,) labels of any kind: a dask array or Series (rechunked to X's row
        chunks), or anything NumPy takes (split into X's row chunks).
    sample_weight : (n,) nonnegative weights like ``y``, or None.
    classes : the labels (e.g. for inference or partial fits), or None: the
        sorted distinct labels of ``y`` (found on the cluster).
    class_weight : None, a dict ``{label: weight}`` or ``"balanced"``
        (``W / (K * W_k)`` from the classes' total sample weights ``W_k``, as
        scikit-learn's ``compute_class_weight`` with sample weights);
        multiplied into the sample weights.
    n_threads : Numba threads per block task (1: one per worker thread).
    persist : True holds the blocks (X, encoded labels, combined weights, as
        one in-memory row source per block) on the workers for the life of
        ``rows``: X is read from its source once.  They are released by
        ``rows.close()``, a ``with rows:`` block, or when ``rows`` is garbage
        collected.  False recomputes every block from the graph on every
        evaluation (memory-light, X re-read each time).

    Returns
    -------
    rows : :class:`DaskRows`, for ``Objective([rows], ...)``.
    classes : ndarray (K,), the sorted labels.

    One pass over ``y`` and ``sample_weight`` (on the cluster) validates them
    and counts the classes.  Raises TypeError/ValueError naming the argument
    for a non-2-d or non-numeric X, lengths that do not match X's rows,
    negative or non-finite weights, fewer than 2 classes with positive weight,
    and labels outside ``classes``.  NaN or infinity in X is found lazily,
    when an evaluation comes out non-finite (``rows.check_finite()``).
    ImportError (naming the extra to install) without dask.
    """
    data = _Inputs(X, y, sample_weight)
    stats = data.compute(_label_stats, [data.y_blocks, data.sw_blocks])
    classes, _, cw = data.classes(stats, classes, class_weight)
    K = len(classes)
    builders = data.builders(
        _make_block,
        [data.x_blocks, data.y_blocks, data.sw_blocks],
        classes=classes,
        class_weights=cw,
        n_classes=K,
        n_threads=n_threads,
    )
    if cw is None and data.sw is None:
        weight_sum = float(data.n)
    else:
        # From the label pass; for held blocks replaced below by the blocks'
        # own sums (what each block's kernel sees), added in block order.
        weight_sum = 0.0
        for labels, block_counts, *_ in stats:
            weight_sum += float(
                (block_counts * (1.0 if cw is None else cw[np.searchsorted(classes, labels)])).sum()
            )
    rows = data.source(DaskRows, builders, classes, persist=persist, n_samples=data.n, weight_sum=weight_sum)
    if persist and not (data.sw is None and cw is None):
        total = 0.0
        for _, w in rows._map(_block_info):
            total += w
        rows.weight_sum = float(total)
    return rows, classes


def _checked_n_folds(n_folds):
    if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)):
        raise TypeError(f"n_folds must be an int >= 2, got {n_folds!r}")
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    return int(n_folds)


def _dask_fold_ids(fold, data, n_folds, seed):
    """The fold ids as an int dask array with X's row chunks (lazy), and its blocks
    (``dask.delayed``; None each where the ids come from the rows' positions)."""
    dask, da, X = data.dask, data.da, data.X
    if fold is None:
        parts = [
            da.from_delayed(
                dask.delayed(position_fold_ids, pure=True)(off, int(size), n_folds, seed),
                shape=(int(size),),
                dtype=np.int64,
            )
            for off, size in zip(data.offsets, X.chunks[0])
        ]
        return da.concatenate(parts), [None] * len(parts)
    if is_dask_collection(fold):
        fold = _as_dask_vector(fold, "fold", X, da, rechunk=False)
        if fold.dtype.kind not in "iu":
            raise TypeError(f"fold must hold integer fold ids, got dtype {fold.dtype}")
    else:  # in memory: checked whole, then split into X's row blocks
        fold = _as_dask_vector(as_fold_ids(fold, data.n, n_folds), "fold", X, da)
    return fold, fold.to_delayed().ravel().tolist()


def dask_fold_rows(
    X,
    y,
    sample_weight=None,
    *,
    n_folds,
    fold=None,
    seed=0,
    classes=None,
    class_weight=None,
    n_threads=1,
    persist=True,
):
    """Rows for k-fold cross-validation over the Dask array ``X``: ``(rows, classes)``.

    Parameters
    ----------
    X, y, sample_weight, classes, class_weight, n_threads, persist : as
        :func:`dask_rows`.  Each model trains with the sample weights times
        the class weights and is scored with the sample weights alone (as
        scikit-learn scores).
    n_folds : int >= 2, the number of models k.
    fold : (n,) integer fold ids in ``[0, n_folds)``: a dask array or Series
        with X's row chunks (checked on the workers, block by block), or an
        in-memory array (checked here, split into X's row blocks); or None:
        each row's id from its position in X and ``seed``
        (:func:`fastlogit.data.position_fold_ids`), the same ids however X
        is chunked.  Model j trains on the rows whose id is not j and is
        scored on those whose id is j.
    seed : int, for the position-derived ids.

    Returns
    -------
    rows : :class:`DaskFoldRows`, for ``FoldObjective(rows, C=...)``.
    classes : ndarray (K,), the sorted labels.

    One pass over ``y``, ``sample_weight`` and ``fold`` (on the cluster)
    validates them and counts each training set's classes; raises what
    :func:`dask_rows` raises, and TypeError/ValueError naming ``fold`` for
    ids that are not integers, out of range, of another length than X or in
    other row chunks than X's, or that leave a model's training set with a
    single class (``n_folds`` / ``seed`` for position-derived ids).
    """
    data = _Inputs(X, y, sample_weight)
    k = _checked_n_folds(n_folds)
    seed = int(seed)
    fold_ids, fold_blocks = _dask_fold_ids(fold, data, k, seed)
    stats = data.compute(
        _fold_label_stats, [data.y_blocks, data.sw_blocks, fold_blocks], n_folds=k, seed=seed
    )
    classes, counts, cw = data.classes(stats, classes, class_weight)
    K = len(classes)
    held = np.zeros((k, K))  # each fold's weighted class counts
    held_rows = np.zeros(k, dtype=np.int64)
    for labels, _, block_held, block_rows in stats:  # block order, as counts: exact zeros
        held[:, np.searchsorted(classes, labels)] += block_held
        held_rows += block_rows
    # (k, K) training weights: from the label pass (each block's FoldRows has its
    # own, but one more pass over the held blocks would change them by rounding only).
    train = (counts - held) * (1.0 if cw is None else cw)
    for j in range(k):
        if np.count_nonzero(train[j] > 0) < 2:
            name = "fold" if fold is not None else f"n_folds={k}, seed={seed} (fold ids from row positions)"
            raise ValueError(
                f"{name}: the training set of fold {j} (the rows whose fold id is not {j}) holds only "
                f"one class ({classes.tolist()[np.argmax(train[j])]!r}); use more rows or other fold ids"
            )
    builders = data.builders(
        _make_fold_block,
        [data.x_blocks, data.y_blocks, data.sw_blocks, fold_blocks],
        classes=classes,
        class_weights=cw,
        n_classes=K,
        n_folds=k,
        seed=seed,
        n_threads=n_threads,
    )
    rows = data.source(
        DaskFoldRows,
        builders,
        classes,
        persist=persist,
        n_folds=k,
        weight_sums=train.sum(axis=1),
        n_samples_per_fold=data.n - held_rows,
        fold=fold_ids,
        scores_from_training=cw is None or bool(np.all(cw == 1.0)),
    )
    return rows, classes


def _predict_block(block, model, method):
    with warnings.catch_warnings():
        # Blocks are plain arrays; the model may have been fitted with feature
        # names (checked once, eagerly, by predict_dask).
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return getattr(model, method)(block)


def _checked_dask_matrix(model, X, da):
    """The dask array of ``X`` (a dask array or DataFrame), its columns checked against the model's."""
    names = getattr(model, "feature_names_in_", None)
    columns = getattr(X, "columns", None)
    if names is not None and columns is not None and not isinstance(X, da.Array):
        if list(columns) != list(names):
            raise ValueError(
                "The feature names of X must match those seen in fit, in the same order: "
                f"got {list(columns)}, expected {list(names)}"
            )
    X = _as_dask_matrix(X, da, lengths=False)
    d = X.shape[1]
    if d != model.n_features_in_:
        raise ValueError(
            f"X has {d} features, but {type(model).__name__} is expecting "
            f"{model.n_features_in_} features as input"
        )
    return X


def _interval_block(block, model, result, alpha):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        X = model._validate_X(block, reset=False)
    out = result.intervals_for(X, alpha)
    arrays = (out.predicted, out.se, out.ci_lower, out.ci_upper)
    return np.column_stack([a.reshape(X.shape[0], -1) for a in arrays])


def prediction_intervals_dask(model, result, X, alpha):
    """:meth:`InferenceResult.predict` over the row blocks of the dask array ``X``,
    lazily: a :class:`~fastlogit.inference.PredictionResult` of dask arrays, one
    pass over X when they are computed together (``dask.compute``)."""
    import copy

    from .inference import PredictionResult

    _, da = _import_dask()
    X = _checked_dask_matrix(model, X, da)
    model = copy.deepcopy(model)
    width = 1 if result.binary else len(result.classes)
    stacked = X.map_blocks(
        _interval_block,
        model,
        result,
        alpha,
        dtype=np.float64,
        chunks=(X.chunks[0], (4 * width,)),
        meta=np.empty((0, 0), dtype=np.float64),
    )
    parts = [stacked[:, i] if result.binary else stacked[:, i * width : (i + 1) * width] for i in range(4)]
    return PredictionResult(*parts, alpha=alpha, classes=result.classes, binary=result.binary)


def _validated_block_call(block, weights, model, func):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        X = model._validate_X(block, reset=False)
    return func(X, sw=None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1))


def map_row_blocks(model, X, sample_weight, func):
    """``[func(X_block, sw=w_block), ...]`` over the row blocks of the dask array
    ``X`` (each block validated by ``model``), computed in parallel; results
    in block order.  ``sample_weight``: None or an array of X's rows (a dask
    array is rechunked to X's row blocks)."""
    import dask

    _, da = _import_dask()
    X = _checked_dask_matrix(model, X, da)
    blocks = X.to_delayed().ravel()
    if sample_weight is None:
        weights = [None] * len(blocks)
    else:
        sw = da.asarray(sample_weight)
        if sw.ndim != 1 or sw.shape[0] != X.shape[0]:
            raise ValueError(f"sample_weight must have shape ({X.shape[0]},), got {sw.shape}")
        weights = sw.rechunk((X.chunks[0],)).to_delayed().ravel()
    tasks = [dask.delayed(_validated_block_call)(b, w, model, func) for b, w in zip(blocks, weights)]
    return list(dask.compute(*tasks))


def predict_dask(model, X, method):
    """``model.<method>`` over the row blocks of the Dask array ``X``, lazily.

    Parameters
    ----------
    model : a fitted :class:`~fastlogit.LogisticRegression` (a snapshot is
        taken: refitting it later does not change the result).
    X : dask array (n, d) or dask DataFrame (its partitions as row blocks).
    method : one of ``PREDICT_METHODS``.

    Returns a dask array: (n,) for ``predict`` (of ``classes_``' dtype) and
    for the binary ``decision_function``; (n, K) float64 otherwise; one block
    per row block of X.  Nothing is computed here; the number of columns is
    checked against ``model.n_features_in_`` now.
    """
    import copy

    _, da = _import_dask()
    if method not in PREDICT_METHODS:
        raise ValueError(f"method must be one of {PREDICT_METHODS}, got {method!r}")
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    X = _checked_dask_matrix(model, X, da)
    model = copy.deepcopy(model)
    K = len(model.classes_)
    binary = model.coef_.shape[0] == 1
    if method == "predict":
        dtype, one_d = model.classes_.dtype, True
    else:
        dtype, one_d = np.dtype(np.float64), method == "decision_function" and binary
    if one_d:
        return X.map_blocks(
            _predict_block,
            model,
            method,
            dtype=dtype,
            drop_axis=1,
            chunks=(X.chunks[0],),
            meta=np.empty((0,), dtype=dtype),
        )
    return X.map_blocks(
        _predict_block,
        model,
        method,
        dtype=dtype,
        chunks=(X.chunks[0], (K,)),
        meta=np.empty((0, 0), dtype=dtype),
    )
