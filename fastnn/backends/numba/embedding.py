"""Embedding gather, embedding-bag pooling, and their scatter-add gradients.

The scatter-adds are parallel over column blocks of the gradient: every thread walks all the
indices in order but owns its columns, so no element is written by two threads and each
element's sum is taken in the reference's order.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastnn.backends.contract import COST_PASS
from fastnn.backends.numba.jit import pick, serial_and_parallel

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


EMBEDDING_FORWARD = serial_and_parallel(_embedding_forward)
EMBEDDING_BACKWARD = serial_and_parallel(_embedding_backward)
EMBEDDING_BAG_FORWARD = serial_and_parallel(_embedding_bag_forward)
EMBEDDING_BAG_BACKWARD = serial_and_parallel(_embedding_bag_backward)


# ------------------------------------------------------------------ the kernel table's entries
def embedding_forward(weight, indices):
    out = np.empty((indices.shape[0], weight.shape[1]), dtype=weight.dtype)
    pick(EMBEDDING_FORWARD, out.size, COST_PASS)(weight, indices, out)
    return out


def embedding_backward(grad_out, indices, num_embeddings, padding_idx):
    dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    pick(EMBEDDING_BACKWARD, grad_out.size, COST_PASS)(grad_out, indices, padding_idx, dweight)
    return dweight


def embedding_bag_forward(weight, indices, offsets, mode, padding_idx):
    out = np.empty((offsets.shape[0], weight.shape[1]), dtype=weight.dtype)
    pick(EMBEDDING_BAG_FORWARD, indices.size * weight.shape[1], COST_PASS)(
        weight, indices, offsets, mode == "mean", padding_idx, out)
    return out


def embedding_bag_backward(grad_out, indices, offsets, num_embeddings, mode, padding_idx):
    dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    pick(EMBEDDING_BAG_BACKWARD, indices.size * grad_out.shape[1], COST_PASS)(
        grad_out, indices, offsets, mode == "mean", padding_idx, dweight)
    return dweight
