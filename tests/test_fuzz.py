"""Hypothesis fuzzing of the public API (issue 8: "never a crash, never silently NaN").

Random shapes (0 and 1 rows, 1 column), dtypes (float64/32/16, int, bool),
layouts (C, F, strided and reversed views, CSR/CSC/COO, int64 CSR indices),
sparsity, weights (zeros included) and extreme values (±1e4, sometimes ±inf
or NaN).  Every call either returns what the NumPy twin in
fastlogit.reference returns (within a tolerance scaled by the magnitudes
that enter each sum, so that cancellation is not mistaken for error) or
raises ValueError/TypeError naming the offending argument.

The kernel tests here are also run under NUMBA_BOUNDSCHECK=1 by .ci/run
(``-k kernel``): out-of-bounds indexing in a kernel then raises instead of
reading garbage.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

import fastlogit
from fastlogit import reference
from fastlogit.sgd import SGDDivergenceError

FUZZ = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

#: Relative tolerance per computing dtype (as tests/test_kernels.py).
RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}
DTYPES = ["float64", "float32", "float16", "int64", "int32", "bool"]


def computing_dtype(dtype):
    """The float dtype fastlogit computes a ``dtype`` input in."""
    dtype = np.dtype(dtype)
    if dtype == np.float32 or dtype == np.float16:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


@st.composite
def values(draw, shape, dtype, nonfinite):
    """An array of ``shape``: N(0, scale^2) with scale up to 1e3, a few entries at ±1e4,
    and (when ``nonfinite``) one entry at ±inf or NaN."""
    size = int(np.prod(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 30.0, 1e3]))
    a = rng.standard_normal(size) * scale
    if size and draw(st.booleans()):
        k = draw(st.integers(1, size))
        a[rng.choice(size, k, replace=False)] = rng.choice([-1e4, 1e4], k)
    if size and nonfinite:
        a[draw(st.integers(0, size - 1))] = draw(st.sampled_from([np.inf, -np.inf, np.nan]))
    a = a.reshape(shape)
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return a > 0
    if dtype.kind in "iu":
        return np.rint(np.nan_to_num(a, nan=0.0, posinf=1e4, neginf=-1e4)).astype(dtype)
    return a.astype(dtype)


def with_layout(a, layout):
    """The same values as ``a`` in another memory layout."""
    if a.ndim == 0 or layout == "C":
        return a
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":  # every other element of a twice-as-large buffer, last axis
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    assert layout == "reversed"
    return np.ascontiguousarray(a[::-1])[::-1]


LAYOUTS = ["C", "F", "strided", "reversed"]


def finite_input(a):
    return np.isfinite(np.asarray(a, dtype=np.float64)).all()


def strict():
    """Floating-point warnings are errors in the kernels (as conftest's fixture,
    which hypothesis tests cannot use: it is function-scoped)."""
    return np.errstate(all="raise", under="ignore")


# ---------------------------------------------------------------------------
# Special functions.
# ---------------------------------------------------------------------------

ELEMENTWISE = ["sigmoid", "log_sigmoid", "log1pexp"]
ROWWISE = ["logsumexp", "softmax", "log_softmax"]


@st.composite
def special_input(draw):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(DTYPES))
    nonfinite = np.dtype(dtype).kind == "f" and draw(st.integers(0, 4)) == 0
    a = draw(values(shape, dtype, nonfinite))
    a = with_layout(a, draw(st.sampled_from(LAYOUTS)))
    if ndim == 0 and draw(st.booleans()):
        a = a.item()  # a Python scalar
    return a


def assert_matches_reference(out, expected, x, dtype, name, log=False):
    """Elementwise, within RTOL relative, plus the absolute rounding of a shift
    ``x - max(x)`` (eps * max|x|: both sides round it, the reference less
    carefully) and the subnormal range."""
    ctype = computing_dtype(dtype)
    assert np.asarray(out).dtype == ctype, f"{name}: dtype {np.asarray(out).dtype}, expected {ctype}"
    assert np.shape(out) == np.shape(expected)
    finite = np.asarray(x, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    big = float(np.abs(finite).max()) if finite.size else 0.0
    eps = float(np.finfo(ctype).eps)
    rtol = RTOL[ctype] + (8 * eps * big if name in ROWWISE and not log else 0.0)
    atol = np.finfo(ctype).tiny + (8 * eps * max(big, 1.0) if name in ("logsumexp", "log_softmax") else 0.0)
    np.testing.assert_allclose(
        np.asarray(out, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=rtol,
        atol=atol,
        err_msg=name,
    )
    if finite_input(x) and name in ELEMENTWISE:
        assert np.isfinite(out).all(), f"{name}: non-finite output for finite input"


@FUZZ
@given(name=st.sampled_from(ELEMENTWISE), x=special_input())
def test_fuzz_kernel_elementwise_matches_reference(name, x):
    dtype = np.asarray(x).dtype
    with strict():
        out = getattr(fastlogit, name)(x)
    with np.errstate(all="ignore"):
        expected = getattr(reference, name)(x)
    assert np.ndim(out) == np.ndim(x)
    if np.ndim(x) == 0:
        assert isinstance(out, np.generic), f"{name}: scalar in, {type(out)} out"
    assert_matches_reference(out, expected, x, dtype, name)
    if finite_input(x):
        assert not np.isnan(out).any()


@FUZZ
@given(
    name=st.sampled_from(ROWWISE),
    x=special_input(),
    axis_pick=st.integers(-5, 5),
    use_none=st.booleans(),
    keepdims=st.booleans(),
)
def test_fuzz_kernel_rowwise_matches_reference_or_names_axis(name, x, axis_pick, use_none, keepdims):
    dtype = np.asarray(x).dtype
    ndim = max(np.ndim(x), 1)
    axis = None if use_none else axis_pick
    kw = dict(axis=axis, keepdims=keepdims) if name == "logsumexp" else dict(axis=axis)
    if axis is not None and not -ndim <= axis < ndim:
        with pytest.raises(ValueError, match=rf"axis={axis} is out of bounds"):
            getattr(fastlogit, name)(x, **kw)
        return
    with strict():
        out = getattr(fastlogit, name)(x, **kw)
    with np.errstate(all="ignore"):
        expected = getattr(reference, name)(x, **kw)
    assert_matches_reference(out, expected, x, dtype, name, log=name == "log_softmax")
    if finite_input(x):
        assert not np.isnan(out).any(), f"{name}: NaN for finite input"
        if name == "softmax" and np.size(x) and axis is not None and np.shape(np.atleast_1d(x))[axis]:
            np.testing.assert_allclose(
                np.sum(out, axis=axis),
                1.0,
                rtol=0,
                atol=4e-6 if computing_dtype(dtype) == np.float32 else 1e-12,
            )


@FUZZ
@given(
    name=st.sampled_from(ELEMENTWISE + ROWWISE), bad=st.sampled_from(["complex", "object", "str", "datetime"])
)
def test_fuzz_kernel_special_non_real_input_is_a_type_error(name, bad):
    x = {
        "complex": np.array([1 + 2j, 0j]),
        "object": np.array([None, 1.0], dtype=object),
        "str": np.array(["a", "b"]),
        "datetime": np.array(["2020-01-01"], dtype="datetime64[D]"),
    }[bad]
    arg = "x" if name in ELEMENTWISE else "a"
    with pytest.raises(TypeError, match=rf"^{arg} must be"):
        getattr(fastlogit, name)(x)


# ---------------------------------------------------------------------------
# Loss, gradient, Hessian and score kernels.
# ---------------------------------------------------------------------------

MATRIX_LAYOUTS = ["C", "F", "strided", "reversed", "csr", "csr64", "csc", "coo"]


@st.composite
def matrix_problem(draw):
    # Mostly non-empty (an empty X is one error, met early): 0 sometimes.
    n = draw(st.sampled_from([1, 2, 3, 4, 7, 12, 0]))
    d = draw(st.sampled_from([1, 2, 3, 5, 0]))
    K = draw(st.sampled_from([None, None, 2, 3, 4]))  # None: the binary model
    layout = draw(st.sampled_from(MATRIX_LAYOUTS))
    dtype = draw(st.sampled_from(DTYPES if layout in LAYOUTS else ["float64", "float32", "int64", "bool"]))
    nonfinite = np.dtype(dtype).kind == "f" and draw(st.integers(0, 4)) == 0
    A = draw(values((n, d), dtype, nonfinite))
    if layout in LAYOUTS:
        X = with_layout(A, layout)
    else:
        density = draw(st.sampled_from([0.0, 0.3, 1.0]))
        keep = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((n, d)) < density
        if nonfinite:
            keep |= ~np.isfinite(A)
        X = sp.csr_matrix(np.where(keep, A, np.zeros((), dtype=A.dtype)))
        X.eliminate_zeros()
        if layout == "csr64":
            X.indices = X.indices.astype(np.int64)
            X.indptr = X.indptr.astype(np.int64)
        else:
            X = X.asformat(layout)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    coef_scale = draw(st.sampled_from([0.0, 0.1, 1.0, 1e4]))
    shape = (d,) if K is None else (K, d)
    coef = rng.standard_normal(shape) * coef_scale
    vec = rng.standard_normal(shape)
    if K is None:
        intercept, vec_intercept = float(rng.standard_normal()), float(rng.standard_normal())
        y = rng.integers(0, 2, n)
        bad_label = 2
    else:
        intercept = rng.standard_normal(K) if draw(st.booleans()) else None
        vec_intercept = rng.standard_normal(K) if draw(st.booleans()) else None
        y = rng.integers(0, K, n)
        bad_label = K
    y = y.astype(
        draw(st.sampled_from(["int64", "int32", "float64", "uint8"] + (["bool"] if K is None else [])))
    )
    labels_bad = n > 0 and draw(st.integers(0, 9)) == 0
    if labels_bad:
        y = y.astype(np.int64)
        y[draw(st.integers(0, n - 1))] = bad_label
    weights = draw(st.sampled_from(["none", "random", "one_positive", "none", "random", "zeros", "negative"]))
    sw = None
    if weights != "none":
        sw = rng.uniform(0, 3, n)
        sw[1::3] = 0.0
        if weights == "zeros":
            sw[:] = 0.0
        elif weights == "one_positive" and n:
            sw[:] = 0.0
            sw[rng.integers(n)] = 2.5
        elif weights == "negative" and n:
            sw[rng.integers(n)] = -1.0
    return dict(
        X=X,
        A=A,
        y=y,
        coef=coef,
        intercept=intercept,
        vec=vec,
        vec_intercept=vec_intercept,
        sw=sw,
        K=K,
        labels_bad=labels_bad,
        nonfinite=nonfinite,
        weights=weights,
        reduction=draw(st.sampled_from(["mean", "sum"])),
        n_threads=draw(st.sampled_from([None, 1])),
    )


def kernel_calls(p):
    """name -> (fastlogit call, reference call) on problem ``p``."""
    X, y, W, b, V, vb, sw = p["X"], p["y"], p["coef"], p["intercept"], p["vec"], p["vec_intercept"], p["sw"]
    red = dict(reduction=p["reduction"], n_threads=p["n_threads"])
    if p["K"] is None:
        return {
            "loss_grad": lambda m: m.binary_loss_grad(X, y, W, b, sw, **red),
            "hessp": lambda m: m.binary_hessp(X, W, b, V, vb, sw, **red),
            "hessian": lambda m: m.binary_hessian(X, W, b, sw, **red),
            "predict_raw": lambda m: m.binary_predict_raw(X, W, b, n_threads=p["n_threads"]),
        }
    return {
        "loss_grad": lambda m: m.multinomial_loss_grad(X, y, W, b, sw, **red),
        "hessp": lambda m: m.multinomial_hessp(X, W, b, V, vb, sw, **red),
        "predict_raw": lambda m: m.multinomial_predict_raw(X, W, b, n_threads=p["n_threads"]),
    }


def expected_error(p, name):
    """(exception type, regex) the call must raise, or None."""
    n, d = p["A"].shape
    if n == 0 or d == 0:
        return ValueError, r"^X is empty"
    if name != "predict_raw" and p["weights"] in ("zeros", "negative"):
        return ValueError, r"^sample_weight must"
    if name == "loss_grad" and p["labels_bad"]:
        return ValueError, r"^y must hold"
    if p["nonfinite"]:
        return ValueError, r"^Input X contains (NaN|infinity)"
    return None


def tolerances(p, name, ctype):
    """Absolute tolerance of each output: RTOL times the sum of the magnitudes
    of the terms that make it up (rounding of a sum is bounded by that, and a
    sum that cancels to near 0 is then not held to a relative bound)."""
    A = np.abs(p["A"].astype(np.float64))
    n, _ = A.shape
    W = np.atleast_2d(p["coef"])
    b = np.abs(np.atleast_1d(p["intercept"] if p["intercept"] is not None else 0.0))
    zmag = (A @ np.abs(W).T + b).max(axis=1)  # bound on |z| and its rounding
    s = np.ones(n) if p["sw"] is None else p["sw"].copy()
    if p["reduction"] == "mean" and name != "predict_raw":  # (predict takes no weights)
        s = s / s.sum()
    rtol = RTOL[ctype]
    tiny = 1e-300
    if name == "predict_raw":
        mag = A @ np.abs(W).T + b
        return [rtol * (mag[:, 0] if p["K"] is None else mag) + tiny]
    c = s * (1.0 + zmag)
    if name == "loss_grad":
        grad = A.T @ c
        return [
            rtol * (s @ (1.0 + 2 * zmag)) + tiny,
            rtol * (grad if p["K"] is None else np.tile(grad, (W.shape[0], 1))) + tiny,
            rtol * c.sum() + tiny,
        ]
    V = np.atleast_2d(p["vec"])
    vb = np.abs(np.atleast_1d(p["vec_intercept"] if p["vec_intercept"] is not None else 0.0))
    umag = (A @ np.abs(V).T + vb).max(axis=1)
    cu = c * umag
    if name == "hessp":
        hv = A.T @ cu
        return [
            rtol * (hv if p["K"] is None else np.tile(hv, (W.shape[0], 1))) + tiny,
            rtol * cu.sum() + tiny,
        ]
    A1 = np.hstack([A, np.ones((n, 1))])
    return [rtol * (A1.T @ (c[:, None] * A1)) + tiny]


@settings(FUZZ, max_examples=200)
@given(p=matrix_problem(), name=st.sampled_from(["loss_grad", "hessp", "predict_raw", "hessian"]))
def test_fuzz_kernel_matrix_functions_match_reference_or_raise(p, name):
    calls = kernel_calls(p)
    if name not in calls:  # no multinomial_hessian
        name = "loss_grad"
    call = calls[name]
    error = expected_error(p, name)
    event(f"{name}: {'raises ' + error[1] if error else 'compared'}")
    if error is not None:
        with pytest.raises(error[0], match=error[1]):
            with strict():
                call(fastlogit)
        return
    with strict():
        got = call(fastlogit)
    with np.errstate(all="ignore"):
        want = call(reference)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    ctype = computing_dtype(p["A"].dtype)
    for part, (g, w, tol) in enumerate(zip(got, want, tolerances(p, name, ctype))):
        g = np.asarray(g)
        assert g.dtype == np.float64 and g.shape == np.shape(w), (name, part, g.dtype, g.shape)
        assert np.isfinite(g).all(), f"{name}[{part}]: non-finite result for finite input: {g}"
        err = np.abs(g - np.asarray(w))
        assert (err <= tol).all(), (
            f"{name}[{part}] differs from the reference by {err.max():.3e} > tolerance "
            f"{np.asarray(tol).ravel()[np.argmax(err - tol)]:.3e}: {g} vs {w}"
        )


# ---------------------------------------------------------------------------
# The estimator.
# ---------------------------------------------------------------------------


@st.composite
def estimator_case(draw):
    n = draw(st.sampled_from([5, 12, 30, 1, 2]))
    d = draw(st.integers(1, 5))
    K = draw(st.integers(2, 4))
    layout = draw(st.sampled_from(MATRIX_LAYOUTS))
    dtype = draw(st.sampled_from(DTYPES if layout in LAYOUTS else ["float64", "float32", "int64"]))
    extreme = draw(st.integers(0, 5)) == 0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.standard_normal((n, d)) * draw(st.sampled_from([1.0, 10.0]))
    if extreme:
        A[rng.integers(n), rng.integers(d)] = rng.choice([-1e4, 1e4])
    A = (A > 0) if dtype == "bool" else (np.rint(A).astype(dtype) if "int" in dtype else A.astype(dtype))
    if layout in LAYOUTS:
        X = with_layout(A, layout)
    else:
        X = sp.csr_matrix(np.where(rng.random((n, d)) < 0.5, A, np.zeros((), A.dtype)))
        if layout == "csr64":
            X.indices = X.indices.astype(np.int64)
            X.indptr = X.indptr.astype(np.int64)
        else:
            X = X.asformat(layout)
    y = rng.integers(0, K, n)
    y[: min(n, K)] = np.arange(min(n, K))  # every class present when n allows
    labels = draw(st.sampled_from(["int", "str", "float"]))
    y = {"int": y, "str": np.array(["a", "b", "c", "d"])[y], "float": y.astype(np.float64)}[labels]
    sw = None
    if draw(st.booleans()):
        sw = rng.uniform(0, 2, n)
        sw[::4] = 0.0
    solver = draw(st.sampled_from(["lbfgs", "newton", "proximal", "sgd"]))
    params = dict(
        solver=solver,
        C=draw(st.sampled_from([0.1, 1.0, np.inf])),
        fit_intercept=draw(st.booleans()),
        max_iter=draw(st.integers(1, 30)),
        n_threads=1,
    )
    if solver == "proximal":
        params["l1_ratio"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    if solver == "sgd":
        params.update(
            random_state=draw(st.integers(0, 100)),
            tol=None,
            batch_size=draw(st.integers(1, 8)),
            learning_rate=draw(st.sampled_from(["optimal", "constant", "adagrad"])),
        )
    return X, y, sw, params


@FUZZ
@given(case=estimator_case())
def test_fuzz_estimator_fits_or_raises_value_or_type_error(case):
    X, y, sw, params = case
    model = fastlogit.LogisticRegression(**params)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with strict():
                model.fit(X, y, sample_weight=sw)
    except (ValueError, TypeError) as exc:
        event(f"{type(exc).__name__}: {str(exc)[:40]}")
        assert str(exc), "an error without a message"
        assert not hasattr(model, "coef_")
        return
    except SGDDivergenceError:
        event("SGDDivergenceError")
        # sgd's documented error for steps that overflow (a FloatingPointError
        # with the remedy in its message): only with large values.
        assert params["solver"] == "sgd"
        assert not hasattr(model, "coef_")
        return
    event(f"fitted: {params['solver']}")
    classes = np.unique(y)
    assert np.array_equal(model.classes_, classes)
    n_rows = 1 if len(classes) == 2 else len(classes)
    assert model.coef_.shape == (n_rows, X.shape[1]) and model.intercept_.shape == (n_rows,)
    assert np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all()
    with strict():
        proba = model.predict_proba(X)
        labels = model.predict(X)
    assert proba.shape == (X.shape[0], len(classes)) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert set(np.unique(labels)) <= set(classes)
