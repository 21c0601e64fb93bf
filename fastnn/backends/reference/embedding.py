"""Embedding gather, embedding-bag pooling, and their scatter-add gradients (padding_idx -1: none)."""

from __future__ import annotations

import numpy as np


def embedding_forward(weight, indices):
    return weight[indices]


def embedding_backward(grad_out, indices, num_embeddings, padding_idx):
    dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    np.add.at(dweight, indices, grad_out)
    if padding_idx >= 0:
        dweight[padding_idx] = 0
    return dweight


def bag_ids(indices, offsets, padding_idx):
    """The bag of every index position, and which positions count (not padding)."""
    n = indices.shape[0]
    if offsets.shape[0] == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    bag = np.searchsorted(offsets, np.arange(n), side="right") - 1
    return bag, indices != padding_idx


def embedding_bag_forward(weight, indices, offsets, mode, padding_idx):
    bag, keep = bag_ids(indices, offsets, padding_idx)
    out = np.zeros((offsets.shape[0], weight.shape[1]), dtype=weight.dtype)
    np.add.at(out, bag[keep], weight[indices[keep]])
    if mode == "mean":
        counts = np.bincount(bag[keep], minlength=offsets.shape[0])
        out /= np.maximum(counts, 1)[:, None].astype(weight.dtype)
    return out


def embedding_bag_backward(grad_out, indices, offsets, num_embeddings, mode, padding_idx):
    bag, keep = bag_ids(indices, offsets, padding_idx)
    rows = grad_out[bag[keep]]
    if mode == "mean":
        counts = np.bincount(bag[keep], minlength=offsets.shape[0])
        rows = rows / counts[bag[keep]][:, None].astype(grad_out.dtype)
    dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
    np.add.at(dweight, indices[keep], rows)
    return dweight
