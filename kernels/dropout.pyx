# cython: language_level=3
"""Inverted dropout with the counter-based splitmix64 stream of fastnn.backends.reference.dropout.

u_i = (splitmix64(seed + (i+1) * golden) >> 11) * 2**-53 depends only on (seed, i), so the mask is
identical for every backend and thread count; keep_i = u_i >= p, out_i = x_i * keep_i * scale.
"""

from libc.stdint cimport int64_t, uint8_t, uint64_t
from cython.parallel cimport prange

import numpy as np

from dropout_rows cimport _backward_span, _forward_span
from elementwise cimport COST_MATH, COST_PASS, FASTNN_CONTRACT, chunk_start, floating, team_size

from fastnn.backends.contract import dropout_scale
from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()


def dropout_forward(x, double p, uint64_t seed):
    """(out, mask uint8) of inverted dropout, any shape."""
    out = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.uint8)
    _dropout_forward(out.reshape(-1), mask.reshape(-1), x.reshape(-1), seed, p, dropout_scale(p), get_num_threads())
    return out, mask


def dropout_backward(grad_out, mask, double p):
    """grad_out * mask * scale, any shape."""
    out = np.empty_like(grad_out)
    _dropout_backward(out.reshape(-1), grad_out.reshape(-1), mask.reshape(-1), dropout_scale(p), get_num_threads())
    return out



def _dropout_forward(floating[::1] out, uint8_t[::1] mask, const floating[::1] x, uint64_t seed, double p,
                    double scale, int nthreads):
    """out = x * mask * scale, mask from the seeded stream; flat arrays."""
    cdef Py_ssize_t n = x.shape[0]
    cdef int c, chunks = team_size(n * COST_MATH, nthreads)
    if n == 0:
        return
    if chunks == 1:
        with nogil:
            _forward_span(&out[0], &mask[0], &x[0], seed, p, <floating>scale, 0, n)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _forward_span(&out[0], &mask[0], &x[0], seed, p, <floating>scale, chunk_start(n, c, chunks),
                      chunk_start(n, c + 1, chunks))


def _dropout_backward(floating[::1] out, const floating[::1] grad_out, const uint8_t[::1] mask, double scale,
                     int nthreads):
    """out = grad_out * mask * scale; flat arrays."""
    cdef Py_ssize_t n = grad_out.shape[0]
    cdef int c, chunks = team_size(n * COST_PASS, nthreads)
    if n == 0:
        return
    if chunks == 1:
        with nogil:
            _backward_span(&out[0], &grad_out[0], &mask[0], <floating>scale, 0, n)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _backward_span(&out[0], &grad_out[0], &mask[0], <floating>scale, chunk_start(n, c, chunks),
                       chunk_start(n, c + 1, chunks))
