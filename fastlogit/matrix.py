"""The matrix layer: what every row source does with a validated matrix.

Between the argument rules (:mod:`fastlogit.data`) and the Numba kernels
(:mod:`fastlogit.kernels`) below, and the row sources
(:mod:`fastlogit.row_sources`) above: the kernels' view of a dense or CSR
matrix, column selection, the search for NaN and infinity, the number of
kernel threads, the kernels' calls with their per-thread buffers
(:class:`KernelCalls`, and :class:`FoldKernelCalls` for k-fold
cross-validation) and the blocked exact Hessians.  Everything here
takes a matrix as :func:`fastlogit.data.as_matrix` returns it (a
C-contiguous float32/float64 ndarray or a CSR matrix) and trusts it.
See ARCHITECTURE.md.
"""

from contextlib import contextmanager

import numba
import numpy as np

from .data import CHECK_CHUNK, all_finite
from .kernels import binary as _binary
from .kernels import folds as _folds
from .kernels import multinomial as _multinomial
from .kernels import special as _special
from .kernels.rows import PANEL_PAD, ROW_BLOCK
from .kernels.special import BINARY_CURVATURE_BOUND, SOFTMAX_BLOCK_ROWS
from .runtime import start_thread_pool

#: Rows per block of the exact Hessians (a HESSIAN_BLOCK x d float64 temporary).
HESSIAN_BLOCK = 4096


def kernel_view(X):
    """What the Numba kernels take: the dense array itself, or the CSR tuple
    ``(data, indices, indptr)``."""
    return X if isinstance(X, np.ndarray) else (X.data, X.indices, X.indptr)


def n_entries(X):
    """Stored entries of a dense or CSR matrix: the work of one pass."""
    return X.size if isinstance(X, np.ndarray) else X.nnz


def select_features(X, features):
    """The columns ``features`` (int array) of a validated matrix: a C-order or sorted-CSR copy."""
    features = np.asarray(features, dtype=np.intp)
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X[:, features])
    X = X[:, features].tocsr()
    X.sort_indices()
    return X


def find_nonfinite(X):
    """``None``, or ``(row, column, "NaN" | "infinity")`` of the first non-finite entry of ``X``.

    ``X`` is what :func:`fastlogit.data.as_matrix` returns.  Dense rows are checked
    CHECK_CHUNK at a time (no temporary of size n); CSR checks its stored
    values.
    """
    values = X if isinstance(X, np.ndarray) else X.data
    for lo in range(0, values.shape[0], CHECK_CHUNK):
        chunk = values[lo : lo + CHECK_CHUNK]
        if not np.isfinite(chunk).all():
            # The error path only: locate the first offending entry.
            k = np.flatnonzero(~np.isfinite(chunk.reshape(-1)))[0]
            what = "NaN" if np.isnan(chunk.reshape(-1)[k]) else "infinity"
            if isinstance(X, np.ndarray):
                row, col = divmod(lo * X.shape[1] + int(k), X.shape[1])
            else:
                k += lo
                row, col = int(np.searchsorted(X.indptr, k, side="right")) - 1, int(X.indices[k])
            return int(row), int(col), what
    return None


def nonfinite_message(found, name):
    """The error for :func:`find_nonfinite`'s ``(row, column, what)`` in the matrix ``name``."""
    row, col, what = found
    return f"Input {name} contains {what} (first at row {row}, column {col}); every value must be finite"


def check_finite(X, name="X"):
    """Raise ``ValueError`` naming NaN or infinity (and where) if the matrix ``X`` holds one.

    See :func:`find_nonfinite`.  Callers that evaluate a loss anyway may
    defer this until the loss comes out non-finite (NaN or inf anywhere in X
    poisons it).
    """
    found = find_nonfinite(X)
    if found is not None:
        raise ValueError(nonfinite_message(found, name))


def check_finite_results(X, *results, name="X"):
    """NaN or inf in ``X`` makes a kernel's results non-finite at any
    coefficients (0 * inf is NaN), so ``X`` is scanned only when a result is
    non-finite (no extra pass otherwise)."""
    if not all_finite(*results):
        check_finite(X, name)


# -- threads -------------------------------------------------------------------


@contextmanager
def numba_threads(n_threads):
    """Numba's thread count set to ``n_threads`` inside the block, restored after.

    One thread is a serial kernel (:class:`fastlogit.kernels.rows.Threaded`):
    nothing to set, and the pool is not started.  More start the pool the
    first time, with the wait policy of :func:`fastlogit.runtime.start_thread_pool`.
    """
    if n_threads == 1:
        yield
        return
    start_thread_pool()
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


#: Work (stored entries of X times score rows) below which one more kernel
#: thread costs more than it saves: waking a thread and joining it takes
#: tens of microseconds, and much longer when another process holds the
#: other core (measured on digits, 1797 x 64, K = 10: 0.26 ms on one
#: thread, 0.14 to 7.5 ms on two).
MIN_WORK_PER_THREAD = 1 << 19
#: Work (as for MIN_WORK_PER_THREAD) below which a dense loss and gradient on
#: one thread runs the small kernels (``binary.loss_grad_small``,
#: ``multinomial.loss_grad_small``: each row's dot product and update on its
#: own), not the register-blocked ones: the work below which a call runs on
#: one thread anyway.  A first fit in a new process compiles its kernel, and
#: the small ones compile in half the time or less.  Measured on a 2-core AMD
#: EPYC (AVX2), fresh processes with an empty cache, a binary then a K = 3
#: fit on 10 000 x 20: 0.9-1.2 s and 2.1-2.3 s, against 2.4-3.0 s and
#: 5.3-6.0 s with the blocked kernels.  What the small kernels cost per call
#: (min of 9 timings, one thread): binary 1.03-1.16x the blocked kernel's
#: time from 569 x 30 to 50 000 x 20, K = 3 1.07-1.11x, K = 10 1.26x at
#: 2 000 x 50.
SMALL_WORK = 2 * MIN_WORK_PER_THREAD


class KernelCalls:
    """The fused kernels' calls on trusted arrays, with buffers allocated once.

    Per-thread partial sums and scratch for ``n_threads`` threads, ``d``
    features and ``n_classes`` classes: O(threads * (block + d) * K),
    independent of the number of rows, so one instance serves every chunk of
    a stream.  Arguments are what :func:`fastlogit.data.as_matrix` returns
    (``Xk``), labels checked by ``as_binary_labels``/``as_class_indices`` and
    weights by ``as_sample_weight`` (or None).  Sums are unreduced.
    """

    def __init__(self, n_features, n_classes, n_threads, *, binary=None):
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        # Two classes are the binary (sigmoid) model, unless the caller has K = 2
        # softmax coefficients (the public multinomial functions accept them).
        self.binary = self.n_classes == 2 if binary is None else bool(binary)
        self.n_threads = T = int(n_threads)
        d = self.n_features
        block = ROW_BLOCK
        self._binary_parts = np.empty((T, d + 2))
        self._binary_hessp_parts = np.empty((T, d + 1))
        self._binary_scratch = np.empty((T, 2, block))
        self._newton_scratch = self._hess_parts = None  # (allocated on first use)
        self._diagonal_acc = None
        if not self.binary:
            K = self.n_classes
            self._parts = np.empty((T, K, d + 1))
            self._loss_parts = np.empty(T)
            self._loss_scratch = np.empty((T, K + SOFTMAX_BLOCK_ROWS, block))
            self._hessp_scratch = np.empty((T, 2 * K + SOFTMAX_BLOCK_ROWS, block))

    def _small(self, Xk):
        """Whether ``Xk`` is dense, one thread's and below :data:`SMALL_WORK`."""
        if self.n_threads != 1 or not isinstance(Xk, np.ndarray):
            return False
        return Xk.size * (1 if self.binary else self.n_classes) < SMALL_WORK

    def loss_grad(self, Xk, y, sw, coef, intercept):
        """``(loss, grad)`` summed over the rows; grad float64 (d + 1,) or (K, d + 1) (a new array)."""
        T = self.n_threads
        small = self._small(Xk)
        with numba_threads(T):
            if self.binary:
                parts = self._binary_parts
                if small:
                    _binary.loss_grad_small(Xk, y, coef, intercept, sw, parts, self._binary_scratch)
                else:
                    _binary.loss_grad.on(T)(Xk, y, coef, intercept, sw, T, parts, self._binary_scratch)
                total = parts.sum(axis=0)
                return float(total[-1]), total[:-1]
            args = (Xk, y, coef, intercept, sw)
            if small:
                _multinomial.loss_grad_small(*args, self._parts, self._loss_parts, self._loss_scratch)
            else:
                _multinomial.loss_grad.on(T)(*args, T, self._parts, self._loss_parts, self._loss_scratch)
            return float(self._loss_parts.sum()), self._parts.sum(axis=0)

    def loss_grad_hessian(self, Xk, y, sw, coef, intercept):
        """``(loss, grad, H)`` summed over the rows in one fused pass (new arrays):
        binary, grad float64 (d + 1,) and H float64 (d + 1, d + 1); softmax, grad
        (K, d + 1) and H (K (d + 1), K (d + 1)), class-major as :meth:`hessian`."""
        T, d = self.n_threads, self.n_features
        if self._newton_scratch is None:
            self._newton_scratch = np.empty((T, 2, d + 1, ROW_BLOCK + PANEL_PAD))
            K = self.n_classes
            shape = (T, d + 1, d + 1) if self.binary else (T, K, K, d + 1, d + 1)
            self._hess_parts = np.empty(shape)
        if not self.binary:
            with numba_threads(T):
                _multinomial.loss_grad_hessian.on(T)(
                    Xk,
                    y,
                    coef,
                    intercept,
                    sw,
                    T,
                    self._parts,
                    self._loss_parts,
                    self._hess_parts,
                    self._loss_scratch,
                    self._newton_scratch,
                )
            blocks = self._hess_parts.sum(axis=0)
            return float(self._loss_parts.sum()), self._parts.sum(axis=0), _class_major(blocks)
        parts = self._binary_parts
        with numba_threads(T):
            _binary.loss_grad_hessian.on(T)(
                Xk, y, coef, intercept, sw, T, parts, self._hess_parts, self._newton_scratch
            )
        total = parts.sum(axis=0)
        return float(total[-1]), total[:-1], self._hess_parts.sum(axis=0)

    def hessp(self, Xk, sw, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian times a vector: float64 (d + 1,) or (K, d + 1) (a new array)."""
        T = self.n_threads
        with numba_threads(T):
            if self.binary:
                parts = self._binary_hessp_parts
                _binary.hessp.on(T)(
                    Xk, coef, intercept, vec_coef, vec_intercept, sw, T, parts, self._binary_scratch
                )
                return parts.sum(axis=0)
            _multinomial.hessp.on(T)(
                Xk, coef, intercept, vec_coef, vec_intercept, sw, T, self._parts, self._hessp_scratch
            )
            return self._parts.sum(axis=0)

    def hessian_diagonal(self, Xk, sw, coef, intercept):
        """The binary model's summed Hessian diagonal, one pass: float64 (d + 1,)
        (a new array; the intercept's last), laid out as the gradient."""
        T = self.n_threads
        parts = self._binary_hessp_parts
        if self._diagonal_acc is None:
            self._diagonal_acc = np.zeros((T, self.n_features))
        with numba_threads(T):
            _binary.hessian_diagonal.on(T)(
                Xk, coef, intercept, sw, T, parts, self._binary_scratch, self._diagonal_acc
            )
        return parts.sum(axis=0)

    def gram_matvec(self, Xk, sw, vec_coef, vec_intercept):
        """``[X, 1].T @ diag(s) @ [X, 1] @ [vec_coef, vec_intercept]``, float64 (d + 1,).

        The binary Hessian at zero is exactly a quarter of this weighted Gram
        matrix (sigmoid'(0) = 1/4), so the fused ``hessp`` kernel computes it
        in one pass without forming anything of size n.
        """
        T = self.n_threads
        zero = np.zeros(self.n_features)
        parts = self._binary_hessp_parts
        with numba_threads(T):
            _binary.hessp.on(T)(Xk, zero, 0.0, vec_coef, vec_intercept, sw, T, parts, self._binary_scratch)
        return parts.sum(axis=0) / BINARY_CURVATURE_BOUND

    def hessian(self, X, y, sw, coef, intercept):
        """Summed Hessian (X the validated matrix): float64 (d + 1, d + 1) binary,
        (K (d + 1), K (d + 1)) multinomial, class-major (the (K, d + 1) gradient's
        layout flattened; see :func:`multinomial_hessian_sum`)."""
        if not self.binary:
            return multinomial_hessian_sum(X, coef, intercept, sw)
        return binary_hessian_sum(X, coef, intercept, sw)


class FoldKernelCalls:
    """The fold-fused kernels' calls (k-fold cross-validation), with buffers allocated once.

    ``n_folds`` models over the same rows: a row of fold ``f`` trains every
    model ``j != f`` and is held out of model ``f``
    (:mod:`fastlogit.kernels.folds`); one pass over X serves every model.
    Per-thread partial sums and scratch for ``n_threads`` threads, ``d``
    features, ``n_classes`` classes and k folds: O(threads * (block + d) * k * K),
    independent of the number of rows.  Arguments are trusted: ``Xk`` a
    kernel view, labels as ``KernelCalls`` takes them, ``fold`` int64 (n,)
    with values in [0, k) (``fastlogit.data.as_fold_ids``), ``sw`` float64
    (n,) or None.  Coefficients are float64 C-contiguous ``(k, d)`` (binary)
    or ``(k, K, d)`` (softmax), intercepts ``(k,)`` / ``(k, K)`` (zeros
    without an intercept).  Sums are unreduced.
    """

    def __init__(self, n_features, n_classes, n_folds, n_threads, *, binary=None):
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.n_folds = k = int(n_folds)
        # As KernelCalls: two classes are the binary model unless told otherwise.
        self.binary = self.n_classes == 2 if binary is None else bool(binary)
        self.n_threads = T = int(n_threads)
        d = self.n_features
        q = 1 if self.binary else self.n_classes  # scores per row of one model
        self._parts = np.empty((T, k * q, d + 1))
        self._stats = np.empty((T, k, 4))
        self._loss_scratch = self._hessp_scratch = None  # (allocated on first use)

    def _scratch(self, hessp):
        T, k, K = self.n_threads, self.n_folds, self.n_classes
        if hessp:
            if self._hessp_scratch is None:
                shape = (
                    (T, 2, k, ROW_BLOCK) if self.binary else (T, 2 * k * K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK)
                )
                self._hessp_scratch = np.empty(shape)
            return self._hessp_scratch
        if self._loss_scratch is None:
            shape = (T, 3, k, ROW_BLOCK) if self.binary else (T, k * K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK)
            self._loss_scratch = np.empty(shape)
        return self._loss_scratch

    def _grad_layout(self, total):
        """The reduced parts as (k, d + 1) binary or (k, K, d + 1) softmax."""
        if self.binary:
            return total
        return total.reshape(self.n_folds, self.n_classes, self.n_features + 1)

    def _models(self, coef, intercept):
        """The kernels' (k q, d) coefficient matrix and (k q,) intercepts (views)."""
        if self.binary:
            return coef, intercept
        return coef.reshape(-1, self.n_features), intercept.reshape(-1)

    def loss_grad(self, Xk, y, fold, sw, coef, intercept):
        """``(train_loss (k,), grad, test_loss (k,), test_correct (k,), test_weight (k,))``.

        Unreduced sums, float64 new arrays: model j's loss and gradient over
        its training rows (grad (k, d + 1) binary, (k, K, d + 1) softmax, the
        intercept's in the last column); its loss, weight of correct
        predictions and weight over its held-out rows (fold j).
        """
        T = self.n_threads
        kernel = _folds.binary_loss_grad if self.binary else _folds.multinomial_loss_grad
        W, b = self._models(coef, intercept)
        with numba_threads(T):
            kernel.on(T)(Xk, y, fold, W, b, sw, T, self._parts, self._stats, self._scratch(False))
        stats = self._stats.sum(axis=0)
        grad = self._grad_layout(self._parts.sum(axis=0))
        train_loss, test_loss, correct, weight = (np.ascontiguousarray(c) for c in stats.T)
        return train_loss, grad, test_loss, correct, weight

    def hessp(self, Xk, fold, sw, coef, intercept, vec_coef, vec_intercept):
        """Each model's training-set Hessian at its coefficients times its part of
        ``(vec_coef, vec_intercept)`` (shaped as ``coef``, ``intercept``), summed:
        float64 (k, d + 1) binary, (k, K, d + 1) softmax (a new array)."""
        T = self.n_threads
        kernel = _folds.binary_hessp if self.binary else _folds.multinomial_hessp
        # (The softmax kernel takes the (k, K, d) arrays: it needs k and K apart.)
        W, b, V, v_b = coef, intercept, vec_coef, vec_intercept
        with numba_threads(T):
            kernel.on(T)(Xk, fold, W, b, V, v_b, sw, T, self._parts, self._scratch(True))
        return self._grad_layout(self._parts.sum(axis=0))


def threads_for(requested, entries, n_classes):
    """Kernel threads for ``entries`` stored values of X: ``requested``, capped so
    each thread has at least MIN_WORK_PER_THREAD (a function of shapes only,
    so results stay deterministic)."""
    work = entries * (1 if n_classes == 2 else n_classes)
    return min(requested, max(1, work // MIN_WORK_PER_THREAD))


def binary_hessian_sum(X, w, b, sw):
    """The unreduced binary Hessian (a sum over rows), float64 (d + 1, d + 1).

    ``X`` is what :func:`fastlogit.data.as_matrix` returns (a C-contiguous
    float ndarray or a CSR matrix), ``w`` float64 (d,), ``b`` a float, ``sw``
    float64 (n,) or None: trusted, not checked.  Behind
    :func:`fastlogit.binary_hessian` and every row source's ``hessian``.
    """
    n, d = X.shape
    H = np.zeros((d + 1, d + 1))
    h = np.empty(min(n, HESSIAN_BLOCK))
    for lo in range(0, n, HESSIAN_BLOCK):
        hi = min(lo + HESSIAN_BLOCK, n)
        Xb = X[lo:hi]  # a view (dense) or a copy of the block's nonzeros (CSR)
        Xbk = Xb if isinstance(Xb, np.ndarray) else (Xb.data, Xb.indices, Xb.indptr)
        hb = h[: hi - lo]
        _binary.curvature_into(Xbk, w, b, None if sw is None else sw[lo:hi], hb)
        add_weighted_gram(H, Xb, hb)
    H[d, :d] = H[:d, d]
    return H


#: Rows :func:`column_moments` samples: enough to tell columns' units apart
#: (and standardize them for a first-order solver).  The strided copy of 8192
#: rows took 4 ms of a 27 ms fit at 66 667 x 50 (a GridSearchCV worker's).
COLUMN_SAMPLE = 1 << 11


def column_moments(X, sw, sample=True, *, n_total=None, offset=0):
    """``(weight, sum_i s_i x_i, sum_i s_i x_i**2)`` over a sample of rows: the columns' units.

    Every ``ceil(n / COLUMN_SAMPLE)``-th row (all of them for small X), so
    the cost is O(COLUMN_SAMPLE d) whatever n; with ``sample=False`` every
    row, in blocks of COLUMN_SAMPLE rows (extra memory O(COLUMN_SAMPLE d)).
    ``X`` may be rows ``offset ..`` of a matrix of ``n_total`` rows (a Dask
    block): the sample is then the whole matrix's rows that fall in it, so
    the blocks' sums add up to the whole matrix's.  ``weight`` is the rows'
    weight sum, the moments float64 (d,).  For a solver's choices (and its
    preconditioner), not for arithmetic on the data.
    """
    n = X.shape[0]
    if not sample:
        parts = [_moments(X[lo : lo + COLUMN_SAMPLE], sw, lo, 1) for lo in range(0, n, COLUMN_SAMPLE)]
        return tuple(sum(part[k] for part in parts) for k in range(3)) if parts else _moments(X, sw, 0, 1)
    step = max(1, -(-(n if n_total is None else n_total) // COLUMN_SAMPLE))
    first = (-offset) % step
    return _moments(X[first:], None if sw is None else sw[first:], 0, step)


def _moments(X, sw, lo, step):
    """:func:`column_moments` of every ``step``-th row of ``X``, whose first row is row ``lo`` of ``sw``'s."""
    n = X.shape[0]
    rows = X[::step] if isinstance(X, np.ndarray) else X[np.arange(0, n, step)]
    rows = rows.astype(np.float64)
    w = np.ones(rows.shape[0]) if sw is None else sw[lo : lo + n : step].astype(np.float64)
    if isinstance(rows, np.ndarray):
        return float(w.sum()), w @ rows, w @ (rows * rows)
    return float(w.sum()), rows.T @ w, rows.multiply(rows).T @ w


def add_weighted_gram(H, Xb, c):
    """``H += [Xb, 1].T @ diag(c) @ [Xb, 1]`` for one block of rows (dense or CSR).

    ``H`` is a float64 (d + 1, d + 1) view; its last row is left to the
    caller (the result is symmetric).
    """
    d = Xb.shape[1]
    if isinstance(Xb, np.ndarray):
        Xc = Xb * c[:, None]
        H[:d, :d] += Xb.T @ Xc
    else:
        Xc = Xb.multiply(c[:, None]).tocsr()
        H[:d, :d] += (Xb.T @ Xc).toarray()
    H[:d, d] += np.asarray(Xc.sum(axis=0)).ravel()
    H[d, d] += c.sum()


def _class_major(blocks):
    """The (K (d + 1), K (d + 1)) class-major Hessian from its blocks (K, K, d + 1,
    d + 1), of which those (a, b) with a <= b are filled (each block symmetric)."""
    K, _, m, _ = blocks.shape
    H = np.empty((K * m, K * m))
    for a in range(K):
        for c in range(a, K):
            H[a * m : (a + 1) * m, c * m : (c + 1) * m] = blocks[a, c]
    _fill_symmetric_blocks(H, K, m - 1)
    return H


def multinomial_hessian_sum(X, W, b, sw):
    """The unreduced softmax Hessian (a sum over rows), float64 (K (d + 1), K (d + 1)).

    Per row, with ``p = softmax(W x + b)`` and ``x~ = [x, 1]``, it adds
    ``s (diag(p) - p p^T) kron x~ x~^T``.  Indexed class-major: entry
    ``k * (d + 1) + j`` is class k's coefficient j, ``j = d`` its intercept,
    the layout of a row source's (K, d + 1) gradient flattened.  The
    symmetric (K, d + 1) parameterization makes it singular (adding one
    vector to every class changes nothing).

    ``X`` is what :func:`fastlogit.data.as_matrix` returns (a C-contiguous
    float ndarray or a CSR matrix), ``W`` float64 (K, d), ``b`` float64
    (K,), ``sw`` float64 (n,) or None: trusted, not checked.  Rows go in
    blocks of HESSIAN_BLOCK: the block's scores by BLAS, its softmax by
    NumPy (max-shifted: a few ulp, ample for a Newton step, and one Numba
    kernel fewer to compile in a new process's first fit), then one BLAS
    product per pair of classes k <= l:
    O(n K^2 d^2 / 2) work, extra memory O(HESSIAN_BLOCK * (d + K) + (K (d + 1))^2).
    """
    n, d = X.shape
    K = W.shape[0]
    m = d + 1
    H = np.zeros((K * m, K * m))
    block = min(n, HESSIAN_BLOCK)
    Z = np.empty((block, K))
    P = np.empty((block, K))
    W_T = np.ascontiguousarray(W.T)
    for lo in range(0, n, HESSIAN_BLOCK):
        hi = min(lo + HESSIAN_BLOCK, n)
        Xb = X[lo:hi]  # a view (dense) or a copy of the block's nonzeros (CSR)
        Pb = P[: hi - lo]
        _block_softmax(Xb, W_T, b, Z[: hi - lo], Pb)
        if sw is not None:
            Ps = Pb * sw[lo:hi, None]  # s p: the weighted probabilities
        else:
            Ps = Pb
        for k in range(K):
            for l in range(k, K):
                c = -Ps[:, k] * Pb[:, l]
                if k == l:
                    c += Ps[:, k]
                add_weighted_gram(H[k * m : (k + 1) * m, l * m : (l + 1) * m], Xb, c)
    _fill_symmetric_blocks(H, K, d)
    return H


def _block_softmax(Xb, W_T, b, Z, P):
    """``P = softmax(Xb @ W_T + b)`` row by row for one block (Z: the scores' scratch)."""
    Z[:] = Xb @ W_T
    Z += b
    np.subtract(Z, Z.max(axis=1, keepdims=True), out=P)
    np.exp(P, out=P)
    P /= P.sum(axis=1, keepdims=True)


def _fill_symmetric_blocks(H, q, d):
    """Complete a (q (d + 1))-square matrix whose blocks k <= l hold ``add_weighted_gram``'s part."""
    m = d + 1
    for k in range(q):
        for l in range(k, q):
            blk = H[k * m : (k + 1) * m, l * m : (l + 1) * m]
            blk[d, :d] = blk[:d, d]
            if l != k:
                H[l * m : (l + 1) * m, k * m : (k + 1) * m] = blk.T


# -- per-row scores: the robust ("sandwich") covariances' meat -------------------


def _weighted_residual_blocks(X, y, coef, intercept, sw):
    """Per block of HESSIAN_BLOCK rows: ``(lo, hi, Xb, R)``, ``R`` float64 (m, q) the
    weighted residuals ``s (onehot(y) - p)`` (binary: q = 1, ``s (y - p)``), so
    that row i's score (the gradient of its log-likelihood) is ``R[i] kron [x_i, 1]``."""
    n = X.shape[0]
    binary = coef.ndim == 1
    if not binary:
        K = coef.shape[0]
        block = min(n, HESSIAN_BLOCK)
        Z, P = np.empty((block, K)), np.empty((block, K))
        W_T = np.ascontiguousarray(coef.T)
    for lo in range(0, n, HESSIAN_BLOCK):
        hi = min(lo + HESSIAN_BLOCK, n)
        Xb = X[lo:hi]
        if binary:
            z = np.asarray(Xb @ coef, dtype=np.float64) + intercept
            R = (np.asarray(y[lo:hi], dtype=np.float64) - elementwise(_special.OP_SIGMOID, z))[:, None]
        else:
            Pb = P[: hi - lo]
            _block_softmax(Xb, W_T, intercept, Z[: hi - lo], Pb)
            R = -Pb
            R[np.arange(hi - lo), y[lo:hi]] += 1.0
        if sw is not None:
            R *= sw[lo:hi, None]
        yield lo, hi, Xb, R


def score_outer_sum(X, y, coef, intercept, sw):
    """``sum_i s_i g_i g_i^T`` with ``g_i`` row i's score: the meat of the HC
    covariances, float64, class-major like :func:`multinomial_hessian_sum`
    ((d + 1) square binary, (K (d + 1)) square softmax).

    ``s_i`` are frequency weights (a row of weight 3 counts as three rows,
    so the weight enters once, not squared).  Blocked like the Hessians:
    extra memory O(HESSIAN_BLOCK * (d + K) + the result), none of it grows
    with n; never an n x d score matrix.
    """
    d = X.shape[1]
    q = 1 if coef.ndim == 1 else coef.shape[0]
    m = d + 1
    M = np.zeros((q * m, q * m))
    for lo, _, Xb, R in _weighted_residual_blocks(X, y, coef, intercept, None):
        U = R if sw is None else R * np.sqrt(sw[lo : lo + R.shape[0], None])
        for k in range(q):
            for l in range(k, q):
                add_weighted_gram(M[k * m : (k + 1) * m, l * m : (l + 1) * m], Xb, U[:, k] * U[:, l])
    _fill_symmetric_blocks(M, q, d)
    return M


def score_group_sums(X, y, coef, intercept, sw, groups, n_groups):
    """Each group's summed score ``sum_{i in g} s_i g_i``: float64 (n_groups, q (d + 1)),
    class-major columns (q = 1 binary, K softmax): the cluster covariance's meat
    is its ``S^T S``.  ``groups``: int codes in [0, n_groups), one per row of X.
    Blocked; extra memory O(HESSIAN_BLOCK * (d + K)) besides the result."""
    from scipy import sparse

    d = X.shape[1]
    q = 1 if coef.ndim == 1 else coef.shape[0]
    m = d + 1
    S = np.zeros((n_groups, q * m))
    for lo, hi, Xb, R in _weighted_residual_blocks(X, y, coef, intercept, sw):
        g = groups[lo:hi]
        rows = hi - lo
        member = sparse.csr_matrix((np.ones(rows), (g, np.arange(rows))), shape=(n_groups, rows))
        for k in range(q):
            r = R[:, k]
            Xr = Xb * r[:, None] if isinstance(Xb, np.ndarray) else Xb.multiply(r[:, None]).tocsr()
            part = member @ Xr
            S[:, k * m : k * m + d] += part if isinstance(part, np.ndarray) else part.toarray()
            S[:, k * m + d] += np.bincount(g, weights=r, minlength=n_groups)
    return S


# -- scores and special functions of trusted arrays ------------------------------


def predict_raw(X, coef, intercept, n_threads):
    """Scores ``X @ coef + intercept``: float64 (n,) for binary ``coef`` (d,),
    (n, K) for ``coef`` (K, d); ``ValueError`` naming NaN/inf in X when a
    score is not finite."""
    binary = coef.ndim == 1
    out = np.empty(X.shape[0]) if binary else np.empty((X.shape[0], coef.shape[0]))
    kernel = _binary.predict_raw_into if binary else _multinomial.predict_raw_into
    n_threads = threads_for(n_threads, n_entries(X), 2 if binary else coef.shape[0])
    with numba_threads(n_threads):
        kernel.on(n_threads)(kernel_view(X), coef, intercept, out)
    check_finite_results(X, out)
    return out


def elementwise(op, arr):
    """The special function ``op`` (``kernels.special.OP_*``) of a C-contiguous
    float32/float64 array of any shape: a new array of its shape and dtype,
    on all threads from PARALLEL_MIN_SIZE elements."""
    out = np.empty(arr.shape, dtype=arr.dtype)
    parallel = arr.size >= _special.PARALLEL_MIN_SIZE
    kernel = _special.elementwise_into_parallel if parallel else _special.elementwise_into
    kernel(op, arr.reshape(-1), out.reshape(-1))
    return out


def _row_parallel(rows):
    return rows.size >= _special.PARALLEL_MIN_SIZE and rows.shape[0] > 1


def logsumexp_rows(rows):
    """Log-sum-exp of each row of a C-contiguous (n, K) float array: (n,) of its dtype."""
    out = np.empty(rows.shape[0], dtype=rows.dtype)
    if _row_parallel(rows):
        _special.logsumexp_rows_into_parallel(rows, out)
    else:
        _special.logsumexp_rows_into(rows, out)
    return out


def softmax_rows(rows, log=False):
    """Softmax (or log-softmax) of each row of a C-contiguous (n, K) float array."""
    out = np.empty(rows.shape, dtype=rows.dtype)
    if _row_parallel(rows):
        _special.softmax_rows_into_parallel(rows, out, log)
    else:
        _special.softmax_rows_into(rows, out, log)
    return out
