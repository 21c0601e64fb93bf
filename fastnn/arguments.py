"""Checks of the Python values given as hyperparameters and constructor arguments.

Layers, losses, optimizers and schedulers validate what they are given where it is given (as
PyTorch's constructors do), so a string, ``None``, NaN or a negative value never reaches
``float()``/``int()`` or a kernel and fails there with a message that names nothing. Each
function raises ``TypeError`` for a value of the wrong kind and ``ValueError`` for one out of range,
and its message starts with ``owner`` (the class or function) and names the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind_error(owner: str, name: str, expected: str, value: Any) -> TypeError:
    return TypeError(f"{owner}: {name} must be {expected}, got {type(value).__name__} {_shown(value)}")


def real(owner: str, name: str, value: Any, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False, invalid: str | None = None) -> float:
    """``value`` as a float after checking it is a finite real number (not a bool) within
    [low, high] (an open end with ``low_open``/``high_open``; None for no bound).

    ``invalid`` is the start of the ValueError's text (PyTorch's ``Invalid learning rate``);
    the default is ``invalid {name}``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _kind_error(owner, name, "a real number", value)
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    too_high = high is not None and (number >= high if high_open else number > high)
    if not math.isfinite(number) or too_low or too_high:
        left = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        right = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        raise ValueError(f"{owner}: {invalid or 'invalid ' + name}: {value} ({name} must be a finite number "
                         f"in {left}, {right})")
    return number


def integer(owner: str, name: str, value: Any, *, low: int | None = None, high: int | None = None,
            whole_floats: bool = False) -> int:
    """``value`` as an int after checking it is an integer (not a bool; a float only when
    `whole_floats` and it is a whole number, as PyTorch's schedulers take ``step_size=1.0``) within
    [low, high] and within int64 (the kernels' index type)."""
    if whole_floats and isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _kind_error(owner, name, "an integer", value)
    number = int(value)
    lo = INT64_MIN if low is None else low
    hi = INT64_MAX if high is None else high
    if not lo <= number <= hi:
        bounds = f">= {lo}" if high is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{owner}: invalid {name}: {value} ({name} must be an integer {bounds})")
    return number


def optional_integer(owner: str, name: str, value: Any, *, low: int | None = None,
                     high: int | None = None) -> int | None:
    """:func:`integer`, or None."""
    return None if value is None else integer(owner, name, value, low=low, high=high)


def flag(owner: str, name: str, value: Any) -> bool:
    """``value`` as a bool after checking it is one (a NumPy bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _kind_error(owner, name, "a bool", value)
    return bool(value)


def choice(owner: str, name: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` after checking it is one of the strings ``allowed``."""
    if not isinstance(value, str):
        raise _kind_error(owner, name, "one of " + ", ".join(repr(a) for a in allowed) + " (a string)", value)
    if value not in allowed:
        raise ValueError(f"{owner}: {name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
    return value


def pair(owner: str, name: str, value: Any) -> tuple[Any, Any]:
    """``value`` as a 2-tuple (the betas of Adam) after checking it is a sequence of two."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 2:
        raise _kind_error(owner, name, "a pair of numbers", value)
    return value[0], value[1]


def float_dtype(owner: str, dtype: Any) -> np.dtype:
    """A layer's parameter dtype: float32 (the default, for None) or float64."""
    try:
        resolved = np.dtype(np.float32 if dtype is None else dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype!r}")
    return resolved


__all__ = ["INT64_MAX", "INT64_MIN", "choice", "flag", "float_dtype", "integer", "optional_integer", "pair", "real"]
