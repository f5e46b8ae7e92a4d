"""Benchmarks of the special functions: fastlogit against its NumPy reference and scipy.

Run the full suite (slow: the largest inputs are 10**8 elements)::

    pytest benchmarks/test_special.py --benchmark-only

or only the headline cases, e.g.::

    pytest benchmarks/test_special.py --benchmark-only -k "10000000 and float64 and sigmoid"
    pytest benchmarks/test_special.py --benchmark-only -k "logsumexp and 1000000x10"

Each (function, dtype, shape) is one pytest-benchmark group, so the table
shows the implementations side by side at each size.  Set
``FASTLOGIT_BENCH_SCALE`` to shrink the inputs (see ``conftest.py``); with
``FASTLOGIT_BENCH_SCALE=1e-4 ... --benchmark-disable`` every benchmark runs
once as a smoke test of the outputs' shape and dtype.
"""

import functools

import numpy as np
import pytest
import scipy.special

import fastlogit
from fastlogit import reference

ELEMENTWISE = {
    "sigmoid": {
        "fastlogit": fastlogit.sigmoid,
        "reference": reference.sigmoid,
        "scipy": scipy.special.expit,
    },
    "log_sigmoid": {
        "fastlogit": fastlogit.log_sigmoid,
        "reference": reference.log_sigmoid,
        "scipy": scipy.special.log_expit,
    },
    # scipy has no softplus; logaddexp(0, x) is the stable NumPy spelling.
    "log1pexp": {
        "fastlogit": fastlogit.log1pexp,
        "reference": reference.log1pexp,
        "numpy": functools.partial(np.logaddexp, 0),
    },
}

ROWWISE = {
    "logsumexp": {
        "fastlogit": fastlogit.logsumexp,
        "reference": reference.logsumexp,
        "scipy": scipy.special.logsumexp,
    },
    "softmax": {
        "fastlogit": fastlogit.softmax,
        "reference": reference.softmax,
        "scipy": scipy.special.softmax,
    },
    "log_softmax": {
        "fastlogit": fastlogit.log_softmax,
        "reference": reference.log_softmax,
        "scipy": scipy.special.log_softmax,
    },
}

DTYPES = ["float64", "float32"]
SIZES = [10**3, 10**5, 10**7]
# Many short rows (the multinomial loss's case) and fewer long ones.
ROW_SHAPES = [(10**6, 10), (10**5, 1000)]


def _impls(table):
    return [
        pytest.param(func, which, id=f"{func}-{which}") for func, impls in table.items() for which in impls
    ]


def _run(benchmark, func, fn, x):
    benchmark.group = f"{func} {x.dtype} {x.shape}"
    # The first fastlogit call compiles its Numba kernel (or loads it from
    # cache) for this dtype and for the serial or parallel variant that this
    # size selects; that must happen outside the timed region.
    fn(x)
    return benchmark(fn, x)


# Parameters nearest the function vary slowest: each (shape, dtype) input is
# generated once and then used by every function and implementation in turn.
@pytest.mark.parametrize(("func", "which"), _impls(ELEMENTWISE))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", SIZES)
def test_elementwise(benchmark, logits, size, dtype, func, which):
    x = logits((size,), dtype)
    out = _run(benchmark, func, ELEMENTWISE[func][which], x)
    assert out.shape == x.shape
    assert out.dtype == x.dtype


@pytest.mark.parametrize(("func", "which"), _impls(ROWWISE))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ROW_SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rowwise(benchmark, logits, shape, dtype, func, which):
    a = logits(shape, dtype)
    fn = functools.partial(ROWWISE[func][which], axis=-1)
    out = _run(benchmark, func, fn, a)
    assert out.shape == (a.shape[:-1] if func == "logsumexp" else a.shape)
    assert out.dtype == a.dtype
