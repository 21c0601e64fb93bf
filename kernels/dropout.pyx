# cython: language_level=3
"""Inverted dropout with the counter-based splitmix64 stream of fastnn.backends.reference.dropout.

u_i = (splitmix64(seed + (i+1) * golden) >> 11) * 2**-53 depends only on (seed, i), so the mask is
identical for every backend and thread count; keep_i = u_i >= p, out_i = x_i * keep_i * scale.
"""

from libc.stdint cimport int64_t, uint8_t, uint64_t
from cython.parallel cimport prange

import numpy as np

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

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15ULL


cdef inline double _uniform(uint64_t seed, uint64_t i) noexcept nogil:
    """The i-th (0-based) uniform of the stream, exactly as base.splitmix64_uniform."""
    cdef uint64_t z = seed + (i + 1) * GOLDEN
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    return <double><int64_t>(z >> 11) * (1.0 / 9007199254740992.0)


cdef void _forward_span(floating* out, uint8_t* mask, const floating* x, uint64_t seed, double p, floating scale,
                        Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint8_t keep
    for i in range(lo, hi):
        keep = _uniform(seed, <uint64_t>i) >= p
        mask[i] = keep
        out[i] = x[i] * <floating>keep * scale


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


cdef void _backward_span(floating* out, const floating* g, const uint8_t* mask, floating scale, Py_ssize_t lo,
                         Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        out[i] = g[i] * <floating>mask[i] * scale


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
