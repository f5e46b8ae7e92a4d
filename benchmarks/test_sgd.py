"""Minibatch SGD (:func:`fastlogit.sgd.fit_sgd`) against scikit-learn's ``SGDClassifier``.

Run::

    pytest benchmarks/test_sgd.py --benchmark-only --benchmark-group-by=group

(add ``-s`` to see the log-loss table of ``test_log_loss_after_epochs``).

``test_epoch`` times one epoch per call, from scratch: fastlogit's
``fit_sgd(max_iter=1, tol=None)`` (its shuffle and setup included) and
``SGDClassifier(loss="log_loss", max_iter=1, tol=None).fit`` (its setup
included; run under ``sklearn.config_context(assume_finite=True)``, as
fit_sgd does not scan its input for NaN either).  The expected
ConvergenceWarning of ``max_iter=1`` is suppressed.  Each group is one
problem with the implementations side by side; the targets, same-run ratios
on the 2-core reference machine:

- ``sgd epoch binary dense 1000000x100``: fastlogit >= 5x faster than
  SGDClassifier (fastlogit with ``average=True`` and SGDClassifier with
  ``average=True`` are in the table too);
- ``sgd epoch through the estimator binary dense 1000000x100``: the same
  epoch as a user runs it, ``LogisticRegression(solver="sgd", max_iter=1,
  tol=None).fit`` against ``SGDClassifier(...).fit``, both validating their
  input: fastlogit >= 5x faster (no separate finiteness scan of X; a
  second thread reads the rows ahead of the loop, see
  ``fastlogit.sgd.sgd_read_ahead``); also with ``n_threads=1`` (no
  read-ahead thread);
- ``sgd epoch binary csr 1000000x100000 density=0.0005``: fastlogit >= 3x
  faster;
- ``sgd epoch softmax K=10 vs binary dense 1000000x100``: fastlogit's softmax
  epoch costs <= 3x its binary epoch (both on the same X); SGDClassifier on
  the K = 10 labels (it fits 10 one-vs-rest models) is there for reference.

Settings: fastlogit ``C=1, l1_ratio=0, batch_size=256,
learning_rate="optimal"``; SGDClassifier its defaults (``alpha=1e-4``,
per-sample steps, "optimal" schedule), ``random_state=0`` for both.

Data (seeded, built once and cached; at most one problem alive at a time):
dense X ~ N(0, I) float64, binary labels drawn from sigmoid(X w + b) and
K = 10 labels from softmax(X W + b) with the same X; CSR X with 50 nonzeros
N(0, 1) per row (density 0.0005 of 100 000 columns: one column drawn in each
of 50 equal strata, so indices are sorted and unique; float64 data, int32
indices), labels from a sparse true weight vector (10% nonzero) through the
sigmoid.

``test_log_loss_after_epochs`` (a report, not a timing) gives the
training log-loss after 1, 3 and 5 epochs on the dense binary set; see its
docstring.  Sizes scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py);
``FASTLOGIT_BENCH_SCALE=1e-4 pytest benchmarks/test_sgd.py --benchmark-disable``
is a quick smoke test.
"""

import functools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from conftest import _scaled
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss

import fastlogit
from fastlogit import reference
from fastlogit.sgd import fit_sgd

DENSE = (1_000_000, 100)
CSR = (1_000_000, 100_000)
CSR_DENSITY = 0.0005
SOFTMAX_K = 10
#: Rows of the dense binary set used by the log-loss report (its first rows).
LOSS_ROWS = 200_000
LOSS_EPOCHS = (1, 3, 5)

SGD_SETTINGS = dict(
    C=1.0,
    l1_ratio=0.0,
    fit_intercept=True,
    batch_size=256,
    learning_rate="optimal",
    eta0=0.01,
    early_stopping=False,
    validation_fraction=0.1,
    n_iter_no_change=5,
    tol=None,
    random_state=0,
)

# (group, layout, nominal shape, K, implementation, average).  The CSR cases
# come first so that the dense problem is still cached for the log-loss test.
CASES = [
    ("binary", "csr", CSR, 2, "fastlogit", False),
    ("binary", "csr", CSR, 2, "sklearn", False),
    ("binary", "dense", DENSE, 2, "fastlogit", False),
    ("binary", "dense", DENSE, 2, "fastlogit", True),
    ("binary", "dense", DENSE, 2, "sklearn", False),
    ("binary", "dense", DENSE, 2, "sklearn", True),
    ("softmax", "dense", DENSE, 2, "fastlogit", False),
    ("softmax", "dense", DENSE, SOFTMAX_K, "fastlogit", False),
    ("softmax", "dense", DENSE, SOFTMAX_K, "sklearn", False),
]


@functools.lru_cache(maxsize=1)
def problem(layout, shape):
    """Seeded ``(X, labels)``, the leading dimension scaled.

    ``labels`` maps K to int64 class indices: ``{2: y}`` for CSR,
    ``{2: y, 10: y10}`` for dense (the same X).  Dense X is a C-contiguous
    float64 ndarray, CSR X a ``scipy.sparse.csr_matrix`` (float64 data,
    int32 indices and indptr), never formed densely.
    """
    n, d = _scaled(shape[0]), shape[1]
    rng = np.random.default_rng(2026)
    if layout == "csr":
        per_row = max(1, int(d * CSR_DENSITY))
        stride = d // per_row
        indices = rng.integers(0, stride, size=(n, per_row), dtype=np.int32)
        indices += np.arange(per_row, dtype=np.int32) * np.int32(stride)
        indptr = np.arange(n + 1, dtype=np.int32) * np.int32(per_row)
        data = rng.standard_normal(n * per_row)
        X = sp.csr_matrix((data, indices.ravel(), indptr), shape=(n, d))
        w = np.zeros(d)
        support = rng.choice(d, d // 10, replace=False)
        hits = per_row * support.size / d  # nonzero weights met by a row, on average
        w[support] = rng.standard_normal(support.size) * 2 / np.sqrt(hits)
        y = (rng.random(n) < fastlogit.sigmoid(X @ w + 0.5)).astype(np.int64)
        return X, {2: y}
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 2 / np.sqrt(d)
    y = (rng.random(n) < fastlogit.sigmoid(X @ w + 0.5)).astype(np.int64)
    W = rng.standard_normal((SOFTMAX_K, d)) * 2 / np.sqrt(d)
    P = fastlogit.softmax(X @ W.T + rng.standard_normal(SOFTMAX_K))
    y10 = (P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1).clip(0, SOFTMAX_K - 1)
    return X, {2: y, SOFTMAX_K: y10.astype(np.int64)}


def run_fastlogit(X, y, K, average, epochs):
    if sp.issparse(X):
        Xk, coef = (X.data, X.indices, X.indptr), np.zeros((1 if K == 2 else K, X.shape[1]))
    else:
        Xk, coef = X, None
    return fit_sgd(Xk, y, None, K, average=average, max_iter=epochs, coef=coef, **SGD_SETTINGS)


def run_sklearn(X, y, average, epochs, alpha=1e-4):
    model = SGDClassifier(
        loss="log_loss", alpha=alpha, max_iter=epochs, tol=None, average=average, random_state=0
    )
    with warnings.catch_warnings(), sklearn.config_context(assume_finite=True):
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.mark.parametrize(
    "group, layout, shape, K, which, average",
    CASES,
    ids=[f"{g}-{lay}-{s[0]}x{s[1]}-K{K}-{w}" + ("-average" if a else "") for g, lay, s, K, w, a in CASES],
)
def test_epoch(benchmark, group, layout, shape, K, which, average):
    X, labels = problem(layout, shape)
    y = labels[K]
    n, d = X.shape
    if group == "softmax":
        benchmark.group = f"sgd epoch softmax K={SOFTMAX_K} vs binary {layout} {n}x{d}"
    else:
        benchmark.group = f"sgd epoch binary {layout} {n}x{d}" + (
            f" density={CSR_DENSITY}" if layout == "csr" else ""
        )
    benchmark.extra_info.update(n=n, d=d, K=K, average=average, nnz=int(X.nnz) if layout == "csr" else n * d)
    if which == "fastlogit":
        expected = run_fastlogit(X, y, K, average, 1)  # warm-up (imports), and the result to match
        result = benchmark.pedantic(run_fastlogit, args=(X, y, K, average, 1), rounds=3, iterations=1)
        assert result.n_iter == 1
        assert np.all(np.isfinite(result.coef)) and np.all(np.isfinite(result.intercept))
        np.testing.assert_array_equal(result.coef, expected.coef)  # seeded: the same epoch was timed
        benchmark.extra_info["epoch_loss"] = result.loss_curve[-1]
    else:
        model = benchmark.pedantic(run_sklearn, args=(X, y, average, 1), rounds=3, iterations=1)
        assert np.all(np.isfinite(model.coef_)) and np.all(np.isfinite(model.intercept_))
        assert model.coef_.shape == ((1 if K == 2 else K), d)


@pytest.mark.parametrize("which", ["fastlogit", "fastlogit-1-thread", "sklearn"])
def test_epoch_through_the_estimator(benchmark, which):
    """One epoch as a user runs it: ``LogisticRegression(solver="sgd")`` against
    ``SGDClassifier``, both with their input validation (no ``assume_finite``).
    ``fastlogit-1-thread`` asks for ``n_threads=1``: no read-ahead thread
    (the default has one where Numba has two threads or more)."""
    X, labels = problem("dense", DENSE)
    y = labels[2]
    benchmark.group = f"sgd epoch through the estimator binary dense {X.shape[0]}x{X.shape[1]}"
    if which.startswith("fastlogit"):
        threads = 1 if which == "fastlogit-1-thread" else None
        model = fastlogit.LogisticRegression(
            solver="sgd", max_iter=1, tol=None, random_state=0, n_threads=threads
        )
    else:
        model = SGDClassifier(loss="log_loss", max_iter=1, tol=None, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        benchmark.pedantic(model.fit, args=(X, y), rounds=3, iterations=1, warmup_rounds=1)
    assert np.all(np.isfinite(model.coef_))


def fastlogit_proba(X, res):
    return fastlogit.sigmoid(X @ res.coef[0] + res.intercept[0])


def loss_table(X, y):
    """``{label: {epochs: training log-loss}}`` plus the penalized optimum's log-loss."""
    n = X.shape[0]
    table = {}
    for average in (False, True):
        table[f"fastlogit average={average}"] = {
            e: log_loss(y, fastlogit_proba(X, run_fastlogit(X, y, 2, average, e))) for e in LOSS_EPOCHS
        }
    for alpha, name in ((1e-4, "alpha=1e-4"), (1.0 / (SGD_SETTINGS["C"] * n), "alpha=1/(C n)")):
        for average in (False, True):
            table[f"sklearn {name} average={average}"] = {
                e: log_loss(y, run_sklearn(X, y, average, e, alpha).predict_proba(X)) for e in LOSS_EPOCHS
            }
    # The minimum of fastlogit's objective (C=1, mean loss + ||w||^2 / (2 C n)),
    # which is scikit-learn's LogisticRegression(C=1) objective up to a factor.
    best = SklearnLogisticRegression(C=SGD_SETTINGS["C"], tol=1e-8, max_iter=1000).fit(X, y)
    table["optimum (lbfgs, C=1)"] = {"-": log_loss(y, best.predict_proba(X))}
    return table


def test_log_loss_after_epochs(benchmark):
    """Training log-loss after 1, 3 and 5 epochs: fastlogit vs SGDClassifier.

    On the first ``LOSS_ROWS`` = 200 000 rows of the dense binary set (all of
    it below that, i.e. at ``FASTLOGIT_BENCH_SCALE`` < 0.2), to keep its 18
    fits (54 epochs) cheap at full scale.  Each epoch count is a separate fit from
    scratch (fastlogit ``fit_sgd(max_iter=e, tol=None)``, SGDClassifier
    ``max_iter=e, tol=None``), averaged and not.  SGDClassifier runs with its
    default ``alpha=1e-4`` (as in ``test_epoch``) and with ``alpha=1/(C n)``,
    the penalty of fastlogit's objective at C=1; the last row is that
    objective's minimizer (scikit-learn lbfgs).  Log-losses use
    ``sklearn.metrics.log_loss`` on ``predict_proba`` (sklearn) and
    ``fastlogit.sigmoid(X @ coef[0] + intercept[0])`` (fastlogit).

    The values go to ``benchmark.extra_info`` (keys ``"<label> epochs=<e>"``)
    and are printed (``pytest -s``); the single timed round is the whole
    report and means nothing as a timing.
    """
    X, labels = problem("dense", DENSE)
    rows = min(X.shape[0], LOSS_ROWS)
    X, y = X[:rows], labels[2][:rows]
    benchmark.group = f"sgd log-loss report dense {rows}x{X.shape[1]} binary (not a timing)"
    table = benchmark.pedantic(loss_table, args=(X, y), rounds=1, iterations=1)
    lines = [f"training log-loss on dense {rows}x{X.shape[1]} binary after e epochs"]
    lines.append(f"{'':38s}" + "".join(f"{f'e={e}':>10s}" for e in LOSS_EPOCHS))
    for label, losses in table.items():
        lines.append(f"{label:38s}" + "".join(f"{v:10.5f}" for v in losses.values()))
        for e, v in losses.items():
            assert np.isfinite(v) and v > 0
            benchmark.extra_info[f"{label} epochs={e}"] = v
    print("\n" + "\n".join(lines))


#: Rows of the loop-vs-twin comparison: the NumPy twin runs a Python loop
#: over minibatches and a Python Fisher-Yates shuffle, so it stays small.
REFERENCE_ROWS = 20_000


@pytest.mark.parametrize("which", ["fastlogit", "reference"])
@pytest.mark.parametrize("K", [2, SOFTMAX_K])
def test_epoch_against_numpy_twin(benchmark, which, K):
    """One epoch of the Cython loop vs ``fastlogit.reference.sgd_epochs``, the same settings.

    On the first ``REFERENCE_ROWS`` rows of the dense set; both results are
    checked equal (the twin is the loop's test oracle).
    """
    X, labels = problem("dense", DENSE)
    rows = min(_scaled(REFERENCE_ROWS), X.shape[0])
    X, y = X[:rows], labels[K][:rows]
    benchmark.group = f"sgd epoch vs NumPy twin dense {rows}x{X.shape[1]} K={K}"
    loop = run_fastlogit(X, y, K, False, 1)  # its settings, for the twin
    if which == "fastlogit":
        result = benchmark.pedantic(run_fastlogit, args=(X, y, K, False, 1), rounds=3, iterations=1)
        coef = result.coef
    else:
        cfg = loop.state.config
        n_w = loop.coef.shape[0]

        def twin():
            return reference.sgd_epochs(
                X,
                y,
                None,
                K,
                np.zeros((n_w, X.shape[1])),
                np.zeros(n_w),
                n_epochs=1,
                batch_size=cfg["batch_size"],
                learning_rate=SGD_SETTINGS["learning_rate"],
                eta0=SGD_SETTINGS["eta0"],
                power_t=0.5,
                alpha_opt=cfg["alpha_opt"],
                t0_opt=cfg["t0_opt"],
                lam2=cfg["lam2"],
                lam1=cfg["lam1"],
                fit_intercept=cfg["fit_intercept"],
                avg_start=cfg["avg_start"],
                sw_scale=cfg["sw_scale"],
                seed=loop.state.extra["seed"],
            )

        coef = benchmark.pedantic(twin, rounds=3, iterations=1)[0]
    np.testing.assert_allclose(coef, loop.coef, rtol=1e-9, atol=1e-12)
