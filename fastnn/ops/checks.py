"""The user-facing argument checks of the ops, in one place.

Every message names the op (as the user called it) and what was expected and what arrived.
Once an op has passed these checks, it may call a kernel through ``get_backend().unchecked``.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastnn.autograd.dtypes import FLOATS, infer_array
from fastnn.autograd.engine import TensorBase, wrap

REDUCTIONS = ("mean", "sum", "none")


def as_tensor(value: Any, op: str | None = None, name: str = "input") -> Any:
    """`value` itself when it is a tensor, else a new leaf holding it (PyTorch's dtype inference).

    Given `op`, a value that cannot become a tensor is a TypeError naming op and argument."""
    if isinstance(value, TensorBase):
        return value
    if op is None:
        return wrap(infer_array(value, None))
    try:
        return wrap(infer_array(value, None))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{op}: {name} must be a Tensor (or an array or list of numbers), got "
                        f"{type(value).__name__} ({exc})") from None


def float_input(op: str, name: str, value: Any) -> Any:
    """`value` as a tensor of float32 or float64, else a TypeError naming op and argument."""
    t = as_tensor(value, op, name)
    if t.array.dtype not in FLOATS:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {t.array.dtype}")
    return t


def tensor_argument(op: str, name: str, value: Any) -> Any:
    """A tensor argument: a tensor, NumPy array or (nested) list of numbers; else a TypeError."""
    if isinstance(value, TensorBase):
        return value
    if isinstance(value, (np.ndarray, list, tuple, int, float, np.number)) and not isinstance(value, bool):
        return wrap(infer_array(value, None))
    raise TypeError(f"{op}: {name} must be a Tensor (or an array or list of numbers), got {type(value).__name__}")


def same_dtype(op: str, a: Any, b: Any, a_name: str = "input", b_name: str = "target") -> None:
    if a.array.dtype != b.array.dtype:
        raise TypeError(f"{op}: {a_name} dtype {a.array.dtype} does not match {b_name} dtype {b.array.dtype}")


def same_shape(op: str, input: Any, target: Any) -> None:
    if input.array.shape != target.array.shape:
        raise ValueError(f"{op}: target shape {target.array.shape} does not match input shape {input.array.shape}")


def reduction(op: str, value: str) -> str:
    """The loss reduction, one of mean, sum, none."""
    if value not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of mean, sum, none, got {value!r}")
    return value


def axes(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple | None:
    """`dim` (an int, a sequence of ints or None for all) as non-negative axes of an `ndim` tensor."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    bound = builtins.max(ndim, 1)
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
            raise TypeError(f"{op}: dim must be an integer, got {type(d).__name__}")
        if not -bound <= d < bound:
            raise IndexError(f"{op}: dim {d} out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % bound)
    return tuple(out)


def one_axis(dim: Any, ndim: int, op: str) -> int:
    """`dim` (one integer) as a non-negative axis of an `ndim` tensor."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an integer, got {type(dim).__name__}")
    return axes(dim, ndim, op)[0]


def integer_indices(op: str, value: Any, name: str = "indices") -> np.ndarray:
    """The integer array of an index argument (a tensor, array or list of ints)."""
    ids = value.array if isinstance(value, TensorBase) else np.asarray(value)
    if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{op}: {name} must be an integer tensor, got {ids.dtype}")
    return ids


def labels_in_range(op: str, labels: np.ndarray, classes: int, ignore_index: int) -> np.ndarray:
    """int64 labels with the ignored ones replaced by 0; an IndexError names the first bad label."""
    bad = ((labels < 0) | (labels >= classes)) & (labels != ignore_index)
    if bad.any():
        raise IndexError(f"{op}: target {int(labels[bad][0])} out of range for {classes} classes")
    return np.where(labels == ignore_index, 0, labels).astype(np.int64)


def kernel_call(op: str, kernel: Callable, *args: Any) -> Any:
    """Call a checked kernel; its IndexError (a bad label or id) is re-raised naming the user's op."""
    try:
        return kernel(*args)
    except IndexError as exc:
        raise IndexError(f"{op}: {str(exc).split(': ', 1)[-1]}") from None


def contiguous(array: np.ndarray, dtype: Any = None) -> np.ndarray:
    """C-contiguous, writeable (and of `dtype`), copying only when needed; the shape is kept (also for
    0-d). Writeable because a compiled kernel's typed buffers reject read-only views, such as the
    broadcast gradients of sum() and mean()."""
    if array.flags.c_contiguous and array.flags.writeable and (dtype is None or array.dtype == dtype):
        return array
    return np.array(array, dtype=dtype, order="C", copy=True).reshape(array.shape)


__all__ = ["REDUCTIONS", "as_tensor", "axes", "contiguous", "float_input", "integer_indices", "kernel_call",
           "labels_in_range", "one_axis", "reduction", "same_dtype", "same_shape", "tensor_argument"]
