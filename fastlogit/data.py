"""The argument rules: everything public calls these once, kernels trust the result.

Each rule is one function, called wherever it applies (in memory, in chunks,
on Dask blocks): it takes the user's object and the argument's name, and
returns an array in the layout the kernels need, or raises a ``TypeError`` /
``ValueError`` that names the argument and the problem.  The bottom layer:
this module imports nothing of fastlogit (see ARCHITECTURE.md).
"""

import math

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
        raise TypeError(f"{name} must be a real number or an array of real numbers, got dtype {arr.dtype}")
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
        raise ValueError(f"{name}={axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def as_matrix(X, name="X"):
    """Validate a data matrix: a C-contiguous float32/float64 ndarray or a
    ``scipy.sparse.csr_matrix``/``csr_array`` with float32/float64 data.

    What the Numba kernels take of it is :func:`fastlogit.matrix.kernel_view`.

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
            raise ValueError(f"{name} must be a 2-d array (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {X.shape}; it needs at least one row and one column")
    return X


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


def all_finite(*arrays):
    """Whether every entry of ``arrays`` (ndarrays or scalars) is finite.

    A finite sum means every term is finite (an inf or NaN term makes it inf or
    NaN): one reduction, no temporary.  Only a non-finite sum (rare: NaN or inf,
    or an overflow of finite values) is looked at entry by entry.
    """
    total = 0.0
    # inf + -inf in the sum is NaN, as it should be here: not a warning (or,
    # under np.errstate(all="raise"), a FloatingPointError) for the caller.
    with np.errstate(invalid="ignore", over="ignore"):
        for a in arrays:
            total += float(a.sum()) if isinstance(a, np.ndarray) else float(a)
    return math.isfinite(total) or all(np.isfinite(a).all() for a in arrays)


def as_coef(coef, shape, name):
    """float64 C-contiguous coefficients of exactly ``shape``, finite."""
    arr = np.asarray(coef)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not all_finite(arr):
        raise ValueError(f"{name} must be finite")
    return arr


#: Rows per chunk when a check needs a temporary: it stays O(chunk), not O(n).
CHECK_CHUNK = 1 << 16


def _all_in_chunks(arr, predicate):
    if arr.shape[0] <= CHECK_CHUNK:
        return bool(predicate(arr).all())
    return all(predicate(arr[lo : lo + CHECK_CHUNK]).all() for lo in range(0, arr.shape[0], CHECK_CHUNK))


def check_finite_labels(arr, name="y", offset=0):
    """Raise ``ValueError`` naming NaN or infinity (and the first row) in float labels.

    ``offset``: the row number of ``arr[0]`` in the whole data (a chunk's or a
    block's labels).
    """
    if arr.dtype.kind == "f" and not _all_in_chunks(arr, np.isfinite):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])  # the error path only
        what = "NaN" if np.isnan(arr[i]) else "infinity"
        raise ValueError(
            f"Input {name} contains {what} (first at row {offset + i}); every label must be finite"
        )


def as_label_vector(y, n, name="y", rows_of="X"):
    """Labels of any kind as a 1-d array of ``n`` (an (n, 1) column is flattened, a view)."""
    y = y if isinstance(y, np.ndarray) else np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.reshape(-1)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(
            f"{name} must be 1-d with one label per row of {rows_of} ({n}): it must have shape "
            f"({n},), got {y.shape}"
        )
    return y


def as_classes(classes, name="classes"):
    """The sorted distinct labels given as ``classes``: at least two."""
    classes = np.unique(np.asarray(classes))
    if len(classes) < 2:
        raise ValueError(f"{name} must hold at least 2 classes, got {classes.tolist()}")
    return classes


def label_codes(y):
    """``(classes, codes)``: the sorted distinct labels of the 1-d ``y`` and each row's
    index among them (intp), as ``np.unique(y, return_inverse=True)`` gives them, after
    scikit-learn's ``check_classification_targets``.

    Integer (and bool) labels, always classification targets, and floats that are
    whole numbers take a counting pass
    instead of a sort when their range is at most a few times n: four linear passes, where
    the sort and scikit-learn's separate ``type_of_target`` sort took 40 ms at 10^6 rows
    (a sixth of an SGD epoch at 10^6 x 100).  Anything else goes through the checks and
    ``np.unique``.
    """
    y = np.asarray(y)
    counted = y.dtype.kind == "i" or y.dtype == np.bool_ or (y.dtype.kind == "u" and y.itemsize < 8)
    if y.ndim == 1 and y.size and y.dtype.kind == "f":
        # Whole numbers in a float array (0.0/1.0 labels): counted as well.
        lo, hi = float(y.min()), float(y.max())
        counted = math.isfinite(lo) and math.isfinite(hi) and hi - lo <= max(4 * y.size, 1 << 16)
        counted = counted and np.array_equal(y, np.floor(y))
    if y.ndim == 1 and y.size and counted:
        ints = y.astype(np.intp, copy=False)
        lo, hi = int(ints.min()), int(ints.max())
        if hi - lo <= max(4 * y.size, 1 << 16):
            shifted = ints - lo if lo else ints
            present = np.flatnonzero(np.bincount(shifted, minlength=hi - lo + 1))
            lookup = np.empty(hi - lo + 1, dtype=np.intp)
            lookup[present] = np.arange(present.size)
            return (present + lo).astype(y.dtype), lookup[shifted]
    from sklearn.utils.multiclass import check_classification_targets

    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    return classes, codes.reshape(-1).astype(np.intp, copy=False)


def check_two_classes(classes, class_totals=None, *, where="the data", weighted=True):
    """Raise ``ValueError`` unless the data hold at least 2 classes (with a positive weight).

    ``classes``: the labels seen (sorted); ``class_totals``: their total
    weights, or None (every class seen has a row).  ``weighted``: whether
    the totals come from sample (or class) weights, which then are what
    left a class empty.
    """
    if len(classes) < 2:
        only = f"only one class: {classes[0]!r}" if len(classes) else "no labels"
        raise ValueError(
            f"LogisticRegression needs samples of at least 2 classes in the data, but {where} contains {only}"
        )
    if class_totals is not None:
        present = np.asarray(class_totals) > 0
        if present.sum() < 2:
            kept = classes[present].tolist()
            if weighted:
                raise ValueError(
                    f"sample_weight leaves only one class with a positive weight ({kept}) in "
                    f"{where}; fitting needs at least 2 classes"
                )
            raise ValueError(
                f"LogisticRegression needs samples of at least 2 classes in the data, but {where} "
                f"contains only {kept}"
            )


def as_binary_labels(y, n, name="y"):
    """Labels in {0, 1}, (n,), in their own numeric dtype (no O(n) copy or temporary)."""
    arr = as_vector(y, n, name, dtype=None)
    if arr.dtype.kind == "f":
        ok = _all_in_chunks(arr, lambda c: (c == 0) | (c == 1))
    else:
        ok = arr.size == 0 or (arr.min() >= 0 and arr.max() <= 1)
    if not ok:
        # NaN and infinity fail the test above: name them first (the rare path).
        check_finite_labels(arr, name)
        raise ValueError(f"{name} must hold only 0 and 1 for a binary model")
    return arr.view(np.uint8) if arr.dtype.kind == "b" else arr


def as_class_indices(y, n, n_classes, name="y"):
    """Class indices in [0, n_classes), (n,), as an integer array.

    Integer labels are used as they are; float labels holding whole numbers
    are converted once to intp.
    """
    arr = as_vector(y, n, name, dtype=None)
    check_finite_labels(arr, name)
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


def as_fold_ids(fold, n, n_folds, name="fold"):
    """Cross-validation fold ids, one per row, in [0, n_folds): int64 (n,) C-contiguous.

    Integer arrays only (no copy when already int64 and contiguous): a float
    or bool array is a ``TypeError``, a wrong shape or a value out of range a
    ``ValueError``, each naming ``name``.
    """
    arr = np.asarray(fold)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer fold ids, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must be 1-d with one fold id per row of X ({n}): it must have shape ({n},), "
            f"got {arr.shape}"
        )
    if arr.size and (arr.min() < 0 or arr.max() >= n_folds):
        raise ValueError(
            f"{name} must hold fold ids in [0, {n_folds}) for {n_folds} models, got values in "
            f"[{arr.min()}, {arr.max()}]"
        )
    return np.ascontiguousarray(arr, dtype=np.int64)


def position_fold_ids(start, n, n_folds, seed=0):
    """Fold ids of the rows ``start .. start + n - 1`` of a data set read in pieces:
    int64 (n,) in [0, n_folds), a function of the row's position and ``seed``
    only (not of how the rows are chunked or which worker reads them).

    Each id is a 64-bit mix of the position (splitmix64's finalizer) modulo
    ``n_folds``: folds of nearly equal size, in no order of the rows (a file
    sorted by date or label still gives every fold a share of each), and the
    same ids whatever the chunking, for out-of-core and Dask
    cross-validation where the rows are never all in memory.  Not stratified.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, got {n_folds}")
    z = np.arange(start, start + n, dtype=np.uint64)
    z += np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64))
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return (z % np.uint64(n_folds)).astype(np.int64)


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
            empty = classes[~(counts > 0)].tolist()  # (only the error path)
            raise ValueError(
                f"class_weight='balanced' needs a positive total weight in every class; classes "
                f"{empty} have none"
            )
        # The classes' weighted counts as sample weights of one row per class:
        # the same arithmetic as on the whole y.
        return np.asarray(
            compute_class_weight("balanced", classes=classes, y=classes, sample_weight=counts),
            dtype=np.float64,
        )
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be a dict, 'balanced' or None, got {type(class_weight).__name__}")
    return np.asarray(compute_class_weight(class_weight, classes=classes, y=classes), dtype=np.float64)


def check_weight_values(sw, name="sample_weight"):
    """Raise ``ValueError`` unless the float64 weights ``sw`` are finite and
    nonnegative; return their sum.

    Reductions, not elementwise masks: no temporary of size n.  A NaN or inf
    anywhere makes the sum non-finite.
    """
    total = float(sw.sum())
    if not np.isfinite(total):
        raise ValueError(f"{name} must be finite")
    if sw.size and sw.min() < 0:
        raise ValueError(f"{name} must be nonnegative")
    return total


def as_sample_weight(sample_weight, n, name="sample_weight"):
    """None, or nonnegative finite float64 (n,) weights with a positive sum."""
    if sample_weight is None:
        return None
    sw = as_vector(sample_weight, n, name)
    total = check_weight_values(sw, name)
    if n and not total > 0:
        raise ValueError(f"{name} must not sum to zero")
    return sw


def check_reduction(reduction):
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    return reduction


def default_n_threads():
    """The threads a kernel may use: Numba's (``NUMBA_NUM_THREADS``, which
    joblib sets in its worker processes), capped by ``OMP_NUM_THREADS`` when
    that is set and ``NUMBA_NUM_THREADS`` is not, as scikit-learn's OpenMP
    code is.  Read at each call, so a limit set after import holds."""
    import os

    import numba

    most = numba.config.NUMBA_NUM_THREADS
    if "NUMBA_NUM_THREADS" not in os.environ:
        first = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
        if first.isdigit() and int(first) >= 1:
            most = min(most, int(first))
    return most


def as_group_codes(groups, n, name="groups"):
    """Cluster labels, one per row, as ``(codes, n_groups)``: int codes in
    [0, n_groups) (labels sorted as ``np.unique`` sorts them).  Any labels that
    ``np.unique`` can sort (ints, strings, floats); a ``ValueError`` naming
    ``name`` for a wrong length, a missing label (NaN, None) or not 1-d."""
    arr = np.asarray(groups)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-d (one cluster label per row), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} labels, but the data has {n} rows")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity (first at row {int(np.argmin(np.isfinite(arr)))})")
    if arr.dtype.kind == "O":
        missing = [i for i, v in enumerate(arr) if v is None or (isinstance(v, float) and v != v)]
        if missing:
            raise ValueError(f"{name} contains a missing label (None or NaN; first at row {missing[0]})")
    try:
        labels, codes = np.unique(arr, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"{name} must hold labels of one sortable type: {exc}") from None
    return codes.astype(np.intp, copy=False).reshape(-1), len(labels)


def check_n_threads(n_threads):
    """None -> :func:`default_n_threads`; else an int in [1, Numba's threads]."""
    import numba

    most = numba.config.NUMBA_NUM_THREADS
    if n_threads is None:
        return default_n_threads()
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
