"""Tensor: a NumPy array with reverse-mode automatic differentiation, PyTorch's API.

Each differentiable op computes its output array and, when grad mode is on and an input
requires grad, attaches a :class:`_Node` to the output: ``backward(g)`` maps the gradient of the
output to one gradient array (or None) per input and closes over only what it needs; the node's
edges lead to its inputs' nodes or to leaf tensors, never to its own output. ``Tensor.backward``
orders the nodes without recursion (an explicit-stack depth-first search), pushes gradients from
the root to the leaves, accumulates (``+=``) into each leaf's ``.grad`` and frees the graph unless
``retain_graph=True``. An embedding with ``sparse=True`` gives its weight a row-sparse gradient
(:class:`SparseTensor`: only the rows used); it stays sparse while every contribution is sparse.

Dtypes follow PyTorch: NumPy arrays keep their dtype, Python floats become float32, Python ints
int64, bools bool. Two tensors of different floating dtypes are never silently promoted: the op
raises TypeError naming both dtypes. Python scalars adopt the tensor's dtype.
"""

from __future__ import annotations

import builtins  # this module defines sum, max, min and abs as tensor functions (as torch does)
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from fastnn import random as _random
from fastnn.backends import get_backend

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
bool_ = np.dtype(np.bool_)
_FLOATS = (float32, float64)
_DEFAULT_FLOAT = float32

_grad_enabled = True


# ------------------------------------------------------------------------------------ grad mode
class no_grad:
    """Context manager and decorator: ops inside build no graph (``requires_grad`` outputs are off)."""

    _enabled = False

    def __new__(cls, function: Callable | None = None) -> Any:
        instance = super().__new__(cls)
        # @fastnn.no_grad without parentheses decorates directly, as torch.no_grad does
        return instance(function) if function is not None else instance

    def __enter__(self) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous

    def __call__(self, function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return function(*args, **kwargs)

        return wrapper


class enable_grad(no_grad):
    """Context manager and decorator that turns grad mode back on inside a ``no_grad`` block."""

    _enabled = True


def is_grad_enabled() -> bool:
    """True when ops record a graph."""
    return _grad_enabled


class set_grad_enabled:
    """Turn grad mode on or off: at once when called, and back to the previous mode on leaving
    a ``with`` block (as torch.set_grad_enabled)."""

    def __init__(self, mode: bool) -> None:
        global _grad_enabled
        self._previous = _grad_enabled
        _grad_enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._previous


# ------------------------------------------------------------------------------------ helpers
def _freed_graph(_grad: np.ndarray) -> tuple:
    raise RuntimeError("Trying to backward through the graph a second time (its buffers were freed after the "
                       "first backward). Pass retain_graph=True to the first backward() to keep them.")


class _Node:
    """One recorded op: ``backward(g)`` returns a gradient (or None) per input, and ``inputs``
    holds, per input, the input's own node (an op output), the leaf Tensor (when it requires
    grad), or None. The node does not hold its output tensor, so an intermediate array lives
    only as long as some backward closure needs it (or the user holds the tensor)."""

    __slots__ = ("backward", "inputs", "retained")

    def __init__(self, backward: Callable, inputs: tuple) -> None:
        self.backward = backward
        self.inputs = inputs
        self.retained: Tensor | None = None  # the output tensor, when retain_grad() asked for its .grad


def _dtype(dtype: Any) -> np.dtype | None:
    return None if dtype is None else np.dtype(dtype)


def _infer_array(data: Any, dtype: np.dtype | None) -> np.ndarray:
    """Convert data to an array with PyTorch's dtype inference (arrays keep theirs)."""
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, (np.ndarray, np.generic)):
        return np.array(data, dtype=dtype)
    if isinstance(data, (list, tuple)) and data and any(isinstance(d, Tensor) for d in data):
        data = [d.array if isinstance(d, Tensor) else d for d in data]
    arr = np.array(data, dtype=dtype)
    if dtype is None:
        if arr.dtype.kind == "f":
            arr = arr.astype(_DEFAULT_FLOAT)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(int64)
        elif arr.dtype.kind != "b":
            raise TypeError(f"tensor: cannot build a tensor from data of type {type(data).__name__} "
                            f"(numpy dtype {arr.dtype})")
    return arr


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back to `shape` (leading dims, then dims of size 1)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead:
        grad = grad.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def _wrap(data: np.ndarray, requires_grad: bool = False) -> Tensor:
    t = object.__new__(Tensor)
    t.array = data
    t.requires_grad = requires_grad
    t.grad = None
    t._ctx = None
    return t


def _result(data: np.ndarray, parents: tuple, backward: Callable) -> Tensor:
    """The output tensor of an op; records the node when grad mode is on and a parent needs grad."""
    out = object.__new__(Tensor)
    out.array = data
    out.grad = None
    if _grad_enabled:
        for p in parents:
            if p.requires_grad:
                out.requires_grad = True
                out._ctx = _Node(backward, tuple(
                    [q._ctx if q._ctx is not None else (q if q.requires_grad else None) for q in parents]))
                return out
    out.requires_grad = False
    out._ctx = None
    return out


def _axes(dim: int | Sequence[int] | None, ndim: int, op: str) -> tuple | None:
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"{op}: dim {d} out of range for a tensor with {ndim} dimensions")
        out.append(int(d) % builtins.max(ndim, 1))
    return tuple(out)


def _binary_operands(op: str, a: Tensor, other: Any) -> tuple[np.ndarray, np.ndarray, Tensor | None]:
    """The arrays of a binary op: other's data (a Tensor) or a scalar in a's dtype."""
    x = a.array
    if isinstance(other, Tensor):
        y = other.array
        if x.dtype != y.dtype:
            if x.dtype.kind == "f" and y.dtype.kind == "f":
                raise TypeError(f"{op}: dtype mismatch between {x.dtype} and {y.dtype}; convert one operand "
                                "explicitly with .float() or .double()")
            if x.dtype.kind == "f":
                y = y.astype(x.dtype)
            elif y.dtype.kind == "f":
                x = x.astype(y.dtype)
        return x, y, other
    if isinstance(other, (bool, int, float, np.number, np.bool_)):
        if x.dtype.kind == "f":
            return x, x.dtype.type(other), None
        if isinstance(other, (float, np.floating)):
            return x.astype(_DEFAULT_FLOAT), _DEFAULT_FLOAT.type(other), None
        if isinstance(other, (bool, np.bool_)):
            return x, np.asarray(other, dtype=x.dtype), None
        if x.dtype == bool_:
            x = x.astype(int64)
        return x, np.asarray(other, dtype=x.dtype), None
    if isinstance(other, np.ndarray):
        return _binary_operands(op, a, _wrap(other))
    return _binary_operands(op, a, _wrap(_infer_array(other, None)))


def _is_device(value: Any) -> bool:
    """True for "cpu" (fastnn's only device); raises for any other device name."""
    name = str(value) if type(value).__name__ == "device" else value
    if not isinstance(name, str):
        return False
    if name.split(":")[0] != "cpu":
        raise RuntimeError(f"fastnn runs on the CPU only; device {name!r} is not available")
    return True


def _as_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else _wrap(_infer_array(value, None))


class ValuesIndices(NamedTuple):
    """What max(dim)/min(dim) return, as torch.return_types.max: (values, indices)."""

    values: Tensor
    indices: Tensor


# ------------------------------------------------------------------------------------ Tensor
class Tensor:
    """An n-dimensional array that can record the ops applied to it and differentiate through them."""

    __slots__ = ("array", "requires_grad", "grad", "_ctx", "__weakref__")
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators
    __hash__ = object.__hash__

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.array = _infer_array(data, _dtype(dtype))
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def is_sparse(self) -> bool:
        """False: a Tensor is dense (row-sparse gradients are :class:`SparseTensor`)."""
        return False

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user (not by an op that recorded a graph node)."""
        return self._ctx is None

    @property
    def T(self) -> Tensor:
        return self.permute(*range(self.array.ndim - 1, -1, -1))

    def size(self, dim: int | None = None) -> tuple | int:
        return self.array.shape if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return self.array.size

    def __len__(self) -> int:
        if not self.array.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(")
        extras = ""
        if self.array.dtype not in (_DEFAULT_FLOAT, int64, bool_):
            extras += f", dtype=fastnn.{self.array.dtype}"
        if self._ctx is not None:
            extras += ", grad_fn=<backward>"
        elif self.requires_grad:
            extras += ", requires_grad=True"
        return f"tensor({body}{extras})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.array, dtype=dtype, copy=True)
        return self.array if dtype is None else self.array.astype(dtype)

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.array.dtype}")
        return int(self.item())

    # ---------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.array

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, detached from the graph (PyTorch's ``.data``).

        The NumPy array itself is ``numpy()`` (or the ``array`` attribute).
        """
        return _wrap(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        array = value.array if isinstance(value, Tensor) else np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"Tensor.data: cannot assign an array of dtype {array.dtype}")
        self.array = array

    def item(self) -> float | int | bool:
        if self.array.size != 1:
            raise ValueError(f"item(): a tensor with {self.array.size} elements cannot be converted to a scalar")
        return self.array.item()

    def tolist(self) -> Any:
        return self.array.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside the graph."""
        return _wrap(self.array)

    def clone(self) -> Tensor:
        return _result(self.array.copy(), (self,), lambda g: (g,))

    def contiguous(self) -> Tensor:
        return self if self.array.flags.c_contiguous else self.clone()

    @property
    def device(self) -> str:
        """Always "cpu": fastnn runs on the CPU."""
        return "cpu"

    def cpu(self) -> Tensor:
        return self

    def to(self, *args: Any, dtype: Any = None) -> Tensor:
        """The tensor in `dtype` (itself when it already is; differentiable between float dtypes).
        A device argument must be "cpu" (as in t.to("cpu") or t.to("cpu", fastnn.float64))."""
        for arg in args:
            if _is_device(arg):
                continue
            dtype = arg
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        source = self.array.dtype
        if source == dtype:
            return self
        if dtype.kind != "f" or source.kind != "f":
            return _wrap(self.array.astype(dtype))
        return _result(self.array.astype(dtype), (self,), lambda g: (g.astype(source),))

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(f"only tensors of floating point dtype can require gradients, got {self.array.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf tensors; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor does not require grad")
        if self._ctx is not None:
            self._ctx.retained = self

    # ---------------------------------------------------------------- in-place (outside the graph)
    def _inplace(self, op: str) -> None:
        if self.requires_grad and _grad_enabled:
            raise RuntimeError(f"{op}: a tensor that requires grad cannot be modified in place while grad mode "
                               "is on; wrap the update in fastnn.no_grad() (as for a parameter update)")

    def _update(self, op: str, ufunc: np.ufunc, other: Any) -> Tensor:
        self._inplace(op)
        _, y, _ = _binary_operands(op, self, other)
        ufunc(self.array, y, out=self.array, casting="same_kind")
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._update("add_", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._update("sub_", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._update("mul_", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._update("div_", np.true_divide, other)

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        return self._update("add_", np.add, other if alpha == 1 else other * alpha)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        return self._update("sub_", np.subtract, other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> Tensor:
        return self._update("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._update("div_", np.true_divide, other)

    def copy_(self, source: Any) -> Tensor:
        """Copy `source` (broadcast, cast to this dtype) into this tensor's array."""
        self._inplace("copy_")
        self.array[...] = source.array if isinstance(source, Tensor) else source
        return self

    def fill_(self, value: float) -> Tensor:
        self._inplace("fill_")
        self.array[...] = value
        return self

    def zero_(self) -> Tensor:
        self._inplace("zero_")
        self.array[...] = 0
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace("__setitem__")
        self.array[_index_arrays(index)] = value.array if isinstance(value, Tensor) else value

    # ---------------------------------------------------------------- backward
    def backward(self, gradient: Any = None, retain_graph: bool | None = None) -> None:
        """Accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad``.

        `gradient` defaults to 1 for a one-element tensor; any other shape needs it explicitly.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: the tensor does not require grad and has no graph "
                               "(were its inputs created with requires_grad=True, outside no_grad?)")
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs: backward() on a "
                                   f"tensor of shape {self.array.shape} needs gradient= of that shape")
            grad = np.ones(self.array.shape, dtype=self.array.dtype)
        else:
            grad = np.asarray(gradient.array if isinstance(gradient, Tensor) else gradient, dtype=self.array.dtype)
            if grad.shape != self.array.shape:
                raise RuntimeError(f"backward: gradient has shape {grad.shape} but the tensor has shape "
                                   f"{self.array.shape}")
        if self._ctx is None:
            _accumulate(self, grad)
        else:
            _run_backward(self._ctx, grad, bool(retain_graph))
        for callback in tuple(post_backward_callbacks):
            callback()

    # ---------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        x, y, o = _binary_operands("add", self, other)
        if o is None:
            return _result(x + y, (self,), lambda g: (g,))
        xs, ys = x.shape, y.shape
        return _result(x + y, (self, o), lambda g: (_unbroadcast(g, xs), _unbroadcast(g, ys)))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Tensor:
        x, y, o = _binary_operands("sub", self, other)
        if o is None:
            return _result(x - y, (self,), lambda g: (g,))
        xs, ys = x.shape, y.shape
        return _result(x - y, (self, o), lambda g: (_unbroadcast(g, xs), _unbroadcast(-g, ys)))

    def __rsub__(self, other: Any) -> Tensor:
        return _as_tensor_like(other, self, "sub") - self

    def __mul__(self, other: Any) -> Tensor:
        x, y, o = _binary_operands("mul", self, other)
        if o is None:
            return _result(x * y, (self,), lambda g: (g * y,))
        xs, ys = x.shape, y.shape
        return _result(x * y, (self, o), lambda g: (_unbroadcast(g * y, xs), _unbroadcast(g * x, ys)))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Tensor:
        x, y, o = _binary_operands("div", self, other)
        if x.dtype.kind != "f" and (o is None or y.dtype.kind != "f"):
            x = x.astype(_DEFAULT_FLOAT)
            y = np.asarray(y).astype(_DEFAULT_FLOAT)
        if o is None:
            return _result(x / y, (self,), lambda g: (g / y,))
        xs, ys = x.shape, y.shape
        out = x / y
        return _result(out, (self, o), lambda g: (_unbroadcast(g / y, xs), _unbroadcast(-g * out / y, ys)))

    def __rtruediv__(self, other: Any) -> Tensor:
        return _as_tensor_like(other, self, "div") / self

    def __pow__(self, exponent: Any) -> Tensor:
        x, y, o = _binary_operands("pow", self, exponent)
        out = x**y
        if o is None:
            return _result(out, (self,), lambda g: (g * y * x ** (y - 1),))
        xs, ys = x.shape, y.shape

        def backward(g: np.ndarray) -> tuple:
            with np.errstate(divide="ignore", invalid="ignore"):
                gy = _unbroadcast(g * out * np.log(x), ys) if o.requires_grad else None
            return _unbroadcast(g * y * x ** (y - 1), xs), gy

        return _result(out, (self, o), backward)

    def __rpow__(self, base: Any) -> Tensor:
        return _as_tensor_like(base, self, "pow") ** self

    def __neg__(self) -> Tensor:
        return _result(-self.array, (self,), lambda g: (-g,))

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_as_tensor(other), self)

    # ---------------------------------------------------------------- comparisons (no grad)
    def _compare(self, other: Any, ufunc: np.ufunc, op: str) -> Tensor:
        """Elementwise comparison (any dtypes, as torch), a bool tensor outside the graph."""
        y = other.array if isinstance(other, Tensor) else other
        try:
            return _wrap(np.asarray(ufunc(self.array, y)))
        except ValueError:
            raise RuntimeError(f"{op}: shapes {self.array.shape} and {np.shape(y)} do not broadcast") from None

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal, "eq")

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal, "ne")

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less, "lt")

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal, "le")

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater, "gt")

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal, "ge")

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return _wrap(np.asarray(self.array.argmax(), dtype=int64))
        return _wrap(self.array.argmax(axis=dim, keepdims=keepdim).astype(int64))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        if dim is None:
            return _wrap(np.asarray(self.array.argmin(), dtype=int64))
        return _wrap(self.array.argmin(axis=dim, keepdims=keepdim).astype(int64))

    # ---------------------------------------------------------------- reductions
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Sum over `dim` (all dims when None); the gradient broadcasts back."""
        x = self.array
        axes = _axes(dim, x.ndim, "sum")
        out = x.sum(axis=axes, keepdims=keepdim)
        if out.dtype != x.dtype and x.dtype.kind in "ib":
            out = out.astype(int64)
        shape = x.shape
        kept = _kept_shape(shape, axes, keepdim)
        return _result(np.asarray(out), (self,), lambda g: (np.broadcast_to(g.reshape(kept), shape),))

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """Mean over `dim` (all dims when None): the gradient is g / count, broadcast back."""
        x = self.array
        if x.dtype.kind != "f":
            raise TypeError(f"mean: needs a floating point tensor, got {x.dtype}")
        axes = _axes(dim, x.ndim, "mean")
        out = np.asarray(x.mean(axis=axes, keepdims=keepdim))
        count = x.size // builtins.max(out.size, 1) if x.size else 0
        scale = x.dtype.type(1.0 / count) if count else x.dtype.type(np.nan)
        shape = x.shape
        kept = _kept_shape(shape, axes, keepdim)
        return _result(out, (self,), lambda g: (np.broadcast_to(g.reshape(kept) * scale, shape),))

    def max(self, dim: int | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        """max() -> the largest value (gradient split evenly among ties);
        max(dim) -> (values, indices), the gradient going to the index chosen."""
        return _extreme(self, dim, keepdim, "max")

    def min(self, dim: int | None = None, keepdim: bool = False) -> Tensor | ValuesIndices:
        """As :meth:`max`, for the smallest values."""
        return _extreme(self, dim, keepdim, "min")

    # ---------------------------------------------------------------- shape
    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        source = self.array.shape
        try:
            out = self.array.reshape(shape)
        except ValueError:
            raise RuntimeError(f"reshape: shape {tuple(shape)} is invalid for input of shape {source}") from None
        return _result(out, (self,), lambda g: (g.reshape(source),))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        shape = self.array.shape
        if not shape:
            return self.reshape(1)
        start, end = start_dim % len(shape), end_dim % len(shape)
        return self.reshape(shape[:start] + (-1,) + shape[end + 1:])

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        if len(dims) == 1 and not isinstance(dims[0], (int, np.integer)):
            dims = tuple(dims[0])
        axes = _axes(dims, self.array.ndim, "permute") if dims else ()
        if sorted(axes) != list(range(self.array.ndim)):
            raise RuntimeError(f"permute: dims {dims} are not a permutation of {self.array.ndim} dimensions")
        inverse = tuple(np.argsort(axes))
        return _result(self.array.transpose(axes), (self,), lambda g: (g.transpose(inverse),))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        axes = list(range(self.array.ndim))
        a, b = _axes((dim0, dim1), self.array.ndim, "transpose")
        axes[a], axes[b] = axes[b], axes[a]
        return self.permute(axes)

    def movedim(self, source: int, destination: int) -> Tensor:
        axes = list(range(self.array.ndim))
        s, d = _axes((source, destination), self.array.ndim, "movedim")
        axes.insert(d, axes.pop(s))
        return self.permute(axes)

    def unsqueeze(self, dim: int) -> Tensor:
        ndim = self.array.ndim + 1
        if not -ndim <= dim < ndim:
            raise IndexError(f"unsqueeze: dim {dim} out of range for a result with {ndim} dimensions")
        source = self.array.shape
        return _result(np.expand_dims(self.array, dim % ndim), (self,), lambda g: (g.reshape(source),))

    def squeeze(self, dim: int | None = None) -> Tensor:
        source = self.array.shape
        if dim is None:
            out = self.array.reshape(tuple(n for n in source if n != 1))
        else:
            (axis,) = _axes(dim, self.array.ndim, "squeeze") if source else (0,)
            out = self.array.reshape(source[:axis] + source[axis + 1:]) if source and source[axis] == 1 else self.array
        return _result(out, (self,), lambda g: (g.reshape(source),))

    def __getitem__(self, index: Any) -> Tensor:
        """Basic and integer-array indexing; the gradient is scattered back (added where indices repeat)."""
        index = _index_arrays(index)
        x = self.array
        out = x[index]
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

        return _result(out, (self,), backward)

    # ---------------------------------------------------------------- elementwise functions
    def exp(self) -> Tensor:
        out = np.exp(self.array)
        return _result(out, (self,), lambda g: (g * out,))

    def log(self) -> Tensor:
        x = self.array
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.log(x)
        return _result(out, (self,), lambda g: (g / x,))

    def log1p(self) -> Tensor:
        x = self.array
        return _result(np.log1p(x), (self,), lambda g: (g / (1 + x),))

    def sqrt(self) -> Tensor:
        out = np.sqrt(self.array)
        return _result(out, (self,), lambda g: (g / (2 * out),))

    def abs(self) -> Tensor:
        x = self.array
        return _result(np.abs(x), (self,), lambda g: (g * np.sign(x),))

    __abs__ = abs

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Clip to [min, max]; the gradient passes where min <= x <= max (as PyTorch)."""
        if min is None and max is None:
            raise ValueError("clamp: at least one of min and max must be given")
        x = self.array
        t = x.dtype.type
        out = np.clip(x, None if min is None else t(min), None if max is None else t(max))
        inside = np.ones(x.shape, dtype=bool)
        if min is not None:
            inside &= x >= t(min)
        if max is not None:
            inside &= x <= t(max)
        return _result(out, (self,), lambda g: (g * inside,))

    clip = clamp

    def relu(self) -> Tensor:
        return activation(self, "relu")

    def sigmoid(self) -> Tensor:
        return activation(self, "sigmoid")

    def tanh(self) -> Tensor:
        return activation(self, "tanh")

    # ---------------------------------------------------------------- PyTorch's method aliases
    def add(self, other: Any, alpha: float = 1) -> Tensor:
        return self + other * alpha if alpha != 1 else self + other

    def sub(self, other: Any, alpha: float = 1) -> Tensor:
        return self - other * alpha if alpha != 1 else self - other

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def neg(self) -> Tensor:
        return -self

    def pow(self, exponent: Any) -> Tensor:
        return self**exponent

    def square(self) -> Tensor:
        return self * self

    def matmul(self, other: Any) -> Tensor:
        return matmul(self, _as_tensor(other))

    mm = matmul

    def t(self) -> Tensor:
        """The transpose of a tensor of at most 2 dimensions."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def eq(self, other: Any) -> Tensor:
        return self == other

    def ne(self, other: Any) -> Tensor:
        return self != other

    def lt(self, other: Any) -> Tensor:
        return self < other

    def le(self, other: Any) -> Tensor:
        return self <= other

    def gt(self, other: Any) -> Tensor:
        return self > other

    def ge(self, other: Any) -> Tensor:
        return self >= other

    def isnan(self) -> Tensor:
        return _wrap(np.isnan(self.array))

    def isfinite(self) -> Tensor:
        return _wrap(np.isfinite(self.array))

    def all(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _wrap(np.asarray(np.all(self.array, axis=dim, keepdims=keepdim)))

    def any(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _wrap(np.asarray(np.any(self.array, axis=dim, keepdims=keepdim)))

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand(self, *sizes: int | Sequence[int]) -> Tensor:
        """Broadcast to `sizes` (-1 keeps a dimension); the gradient sums back."""
        sizes = _size(sizes)
        lead = len(sizes) - self.ndim
        shape = tuple(self.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
        return self + zeros(shape, dtype=self.dtype)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.expand(other.shape)

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """mask ? value : self, elementwise (mask broadcasts); no gradient where filled."""
        return where(mask, _wrap(np.asarray(value, dtype=self.dtype)), self)

    def maximum(self, other: Any) -> Tensor:
        """Elementwise max; where the two are equal the gradient goes to self."""
        other = _as_tensor_like(other, self, "maximum")
        return where(self.array >= other.array, self, other)

    def minimum(self, other: Any) -> Tensor:
        other = _as_tensor_like(other, self, "minimum")
        return where(self.array <= other.array, self, other)

    def var(self, dim: int | Sequence[int] | None = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None) -> Tensor:
        """sum((x - mean)^2) / (n - correction), correction 1 (unbiased, the default) or 0."""
        correction = (1 if unbiased else 0) if correction is None else correction
        axes = _axes(dim, self.ndim, "var")
        n = self.numel() if axes is None else int(np.prod([self.shape[a] for a in axes]))
        centred = self - self.mean(dim, keepdim=True)
        return (centred * centred).sum(dim, keepdim=keepdim) / builtins.max(n - correction, 0)

    def std(self, dim: int | Sequence[int] | None = None, unbiased: bool = True, keepdim: bool = False, *,
            correction: int | None = None) -> Tensor:
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def norm(self, p: float = 2, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        """The p-norm (sum |x|^p)^(1/p) over `dim` (all elements when None); p = 1 or 2 or any p > 0."""
        if p == 2:
            return (self * self).sum(dim, keepdim=keepdim).sqrt()
        if p == 1:
            return self.abs().sum(dim, keepdim=keepdim)
        return (self.abs() ** p).sum(dim, keepdim=keepdim) ** (1.0 / p)

    def logsumexp(self, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
        """log sum exp(x) over `dim`, computed as m + log sum exp(x - m) with m the (constant) max."""
        m = np.max(self.array, axis=dim, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = (self - _wrap(m)).exp().sum(dim, keepdim=True).log() + _wrap(m)
        axes = _axes(dim, self.ndim, "logsumexp")
        return out if keepdim else out.reshape(tuple(n for i, n in enumerate(self.shape) if i not in axes))

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The entries at `index` (1-D integers) along `dim`; gradients scatter-add back."""
        idx = index.array if isinstance(index, Tensor) else np.asarray(index)
        return self[(slice(None),) * (dim % builtins.max(self.ndim, 1)) + (idx,)]

    def new_zeros(self, *size: int, dtype: Any = None) -> Tensor:
        return zeros(*size, dtype=dtype or self.dtype)

    def new_tensor(self, data: Any, dtype: Any = None) -> Tensor:
        return tensor(data, dtype=dtype or self.dtype)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        self._inplace("clamp_")
        np.clip(self.array, min, max, out=self.array)
        return self

    def softmax(self, dim: int) -> Tensor:
        from fastnn.nn.functional import softmax

        return softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        from fastnn.nn.functional import log_softmax

        return log_softmax(self, dim)


# ------------------------------------------------------------------------------------ row-sparse gradients
def _coalesced(rows: np.ndarray, values: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Unique sorted rows and the sum of the values given for each (the embedding scatter-add kernel
    on the rows renumbered 0..n_unique-1)."""
    if not rows.size or bool(np.all(rows[1:] > rows[:-1])):
        return rows, values
    unique, position = np.unique(rows, return_inverse=True)
    flat = values.reshape(values.shape[0], -1)
    summed = get_backend().embedding_backward(flat, position.astype(np.int64), unique.shape[0])
    return unique.astype(np.int64), summed.reshape((unique.shape[0],) + values.shape[1:])


class SparseTensor:
    """A row-sparse tensor: PyTorch's sparse COO layout with one sparse dimension, as the gradient of
    an embedding weight with ``sparse=True``. Row ``indices()[0, k]`` holds ``values()[k]``; absent rows
    are zero. Always coalesced: rows unique and sorted, duplicates summed.

    ``sparse + sparse`` concatenates and coalesces; ``sparse + dense`` is dense.
    """

    __slots__ = ("_rows", "_values", "shape")
    __array_ufunc__ = None
    is_sparse = True
    requires_grad = False
    grad = None

    def __init__(self, rows: Any, values: Any, shape: Sequence[int]) -> None:
        shape = tuple(int(n) for n in shape)
        rows = np.asarray(rows.array if isinstance(rows, Tensor) else rows).reshape(-1)
        values = np.asarray(values.array if isinstance(values, Tensor) else values)
        if rows.dtype.kind not in "iu":
            raise TypeError(f"SparseTensor: indices must be integers, got {rows.dtype}")
        if values.shape != (rows.shape[0],) + shape[1:]:
            raise ValueError(f"SparseTensor: values of shape {values.shape} do not fit {rows.shape[0]} rows of a "
                             f"tensor of shape {shape}")
        if rows.size and (rows.min() < 0 or rows.max() >= shape[0]):
            raise IndexError(f"SparseTensor: row indices must lie in [0, {shape[0]}), got {rows.min()}..{rows.max()}")
        self._rows, self._values = _coalesced(rows.astype(np.int64, copy=False), values, shape[0])
        self.shape = shape

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

    def indices(self) -> Tensor:
        """The stored rows as a (1, nnz) int64 tensor (torch's layout for one sparse dimension)."""
        return _wrap(self._rows.reshape(1, -1))

    def values(self) -> Tensor:
        """The stored rows' values, (nnz, *shape[1:])."""
        return _wrap(self._values)

    def to_dense(self) -> Tensor:
        dense = np.zeros(self.shape, dtype=self._values.dtype)
        dense[self._rows] = self._values
        return _wrap(dense)

    def to(self, *args: Any, dtype: Any = None) -> SparseTensor:
        """A copy with values cast to `dtype` (device arguments must be "cpu")."""
        for arg in args:
            if not _is_device(arg):
                dtype = arg
        values = self._values if dtype is None else self._values.astype(_dtype(dtype))
        return SparseTensor(self._rows, values, self.shape)

    def detach(self) -> SparseTensor:
        return self

    def zero_(self) -> SparseTensor:
        """Drop every stored row (the tensor becomes all zeros, nnz 0), as torch does."""
        self._rows = self._rows[:0]
        self._values = self._values[:0]
        return self

    def __add__(self, other: Any) -> SparseTensor | Tensor:
        if isinstance(other, SparseTensor):
            if other.shape != self.shape or other.dtype != self.dtype:
                raise ValueError(f"SparseTensor add: {self.shape} {self.dtype} and {other.shape} {other.dtype} differ")
            return SparseTensor(np.concatenate([self._rows, other._rows]),
                                np.concatenate([self._values, other._values]), self.shape)
        dense = other.array if isinstance(other, Tensor) else np.asarray(other)
        if dense.shape != self.shape or dense.dtype != self.dtype:
            raise ValueError(f"SparseTensor add: {self.shape} {self.dtype} and dense {dense.shape} {dense.dtype} "
                             "differ")
        total = dense.copy()
        total[self._rows] += self._values
        return _wrap(total)

    __radd__ = __add__

    def __repr__(self) -> str:
        return (f"tensor(indices={self._rows.reshape(1, -1)!r},\n       values={self._values!r},\n"
                f"       size={self.shape}, nnz={self._nnz()}, layout=sparse_coo)")


# ------------------------------------------------------------------------------------ engine
# Called, in order, with no arguments after every Tensor.backward() has filled the leaves' .grad
# (DistributedDataParallel averages the gradients across ranks here).
post_backward_callbacks: list[Callable[[], None]] = []


def _accumulate(leaf: Tensor, grad: np.ndarray | SparseTensor) -> None:
    """leaf.grad += grad (a fresh, C-contiguous array of the leaf's dtype the first time).

    A row-sparse grad stays sparse while every contribution is sparse (rows concatenated and
    coalesced); sparse + dense is dense, as in PyTorch."""
    current = leaf.grad
    if isinstance(grad, SparseTensor):
        if current is None:
            leaf.grad = grad if grad.dtype == leaf.array.dtype else grad.to(leaf.array.dtype)
        elif isinstance(current, SparseTensor):
            leaf.grad = current + grad
        else:
            current.array[grad._rows] += grad._values
    elif current is None:
        leaf.grad = _wrap(np.array(grad, dtype=leaf.array.dtype, order="C"))
    elif isinstance(current, SparseTensor):
        leaf.grad = current + np.asarray(grad, dtype=leaf.array.dtype)
    else:
        current.array += grad


def _topological_order(root: _Node) -> list[_Node]:
    """The graph's nodes, root first, each before the nodes of its inputs (no recursion)."""
    order: list[_Node] = []
    visited: set[int] = set()
    stack: list[tuple[_Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for edge in node.inputs:
            if type(edge) is _Node and id(edge) not in visited:
                stack.append((edge, False))
    order.reverse()
    return order


def _run_backward(root: _Node, grad: np.ndarray, retain_graph: bool) -> None:
    grads: dict[int, np.ndarray] = {id(root): grad}
    for node in _topological_order(root):
        g = grads.pop(id(node), None)
        backward, inputs = node.backward, node.inputs
        if not retain_graph:
            node.backward, node.inputs = _freed_graph, ()
        if g is None:
            continue
        if node.retained is not None:
            _accumulate(node.retained, g)
        for edge, edge_grad in zip(inputs, backward(g)):
            if edge is None or edge_grad is None:
                continue
            if type(edge) is _Node:
                if isinstance(edge_grad, SparseTensor):  # only leaves keep a sparse gradient
                    edge_grad = edge_grad.to_dense().array
                key = id(edge)
                previous = grads.get(key)
                grads[key] = edge_grad if previous is None else previous + edge_grad
            else:
                _accumulate(edge, edge_grad)


# ------------------------------------------------------------------------------------ ops
def _as_tensor_like(value: Any, like: Tensor, op: str) -> Tensor:
    """A Python scalar or array as a tensor in `like`'s dtype (for reflected operators)."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float, np.number)) and like.array.dtype.kind == "f":
        return _wrap(np.asarray(value, dtype=like.array.dtype))
    return _wrap(_infer_array(value, None))


def _kept_shape(shape: tuple, axes: tuple | None, keepdim: bool) -> tuple:
    """The shape of a reduction's output with the reduced dims kept as 1 (for broadcasting back)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _extreme(t: Tensor, dim: int | None, keepdim: bool, which: str) -> Tensor | ValuesIndices:
    x = t.array
    if x.size == 0:
        raise RuntimeError(f"{which}: cannot reduce an empty tensor of shape {x.shape}")
    pick = np.argmax if which == "max" else np.argmin
    if dim is None:
        out = np.asarray(x.max() if which == "max" else x.min())

        def backward_all(g: np.ndarray) -> tuple:
            ties = x == out
            return (ties * (g / ties.sum()).astype(x.dtype),)

        return _result(out, (t,), backward_all)
    (axis,) = _axes(dim, x.ndim, which)
    idx = np.expand_dims(pick(x, axis=axis), axis) if x.ndim else np.zeros((), dtype=np.intp)
    values = np.take_along_axis(x, idx, axis=axis) if x.ndim else x.copy()
    shape, dtype = x.shape, x.dtype

    def backward(g: np.ndarray) -> tuple:
        dx = np.zeros(shape, dtype=dtype)
        if not shape:
            return (g.reshape(shape),)
        np.put_along_axis(dx, idx, g.reshape(idx.shape), axis=axis)
        return (dx,)

    if not keepdim and x.ndim:
        values, idx_out = values.squeeze(axis), idx.squeeze(axis)
    else:
        idx_out = idx
    return ValuesIndices(_result(values, (t,), backward), _wrap(idx_out.astype(int64)))


def _index_arrays(index: Any) -> Any:
    """Replace Tensors (and lists) inside an index by arrays."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return np.asarray([i.item() if isinstance(i, Tensor) else i for i in index])
    return index


def _has_int_array(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b with NumPy's matmul rules (1-D operands, batch broadcasting); BLAS does the work."""
    a, b = _as_tensor(a), _as_tensor(b)
    x, y, _ = _binary_operands("matmul", a, b)
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got {x.shape} and {y.shape}")
    if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
        raise RuntimeError(f"matmul: shapes {x.shape} and {y.shape} cannot be multiplied "
                           f"({x.shape[-1]} != {y.shape[-2 if y.ndim > 1 else 0]})")
    out = x @ y
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    out_shape2 = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2]) + (x2.shape[-2], y2.shape[-1])

    def backward(g: np.ndarray) -> tuple:
        g2 = g.reshape(out_shape2)
        dx = _unbroadcast(g2 @ np.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape) if a.requires_grad else None
        dy = _unbroadcast(np.swapaxes(x2, -1, -2) @ g2, y2.shape).reshape(y.shape) if b.requires_grad else None
        return dx, dy

    return _result(out, (a, b), backward)


def activation(t: Tensor, name: str, negative_slope: float = 0.01) -> Tensor:
    """Elementwise activation by the backend's activation kernels.

    `name` is one of the kernel activations; the input's dtype and layout are checked here, so the
    backend's private kernels (whose preconditions are C-contiguous float arrays) run directly.
    """
    x = t.array
    if x.dtype not in _FLOATS:
        raise TypeError(f"{name}: input must be float32 or float64, got {x.dtype}")
    if not x.flags.c_contiguous:
        x = np.ascontiguousarray(x)
    backend = get_backend()
    negative_slope = float(negative_slope)
    out = backend.unchecked.activation_forward(x, name, negative_slope)
    saved = x if name in ("leaky_relu", "gelu", "gelu_tanh") else out
    dtype = x.dtype

    def backward(g: np.ndarray) -> tuple:
        if not g.flags.c_contiguous or g.dtype != dtype:
            g = np.ascontiguousarray(g, dtype=dtype)
        return (backend.unchecked.activation_backward(g, saved, name, negative_slope),)

    return _result(out, (t,), backward)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along `dim`; the gradient is split back into the pieces."""
    tensors = tuple(_as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    _same_dtype("cat", tensors)
    (axis,) = _axes(dim, tensors[0].array.ndim, "cat")
    try:
        out = np.concatenate([t.array for t in tensors], axis=axis)
    except ValueError:
        raise RuntimeError(f"cat: shapes {[t.shape for t in tensors]} do not match outside dim {dim}") from None
    bounds = np.cumsum([t.array.shape[axis] for t in tensors])[:-1]
    return _result(out, tensors, lambda g: tuple(np.split(g, bounds, axis=axis)))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack equally shaped tensors along a new `dim`."""
    tensors = tuple(_as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    _same_dtype("stack", tensors)
    shapes = {t.array.shape for t in tensors}
    if len(shapes) != 1:
        raise RuntimeError(f"stack: expects tensors of one shape, got {[t.shape for t in tensors]}")
    ndim = tensors[0].array.ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"stack: dim {dim} out of range for a result with {ndim} dimensions")
    axis = dim % ndim
    out = np.stack([t.array for t in tensors], axis=axis)
    count = len(tensors)
    return _result(out, tensors, lambda g: tuple(np.take(g, i, axis=axis) for i in range(count)))


def _same_dtype(op: str, tensors: Iterable[Tensor]) -> None:
    dtypes = {t.array.dtype for t in tensors}
    if len(dtypes) > 1:
        raise TypeError(f"{op}: tensors have different dtypes {sorted(map(str, dtypes))}")


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elementwise condition ? a : b; gradients flow to the branch chosen."""
    cond = condition.array if isinstance(condition, Tensor) else np.asarray(condition)
    a, b = _as_tensor(a), _as_tensor(b)
    x, y, _ = _binary_operands("where", a, b)
    out = np.where(cond, x, y)
    xs, ys = x.shape, y.shape
    zero = out.dtype.type(0)
    return _result(out, (a, b), lambda g: (_unbroadcast(np.where(cond, g, zero), xs),
                                           _unbroadcast(np.where(cond, zero, g), ys)))


# ------------------------------------------------------------------------------------ function forms
def _method(name: str) -> Callable:
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:
        return getattr(_as_tensor(input), name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"fastnn.{name}(t, ...) is t.{name}(...), as torch.{name}."
    return function


exp, log, log1p, sqrt, abs, tanh, sigmoid, relu, clamp = (  # noqa: A001
    _method(n) for n in ("exp", "log", "log1p", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp"))
sum, mean, max, min, argmax, argmin = (  # noqa: A001
    _method(n) for n in ("sum", "mean", "max", "min", "argmax", "argmin"))
reshape, flatten, squeeze, unsqueeze, transpose, permute, softmax, log_softmax = (
    _method(n) for n in ("reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "softmax",
                         "log_softmax"))


mm = matmul


def maximum(a: Any, b: Any) -> Tensor:
    return _as_tensor(a).maximum(b)


def minimum(a: Any, b: Any) -> Tensor:
    return _as_tensor(a).minimum(b)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> int:
    return t.numel()


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a: Any, b: Any) -> bool:
    """True when both have the same shape and elements."""
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


# ------------------------------------------------------------------------------------ factories
def _size(size: tuple) -> tuple:
    if len(size) == 1 and not isinstance(size[0], (int, np.integer)):
        return tuple(size[0])
    return tuple(size)


def _new(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of `data`, with PyTorch's dtype inference."""
    return _new(_infer_array(data, _dtype(dtype)), requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing `array`'s memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return _wrap(array)


def zeros(*size: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(_size(size), dtype=_dtype(dtype) or _DEFAULT_FLOAT), requires_grad)


def ones(*size: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_size(size), dtype=_dtype(dtype) or _DEFAULT_FLOAT), requires_grad)


def empty(*size: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.empty(_size(size), dtype=_dtype(dtype) or _DEFAULT_FLOAT), requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    array = _infer_array(fill_value, _dtype(dtype))
    return _new(np.full(tuple(size), array, dtype=array.dtype), requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(t.shape, dtype=_dtype(dtype) or t.dtype), requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(t.shape, dtype=_dtype(dtype) or t.dtype), requires_grad)


def full_like(t: Tensor, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.full(t.shape, fill_value, dtype=_dtype(dtype) or t.dtype), requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """`data` as a tensor, sharing memory with a NumPy array (or a tensor) of the right dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return _wrap(data)
    return tensor(data, dtype=dtype)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.eye(n, m, dtype=_dtype(dtype) or _DEFAULT_FLOAT), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.linspace(start, end, steps).astype(_dtype(dtype) or _DEFAULT_FLOAT), requires_grad)


def randint(low: int, high: int | None = None, size: Sequence[int] = (), dtype: Any = None) -> Tensor:
    """Integers uniform in [low, high) (or [0, low) given one bound) from fastnn's global generator."""
    if high is None:
        low, high = 0, low
    return _wrap(_random.default_generator().integers(low, high, tuple(size)).astype(_dtype(dtype) or int64))


def randperm(n: int, dtype: Any = None) -> Tensor:
    """A random permutation of 0..n-1 from fastnn's global generator."""
    return _wrap(_random.default_generator().permutation(n).astype(_dtype(dtype) or int64))


def randn(*size: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from fastnn's global generator."""
    dtype = _dtype(dtype) or _DEFAULT_FLOAT
    return _new(_random.default_generator().standard_normal(_size(size), dtype=dtype), requires_grad)


def rand(*size: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from fastnn's global generator."""
    dtype = _dtype(dtype) or _DEFAULT_FLOAT
    return _new(_random.default_generator().random(_size(size), dtype=dtype), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values start, start+step, ... < end; int64 when all arguments are ints, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else _DEFAULT_FLOAT
    return _new(np.arange(start, end, step).astype(dtype), requires_grad)


__all__ = [
    "allclose", "as_tensor", "equal", "eye", "full_like", "is_tensor", "linspace", "maximum", "minimum", "mm", "numel",
    "randint", "randperm", "set_grad_enabled",
    "SparseTensor", "Tensor", "ValuesIndices", "abs", "arange", "argmax", "argmin", "bool_", "cat", "clamp", "empty",
    "enable_grad", "exp", "flatten", "float32", "float64", "from_numpy", "full", "int32", "int64", "is_grad_enabled",
    "log", "log1p", "log_softmax", "matmul", "max", "mean", "min", "no_grad", "ones", "ones_like", "permute", "rand",
    "randn", "relu", "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "stack", "sum", "tanh", "tensor",
    "transpose", "unsqueeze", "where", "zeros", "zeros_like",
]
