"""The kernel table and the choice of its implementation.

``contract`` holds every shared fact (kernel names and argument order, activations, reductions,
dtypes); ``base.Backend`` the checked entry points; ``reference``, ``numba`` and ``fastnn._cython``
the three implementations, one module per kernel family; ``registry`` the choice among them:
``set_backend(name)`` (process default), ``use_backend(name)`` (this thread / context),
``get_backend()``, ``available_backends()`` and ``FASTNN_BACKEND``.
"""

from __future__ import annotations

from fastnn.backends.base import KERNELS, Backend
from fastnn.backends.contract import BACKEND_NAMES
from fastnn.backends.registry import available_backends, get_backend, load_backend, set_backend, use_backend

NAMES = BACKEND_NAMES
DEFAULT_ORDER = BACKEND_NAMES  # fastest first, from the project's measurements

__all__ = ["DEFAULT_ORDER", "KERNELS", "NAMES", "Backend", "available_backends", "get_backend", "load_backend",
           "set_backend", "use_backend"]
