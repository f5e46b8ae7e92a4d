"""Row access shared by every fused kernel: one kernel body, dense or CSR.

A dense matrix is a 2-d C-contiguous array; a CSR matrix is the tuple
``(data, indices, indptr)``.  ``n_rows``, ``dot_row`` and ``axpy_row`` are
specialized at compile time on which of the two they get, so a sparse row
costs O(its nonzeros) and a dense row a vectorized loop.  Sums accumulate
in float64 whatever the data's dtype.
"""

import types as _pytypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

# The dense dot product is a reduction: without reassociation LLVM keeps one
# chain of dependent adds (~16 GB/s instead of the ~30 GB/s two cores read).
# Nothing here relies on the order of the sum, and no NaN/inf test lives in
# these loops, so no other fast-math flag is taken.
REDUCTION_FLAGS = {"reassoc", "contract"}

# Rows whose scores the fused kernels compute together: the elementwise
# loss/residual then vectorizes across rows, and a 256 x 100 float64 block
# (200 KB) is still in L2 when the gradient pass reads it again.
ROW_BLOCK = 256


class Threaded:
    """A kernel whose outer loop is ``prange``, compiled (each on first use) twice.

    ``parallel``: on Numba's thread pool.  ``serial``: the same code with
    ``prange`` read as ``range``, on the calling thread: no parallel region is
    entered and no pool is started, so a small call neither pays for waking
    threads nor waits for one that the OS gave to another process.  Both
    give bit-identical results for the same ``n_threads`` argument (the
    work is split by that argument, not by the pool).  ``on(n_threads)``
    picks one: serial for a single thread.
    """

    def __init__(self, func):
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__
        self.parallel = njit(cache=True, error_model="numpy", parallel=True)(func)
        # A second function object on the same code: Numba names its cache
        # files after the qualified name, so the twin needs its own.
        twin = _pytypes.FunctionType(
            func.__code__, func.__globals__, func.__name__ + "_serial", func.__defaults__, func.__closure__
        )
        twin.__qualname__ = func.__qualname__ + "_serial"
        twin.__module__ = func.__module__
        twin.__doc__ = func.__doc__
        self.serial = njit(cache=True, error_model="numpy")(twin)

    def on(self, n_threads):
        """The compiled kernel for ``n_threads`` threads."""
        return self.serial if n_threads == 1 else self.parallel


@njit(cache=True, error_model="numpy", inline="always")
def thread_rows(n, n_threads, t):
    """Rows ``[lo, hi)`` of thread ``t``: ``n`` rows split into ``n_threads`` contiguous parts."""
    return t * n // n_threads, (t + 1) * n // n_threads


def n_rows(X):
    """Number of rows of a dense array or a CSR tuple."""
    raise NotImplementedError("only callable from Numba-compiled code")


def dot_row(X, i, w):
    """sum_j X[i, j] * w[j] in float64."""
    raise NotImplementedError("only callable from Numba-compiled code")


def axpy_row(g, r, X, i):
    """g += r * X[i, :] (g float64)."""
    raise NotImplementedError("only callable from Numba-compiled code")


def _is_csr(X):
    return isinstance(X, types.BaseTuple)


@overload(n_rows, jit_options={"cache": True})
def _n_rows(X):
    if _is_csr(X):
        return lambda X: X[2].shape[0] - 1
    return lambda X: X.shape[0]


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def dense_dot_row(X, i, w):
    """``dot_row`` of a dense X (called directly by the small kernels)."""
    acc = 0.0
    for j in range(X.shape[1]):
        acc += X[i, j] * w[j]
    return acc


@overload(dot_row, jit_options={"cache": True, "error_model": "numpy"})
def _dot_row(X, i, w):
    if _is_csr(X):
        # No reassociation here: it would vectorize the loop into AVX-512
        # gathers, measured 1.9x slower than this scalar loop (which is
        # limited by memory traffic, not by its chain of adds).
        def dot_csr(X, i, w):
            data, indices, indptr = X
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * w[indices[k]]
            return acc

        return dot_csr
    return lambda X, i, w: dense_dot_row(X, i, w)


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def dense_axpy_row(g, r, X, i):
    """``axpy_row`` of a dense X (called directly by the small kernels)."""
    for j in range(X.shape[1]):
        g[j] += r * X[i, j]


@overload(axpy_row, jit_options={"cache": True, "error_model": "numpy"})
def _axpy_row(g, r, X, i):
    if _is_csr(X):
        # A scatter: no fast-math flags, which would only invite vector
        # gather/scatter code (as for the dot product above).
        def axpy_csr(g, r, X, i):
            data, indices, indptr = X
            for k in range(indptr[i], indptr[i + 1]):
                g[indices[k]] += r * data[k]

        return axpy_csr
    return lambda g, r, X, i: dense_axpy_row(g, r, X, i)


def axpy_square_row(g, r, X, i, acc):
    """g[j] += r * X[i, j] ** 2 for row i's columns (g float64 (>= d,)): the Hessian's diagonal.

    CSR: a column stored more than once in the row counts as their sum, squared
    (``acc``: float64 (d,) zeros, per thread, left zeros; dense: unused).
    """
    raise NotImplementedError("only callable from Numba-compiled code")


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _axpy_square_dense(g, r, X, i):
    for j in range(X.shape[1]):
        v = np.float64(X[i, j])  # (a float32 square would round)
        g[j] += r * (v * v)


@overload(axpy_square_row, jit_options={"cache": True, "error_model": "numpy"})
def _axpy_square_row(g, r, X, i, acc):
    if _is_csr(X):

        def axpy_square_csr(g, r, X, i, acc):
            data, indices, indptr = X
            lo, hi = indptr[i], indptr[i + 1]
            for k in range(lo, hi):
                acc[indices[k]] += np.float64(data[k])
            for k in range(lo, hi):
                j = indices[k]
                v = acc[j]
                # A repeated column's later entries find 0: its sum is added once
                # (and a sum that cancels leaves its 0; NaN != 0 is reset too).
                if v != 0.0:
                    g[j] += r * (v * v)
                    acc[j] = 0.0

        return axpy_square_csr
    return lambda g, r, X, i, acc: _axpy_square_dense(g, r, X, i)


#: Doubles of padding after each row of a Hessian block's scratch (:func:`hessian_rows`):
#: rows exactly ROW_BLOCK doubles (2 KiB) apart fall into the same few L1
#: cache sets, and transposing a 256 x 30 block into them ran 2.3x slower.
PANEL_PAD = 8


def hessian_rows(A, X, i, m):
    """Dense X: the block's rows as columns of ``[X, 1]``: ``A[j, r] = X[i + r, j]``
    for r < m and j < d, and ``A[d, r] = 1`` (A float64 (d + 1, >= m)).  CSR: nothing.

    Once per block of rows; :func:`hessian_add` then adds any number of
    weightings of the block to Hessians from it.
    """
    raise NotImplementedError("only callable from Numba-compiled code")


def hessian_add(H, A, S, X, i, m, c):
    """``H += sum_{r < m} c[r] [x_{i + r}, 1][x_{i + r}, 1]^T``, the upper triangle only.

    H float64 (d + 1, d + 1); :func:`hessian_finish` mirrors the triangle
    after the last block.  Dense: A as :func:`hessian_rows` left it; S (the
    same shape) gets ``c[r] A[:, r]``, then each 2 x 2 tile of H's upper
    triangle is two rows of A dotted with two rows of S, contiguous and from
    cache (a vectorized reduction over the block's rows; 1.9x faster than
    the BLAS product of the row-major block it replaces at 300 000 x 30, and
    as fast up to d = 690, on an AVX2 machine).  ``c`` may be S's last row.
    CSR: each row's nonzeros' outer product, each pair once, O(nnz_i^2) a
    row (a scattered dense row would cost O(d^2)).
    """
    raise NotImplementedError("only callable from Numba-compiled code")


def hessian_finish(H, X):
    """After the last block: :func:`hessian_add` filled only H's upper triangle; copy it below."""
    raise NotImplementedError("only callable from Numba-compiled code")


@njit(cache=True, error_model="numpy")
def _mirror_upper(H):
    n = H.shape[0]
    for a in range(n):
        for b in range(a + 1, n):
            H[b, a] = H[a, b]


@overload(hessian_finish, jit_options={"cache": True, "error_model": "numpy"})
def _hessian_finish(H, X):
    return lambda H, X: _mirror_upper(H)


@overload(hessian_rows, jit_options={"cache": True, "error_model": "numpy"})
def _hessian_rows(A, X, i, m):
    if _is_csr(X):
        return lambda A, X, i, m: None

    def hessian_rows_dense(A, X, i, m):
        d = X.shape[1]
        # Row by row: X read contiguously, A written a column at a time (its
        # rows PANEL_PAD apart from a power of two keep those writes in cache).
        for r in range(m):
            for j in range(d):
                A[j, r] = X[i + r, j]
            A[d, r] = 1.0

    return hessian_rows_dense


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _scale_columns(S, A, m, c):
    last = A.shape[0] - 1
    for j in range(last):
        s = S[j]
        a = A[j]
        for r in range(m):
            s[r] = c[r] * a[r]
    for r in range(m):
        S[last, r] = c[r]


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _upper_gram(H, A, S, m):
    # H[a, b] += A[a, :m] . S[b, :m] for b >= a, 2 x 2 tiles: four dot
    # products from four loads a step (one load per FMA where one dot product
    # needs two).  A diagonal tile also fills H[a + 1, a], which the mirror
    # overwrites.
    n = H.shape[0]
    for a in range(0, n - 1, 2):
        x0 = A[a]
        x1 = A[a + 1]
        for b in range(a, n - 1, 2):
            u0 = S[b]
            u1 = S[b + 1]
            s00 = s01 = s10 = s11 = 0.0
            for r in range(m):
                s00 += x0[r] * u0[r]
                s01 += x0[r] * u1[r]
                s10 += x1[r] * u0[r]
                s11 += x1[r] * u1[r]
            H[a, b] += s00
            H[a, b + 1] += s01
            H[a + 1, b] += s10
            H[a + 1, b + 1] += s11
        if n % 2:
            u0 = S[n - 1]
            s0 = s1 = 0.0
            for r in range(m):
                s0 += x0[r] * u0[r]
                s1 += x1[r] * u0[r]
            H[a, n - 1] += s0
            H[a + 1, n - 1] += s1
    if n % 2:
        x0 = A[n - 1]
        u0 = S[n - 1]
        s0 = 0.0
        for r in range(m):
            s0 += x0[r] * u0[r]
        H[n - 1, n - 1] += s0


@overload(hessian_add, jit_options={"cache": True, "error_model": "numpy"})
def _hessian_add(H, A, S, X, i, m, c):
    if _is_csr(X):

        def hessian_add_csr(H, A, S, X, i, m, c):
            data, indices, indptr = X
            d = H.shape[0] - 1
            for q in range(m):
                h = c[q]
                lo, hi = indptr[i + q], indptr[i + q + 1]
                for p in range(lo, hi):
                    jp = indices[p]
                    vp = h * data[p]
                    H[jp, jp] += vp * data[p]
                    # Each pair once, into the upper triangle.
                    for k in range(p + 1, hi):
                        v = vp * data[k]
                        jq = indices[k]
                        if jq > jp:
                            H[jp, jq] += v
                        elif jq < jp:
                            H[jq, jp] += v
                        else:  # a repeated column index: its two cross terms
                            H[jp, jp] += 2.0 * v
                    H[jp, d] += vp
                H[d, d] += h

        return hessian_add_csr

    def hessian_add_dense(H, A, S, X, i, m, c):
        _scale_columns(S, A, m, c)
        _upper_gram(H, A, S, m)

    return hessian_add_dense


def scores_rows(X, i, m, W, b, Z):
    """Z[r, k] = X[i + r] . W[k] + b[k] for r < m (Z float64 (>= m, K))."""
    raise NotImplementedError("only callable from Numba-compiled code")


def add_outer_rows(G, R, X, i, m):
    """G[k, :d] += sum_r R[r, k] * X[i + r] for r < m (G float64 (K, >= d))."""
    raise NotImplementedError("only callable from Numba-compiled code")


# Rows per register block of the dense K-class kernels: each W element (or
# G element) loaded once serves 4 rows.  One dot product per class would
# need two loads per FMA, and this CPU issues about one 512-bit load and
# one 512-bit FMA per cycle (measured: K=10 scores 49 -> 39 ms, scores plus
# gradient update ~110 -> 74 ms at 1e6 x 100; 8 rows gained little more).
ROWS_PER_REGISTER_BLOCK = 4


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _scores4(X, i, W, b, Z, r):
    for k in range(W.shape[0]):
        a0 = a1 = a2 = a3 = 0.0
        for j in range(W.shape[1]):
            w = W[k, j]
            a0 += X[i, j] * w
            a1 += X[i + 1, j] * w
            a2 += X[i + 2, j] * w
            a3 += X[i + 3, j] * w
        Z[r, k] = a0 + b[k]
        Z[r + 1, k] = a1 + b[k]
        Z[r + 2, k] = a2 + b[k]
        Z[r + 3, k] = a3 + b[k]


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _add_outer4(G, R, r, X, i):
    for k in range(G.shape[0]):
        r0 = R[r, k]
        r1 = R[r + 1, k]
        r2 = R[r + 2, k]
        r3 = R[r + 3, k]
        for j in range(X.shape[1]):
            G[k, j] += (r0 * X[i, j] + r1 * X[i + 1, j]) + (r2 * X[i + 2, j] + r3 * X[i + 3, j])


@overload(scores_rows, jit_options={"cache": True, "error_model": "numpy"})
def _scores_rows(X, i, m, W, b, Z):
    blocked = not _is_csr(X)

    def scores(X, i, m, W, b, Z):
        # (A range, not a counter from the literal 0: Numba would compile the
        # helper a second time for a literal first argument.)
        done = 0
        if blocked:  # (a constant: Numba prunes the dense-only branch for CSR)
            done = m - m % ROWS_PER_REGISTER_BLOCK
            for r in range(0, done, ROWS_PER_REGISTER_BLOCK):
                _scores4(X, i + r, W, b, Z, r)
        for q in range(done, m):
            for k in range(W.shape[0]):
                Z[q, k] = dot_row(X, i + q, W[k]) + b[k]

    return scores


@overload(add_outer_rows, jit_options={"cache": True, "error_model": "numpy"})
def _add_outer_rows(G, R, X, i, m):
    blocked = not _is_csr(X)

    def add_outer(G, R, X, i, m):
        done = 0
        if blocked:
            done = m - m % ROWS_PER_REGISTER_BLOCK
            for r in range(0, done, ROWS_PER_REGISTER_BLOCK):
                _add_outer4(G, R, r, X, i + r)
        for q in range(done, m):
            for k in range(G.shape[0]):
                axpy_row(G[k], R[q, k], X, i + q)

    return add_outer


# -- several score rows at once, model-major (score row j of row r in Zt[j, r]) --------


@intrinsic
def _prefetch(typingctx, X, i, j):
    """A hint that X[i, j]'s cache line is read soon (into L2; no fault, no value)."""
    sig = types.void(X, i, j)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, a, t, types.intp) for a, t in zip(args[1:], signature.args[1:])]
        ptr = cgutils.get_item_pointer(context, builder, array_type, array, index, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        # (LLVM renames the typed-pointer spelling itself where pointers are opaque.)
        name = "llvm.prefetch.p0" if getattr(i8p, "is_opaque", False) else "llvm.prefetch.p0i8"
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), name
        )
        # read, locality 2 (kept in L2), data cache
        builder.call(
            fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 2), ir.Constant(i32, 1)]
        )
        return context.get_dummy_value()

    return sig, codegen


def model_scores(X, i, m, W, b, Zt):
    """Zt[j, r] = X[i + r] . W[j] + b[j] for r < m (Zt float64 (k, >= m): model-major)."""
    raise NotImplementedError("only callable from Numba-compiled code")


def model_add_outer(G, Rt, X, i, m, ahead, hi):
    """G[j, :d] += sum_r Rt[j, r] * X[i + r] for r < m (G float64 (k, >= d)); dense X:
    rows ahead .. ahead + m - 1 (those below hi) are prefetched meanwhile."""
    raise NotImplementedError("only callable from Numba-compiled code")


#: Bytes per prefetch: a cache line.
_LINE_BYTES = 64


def dot_rows(X, i, m, w, z):
    """z[r] = X[i + r] . w for r < m (z float64 (>= m,)): one model's scores of m rows."""
    raise NotImplementedError("only callable from Numba-compiled code")


def axpy_rows(g, z, X, i, m, ahead, hi):
    """g[:d] += sum_r z[r] * X[i + r] for r < m (g float64 (>= d,)); dense X: rows
    ahead .. ahead + m - 1 (those below hi) are prefetched meanwhile."""
    raise NotImplementedError("only callable from Numba-compiled code")


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _dot4(X, i, w, z, r):
    a0 = a1 = a2 = a3 = 0.0
    for j in range(w.shape[0]):
        c = w[j]
        a0 += X[i, j] * c
        a1 += X[i + 1, j] * c
        a2 += X[i + 2, j] * c
        a3 += X[i + 3, j] * c
    z[r] = a0
    z[r + 1] = a1
    z[r + 2] = a2
    z[r + 3] = a3


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _axpy4(g, z, r, X, i):
    r0 = z[r]
    r1 = z[r + 1]
    r2 = z[r + 2]
    r3 = z[r + 3]
    for j in range(X.shape[1]):
        g[j] += (r0 * X[i, j] + r1 * X[i + 1, j]) + (r2 * X[i + 2, j] + r3 * X[i + 3, j])


@overload(dot_rows, jit_options={"cache": True, "error_model": "numpy"})
def _dot_rows(X, i, m, w, z):
    blocked = not _is_csr(X)

    def dots(X, i, m, w, z):
        # The binary model's scores, 4 rows per register block: each w element
        # loaded once serves 4 rows (one dot product per row needs two loads
        # per FMA).
        done = 0
        if blocked:
            done = m - m % ROWS_PER_REGISTER_BLOCK
            for r in range(0, done, ROWS_PER_REGISTER_BLOCK):
                _dot4(X, i + r, w, z, r)
        for q in range(done, m):
            z[q] = dot_row(X, i + q, w)

    return dots


@overload(axpy_rows, jit_options={"cache": True, "error_model": "numpy"})
def _axpy_rows(g, z, X, i, m, ahead, hi):
    blocked = not _is_csr(X)

    def axpys(g, z, X, i, m, ahead, hi):
        # 4 rows per pass over g: one load and store of g per 4 FMAs, not per 1;
        # meanwhile the next block's rows are fetched (its dot products read 4
        # rows at once, which the hardware prefetcher follows less well than
        # one: 15 % slower at 1e6 x 100 without this).
        done = 0
        if blocked:
            done = m - m % ROWS_PER_REGISTER_BLOCK
            step = max(1, _LINE_BYTES // X.itemsize)
            for r in range(0, done, ROWS_PER_REGISTER_BLOCK):
                for q in range(ahead + r, min(ahead + r + ROWS_PER_REGISTER_BLOCK, hi)):
                    for c in range(0, X.shape[1], step):
                        _prefetch(X, q, c)
                _axpy4(g, z, r, X, i + r)
        for q in range(done, m):
            axpy_row(g, z[q], X, i + q)

    return axpys


# Dense rows go 4 at a time (as rows.ROWS_PER_REGISTER_BLOCK) for 2 models at a
# time: each X element loaded serves 2 models, each W or G element 4 rows.  The
# per-block passes (scores, then the gradient from L2) leave the memory bus idle
# while the gradient is computed, so that pass prefetches the next block's rows:
# together 23 -> 17.5 ms at 300 000 x 100, k = 5, on two cores, where one model's
# binary.loss_grad takes 12.4 ms (measured).  Each helper is one compiled
# function with its loops (a call per row and model cost ~10%).
@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _dense_model_scores(X, i, m, W, b, Zt):
    k, d = W.shape
    done = m - m % 4
    # Pairs of models, and for an odd k the last three together: a model
    # alone would load 4 X values per 4 FMAs, as slow as a pair.
    pairs_end = k - 3 if k % 2 and k >= 3 else k - k % 2
    for r in range(0, done, 4):
        x = i + r
        for j in range(0, pairs_end, 2):
            a0 = a1 = a2 = a3 = c0 = c1 = c2 = c3 = 0.0
            for c in range(d):
                w = W[j, c]
                v = W[j + 1, c]
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                a0 += x0 * w
                a1 += x1 * w
                a2 += x2 * w
                a3 += x3 * w
                c0 += x0 * v
                c1 += x1 * v
                c2 += x2 * v
                c3 += x3 * v
            Zt[j, r] = a0 + b[j]
            Zt[j, r + 1] = a1 + b[j]
            Zt[j, r + 2] = a2 + b[j]
            Zt[j, r + 3] = a3 + b[j]
            Zt[j + 1, r] = c0 + b[j + 1]
            Zt[j + 1, r + 1] = c1 + b[j + 1]
            Zt[j + 1, r + 2] = c2 + b[j + 1]
            Zt[j + 1, r + 3] = c3 + b[j + 1]
        if k - pairs_end == 3:
            j = pairs_end
            a0 = a1 = a2 = a3 = c0 = c1 = c2 = c3 = e0 = e1 = e2 = e3 = 0.0
            for c in range(d):
                w = W[j, c]
                v = W[j + 1, c]
                u = W[j + 2, c]
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                a0 += x0 * w
                a1 += x1 * w
                a2 += x2 * w
                a3 += x3 * w
                c0 += x0 * v
                c1 += x1 * v
                c2 += x2 * v
                c3 += x3 * v
                e0 += x0 * u
                e1 += x1 * u
                e2 += x2 * u
                e3 += x3 * u
            Zt[j, r] = a0 + b[j]
            Zt[j, r + 1] = a1 + b[j]
            Zt[j, r + 2] = a2 + b[j]
            Zt[j, r + 3] = a3 + b[j]
            Zt[j + 1, r] = c0 + b[j + 1]
            Zt[j + 1, r + 1] = c1 + b[j + 1]
            Zt[j + 1, r + 2] = c2 + b[j + 1]
            Zt[j + 1, r + 3] = c3 + b[j + 1]
            Zt[j + 2, r] = e0 + b[j + 2]
            Zt[j + 2, r + 1] = e1 + b[j + 2]
            Zt[j + 2, r + 2] = e2 + b[j + 2]
            Zt[j + 2, r + 3] = e3 + b[j + 2]
        elif k - pairs_end == 1:
            j = k - 1
            a0 = a1 = a2 = a3 = 0.0
            for c in range(d):
                w = W[j, c]
                a0 += X[x, c] * w
                a1 += X[x + 1, c] * w
                a2 += X[x + 2, c] * w
                a3 += X[x + 3, c] * w
            Zt[j, r] = a0 + b[j]
            Zt[j, r + 1] = a1 + b[j]
            Zt[j, r + 2] = a2 + b[j]
            Zt[j, r + 3] = a3 + b[j]
    dense_scores_from(X, i, done, m, W, b, Zt)


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def dense_scores_from(X, i, r0, m, W, b, Zt):
    """``Zt[j, r] = X[i + r] . W[j] + b[j]`` for ``r0 <= r < m``, a row and a model
    at a time: the rows :func:`_dense_model_scores` leaves after its groups of
    4, and the whole block of the small kernels (:data:`fastlogit.matrix.SMALL_WORK`)."""
    k, d = W.shape
    for r in range(r0, m):
        for j in range(k):
            a = 0.0
            for c in range(d):
                a += X[i + r, c] * W[j, c]
            Zt[j, r] = a + b[j]


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def _dense_model_add_outer(G, Rt, X, i, m, ahead, hi):
    k = G.shape[0]
    d = X.shape[1]
    step = max(1, _LINE_BYTES // X.itemsize)
    done = m - m % 4
    pairs_end = k - 3 if k % 2 and k >= 3 else k - k % 2  # as _dense_model_scores
    for r in range(0, done, 4):
        for q in range(ahead + r, min(ahead + r + 4, hi)):
            for c in range(0, d, step):
                _prefetch(X, q, c)
        x = i + r
        for j in range(0, pairs_end, 2):
            a0 = Rt[j, r]
            a1 = Rt[j, r + 1]
            a2 = Rt[j, r + 2]
            a3 = Rt[j, r + 3]
            e0 = Rt[j + 1, r]
            e1 = Rt[j + 1, r + 1]
            e2 = Rt[j + 1, r + 2]
            e3 = Rt[j + 1, r + 3]
            g = G[j]
            h = G[j + 1]
            for c in range(d):
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                g[c] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
                h[c] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
        if k - pairs_end == 3:
            j = pairs_end
            a0 = Rt[j, r]
            a1 = Rt[j, r + 1]
            a2 = Rt[j, r + 2]
            a3 = Rt[j, r + 3]
            e0 = Rt[j + 1, r]
            e1 = Rt[j + 1, r + 1]
            e2 = Rt[j + 1, r + 2]
            e3 = Rt[j + 1, r + 3]
            f0 = Rt[j + 2, r]
            f1 = Rt[j + 2, r + 1]
            f2 = Rt[j + 2, r + 2]
            f3 = Rt[j + 2, r + 3]
            g = G[j]
            h = G[j + 1]
            o = G[j + 2]
            for c in range(d):
                x0 = X[x, c]
                x1 = X[x + 1, c]
                x2 = X[x + 2, c]
                x3 = X[x + 3, c]
                g[c] += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3)
                h[c] += (e0 * x0 + e1 * x1) + (e2 * x2 + e3 * x3)
                o[c] += (f0 * x0 + f1 * x1) + (f2 * x2 + f3 * x3)
        elif k - pairs_end == 1:
            j = k - 1
            a0 = Rt[j, r]
            a1 = Rt[j, r + 1]
            a2 = Rt[j, r + 2]
            a3 = Rt[j, r + 3]
            g = G[j]
            for c in range(d):
                g[c] += (a0 * X[x, c] + a1 * X[x + 1, c]) + (a2 * X[x + 2, c] + a3 * X[x + 3, c])
    dense_add_outer_from(G, Rt, X, i, done, m)


@njit(cache=True, fastmath=REDUCTION_FLAGS, error_model="numpy")
def dense_add_outer_from(G, Rt, X, i, r0, m):
    """``G[j, :d] += Rt[j, r] X[i + r]`` for ``r0 <= r < m``, a row and a model at a
    time: the rows :func:`_dense_model_add_outer` leaves after its groups of
    4, and the whole block of the small kernels (:data:`fastlogit.matrix.SMALL_WORK`)."""
    k = G.shape[0]
    d = X.shape[1]
    for r in range(r0, m):
        for j in range(k):
            a = Rt[j, r]
            g = G[j]
            for c in range(d):
                g[c] += a * X[i + r, c]


@overload(model_scores, jit_options={"cache": True, "error_model": "numpy"})
def _model_scores(X, i, m, W, b, Zt):
    if _is_csr(X):
        return lambda X, i, m, W, b, Zt: scores_rows(X, i, m, W, b, Zt.T)
    return lambda X, i, m, W, b, Zt: _dense_model_scores(X, i, m, W, b, Zt)


@overload(model_add_outer, jit_options={"cache": True, "error_model": "numpy"})
def _model_add_outer(G, Rt, X, i, m, ahead, hi):
    if _is_csr(X):
        return lambda G, Rt, X, i, m, ahead, hi: add_outer_rows(G, Rt.T, X, i, m)
    return lambda G, Rt, X, i, m, ahead, hi: _dense_model_add_outer(G, Rt, X, i, m, ahead, hi)
