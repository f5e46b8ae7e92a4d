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
:class:`fastlogit.row_sources.RowSource` is that contract (in memory,
chunked and Dask sources implement it); the penalty is defined here once
(:func:`penalty_strengths`, :func:`l2_penalty`, :func:`l1_penalty`), for the
full-batch objective and the SGD driver alike.

Solvers see a flat float64 parameter vector ``x``:

- binary: ``x = [w (d,), b]``;
- multinomial: ``x = [W.ravel() (K*d,), b (K,)]`` (``W`` in C order, so the
  kernels read ``x[:K*d].reshape(K, d)`` without a copy);

without the intercept part when ``fit_intercept=False``.
"""

import math

import numpy as np

from .kernels.special import BINARY_CURVATURE_BOUND, MULTINOMIAL_CURVATURE_BOUND
from .row_sources import ArrayRows

#: A typical curvature of one row's loss at a fitted model (the data term's
#: Hessian is about this times the columns' covariance), for
#: :meth:`Objective.column_scaling`: at L-BFGS-B's tol=1e-6, 0.25 (the
#: bound) left breast cancer's raw columns at C=1 522 iterations and digits
#: 637, 0.05 200 and 322, 0.01 161 and 196 but twice as many (21) on
#: well-scaled data whose penalty is negligible.
SCALING_CURVATURE = 0.05


def penalty_strengths(C, l1_ratio, weight_sum):
    """``(l2, l1)``: the penalty factors ``(1 - l1_ratio) / (C S)`` and
    ``l1_ratio / (C S)``, ``S`` the weight sum; both 0 for ``C = inf``."""
    C, l1_ratio = float(C), float(l1_ratio)
    if math.isinf(C):
        return 0.0, 0.0
    return (1.0 - l1_ratio) / (C * weight_sum), l1_ratio / (C * weight_sum)


def l2_penalty(w, strength):
    """``strength / 2 * ||w||^2`` for the flat coefficients ``w`` (no intercepts)."""
    return 0.5 * strength * float(w @ w)


def l1_penalty(w, strength):
    """``strength * ||w||_1`` for the flat coefficients ``w`` (no intercepts)."""
    return strength * float(np.abs(w).sum())


class Objective:
    """scikit-learn's penalized logistic-regression objective on a flat parameter vector.

    Parameters
    ----------
    sources : list of row sources (:class:`fastlogit.row_sources.RowSource`) holding the data,
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
    n_classes, n_features : ints.  ``n_scores`` = 1 (binary) or K: scores per
        row, the rows of ``coef``.
    n_params : length of ``x``.  ``n_coef``: its coefficient part ``x[:n_coef]``.
    l2_strength, l1_strength : the penalty factors ``(1 - l1_ratio) / (C S)`` and
        ``l1_ratio / (C S)``.
    n_passes : data passes made so far (each evaluation reads the rows once).
    n_samples : rows over all sources.
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
        self.n_scores = 1 if self.binary else self.n_classes
        self.fit_intercept = bool(fit_intercept)
        self.n_coef = self.n_scores * self.n_features
        self.n_params = self.n_coef + (self.n_scores if self.fit_intercept else 0)
        self.weight_sum = sum(source.weight_sum for source in self.sources)
        self.n_samples = sum(source.n_samples for source in self.sources)
        self.C = float(C)
        self.l1_ratio = float(l1_ratio)
        self.l2_strength, self.l1_strength = penalty_strengths(self.C, self.l1_ratio, self.weight_sum)
        self.n_passes = 0
        self._zero_intercept = 0.0 if self.binary else np.zeros(self.n_scores)
        self._units = None  # the columns' (mean, std, rms), from a sample, once

    @classmethod
    def from_arrays(
        cls, X, y, sample_weight=None, *, n_classes=2, C=1.0, l1_ratio=0.0, fit_intercept=True, n_threads=None
    ):
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
            coef = x[: self.n_coef].reshape(self.n_scores, self.n_features)
            intercept = x[self.n_coef :] if self.fit_intercept else self._zero_intercept
        return coef, intercept

    def pack(self, coef, intercept=None):
        """The flat float64 vector of ``coef`` ((d,) or (1, d) binary, (K, d)) and ``intercept``
        (a float, (1,) or (K,); ignored without ``fit_intercept``)."""
        x = np.zeros(self.n_params)
        x[: self.n_coef] = np.ravel(coef)
        if self.fit_intercept and intercept is not None:
            x[self.n_coef :] = np.ravel(intercept)
        return x

    def to_estimator(self, x):
        """``(coef_, intercept_)`` of ``x`` in scikit-learn's layout: new float64
        arrays (n_scores, d) and (n_scores,) (zeros without ``fit_intercept``).
        :meth:`pack` is the way back."""
        coef, intercept = self.unpack(x)
        coef = np.array(coef, dtype=np.float64).reshape(self.n_scores, self.n_features)
        return coef, np.array(intercept, dtype=np.float64).reshape(-1) * np.ones(self.n_scores)

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
        return self._data_term(*self.sum_sources("loss_grad", coef, intercept))

    def _data_term(self, loss, total):
        """The sources' summed loss and gradient -> the weighted mean, flat."""
        if not math.isfinite(loss):
            # NaN or inf anywhere in X makes the loss non-finite at any
            # parameters (0 * inf is NaN), so the data is checked here, once it
            # matters, instead of in an extra pass before every fit.
            for source in self.sources:
                source.check_finite()
        scale = 1.0 / self.weight_sum
        return loss * scale, self._flat(total) * scale

    def _smooth(self, loss, total, x):
        """The sources' summed loss and gradient -> the smooth part's value and gradient."""
        loss, grad = self._data_term(loss, total)
        if self.l2_strength:
            w = x[: self.n_coef]
            loss += l2_penalty(w, self.l2_strength)
            grad[: self.n_coef] += self.l2_strength * w
        return loss, grad

    def loss_grad(self, x):
        """The smooth part (data term + L2 penalty) and its gradient, in one data pass.

        x : float64 (n_params,).  Returns ``(value, grad)``, grad float64
        (n_params,).  Without an L1 term (``l1_ratio == 0`` or ``C == inf``)
        this is the whole objective, what ``scipy.optimize.minimize`` takes
        with ``jac=True``.
        """
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        return self._smooth(*self.sum_sources("loss_grad", coef, intercept), x)

    def l1_penalty(self, x):
        """The nonsmooth part ``l1_strength * ||W||_1`` (0 without an L1 term)."""
        if not self.l1_strength:
            return 0.0
        return l1_penalty(x[: self.n_coef], self.l1_strength)

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
            g[: self.n_coef] = np.where(
                w != 0, np.abs(gw + lam * np.sign(w)), np.maximum(np.abs(gw) - lam, 0.0)
            )
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

    def hessian_diagonal(self, x):
        """The smooth part's Hessian diagonal at ``x``, float64 (n_params,), one pass:
        Newton-CG's Jacobi preconditioner.  Binary model only; None for softmax
        (whose features' common shifts over the classes have only the penalty's
        curvature, which no diagonal sees: on disparate columns a Jacobi
        preconditioner took 1.75x plain CG's products) and when a row source
        does not give it (Newton-CG then runs unpreconditioned)."""
        if not self.binary or not all(hasattr(source, "hessian_diagonal") for source in self.sources):
            return None
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        diag = self._flat(self.sum_sources("hessian_diagonal", coef, intercept)) / self.weight_sum
        if self.l2_strength:
            diag[: self.n_coef] += self.l2_strength
        return diag

    def null_space(self):
        """The smooth part's exact flat directions: float64 (n_params, r), orthonormal columns.

        The softmax model's scores change nothing when one vector is added to
        every class, so its Hessian is singular along those shifts: the
        intercepts' common shift (unpenalized), and without a penalty each
        feature's common shift too (the objective is flat along them).  The
        gradient is orthogonal to them, and a Newton step solves with
        ``hessian(x) + c N N^T`` (positive definite, and the same step on
        the other directions): exact quadratic Newton in the symmetric
        parameterization, as statsmodels' reference-class ``MNLogit``
        converges.  Binary: none (r = 0).
        """
        features, intercept = self.flat_shifts()
        if not (features or intercept):
            return np.zeros((self.n_params, 0))
        K, d = self.n_scores, self.n_features
        columns = []
        if features:
            for j in range(d):
                v = np.zeros(self.n_params)
                v[np.arange(K) * d + j] = 1.0
                columns.append(v)
        if intercept:
            v = np.zeros(self.n_params)
            v[self.n_coef :] = 1.0
            columns.append(v)
        return np.column_stack(columns) / math.sqrt(K)

    def flat_shifts(self):
        """Which common shifts over the classes span :meth:`null_space`: ``(features,
        intercept)``, booleans: every feature's (softmax without a penalty) and the
        intercepts' (softmax with ``fit_intercept``).  Both False for two classes."""
        if self.binary:
            return False, False
        return (not self.l2_strength and not self.l1_strength), self.fit_intercept

    # -- Newton's step by the Hessian's blocks (optional row-source members) ----------

    @property
    def structured_newton(self):
        """Whether Newton's step can be solved through the Hessian's blocks
        (:meth:`newton_system`), never forming the dense (n_params)^2 matrix: every
        source offers them (``structured_hessian`` True, with ``hessian_blocks`` and
        ``loss_grad_hessian_blocks``: a split design's
        :class:`~fastlogit.split.SplitRows`).  These members are optional in the row-source
        contract; without them (False) solvers take Newton-CG on :meth:`hessp`."""
        return all(getattr(source, "structured_hessian", False) for source in self.sources)

    def newton_system(self, x):
        """The smooth part's Hessian at ``x`` as a linear system held by its blocks, one
        pass: an object whose ``solve(r)`` gives ``H^-1 r`` (float64 (n_params,), ``x``'s
        layout; ``H`` lifted along :meth:`null_space` as :func:`fastlogit.solvers.newton`
        lifts the dense one), ``matvec(v)`` and ``diagonal()``.  Needs
        :attr:`structured_newton`."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        return self._newton_system(self.sum_sources("hessian_blocks", coef, intercept))

    def loss_grad_newton_system(self, x):
        """``(value, grad, system)``: :meth:`loss_grad` and :meth:`newton_system`, one pass
        over the data when :attr:`fused_newton`."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        loss, total, blocks = self.sum_sources("loss_grad_hessian_blocks", coef, intercept)
        value, grad = self._smooth(loss, total, x)
        return value, grad, self._newton_system(blocks)

    def _newton_system(self, blocks):
        features, intercept = self.flat_shifts()
        return blocks.newton_system(
            weight_sum=self.weight_sum,
            l2_strength=self.l2_strength,
            fit_intercept=self.fit_intercept,
            lift_features=features,
            lift_intercept=intercept,
        )

    @property
    def fused_newton(self):
        """Whether :meth:`loss_grad_hessian` reads the data once (every source's
        ``fused_newton``: in memory, from FUSED_NEWTON_MIN_ROWS rows; a split
        design, binary); else it costs a gradient and a Hessian."""
        return all(source.fused_newton for source in self.sources)

    def loss_grad_hessian(self, x):
        """``(value, grad, hessian)`` of the smooth part at ``x``, as :meth:`loss_grad`
        and :meth:`hessian` give them: one pass over the data when :attr:`fused_newton`
        (the kernels of :func:`fastlogit.binary_loss_grad_hessian` and
        :func:`fastlogit.multinomial_loss_grad_hessian`)."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        loss, total, H = self.sum_sources("loss_grad_hessian", coef, intercept)
        value, grad = self._smooth(loss, total, x)
        return value, grad, self._penalized_hessian(H)

    def _column_units(self):
        """``(mean, std, rms)`` of every column, float64 (d,) each, estimated from a
        sample of rows (the sources' :meth:`column_moments`: no data pass)."""
        if self._units is None:
            parts = [source.column_moments() for source in self.sources]
            S, first, second = (sum(part[k] for part in parts) for k in range(3))
            S = max(S, np.finfo(np.float64).tiny)
            with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf in X: found by the first pass
                mean = first / S
                rms = np.sqrt(np.maximum(second / S, 0.0))
                std = np.sqrt(np.maximum(second / S - mean**2, 0.0))
            finite = np.isfinite(mean) & np.isfinite(rms) & np.isfinite(std)
            fills = ((mean, 0.0), (std, 1.0), (rms, 1.0))
            self._units = tuple(np.where(finite, a, fill) for a, fill in fills)
        return self._units

    def column_spread(self):
        """How far apart the columns' units are: ``max(rms) / min(std)`` over the
        non-constant columns (1 for standardized data), estimated from a
        sample of rows (the sources' :meth:`column_moments`: no data pass).

        Without an intercept the root mean square stands for both.  Large
        values (raw columns in disparate units or with large offsets) make
        the Hessian ill-conditioned: first-order solvers crawl there, Newton
        does not care.
        """
        _, std, rms = self._column_units()
        spread = std if self.fit_intercept else rms
        varying = spread > 1e-12 * np.maximum(rms, np.finfo(np.float64).tiny)
        if not varying.any():
            return 1.0
        return float(rms[varying].max() / spread[varying].min())

    def column_scaling(self):
        """The change of parameters that standardizes the columns: a :class:`ColumnScaling`.

        From a sample of rows (no data pass).  First-order solvers run on
        its parameters ``v``, in which every column has unit spread and,
        with an intercept, mean 0, so their progress does not depend on the
        columns' units; the objective, the data and the returned
        coefficients are unchanged (nothing is copied).
        """
        mean, std, rms = self._column_units()
        tiny = np.finfo(np.float64).tiny
        if self.fit_intercept:
            varying = std > 1e-8 * np.maximum(rms, tiny)
            shift = np.where(varying, mean, 0.0)
            scale = np.where(varying, std, rms)
        else:
            shift, scale = np.zeros_like(rms), rms
        # A coefficient's curvature is about c s_j^2 (the data) plus the L2
        # penalty's l2: scaled by sqrt(s_j^2 + l2 / c), every coordinate's is
        # about c, also for columns whose tiny spread the penalty dominates.
        scale = np.sqrt(scale**2 + self.l2_strength / SCALING_CURVATURE)
        scale = np.where(scale > 0.0, scale, 1.0)
        return ColumnScaling(shift, scale, self.n_scores, self.fit_intercept)

    @property
    def hessian_flops(self):
        """Multiply-adds of one exact :meth:`hessian`: per pair of classes, each
        source's ``hessian_entries`` (binary CSR in memory: the sum over rows of
        (nonzeros + 1)^2), else n (d + 1)^2."""
        pairs = 1 if self.binary else self.n_classes * (self.n_classes + 1) // 2
        dense = (self.n_features + 1) ** 2
        entries = sum(getattr(source, "hessian_entries", source.n_samples * dense) for source in self.sources)
        return entries * pairs

    def score_outer(self, x):
        """``sum_i s_i g_i g_i^T`` over every source's rows, ``g_i`` row i's score
        (the gradient of its log-likelihood; no penalty): the meat of the HC
        covariances, class-major ((d + 1) square binary, K (d + 1) softmax), one pass."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        return self.sum_sources("score_outer", coef, intercept)

    def score_group_sums(self, x, groups, n_groups):
        """Each group's summed score over every source's rows: float64 (n_groups,
        q (d + 1)), one pass.  ``groups``: int codes in [0, n_groups), one per row,
        the sources' rows in order."""
        coef, intercept = self.unpack(np.ascontiguousarray(x, dtype=np.float64))
        total, offset = None, 0
        for source in self.sources:
            rows = source.n_samples
            part = source.score_group_sums(coef, intercept, groups[offset : offset + rows], n_groups)
            offset += rows
            total = part if total is None else total + part
        self.n_passes += 1
        return total

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
        return self._penalized_hessian(self.sum_sources("hessian", coef, intercept))

    def _penalized_hessian(self, H):
        """The sources' summed Hessian -> the smooth part's, in ``x``'s layout."""
        H = H / self.weight_sum
        if not self.binary:
            # Class-major (k (d + 1) + j) -> [W.ravel(), b]; the intercepts dropped without one.
            K, d = self.n_scores, self.n_features
            order = np.arange(K * (d + 1)).reshape(K, d + 1)
            order = (
                np.concatenate([order[:, :d].ravel(), order[:, d]])
                if self.fit_intercept
                else order[:, :d].ravel()
            )
            H = np.ascontiguousarray(H[np.ix_(order, order)])
        elif not self.fit_intercept:
            H = np.ascontiguousarray(H[:-1, :-1])
        if self.l2_strength:
            idx = np.arange(self.n_coef)
            H[idx, idx] += self.l2_strength
        return H

    def lipschitz(self, max_iter=10, rtol=1e-3, scaling=None):
        """An estimate of the Lipschitz constant of the smooth part's gradient.

        ``L = c * lambda_max([X, 1].T S [X, 1]) / S + l2_strength`` with
        ``c`` the largest curvature of one row's loss (1/4 binary, 1/2
        softmax): a bound on the Hessian everywhere.  ``lambda_max`` comes
        from at most ``max_iter`` power iterations (one data pass each),
        stopped when it changes by less than ``rtol``; a Rayleigh quotient
        approaches ``lambda_max`` from below, so callers backtrack when a
        step shows the estimate too small.  With a :class:`ColumnScaling`,
        the constant of the gradient in its parameters ``v`` (the Gram
        matrix of the standardized columns, the penalty ``l2 / scale_j^2``).
        """
        d = self.n_features
        one = None if scaling is None else ColumnScaling(scaling.shift, scaling.scale, 1, self.fit_intercept)
        m = d + self.fit_intercept
        v = np.full(d + 1, 1.0 / math.sqrt(d + 1))
        if not self.fit_intercept:
            v[-1] = 0.0
            v /= np.linalg.norm(v)
        lam = 0.0
        for _ in range(max_iter):
            u = v
            if one is not None:  # [X, 1] of the standardized columns: T^T G T
                u = np.zeros(d + 1)
                u[:m] = one.to_x(v[:m])
            Av = self.sum_sources("gram_matvec", u[:d], float(u[-1]))
            if one is not None:
                Av[:m] = one.grad_to_v(Av[:m])
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
        penalty = self.l2_strength
        if scaling is not None and d:
            penalty /= float(np.min(scaling.scale)) ** 2
        return curvature * lam / self.weight_sum + penalty

    # -- working sets -----------------------------------------------------------

    def select_features(self, features):
        """The same objective over the feature columns ``features`` only.

        Every class keeps its coefficients on those features; the penalty
        keeps its strength (``C`` and the weight sum are unchanged).  Used by
        the proximal solver's working sets; a copy of those columns.
        """
        return Objective(
            [source.select_features(features) for source in self.sources],
            C=self.C,
            l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
        )

    def feature_index(self, features):
        """Positions in ``x`` of the coefficients of ``features`` (all classes) and of the intercepts.

        ``x_sub = x[objective.feature_index(features)]`` is the parameter
        vector of ``objective.select_features(features)``.
        """
        features = np.asarray(features, dtype=np.intp)
        d = self.n_features
        coef_idx = (np.arange(self.n_scores)[:, None] * d + features[None, :]).ravel()
        if self.fit_intercept:
            coef_idx = np.concatenate([coef_idx, np.arange(self.n_coef, self.n_params)])
        return coef_idx


class _FoldSource:
    """Model ``j``'s view of a :class:`~fastlogit.row_sources.FoldRows`: what an
    :class:`Objective` reads of a source (sizes, weight sum, Hessian, column
    moments, finiteness); its loss and gradient come from the fused pass of
    :class:`FoldObjective`, never from here."""

    fused_newton = False

    def __init__(self, rows, j):
        self.rows, self.j = rows, j
        self.n_features, self.n_classes = rows.n_features, rows.n_classes
        self.weight_sum = float(rows.weight_sums[j])
        self.n_samples = int(rows.n_samples_per_fold[j])

    def hessian(self, coef, intercept):
        return self.rows.hessian(self.j, coef, intercept)

    def column_moments(self):
        return self.rows.column_moments()

    def check_finite(self):
        self.rows.check_finite()


class FoldObjective:
    """The k training objectives of k-fold cross-validation as one objective.

    Its parameter vector stacks the k models' flat vectors (each in
    :class:`Objective`'s layout), its value is the sum of their objectives
    (each model's data term divided by its own training weight and its own
    penalty ``1 / (2 C S_j)``), so its minimizer is every model's own
    minimizer, and every evaluation is *one* pass over the rows for all k
    models (:class:`~fastlogit.row_sources.FoldRows`).  ``max |grad|`` over
    the stack is the largest of the k models' optimality measures, so a
    solver's ``tol`` means what it means for each fit alone.

    Smooth objectives only (``l1_ratio = 0`` or ``C = inf``): the solvers
    that take it are lbfgs, newton and auto.  ``folds[j]`` is model ``j``'s
    own :class:`Objective` (its layout, penalty and Hessian).
    """

    l1_strength = 0.0
    fused_newton = False

    def __init__(self, rows, *, C=1.0, fit_intercept=True):
        self.rows = rows
        self.n_folds = k = rows.n_folds
        self.folds = [
            Objective([_FoldSource(rows, j)], C=C, l1_ratio=0.0, fit_intercept=fit_intercept)
            for j in range(k)
        ]
        first = self.folds[0]
        self.C = float(C)
        self.binary, self.n_scores, self.n_features = first.binary, first.n_scores, first.n_features
        self.fit_intercept = first.fit_intercept
        self.fold_params = first.n_params
        self.n_params = k * first.n_params
        self.n_passes = 0
        self._last = None  # (x, value, gradient) of the last evaluation

    def split(self, x):
        """``x`` as a (k, fold_params) view: row j is model j's flat vector."""
        return np.ascontiguousarray(x, dtype=np.float64).reshape(self.n_folds, self.fold_params)

    def stacked(self, x):
        """``(coefs, intercepts)`` for the fused kernels: float64 (k, d) and (k,)
        binary, (k, K, d) and (k, K) softmax (zeros without intercepts)."""
        xs = self.split(x)
        k, q, d = self.n_folds, self.n_scores, self.n_features
        coefs = np.ascontiguousarray(xs[:, : q * d].reshape(k, q, d))
        intercepts = xs[:, q * d :].copy() if self.fit_intercept else np.zeros((k, q))
        if self.binary:
            return coefs.reshape(k, d), intercepts.reshape(k)
        return coefs, intercepts

    def loss_grad(self, x):
        """Sum of the k objectives and the stacked gradient: one data pass (none when
        ``x`` is the last point evaluated, e.g. a solver's result checked fold by fold)."""
        xs = self.split(x)
        if self._last is not None and np.array_equal(self._last[0], xs):
            return self._last[1], self._last[2].copy()
        losses, grads = self.rows.loss_grad(*self.stacked(x))
        self.n_passes += 1
        value, grad = 0.0, np.empty(self.n_params)
        for j, fold in enumerate(self.folds):
            f, g = fold._smooth(float(losses[j]), grads[j], xs[j])
            value += f
            grad[j * self.fold_params : (j + 1) * self.fold_params] = g
        self._last = (xs.copy(), value, grad.copy())
        return value, grad

    def value(self, x):
        return self.loss_grad(x)[0]

    def optimality(self, x, grad):
        return float(np.abs(grad).max()) if grad.size else 0.0

    def fold_optimality(self, grad):
        """Each model's ``max |grad|``, float64 (k,)."""
        return np.abs(np.reshape(grad, (self.n_folds, self.fold_params))).max(axis=1)

    def hessp(self, x, v):
        """The stacked (block-diagonal) Hessian times ``v``: one data pass."""
        vs = self.split(v)
        vec_coefs, vec_intercepts = self.stacked(v)
        total = self.rows.hessp(*self.stacked(x), vec_coefs, vec_intercepts)
        self.n_passes += 1
        out = np.empty(self.n_params)
        for j, fold in enumerate(self.folds):
            hv = fold._flat(total[j]) / fold.weight_sum
            if fold.l2_strength:
                hv[: fold.n_coef] += fold.l2_strength * vs[j, : fold.n_coef]
            out[j * self.fold_params : (j + 1) * self.fold_params] = hv
        return out

    def hessian(self, x):
        """The block-diagonal Hessian, float64 (n_params, n_params): k blocked passes."""
        from scipy.linalg import block_diag

        xs = self.split(x)
        return block_diag(*(fold.hessian(xs[j]) for j, fold in enumerate(self.folds)))

    def null_space(self):
        from scipy.linalg import block_diag

        return block_diag(*(fold.null_space() for fold in self.folds))

    def column_spread(self):
        return self.folds[0].column_spread()

    def column_scaling(self):
        """Every model's :meth:`Objective.column_scaling` (the same rows' units), stacked."""
        first = self.folds[0].column_scaling()
        return ColumnScaling(first.shift, first.scale, self.n_scores, self.fit_intercept, self.n_folds)

    @property
    def hessian_flops(self):
        return sum(fold.hessian_flops for fold in self.folds)


class ColumnScaling:
    """``x = to_x(v)``: an objective's parameters ``x`` as those ``v`` of standardized columns.

    With ``shift`` m and ``scale`` s (float64 (d,)), the model of the columns
    ``(x_j - m_j) / s_j`` with coefficients ``v`` and intercepts ``v_b`` scores
    every row as the original model with ``w_kj = v_kj / s_j`` and
    ``b_k = v_b,k - sum_j m_j w_kj``: a linear, invertible change of
    parameters, O(size of x) per call.  A first-order solver minimizing
    ``f(to_x(v))``, with gradient ``grad_to_v(grad f)``, sees standardized
    columns without a copy of the data.  ``n_blocks`` stacked parameter
    vectors (:class:`FoldObjective`) share the scaling.
    """

    def __init__(self, shift, scale, n_scores, fit_intercept, n_blocks=1):
        self.shift = np.asarray(shift, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.n_scores, self.fit_intercept, self.n_blocks = int(n_scores), bool(fit_intercept), int(n_blocks)
        self.n_features = self.shift.shape[0]
        self._n_coef = self.n_scores * self.n_features

    def _parts(self, x):
        """``(coef (blocks, q, d), intercept (blocks, q) or None)`` views of a copy of ``x``."""
        xs = np.array(x, dtype=np.float64).reshape(self.n_blocks, -1)
        coef = xs[:, : self._n_coef].reshape(self.n_blocks, self.n_scores, self.n_features)
        intercept = xs[:, self._n_coef :] if self.fit_intercept else None
        return xs, coef, intercept

    def to_x(self, v):
        """The objective's parameters of ``v``: a new float64 array."""
        xs, coef, intercept = self._parts(v)
        coef /= self.scale
        if intercept is not None:
            intercept -= coef @ self.shift
        return xs.reshape(-1)

    def to_v(self, x):
        """The inverse of :meth:`to_x`: a new float64 array."""
        xs, coef, intercept = self._parts(x)
        if intercept is not None:
            intercept += coef @ self.shift
        coef *= self.scale
        return xs.reshape(-1)

    def grad_to_v(self, g):
        """The gradient in ``v`` of a function whose gradient in ``x`` is ``g``
        (the transpose of :meth:`to_x`'s map): a new float64 array."""
        gs, coef, intercept = self._parts(g)
        if intercept is not None:
            coef -= intercept[:, :, None] * self.shift
        coef /= self.scale
        return gs.reshape(-1)

    def grad_to_x(self, g):
        """The inverse of :meth:`grad_to_v`: a new float64 array."""
        gs, coef, intercept = self._parts(g)
        coef *= self.scale
        if intercept is not None:
            coef += intercept[:, :, None] * self.shift
        return gs.reshape(-1)

    def restricted(self, features):
        """The scaling of the columns ``features`` only (an int array)."""
        return ColumnScaling(
            self.shift[features], self.scale[features], self.n_scores, self.fit_intercept, self.n_blocks
        )
