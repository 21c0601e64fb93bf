"""gather and scatter_add along a dim, and the one-argument where (the indices of true elements).

For a 3-D input and dim 1: gather gives out[i][j][k] = input[i][index[i][j][k]][k]; scatter_add
adds src[i][j][k] into out[i][index[i][j][k]][k]. `index` may be smaller than the input in the
other dims (as in PyTorch); every index must lie in range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, record, wrap
from fastnn.ops.arithmetic import binary_operands
from fastnn.ops.checks import as_tensor, integer_indices, one_axis
from fastnn.ops.inplace import check_inplace


def _positions(op: str, shape: tuple, dim: int, index: Any, sizes_from: tuple | None = None) -> tuple:
    """The full index tuple addressing, for every element of `index`, its target in a `shape` array."""
    idx = integer_indices(op, index, "index")
    if idx.ndim != len(shape) and not (idx.ndim <= 1 and len(shape) <= 1):
        raise RuntimeError(f"{op}: index has {idx.ndim} dimensions but the input has {len(shape)}")
    if not shape:
        idx = idx.reshape(())
    axis = one_axis(dim, len(shape), op) if shape else 0
    limit = sizes_from if sizes_from is not None else shape
    for d, (n, m) in enumerate(zip(idx.shape, limit)):
        if d != axis and n > m:
            raise RuntimeError(f"{op}: index {idx.shape} is larger than the input {shape} in dimension {d}")
    if not shape:
        if idx.size and idx.item() != 0:
            raise IndexError(f"{op}: index {idx.item()} out of range for a 0-d tensor")
        return (), idx
    bound = shape[axis]
    if idx.size and (idx.min() < 0 or idx.max() >= bound):  # negative indices are errors, as in torch
        bad = idx[(idx < 0) | (idx >= bound)].reshape(-1)[0]
        raise IndexError(f"{op}: index {int(bad)} out of range for dimension {dim} of size {bound}")
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    return tuple(grid), idx


def gather(input: Any, dim: int, index: Any) -> TensorBase:
    """Values of `input` at `index` along `dim` (out has index's shape)."""
    t = as_tensor(input, "gather")
    where, _ = _positions("gather", t.array.shape, dim, index)
    x = t.array
    out = np.array(x[where]) if where else x.copy()
    shape, dtype = x.shape, x.dtype

    def backward(g: np.ndarray) -> tuple:
        dx = np.zeros(shape, dtype=dtype)
        if where:
            np.add.at(dx, where, g)
        else:
            dx += g
        return (dx,)

    return record(out, (t,), backward, "GatherBackward0")


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> TensorBase:
    """A copy of `input` with src's values at `index` added along `dim`."""
    t = as_tensor(input, "scatter_add")
    source = src if isinstance(src, TensorBase) else wrap(np.asarray(src, dtype=t.array.dtype))
    x, s, _ = binary_operands("scatter_add", t, source)
    if s.ndim != x.ndim:
        raise RuntimeError(f"scatter_add: src has {s.ndim} dimensions but the input has {x.ndim}")
    where, idx = _positions("scatter_add", x.shape, dim, index)
    if any(n > m for n, m in zip(idx.shape, s.shape)):
        raise RuntimeError(f"scatter_add: index {idx.shape} is larger than src {s.shape}")
    picked = s[tuple(slice(0, n) for n in idx.shape)]
    out = x.copy()
    if where:
        np.add.at(out, where, picked)
    else:
        out += picked
    src_shape = s.shape

    def backward(g: np.ndarray) -> tuple:
        dsrc = np.zeros(src_shape, dtype=g.dtype)
        dsrc[tuple(slice(0, n) for n in idx.shape)] = g[where] if where else g
        return g, dsrc

    return record(out, (t, source), backward, "ScatterAddBackward0")


def nonzero_tuple(condition: Any) -> tuple:
    """torch.where(condition): one int64 tensor of positions per dim, where condition is true."""
    cond = condition.array if isinstance(condition, TensorBase) else np.asarray(condition)
    return tuple(wrap(i.astype(np.int64)) for i in np.nonzero(cond))


class GatherMethods:
    """Tensor's gather and scatter_add (scatter_add_ in place, outside the graph)."""

    __slots__ = ()

    def gather(self, dim: int, index: Any) -> TensorBase:
        return gather(self, dim, index)

    def scatter_add(self, dim: int, index: Any, src: Any) -> TensorBase:
        return scatter_add(self, dim, index, src)

    def scatter_add_(self, dim: int, index: Any, src: Any) -> TensorBase:
        check_inplace(self, "scatter_add_")
        self.array[...] = scatter_add(wrap(self.array), dim, index, src).array
        return self


__all__ = ["GatherMethods", "gather", "nonzero_tuple", "scatter_add"]
