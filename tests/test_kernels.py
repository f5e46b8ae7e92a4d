"""Loss, gradient, Hessian and score kernels: agreement, calculus, threads, memory.

Every public function is checked against its NumPy twin in
fastlogit.reference over dense and CSR input, float64 and float32, with and
without sample weights; gradients and Hessian products also against finite
differences (which checks the reference as well).  The remaining tests pin
the promises that a comparison of values cannot see: the thread count only
changes rounding, a run is reproducible, an evaluation's extra memory does
not grow with n, and inputs are never written.
"""

import dataclasses
import functools
import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import scipy.sparse

import fastlogit
from fastlogit import matrix, reference
from fastlogit.data import all_finite

# float32 X holds ~7 digits; the kernels may accumulate in float32 where the
# reference (upcasting X against float64 parameters) does not.
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
MIB = 2**20


pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")


# -- problems ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    """One model at one point: ``coef`` (d,) is binary, (K, d) multinomial.

    The methods call a module's (fastlogit's or reference's) functions on it,
    so that a test reads ``p.loss_grad(fastlogit)`` vs ``p.loss_grad(reference)``.
    """

    X: object
    y: np.ndarray
    coef: np.ndarray
    intercept: object
    sample_weight: object
    vec_coef: np.ndarray
    vec_intercept: object

    @property
    def binary(self):
        return np.ndim(self.coef) == 1

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def loss_grad(self, mod, **kw):
        f = mod.binary_loss_grad if self.binary else mod.multinomial_loss_grad
        return f(self.X, self.y, self.coef, self.intercept, self.sample_weight, **kw)

    def hessp(self, mod, **kw):
        f = mod.binary_hessp if self.binary else mod.multinomial_hessp
        return f(
            self.X, self.coef, self.intercept, self.vec_coef, self.vec_intercept, self.sample_weight, **kw
        )

    def hessian(self, mod, **kw):
        f = mod.binary_hessian if self.binary else mod.multinomial_hessian
        return f(self.X, self.coef, self.intercept, self.sample_weight, **kw)

    def loss_grad_hessian(self, mod, **kw):
        f = mod.binary_loss_grad_hessian if self.binary else mod.multinomial_loss_grad_hessian
        return f(self.X, self.y, self.coef, self.intercept, self.sample_weight, **kw)

    def predict_raw(self, mod, **kw):
        f = mod.binary_predict_raw if self.binary else mod.multinomial_predict_raw
        return f(self.X, self.coef, self.intercept, **kw)

    def all_results(self, mod, **kw):
        """Every function's output on this problem, as a flat list of arrays."""
        predict_kw = {k: v for k, v in kw.items() if k == "n_threads"}
        out = [*self.loss_grad(mod, **kw), *self.hessp(mod, **kw), self.predict_raw(mod, **predict_kw)]
        out.append(self.hessian(mod, **kw))
        out.extend(self.loss_grad_hessian(mod, **kw))
        return [np.asarray(a) for a in out]


def problem_for(X, K=None, *, weighted=False, max_logit=None, seed=0):
    """Random parameters, labels, weights and direction for a given X.

    Scores ``z`` are about N(0, 2**2), or scaled so that ``max |z| ==
    max_logit``.  Weights are uniform on [0, 3] with every fifth one (not the
    first) exactly 0, a weight the kernels must accept.
    """
    rng = np.random.default_rng(seed)
    n, d = X.shape
    shape = (d,) if K is None else (K, d)
    density = X.nnz / max(n * d, 1) if scipy.sparse.issparse(X) else 1.0
    coef = rng.standard_normal(shape) * 2 / np.sqrt(d * max(density, 1e-3))
    intercept = rng.standard_normal() if K is None else rng.standard_normal(K)
    if max_logit is not None:
        z = (
            reference.binary_predict_raw(X, coef, intercept)
            if K is None
            else (reference.multinomial_predict_raw(X, coef, intercept))
        )
        factor = max_logit / np.max(np.abs(z))
        coef, intercept = coef * factor, intercept * factor
    y = rng.integers(0, 2, n).astype(np.float64) if K is None else rng.integers(0, K, n)
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0, 3, n)
        sample_weight[1::5] = 0.0
    vec_coef = rng.standard_normal(shape)
    vec_intercept = rng.standard_normal() if K is None else rng.standard_normal(K)
    return Problem(X, y, coef, intercept, sample_weight, vec_coef, vec_intercept)


@functools.cache
def make_problem(n, d, K=None, layout="dense", dtype=np.float64, weighted=False, max_logit=None, seed=0):
    """A seeded problem; ``layout`` "csr" keeps ~30% of entries (so some rows are empty).

    Cached: every test treats problems as read-only (a kernel writing into
    one fails test_inputs_are_never_written first).
    """
    rng = np.random.default_rng(seed + 1000)
    X = rng.standard_normal((n, d))
    if layout != "dense":
        X[rng.random((n, d)) < 0.7] = 0.0
    X = X.astype(dtype)
    if layout == "csr":
        X = scipy.sparse.csr_matrix(X)
    elif layout == "csr_array":
        X = scipy.sparse.csr_array(X)
    return problem_for(X, K, weighted=weighted, max_logit=max_logit, seed=seed)


def dtype_of(X):
    return np.float32 if X.dtype == np.float32 else np.float64


# -- comparisons -----------------------------------------------------------------


def assert_close(actual, expected, rtol, what="result"):
    """Norm-wise ``|actual - expected| <= rtol |expected|``, float64 and finite.

    Norm-wise because single components of a gradient can cancel to far
    below the gradient's size; their absolute error is what is meaningful.
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.float64, f"{what}: dtype {actual.dtype}, expected float64"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: not finite: {actual}"
    err = np.linalg.norm((actual - expected).ravel())
    scale = np.linalg.norm(expected.ravel())
    assert err <= rtol * scale, (
        f"{what}: |actual - expected| = {err:.3e} > {rtol:g} * |expected| = {rtol * scale:.3e} "
        f"(relative {err / scale if scale else np.inf:.3e})"
    )


def full_vector(coef_part, intercept_part):
    """(coef, intercept)-shaped pair as one flat vector, the gradient's true shape."""
    return np.concatenate([np.ravel(coef_part), np.ravel(intercept_part)])


def assert_loss_grad_close(actual, expected, rtol, what="loss_grad"):
    loss, grad_coef, grad_intercept = actual
    assert isinstance(loss, float), f"{what}: loss is {type(loss).__name__}, not a float"
    assert np.shape(grad_coef) == np.shape(expected[1])
    assert np.shape(grad_intercept) == np.shape(expected[2])
    if np.ndim(expected[2]) == 0:
        assert isinstance(grad_intercept, float), f"{what}: grad_intercept is not a float"
    assert_close(loss, expected[0], rtol, f"{what} loss")
    assert_close(
        full_vector(grad_coef, grad_intercept),
        full_vector(expected[1], expected[2]),
        rtol,
        f"{what} gradient",
    )


def assert_hessp_close(actual, expected, rtol, what="hessp"):
    assert np.shape(actual[0]) == np.shape(expected[0])
    assert np.shape(actual[1]) == np.shape(expected[1])
    if np.ndim(expected[1]) == 0:
        assert isinstance(actual[1], float), f"{what}: hv_intercept is not a float"
    assert_close(full_vector(*actual), full_vector(*expected), rtol, what)


# -- agreement with the reference ------------------------------------------------

# n=100_003 (odd, past any chunk size) only with few K and small d: the
# reference's (n, K) temporaries make it the slow part of this file.
SIZES = [(1, 13), (7, 13), (1000, 13), (100_003, 5)]
K_VALUES = [None, 2, 3, 10, 100]  # None: binary
CASES = [
    pytest.param(n, d, K, id=f"n{n}-{'binary' if K is None else f'K{K}'}")
    for n, d in SIZES
    for K in K_VALUES
    if n < 100_000 or K in (None, 3, 100)
]
INPUTS = [
    pytest.param(
        layout,
        dtype,
        weighted,
        id=f"{layout}-{np.dtype(dtype).name}-{'weighted' if weighted else 'unweighted'}",
    )
    for layout in ("dense", "csr")
    for dtype in (np.float64, np.float32)
    for weighted in (False, True)
]


@pytest.fixture(params=["small", "blocked"])
def loss_grad_kernel(request, monkeypatch):
    """Which dense one-thread loss/gradient kernel runs: the small kernels
    (a row at a time) below ``matrix.SMALL_WORK``, the register-blocked ones
    above; each test using this fixture runs with each."""
    monkeypatch.setattr(matrix, "SMALL_WORK", 1 << 62 if request.param == "small" else 0)
    return request.param


@pytest.mark.parametrize("layout, dtype, weighted", INPUTS)
@pytest.mark.parametrize("n, d, K", CASES)
def test_loss_and_gradient_agree_with_reference(n, d, K, layout, dtype, weighted, loss_grad_kernel):
    p = make_problem(n, d, K, layout, dtype, weighted)
    assert_loss_grad_close(p.loss_grad(fastlogit), p.loss_grad(reference), RTOL[dtype])


@pytest.mark.parametrize("layout, dtype, weighted", INPUTS)
@pytest.mark.parametrize("n, d, K", CASES)
def test_hessian_vector_product_agrees_with_reference(n, d, K, layout, dtype, weighted):
    p = make_problem(n, d, K, layout, dtype, weighted)
    assert_hessp_close(p.hessp(fastlogit), p.hessp(reference), RTOL[dtype])


def test_scores_of_inf_and_minus_inf_are_a_value_error_not_a_floating_point_error():
    # A row with +inf and -inf scores: their sum in the finiteness check is NaN,
    # which must raise the ValueError, with no floating-point warning first
    # (hypothesis found it through multinomial_predict_raw).
    X = np.array([[np.inf]])
    with pytest.raises(ValueError, match="finite"):
        fastlogit.multinomial_predict_raw(X, np.array([[1.0], [-1.0]]), np.zeros(2))
    assert not all_finite(np.array([np.inf, -np.inf]))


@pytest.mark.parametrize("layout, dtype, weighted", INPUTS[::2])  # weights do not apply
@pytest.mark.parametrize("n, d, K", CASES)
def test_predict_raw_is_x_times_coef_plus_intercept(n, d, K, layout, dtype, weighted):
    p = make_problem(n, d, K, layout, dtype, weighted)
    X64 = (p.X.toarray() if scipy.sparse.issparse(p.X) else p.X).astype(np.float64)
    expected = X64 @ p.coef.T + p.intercept
    actual = p.predict_raw(fastlogit)
    assert actual.dtype == np.float64 and actual.shape == expected.shape
    # Per entry, but relative to the largest score: one dot product may cancel.
    rtol = RTOL[dtype]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize(
    "layout, dtype", [("dense", np.float64), ("dense", np.float32), ("csr", np.float64), ("csr", np.float32)]
)
@pytest.mark.parametrize("K", [None, 3, 10])
def test_logits_up_to_1e4_give_finite_results_that_agree_with_reference(K, layout, dtype, loss_grad_kernel):
    # exp(1e4) overflows any float: only the stable forms survive this.
    p = make_problem(1000, 13, K, layout, dtype, weighted=True, max_logit=1e4)
    z = p.predict_raw(reference)
    assert np.max(np.abs(z)) == pytest.approx(1e4) and np.min(z) < -1e3 and np.max(z) > 1e3
    assert_loss_grad_close(p.loss_grad(fastlogit), p.loss_grad(reference), RTOL[dtype])
    hv = p.hessp(fastlogit)
    assert np.all(np.isfinite(hv[0])) and np.isfinite(hv[1]).all()
    if dtype == np.float64:
        # Only rows with |z| < ~40 have curvature, and there a score's
        # rounding error, eps * 1e4, is a relative error of the curvature:
        # the Hessian is only this well conditioned.
        assert_hessp_close(hv, p.hessp(reference), 1e-9)
    assert np.all(np.isfinite(p.hessian(fastlogit)))
    fused = p.loss_grad_hessian(fastlogit)
    assert_loss_grad_close(fused[:3], p.loss_grad(reference), RTOL[dtype])
    assert np.all(np.isfinite(fused[3]))


@pytest.mark.parametrize("container", ["csr", "csr_array"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("K", [None, 10])
def test_csr_with_int32_or_int64_indices_agrees_with_dense_and_reference(K, index_dtype, dtype, container):
    p = make_problem(1000, 13, K, container, dtype, weighted=True)
    X = p.X.copy()
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    assert X.indices.dtype == index_dtype and X.indptr.dtype == index_dtype
    assert np.any(np.diff(X.indptr) == 0), "the test wants some empty rows"
    sparse = p.replace(X=X)
    dense = p.replace(X=X.toarray())
    rtol = RTOL[dtype]
    for got, want_dense, want_ref in zip(
        sparse.all_results(fastlogit), dense.all_results(fastlogit), sparse.all_results(reference)
    ):
        assert_close(got, want_dense, rtol, "CSR vs dense")
        assert_close(got, want_ref, rtol, "CSR vs reference")


# -- calculus: finite differences ----------------------------------------------


def central_difference(f, x, step):
    """Central differences of f (scalar or array valued) at x along each unit vector."""
    columns = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = step
        columns.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * step))
    return np.stack(columns, axis=-1)


def split(p, theta):
    """theta (flat coef then intercept) as (coef, intercept) shaped like p's."""
    k = np.size(p.coef)
    coef = theta[:k].reshape(np.shape(p.coef))
    intercept = theta[k] if p.binary else theta[k:]
    return coef, intercept


MODULES = [pytest.param(fastlogit, id="fastlogit"), pytest.param(reference, id="reference")]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
@pytest.mark.parametrize("mod", MODULES)
def test_gradient_is_the_derivative_of_the_loss(mod, K, weighted, reduction, loss_grad_kernel):
    p = make_problem(50, 5, K, weighted=weighted, seed=3)
    theta = full_vector(p.coef, p.intercept)

    def loss(t):
        coef, intercept = split(p, t)
        return p.replace(coef=coef, intercept=intercept).loss_grad(mod, reduction=reduction)[0]

    _, grad_coef, grad_intercept = p.loss_grad(mod, reduction=reduction)
    # step 1e-6: truncation ~1e-12, rounding ~eps / step ~1e-10.
    assert_close(
        full_vector(grad_coef, grad_intercept),
        central_difference(loss, theta, 1e-6),
        1e-7,
        "gradient vs finite differences",
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
@pytest.mark.parametrize("mod", MODULES)
def test_hessp_is_the_derivative_of_the_gradient_along_the_vector(mod, K, weighted, reduction):
    p = make_problem(50, 5, K, weighted=weighted, seed=4)
    theta = full_vector(p.coef, p.intercept)
    direction = full_vector(p.vec_coef, p.vec_intercept)

    def gradient_along(t):
        coef, intercept = split(p, theta + t[0] * direction)
        _, gc, gi = p.replace(coef=coef, intercept=intercept).loss_grad(mod, reduction=reduction)
        return full_vector(gc, gi)

    fd = central_difference(gradient_along, np.zeros(1), 1e-5)[:, 0]
    assert_close(
        full_vector(*p.hessp(mod, reduction=reduction)),
        fd,
        1e-7,
        "hessp vs finite differences of the gradient",
    )


@pytest.mark.parametrize("layout, dtype, weighted", INPUTS)
def test_binary_hessian_agrees_with_reference_and_with_hessp_on_unit_vectors(layout, dtype, weighted):
    p = make_problem(1000, 13, None, layout, dtype, weighted)
    d = p.X.shape[1]
    H = p.hessian(fastlogit)
    assert H.dtype == np.float64 and H.shape == (d + 1, d + 1)
    rtol = RTOL[dtype]
    assert_close(H, p.hessian(reference), rtol, "binary_hessian vs reference")
    assert_close(H.T, H, 1e-15, "binary_hessian symmetry")
    for j in (0, 6, d - 1, d):  # d: the intercept
        e = np.zeros(d + 1)
        e[j] = 1.0
        column = p.replace(vec_coef=e[:d], vec_intercept=e[d]).hessp(fastlogit)
        assert_close(full_vector(*column), H[:, j], rtol, f"hessp(e_{j}) vs Hessian column")


@pytest.mark.parametrize("K", [None, 3, 5])
@pytest.mark.parametrize("layout, dtype, weighted", INPUTS)
def test_fused_newton_pass_is_loss_grad_and_hessian_in_one(layout, dtype, weighted, K):
    # {binary,multinomial}_loss_grad_hessian: what loss_grad and hessian give, from one read of X.
    p = make_problem(1000, 13, K, layout, dtype, weighted)
    loss, g, g_b, H = p.loss_grad_hessian(fastlogit)
    rtol = RTOL[dtype]
    assert_loss_grad_close((loss, g, g_b), p.loss_grad(fastlogit), rtol)
    assert_close(H, p.hessian(fastlogit), rtol, "fused Hessian vs the Hessian function")
    assert_close(H, p.hessian(reference), rtol, "fused Hessian vs reference")
    assert_close(H.T, H, 1e-15, "fused Hessian symmetry")
    ref = p.loss_grad_hessian(reference)
    for got, want in zip((loss, g, g_b, H), ref):
        assert_close(got, want, rtol, "loss_grad_hessian vs reference")


@pytest.mark.parametrize("K", [None, 3])
@pytest.mark.parametrize("d", [1, 2, 12, 41])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_newton_tiles_cover_every_hessian_entry(d, dtype, K):
    # Dense blocks' Hessians are summed in 2 x 2 tiles of the upper triangle
    # (kernels.rows.hessian_add): d + 1 odd (d = 2, 12) leaves a last row and
    # column of single entries, and 700 rows on two threads end each thread's
    # rows with a partial block.  Logits up to 60 give weights near 1e-26
    # beside ordinary ones.
    p = make_problem(700, d, K, "dense", dtype, True, max_logit=60.0)
    got = p.loss_grad_hessian(fastlogit, reduction="sum")
    want = p.loss_grad_hessian(reference, reduction="sum")
    for a, b in zip(got, want):
        assert_close(a, b, RTOL[dtype], f"d={d}")
    H = got[-1]
    assert np.array_equal(H, H.T)
    assert np.all(np.isfinite(H))


def kernel_hessian_diagonal(p, n_threads):
    """fastlogit's binary Hessian-diagonal kernel (Newton-CG's preconditioner; not public)."""
    from fastlogit.data import as_matrix
    from fastlogit.matrix import KernelCalls

    X = as_matrix(p.X)
    Xk = (X.data, X.indices, X.indptr) if scipy.sparse.issparse(X) else X
    coef = np.ascontiguousarray(p.coef, dtype=np.float64)
    return KernelCalls(X.shape[1], 2, n_threads).hessian_diagonal(
        Xk, p.sample_weight, coef, float(p.intercept)
    )


@pytest.mark.parametrize("max_logit", [None, 1e4])
@pytest.mark.parametrize("layout, dtype, weighted", INPUTS)
def test_hessian_diagonal_is_the_hessians_diagonal(layout, dtype, weighted, max_logit):
    p = make_problem(700, 12, None, layout, dtype, weighted, max_logit=max_logit)
    want = reference.binary_hessian_diagonal(p.X, p.coef, p.intercept, p.sample_weight, reduction="sum")
    full = np.diag(p.hessian(reference, reduction="sum"))
    assert_close(want.ravel(), full, 1e-13, "reference diagonal vs the reference Hessian's")
    serial = kernel_hessian_diagonal(p, 1)
    assert serial.shape == want.shape
    # float64 sums whatever X's dtype: the float32 entries are squared exactly.
    # (1e-11: with logits up to 1e4 most weights underflow, and the rest differ
    # from the reference's sigmoid(z) sigmoid(-z) in their last digits.)
    assert_close(serial, want, 1e-11, "hessian_diagonal vs reference")
    assert_close(kernel_hessian_diagonal(p, 2), serial, 1e-14, "two threads vs one")
    assert np.all(serial >= 0.0)


def test_hessian_diagonal_of_csr_rows_with_repeated_columns():
    # Non-canonical CSR (unsorted, a column stored twice or three times in a row):
    # X[i, j] is the entries' sum, and its square is what the diagonal adds.
    rng = np.random.default_rng(7)
    n, d, per_row = 500, 9, 6
    indices = rng.integers(0, d, n * per_row).astype(np.int32)
    data = rng.standard_normal(n * per_row)
    data[:per_row] = [1.0, -1.0, 2.0, 0.5, 0.5, 3.0]  # row 0: a sum that cancels, a repeated 0.5
    indices[:per_row] = [4, 4, 1, 7, 7, 7]
    X = scipy.sparse.csr_matrix((data, indices, np.arange(n + 1) * per_row), shape=(n, d))
    assert not X.has_canonical_format
    p = problem_for(X, None, weighted=True)
    want = reference.binary_hessian_diagonal(X.toarray(), p.coef, p.intercept, p.sample_weight, "sum")
    for n_threads in (1, 2):
        assert_close(kernel_hessian_diagonal(p, n_threads), want, 1e-13, f"{n_threads} threads")
        assert_close(kernel_hessian_diagonal(p, n_threads), want, 1e-13, "again: the accumulator left zeros")


def test_hessian_diagonal_on_one_row_and_all_zero_weights():
    p = make_problem(1000, 13, None, "csr", np.float64, True)
    one = p.replace(X=p.X[:1], y=p.y[:1], sample_weight=np.array([2.5]))
    want = reference.binary_hessian_diagonal(one.X, one.coef, one.intercept, one.sample_weight, "sum")
    assert_close(kernel_hessian_diagonal(one, 2), want, 1e-14, "one row")
    none = p.replace(sample_weight=np.zeros(p.X.shape[0]))
    np.testing.assert_array_equal(kernel_hessian_diagonal(none, 2), np.zeros(14))


@pytest.mark.parametrize("K", [None, 4])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_fused_newton_pass_on_one_row_and_more_threads_than_rows(layout, K):
    p = make_problem(1000, 13, K, layout, np.float64, True)
    one = p.replace(X=p.X[:1], y=p.y[:1], sample_weight=np.array([2.5]))
    for got, want in zip(
        one.loss_grad_hessian(fastlogit, reduction="sum"), one.loss_grad_hessian(reference, reduction="sum")
    ):
        assert_close(got, want, 1e-13, "one row")
    two = p.replace(X=p.X[:2], y=p.y[:2], sample_weight=None)
    serial = two.loss_grad_hessian(fastlogit, n_threads=1)
    parallel = two.loss_grad_hessian(fastlogit)  # a thread may get no rows
    for a, b in zip(serial, parallel):
        assert_close(a, b, 1e-15, "threads with no rows")


# -- reductions and parameters -----------------------------------------------------


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("K", [None, 3, 10])
def test_sum_reduction_is_mean_times_the_total_weight(K, weighted, layout):
    p = make_problem(1000, 13, K, layout, weighted=weighted)
    total = 1000.0 if p.sample_weight is None else p.sample_weight.sum()
    default = p.all_results(fastlogit)
    mean = p.all_results(fastlogit, reduction="mean")
    total_sum = p.all_results(fastlogit, reduction="sum")
    for a, b in zip(default, mean):
        np.testing.assert_array_equal(a, b, err_msg='the default reduction is "mean"')
    for i, (s, m) in enumerate(zip(total_sum, mean)):
        if i != 5:  # all_results()[5] is predict_raw, which has no reduction
            assert_close(s, m * total, 1e-12, f"output {i}: sum vs mean * total weight")


def test_unweighted_is_all_weights_one():
    for K in (None, 3):
        p = make_problem(1000, 13, K)
        ones = p.replace(sample_weight=np.ones(1000))
        for a, b in zip(p.all_results(fastlogit), ones.all_results(fastlogit)):
            assert_close(a, b, 1e-13, "sample_weight=None vs ones")


@pytest.mark.parametrize("y_dtype", [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.float32, np.float64])
def test_binary_labels_may_have_any_numeric_dtype(y_dtype):
    p = make_problem(1000, 13, None, weighted=True)
    expected = p.loss_grad(fastlogit)
    actual = p.replace(y=p.y.astype(y_dtype)).loss_grad(fastlogit)
    assert_loss_grad_close(actual, expected, 1e-15, f"y as {np.dtype(y_dtype).name}")


@pytest.mark.parametrize("y_dtype", [np.uint8, np.int32, np.int64, np.intp])
def test_multinomial_labels_may_have_any_integer_dtype(y_dtype):
    p = make_problem(1000, 13, 10, weighted=True)
    expected = p.loss_grad(fastlogit)
    actual = p.replace(y=p.y.astype(y_dtype)).loss_grad(fastlogit)
    assert_loss_grad_close(actual, expected, 1e-15, f"y as {np.dtype(y_dtype).name}")


@pytest.mark.parametrize("K", [None, 3])
def test_parameters_are_converted_to_float64_and_intercept_defaults_to_zero(K):
    p = make_problem(1000, 13, K, weighted=True)
    # float32 parameters (exactly representable in float64) and lists.
    p32 = p.replace(
        coef=p.coef.astype(np.float32),
        intercept=np.float32(0.5) if K is None else np.full(K, 0.5, np.float32),
        vec_coef=p.vec_coef.astype(np.float32),
        vec_intercept=np.float32(0.25) if K is None else np.full(K, 0.25, np.float32),
        sample_weight=p.sample_weight.astype(np.float32),
    )
    p64 = p32.replace(
        coef=p32.coef.astype(np.float64),
        intercept=0.5 if K is None else [0.5] * K,
        vec_coef=p32.vec_coef.tolist(),
        vec_intercept=0.25 if K is None else [0.25] * K,
        sample_weight=p32.sample_weight.astype(np.float64),
    )
    for a, b in zip(p32.all_results(fastlogit), p64.all_results(fastlogit)):
        assert_close(a, b, 1e-15, "float32 / list parameters vs float64")

    zero = 0.0 if K is None else np.zeros(K)
    with_zero = p.replace(intercept=zero, vec_intercept=zero)
    f, w = fastlogit, p.sample_weight
    if K is None:
        default = [
            *f.binary_loss_grad(p.X, p.y, p.coef, sample_weight=w),
            *f.binary_hessp(p.X, p.coef, 0.0, p.vec_coef, sample_weight=w),
            f.binary_predict_raw(p.X, p.coef),
            f.binary_hessian(p.X, p.coef, sample_weight=w),
        ]
    else:
        default = [
            *f.multinomial_loss_grad(p.X, p.y, p.coef, sample_weight=w),
            *f.multinomial_hessp(p.X, p.coef, None, p.vec_coef, sample_weight=w),
            f.multinomial_predict_raw(p.X, p.coef),
        ]
    for a, b in zip(default, with_zero.all_results(fastlogit)):
        assert_close(a, b, 1e-15, "default intercept vs explicit zero")


# -- layouts and read-only inputs ------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [None, 3, 10])
def test_fortran_order_and_strided_views_give_the_same_results(K, dtype):
    p = make_problem(1000, 13, K, dtype=dtype, weighted=True)
    expected = p.all_results(fastlogit)
    holder = np.zeros((2 * 1000, 3 * 13), dtype=dtype)
    holder[::2, 1::3] = p.X
    for name, X in [("F-order", np.asfortranarray(p.X)), ("strided view", holder[::2, 1::3])]:
        np.testing.assert_array_equal(X, p.X)
        for a, b in zip(p.replace(X=X).all_results(fastlogit), expected):
            assert_close(a, b, 1e-12 if dtype == np.float64 else 1e-6, f"{name} vs C-order")


def read_only(a):
    if a is None or np.ndim(a) == 0:
        return a
    a = np.array(a)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("K", [None, 10])
def test_inputs_are_never_written(K, layout, tmp_path):
    p = make_problem(1000, 13, K, layout, weighted=True)
    # Fresh writeable copies: none may change.
    X = p.X.copy()
    fields = {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}
    fields = {name: v.copy() if isinstance(v, np.ndarray) else v for name, v in fields.items()}
    fields["X"] = X
    writeable = Problem(**fields)
    expected = writeable.all_results(fastlogit)
    for name, value in fields.items():
        original = getattr(p, name)
        if scipy.sparse.issparse(value):
            assert (value != original).nnz == 0, f"{name} was written"
        else:
            np.testing.assert_array_equal(value, original, err_msg=f"{name} was written")

    # Read-only arrays (the kernels must not even ask for write access).
    if layout == "csr":
        X_ro = X.copy()
        for part in (X_ro.data, X_ro.indices, X_ro.indptr):
            part.flags.writeable = False
    else:
        X_ro = read_only(X)
    frozen = Problem(**{name: (X_ro if name == "X" else read_only(v)) for name, v in fields.items()})
    for a, b in zip(frozen.all_results(fastlogit), expected):
        assert_close(a, b, 1e-14, "read-only inputs")

    # A read-only memory map, as np.load(mmap_mode="r") gives for big data.
    if layout == "dense":
        np.save(tmp_path / "X.npy", X)
        X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
        assert isinstance(X_map, np.memmap) and not X_map.flags.writeable
        for a, b in zip(frozen.replace(X=X_map).all_results(fastlogit), expected):
            assert_close(a, b, 1e-14, "memory-mapped X")


# -- threads -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("K", [None, 10])
def test_thread_count_changes_only_rounding_and_runs_are_bit_identical(K, layout):
    p = make_problem(100_003, 20, K, layout, weighted=True, seed=5)
    one = p.all_results(fastlogit, n_threads=1)
    two = p.all_results(fastlogit, n_threads=2)
    for i, (a, b) in enumerate(zip(two, one)):
        assert_close(a, b, 1e-12, f"output {i}: n_threads=2 vs 1")
    for n_threads in (1, 2, None):
        first = p.all_results(fastlogit, n_threads=n_threads)
        again = p.all_results(fastlogit, n_threads=n_threads)
        for i, (a, b) in enumerate(zip(first, again)):
            assert np.array_equal(a, b), f"output {i}: two runs with n_threads={n_threads} differ"


# -- memory ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_dense_inputs():
    """C-contiguous float64 X with d=20 at n=1e5 and n=1e6 (the latter 160 MB)."""
    rng = np.random.default_rng(6)
    return {n: rng.standard_normal((n, 20)) for n in (10**5, 10**6)}


def traced_peak(call):
    """Peak bytes NumPy/Python allocate during call(), after one warm-up call."""
    call()  # compilation, on-disk cache loading, thread pool start-up
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("K", [None, 10])
def test_peak_traced_memory_of_an_evaluation_does_not_grow_with_n(K, weighted, wide_dense_inputs):
    # Labels in the dtype a kernel reads without conversion (float64 for
    # binary, intp for classes): a converted copy of y would itself be O(n).
    peaks = {}
    for n, X in wide_dense_inputs.items():
        p = problem_for(X, K, weighted=weighted, seed=7)
        peaks[n] = traced_peak(lambda p=p: p.loss_grad(fastlogit))
    small, big = peaks[10**5], peaks[10**6]
    assert big < MIB, f"peak {big} bytes at n=1e6 (vs {small} at n=1e5)"
    assert big <= 1.5 * small + 64 * 2**10, f"peak grows with n: {small} -> {big} bytes"


# A fresh interpreter: the peak resident set (VmHWM) is reset just before the
# call through /proc/self/clear_refs, so it is this call's own high-water mark.
# Kernel buffers come from Numba's allocator, which tracemalloc does not see.
RSS_SCRIPT = """
import numpy as np
import fastlogit

K = {K}
rng = np.random.default_rng(8)
X = rng.standard_normal((10**6, 20))
if K is None:
    y = rng.integers(0, 2, 10**6).astype(np.float64)
    coef, call = rng.standard_normal(20), fastlogit.binary_loss_grad
else:
    y = rng.integers(0, K, 10**6)
    coef, call = rng.standard_normal((K, 20)), fastlogit.multinomial_loss_grad

def kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

call(X, y, coef)  # warm-up at full size: compilation, cache, threads, parallel path
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = kib("VmRSS")
call(X, y, coef)
print(before, kib("VmHWM"))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")
@pytest.mark.parametrize("K", [None, 10])
def test_peak_resident_memory_of_an_evaluation_at_n_1e6_is_small(K):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(RSS_SCRIPT.format(K=K))], capture_output=True, text=True
    )
    if result.returncode != 0 and "clear_refs" in result.stderr:
        pytest.skip("cannot reset the peak RSS through /proc/self/clear_refs")
    assert result.returncode == 0, result.stderr
    before, peak = map(int, result.stdout.split())
    # X is 160 MB; one float64 n-vector would be 7.6 MiB, so the bound sits
    # well under that rather than at it.
    assert peak - before < 4 * 1024, f"RSS grew by {(peak - before) / 1024:.1f} MiB during the call"


@pytest.mark.parametrize("layout, dtype, weighted", INPUTS)
def test_multinomial_hessian_agrees_with_reference_and_with_hessp_on_unit_vectors(layout, dtype, weighted):
    p = make_problem(800, 7, 3, layout, dtype, weighted)
    K, d = p.coef.shape
    H = p.hessian(fastlogit)
    assert H.dtype == np.float64 and H.shape == (K * (d + 1), K * (d + 1))
    rtol = RTOL[dtype]
    assert_close(H, p.hessian(reference), rtol, "multinomial_hessian vs reference")
    assert_close(H.T, H, 1e-15, "multinomial_hessian symmetry")
    for k, j in ((0, 0), (1, 4), (2, d)):  # j = d: the intercept
        e = np.zeros((K, d + 1))
        e[k, j] = 1.0
        vg, vb = p.replace(vec_coef=e[:, :d], vec_intercept=e[:, d]).hessp(fastlogit)
        column = np.column_stack([vg, vb]).ravel()
        assert_close(H[:, k * (d + 1) + j], column, rtol, f"column ({k}, {j}) vs hessp")
