"""k-fold cross-validation: the fold-fused kernel, and LogisticRegressionCV against its peers.

Run ``pytest benchmarks/test_cv.py --benchmark-only``.  The kernel group,
``fold_loss_grad``, binary, 1 000 000 x 100 float64, k = 5 folds, the
loss and gradient of the five training objectives (and their held-out
losses and accuracies) at one point:

- ``fused``: ``fastlogit.fold_loss_grad``, one pass over X for all folds;
- ``separate``: five ``fastlogit.binary_loss_grad`` calls, each with the
  sample weights of its held-out rows set to 0 (the weights are made once,
  untimed), five passes over X and no held-out scores;
- ``reference``: ``fastlogit.reference.fold_loss_grad`` (NumPy).

Target: ``fused`` at least 3x faster than ``separate``.  The group
``fold_hessp`` compares the Hessian products Newton-CG needs the same way
(``fastlogit.fold_hessp`` against five ``binary_hessp`` calls).  Each timed call
is first made once untimed (compilation, the on-disk cache, the thread
pool); the fused and separate results agree (checked, untimed).  Sizes
scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py).
"""

import functools
import warnings

import numpy as np
import pytest
from conftest import SEED, _scaled
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV as SklearnLogisticRegressionCV
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import fastlogit
from fastlogit import LogisticRegression, LogisticRegressionCV, reference

SHAPE = (1_000_000, 100)
N_FOLDS = 5


@functools.lru_cache(maxsize=1)
def problem(shape, k):
    """Seeded ``(X, y, fold, coef (k, d), intercept (k,))``, labels from a known model,
    the k models' coefficients near it (as k fits of CV would be)."""
    n, d = _scaled(shape[0]), shape[1]
    rng = np.random.default_rng(2026)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < fastlogit.sigmoid(fastlogit.binary_predict_raw(X, w, 0.1))).astype(np.float64)
    fold = rng.permutation(np.arange(n) % k).astype(np.int64)
    coef = w + 0.05 * rng.standard_normal((k, d)) / np.sqrt(d)
    intercept = 0.1 + 0.05 * rng.standard_normal(k)
    return X, y, fold, coef, intercept


def separate_calls(X, y, coef, intercept, weights):
    """k ``binary_loss_grad`` calls, model j with ``weights[j]`` (0 on its held-out rows)."""
    return [
        fastlogit.binary_loss_grad(X, y, coef[j], intercept[j], weights[j], reduction="sum")
        for j in range(coef.shape[0])
    ]


@pytest.mark.parametrize("which", ["fused", "separate", "reference"])
def test_fold_loss_grad(benchmark, which):
    X, y, fold, coef, intercept = problem(SHAPE, N_FOLDS)
    k = coef.shape[0]
    if which == "fused":
        f = functools.partial(fastlogit.fold_loss_grad, X, y, fold, coef, intercept, reduction="sum")
    elif which == "reference":
        f = functools.partial(reference.fold_loss_grad, X, y, fold, coef, intercept, reduction="sum")
    else:
        weights = [(fold != j).astype(np.float64) for j in range(k)]
        f = functools.partial(separate_calls, X, y, coef, intercept, weights)
    expected = f()  # warm-up: compiles or loads the kernels from cache, starts the threads
    benchmark.group = f"fold_loss_grad binary {X.shape[0]}x{X.shape[1]} float64 k={k}"
    benchmark.extra_info["bytes_of_X"] = X.nbytes
    out = benchmark(f)
    if which == "separate":  # untimed: the fused call's training sums
        fused = fastlogit.fold_loss_grad(X, y, fold, coef, intercept, reduction="sum")
        loss = np.array([o[0] for o in out])
        grad = np.array([np.append(o[1], o[2]) for o in out])
        np.testing.assert_allclose(fused.loss, loss, rtol=1e-10)
        np.testing.assert_allclose(fused.grad, grad, rtol=1e-8, atol=1e-10 * np.abs(grad).max())
    flat_out, flat_expected = flat(out), flat(expected)
    assert np.all(np.isfinite(flat_out))
    if which != "reference":
        np.testing.assert_array_equal(flat_out, flat_expected)  # same inputs, same threads: same bits


def separate_hessp(X, coef, intercept, vec, vec_b, weights):
    """k ``binary_hessp`` calls, model j with ``weights[j]`` (0 on its held-out rows)."""
    return [
        fastlogit.binary_hessp(X, coef[j], intercept[j], vec[j], vec_b[j], weights[j], reduction="sum")
        for j in range(coef.shape[0])
    ]


@pytest.mark.parametrize("which", ["fused", "separate"])
def test_fold_hessp(benchmark, which):
    """Newton-CG's Hessian products for all k folds: one pass (``fold_hessp``) against k
    ``binary_hessp`` calls, each with its held-out rows weighted 0."""
    X, y, fold, coef, intercept = problem(SHAPE, N_FOLDS)
    k = coef.shape[0]
    rng = np.random.default_rng(7)
    vec, vec_b = rng.standard_normal(coef.shape), rng.standard_normal(k)
    if which == "fused":
        f = functools.partial(fastlogit.fold_hessp, X, fold, coef, intercept, vec, vec_b, reduction="sum")
    else:
        weights = [(fold != j).astype(np.float64) for j in range(k)]
        f = functools.partial(separate_hessp, X, coef, intercept, vec, vec_b, weights)
    expected = f()
    benchmark.group = f"fold_hessp binary {X.shape[0]}x{X.shape[1]} float64 k={k}"
    out = benchmark(f)
    if which == "separate":  # untimed: the fused products equal the separate ones
        fused = np.asarray(fastlogit.fold_hessp(X, fold, coef, intercept, vec, vec_b, reduction="sum"))
        parts = np.array([np.append(hv, hv_b) for hv, hv_b in out])
        np.testing.assert_allclose(flat(fused), parts.ravel(), rtol=1e-8, atol=1e-10 * np.abs(parts).max())
    np.testing.assert_array_equal(flat(out), flat(expected))


def flat(result):
    """One float64 vector of everything a call returns."""
    parts = result if isinstance(result, (tuple, list)) else (result,)
    return np.concatenate(
        [flat(p) if isinstance(p, tuple) else np.ravel(np.asarray(p, np.float64)) for p in parts]
    )


# -- LogisticRegressionCV: all folds in one pass, against scikit-learn ---------------
#
# Each group fits one cross-validation problem side by side: fastlogit's
# LogisticRegressionCV (solver="auto"), scikit-learn's LogisticRegressionCV (lbfgs, its
# default; saga and liblinear for L1), and for the binary problem GridSearchCV over
# fastlogit's own LogisticRegression (every fold and C fitted from scratch), all with
# the same folds, Cs, tol and scoring.  Scoring is neg_log_loss at tol=1e-6: on these
# large, well-posed problems accuracy is flat in C to a row or two (ties), and at
# tol=1e-4 the warm-started fits stop before they move at large C, so the chosen C
# would say more about tolerances than about the fits.  The chosen C_ of each is in
# extra_info (the same for all, one run each: binary C_ = 0.0464, K = 5 C_ = 0.0464,
# L1 C_ = 0.0483).  The L1 group is the slowest by far at full scale: saga needs
# minutes per C (at 20 000 x 1 000 it took 790 s against fastlogit's 24 s).

CV_FOLDS = 5


def _gaussian_classes(n, d, K, seed):
    """Gaussian classes with a shared covariance (the posterior is exactly logistic)."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((K, d)) * (1.5 / np.sqrt(d))
    y = rng.integers(0, K, n)
    X = rng.standard_normal((n, d)) + means[y]
    return np.ascontiguousarray(X), y


def _sparse_truth(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[rng.choice(d, 20, replace=False)] = rng.standard_normal(20) * 2
    y = (X @ w + rng.logistic(size=n) > 0).astype(np.int64)
    return X, y


CV_OPTIONS = dict(tol=1e-6, scoring="neg_log_loss")


def _quiet(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return fit()


def _sklearn_cv(**kwargs):
    return SklearnLogisticRegressionCV(use_legacy_attributes=False, **CV_OPTIONS, **kwargs)


CV_CASES = [
    # (name, nominal shape, K, Cs)
    ("binary", (200_000, 50), 2, 10),
    ("multinomial", (100_000, 50), 5, 10),
]


@pytest.mark.parametrize("impl", ["fastlogit", "sklearn", "gridsearch"])
@pytest.mark.parametrize("name, shape, K, Cs", CV_CASES, ids=[c[0] for c in CV_CASES])
def test_cv(benchmark, name, shape, K, Cs, impl):
    if impl == "gridsearch" and K != 2:
        pytest.skip("GridSearchCV is compared on the binary problem")
    n = max(_scaled(shape[0]), 50 * CV_FOLDS)
    X, y = _gaussian_classes(n, shape[1], K, SEED)
    cv = StratifiedKFold(CV_FOLDS)
    benchmark.group = f"cv {name} {n}x{shape[1]} K={K} Cs={Cs} cv={CV_FOLDS}"
    if impl == "fastlogit":
        make = lambda: LogisticRegressionCV(Cs=Cs, cv=cv, **CV_OPTIONS)  # noqa: E731
    elif impl == "sklearn":
        make = lambda: _sklearn_cv(Cs=Cs, cv=cv, l1_ratios=(0.0,))  # noqa: E731
    else:
        grid = {"C": list(np.logspace(-4, 4, Cs))}
        make = lambda: GridSearchCV(  # noqa: E731
            LogisticRegression(tol=CV_OPTIONS["tol"]), grid, cv=cv, scoring=CV_OPTIONS["scoring"]
        )
    model = _quiet(lambda: make().fit(X, y))  # warm-up: compile, and the C chosen
    chosen = model.best_params_["C"] if impl == "gridsearch" else np.ravel(model.C_)[0]
    benchmark.extra_info["C_"] = float(chosen)
    benchmark.pedantic(lambda: _quiet(lambda: make().fit(X, y)), rounds=3, iterations=1)


@pytest.mark.parametrize("impl", ["fastlogit", "saga", "liblinear"])
def test_cv_l1(benchmark, impl):
    # (At smoke-test scales a small problem: saga on 2 000 x 1 000 takes minutes.)
    n = max(_scaled(100_000), 200)
    d = 1000 if n >= 20_000 else 20
    X, y = _sparse_truth(n, d, SEED)
    Cs = list(np.logspace(-2.5, 0, 20))
    cv = StratifiedKFold(CV_FOLDS)
    benchmark.group = f"cv l1 {n}x{d} Cs=20 cv={CV_FOLDS}"
    if impl == "fastlogit":
        make = lambda: LogisticRegressionCV(Cs=Cs, cv=cv, l1_ratios=(1.0,), **CV_OPTIONS)  # noqa: E731
    else:
        make = lambda: _sklearn_cv(Cs=Cs, cv=cv, l1_ratios=(1.0,), solver=impl)  # noqa: E731
    model = _quiet(lambda: make().fit(X, y))
    benchmark.extra_info["C_"] = float(np.ravel(model.C_)[0])
    benchmark.pedantic(lambda: _quiet(lambda: make().fit(X, y)), rounds=1, iterations=1)
