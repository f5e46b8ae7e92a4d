"""Threads and the kernel cache as the process finds them (fastlogit.runtime).

Small calls stay on the calling thread without starting Numba's pool; the
pool, when started, waits passively unless the user chose otherwise; the
limits joblib and the user set are respected; a read-only install imports
and fits.  Each of these depends on process-wide state, so each runs in a
fresh Python process.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

import fastlogit
from fastlogit.kernels import binary as _binary
from fastlogit.kernels import multinomial as _multinomial
from fastlogit.kernels.rows import ROW_BLOCK
from fastlogit.kernels.special import SOFTMAX_BLOCK_ROWS
from fastlogit.matrix import MIN_WORK_PER_THREAD, KernelCalls, threads_for


def run_python(code, env=None, check=True):
    """stdout of ``code`` run by a fresh interpreter (stderr goes with it when check=False)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_", "NUMBA_NUM"))}
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=full_env
    )
    if check and result.returncode != 0:
        raise AssertionError(f"exit {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip(), result.stderr


# -- serial and parallel twins ---------------------------------------------------------


@pytest.mark.parametrize("K", [2, 3])
def test_serial_twin_gives_the_parallel_kernels_bits(K):
    # The work is split by the n_threads argument, not by the pool: the
    # serial twin run with n_threads=3 sums the same partials in the same order.
    rng = np.random.default_rng(0)
    n, d, T = 1000, 7, 3
    X = rng.standard_normal((n, d))
    sw = rng.random(n)
    if K == 2:
        y = rng.integers(0, 2, n).astype(np.float64)
        args = (X, y, rng.standard_normal(d), 0.3, sw, T)
        outs = [(np.empty((T, d + 2)), np.empty((T, 2, 256))) for _ in range(2)]
        _binary.loss_grad.serial(*args, *outs[0])
        _binary.loss_grad.parallel(*args, *outs[1])
    else:
        y = rng.integers(0, K, n).astype(np.intp)
        args = (X, y, rng.standard_normal((K, d)), rng.standard_normal(K), sw, T)
        scratch = (T, K + SOFTMAX_BLOCK_ROWS, ROW_BLOCK)  # as matrix.KernelCalls sizes it
        outs = [(np.empty((T, K, d + 1)), np.empty(T), np.empty(scratch)) for _ in range(2)]
        _multinomial.loss_grad.serial(*args, *outs[0])
        _multinomial.loss_grad.parallel(*args, *outs[1])
    for a, b in zip(outs[0][:-1], outs[1][:-1]):
        np.testing.assert_array_equal(a, b)


def test_threads_grow_with_the_work():
    assert threads_for(8, 1, 2) == 1
    assert threads_for(8, 2 * MIN_WORK_PER_THREAD - 1, 2) == 1
    assert threads_for(8, 2 * MIN_WORK_PER_THREAD, 2) == 2
    assert threads_for(8, MIN_WORK_PER_THREAD, 10) == 8  # classes multiply the work
    assert threads_for(2, 100 * MIN_WORK_PER_THREAD, 2) == 2  # never above the request


def test_public_kernel_results_do_not_depend_on_the_request_below_the_threshold():
    # A small call runs on one thread whatever n_threads allows: bit-identical.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 10))
    y = rng.integers(0, 2, 500)
    w = rng.standard_normal(10)
    one = fastlogit.binary_loss_grad(X, y, w, n_threads=1)
    allowed = fastlogit.binary_loss_grad(X, y, w)
    assert one[0] == allowed[0] and one[2] == allowed[2]
    np.testing.assert_array_equal(one[1], allowed[1])
    assert KernelCalls(10, 2, 1).n_threads == 1


# -- the pool ---------------------------------------------------------------------------

POOL_STATE = """
import ctypes, os, sys
import numpy as np
import numba
import fastlogit

def pool_started():
    try:
        numba.threading_layer()
    except ValueError:
        return False
    return True

rng = np.random.default_rng(0)
X = rng.standard_normal((2000, 20))
y = (X[:, 0] > 0).astype(int)
fastlogit.binary_loss_grad(X, y, np.zeros(20))
fastlogit.LogisticRegression().fit(X, y)
fastlogit.LogisticRegression().fit(X, rng.integers(0, 3, 2000))
small = pool_started()
big = rng.standard_normal((200_000, 20))
fastlogit.binary_loss_grad(big, (big[:, 0] > 0).astype(int), np.zeros(20))
print(small, pool_started(), numba.threading_layer(), os.environ.get("OMP_WAIT_POLICY"))
sys.stdout.flush()
if numba.threading_layer() == "omp":
    ctypes.CDLL("libgomp.so.1").omp_display_env(0)  # the ICVs, on stderr
"""


def wait_policy(stderr):
    line = next((x for x in stderr.splitlines() if "OMP_WAIT_POLICY" in x), "")
    return line.split("=")[-1].strip().strip("'") or None


@pytest.mark.skipif(os.cpu_count() < 2, reason="one CPU: every kernel runs serially")
def test_small_work_never_starts_the_pool_and_the_pool_waits_passively():
    out, err = run_python(POOL_STATE)
    small, big, layer, env_after = out.split()
    assert small == "False"  # kernels, a binary and a softmax fit: all serial
    assert big == "True"
    assert env_after == "None"  # the policy was in the environment only while the pool loaded
    if layer == "omp":
        assert wait_policy(err) == "PASSIVE"


@pytest.mark.skipif(os.cpu_count() < 2, reason="one CPU: every kernel runs serially")
def test_the_users_wait_policy_is_kept():
    out, err = run_python(POOL_STATE, env={"OMP_WAIT_POLICY": "active"})
    *_, layer, env_after = out.split()
    assert env_after == "active"
    if layer == "omp":
        assert wait_policy(err) == "ACTIVE"


@pytest.mark.skipif(os.cpu_count() < 2, reason="one CPU: one thread is all there is")
def test_thread_limits_from_the_environment():
    code = "from fastlogit.data import check_n_threads; print(check_n_threads(None))"
    assert run_python(code, {"OMP_NUM_THREADS": "1"})[0] == "1"  # as scikit-learn's OpenMP code
    assert run_python(code, {"OMP_NUM_THREADS": "1,1"})[0] == "1"
    # NUMBA_NUM_THREADS, the user's explicit choice for Numba, wins.
    assert run_python(code, {"OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "2"})[0] == "2"


def test_joblib_workers_get_their_share_of_the_cores():
    joblib = pytest.importorskip("joblib")
    from fastlogit.data import check_n_threads

    n_jobs = 2
    shares = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(check_n_threads)(None) for _ in range(n_jobs))
    assert shares == [max(1, joblib.cpu_count() // n_jobs)] * n_jobs


# -- read-only installs -----------------------------------------------------------------

READ_ONLY_FIT = """
import os, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import numpy as np
    import fastlogit
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 4))
    model = fastlogit.LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
mine = [str(w.message) for w in caught if "fastlogit" in str(w.message)]
cache = os.environ.get("NUMBA_CACHE_DIR", "")
print(len(mine), model.score(X, (X[:, 0] > 0).astype(int)) > 0.9, cache.startswith(os.environ["TMPDIR"]),
      any(name.endswith(".nbi") for _, _, files in os.walk(cache) for name in files))
"""


def test_import_and_fit_with_a_read_only_package_and_home(tmp_path):
    """The package folder and $HOME read-only (bind mounts in a private mount
    namespace), NUMBA_CACHE_DIR unset: one warning, a working fit, and the
    cache in a private folder under the temporary directory."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare and mount (util-linux)")
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace")
    package = Path(fastlogit.__file__).resolve().parent
    home = tmp_path / "home"
    (home / ".cache").mkdir(parents=True)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    script = tmp_path / "fit.py"
    script.write_text(textwrap.dedent(READ_ONLY_FIT))
    shell = (
        f"mount --bind {package} {package} && mount -o remount,bind,ro {package} {package} && "
        f"mount --bind {home} {home} && mount -o remount,bind,ro {home} {home} && "
        f"exec {sys.executable} {script}"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(HOME=str(home), TMPDIR=str(tmpdir))
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no private mount namespace here: {probe.stderr.decode().strip()}")
    result = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, env=env)
    if "mount:" in result.stderr and result.returncode != 0:
        pytest.skip(f"bind mounts refused: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True", "True", "True"], result.stdout + result.stderr
    assert (package / "__init__.py").exists()  # the mounts were private: nothing changed here
    assert tempfile.gettempdir() != str(tmpdir)
