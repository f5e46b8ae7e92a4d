"""fastlogit: fast, numerically exact logistic and softmax regression.

Importing fastlogit compiles nothing: every Numba kernel compiles (or loads
from its on-disk cache) on its first call.
"""

from .functions import (
    __all__,
    binary_hessian,
    binary_hessp,
    binary_loss_grad,
    binary_predict_raw,
    log1pexp,
    log_sigmoid,
    log_softmax,
    logsumexp,
    multinomial_hessp,
    multinomial_loss_grad,
    multinomial_predict_raw,
    sigmoid,
    softmax,
)

__version__ = "0.1.0"
