"""Row sources: where the objective's sums over rows come from.

The objective is a sum over rows, so every place rows can live is one *row
source*: it adds up the loss, gradient and Hessian products of its own rows
(unreduced: not divided by the weight sum) through the fused kernels of
:mod:`fastlogit.matrix`, and :class:`fastlogit.objective.Objective` divides
the total by the weight sum and adds the penalty once.

- :class:`ArrayRows`: one in-memory matrix (dense C-order or CSR).
- :class:`ChunkRows`: a chunk source (:mod:`fastlogit.sources`: ``.npy`` and
  memmaps, Parquet, any re-iterable of ``(X, y)`` chunks) validated in one
  pass and streamed once per evaluation, for data larger than memory.
- :class:`fastlogit.distributed.DaskRows`: the row blocks of a Dask array,
  summed where they live.

:class:`RowSource` is the contract all three implement; solvers never see
it (they see an ``Objective``).  See ARCHITECTURE.md.
"""

import math
from typing import Protocol, runtime_checkable

import numpy as np

from .data import (
    as_binary_labels,
    as_class_indices,
    as_fold_ids,
    as_label_vector,
    as_matrix,
    as_sample_weight,
    as_vector,
    check_finite_labels,
    check_n_threads,
    check_two_classes,
    check_weight_values,
    class_weights_from_counts,
    encode_labels,
    position_fold_ids,
)
from .matrix import (
    FoldKernelCalls,
    KernelCalls,
    check_finite,
    column_moments,
    kernel_view,
    n_entries,
    score_group_sums,
    score_outer_sum,
    select_features,
    threads_for,
)

#: Rows from which a binary dense source evaluates Newton's input in one fused
#: pass (``KernelCalls.loss_grad_hessian``, 2.6x faster than a gradient pass
#: plus the blocked Hessian at 300 000 x 30).  Below it a Newton step costs a few
#: milliseconds either way, and a new process's first small fit does not
#: compile the fused kernel: 1.1 s of a 10 000 x 20 fit's 2.3 s with an empty
#: Numba cache (benchmarks/test_contention.py, new-process groups).
FUSED_NEWTON_MIN_ROWS = 1 << 15


@runtime_checkable
class RowSource(Protocol):
    """What :class:`~fastlogit.objective.Objective` sums over.

    Sums are over the source's rows, weighted, unreduced.  Parameters come
    as ``coef`` float64 C-contiguous (d,) (binary) or (K, d) and
    ``intercept`` a float (binary) or float64 (K,); gradients are laid out
    as ``[grad_w (d,), grad_b]`` (binary) or a (K, d + 1) array whose last
    column belongs to the intercepts.

    Optional (read with ``getattr``, not part of the protocol's check): a
    source whose Hessian has a block structure sets ``structured_hessian``
    True and gives ``hessian_blocks(coef, intercept)`` and
    ``loss_grad_hessian_blocks(coef, intercept)`` (:class:`fastlogit.split.SplitRows`:
    :class:`fastlogit.block_hessian.GramBlocks`, which add up over sources);
    :attr:`fastlogit.objective.Objective.structured_newton` then solves
    Newton's step through them.  Without them, Newton takes the dense Hessian
    (small problems) or Newton-CG on :meth:`hessp`.
    """

    #: Rows of X.
    n_samples: int
    #: Columns of X.
    n_features: int
    #: Classes: 2 is the binary (sigmoid) model, more the softmax model.
    n_classes: int
    #: The total sample weight (times class weights) of the rows.
    weight_sum: float

    def loss_grad(self, coef, intercept):
        """``(loss, grad)``: the summed log-loss (a float) and its gradient."""

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """The summed Hessian times a vector, in the gradient's layout."""

    #: Whether :meth:`loss_grad_hessian` reads X once (binary); else it
    #: is :meth:`loss_grad` and :meth:`hessian` one after the other.
    fused_newton: bool

    def loss_grad_hessian(self, coef, intercept):
        """``(loss, grad, hessian)`` as :meth:`loss_grad` and :meth:`hessian` give them."""

    def hessian(self, coef, intercept):
        """The summed exact Hessian: float64 (d + 1, d + 1) binary, (K (d + 1),
        K (d + 1)) multinomial, indexed class-major like the gradient flattened."""

    def gram_matvec(self, vec_coef, vec_intercept):
        """``[X, 1].T @ diag(s) @ [X, 1] @ [vec_coef, vec_intercept]``, float64 (d + 1,)."""

    def score_outer(self, coef, intercept):
        """``sum_i s_i g_i g_i^T`` over the rows' scores ``g_i`` (the HC covariances' meat),
        laid out as :meth:`hessian`."""

    def score_group_sums(self, coef, intercept, groups, n_groups):
        """Each group's summed score, float64 (n_groups, q (d + 1)) (q = 1 binary, K
        softmax; class-major columns).  ``groups``: int codes, one per row of the source."""

    def column_moments(self):
        """``(weight, sum s x, sum s x**2)`` over a sample of rows: the columns' units."""

    def check_finite(self):
        """Raise ``ValueError`` naming where X holds NaN or infinity (called when a sum is not finite)."""

    def select_features(self, features):
        """The same rows restricted to the columns ``features`` (an int array)."""


class ArrayRows:
    """Rows held in memory: one source of the data term's sums.

    Parameters
    ----------
    X : (n, d) ndarray (float32/float64, any layout) or scipy.sparse matrix.
        Validated once by :func:`fastlogit.data.as_matrix` (used in place when
        C-contiguous float, or CSR); never written.  Its finiteness is checked
        only when an evaluation comes out non-finite (see
        :meth:`Objective.data_loss_grad`), which saves a pass over X.
    y : (n,) class indices: 0/1 for ``n_classes == 2``, else in [0, n_classes).
    sample_weight : (n,) nonnegative weights, or None.
    n_classes : int >= 2.  Two classes give the binary (sigmoid) model.
    n_threads : Numba threads for the kernels (None: all), capped so that
        each has at least MIN_WORK_PER_THREAD work: small data runs on one.
        The count depends only on this argument and the data's shape, so
        results stay deterministic.

    All sums are unreduced (weighted sums over the rows); the binary model's
    gradients are laid out as ``[grad_w (d,), grad_b]``, the multinomial's as
    a (K, d + 1) array whose last column belongs to the intercepts.
    """

    def __init__(self, X, y, sample_weight=None, n_classes=2, n_threads=None):
        self.X = as_matrix(X)
        self.kernel_X = kernel_view(self.X)
        n, d = self.X.shape
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.y = as_binary_labels(y, n) if self.binary else as_class_indices(y, n, self.n_classes)
        self.sample_weight = as_sample_weight(sample_weight, n)
        self.requested_threads = check_n_threads(n_threads)
        self.n_threads = threads_for(self.requested_threads, n_entries(self.X), self.n_classes)
        self.weight_sum = float(n if self.sample_weight is None else self.sample_weight.sum())
        self._calls = KernelCalls(d, self.n_classes, self.n_threads)
        self._hessian_entries = None  # (computed on first use)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    def loss_grad(self, coef, intercept):
        """Summed loss and gradient at ``(coef, intercept)``.

        coef : float64 C-contiguous (d,) (binary) or (K, d); intercept : a
        float (binary) or float64 (K,).  Returns ``(loss, grad)`` with grad
        float64 (d + 1,) or (K, d + 1).
        """
        return self._calls.loss_grad(self.kernel_X, self.y, self.sample_weight, coef, intercept)

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian at ``(coef, intercept)`` times ``(vec_coef, vec_intercept)``.

        Shapes as in :meth:`loss_grad` (the vector's like the parameters');
        returns float64 (d + 1,) or (K, d + 1).
        """
        return self._calls.hessp(self.kernel_X, self.sample_weight, coef, intercept, vec_coef, vec_intercept)

    @property
    def hessian_entries(self):
        """The Hessian's cost in multiply-adds per pair of classes: n (d + 1)^2, or
        for binary CSR (the fused kernel's sparse outer products) the sum over
        rows of (nonzeros + 1)^2."""
        if self._hessian_entries is None:
            n, d = self.X.shape
            if self.binary and not isinstance(self.X, np.ndarray):
                per_row = np.diff(self.X.indptr).astype(np.float64) + 1.0
                self._hessian_entries = int(np.dot(per_row, per_row))
            else:
                self._hessian_entries = n * (d + 1) ** 2
        return self._hessian_entries

    @property
    def fused_newton(self):
        """Whether :meth:`loss_grad_hessian` is one fused pass: at least
        FUSED_NEWTON_MIN_ROWS rows, binary or softmax, dense or CSR (CSR rows add
        their nonzeros' outer products, O(nnz^2) per row: at 200 000 x 215 with
        14 nonzeros a row, 5x faster than scipy's blocked sparse products of
        :meth:`hessian`; dense, 2.6x (binary 300 000 x 30) to 9x (K = 5,
        200 000 x 30) faster on two threads than the gradient pass and the
        blocked BLAS Hessian: ``benchmarks/test_kernels.py -k newton``)."""
        return self.n_samples >= FUSED_NEWTON_MIN_ROWS

    def loss_grad_hessian(self, coef, intercept):
        """``(loss, grad, hessian)``: one fused pass when :attr:`fused_newton`, else two."""
        if self.fused_newton:
            return self._calls.loss_grad_hessian(self.kernel_X, self.y, self.sample_weight, coef, intercept)
        return (*self.loss_grad(coef, intercept), self.hessian(coef, intercept))

    def hessian(self, coef, intercept):
        """Summed Hessian: float64 (d + 1, d + 1) binary, (K (d + 1), K (d + 1))
        multinomial, indexed class-major like the (K, d + 1) gradient flattened."""
        return self._calls.hessian(self.X, self.y, self.sample_weight, coef, intercept)

    def hessian_diagonal(self, coef, intercept):
        """The binary model's summed Hessian diagonal, float64 (d + 1,), one pass
        (see :meth:`fastlogit.matrix.KernelCalls.hessian_diagonal`)."""
        return self._calls.hessian_diagonal(self.kernel_X, self.sample_weight, coef, intercept)

    def gram_matvec(self, vec_coef, vec_intercept):
        """The weighted Gram matrix of ``[X, 1]`` times a vector
        (see :meth:`fastlogit.matrix.KernelCalls.gram_matvec`)."""
        return self._calls.gram_matvec(self.kernel_X, self.sample_weight, vec_coef, vec_intercept)

    def score_outer(self, coef, intercept):
        """Summed outer products of the rows' scores (see :func:`fastlogit.matrix.score_outer_sum`)."""
        return score_outer_sum(self.X, self.y, coef, intercept, self.sample_weight)

    def score_group_sums(self, coef, intercept, groups, n_groups):
        """Each group's summed score (see :func:`fastlogit.matrix.score_group_sums`)."""
        return score_group_sums(self.X, self.y, coef, intercept, self.sample_weight, groups, n_groups)

    def column_moments(self, n_total=None, offset=0):
        """Weighted column sums over a sample of rows (see :func:`fastlogit.matrix.column_moments`;
        ``n_total``, ``offset``: these rows' place in a larger matrix, e.g. a Dask block's)."""
        return column_moments(self.X, self.sample_weight, n_total=n_total, offset=offset)

    def check_finite(self):
        """Raise ``ValueError`` if X holds NaN or infinity."""
        check_finite(self.X)

    def select_features(self, features):
        """The same rows restricted to the columns ``features`` (an int array): a copy."""
        X = select_features(self.X, features)
        return ArrayRows(X, self.y, self.sample_weight, self.n_classes, self.requested_threads)


class _FoldSums:
    """What the fold-fused row sources share: the held-out sums of the last training pass.

    A solver's last evaluation is usually at the point it returns, so
    scoring each fit along a path from that pass costs no pass of its own
    (when the scores' weights are the training weights: no class weights).
    """

    _last = None  # (coefs, intercepts, held-out sums) of the last training pass
    _scores_from_training = False

    def _remember(self, coefs, intercepts, held):
        if self._scores_from_training:
            self._last = (coefs.copy(), intercepts.copy(), tuple(held))

    def held_out(self, coefs, intercepts):
        """Each model's held-out ``(loss, correct, weight)`` sums (k,) under the
        score weights: the weighted log-loss, the weighted count of rows
        predicted right and the weight of the held-out rows.  One pass, or
        none when the last :meth:`loss_grad` was at these coefficients
        (:meth:`last_held_out`)."""
        last = self.last_held_out(coefs, intercepts)
        return last if last is not None else self._held_out_pass(coefs, intercepts)

    def last_held_out(self, coefs, intercepts):
        """The held-out sums of :meth:`held_out` from the last training pass if it
        was at exactly these coefficients (and the scores' weights are the
        training weights), else None."""
        if self._last is None:
            return None
        last_coefs, last_intercepts, held = self._last
        if np.array_equal(last_coefs, coefs) and np.array_equal(last_intercepts, intercepts):
            return held
        return None


class FoldRows(_FoldSums):
    """In-memory rows with a fold id per row: the k training sets of k-fold
    cross-validation, summed in one pass (see :class:`FoldKernelCalls`).

    Model ``j`` trains on the rows whose fold id is not ``j`` and is scored
    on those whose id is ``j``: one read of X gives every model's loss and
    gradient (and Hessian products), where k fits with masked weights would
    read it k times.  Nothing is copied: the training sets are the fold ids.

    Parameters
    ----------
    X, y, n_classes, n_threads : as :class:`ArrayRows`.
    sample_weight : (n,) nonnegative training weights (class weights
        multiplied in), or None.
    fold : (n,) integer fold ids in ``[0, n_folds)``.
    n_folds : int >= 2.
    score_weight : (n,) weights of the held-out scores (scikit-learn scores
        with the sample weights, not the class weights), or None.

    Sums are unreduced and per model: losses (k,), gradients (k, d + 1)
    binary or (k, K, d + 1) multinomial.  ``weight_sums`` (k,) and
    ``n_samples_per_fold`` (k,) describe each training set.
    """

    def __init__(self, X, y, sample_weight, fold, n_folds, n_classes=2, n_threads=None, score_weight=None):
        self.X = as_matrix(X)
        self.kernel_X = kernel_view(self.X)
        n, d = self.X.shape
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.y = as_binary_labels(y, n) if self.binary else as_class_indices(y, n, self.n_classes)
        self.sample_weight = as_sample_weight(sample_weight, n)
        self.score_weight = as_sample_weight(score_weight, n)
        self.n_folds = int(n_folds)
        self.fold = as_fold_ids(fold, n, self.n_folds)
        self.requested_threads = check_n_threads(n_threads)
        # The fused pass does k models' work per entry of X.
        self.n_threads = threads_for(self.requested_threads, n_entries(self.X) * self.n_folds, self.n_classes)
        held_out = np.bincount(self.fold, weights=self.sample_weight, minlength=self.n_folds)
        total = float(n if self.sample_weight is None else self.sample_weight.sum())
        self.weight_sums = total - held_out
        self.n_samples_per_fold = n - np.bincount(self.fold, minlength=self.n_folds)
        self._calls = FoldKernelCalls(d, self.n_classes, self.n_folds, self.n_threads)
        self._single = KernelCalls(d, self.n_classes, self.n_threads)
        # The training pass gives the held-out sums under the training weights:
        # the scores' own when the two weightings are the same.
        same = self.score_weight is None and self.sample_weight is None
        if self.score_weight is not None and self.sample_weight is not None:
            same = np.array_equal(self.score_weight, self.sample_weight)
        self._scores_from_training = same

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    def loss_grad(self, coefs, intercepts):
        """Each model's summed training loss (k,) and gradient, one pass.

        coefs : float64 C-contiguous (k, d) binary or (k, K, d); intercepts
        (k,) or (k, K).
        """
        loss, grad, *held = self._calls.loss_grad(
            self.kernel_X, self.y, self.fold, self.sample_weight, coefs, intercepts
        )
        self._remember(coefs, intercepts, held)
        return loss, grad

    def _held_out_pass(self, coefs, intercepts):
        _, _, loss, correct, weight = self._calls.loss_grad(
            self.kernel_X, self.y, self.fold, self.score_weight, coefs, intercepts
        )
        return loss, correct, weight

    def hessp(self, coefs, intercepts, vec_coefs, vec_intercepts):
        """Each model's summed training Hessian times its vector, one pass."""
        return self._calls.hessp(
            self.kernel_X, self.fold, self.sample_weight, coefs, intercepts, vec_coefs, vec_intercepts
        )

    def fold_weights(self, j):
        """float64 (n,): model ``j``'s training weights (0 on its held-out rows): a new array."""
        w = np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight.copy()
        w[self.fold == j] = 0.0
        return w

    def hessian(self, j, coef, intercept):
        """Model ``j``'s summed training Hessian (layout as :meth:`ArrayRows.hessian`).
        Blocked BLAS products over all rows with the held-out ones weighted 0
        (an (n,) weight vector per call)."""
        return self._single.hessian(self.X, self.y, self.fold_weights(j), coef, intercept)

    def column_moments(self, n_total=None, offset=0):
        """Weighted column sums over a sample of all rows (the folds share their columns' units;
        ``n_total``, ``offset`` as for :meth:`ArrayRows.column_moments`)."""
        return column_moments(self.X, self.sample_weight, n_total=n_total, offset=offset)

    def check_finite(self):
        """Raise ``ValueError`` if X holds NaN or infinity."""
        check_finite(self.X)


class ChunkRows:
    """Rows streamed in chunks (out of core): a validated chunk source.

    The constructor makes one pass over the chunk source (see
    :mod:`fastlogit.sources`): every chunk is checked (dimensions, width and
    dtype consistent across chunks, labels, weights) and the labels are
    discovered (or checked against ``classes``).  Every evaluation is then
    one more pass, each chunk validated again as it is read (cheap next to
    the kernel pass, and a source may change under us: a file rewritten)
    and handed to the same fused kernels as in memory, with buffers
    allocated once (:class:`fastlogit.matrix.KernelCalls`); the chunks' sums
    are added in chunk order, so results are deterministic for a given
    chunking.  Peak extra memory: the chunk being read (plus its conversion,
    e.g. a Parquet row group) and O(threads * (block + d) * K).

    Parameters
    ----------
    source : a chunk source (re-iterable of ``(X, y)`` / ``(X, y, sample_weight)``).
    classes : the sorted labels, or None (discovered in the first pass).
    class_weight : None, a dict or "balanced" (from the classes' total weights).
    n_threads : kernel threads (None: all), capped by the work of a
        mean-sized chunk as :class:`ArrayRows` caps it.
    progress : show a tqdm bar over each pass's chunks.

    Attributes: n_samples, n_features, n_chunks, dtype, sparse, classes,
    class_weight_sums (per class, before class weights), weight_sum (after),
    random_access (chunks readable by index: SGD shuffles their order).
    """

    def __init__(self, source, *, classes=None, class_weight=None, n_threads=None, progress=False):
        self.source = source
        self.name = getattr(source, "name", "X")
        self.random_access = (
            getattr(source, "random_access", True)
            and hasattr(source, "__len__")
            and hasattr(source, "__getitem__")
        )
        self.columns = None
        self.class_weight = class_weight
        self.progress = bool(progress)
        self.requested_threads = check_n_threads(n_threads)
        self._scan(classes)
        self.n_classes = len(self.classes)
        self.binary = self.n_classes == 2
        self._set_calls()

    def _set_calls(self):
        rows = math.ceil(self.n_samples / self.n_chunks)  # a typical chunk
        self.n_threads = threads_for(self.requested_threads, rows * self.n_features, self.n_classes)
        self._calls = KernelCalls(self.n_features, self.n_classes, self.n_threads)

    # -- the first pass -----------------------------------------------------

    def _scan(self, classes):
        self.n_features = self.width = self.dtype = self.sparse = None
        self.has_weights = False
        if classes is not None:
            self.classes = np.asarray(classes)
            counts = np.zeros(len(self.classes))
        n = n_chunks = 0
        labels, sums = [], {}
        moments = None
        for i, chunk in enumerate(self._raw()):
            X, y, sw = self._unpack(i, chunk)
            n += X.shape[0]
            n_chunks += 1
            part = column_moments(X, sw, sample=False)
            moments = part if moments is None else tuple(a + b for a, b in zip(moments, part))
            self.has_weights |= sw is not None
            if classes is None:
                uniq, inverse = np.unique(y, return_inverse=True)
                labels.append(uniq)
                w = np.bincount(inverse.reshape(-1), weights=sw, minlength=len(uniq))
                for label, weight in zip(uniq.tolist(), w.tolist()):
                    sums[label] = sums.get(label, 0.0) + weight
            else:
                counts += np.bincount(self._encode(i, y), weights=sw, minlength=len(self.classes))
        if n == 0:
            raise ValueError(f"the chunk source {self.name} yielded no rows")
        self.n_samples, self.n_chunks = n, n_chunks
        self._moments = moments
        if classes is None:
            self.classes = np.unique(np.concatenate(labels))
            counts = np.array([sums[c] for c in self.classes.tolist()])
        self.class_weight_sums = counts
        check_two_classes(self.classes, counts, where=self.name, weighted=self.has_weights)
        self._factors = class_weights_from_counts(self.class_weight, self.classes, counts)
        per_class = counts if self._factors is None else counts * self._factors
        self.weight_sum = float(per_class.sum())
        self.weighted = self.has_weights or self._factors is not None

    def _raw(self):
        """The source's chunk tuples, in order (the built-in sources' read
        errors name their file)."""
        try:
            iterator = iter(self.source)
        except TypeError:
            raise TypeError(f"the chunk source {self.name} is not iterable") from None
        yield from iterator

    def _unpack(self, i, chunk):
        """Validate chunk ``i``: ``(X, y, sw)`` with X from as_matrix (columns selected)."""
        if not isinstance(chunk, tuple) or len(chunk) not in (2, 3):
            raise TypeError(
                f"chunk {i} of {self.name} must be a tuple (X, y) or (X, y, sample_weight), got "
                f"{type(chunk).__name__}"
            )
        X, y, sw = chunk if len(chunk) == 3 else (*chunk, None)
        X = as_matrix(X, f"X (chunk {i} of {self.name})")
        if self.width is None:
            self.width = self.n_features = X.shape[1]
            self.dtype = X.dtype
            self.sparse = not isinstance(X, np.ndarray)
        elif X.shape[1] != self.width:
            raise ValueError(
                f"chunk {i} of {self.name} has {X.shape[1]} columns, but the first chunk had "
                f"{self.width}: every chunk must have the same width"
            )
        elif X.dtype != self.dtype:
            raise ValueError(
                f"chunk {i} of {self.name} has dtype {X.dtype}, but the first chunk had "
                f"{self.dtype}: every chunk must have the same dtype"
            )
        n = X.shape[0]
        y_name = f"y of chunk {i} of {self.name}"
        y = as_label_vector(y, n, y_name, rows_of="the chunk's X")
        check_finite_labels(y, y_name)
        if y.dtype.kind == "O":
            y = y.astype(str) if all(isinstance(v, str) for v in y.tolist()) else y
        if sw is not None:
            sw = as_vector(sw, n, f"sample_weight of chunk {i} of {self.name}")
            check_weight_values(sw, f"sample_weight of chunk {i} of {self.name}")
        if self.columns is not None:
            X = select_features(X, self.columns)
        return X, y, sw

    # -- later passes -----------------------------------------------------------

    def _encode(self, i, y):
        return encode_labels(y, self.classes, f"y of chunk {i} of {self.name}")

    def _weights(self, y_enc, sw, n):
        if sw is None and self.has_weights:
            sw = np.ones(n)  # a chunk without weights among weighted ones
        if self._factors is None:
            return sw
        factors = self._factors[y_enc]
        return factors if sw is None else sw * factors

    def chunks(self, order=None, weighted=True):
        """Yield ``(X, Xk, y_enc, sw)`` per chunk, in ``order`` (chunk indices)
        when the source is random access, else in iteration order.

        ``X`` as :func:`fastlogit.data.as_matrix` returns it, ``Xk`` its
        kernel view, ``y_enc`` int64 class indices, ``sw`` float64 weights
        (class weights multiplied in, unless ``weighted`` is False) or None.
        Only one chunk is held at a time.
        """
        if order is not None and self.random_access:
            items = ((int(i), self.source[int(i)]) for i in order)
        else:
            items = enumerate(self._raw())
        if self.progress:
            from tqdm.auto import tqdm

            items = tqdm(items, total=self.n_chunks, leave=False, desc="chunks", unit="chunk")
        for i, chunk in items:
            X, y, sw = self._unpack(i, chunk)
            y_enc = self._encode(i, y)
            if weighted:
                sw = self._weights(y_enc, sw, X.shape[0])
            yield X, kernel_view(X), y_enc, sw

    # -- the row-source sums --------------------------------------------------

    def loss_grad(self, coef, intercept):
        """Summed loss and gradient (see :meth:`ArrayRows.loss_grad`), one pass."""
        loss, grad = 0.0, None
        for _, Xk, y, sw in self.chunks():
            part_loss, part_grad = self._calls.loss_grad(Xk, y, sw, coef, intercept)
            loss += part_loss
            grad = part_grad if grad is None else grad + part_grad
        return loss, grad

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian-vector product (see :meth:`ArrayRows.hessp`), one pass."""
        total = None
        for _, Xk, _, sw in self.chunks():
            part = self._calls.hessp(Xk, sw, coef, intercept, vec_coef, vec_intercept)
            total = part if total is None else total + part
        return total

    @property
    def fused_newton(self):
        """Each chunk's pass fused, binary or softmax, dense or CSR: see
        :attr:`ArrayRows.fused_newton`."""
        return True

    def loss_grad_hessian(self, coef, intercept):
        """Summed ``(loss, grad, hessian)``: one pass (each chunk's fused when :attr:`fused_newton`)."""
        loss, grad, H = 0.0, None, None
        for X, Xk, y, sw in self.chunks():
            if self.fused_newton:
                part_loss, part_grad, part_H = self._calls.loss_grad_hessian(Xk, y, sw, coef, intercept)
            else:
                part_loss, part_grad = self._calls.loss_grad(Xk, y, sw, coef, intercept)
                part_H = self._calls.hessian(X, y, sw, coef, intercept)
            loss += part_loss
            grad = part_grad if grad is None else grad + part_grad
            H = part_H if H is None else H + part_H
        return loss, grad, H

    def hessian(self, coef, intercept):
        """Summed exact Hessian (see :meth:`ArrayRows.hessian`), one pass."""
        total = None
        for X, _, y, sw in self.chunks():
            part = self._calls.hessian(X, y, sw, coef, intercept)
            total = part if total is None else total + part
        return total

    def gram_matvec(self, vec_coef, vec_intercept):
        """Weighted Gram matrix of ``[X, 1]`` times a vector, one pass."""
        total = None
        for _, Xk, _, sw in self.chunks():
            part = self._calls.gram_matvec(Xk, sw, vec_coef, vec_intercept)
            total = part if total is None else total + part
        return total

    def score_outer(self, coef, intercept):
        """Summed outer products of the rows' scores (see :meth:`ArrayRows.score_outer`), one pass."""
        total = None
        for X, _, y, sw in self.chunks():
            part = score_outer_sum(X, y, coef, intercept, sw)
            total = part if total is None else total + part
        return total

    def score_group_sums(self, coef, intercept, groups, n_groups):
        """Each group's summed score, one pass; ``groups`` aligned with the rows
        in the order the chunks come (chunk 0's rows first)."""
        total, offset = None, 0
        for X, _, y, sw in self.chunks():
            rows = X.shape[0]
            part = score_group_sums(X, y, coef, intercept, sw, groups[offset : offset + rows], n_groups)
            offset += rows
            total = part if total is None else total + part
        return total

    def column_moments(self):
        """Weighted column sums over every row (sample weights, not class weights), summed
        in the constructor's pass: the columns' units seen whole, not in one chunk, so a
        solver's choices match those in memory (which samples rows spread over all of X)."""
        return self._moments

    def check_finite(self):
        """Raise ValueError naming the chunk (and row/column) holding NaN or infinity."""
        for i, (X, _, _, _) in enumerate(self.chunks(weighted=False)):
            check_finite(X, f"X (chunk {i} of {self.name}; rows counted within the chunk)")

    def select_features(self, features):
        """The same chunks restricted to the columns ``features``: a copy per chunk and pass."""
        columns = np.asarray(features, dtype=np.intp)
        if self.columns is not None:
            columns = self.columns[columns]
        new = object.__new__(ChunkRows)
        new.__dict__.update(self.__dict__)
        new.columns = columns
        new.n_features = len(columns)
        weight, first, second = self._moments
        new._moments = (weight, first[features], second[features])
        new._set_calls()
        return new


class ChunkFoldRows(_FoldSums):
    """:class:`FoldRows` out of core: chunked rows with a fold id per row.

    Every evaluation is one pass over the chunks of a :class:`ChunkRows`
    for all k models (the fold-fused kernels on each chunk, the chunks'
    sums added in chunk order).  Fold ids come from ``fold``, an (n,) array
    aligned with the rows in chunk order (e.g. a Parquet column), or, when
    it is None, from each row's position (:func:`~fastlogit.data.position_fold_ids`
    with ``seed``): the same ids whatever the chunking, nothing held per row.

    The constructor makes one pass: each training set's weight and row
    count, and a ``ValueError`` naming the fold whose training set holds a
    single class.  Training weights are the chunks' sample weights times
    the class weights; held-out scores use the sample weights alone (as
    scikit-learn scores).  Same interface as :class:`FoldRows`.
    """

    def __init__(self, rows, n_folds, fold=None, seed=0):
        self.rows = rows
        self.n_folds = k = int(n_folds)
        self.n_features, self.n_classes = rows.n_features, rows.n_classes
        self.binary, self.n_samples, self.classes = rows.binary, rows.n_samples, rows.classes
        self.fold = None if fold is None else as_fold_ids(fold, rows.n_samples, k)
        self.seed = int(seed)
        self.n_threads = threads_for(
            rows.requested_threads,
            math.ceil(rows.n_samples / rows.n_chunks) * rows.n_features * k,
            rows.n_classes,
        )
        self._calls = FoldKernelCalls(self.n_features, self.n_classes, k, self.n_threads)
        self._single = KernelCalls(self.n_features, self.n_classes, self.n_threads)
        self._scores_from_training = rows._factors is None
        counts = np.zeros((k, self.n_classes))  # training weight per fold and class
        rows_per_fold = np.zeros(k, dtype=np.int64)
        total = np.zeros(self.n_classes)
        for _, _, y, sw, _, fold_ids in self._chunks():
            per_class = np.bincount(y, weights=sw, minlength=self.n_classes)
            total += per_class
            held = np.bincount(fold_ids * self.n_classes + y, weights=sw, minlength=k * self.n_classes)
            counts -= held.reshape(k, self.n_classes)
            rows_per_fold += np.bincount(fold_ids, minlength=k)
        counts += total
        self.weight_sums = counts.sum(axis=1)
        self.n_samples_per_fold = self.n_samples - rows_per_fold
        for j in range(k):
            if np.count_nonzero(counts[j] > 0) < 2:
                raise ValueError(
                    f"fold: the training set of fold {j} holds only one class "
                    f"({self.classes.tolist()[int(np.argmax(counts[j]))]!r}); use more rows or other fold ids"
                )

    def _chunks(self):
        """Yield ``(X, Xk, y, sw, score_sw, fold)`` per chunk, in order:
        training and score weights (None for none) and the chunk's fold ids."""
        offset = 0
        for X, Xk, y, raw in self.rows.chunks(weighted=False):
            n = X.shape[0]
            if self.fold is not None:
                fold = self.fold[offset : offset + n]
            else:
                fold = position_fold_ids(offset, n, self.n_folds, self.seed)
            offset += n
            yield X, Xk, y, self.rows._weights(y, raw, n), raw, fold

    def _sum_chunks(self, call, *, score=False):
        total = None
        for X, Xk, y, sw, score_sw, fold in self._chunks():
            part = call(X, Xk, y, score_sw if score else sw, fold)
            total = part if total is None else tuple(a + b for a, b in zip(total, part))
        return total

    def loss_grad(self, coefs, intercepts):
        """Each model's summed training loss (k,) and gradient: one pass over the chunks."""
        loss, grad, *held = self._sum_chunks(
            lambda X, Xk, y, sw, fold: self._calls.loss_grad(Xk, y, fold, sw, coefs, intercepts)
        )
        self._remember(coefs, intercepts, held)
        return loss, grad

    def _held_out_pass(self, coefs, intercepts):
        _, _, *held = self._sum_chunks(
            lambda X, Xk, y, sw, fold: self._calls.loss_grad(Xk, y, fold, sw, coefs, intercepts), score=True
        )
        return tuple(held)

    def hessp(self, coefs, intercepts, vec_coefs, vec_intercepts):
        """Each model's summed training Hessian times its vector: one pass."""
        (total,) = self._sum_chunks(
            lambda X, Xk, y, sw, fold: (
                self._calls.hessp(Xk, fold, sw, coefs, intercepts, vec_coefs, vec_intercepts),
            )
        )
        return total

    def hessian(self, j, coef, intercept):
        """Model ``j``'s summed training Hessian: one pass, each chunk's held-out rows weighted 0."""

        def chunk_hessian(X, Xk, y, sw, fold):
            w = np.ones(X.shape[0]) if sw is None else sw.copy()
            w[fold == j] = 0.0
            return (self._single.hessian(X, y, w, coef, intercept),)

        (total,) = self._sum_chunks(chunk_hessian)
        return total

    def column_moments(self):
        return self.rows.column_moments()

    def check_finite(self):
        self.rows.check_finite()
