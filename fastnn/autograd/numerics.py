"""Floating-point exceptions: like PyTorch, fastnn's ops give inf and nan silently (exp of a large
number, 0/0, log of a negative) and never print NumPy's RuntimeWarnings.

``@quiet`` runs a function with NumPy's floating-point errors ignored, in this thread or task only
(NumPy keeps that state in a context variable, so the user's own NumPy settings are untouched
outside fastnn's ops). Setting that variable directly costs a fraction of ``np.errstate``, which
matters on the hot path of small ops; on a NumPy without it, ``np.errstate`` is used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

try:  # NumPy >= 2: the error state is a ContextVar holding an "extobj"
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRORS

    with np.errstate(all="ignore"):
        _IGNORE = _ERRORS.get()
except (ImportError, AttributeError):  # pragma: no cover - older NumPy
    _ERRORS = None


def quiet(function: F) -> F:
    """`function` with NumPy's floating-point warnings off while it runs."""
    if _ERRORS is None:  # pragma: no cover
        @functools.wraps(function)
        def fallback(*args: Any, **kwargs: Any) -> Any:
            with np.errstate(all="ignore"):
                return function(*args, **kwargs)

        return fallback  # type: ignore[return-value]

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _ERRORS.set(_IGNORE)
        try:
            return function(*args, **kwargs)
        finally:
            _ERRORS.reset(token)

    return wrapper  # type: ignore[return-value]


__all__ = ["quiet"]
