# cython: language_level=3
"""Fused linear layer: BLAS gemm for the products, one compiled pass for bias + activation
(forward) and for dz = grad_out * act'(saved) with the bias column sums (backward).

Row-major (N, K) memory is column-major (K, N), so each product is called transposed:
z^T = W^T' x^T, dx^T = W^T dz^T, dW^T = x^T dz. The compiled bodies need every dimension >= 1:
the table's entries (linear_forward, linear_backward) send empty shapes to the NumPy reference.
Every array is C-contiguous.

The products go to NumPy's own BLAS (fastnn.threads.blas): its sgemm / dgemm addresses are bound
here at import and checked on a small product, so the whole process runs one BLAS with one thread
pool, set by fastnn.set_num_threads. The integer width (LP64 or ILP64) follows the library.
"""

import numpy as np

from cython.parallel cimport prange, threadid
from libc.stdint cimport int64_t, uintptr_t

from dense_rows cimport _bias_act_rows, _dz_rows
from gemm cimport gemm_at
from elementwise cimport FASTNN_CONTRACT, act_backward_cost, act_cost, chunk_start, floating, team_size

from fastnn.backends.contract import ACTIVATION_CODES, saves_input
from fastnn.backends.reference import dense as reference
from fastnn.threads import get_num_threads
from fastnn.threads.blas import library

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()

cdef void* _sgemm = NULL
cdef void* _dgemm = NULL
cdef bint _ilp64 = False


def bind_blas(uintptr_t sgemm, uintptr_t dgemm, bint ilp64):
    """Call these gemm functions from now on, after checking both on a 2x3 @ 3x2 product (an
    ImportError names the library if a result is wrong: a wrong integer width, say)."""
    global _sgemm, _dgemm, _ilp64
    if sgemm == 0 or dgemm == 0:
        raise ImportError("fastnn: no BLAS gemm to bind the Cython dense kernels to")
    _sgemm, _dgemm, _ilp64 = <void*>sgemm, <void*>dgemm, ilp64
    a = np.arange(1, 7, dtype=np.float64).reshape(2, 3)
    b = np.arange(7, 13, dtype=np.float64).reshape(3, 2)
    for dtype in (np.float32, np.float64):
        x, w = np.ascontiguousarray(a, dtype), np.ascontiguousarray(b.T, dtype)
        got, _ = linear_forward(x, w, None, "identity", 0.0)
        if not np.array_equal(got, (a @ b).astype(dtype)):
            _sgemm = _dgemm = NULL
            raise ImportError(f"fastnn: the BLAS at {library().path} gave a wrong {np.dtype(dtype)} product "
                              f"({got.tolist()} for {(a @ b).tolist()}); integer width assumed "
                              f"{'64' if ilp64 else '32'}-bit")


def linear_forward(x, weight, bias, activation, double negative_slope):
    """(out, saved): out = act(x @ weight.T + bias); saved is z for activations that save their input."""
    if x.size == 0 or weight.size == 0:
        return reference.linear_forward(x, weight, bias, activation, negative_slope)
    z = np.empty((x.shape[0], weight.shape[0]), dtype=x.dtype)
    out = np.empty_like(z) if saves_input(activation) else z
    _linear_forward(out, z, x, weight, bias, ACTIVATION_CODES[activation], negative_slope, get_num_threads())
    return out, z


def linear_backward(grad_out, x, weight, saved, activation, double negative_slope, bint need_input_grad,
                    bint need_bias_grad):
    """(dx or None, dweight, dbias or None) of out = act(x @ weight.T + b)."""
    if x.size == 0 or weight.size == 0:
        return reference.linear_backward(grad_out, x, weight, saved, activation, negative_slope, need_input_grad,
                                         need_bias_grad)
    dz = grad_out if activation == "identity" else np.empty_like(grad_out)
    dx = np.empty_like(x) if need_input_grad else None
    dweight = np.empty_like(weight)
    dbias = np.empty(weight.shape[0], dtype=weight.dtype) if need_bias_grad else None
    _linear_backward(dz, grad_out, x, weight, saved, ACTIVATION_CODES[activation], negative_slope, dx, dweight, dbias,
                     get_num_threads())
    return dx, dweight, dbias


cdef inline void _gemm(char transa, char transb, int m, int n, int k, const floating* a, int lda,
                       const floating* b, int ldb, floating* c, int ldc) noexcept nogil:
    """Column-major c (m, n) = op(a) op(b), in the bound BLAS."""
    gemm_at(_sgemm if floating is float else _dgemm, _ilp64, transa, transb, m, n, k, a, lda, b, ldb, c, ldc)


def _linear_forward(floating[:, ::1] out, floating[:, ::1] z, const floating[:, ::1] x,
                   const floating[:, ::1] weight, const floating[::1] bias, int act, double slope, int nthreads):
    """z = x @ weight.T (+ bias); out = act(z). out may be z itself (activations that save
    their output); x (N, I), weight (O, I), z and out (N, O)."""
    cdef int n = x.shape[0], i = x.shape[1], o = weight.shape[0], c
    cdef int chunks = min(team_size(<Py_ssize_t>n * o * act_cost(act), nthreads), n)
    cdef const floating* b = &bias[0] if bias is not None else NULL
    cdef Py_ssize_t lo, hi
    with nogil:
        _gemm(c'T', c'N', o, n, i, &weight[0, 0], i, &x[0, 0], i, &z[0, 0], o)
        if chunks == 1:
            _bias_act_rows(&out[0, 0], &z[0, 0], b, 0, n, o, act, <floating>slope)
    if chunks > 1:
        for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
            lo = chunk_start(n, c, chunks)
            hi = chunk_start(n, c + 1, chunks)
            _bias_act_rows(&out[0, 0], &z[0, 0], b, lo, hi, o, act, <floating>slope)


def _linear_backward(floating[:, ::1] dz, const floating[:, ::1] grad_out, const floating[:, ::1] x,
                     const floating[:, ::1] weight, const floating[:, ::1] saved, int act, double slope,
                     floating[:, ::1] dx, floating[:, ::1] dweight, floating[::1] dbias, int nthreads):
    """dz = grad_out * act'(saved) (dz may be grad_out for identity), dbias = dz.sum(0),
    dx = dz @ weight (when dx is not None), dweight = dz.T @ x."""
    cdef int n = x.shape[0], i = x.shape[1], o = weight.shape[0], c
    cdef int chunks = min(team_size(<Py_ssize_t>n * o * act_backward_cost(act), nthreads), n)
    cdef Py_ssize_t lo, hi, j
    cdef floating* db = &dbias[0] if dbias is not None else NULL
    cdef floating[:, ::1] partial
    cdef floating* dzp = &dz[0, 0]
    if dzp == &grad_out[0, 0] and db == NULL:
        chunks = 0  # nothing to compute before the products
    elif chunks == 1:
        with nogil:
            if db != NULL:
                for j in range(o):
                    db[j] = 0
            _dz_rows(dzp, db, &grad_out[0, 0], &saved[0, 0], 0, n, o, act, <floating>slope)
    else:
        # one row of bias partial sums per thread, added up afterwards: no shared element is raced on
        partial = np.zeros((chunks, o), dtype=np.float32 if floating is float else np.float64)
        for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
            lo = chunk_start(n, c, chunks)
            hi = chunk_start(n, c + 1, chunks)
            _dz_rows(dzp, &partial[c, 0] if db != NULL else NULL, &grad_out[0, 0], &saved[0, 0], lo, hi, o, act,
                     <floating>slope)
        if db != NULL:
            with nogil:
                for j in range(o):
                    db[j] = partial[0, j]
                for c in range(1, chunks):
                    for j in range(o):
                        db[j] = db[j] + partial[c, j]
    with nogil:
        if dx is not None:
            _gemm(c'N', c'N', i, n, o, &weight[0, 0], i, dzp, o, &dx[0, 0], i)
        _gemm(c'N', c'T', i, o, n, &x[0, 0], i, dzp, o, &dweight[0, 0], i)


_blas = library()
bind_blas(_blas.sgemm, _blas.dgemm, _blas.ilp64)
