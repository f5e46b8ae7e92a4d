"""Build the Cython extension(s); all metadata lives in pyproject.toml."""
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = [
    Extension(
        "fastlogit._sgd",
        ["fastlogit/_sgd.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["fastlogit/_stable.h", "fastlogit/_rows.h"],
        # -fopenmp-simd: honour the "omp simd" reductions of _rows.h (no
        # OpenMP runtime is linked).
        extra_compile_args=[] if sys.platform == "win32" else ["-O3", "-fopenmp-simd"],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)
