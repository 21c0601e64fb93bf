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

from fastnn.autograd.device import is_device
from fastnn.autograd.dtypes import bool_, float32, float64, infer_array, int32, int64, to_dtype
from fastnn.autograd.engine import TensorBase, record, register_tensor_class, wrap
from fastnn.autograd.mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from fastnn.autograd.sparse import SparseTensor
from fastnn.functions import from_numpy, tensor, zeros
from fastnn.ops.activations import ActivationMethods, activation
from fastnn.ops.arithmetic import ArithmeticMethods
from fastnn.ops.checks import as_tensor
from fastnn.ops.inplace import InplaceMethods
from fastnn.ops.pointwise import PointwiseMethods
from fastnn.ops.reduce import ReduceMethods, ValuesIndices
from fastnn.ops.shape import ShapeMethods


class Tensor(TensorBase, ArithmeticMethods, PointwiseMethods, ReduceMethods, ShapeMethods, ActivationMethods,
             InplaceMethods):
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

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.array = infer_array(data, to_dtype(dtype))
        self.grad = None
        self._ctx = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---------------------------------------------------------------- shape and dtype
    @property
    def shape(self) -> tuple:
        return self.array.shape

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

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

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    # ---------------------------------------------------------------- printing and Python numbers
    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(")
        extras = ""
        if self.array.dtype not in (float32, int64, bool_):
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
    def device(self) -> str:
        """Always "cpu": fastnn runs on the CPU."""
        return "cpu"

    def cpu(self) -> Tensor:
        return self

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

    def new_zeros(self, *size: Any, dtype: Any = None) -> Tensor:
        return zeros(*size, dtype=dtype or self.array.dtype)

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

__all__ = ["SparseTensor", "Tensor", "ValuesIndices", "activation", "bool_", "enable_grad", "float32", "float64",
           "from_numpy", "int32", "int64", "is_grad_enabled", "no_grad", "set_grad_enabled"]
