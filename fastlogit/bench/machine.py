"""What the figures were measured on: CPU, cores, threads, BLAS, library versions."""

import os
import platform
import sys
from importlib import metadata


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
            key: info.get(key)
            for key in (
                "user_api",
                "internal_api",
                "version",
                "num_threads",
                "architecture",
                "threading_layer",
            )
        }
        for info in threadpool_info()
    ]
    return {
        "cpu": cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cores": os.cpu_count(),
        "threads": threads,
        "blas": blas,
        "versions": {
            "python": sys.version.split()[0],
            "numpy": _version("numpy"),
            "numba": _version("numba"),
            "scipy": _version("scipy"),
            "scikit-learn": _version("scikit-learn"),
            "fastlogit": fastlogit.__version__,
        },
    }
