"""Numba kernels: pure functions on validated arrays (see ARCHITECTURE.md).

Nothing here checks its inputs or raises for bad data; :mod:`fastlogit.data`
guarantees dtypes, layouts and shapes before a kernel is called.
"""
