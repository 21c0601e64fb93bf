"""Grad mode: whether ops record a graph, kept per thread and per asyncio task.

The mode lives in a :class:`contextvars.ContextVar`, so ``with fastnn.no_grad():`` in one thread
(or task) never changes what another sees, as PyTorch keeps grad mode per thread. A new thread
starts with grad mode on; an asyncio task starts with the mode of the code that created it.
``no_grad``, ``enable_grad``, ``inference_mode`` and ``set_grad_enabled`` work as context managers
and as decorators; nested blocks restore the mode they found, even when one instance is shared
between threads (the saved modes are kept per context, not on the instance).
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any

GRAD_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar("fastnn_grad_enabled", default=True)
_enabled = GRAD_ENABLED  # this module's short name for it
_saved: contextvars.ContextVar[tuple] = contextvars.ContextVar("fastnn_grad_saved", default=())


def is_grad_enabled() -> bool:
    """True when ops record a graph (in this thread or task)."""
    return _enabled.get()


def _push(mode: bool) -> None:
    _saved.set(_saved.get() + (_enabled.get(),))
    _enabled.set(mode)


def _pop() -> None:
    saved = _saved.get()
    _saved.set(saved[:-1])
    _enabled.set(saved[-1])


def _under(mode: bool | None, function: Callable) -> Callable:
    """`function` run with grad mode `mode` (None: the caller's mode) for the duration of each call."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _push(_enabled.get() if mode is None else mode)
        try:
            return function(*args, **kwargs)
        finally:
            _pop()

    return wrapper


class _GradMode:
    """A context manager and decorator that sets grad mode to ``self._mode`` inside it."""

    _mode = True

    def __new__(cls, function: Callable | None = None, *args: Any, **kwargs: Any) -> Any:
        instance = super().__new__(cls)
        # @fastnn.no_grad without parentheses decorates directly, as torch.no_grad does
        if callable(function):
            instance.__init__()
            return instance(function)
        return instance

    def __enter__(self) -> None:
        _push(self._mode)

    def __exit__(self, *exc: object) -> None:
        _pop()

    def __call__(self, function: Callable) -> Callable:
        return _under(self._mode, function)


class no_grad(_GradMode):
    """Context manager and decorator: ops inside build no graph (outputs do not require grad)."""

    _mode = False


class enable_grad(_GradMode):
    """Context manager and decorator that turns grad mode back on inside a ``no_grad`` block."""

    _mode = True


class inference_mode(_GradMode):
    """``inference_mode(True)`` is :class:`no_grad` (fastnn has no separate inference tensors);
    ``inference_mode(False)`` leaves the mode as it is."""

    def __init__(self, mode: bool = True) -> None:
        self._keep = not mode

    def __enter__(self) -> None:
        _push(_enabled.get() if self._keep else False)

    def __call__(self, function: Callable) -> Callable:
        return _under(None if self._keep else False, function)


class set_grad_enabled:
    """Set grad mode at once when called, and back to the previous mode on leaving a ``with``
    block or a decorated function (as torch.set_grad_enabled)."""

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._previous = _enabled.get()
        _enabled.set(self._mode)

    def __enter__(self) -> None:
        _saved.set(_saved.get() + (self._previous,))

    def __exit__(self, *exc: object) -> None:
        _pop()

    def __call__(self, function: Callable) -> Callable:
        _enabled.set(self._previous)  # used as a decorator: the mode applies only inside the function
        return _under(self._mode, function)


__all__ = ["GRAD_ENABLED", "enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]
