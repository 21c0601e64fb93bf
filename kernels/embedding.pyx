# cython: language_level=3
"""Embedding gather, embedding-bag pooling, and their scatter-add backwards.

Indices are int64 in range and offsets are valid (checked by fastnn.backends.base). Forward
kernels write disjoint output rows, so they split rows across threads. The backward kernels
scatter into shared rows (an index may repeat), so threads split the embedding *columns*
instead: every thread walks all indices over its own columns and no element is raced on.
"""

import numpy as np

from cython.parallel cimport prange

from elementwise cimport COST_PASS, FASTNN_CONTRACT, chunk_start, floating, team_size
from embedding_rows cimport _bag_rows, _gather_rows, _scatter_cols

from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()


def embedding_forward(weight, indices):
    """out[i] = weight[indices[i]]: (n, D)."""
    out = np.empty((indices.shape[0], weight.shape[1]), dtype=weight.dtype)
    _embedding_forward(out, weight, indices, get_num_threads())
    return out


def embedding_backward(grad_out, indices, Py_ssize_t num_embeddings, long long padding_idx):
    """dweight (num_embeddings, D): scatter-add of grad_out rows at indices, padding_idx row zero."""
    dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    _embedding_backward(dweight, grad_out, indices, padding_idx, get_num_threads())
    return dweight


def embedding_bag_forward(weight, indices, offsets, mode, long long padding_idx):
    """(B, D): each bag's rows summed (or averaged), padding_idx skipped."""
    out = np.zeros((offsets.shape[0], weight.shape[1]), dtype=weight.dtype)
    _embedding_bag_forward(out, weight, indices, offsets, mode == "mean", padding_idx, get_num_threads())
    return out


def embedding_bag_backward(grad_out, indices, offsets, Py_ssize_t num_embeddings, mode, long long padding_idx):
    """dweight (num_embeddings, D) of embedding_bag_forward."""
    dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    _embedding_bag_backward(dweight, grad_out, indices, offsets, mode == "mean", padding_idx, get_num_threads())
    return dweight


def _embedding_forward(floating[:, ::1] out, const floating[:, ::1] weight, const long long[::1] indices,
                      int nthreads):
    """out[i] = weight[indices[i]]."""
    cdef Py_ssize_t n = indices.shape[0], dim = weight.shape[1]
    cdef int c, chunks = min(team_size(n * dim * COST_PASS, nthreads), n)
    if n == 0 or dim == 0:
        return
    if chunks == 1:
        with nogil:
            _gather_rows(&out[0, 0], &weight[0, 0], &indices[0], 0, n, dim)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _gather_rows(&out[0, 0], &weight[0, 0], &indices[0], chunk_start(n, c, chunks), chunk_start(n, c + 1, chunks),
                     dim)


cdef void _scatter(floating[:, ::1] dweight, const floating[:, ::1] rows, const long long[::1] indices,
                   const long long* row_of, const floating* row_scale, long long padding_idx,
                   int nthreads) noexcept:
    """Scatter-add driver: columns split across threads above the threshold."""
    cdef Py_ssize_t n = indices.shape[0], dim = dweight.shape[1]
    cdef int c, chunks = min(team_size(n * dim * COST_PASS, nthreads), dim // 16)  # at least 16 columns per thread
    if n == 0 or dim == 0:
        return
    if chunks <= 1:
        with nogil:
            _scatter_cols(&dweight[0, 0], &rows[0, 0], &indices[0], row_of, row_scale, n, dim, padding_idx, 0, dim)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _scatter_cols(&dweight[0, 0], &rows[0, 0], &indices[0], row_of, row_scale, n, dim, padding_idx,
                      chunk_start(dim, c, chunks), chunk_start(dim, c + 1, chunks))


def _embedding_backward(floating[:, ::1] dweight, const floating[:, ::1] grad_out, const long long[::1] indices,
                       long long padding_idx, int nthreads):
    """dweight (zeros on entry) += scatter of grad_out rows by indices, padding_idx skipped."""
    _scatter(dweight, grad_out, indices, NULL, NULL, padding_idx, nthreads)


def _embedding_bag_forward(floating[:, ::1] out, const floating[:, ::1] weight, const long long[::1] indices,
                          const long long[::1] offsets, bint mean, long long padding_idx, int nthreads):
    """out (zeros on entry, (B, D)): pooled rows of each bag."""
    cdef Py_ssize_t n_bags = offsets.shape[0], n = indices.shape[0], dim = weight.shape[1]
    cdef int c, chunks = min(team_size(n * dim * COST_PASS, nthreads), n_bags)
    if n_bags == 0 or dim == 0:
        return
    if chunks <= 1:
        with nogil:
            _bag_rows(&out[0, 0], &weight[0, 0], &indices[0] if n else NULL, &offsets[0], n_bags, n, dim, mean,
                      padding_idx, 0, n_bags)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _bag_rows(&out[0, 0], &weight[0, 0], &indices[0], &offsets[0], n_bags, n, dim, mean, padding_idx,
                  chunk_start(n_bags, c, chunks), chunk_start(n_bags, c + 1, chunks))


def _embedding_bag_backward(floating[:, ::1] dweight, const floating[:, ::1] grad_out, const long long[::1] indices,
                           const long long[::1] offsets, bint mean, long long padding_idx, int nthreads):
    """dweight (zeros on entry) += grad_out[bag(j)] (/ the bag's count for mean) at indices[j]."""
    cdef Py_ssize_t n_bags = offsets.shape[0], n = indices.shape[0], b, k, stop, count
    if n == 0 or n_bags == 0:
        return
    cdef long long[::1] bag_of = np.empty(n, dtype=np.int64)
    cdef floating[::1] inv_count = np.ones(n_bags, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        for b in range(n_bags):
            stop = offsets[b + 1] if b + 1 < n_bags else n
            count = 0
            for k in range(offsets[b], stop):
                bag_of[k] = b
                count += indices[k] != padding_idx
            if mean and count > 1:
                inv_count[b] = <floating>1 / <floating>count
    _scatter(dweight, grad_out, indices, &bag_of[0], &inv_count[0] if mean else NULL, padding_idx, nthreads)
