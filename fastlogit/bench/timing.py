"""Wall-clock timings with their spread, and the peak memory of one call."""

import gc
import time
import tracemalloc

import numpy as np

#: A measurement shorter than this is dominated by timer and call overhead:
#: such calls are repeated inside one measurement and the time divided.
MIN_MEASUREMENT_S = 0.002
#: Pause before a measurement of fastlogit.  OpenBLAS's threads keep spinning
#: for about 0.1 s after its last call (2^28 cycles), and on a machine with as
#: many cores as threads they take the CPU from fastlogit's threads: on a
#: 2-core AMD EPYC, ``logsumexp`` of 10 000 x 10 timed right after the
#: reference's K = 10 ``multinomial_hessp`` at 10 000 x 100 took 6.7 ms with no
#: pause, 3.3 ms after 0.1 s and 1.1 ms after 0.15 s or more.  A baseline
#: (the reference, scikit-learn) needs no pause: fastlogit's own thread pool
#: sleeps between parallel regions (:func:`fastlogit.runtime.start_thread_pool`).
#: Pausing only before fastlogit took 0.25 s x 51 = 13 s of sleep out of a
#: 70 s ``fastlogit bench --quick`` down to about 5 s.
SETTLE_S = 0.2
#: A comparison is flagged unstable when either side's timings vary by more
#: than this factor (max / min over the repeats): on a quiet machine repeats
#: of one call agree within tens of percent, so 2x means something else took
#: the CPU during some of them.
UNSTABLE_SPREAD = 2.0


def summarize(times):
    """``{"times_s", "median_s", "min_s", "max_s", "q1_s", "q3_s"}`` of seconds per call."""
    t = np.asarray(times, dtype=np.float64)
    q1, median, q3 = np.percentile(t, [25, 50, 75])
    return {
        "times_s": [float(v) for v in t],
        "median_s": float(median),
        "min_s": float(t.min()),
        "max_s": float(t.max()),
        "q1_s": float(q1),
        "q3_s": float(q3),
    }


def spread(summary):
    """max / min of a :func:`summarize` record: 1 when every repeat took the same time."""
    return summary["max_s"] / summary["min_s"]


def is_unstable(*summaries):
    """Whether any of the :func:`summarize` records spreads beyond :data:`UNSTABLE_SPREAD`."""
    return any(spread(s) > UNSTABLE_SPREAD for s in summaries)


def _timed(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def measure(fn, repeats, warm_up=True, settle=True):
    """Time ``fn()`` ``repeats`` times; returns :func:`summarize` of seconds per call.

    ``settle``: pause :data:`SETTLE_S` first (before measuring fastlogit, see
    there; a baseline's measurement passes False).

    The warm-up call compiles (or loads from cache) every Numba kernel the
    call uses, so compilation is never inside a measurement.  Calls faster
    than :data:`MIN_MEASUREMENT_S` are looped within each measurement.
    """
    if settle:
        time.sleep(SETTLE_S)
    if warm_up:
        fn()
    number = 1
    while (elapsed := _timed(fn, number)) < MIN_MEASUREMENT_S and number < 10**6:
        number *= 10
    times = [elapsed / number] + [_timed(fn, number) / number for _ in range(repeats - 1)]
    return summarize(times)


def peak_memory(fn):
    """Peak bytes allocated during ``fn()`` beyond what was live before it.

    Uses tracemalloc, which sees every NumPy array (temporaries included)
    but not buffers allocated inside Numba-compiled code.
    """
    fn()  # warm-up: compile or load kernels outside the traced region
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return max(0, peak - before)
