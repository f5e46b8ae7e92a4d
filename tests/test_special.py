"""Behaviour of the special functions: limits, dtypes, shapes, axes, bad input.

Accuracy against mpmath is in test_special_accuracy.py; here every public
function is checked against its NumPy twin in fastlogit.reference and
against the limits the documentation promises.
"""

import mpmath
import numpy as np
import pytest
import scipy.special

import fastlogit
from fastlogit import reference
from fastlogit.kernels import special as kernels

ELEMENTWISE = ["sigmoid", "log_sigmoid", "log1pexp"]
ROWWISE = ["logsumexp", "softmax", "log_softmax"]
SCIPY = {
    "sigmoid": scipy.special.expit,
    "log_sigmoid": scipy.special.log_expit,
    "log1pexp": lambda x: np.logaddexp(0, x),
    "logsumexp": lambda a, axis=-1: scipy.special.logsumexp(a, axis=axis),
    "softmax": lambda a, axis=-1: scipy.special.softmax(a, axis=axis),
    "log_softmax": lambda a, axis=-1: scipy.special.log_softmax(a, axis=axis),
}


pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")


# -- limits ------------------------------------------------------------------


def test_elementwise_limits_at_infinity_and_nan():
    x = np.array([-np.inf, np.inf, np.nan])
    for mod in (fastlogit, reference):
        np.testing.assert_array_equal(mod.sigmoid(x), [0.0, 1.0, np.nan])
        np.testing.assert_array_equal(mod.log_sigmoid(x), [-np.inf, 0.0, np.nan])
        np.testing.assert_array_equal(mod.log1pexp(x), [0.0, np.inf, np.nan])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_functions_are_finite_and_exact_at_huge_logits(dtype):
    x = np.array([-1e4, -800, -745.2, -88.8, 88.8, 745.2, 800, 1e4], dtype=dtype)
    assert np.all(fastlogit.sigmoid(x)[:3] == 0) and np.all(fastlogit.sigmoid(x)[-3:] == 1)
    np.testing.assert_array_equal(fastlogit.log_sigmoid(x)[:3], x[:3])
    np.testing.assert_array_equal(fastlogit.log1pexp(x)[-3:], x[-3:])
    assert fastlogit.log_sigmoid(dtype(40)) == -np.exp(dtype(-40))
    assert np.all(np.isfinite(fastlogit.log_sigmoid(x)))


def test_logsumexp_limits():
    a = np.array(
        [
            [-np.inf, -np.inf, -np.inf],
            [np.inf, 0.0, 1.0],
            [np.inf, -np.inf, 0.0],
            [np.nan, np.inf, 0.0],
            [-np.inf, 0.0, -np.inf],
        ]
    )
    for mod in (fastlogit, reference):
        np.testing.assert_array_equal(mod.logsumexp(a), [-np.inf, np.inf, np.inf, np.nan, 0.0])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_limits_are_the_well_defined_ones_and_nan_otherwise(name):
    a = np.array(
        [
            [np.inf, 0.0, -np.inf],  # one +inf: one-hot
            [0.0, -np.inf, 0.0],  # -inf entry: probability 0
            [np.inf, np.inf, 0.0],  # two +inf: undefined
            [-np.inf, -np.inf, -np.inf],  # all -inf: 0/0
            [np.nan, 0.0, 1.0],
        ]
    )
    nan = np.full(3, np.nan)
    if name == "softmax":
        expected = [[1, 0, 0], [0.5, 0, 0.5], nan, nan, nan]
    else:
        expected = [[0, -np.inf, -np.inf], [-np.log(2), -np.inf, -np.log(2)], nan, nan, nan]
    for mod in (fastlogit, reference):
        np.testing.assert_array_equal(getattr(mod, name)(a), expected)


def test_logsumexp_of_an_empty_axis_is_minus_inf():
    for mod in (fastlogit, reference):
        np.testing.assert_array_equal(mod.logsumexp(np.zeros((3, 0))), [-np.inf] * 3)
        assert mod.softmax(np.zeros((3, 0))).shape == (3, 0)


def test_log_softmax_keeps_log_probabilities_near_zero():
    # exp(-90) ~ 8e-40: log(1 + 8e-40) rounds to 0, log1p does not.
    out = fastlogit.log_softmax(np.array([0.0, -90.0]))
    assert out[0] == -np.exp(-90.0)
    assert fastlogit.logsumexp(np.array([0.0, -90.0])) == np.exp(-90.0)


def test_softmax_is_exact_for_a_huge_spread():
    # 0.1 - 700.3 is not exact in float64 (error ~3e-14, i.e. ~300 ulp of
    # the exponential); the kernel carries the subtraction's error into exp.
    with mpmath.workdps(50):
        exact = mpmath.exp(mpmath.mpf(0.1) - mpmath.mpf(700.3))
    out = fastlogit.softmax(np.array([0.1, 700.3]))
    assert abs(out[0] - float(exact)) <= 2 * np.spacing(float(exact))
    assert out[1] == 1.0
    naive = reference.softmax(np.array([0.1, 700.3]))[0]
    assert abs(naive - float(exact)) > 10 * np.spacing(float(exact))


# -- agreement with the reference and scipy ----------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_agrees_with_reference_and_scipy(name, dtype):
    x = (np.random.default_rng(0).standard_normal(10_000) * 30).astype(dtype)
    rtol = 1e-14 if dtype == np.float64 else 1e-6
    # Below the smallest normal the float32 reference flushes what the
    # kernels (computing in float64) keep as subnormals.
    atol = np.finfo(dtype).tiny
    out = getattr(fastlogit, name)(x)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, getattr(reference, name)(x), rtol=rtol, atol=atol)
    np.testing.assert_allclose(out, SCIPY[name](x.astype(np.float64)), rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_agrees_with_reference_and_scipy(name, dtype):
    a = (np.random.default_rng(1).standard_normal((500, 7)) * 10).astype(dtype)
    rtol = 1e-13 if dtype == np.float64 else 1e-5
    # log(sum) in the reference and scipy has an absolute error of a few
    # eps: log-probabilities near 0 agree only to that.
    atol = 4 * np.finfo(dtype).eps if name == "log_softmax" else 0.0
    out = getattr(fastlogit, name)(a)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, getattr(reference, name)(a), rtol=rtol, atol=atol)
    np.testing.assert_allclose(out, SCIPY[name](a.astype(np.float64)), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_parallel_and_serial_paths_are_bit_identical(name):
    x = np.random.default_rng(2).standard_normal(3 * kernels.PARALLEL_MIN_SIZE + 17) * 20
    out = getattr(fastlogit, name)(x)
    pieces = np.concatenate([getattr(fastlogit, name)(c) for c in np.array_split(x, 200)])
    np.testing.assert_array_equal(out, pieces)


@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_parallel_and_serial_paths_are_bit_identical(name):
    a = np.random.default_rng(3).standard_normal((kernels.PARALLEL_MIN_SIZE // 3 + 5, 10)) * 20
    out = getattr(fastlogit, name)(a)
    pieces = np.concatenate([getattr(fastlogit, name)(c) for c in np.array_split(a, 100)])
    np.testing.assert_array_equal(out, pieces)


# -- dtypes, shapes and axes ---------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE + ROWWISE)
def test_scalars_give_numpy_scalars(name):
    out = getattr(fastlogit, name)(0.5)
    assert isinstance(out, np.float64)
    assert out == pytest.approx(getattr(reference, name)(0.5), rel=1e-15)
    assert isinstance(getattr(fastlogit, name)(np.float32(0.5)), np.float32)


@pytest.mark.parametrize(
    "given, expected",
    [
        (np.int32, np.float64),
        (np.int64, np.float64),
        (np.uint8, np.float64),
        (np.bool_, np.float64),
        (np.float16, np.float32),
        (np.float32, np.float32),
    ],
)
@pytest.mark.parametrize("name", ELEMENTWISE + ROWWISE)
def test_output_dtype_follows_input_dtype(name, given, expected):
    x = np.ones((4, 3), dtype=given)
    out = getattr(fastlogit, name)(x)
    assert out.dtype == expected
    np.testing.assert_allclose(out, getattr(reference, name)(x.astype(expected)), rtol=1e-6)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_keeps_any_shape_and_layout(name):
    x = np.random.default_rng(4).standard_normal((3, 4, 5)) * 5
    f = getattr(fastlogit, name)
    expected = getattr(reference, name)(x)
    np.testing.assert_allclose(f(x), expected, rtol=1e-14)
    np.testing.assert_allclose(f(np.asfortranarray(x)), expected, rtol=1e-14)
    np.testing.assert_allclose(f(x[:, ::2, 1:]), expected[:, ::2, 1:], rtol=1e-14)
    assert f(np.empty((0, 3))).shape == (0, 3)
    assert f([1.0, 2.0]).shape == (2,)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, None])
@pytest.mark.parametrize("name", ROWWISE)
def test_rowwise_works_along_any_axis(name, axis):
    a = np.random.default_rng(5).standard_normal((3, 4, 5)) * 5
    out = getattr(fastlogit, name)(a, axis=axis)
    atol = 4 * np.finfo(np.float64).eps if name == "log_softmax" else 0.0
    np.testing.assert_allclose(out, getattr(reference, name)(a, axis=axis), rtol=1e-13, atol=atol)
    np.testing.assert_allclose(out, SCIPY[name](a, axis=axis), rtol=1e-13, atol=atol)
    np.testing.assert_allclose(getattr(fastlogit, name)(np.asfortranarray(a), axis=axis), out, rtol=1e-15)


def test_logsumexp_keepdims():
    a = np.random.default_rng(6).standard_normal((3, 4, 5))
    for axis in (0, 1, 2, None):
        out = fastlogit.logsumexp(a, axis=axis, keepdims=True)
        np.testing.assert_allclose(out, scipy.special.logsumexp(a, axis=axis, keepdims=True), rtol=1e-14)


def test_inputs_are_never_written():
    x = np.linspace(-5, 5, 100)
    x.flags.writeable = False
    for name in ELEMENTWISE:
        getattr(fastlogit, name)(x)
    for name in ROWWISE:
        getattr(fastlogit, name)(x.reshape(10, 10))
    np.testing.assert_array_equal(x, np.linspace(-5, 5, 100))


# -- bad input -----------------------------------------------------------------


@pytest.mark.parametrize("name", ELEMENTWISE + ROWWISE)
@pytest.mark.parametrize(
    "bad, phrase",
    [
        (np.array([1 + 2j]), "complex"),
        (np.array(["a"]), "real number"),
        (np.array([object()]), "real number"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "real number"),
    ],
)
def test_non_real_input_raises_type_error_naming_the_argument(name, bad, phrase):
    with pytest.raises(TypeError, match=phrase):
        getattr(fastlogit, name)(bad)


@pytest.mark.parametrize("name", ROWWISE)
def test_bad_axis_raises(name):
    with pytest.raises(ValueError, match="axis=2 is out of bounds"):
        getattr(fastlogit, name)(np.ones((2, 2)), axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        getattr(fastlogit, name)(np.ones((2, 2)), axis=1.0)
