"""Embedding lookups by the backend's embedding kernels, with dense or row-sparse gradients.

The weight's gradient scatter-adds into the rows used, never into the padding_idx row; with
``sparse=True`` it is a :class:`~fastnn.autograd.sparse.SparseTensor` holding only those rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, record
from fastnn.autograd.sparse import SparseTensor
from fastnn.backends import get_backend
from fastnn.ops.checks import integer_indices, kernel_call, tensor_argument


def unique_rows(ids: np.ndarray, num: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique ids, each id's position among them) as int64; for a table not much larger than
    the batch, by marking the rows used (O(num + len(ids))) instead of sorting (O(n log n))."""
    if num > 16 * ids.size:
        rows, compact = np.unique(ids, return_inverse=True)
        return rows.astype(np.int64), compact.astype(np.int64).reshape(ids.shape)
    used = np.zeros(num, dtype=bool)
    used[ids] = True
    rows = np.flatnonzero(used)
    position = np.empty(num, dtype=np.int64)
    position[rows] = np.arange(rows.shape[0])
    return rows.astype(np.int64), position[ids]


def row_sparse_grad(scatter: Callable, ids: np.ndarray, num: int, padding_idx: int | None) -> SparseTensor:
    """The weight gradient over the unique ids only: `scatter(compact_ids, n_unique, compact_padding)` is
    the dense backward kernel run on the ids renumbered 0..n_unique-1; the padding row is dropped."""
    rows, compact = unique_rows(ids, num)
    pad = None
    if padding_idx is not None:
        at = int(np.searchsorted(rows, padding_idx))
        pad = at if at < rows.shape[0] and rows[at] == padding_idx else None
    values = scatter(compact, rows.shape[0], pad)
    if pad is not None:
        rows, values = np.delete(rows, pad), np.delete(values, pad, axis=0)
    return SparseTensor(rows, values, (num, values.shape[1]))


def _table(op: str, weight: Any) -> TensorBase:
    weight = tensor_argument(op, "weight", weight)
    if weight.array.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.array.shape}")
    return weight


def _padding(op: str, padding_idx: Any, num: int) -> int | None:
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"{op}: padding_idx must be an integer or None, got {type(padding_idx).__name__}")
    if not -num <= padding_idx < num:
        raise ValueError(f"{op}: padding_idx {padding_idx} out of range for {num} embeddings")
    return int(padding_idx) % num


def embedding(input: Any, weight: Any, padding_idx: int | None = None, sparse: bool = False) -> TensorBase:
    """Rows of `weight` (V, D) at integer `input` of any shape -> (*input.shape, D)."""
    ids = integer_indices("embedding", input)
    weight = _table("embedding", weight)
    w = weight.array
    num, dim = w.shape
    padding_idx = _padding("embedding", padding_idx, num)
    flat = ids.reshape(-1)
    backend = get_backend()
    rows = kernel_call("embedding", backend.embedding_forward, w, flat)
    out = rows.reshape(ids.shape + (dim,))

    def backward(g: np.ndarray) -> tuple:
        grad_rows = g.reshape(-1, dim)
        if sparse:
            return (row_sparse_grad(lambda compact, n, pad: backend.embedding_backward(grad_rows, compact, n, pad),
                                    flat, num, padding_idx),)
        return (backend.embedding_backward(grad_rows, flat, num, padding_idx),)

    return record(out, (weight,), backward, "EmbeddingBackward0")


def embedding_bag(input: Any, weight: Any, offsets: Any = None, mode: str = "mean",
                  padding_idx: int | None = None, sparse: bool = False) -> TensorBase:
    """Sum or mean of the embedding rows of each bag -> (B, D); empty bags give zeros.

    `input` is 2-D (B, L) (each row a bag, offsets None) or 1-D with `offsets` (B,) marking bag starts."""
    if mode not in ("mean", "sum"):
        raise ValueError(f"embedding_bag: mode must be 'mean' or 'sum', got {mode!r}")
    ids = integer_indices("embedding_bag", input)
    if ids.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None when input is 2-D (each row is a bag)")
        offs = np.arange(ids.shape[0], dtype=np.int64) * ids.shape[1]
        ids = ids.reshape(-1)
    elif ids.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: offsets are required when input is 1-D")
        offs = integer_indices("embedding_bag", offsets, "offsets")
    else:
        raise ValueError(f"embedding_bag: input must be 1-D (with offsets) or 2-D, got shape {ids.shape}")
    weight = _table("embedding_bag", weight)
    w = weight.array
    num = w.shape[0]
    padding_idx = _padding("embedding_bag", padding_idx, num)
    backend = get_backend()
    out = kernel_call("embedding_bag", backend.embedding_bag_forward, w, ids, offs, mode, padding_idx)

    def backward(g: np.ndarray) -> tuple:
        if sparse:
            return (row_sparse_grad(lambda compact, n, pad: backend.embedding_bag_backward(g, compact, offs, n, mode,
                                                                                           pad),
                                    ids, num, padding_idx),)
        return (backend.embedding_bag_backward(g, ids, offs, num, mode, padding_idx),)

    return record(out, (weight,), backward, "EmbeddingBagBackward0")


__all__ = ["embedding", "embedding_bag", "row_sparse_grad", "unique_rows"]
