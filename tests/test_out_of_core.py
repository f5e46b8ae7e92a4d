"""Out-of-core fitting: .npy files, memmaps, Parquet and chunk iterators.

The objective of chunked data is the same sum as in memory, added chunk by
chunk, so:

- solvers that converge to machine precision (newton, proximal) give the
  in-memory coefficients to relative 1e-10;
- lbfgs gives them bit for bit when both see the same chunking, and to its
  own precision otherwise (it stops when the objective stops changing in
  float64, ~1e-8 from the optimum);
- sgd gives bit-identical coefficients for the same chunking and seed, and
  with a single chunk the in-memory fit's.

Peak extra memory is a few chunks, whatever the number of rows (measured
with tracemalloc and the process's anonymous resident memory).
"""

import hashlib
import os
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from fastlogit import LogisticRegression
from fastlogit.sources import ArrayChunks, ChunkSource, npy_source

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

N, D = 6000, 8


def make(n=N, d=D, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((K, d))
    z = X @ W.T + rng.gumbel(size=(n, K))
    y = np.argmax(z, axis=1) if K > 2 else (X @ W[0] + rng.logistic(size=n) > 0).astype(np.int64)
    return X, y


def rel(a, b):
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)


def write_parquet(path, X, y, sw=None, row_group_size=1000, label_name="label"):
    columns = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    columns[label_name] = y
    if sw is not None:
        columns["w"] = sw
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)


def write_files(tmp, K=2):
    """Seeded data as X.npy, y.npy and d.parquet (row groups of 1000) in ``tmp``."""
    X, y = make(K=K)
    np.save(tmp / "X.npy", X)
    np.save(tmp / "y.npy", y)
    write_parquet(tmp / "d.parquet", X, y)
    return X, y


@pytest.fixture
def files(tmp_path):
    return (tmp_path, *write_files(tmp_path))


def fit(X, y=None, **kw):
    options = {k: kw.pop(k) for k in ("sample_weight", "target", "features", "weight", "classes") if k in kw}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(**kw).fit(X, y, **options)


def sources(tmp, X, y, chunk_rows=1000):
    """The same data as every kind of out-of-core input, chunked alike."""
    return {
        "npy path": (npy_source(tmp / "X.npy", tmp / "y.npy", chunk_rows=chunk_rows), None, {}),
        "memmap": (ArrayChunks(np.load(tmp / "X.npy", mmap_mode="r"), y, chunk_rows=chunk_rows), None, {}),
        "parquet": (str(tmp / "d.parquet"), None, {"target": "label"}),
        "list of chunks": (
            [(X[i : i + chunk_rows], y[i : i + chunk_rows]) for i in range(0, len(y), chunk_rows)],
            None,
            {},
        ),
    }


# -- full-batch solvers ---------------------------------------------------------


@pytest.mark.parametrize("kind", ["npy path", "memmap", "parquet", "list of chunks"])
@pytest.mark.parametrize("solver,extra", [("newton", {}), ("proximal", {"l1_ratio": 0.5, "C": 0.1})])
def test_exact_solvers_match_in_memory(files, kind, solver, extra):
    tmp, X, y = files
    src, yy, opts = sources(tmp, X, y)[kind]
    ref = fit(X, y, solver=solver, tol=1e-10, **extra)
    got = fit(src, yy, solver=solver, tol=1e-10, **extra, **opts)
    assert rel(got.coef_, ref.coef_) < 1e-10
    assert rel(got.intercept_, ref.intercept_) < 1e-10
    np.testing.assert_array_equal(got.classes_, ref.classes_)


@pytest.mark.parametrize("K", [2, 4])
def test_lbfgs_same_chunking_is_bit_identical(files, K):
    tmp, _, _ = files
    X, y = write_files(tmp, K)
    fits = {
        kind: fit(src, yy, solver="lbfgs", tol=1e-8, **opts)
        for kind, (src, yy, opts) in sources(tmp, X, y).items()
    }
    first = fits["list of chunks"]
    for kind, model in fits.items():
        np.testing.assert_array_equal(model.coef_, first.coef_, err_msg=kind)
        np.testing.assert_array_equal(model.intercept_, first.intercept_, err_msg=kind)
    ref = fit(X, y, solver="lbfgs", tol=1e-8)
    # Different chunking adds the same sum in another order: lbfgs then ends
    # within its own precision of the same optimum.
    assert rel(first.coef_, ref.coef_) < 1e-6


def test_default_chunking_of_a_small_file_is_the_in_memory_fit(files):
    tmp, X, y = files
    ref = fit(X, y, solver="lbfgs")
    got = fit(str(tmp / "X.npy"), str(tmp / "y.npy"), solver="lbfgs")
    np.testing.assert_array_equal(got.coef_, ref.coef_)


def test_softmax_weights_and_class_weight(tmp_path):
    X, y = make(K=3)
    sw = np.random.default_rng(1).uniform(0.1, 3.0, size=len(y))
    labels = np.array(["a", "b", "c"])[y]
    write_parquet(tmp_path / "d.parquet", X, labels, sw=sw, row_group_size=700)
    for class_weight in [None, "balanced", {"a": 2.0, "c": 0.5}]:
        ref = fit(X, labels, sample_weight=sw, solver="newton", tol=1e-10, class_weight=class_weight)
        got = fit(
            str(tmp_path / "d.parquet"),
            target="label",
            weight="w",
            solver="newton",
            tol=1e-10,
            class_weight=class_weight,
        )
        np.testing.assert_array_equal(got.classes_, ["a", "b", "c"])
        assert rel(got.coef_, ref.coef_) < 1e-10, class_weight
        chunks = [(X[i : i + 500], labels[i : i + 500], sw[i : i + 500]) for i in range(0, len(y), 500)]
        got = fit(chunks, solver="newton", tol=1e-10, class_weight=class_weight)
        assert rel(got.coef_, ref.coef_) < 1e-10, class_weight


def test_parquet_dataset_directory_and_feature_selection(tmp_path):
    X, y = make()
    (tmp_path / "ds").mkdir()
    half = len(y) // 2
    write_parquet(tmp_path / "ds" / "part-0.parquet", X[:half], y[:half])
    write_parquet(tmp_path / "ds" / "part-1.parquet", X[half:], y[half:])
    ref = fit(X[:, [3, 1]], y, solver="newton", tol=1e-10)
    got = fit(str(tmp_path / "ds"), target="label", features=["f3", "f1"], solver="newton", tol=1e-10)
    assert rel(got.coef_, ref.coef_) < 1e-10
    assert list(got.feature_names_in_) == ["f3", "f1"]
    import pandas as pd

    frame = pd.DataFrame(X[:, [3, 1]], columns=["f3", "f1"])
    np.testing.assert_array_equal(got.predict(frame), ref.predict(X[:, [3, 1]]))


def test_csr_chunks_and_float32(files):
    _, X, y = files
    Xs = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0.0))
    chunks = [(Xs[i : i + 1000], y[i : i + 1000]) for i in range(0, len(y), 1000)]
    ref = fit(Xs, y, solver="newton", tol=1e-10)
    assert rel(fit(chunks, solver="newton", tol=1e-10).coef_, ref.coef_) < 1e-10
    X32 = X.astype(np.float32)
    ref32 = fit(X32, y, solver="newton", tol=1e-8)
    got32 = fit(ArrayChunks(X32, y, chunk_rows=999), solver="newton", tol=1e-8)
    assert rel(got32.coef_, ref32.coef_) < 1e-6


def test_warm_start_and_verbose_progress(files, capsys):
    tmp, X, y = files
    model = LogisticRegression(solver="lbfgs", warm_start=True, verbose=1)
    model.fit(npy_source(tmp / "X.npy", y, chunk_rows=1000))
    iterations = int(model.n_iter_[0])
    model.fit(npy_source(tmp / "X.npy", y, chunk_rows=1000))
    assert model.n_iter_[0] < iterations  # started at the optimum
    err = capsys.readouterr().err
    assert "chunks" in err and "fastlogit lbfgs" in err


def test_predict_and_score_on_a_memmap_and_a_npy_path(files):
    tmp, X, y = files
    model = fit(str(tmp / "X.npy"), y)
    mm = np.load(tmp / "X.npy", mmap_mode="r")
    np.testing.assert_array_equal(model.predict(mm), fit(X, y).predict(X))
    np.testing.assert_array_equal(model.predict_proba(str(tmp / "X.npy")), model.predict_proba(X))
    assert model.score(mm, y) > 0.7
    with pytest.raises(ValueError, match="prediction takes arrays, memmaps, .npy paths"):
        model.predict(str(tmp / "d.parquet"))


# -- sgd -------------------------------------------------------------------------


def sgd(src, y=None, seed=0, **kw):
    return fit(src, y, solver="sgd", max_iter=3, tol=None, random_state=seed, **kw)


def test_sgd_one_chunk_is_the_in_memory_fit(files):
    _, X, y = files
    for kw in [{}, {"average": True, "learning_rate": "adagrad", "eta0": 0.1}]:
        ref = sgd(X, y, **kw)
        got = sgd(ArrayChunks(X, y, chunk_rows=len(y)), **kw)
        np.testing.assert_array_equal(got.coef_, ref.coef_)
        np.testing.assert_array_equal(got.intercept_, ref.intercept_)


@pytest.mark.parametrize("K", [2, 3])
def test_sgd_same_chunking_and_seed_is_bit_identical(files, K):
    tmp, _, _ = files
    X, y = write_files(tmp, K)
    fits = {kind: sgd(src, yy, **opts) for kind, (src, yy, opts) in sources(tmp, X, y).items()}
    first = fits["npy path"]
    for kind, model in fits.items():
        np.testing.assert_array_equal(model.coef_, first.coef_, err_msg=kind)
    assert not np.array_equal(sgd(sources(tmp, X, y)["npy path"][0], seed=1).coef_, first.coef_)
    # it learns: the training loss is close to the full-batch optimum
    best = fit(X, y)
    assert first.score(X, y) > best.score(X, y) - 0.02


class Recording(ChunkSource):
    """A random-access source that records which chunks were read."""

    def __init__(self, chunks):
        self.chunks, self.reads = chunks, []

    def __len__(self):
        return len(self.chunks)

    def __getitem__(self, i):
        self.reads.append(i)
        return self.chunks[i]

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def test_sgd_shuffles_the_chunk_order_each_epoch(files):
    _, X, y = files
    src = Recording([(X[i : i + 500], y[i : i + 500]) for i in range(0, len(y), 500)])
    sgd(src, seed=3)
    n_chunks = len(src.chunks)
    epochs = [src.reads[-3 * n_chunks :][e * n_chunks : (e + 1) * n_chunks] for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(n_chunks))
    assert len({tuple(order) for order in epochs}) > 1
    assert epochs[0] != list(range(n_chunks))


def test_sgd_streaming_a_plain_iterable(files):
    _, X, y = files

    class Stream:  # re-iterable, not random access: chunks in their own order
        def __iter__(self):
            return ((X[i : i + 700], y[i : i + 700]) for i in range(0, len(y), 700))

    a, b = sgd(Stream()), sgd(Stream())
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.score(X, y) > 0.7


def test_sgd_early_stopping_is_refused_for_chunks(files):
    _, X, y = files
    with pytest.raises(ValueError, match="early_stopping=False"):
        sgd(ArrayChunks(X, y, chunk_rows=1000), early_stopping=True)


# -- memory --------------------------------------------------------------------


def _rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return None


def _peak_memory(run):
    """(tracemalloc peak, peak growth of anonymous resident memory) of ``run()``."""
    base = _rss_anon()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_anon())
            time.sleep(0.0005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    tracemalloc.start()
    try:
        run()
        traced = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        done.set()
        sampler.join()
    peak[0] = max(peak[0], _rss_anon())
    return traced, peak[0] - base


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
@pytest.mark.parametrize("kind", ["npy", "parquet"])
@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_peak_memory_is_a_few_chunks_whatever_n(tmp_path, kind, solver):
    d, chunk = 20, 10_000
    chunk_bytes = chunk * d * 8
    measured = {}
    for n in (40_000, 320_000):
        X, y = make(n=n, d=d)
        if kind == "npy":
            np.save(tmp_path / f"X{n}.npy", X)
            np.save(tmp_path / f"y{n}.npy", y)
        else:
            write_parquet(tmp_path / f"d{n}.parquet", X, y, row_group_size=chunk)
        del X, y

        def run(n=n):
            if kind == "npy":
                src, opts = npy_source(tmp_path / f"X{n}.npy", tmp_path / f"y{n}.npy", chunk_rows=chunk), {}
            else:
                src, opts = str(tmp_path / f"d{n}.parquet"), {"target": "label"}
            fit(src, solver=solver, max_iter=5, **opts)

        run()  # warm: imports, compilation, pyarrow's pools
        measured[n] = _peak_memory(run)
    (traced_small, _), (traced_big, rss_big) = measured[40_000], measured[320_000]
    # a few chunks (Parquet: the row group's table, its conversion, the labels) ...
    assert traced_big < 4 * chunk_bytes + (1 << 20), measured
    assert rss_big < 8 * chunk_bytes + (16 << 20), measured
    # ... and nothing that grows with n (8x the rows: an int64 per row would be 2.5 MB more)
    assert traced_big < traced_small + (1 << 19), measured


# -- user files are read, never written ---------------------------------------------


def _digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest(), os.stat(path).st_mtime_ns


def test_fit_never_writes_user_files(files):
    tmp, X, y = files
    paths = [tmp / "X.npy", tmp / "y.npy", tmp / "d.parquet"]
    before = [_digest(p) for p in paths]
    for solver in ["lbfgs", "newton", "sgd"]:
        fit(str(tmp / "X.npy"), str(tmp / "y.npy"), solver=solver)
        fit(str(tmp / "d.parquet"), target="label", solver=solver)
    assert [_digest(p) for p in paths] == before


# -- inference ----------------------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
def test_inference_out_of_core_equals_in_memory(tmp_path, K):
    X, y = make(n=4000, d=4, K=K, seed=3)
    model = fit(X, y, C=np.inf, tol=1e-10)
    ref = model.inference(X, y)
    np.save(tmp_path / "X.npy", X)
    write_parquet(tmp_path / "d.parquet", X, y, row_group_size=900)
    for data, y_arg, opts in [
        (str(tmp_path / "X.npy"), y, {}),
        (ArrayChunks(X, y, chunk_rows=700), None, {}),
        (str(tmp_path / "d.parquet"), None, {"target": "label"}),
    ]:
        got = model.inference(data, y_arg, **opts)
        for name in ("coef", "std_err", "z", "p_value", "conf_int"):
            a, b = np.asarray(getattr(got, name)), np.asarray(getattr(ref, name))
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-300, err_msg=name)
        assert got.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-10)
        assert got.null_log_likelihood == pytest.approx(ref.null_log_likelihood, rel=1e-10)
        assert got.aic == pytest.approx(ref.aic, rel=1e-10)
