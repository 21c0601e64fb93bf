"""Row-sparse gradients: the gradient of an embedding weight with ``sparse=True``.

A :class:`SparseTensor` is PyTorch's sparse COO layout with one sparse dimension: row
``indices()[0, k]`` holds ``values()[k]``, absent rows are zero. It is always coalesced (rows
unique and sorted, duplicates summed). ``sparse + sparse`` concatenates and coalesces;
``sparse + dense`` is dense, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn.autograd.device import is_device
from fastnn.autograd.dtypes import to_dtype
from fastnn.autograd.engine import TensorBase, wrap
from fastnn.backends import get_backend


def _array(value: Any) -> np.ndarray:
    return np.asarray(value.array if isinstance(value, TensorBase) else value)


def coalesced(rows: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique sorted rows and the sum of the values given for each (the embedding scatter-add
    kernel on the rows renumbered 0..n_unique-1)."""
    if not rows.size or bool(np.all(rows[1:] > rows[:-1])):
        return rows, values
    unique, position = np.unique(rows, return_inverse=True)
    flat = values.reshape(values.shape[0], -1)
    summed = get_backend().embedding_backward(flat, position.astype(np.int64), unique.shape[0])
    return unique.astype(np.int64), summed.reshape((unique.shape[0],) + values.shape[1:])


class SparseTensor:
    """A row-sparse tensor of `shape` holding `values[k]` at row `rows[k]` (see the module docstring)."""

    __slots__ = ("_rows", "_values", "shape")
    __array_ufunc__ = None
    is_sparse = True
    requires_grad = False
    grad = None

    def __init__(self, rows: Any, values: Any, shape: Sequence[int]) -> None:
        shape = tuple(int(n) for n in shape)
        rows = _array(rows).reshape(-1)
        values = _array(values)
        if rows.dtype.kind not in "iu":
            raise TypeError(f"SparseTensor: indices must be integers, got {rows.dtype}")
        if values.shape != (rows.shape[0],) + shape[1:]:
            raise ValueError(f"SparseTensor: values of shape {values.shape} do not fit {rows.shape[0]} rows of a "
                             f"tensor of shape {shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= shape[0]):
            raise IndexError(f"SparseTensor: row indices must lie in [0, {shape[0]}), got {rows.min()}..{rows.max()}")
        self._rows, self._values = coalesced(rows.astype(np.int64, copy=False), values)
        self.shape = shape

    @property
    def rows(self) -> np.ndarray:
        """The stored rows, (nnz,) int64, unique and sorted (the array behind ``indices()``)."""
        return self._rows

    @property
    def row_values(self) -> np.ndarray:
        """The stored rows' values, (nnz, *shape[1:]) (the array behind ``values()``)."""
        return self._values

    @property
    def dtype(self) -> np.dtype:
        return self._values.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_leaf(self) -> bool:
        return True

    def dim(self) -> int:
        return len(self.shape)

    def size(self, dim: int | None = None) -> tuple | int:
        return self.shape if dim is None else self.shape[dim]

    def sparse_dim(self) -> int:
        return 1

    def dense_dim(self) -> int:
        return len(self.shape) - 1

    def _nnz(self) -> int:
        return int(self._rows.shape[0])

    def is_coalesced(self) -> bool:
        return True

    def coalesce(self) -> SparseTensor:
        return self

    def indices(self) -> Any:
        """The stored rows as a (1, nnz) int64 tensor (torch's layout for one sparse dimension)."""
        return wrap(self._rows.reshape(1, -1))

    def values(self) -> Any:
        """The stored rows' values, (nnz, *shape[1:])."""
        return wrap(self._values)

    def to_array(self) -> np.ndarray:
        """The dense NumPy array."""
        dense = np.zeros(self.shape, dtype=self._values.dtype)
        dense[self._rows] = self._values
        return dense

    def to_dense(self) -> Any:
        return wrap(self.to_array())

    def add_to(self, dense: np.ndarray) -> None:
        """dense += self, in place."""
        dense[self._rows] += self._values

    def to(self, *args: Any, dtype: Any = None) -> SparseTensor:
        """A copy with values cast to `dtype` (device arguments must be "cpu")."""
        for arg in args:
            if not is_device(arg):
                dtype = arg
        values = self._values if dtype is None else self._values.astype(to_dtype(dtype))
        return SparseTensor(self._rows, values, self.shape)

    def detach(self) -> SparseTensor:
        return self

    def zero_(self) -> SparseTensor:
        """Drop every stored row (the tensor becomes all zeros, nnz 0), as torch does."""
        self._rows = self._rows[:0]
        self._values = self._values[:0]
        return self

    def __add__(self, other: Any) -> Any:
        if isinstance(other, SparseTensor):
            if other.shape != self.shape or other.dtype != self.dtype:
                raise ValueError(f"SparseTensor add: {self.shape} {self.dtype} and {other.shape} {other.dtype} differ")
            return SparseTensor(np.concatenate([self._rows, other._rows]),
                                np.concatenate([self._values, other._values]), self.shape)
        dense = _array(other)
        if dense.shape != self.shape or dense.dtype != self.dtype:
            raise ValueError(f"SparseTensor add: {self.shape} {self.dtype} and dense {dense.shape} {dense.dtype} "
                             "differ")
        total = dense.copy()
        self.add_to(total)
        return wrap(total)

    __radd__ = __add__

    def __repr__(self) -> str:
        return (f"tensor(indices={self._rows.reshape(1, -1)!r},\n       values={self._values!r},\n"
                f"       size={self.shape}, nnz={self._nnz()}, layout=sparse_coo)")


__all__ = ["SparseTensor", "coalesced"]
