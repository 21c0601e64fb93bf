"""Which implementation of the kernel table runs.

``set_backend(name)`` sets the process default; ``with use_backend(name):`` overrides it in the
current thread (or asyncio task) only, through a :class:`contextvars.ContextVar`, so two threads
can use two backends at once and neither sees the other's choice; a new thread starts on the
process default. Without ``set_backend``, the default is ``$FASTNN_BACKEND``, else the fastest
backend that loads (``contract.BACKEND_NAMES`` order). A compiled backend loads on first use; if it
cannot, fastnn warns once and falls back. A compiled table that lacks a kernel gets the NumPy
reference's for it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import threading
import warnings
from collections.abc import Iterator
from types import SimpleNamespace

from fastnn.backends import reference
from fastnn.backends.base import Backend
from fastnn.backends.contract import BACKEND_NAMES, KERNEL_NAMES, REFERENCE_BACKEND

_instances: dict[str, Backend] = {REFERENCE_BACKEND: Backend(REFERENCE_BACKEND, reference.TABLE)}
_failures: dict[str, str] = {}
_default: Backend | None = None
_override: contextvars.ContextVar[Backend | None] = contextvars.ContextVar("fastnn_backend", default=None)
_lock = threading.Lock()


def _compiled_table(name: str) -> SimpleNamespace:
    if name == "numba":
        from fastnn.backends import numba

        return numba.load_table()
    from fastnn import _cython

    return _cython.load_table()


def complete(table: SimpleNamespace) -> SimpleNamespace:
    """`table` with every kernel it lacks taken from the NumPy reference."""
    return SimpleNamespace(**{k: getattr(table, k, None) or getattr(reference.TABLE, k) for k in KERNEL_NAMES})


def _load(name: str) -> Backend | None:
    """The backend instance, loading it on first use; None (and a warning, once) if it fails."""
    backend = _instances.get(name)
    if backend is not None or name in _failures:
        return backend
    with _lock:
        if name in _instances or name in _failures:
            return _instances.get(name)
        try:
            backend = Backend(name, complete(_compiled_table(name)))
        except Exception as exc:  # a broken build or a missing dependency: fall back, loudly
            _failures[name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"fastnn: the {name} backend is unavailable ({_failures[name]}); falling back",
                          RuntimeWarning, stacklevel=3)
            return None
        _instances[name] = backend
    from fastnn import threads

    threads.apply()
    return backend


def _check_name(name: str) -> str:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    return name


def load_backend(name: str) -> Backend:
    """The backend called `name`, loaded on first use, without making it active; RuntimeError if it
    cannot load."""
    backend = _load(_check_name(name))
    if backend is None:
        raise RuntimeError(f"fastnn: backend {name!r} is unavailable: {_failures[name]}")
    return backend


def available_backends() -> list[str]:
    """Names of the backends that load on this machine, fastest first."""
    return [name for name in BACKEND_NAMES if _load(name) is not None]


def set_backend(name: str) -> None:
    """Make `name` the process-wide default backend; raises if it is unknown or cannot load.
    (A ``use_backend`` block that is running keeps its own choice until it ends.)"""
    global _default
    _default = load_backend(name)


def _process_default() -> Backend:
    global _default
    if _default is None:
        wanted = os.environ.get("FASTNN_BACKEND")
        order = (_check_name(wanted),) + BACKEND_NAMES if wanted else BACKEND_NAMES
        _default = next(b for b in map(_load, order) if b is not None)
    return _default


def get_backend() -> Backend:
    """The active backend: this context's ``use_backend`` choice, else the process default
    (set_backend's choice, else $FASTNN_BACKEND, else the fastest available)."""
    return _override.get() or _process_default()


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run a block with another backend active in this thread / context only, restoring the
    previous choice afterwards (also after an exception)."""
    token = _override.set(load_backend(name))
    try:
        yield _override.get()
    finally:
        _override.reset(token)
