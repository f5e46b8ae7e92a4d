# cython: language_level=3
"""Minibatch SGD loop for logistic and softmax regression (Cython, nogil).

The loop itself lands with the SGD issue; this module is built at install so
that the build chain (Cython, a C compiler, NumPy headers) is exercised from
the first commit.
"""
import cython


def compiled_with_cython():
    """True: this module is the compiled extension, not a Python fallback."""
    return cython.compiled
