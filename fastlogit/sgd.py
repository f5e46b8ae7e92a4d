"""The driver of the Cython SGD loop: state, schedules, early stopping, divergence.

:func:`fit_sgd` runs epochs of :mod:`fastlogit._sgd` (the nogil minibatch
loop) and makes the decisions taken between epochs.  It is what
``LogisticRegression(solver="sgd")`` and ``partial_fit`` call; inputs are
trusted (the estimator validates them with :mod:`fastlogit.data`).

The objective is scikit-learn's (see :mod:`fastlogit.objective`)::

    (1/S) sum_i s_i loss_i + (1 - l1_ratio) / (2 C S) ||W||^2 + l1_ratio / (C S) ||W||_1

S the sum of sample weights.  A minibatch of m rows estimates the data
term's gradient by ``(1/m) sum_B (n/S) s_i grad loss_i`` (weights
normalized to mean 1), so every schedule sees the same scale with or
without weights.

Learning-rate schedules (``t`` counts minibatch steps from 0):

- ``constant``: ``eta0``;
- ``invscaling``: ``eta0 / (t + 1) ** power_t``;
- ``optimal``: ``1 / (alpha (t0 + t))`` as in scikit-learn (Bottou's
  heuristic), ``alpha`` the total penalty strength (``1/S`` when there is no
  penalty), with ``t0`` chosen so that the first step is the smaller of
  Bottou's guess ``alpha ** -0.25`` and ``1/L``, L the smoothness of the
  loss estimated from the mean squared row norm (a larger first step only
  makes the early iterates noise);
- ``adaptive``: ``eta0``, divided by 5 each time ``n_iter_no_change``
  epochs pass without improvement of ``tol`` (stops below 1e-6);
- ``adagrad``: per coordinate, ``eta0 / sqrt(sum of squared gradients)``.
"""

from dataclasses import dataclass, field

import numpy as np

from . import _sgd
from .kernels.special import BINARY_CURVATURE_BOUND, MULTINOMIAL_CURVATURE_BOUND
from .objective import l1_penalty, l2_penalty

#: Rows per call into the nogil loop: between calls Python handles signals
#: (Ctrl-C stops a long epoch promptly).
SEGMENT_ROWS = 1 << 18
#: With two threads or more, a call over at least this many bytes of dense
#: rows gets a second thread that reads the rows ahead of the loop; see
#: :func:`sgd_read_ahead`.
READ_AHEAD_MIN_BYTES = 1 << 22
#: 'adaptive' stops once its step falls below this (as scikit-learn does).
ADAPTIVE_MIN_ETA = 1e-6
#: Rows sampled to estimate the mean squared row norm of dense X.
_NORM_SAMPLE = 1 << 12


def sgd_read_ahead(n_threads, n_rows, row_bytes, sparse):
    """Whether a call of the loop over ``n_rows`` rows of ``row_bytes`` each
    gets a second thread that reads the rows ahead of it (dense X only).

    The rows come in a shuffled order, so each is a wait for memory; the
    helper reads those the loop will reach after the next minibatch (which
    the loop prefetches itself), 512 KB of them, asking for each row 32 rows
    before it reads it.  It computes nothing: the results are the same, to
    the bit, with or without it, and the loop never waits for it.  On the
    2-core reference machine an epoch of 10^6 x 100 (binary) through the
    estimator took 1.26-1.38x less time with it in five runs of
    ``benchmarks/test_sgd.py -k through`` (4.17-5.33x ``SGDClassifier``'s);
    before the helper asked ahead, 1.0-1.6x less in nine of twelve runs and
    1.04-1.1x more in three (the machine's other work moved it).  A helper that keeps losing
    its core (a busy machine) ends early: beside a busy process the epoch
    took about one thread's time.
    """
    return (
        n_threads >= 2
        and not sparse
        and _sgd.read_ahead_available()
        and n_rows * row_bytes >= READ_AHEAD_MIN_BYTES
    )


class SGDDivergenceError(FloatingPointError):
    """SGD produced a non-finite loss or weight.

    ``last_good`` holds the :class:`SGDResult` from before the failed epoch.
    """

    def __init__(self, message, last_good):
        super().__init__(message)
        self.last_good = last_good


@dataclass
class SGDResult:
    coef: np.ndarray  # (n_w, d) float64; n_w = 1 for the binary model
    intercept: np.ndarray  # (n_w,) float64
    n_iter: int  # epochs run by this call
    loss_curve: list  # per epoch: mean training loss + penalty
    converged: bool
    state: "SGDState"


@dataclass
class SGDState:
    """Everything one call of :func:`fit_sgd` hands to the next (picklable)."""

    arrays: dict
    scalars: np.ndarray
    rng: np.ndarray  # (1,) uint64: the loop's SplitMix64 state
    config: dict
    weight_seen: float = 0.0  # sum of sample weights over all calls
    epochs: int = 0
    extra: dict = field(default_factory=dict)

    def copy_arrays(self):
        """(arrays, scalars) to restore after a failed epoch; scratch is shared."""
        return ({k: a if k in SCRATCH else a.copy() for k, a in self.arrays.items()}, self.scalars.copy())


#: State arrays that only hold a step's temporaries (nothing to save or restore).
SCRATCH = ("batch_scores", "row_scratch", "adagrad_grad", "touched", "mark")


def _new_state(n_w, d, multinomial, *, coef, intercept, eta0, seed):
    v = np.zeros((n_w, d)) if coef is None else np.array(coef, dtype=np.float64, order="C").reshape(n_w, d)
    b = np.zeros(n_w) if intercept is None else np.array(intercept, dtype=np.float64).reshape(n_w)
    scalars = np.zeros(_sgd.N_SCALARS)
    scalars[_sgd.SCALE] = 1.0
    scalars[_sgd.ETA] = eta0
    return SGDState(
        arrays={"coef": v, "intercept": b},
        scalars=scalars,
        rng=np.array([seed], dtype=np.uint64),
        config={"multinomial": multinomial},
    )


def _provide_arrays(state, *, batch_size, averaged, adagrad, l1, sparse):
    """Give ``state`` every array this call's settings use (zeros where new).

    The loop dereferences exactly these, so they are sized here on every
    call: a ``partial_fit`` whose settings changed (averaging, AdaGrad, an
    L1 term, a sparse chunk) gets what it needs; unused ones stay empty.
    """
    n_w, d = state.arrays["coef"].shape
    need = {
        "avg_sum": (n_w, d) if averaged else (0, 0),
        "avg_intercept_sum": (n_w,) if averaged else (0,),
        "l1_applied": (n_w, d) if l1 else (0, 0),
        "adagrad_sum": (n_w, d) if adagrad else (0, 0),
        "adagrad_intercept_sum": (n_w,) if adagrad else (0,),
        "adagrad_grad": (n_w, d) if adagrad else (0, 0),
        "batch_scores": (batch_size, n_w),
        "row_scratch": (6, n_w),
        "touched": (d,) if (adagrad and sparse) else (0,),
        "mark": (d,) if (adagrad and sparse) else (0,),
    }
    for name, shape in need.items():
        have = state.arrays.get(name)
        if have is None or have.size < np.prod(shape):
            dtype = np.int64 if name == "touched" else np.uint8 if name == "mark" else np.float64
            state.arrays[name] = np.zeros(shape, dtype=dtype)


def _mean_sq_row_norm(Xk, n):
    """Mean of ||x_i||^2 over a sample of rows (a scale for the first step only)."""
    if isinstance(Xk, tuple):
        data, _, indptr = Xk
        rows = min(n, _NORM_SAMPLE)
        head = data[: indptr[rows]].astype(np.float64)
        return float(np.dot(head, head)) / rows
    step = max(1, n // _NORM_SAMPLE)
    sample = np.asarray(Xk[::step], dtype=np.float64)
    return float(np.einsum("ij,ij->", sample, sample)) / sample.shape[0]


def _seed(random_state):
    from sklearn.utils import check_random_state

    return int(check_random_state(random_state).randint(0, 2**63 - 1, dtype=np.int64))


def _validation_split(y, fraction, seed):
    from sklearn.model_selection import StratifiedShuffleSplit

    cv = StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed % (2**32))
    try:
        train, val = next(cv.split(np.zeros(y.shape[0]), y))
    except ValueError as exc:
        raise ValueError(
            f"validation_fraction={fraction} cannot hold out a stratified validation set "
            f"from {y.shape[0]} samples ({exc}); use more data, a larger "
            "validation_fraction, or early_stopping=False"
        ) from None
    return np.sort(train).astype(np.int64), np.sort(val).astype(np.int64)


def _current_coef(state, config):
    """Current (coef, intercept): the average when averaging has started."""
    a, s = state.arrays, state.scalars
    if config["avg_start"] > 0 and s[_sgd.AVG_COUNT] > 0:
        coef = (s[_sgd.AVG_P] * a["coef"] - a["avg_sum"]) / s[_sgd.AVG_COUNT]
        return coef, a["avg_intercept_sum"] / s[_sgd.AVG_COUNT]
    return s[_sgd.SCALE] * a["coef"], a["intercept"].copy()


def _penalty(coef, lam2, lam1):
    w = coef.ravel()
    return (l2_penalty(w, lam2) if lam2 else 0.0) + (l1_penalty(w, lam1) if lam1 else 0.0)


def _rows(Xk):
    return Xk[2].shape[0] - 1 if isinstance(Xk, tuple) else Xk.shape[0]


def _stream_epoch(stream, rng):
    """One epoch's ``(Xk, y, sw, order)`` per chunk of a chunked data set.

    The chunks come in an order shuffled by the loop's generator (random-access
    sources; others in their own order), the rows of each in a fresh
    permutation.  With a single chunk this draws exactly what the in-memory
    epoch draws, so both give the same coefficients bit for bit.
    """
    chunk_order = np.arange(stream.n_chunks, dtype=np.int64)
    if stream.random_access:
        _sgd.shuffle(chunk_order, rng)
    chunks = stream.chunks(order=chunk_order)  # (with a progress bar when verbose)
    empty = np.zeros(0)
    for _, Xk, y, sw in chunks:
        order = np.arange(_rows(Xk), dtype=np.int64)
        _sgd.shuffle(order, rng)
        if isinstance(Xk, tuple) and Xk[2].dtype != Xk[1].dtype:
            Xk = (Xk[0], Xk[1], Xk[2].astype(Xk[1].dtype))
        yield Xk, y, (empty if sw is None else np.ascontiguousarray(sw, dtype=np.float64)), order


def _row_bytes(Xk, d):
    """Bytes of a row of dense X (0 for CSR)."""
    return 0 if isinstance(Xk, tuple) else d * Xk.dtype.itemsize


def _call(fn_dense, fn_csr, Xk, d, *args, **dense_options):
    if isinstance(Xk, tuple):
        data, indices, indptr = Xk
        return fn_csr(data, indices, indptr, d, *args)
    return fn_dense(Xk, *args, **dense_options)


def fit_sgd(
    Xk,
    y,
    sample_weight,
    n_classes,
    *,
    C,
    l1_ratio,
    fit_intercept,
    batch_size,
    learning_rate,
    eta0,
    power_t=0.5,
    average,
    early_stopping,
    validation_fraction,
    n_iter_no_change,
    tol,
    max_iter,
    random_state,
    coef=None,
    intercept=None,
    state=None,
    verbose=0,
    check_finite=None,
    n_threads=1,
):
    """Run up to ``max_iter`` epochs of minibatch SGD.

    Parameters
    ----------
    Xk : (n, d) C-contiguous float32/float64 ndarray, or a CSR tuple
        ``(data, indices, indptr)`` (int32/int64 indices) with ``d`` known
        from ``coef`` or ``Xk``; used in place, never copied.  Or a
        :class:`fastlogit.row_sources.ChunkRows` (out of core): each epoch
        streams its chunks (``y``/``sample_weight`` are then None, the
        chunks carry them), in an order shuffled by the loop's generator
        when the source is random access, each chunk's rows in a fresh
        permutation; ``early_stopping`` is not available there.
    y : (n,) integer class indices in [0, n_classes) (0/1 for binary).
    sample_weight : (n,) float64 or None, class weights multiplied in.
    n_classes : 2 -> the binary (sigmoid) model with coef (1, d); more ->
        softmax with coef (n_classes, d).
    C, l1_ratio : the penalty, as in scikit-learn (C=np.inf: none).
    average : bool or int: average the iterates from the first step (True)
        or once this many samples have been seen.
    early_stopping : hold out ``validation_fraction`` (stratified) and
        stop on its loss; otherwise stop on the training loss (when ``tol``
        is not None).
    tol : None runs exactly ``max_iter`` epochs.
    state : the ``state`` of an earlier result to continue from (partial_fit);
        ``coef``/``intercept`` then are ignored.
    n_threads : 2 or more: a second thread reads dense rows ahead of the
        loop (see :func:`sgd_read_ahead`); the results do not depend on it.
    check_finite : a callable that raises ``ValueError`` naming NaN or
        infinity in X (a row source's ``check_finite``; a stream's own by
        default).  X is not scanned up front: NaN or inf in a row makes that
        row's loss non-finite, so the check runs only when an epoch's loss,
        weights or validation loss come out non-finite.

    Returns an :class:`SGDResult`.  Raises :class:`SGDDivergenceError` when
    an epoch produces a non-finite loss or weight; the state is then
    restored to before that epoch.

    Memory: an int64 permutation of the rows (8n bytes; of one chunk's rows
    when streaming), and the labels as int64 when they are another integer
    type; O(n_classes * d) besides.
    """
    from tqdm.auto import tqdm

    stream = Xk if hasattr(Xk, "chunks") else None
    if check_finite is None and stream is not None:
        check_finite = stream.check_finite
    if stream is not None:
        if early_stopping:
            raise ValueError(
                "early_stopping=True holds out a validation set, which needs the data in memory; "
                "with chunked (out-of-core) data use early_stopping=False: SGD then stops on the "
                "training loss (tol, n_iter_no_change)"
            )
        n, sparse = stream.n_samples, stream.sparse
    elif isinstance(Xk, tuple):
        data, indices, indptr = Xk
        if indptr.dtype != indices.dtype:
            indptr = indptr.astype(indices.dtype)
        Xk = (data, indices, indptr)
        n = indptr.shape[0] - 1
        sparse = True
    else:
        n = Xk.shape[0]
        sparse = False
    multinomial = n_classes > 2
    n_w = n_classes if multinomial else 1
    if coef is not None:
        d = np.shape(coef)[-1]
    elif state is not None:
        d = state.arrays["coef"].shape[1]
    elif stream is not None:
        d = stream.n_features
    elif sparse:
        raise ValueError("fit_sgd needs coef (or state) to know the width of a CSR input")
    else:
        d = Xk.shape[1]
    if stream is None:
        y = np.ascontiguousarray(y, dtype=np.int64)
        sw = np.zeros(0) if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=np.float64)
    avg_start = float(1 if average is True else int(average))

    if state is None:
        seed = _seed(random_state)
        state = _new_state(n_w, d, multinomial, coef=coef, intercept=intercept, eta0=eta0, seed=seed)
        state.extra["seed"] = seed
    _provide_arrays(
        state,
        batch_size=batch_size,
        averaged=avg_start > 0,
        adagrad=learning_rate == "adagrad",
        l1=l1_ratio > 0 and not np.isinf(C),
        sparse=sparse,
    )

    if stream is not None:
        n_train, val = n, None
        S = stream.weight_sum
        weighted = stream.weighted
    else:
        if early_stopping:
            train, val = _validation_split(y, validation_fraction, state.extra.get("seed", 0))
        else:
            train, val = np.arange(n, dtype=np.int64), None
        n_train = train.shape[0]
        S = float(sw[train].sum()) if sw.size else float(n_train)
        weighted = sw.size > 0
    state.weight_seen += S
    lam = 0.0 if np.isinf(C) else 1.0 / (C * state.weight_seen)
    lam2, lam1 = (1.0 - l1_ratio) * lam, l1_ratio * lam

    cfg = state.config
    if "t0_opt" not in cfg:
        alpha = lam if lam > 0 else 1.0 / S
        first_step = alpha**-0.25
        if stream is not None:
            _, first_Xk, _, _ = next(stream.chunks(weighted=False))
            row_norm = _mean_sq_row_norm(first_Xk, _rows(first_Xk))
        else:
            row_norm = _mean_sq_row_norm(Xk, n)
        curvature = MULTINOMIAL_CURVATURE_BOUND if multinomial else BINARY_CURVATURE_BOUND
        smoothness = curvature * (row_norm + float(fit_intercept))
        # (0: all-zero rows and no intercept, nothing to learn; inf: rows whose
        # norms overflow, which diverge anyway)
        if 0.0 < smoothness < np.inf:
            first_step = min(first_step, 1.0 / smoothness)
        cfg.update(alpha_opt=alpha, t0_opt=1.0 / (alpha * first_step))
    cfg.update(
        batch_size=int(batch_size),
        schedule=_sgd.SCHEDULES.index(learning_rate),
        eta0=float(eta0),
        power_t=float(power_t),
        lam2=lam2,
        lam1=lam1,
        fit_intercept=bool(fit_intercept),
        avg_start=avg_start,
        sw_scale=n_train / S if weighted else 1.0,
    )
    if learning_rate != "adaptive" and learning_rate != "adagrad":
        state.scalars[_sgd.ETA] = eta0

    loss_curve = []
    best, no_improve = np.inf, 0
    converged = tol is None
    segment = max(1, SEGMENT_ROWS // batch_size) * batch_size
    if stream is None:
        order = np.empty_like(train)
    epochs = 0
    bar = tqdm(total=max_iter, disable=not verbose, desc="fastlogit sgd", unit="epoch")
    try:
        for _ in range(max_iter):
            saved = state.copy_arrays()
            if stream is None:
                # A fresh permutation of the training rows, a function of the
                # generator's state only (so a later call continues the sequence).
                order[:] = train
                _sgd.shuffle(order, state.rng)
                parts = [(Xk, y, sw, order)]
            else:
                parts = _stream_epoch(stream, state.rng)
            loss_sum = 0.0
            failed = False
            for Xc, yc, swc, orderc in parts:
                for lo in range(0, orderc.shape[0], segment):
                    out = _call(
                        _sgd.epoch_dense,
                        _sgd.epoch_csr,
                        Xc,
                        d,
                        yc,
                        swc,
                        orderc[lo : lo + segment],
                        state.arrays,
                        state.scalars,
                        cfg,
                        read_ahead=sgd_read_ahead(
                            n_threads, min(segment, orderc.shape[0] - lo), _row_bytes(Xc, d), sparse
                        ),
                    )
                    loss_sum += out["loss_sum"]
                    if out["status"]:
                        failed = True
                        break
                if failed:
                    break
            coef_now, b_now = _current_coef(state, cfg)
            what = "loss" if failed else None
            if what is None and not (np.isfinite(coef_now).all() and np.isfinite(b_now).all()):
                what = "weights"
            if what is None and early_stopping:
                total, weight = _call(
                    _sgd.loss_dense, _sgd.loss_csr, Xk, d, y, sw, val, np.ascontiguousarray(coef_now), b_now
                )
                score = total / weight
                if not np.isfinite(score):
                    what = "validation loss"
            if what is not None:
                state.arrays, state.scalars = saved
                if check_finite is not None:
                    # X is not scanned up front (an extra read of the data):
                    # NaN or inf in it surfaces here, as a ValueError naming it.
                    check_finite()
                good_coef, good_b = _current_coef(state, cfg)
                last_good = SGDResult(good_coef, good_b, epochs, loss_curve, False, state)
                raise SGDDivergenceError(
                    f"SGD diverged in epoch {state.epochs + 1}: the {what} became non-finite. "
                    "Scale the features (e.g. sklearn.preprocessing.StandardScaler) or lower the "
                    f"learning rate (learning_rate={learning_rate!r}, eta0={eta0}).",
                    last_good,
                )
            epochs += 1
            state.epochs += 1
            epoch_loss = loss_sum / n_train + _penalty(coef_now, lam2, lam1)
            loss_curve.append(epoch_loss)
            if not early_stopping:
                score = epoch_loss
            bar.set_postfix(loss=f"{epoch_loss:.6g}")
            bar.update()
            if tol is not None:
                no_improve = no_improve + 1 if score > best - tol else 0
                best = min(best, score)
                if no_improve >= n_iter_no_change:
                    if learning_rate == "adaptive" and state.scalars[_sgd.ETA] > ADAPTIVE_MIN_ETA:
                        state.scalars[_sgd.ETA] /= 5.0
                        no_improve = 0
                    else:
                        converged = True
                        break
    finally:
        bar.close()
    coef_out, b_out = _current_coef(state, cfg)
    return SGDResult(coef_out, b_out, epochs, loss_curve, converged, state)
