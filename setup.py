"""Build the Cython extension(s); all metadata lives in pyproject.toml."""

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# GCC, Clang and MinGW: -fopenmp-simd honours the "omp simd" loops of
# _rows.h (no OpenMP runtime is linked); -ffp-contract=off keeps
# multiplications and additions separate (no FMA), as Numba computes them, so
# that the formulas of _stable.h equal their Numba twins to the bit in the
# AVX2/AVX-512 clones too; -fno-trapping-math lets a loop compute both sides
# of a select (``big ? 0.5 * u : u``), the same values (no floating-point
# exception is ever trapped), so that the formulas' loops vectorize.
# MSVC (and clang-cl) takes none:
# setuptools already optimizes with /Ox (MSVC contracts only under
# /fp:fast or /fp:contract), and the headers leave the pragmas out for it.
GNU_COMPILE_ARGS = ["-O3", "-fopenmp-simd", "-ffp-contract=off", "-fno-trapping-math"]


class BuildExt(build_ext):
    """Compile flags by compiler kind, not by platform (MinGW on Windows is GNU)."""

    def build_extensions(self):
        if self.compiler.compiler_type != "msvc":
            for ext in self.extensions:
                args = list(ext.extra_compile_args or [])
                if args[: len(GNU_COMPILE_ARGS)] != GNU_COMPILE_ARGS:
                    ext.extra_compile_args = GNU_COMPILE_ARGS + args
        super().build_extensions()


extensions = [
    Extension(
        "fastlogit._sgd",
        ["fastlogit/_sgd.pyx"],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=["fastlogit/_stable.h", "fastlogit/_rows.h", "fastlogit/_random.h", "fastlogit/_ahead.h"],
    )
]

setup(
    cmdclass={"build_ext": BuildExt},
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
