"""The penalized logistic-regression objective, exactly as scikit-learn defines it.

For parameters ``W`` (coefficients) and ``b`` (intercepts)::

    F(W, b) = (1/S) sum_i s_i l_i(W, b)
              + (1 - l1_ratio) / (2 C S) ||W||_2^2 + l1_ratio / (C S) ||W||_1

with ``S`` the sum of the sample weights (n without weights), ``l_i`` the
binary log-loss ``log1pexp(z) - y z`` of ``z = x.w + b`` (two classes) or
the softmax log-loss ``logsumexp(z) - z_y`` of ``z = W x + b`` (K > 2
classes, the full symmetric parameterization of scikit-learn's multinomial
solvers), the intercept never penalized, and ``C = inf`` meaning no penalty.

The data term is a sum over *row sources*: each source adds up the loss,
gradient and Hessian products of its own rows (``reduction="sum"``) and the
:class:`Objective` divides the total by ``S`` and adds the penalty once.
:class:`ArrayRows` is the in-memory source: it validates its arrays once and
then calls the fused Numba kernels with buffers allocated once.  A chunked
(out-of-core) or distributed source only has to provide the same members:
``n_features``, ``n_classes``, ``weight_sum``, the unreduced sums
``loss_grad``, ``hessp``, ``gram_matvec`` and ``hessian``, and
``check_finite`` and ``select_features`` (see :class:`ArrayRows`).

Solvers see a flat float64 parameter vector ``x``:

- binary: ``x = [w (d,), b]``;
- multinomial: ``x = [W.ravel() (K*d,), b (K,)]`` (``W`` in C order, so the
  kernels read ``x[:K*d].reshape(K, d)`` without a copy);

without the intercept part when ``fit_intercept=False``.
"""

import math

import numpy as np

from .data import (
    as_binary_labels,
    as_class_indices,
    as_matrix,
    as_sample_weight,
    check_finite,
    check_n_threads,
)
from .functions import _binary_hessian_sum, _multinomial_hessian_sum, _numba_threads
from .kernels import binary as _binary
from .kernels import multinomial as _multinomial

#: Curvature bound of one row's loss along its score: sigmoid' <= 1/4 for
#: the binary loss; the softmax Hessian diag(p) - p p^T has eigenvalues <= 1/2.
BINARY_CURVATURE_BOUND = 0.25
MULTINOMIAL_CURVATURE_BOUND = 0.5

#: Work (stored entries of X times score rows) below which one more kernel
#: thread costs more than it saves: waking a thread and joining it takes
#: tens of microseconds, and much longer when another process holds the
#: other core (measured on digits, 1797 x 64, K = 10: 0.26 ms on one
#: thread, 0.14 to 7.5 ms on two).
MIN_WORK_PER_THREAD = 1 << 17


class KernelCalls:
    """The fused kernels' calls on trusted arrays, with buffers allocated once.

    Per-thread partial sums and scratch for ``n_threads`` threads, ``d``
    features and ``n_classes`` classes: O(threads * (block + d) * K),
    independent of the number of rows, so one instance serves every chunk of
    a stream.  Arguments are what :func:`fastlogit.data.as_matrix` returns
    (``Xk``), labels checked by ``as_binary_labels``/``as_class_indices`` and
    weights by ``as_sample_weight`` (or None).  Sums are unreduced.
    """

    def __init__(self, n_features, n_classes, n_threads):
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.n_threads = T = int(n_threads)
        d = self.n_features
        block = _binary.ROW_BLOCK
        self._binary_parts = np.empty((T, d + 2))
        self._binary_hessp_parts = np.empty((T, d + 1))
        self._binary_scratch = np.empty((T, 2, block))
        if not self.binary:
            K = self.n_classes
            self._parts = np.empty((T, K, d + 1))
            self._loss_parts = np.empty(T)
            self._loss_scratch = np.empty((T, block + 3, K))
            self._hessp_scratch = np.empty((T, 2 * block + 2, K))

    def loss_grad(self, Xk, y, sw, coef, intercept):
        """``(loss, grad)`` summed over the rows; grad float64 (d + 1,) or (K, d + 1) (a new array)."""
        T = self.n_threads
        with _numba_threads(T):
            if self.binary:
                parts = self._binary_parts
                _binary.loss_grad(Xk, y, coef, intercept, sw, T, parts, self._binary_scratch)
                total = parts.sum(axis=0)
                return float(total[-1]), total[:-1]
            _multinomial.loss_grad(Xk, y, coef, intercept, sw, T, self._parts, self._loss_parts,
                                   self._loss_scratch)
            return float(self._loss_parts.sum()), self._parts.sum(axis=0)

    def hessp(self, Xk, sw, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian times a vector: float64 (d + 1,) or (K, d + 1) (a new array)."""
        T = self.n_threads
        with _numba_threads(T):
            if self.binary:
                parts = self._binary_hessp_parts
                _binary.hessp(Xk, coef, intercept, vec_coef, vec_intercept, sw, T, parts)
                return parts.sum(axis=0)
            _multinomial.hessp(Xk, coef, intercept, vec_coef, vec_intercept, sw, T, self._parts,
                               self._hessp_scratch)
            return self._parts.sum(axis=0)

    def gram_matvec(self, Xk, sw, vec_coef, vec_intercept):
        """``[X, 1].T @ diag(s) @ [X, 1] @ [vec_coef, vec_intercept]``, float64 (d + 1,).

        The binary Hessian at zero is exactly a quarter of this weighted Gram
        matrix (sigmoid'(0) = 1/4), so the fused ``hessp`` kernel computes it
        in one pass without forming anything of size n.
        """
        T = self.n_threads
        zero = np.zeros(self.n_features)
        parts = self._binary_hessp_parts
        with _numba_threads(T):
            _binary.hessp(Xk, zero, 0.0, vec_coef, vec_intercept, sw, T, parts)
        return parts.sum(axis=0) / BINARY_CURVATURE_BOUND

    def hessian(self, X, y, sw, coef, intercept):
        """Summed Hessian (X the validated matrix): float64 (d + 1, d + 1) binary,
        (K (d + 1), K (d + 1)) multinomial, class-major (the (K, d + 1) gradient's
        layout flattened; see :func:`fastlogit.functions._multinomial_hessian_sum`)."""
        if not self.binary:
            return _multinomial_hessian_sum(X, coef, intercept, sw)
        return _binary_hessian_sum(X, coef, intercept, sw)


def threads_for(requested, entries, n_classes):
    """Kernel threads for ``entries`` stored values of X: ``requested``, capped so
    each thread has at least MIN_WORK_PER_THREAD (a function of shapes only,
    so results stay deterministic)."""
    work = entries * (1 if n_classes == 2 else n_classes)
    return min(requested, max(1, work // MIN_WORK_PER_THREAD))


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
        self.X, self._Xk = as_matrix(X)
        n, d = self.X.shape
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.n_classes = int(n_classes)
        self.binary = self.n_classes == 2
        self.y = as_binary_labels(y, n) if self.binary else as_class_indices(y, n, self.n_classes)
        self.sample_weight = as_sample_weight(sample_weight, n)
        entries = self.X.nnz if not isinstance(self.X, np.ndarray) else n * d
        self.requested_threads = check_n_threads(n_threads)
        self.n_threads = threads_for(self.requested_threads, entries, self.n_classes)
        self.weight_sum = float(n if self.sample_weight is None else self.sample_weight.sum())
        self._calls = KernelCalls(d, self.n_classes, self.n_threads)

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
        return self._calls.loss_grad(self._Xk, self.y, self.sample_weight, coef, intercept)

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian at ``(coef, intercept)`` times ``(vec_coef, vec_intercept)``.

        Shapes as in :meth:`loss_grad` (the vector's like the parameters');
        returns float64 (d + 1,) or (K, d + 1).
        """
        return self._calls.hessp(self._Xk, self.sample_weight, coef, intercept, vec_coef,
                                 vec_intercept)

    def hessian(self, coef, intercept):
        """Summed Hessian: float64 (d + 1, d + 1) binary, (K (d + 1), K (d + 1))
        multinomial, indexed class-major like the (K, d + 1) gradient flattened."""
        return self._calls.hessian(self.X, self.y, self.sample_weight, coef, intercept)

    def gram_matvec(self, vec_coef, vec_intercept):
        """The weighted Gram matrix of ``[X, 1]`` times a vector (see :meth:`KernelCalls.gram_matvec`)."""
        return self._calls.gram_matvec(self._Xk, self.sample_weight, vec_coef, vec_intercept)

    def check_finite(self):
        """Raise ``ValueError`` if X holds NaN or infinity."""
        check_finite(self.X)

    def select_features(self, features):
        """The same rows restricted to the columns ``features`` (an int array): a copy."""
        X = select_columns(self.X, features)
        return ArrayRows(X, self.y, self.sample_weight, self.n_classes, self.requested_threads)


class ChunkRows:
    """Rows streamed in chunks (out of core): a row source over :class:`fastlogit.sources.ChunkedData`.

    Every evaluation is one pass over the chunks, each one handed to the same
    fused kernels as in memory with buffers allocated once
    (:class:`KernelCalls`), and the chunks' sums added in chunk order (so
    results are deterministic for a given chunking).  Peak extra memory: the
    chunk being read (plus its conversion, e.g. a Parquet row group) and
    O(threads * (block + d) * K).

    Parameters
    ----------
    data : a :class:`~fastlogit.sources.ChunkedData` (validated, labels known).
    n_threads : kernel threads (None: all), capped by the work of a
        mean-sized chunk as :class:`ArrayRows` caps it.
    progress : None or a callable ``progress(iterable, total)`` wrapping each
        pass's chunks (a tqdm bar when ``verbose``).
    """

    def __init__(self, data, n_threads=None, progress=None):
        self.data = data
        self.n_classes = len(data.classes)
        self.binary = self.n_classes == 2
        self.weight_sum = data.weight_sum
        self.requested_threads = check_n_threads(n_threads)
        rows = math.ceil(data.n_samples / data.n_chunks)  # a typical chunk
        self.n_threads = threads_for(self.requested_threads, rows * data.n_features, self.n_classes)
        self._calls = KernelCalls(data.n_features, self.n_classes, self.n_threads)
        self.progress = progress

    @property
    def n_samples(self):
        return self.data.n_samples

    @property
    def n_features(self):
        return self.data.n_features

    def _chunks(self):
        chunks = self.data.chunks()
        if self.progress is not None:
            chunks = self.progress(chunks, self.data.n_chunks)
        return chunks

    def loss_grad(self, coef, intercept):
        """Summed loss and gradient (see :meth:`ArrayRows.loss_grad`), one pass."""
        loss, grad = 0.0, None
        for _, Xk, y, sw in self._chunks():
            part_loss, part_grad = self._calls.loss_grad(Xk, y, sw, coef, intercept)
            loss += part_loss
            grad = part_grad if grad is None else grad + part_grad
        return loss, grad

    def hessp(self, coef, intercept, vec_coef, vec_intercept):
        """Summed Hessian-vector product (see :meth:`ArrayRows.hessp`), one pass."""
        total = None
        for _, Xk, _, sw in self._chunks():
            part = self._calls.hessp(Xk, sw, coef, intercept, vec_coef, vec_intercept)
            total = part if total is None else total + part
        return total

    def hessian(self, coef, intercept):
        """Summed exact Hessian (see :meth:`ArrayRows.hessian`), one pass."""
        total = None
        for X, _, y, sw in self._chunks():
            part = self._calls.hessian(X, y, sw, coef, intercept)
            total = part if total is None else total + part
        return total

    def gram_matvec(self, vec_coef, vec_intercept):
        """Weighted Gram matrix of ``[X, 1]`` times a vector, one pass."""
        total = None
        for _, Xk, _, sw in self._chunks():
            part = self._calls.gram_matvec(Xk, sw, vec_coef, vec_intercept)
            total = part if total is None else total + part
        return total

    def check_finite(self):
        """Raise ``ValueError`` naming the chunk, row and column of a NaN or infinity in X."""
        self.data.check_finite()

    def select_features(self, features):
        """The same chunks restricted to the columns ``features``: a copy per chunk and pass."""
        return ChunkRows(self.data.select(features), self.requested_threads, self.progress)


def select_columns(X, features):
    """The columns ``features`` (int array) of a validated matrix: a C-order or sorted-CSR copy."""
    features = np.asarray(features, dtype=np.intp)
    if isinstance(X, np.ndarray):
        return np.ascontiguousarray(X[:, features])
    X = X[:, features].tocsr()
    X.sort_indices()
    return X


class Objective:
    """scikit-learn's penalized logistic-regression objective on a flat parameter vector.

    Parameters
    ----------
    sources : list of row sources (e.g. :class:`ArrayRows`) holding the data,
        all with the same ``n_features`` and ``n_classes``.  The data term
        is the sum of their sums divided by the total weight ``S``.
    C : float > 0 or ``np.inf``
        Inverse penalty strength; ``np.inf`` means no penalty.
    l1_ratio : float in [0, 1]
        0 is the L2 penalty, 1 the L1 penalty, in between the elastic net.
    fit_intercept : bool
        Whether ``x`` holds intercepts (unpenalized); otherwise they are 0.

    Attributes
    ----------
    n_classes, n_features : ints.  ``n_rows`` = 1 (binary) or K: rows of ``coef``.
    n_params : length of ``x``.  ``n_coef``: its coefficient part ``x[:n_coef]``.
    l2_strength, l1_strength : the penalty factors ``(1 - l1_ratio) / (C S)`` and
        ``l1_ratio / (C S)``.
    n_passes : data passes made so far (each evaluation reads the rows once).
    """

    def __init__(self, sources, *, C=1.0, l1_ratio=0.0, fit_intercept=True):
        self.sources = list(sources)
        if not self.sources:
            raise ValueError("an Objective needs at least one row source")
        first = self.sources[0]
        self.n_features = first.n_features
        self.n_classes = first.n_classes
        for source in self.sources[1:]:
            if (source.n_features, source.n_classes) != (self.n_features, self.n_classes):
                raise ValueError("all row sources must have the same n_features and n_classes")
        self.binary = self.n_classes == 2
        self.n_rows = 1 if self.binary else self.n_classes
        self.fit_intercept = bool(fit_intercept)
        self.n_coef = self.n_rows * self.n_features
        self.n_params = self.n_coef + (self.n_rows if self.fit_intercept else 0)
        self.weight_sum = sum(source.weight_sum for source in self.sources)
        self.C = float(C)
        self.l1_ratio = float(l1_ratio)
        if math.isinf(self.C):
            self.l2_strength = self.l1_strength = 0.0
        else:
            self.l2_strength = (1.0 - self.l1_ratio) / (self.C * self.weight_sum)
            self.l1_strength = self.l1_ratio / (self.C * self.weight_sum)
        self.n_passes = 0
        self._zero_intercept = 0.0 if self.binary else np.zeros(self.n_rows)

    @classmethod
    def from_arrays(cls, X, y, sample_weight=None, *, n_classes=2, C=1.0, l1_ratio=0.0,
                    fit_intercept=True, n_threads=None):
        """The objective of one in-memory data set (see :class:`ArrayRows`)."""
        rows = ArrayRows(X, y, sample_weight, n_classes, n_threads)
        return cls([rows], C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept)

    # -- parameter layout ---------------------------------------------------

    def unpack(self, x):
        """``(coef, intercept)`` views of ``x``: binary (d,) and a float,
        multinomial (K, d) and (K,); the intercept is 0 without ``fit_intercept``."""
        if self.binary:
            coef = x[: self.n_features]
            intercept = float(x[-1]) if self.fit_intercept else 0.0
        else:
            coef = x[: self.n_coef].reshape(self.n_rows, self.n_features)
            intercept = x[self.n_coef:] if self.fit_intercept else self._zero_intercept
        return coef, intercept

    def pack(self, coef, intercept=None):
        """The flat float64 vector of ``coef`` ((d,) or (1, d) binary, (K, d)) and ``intercept``."""
        x = np.zeros(self.n_params)
        x[: self.n_coef] = np.ravel(coef)
        if self.fit_intercept and intercept is not None:
            x[self.n_coef:] = np.ravel(intercept)
        return x

    def _flat(self, parts):
        """A source's gradient layout -> the flat layout of ``x``."""
        if self.binary:
            return parts if self.fit_intercept else parts[:-1]
        coef_part = parts[:, :-1].ravel()
        return np.concatenate([coef_part, parts[:, -1]]) if self.fit_intercept else coef_part

    # -- the data term and the smooth part ----------------------------------

    def sum_sources(self, method, *args):
        """The sources' ``method(*args)`` added up in source order: one data pass.

        ``method`` names a row-source member (``"loss_grad"``, ``"hessp"``,
        ``"hessian"``, ``"gram_matvec"``); tuple results are added entry by
        entry.  The sums are unreduced (not divided by the weight sum).
        """
        total = None
        for source in self.sources:
            part = getattr(source, method)(*args)
            if total is None:
                total = part
            elif isinstance(part, tuple):
                total = tuple(a + b for a, b in zip(total, part))
            else:
                total = total + part
        self.n_passes += 1
        return total

    def data_loss_grad(self, x):
        """Weighted mean log-loss and its gradient (flat, float64 (n_params,))."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        loss, total = self.sum_sources("loss_grad", coef, intercept)
        if not math.isfinite(loss):
            # NaN or inf anywhere in X makes the loss non-finite at any
            # parameters (0 * inf is NaN), so the data is checked here, once it
            # matters, instead of in an extra pass before every fit.
            for source in self.sources:
                source.check_finite()
        scale = 1.0 / self.weight_sum
        return loss * scale, self._flat(total) * scale

    def loss_grad(self, x):
        """The smooth part (data term + L2 penalty) and its gradient, in one data pass.

        x : float64 (n_params,).  Returns ``(value, grad)``, grad float64
        (n_params,).  Without an L1 term (``l1_ratio == 0`` or ``C == inf``)
        this is the whole objective, what ``scipy.optimize.minimize`` takes
        with ``jac=True``.
        """
        loss, grad = self.data_loss_grad(x)
        if self.l2_strength:
            w = x[: self.n_coef]
            loss += 0.5 * self.l2_strength * float(w @ w)
            grad[: self.n_coef] += self.l2_strength * w
        return loss, grad

    def l1_penalty(self, x):
        """The nonsmooth part ``l1_strength * ||W||_1`` (0 without an L1 term)."""
        if not self.l1_strength:
            return 0.0
        return self.l1_strength * float(np.abs(x[: self.n_coef]).sum())

    def value(self, x):
        """The whole objective F(x), float (one data pass)."""
        return self.loss_grad(x)[0] + self.l1_penalty(x)

    def prox(self, x, step):
        """Proximal map of ``step * l1_penalty``: soft-thresholding of the coefficients.

        Returns a new float64 (n_params,) array; intercepts pass unchanged.
        """
        out = np.array(x, dtype=np.float64)
        if self.l1_strength:
            w = out[: self.n_coef]
            threshold = step * self.l1_strength
            np.copysign(np.maximum(np.abs(w) - threshold, 0.0), w, out=w)
        return out

    def optimality(self, x, grad):
        """Max-norm of the smallest subgradient of F at ``x``: 0 exactly at the optimum.

        ``grad`` is the smooth part's gradient at ``x`` (from :meth:`loss_grad`).
        Without an L1 term this is ``max |grad|``, the quantity L-BFGS-B's
        ``gtol`` bounds, so ``tol`` means the same for every solver.
        """
        g = np.abs(grad)
        if self.l1_strength:
            w = x[: self.n_coef]
            gw = grad[: self.n_coef]
            lam = self.l1_strength
            g[: self.n_coef] = np.where(w != 0, np.abs(gw + lam * np.sign(w)),
                                        np.maximum(np.abs(gw) - lam, 0.0))
        return float(g.max()) if g.size else 0.0

    # -- second order ---------------------------------------------------------

    def hessp(self, x, v):
        """Hessian of the smooth part at ``x`` times ``v`` (both float64 (n_params,)), one pass."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        v = np.ascontiguousarray(v, dtype=np.float64)
        v_coef, v_intercept = self.unpack(v)
        total = self.sum_sources("hessp", coef, intercept, v_coef, v_intercept)
        hv = self._flat(total) / self.weight_sum
        if self.l2_strength:
            hv[: self.n_coef] += self.l2_strength * v[: self.n_coef]
        return hv

    @property
    def has_hessian(self):
        """Whether a Newton step may solve with :meth:`hessian` (the binary model).

        :meth:`hessian` works for the multinomial model too, but there it is
        singular (the symmetric parameterization), and a Cholesky step with
        it drifts the coefficients along the flat directions, so the newton
        solver, which asks this, keeps Newton-CG for K > 2.
        """
        return self.binary

    def hessian(self, x):
        """The smooth part's Hessian at ``x``, float64 (n_params, n_params), in ``x``'s layout.

        Formed in blocks of rows with BLAS (O(n (K d)^2) work, O((K d)^2)
        memory): worth it when d is small, for a Newton-Cholesky step, and
        for standard errors (:mod:`fastlogit.inference`).  The multinomial
        model's is singular without a penalty (its symmetric
        parameterization: adding one vector to every class's row changes
        nothing) and, with one, along the intercepts' common shift.
        """
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        H = self.sum_sources("hessian", coef, intercept) / self.weight_sum
        if not self.binary:
            # Class-major (k (d + 1) + j) -> [W.ravel(), b]; the intercepts dropped without one.
            K, d = self.n_rows, self.n_features
            order = np.arange(K * (d + 1)).reshape(K, d + 1)
            order = np.concatenate([order[:, :d].ravel(), order[:, d]]) if self.fit_intercept \
                else order[:, :d].ravel()
            H = np.ascontiguousarray(H[np.ix_(order, order)])
        elif not self.fit_intercept:
            H = np.ascontiguousarray(H[:-1, :-1])
        if self.l2_strength:
            idx = np.arange(self.n_coef)
            H[idx, idx] += self.l2_strength
        return H

    def lipschitz(self, max_iter=10, rtol=1e-3):
        """An estimate of the Lipschitz constant of the smooth part's gradient.

        ``L = c * lambda_max([X, 1].T S [X, 1]) / S + l2_strength`` with
        ``c`` the largest curvature of one row's loss (1/4 binary, 1/2
        softmax): a bound on the Hessian everywhere.  ``lambda_max`` comes
        from at most ``max_iter`` power iterations (one data pass each),
        stopped when it changes by less than ``rtol``; a Rayleigh quotient
        approaches ``lambda_max`` from below, so callers backtrack when a
        step shows the estimate too small.
        """
        d = self.n_features
        v = np.full(d + 1, 1.0 / math.sqrt(d + 1))
        if not self.fit_intercept:
            v[-1] = 0.0
            v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(max_iter):
            Av = self.sum_sources("gram_matvec", v[:d], float(v[-1]))
            if not self.fit_intercept:
                Av[-1] = 0.0
            new = float(v @ Av)
            norm = float(np.linalg.norm(Av))
            if norm == 0.0:
                break
            v = Av / norm
            done = abs(new - lam) <= rtol * new
            lam = new
            if done:
                break
        curvature = BINARY_CURVATURE_BOUND if self.binary else MULTINOMIAL_CURVATURE_BOUND
        return curvature * lam / self.weight_sum + self.l2_strength

    # -- working sets -----------------------------------------------------------

    def restrict(self, features):
        """The same objective over the feature columns ``features`` only.

        Every class keeps its coefficients on those features; the penalty
        keeps its strength (``C`` and the weight sum are unchanged).  Used by
        the proximal solver's working sets; a copy of those columns.
        """
        sub = Objective([source.select_features(features) for source in self.sources],
                        C=self.C, l1_ratio=self.l1_ratio, fit_intercept=self.fit_intercept)
        return sub

    def feature_index(self, features):
        """Positions in ``x`` of the coefficients of ``features`` (all classes) and of the intercepts.

        ``x_sub = x[objective.feature_index(features)]`` is the parameter
        vector of ``objective.restrict(features)``.
        """
        features = np.asarray(features, dtype=np.intp)
        d = self.n_features
        coef_idx = (np.arange(self.n_rows)[:, None] * d + features[None, :]).ravel()
        if self.fit_intercept:
            coef_idx = np.concatenate([coef_idx, np.arange(self.n_coef, self.n_params)])
        return coef_idx
