"""Numba kernels: pure functions on validated arrays (see ARCHITECTURE.md).

Nothing here checks its inputs or raises for bad data; :mod:`fastlogit.data`
guarantees dtypes, layouts and shapes before a kernel is called.
"""

from ..runtime import ensure_cache_dir

# Before any kernel below is defined: Numba refuses to define a cached function
# when it has nowhere to write its cache (see fastlogit.runtime).
ensure_cache_dir()
