# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Minibatch SGD loop for logistic (sigmoid) and softmax regression (Cython, nogil).

One call of :func:`epoch` runs the minibatches of one pass over ``rows`` (a
permutation of the training rows, shuffled by :func:`shuffle` with the
loop's own generator) with the GIL released.  The Python driver in
:mod:`fastlogit.sgd` owns the state arrays, the schedule decisions made
between epochs (adaptive steps, early stopping) and all validation: this
module trusts its inputs (bounds checks are off).

Model: weights ``w = scale * v`` (the O(1) L2 decay: one multiplication of
``scale`` per step instead of a pass over ``v``), intercepts ``b``;
``n_rows_w = 1`` for the binary (sigmoid) model, K for softmax.  X is a
C-contiguous float32/float64 array or CSR ``(data, indices, indptr)``
with int32 or int64 indices; weights and sums are float64.

Per minibatch B of m rows, with weights s_i normalized to mean 1:
``g = (1/m) sum_B s_i (p_i - y_i) x_i`` (computed with the weights before
the step), then ``w <- (1 - eta*lam2) w - eta g``, then the L1 part by the
cumulative truncated gradient of Tsuruoka et al. (2009), applied lazily
to the coordinates the batch touches.  Averaged SGD keeps
``sum_t w_t = P v - U`` (P the sum of scales, U the sum of P * (change of v)),
so averaging costs O(nnz) per row too.
"""
import threading

import numpy as np

cimport cython
from libc.math cimport isfinite, pow, sqrt
from libc.stdint cimport int32_t, int64_t, uint64_t

cdef extern from "_stable.h" nogil:
    double fl_sigmoid(double x) noexcept
    double fl_log1pexp(double x) noexcept
    double fl_log_sigmoid(double x) noexcept
    double fl_binary_loss_residual(double z, double y, double *residual) noexcept
    double fl_softmax_row(const double *z, int64_t K, double *p, double *p_lo, double *L) noexcept
    double fl_softmax_residuals(double *Z, int64_t m, int64_t K, const int64_t *y, const int64_t *rows,
                                const double *sw, double sw_scale, double *scratch) noexcept

cdef extern from "_rows.h" nogil:
    double fl_dot_d(const double *x, const double *v, int64_t n) noexcept
    double fl_dot_f(const float *x, const double *v, int64_t n) noexcept
    void fl_dots_d(const double *x, const double *V, int64_t ldv, int64_t K, int64_t n,
                   double *out) noexcept
    void fl_dots_f(const float *x, const double *V, int64_t ldv, int64_t K, int64_t n,
                   double *out) noexcept
    void fl_axpys_d(const double *a, const double *x, double *V, int64_t ldv, int64_t K,
                    int64_t n) noexcept
    void fl_axpys_f(const double *a, const float *x, double *V, int64_t ldv, int64_t K,
                    int64_t n) noexcept
    void fl_scores4_d(const double **xs, const double *V, int64_t ldv, int64_t K, int64_t n,
                      double *out, int64_t ldo) noexcept
    void fl_scores4_f(const float **xs, const double *V, int64_t ldv, int64_t K, int64_t n,
                      double *out, int64_t ldo) noexcept
    void fl_axpys4_d(const double *a, int64_t lda, const double **xs, double *V, int64_t ldv,
                     int64_t K, int64_t n) noexcept
    void fl_axpys4_f(const double *a, int64_t lda, const float **xs, double *V, int64_t ldv,
                     int64_t K, int64_t n) noexcept
    void fl_prefetch(const void *x, int64_t nbytes) noexcept
    double fl_binary_residuals(double *Z, int64_t m, const int64_t *y, const int64_t *rows,
                               const double *sw, double sw_scale) noexcept

cdef extern from "_ahead.h" nogil:
    int FL_AHEAD_THREADS
    int FL_AHEAD_STRIDE
    void fl_ahead_publish(int64_t *flag, int64_t value) noexcept
    int64_t fl_ahead_read(const int64_t *flag) noexcept
    void fl_ahead_yield() noexcept
    double fl_ahead_touch(const void *p, int64_t nbytes) noexcept

cdef extern from "_random.h" nogil:
    void fl_shuffle(int64_t *a, int64_t n, uint64_t *state) noexcept

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

# Learning-rate schedules (fastlogit.sgd maps the names).
SCHEDULES = ("constant", "invscaling", "optimal", "adaptive", "adagrad")
cdef enum:
    CONSTANT = 0
    INVSCALING = 1
    OPTIMAL = 2
    ADAPTIVE = 3
    ADAGRAD = 4

# Slots of the float64 ``scalars`` state array (C constants here, ints in Python).
cpdef enum:
    SCALE = 0
    UPDATES = 1
    SEEN = 2
    AVG_P = 3
    AVG_COUNT = 4
    L1_U = 5
    ETA = 6
    N_SCALARS = 7

# Below this the scale is folded into v: keeps v from growing without bound.
cdef double MIN_SCALE = 1e-9
# AdaGrad's guard against dividing by a zero gradient sum.
cdef double ADAGRAD_EPS = 1e-8


def compiled_with_cython():
    """True: this module is the compiled extension, not a Python fallback."""
    return cython.compiled


cdef struct Config:
    int64_t n_w          # rows of v: 1 (binary) or K (softmax)
    bint multinomial
    int64_t batch_size
    int schedule
    double eta0
    double power_t
    double alpha_opt     # the 'optimal' schedule: eta = 1 / (alpha_opt * (t0 + t))
    double t0_opt
    double lam2
    double lam1
    bint fit_intercept
    double avg_start     # averaging from this many samples seen; 0 = off
    double sw_scale      # normalizes sample weights to mean 1


cdef struct State:
    double *v
    double *b
    double *U            # averaging: sum of P * (change of v)
    double *bsum         # averaging: sum of intercept iterates
    double *q            # L1: penalty applied so far per coordinate
    double *G2           # AdaGrad: sums of squared gradients (n_w, d)
    double *G2b          # AdaGrad: the intercepts' (n_w,)
    double *g            # AdaGrad: the batch gradient (n_w, d)
    double *Z            # (batch_size, n_w): scores, then weighted residuals
    double *p            # (n_w,) softmax row
    double *p_lo         # (n_w,) scratch
    double *a            # (4, n_w) step coefficients of four rows
    int64_t *touched     # columns a sparse batch touched
    unsigned char *mark  # (d,) whether a column is in ``touched``
    double scale
    double updates
    double seen
    double P
    double avg_count
    double u             # L1: total penalty per coordinate so far
    double eta


# ---------------------------------------------------------------------------
# One row against the weights.
# ---------------------------------------------------------------------------
cdef inline void _scores(const floating *data, const index_t *indices, const index_t *indptr,
                         bint sparse, int64_t d, int64_t i, const State *st, int64_t K,
                         double *out) noexcept nogil:
    """out[k] = scale * x_i . v[k] + b[k]."""
    cdef int64_t k, jj, col, lo, hi
    cdef double xv, s0, s1, s2, s3
    if sparse and K == 1:
        # Four independent sums: one chain of dependent adds would cost an
        # add latency per nonzero.
        lo = indptr[i]
        hi = indptr[i + 1]
        s0 = s1 = s2 = s3 = 0.0
        jj = lo
        while jj + 4 <= hi:
            s0 += data[jj] * st.v[indices[jj]]
            s1 += data[jj + 1] * st.v[indices[jj + 1]]
            s2 += data[jj + 2] * st.v[indices[jj + 2]]
            s3 += data[jj + 3] * st.v[indices[jj + 3]]
            jj += 4
        while jj < hi:
            s0 += data[jj] * st.v[indices[jj]]
            jj += 1
        out[0] = (s0 + s1) + (s2 + s3)
    elif sparse:
        for k in range(K):
            out[k] = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            col = indices[jj]
            xv = data[jj]
            for k in range(K):
                out[k] += xv * st.v[k * d + col]
    elif floating is double:
        fl_dots_d(data + i * d, st.v, d, K, d, out)
    else:
        fl_dots_f(data + i * d, st.v, d, K, d, out)
    for k in range(K):
        out[k] = st.scale * out[k] + st.b[k]


cdef inline void _add_row(const floating *data, const index_t *indices, const index_t *indptr,
                          bint sparse, int64_t d, int64_t i, const double *a, double *V,
                          int64_t K) noexcept nogil:
    """V[k] += a[k] * x_i for every k (O(nnz * K) for a sparse row)."""
    cdef int64_t k, jj, col
    cdef double xv, a0
    if sparse and K == 1:
        a0 = a[0]
        for jj in range(indptr[i], indptr[i + 1]):
            V[indices[jj]] += a0 * data[jj]
    elif sparse:
        for jj in range(indptr[i], indptr[i + 1]):
            col = indices[jj]
            xv = data[jj]
            for k in range(K):
                V[k * d + col] += a[k] * xv
    elif floating is double:
        fl_axpys_d(a, data + i * d, V, d, K, d)
    else:
        fl_axpys_f(a, data + i * d, V, d, K, d)


# Rows fetched ahead of use: a 4-row block of a binary model takes about
# as long as one memory latency, so two blocks ahead covers it.
cdef int64_t PREFETCH_AHEAD = 8


cdef void _scores_batch(const floating *data, const index_t *indices, const index_t *indptr,
                        bint sparse, int64_t d, const int64_t *y, const double *sw,
                        const int64_t *rows, int64_t m, int64_t lookahead, const State *st,
                        int64_t K, double *Z) noexcept nogil:
    """Z[r] = scores of row rows[r] for r < m.

    Prefetches rows (with their labels and weights) up to ``lookahead``
    past m: rows come in random order, and each is a cache miss.
    """
    cdef const floating *ptrs[4]
    cdef int64_t r = 0, q, k, i
    if sparse:
        for r in range(m):
            # Two stages: a row's offsets (indptr[i]) are a cache miss too, so
            # they are fetched twice as far ahead as the row they locate.
            q = r + 2 * PREFETCH_AHEAD
            if q < m + lookahead:
                fl_prefetch(indptr + rows[q], 2 * sizeof(index_t))
            q = r + PREFETCH_AHEAD
            if q < m + lookahead:
                i = rows[q]
                fl_prefetch(indices + indptr[i], (indptr[i + 1] - indptr[i]) * sizeof(index_t))
                fl_prefetch(data + indptr[i], (indptr[i + 1] - indptr[i]) * sizeof(floating))
                fl_prefetch(y + i, 1)
            _scores(data, indices, indptr, sparse, d, rows[r], st, K, Z + r * K)
        return
    while r + 4 <= m:
        for q in range(4):
            ptrs[q] = data + rows[r + q] * d
        for q in range(r + PREFETCH_AHEAD, r + PREFETCH_AHEAD + 4):
            if q < m + lookahead:
                fl_prefetch(data + rows[q] * d, d * sizeof(floating))
                # The label and weight are a cache miss of their own per row.
                fl_prefetch(y + rows[q], 1)
                if sw != NULL:
                    fl_prefetch(sw + rows[q], 1)
        if floating is double:
            fl_scores4_d(ptrs, st.v, d, K, d, Z + r * K, K)
        else:
            fl_scores4_f(ptrs, st.v, d, K, d, Z + r * K, K)
        for q in range(4):
            for k in range(K):
                Z[(r + q) * K + k] = st.scale * Z[(r + q) * K + k] + st.b[k]
        r += 4
    while r < m:
        _scores(data, indices, indptr, sparse, d, rows[r], st, K, Z + r * K)
        r += 1


cdef void _add_batch(const floating *data, const index_t *indices, const index_t *indptr,
                     bint sparse, int64_t d, const int64_t *rows, int64_t m, const double *Z,
                     double c, double *a, double *V, int64_t K, int64_t n_next) noexcept nogil:
    """V[k] += c * sum_r Z[r, k] * x_{rows[r]} (a: 4 * K doubles of scratch).

    Dense X: also prefetches the next batch's rows (rows[m:m + n_next]), four
    per block: this phase works from cache, so memory is otherwise idle.
    """
    cdef const floating *ptrs[4]
    cdef int64_t r = 0, q
    if not sparse:
        while r + 4 <= m:
            for q in range(r, r + 4):
                if q < n_next:
                    fl_prefetch(data + rows[m + q] * d, d * sizeof(floating))
            for q in range(4):
                ptrs[q] = data + rows[r + q] * d
            for q in range(4 * K):
                a[q] = c * Z[r * K + q]
            if floating is double:
                fl_axpys4_d(a, K, ptrs, V, d, K, d)
            else:
                fl_axpys4_f(a, K, ptrs, V, d, K, d)
            r += 4
    while r < m:
        for q in range(K):
            a[q] = c * Z[r * K + q]
        _add_row(data, indices, indptr, sparse, d, rows[r], a, V, K)
        r += 1


cdef inline double _row_loss_residual(double *z, int64_t yi, double si, const Config *cfg,
                                      State *st) noexcept nogil:
    """Loss of one row; z[:] becomes si * (p - onehot(y))."""
    cdef double res, loss, L, m, zy
    cdef int64_t k
    if not cfg.multinomial:
        loss = fl_binary_loss_residual(z[0], <double>yi, &res)
        z[0] = si * res
        return loss
    zy = z[yi]
    m = fl_softmax_row(z, cfg.n_w, st.p, st.p_lo, &L)
    for k in range(cfg.n_w):
        z[k] = si * st.p[k]
    z[yi] -= si
    return (m - zy) + L


# ---------------------------------------------------------------------------
# Scale folding, averaging and the L1 step.
# ---------------------------------------------------------------------------
cdef void _fold_scale(State *st, int64_t size) noexcept nogil:
    """v <- scale * v, scale <- 1; the average's representation follows."""
    cdef int64_t j
    cdef double vj
    for j in range(size):
        vj = st.v[j]
        if st.P != 0.0:
            # sum so far = P v - U must not change: U <- U - P v_old (with P <- 0).
            st.U[j] -= st.P * vj
        st.v[j] = st.scale * vj
    st.P = 0.0
    st.scale = 1.0


cdef inline void _l1_coordinate(State *st, int64_t idx, bint averaging) noexcept nogil:
    """Tsuruoka's cumulative L1 clip of coordinate idx (idempotent within a step)."""
    cdef double w = st.scale * st.v[idx]
    cdef double w0 = w
    cdef double vnew
    if w > 0.0:
        w = w - (st.u + st.q[idx])
        if w < 0.0:
            w = 0.0
    elif w < 0.0:
        w = w + (st.u - st.q[idx])
        if w > 0.0:
            w = 0.0
    else:
        return
    st.q[idx] += w - w0
    vnew = w / st.scale
    if averaging:
        st.U[idx] += st.P * (vnew - st.v[idx])
    st.v[idx] = vnew


# ---------------------------------------------------------------------------
# One minibatch.
# ---------------------------------------------------------------------------
cdef int _batch(const floating *data, const index_t *indices, const index_t *indptr,
                bint sparse, int64_t d, const int64_t *y, const double *sw,
                const int64_t *rows, int64_t m, int64_t lookahead, int64_t n_next,
                const Config *cfg, State *st, double *loss_out) noexcept nogil:
    """Returns 0, or 1 when the batch's loss is not finite (nothing updated).

    rows[m:m + lookahead] are the next batch's rows (prefetched while scoring),
    rows[m:m + n_next] all of them (prefetched while updating, dense X).
    """
    cdef int64_t K = cfg.n_w
    cdef int64_t r, i, k, j, jj, col
    cdef double loss = 0.0, eta, factor, c, gk
    cdef bint averaging

    # Scores and residuals, all with the weights before the step.
    _scores_batch(data, indices, indptr, sparse, d, y, sw, rows, m, lookahead, st, K, st.Z)
    if cfg.multinomial:
        loss = fl_softmax_residuals(st.Z, m, K, y, rows, sw, cfg.sw_scale, st.p)
    else:
        loss = fl_binary_residuals(st.Z, m, y, rows, sw, cfg.sw_scale)
    if not isfinite(loss):
        return 1
    loss_out[0] += loss

    st.seen += m
    averaging = cfg.avg_start > 0.0 and st.seen >= cfg.avg_start

    if cfg.schedule == OPTIMAL:
        eta = 1.0 / (cfg.alpha_opt * (cfg.t0_opt + st.updates))
    elif cfg.schedule == INVSCALING:
        eta = cfg.eta0 / pow(st.updates + 1.0, cfg.power_t)
    else:
        eta = st.eta

    if cfg.schedule == ADAGRAD:
        _adagrad_step(data, indices, indptr, sparse, d, rows, m, cfg, st, eta, averaging)
    else:
        if cfg.lam2 > 0.0:
            factor = 1.0 - eta * cfg.lam2
            if factor <= 0.0:
                # The decay alone would overshoot zero: the weights become 0.
                _fold_scale(st, K * d)
                for j in range(K * d):
                    if averaging:
                        st.U[j] -= st.P * st.v[j]
                    st.v[j] = 0.0
            else:
                st.scale *= factor
                if st.scale < MIN_SCALE:
                    _fold_scale(st, K * d)
        c = -eta / (m * st.scale)
        _add_batch(data, indices, indptr, sparse, d, rows, m, st.Z, c, st.a, st.v, K, n_next)
        if averaging and st.P != 0.0:
            _add_batch(data, indices, indptr, sparse, d, rows, m, st.Z, c * st.P, st.a, st.U, K, 0)
        if cfg.fit_intercept:
            for k in range(K):
                gk = 0.0
                for r in range(m):
                    gk += st.Z[r * K + k]
                st.b[k] -= eta * gk / m
        if cfg.lam1 > 0.0:
            st.u += eta * cfg.lam1
            if sparse:
                for r in range(m):
                    i = rows[r]
                    for jj in range(indptr[i], indptr[i + 1]):
                        col = indices[jj]
                        for k in range(K):
                            _l1_coordinate(st, k * d + col, averaging)
            else:
                for j in range(K * d):
                    _l1_coordinate(st, j, averaging)

    if averaging:
        st.P += st.scale
        st.avg_count += 1.0
        for k in range(K):
            st.bsum[k] += st.b[k]
    st.updates += 1.0
    return 0


cdef void _adagrad_step(const floating *data, const index_t *indices, const index_t *indptr,
                        bint sparse, int64_t d, const int64_t *rows, int64_t m,
                        const Config *cfg, State *st, double eta, bint averaging) noexcept nogil:
    """Per-coordinate steps eta / sqrt(sum of squared gradients) (scale stays 1).

    The penalty's gradient joins every coordinate, so with a penalty a
    sparse batch costs O(n_w * d); without one, only the touched columns.
    """
    cdef int64_t K = cfg.n_w
    cdef int64_t r, i, k, j, jj, col, n_touched = 0
    cdef double gk
    cdef bint penalized = cfg.lam2 > 0.0 or cfg.lam1 > 0.0
    cdef bint all_columns = (not sparse) or penalized

    # Batch gradient into g (only the touched columns are reset for sparse).
    if all_columns:
        for j in range(K * d):
            st.g[j] = 0.0
    if sparse:
        for r in range(m):
            i = rows[r]
            for jj in range(indptr[i], indptr[i + 1]):
                col = indices[jj]
                if not st.mark[col]:
                    st.mark[col] = 1
                    st.touched[n_touched] = col
                    n_touched += 1
                    if not all_columns:
                        for k in range(K):
                            st.g[k * d + col] = 0.0
    _add_batch(data, indices, indptr, sparse, d, rows, m, st.Z, 1.0 / m, st.a, st.g, K, 0)

    if all_columns:
        for j in range(K * d):
            _adagrad_coordinate(st, j, eta, cfg, averaging)
    else:
        for jj in range(n_touched):
            col = st.touched[jj]
            for k in range(K):
                _adagrad_coordinate(st, k * d + col, eta, cfg, averaging)
    for jj in range(n_touched):
        st.mark[st.touched[jj]] = 0

    if cfg.fit_intercept:
        for k in range(K):
            gk = 0.0
            for r in range(m):
                gk += st.Z[r * K + k]
            gk /= m
            st.G2b[k] += gk * gk
            st.b[k] -= eta * gk / (sqrt(st.G2b[k]) + ADAGRAD_EPS)


cdef inline void _adagrad_coordinate(State *st, int64_t idx, double eta, const Config *cfg,
                                     bint averaging) noexcept nogil:
    cdef double w = st.v[idx]
    cdef double gj = st.g[idx] + cfg.lam2 * w
    cdef double step, vnew
    st.G2[idx] += gj * gj
    step = eta / (sqrt(st.G2[idx]) + ADAGRAD_EPS)
    vnew = w - step * gj
    if cfg.lam1 > 0.0:
        # Proximal step of the L1 term with the coordinate's own step size.
        if vnew > step * cfg.lam1:
            vnew -= step * cfg.lam1
        elif vnew < -step * cfg.lam1:
            vnew += step * cfg.lam1
        else:
            vnew = 0.0
    if averaging and st.P != 0.0:
        st.U[idx] += st.P * (vnew - w)
    st.v[idx] = vnew


# ---------------------------------------------------------------------------
# Python entry points.
# ---------------------------------------------------------------------------
cdef int _epoch(const floating *data, const index_t *indices, const index_t *indptr,
                bint sparse, int64_t d, const int64_t *y, const double *sw,
                const int64_t *rows, int64_t n, const Config *cfg, State *st,
                double *loss_out, int64_t *done, int64_t *progress) noexcept nogil:
    """The minibatches of rows[:n]; ``progress`` (or NULL): where the rows done
    are published for the read-ahead thread."""
    cdef int64_t pos = 0, m
    cdef int status = 0
    while pos < n:
        m = cfg.batch_size if n - pos > cfg.batch_size else n - pos
        status = _batch(data, indices, indptr, sparse, d, y, sw, rows + pos, m,
                        min(2 * PREFETCH_AHEAD + 4, n - pos - m),
                        min(cfg.batch_size, n - pos - m), cfg, st, loss_out)
        if status != 0:
            break
        pos += m
        if progress != NULL:
            fl_ahead_publish(progress, pos)
    done[0] = pos
    return status


# Rows the read-ahead thread stays ahead of the loop: from two batches on (the
# loop itself prefetches the next one), over READ_AHEAD_BYTES of rows.  On the
# 2-core reference machine an epoch of 10^6 x 100 (batches of 256) took
# 111-118 ms with it against 161-166 ms without (min of 4); starting one batch
# on, 128-132 ms.  With READ_AHEAD_PREFETCH (below), against 512 KB by the
# median of 16 paired epochs: 256 KB 0.99x as fast, 1 MB 0.93x, 2 MB 0.87x.
cdef int64_t READ_AHEAD_BYTES = 1 << 19
cdef int64_t READ_AHEAD_GIVE_UP = 3
# Rows past the one it reads that the read-ahead thread asks for meanwhile:
# reading a row at a time, it waits for each row's lines in turn and fell
# behind the loop (it read 70-80% of the rows; the rest the loop reached
# first).  Asking 32 rows on, it reads 95-97% of them, and an epoch of
# 10^6 x 100 took 1.09x less time (median of 20 paired epochs; 16 and 64
# rows on: 1.09x and 1.10x, 8: 1.05x).
cdef int64_t READ_AHEAD_PREFETCH = 32


cdef class _ReadAhead:
    """What the read-ahead thread reads: rows[p + lo:p + hi] of a dense X
    (``row_bytes`` each) while the loop is at row p of rows[:n]."""
    cdef const char *data
    cdef int64_t row_bytes
    cdef const int64_t *rows
    cdef int64_t n, lo, hi
    cdef int64_t *flags       # [0]: rows done (the loop's); [FL_AHEAD_STRIDE]: stop
    cdef object keep
    cdef double sink          # the bytes read, summed: the loads are not optimized away


def _read_ahead(_ReadAhead job):
    """The read-ahead thread: keeps rows[p + lo:p + hi] in cache until stopped.

    A helper that finds the loop a whole window past it READ_AHEAD_GIVE_UP
    times has been losing its core (a busy machine): it ends, leaving the
    core to others.
    """
    cdef int64_t h = 0, p, behind = 0
    cdef double sink = 0.0
    with nogil:
        while fl_ahead_read(job.flags + FL_AHEAD_STRIDE) == 0:
            p = fl_ahead_read(job.flags)
            if h < p + job.lo:
                if h > 0 and p + job.lo - h > job.hi - job.lo:
                    behind += 1
                    if behind >= READ_AHEAD_GIVE_UP:
                        break
                h = p + job.lo
            if h >= job.n:
                break
            if h >= p + job.hi:
                fl_ahead_yield()
                continue
            if h + READ_AHEAD_PREFETCH < job.n:
                fl_prefetch(job.data + job.rows[h + READ_AHEAD_PREFETCH] * job.row_bytes, job.row_bytes)
            sink += fl_ahead_touch(job.data + job.rows[h] * job.row_bytes, job.row_bytes)
            h += 1
    job.sink = sink


def read_ahead_available():
    """True where this build can run the read-ahead thread (GCC, Clang, MSVC)."""
    return FL_AHEAD_THREADS != 0


cdef dict _run(const floating *data, const index_t *indices, const index_t *indptr, bint sparse,
               int64_t d, const int64_t[::1] y, const double[::1] sw, const int64_t[::1] rows,
               dict arrays, double[::1] scalars, dict config, bint read_ahead):
    cdef Config cfg
    cdef State st
    cdef double[:, ::1] v = arrays["coef"]
    cdef double[::1] b = arrays["intercept"]
    cdef double[:, ::1] U = arrays["avg_sum"]
    cdef double[::1] bsum = arrays["avg_intercept_sum"]
    cdef double[:, ::1] q = arrays["l1_applied"]
    cdef double[:, ::1] G2 = arrays["adagrad_sum"]
    cdef double[::1] G2b = arrays["adagrad_intercept_sum"]
    cdef double[:, ::1] g = arrays["adagrad_grad"]
    cdef double[:, ::1] Z = arrays["batch_scores"]
    cdef double[:, ::1] rowbuf = arrays["row_scratch"]
    cdef int64_t[::1] touched = arrays["touched"]
    cdef unsigned char[::1] mark = arrays["mark"]
    cdef double loss = 0.0
    cdef int64_t done = 0
    cdef int status
    cdef int64_t n = rows.shape[0]

    cfg.n_w = v.shape[0]
    cfg.multinomial = config["multinomial"]
    cfg.batch_size = config["batch_size"]
    cfg.schedule = config["schedule"]
    cfg.eta0 = config["eta0"]
    cfg.power_t = config["power_t"]
    cfg.alpha_opt = config["alpha_opt"]
    cfg.t0_opt = config["t0_opt"]
    cfg.lam2 = config["lam2"]
    cfg.lam1 = config["lam1"]
    cfg.fit_intercept = config["fit_intercept"]
    cfg.avg_start = config["avg_start"]
    cfg.sw_scale = config["sw_scale"]

    st.v = &v[0, 0]
    st.b = &b[0]
    st.U = &U[0, 0] if U.shape[0] * U.shape[1] else NULL
    st.bsum = &bsum[0] if bsum.shape[0] else NULL
    st.q = &q[0, 0] if q.shape[0] * q.shape[1] else NULL
    st.G2 = &G2[0, 0] if G2.shape[0] * G2.shape[1] else NULL
    st.G2b = &G2b[0] if G2b.shape[0] else NULL
    st.g = &g[0, 0] if g.shape[0] * g.shape[1] else NULL
    st.Z = &Z[0, 0]
    st.p = &rowbuf[0, 0]
    st.p_lo = &rowbuf[1, 0]
    st.a = &rowbuf[2, 0]
    st.touched = &touched[0] if touched.shape[0] else NULL
    st.mark = &mark[0] if mark.shape[0] else NULL
    st.scale = scalars[SCALE]
    st.updates = scalars[UPDATES]
    st.seen = scalars[SEEN]
    st.P = scalars[AVG_P]
    st.avg_count = scalars[AVG_COUNT]
    st.u = scalars[L1_U]
    st.eta = scalars[ETA]

    cdef _ReadAhead job = None
    cdef int64_t[::1] flags
    cdef int64_t *progress = NULL
    if read_ahead and not sparse and FL_AHEAD_THREADS:
        flags = np.zeros(2 * FL_AHEAD_STRIDE, dtype=np.int64)
        job = _ReadAhead()
        job.data = <const char *>data
        job.row_bytes = d * sizeof(floating)
        job.rows = &rows[0]
        job.n = n
        job.lo = 2 * cfg.batch_size
        job.hi = job.lo + max(16, READ_AHEAD_BYTES // job.row_bytes)
        job.flags = &flags[0]
        job.keep = flags
        helper = threading.Thread(target=_read_ahead, args=(job,), daemon=True)
        try:
            helper.start()
            progress = &flags[0]
        except RuntimeError:
            job = None  # no thread to be had: the loop runs alone (the same results)
    try:
        with nogil:
            status = _epoch(data, indices, indptr, sparse, d, &y[0],
                            &sw[0] if sw.shape[0] else NULL, &rows[0], n, &cfg, &st, &loss, &done,
                            progress)
    finally:
        if job is not None:
            fl_ahead_publish(job.flags + FL_AHEAD_STRIDE, 1)
            helper.join()

    scalars[SCALE] = st.scale
    scalars[UPDATES] = st.updates
    scalars[SEEN] = st.seen
    scalars[AVG_P] = st.P
    scalars[AVG_COUNT] = st.avg_count
    scalars[L1_U] = st.u
    scalars[ETA] = st.eta
    return {"status": status, "loss_sum": loss, "rows_done": done}


def epoch_dense(const floating[:, ::1] X, const int64_t[::1] y, const double[::1] sw,
                const int64_t[::1] rows, dict arrays, double[::1] scalars, dict config,
                bint read_ahead=False):
    """Minibatch steps over ``rows`` (in that order) of a dense C-order X.

    y: (n,) int64 class indices (binary: 0/1); sw: (n,) float64 sample
    weights or an empty array; rows: int64 row numbers, non-empty.
    ``arrays`` and ``scalars`` are the state (see :class:`fastlogit.sgd.SGDState`),
    updated in place; ``config`` the fixed settings.  Returns a dict:
    ``status`` (0 ok, 1 a batch had a non-finite loss: stopped before its
    step), ``loss_sum`` (sum of normalized weight * loss over the rows done,
    each with the weights of its step), ``rows_done``.

    ``read_ahead``: a second thread reads the rows a little ahead of the
    loop (where :func:`read_ahead_available`), so that they come from cache;
    it computes nothing, so the results are the same to the bit.
    """
    cdef const int64_t *no_index = NULL
    return _run(&X[0, 0], no_index, no_index, False, X.shape[1], y, sw, rows, arrays, scalars, config,
                read_ahead)


def epoch_csr(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
              int64_t n_features, const int64_t[::1] y, const double[::1] sw,
              const int64_t[::1] rows, dict arrays, double[::1] scalars, dict config):
    """:func:`epoch_dense` for a CSR matrix (O(nnz) per row; data may be empty)."""
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] else NULL
    return _run(dp, ip, &indptr[0], True, n_features, y, sw, rows, arrays, scalars, config, False)


def shuffle(int64_t[::1] rows, uint64_t[::1] rng_state):
    """Shuffle ``rows`` in place with the loop's SplitMix64 generator (state updated)."""
    with nogil:
        fl_shuffle(&rows[0] if rows.shape[0] else NULL, rows.shape[0], &rng_state[0])


cdef double _eval_rows(const floating *data, const index_t *indices, const index_t *indptr,
                       bint sparse, int64_t d, const int64_t *y, const double *sw,
                       const int64_t *rows, int64_t n, const Config *cfg, State *st,
                       double *weight) noexcept nogil:
    cdef int64_t r, i
    cdef double si, total = 0.0, wsum = 0.0
    for r in range(n):
        i = rows[r]
        si = sw[i] if sw != NULL else 1.0
        _scores(data, indices, indptr, sparse, d, i, st, cfg.n_w, st.Z)
        total += si * _row_loss_residual(st.Z, y[i], si, cfg, st)
        wsum += si
    weight[0] = wsum
    return total


cdef tuple _loss(const floating *data, const index_t *indices, const index_t *indptr, bint sparse,
                 int64_t d, const int64_t[::1] y, const double[::1] sw, const int64_t[::1] rows,
                 double[:, ::1] coef, double[::1] intercept):
    cdef Config cfg
    cdef State st
    cdef double[:, ::1] buf = np.empty((3, coef.shape[0]))
    cdef double total, weight = 0.0
    cfg.n_w = coef.shape[0]
    cfg.multinomial = coef.shape[0] > 1
    st.v = &coef[0, 0]
    st.b = &intercept[0]
    st.scale = 1.0
    st.Z = &buf[0, 0]
    st.p = &buf[1, 0]
    st.p_lo = &buf[2, 0]
    with nogil:
        total = _eval_rows(data, indices, indptr, sparse, d, &y[0] if y.shape[0] else NULL,
                           &sw[0] if sw.shape[0] else NULL,
                           &rows[0] if rows.shape[0] else NULL, rows.shape[0], &cfg, &st, &weight)
    return total, weight


def loss_dense(const floating[:, ::1] X, const int64_t[::1] y, const double[::1] sw,
               const int64_t[::1] rows, double[:, ::1] coef, double[::1] intercept):
    """(sum of s_i * loss_i, sum of s_i) over ``rows`` at (coef, intercept).

    coef: (1, d) for the binary model, (K, d) for softmax; sw may be empty
    (unit weights, not normalized).  Used for early stopping.
    """
    cdef const int64_t *no_index = NULL
    return _loss(&X[0, 0], no_index, no_index, False, X.shape[1], y, sw, rows, coef, intercept)


def loss_csr(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
             int64_t n_features, const int64_t[::1] y, const double[::1] sw,
             const int64_t[::1] rows, double[:, ::1] coef, double[::1] intercept):
    """:func:`loss_dense` for a CSR matrix."""
    cdef const floating *dp = &data[0] if data.shape[0] else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] else NULL
    return _loss(dp, ip, &indptr[0], True, n_features, y, sw, rows, coef, intercept)


# Formulas exposed for the test that pins them to kernels/special.py.
FORMULAS = ("sigmoid", "log_sigmoid", "log1pexp", "loss_y0", "loss_y1", "residual_y0")


def formula_values(str name, const double[::1] x, double[::1] out):
    """out[i] = the C formula ``name`` (one of FORMULAS) at x[i]."""
    cdef int op = FORMULAS.index(name)
    cdef Py_ssize_t i
    cdef double r
    with nogil:
        for i in range(x.shape[0]):
            if op == 0:
                out[i] = fl_sigmoid(x[i])
            elif op == 1:
                out[i] = fl_log_sigmoid(x[i])
            elif op == 2:
                out[i] = fl_log1pexp(x[i])
            elif op == 3:
                out[i] = fl_binary_loss_residual(x[i], 0.0, &r)
            elif op == 4:
                out[i] = fl_binary_loss_residual(x[i], 1.0, &r)
            else:
                fl_binary_loss_residual(x[i], 0.0, &r)
                out[i] = r


def softmax_row_values(const double[:, ::1] z, double[:, ::1] p, double[::1] lse):
    """p[i] = softmax(z[i]) and lse[i] = logsumexp(z[i]) - max(z[i]) from the C formula."""
    cdef Py_ssize_t i
    cdef int64_t K = z.shape[1]
    cdef double[::1] lo = np.empty(K)
    cdef double L
    with nogil:
        for i in range(z.shape[0]):
            fl_softmax_row(&z[i, 0], K, &p[i, 0], &lo[0], &L)
            lse[i] = L


def softmax_residual_values(double[:, ::1] z, const int64_t[::1] y):
    """z[i] <- softmax(z[i]) - onehot(y[i]); returns the loss sum.

    The minibatch path: fl_softmax_residuals, the AVX2/AVX-512 clone where there is one.
    """
    cdef int64_t n = z.shape[0]
    cdef int64_t[::1] rows = np.arange(n, dtype=np.int64)
    cdef double[::1] scratch = np.empty(2 * z.shape[1])
    cdef double total
    with nogil:
        total = fl_softmax_residuals(&z[0, 0], n, z.shape[1], &y[0], &rows[0], NULL, 1.0, &scratch[0])
    return total


def binary_residual_values(double[::1] z, const int64_t[::1] y, const double[::1] sw, double sw_scale):
    """z[i] <- s_i * (sigmoid(z[i]) - y[i]), s_i = sw[i] * sw_scale (1 with sw empty);
    returns the sum of s_i * loss_i in row order.

    The minibatch path: fl_binary_residuals, the AVX2/AVX-512 clone where there is one.
    """
    cdef int64_t n = z.shape[0]
    cdef int64_t[::1] rows = np.arange(n, dtype=np.int64)
    cdef double total
    with nogil:
        total = fl_binary_residuals(&z[0], n, &y[0], &rows[0], &sw[0] if sw.shape[0] else NULL, sw_scale)
    return total
