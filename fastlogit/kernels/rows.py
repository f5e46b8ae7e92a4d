"""Row access shared by every fused kernel: one kernel body, dense or CSR.

A dense matrix is a 2-d C-contiguous array; a CSR matrix is the tuple
``(data, indices, indptr)``.  ``n_rows``, ``dot_row`` and ``axpy_row`` are
specialized at compile time on which of the two they get, so a sparse row
costs O(its nonzeros) and a dense row a vectorized loop.  Sums accumulate
in float64 whatever the data's dtype.
"""

from numba import types
from numba.extending import overload

# The dot product is a reduction: without reassociation LLVM keeps one
# chain of dependent adds (~16 GB/s instead of the ~30 GB/s two cores read).
# Nothing here relies on the order of the sum, and no NaN/inf test lives in
# these loops, so no other fast-math flag is taken.
REDUCTION_FLAGS = {"reassoc", "contract"}


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


@overload(dot_row, jit_options={"cache": True, "fastmath": REDUCTION_FLAGS, "error_model": "numpy"})
def _dot_row(X, i, w):
    if _is_csr(X):
        def dot_csr(X, i, w):
            data, indices, indptr = X
            acc = 0.0
            for k in range(indptr[i], indptr[i + 1]):
                acc += data[k] * w[indices[k]]
            return acc
        return dot_csr

    def dot_dense(X, i, w):
        acc = 0.0
        for j in range(X.shape[1]):
            acc += X[i, j] * w[j]
        return acc
    return dot_dense


@overload(axpy_row, jit_options={"cache": True, "fastmath": REDUCTION_FLAGS, "error_model": "numpy"})
def _axpy_row(g, r, X, i):
    if _is_csr(X):
        def axpy_csr(g, r, X, i):
            data, indices, indptr = X
            for k in range(indptr[i], indptr[i + 1]):
                g[indices[k]] += r * data[k]
        return axpy_csr

    def axpy_dense(g, r, X, i):
        for j in range(X.shape[1]):
            g[j] += r * X[i, j]
    return axpy_dense

