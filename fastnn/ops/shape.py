"""Shape ops (reshape, permute, squeeze, expand...), indexing, cat and stack.

Each gradient is the inverse rearrangement of the incoming gradient; indexing scatters it back
(adding where an index repeats).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, record
from fastnn.ops.arithmetic import add
from fastnn.ops.checks import as_tensor, axes, one_axis


def size_tuple(size: tuple) -> tuple:
    """A size given as f(2, 3) or f((2, 3)) as a tuple of ints."""
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        return tuple(size[0])
    return tuple(size)


def reshape(t: TensorBase, *shape: int | Sequence[int]) -> TensorBase:
    """The same elements in `shape` (one -1 is inferred)."""
    shape = size_tuple(shape)
    source = t.array.shape
    try:
        out = t.array.reshape(shape)
    except (ValueError, TypeError):
        raise RuntimeError(f"reshape: shape {tuple(shape)} is invalid for input of shape {source}") from None
    return record(out, (t,), lambda g: (g.reshape(source),), "ViewBackward0")


def flatten(t: TensorBase, start_dim: int = 0, end_dim: int = -1) -> TensorBase:
    """Merge dims start_dim..end_dim into one."""
    shape = t.array.shape
    if not shape:
        return reshape(t, 1)
    start, end = axes((start_dim, end_dim), len(shape), "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = int(np.prod(shape[start:end + 1]))
    return reshape(t, shape[:start] + (merged,) + shape[end + 1:])


def permute(t: TensorBase, *dims: int | Sequence[int]) -> TensorBase:
    """The dims in the order `dims`."""
    dims = size_tuple(dims)
    order = axes(dims, t.array.ndim, "permute") if dims else ()
    if sorted(order) != list(range(t.array.ndim)):
        raise RuntimeError(f"permute: dims {dims} are not a permutation of {t.array.ndim} dimensions")
    return rearrange(t, order, "PermuteBackward0")


def rearrange(t: TensorBase, order: Sequence[int], name: str) -> TensorBase:
    """The dims of `t` in `order` (a permutation, already checked); `name` names the op in grad_fn."""
    inverse = tuple(np.argsort(order))
    return record(t.array.transpose(order), (t,), lambda g: (g.transpose(inverse),), name)


def transpose(t: TensorBase, dim0: int, dim1: int) -> TensorBase:
    """Swap two dims."""
    order = list(range(t.array.ndim))
    if not order:
        axes((dim0, dim1), 0, "transpose")
        return permute(t)
    a, b = axes((dim0, dim1), t.array.ndim, "transpose")
    order[a], order[b] = order[b], order[a]
    return rearrange(t, order, "TransposeBackward0")


def movedim(t: TensorBase, source: int, destination: int) -> TensorBase:
    """Move dim `source` to position `destination`."""
    order = list(range(t.array.ndim))
    s, d = axes((source, destination), t.array.ndim, "movedim")
    order.insert(d, order.pop(s))
    return permute(t, order)


def unsqueeze(t: TensorBase, dim: int) -> TensorBase:
    """Insert a dim of size 1 at `dim`."""
    ndim = t.array.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {ndim} dimensions")
    source = t.array.shape
    return record(np.expand_dims(t.array, dim % ndim), (t,), lambda g: (g.reshape(source),), "UnsqueezeBackward0")


def squeeze(t: TensorBase, dim: int | None = None) -> TensorBase:
    """Drop dims of size 1 (only `dim`, when given and of size 1)."""
    source = t.array.shape
    if dim is None:
        out = t.array.reshape(tuple(n for n in source if n != 1))
    else:
        axis = one_axis(dim, t.array.ndim, "squeeze") if source else 0
        out = t.array.reshape(source[:axis] + source[axis + 1:]) if source and source[axis] == 1 else t.array
    return record(out, (t,), lambda g: (g.reshape(source),), "SqueezeBackward0")


def t_(t: TensorBase) -> TensorBase:
    """The transpose of a tensor of at most 2 dimensions."""
    if t.array.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {t.array.ndim}")
    return rearrange(t, (1, 0), "TBackward0") if t.array.ndim == 2 else t


def expand(t: TensorBase, *sizes: int | Sequence[int]) -> TensorBase:
    """Broadcast to `sizes` (-1 keeps a dimension); the gradient sums back."""
    sizes = size_tuple(sizes)
    lead = len(sizes) - t.array.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes {len(sizes)} is smaller than the tensor's dimensions "
                           f"{t.array.ndim}")
    shape = tuple(t.array.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(t.array.shape, shape)
    except ValueError:
        raise RuntimeError(f"expand: shape {t.array.shape} cannot be expanded to {tuple(sizes)}") from None
    return add(t, np.zeros(shape, dtype=t.array.dtype))


def index_arrays(index: Any) -> Any:
    """An index with its tensors (and lists) replaced by arrays."""
    if isinstance(index, tuple):
        return tuple(index_arrays(i) for i in index)
    if isinstance(index, TensorBase):
        return index.array
    if isinstance(index, list):
        return np.asarray([i.item() if isinstance(i, TensorBase) else i for i in index])
    return index


def _has_int_array(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def getitem(t: TensorBase, index: Any) -> TensorBase:
    """Basic and integer-array indexing; the gradient is scattered back (added where indices repeat)."""
    index = index_arrays(index)
    x = t.array
    try:
        out = x[index]
    except IndexError as exc:
        raise IndexError(f"index: {exc} (tensor of shape {x.shape})") from None
    if not isinstance(out, np.ndarray):
        out = np.asarray(out)
    advanced = _has_int_array(index)
    shape, dtype = x.shape, x.dtype

    def backward(g: np.ndarray) -> tuple:
        dx = np.zeros(shape, dtype=dtype)
        if advanced:
            np.add.at(dx, index, g)
        else:
            dx[index] += g
        return (dx,)

    return record(out, (t,), backward, "IndexBackward0" if advanced else "SliceBackward0")


def index_select(t: TensorBase, dim: int, index: Any) -> TensorBase:
    """The entries at `index` (1-D integers) along `dim`; gradients scatter-add back."""
    idx = index.array if isinstance(index, TensorBase) else np.asarray(index)
    axis = one_axis(dim, t.array.ndim, "index_select")
    return getitem(t, (slice(None),) * axis + (idx,))


def same_dtypes(op: str, tensors: Sequence[TensorBase]) -> None:
    dtypes = {t.array.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: tensors have different dtypes {sorted(map(str, dtypes))}")


def cat(tensors: Sequence[Any], dim: int = 0) -> TensorBase:
    """Concatenate along `dim`; the gradient is split back into the pieces."""
    tensors = tuple(as_tensor(t, "cat") for t in tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    same_dtypes("cat", tensors)
    axis = one_axis(dim, tensors[0].array.ndim, "cat")
    try:
        out = np.concatenate([t.array for t in tensors], axis=axis)
    except ValueError:
        raise RuntimeError(f"cat: shapes {[t.shape for t in tensors]} do not match outside dim {dim}") from None
    bounds = np.cumsum([t.array.shape[axis] for t in tensors])[:-1]
    return record(out, tensors, lambda g: tuple(np.split(g, bounds, axis=axis)), "CatBackward0")


def stack(tensors: Sequence[Any], dim: int = 0) -> TensorBase:
    """Stack equally shaped tensors along a new `dim`."""
    tensors = tuple(as_tensor(t, "stack") for t in tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    same_dtypes("stack", tensors)
    if len({t.array.shape for t in tensors}) != 1:
        raise RuntimeError(f"stack: expects tensors of one shape, got {[t.shape for t in tensors]}")
    ndim = tensors[0].array.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"stack: dim {dim} out of range for a result with {ndim} dimensions")
    axis = dim % ndim
    out = np.stack([t.array for t in tensors], axis=axis)
    count = len(tensors)
    return record(out, tensors, lambda g: tuple(np.take(g, i, axis=axis) for i in range(count)), "StackBackward0")


def flip(t: TensorBase, dims: Any) -> TensorBase:
    """The elements in reverse order along `dims`."""
    reversed_axes = axes(dims, t.array.ndim, "flip") or ()
    if not t.array.ndim:
        return record(t.array.copy(), (t,), lambda g: (g,), "FlipBackward0")
    return record(np.flip(t.array, reversed_axes).copy(), (t,), lambda g: (np.flip(g, reversed_axes),),
                  "FlipBackward0")


def repeat(t: TensorBase, *sizes: int | Sequence[int]) -> TensorBase:
    """The tensor tiled `sizes` times along each dim (torch's repeat; np.tile); gradients sum back."""
    sizes = size_tuple(sizes)
    if len(sizes) < t.array.ndim:
        raise RuntimeError(f"repeat: {len(sizes)} repeat counts for a tensor with {t.array.ndim} dimensions")
    if any(n < 0 for n in sizes):
        raise RuntimeError(f"repeat: repeat counts must be non-negative, got {sizes}")
    source = (1,) * (len(sizes) - t.array.ndim) + t.array.shape
    out = np.tile(t.array.reshape(source), sizes)

    def backward(g: np.ndarray) -> tuple:
        blocks = tuple(x for pair in zip(sizes, source) for x in pair)
        summed = g.reshape(blocks).sum(axis=tuple(range(0, 2 * len(sizes), 2)))
        return (summed.reshape(t.array.shape),)

    return record(out, (t,), backward, "RepeatBackward0")


def narrow(t: TensorBase, dim: int, start: int, length: int) -> TensorBase:
    """Elements start .. start + length - 1 along `dim`."""
    axis = one_axis(dim, t.array.ndim, "narrow")
    size = t.array.shape[axis]
    start = start + size if start < 0 else start
    if not (0 <= start <= size and 0 <= length and start + length <= size):
        raise IndexError(f"narrow: start {start} and length {length} exceed dimension {dim} of size {size}")
    return getitem(t, (slice(None),) * axis + (slice(start, start + length),))


def select(t: TensorBase, dim: int, index: int) -> TensorBase:
    """The slice at `index` along `dim` (that dim removed)."""
    axis = one_axis(dim, t.array.ndim, "select")
    size = t.array.shape[axis]
    if not -size <= index < size:
        raise IndexError(f"select: index {index} out of range for dimension {dim} of size {size}")
    return getitem(t, (slice(None),) * axis + (int(index),))


def split(t: TensorBase, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple:
    """Pieces of `split_size` along `dim` (the last may be smaller), or of the given sizes."""
    axis = one_axis(dim, t.array.ndim, "split")
    size = t.array.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        lengths = [min(step, size - i) for i in range(0, size, step)] or [0]
    else:
        lengths = [int(n) for n in split_size_or_sections]
        if builtins.sum(lengths) != size:
            raise RuntimeError(f"split: sizes {lengths} do not add up to dimension {dim} of size {size}")
    bounds = np.cumsum([0] + lengths)
    return tuple(getitem(t, (slice(None),) * axis + (slice(int(a), int(b)),)) for a, b in zip(bounds, bounds[1:]))


def chunk(t: TensorBase, chunks: int, dim: int = 0) -> tuple:
    """`chunks` pieces of equal size (ceil(n / chunks)) along `dim`, the last possibly smaller."""
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be positive, got {chunks}")
    axis = one_axis(dim, t.array.ndim, "chunk")
    return split(t, builtins.max(-(-t.array.shape[axis] // chunks), 1), axis)


def unbind(t: TensorBase, dim: int = 0) -> tuple:
    """The slices along `dim`, that dim removed."""
    axis = one_axis(dim, t.array.ndim, "unbind")
    return tuple(select(t, axis, i) for i in range(t.array.shape[axis]))


class ShapeMethods:
    """Tensor's shape ops and indexing."""

    __slots__ = ()

    reshape = view = reshape
    flatten = flatten
    permute = permute
    transpose = transpose
    movedim = movedim
    unsqueeze = unsqueeze
    squeeze = squeeze
    t = t_
    expand = expand
    __getitem__ = getitem
    index_select = index_select
    flip = flip
    repeat = repeat
    narrow = narrow
    select = select
    split = split
    chunk = chunk
    unbind = unbind

    def is_contiguous(self) -> bool:
        return bool(self.array.flags.c_contiguous)

    @property
    def T(self) -> TensorBase:
        """The dims reversed."""
        return rearrange(self, tuple(range(self.array.ndim - 1, -1, -1)), "PermuteBackward0")

    def view_as(self, other: TensorBase) -> TensorBase:
        return reshape(self, other.array.shape)

    reshape_as = view_as

    def expand_as(self, other: TensorBase) -> TensorBase:
        return expand(self, other.array.shape)


__all__ = ["ShapeMethods", "cat", "chunk", "expand", "flatten", "flip", "getitem", "index_arrays", "index_select",
           "movedim", "narrow", "permute", "rearrange", "repeat", "reshape", "same_dtypes", "select", "size_tuple",
           "split", "squeeze", "stack", "t_", "transpose", "unbind", "unsqueeze"]
