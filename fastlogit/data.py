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
