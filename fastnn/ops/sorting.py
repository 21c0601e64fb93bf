"""Sorting: sort, argsort and topk along a dim (values differentiable; the gradient goes back to
the positions the values came from). NaN sorts as the largest value, as in PyTorch; equal values
keep their order (a stable sort)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.dtypes import int64
from fastnn.autograd.engine import TensorBase, record, wrap
from fastnn.ops.checks import as_tensor, axes, one_axis
from fastnn.ops.reduce import ValuesIndices


def _order(x: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Stable sort positions along `axis` (NaN largest)."""
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    if x.dtype.kind == "f":
        moved = np.moveaxis(x, axis, -1)
        order = np.lexsort((-moved, ~np.isnan(moved)), axis=-1)  # NaN first, then largest first
        return np.moveaxis(order, -1, axis)
    key = ~x.astype(np.int8) if x.dtype == np.bool_ else ~x  # ~ reverses integer order, without overflow
    return np.argsort(key, axis=axis, kind="stable")


def _take(t: TensorBase, idx: np.ndarray, axis: int, name: str) -> TensorBase:
    x = t.array
    values = np.take_along_axis(x, idx, axis=axis)
    shape, dtype = x.shape, x.dtype

    def backward(g: np.ndarray) -> tuple:
        dx = np.zeros(shape, dtype=dtype)
        np.put_along_axis(dx, idx, g, axis=axis)
        return (dx,)

    return record(values, (t,), backward, name)


def _axis(t: TensorBase, dim: int, op: str) -> int:
    if t.array.ndim == 0:
        axes(dim, 0, op)
        return -1
    return one_axis(dim, t.array.ndim, op)


def sort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """(values sorted along `dim`, their positions in `input`)."""
    t = as_tensor(input, "sort")
    if t.array.ndim == 0:
        _axis(t, dim, "sort")
        return ValuesIndices(t.clone(), wrap(np.zeros((), dtype=int64)))
    axis = _axis(t, dim, "sort")
    idx = _order(t.array, axis, descending)
    return ValuesIndices(_take(t, idx, axis, "SortBackward0"), wrap(idx.astype(int64)))


def argsort(input: Any, dim: int = -1, descending: bool = False, stable: bool = False) -> TensorBase:
    """The positions that sort `input` along `dim` (int64)."""
    t = as_tensor(input, "argsort")
    if t.array.ndim == 0:
        _axis(t, dim, "argsort")
        return wrap(np.zeros((), dtype=int64))
    return wrap(_order(t.array, _axis(t, dim, "argsort"), descending).astype(int64))


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> ValuesIndices:
    """The k largest (or smallest) values along `dim` and their positions, largest first."""
    t = as_tensor(input, "topk")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an integer, got {type(k).__name__}")
    size = t.array.shape[_axis(t, dim, "topk")] if t.array.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k ({k}) out of range for a dimension of size {size}")
    if t.array.ndim == 0:
        return ValuesIndices(t.clone() if k else t.reshape(0), wrap(np.zeros(() if k else (0,), dtype=int64)))
    axis = _axis(t, dim, "topk")
    idx = np.take(_order(t.array, axis, largest), np.arange(k), axis=axis)
    return ValuesIndices(_take(t, idx, axis, "TopkBackward0"), wrap(idx.astype(int64)))


class SortingMethods:
    """Tensor's sort, argsort and topk."""

    __slots__ = ()

    sort = sort
    argsort = argsort
    topk = topk


__all__ = ["SortingMethods", "argsort", "sort", "topk"]
