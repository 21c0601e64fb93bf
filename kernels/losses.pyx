# cython: language_level=3
"""Losses with their gradient in one pass: softmax + cross-entropy, mse, bce with logits.

Each kernel writes the per-element (or per-row) losses and the gradient already multiplied by
`scale` (1/count for 'mean', 1 otherwise), and
returns the sum of the losses (float64 accumulation of float blocks).
"""

import numpy as np

from cython.parallel cimport prange

from elementwise cimport COST_MATH, COST_PASS, FASTNN_CONTRACT, chunk_start, floating, team_size
from losses_rows cimport _pointwise_span, _xent_rows

from fastnn.backends.contract import grad_scale, loss_total, reduce_loss
from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()

def softmax_cross_entropy(logits, target, reduction, long long ignore_index, double label_smoothing):
    """(loss, dlogits) of the fused softmax cross-entropy (see fastnn.backends.base)."""
    count = int(np.count_nonzero(target != ignore_index))
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    grad = np.empty_like(logits)
    _softmax_cross_entropy(grad, loss, logits, target, ignore_index, label_smoothing, grad_scale(reduction, count),
                           get_num_threads())
    return reduce_loss(loss, reduction, count), grad


def _pointwise(bint bce, input, target, reduction):
    n = input.size
    grad = np.empty_like(input)
    loss = np.empty_like(input) if reduction == "none" else None
    total = _pointwise_loss(bce, grad.reshape(-1), None if loss is None else loss.reshape(-1), input.reshape(-1),
                            target.reshape(-1), grad_scale(reduction, n), get_num_threads())
    return (loss if reduction == "none" else loss_total(total, reduction, n, input.dtype)), grad


def mse_loss(input, target, reduction):
    """(loss, dinput): loss (x - t)^2 reduced, dinput 2 (x - t) scaled."""
    return _pointwise(False, input, target, reduction)


def bce_with_logits(logits, target, reduction):
    """(loss, dlogits) of the stable binary cross-entropy on logits."""
    return _pointwise(True, logits, target, reduction)


def _softmax_cross_entropy(floating[:, ::1] grad, floating[::1] loss, const floating[:, ::1] logits,
                          const long long[::1] target, long long ignore_index, double eps, double scale,
                          int nthreads):
    """Per-row losses into `loss` (N,), scaled dlogits into `grad` (N, C)."""
    cdef Py_ssize_t rows = logits.shape[0], cols = logits.shape[1], lo, hi
    cdef int c, chunks = min(team_size(rows * cols * COST_MATH, nthreads), rows)
    if rows == 0:
        return
    if chunks == 1:
        with nogil:
            _xent_rows(&grad[0, 0], &loss[0], &logits[0, 0], &target[0], 0, rows, cols, ignore_index, eps,
                       <floating>scale)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        lo = chunk_start(rows, c, chunks)
        hi = chunk_start(rows, c + 1, chunks)
        _xent_rows(&grad[0, 0], &loss[0], &logits[0, 0], &target[0], lo, hi, cols, ignore_index, eps,
                   <floating>scale)


cdef double _pointwise_sum(bint bce, floating[::1] grad, floating[::1] loss, const floating[::1] x,
                            const floating[::1] target, double scale, int nthreads):
    """Run the mse or bce span over n elements, split across threads above the threshold."""
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int c, chunks = team_size(n * (COST_MATH if bce else COST_PASS), nthreads)
    cdef floating* lp = &loss[0] if loss is not None else NULL
    cdef double total = 0
    cdef double[::1] partial
    if n == 0:
        return 0.0
    if chunks == 1:
        with nogil:
            total = _pointwise_span(bce, &grad[0], lp, &x[0], &target[0], n, <floating>scale)
        return total
    partial = np.zeros(chunks)
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        lo = chunk_start(n, c, chunks)
        hi = chunk_start(n, c + 1, chunks)
        partial[c] = _pointwise_span(bce, &grad[lo], lp + lo if lp != NULL else NULL, &x[lo], &target[lo], hi - lo,
                                     <floating>scale)
    for c in range(chunks):
        total += partial[c]
    return total


def _pointwise_loss(bint bce, floating[::1] grad, floating[::1] loss, const floating[::1] x,
                    const floating[::1] target, double scale, int nthreads):
    """The mse (or bce) span over n elements; returns the sum of the losses."""
    return _pointwise_sum(bce, grad, loss, x, target, scale, nthreads)
