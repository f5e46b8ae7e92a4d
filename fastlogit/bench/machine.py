"""What the figures were measured on: CPU, cores, threads, BLAS, library versions,
and whether other programs were competing for the CPUs while they were measured.
"""

import os
import platform
import sys
from importlib import metadata

#: The machine looks busy when the 1-minute load average (runnable threads)
#: exceeds the usable CPUs less this: another program held about a CPU.
BUSY_LOAD_MARGIN = 0.5


def cpu_model():
    """The CPU's marketing name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_info(threads):
    """A JSON-ready dict describing this machine and the libraries in use."""
    from threadpoolctl import threadpool_info

    import fastlogit

    blas = [
        {
            **{
                key: info.get(key)
                for key in (
                    "user_api",
                    "internal_api",
                    "version",
                    "num_threads",
                    "architecture",
                    "threading_layer",
                    "prefix",
                )
            },
            "loaded_by": loaded_by(info.get("filepath")),
        }
        for info in threadpool_info()
    ]
    versions = {
        "python": sys.version.split()[0],
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "scipy": _version("scipy"),
        "scikit-learn": _version("scikit-learn"),
        "fastlogit": fastlogit.__version__,
    }
    for peer in PEER_DISTRIBUTIONS:  # the peers section's libraries, where installed
        if _version(peer) is not None:
            versions[peer] = _version(peer)
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "threads": threads,
        "blas": blas,
        "numba_threading_layer": numba_threading_layer(),
        "versions": versions,
    }


#: The peer libraries whose versions a run records when they are installed.
PEER_DISTRIBUTIONS = ("glum", "tabmat", "scikit-learn-intelex", "daal")
#: How threadpoolctl's ``internal_api`` names read in a report.
LIBRARY_NAMES = {"openblas": "OpenBLAS", "mkl": "MKL", "blis": "BLIS", "flexiblas": "FlexiBLAS"}
#: Who makes an OpenMP runtime, by the prefix of its file name.
OPENMP_VENDORS = {"libgomp": "GNU", "libiomp": "Intel", "libomp": "LLVM", "vcomp": "MSVC"}


def loaded_by(filepath):
    """The package that ships a library, from its path: ``.../site-packages/numpy.libs/...``
    gives "numpy", ``scikit_learn.libs`` "scikit-learn"; None when the path says nothing."""
    if not filepath:
        return None
    parts = filepath.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts and parts.index(marker) + 1 < len(parts) - 1:
            package = parts[parts.index(marker) + 1]
            return package.removesuffix(".libs").removesuffix(".dylibs").replace("_", "-")
    return None


def numba_threading_layer():
    """Numba's threading layer ("omp", "tbb", "workqueue"), or None before a parallel kernel ran."""
    try:
        import numba

        return numba.threading_layer()
    except (ImportError, ValueError):  # ValueError: not initialized yet
        return None


def _short_version(version):
    """``0.3.31.188.0`` (scipy-openblas's wheel version) reads ``0.3.31``."""
    if not version:
        return "(version unknown)"
    return ".".join(str(version).split(".")[:3])


def thread_libraries_text(machine):
    """The BLAS and OpenMP libraries in use, readably: "BLAS: OpenBLAS 0.3.30 (pthreads,
    SkylakeX; NumPy's), 2 threads. OpenMP: libgomp (GNU; scikit-learn's), 2 threads."."""
    pools = machine.get("blas") or []

    def owner(pool):
        return f"{pool['loaded_by']}'s" if pool.get("loaded_by") else None

    blas, openmp = [], []
    for pool in pools:
        if pool.get("user_api") == "openmp":
            name = pool.get("prefix") or "OpenMP"
            vendor = next((v for k, v in OPENMP_VENDORS.items() if name.startswith(k)), None)
            detail = "; ".join(x for x in (vendor, owner(pool)) if x)
            openmp.append(f"{name}{f' ({detail})' if detail else ''}, {pool.get('num_threads')} threads")
        else:
            api = pool.get("internal_api") or "unknown"
            name = f"{LIBRARY_NAMES.get(api, api)} {_short_version(pool.get('version'))}"
            inner = ", ".join(x for x in (pool.get("threading_layer"), pool.get("architecture")) if x)
            detail = "; ".join(x for x in (inner, owner(pool)) if x)
            blas.append(f"{name}{f' ({detail})' if detail else ''}, {pool.get('num_threads')} threads")
    text = f"BLAS: {'; '.join(blas) or 'none found'}. OpenMP: {'; '.join(openmp) or 'none loaded'}."
    layer = machine.get("numba_threading_layer")
    if layer:
        text += f" Numba threading layer: {layer}."
    return text


def usable_cpus():
    """The CPUs this process may run on: its affinity mask where the OS has one."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def load_average():
    """The 1-minute load average, or None where the OS keeps none (Windows)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def cpu_seconds():
    """CPU seconds used so far by this process and its finished children (Dask workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def busy_warning(load, unstable, compared):
    """One line saying the machine looked busy during a run, or None when it did not.

    ``load``: ``{"usable_cpus", "start", "end", "bench_cpus"}``, the 1-minute
    load average before and after the run (None where unknown) and the CPUs
    the run itself kept busy on average.  The end load counts the run's own
    threads, so ``bench_cpus`` is taken off it before the comparison with
    ``usable_cpus - BUSY_LOAD_MARGIN``.  ``unstable`` of ``compared``
    comparisons had timings spread beyond the limit.
    """
    limit = load["usable_cpus"] - BUSY_LOAD_MARGIN
    start, end = load["start"], load["end"]
    others_at_end = None if end is None else end - load["bench_cpus"]
    loaded = (start is not None and start > limit) or (others_at_end is not None and others_at_end > limit)
    if not (loaded or unstable):
        return None
    seen = (
        "load average unknown"
        if start is None or end is None
        else f"1-minute load average {start:.2f} at the start, {end:.2f} at the end "
        f"({load['bench_cpus']:.2f} of it this run's own)"
    )
    return (
        f"Warning: the machine looked busy: {seen} on {load['usable_cpus']} usable CPU(s); "
        f"{unstable} of {compared} comparisons unstable. Rerun on a quiet machine before "
        "trusting the figures."
    )
