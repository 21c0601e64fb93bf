# cython: language_level=3
"""Elementwise activations, row softmax and log-softmax, forward and backward.

The public defs are the kernel table's entries (fastnn.backends.contract.KERNELS): they allocate
their outputs and run the fused-type bodies below. Inputs are C-contiguous and already checked by
fastnn.backends.base (shapes, dtypes, names). Work is split into contiguous runs across an OpenMP
team only above PARALLEL_MIN_WORK (the thread policy of fastnn.threads).
"""

import numpy as np

from cython.parallel cimport prange

from elementwise cimport (COST_MATH, COST_PASS, FASTNN_CONTRACT, act_backward_cost, act_backward_span, act_cost,
                          act_forward_span, chunk_start, floating, team_size)
from softmax_rows cimport _softmax_backward_rows, _softmax_rows

from fastnn.backends.contract import ACTIVATION_CODES
from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()


def activation_forward(x, activation, double negative_slope):
    """act(x), any shape."""
    out = np.empty_like(x)
    _activation_forward(out.reshape(-1), x.reshape(-1), ACTIVATION_CODES[activation], negative_slope,
                        get_num_threads())
    return out


def activation_backward(grad_out, saved, activation, double negative_slope):
    """grad_out * act'(saved), any shape."""
    out = np.empty_like(saved)
    _activation_backward(out.reshape(-1), grad_out.reshape(-1), saved.reshape(-1), ACTIVATION_CODES[activation],
                         negative_slope, get_num_threads())
    return out


def softmax_forward(x):
    out = np.empty_like(x)
    _softmax_forward(out, x, False, get_num_threads())
    return out


def softmax_backward(grad_out, out):
    dx = np.empty_like(out)
    _softmax_backward(dx, grad_out, out, False, get_num_threads())
    return dx


def log_softmax_forward(x):
    out = np.empty_like(x)
    _softmax_forward(out, x, True, get_num_threads())
    return out


def log_softmax_backward(grad_out, out):
    dx = np.empty_like(out)
    _softmax_backward(dx, grad_out, out, True, get_num_threads())
    return dx


def _activation_forward(floating[::1] out, const floating[::1] x, int act, double slope, int nthreads):
    """out = act(x), flat arrays of one length."""
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int c, chunks = team_size(n * act_cost(act), nthreads)
    if n == 0:
        return
    if chunks == 1:
        with nogil:
            act_forward_span(&out[0], &x[0], n, act, <floating>slope)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        lo = chunk_start(n, c, chunks)
        hi = chunk_start(n, c + 1, chunks)
        act_forward_span(&out[lo], &x[lo], hi - lo, act, <floating>slope)


def _activation_backward(floating[::1] out, const floating[::1] grad_out, const floating[::1] saved, int act,
                         double slope, int nthreads):
    """out = grad_out * act'(saved), flat arrays of one length."""
    cdef Py_ssize_t n = saved.shape[0], lo, hi
    cdef int c, chunks = team_size(n * act_backward_cost(act), nthreads)
    if n == 0:
        return
    if chunks == 1:
        with nogil:
            act_backward_span(&out[0], &grad_out[0], &saved[0], n, act, <floating>slope)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        lo = chunk_start(n, c, chunks)
        hi = chunk_start(n, c + 1, chunks)
        act_backward_span(&out[lo], &grad_out[lo], &saved[lo], hi - lo, act, <floating>slope)


def _softmax_forward(floating[:, ::1] out, const floating[:, ::1] x, bint log, int nthreads):
    """Row softmax (log-softmax when `log`) of x (N, C) into out."""
    cdef Py_ssize_t rows = x.shape[0], cols = x.shape[1], lo, hi
    cdef int c, chunks = team_size(rows * cols * COST_MATH, nthreads)
    if rows == 0 or cols == 0:
        return
    chunks = min(chunks, rows)
    if chunks == 1:
        with nogil:
            _softmax_rows(&out[0, 0], &x[0, 0], 0, rows, cols, log)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        lo = chunk_start(rows, c, chunks)
        hi = chunk_start(rows, c + 1, chunks)
        _softmax_rows(&out[0, 0], &x[0, 0], lo, hi, cols, log)


def _softmax_backward(floating[:, ::1] out, const floating[:, ::1] grad_out, const floating[:, ::1] y, bint log,
                     int nthreads):
    """Backward of the row softmax (log-softmax when `log`) from its output y."""
    cdef Py_ssize_t rows = y.shape[0], cols = y.shape[1], lo, hi
    cdef int c, chunks = team_size(rows * cols * (COST_MATH if log else COST_PASS), nthreads)
    if rows == 0 or cols == 0:
        return
    chunks = min(chunks, rows)
    if chunks == 1:
        with nogil:
            _softmax_backward_rows(&out[0, 0], &grad_out[0, 0], &y[0, 0], 0, rows, cols, log)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        lo = chunk_start(rows, c, chunks)
        hi = chunk_start(rows, c + 1, chunks)
        _softmax_backward_rows(&out[0, 0], &grad_out[0, 0], &y[0, 0], lo, hi, cols, log)
