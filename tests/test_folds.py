"""Fold-fused kernels (k-fold cross-validation, issue 16): agreement, calculus, edges, memory.

``fastlogit.fold_loss_grad`` / ``fold_hessp`` give the k models of k-fold
CV from one pass over X.  Each model's training sums are checked against k
separate calls of the one-model kernels (the held-out rows weighted 0) and
everything against the NumPy twins in ``fastlogit.reference``; the held-out
loss and accuracy against NumPy on the scores; gradients and Hessian
products against finite differences.  Then the edges (empty folds, a fold
without a class, one row, extreme logits), bad arguments, thread counts and
the promise that a call's memory does not grow with n.
"""

import dataclasses
import functools
import tracemalloc

import numpy as np
import pytest
import scipy.sparse

import fastlogit
from fastlogit import reference
from fastlogit.data import as_fold_ids
from fastlogit.matrix import FoldKernelCalls, kernel_view

pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")

MIB = 2**20


# -- problems ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FoldProblem:
    """k models at one point: ``coef`` (k, d) binary, (k, K, d) softmax."""

    X: object
    y: np.ndarray
    fold: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    sample_weight: object
    vec_coef: np.ndarray
    vec_intercept: np.ndarray

    @property
    def binary(self):
        return self.coef.ndim == 2

    @property
    def k(self):
        return self.coef.shape[0]

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def loss_grad(self, mod, **kw):
        return mod.fold_loss_grad(
            self.X, self.y, self.fold, self.coef, self.intercept, self.sample_weight, **kw
        )

    def hessp(self, mod, **kw):
        return mod.fold_hessp(
            self.X,
            self.fold,
            self.coef,
            self.intercept,
            self.vec_coef,
            self.vec_intercept,
            self.sample_weight,
            **kw,
        )

    def training_weights(self, j):
        """Model j's weights for a one-model call: the sample weights, 0 on fold j."""
        s = np.ones(self.X.shape[0]) if self.sample_weight is None else self.sample_weight
        return np.where(self.fold == j, 0.0, s)

    def separate_loss_grad(self, mod):
        """k one-model calls (reduction "sum"): losses (k,) and gradients in the fold layout."""
        f = mod.binary_loss_grad if self.binary else mod.multinomial_loss_grad
        losses, grads = [], []
        for j in range(self.k):
            loss, g, g_b = f(
                self.X, self.y, self.coef[j], self.intercept[j], self.training_weights(j), reduction="sum"
            )
            losses.append(loss)
            grads.append(np.concatenate([g, np.asarray(g_b)[..., None]], axis=-1))
        return np.array(losses), np.array(grads)

    def separate_hessp(self, mod):
        f = mod.binary_hessp if self.binary else mod.multinomial_hessp
        out = []
        for j in range(self.k):
            hv, hv_b = f(
                self.X,
                self.coef[j],
                self.intercept[j],
                self.vec_coef[j],
                self.vec_intercept[j],
                self.training_weights(j),
                reduction="sum",
            )
            out.append(np.concatenate([hv, np.asarray(hv_b)[..., None]], axis=-1))
        return np.array(out)


def fold_problem_for(X, k, K=None, *, weighted=False, max_logit=None, seed=0, fold=None):
    """Random models (scores about N(0, 2**2), or scaled to ``max |z| == max_logit``),
    labels, weights (every fifth, not the first, exactly 0), fold ids and directions."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    shape = (k, d) if K is None else (k, K, d)
    density = X.nnz / (n * d) if scipy.sparse.issparse(X) else 1.0
    coef = rng.standard_normal(shape) * 2 / np.sqrt(d * max(density, 1e-3))
    intercept = rng.standard_normal(shape[:-1])
    if max_logit is not None:
        z = np.stack(
            [
                reference.binary_predict_raw(X, coef[j], intercept[j])
                if K is None
                else reference.multinomial_predict_raw(X, coef[j], intercept[j])
                for j in range(k)
            ]
        )
        factor = max_logit / np.max(np.abs(z))
        coef, intercept = coef * factor, intercept * factor
    y = rng.integers(0, 2, n).astype(np.float64) if K is None else rng.integers(0, K, n)
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0, 3, n)
        sample_weight[1::5] = 0.0
    if fold is None:
        fold = rng.permutation(np.arange(n) % k)
    vec_coef = rng.standard_normal(shape)
    vec_intercept = rng.standard_normal(shape[:-1])
    return FoldProblem(
        X, y, np.asarray(fold, dtype=np.int64), coef, intercept, sample_weight, vec_coef, vec_intercept
    )


@functools.cache
def make_X(n, d, layout="dense", dtype=np.float64, seed=0):
    """Seeded X; "csr" keeps ~30% of the entries (some rows empty)."""
    rng = np.random.default_rng(seed + 1000)
    X = rng.standard_normal((n, d))
    if layout == "csr":
        X[rng.random((n, d)) < 0.7] = 0.0
        return scipy.sparse.csr_matrix(X.astype(dtype))
    return X.astype(dtype)


@functools.cache
def make_problem(n, d, k, K=None, layout="dense", dtype=np.float64, weighted=False, seed=0):
    return fold_problem_for(make_X(n, d, layout, dtype, seed), k, K, weighted=weighted, seed=seed)


# -- comparisons -----------------------------------------------------------------


def assert_close(actual, expected, rtol, what="result"):
    """Norm-wise per model: ``|actual[j] - expected[j]| <= rtol |expected[j]|``, float64, finite."""
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.float64, f"{what}: dtype {actual.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: not finite: {actual}"
    for j in range(actual.shape[0]):
        err = np.linalg.norm(np.ravel(actual[j] - expected[j]))
        scale = np.linalg.norm(np.ravel(expected[j]))
        assert err <= rtol * scale, f"{what}, model {j}: relative error {err / scale:.3e} > {rtol:g}"


def assert_same_results(actual, expected, rtol, what):
    """Two ``(loss, grad, test_loss, test_accuracy)``: close, NaN in the same places."""
    names = ("loss", "grad", "test_loss", "test_accuracy")
    for name, a, e in zip(names, actual, expected):
        a, e = np.asarray(a), np.asarray(e)
        nan = np.isnan(e)
        assert np.array_equal(np.isnan(a), nan), f"{what} {name}: NaN at {np.isnan(a)}, expected {nan}"
        models = ~nan.reshape(nan.shape[0], -1).any(axis=1)
        assert_close(a[models], e[models], rtol, f"{what} {name}")


# -- agreement with k separate calls and with the reference ----------------------

CASES = [
    pytest.param(layout, dtype, id=f"{layout}-{np.dtype(dtype).name}")
    for layout, dtype in [
        ("dense", np.float64),
        ("dense", np.float32),
        ("csr", np.float64),
        ("csr", np.float32),
    ]
]


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
@pytest.mark.parametrize("layout, dtype", CASES)
def test_training_sums_are_k_separate_calls(layout, dtype, K, weighted, k):
    p = make_problem(3001, 13, k, K, layout, dtype, weighted, seed=k)
    out = p.loss_grad(fastlogit, reduction="sum")
    loss, grad = p.separate_loss_grad(fastlogit)
    assert_close(out.loss, loss, 1e-12, "loss")
    assert_close(out.grad, grad, 1e-12, "grad")
    assert_close(p.hessp(fastlogit, reduction="sum"), p.separate_hessp(fastlogit), 1e-12, "hessp")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
@pytest.mark.parametrize("layout, dtype", CASES)
def test_matches_reference(layout, dtype, K, weighted, reduction):
    p = make_problem(2003, 11, 3, K, layout, dtype, weighted, seed=7)
    out = p.loss_grad(fastlogit, reduction=reduction)
    assert isinstance(out, fastlogit.FoldLossGrad)
    assert_same_results(out, p.loss_grad(reference, reduction=reduction), 1e-12, "fold_loss_grad")
    assert_close(
        p.hessp(fastlogit, reduction=reduction), p.hessp(reference, reduction=reduction), 1e-12, "hessp"
    )


def test_result_shapes_and_views():
    for K in (None, 3):
        p = make_problem(500, 6, 4, K)
        out = p.loss_grad(fastlogit)
        layout = (4, 7) if K is None else (4, 3, 7)
        assert out.loss.shape == out.test_loss.shape == out.test_accuracy.shape == (4,)
        assert out.grad.shape == layout
        assert p.hessp(fastlogit).shape == layout
        np.testing.assert_array_equal(out.grad_coef, out.grad[..., :6])
        np.testing.assert_array_equal(out.grad_intercept, out.grad[..., 6])
        loss, grad, test_loss, test_accuracy = out  # a tuple
        assert loss is out.loss and grad is out.grad


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_held_out_loss_and_accuracy_from_the_scores(K, weighted):
    p = make_problem(1999, 9, 5, K, weighted=weighted, seed=3)
    out = p.loss_grad(fastlogit)
    s = np.ones(p.X.shape[0]) if p.sample_weight is None else p.sample_weight
    for j in range(p.k):
        test = p.fold == j
        if p.binary:
            z = p.X[test] @ p.coef[j] + p.intercept[j]
            yt = p.y[test]
            loss = np.logaddexp(0, z) - yt * z
            right = (z > 0) == (yt == 1)
        else:
            Z = p.X[test] @ p.coef[j].T + p.intercept[j]
            yt = p.y[test]
            m = Z.max(axis=1)
            loss = m + np.log(np.exp(Z - m[:, None]).sum(axis=1)) - Z[np.arange(len(yt)), yt]
            right = Z.argmax(axis=1) == yt
        st = s[test]
        np.testing.assert_allclose(out.test_loss[j], np.sum(st * loss) / st.sum(), rtol=1e-12)
        np.testing.assert_allclose(out.test_accuracy[j], np.sum(st * right) / st.sum(), rtol=1e-14)


def test_ties_predict_as_scikit_learn():
    # Binary: score 0 predicts class 0.  Softmax: the first largest score.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    fold = np.array([0, 0, 1, 1])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    coef = np.zeros((2, 2))
    out = fastlogit.fold_loss_grad(X, y, fold, coef, reduction="sum")
    np.testing.assert_array_equal(out.test_accuracy, [1.0, 1.0])  # one right of two per fold
    coef3 = np.zeros((2, 3, 2))
    coef3[:, 1, 0] = coef3[:, 2, 0] = 1.0  # rows with x0 = 1: classes 1 and 2 tie
    y3 = np.array([0, 1, 1, 2])
    out = fastlogit.fold_loss_grad(X, y3, fold, coef3, reduction="sum")
    # fold 0 (x = 0, all scores 0): class 0 predicted, right for y = 0 only;
    # fold 1: class 1 predicted, right for y = 1 only.
    np.testing.assert_array_equal(out.test_accuracy, [1.0, 1.0])
    assert_same_results(out, reference.fold_loss_grad(X, y3, fold, coef3, reduction="sum"), 1e-12, "ties")


# -- calculus ------------------------------------------------------------------------


@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_gradient_and_hessian_products_by_finite_differences(K):
    p = make_problem(400, 5, 3, K, weighted=True, seed=11)
    out = p.loss_grad(fastlogit)
    j = 1
    h = 1e-6
    rng = np.random.default_rng(0)
    for _ in range(4):  # random directions in model j's (coef, intercept)
        dc = rng.standard_normal(p.coef.shape[1:])
        db = rng.standard_normal(p.intercept.shape[1:])
        coef_p, coef_m = p.coef.copy(), p.coef.copy()
        b_p, b_m = p.intercept.copy(), p.intercept.copy()
        coef_p[j] += h * dc
        coef_m[j] -= h * dc
        b_p[j] += h * db
        b_m[j] -= h * db
        plus = p.replace(coef=coef_p, intercept=b_p).loss_grad(fastlogit)
        minus = p.replace(coef=coef_m, intercept=b_m).loss_grad(fastlogit)
        slope = (plus.loss[j] - minus.loss[j]) / (2 * h)
        exact = np.sum(out.grad_coef[j] * dc) + np.sum(out.grad_intercept[j] * db)
        np.testing.assert_allclose(slope, exact, rtol=1e-6, atol=1e-9)
        # The other models do not move.
        others = np.arange(p.k) != j
        np.testing.assert_array_equal(plus.loss[others], out.loss[others])
        # Hessian times the direction: the gradient's change.
        vc, vb = np.zeros_like(p.coef), np.zeros_like(p.intercept)
        vc[j], vb[j] = dc, db
        hv = p.replace(vec_coef=vc, vec_intercept=vb).hessp(fastlogit)
        fd = (plus.grad[j] - minus.grad[j]) / (2 * h)
        np.testing.assert_allclose(hv[j], fd, rtol=1e-5, atol=1e-8)
        assert not np.any(hv[others])


# -- threads and determinism ----------------------------------------------------------


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_thread_count_changes_only_rounding_and_runs_are_bit_identical(K, layout):
    p = make_problem(60_013, 20, 3, K, layout, weighted=True, seed=5)

    def results(n_threads):
        return [*p.loss_grad(fastlogit, n_threads=n_threads), p.hessp(fastlogit, n_threads=n_threads)]

    one, two = results(1), results(2)
    for i, (a, b) in enumerate(zip(two, one)):
        assert_close(a, b, 1e-12, f"output {i}: 2 threads vs 1")
    for n_threads in (1, 2):
        again = results(n_threads)
        for i, (a, b) in enumerate(zip(again, results(n_threads))):
            assert np.array_equal(a, b), f"output {i}: two runs with n_threads={n_threads} differ"


@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("layout, dtype", CASES)
def test_fold_kernel_calls_on_every_thread_count(layout, dtype, n_threads, K):
    # The matrix layer directly: the chosen count, whatever the size (the façade
    # keeps a problem this small on one thread).
    p = make_problem(1001, 7, 3, K, layout, dtype, weighted=True, seed=2)
    y = p.y if p.binary else p.y.astype(np.intp)
    calls = FoldKernelCalls(7, 2 if p.binary else 3, 3, n_threads, binary=p.binary)
    loss, grad, test_loss, correct, weight = calls.loss_grad(
        kernel_view(p.X), y, p.fold, p.sample_weight, p.coef, p.intercept
    )
    expected = p.loss_grad(reference, reduction="sum")
    assert_close(loss, expected[0], 1e-12, "loss")
    assert_close(grad, expected[1], 1e-12, "grad")
    assert_close(test_loss, expected[2], 1e-12, "test_loss")
    assert_close(correct, expected[3], 1e-12, "correct")
    np.testing.assert_allclose(weight, np.bincount(p.fold, weights=p.sample_weight, minlength=3), rtol=1e-12)
    hv = calls.hessp(
        kernel_view(p.X), p.fold, p.sample_weight, p.coef, p.intercept, p.vec_coef, p.vec_intercept
    )
    assert_close(hv, p.hessp(reference, reduction="sum"), 1e-12, "hessp")
    again = calls.loss_grad(kernel_view(p.X), y, p.fold, p.sample_weight, p.coef, p.intercept)
    assert np.array_equal(again[1], grad)  # buffers reused: the same bits


# -- edges -----------------------------------------------------------------------------


@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_a_fold_without_some_class(K):
    p = make_problem(600, 5, 3, K, seed=4)
    y = p.y.copy()
    y[p.fold == 0] = 0  # fold 0 holds class 0 only; model 0 trains without it missing
    if K is not None:
        y[(p.fold == 1) & (y == 2)] = 1  # and fold 1 lacks class 2
    q = p.replace(y=y)
    for reduction in ("mean", "sum"):
        assert_same_results(
            q.loss_grad(fastlogit, reduction=reduction),
            q.loss_grad(reference, reduction=reduction),
            1e-12,
            reduction,
        )
    loss, grad = q.separate_loss_grad(fastlogit)
    out = q.loss_grad(fastlogit, reduction="sum")
    assert_close(out.loss, loss, 1e-12, "loss")
    assert_close(out.grad, grad, 1e-12, "grad")


@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_a_fold_without_rows(K):
    X = make_X(500, 6)
    fold = np.random.default_rng(1).integers(0, 2, 500)  # folds 0 and 1 only of k = 3
    p = fold_problem_for(X, 3, K, weighted=True, seed=6, fold=fold)
    out = p.loss_grad(fastlogit)
    assert np.isnan(out.test_loss[2]) and np.isnan(out.test_accuracy[2])
    assert np.all(np.isfinite(out.test_loss[:2])) and np.all(np.isfinite(out.loss))
    assert_same_results(out, p.loss_grad(reference), 1e-12, "mean")
    sums = p.loss_grad(fastlogit, reduction="sum")
    assert sums.test_loss[2] == 0.0 and sums.test_accuracy[2] == 0.0
    loss, grad = p.separate_loss_grad(fastlogit)
    assert_close(sums.loss, loss, 1e-12, "loss")  # model 2 trains on every row
    assert_close(sums.grad, grad, 1e-12, "grad")
    assert_close(p.hessp(fastlogit), p.hessp(reference), 1e-12, "hessp")


@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_one_row(K):
    X = np.array([[0.5, -1.0, 2.0]])
    p = fold_problem_for(X, 2, K, seed=8, fold=[0])
    out = p.loss_grad(fastlogit)
    # Model 0 has no training rows, model 1 no held-out rows.
    assert np.isnan(out.loss[0]) and np.all(np.isnan(out.grad[0]))
    assert np.isnan(out.test_loss[1]) and np.isnan(out.test_accuracy[1])
    assert_same_results(out, p.loss_grad(reference), 1e-12, "one row")
    sums = p.loss_grad(fastlogit, reduction="sum")
    assert sums.loss[0] == 0.0 and not np.any(sums.grad[0])
    assert_same_results(sums, p.loss_grad(reference, reduction="sum"), 1e-12, "one row, sums")
    hv = p.hessp(fastlogit, reduction="sum")
    assert not np.any(hv[0])
    assert_close(hv[1:], p.hessp(reference, reduction="sum")[1:], 1e-12, "hessp")


@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_extreme_logits_stay_finite(K):
    X = make_X(700, 8)
    p = fold_problem_for(X, 3, K, max_logit=1e4, seed=9)
    out = p.loss_grad(fastlogit)
    for a in (*out, p.hessp(fastlogit)):
        assert np.all(np.isfinite(a))
    assert_same_results(out, p.loss_grad(reference), 1e-10, "extreme")


def test_inputs_are_never_written():
    for K in (None, 3):
        p = make_problem(300, 4, 3, K, weighted=True, seed=12)
        copies = {f.name: np.copy(getattr(p, f.name)) for f in dataclasses.fields(p) if f.name != "X"}
        X = p.X.copy()
        p.loss_grad(fastlogit)
        p.hessp(fastlogit)
        np.testing.assert_array_equal(p.X, X)
        for name, value in copies.items():
            np.testing.assert_array_equal(getattr(p, name), value, err_msg=name)


# -- bad input ---------------------------------------------------------------------------


def test_as_fold_ids():
    np.testing.assert_array_equal(as_fold_ids([0, 2, 1], 3, 3), [0, 2, 1])
    assert as_fold_ids(np.array([0, 1], dtype=np.int32), 2, 2).dtype == np.int64
    ids = np.array([1, 0], dtype=np.int64)
    assert as_fold_ids(ids, 2, 2) is ids  # no copy


@pytest.mark.parametrize(
    "change, error, name",
    [
        ({"fold": np.zeros(99, dtype=np.int64)}, ValueError, "fold"),
        ({"fold": np.zeros((100, 1), dtype=np.int64)}, ValueError, "fold"),
        ({"fold": np.full(100, 3)}, ValueError, "fold"),
        ({"fold": np.full(100, -1)}, ValueError, "fold"),
        ({"fold": np.zeros(100)}, TypeError, "fold"),
        ({"fold": np.zeros(100, dtype=bool)}, TypeError, "fold"),
        ({"coef": np.zeros(5)}, ValueError, "coef"),
        ({"coef": np.zeros((3, 6))}, ValueError, "coef"),
        ({"coef": np.zeros((0, 5))}, ValueError, "coef"),
        ({"coef": np.zeros((3, 2, 2, 5))}, ValueError, "coef"),
        ({"coef": np.full((3, 5), np.nan)}, ValueError, "coef"),
        ({"intercept": np.zeros(2)}, ValueError, "intercept"),
        ({"y": np.full(100, 2.0)}, ValueError, "y"),
        ({"y": np.zeros(99)}, ValueError, "y"),
        ({"sample_weight": -np.ones(100)}, ValueError, "sample_weight"),
    ],
)
def test_bad_arguments_are_named(change, error, name):
    p = make_problem(100, 5, 3, seed=13)
    with pytest.raises(error, match=name):
        p.replace(**change).loss_grad(fastlogit)
    if "y" not in change:
        with pytest.raises(error, match=name):
            p.replace(**change).hessp(fastlogit)


def test_bad_softmax_arguments_are_named():
    p = make_problem(100, 5, 3, K=3, seed=13)
    with pytest.raises(ValueError, match="y"):
        p.replace(y=np.full(100, 3)).loss_grad(fastlogit)
    with pytest.raises(ValueError, match="intercept"):
        p.replace(intercept=np.zeros(3)).loss_grad(fastlogit)
    with pytest.raises(ValueError, match="vec_coef"):
        p.replace(vec_coef=np.zeros((3, 5))).hessp(fastlogit)
    with pytest.raises(ValueError, match="vec_intercept"):
        p.replace(vec_intercept=np.zeros(3)).hessp(fastlogit)
    with pytest.raises(ValueError, match="reduction"):
        p.loss_grad(fastlogit, reduction="max")


# -- memory ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_dense_inputs():
    """C-contiguous float64 X with d=20 at n=1e5 and n=1e6 (the latter 160 MB)."""
    rng = np.random.default_rng(6)
    return {n: rng.standard_normal((n, 20)) for n in (10**5, 10**6)}


def traced_peak(call):
    """Peak bytes NumPy/Python allocate during call(), after one warm-up call."""
    call()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("K", [None, 3], ids=["binary", "K3"])
def test_peak_traced_memory_of_a_call_does_not_grow_with_n(K, weighted, wide_dense_inputs):
    # Labels in the dtype a kernel reads without conversion (float64 for
    # binary, intp for classes) and int64 fold ids: a converted copy would be O(n).
    peaks = {}
    for n, X in wide_dense_inputs.items():
        p = fold_problem_for(X, 5, K, weighted=weighted, seed=7)
        if not p.binary:
            p = p.replace(y=p.y.astype(np.intp))
        peaks[n] = traced_peak(lambda p=p: (p.loss_grad(fastlogit), p.hessp(fastlogit)))
    small, big = peaks[10**5], peaks[10**6]
    assert big < MIB, f"peak {big} bytes at n=1e6 (vs {small} at n=1e5)"
    assert big <= 1.5 * small + 64 * 2**10, f"peak grows with n: {small} -> {big} bytes"


def test_held_out_loss_is_clipped_as_sklearn_log_loss():
    # A confidently wrong held-out row (score 1e4 against its label) counts
    # -log(eps), as scikit-learn's log_loss clips the probability to [eps, 1 - eps].
    from sklearn.metrics import log_loss

    X = np.array([[1.0], [1.0], [-1.0], [-1.0]])
    y = np.array([0.0, 1.0, 0.0, 1.0])
    fold = np.array([0, 1, 0, 1])
    coef = np.array([[1e4], [1e4]])
    res = fastlogit.fold_loss_grad(X, y, fold, coef, np.zeros(2))
    ref = fastlogit.reference.fold_loss_grad(X, y, fold, coef, np.zeros(2))
    p = fastlogit.sigmoid(X[:, 0] * 1e4)
    for j in range(2):
        rows = fold == j
        expected = log_loss(y[rows], np.column_stack([1 - p[rows], p[rows]]), labels=[0, 1])
        np.testing.assert_allclose(res.test_loss[j], expected, rtol=1e-12)
        np.testing.assert_allclose(ref[2][j], expected, rtol=1e-12)
    # K = 3: the same clip on the softmax probability of the true class.
    W = np.zeros((2, 3, 1))
    W[:, 2, 0] = 1e4
    yk = np.array([0, 2, 1, 2])
    res = fastlogit.fold_loss_grad(X, yk, fold, W, np.zeros((2, 3)))
    P = fastlogit.softmax(X[:, :1] * W[0, :, 0], axis=1)
    for j in range(2):
        rows = fold == j
        expected = log_loss(yk[rows], P[rows], labels=[0, 1, 2])
        np.testing.assert_allclose(res.test_loss[j], expected, rtol=1e-12)
