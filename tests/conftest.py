"""Fixtures shared by the test modules."""

import warnings

import numpy as np
import pytest


@pytest.fixture
def floating_point_warnings_are_errors():
    """Any RuntimeWarning or floating-point error (but underflow) fails the test.

    The contract is "no floating-point warnings for any finite or infinite
    input"; underflow to subnormals or 0 is the correct result, not a fault.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            yield
