"""A split design's Hessian by its blocks, and Newton's step solved through them.

The Hessian of a split design (:mod:`fastlogit.split`: a dense block and
categorical blocks held as codes) is summed by its distinct blocks
(:mod:`fastlogit.kernels.split`): per pair of classes ``q = (k, l)``, the
dense block with its intercept row, each level's sums against the dense
columns, each level's own curvature (a categorical's block of
``X^T diag(h) X`` is diagonal) and the contingency tables between two
categoricals.  :class:`GramBlocks` holds those sums; :class:`BlockNewtonSystem`
is the objective's Newton system built from them (scaled by the weight sum,
the L2 penalty on the coefficients' diagonal, the softmax model's flat
directions lifted) and solves ``H p = r`` without ever forming the dense
``(d + 1) x (d + 1)`` matrix:

- **Schur complement** (exact): the categorical with the most levels (its
  ``L_b`` levels' block ``D`` is block diagonal: one K x K block per level,
  a number per level for two classes) is eliminated, and the rest, ``r``
  columns (the dense block, the intercept, the other categoricals' levels),
  is solved densely by Cholesky:
  ``S = A - B D^-1 B^T``, ``S u = r_A - B D^-1 r_D``, ``v = D^-1 (r_D - B^T u)``.
  Work ``O((r K)^2 L_b K + (r K)^3)``, memory ``O(r K L_b K + (r K)^2)``:
  a 1 000-level categorical beside 15 other columns is a 16 x 16 Cholesky.
- **Preconditioned conjugate gradients** when that elimination would cost
  more than :data:`SCHUR_MAX_FLOPS` or hold more than :data:`SCHUR_MAX_ENTRIES`
  (several categoricals with thousands of levels each): the Hessian-vector
  products come from the blocks (no data pass, ``O(K^2 (p^2 + L p + P))``
  each), preconditioned by the block Jacobi matrix (the dense block with
  its intercept by Cholesky, each level's K x K block inverted), solved to
  :data:`PCG_RTOL`.

This module imports nothing of fastlogit: a design is read through its
attributes (``n_dense``, ``n_levels``, ``offsets``, ``pair_offsets``,
``n_features``, ``column_order``; :class:`fastlogit.split.SplitDesign`).
"""

import numpy as np

#: Multiply-adds up to which :class:`BlockNewtonSystem` eliminates the largest
#: categorical exactly (a Schur complement and a dense Cholesky of the rest: at
#: most the work of the structured Gram sums over 10^7 rows of 14 columns);
#: above, preconditioned CG on the blocks.
SCHUR_MAX_FLOPS = 1 << 31

#: Entries of the cross block ``B`` (kept columns x eliminated levels, times K^2)
#: up to which the Schur complement is used (it holds ``B`` and ``B D^-1``:
#: 256 MiB at most); above, preconditioned CG, which holds only the blocks.
SCHUR_MAX_ENTRIES = 1 << 24

#: Relative residual ``||H p - r|| / ||r||`` at which the preconditioned CG
#: stops: a Newton step that exact to rounding (its products cost no data pass).
PCG_RTOL = 1e-10

#: Iterations of the preconditioned CG at most (each costs the blocks' size).
PCG_MAX_ITER = 1000


def class_pairs(n_scores):
    """The pairs of classes ``(k, l)``, ``k <= l``, in the kernels' order:
    (0, 0), (0, 1), ..., (0, K - 1), (1, 1), ...; ``[(0, 0)]`` for one score."""
    return [(k, l) for k in range(n_scores) for l in range(k, n_scores)]


class GramBlocks:
    """A split design's structured Gram sums, one set per pair of classes (sums over
    rows, reduced over threads, in the design's *stored* column order).

    Parameters
    ----------
    design : the :class:`~fastlogit.split.SplitDesign` the sums are over (read for
        its structure only).
    n_scores : 1 (binary) or K (softmax).
    dense : float64 (Q, p + 1, p + 1): ``sum h_q x~ x~^T``, ``x~ = [x, 1]``
        (the dense block, the intercept last).
    cross : float64 (Q, L, p): per level, ``sum h_q x`` over its rows.
    levels : float64 (Q, L): per level, ``sum h_q``.
    pairs : float64 (Q, P): the contingency tables of each pair of categoricals
        ``j < k`` (``design.pair_offsets[j, k]``, laid out ``c_j * L_k + c_k``).

    ``Q = K (K + 1) / 2`` pairs of classes (:func:`class_pairs`), one for
    two classes; ``h_q`` is the rows' weight of the pair (the Hessian's
    ``s (p_k [k == l] - p_k p_l)``, ``s sigmoid'(z)`` binary).  Sums of two
    sources over the same design add (``+``).
    """

    def __init__(self, design, n_scores, dense, cross, levels, pairs):
        self.design = design
        self.n_scores = int(n_scores)
        self.dense, self.cross, self.levels, self.pairs = dense, cross, levels, pairs

    def __add__(self, other):
        if not isinstance(other, GramBlocks) or other.dense.shape != self.dense.shape:
            raise TypeError("only the Gram blocks of the same design and classes add up")
        return GramBlocks(
            self.design,
            self.n_scores,
            self.dense + other.dense,
            self.cross + other.cross,
            self.levels + other.levels,
            self.pairs + other.pairs,
        )

    def pair_table(self, q, j, k):
        """The contingency table of categoricals ``j != k`` for pair of classes ``q``:
        a (L_j, L_k) view (a transposed view for ``j > k``)."""
        D = self.design
        a, b = (j, k) if j < k else (k, j)
        at = int(D.pair_offsets[a, b])
        table = self.pairs[q, at : at + int(D.n_levels[a] * D.n_levels[b])].reshape(
            int(D.n_levels[a]), int(D.n_levels[b])
        )
        return table if j < k else table.T

    def level_slice(self, j):
        """Categorical ``j``'s levels in ``cross`` and ``levels`` (numbered across categoricals)."""
        first = int(self.design.offsets[j]) - self.design.n_dense
        return slice(first, first + int(self.design.n_levels[j]))

    def gram(self, q, categoricals, intercept=True):
        """The Gram matrix of pair ``q`` over the columns ``[dense block, levels of
        each of categoricals (in that order), intercept]``: float64 (r, r), dense.

        ``categoricals``: a sequence of categorical indices; ``intercept``:
        whether the intercept's row and column are included (last).
        """
        p = self.design.n_dense
        sizes = [int(self.design.n_levels[j]) for j in categoricals]
        starts = p + np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
        r = int(starts[-1]) + bool(intercept)
        G = np.zeros((r, r))
        G[:p, :p] = self.dense[q, :p, :p]
        if intercept:
            G[:p, -1] = G[-1, :p] = self.dense[q, :p, p]
            G[-1, -1] = self.dense[q, p, p]
        for a, j in enumerate(categoricals):
            rows = slice(starts[a], starts[a + 1])
            lv = self.level_slice(j)
            G[rows, :p] = self.cross[q, lv]
            G[:p, rows] = self.cross[q, lv].T
            idx = np.arange(starts[a], starts[a + 1])
            G[idx, idx] = self.levels[q, lv]
            if intercept:
                G[rows, -1] = G[-1, rows] = self.levels[q, lv]
            for b in range(a + 1, len(categoricals)):
                cols = slice(starts[b], starts[b + 1])
                table = self.pair_table(q, j, categoricals[b])
                G[rows, cols] = table
                G[cols, rows] = table.T
        return G

    def gram_against(self, q, categoricals, j, intercept=True):
        """The Gram matrix of pair ``q`` between the columns of :meth:`gram` (rows) and
        categorical ``j``'s levels (columns): float64 (r, L_j); ``j`` not in ``categoricals``."""
        lv = self.level_slice(j)
        blocks = [self.cross[q, lv].T]
        blocks += [self.pair_table(q, k, j) for k in categoricals]
        if intercept:
            blocks.append(self.levels[q, lv][None, :])
        return np.concatenate(blocks, axis=0)

    def matvec(self, q, u):
        """The Gram matrix of pair ``q`` over every column and the intercept times ``u``
        (float64 (d + 1,), stored order, the intercept last): float64 (d + 1,)."""
        D = self.design
        p, d = D.n_dense, D.n_features
        dense, cross, levels = self.dense[q], self.cross[q], self.levels[q]
        ud, ul, ub = u[:p], u[p:d], u[d]
        out = np.empty(d + 1)
        out[:p] = dense[:p, :p] @ ud + dense[:p, p] * ub + cross.T @ ul
        out[d] = dense[p, :p] @ ud + dense[p, p] * ub + levels @ ul
        ol = out[p:d]
        ol[:] = cross @ ud + levels * (ul + ub)
        m = len(D.n_levels)
        for j in range(m):
            for k in range(j + 1, m):
                table = self.pair_table(q, j, k)
                if table.size:
                    ol[self.level_slice(j)] += table @ ul[self.level_slice(k)]
                    ol[self.level_slice(k)] += table.T @ ul[self.level_slice(j)]
        return out

    def newton_system(self, *, weight_sum, l2_strength, fit_intercept, lift_features, lift_intercept):
        """The objective's Newton system from these sums: a :class:`BlockNewtonSystem`."""
        return BlockNewtonSystem(
            self,
            weight_sum=weight_sum,
            l2_strength=l2_strength,
            fit_intercept=fit_intercept,
            lift_features=lift_features,
            lift_intercept=lift_intercept,
        )


def _block_pinv(blocks):
    """The pseudo-inverse of each symmetric PSD block of ``blocks`` (n, K, K): float64
    (n, K, K).  A zero block (a level no row has) gives a zero block."""
    n, K, _ = blocks.shape
    if K == 1:
        out = np.zeros_like(blocks)
        positive = blocks > 0.0
        np.divide(1.0, blocks, out=out, where=positive)
        return out
    if n == 0:
        return np.zeros_like(blocks)
    return np.linalg.pinv(blocks, hermitian=True)


class BlockNewtonSystem:
    """The smooth objective's Hessian (scaled, penalized, its flat directions lifted)
    held as a split design's blocks: ``solve(r)`` gives Newton's step, exactly.

    Parameters
    ----------
    blocks : :class:`GramBlocks`, summed over every row source.
    weight_sum : float, ``S``: the data term is the sums divided by it.
    l2_strength : float, added to the coefficients' diagonal (not the intercepts').
    fit_intercept : bool, whether the parameters hold intercepts.
    lift_features, lift_intercept : bool.  The softmax model's exact flat
        directions (:meth:`fastlogit.objective.Objective.null_space`): every
        feature's common shift over the classes, and the intercepts'.  Lifted
        as there, ``H + c N N^T`` with ``c`` the mean diagonal, which adds
        ``c / K`` to every entry of that column's K x K block: the structure
        is kept.

    The parameter vector ``x`` is the objective's: ``[w (d,), b]`` binary,
    ``[W.ravel() (K d,), b (K,)]`` softmax, ``w`` in the design's column
    order, without ``b`` when ``fit_intercept`` is False.  ``method`` says
    how :meth:`solve` works ("schur" or "pcg", see the module docstring).
    """

    def __init__(self, blocks, *, weight_sum, l2_strength, fit_intercept, lift_features, lift_intercept):
        D = blocks.design
        self.blocks = blocks
        self.K = K = blocks.n_scores
        self.pairs = class_pairs(K)
        self.scale = 1.0 / float(weight_sum)
        self.l2 = float(l2_strength)
        self.fit_intercept = bool(fit_intercept)
        self.p, self.d = D.n_dense, D.n_features
        d = self.d
        self.n_cols = n_cols = d + self.fit_intercept
        self.n_params = n_cols * K
        self._x_index(D)
        # The lift: c times the mean diagonal, as solvers._lifted.
        diag = self._diagonal()
        self.lift = np.zeros(n_cols)
        if lift_features:
            self.lift[:d] = 1.0
        if lift_intercept and self.fit_intercept:
            self.lift[d] = 1.0
        if self.lift.any():
            c = max(float(np.mean(diag)), np.finfo(np.float64).tiny)
            self.lift *= c / K
        # The categorical eliminated: the one with the most levels.
        n_levels = np.asarray(D.n_levels, dtype=np.int64)
        self.eliminated = int(np.argmax(n_levels)) if n_levels.size and n_levels.max() > 0 else None
        L_b = 0 if self.eliminated is None else int(n_levels[self.eliminated])
        r = n_cols - L_b
        flops = float(r * K) ** 2 * L_b * K + float(r * K) ** 3 / 3
        cheap = flops <= SCHUR_MAX_FLOPS and r * K * L_b * K <= SCHUR_MAX_ENTRIES
        self.method = "schur" if cheap else "pcg"
        if self.method == "schur":
            self._schur()
        else:
            self._jacobi()

    # -- layout --------------------------------------------------------------------

    def _x_index(self, D):
        """``self.internal``: where each entry of ``x`` goes in the internal layout (the
        stored columns, the intercept last, each column's K classes side by side)."""
        K, d = self.K, self.d
        order = np.arange(d) if D.column_order is None else np.asarray(D.column_order, dtype=np.intp)
        col = np.tile(order, K)
        cls = np.repeat(np.arange(K), d)
        if self.fit_intercept:
            col = np.concatenate([col, np.full(K, d)])
            cls = np.concatenate([cls, np.arange(K)])
        self.internal = col * K + cls

    def _to_internal(self, v):
        """``x``-layout (n_params,) -> (n_cols, K), stored columns, the intercept last."""
        out = np.empty(self.n_params)
        out[self.internal] = v
        return out.reshape(self.n_cols, self.K)

    def _to_x(self, U):
        return U.reshape(-1)[self.internal]

    def _diagonal(self):
        """The scaled, penalized Hessian's diagonal, (n_cols, K) stored order (no lift)."""
        b, p, d = self.blocks, self.p, self.d
        out = np.empty((d + 1, self.K))
        for q, (k, l) in enumerate(self.pairs):
            if k != l:
                continue
            out[:p, k] = np.diagonal(b.dense[q])[:p]
            out[p:d, k] = b.levels[q]
            out[d, k] = b.dense[q, p, p]
        out *= self.scale
        out[:d] += self.l2
        return out[: self.n_cols]

    def _classes(self, grams, r1, r2):
        """Per-pair (r1, r2) matrices -> the (r1, K, r2, K) matrix of every pair of classes."""
        K = self.K
        out = np.empty((r1, K, r2, K))
        for G, (k, l) in zip(grams, self.pairs):
            out[:, k, :, l] = G
            if k != l:
                out[:, l, :, k] = G
        return out

    # -- the Schur complement ----------------------------------------------------------

    def _schur(self):
        from scipy.linalg import LinAlgError, cho_factor

        b, K, p, d = self.blocks, self.K, self.p, self.d
        m = len(b.design.n_levels)
        j_b = self.eliminated
        others = [j for j in range(m) if j != j_b]
        # The kept columns' stored indices, in the order of GramBlocks.gram.
        kept = [np.arange(p)]
        kept += [np.arange(b.design.offsets[j], b.design.offsets[j] + b.design.n_levels[j]) for j in others]
        if self.fit_intercept:
            kept.append(np.array([d]))
        self.kept = np.concatenate(kept).astype(np.intp)
        r = self.kept.size
        Q = range(len(self.pairs))
        A = self._classes([b.gram(q, others, self.fit_intercept) for q in Q], r, r) * self.scale
        A = self._penalized(A.reshape(r * K, r * K), self.kept)
        if j_b is None:
            self.elim = np.zeros(0, dtype=np.intp)
            self.B = np.zeros((r * K, 0))
            self.Dinv = np.zeros((0, K, K))
        else:
            start = int(b.design.offsets[j_b])
            L_b = int(b.design.n_levels[j_b])
            self.elim = np.arange(start, start + L_b, dtype=np.intp)
            lv = b.level_slice(j_b)
            B = self._classes([b.gram_against(q, others, j_b, self.fit_intercept) for q in Q], r, L_b)
            self.B = (B * self.scale).reshape(r * K, L_b * K)
            blocks = np.empty((L_b, K, K))
            for q, (k, l) in enumerate(self.pairs):
                blocks[:, k, l] = blocks[:, l, k] = b.levels[q, lv] * self.scale
            blocks[:, np.arange(K), np.arange(K)] += self.l2
            blocks += self.lift[self.elim, None, None]
            self.Dinv = _block_pinv(blocks)
            # S = A - B D^-1 B^T, with D^-1 B^T level by level.
            BD = np.einsum("acm,cml->acl", self.B.reshape(r * K, L_b, K), self.Dinv).reshape(r * K, L_b * K)
            A -= BD @ self.B.T
            A = 0.5 * (A + A.T)
        self.S = A
        try:
            self._factor = cho_factor(A)
        except LinAlgError:
            # Singular: no penalty and a flat direction (collinear columns, separable data).
            self._factor = None

    def _penalized(self, A, columns):
        """The scaled Gram matrix ``A`` (r K, r K) over the stored ``columns`` (r,) with the
        penalty on the coefficients' diagonal and the lift in each lifted column's K x K
        block (``c / K`` in every entry): the system's matrix on those columns (in place)."""
        K = self.K
        idx = np.arange(A.shape[0])
        A[idx, idx] += np.repeat(np.where(columns < self.d, self.l2, 0.0), K)
        for a, col in enumerate(columns):
            if self.lift[col]:
                A[a * K : (a + 1) * K, a * K : (a + 1) * K] += self.lift[col]
        return A

    def _solve_kept(self, rhs):
        from scipy.linalg import cho_solve

        if self._factor is not None:
            return cho_solve(self._factor, rhs)
        return np.linalg.lstsq(self.S, rhs, rcond=None)[0]

    def _solve_schur(self, R):
        K = self.K
        r_a = R[self.kept].reshape(-1)
        r_e = R[self.elim]  # (L_b, K)
        t = np.einsum("cml,cl->cm", self.Dinv, r_e)
        u = self._solve_kept(r_a - self.B @ t.reshape(-1))
        v = t - np.einsum("cml,cl->cm", self.Dinv, (self.B.T @ u).reshape(-1, K))
        out = np.empty_like(R)
        out[self.kept] = u.reshape(-1, K)
        out[self.elim] = v
        return out

    # -- preconditioned conjugate gradients on the blocks --------------------------------

    def _jacobi(self):
        """Block Jacobi: the dense block and intercept by Cholesky, each level's K x K block."""
        from scipy.linalg import LinAlgError, cho_factor

        b, K, p, d = self.blocks, self.K, self.p, self.d
        self.kept = np.append(np.arange(p), [d] if self.fit_intercept else []).astype(np.intp)
        r = self.kept.size
        A = self._classes([b.gram(q, [], self.fit_intercept) for q in range(len(self.pairs))], r, r)
        self.S = A = self._penalized((A * self.scale).reshape(r * K, r * K), self.kept)
        try:
            self._factor = cho_factor(A)
        except LinAlgError:
            self._factor = None
        L = d - p
        blocks = np.empty((L, K, K))
        for q, (k, l) in enumerate(self.pairs):
            blocks[:, k, l] = blocks[:, l, k] = b.levels[q] * self.scale
        blocks[:, np.arange(K), np.arange(K)] += self.l2
        blocks += self.lift[p:d, None, None]
        self.level_inv = _block_pinv(blocks)

    def _precondition(self, R):
        out = np.empty_like(R)
        out[self.kept] = self._solve_kept(R[self.kept].reshape(-1)).reshape(-1, self.K)
        out[self.p : self.d] = np.einsum("cml,cl->cm", self.level_inv, R[self.p : self.d])
        return out

    def _matvec_internal(self, U):
        """The lifted system's matrix times ``U`` (n_cols, K), from the blocks."""
        b, K, d = self.blocks, self.K, self.d
        full = np.zeros((d + 1, K))
        full[: self.n_cols] = U
        out = np.zeros((d + 1, K))
        for q, (k, l) in enumerate(self.pairs):
            out[:, k] += b.matvec(q, full[:, l])
            if k != l:
                out[:, l] += b.matvec(q, full[:, k])
        out = out[: self.n_cols] * self.scale
        out[:d] += self.l2 * U[:d]
        out += self.lift[:, None] * U.sum(axis=1, keepdims=True)
        return out

    def _solve_pcg(self, R):
        x = np.zeros_like(R)
        res = R.copy()
        z = self._precondition(res)
        direction = z.copy()
        rz = float(np.vdot(res, z))
        target = PCG_RTOL * float(np.linalg.norm(R))
        for _ in range(PCG_MAX_ITER):
            if float(np.linalg.norm(res)) <= target or rz <= 0.0:
                break
            Hd = self._matvec_internal(direction)
            curvature = float(np.vdot(direction, Hd))
            if not curvature > 0.0:
                break
            alpha = rz / curvature
            x += alpha * direction
            res -= alpha * Hd
            z = self._precondition(res)
            rz_new = float(np.vdot(res, z))
            direction = z + (rz_new / rz) * direction
            rz = rz_new
        return x

    # -- the public part ---------------------------------------------------------------

    def solve(self, rhs):
        """``x`` solving ``H x = rhs`` (``H`` lifted along the flat directions), float64
        (n_params,) in the objective's layout: exact (Schur) or to :data:`PCG_RTOL`."""
        R = self._to_internal(np.asarray(rhs, dtype=np.float64))
        out = self._solve_schur(R) if self.method == "schur" else self._solve_pcg(R)
        return self._to_x(out)

    def matvec(self, v):
        """The lifted Hessian times ``v`` (n_params,), from the blocks: float64 (n_params,)."""
        return self._to_x(self._matvec_internal(self._to_internal(np.asarray(v, dtype=np.float64))))

    def diagonal(self):
        """The lifted Hessian's diagonal, float64 (n_params,) in the objective's layout."""
        return self._to_x(self._diagonal() + self.lift[:, None])
