"""Argument checks and constants shared by the composed functionals (functional_extra,
functional_activations, functional_losses): each error names the function and the argument."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastnn.tensor import Tensor, from_numpy

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def float_tensor(fn: str, name: str, value: Any) -> Tensor:
    """`value` itself if it is a float32/float64 Tensor, else a TypeError naming `fn` and `name`."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {value.dtype}")
    return value


def real_number(fn: str, name: str, value: Any) -> float:
    """`value` as a float if it is a real number that is not NaN, else an error naming `fn` and `name`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{fn}: {name} must not be NaN")
    return value


def check_same_dtype(fn: str, a: Tensor, b: Tensor, a_name: str, b_name: str) -> None:
    """Raise TypeError naming `fn` unless a and b have one dtype."""
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}: {a_name} dtype {a.dtype} does not match {b_name} dtype {b.dtype}")


def constant_like(value: Any, like: Tensor) -> Tensor:
    """A constant (no gradient) in `like`'s dtype."""
    return from_numpy(np.asarray(value, dtype=like.dtype))
