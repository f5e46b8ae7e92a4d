"""fastlogit: fast, numerically exact logistic and softmax regression.

Importing fastlogit compiles nothing: every Numba kernel compiles (or loads
from its on-disk cache) on its first call.
"""

from .functions import log1pexp, log_sigmoid, log_softmax, logsumexp, sigmoid, softmax

__version__ = "0.1.0"

__all__ = ["sigmoid", "log_sigmoid", "log1pexp", "logsumexp", "softmax", "log_softmax"]
