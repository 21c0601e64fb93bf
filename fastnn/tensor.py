"""Tensor: a NumPy array with reverse-mode automatic differentiation, PyTorch's API.

The class is assembled here from the engine (:mod:`fastnn.autograd.engine`: ``requires_grad``,
``grad``, ``backward``) and the op groups of :mod:`fastnn.ops`, one mixin per group; its class
line below lists them, so each method is found in the file its group names. What stays here is
what makes a tensor a container: construction, shape and dtype, conversion, printing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from fastnn.autograd.device import CPU, CPU_ONLY, is_device
from fastnn.autograd.dtypes import (
    DEFAULT_FLOAT,
    bool_,
    dtype,
    float32,
    float64,
    infer_array,
    int32,
    int64,
    public,
    to_dtype,
)
from fastnn.autograd.engine import Node, TensorBase, record, register_tensor_class, wrap
from fastnn.autograd.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from fastnn.autograd.sparse import SparseTensor
from fastnn.functions import from_numpy, tensor, zeros
from fastnn.ops.activations import ActivationMethods, activation
from fastnn.ops.arithmetic import ArithmeticMethods
from fastnn.ops.checks import as_tensor
from fastnn.ops.gather import GatherMethods
from fastnn.ops.inplace import InplaceMethods
from fastnn.ops.pointwise import PointwiseMethods
from fastnn.ops.reduce import ReduceMethods, ValuesIndices
from fastnn.ops.shape import ShapeMethods, size_tuple
from fastnn.ops.sorting import SortingMethods
from fastnn.printing import tensor_repr

LEGACY_NAMES = {"FloatTensor": float32, "DoubleTensor": float64, "LongTensor": int64, "IntTensor": int32,
                "BoolTensor": bool_, "ByteTensor": np.dtype(np.uint8), "ShortTensor": np.dtype(np.int16),
                "CharTensor": np.dtype(np.int8), "HalfTensor": np.dtype(np.float16)}


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``fastnn.Size([64, 784])`` (torch.Size)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"fastnn.Size({list(self)})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        """As a plain tuple inside f-strings (the library's error messages show shapes as (2, 3))."""
        return format(tuple(self), spec)

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        return int(np.prod(self, dtype=np.int64))


def legacy_array(args: tuple, dtype: np.dtype | None, default: np.dtype) -> np.ndarray:
    """The array of PyTorch's legacy constructors (torch.Tensor, torch.FloatTensor...): sizes given as
    ints (or a Size) give zeros of that shape; data gives a copy in `dtype` (lists of numbers become
    `default`; arrays and tensors keep their dtype unless `dtype` is given)."""
    if not args:
        return np.zeros(0, dtype=dtype or default)
    if isinstance(args[0], Size) or all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
        sizes = tuple(args[0]) if isinstance(args[0], Size) else tuple(int(a) for a in args)
        if any(n < 0 for n in sizes):
            raise RuntimeError(f"Tensor: negative dimension in size {sizes}")
        return np.zeros(sizes, dtype=dtype or default)
    if len(args) > 1:
        raise TypeError(f"Tensor: expected sizes (ints) or one sequence of data, got {len(args)} arguments")
    data = args[0]
    if isinstance(data, (np.ndarray, np.generic, TensorBase)):
        return infer_array(data, dtype)
    return infer_array(data, dtype or default)


class Tensor(TensorBase, ArithmeticMethods, PointwiseMethods, ReduceMethods, ShapeMethods, ActivationMethods,
             SortingMethods, GatherMethods, InplaceMethods):
    """An n-dimensional array that can record the ops applied to it and differentiate through them.

    Method groups: engine (backward, requires_grad_, retain_grad, is_leaf) in autograd/engine.py;
    arithmetic (+ - * / ** @, add, mul, pow, matmul...) in ops/arithmetic.py; element-wise functions
    and comparisons (exp, log, abs, clamp, maximum, eq, lt...) in ops/pointwise.py; reductions (sum,
    mean, max, var, norm...) in ops/reduce.py; shape and indexing (reshape, permute, squeeze,
    expand, [...]) in ops/shape.py; activations (relu, sigmoid, tanh, softmax, log_softmax) in
    ops/activations.py; in-place updates (add_, copy_, zero_, +=...) in ops/inplace.py;
    construction, conversion and printing here.
    """

    __slots__ = ()
    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operators
    __hash__ = object.__hash__  # the comparison operators return tensors, so hash by identity

    def __init__(self, *data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        """Tensor(list) is float32 and Tensor(2, 3) a (2, 3) tensor of zeros, as torch.Tensor; a NumPy
        array or a tensor keeps its dtype (torch would make it float32) unless `dtype` is given."""
        self.array = legacy_array(data, to_dtype(dtype), DEFAULT_FLOAT)
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---------------------------------------------------------------- shape and dtype
    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    @property
    def dtype(self) -> dtype:
        """The dtype, printed as ``fastnn.float32`` and equal to the NumPy dtype ``numpy().dtype``."""
        return public(self.array.dtype)

    @property
    def grad_fn(self) -> Node | None:
        """The graph node that made this tensor (None for a leaf or outside grad mode)."""
        return self._ctx

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None) -> Size | int:
        return Size(self.array.shape) if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return self.array.size

    def __len__(self) -> int:
        if not self.array.ndim:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    # ---------------------------------------------------------------- printing and Python numbers
    def __repr__(self) -> str:
        return tensor_repr(self.array, self._ctx.name() if self._ctx is not None else None, self.requires_grad)

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its number (f"{loss:.4f}"); others only without a format spec."""
        if self.array.ndim == 0:
            return self.array.item().__format__(spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

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

        The NumPy array itself is ``numpy()`` (or the ``array`` attribute)."""
        return wrap(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        array = value.array if isinstance(value, TensorBase) else np.asarray(value)
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
        return wrap(self.array)

    def clone(self) -> Tensor:
        return record(self.array.copy(), (self,), lambda g: (g,), "CloneBackward0")

    def contiguous(self) -> Tensor:
        return self if self.array.flags.c_contiguous else self.clone()

    @property
    def device(self) -> Any:
        """device(type='cpu'): fastnn runs on the CPU (it compares equal to "cpu")."""
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        raise RuntimeError(f"Tensor.cuda: {CPU_ONLY}")

    def to(self, *args: Any, dtype: Any = None) -> Tensor:
        """The tensor in `dtype` (itself when it already is; differentiable between float dtypes).
        A device argument must be "cpu" (as in t.to("cpu") or t.to("cpu", fastnn.float64))."""
        for arg in args:
            if isinstance(arg, TensorBase):
                dtype = arg.array.dtype
            elif not is_device(arg):
                dtype = arg
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        source = self.array.dtype
        if source == dtype:
            return self
        if dtype.kind != "f" or source.kind != "f":
            return wrap(self.array.astype(dtype))
        return record(self.array.astype(dtype), (self,), lambda g: (g.astype(source),), "ToCopyBackward0")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.array.dtype)

    def type(self, dtype: Any = None) -> str | Tensor:
        """type() -> the legacy type name ('fastnn.FloatTensor'); type(dtype) -> the tensor in `dtype`
        (a dtype or a name such as 'torch.LongTensor')."""
        if dtype is None:
            names = {np.dtype(v): k for k, v in LEGACY_NAMES.items()}
            return "fastnn." + names.get(self.array.dtype, f"{self.array.dtype.name}Tensor")
        if isinstance(dtype, str) and dtype.rpartition(".")[2] in LEGACY_NAMES:
            dtype = LEGACY_NAMES[dtype.rpartition(".")[2]]
        return self.to(dtype)

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        return zeros(*size, dtype=dtype or self.array.dtype)

    def new_ones(self, *size: Any, dtype: Any = None) -> Tensor:
        return wrap(np.ones(size_tuple(size), dtype=to_dtype(dtype) or self.array.dtype))

    def new_empty(self, *size: Any, dtype: Any = None) -> Tensor:
        return wrap(np.empty(size_tuple(size), dtype=to_dtype(dtype) or self.array.dtype))

    def new_full(self, size: Any, fill_value: float, dtype: Any = None) -> Tensor:
        return wrap(np.full(tuple(size), fill_value, dtype=to_dtype(dtype) or self.array.dtype))

    def nelement(self) -> int:
        return self.array.size

    def element_size(self) -> int:
        return self.array.itemsize

    def new_tensor(self, data: Any, dtype: Any = None) -> Tensor:
        return tensor(data, dtype=dtype or self.array.dtype)


register_tensor_class(Tensor)

# Names other modules imported from here before the engine and the ops had files of their own;
# kept until every import reads the new homes (fastnn.autograd, fastnn.ops, fastnn.functions).
_wrap = wrap
_result = record
_infer_array = infer_array
_is_device = is_device
_as_tensor = as_tensor

__all__ = ["LEGACY_NAMES", "Size", "SparseTensor", "Tensor", "ValuesIndices", "activation", "bool_", "enable_grad",
           "float32", "float64", "from_numpy", "int32", "int64", "is_grad_enabled", "legacy_array", "no_grad",
           "set_grad_enabled"]
