"""Accuracy of the special functions against mpmath at 50 digits.

The contract (ARCHITECTURE.md): at most 2 ulp of the output dtype, float64 and
float32, over 100 000 points spread log-uniformly over [-800, 800] plus the
named edges of the float range.  The NumPy reference is held to the looser
bound that its whole-array formulas can keep.
"""

import functools

import mpmath
import numpy as np
import pytest

import fastlogit
from fastlogit import reference

mpmath.mp.dps = 50

N_POINTS = 100_000
MAX_ULP = 2.0

# Where a formula switches regime or the float range ends:
#  ±18, ±33.3, ±36.7, ±37: where 1 + exp(-|x|) stops changing in float32/64;
#  ±88.7, ±103.9: float32 exp overflows / its result goes subnormal-then-0;
#  ±709.78, ±745.2: the same for float64.
EDGES = [
    0.0,
    -0.0,
    1e-300,
    -1e-300,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    -2.2250738585072014e-308,
    1e-45,
    -1e-45,
    1.0,
    -1.0,
    0.34657359,
    -0.34657359,
    18.0,
    -18.0,
    33.3,
    -33.3,
    36.7,
    -36.7,
    37.0,
    -37.0,
    88.7,
    -88.7,
    103.9,
    -103.9,
    709.78,
    -709.78,
    745.2,
    -745.2,
    1e4,
    -1e4,
    1e308,
    -1e308,
]


def sample_points(n, seed):
    """n points with magnitudes log-uniform in [1e-30, 800], random signs."""
    rng = np.random.default_rng(seed)
    mag = 10.0 ** rng.uniform(-30, np.log10(800.0), n)
    return np.where(rng.random(n) < 0.5, -mag, mag)


def to_double_double(values):
    """mpf values -> (hi, lo) float64 arrays with hi + lo equal to them to ~1e-32."""
    hi = np.array([float(v) for v in values])
    lo = np.array([float(v - mpmath.mpf(h)) if mpmath.isfinite(v) else 0.0 for v, h in zip(values, hi)])
    return hi, lo


def ulp_of(hi, lo, dtype):
    """The ulp of ``dtype`` in the binade holding the exact value ``hi + lo``.

    Just below a power of two that is the smaller spacing; subnormals and 0
    get the smallest subnormal.
    """
    finfo = np.finfo(dtype)
    mant, expo = np.frexp(hi)
    below_power_of_two = (np.abs(mant) == 0.5) & (lo * hi < 0)
    ulp = np.ldexp(1.0, expo - (finfo.nmant + 1) - below_power_of_two)
    return np.maximum(ulp, float(finfo.smallest_subnormal))


def ulp_error(computed, hi, lo, dtype):
    """|computed - (hi + lo)| in ulps of ``dtype`` at the exact value."""
    diff = (np.asarray(computed, dtype=np.float64) - hi) - lo
    return np.abs(diff) / ulp_of(hi, lo, dtype)


@functools.cache
def elementwise_oracle(dtype_name):
    """(x, {name: (hi, lo)}) for sigmoid, log_sigmoid, log1pexp at 50 digits."""
    dtype = np.dtype(dtype_name)
    x = np.concatenate([sample_points(N_POINTS, seed=1), EDGES])
    x = x[np.abs(x) <= np.finfo(dtype).max]  # ±1e308 is ±inf in float32: a limit, tested elsewhere
    x = x.astype(dtype)
    exact = {"sigmoid": [], "log_sigmoid": [], "log1pexp": []}
    for xi in x.astype(np.float64):
        X = mpmath.mpf(float(xi))
        t = mpmath.exp(-abs(X))
        L = mpmath.log1p(t)
        exact["sigmoid"].append(1 / (1 + t) if X >= 0 else t / (1 + t))
        exact["log_sigmoid"].append(min(X, 0) - L)
        exact["log1pexp"].append(max(X, 0) + L)
    return x, {k: to_double_double(v) for k, v in exact.items()}


ROWS, K = 20_000, 5


@functools.cache
def rowwise_oracle(dtype_name):
    """(a, {name: (hi, lo)}, {name: scale}) for rows of K points at 50 digits.

    Each row mixes points from the whole range with points close together
    (offsets within ±2 of the row's first entry), where the sum of
    exponentials has several terms that matter.  The oracle works from the
    exact shifts ``d = a - max`` and ``log1p`` of the non-max terms so that
    results near 0 keep 50 significant digits.  ``scale`` is the size of the
    terms each result is a sum of: ``max(|m|, |L|)`` for logsumexp
    ``m + L``, ``max(|d|, |L|)`` for log_softmax ``d - L``.
    """
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(2)
    wide = sample_points(ROWS * K, seed=3).reshape(ROWS, K)
    near = wide[:, :1] + rng.uniform(-2, 2, (ROWS, K))
    a = np.where(rng.random((ROWS, 1)) < 0.5, wide, near).astype(dtype)
    lse, sm, lsm, lse_scale = [], [], [], []
    for row in a.astype(np.float64):
        jmax = int(np.argmax(row))
        m = mpmath.mpf(float(row[jmax]))
        d = [mpmath.mpf(float(v)) - m for v in row]
        L = mpmath.log1p(mpmath.fsum(mpmath.exp(dj) for j, dj in enumerate(d) if j != jmax))
        lse.append(m + L)
        sm.extend(mpmath.exp(dj - L) for dj in d)
        lsm.extend(dj - L for dj in d)
        lse_scale.append(max(abs(m), abs(L)))
    L = np.array([float(v - mpmath.mpf(float(m))) for v, m in zip(lse, a.max(axis=1))])
    exact = {
        "logsumexp": to_double_double(lse),
        "softmax": tuple(v.reshape(ROWS, K) for v in to_double_double(sm)),
        "log_softmax": tuple(v.reshape(ROWS, K) for v in to_double_double(lsm)),
    }
    shift = np.abs(a.astype(np.float64) - a.max(axis=1, keepdims=True))
    scale = {
        "logsumexp": np.array([float(v) for v in lse_scale]),
        "log_softmax": np.maximum(shift, np.abs(L)[:, None]),
        "softmax_shift": shift,
    }
    return a, exact, scale


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid", "log1pexp"])
def test_elementwise_functions_are_within_2_ulp_of_mpmath(name, dtype):
    x, exact = elementwise_oracle(dtype)
    assert x.size >= N_POINTS
    out = getattr(fastlogit, name)(x)
    assert out.dtype == np.dtype(dtype)
    err = ulp_error(out, *exact[name], np.dtype(dtype))
    worst = int(np.nanargmax(err))
    assert err[worst] <= MAX_ULP, f"{name}({x[worst]!r}) is off by {err[worst]:.2f} ulp"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_functions_are_within_2_ulp_of_mpmath(name, dtype):
    a, exact, _ = rowwise_oracle(dtype)
    out = getattr(fastlogit, name)(a)
    assert out.dtype == np.dtype(dtype)
    err = ulp_error(out, *exact[name], np.dtype(dtype))
    worst = np.unravel_index(int(np.nanargmax(err)), err.shape)
    assert err[worst] <= MAX_ULP, f"{name}({a[worst[0]]!r}) is off by {err[worst]:.2f} ulp"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsumexp_is_within_2_ulp_of_mpmath_where_nothing_cancels(dtype):
    """2 ulp of the result, or of max(|m|, |L|) where m + L cancels.

    ``logsumexp = m + L`` with ``m = max a`` and ``L = log(sum exp(a - m))
    >= 0``.  When ``m < 0`` the two terms cancel (e.g. [-0.7, -0.7] ->
    -0.007) and the problem itself is ill-conditioned (relative condition
    ~ |m| / |result|): a 1-ulp change of an input moves the result by many
    of its ulps.  There the bound is 2 ulp of the larger term (mixed
    error), which is what any float64 evaluation can promise.
    """
    a, exact, scale = rowwise_oracle(dtype)
    out = fastlogit.logsumexp(a)
    hi, lo = exact["logsumexp"]
    err = ulp_error(out, hi, lo, np.dtype(dtype))
    mixed = np.abs((out.astype(np.float64) - hi) - lo) / ulp_of(scale["logsumexp"], 0.0, np.dtype(dtype))
    no_cancellation = scale["logsumexp"] <= np.abs(hi)
    assert no_cancellation.mean() > 0.9
    assert np.max(err[no_cancellation]) <= MAX_ULP
    assert np.max(mixed) <= MAX_ULP


@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid", "log1pexp"])
def test_reference_elementwise_is_within_4_ulp_in_float64(name):
    """The NumPy twin is exact enough to be an oracle for the kernels' tests."""
    x, exact = elementwise_oracle("float64")
    err = ulp_error(getattr(reference, name)(x), *exact[name], np.dtype("float64"))
    assert np.max(err) <= 4.0


def test_reference_softmax_error_grows_with_the_spread_of_the_row():
    """Without an exact ``a - max`` the reference loses ~|a - max| ulp.

    This is why the kernels carry the two-sum error of the shift.
    """
    a, exact, scale = rowwise_oracle("float64")
    err = ulp_error(reference.softmax(a), *exact["softmax"], np.dtype("float64"))
    assert np.all(err <= 6.0 + scale["softmax_shift"])
    assert np.max(err) > 10 * MAX_ULP  # the effect is real, not hypothetical


def test_reference_log_softmax_has_a_mixed_error_bound():
    """``(a - m) - log(sum)`` is accurate to a few ulp of max(|a - m|, 1).

    ``log`` of a sum >= 1 has an absolute error of ~2**-53, so the reference
    loses log-probabilities near 0 (a row [0, -90] gives exactly 0 for the
    first entry instead of -8e-40); fastlogit keeps them, via log1p of the
    non-max terms.
    """
    a, exact, scale = rowwise_oracle("float64")
    hi, lo = exact["log_softmax"]
    out = reference.log_softmax(a)
    shift_or_one = np.maximum(scale["log_softmax"], 1.0)
    mixed = np.abs((out - hi) - lo) / ulp_of(shift_or_one, 0.0, np.dtype("float64"))
    assert np.max(mixed) <= 4.0
    assert np.max(ulp_error(out, hi, lo, np.dtype("float64"))) > 1e6
