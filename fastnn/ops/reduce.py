"""Reductions over dims: sum, mean, max/min (with indices), argmax, var, std, norm, logsumexp.

`dim` is an int, a sequence of ints or None (every dim); the gradient broadcasts back over the
reduced dims.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from fastnn.autograd.dtypes import int64
from fastnn.autograd.engine import TensorBase, record, wrap
from fastnn.autograd.numerics import quiet
from fastnn.ops.arithmetic import div, mul, pow, sub
from fastnn.ops.checks import axes, one_axis
from fastnn.ops.pointwise import abs, exp, log, sqrt

Dims = int | Sequence[int] | None


class ValuesIndices(NamedTuple):
    """What max(dim)/min(dim) return, as torch.return_types.max: (values, indices)."""

    values: Any
    indices: Any


def kept_shape(shape: tuple, reduced: tuple | None) -> tuple:
    """The shape of a reduction's output with the reduced dims kept as 1 (for broadcasting back)."""
    if reduced is None:
        return (1,) * len(shape)
    return tuple(1 if i in reduced else n for i, n in enumerate(shape))


@quiet
def sum(t: TensorBase, dim: Dims = None, keepdim: bool = False) -> TensorBase:  # noqa: A001 - torch.sum
    """Sum over `dim` (all dims when None); integers and bools sum to int64."""
    x = t.array
    reduced = axes(dim, x.ndim, "sum")
    out = x.sum(axis=reduced, keepdims=keepdim)
    if out.dtype != x.dtype and x.dtype.kind in "ib":
        out = out.astype(int64)
    shape = x.shape
    kept = kept_shape(shape, reduced)
    return record(np.asarray(out), (t,), lambda g: (np.broadcast_to(g.reshape(kept), shape),),
                  "SumBackward0" if dim is None else "SumBackward1")


@quiet
def mean(t: TensorBase, dim: Dims = None, keepdim: bool = False) -> TensorBase:
    """Mean over `dim` (all dims when None); the gradient is g / count, broadcast back.
    The mean of no elements is nan, as in PyTorch."""
    x = t.array
    if x.dtype.kind != "f":
        raise TypeError(f"mean: needs a floating point tensor, got {x.dtype}")
    reduced = axes(dim, x.ndim, "mean")
    if x.size:
        out = np.asarray(x.mean(axis=reduced, keepdims=keepdim))
    else:  # the mean of nothing is nan (NumPy would also warn)
        out = np.full(np.sum(x, axis=reduced, keepdims=keepdim).shape, np.nan, dtype=x.dtype)
    count = x.size // builtins.max(out.size, 1) if x.size else 0
    scale = x.dtype.type(1.0 / count) if count else x.dtype.type(np.nan)
    shape = x.shape
    kept = kept_shape(shape, reduced)
    return record(out, (t,), lambda g: (np.broadcast_to(g.reshape(kept) * scale, shape),),
                  "MeanBackward0" if dim is None else "MeanBackward1")


def extreme(t: TensorBase, dim: int | None, keepdim: bool, which: str) -> Any:
    """max/min over all elements (the gradient split evenly among ties), or (values, indices) over
    `dim` (the gradient going to the index chosen)."""
    x = t.array
    if x.size == 0:
        raise RuntimeError(f"{which}: cannot reduce an empty tensor of shape {x.shape}")
    pick = np.argmax if which == "max" else np.argmin
    if dim is None:
        out = np.asarray(x.max() if which == "max" else x.min())

        def backward_all(g: np.ndarray) -> tuple:
            ties = x == out
            return (ties * (g / ties.sum()).astype(x.dtype),)

        return record(out, (t,), backward_all, ("Max" if which == "max" else "Min") + "Backward1")
    axis = one_axis(dim, x.ndim, which)
    idx = np.expand_dims(pick(x, axis=axis), axis) if x.ndim else np.zeros((), dtype=np.intp)
    values = np.take_along_axis(x, idx, axis=axis) if x.ndim else x.copy()
    shape, dtype = x.shape, x.dtype

    def backward(g: np.ndarray) -> tuple:
        if not shape:
            return (g.reshape(shape),)
        dx = np.zeros(shape, dtype=dtype)
        np.put_along_axis(dx, idx, g.reshape(idx.shape), axis=axis)
        return (dx,)

    if not keepdim and x.ndim:
        values, idx_out = values.squeeze(axis), idx.squeeze(axis)
    else:
        idx_out = idx
    name = ("Max" if which == "max" else "Min") + "Backward0"
    return ValuesIndices(record(values, (t,), backward, name), wrap(idx_out.astype(int64)))


def argmax(t: TensorBase, dim: int | None = None, keepdim: bool = False) -> TensorBase:
    """Index of the largest value (of the flattened tensor when dim is None)."""
    if t.array.size == 0:
        raise RuntimeError(f"argmax: cannot reduce an empty tensor of shape {t.array.shape}")
    if dim is None:
        return wrap(np.asarray(t.array.argmax(), dtype=int64))
    axis = one_axis(dim, t.array.ndim, "argmax")
    return wrap(np.asarray(t.array.argmax(axis=axis if t.array.ndim else None, keepdims=keepdim), dtype=int64))


def argmin(t: TensorBase, dim: int | None = None, keepdim: bool = False) -> TensorBase:
    """Index of the smallest value (of the flattened tensor when dim is None)."""
    if t.array.size == 0:
        raise RuntimeError(f"argmin: cannot reduce an empty tensor of shape {t.array.shape}")
    if dim is None:
        return wrap(np.asarray(t.array.argmin(), dtype=int64))
    axis = one_axis(dim, t.array.ndim, "argmin")
    return wrap(np.asarray(t.array.argmin(axis=axis if t.array.ndim else None, keepdims=keepdim), dtype=int64))


@quiet
def var(t: TensorBase, dim: Dims = None, unbiased: bool = True, keepdim: bool = False, *,
        correction: int | None = None) -> TensorBase:
    """sum((x - mean)^2) / (n - correction), correction 1 (unbiased, the default) or 0."""
    correction = (1 if unbiased else 0) if correction is None else correction
    reduced = axes(dim, t.array.ndim, "var")
    n = t.array.size if reduced is None else int(np.prod([t.array.shape[a] for a in reduced]))
    centred = sub(t, mean(t, dim, keepdim=True))
    return div(sum(mul(centred, centred), dim, keepdim=keepdim), builtins.max(n - correction, 0))


def std(t: TensorBase, dim: Dims = None, unbiased: bool = True, keepdim: bool = False, *,
        correction: int | None = None) -> TensorBase:
    """sqrt(var)."""
    return sqrt(var(t, dim, unbiased, keepdim, correction=correction))


@quiet
def norm(t: TensorBase, p: float = 2, dim: Dims = None, keepdim: bool = False) -> TensorBase:
    """The p-norm (sum |x|^p)^(1/p) over `dim` (all elements when None), p > 0."""
    if p == 2:
        return sqrt(sum(mul(t, t), dim, keepdim=keepdim))
    if p == 1:
        return sum(abs(t), dim, keepdim=keepdim)
    return pow(sum(pow(abs(t), p), dim, keepdim=keepdim), 1.0 / p)


@quiet
def logsumexp(t: TensorBase, dim: Dims, keepdim: bool = False) -> TensorBase:
    """log sum exp(x) over `dim`, computed as m + log sum exp(x - m) with m the (constant) max."""
    reduced = axes(dim, t.array.ndim, "logsumexp")
    m = np.max(t.array, axis=reduced, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0).astype(t.array.dtype)
    out = log(sum(exp(sub(t, wrap(m))), reduced, keepdim=True)) + wrap(m)
    if keepdim:
        return out
    return out.reshape(tuple(n for i, n in enumerate(t.array.shape) if i not in (reduced or range(t.array.ndim))))


@quiet
def prod(t: Any, dim: int | None = None, keepdim: bool = False) -> TensorBase:
    """The product over `dim` (all elements when None); d/dx_i = the product of the others (exact with
    zeros: from running products on each side). Integers and bools multiply to int64."""
    x = t.array
    work, axis = (x.reshape(-1), 0) if dim is None else (x, one_axis(dim, x.ndim, "prod") if x.ndim else None)
    if axis is None:
        return record(x.copy(), (t,), lambda g: (g,), "ProdBackward1")
    out = np.prod(work, axis=axis, keepdims=keepdim and dim is not None,
                  dtype=int64 if x.dtype.kind in "ib" else x.dtype)
    kept = kept_shape(work.shape, (axis,))

    def backward(g: np.ndarray) -> tuple:
        moved = np.moveaxis(work, axis, -1)
        ones = np.ones(moved.shape[:-1] + (1,), dtype=moved.dtype)
        left = np.cumprod(np.concatenate([ones, moved[..., :-1]], axis=-1), axis=-1)
        right = np.flip(np.cumprod(np.flip(np.concatenate([moved[..., 1:], ones], axis=-1), -1), axis=-1), -1)
        others = np.moveaxis(left * right, -1, axis)
        return ((others * g.reshape(kept)).reshape(x.shape),)

    return record(np.asarray(out), (t,), backward, "ProdBackward0" if dim is None else "ProdBackward1")


@quiet
def amax(t: Any, dim: Dims = (), keepdim: bool = False, which: str = "amax") -> TensorBase:
    """The largest values over `dim` (all dims when empty); the gradient is split evenly among ties."""
    x = t.array
    if x.size == 0:
        raise RuntimeError(f"{which}: cannot reduce an empty tensor of shape {x.shape}")
    reduced = None if dim == () or dim is None else axes(dim, x.ndim, which)
    out = (np.max if which == "amax" else np.min)(x, axis=reduced, keepdims=keepdim)
    kept = kept_shape(x.shape, reduced)

    def backward(g: np.ndarray) -> tuple:
        ties = x == out.reshape(kept)
        return (ties * (g.reshape(kept) / ties.sum(axis=reduced, keepdims=True)),)

    return record(np.asarray(out), (t,), backward, "AmaxBackward0" if which == "amax" else "AminBackward0")


def amin(t: Any, dim: Dims = (), keepdim: bool = False) -> TensorBase:
    """The smallest values over `dim` (all dims when empty); the gradient is split evenly among ties."""
    return amax(t, dim, keepdim, "amin")


@quiet
def cumsum(t: Any, dim: int, dtype: Any = None) -> TensorBase:
    """Running sums along `dim`: y_i = x_0 + ... + x_i; the gradient is the reversed running sum of g.
    Integers and bools sum to int64, as in PyTorch."""
    x = t.array if dtype is None else t.array.astype(dtype)
    axis = one_axis(dim, x.ndim, "cumsum")
    if not x.ndim:
        return record(x.astype(int64) if x.dtype.kind in "ib" else x.copy(), (t,), lambda g: (g,), "CumsumBackward0")
    out = np.cumsum(x, axis=axis, dtype=int64 if x.dtype.kind in "ib" else x.dtype)
    return record(out, (t,), lambda g: (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),), "CumsumBackward0")


def all(t: TensorBase, dim: int | None = None, keepdim: bool = False) -> TensorBase:  # noqa: A001
    return wrap(np.asarray(np.all(t.array, axis=axes(dim, t.array.ndim, "all"), keepdims=keepdim)))


def any(t: TensorBase, dim: int | None = None, keepdim: bool = False) -> TensorBase:  # noqa: A001
    return wrap(np.asarray(np.any(t.array, axis=axes(dim, t.array.ndim, "any"), keepdims=keepdim)))


class ReduceMethods:
    """Tensor's reductions."""

    __slots__ = ()

    sum = sum
    mean = mean
    argmax = argmax
    argmin = argmin
    var = var
    std = std
    norm = norm
    logsumexp = logsumexp
    cumsum = cumsum
    prod = prod
    amin = amin
    all = all

    def amax(self, dim: Dims = (), keepdim: bool = False) -> TensorBase:
        return amax(self, dim, keepdim)
    any = any

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """max() -> the largest value; max(dim) -> (values, indices)."""
        return extreme(self, dim, keepdim, "max")

    def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
        """min() -> the smallest value; min(dim) -> (values, indices)."""
        return extreme(self, dim, keepdim, "min")


__all__ = ["ReduceMethods", "ValuesIndices", "all", "amax", "amin", "any", "argmax", "argmin", "cumsum", "extreme",
           "kept_shape", "logsumexp", "mean", "norm", "prod", "std", "sum", "var"]
