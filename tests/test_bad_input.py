"""Bad input gets a clear error; odd-but-valid input is accepted (issue 8).

One test (or parametrized case) per case of issue 8's "What bad input gets"
and "Accepted and handled without surprise" that applies to what exists:
the top-level functions and ``LogisticRegression``.  Every error test asserts
the exception type and a phrase of the message (the argument and the
problem).  Chunk sources, .npy and Parquet input are at the end of this
file; Dask input in tests/test_distributed.py; faults (interrupts,
concurrency, 64-bit indexing) in tests/test_faults.py.
"""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

import fastlogit
from fastlogit import LogisticRegression

pytestmark = pytest.mark.usefixtures("floating_point_warnings_are_errors")

N, D = 40, 3
SOLVERS = [
    pytest.param(dict(solver="auto"), id="auto"),
    pytest.param(dict(solver="lbfgs"), id="lbfgs"),
    pytest.param(dict(solver="newton"), id="newton"),
    pytest.param(dict(solver="proximal", l1_ratio=0.5), id="proximal"),
    pytest.param(dict(solver="sgd", max_iter=5, tol=None, random_state=0), id="sgd"),
]


def data(n=N, d=D, seed=0, k=2):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    y = rng.randint(k, size=n)
    y[:k] = np.arange(k)  # every class present
    return X, y


def model(params, **extra):
    return LogisticRegression(**params, **extra)


@pytest.fixture(autouse=True)
def _no_convergence_noise():
    # Short SGD runs and tiny data may not converge: not what these tests are about.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def with_bad(a, value, index):
    a = np.array(a, dtype=np.float64)
    a[index] = value
    return a


# ---------------------------------------------------------------------------
# The kernel API: each function with its arguments, for parametrizing.
# ---------------------------------------------------------------------------

W1, WK = np.zeros(D), np.zeros((3, D))
KERNEL_CALLS = {
    "binary_loss_grad": lambda X, y=None, sw=None: fastlogit.binary_loss_grad(
        X, data()[1] if y is None else y, W1, 0.0, sample_weight=sw
    ),
    "multinomial_loss_grad": lambda X, y=None, sw=None: fastlogit.multinomial_loss_grad(
        X, data(k=3)[1] if y is None else y, WK, None, sample_weight=sw
    ),
    "binary_hessp": lambda X, y=None, sw=None: fastlogit.binary_hessp(
        X, W1, 0.0, np.ones(D), 1.0, sample_weight=sw
    ),
    "multinomial_hessp": lambda X, y=None, sw=None: fastlogit.multinomial_hessp(
        X, WK, np.zeros(3), np.ones((3, D)), np.ones(3), sample_weight=sw
    ),
    "binary_hessian": lambda X, y=None, sw=None: fastlogit.binary_hessian(X, W1, 0.0, sample_weight=sw),
    "binary_loss_grad_hessian": lambda X, y=None, sw=None: fastlogit.binary_loss_grad_hessian(
        X, data()[1] if y is None else y, W1, 0.0, sample_weight=sw
    ),
    "multinomial_loss_grad_hessian": lambda X, y=None, sw=None: fastlogit.multinomial_loss_grad_hessian(
        X, data(k=3)[1] if y is None else y, WK, None, sample_weight=sw
    ),
    "binary_predict_raw": lambda X, y=None, sw=None: fastlogit.binary_predict_raw(X, W1, 0.0),
    "multinomial_predict_raw": lambda X, y=None, sw=None: fastlogit.multinomial_predict_raw(X, WK),
}
WITH_WEIGHTS = [k for k in KERNEL_CALLS if "predict" not in k]
WITH_LABELS = [
    "binary_loss_grad",
    "multinomial_loss_grad",
    "binary_loss_grad_hessian",
    "multinomial_loss_grad_hessian",
]
ELEMENTWISE = [
    fastlogit.sigmoid,
    fastlogit.log_sigmoid,
    fastlogit.log1pexp,
    fastlogit.logsumexp,
    fastlogit.softmax,
    fastlogit.log_softmax,
]


# -- NaN / inf ----------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_nonfinite_X(name, bad, phrase, sparse):
    X = with_bad(data()[0], bad, (5, 2))
    if sparse:
        X = sp.csr_matrix(X)
    with pytest.raises(ValueError, match=rf"Input X contains {phrase} \(first at row 5, column 2\)"):
        KERNEL_CALLS[name](X)


@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("name", WITH_LABELS)
def test_kernel_nonfinite_y(name, bad, phrase):
    y = with_bad(data(k=3)[1] % 2, bad, 7)
    with pytest.raises(ValueError, match=rf"Input y contains {phrase} \(first at row 7\)"):
        KERNEL_CALLS[name](data()[0], y)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_kernel_nonfinite_sample_weight(name, bad):
    with pytest.raises(ValueError, match="sample_weight must be finite"):
        KERNEL_CALLS[name](data()[0], sw=with_bad(np.ones(N), bad, 3))


# -- shapes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_1d_X(name):
    with pytest.raises(
        ValueError, match=r"X must be a 2-d array \(n_samples, n_features\), got shape \(40,\)"
    ):
        KERNEL_CALLS[name](data()[0][:, 0])


@pytest.mark.parametrize("name", WITH_LABELS)
def test_kernel_2d_y(name):
    y = data()[1]
    with pytest.raises(ValueError, match=r"y must have shape \(40,\), got \(40, 2\)"):
        KERNEL_CALLS[name](data()[0], np.c_[y, y])


@pytest.mark.parametrize("name", WITH_LABELS)
def test_kernel_length_mismatch_X_y(name):
    with pytest.raises(ValueError, match=r"y must have shape \(40,\), got \(39,\)"):
        KERNEL_CALLS[name](data()[0], data()[1][:-1])


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_kernel_length_mismatch_sample_weight(name):
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(40,\), got \(41,\)"):
        KERNEL_CALLS[name](data()[0], sw=np.ones(N + 1))


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_kernel_negative_sample_weight(name):
    with pytest.raises(ValueError, match="sample_weight must be nonnegative"):
        KERNEL_CALLS[name](data()[0], sw=with_bad(np.ones(N), -1.0, 4))


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_kernel_all_zero_sample_weight(name):
    with pytest.raises(ValueError, match="sample_weight must not sum to zero"):
        KERNEL_CALLS[name](data()[0], sw=np.zeros(N))


@pytest.mark.parametrize(
    "call, phrase",
    [
        (
            lambda X: fastlogit.binary_loss_grad(X, data()[1], np.zeros(D + 1)),
            r"coef must have shape \(3,\), got \(4,\)",
        ),
        (
            lambda X: fastlogit.binary_loss_grad(X, data()[1], np.zeros((1, D))),
            r"coef must have shape \(3,\), got \(1, 3\)",
        ),
        (
            lambda X: fastlogit.binary_loss_grad(X, data()[1], W1, np.zeros(2)),
            "intercept must be a real number",
        ),
        (
            lambda X: fastlogit.binary_predict_raw(X, np.zeros(D - 1)),
            r"coef must have shape \(3,\), got \(2,\)",
        ),
        (lambda X: fastlogit.binary_hessp(X, W1, 0.0, np.ones(D + 1)), r"vec_coef must have shape \(3,\)"),
        (lambda X: fastlogit.binary_hessian(X, np.zeros(D + 1)), r"coef must have shape \(3,\)"),
        (
            lambda X: fastlogit.multinomial_loss_grad(X, data()[1], np.zeros(D)),
            r"coef must have shape \(n_classes, 3\), got \(3,\)",
        ),
        (
            lambda X: fastlogit.multinomial_loss_grad(X, data()[1], np.zeros((3, D + 1))),
            r"coef must have shape \(3, 3\), got \(3, 4\)",
        ),
        (
            lambda X: fastlogit.multinomial_loss_grad(X, data()[1], WK, np.zeros(2)),
            r"intercept must have shape \(3,\), got \(2,\)",
        ),
        (
            lambda X: fastlogit.multinomial_predict_raw(X, WK, np.zeros((3, 1))),
            r"intercept must have shape \(3,\), got \(3, 1\)",
        ),
        (
            lambda X: fastlogit.multinomial_hessp(X, WK, None, np.ones((2, D))),
            r"vec_coef must have shape \(3, 3\), got \(2, 3\)",
        ),
        (
            lambda X: fastlogit.multinomial_hessp(X, WK, None, np.ones((3, D)), np.ones(4)),
            r"vec_intercept must have shape \(3,\), got \(4,\)",
        ),
    ],
    ids=[
        "bin-coef-long",
        "bin-coef-2d",
        "bin-intercept-vector",
        "bin-predict-coef",
        "bin-hessp-vec",
        "bin-hessian-coef",
        "mult-coef-1d",
        "mult-coef-width",
        "mult-intercept",
        "mult-predict-intercept",
        "mult-hessp-vec",
        "mult-hessp-vec-intercept",
    ],
)
def test_kernel_coef_or_intercept_of_wrong_shape(call, phrase):
    with pytest.raises((ValueError, TypeError), match=phrase):
        call(data()[0])


@pytest.mark.parametrize(
    "labels, phrase",
    [
        ([0, 1, 3], r"y must hold class indices in \[0, 3\) for coef with 3 rows, got values in \[0, 3\]"),
        ([-1, 0, 2], r"y must hold class indices in \[0, 3\) .* got values in \[-1, 2\]"),
    ],
)
def test_kernel_class_indices_out_of_range(labels, phrase):
    y = np.resize(np.array(labels), N)
    with pytest.raises(ValueError, match=phrase):
        fastlogit.multinomial_loss_grad(data()[0], y, WK)


def test_kernel_binary_labels_out_of_range():
    y = with_bad(data()[1], 2, 0)
    with pytest.raises(ValueError, match="y must hold only 0 and 1 for a binary model"):
        fastlogit.binary_loss_grad(data()[0], y, W1)


def test_kernel_non_integer_class_indices():
    y = with_bad(data()[1], 0.5, 0)
    with pytest.raises(TypeError, match="y must hold integer class indices, got non-integer values"):
        fastlogit.multinomial_loss_grad(data()[0], y, WK)


# -- dtypes -------------------------------------------------------------------------

BAD_DTYPES = [
    pytest.param(lambda X: X.astype(object), "dtype object", id="object"),
    pytest.param(lambda X: X.astype(str), "dtype <U", id="string"),
    pytest.param(lambda X: X.astype(bytes), "dtype |S", id="bytes"),
    pytest.param(lambda X: X.astype(complex), "complex", id="complex"),
    pytest.param(lambda X: (X * 1e9).astype("datetime64[ns]"), "dtype datetime64", id="datetime"),
    pytest.param(lambda X: (X * 1e9).astype("timedelta64[ns]"), "dtype timedelta64", id="timedelta"),
]


@pytest.mark.parametrize("convert, phrase", BAD_DTYPES)
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_bad_dtype_X(name, convert, phrase):
    with pytest.raises(TypeError, match=rf"X must be .*{re.escape(phrase)}"):
        KERNEL_CALLS[name](convert(data()[0]))


@pytest.mark.parametrize("convert, phrase", BAD_DTYPES)
@pytest.mark.parametrize("func", ELEMENTWISE, ids=lambda f: f.__name__)
def test_special_bad_dtype(func, convert, phrase):
    arg = "x" if func in (fastlogit.sigmoid, fastlogit.log_sigmoid, fastlogit.log1pexp) else "a"
    with pytest.raises(TypeError, match=rf"^{arg} must be .*{re.escape(phrase)}"):
        func(convert(data()[0]))


@pytest.mark.parametrize("name", WITH_LABELS)
def test_kernel_bad_dtype_y(name):
    with pytest.raises(TypeError, match="y must be numeric, got dtype <U"):
        KERNEL_CALLS[name](data()[0], data()[1].astype(str))


@pytest.mark.parametrize("name", WITH_WEIGHTS)
def test_kernel_bad_dtype_sample_weight(name):
    with pytest.raises(TypeError, match="sample_weight must be numeric, got dtype object"):
        KERNEL_CALLS[name](data()[0], sw=np.ones(N).astype(object))


@pytest.mark.parametrize(
    "shape, phrase", [((0, D), r"\(0, 3\)"), ((N, 0), r"\(40, 0\)")], ids=["rows", "columns"]
)
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_empty_X(name, shape, phrase):
    X = np.zeros(shape)
    coef_fix = {
        "binary_predict_raw": lambda: fastlogit.binary_predict_raw(X, np.zeros(shape[1])),
        "multinomial_predict_raw": lambda: fastlogit.multinomial_predict_raw(X, np.zeros((3, shape[1]))),
    }
    call = coef_fix.get(name, lambda: KERNEL_CALLS[name](X, np.zeros(shape[0]), None))
    with pytest.raises(ValueError, match=rf"X is empty: shape {phrase}"):
        call()


@pytest.mark.parametrize(
    "func", [fastlogit.logsumexp, fastlogit.softmax, fastlogit.log_softmax], ids=lambda f: f.__name__
)
def test_special_bad_axis(func):
    with pytest.raises(ValueError, match="axis=2 is out of bounds for an array of dimension 2"):
        func(np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match="axis must be an int or None, got float"):
        func(np.zeros((2, 3)), axis=1.0)


def test_kernel_bad_reduction_and_n_threads():
    X, y = data()
    with pytest.raises(ValueError, match=r"reduction must be 'mean' or 'sum', got 'avg'"):
        fastlogit.binary_loss_grad(X, y, W1, reduction="avg")
    with pytest.raises(ValueError, match="n_threads must be between 1 and"):
        fastlogit.binary_loss_grad(X, y, W1, n_threads=0)
    with pytest.raises(TypeError, match="n_threads must be an int or None, got float"):
        fastlogit.binary_loss_grad(X, y, W1, n_threads=1.0)


# ---------------------------------------------------------------------------
# LogisticRegression: bad data
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
@pytest.mark.parametrize("params", SOLVERS)
def test_fit_nonfinite_X(params, bad, phrase, sparse):
    X, y = data()
    X = with_bad(X, bad, (5, 2))
    est = model(params)
    with pytest.raises(ValueError, match=rf"Input X contains {phrase}"):
        est.fit(sp.csr_matrix(X) if sparse else X, y)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("row", range(6))
def test_sgd_early_stopping_nonfinite_X_in_either_split(row):
    # SGD does not scan X up front: a NaN row makes the training loss or the
    # held-out loss non-finite, and either way the error names it.  Half the
    # rows are held out, so some of these rows land in each split.
    X, y = data()
    est = LogisticRegression(solver="sgd", early_stopping=True, validation_fraction=0.5, random_state=0)
    with pytest.raises(ValueError, match=rf"Input X contains NaN \(first at row {row}, column 2\)"):
        est.fit(with_bad(X, np.nan, (row, 2)), y)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_partial_fit_nonfinite_X(bad, phrase):
    X, y = data()
    with pytest.raises(ValueError, match=rf"Input X contains {phrase}"):
        LogisticRegression().partial_fit(with_bad(X, bad, (1, 1)), y, classes=[0, 1])


@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity")])
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function", "score"]
)
def test_predict_nonfinite_X(method, bad, phrase):
    X, y = data()
    est = LogisticRegression().fit(X, y)
    args = (with_bad(X, bad, (1, 1)),) + ((y,) if method == "score" else ())
    with pytest.raises(ValueError, match=rf"Input X contains {phrase}"):
        getattr(est, method)(*args)


@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_fit_nonfinite_y(bad, phrase):
    X, y = data()
    with pytest.raises(ValueError, match=rf"Input y contains {phrase}"):
        LogisticRegression().fit(X, with_bad(y, bad, 3))


@pytest.mark.parametrize("partial", [False, True], ids=["fit", "partial_fit"])
@pytest.mark.parametrize("bad, phrase", [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity")])
def test_fit_nonfinite_sample_weight(bad, phrase, partial):
    X, y = data()
    sw = with_bad(np.ones(N), bad, 3)
    with pytest.raises(ValueError, match=rf"Input sample_weight contains {phrase}"):
        if partial:
            LogisticRegression().partial_fit(X, y, classes=[0, 1], sample_weight=sw)
        else:
            LogisticRegression().fit(X, y, sample_weight=sw)


@pytest.mark.parametrize("params", SOLVERS)
def test_fit_single_class(params):
    X, _ = data()
    with pytest.raises(
        ValueError, match="needs samples of at least 2 classes .* contains only one class: .*'a'"
    ):
        model(params).fit(X, np.full(N, "a"))


def test_fit_weights_leaving_a_single_class():
    X, y = data()
    with pytest.raises(ValueError, match="sample_weight leaves only one class with a positive weight"):
        LogisticRegression().fit(X, y, sample_weight=(y == 1).astype(float))


@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict", "predict_proba", "decision_function"])
def test_1d_X(method):
    X, y = data()
    est = (
        LogisticRegression().fit(X, y)
        if method.startswith("predict") or method == "decision_function"
        else LogisticRegression()
    )
    kwargs = {"classes": [0, 1]} if method == "partial_fit" else {}
    args = (X[:, 0], y) if "fit" in method else (X[:, 0],)
    with pytest.raises(
        ValueError, match=r"X must be a 2-d array \(n_samples, n_features\), got shape \(40,\)"
    ):
        getattr(est, method)(*args, **kwargs)


def test_3d_X():
    X, y = data()
    with pytest.raises(ValueError, match=r"X must be a 2-d array .* got shape \(40, 3, 1\)"):
        LogisticRegression().fit(X[:, :, None], y)


def test_2d_y_not_a_column():
    X, y = data()
    with pytest.raises(ValueError, match=r"y should be a 1d array, got an array of shape \(40, 2\)"):
        LogisticRegression().fit(X, np.c_[y, y])


def test_y_column_is_accepted():
    X, y = data()
    with pytest.warns(Warning, match="column-vector y"):
        est = LogisticRegression().fit(X, y[:, None])
    np.testing.assert_array_equal(est.coef_, LogisticRegression().fit(X, y).coef_)


@pytest.mark.parametrize("partial", [False, True], ids=["fit", "partial_fit"])
def test_length_mismatch_X_y(partial):
    X, y = data()
    kwargs = {"classes": [0, 1]} if partial else {}
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[40, 39\]"):
        getattr(LogisticRegression(), "partial_fit" if partial else "fit")(X, y[:-1], **kwargs)


@pytest.mark.parametrize("partial", [False, True], ids=["fit", "partial_fit"])
def test_length_mismatch_sample_weight(partial):
    X, y = data()
    kwargs = {"classes": [0, 1]} if partial else {}
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(39,\), expected \(40,\)"):
        getattr(LogisticRegression(), "partial_fit" if partial else "fit")(
            X, y, sample_weight=np.ones(N - 1), **kwargs
        )


@pytest.mark.parametrize("partial", [False, True], ids=["fit", "partial_fit"])
@pytest.mark.parametrize(
    "sw, phrase",
    [
        (with_bad(np.ones(N), -1.0, 2), "Negative values in data passed to `sample_weight`"),
        (np.zeros(N), "(?i)sample weights must contain at least one non-zero number"),
    ],
    ids=["negative", "all-zero"],
)
def test_bad_sample_weight(sw, phrase, partial):
    X, y = data()
    kwargs = {"classes": [0, 1]} if partial else {}
    with pytest.raises(ValueError, match=phrase):
        getattr(LogisticRegression(), "partial_fit" if partial else "fit")(X, y, sample_weight=sw, **kwargs)


@pytest.mark.parametrize(
    "convert, exc, phrase",
    [
        (lambda X: X.astype(str), TypeError, "X must hold real numbers, got dtype <U"),
        (lambda X: X.astype(bytes), TypeError, "X must hold real numbers, got dtype |S"),
        (
            lambda X: X.astype(complex),
            ValueError,
            "Complex data not supported: X has complex dtype complex128",
        ),
        (
            lambda X: (X * 1e9).astype("datetime64[ns]"),
            TypeError,
            "X must hold real numbers, got dtype datetime64",
        ),
        (
            lambda X: (X * 1e9).astype("timedelta64[ns]"),
            TypeError,
            "X must hold real numbers, got dtype timedelta64",
        ),
        (
            lambda X: np.where(X > 0, "a", "b").astype(object),
            ValueError,
            "could not convert string to float: '[ab]'",
        ),
        (
            lambda X: sp.csr_matrix(X.astype(complex)),
            ValueError,
            "Complex data not supported: X has complex dtype",
        ),
    ],
    ids=["string", "bytes", "complex", "datetime", "timedelta", "object-strings", "complex-csr"],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit", "predict"])
def test_bad_dtype_X(method, convert, exc, phrase):
    X, y = data()
    est = LogisticRegression().fit(X, y) if method == "predict" else LogisticRegression()
    kwargs = {"classes": [0, 1]} if method == "partial_fit" else {}
    args = (convert(X), y) if "fit" in method else (convert(X),)
    with pytest.raises(exc, match=re.escape(phrase) if "[ab]" not in phrase else phrase):
        getattr(est, method)(*args, **kwargs)


def test_pandas_bad_dtype_columns():
    pd = pytest.importorskip("pandas")
    X, y = data()
    df = pd.DataFrame(X, columns=list("abc"))
    df["b"] = pd.to_datetime(df["b"] * 1e9)
    with pytest.raises(TypeError, match="X must hold real numbers, got dtype datetime64"):
        LogisticRegression().fit(df, y)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "shape, phrase",
    [
        ((0, D), r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\)"),
        ((N, 0), r"Found array with 0 feature\(s\) \(shape=\(40, 0\)\)"),
    ],
    ids=["rows", "columns"],
)
@pytest.mark.parametrize("params", SOLVERS)
def test_fit_empty_X(params, shape, phrase, sparse):
    X = np.zeros(shape)
    with pytest.raises(ValueError, match=phrase):
        model(params).fit(sp.csr_matrix(X) if sparse else X, np.arange(shape[0]) % 2)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function", "score", "partial_fit"]
)
def test_n_features_differs_from_fit(method, sparse):
    X, y = data()
    est = LogisticRegression(solver="sgd", max_iter=2, tol=None).fit(X, y)
    X2 = np.hstack([X, X[:, :1]])
    args = (sp.csr_matrix(X2) if sparse else X2,) + ((y,) if method in ("score", "partial_fit") else ())
    with pytest.raises(ValueError, match="X has 4 features, but LogisticRegression is expecting 3 features"):
        getattr(est, method)(*args)


def test_partial_fit_labels_not_in_classes():
    X, y = data()
    with pytest.raises(ValueError, match=r"y holds labels that are not in classes \[0, 1\]: \[2\]"):
        LogisticRegression().partial_fit(X, np.where(y == 1, 2, y), classes=[0, 1])
    est = LogisticRegression().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"y holds labels that are not in classes \[0, 1\]: \[7(\.0)?\]"):
        est.partial_fit(X, with_bad(y, 7, 0))
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] is not the same as on the first call"):
        est.partial_fit(X, y, classes=[0, 1, 2])


def test_partial_fit_classes_missing_or_single():
    X, y = data()
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        LogisticRegression().partial_fit(X, y)
    with pytest.raises(ValueError, match=r"classes must hold at least 2 classes, got \[0\]"):
        LogisticRegression().partial_fit(X, y * 0, classes=[0])


def test_predict_before_fit():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted yet"):
        LogisticRegression().predict(data()[0])


# ---------------------------------------------------------------------------
# LogisticRegression: invalid hyper-parameters (checked by fit and partial_fit)
# ---------------------------------------------------------------------------

BAD_PARAMS = [
    ("C", -1.0, r"'C' parameter .* must be a float in the range \(0.0, inf\]\. Got -1.0"),
    ("C", 0.0, r"'C' parameter .* must be a float in the range \(0.0, inf\]\. Got 0.0"),
    ("l1_ratio", 1.5, r"'l1_ratio' parameter .* must be a float in the range \[0.0, 1.0\]\. Got 1.5"),
    ("l1_ratio", -0.1, r"'l1_ratio' parameter .* must be a float in the range \[0.0, 1.0\]\. Got -0.1"),
    ("batch_size", 0, r"'batch_size' parameter .* must be an int in the range \[1, inf\)\. Got 0"),
    ("solver", "saga", r"'solver' parameter .* must be a str among \{.*\}\. Got 'saga'"),
    ("learning_rate", "fast", r"'learning_rate' parameter .* must be a str among \{.*\}\. Got 'fast'"),
    ("tol", -1e-4, r"'tol' parameter .* must be a float in the range \[0.0, inf\) or None\. Got -0.0001"),
    ("max_iter", 0, r"'max_iter' parameter .* must be an int in the range \[1, inf\)\. Got 0"),
    ("max_iter", 2.5, r"'max_iter' parameter .* must be an int in the range \[1, inf\)\. Got 2.5"),
    ("eta0", 0.0, r"'eta0' parameter .* must be a float in the range \(0.0, inf\)\. Got 0.0"),
    ("validation_fraction", 1.0, r"'validation_fraction' parameter .* Got 1.0"),
    ("n_iter_no_change", 0, r"'n_iter_no_change' parameter .* Got 0"),
    ("class_weight", "even", r"'class_weight' parameter .* Got 'even'"),
    ("n_threads", 0, r"'n_threads' parameter .* Got 0"),
]


@pytest.mark.parametrize("partial", [False, True], ids=["fit", "partial_fit"])
@pytest.mark.parametrize("param, value, phrase", BAD_PARAMS, ids=[f"{p}={v}" for p, v, _ in BAD_PARAMS])
def test_invalid_hyper_parameter(param, value, phrase, partial):
    X, y = data()
    est = LogisticRegression(**{param: value})
    with pytest.raises(ValueError, match=phrase):
        est.partial_fit(X, y, classes=[0, 1]) if partial else est.fit(X, y)
    assert not hasattr(est, "coef_")


@pytest.mark.parametrize(
    "param, valid",
    [
        ("solver", ["auto", "lbfgs", "newton", "proximal", "sgd"]),
        ("learning_rate", ["constant", "invscaling", "optimal", "adaptive", "adagrad"]),
    ],
)
def test_invalid_option_lists_valid_values(param, valid):
    with pytest.raises(ValueError) as info:
        LogisticRegression(**{param: "nope"}).fit(*data())
    for v in valid:
        assert repr(v) in str(info.value)


def test_l1_with_an_l2_only_solver():
    for solver in ("lbfgs",):  # (newton handles L1 by proximal Newton steps)
        with pytest.raises(
            ValueError, match=rf"solver='{solver}' supports only the L2 penalty .* use solver='proximal'"
        ):
            LogisticRegression(solver=solver, l1_ratio=0.5).fit(*data())


def test_tol_none_is_for_sgd_only():
    with pytest.raises(ValueError, match=r"tol=None .* is for solver='sgd'"):
        LogisticRegression(solver="lbfgs", tol=None).fit(*data())


def test_n_threads_above_numba_threads():
    import numba

    most = numba.config.NUMBA_NUM_THREADS
    with pytest.raises(ValueError, match=rf"n_threads must be between 1 and {most}, got {most + 1}"):
        LogisticRegression(n_threads=most + 1).fit(*data())


# ---------------------------------------------------------------------------
# Accepted and handled without surprise
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype, result",
    [
        (np.int64, np.float64),
        (np.int8, np.float64),
        (np.uint16, np.float64),
        (np.bool_, np.float64),
        (np.float16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
    ],
)
@pytest.mark.parametrize("func", ELEMENTWISE, ids=lambda f: f.__name__)
def test_special_accepted_dtypes(func, dtype, result):
    x = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    out = func(x)
    assert out.dtype == result
    np.testing.assert_allclose(out, func(x.astype(np.float64)), rtol=1e-3 if result == np.float32 else 1e-15)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.float16, np.float32])
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_accepted_dtypes(name, dtype):
    X = (data()[0] > 0.3).astype(dtype) if dtype == np.bool_ else (data()[0] * 3).astype(dtype)
    got = KERNEL_CALLS[name](X)
    want = KERNEL_CALLS[name](X.astype(np.float64))
    for g, w in zip(
        np.atleast_1d(got) if isinstance(got, np.ndarray) else got,
        np.atleast_1d(want) if isinstance(want, np.ndarray) else want,
    ):
        np.testing.assert_allclose(
            g, w, rtol=1e-5 if dtype in (np.float16, np.float32) else 1e-12, atol=1e-10
        )


def _layouts(X):
    wide = np.zeros((X.shape[0] * 2, X.shape[1] * 2))
    wide[::2, ::2] = X
    return {"F-order": np.asfortranarray(X), "strided": wide[::2, ::2], "reversed": X[::-1][::-1]}


@pytest.mark.parametrize("layout", ["F-order", "strided", "reversed"])
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_layouts(name, layout):
    X = data()[0]
    got, want = KERNEL_CALLS[name](_layouts(X)[layout]), KERNEL_CALLS[name](X)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("layout", ["F-order", "strided", "reversed"])
@pytest.mark.parametrize("func", ELEMENTWISE, ids=lambda f: f.__name__)
def test_special_layouts(func, layout):
    X = data()[0]
    np.testing.assert_array_equal(func(_layouts(X)[layout]), func(X))


def _same_fit(a, b, rtol=0.0, atol=0.0):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=atol)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=atol)


@pytest.mark.parametrize("params", SOLVERS)
def test_fit_int_and_bool_X(params):
    X, y = data()
    Xi = np.round(X * 3).astype(np.int32)
    ref = model(params).fit(Xi.astype(np.float64), y)
    _same_fit(model(params).fit(Xi, y), ref)
    Xb = X > 0.2
    _same_fit(model(params).fit(Xb, y), model(params).fit(Xb.astype(np.float64), y))
    assert model(params).fit(Xi, y).coef_.dtype == np.float64


@pytest.mark.parametrize("params", SOLVERS)
def test_fit_layouts(params):
    X, y = data()
    ref = model(params).fit(X, y)
    for Xl in _layouts(X).values():
        _same_fit(model(params).fit(Xl, y), ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(ref.predict_proba(Xl), ref.predict_proba(X))


def _read_only_inputs(tmp_path, X):
    ro = X.copy()
    ro.flags.writeable = False
    path = tmp_path / "X.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    return {"read-only": ro, "memmap": mm, "read-only-F": np.asfortranarray(X).copy()}


@pytest.mark.parametrize("params", SOLVERS)
def test_fit_read_only_arrays_and_memmaps(params, tmp_path):
    X, y = data()
    ref = model(params).fit(X, y)
    inputs = _read_only_inputs(tmp_path, X)
    inputs["read-only-F"].flags.writeable = False
    for name, Xr in inputs.items():
        yr, swr = y.copy(), np.linspace(0.5, 1.5, N)
        yr.flags.writeable = swr.flags.writeable = False
        before = Xr.tobytes(), yr.tobytes(), swr.tobytes()
        est = model(params).fit(Xr, yr)
        _same_fit(est, ref, rtol=1e-12, atol=1e-14)
        model(params).fit(Xr, yr, sample_weight=swr)
        est.predict_proba(Xr)
        if params["solver"] == "sgd":
            est.partial_fit(Xr, yr, sample_weight=swr)
        assert (Xr.tobytes(), yr.tobytes(), swr.tobytes()) == before, name
        assert not Xr.flags.writeable and not yr.flags.writeable and not swr.flags.writeable


@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_read_only_arrays_and_memmaps(name, tmp_path):
    X = data()[0]
    want = KERNEL_CALLS[name](X)
    for Xr in _read_only_inputs(tmp_path, X).values():
        Xr.flags.writeable = False
        sw = np.linspace(0.5, 1.5, N)
        sw.flags.writeable = False
        before = Xr.tobytes(), sw.tobytes()
        got = KERNEL_CALLS[name](Xr)
        if name in WITH_WEIGHTS:
            KERNEL_CALLS[name](Xr, sw=sw)
        for g, w in zip(
            got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)
        ):
            np.testing.assert_array_equal(g, w)
        assert (Xr.tobytes(), sw.tobytes()) == before
        assert not Xr.flags.writeable and not sw.flags.writeable


@pytest.mark.parametrize("func", ELEMENTWISE, ids=lambda f: f.__name__)
def test_special_read_only(func):
    x = data()[0]
    x.flags.writeable = False
    before = x.tobytes()
    func(x)
    assert x.tobytes() == before and not x.flags.writeable


@pytest.mark.parametrize("params", SOLVERS)
def test_fit_pandas(params):
    pd = pytest.importorskip("pandas")
    X, y = data()
    labels = np.array(["no", "yes"])[y]
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    ref = model(params).fit(X, labels)
    est = model(params).fit(df, pd.Series(labels), sample_weight=pd.Series(np.ones(N)))
    _same_fit(est, model(params).fit(X, labels, sample_weight=np.ones(N)), rtol=1e-12, atol=1e-14)
    from_df = model(params).fit(df, pd.Series(labels))
    _same_fit(from_df, ref, rtol=1e-12, atol=1e-14)
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_array_equal(from_df.predict(df), ref.predict(X))
    np.testing.assert_array_equal(from_df.predict_proba(df), ref.predict_proba(X))
    # mixed int/float/bool columns
    mixed = df.assign(b=(df["b"] > 0), c=np.round(df["c"] * 3).astype(np.int64))
    _same_fit(model(params).fit(mixed, labels), model(params).fit(mixed.to_numpy(dtype=float), labels))


def test_kernel_pandas():
    pd = pytest.importorskip("pandas")
    X, y = data()
    df = pd.DataFrame(X)
    got = fastlogit.binary_loss_grad(
        df, pd.Series(y), pd.Series(W1 + 0.1), sample_weight=pd.Series(np.ones(N))
    )
    want = fastlogit.binary_loss_grad(X, y, W1 + 0.1, sample_weight=np.ones(N))
    assert got[0] == want[0]
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(fastlogit.sigmoid(pd.Series(X[:, 0])), fastlogit.sigmoid(X[:, 0]))


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("params", SOLVERS)
def test_fit_sparse_formats_match_dense(params, fmt):
    X, y = data()
    X[np.abs(X) < 0.5] = 0.0
    tight = {} if params["solver"] == "sgd" else {"tol": 1e-10, "max_iter": 1000}
    dense = model(params, **tight).fit(X, y)
    est = model(params, **tight).fit(sp.csr_matrix(X).asformat(fmt), y)
    # "auto" picks "newton" on dense data and "lbfgs" on sparse: the same optimum, other iterates.
    _same_fit(est, dense, rtol=1e-6 if params["solver"] == "auto" else 1e-9, atol=1e-8)
    np.testing.assert_allclose(
        est.predict_proba(sp.coo_matrix(X)), dense.predict_proba(X), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
@pytest.mark.parametrize("name", list(KERNEL_CALLS))
def test_kernel_sparse_formats_match_dense(name, fmt):
    X = data()[0]
    X[np.abs(X) < 0.5] = 0.0
    got, want = KERNEL_CALLS[name](sp.csr_matrix(X).asformat(fmt)), KERNEL_CALLS[name](X)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


def test_sparse_input_is_not_modified():
    X, y = data()
    X[np.abs(X) < 0.5] = 0.0
    for fmt in ("csr", "csc", "coo"):
        S = sp.csr_matrix(X).asformat(fmt)
        before = S.toarray().tobytes()
        LogisticRegression().fit(S, y)
        LogisticRegression(solver="sgd", max_iter=2, tol=None).fit(S, y)
        fastlogit.binary_loss_grad(S, y, W1)
        assert S.format == fmt and S.toarray().tobytes() == before


# ---------------------------------------------------------------------------
# Out-of-core sources: chunk iterables, .npy files, Parquet


def chunks_of(X, y, size=10):
    return [(X[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


@pytest.fixture
def parquet_file(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = data()
    table = pa.table({"a": X[:, 0], "b": X[:, 1], "name": np.array(["x"] * N), "label": y})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=10)
    return path


def test_parquet_missing_target_column(parquet_file):
    with pytest.raises(ValueError, match="target column 'nope' is not in"):
        LogisticRegression().fit(str(parquet_file), target="nope", features=["a", "b"])


def test_parquet_needs_target(parquet_file):
    with pytest.raises(ValueError, match="needs target="):
        LogisticRegression().fit(str(parquet_file))


def test_parquet_missing_feature_column(parquet_file):
    with pytest.raises(ValueError, match=r"feature columns \['c'\] are not in"):
        LogisticRegression().fit(str(parquet_file), target="label", features=["a", "c"])


def test_parquet_non_numeric_feature_column(parquet_file):
    with pytest.raises(TypeError, match="feature column 'name' .* must be numeric"):
        LogisticRegression().fit(str(parquet_file), target="label")


def test_parquet_nulls(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"a": [1.0, None, 3.0, 4.0], "label": [0, 1, 0, 1]}), tmp_path / "n.parquet")
    with pytest.raises(ValueError, match="feature column 'a' .* missing values"):
        LogisticRegression().fit(str(tmp_path / "n.parquet"), target="label")


def test_parquet_missing_file(tmp_path):
    pytest.importorskip("pyarrow")
    with pytest.raises(FileNotFoundError, match="nothere.parquet"):
        LogisticRegression().fit(str(tmp_path / "nothere.parquet"), target="label")


def test_chunk_source_inconsistent_width():
    X, y = data()
    chunks = chunks_of(X, y)
    chunks[2] = (chunks[2][0][:, :2], chunks[2][1])
    with pytest.raises(ValueError, match="chunk 2 of .* has 2 columns, but the first chunk had 3"):
        LogisticRegression().fit(chunks)


def test_chunk_source_inconsistent_dtype():
    X, y = data()
    chunks = chunks_of(X, y)
    chunks[1] = (chunks[1][0].astype(np.float32), chunks[1][1])
    with pytest.raises(ValueError, match="chunk 1 of .* has dtype float32, but the first chunk had float64"):
        LogisticRegression().fit(chunks)


def test_chunk_source_one_shot_generator():
    X, y = data()
    with pytest.raises(TypeError, match="one-shot iterator"):
        LogisticRegression().fit(c for c in chunks_of(X, y))


def test_chunk_source_chunk_not_a_tuple():
    X, y = data()

    class Bad:
        def __iter__(self):
            return iter([X])

    with pytest.raises(TypeError, match=r"chunk 0 of Bad must be a tuple \(X, y\)"):
        LogisticRegression().fit(Bad())


def test_chunk_source_label_length_mismatch():
    X, y = data()
    chunks = chunks_of(X, y)
    chunks[3] = (chunks[3][0], chunks[3][1][:-1])
    with pytest.raises(ValueError, match=r"y of chunk 3 .* must have shape \(10,\)"):
        LogisticRegression().fit(chunks)


@pytest.mark.parametrize("bad,phrase", [(-1.0, "must be nonnegative"), (np.nan, "must be finite")])
def test_chunk_source_bad_weights(bad, phrase):
    X, y = data()
    chunks = [(Xc, yc, np.ones(len(yc))) for Xc, yc in chunks_of(X, y)]
    chunks[1][2][4] = bad
    with pytest.raises(ValueError, match=f"sample_weight of chunk 1 .* {phrase}"):
        LogisticRegression().fit(chunks)


@pytest.mark.parametrize("params", SOLVERS)
def test_chunk_source_nan_in_X(params):
    X, y = data()
    chunks = chunks_of(with_bad(X, np.nan, (23, 1)), y)
    with pytest.raises(ValueError, match=r"NaN \(first at row 3, column 1\).*|chunk 2"):
        model(params).fit(chunks)


def test_chunk_source_nan_labels():
    X, y = data()
    chunks = chunks_of(X, y.astype(float))
    chunks[0][1][5] = np.nan
    with pytest.raises(ValueError, match="y of chunk 0 .* NaN"):
        LogisticRegression().fit(chunks)


def test_chunk_source_single_class():
    X, _ = data()
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(chunks_of(X, np.zeros(N, dtype=int)))


def test_chunk_source_empty():
    class Empty:
        def __iter__(self):
            return iter([])

    with pytest.raises(ValueError, match="yielded no rows"):
        LogisticRegression().fit(Empty())


def test_chunk_source_with_y_or_parquet_options():
    X, y = data()
    with pytest.raises(ValueError, match="pass y=None"):
        LogisticRegression().fit(chunks_of(X, y), y)
    with pytest.raises(ValueError, match="target= apply to Parquet data only"):
        LogisticRegression().fit(chunks_of(X, y), target="label")
    with pytest.raises(ValueError, match="target= apply to chunked, Parquet or dask data"):
        LogisticRegression().fit(X, y, target="label")


def test_chunk_source_labels_outside_given_classes():
    X, y = data(k=3)
    with pytest.raises(ValueError, match=r"holds labels that are not in classes \[0, 1\]: \[2\]"):
        LogisticRegression().fit(chunks_of(X, y), classes=[0, 1])


def test_npy_path_errors(tmp_path):
    X, y = data()
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(FileNotFoundError, match="missing.npy"):
        LogisticRegression().fit(str(tmp_path / "missing.npy"), y)
    with pytest.raises(ValueError, match="y is required with a .npy file"):
        LogisticRegression().fit(str(tmp_path / "X.npy"))
    with pytest.raises(ValueError, match=r"y must be 1-d with one label per row of .*X.npy \(40\)"):
        LogisticRegression().fit(str(tmp_path / "X.npy"), y[:-1])
    np.save(tmp_path / "v.npy", X[:, 0])
    with pytest.raises(ValueError, match="must be 2-d"):
        LogisticRegression().fit(str(tmp_path / "v.npy"), y)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match="junk.npy' is not a readable .npy array"):
        LogisticRegression().fit(str(tmp_path / "junk.npy"), y)


def test_predict_after_chunked_fit_checks_n_features():
    X, y = data()
    fitted = LogisticRegression().fit(chunks_of(X, y))
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is expecting 3"):
        fitted.predict(X[:, :2])


class _Sabotaged:
    """Chunks of ``inner``; ``harm()`` runs before chunk ``at`` of pass ``on_pass``."""

    def __init__(self, inner, harm, on_pass=2, at=1):
        self.inner, self.harm, self.on_pass, self.at, self.passes = inner, harm, on_pass, at, 0
        self.done = False

    def __iter__(self):
        self.passes += 1
        for i in range(len(self.inner)):
            if self.passes >= self.on_pass and i == self.at and not self.done:
                self.done = True
                self.harm()
            yield self.inner[i]


@pytest.mark.parametrize(
    "harm,error,phrase",
    [
        ("remove", FileNotFoundError, "X.npy' disappeared while being read"),
        ("truncate", OSError, "X.npy' changed size while being read"),
    ],
)
@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_npy_file_disappears_or_is_truncated_mid_stream(tmp_path, harm, error, phrase, solver):
    from fastlogit.sources import npy_source

    X, y = data(n=400)
    path = tmp_path / "X.npy"
    np.save(path, X)

    def act():
        if harm == "remove":
            path.unlink()
        else:
            with open(path, "r+b") as f:
                f.truncate(1000)

    source = _Sabotaged(npy_source(path, y, chunk_rows=50), act)
    fitted = LogisticRegression(solver=solver, max_iter=5)
    with pytest.raises(error, match=phrase):
        fitted.fit(source)
    assert not hasattr(fitted, "coef_")


def test_parquet_file_disappears_mid_stream(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = data(n=200)
    (tmp_path / "ds").mkdir()
    for part in range(2):
        rows = slice(100 * part, 100 * (part + 1))
        pq.write_table(
            pa.table({"a": X[rows, 0], "b": X[rows, 1], "label": y[rows]}),
            tmp_path / "ds" / f"part-{part}.parquet",
            row_group_size=50,
        )
    from fastlogit.sources import ParquetChunks

    source = ParquetChunks(tmp_path / "ds", target="label")
    victim = tmp_path / "ds" / "part-1.parquet"
    sabotaged = _Sabotaged(source, victim.unlink, at=2)
    with pytest.raises(OSError, match="part-1.parquet"):
        LogisticRegression().fit(sabotaged)
