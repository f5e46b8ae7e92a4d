"""A split design: a dense block and categorical blocks stored as integer codes.

The design of a formula like ``y ~ x0 + ... + x9 + C(g) + C(h)`` is a few
dense columns and, per categorical term, one indicator column per level
(glum's tabmat calls it a split matrix).  :class:`SplitDesign` holds the
categorical terms as what they are, one small integer per row, and
:class:`SplitRows` is the row source (:class:`fastlogit.row_sources.RowSource`)
whose kernels (:mod:`fastlogit.kernels.split`) read it: a level's part of a
score is one lookup, of a gradient one scattered add, and the Hessian is
summed by its blocks (the dense block, the dense x level blocks, each
categorical's diagonal block, the contingency tables between two
categoricals), O(p^2 + m p + m^2) per row instead of O(d^2).

The kernels see the columns stored dense first, then each categorical's
levels in turn: ``n_features = p + sum(n_levels)``.  A code of -1 is the
dropped reference level (a row of zeros in that categorical's block).  A
design may present its columns in another order (``column_order``: a
formula's, where ``C(g)``'s levels come before the numeric terms): its
row source then takes and returns parameters, gradients, Hessians and every
other sum in that order, gathering and scattering O(d) entries per call
(O(d^2) for a Hessian), so that objectives, solvers and inference see the
matrix the formula describes.
"""

import numpy as np

from .block_hessian import GramBlocks
from .data import (
    as_binary_labels,
    as_class_indices,
    as_float_array,
    as_sample_weight,
    check_n_threads,
)
from .kernels import split as _split
from .kernels.rows import ROW_BLOCK
from .kernels.special import BINARY_CURVATURE_BOUND, SOFTMAX_BLOCK_ROWS
from .matrix import (
    COLUMN_SAMPLE,
    HESSIAN_BLOCK,
    check_finite,
    column_moments,
    numba_threads,
    score_group_sums,
    select_features,
    threads_for,
)
from .row_sources import ArrayRows

#: Rows of the design turned into CSR at a time where a method falls back on
#: the CSR code (:meth:`SplitRows.score_group_sums`): the temporary stays
#: O(block * (p + m)), whatever n.
CSR_FALLBACK_ROWS = 16 * HESSIAN_BLOCK

#: Entries of the contingency tables between categoricals (per thread and pair of
#: classes, summed) up to which :class:`SplitRows` offers its Hessian by blocks
#: (:attr:`SplitRows.structured_hessian`): 128 MiB of float64 buffers.  Two
#: categoricals of 10 000 levels each would need 800 MB per thread.
STRUCTURED_MAX_PAIR_ENTRIES = 1 << 24


def _as_codes(codes, n, n_levels, name):
    """One categorical's codes as int32 (n,), or an error naming ``name``."""
    arr = np.asarray(codes)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer level codes, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have one code per row: shape ({n},), got {arr.shape}")
    if arr.size:
        lo, hi = arr.min(), arr.max()
        if lo < -1 or hi >= n_levels:
            bad = int(np.flatnonzero((arr < -1) | (arr >= n_levels))[0])
            raise ValueError(
                f"{name} must hold codes in [-1, {n_levels}) (-1: the reference level) for "
                f"{n_levels} levels, got {arr[bad]} at row {bad}"
            )
    return arr.astype(np.int32, copy=False)


def _as_column_order(order, d):
    """``order`` as an intp permutation of ``range(d)``, or None for the stored order."""
    arr = np.asarray(order)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"column_order must hold integer column indices, got dtype {arr.dtype}")
    if arr.shape != (d,):
        raise ValueError(f"column_order must have one entry per column: shape ({d},), got {arr.shape}")
    arr = arr.astype(np.intp)
    if not np.array_equal(np.sort(arr), np.arange(d)):
        raise ValueError(f"column_order must be a permutation of range({d}) (each column once)")
    return None if np.array_equal(arr, np.arange(d)) else arr


def _as_n_levels(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or value >= np.iinfo(np.int32).max:
        raise ValueError(f"{name} must be in [0, {np.iinfo(np.int32).max}), got {value}")
    return int(value)


class SplitDesign:
    """A design matrix made of a dense block and categorical blocks stored as codes.

    Parameters
    ----------
    dense : (n, p) array of floats, or None (p = 0).
        float32 and float64 are kept (used in place when C-contiguous),
        integers and bools become float64, other layouts are copied once
        into C order.  Its finiteness is checked only when a sum comes out
        non-finite (:meth:`SplitRows.check_finite`), as for ArrayRows.
    categoricals : sequence of m integer arrays (n,), codes in
        ``[-1, n_levels[j])``; -1 is the dropped reference level (the row
        has no indicator in that block).  Stored together as an (n, m)
        int32 array (one copy), unless given as an int32 (m, n) array whose
        transpose is C-ordered (``codes.T`` of such an (n, m) array, what a
        formula's design holds), used in place.
    n_levels : sequence of m ints >= 0 (a categorical with 0 levels holds
        only -1 codes and adds no column).
    names : optional sequence of ``n_features`` column names, in the
        design's column order (``column_order``'s when given).
    n_samples : the number of rows when there is neither a dense block nor
        a categorical to tell it (otherwise optional, and checked).
    column_order : optional (d,) integer permutation of ``range(d)``: the
        design's column ``e`` is stored column ``column_order[e]``.  None
        (or the identity): the design's columns are the stored ones.

    Stored columns are ``[dense (p), levels of categorical 0, ..., levels of
    categorical m - 1]``: ``n_features = p + sum(n_levels)``; categorical j's
    level c is stored column ``offsets[j] + c``, which is the design's column
    ``storage_position[offsets[j] + c]``.  :meth:`to_csr`, :meth:`to_dense`,
    ``names`` and every sum of :class:`SplitRows` are in the design's order.
    At least one row and one column.
    """

    def __init__(
        self, dense=None, categoricals=(), n_levels=(), *, names=None, n_samples=None, column_order=None
    ):
        stacked = categoricals if isinstance(categoricals, np.ndarray) else None
        categoricals = list(categoricals)
        n_levels = list(n_levels)
        if len(n_levels) != len(categoricals):
            raise ValueError(
                f"n_levels must have one entry per categorical ({len(categoricals)}), got {len(n_levels)}"
            )
        n = None if n_samples is None else int(n_samples)
        if dense is not None:
            dense, _ = as_float_array(dense, "dense")
            if dense.ndim != 2:
                raise ValueError(f"dense must be a 2-d array (n_samples, p), got shape {dense.shape}")
            if n is not None and dense.shape[0] != n:
                raise ValueError(f"dense has {dense.shape[0]} rows, but n_samples is {n}")
            n = dense.shape[0]
        if n is None and categoricals:
            first = np.shape(categoricals[0])
            if len(first) != 1:
                raise ValueError(f"categoricals[0] must be 1-d (one code per row), got shape {first}")
            n = first[0]
        if n is None:
            raise ValueError("a SplitDesign without dense block or categoricals needs n_samples")
        if n <= 0:
            raise ValueError(f"the design is empty: it has {max(n, 0)} rows; it needs at least one")
        levels = [_as_n_levels(L, f"n_levels[{j}]") for j, L in enumerate(n_levels)]
        columns = [
            _as_codes(codes, n, L, f"categoricals[{j}]")
            for j, (codes, L) in enumerate(zip(categoricals, levels))
        ]
        if dense is None:
            dense = np.empty((n, 0))
        self.dense = dense
        self.n_samples = n
        self.n_dense = p = dense.shape[1]
        self.n_levels = np.array(levels, dtype=np.int64)
        if stacked is not None and stacked.dtype == np.int32 and stacked.T.flags.c_contiguous:
            self.codes = stacked.T  # (m, n): the columns of a C-ordered (n, m) array, used in place
        else:
            self.codes = np.empty((n, len(columns)), dtype=np.int32)
            for j, c in enumerate(columns):
                self.codes[:, j] = c
        self.offsets = p + np.concatenate([[0], np.cumsum(self.n_levels)[:-1]]).astype(np.int64)
        self.offsets = self.offsets[: len(columns)].copy()
        self.n_features = p + int(self.n_levels.sum())
        if self.n_features == 0:
            raise ValueError("the design has no column: a dense block or a categorical with levels is needed")
        if names is not None:
            names = [str(name) for name in names]
            if len(names) != self.n_features:
                raise ValueError(
                    f"names must have one entry per column ({self.n_features}), got {len(names)}"
                )
        self.names = names
        #: (d,) intp, the design's column e is stored column column_order[e]; None: the same.
        self.column_order = None if column_order is None else _as_column_order(column_order, self.n_features)
        #: (d,) intp, the inverse: stored column s is the design's column storage_position[s]; or None.
        self.storage_position = None
        if self.column_order is not None:
            self.storage_position = np.empty(self.n_features, dtype=np.intp)
            self.storage_position[self.column_order] = np.arange(self.n_features)
        self._pairs()

    def _pairs(self):
        """Where each pair of categoricals' contingency table starts in the flat pair buffer."""
        m = len(self.n_levels)
        self.pair_offsets = np.zeros((m, m), dtype=np.int64)
        at = 0
        for j in range(m):
            for k in range(j + 1, m):
                self.pair_offsets[j, k] = at
                at += int(self.n_levels[j] * self.n_levels[k])
        self.n_pair_entries = at

    @property
    def n_categoricals(self):
        return self.codes.shape[1]

    @property
    def shape(self):
        return (self.n_samples, self.n_features)

    @property
    def dtype(self):
        """The dense block's float dtype (the CSR and dense copies' too)."""
        return self.dense.dtype

    @property
    def n_entries(self):
        """Values stored per pass (dense entries and codes): a pass's work."""
        return self.n_samples * (self.n_dense + self.n_categoricals)

    def rows(self, lo, hi):
        """The rows ``[lo, hi)`` as a SplitDesign of views (no copy, no validation)."""
        new = object.__new__(SplitDesign)
        new.__dict__.update(self.__dict__)
        new.dense = self.dense[lo:hi]
        new.codes = self.codes[lo:hi]
        new.n_samples = new.dense.shape[0]
        return new

    def design_columns(self, stored):
        """The design's column index of each stored column index in ``stored`` (an int array)."""
        return stored if self.storage_position is None else self.storage_position[stored]

    def to_csr(self):
        """The equivalent CSR matrix (n, n_features) of the dense block's dtype, columns in the
        design's order, indices sorted: the dense block's values (zeros kept) and a 1 per
        code >= 0.  For tests and fallbacks."""
        import scipy.sparse as sp

        n, p = self.n_samples, self.n_dense
        present = self.codes >= 0
        cols = np.concatenate(
            [np.broadcast_to(np.arange(p, dtype=np.int64), (n, p)), self.codes + self.offsets], axis=1
        )
        cols = self.design_columns(cols)
        vals = np.concatenate([self.dense, np.ones(self.codes.shape, dtype=self.dtype)], axis=1)
        keep = np.concatenate([np.ones((n, p), dtype=bool), present], axis=1)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(keep.sum(axis=1), out=indptr[1:])
        X = sp.csr_matrix(
            (vals[keep], cols[keep].astype(np.int32), indptr), shape=(n, self.n_features), dtype=self.dtype
        )
        if self.column_order is None:
            X.has_sorted_indices = True
        else:
            X.sort_indices()
        return X

    def to_dense(self):
        """The equivalent dense (n, n_features) array of the dense block's dtype (the one-hot
        expansion), columns in the design's order: for tests and small data."""
        n, p = self.n_samples, self.n_dense
        out = np.zeros((n, self.n_features), dtype=self.dtype)
        out[:, self.design_columns(np.arange(p))] = self.dense
        rows = np.arange(n)
        for j in range(self.n_categoricals):
            c = self.codes[:, j]
            present = c >= 0
            out[rows[present], self.design_columns(self.offsets[j] + c[present])] = 1.0
        return out


def assemble_gram(design, dense, cross, levels, pairs):
    """One structured Gram sum (:mod:`fastlogit.kernels.split`) as a float64 (d + 1, d + 1) matrix.

    ``dense`` (p + 1, p + 1) (the dense block, the intercept last), ``cross``
    (L, p), ``levels`` (L,), ``pairs`` (P,): reduced over threads.  Rows and
    columns: the design's columns, then the intercept.
    """
    p, d = design.n_dense, design.n_features
    H = np.zeros((d + 1, d + 1))
    idx = np.append(np.arange(p), d)
    H[np.ix_(idx, idx)] = dense
    H[p:d, :p] = cross
    H[:p, p:d] = cross.T
    lv = np.arange(p, d)
    H[lv, lv] = levels
    H[d, p:d] = levels
    H[p:d, d] = levels
    L = design.n_levels
    for j in range(design.n_categoricals):
        for k in range(j + 1, design.n_categoricals):
            at = design.pair_offsets[j, k]
            block = pairs[at : at + L[j] * L[k]].reshape(L[j], L[k])
            rj = slice(design.offsets[j], design.offsets[j] + L[j])
            rk = slice(design.offsets[k], design.offsets[k] + L[k])
            H[rj, rk] = block
            H[rk, rj] = block.T
    return H


class SplitKernelCalls:
    """The split kernels' calls on a trusted design, with buffers allocated once.

    Per-thread partial sums and scratch for ``n_threads`` threads: gradients
    O(threads * K * d), the structured Gram sums O(threads * Q * (p^2 + L p + P))
    (Q = 1 binary, K (K + 1) / 2 softmax; L levels, P contingency entries),
    allocated on first use; nothing grows with n.  Sums are unreduced.
    """

    def __init__(self, design, n_classes, n_threads):
        self.design = design
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.n_threads = T = int(n_threads)
        d = design.n_features
        if self.binary:
            self._parts = np.empty((T, d + 2))
            self._hessp_parts = np.empty((T, d + 1))
            self._scratch = np.empty((T, 2, ROW_BLOCK))
        else:
            K = self.n_classes
            self._parts = np.empty((T, K, d + 1))
            self._loss_parts = np.empty(T)
            self._scratch = np.empty((T, K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK))
            self._hessp_scratch = np.empty((T, 2 * K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK))
        self._gram = self._gram_matvec_scratch = None  # (allocated on first use)

    def _binary_scratch(self):
        """(n_threads, 2, ROW_BLOCK) scratch of the binary kernels (the softmax model's gram_matvec too)."""
        if self.binary:
            return self._scratch
        if self._gram_matvec_scratch is None:
            self._gram_matvec_scratch = np.empty((self.n_threads, 2, ROW_BLOCK))
        return self._gram_matvec_scratch

    def _args(self):
        D = self.design
        return D.dense, D.codes, D.offsets

    def _gram_buffers(self):
        if self._gram is None:
            D, T = self.design, self.n_threads
            p = D.n_dense
            L = D.n_features - p
            Q = 1 if self.binary else self.n_classes * (self.n_classes + 1) // 2
            self._gram = (
                np.empty((T, p + 1, Q * (p + 1))),
                np.empty((T, Q, L, p)),
                np.empty((T, Q, L)),
                np.empty((T, Q, D.n_pair_entries)),
                np.empty((T, ROW_BLOCK, p + 1)),
                np.empty((T, ROW_BLOCK, Q * (p + 1))),
                np.empty((T, ROW_BLOCK, Q)),
            )
        return self._gram

    def _blocks(self):
        """The structured sums of the last Gram pass, reduced over threads: :class:`GramBlocks`."""
        dense, cross, levels, pairs = (buf.sum(axis=0) for buf in self._gram[:4])
        p, Q = self.design.n_dense, cross.shape[0]
        dense = np.ascontiguousarray(dense.reshape(p + 1, Q, p + 1).transpose(1, 0, 2))
        return GramBlocks(self.design, 1 if self.binary else self.n_classes, dense, cross, levels, pairs)

    def _grams(self):
        """The reduced structured sums as one (d + 1)-square matrix per weight."""
        b = self._blocks()
        return [
            assemble_gram(self.design, b.dense[q], b.cross[q], b.levels[q], b.pairs[q])
            for q in range(b.cross.shape[0])
        ]

    def loss_grad(self, y, sw, coef, intercept):
        """``(loss, grad)``: grad float64 (d + 1,) or (K, d + 1) (a new array)."""
        T = self.n_threads
        with numba_threads(T):
            if self.binary:
                _split.binary_loss_grad.on(T)(
                    *self._args(), y, coef, intercept, sw, T, self._parts, self._scratch
                )
                total = self._parts.sum(axis=0)
                return float(total[-1]), total[:-1]
            W_dense = np.ascontiguousarray(coef[:, : self.design.n_dense])
            _split.multinomial_loss_grad.on(T)(
                *self._args(),
                y,
                coef,
                W_dense,
                intercept,
                sw,
                T,
                self._parts,
                self._loss_parts,
                self._scratch,
            )
            return float(self._loss_parts.sum()), self._parts.sum(axis=0)

    def hessp(self, sw, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian times a vector: float64 (d + 1,) or (K, d + 1) (a new array)."""
        T = self.n_threads
        with numba_threads(T):
            if self.binary:
                parts = self._hessp_parts
                _split.binary_hessp.on(T)(
                    *self._args(), coef, intercept, vec_coef, vec_intercept, sw, T, parts, self._scratch
                )
                return parts.sum(axis=0)
            p = self.design.n_dense
            W_dense = np.ascontiguousarray(coef[:, :p])
            V_dense = np.ascontiguousarray(vec_coef[:, :p])
            _split.multinomial_hessp.on(T)(
                *self._args(),
                coef,
                W_dense,
                intercept,
                vec_coef,
                V_dense,
                vec_intercept,
                sw,
                T,
                self._parts,
                self._hessp_scratch,
            )
            return self._parts.sum(axis=0)

    def gram_matvec(self, sw, vec_coef, vec_intercept):
        """``[X, 1].T @ diag(s) @ [X, 1] @ [vec_coef, vec_intercept]``, float64 (d + 1,):
        the binary Hessian at zero is a quarter of it (as :meth:`KernelCalls.gram_matvec`)."""
        T = self.n_threads
        zero = np.zeros(self.design.n_features)
        parts = np.empty((T, self.design.n_features + 1))
        with numba_threads(T):
            _split.binary_hessp.on(T)(
                *self._args(), zero, 0.0, vec_coef, vec_intercept, sw, T, parts, self._binary_scratch()
            )
        return parts.sum(axis=0) / BINARY_CURVATURE_BOUND

    def binary_loss_grad_gram(self, y, sw, coef, intercept, score_outer=False, blocks=False):
        """``(loss, grad, G)`` binary in one pass: G the Hessian (or, with ``score_outer``,
        the scores' outer products), float64 (d + 1, d + 1), or with ``blocks`` its
        :class:`GramBlocks` (never assembled)."""
        T = self.n_threads
        D = self.design
        dense, cross, levels, pairs, A, S, h = self._gram_buffers()
        with numba_threads(T):
            _split.binary_loss_grad_gram.on(T)(
                *self._args(),
                D.n_levels,
                D.pair_offsets,
                y,
                coef,
                intercept,
                sw,
                score_outer,
                T,
                self._parts,
                dense,
                cross,
                levels,
                pairs,
                A,
                S,
                h,
                self._scratch,
            )
        total = self._parts.sum(axis=0)
        return float(total[-1]), total[:-1], self._blocks() if blocks else self._grams()[0]

    def multinomial_gram(self, y, sw, coef, intercept, score_outer=False, blocks=False):
        """The softmax Hessian (or the scores' outer products), float64 (K (d + 1), K (d + 1)),
        class-major (entry ``k (d + 1) + j``: class k's coefficient j, j = d its intercept),
        or with ``blocks`` its :class:`GramBlocks` (never assembled)."""
        T, K = self.n_threads, self.n_classes
        D = self.design
        dense, cross, levels, pairs, A, S, h = self._gram_buffers()
        W_dense = np.ascontiguousarray(coef[:, : D.n_dense])
        with numba_threads(T):
            _split.multinomial_gram.on(T)(
                *self._args(),
                D.n_levels,
                D.pair_offsets,
                y,
                coef,
                W_dense,
                intercept,
                sw,
                score_outer,
                T,
                dense,
                cross,
                levels,
                pairs,
                A,
                S,
                h,
                self._scratch,
            )
        if blocks:
            return self._blocks()
        blocks = self._grams()
        m = D.n_features + 1
        H = np.empty((K * m, K * m))
        q = 0
        for k in range(K):
            for l in range(k, K):
                H[k * m : (k + 1) * m, l * m : (l + 1) * m] = blocks[q]
                if l != k:
                    H[l * m : (l + 1) * m, k * m : (k + 1) * m] = blocks[q].T
                q += 1
        return H

    def predict_raw(self, coef, intercept):
        """Scores: float64 (n,) for binary ``coef`` (d,), (n, K) for ``coef`` (K, d)."""
        T = self.n_threads
        D = self.design
        with numba_threads(T):
            if coef.ndim == 1:
                out = np.empty(D.n_samples)
                _split.binary_predict_raw_into.on(T)(*self._args(), coef, intercept, out)
                return out
            out = np.empty((D.n_samples, coef.shape[0]))
            W_dense = np.ascontiguousarray(coef[:, : D.n_dense])
            _split.multinomial_predict_raw_into.on(T)(*self._args(), coef, W_dense, intercept, out)
            return out


class SplitRows:
    """Rows of a :class:`SplitDesign` in memory: a row source (:class:`~fastlogit.row_sources.RowSource`).

    Parameters
    ----------
    design : SplitDesign.
    y, sample_weight, n_classes, n_threads : as :class:`~fastlogit.row_sources.ArrayRows`
        (labels 0/1 for two classes, class indices in [0, n_classes) else;
        threads capped so that each has at least
        :data:`fastlogit.matrix.MIN_WORK_PER_THREAD` stored values of the
        design to read: small data runs on one, serially).

    Every member gives what :class:`ArrayRows` gives on ``design.to_csr()``
    (the same sums, to rounding), from the codes, in the design's column
    order (``design.column_order``: parameters are gathered into the
    stored order on the way in, sums scattered back on the way out).
    Binary and softmax: :meth:`loss_grad`, :meth:`hessp`, :meth:`hessian`,
    :meth:`score_outer` are split kernels (the last two summed by blocks,
    O(p^2 + m p + m^2) per row, then assembled); :meth:`loss_grad_hessian`
    is one fused pass (binary) or a gradient pass and a Hessian pass
    (softmax); :meth:`hessian_blocks` and :meth:`loss_grad_hessian_blocks`
    give the same Hessian as its blocks, never assembled
    (:class:`~fastlogit.block_hessian.GramBlocks`: Newton's step over
    thousands of levels without a dense Hessian).  :meth:`score_group_sums` goes through CSR blocks of
    CSR_FALLBACK_ROWS rows (memory O(block)), :meth:`select_features`
    returns an :class:`ArrayRows` on the selected columns of the CSR
    equivalent (a copy).
    """

    def __init__(self, design, y, sample_weight=None, n_classes=2, n_threads=None):
        if not isinstance(design, SplitDesign):
            raise TypeError(f"design must be a SplitDesign, got {type(design).__name__}")
        self.design = design
        n = design.n_samples
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.y = as_binary_labels(y, n) if self.binary else as_class_indices(y, n, self.n_classes)
        self.sample_weight = as_sample_weight(sample_weight, n)
        self.requested_threads = check_n_threads(n_threads)
        self.n_threads = threads_for(self.requested_threads, design.n_entries, self.n_classes)
        self.weight_sum = float(n if self.sample_weight is None else self.sample_weight.sum())
        self._calls = SplitKernelCalls(design, self.n_classes, self.n_threads)
        self._order = ColumnOrder(design)

    @property
    def n_samples(self):
        return self.design.n_samples

    @property
    def n_features(self):
        return self.design.n_features

    #: Binary: the loss, gradient and Hessian in one pass (the Hessian's kernel
    #: is the fused one, so there is nothing to save by not fusing).
    @property
    def fused_newton(self):
        return self.binary

    @property
    def hessian_entries(self):
        """The Hessian's cost per pair of classes: n (p + m + 1)^2, a row's nonzeros
        and intercept squared (an upper bound on the structured sums' work)."""
        D = self.design
        return D.n_samples * (D.n_dense + D.n_categoricals + 1) ** 2

    def loss_grad(self, coef, intercept):
        """Summed loss and gradient (see :meth:`ArrayRows.loss_grad`)."""
        order = self._order
        loss, grad = self._calls.loss_grad(self.y, self.sample_weight, order.coef(coef), intercept)
        return loss, order.sums(grad)

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian-vector product (see :meth:`ArrayRows.hessp`)."""
        order = self._order
        hv = self._calls.hessp(
            self.sample_weight, order.coef(coef), intercept, order.coef(vec_coef), vec_intercept
        )
        return order.sums(hv)

    def loss_grad_hessian(self, coef, intercept):
        """``(loss, grad, hessian)``: one fused pass (binary), else two."""
        if self.binary:
            order = self._order
            loss, grad, H = self._calls.binary_loss_grad_gram(
                self.y, self.sample_weight, order.coef(coef), intercept
            )
            return loss, order.sums(grad), order.matrix(H, 1)
        return (*self.loss_grad(coef, intercept), self.hessian(coef, intercept))

    def hessian(self, coef, intercept):
        """Summed exact Hessian: float64 (d + 1, d + 1) binary, (K (d + 1), K (d + 1))
        softmax, class-major (see :meth:`ArrayRows.hessian`)."""
        return self._gram(coef, intercept, score_outer=False)

    @property
    def structured_hessian(self):
        """Whether :meth:`hessian_blocks` is offered (an optional row-source member,
        :class:`~fastlogit.row_sources.RowSource`): the design has a categorical with
        levels (without one the Hessian is the dense block, which the dense Newton
        step serves), and the per-thread contingency tables between categoricals stay
        within :data:`STRUCTURED_MAX_PAIR_ENTRIES`."""
        D = self.design
        Q = 1 if self.binary else self.n_classes * (self.n_classes + 1) // 2
        buffers = Q * D.n_pair_entries * self.n_threads
        return D.n_features > D.n_dense and buffers <= STRUCTURED_MAX_PAIR_ENTRIES

    def hessian_blocks(self, coef, intercept):
        """The summed exact Hessian by its blocks, one pass: a
        :class:`~fastlogit.block_hessian.GramBlocks` (stored column order; its
        ``newton_system`` solves Newton's step without the dense (d + 1)^2 matrix)."""
        coef, y, sw = self._order.coef(coef), self.y, self.sample_weight
        if self.binary:
            return self._calls.binary_loss_grad_gram(y, sw, coef, intercept, blocks=True)[2]
        return self._calls.multinomial_gram(y, sw, coef, intercept, blocks=True)

    def loss_grad_hessian_blocks(self, coef, intercept):
        """``(loss, grad, blocks)``: :meth:`loss_grad` and :meth:`hessian_blocks`, in one
        fused pass (binary), else two."""
        if self.binary:
            order = self._order
            loss, grad, blocks = self._calls.binary_loss_grad_gram(
                self.y, self.sample_weight, order.coef(coef), intercept, blocks=True
            )
            return loss, order.sums(grad), blocks
        return (*self.loss_grad(coef, intercept), self.hessian_blocks(coef, intercept))

    def gram_matvec(self, vec_coef, vec_intercept):
        """The weighted Gram matrix of ``[X, 1]`` times a vector, float64 (d + 1,)."""
        order = self._order
        return order.sums(self._calls.gram_matvec(self.sample_weight, order.coef(vec_coef), vec_intercept))

    def score_outer(self, coef, intercept):
        """``sum_i s_i g_i g_i^T`` over the rows' scores, laid out as :meth:`hessian`."""
        return self._gram(coef, intercept, score_outer=True)

    def _gram(self, coef, intercept, score_outer):
        order = self._order
        coef = order.coef(coef)
        if self.binary:
            G = self._calls.binary_loss_grad_gram(self.y, self.sample_weight, coef, intercept, score_outer)[2]
            return order.matrix(G, 1)
        G = self._calls.multinomial_gram(self.y, self.sample_weight, coef, intercept, score_outer)
        return order.matrix(G, self.n_classes)

    def score_group_sums(self, coef, intercept, groups, n_groups):
        """Each group's summed score, float64 (n_groups, q (d + 1)) (see
        :func:`fastlogit.matrix.score_group_sums`), through CSR blocks of the design
        (in the design's column order)."""
        D, sw = self.design, self.sample_weight
        total = np.zeros((n_groups, (1 if self.binary else self.n_classes) * (D.n_features + 1)))
        for lo in range(0, D.n_samples, CSR_FALLBACK_ROWS):
            hi = min(lo + CSR_FALLBACK_ROWS, D.n_samples)
            Xb = D.rows(lo, hi).to_csr()
            swb = None if sw is None else sw[lo:hi]
            total += score_group_sums(Xb, self.y[lo:hi], coef, intercept, swb, groups[lo:hi], n_groups)
        return total

    def predict_raw(self, coef, intercept):
        """Scores ``X @ coef + intercept``: float64 (n,) binary, (n, K) softmax."""
        return self._calls.predict_raw(self._order.coef(coef), intercept)

    def column_moments(self):
        """``(weight, sum s x, sum s x**2)`` over every ``ceil(n / COLUMN_SAMPLE)``-th row
        (see :func:`fastlogit.matrix.column_moments`); an indicator's square is itself."""
        D, sw = self.design, self.sample_weight
        weight, first, second = column_moments(D.dense, sw)
        step = max(1, -(-D.n_samples // COLUMN_SAMPLE))  # (matrix.column_moments' rows)
        codes = D.codes[::step]
        w = np.ones(codes.shape[0]) if sw is None else np.asarray(sw[::step], dtype=np.float64)
        present = codes >= 0
        cols = (codes + D.offsets)[present]
        ww = np.broadcast_to(w[:, None], codes.shape)[present]
        L = D.n_features - D.n_dense
        level_sums = np.bincount(cols - D.n_dense, weights=ww, minlength=L) if L else np.zeros(0)
        first = np.concatenate([first, level_sums])
        second = np.concatenate([second, level_sums])
        return weight, self._order.columns(first), self._order.columns(second)

    def check_finite(self):
        """Raise ``ValueError`` naming where the dense block holds NaN or infinity (codes are finite)."""
        if self.design.n_dense:
            check_finite(self.design.dense, "dense")

    def select_features(self, features):
        """The same rows restricted to the design's columns ``features`` (an int array): an
        :class:`ArrayRows` on those columns of the CSR equivalent (a copy)."""
        X = select_features(self.design.to_csr(), features)
        return ArrayRows(X, self.y, self.sample_weight, self.n_classes, self.requested_threads)


class ColumnOrder:
    """A design's column order (``SplitDesign.column_order``) on the way in and out of the
    kernels, which take parameters and return sums in the stored order.

    Gathers: O(d) per parameter vector, O(d) per gradient, O((q (d + 1))^2) per
    Hessian; nothing at all (the arrays as they are) for a design stored in
    its own order.
    """

    def __init__(self, design):
        d = design.n_features
        self.identity = design.column_order is None
        if not self.identity:
            #: stored column s takes the design's coefficient position[s]
            self._position = design.storage_position
            #: the design's sum e (the intercept's last) is the stored sum index[e]
            self._index = np.append(design.column_order, d)
            self._d = d
            self._blocks = {}

    def coef(self, coef):
        """Coefficients (d,) or (K, d) in the design's order -> the stored order (C-contiguous)."""
        return coef if self.identity else np.ascontiguousarray(coef[..., self._position])

    def sums(self, grad):
        """A gradient-shaped sum (..., d + 1) in the stored order -> the design's."""
        return grad if self.identity else grad[..., self._index]

    def columns(self, values):
        """Per-column values (d,) in the stored order -> the design's."""
        return values if self.identity else values[self._index[:-1]]

    def matrix(self, H, q):
        """A (q (d + 1))-square matrix, q blocks of (d + 1) class-major, stored order -> the design's."""
        if self.identity:
            return H
        index = self._blocks.get(q)
        if index is None:
            index = (np.arange(q)[:, None] * (self._d + 1) + self._index[None, :]).ravel()
            self._blocks[q] = index
        return H[np.ix_(index, index)]


def predict_raw(design, coef, intercept, n_threads=None):
    """Scores ``X @ coef + intercept`` of a :class:`SplitDesign` (coefficients in its
    column order): float64 (n,) for ``coef`` (d,), (n, K) for ``coef`` (K, d) float64
    C-contiguous.  ``ValueError`` naming NaN/inf in the dense block when a score is
    not finite."""
    requested = check_n_threads(n_threads)
    n_classes = 2 if coef.ndim == 1 else coef.shape[0]
    calls = SplitKernelCalls(design, n_classes, threads_for(requested, design.n_entries, n_classes))
    out = calls.predict_raw(ColumnOrder(design).coef(coef), intercept)
    if design.n_dense and not np.isfinite(out).all():
        check_finite(design.dense, "X")
    return out
