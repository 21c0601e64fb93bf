"""Dtypes and PyTorch's inference and promotion rules, in one place.

Inference (``tensor(data)``): a NumPy array or a tensor keeps its dtype; Python floats become
float32 (the default float), Python ints int64, bools bool. Promotion in a binary op: two
different float dtypes are never silently promoted (a TypeError names both); an integer or bool
operand adopts the float operand's dtype; a Python scalar adopts the tensor's dtype (a float
scalar with an integer tensor gives float32).
"""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
bool_ = np.dtype(np.bool_)
FLOATS = (float32, float64)
DEFAULT_FLOAT = float32
PYTHON_SCALARS = (bool, int, float, np.number, np.bool_)


class dtype:  # noqa: N801 - torch.dtype
    """A tensor's dtype as PyTorch shows it: prints ``fastnn.float32``, compares equal to the NumPy
    dtype (and NumPy type or name) it stands for, and works wherever NumPy takes a dtype (NumPy reads
    its ``dtype`` attribute). Other NumPy dtype attributes (``kind``, ``itemsize``...) pass through."""

    __slots__ = ("dtype", "name")

    def __init__(self, numpy_dtype: Any) -> None:
        self.dtype = np.dtype(numpy_dtype)
        self.name = "bool" if self.dtype == np.bool_ else self.dtype.name

    @property
    def is_floating_point(self) -> bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> bool:
        return self.dtype.kind in "fic"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dtype, name)

    def __repr__(self) -> str:
        return f"fastnn.{self.name}"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dtype):
            return self.dtype == other.dtype
        if other is None:
            return False
        try:
            return self.dtype == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.dtype)

    def __reduce__(self) -> tuple:
        return public, (self.dtype.str,)


_PUBLIC: dict[np.dtype, dtype] = {}


def public(numpy_dtype: Any) -> dtype:
    """The one :class:`dtype` object for a NumPy dtype (``fastnn.float32`` is ``public(np.float32)``)."""
    try:
        return _PUBLIC[numpy_dtype]
    except KeyError:
        key = np.dtype(numpy_dtype)
        if key not in _PUBLIC:
            _PUBLIC[key] = dtype(key)
        return _PUBLIC[key]


def to_dtype(dtype: Any) -> np.dtype | None:
    """`dtype` as a NumPy dtype (None stays None)."""
    return None if dtype is None else np.dtype(dtype)


def infer_array(data: Any, dtype: np.dtype | None) -> np.ndarray:
    """A new array holding `data`, with PyTorch's dtype inference when `dtype` is None.

    Arrays and tensors (anything with ``__array__``) keep their dtype; nested Python lists of
    numbers follow the rules in the module docstring."""
    if isinstance(data, (np.ndarray, np.generic)) or hasattr(type(data), "__array__"):
        return np.array(data, dtype=dtype)
    arr = np.array(data, dtype=dtype)
    if dtype is None:
        if arr.dtype.kind == "f":
            arr = arr.astype(DEFAULT_FLOAT)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(int64)
        elif arr.dtype.kind != "b":
            raise TypeError(f"tensor: cannot build a tensor from data of type {type(data).__name__} "
                            f"(numpy dtype {arr.dtype})")
    return arr


def promote_arrays(op: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The operands of a binary op between two tensors' arrays, in one dtype where one is float."""
    if x.dtype == y.dtype:
        return x, y
    if x.dtype.kind == "f" and y.dtype.kind == "f":
        raise TypeError(f"{op}: dtype mismatch between {x.dtype} and {y.dtype}; convert one operand "
                        "explicitly with .float() or .double()")
    if x.dtype.kind == "f":
        return x, y.astype(x.dtype)
    if y.dtype.kind == "f":
        return x.astype(y.dtype), y
    return x, y


def promote_scalar(x: np.ndarray, scalar: Any) -> tuple[np.ndarray, Any]:
    """The operands of a binary op between a tensor's array and a Python (or NumPy) scalar."""
    if x.dtype.kind == "f":
        return x, x.dtype.type(scalar)
    if isinstance(scalar, (float, np.floating)):
        return x.astype(DEFAULT_FLOAT), DEFAULT_FLOAT.type(scalar)
    if isinstance(scalar, (bool, np.bool_)):
        return x, np.asarray(scalar, dtype=x.dtype)
    if x.dtype == bool_:
        x = x.astype(int64)
    return x, np.asarray(scalar, dtype=x.dtype)


__all__ = ["DEFAULT_FLOAT", "FLOATS", "PYTHON_SCALARS", "bool_", "dtype", "float32", "float64", "infer_array", "int32",
           "int64", "promote_arrays", "promote_scalar", "public", "to_dtype"]
