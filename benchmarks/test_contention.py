"""Speed where users run it: beside other processes, in joblib workers, in a new process.

Run ``pytest benchmarks/test_contention.py --benchmark-only``.  Each group is
one problem with fastlogit and its baseline side by side, timed in the same
run (quote the ratio, never a time):

- **Quiet machine, small inputs**: ``binary_loss_grad`` against the NumPy
  reference at 1 000 x 100 and 10 000 x 100 (no size where fastlogit is
  slower than NumPy), and :func:`test_threads_crossover`, which times the
  serial and the two-thread kernel side by side from 10^3 to 10^7 entries:
  the data behind ``fastlogit.matrix.MIN_WORK_PER_THREAD``.
- **Busy machine**: the same kernel at 2 000, 20 000 and 200 000 x 100, and a
  default ``LogisticRegression().fit`` on 20 000 x 20 against scikit-learn's,
  while two other processes run beside it (the ``neighbours`` fixture: each
  calls ``fastlogit.binary_loss_grad`` on 2 000 x 100 and 20 000 x 50 in a
  loop, or spins a plain Python busy loop), started before the group and
  stopped after it, each bounded in time.
- **joblib workers**: ``GridSearchCV(..., {"C": [0.01, 0.1, 1, 10]}, cv=3,
  n_jobs=2)`` on 100 000 x 50 binary, fastlogit's estimator against
  scikit-learn's, and the same search of a ``DummyClassifier`` (the
  ``search-floor`` member): what the search costs with nothing to fit, the
  part of either time that no estimator can remove.
- **Cold and warm start**: a new Python process that imports fastlogit and
  fits a binary and a K = 3 model on 10 000 x 20, with an empty
  ``NUMBA_CACHE_DIR`` (cold) and with the one the cold run filled (warm),
  against a process that only runs ``import numpy, numba, sklearn.base``
  (the ``numpy`` member of the group).

Sizes scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py), except the
neighbours' inputs and the start-up fits, which are what they are.
"""

import functools
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np
import pytest
from conftest import _scaled

import fastlogit
from fastlogit import reference
from fastlogit.data import as_binary_labels, as_class_indices
from fastlogit.matrix import KernelCalls, kernel_view

IMPLEMENTATIONS = {"fastlogit": fastlogit, "reference": reference}

#: The longest a neighbour process lives, whatever happens to the fixture.
NEIGHBOUR_SECONDS = 900

NEIGHBOUR = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import fastlogit

    kind, seconds = sys.argv[1], float(sys.argv[2])
    rng = np.random.default_rng(0)
    data = [
        (rng.standard_normal((n, d)), (rng.random(n) < 0.5).astype(float), np.zeros(d))
        for n, d in [(2000, 100), (20000, 50)]
    ]
    for X, y, w in data:
        fastlogit.binary_loss_grad(X, y, w)
    print("ready", flush=True)
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        if kind == "fastlogit":
            X, y, w = data[i % 2]
            fastlogit.binary_loss_grad(X, y, w)
        i += 1
    """
)


@pytest.fixture(scope="class", params=["fastlogit", "busy-loop"])
def neighbours(request):
    """Two other processes working beside the benchmark: its kind (a string).

    Class-scoped, used only by :class:`TestBesideNeighbours`: the processes
    stop when that class's tests end.  (Module-scoped, the last kind kept
    running through every later group of the module, the grid search and
    the start-up fits included.)"""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", NEIGHBOUR, request.param, str(NEIGHBOUR_SECONDS)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        yield request.param
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)


@functools.lru_cache(maxsize=1)
def kernel_problem(n, d):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) < 0.5).astype(np.float64)
    return X, y, rng.standard_normal(d) / np.sqrt(d)


def time_loss_grad(benchmark, which, n, d, rounds):
    X, y, w = kernel_problem(n, d)
    fn = IMPLEMENTATIONS[which].binary_loss_grad
    benchmark.pedantic(fn, args=(X, y, w, 0.1), rounds=rounds, iterations=1, warmup_rounds=3)


def rounds_for(entries):
    return int(min(200, max(5, 2e8 / max(entries, 1) / 100)))


@pytest.mark.parametrize("which", ["fastlogit", "reference"])
@pytest.mark.parametrize("n", [1_000, 10_000])
def test_loss_grad_quiet(benchmark, n, which):
    n = _scaled(n)
    benchmark.group = f"binary_loss_grad quiet {n}x100"
    time_loss_grad(benchmark, which, n, 100, rounds_for(n * 100))


@pytest.mark.parametrize("n", [1_000, 3_000, 10_000, 30_000, 100_000])
@pytest.mark.parametrize("K, d", [(2, 100), (2, 20), (3, 20), (10, 64)])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("which", ["fastlogit"])
def test_threads_crossover(benchmark, which, threads, K, d, n):
    """Serial against two threads, quiet machine: where a second thread starts to pay."""
    n = _scaled(n)
    work = n * d * (1 if K == 2 else K)
    benchmark.group = f"threads crossover K={K} {n}x{d} (work {work:.2g})"
    benchmark.extra_info.update(work=work, threads=threads)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((n, d))
    # KernelCalls directly: the public functions would cap the threads by the work.
    if K == 2:
        y = as_binary_labels((rng.random(n) < 0.5).astype(float), n)
        coef, intercept = np.zeros(d), 0.0
    else:
        y = as_class_indices(rng.integers(0, K, n), n, K)
        coef, intercept = np.zeros((K, d)), np.zeros(K)
    calls = KernelCalls(d, K, threads)
    benchmark.pedantic(
        calls.loss_grad,
        args=(kernel_view(X), y, None, coef, intercept),
        rounds=rounds_for(work),
        iterations=1,
        warmup_rounds=3,
    )


@functools.lru_cache(maxsize=1)
def gaussian_classes(n, d, seed=11):
    """Two Gaussian classes with a shared covariance (the bench's problem family)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(np.int64)
    X = rng.standard_normal((n, d)) + np.outer(y, rng.standard_normal(d) / np.sqrt(d))
    return X, y


def estimator(which):
    if which == "fastlogit":
        return fastlogit.LogisticRegression()
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


class TestBesideNeighbours:
    """The groups timed while two other processes run (the ``neighbours`` fixture)."""

    @pytest.mark.parametrize("which", ["fastlogit", "reference"])
    @pytest.mark.parametrize("n", [2_000, 20_000, 200_000])
    def test_loss_grad_beside_neighbours(self, benchmark, neighbours, n, which):
        n = _scaled(n)
        benchmark.group = f"binary_loss_grad beside two {neighbours} processes {n}x100"
        time_loss_grad(benchmark, which, n, 100, rounds_for(n * 100))

    @pytest.mark.parametrize("which", ["fastlogit", "sklearn"])
    def test_default_fit_beside_neighbours(self, benchmark, neighbours, which):
        X, y = gaussian_classes(max(_scaled(20_000), 60), 20)
        benchmark.group = f"default fit beside two {neighbours} processes {X.shape[0]}x20"
        benchmark.pedantic(lambda: estimator(which).fit(X, y), rounds=10, iterations=1, warmup_rounds=1)


#: The grid search's member that fits nothing: the same 12 fits and scores of
#: a ``DummyClassifier`` over 4 strategies, so what is left is the search's own
#: cost (joblib's dispatch, copying X to the workers, each fold's split and
#: scoring, the refit): a floor under both estimators' times.
SEARCH_FLOOR = "search-floor"


@pytest.mark.parametrize("which", ["fastlogit", "sklearn", SEARCH_FLOOR])
def test_grid_search_joblib_workers(benchmark, which):
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import GridSearchCV

    X, y = gaussian_classes(max(_scaled(100_000), 60), 50)
    benchmark.group = f"GridSearchCV(C: 4 values, cv=3, n_jobs=2) {X.shape[0]}x50"
    if which == SEARCH_FLOOR:
        strategies = ["most_frequent", "prior", "stratified", "uniform"]
        model, grid = DummyClassifier(random_state=0), {"strategy": strategies}
    else:
        model, grid = estimator(which), {"C": [0.01, 0.1, 1, 10]}

    def search():
        return GridSearchCV(model, grid, cv=3, n_jobs=2).fit(X, y)

    result = benchmark.pedantic(search, rounds=3, iterations=1, warmup_rounds=1)
    assert len(result.cv_results_["params"]) == 4
    if which != SEARCH_FLOOR:  # (the dummy's accuracy is a coin's)
        assert result.best_score_ > 0.5


STARTUP_FITS = textwrap.dedent(
    """
    import numpy as np
    from fastlogit import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 20))
    LogisticRegression().fit(X, (X[:, 0] + rng.standard_normal(10_000) > 0).astype(int))
    LogisticRegression().fit(X, np.digitize(X[:, 1] + rng.standard_normal(10_000), [-0.5, 0.5]))
    """
)
IMPORT_ONLY = "import numpy, numba, sklearn.base"


def run_fresh_process(code, cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


@pytest.mark.parametrize("which", ["fastlogit", "numpy"])
@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_first_fits_in_a_new_process(benchmark, cache, which, tmp_path):
    """``numpy``: the baseline process, importing numpy, numba and sklearn.base only."""
    code = STARTUP_FITS if which == "fastlogit" else IMPORT_ONLY
    benchmark.group = f"new process: first binary + K=3 fits 10000x20, {cache} Numba cache"
    warm_dir = str(tmp_path / "warm")
    if cache == "warm":
        run_fresh_process(STARTUP_FITS, warm_dir)  # fills it

    def fresh_dir():
        return (tempfile.mkdtemp(dir=tmp_path),), {}

    if cache == "cold":
        benchmark.pedantic(lambda d: run_fresh_process(code, d), setup=fresh_dir, rounds=3)
    else:
        benchmark.pedantic(run_fresh_process, args=(code, warm_dir), rounds=5, warmup_rounds=1)
