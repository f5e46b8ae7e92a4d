"""BLAS's thread pool while Numba's runs: one module, imported by the layers that call BLAS.

Imports nothing of fastlogit (see ARCHITECTURE.md).
"""

import threading
from contextlib import contextmanager

_blas_controller = None
# BLAS limits are process-wide, and fits may run in several Python threads:
# the first region to enter sets the limit, the last to leave restores it
# (nested "limit" contexts would restore out of order: one fit leaving would
# lift the limit under another, and the last could leave BLAS at 1 thread).
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter = None


@contextmanager
def serial_blas():
    """Limit BLAS to one thread while a solver's own vector work runs.

    The data passes run on Numba's OpenMP threads, which spin-wait after each
    parallel region; OpenBLAS's threads (scipy carries its own copy) spin
    too.  Alternating the two pools on the same cores made L-BFGS-B on
    digits 17x slower (1.18 s instead of 0.07 s), while the solvers' BLAS
    work (vectors of n_params, a Cholesky of at most 33 x 33) gains nothing
    from threads.  The controller is built once (a 4 ms library scan); each
    limit costs about 10 microseconds.  Thread-safe: overlapping regions of
    concurrent fits hold one limit between them.
    """
    global _blas_controller, _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_controller is None:
            import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS before the scan)
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()
        if _blas_depth == 0:
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
