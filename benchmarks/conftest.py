"""Shared fixtures for the benchmarks: the size scale and seeded input data.

``FASTLOGIT_BENCH_SCALE`` (a float, default 1.0) multiplies the leading
dimension of every benchmark input, so the full suite doubles as a quick
smoke test::

    FASTLOGIT_BENCH_SCALE=1e-4 pytest benchmarks/ --benchmark-disable

Test ids and ``-k`` expressions keep the nominal (full-scale) sizes; the
shapes actually timed appear in each benchmark's group name.
"""

import functools
import os

import numpy as np
import pytest

SCALE = float(os.environ.get("FASTLOGIT_BENCH_SCALE", "1.0"))
SEED = 12345


def _scaled(n):
    return max(1, int(n * SCALE))


# maxsize=1: a (10**5, 1000) float64 input is 800 MB, so hold one array at a
# time; the benchmark modules order their parameters so that every test using
# one (shape, dtype) runs back to back.
@functools.lru_cache(maxsize=1)
def _logits(shape, dtype):
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal(shape, dtype=dtype)
    x *= 10  # logits spanning roughly ±40 reach every regime of the kernels
    return x


@pytest.fixture(scope="session")
def scaled():
    """``scaled(n) -> max(1, int(n * FASTLOGIT_BENCH_SCALE))``."""
    return _scaled


@pytest.fixture(scope="session")
def logits():
    """``logits(shape, dtype)``: seeded N(0, 10**2) data, leading dim scaled.

    ``shape`` is the nominal full-scale shape (a tuple).  The array is
    cached and shared between tests: benchmarks must not write to it.
    """

    def make(shape, dtype):
        actual = (_scaled(shape[0]),) + tuple(shape[1:])
        return _logits(actual, np.dtype(dtype).name)

    return make
