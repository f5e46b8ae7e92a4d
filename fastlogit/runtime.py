"""What fastlogit asks of the process it runs in: a kernel cache and a thread pool
that does not spin.

Both are settings of Numba (and of the OpenMP runtime under it) that a user
may have chosen already; a choice the user made is never overridden.

- **The kernel cache.**  Every kernel is ``@njit(cache=True)``: its machine
  code is written beside the source (``__pycache__``) or under the user's
  cache folder (``~/.cache/numba``).  In a container or on a locked-down
  server both can be read-only, and Numba then refuses to define a cached
  function at all.  :func:`ensure_cache_dir` (run by ``import fastlogit.kernels``,
  before any kernel is defined) finds that case and points Numba at a
  private folder under the temporary directory, with one warning.
- **The thread pool.**  Numba's OpenMP threads spin-wait between parallel
  regions.  On a busy machine (a second notebook using fastlogit, the k
  joblib workers of a ``GridSearchCV``) the spinning threads of one process
  hold the cores that another process's parallel region waits for, and a
  0.07 ms kernel call took 6-7 ms.  :func:`start_thread_pool` starts the pool
  with a passive wait policy (threads sleep between regions), unless the
  user set ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` or a threading layer, or
  the pool is already running.  The policy is set in the environment only
  while the pool's OpenMP runtime loads, so no other library's OpenMP is
  touched.  What it costs on a quiet machine, and the work below which a
  kernel stays on one thread (and never starts the pool), is measured by
  ``benchmarks/test_contention.py``; see ``fastlogit.matrix.MIN_WORK_PER_THREAD``.
"""

import os
import tempfile
import threading
import warnings

#: Environment variables by which a user chooses how OpenMP threads wait (or
#: the threading layer): when any is set, the pool starts as Numba would.
USER_WAIT_CHOICES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "NUMBA_THREADING_LAYER")

_pool_lock = threading.Lock()
_pool_started = False


def _pool_running():
    import numba

    try:
        numba.threading_layer()
    except ValueError:  # "Threading layer is not initialized."
        return False
    return True


def start_thread_pool():
    """Start Numba's thread pool (once per process), passive unless the user chose.

    Called before the first parallel kernel; a process whose kernels all run
    on one thread never starts the pool.
    """
    global _pool_started
    if _pool_started:
        return
    import numba

    with _pool_lock:
        if _pool_started:
            return
        if _pool_running() or any(name in os.environ for name in USER_WAIT_CHOICES):
            numba.get_num_threads()  # starts the pool, if it was not running
        else:
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            try:
                numba.get_num_threads()
            finally:
                del os.environ["OMP_WAIT_POLICY"]
        _pool_started = True


def _probe():
    return 0


def private_cache_dir():
    """The folder for Numba's cache when its own places are read-only: one per user."""
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"fastlogit-numba-cache-{user}")


def ensure_cache_dir():
    """Give Numba a writable cache folder if it has none; warn once when doing so.

    Nothing happens when the user set ``NUMBA_CACHE_DIR`` or when Numba can
    cache beside the sources or in the user's cache folder (it can, unless
    both are read-only).  Otherwise the cache goes to
    :func:`private_cache_dir` (created with mode 0700), for this process and
    the processes it starts.  Returns the folder chosen, or None.
    """
    import numba
    from numba.core import config

    if config.CACHE_DIR:
        return None
    try:
        numba.njit(cache=True)(_probe)
        return None
    except RuntimeError:  # "cannot cache function ...: no locator available"
        pass
    path = private_cache_dir()
    os.makedirs(path, mode=0o700, exist_ok=True)
    # Both: Numba re-reads its settings from the environment before compiling.
    os.environ["NUMBA_CACHE_DIR"] = path
    config.CACHE_DIR = path
    warnings.warn(
        "fastlogit: Numba cannot write its cache beside the installed package nor under the "
        f"user's cache folder (both read-only); compiled kernels are cached in {path}. "
        "Set NUMBA_CACHE_DIR to choose another folder.",
        RuntimeWarning,
        stacklevel=3,
    )
    return path
