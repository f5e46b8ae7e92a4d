"""Input validation: everything public calls this once, kernels trust the result.

Each function takes the user's object and the argument's name, and returns an
array in the layout the kernels need, or raises a ``TypeError`` /
``ValueError`` that names the argument and the problem.
"""

import numpy as np

#: Float dtypes the kernels are compiled for.
KERNEL_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(x, name):
    """Return ``(array, was_scalar)`` with ``array`` C-contiguous float32/float64.

    - float32 and float64 are kept (no copy when already C-contiguous);
    - float16 is computed in float32, long double in float64;
    - bool and integer input is converted to float64;
    - complex, object, string, datetime and other dtypes raise ``TypeError``.

    A non-contiguous array (a strided view, F-order with ndim > 1) is copied
    once into C order.
    """
    arr = np.asarray(x)
    kind = arr.dtype.kind
    if kind == "f":
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        elif arr.dtype not in KERNEL_FLOATS:
            arr = arr.astype(np.float64)
    elif kind in "biu":
        arr = arr.astype(np.float64)
    elif kind == "c":
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    else:
        raise TypeError(
            f"{name} must be a real number or an array of real numbers, "
            f"got dtype {arr.dtype}"
        )
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)  # (never for 0-d: it would become 1-d)
    return arr, np.ndim(x) == 0


def check_axis(axis, ndim, name="axis"):
    """Normalize ``axis`` (int, negative allowed) against ``ndim``; None is kept."""
    if axis is None:
        return None
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} must be an int or None, got {type(axis).__name__}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{name}={axis} is out of bounds for an array of dimension {ndim}"
        )
    return axis % ndim


def as_matrix(X, name="X"):
    """Validate a data matrix; return ``(X, kernel_X)``.

    ``X`` is the validated matrix (a C-contiguous float32/float64 ndarray or
    a ``scipy.sparse.csr_matrix``/``csr_array`` with float32/float64 data)
    and ``kernel_X`` what the Numba kernels take: the array itself, or the
    tuple ``(data, indices, indptr)``.

    Used in place: C-contiguous float arrays (read-only ones and memmaps
    too) and CSR with float data.  Copied once: other layouts (F-order,
    strided views) into C order, integer/bool data to float64, float16 to
    float32, other sparse formats to CSR.
    """
    import scipy.sparse as sp

    if sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-d, got a sparse array of dimension {X.ndim}")
        if X.format != "csr":
            X = X.tocsr()
        data, _ = as_float_array(X.data, f"{name}.data")
        if data is not X.data:
            X = X.copy()
            X.data = data
    else:
        X, _ = as_float_array(X, name)
        if X.ndim != 2:
            raise ValueError(
                f"{name} must be a 2-d array (n_samples, n_features), got shape {X.shape}"
            )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}; it needs at least one row and one column")
    return X, (X if isinstance(X, np.ndarray) else (X.data, X.indices, X.indptr))



def as_vector(v, length, name, dtype=np.float64):
    """A 1-d C-contiguous numeric array of ``length``, or an error naming ``name``.

    Converted to ``dtype``, or kept in its own numeric dtype when ``dtype``
    is None (no copy when already contiguous).
    """
    arr = np.asarray(v)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got {arr.shape}")
    return np.ascontiguousarray(arr, dtype=dtype)


def as_coef(coef, shape, name):
    """float64 C-contiguous coefficients of exactly ``shape``, finite."""
    arr = np.asarray(coef)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


#: Rows per chunk when a check needs a temporary: it stays O(chunk), not O(n).
CHECK_CHUNK = 1 << 16


def _all_in_chunks(arr, predicate):
    return all(predicate(arr[lo:lo + CHECK_CHUNK]).all() for lo in range(0, arr.shape[0], CHECK_CHUNK))


def find_nonfinite(X):
    """``None``, or ``(row, column, "NaN" | "infinity")`` of the first non-finite entry of ``X``.

    ``X`` is what :func:`as_matrix` returns.  Dense rows are checked
    CHECK_CHUNK at a time (no temporary of size n); CSR checks its stored
    values.
    """
    values = X if isinstance(X, np.ndarray) else X.data
    for lo in range(0, values.shape[0], CHECK_CHUNK):
        chunk = values[lo:lo + CHECK_CHUNK]
        if not np.isfinite(chunk).all():
            # The error path only: locate the first offending entry.
            k = np.flatnonzero(~np.isfinite(chunk.reshape(-1)))[0]
            what = "NaN" if np.isnan(chunk.reshape(-1)[k]) else "infinity"
            if isinstance(X, np.ndarray):
                row, col = divmod(lo * X.shape[1] + int(k), X.shape[1])
            else:
                k += lo
                row, col = int(np.searchsorted(X.indptr, k, side="right")) - 1, int(X.indices[k])
            return int(row), int(col), what
    return None


def check_finite(X, name="X"):
    """Raise ``ValueError`` naming NaN or infinity (and where) if the matrix ``X`` holds one.

    See :func:`find_nonfinite`.  Callers that evaluate a loss anyway may
    defer this until the loss comes out non-finite (NaN or inf anywhere in X
    poisons it).
    """
    found = find_nonfinite(X)
    if found is not None:
        row, col, what = found
        raise ValueError(
            f"Input {name} contains {what} (first at row {row}, column {col}); "
            "every value must be finite"
        )


def _check_finite_labels(arr, name):
    """Raise ``ValueError`` naming NaN or infinity (and the first row) in float labels."""
    if arr.dtype.kind == "f" and not _all_in_chunks(arr, np.isfinite):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])  # the error path only
        what = "NaN" if np.isnan(arr[i]) else "infinity"
        raise ValueError(f"Input {name} contains {what} (first at row {i}); every label must be finite")


def as_binary_labels(y, n, name="y"):
    """Labels in {0, 1}, (n,), in their own numeric dtype (no O(n) copy or temporary)."""
    arr = as_vector(y, n, name, dtype=None)
    _check_finite_labels(arr, name)
    if arr.dtype.kind == "f":
        ok = _all_in_chunks(arr, lambda c: (c == 0) | (c == 1))
    else:
        ok = arr.size == 0 or (arr.min() >= 0 and arr.max() <= 1)
    if not ok:
        raise ValueError(f"{name} must hold only 0 and 1 for a binary model")
    return arr.view(np.uint8) if arr.dtype.kind == "b" else arr


def as_class_indices(y, n, n_classes, name="y"):
    """Class indices in [0, n_classes), (n,), as an integer array.

    Integer labels are used as they are; float labels holding whole numbers
    are converted once to intp.
    """
    arr = as_vector(y, n, name, dtype=None)
    _check_finite_labels(arr, name)
    if arr.dtype.kind == "f":
        if not _all_in_chunks(arr, lambda c: np.mod(c, 1) == 0):
            raise TypeError(f"{name} must hold integer class indices, got non-integer values")
        arr = arr.astype(np.intp)
    elif arr.dtype.kind == "b":
        arr = arr.view(np.uint8)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must hold class indices in [0, {n_classes}) for coef with "
            f"{n_classes} rows, got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def encode_labels(y, classes, name="y"):
    """Labels ``y`` (1-d) as int64 indices into the sorted ``classes``;
    ValueError naming ``name`` and the labels that are not among them."""
    index = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    unknown = classes[index] != y
    if np.any(unknown):
        raise ValueError(
            f"{name} holds labels that are not in classes {classes.tolist()}: "
            f"{np.unique(y[unknown]).tolist()}"
        )
    return index.astype(np.int64, copy=False)


def class_weights_from_counts(class_weight, classes, counts):
    """float64 (K,) per-class multipliers of the sample weights, or None.

    ``counts`` are the classes' total sample weights over the whole data (a
    chunked or distributed source sums them in a pass), so the result is
    scikit-learn's ``compute_class_weight`` on the whole y without holding it.
    """
    if class_weight is None:
        return None
    from sklearn.utils import compute_class_weight

    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict, 'balanced' or None, got {class_weight!r}")
        if not np.all(counts > 0):
            empty = classes[~(counts > 0)].tolist()
            raise ValueError(
                f"class_weight='balanced' needs a positive total weight in every class; classes "
                f"{empty} have none"
            )
        # The classes' weighted counts as sample weights of one row per class:
        # the same arithmetic as on the whole y.
        return np.asarray(compute_class_weight("balanced", classes=classes, y=classes,
                                               sample_weight=counts), dtype=np.float64)
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict, 'balanced' or None, got {type(class_weight).__name__}")
    return np.asarray(compute_class_weight(class_weight, classes=classes, y=classes), dtype=np.float64)


def as_sample_weight(sample_weight, n):
    """None, or nonnegative finite float64 (n,) weights with a positive sum."""
    if sample_weight is None:
        return None
    sw = as_vector(sample_weight, n, "sample_weight")
    # Reductions, not elementwise masks: no temporary of size n.  A NaN or
    # inf anywhere makes the sum non-finite.
    total = sw.sum()
    if not np.isfinite(total):
        raise ValueError("sample_weight must be finite")
    if n and sw.min() < 0:
        raise ValueError("sample_weight must be nonnegative")
    if n and not total > 0:
        raise ValueError("sample_weight must not sum to zero")
    return sw


def check_reduction(reduction):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


def check_n_threads(n_threads):
    """None -> all of Numba's threads; else an int in [1, that]."""
    import numba

    most = numba.config.NUMBA_NUM_THREADS
    if n_threads is None:
        return most
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, (int, np.integer)):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    if not 1 <= n_threads <= most:
        raise ValueError(f"n_threads must be between 1 and {most}, got {n_threads}")
    return int(n_threads)


def as_scalar(value, name):
    """A finite Python float, or an error naming ``name``."""
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(arr)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_estimator_input(X, name="X"):
    """Reject what scikit-learn's ``validate_data`` would quietly convert or word vaguely.

    For :class:`~fastlogit.LogisticRegression`: a datetime, timedelta, string
    or bytes dtype (a TypeError), complex data (scikit-learn's own
    "Complex data not supported", naming ``name``) and an array that is not
    2-d.  Object arrays of numbers stay accepted (scikit-learn converts them);
    objects without a dtype (lists) are left to ``validate_data``.
    """
    dtypes = getattr(X, "dtypes", None)  # a pandas DataFrame: one dtype per column
    if dtypes is None or not hasattr(dtypes, "__iter__"):
        dtypes = [getattr(X, "dtype", None)]
    for dtype in dtypes:
        kind = getattr(dtype, "kind", None)
        if kind == "c":
            raise ValueError(f"Complex data not supported: {name} has complex dtype {dtype}")
        if kind is not None and kind in "MmUS":
            raise TypeError(f"{name} must hold real numbers, got dtype {dtype}")
    ndim = getattr(X, "ndim", None)
    if ndim is not None and ndim != 2:
        raise ValueError(
            f"{name} must be a 2-d array (n_samples, n_features), got shape {X.shape}. "
            "Reshape your data with array.reshape(-1, 1) for a single feature or "
            "array.reshape(1, -1) for a single sample."
        )


#: Chunk sources (out-of-core data) live in :mod:`fastlogit.sources`; their
#: protocol is part of this module's contract, so the names resolve here too.
_SOURCE_NAMES = ("ChunkSource", "ArrayChunks", "ParquetChunks", "npy_source", "ChunkedData")


def __getattr__(name):
    if name in _SOURCE_NAMES:
        from . import sources

        return getattr(sources, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
