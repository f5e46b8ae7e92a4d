"""k-fold cross-validation's objectives: the fold-fused kernel against k separate calls.

Run ``pytest benchmarks/test_cv.py --benchmark-only``.  One group,
``fold_loss_grad``, binary, 1 000 000 x 100 float64, k = 5 folds, the
loss and gradient of the five training objectives (and their held-out
losses and accuracies) at one point:

- ``fused``: ``fastlogit.fold_loss_grad``, one pass over X for all folds;
- ``separate``: five ``fastlogit.binary_loss_grad`` calls, each with the
  sample weights of its held-out rows set to 0 (the weights are made once,
  untimed), five passes over X and no held-out scores;
- ``reference``: ``fastlogit.reference.fold_loss_grad`` (NumPy).

Target: ``fused`` at least 3x faster than ``separate``.  Each timed call
is first made once untimed (compilation, the on-disk cache, the thread
pool); the fused and separate results agree (checked, untimed).  Sizes
scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py).
"""

import functools

import numpy as np
import pytest
from conftest import _scaled

import fastlogit
from fastlogit import reference

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


def flat(result):
    """One float64 vector of everything a call returns."""
    parts = result if isinstance(result, (tuple, list)) else (result,)
    return np.concatenate(
        [flat(p) if isinstance(p, tuple) else np.ravel(np.asarray(p, np.float64)) for p in parts]
    )
