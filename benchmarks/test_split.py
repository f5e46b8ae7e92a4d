"""The split design's kernels against ArrayRows on the same design as CSR.

Run ``pytest benchmarks/test_split.py --benchmark-only``; each group is one
kernel on one design (dense columns + categoricals of 200 and 5 levels, the
formula case of issue 22), with ``split`` (:class:`fastlogit.split.SplitRows`:
codes), ``csr`` (:class:`fastlogit.row_sources.ArrayRows` on
``design.to_csr()``: one stored value per dense entry and present level)
and ``reference`` (the NumPy twin in :mod:`fastlogit.reference_split`, on
the one-hot expansion) side by side.  ``extra_info["bytes"]`` is what each reads per pass.  Sizes
scale with ``FASTLOGIT_BENCH_SCALE`` (see conftest.py).
"""

import functools

import numpy as np
import pytest
from conftest import _scaled

from fastlogit import reference_split
from fastlogit.row_sources import ArrayRows
from fastlogit.split import SplitDesign, SplitRows

# (nominal rows, dense columns, levels of each categorical)
DESIGNS = [(200_000, 10, (200, 5))]
KERNELS = ["loss_grad", "loss_grad_hessian", "hessp"]
WHICH = ["split", "csr", "reference"]


@functools.lru_cache(maxsize=1)
def problem(n, p, levels):
    """Seeded ``(rows by which, coef, intercept)``; labels drawn from the model at ``coef``."""
    n = _scaled(n)
    rng = np.random.default_rng(2024)
    dense = rng.standard_normal((n, p))
    codes = [rng.integers(-1, L, n).astype(np.int32) for L in levels]  # -1: the reference level
    design = SplitDesign(dense, codes, levels)
    coef = rng.standard_normal(design.n_features) * 0.3
    z = design.to_csr() @ coef + 0.1
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.float64)
    rows = {"split": SplitRows(design, y), "csr": ArrayRows(design.to_csr(), y)}
    return rows, coef, 0.1


def bytes_read(rows):
    if isinstance(rows, SplitRows):
        D = rows.design
        return D.dense.nbytes + D.codes.nbytes
    X = rows.X
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


@pytest.mark.parametrize("which", WHICH)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize(
    "n, p, levels", DESIGNS, ids=[f"{n}x{p}+{'+'.join(map(str, L))}levels" for n, p, L in DESIGNS]
)
def test_split_kernel(benchmark, n, p, levels, kernel, which):
    all_rows, coef, intercept = problem(n, p, tuple(levels))
    rows = all_rows["split" if which == "reference" else which]
    if which == "reference":
        f = twin_call(rows, kernel, coef, intercept)
    elif kernel == "hessp":
        f = functools.partial(rows.hessp, coef, intercept, coef, 0.5)
    else:
        f = functools.partial(getattr(rows, kernel), coef, intercept)
    expected = f()  # warm-up: compiles or loads the kernel from cache
    n_rows = rows.n_samples
    benchmark.group = f"split design {kernel} {n_rows}x({p}+{'+'.join(map(str, levels))} levels)"
    if which != "reference":
        benchmark.extra_info["bytes"] = bytes_read(rows)
        benchmark.extra_info["n_threads"] = rows.n_threads
    out = benchmark(f)
    out, expected = flat(out), flat(expected)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, expected)  # same inputs, same threads: same bits


def twin_call(rows, kernel, coef, intercept):
    """The NumPy twin of ``kernel`` on the split design of ``rows``, summed over the rows."""
    D = rows.design
    codes = [D.codes[:, j] for j in range(D.n_categoricals)]
    args = (D.dense, codes, D.n_levels)
    if kernel == "hessp":
        return functools.partial(
            reference_split.binary_hessp, *args, coef, intercept, coef, 0.5, reduction="sum"
        )
    return functools.partial(
        getattr(reference_split, f"binary_{kernel}"), *args, rows.y, coef, intercept, reduction="sum"
    )


def flat(result):
    """One float64 vector of everything a call returns."""
    parts = result if isinstance(result, tuple) else (result,)
    return np.concatenate([np.ravel(np.asarray(part, dtype=np.float64)) for part in parts])
