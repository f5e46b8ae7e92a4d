"""The penalized objective: scikit-learn's formula, its derivatives, its data sources.

The objective is compared with a plain NumPy formula built on
fastlogit.reference (the data term) plus the penalty written out; its
gradient and Hessian products with finite differences; its pieces (prox,
optimality, Lipschitz bound, working-set restriction, sums over several
row sources) with what they promise.
"""

import numpy as np
import pytest
import scipy.sparse

import fastlogit
from fastlogit import reference
from fastlogit.objective import Objective
from fastlogit.row_sources import ArrayRows

pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")


def make_data(n=300, d=6, K=2, weighted=False, seed=0, layout="dense", dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    if layout == "csr":
        X[rng.random((n, d)) < 0.6] = 0.0
        X = scipy.sparse.csr_matrix(X)
    y = rng.integers(0, K, n)
    sw = rng.uniform(0, 3, n) if weighted else None
    return X, y, sw


def random_point(objective, seed=1, scale=0.5):
    return np.random.default_rng(seed).standard_normal(objective.n_params) * scale


def numpy_objective(X, y, sw, K, x, *, C, l1_ratio, fit_intercept):
    """scikit-learn's penalized objective written out, the data term from fastlogit.reference."""
    d = X.shape[1]
    rows = 1 if K == 2 else K
    coef = x[: rows * d].reshape(rows, d)
    intercept = x[rows * d :] if fit_intercept else np.zeros(rows)
    if K == 2:
        data, _, _ = reference.binary_loss_grad(X, y, coef[0], intercept[0], sw)
    else:
        data, _, _ = reference.multinomial_loss_grad(X, y, coef, intercept, sw)
    S = X.shape[0] if sw is None else sw.sum()
    if np.isinf(C):
        return data
    return data + (1 - l1_ratio) / (2 * C * S) * np.sum(coef**2) + l1_ratio / (C * S) * np.sum(np.abs(coef))


CASES = [
    (K, weighted, fit_intercept)
    for K in (2, 4)
    for weighted in (False, True)
    for fit_intercept in (True, False)
]


@pytest.mark.parametrize("K, weighted, fit_intercept", CASES)
@pytest.mark.parametrize("C, l1_ratio", [(0.3, 0.0), (0.3, 0.4), (2.0, 1.0), (np.inf, 0.5)])
def test_value_is_scikit_learns_penalized_objective(K, weighted, fit_intercept, C, l1_ratio):
    X, y, sw = make_data(K=K, weighted=weighted)
    obj = Objective.from_arrays(X, y, sw, n_classes=K, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    x = random_point(obj)
    expected = numpy_objective(X, y, sw, K, x, C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept)
    np.testing.assert_allclose(obj.value(x), expected, rtol=1e-13)


def test_penalty_scales_with_the_weight_sum_and_skips_the_intercept():
    X, y, _ = make_data(n=200)
    sw = np.full(200, 2.5)  # S = 500
    obj = Objective.from_arrays(X, y, sw, C=0.5, l1_ratio=0.25)
    assert obj.l2_strength == pytest.approx(0.75 / (0.5 * 500))
    assert obj.l1_strength == pytest.approx(0.25 / (0.5 * 500))
    x = random_point(obj)
    data, _ = obj.data_loss_grad(x)
    w = x[:-1]
    expected = data + 0.5 * obj.l2_strength * w @ w + obj.l1_strength * np.abs(w).sum()
    assert obj.value(x) == pytest.approx(expected, rel=1e-14)
    shifted = x.copy()
    shifted[-1] += 1.0  # the intercept: changes the data term only
    assert obj.value(shifted) - obj.data_loss_grad(shifted)[0] == pytest.approx(
        obj.value(x) - data, rel=1e-14
    )


def test_c_inf_means_no_penalty_at_all():
    X, y, _ = make_data()
    obj = Objective.from_arrays(X, y, C=np.inf, l1_ratio=0.7)
    x = random_point(obj)
    assert obj.l1_strength == obj.l2_strength == 0.0
    assert obj.value(x) == obj.data_loss_grad(x)[0]
    np.testing.assert_array_equal(obj.prox(x, 10.0), x)


def central_difference(f, x, v, h):
    return (f(x + h * v) - f(x - h * v)) / (2 * h)


@pytest.mark.parametrize("K, weighted, fit_intercept", CASES)
def test_gradient_is_the_derivative_of_the_smooth_part(K, weighted, fit_intercept):
    X, y, sw = make_data(K=K, weighted=weighted)
    obj = Objective.from_arrays(X, y, sw, n_classes=K, C=0.2, fit_intercept=fit_intercept)
    x = random_point(obj)
    _, g = obj.loss_grad(x)
    assert g.shape == (obj.n_params,) and g.dtype == np.float64
    numeric = [central_difference(lambda t: obj.loss_grad(t)[0], x, e, 1e-5) for e in np.eye(obj.n_params)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("K, weighted, fit_intercept", CASES)
def test_hessp_is_the_derivative_of_the_gradient(K, weighted, fit_intercept):
    X, y, sw = make_data(K=K, weighted=weighted)
    obj = Objective.from_arrays(X, y, sw, n_classes=K, C=0.2, fit_intercept=fit_intercept)
    x = random_point(obj)
    v = random_point(obj, seed=2, scale=1.0)
    numeric = central_difference(lambda t: obj.loss_grad(t)[1], x, v, 1e-5)
    np.testing.assert_allclose(obj.hessp(x, v), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_binary_hessian_is_hessp_on_unit_vectors_and_shares_binary_hessian(fit_intercept, layout):
    X, y, sw = make_data(weighted=True, layout=layout)
    obj = Objective.from_arrays(X, y, sw, C=0.2, fit_intercept=fit_intercept)
    x = random_point(obj)
    H = obj.hessian(x)
    assert H.shape == (obj.n_params, obj.n_params)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-15)
    columns = np.column_stack([obj.hessp(x, e) for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(H, columns, rtol=1e-12, atol=1e-15)
    coef, intercept = obj.unpack(x)
    data_H = fastlogit.binary_hessian(X, coef, intercept, sw)
    p = obj.n_params
    penalized = np.r_[np.ones(obj.n_coef), np.zeros(p - obj.n_coef)]  # not the intercept
    expected = data_H[:p, :p] + obj.l2_strength * np.diag(penalized)
    np.testing.assert_allclose(H, expected, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_multinomial_hessian_is_hessp_on_unit_vectors_and_flat_on_the_null_space(fit_intercept, layout):
    # The exact multinomial Hessian (for inference and Newton-Cholesky) in x's layout:
    # singular exactly along null_space() (the symmetric parameterization's shifts).
    X, y, sw = make_data(K=3, weighted=True, layout=layout)
    obj = Objective.from_arrays(X, y, sw, n_classes=3, C=0.2, fit_intercept=fit_intercept)
    x = random_point(obj)
    H = obj.hessian(x)
    assert H.shape == (obj.n_params, obj.n_params)
    N = obj.null_space()
    assert N.shape[1] == int(fit_intercept)  # penalized: only the intercepts' common shift is flat
    np.testing.assert_allclose(H @ N, 0.0, atol=1e-12)
    columns = np.column_stack([obj.hessp(x, e) for e in np.eye(obj.n_params)])
    np.testing.assert_allclose(H, columns, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("K", [2, 3])
def test_parameter_layout_is_coef_rows_then_intercepts(K):
    X, y, _ = make_data(d=4, K=K)
    obj = Objective.from_arrays(X, y, n_classes=K)
    rows = 1 if K == 2 else K
    coef = np.arange(rows * 4, dtype=float).reshape(rows, 4)
    intercept = -np.arange(1, rows + 1, dtype=float)
    x = obj.pack(coef, intercept)
    np.testing.assert_array_equal(x, np.r_[coef.ravel(), intercept])
    c, b = obj.unpack(x)
    np.testing.assert_array_equal(np.reshape(c, (rows, 4)), coef)
    np.testing.assert_array_equal(np.atleast_1d(b), intercept)
    assert np.shares_memory(c, x)  # the kernels read the coefficients in place


@pytest.mark.parametrize("K", [2, 3])
def test_float32_and_csr_data_give_the_float64_dense_objective(K):
    X, y, sw = make_data(K=K, weighted=True, layout="csr")
    dense = Objective.from_arrays(X.toarray(), y, sw, n_classes=K, C=0.5)
    x = random_point(dense)
    f, g = dense.loss_grad(x)
    for other in (
        Objective.from_arrays(X, y, sw, n_classes=K, C=0.5),
        Objective.from_arrays(X.astype(np.float32), y, sw, n_classes=K, C=0.5),
    ):
        f2, g2 = other.loss_grad(x)
        rtol = 1e-12 if other.sources[0].X.dtype == np.float64 else 1e-5
        assert f2 == pytest.approx(f, rel=rtol)
        np.testing.assert_allclose(g2, g, rtol=rtol, atol=rtol * np.abs(g).max())


def test_rows_are_validated_once_and_used_in_place():
    X, y, _ = make_data(n=50)
    rows = ArrayRows(X, y)
    assert rows.X is X  # C-contiguous float64: no copy
    Xf = np.asfortranarray(X)
    assert ArrayRows(Xf, y).X.flags.c_contiguous
    with pytest.raises(ValueError, match="y must hold only 0 and 1"):
        ArrayRows(X, np.full(50, 2))
    with pytest.raises(ValueError, match="class indices"):
        ArrayRows(X, np.full(50, 5), n_classes=3)
    with pytest.raises(ValueError, match="sample_weight must be nonnegative"):
        ArrayRows(X, y, -np.ones(50))


@pytest.mark.parametrize("K", [2, 3])
def test_objective_over_two_row_sources_equals_one_over_all_rows(K):
    X, y, sw = make_data(n=400, K=K, weighted=True)
    whole = Objective.from_arrays(X, y, sw, n_classes=K, C=0.7, l1_ratio=0.3)
    parts = Objective(
        [ArrayRows(X[:150], y[:150], sw[:150], K), ArrayRows(X[150:], y[150:], sw[150:], K)],
        C=0.7,
        l1_ratio=0.3,
    )
    assert parts.weight_sum == pytest.approx(whole.weight_sum)
    x = random_point(whole)
    v = random_point(whole, seed=5)
    np.testing.assert_allclose(parts.value(x), whole.value(x), rtol=1e-13)
    np.testing.assert_allclose(parts.loss_grad(x)[1], whole.loss_grad(x)[1], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(parts.hessp(x, v), whole.hessp(x, v), rtol=1e-12, atol=1e-15)


def test_prox_soft_thresholds_the_coefficients_but_not_the_intercepts():
    X, y, _ = make_data(n=100, d=3, K=3)
    obj = Objective.from_arrays(X, y, n_classes=3, C=1.0, l1_ratio=1.0)
    x = np.linspace(-1, 1, obj.n_params)
    step = 0.3 / obj.l1_strength  # threshold 0.3
    out = obj.prox(x, step)
    w, b = x[: obj.n_coef], x[obj.n_coef :]
    np.testing.assert_allclose(out[: obj.n_coef], np.sign(w) * np.maximum(np.abs(w) - 0.3, 0))
    np.testing.assert_array_equal(out[obj.n_coef :], b)


def test_optimality_is_zero_only_where_a_subgradient_vanishes():
    X, y, _ = make_data(n=100, d=3)
    obj = Objective.from_arrays(X, y, C=1.0, l1_ratio=1.0)
    lam = obj.l1_strength
    x = np.array([0.0, 0.5, -0.5, 0.1])
    # At w_j = 0 any |g_j| <= lam is fine; at w_j != 0 g_j must be -lam sign(w_j).
    assert obj.optimality(x, np.array([0.9 * lam, -lam, lam, 0.0])) == 0.0
    assert obj.optimality(x, np.array([1.5 * lam, -lam, lam, 0.0])) == pytest.approx(0.5 * lam)
    assert obj.optimality(x, np.array([0.0, 0.0, lam, 0.0])) == pytest.approx(lam)
    assert obj.optimality(x, np.array([0.0, -lam, lam, 0.25])) == 0.25  # the intercept: plain gradient


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lipschitz_bound_holds_for_the_hessian_everywhere(K, fit_intercept):
    rng = np.random.default_rng(3)
    X, y, sw = make_data(n=300, d=5, K=K, weighted=True)
    X = X + 2.0  # a mean offset: the intercept direction matters
    obj = Objective.from_arrays(X, y, sw, n_classes=K, C=0.5, fit_intercept=fit_intercept)
    L = obj.lipschitz(max_iter=200, rtol=1e-12)
    for _ in range(20):
        x = rng.standard_normal(obj.n_params) * 0.1
        v = rng.standard_normal(obj.n_params)
        assert v @ obj.hessp(x, v) <= L * (v @ v) * (1 + 1e-12)
    if K == 2:
        # Unpenalized, the binary Hessian at zero is (1/4) X~^T S X~ / S: the bound is attained.
        unpenalized = Objective.from_arrays(X, y, sw, C=np.inf, fit_intercept=fit_intercept)
        H = unpenalized.hessian(np.zeros(obj.n_params))
        assert np.linalg.eigvalsh(H).max() == pytest.approx(
            unpenalized.lipschitz(max_iter=200, rtol=1e-12), rel=1e-8
        )


@pytest.mark.parametrize("K", [2, 3])
def test_restricted_objective_is_the_full_one_with_other_features_at_zero(K):
    X, y, sw = make_data(n=200, d=8, K=K, weighted=True)
    obj = Objective.from_arrays(X, y, sw, n_classes=K, C=0.5, l1_ratio=0.5)
    features = np.array([1, 4, 5])
    sub = obj.select_features(features)
    index = obj.feature_index(features)
    x = np.zeros(obj.n_params)
    x[index] = random_point(sub)
    assert sub.n_params == len(index) and sub.l1_strength == obj.l1_strength
    assert sub.value(x[index]) == pytest.approx(obj.value(x), rel=1e-13)
    np.testing.assert_allclose(sub.loss_grad(x[index])[1], obj.loss_grad(x)[1][index], rtol=1e-12)


def test_each_evaluation_is_one_counted_pass():
    X, y, _ = make_data()
    obj = Objective.from_arrays(X, y)
    x = np.zeros(obj.n_params)
    obj.loss_grad(x)
    obj.hessp(x, x)
    obj.hessian(x)
    assert obj.n_passes == 3


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_nan_or_inf_in_x_is_reported_at_the_first_evaluation(K, layout):
    X, y, _ = make_data(n=100, K=K)
    X[40, 2] = np.inf
    X = scipy.sparse.csr_matrix(X) if layout == "csr" else X
    obj = Objective.from_arrays(X, y, n_classes=K)  # no scan of X here: it costs a pass
    with pytest.raises(ValueError, match="X contains infinity"):
        obj.loss_grad(np.zeros(obj.n_params))


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_loss_grad_hessian_is_loss_grad_and_hessian_for_every_row_source(layout, K, monkeypatch):
    # In memory (fused from FUSED_NEWTON_MIN_ROWS rows, dense or CSR) and streamed in
    # chunks: the same three results.
    from fastlogit import row_sources
    from fastlogit.row_sources import ChunkRows

    X, y, sw = make_data(K=K, weighted=True, layout=layout)
    assert not Objective.from_arrays(X, y, sw, n_classes=K).fused_newton  # fewer rows than the threshold
    monkeypatch.setattr(row_sources, "FUSED_NEWTON_MIN_ROWS", X.shape[0])
    obj = Objective.from_arrays(X, y, sw, n_classes=K, C=0.3)
    x = random_point(obj)
    f, g, H = obj.loss_grad_hessian(x)
    f2, g2 = obj.loss_grad(x)
    np.testing.assert_allclose(f, f2, rtol=1e-13)
    np.testing.assert_allclose(g, g2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(H, obj.hessian(x), rtol=1e-12, atol=1e-15)
    assert obj.fused_newton
    n = X.shape[0]
    chunks = [(X[lo : lo + 70], y[lo : lo + 70], sw[lo : lo + 70]) for lo in range(0, n, 70)]
    streamed = Objective([ChunkRows(chunks, classes=np.arange(K))], C=0.3)
    for a, b in zip(streamed.loss_grad_hessian(x), (f, g, H)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("weighted", [False, True])
def test_column_moments_are_weighted_sums_over_a_sample_of_rows(weighted):
    from fastlogit.matrix import COLUMN_SAMPLE
    from fastlogit.row_sources import ChunkRows

    X, y, sw = make_data(n=3 * COLUMN_SAMPLE + 5, K=2, weighted=weighted)
    X = X * np.array([1, 10, 0.1, 100, 1, 3]) + 5.0
    s = np.ones(len(y)) if sw is None else sw

    def sums(rows):  # every 4th row: n / COLUMN_SAMPLE rounded up
        return s[rows].sum(), s[rows] @ X[rows], s[rows] @ (X[rows] * X[rows])

    every_4th = np.arange(0, len(y), 4)
    dense = ArrayRows(X, y, sw)
    csr = ArrayRows(scipy.sparse.csr_matrix(X.astype(np.float32)), y, sw)
    for source, rtol in ((dense, 1e-13), (csr, 1e-6)):
        for got, expected in zip(source.column_moments(), sums(every_4th)):
            np.testing.assert_allclose(got, expected, rtol=rtol)
    # Chunks: every row, summed in the constructor's pass (no pass of its own).
    chunks = ChunkRows(
        [
            (X[lo : lo + 70], y[lo : lo + 70], None if sw is None else sw[lo : lo + 70])
            for lo in range(0, 700, 70)
        ]
    )
    for got, expected in zip(chunks.column_moments(), sums(np.arange(700))):
        np.testing.assert_allclose(got, expected, rtol=1e-13)
    for got, expected in zip(chunks.select_features([3, 1]).column_moments(), sums(np.arange(700))):
        np.testing.assert_allclose(got, expected if np.ndim(expected) == 0 else expected[[3, 1]], rtol=1e-13)
    # Every row in blocks, as a chunk source's pass sums them.
    from fastlogit.matrix import column_moments

    for got, expected in zip(column_moments(X, sw, sample=False), sums(np.arange(len(y)))):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    S, first, second = sums(every_4th)
    spread = Objective([dense]).column_spread()
    mean = first / S
    assert spread == pytest.approx(np.sqrt(second / S).max() / np.sqrt(second / S - mean**2).min())
