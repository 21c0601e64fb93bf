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


__all__ = ["DEFAULT_FLOAT", "FLOATS", "PYTHON_SCALARS", "bool_", "float32", "float64", "infer_array", "int32",
           "int64", "promote_arrays", "promote_scalar", "to_dtype"]
