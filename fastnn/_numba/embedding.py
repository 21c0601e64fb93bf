"""Embedding gather, embedding-bag pooling, and their scatter-add gradients.

The scatter-adds are parallel over column blocks of the gradient: every thread walks all the
indices in order but owns its columns, so no element is written by two threads and each
element's sum is taken in the reference's order.
"""

from __future__ import annotations

from numba import prange

from fastnn._numba._jit import serial_and_parallel

COLUMN_BLOCK = 16  # columns per scatter-add task (one or two cache lines of a row)


def _embedding_forward(weight, indices, out):
    """out[i] = weight[indices[i]]."""
    for i in prange(indices.shape[0]):
        src, dst = weight[indices[i]], out[i]
        for j in range(dst.shape[0]):
            dst[j] = src[j]


def _embedding_backward(grad_out, indices, padding_idx, dweight):
    """dweight (zeroed) += grad_out[i] at row indices[i]; the padding_idx row stays zero."""
    dim = grad_out.shape[1]
    for c in prange((dim + COLUMN_BLOCK - 1) // COLUMN_BLOCK):
        lo = c * COLUMN_BLOCK
        hi = min(lo + COLUMN_BLOCK, dim)
        for i in range(indices.shape[0]):
            k = indices[i]
            if k == padding_idx:
                continue
            dst, src = dweight[k, lo:hi], grad_out[i, lo:hi]
            for j in range(dst.shape[0]):
                dst[j] += src[j]


def _embedding_bag_forward(weight, indices, offsets, mean, padding_idx, out):
    """out[b] = sum (mean when `mean`) of weight rows indices[offsets[b]:offsets[b+1]],
    padding_idx skipped; an empty bag gives zeros."""
    bags = offsets.shape[0]
    n = indices.shape[0]
    for b in prange(bags):
        dst = out[b]
        for j in range(dst.shape[0]):
            dst[j] = 0
        stop = offsets[b + 1] if b + 1 < bags else n
        count = 0
        for p in range(offsets[b], stop):
            k = indices[p]
            if k == padding_idx:
                continue
            count += 1
            src = weight[k]
            for j in range(dst.shape[0]):
                dst[j] += src[j]
        if mean and count > 1:
            c = dst.dtype.type(count)
            for j in range(dst.shape[0]):
                dst[j] /= c


def _embedding_bag_backward(grad_out, indices, offsets, mean, padding_idx, dweight):
    """dweight (zeroed) += grad_out[b] (divided by bag b's count when `mean`) at each of bag b's
    rows, padding_idx skipped."""
    bags = offsets.shape[0]
    n = indices.shape[0]
    dim = grad_out.shape[1]
    for c in prange((dim + COLUMN_BLOCK - 1) // COLUMN_BLOCK):
        lo = c * COLUMN_BLOCK
        hi = min(lo + COLUMN_BLOCK, dim)
        for b in range(bags):
            stop = offsets[b + 1] if b + 1 < bags else n
            count = 0
            if mean:
                for p in range(offsets[b], stop):
                    count += indices[p] != padding_idx
            divisor = grad_out.dtype.type(max(count, 1))
            src = grad_out[b, lo:hi]
            for p in range(offsets[b], stop):
                k = indices[p]
                if k == padding_idx:
                    continue
                dst = dweight[k, lo:hi]
                for j in range(dst.shape[0]):
                    dst[j] += src[j] / divisor if mean else src[j]


embedding_forward = serial_and_parallel(_embedding_forward)
embedding_backward = serial_and_parallel(_embedding_backward)
embedding_bag_forward = serial_and_parallel(_embedding_bag_forward)
embedding_bag_backward = serial_and_parallel(_embedding_bag_backward)
