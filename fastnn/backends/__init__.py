"""Backend registry: which implementation of the kernel table runs.

``set_backend(name)``, ``get_backend()``, ``use_backend(name)`` (a context manager) and the
``FASTNN_BACKEND`` environment variable choose among "cython", "numba" and "numpy". A compiled
backend is loaded on first use; if it cannot load, fastnn warns once and falls back.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import warnings
from collections.abc import Iterator

from fastnn.backends.base import KERNELS, Backend

NAMES = ("cython", "numba", "numpy")
DEFAULT_ORDER = ("cython", "numba", "numpy")  # fastest first, from the project's measurements
_MODULES = {"cython": "fastnn.backends.cython_backend", "numba": "fastnn.backends.numba_backend"}

_instances: dict[str, Backend] = {"numpy": Backend()}
_failures: dict[str, str] = {}
_active: Backend | None = None


def _load(name: str) -> Backend | None:
    """The backend instance, loading it on first use; None (and a warning, once) if it fails."""
    if name in _instances:
        return _instances[name]
    if name in _failures:
        return None
    try:
        module = importlib.import_module(_MODULES[name])
        backend = module.BACKEND_CLASS()
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
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    return name


def available_backends() -> list[str]:
    """Names of the backends that load on this machine, fastest first."""
    return [name for name in DEFAULT_ORDER if _load(name) is not None]


def set_backend(name: str) -> None:
    """Make `name` the active backend; raises if it is unknown or cannot load."""
    global _active
    backend = _load(_check_name(name))
    if backend is None:
        raise RuntimeError(f"fastnn: backend {name!r} is unavailable: {_failures[name]}")
    _active = backend


def get_backend() -> Backend:
    """The active backend: set_backend's choice, else $FASTNN_BACKEND, else the fastest available."""
    global _active
    if _active is None:
        wanted = os.environ.get("FASTNN_BACKEND")
        order = (_check_name(wanted),) + DEFAULT_ORDER if wanted else DEFAULT_ORDER
        _active = next(b for b in map(_load, order) if b is not None)
    return _active


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run a block with another backend active, restoring the previous one afterwards."""
    global _active
    previous = get_backend()
    set_backend(name)
    try:
        yield _active
    finally:
        _active = previous


__all__ = ["KERNELS", "NAMES", "Backend", "available_backends", "get_backend", "set_backend", "use_backend"]
