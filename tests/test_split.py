"""The split design (a dense block and categorical codes) and its row source.

Every :class:`SplitRows` member is checked against :class:`ArrayRows` on the
design's CSR equivalent and against the one-hot NumPy twins of
:mod:`fastlogit.reference_split`, binary and softmax, with and without
sample weights, float64 and float32 dense blocks; then the edges (scores of
±1e4, a categorical without levels, one row, every code -1, a level no row
has, no dense block), calculus by finite differences, the input rules, a
column order (every sum that of the CSR design with permuted columns),
thread determinism, and fits through an :class:`Objective` reaching the CSR
design's optimum.
"""

import dataclasses

import numpy as np
import pytest
import scipy.sparse

from fastlogit import reference_split as twin
from fastlogit import solvers
from fastlogit.objective import Objective
from fastlogit.row_sources import ArrayRows, RowSource
from fastlogit.split import SplitDesign, SplitRows, predict_raw

# float32 dense values are exact in float64 and every sum accumulates in
# float64 on both sides: only the order of the sums differs, a little more
# with the 7-digit values' longer products.
RTOL = {np.float64: 1e-12, np.float32: 1e-10}

pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")


# -- problems --------------------------------------------------------------------


def make_design(n, p, levels, *, dtype=np.float64, seed=0, reference_share=0.2):
    """A seeded design: p standard normal columns and one categorical per entry of
    ``levels``, about ``reference_share`` of each one's codes -1.  Returns
    ``(design, dense, codes)``, ``dense`` None for p = 0."""
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, p)).astype(dtype) if p else None
    codes = []
    for L in levels:
        c = rng.integers(0, L, n) if L else np.full(n, -1)
        c[rng.random(n) < reference_share] = -1
        codes.append(c.astype(np.int32))
    return SplitDesign(dense, codes, levels), dense, codes


@dataclasses.dataclass
class Case:
    """A design, labels and weights, a point and a direction: ``coef`` (d,) binary or (K, d)."""

    design: SplitDesign
    dense: object
    codes: list
    levels: list
    y: np.ndarray
    sample_weight: object
    coef: np.ndarray
    intercept: object
    vec_coef: np.ndarray
    vec_intercept: object
    n_classes: int

    @property
    def binary(self):
        return self.n_classes == 2

    def split(self, n_threads=None):
        return SplitRows(self.design, self.y, self.sample_weight, self.n_classes, n_threads)

    def csr(self, n_threads=None):
        return ArrayRows(self.design.to_csr(), self.y, self.sample_weight, self.n_classes, n_threads)

    def arrays(self):
        return self.dense, self.codes, self.levels


def make_case(n, p, levels, K=2, *, dtype=np.float64, weighted=False, max_logit=None, seed=0):
    design, dense, codes = make_design(n, p, levels, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    d = design.n_features
    shape = (d,) if K == 2 else (K, d)
    coef = rng.standard_normal(shape)
    intercept = float(rng.standard_normal()) if K == 2 else rng.standard_normal(K)
    if max_logit is not None:
        z = design.to_dense() @ coef.T + intercept
        factor = max_logit / np.max(np.abs(z))
        coef, intercept = coef * factor, intercept * factor
    y = rng.integers(0, K, n)
    sample_weight = None
    if weighted:
        sample_weight = rng.uniform(0, 3, n)
        sample_weight[1::5] = 0.0
    vec_coef = rng.standard_normal(shape)
    vec_intercept = float(rng.standard_normal()) if K == 2 else rng.standard_normal(K)
    return Case(
        design, dense, codes, list(levels), y, sample_weight, coef, intercept, vec_coef, vec_intercept, K
    )


def assert_close(actual, expected, rtol, what="result"):
    """Norm-wise ``|actual - expected| <= rtol |expected|`` (components may cancel), finite float64."""
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.dtype == np.float64, f"{what}: dtype {actual.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: not finite"
    err = np.linalg.norm((actual - expected).ravel())
    scale = np.linalg.norm(expected.ravel())
    assert err <= rtol * scale, f"{what}: relative error {err / scale if scale else np.inf:.3e} > {rtol:g}"


def grad_layout(grad_coef, grad_intercept):
    """A twin's ``(grad_coef, grad_intercept)`` in a row source's layout: (d + 1,) or (K, d + 1)."""
    if np.ndim(grad_coef) == 1:
        return np.append(grad_coef, grad_intercept)
    return np.column_stack([grad_coef, grad_intercept])


def twin_results(case):
    """What a row source returns, from the one-hot twins (sums)."""
    c, sw = case, case.sample_weight
    a = c.arrays()
    if c.binary:
        loss, gc, gb = twin.binary_loss_grad(*a, c.y, c.coef, c.intercept, sw, "sum")
        hv = twin.binary_hessp(*a, c.coef, c.intercept, c.vec_coef, c.vec_intercept, sw, "sum")
        H = twin.binary_hessian(*a, c.coef, c.intercept, sw, "sum")
        raw = twin.binary_predict_raw(*a, c.coef, c.intercept)
    else:
        loss, gc, gb = twin.multinomial_loss_grad(*a, c.y, c.coef, c.intercept, sw, "sum")
        hv = twin.multinomial_hessp(*a, c.coef, c.intercept, c.vec_coef, c.vec_intercept, sw, "sum")
        H = twin.multinomial_hessian(*a, c.coef, c.intercept, sw, "sum")
        raw = twin.multinomial_predict_raw(*a, c.coef, c.intercept)
    return {
        "loss": loss,
        "grad": grad_layout(gc, gb),
        "hessp": grad_layout(*hv),
        "hessian": H,
        "score_outer": twin.score_outer(*a, c.y, c.coef, c.intercept, sw),
        "predict_raw": raw,
    }


def source_results(case, rows):
    """Every sum of a row source at the case's point (the fused Newton pass's three apart)."""
    c = case
    loss, grad = rows.loss_grad(c.coef, c.intercept)
    fused = rows.loss_grad_hessian(c.coef, c.intercept)
    groups = np.arange(c.design.n_samples) % 7
    vec = c.vec_coef if c.binary else c.vec_coef[0]
    return {
        "loss": loss,
        "grad": grad,
        "hessp": rows.hessp(c.coef, c.intercept, c.vec_coef, c.vec_intercept),
        "hessian": rows.hessian(c.coef, c.intercept),
        "fused loss": fused[0],
        "fused grad": fused[1],
        "fused hessian": fused[2],
        "gram_matvec": rows.gram_matvec(vec, 0.5),
        "score_outer": rows.score_outer(c.coef, c.intercept),
        "score_group_sums": rows.score_group_sums(c.coef, c.intercept, groups, 7),
    }


def assert_results_close(actual, expected, rtol, who):
    for key in expected:
        assert_close(actual[key], expected[key], rtol, f"{key} ({who})")


def assert_agrees_with_twins(case, split, rtol, what="split vs twin"):
    """``split`` (:func:`source_results` of SplitRows) against the one-hot twins."""
    expected = twin_results(case)
    for key in ("loss", "grad", "hessp", "hessian", "score_outer"):
        assert_close(split[key], expected[key], rtol, f"{key} ({what})")
    assert_close(split["fused loss"], expected["loss"], rtol, f"fused loss ({what})")
    assert_close(split["fused grad"], expected["grad"], rtol, f"fused grad ({what})")
    assert_close(split["fused hessian"], expected["hessian"], rtol, f"fused hessian ({what})")
    raw = case.split().predict_raw(case.coef, case.intercept)
    assert_close(raw, expected["predict_raw"], rtol, f"scores ({what})")
    a = case.arrays()
    groups = np.arange(case.design.n_samples) % 7
    sums = twin.score_group_sums(*a, case.y, case.coef, case.intercept, groups, 7, case.sample_weight)
    assert_close(split["score_group_sums"], sums, rtol, f"score_group_sums ({what})")
    vec = case.vec_coef if case.binary else case.vec_coef[0]
    gram = twin.gram_matvec(*a, vec, 0.5, case.sample_weight)
    assert_close(split["gram_matvec"], gram, rtol, f"gram_matvec ({what})")


# -- the design ------------------------------------------------------------------------


def test_columns_are_the_dense_block_then_each_categoricals_levels():
    dense = np.array([[1.5, -2.0], [0.0, 3.0], [4.0, 5.0]])
    design = SplitDesign(dense, [np.array([2, -1, 0]), np.array([1, 0, -1])], [3, 2], names=list("abcdefg"))
    assert design.n_features == 2 + 3 + 2
    assert design.shape == (3, 7)
    assert design.offsets.tolist() == [2, 5]
    expected = np.array(
        [
            [1.5, -2.0, 0, 0, 1, 0, 1],
            [0.0, 3.0, 0, 0, 0, 1, 0],
            [4.0, 5.0, 1, 0, 0, 0, 0],
        ]
    )
    np.testing.assert_array_equal(design.to_dense(), expected)
    csr = design.to_csr()
    assert scipy.sparse.isspmatrix_csr(csr) and csr.has_sorted_indices
    np.testing.assert_array_equal(csr.toarray(), expected)
    np.testing.assert_array_equal(twin.one_hot(dense, design.codes.T, [3, 2]), expected)
    assert design.names == list("abcdefg")


def test_codes_are_stored_as_one_int32_per_row_and_categorical():
    design, _, codes = make_design(1000, 3, [200, 5])
    assert design.codes.dtype == np.int32 and design.codes.shape == (1000, 2)
    assert design.codes.flags.c_contiguous
    np.testing.assert_array_equal(design.codes[:, 1], codes[1])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64, np.uint8])
def test_codes_of_any_integer_dtype_are_accepted(dtype):
    codes = np.array([0, 1, 2, 1], dtype=dtype)
    design = SplitDesign(None, [codes], [3])
    np.testing.assert_array_equal(design.codes[:, 0], [0, 1, 2, 1])


def test_the_dense_block_keeps_float32_and_is_used_in_place():
    dense = np.ones((4, 2), dtype=np.float32)
    design = SplitDesign(dense, [np.array([0, 1, 0, -1])], [2])
    assert design.dense is dense and design.dtype == np.float32
    assert design.to_csr().dtype == np.float32


# -- agreement with CSR rows and with the twins ----------------------------------------

AGREEMENT = [
    pytest.param(n, p, levels, K, id=f"n{n}-p{p}-L{'x'.join(map(str, levels))}-K{K}")
    for n, p, levels in [(1, 3, (4, 2)), (50, 3, (4, 3, 2)), (2000, 4, (30, 5)), (300, 0, (6, 3))]
    for K in (2, 4)
]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("n, p, levels, K", AGREEMENT)
def test_every_sum_agrees_with_csr_rows_and_with_the_one_hot_twins(n, p, levels, K, dtype, weighted):
    case = make_case(n, p, levels, K, dtype=dtype, weighted=weighted, seed=n + p)
    rtol = RTOL[dtype]
    split = source_results(case, case.split())
    csr = source_results(case, case.csr())
    assert_results_close(split, csr, rtol, "split vs CSR rows")
    assert_agrees_with_twins(case, split, rtol)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_column_moments_agree_with_csr_rows(weighted):
    # Past COLUMN_SAMPLE rows, so that both sample every k-th row.
    case = make_case(20_001, 3, (40, 5), weighted=weighted, seed=3)
    weight, first, second = case.split().column_moments()
    expected = case.csr().column_moments()
    assert weight == pytest.approx(expected[0], rel=1e-13)
    assert_close(first, expected[1], 1e-12, "sum s x")
    assert_close(second, expected[2], 1e-12, "sum s x**2")


def test_the_fused_newton_pass_is_the_gradient_and_hessian_passes_in_one():
    case = make_case(3000, 5, (20, 4, 3), weighted=True, seed=8)
    rows = case.split()
    assert rows.fused_newton
    loss, grad, H = rows.loss_grad_hessian(case.coef, case.intercept)
    loss2, grad2 = rows.loss_grad(case.coef, case.intercept)
    assert loss == loss2 and np.array_equal(grad, grad2)
    np.testing.assert_array_equal(H, rows.hessian(case.coef, case.intercept))
    np.testing.assert_allclose(H, H.T, rtol=1e-13, atol=1e-12)


def test_the_hessian_of_a_categorical_block_is_diagonal_and_its_intercept_column_the_diagonal():
    case = make_case(500, 2, (6, 4), weighted=True, seed=9)
    H = case.split().hessian(case.coef, case.intercept)
    d = case.design.n_features
    for j, L in enumerate(case.levels):
        lo = case.design.offsets[j]
        block = H[lo : lo + L, lo : lo + L]
        np.testing.assert_array_equal(block, np.diag(np.diag(block)))
        np.testing.assert_array_equal(H[d, lo : lo + L], np.diag(block))


def test_softmax_hessian_agrees_with_hessp_on_unit_vectors():
    case = make_case(400, 2, (5, 3), K=3, weighted=True, seed=10)
    rows = case.split()
    H = rows.hessian(case.coef, case.intercept)
    K, d = case.coef.shape
    for k, j in [(0, 0), (1, 3), (2, d), (2, 5)]:
        V, v_b = np.zeros((K, d)), np.zeros(K)
        if j == d:
            v_b[k] = 1.0
        else:
            V[k, j] = 1.0
        hv = rows.hessp(case.coef, case.intercept, V, v_b)
        assert_close(H[:, k * (d + 1) + j], hv.ravel(), 1e-12, f"column ({k}, {j})")


# -- edges ----------------------------------------------------------------------------


#: Only rows with |z| below ~40 have curvature, and there a score's rounding
#: error, eps * 1e4, is a relative error of the curvature (as in test_kernels).
CURVATURE_AT_1E4 = ("hessp", "hessian", "fused hessian", "gram_matvec")


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("sign", [1, -1])
def test_scores_of_1e4_give_finite_sums_that_agree_with_the_twins(K, sign):
    case = make_case(500, 3, (10, 4), K, weighted=True, max_logit=sign * 1e4, seed=11)
    raw = case.split().predict_raw(case.coef, case.intercept)
    assert np.max(np.abs(raw)) == pytest.approx(1e4) and np.min(raw) < -1e3 and np.max(raw) > 1e3
    split = source_results(case, case.split())
    csr = source_results(case, case.csr())
    expected = twin_results(case)
    expected |= {
        "fused loss": expected["loss"],
        "fused grad": expected["grad"],
        "fused hessian": expected["hessian"],
    }
    for key, value in split.items():
        rtol = 1e-8 if key in CURVATURE_AT_1E4 else 1e-11
        assert_close(value, csr[key], rtol, f"{key} at |z| up to 1e4 (split vs CSR)")
        if key in expected:
            assert_close(value, expected[key], rtol, f"{key} at |z| up to 1e4 (split vs twin)")


@pytest.mark.parametrize("K", [2, 3])
def test_a_categorical_without_levels_adds_no_column(K):
    case = make_case(200, 2, (0, 5), K, weighted=True, seed=12)
    assert case.design.n_features == 2 + 5
    assert_results_close(source_results(case, case.split()), source_results(case, case.csr()), 1e-12, "")
    without = SplitDesign(case.dense, [case.codes[1]], [5])
    a = SplitRows(without, case.y, case.sample_weight, K).loss_grad(case.coef, case.intercept)
    b = case.split().loss_grad(case.coef, case.intercept)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("K", [2, 3])
def test_one_row(K):
    case = make_case(1, 2, (3, 2), K, seed=13)
    assert_agrees_with_twins(case, source_results(case, case.split()), 1e-12, "one row")


@pytest.mark.parametrize("K", [2, 3])
def test_rows_whose_codes_are_all_the_reference_level(K):
    rng = np.random.default_rng(14)
    dense = rng.standard_normal((60, 2))
    codes = [np.full(60, -1), np.full(60, -1)]
    case = make_case(60, 2, (4, 3), K, weighted=True, seed=14)
    case = dataclasses.replace(case, design=SplitDesign(dense, codes, [4, 3]), dense=dense, codes=codes)
    split = source_results(case, case.split())
    assert_results_close(split, source_results(case, case.csr()), 1e-12, "all codes -1")
    grad = split["grad"]
    levels = slice(2, 2 + 4 + 3)
    assert np.all(grad[..., levels] == 0.0)


def test_a_level_no_row_has_gets_zero_gradient_and_zero_curvature():
    case = make_case(300, 2, (6, 3), weighted=True, seed=15)
    codes = [np.where(case.codes[0] == 4, 0, case.codes[0]).astype(np.int32), case.codes[1]]
    case = dataclasses.replace(case, design=SplitDesign(case.dense, codes, case.levels), codes=codes)
    rows = case.split()
    col = case.design.offsets[0] + 4
    loss, grad, H = rows.loss_grad_hessian(case.coef, case.intercept)
    assert grad[col] == 0.0 and np.all(H[col] == 0.0) and np.all(H[:, col] == 0.0)
    assert_agrees_with_twins(case, source_results(case, rows), 1e-12, "an empty level")


def test_a_design_without_dense_block_or_without_categoricals():
    case = make_case(400, 0, (7, 3), weighted=True, seed=16)
    assert case.design.n_dense == 0 and case.design.n_features == 10
    assert_agrees_with_twins(case, source_results(case, case.split()), 1e-12, "no dense block")
    rng = np.random.default_rng(16)
    dense = rng.standard_normal((400, 3))
    design = SplitDesign(dense)
    rows = SplitRows(design, case.y)
    array = ArrayRows(dense, case.y)
    coef = rng.standard_normal(3)
    assert_close(rows.loss_grad(coef, 0.1)[1], array.loss_grad(coef, 0.1)[1], 1e-12, "dense only")
    assert_close(rows.hessian(coef, 0.1), array.hessian(coef, 0.1), 1e-12, "dense only")


def test_no_rows_is_rejected_as_arrayrows_rejects_it():
    with pytest.raises(ValueError, match="empty"):
        ArrayRows(np.zeros((0, 3)), np.zeros(0))
    with pytest.raises(ValueError, match="empty"):
        SplitDesign(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="empty"):
        SplitDesign(None, [np.zeros(0, dtype=np.int32)], [2])


def test_no_column_is_rejected():
    with pytest.raises(ValueError, match="no column"):
        SplitDesign(None, [np.full(5, -1)], [0])
    with pytest.raises(ValueError, match="n_samples"):
        SplitDesign()


# -- calculus -----------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
def test_gradient_and_hessp_are_derivatives_by_finite_differences(K):
    case = make_case(300, 3, (5, 4), K, weighted=True, seed=17)
    rows = case.split()
    coef, b = case.coef, case.intercept
    V, v_b = case.vec_coef, case.vec_intercept
    eps = 1e-6

    def at(t):
        return coef + t * V, b + t * v_b

    loss_plus, grad_plus = rows.loss_grad(*at(eps))
    loss_minus, grad_minus = rows.loss_grad(*at(-eps))
    _, grad = rows.loss_grad(coef, b)
    directional = np.sum(grad * grad_layout(V, v_b))
    assert (loss_plus - loss_minus) / (2 * eps) == pytest.approx(directional, rel=1e-7)
    hv = rows.hessp(coef, b, V, v_b)
    assert_close((grad_plus - grad_minus) / (2 * eps), hv, 1e-7, "hessp vs gradient differences")


# -- the input rules ---------------------------------------------------------------


def test_codes_out_of_range_name_the_categorical_and_the_row():
    with pytest.raises(ValueError, match=r"categoricals\[1\].*\[-1, 3\).*got 3 at row 2"):
        SplitDesign(np.zeros((4, 1)), [np.zeros(4, dtype=np.int32), np.array([0, 1, 3, 2])], [2, 3])
    with pytest.raises(ValueError, match=r"categoricals\[0\].*got -2 at row 0"):
        SplitDesign(None, [np.array([-2, 0])], [2])


@pytest.mark.parametrize("codes", [np.array([0.0, 1.0]), np.array([True, False]), np.array(["a", "b"])])
def test_codes_of_a_non_integer_dtype_are_a_type_error(codes):
    with pytest.raises(TypeError, match=r"categoricals\[0\] must hold integer level codes"):
        SplitDesign(None, [codes], [2])


def test_lengths_that_do_not_match_name_the_argument():
    with pytest.raises(ValueError, match=r"categoricals\[0\] must have one code per row: shape \(3,\)"):
        SplitDesign(np.zeros((3, 2)), [np.array([0, 1])], [2])
    with pytest.raises(ValueError, match="n_levels must have one entry per categorical"):
        SplitDesign(np.zeros((3, 2)), [np.array([0, 1, 0])], [2, 2])
    with pytest.raises(ValueError, match="names must have one entry per column"):
        SplitDesign(np.zeros((3, 2)), [np.array([0, 1, 0])], [2], names=["a"])
    with pytest.raises(ValueError, match="dense has 3 rows, but n_samples is 4"):
        SplitDesign(np.zeros((3, 2)), n_samples=4)
    design = SplitDesign(np.zeros((3, 2)), [np.array([0, 1, 0])], [2])
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        SplitRows(design, np.zeros(4))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(3,\)"):
        SplitRows(design, np.zeros(3), np.ones(2))


def test_bad_levels_dense_and_design_arguments():
    with pytest.raises(ValueError, match=r"n_levels\[0\] must be in"):
        SplitDesign(None, [np.array([-1, -1])], [-1])
    with pytest.raises(TypeError, match=r"n_levels\[0\] must be an int"):
        SplitDesign(None, [np.array([0, 1])], [2.0])
    with pytest.raises(ValueError, match="dense must be a 2-d array"):
        SplitDesign(np.zeros(3))
    with pytest.raises(TypeError, match="dense must be a real number"):
        SplitDesign(np.array([["a"], ["b"]]))
    with pytest.raises(TypeError, match="design must be a SplitDesign"):
        SplitRows(np.zeros((3, 2)), np.zeros(3))
    design = SplitDesign(None, [np.array([0, 1, 0])], [2])
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        SplitRows(design, np.array([0, 2, 1]))
    with pytest.raises(ValueError, match="n_classes must be at least 2"):
        SplitRows(design, np.zeros(3), n_classes=1)


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("K", [2, 3])
def test_nan_or_inf_in_the_dense_block_is_named_when_the_loss_is_not_finite(K, value):
    case = make_case(50, 3, (4,), K, seed=18)
    dense = case.dense.copy()
    dense[7, 2] = value
    rows = SplitRows(SplitDesign(dense, case.codes, case.levels), case.y, n_classes=K)
    objective = Objective([rows], C=1.0)
    what = "NaN" if np.isnan(value) else "infinity"
    with pytest.raises(ValueError, match=rf"dense contains {what} \(first at row 7, column 2\)"):
        with np.errstate(invalid="ignore"):
            objective.loss_grad(np.zeros(objective.n_params))


def test_inputs_are_never_written():
    case = make_case(500, 3, (5, 4), K=3, weighted=True, seed=19)
    D = case.design
    arrays = [D.dense, D.codes, D.offsets, D.n_levels, D.pair_offsets, case.y, case.sample_weight]
    arrays += [case.coef, case.intercept, case.vec_coef, case.vec_intercept]
    before = [a.copy() for a in arrays]
    source_results(case, case.split())
    for a, b in zip(arrays, before):
        assert np.array_equal(a, b)


# -- the row-source contract -------------------------------------------------------


def test_split_rows_implement_the_row_source_protocol():
    case = make_case(20, 2, (3,), seed=20)
    assert isinstance(case.split(), RowSource)


@pytest.mark.parametrize("K", [2, 3])
def test_select_features_gives_csr_rows_on_those_columns(K):
    case = make_case(300, 3, (5, 4), K, weighted=True, seed=21)
    features = np.array([0, 2, 4, 7, 10])
    selected = case.split().select_features(features)
    expected = case.csr().select_features(features)
    assert isinstance(selected, ArrayRows)
    coef = case.coef[..., features]
    a, b = selected.loss_grad(coef, case.intercept), expected.loss_grad(coef, case.intercept)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


# -- a column order -----------------------------------------------------------------


def permuted(case, seed=0):
    """The case's design presenting its columns in a seeded random order, with the
    case's point and direction taken in that order (design column e is stored column
    ``order[e]``)."""
    D = case.design
    order = np.random.default_rng(seed).permutation(D.n_features)
    design = SplitDesign(case.dense, case.codes, case.levels, column_order=order, n_samples=D.n_samples)
    return dataclasses.replace(
        case, design=design, coef=case.coef[..., order].copy(), vec_coef=case.vec_coef[..., order].copy()
    ), order


def test_a_column_order_permutes_the_csr_and_dense_equivalents_and_keeps_names_in_it():
    dense = np.array([[1.5, -2.0], [0.0, 3.0], [4.0, 5.0]])
    codes = [np.array([2, -1, 0]), np.array([1, 0, -1])]
    stored = SplitDesign(dense, codes, [3, 2])
    order = np.array([4, 0, 6, 2, 1, 5, 3])
    design = SplitDesign(dense, codes, [3, 2], column_order=order, names=list("abcdefg"))
    np.testing.assert_array_equal(design.to_dense(), stored.to_dense()[:, order])
    csr = design.to_csr()
    assert csr.has_sorted_indices
    for i in range(3):
        row = csr.indices[csr.indptr[i] : csr.indptr[i + 1]]
        assert np.all(np.diff(row) > 0)
    np.testing.assert_array_equal(csr.toarray(), stored.to_dense()[:, order])
    assert design.names == list("abcdefg")
    assert design.storage_position[order].tolist() == list(range(7))
    # The identity is no order at all: nothing is gathered.
    assert SplitDesign(dense, codes, [3, 2], column_order=np.arange(7)).column_order is None


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("K", [2, 3])
def test_a_column_order_gives_every_sum_of_the_csr_design_with_permuted_columns(K, weighted):
    case, order = permuted(make_case(700, 4, (9, 3, 2), K, weighted=weighted, seed=30 + K), seed=K)
    csr = ArrayRows(case.design.to_csr(), case.y, case.sample_weight, K)
    split = case.split()
    assert_results_close(source_results(case, split), source_results(case, csr), 1e-12, "ordered vs CSR")
    raw = split.predict_raw(case.coef, case.intercept)
    expected = case.design.to_dense() @ case.coef.T + case.intercept
    assert_close(raw, expected, 1e-12, "scores")
    assert_close(predict_raw(case.design, case.coef, case.intercept), expected, 1e-12, "predict_raw")
    weight, first, second = split.column_moments()
    expected_moments = csr.column_moments()
    assert weight == pytest.approx(expected_moments[0], rel=1e-13)
    assert_close(first, expected_moments[1], 1e-12, "sum s x")
    assert_close(second, expected_moments[2], 1e-12, "sum s x**2")
    features = np.array([5, 0, 3, 11])
    a = split.select_features(features).loss_grad(case.coef[..., features].copy(), case.intercept)
    b = csr.select_features(features).loss_grad(case.coef[..., features].copy(), case.intercept)
    assert a[0] == pytest.approx(b[0], rel=1e-13)
    assert_close(a[1], b[1], 1e-12, "selected features' gradient")


@pytest.mark.parametrize("K", [2, 3])
def test_a_column_order_is_the_stored_designs_sums_gathered(K):
    # Sum for sum, the ordered design's results are the stored design's, moved.
    base = make_case(400, 3, (6, 4), K, weighted=True, seed=40)
    case, order = permuted(base, seed=41)
    loss, grad = case.split().loss_grad(case.coef, case.intercept)
    loss0, grad0 = base.split().loss_grad(base.coef, base.intercept)
    index = np.append(order, base.design.n_features)
    assert loss == loss0 and np.array_equal(grad, grad0[..., index])
    H = case.split().hessian(case.coef, case.intercept)
    H0 = base.split().hessian(base.coef, base.intercept)
    q = 1 if K == 2 else K
    big = (np.arange(q)[:, None] * (base.design.n_features + 1) + index[None, :]).ravel()
    assert np.array_equal(H, H0[np.ix_(big, big)])


def test_a_fit_with_a_column_order_reaches_the_permuted_csr_optimum():
    case, order = permuted(make_case(3000, 4, (12, 3), K=3, weighted=True, seed=42), seed=43)
    split = Objective([case.split()], C=10.0)
    csr = Objective([ArrayRows(case.design.to_csr(), case.y, case.sample_weight, 3)], C=10.0)
    x0 = np.zeros(split.n_params)
    expected = solvers.newton(csr, x0, max_iter=100, tol=1e-12).x
    res = solvers.newton(split, x0, max_iter=100, tol=1e-12)
    assert res.converged
    assert_close(res.x, expected, 1e-8, "optimum")


def test_column_orders_that_are_not_permutations_are_refused():
    dense, codes = np.zeros((3, 2)), [np.array([0, 1, -1])]
    with pytest.raises(ValueError, match=r"column_order must be a permutation of range\(4\)"):
        SplitDesign(dense, codes, [2], column_order=[0, 1, 1, 3])
    with pytest.raises(ValueError, match=r"column_order must have one entry per column: shape \(4,\)"):
        SplitDesign(dense, codes, [2], column_order=[0, 1, 2])
    with pytest.raises(TypeError, match="column_order must hold integer column indices"):
        SplitDesign(dense, codes, [2], column_order=[0.0, 1.0, 2.0, 3.0])


# -- threads -----------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
def test_thread_count_changes_only_rounding_and_runs_are_bit_identical(K):
    # n (p + m) past 2 MIN_WORK_PER_THREAD: two threads do run.
    case = make_case(200_003, 4, (50, 5), K, weighted=True, seed=22)
    assert case.split(2).n_threads == 2
    one = source_results(case, case.split(1))
    two = source_results(case, case.split(2))
    assert_results_close(two, one, 1e-12, "n_threads=2 vs 1")
    for n_threads in (1, 2):
        first = source_results(case, case.split(n_threads))
        again = source_results(case, case.split(n_threads))
        for key in first:
            assert np.array_equal(first[key], again[key]), (
                f"{key}: two runs with n_threads={n_threads} differ"
            )


def test_small_designs_run_on_one_thread():
    case = make_case(1000, 4, (50, 5), seed=23)
    assert case.split(2).n_threads == 1


# -- fits -----------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["newton", "lbfgs"])
@pytest.mark.parametrize("K, C", [(2, 10.0), (2, np.inf), (3, 1.0)])
def test_a_fit_on_split_rows_reaches_the_csr_designs_optimum(K, C, solver):
    design, dense, codes = make_design(3000, 4, (12, 3), seed=24)
    rng = np.random.default_rng(24)
    X = design.to_dense()
    true = rng.standard_normal((K if K > 2 else 1, design.n_features)) * 0.7
    z = X @ true.T
    if K == 2:
        y = (rng.random(3000) < 1 / (1 + np.exp(-z[:, 0]))).astype(float)
    else:
        P = np.exp(z - z.max(axis=1, keepdims=True))
        y = ((P / P.sum(axis=1, keepdims=True)).cumsum(axis=1) < rng.random((3000, 1))).sum(axis=1)
    sw = rng.uniform(0.5, 2.0, 3000)
    split = Objective([SplitRows(design, y, sw, K)], C=C)
    csr = Objective([ArrayRows(design.to_csr(), y, sw, K)], C=C)
    x0 = np.zeros(split.n_params)
    optimum = solvers.newton(csr, x0, max_iter=100, tol=1e-12).x
    res = getattr(solvers, solver)(split, x0, max_iter=2000, tol=1e-12)
    assert res.converged
    assert split.loss_grad(res.x)[0] == pytest.approx(csr.loss_grad(optimum)[0], rel=1e-13)
    # L-BFGS-B stops where the value no longer changes in float64 (max|grad|
    # ~5e-9 here): 2e-7 to 8e-7 from the optimum, on the CSR rows as well.
    assert_close(res.x, optimum, 1e-8 if solver == "newton" else 2e-6, "optimum")


# -- Newton's step by the Hessian's blocks ------------------------------------------------


def block_problem(levels, K, C, *, fit_intercept=True, column_order=False, weighted=False, n=600, seed=30):
    """An objective on split rows, a point and the gradient there (off the flat directions)."""
    design, dense, codes = make_design(n, 3, levels, seed=seed)
    rng = np.random.default_rng(seed + 1)
    if column_order:
        design = SplitDesign(dense, codes, levels, column_order=rng.permutation(design.n_features))
    y = rng.integers(0, K, n)
    sw = rng.uniform(0.0, 2.0, n) if weighted else None
    obj = Objective([SplitRows(design, y, sw, K)], C=C, fit_intercept=fit_intercept)
    x = rng.standard_normal(obj.n_params) * 0.3
    g = obj.loss_grad(x)[1]
    N = obj.null_space()
    return obj, x, g - N @ (N.T @ g)


BLOCK_CASES = [
    pytest.param(levels, K, C, fi, order, id=f"{'+'.join(map(str, levels))}-K{K}-C{C}-{fi}-{order}")
    for levels in [(9,), (9, 4), (6, 0, 8)]
    for K in (2, 3)
    for C, fi, order in [(1.0, True, False), (np.inf, True, True), (np.inf, False, False), (0.5, False, True)]
]


@pytest.mark.parametrize("method", ["schur", "pcg"])
@pytest.mark.parametrize("levels, K, C, fit_intercept, column_order", BLOCK_CASES)
def test_the_block_newton_step_is_the_dense_cholesky_step(levels, K, C, fit_intercept, column_order, method):
    from fastlogit import block_hessian

    obj, x, g = block_problem(
        levels, K, C, fit_intercept=fit_intercept, column_order=column_order, weighted=True
    )
    H = obj.hessian(x)
    lifted = solvers._lifted(H, obj.null_space())
    expected = solvers._newton_direction(obj, x, g, H)
    flops = block_hessian.SCHUR_MAX_FLOPS if method == "schur" else -1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(block_hessian, "SCHUR_MAX_FLOPS", flops)
        system = obj.newton_system(x)
    assert system.method == method
    # The same matrix (its products and diagonal from the blocks), the same step:
    # exact by the Schur complement, to PCG_RTOL by the preconditioned CG.
    assert_close(system.matvec(g), lifted @ g, 1e-13, "matvec")
    assert_close(system.diagonal(), np.diag(lifted), 1e-13, "diagonal")
    assert_close(system.solve(-g), expected, 1e-12 if method == "schur" else 1e-8, "step")
    assert_close(solvers._newton_direction(obj, x, g, system), expected, 1e-8, "direction")


@pytest.mark.parametrize("K", [2, 3])
def test_the_fused_pass_gives_the_gradient_and_the_same_blocks(K):
    obj, x, _ = block_problem((9, 4), K, 1.0)
    value, grad, system = obj.loss_grad_newton_system(x)
    assert (value, *grad) == pytest.approx((*obj.loss_grad(x)[:1], *obj.loss_grad(x)[1]), rel=1e-14)
    v = np.random.default_rng(0).standard_normal(obj.n_params)
    N = obj.null_space()
    v -= N @ (N.T @ v)  # (the system is lifted along the flat directions, hessp is not)
    assert_close(system.matvec(v), obj.newton_system(x).matvec(v), 1e-14, "matvec")
    assert_close(system.matvec(v), obj.hessp(x, v), 1e-12, "Hessian-vector product")


def test_blocks_of_two_sources_add_up_to_the_blocks_of_their_rows():
    design, dense, codes = make_design(500, 3, (7, 3), seed=31)
    y = np.random.default_rng(31).integers(0, 2, 500)
    whole = Objective([SplitRows(design, y)], C=2.0)
    halves = Objective(
        [SplitRows(design.rows(0, 200), y[:200]), SplitRows(design.rows(200, 500), y[200:])], C=2.0
    )
    x = np.random.default_rng(32).standard_normal(whole.n_params) * 0.2
    g = whole.loss_grad(x)[1]
    assert_close(halves.newton_system(x).solve(g), whole.newton_system(x).solve(g), 1e-12, "step")


def test_a_level_no_row_has_gets_no_step_and_the_rest_is_the_least_squares_step():
    # C = inf: the empty level's row and column of the Hessian are zero (and its gradient).
    design, dense, codes = make_design(400, 2, (6,), seed=33)
    codes = [np.where(codes[0] == 4, 5, codes[0]).astype(np.int32)]
    design = SplitDesign(dense, codes, [6])
    y = np.random.default_rng(33).integers(0, 2, 400)
    obj = Objective([SplitRows(design, y)], C=np.inf)
    x = np.zeros(obj.n_params)
    g = obj.loss_grad(x)[1]
    assert g[2 + 4] == 0.0
    step = obj.newton_system(x).solve(-g)
    assert step[2 + 4] == 0.0 and np.all(np.isfinite(step))
    assert_close(step, np.linalg.lstsq(obj.hessian(x), -g, rcond=None)[0], 1e-10, "step")


def test_a_singular_kept_block_still_solves_the_consistent_system():
    # A dense column repeated: the Schur complement is singular; least squares solves it.
    design, dense, codes = make_design(400, 2, (6,), seed=34)
    design = SplitDesign(np.column_stack([dense, dense[:, :1]]), codes, [6])
    y = np.random.default_rng(34).integers(0, 2, 400)
    obj = Objective([SplitRows(design, y)], C=np.inf)
    x = np.zeros(obj.n_params)
    g = obj.loss_grad(x)[1]
    step = obj.newton_system(x).solve(-g)
    assert_close(obj.hessian(x) @ step, -g, 1e-10, "H step")


def test_rows_without_categorical_levels_do_not_offer_blocks():
    dense_only = SplitDesign(np.random.default_rng(0).standard_normal((50, 3)), [np.full(50, -1)], [0])
    rows = SplitRows(dense_only, np.arange(50) % 2)
    assert not rows.structured_hessian
    assert not Objective([rows]).structured_newton
    assert not Objective([ArrayRows(np.eye(4), [0, 1, 0, 1])]).structured_newton
    with pytest.raises(ValueError, match="structured=True needs"):
        solvers.newton(Objective([rows]), np.zeros(4), structured=True)


def test_contingency_tables_beyond_the_bound_leave_newton_to_hessian_vector_products(monkeypatch):
    import fastlogit.split

    design, _, _ = make_design(200, 2, (30, 20), seed=36)
    rows = SplitRows(design, np.arange(200) % 2)
    assert rows.structured_hessian
    monkeypatch.setattr(fastlogit.split, "STRUCTURED_MAX_PAIR_ENTRIES", 30 * 20 - 1)
    assert not rows.structured_hessian


@pytest.mark.parametrize("K, C", [(2, np.inf), (2, 1.0), (3, np.inf), (3, 0.5)])
def test_newton_by_blocks_takes_the_dense_newton_iterates(K, C, monkeypatch):
    obj, _, _ = block_problem((40, 6), K, C, n=3000, seed=35)
    x0 = np.zeros(obj.n_params)
    dense = solvers.newton(obj, x0, tol=1e-10, use_cholesky=True)

    def refuse(*args, **kwargs):
        raise AssertionError("a dense Hessian was formed")

    monkeypatch.setattr(SplitRows, "hessian", refuse)
    monkeypatch.setattr(SplitRows, "loss_grad_hessian", refuse)
    monkeypatch.setattr(SplitRows, "hessp", refuse)
    blocks = solvers.newton(obj, x0, tol=1e-10, structured=True)
    assert blocks.converged and blocks.n_iter == dense.n_iter
    np.testing.assert_allclose(blocks.loss_curve, dense.loss_curve, rtol=1e-13)
    assert_close(blocks.x, dense.x, 1e-9, "optimum")
