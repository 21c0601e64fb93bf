# cython: language_level=3
"""Layer normalisation over the last dim of x (N, D), forward and backward (see fastnn.backends.base).

Rows are independent: both passes split rows across an OpenMP team above PARALLEL_MIN_WORK. Row
statistics are accumulated in double (mean, then the centred variance) and stored in x's dtype.
The backward's column sums (dweight, dbias) go into one partial row per chunk of rows, added
afterwards: no element is raced on, and chunks depend on the row count, not the thread count.
"""

import numpy as np

from cython.parallel cimport prange

from elementwise cimport COST_UPDATE, FASTNN_CONTRACT, chunk_start, floating, team_size

from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()

cdef enum:
    CHUNKS = 8  # row chunks of the backward's column sums


cdef extern from "math.h" nogil:
    double sqrt(double)


def layer_norm_forward(x, weight, bias, double eps):
    """(out, mean, rstd) of x (N, D) normalised over D, times weight, plus bias (either may be None)."""
    n = x.shape[0]
    out = np.empty_like(x)
    mean = np.empty(n, dtype=x.dtype)
    rstd = np.empty(n, dtype=x.dtype)
    _forward(out, mean, rstd, x, weight, bias, eps, get_num_threads())
    return out, mean, rstd


def layer_norm_backward(grad_out, x, weight, mean, rstd, bint need_bias_grad):
    """(dx, dweight or None, dbias or None) of layer_norm_forward."""
    dx = np.empty_like(x)
    partial_w = np.zeros((CHUNKS, x.shape[1]), dtype=x.dtype)
    partial_b = np.zeros((CHUNKS, x.shape[1]), dtype=x.dtype)
    _backward(dx, partial_w, partial_b, grad_out, x, weight, mean, rstd, get_num_threads())
    return dx, (partial_w.sum(axis=0) if weight is not None else None), \
        (partial_b.sum(axis=0) if need_bias_grad else None)


cdef void _forward_rows(floating* out, floating* mean, floating* rstd, const floating* x, const floating* w,
                        const floating* b, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t d, double eps) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef double total, sq, c
    cdef floating m, s, v
    cdef const floating* row
    cdef floating* dst
    for r in range(r0, r1):
        row = x + r * d
        dst = out + r * d
        total = 0
        for j in range(d):
            total += row[j]
        total = total / d
        sq = 0
        for j in range(d):
            c = row[j] - total
            sq += c * c
        m = <floating>total
        s = <floating>(1.0 / sqrt(sq / d + eps))
        mean[r] = m
        rstd[r] = s
        for j in range(d):
            v = (row[j] - m) * s
            if w != NULL:
                v = v * w[j]
            if b != NULL:
                v = v + b[j]
            dst[j] = v


def _forward(floating[:, ::1] out, floating[::1] mean, floating[::1] rstd, const floating[:, ::1] x,
             const floating[::1] weight, const floating[::1] bias, double eps, int nthreads):
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1]
    cdef int c, chunks = min(team_size(n * d * COST_UPDATE, nthreads), n)
    cdef const floating* w = &weight[0] if weight is not None else NULL
    cdef const floating* b = &bias[0] if bias is not None else NULL
    if n == 0:
        return
    if chunks <= 1:
        with nogil:
            _forward_rows(&out[0, 0], &mean[0], &rstd[0], &x[0, 0], w, b, 0, n, d, eps)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _forward_rows(&out[0, 0], &mean[0], &rstd[0], &x[0, 0], w, b, chunk_start(n, c, chunks),
                      chunk_start(n, c + 1, chunks), d, eps)


cdef void _backward_rows(floating* dx, floating* pw, floating* pb, const floating* g, const floating* x,
                         const floating* w, const floating* mean, const floating* rstd, Py_ssize_t r0,
                         Py_ssize_t r1, Py_ssize_t d) noexcept nogil:
    """Rows r0..r1: dx, and their column sums of g * xhat (into pw) and g (into pb)."""
    cdef Py_ssize_t r, j
    cdef double sum_g, sum_gx
    cdef floating m, s, xhat, gw, mean_g, mean_gx
    cdef const floating* gr
    cdef const floating* row
    for r in range(r0, r1):
        gr = g + r * d
        row = x + r * d
        m = mean[r]
        s = rstd[r]
        sum_g = 0
        sum_gx = 0
        for j in range(d):
            xhat = (row[j] - m) * s
            gw = gr[j] * w[j] if w != NULL else gr[j]
            sum_g += gw
            sum_gx += gw * xhat
            pw[j] = pw[j] + gr[j] * xhat
            pb[j] = pb[j] + gr[j]
        mean_g = <floating>(sum_g / d)
        mean_gx = <floating>(sum_gx / d)
        for j in range(d):
            xhat = (row[j] - m) * s
            gw = gr[j] * w[j] if w != NULL else gr[j]
            dx[r * d + j] = s * (gw - mean_g - xhat * mean_gx)


def _backward(floating[:, ::1] dx, floating[:, ::1] partial_w, floating[:, ::1] partial_b,
              const floating[:, ::1] grad_out, const floating[:, ::1] x, const floating[::1] weight,
              const floating[::1] mean, const floating[::1] rstd, int nthreads):
    cdef Py_ssize_t n = x.shape[0], d = x.shape[1]
    cdef int c, team = team_size(n * d * COST_UPDATE, nthreads)
    cdef const floating* w = &weight[0] if weight is not None else NULL
    if n == 0:
        return
    if team <= 1:
        with nogil:
            for c in range(CHUNKS):
                _backward_rows(&dx[0, 0], &partial_w[c, 0], &partial_b[c, 0], &grad_out[0, 0], &x[0, 0], w,
                               &mean[0], &rstd[0], chunk_start(n, c, CHUNKS), chunk_start(n, c + 1, CHUNKS), d)
        return
    for c in prange(CHUNKS, nogil=True, num_threads=team, schedule="static"):
        _backward_rows(&dx[0, 0], &partial_w[c, 0], &partial_b[c, 0], &grad_out[0, 0], &x[0, 0], w, &mean[0],
                       &rstd[0], chunk_start(n, c, CHUNKS), chunk_start(n, c + 1, CHUNKS), d)
