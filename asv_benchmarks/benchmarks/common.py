"""Shared parameters and helpers of the benchmark suite (no benchmarks here).

Every kernel benchmark is parametrised by backend, with the pure NumPy backend as the baseline
that the compiled ones are read against, and by a named size. A backend that cannot load on
this machine makes ``setup`` raise ``NotImplementedError``, asv's documented way to skip.
"""

from __future__ import annotations

import numpy as np

import fastnn
from fastnn.backends.base import Backend
from fastnn.backends.contract import COMPILED_BACKENDS, REFERENCE_BACKEND

BACKENDS = [REFERENCE_BACKEND, *reversed(COMPILED_BACKENDS)]  # "numpy", the baseline, first
SIZES = ["small", "medium", "large"]
DTYPES = ["float32", "float64"]
SEED = 0

# Load the compiled backends (import Numba, the extension modules) when asv's forkserver imports
# the suite, once, rather than in each of the ~1,000 forked benchmark processes; each benchmark's
# setup still compiles, or loads from Numba's cache, the kernels it runs.
LOADED_BACKENDS = fastnn.available_backends()

# (rows, columns) of the arrays the elementwise kernels (activations, dropout) run over:
# 2K, 256K and 1M elements.
ELEMENTWISE_SHAPES = {"small": (32, 64), "medium": (256, 1024), "large": (1024, 1024)}


def activate_backend(name: str) -> Backend:
    """Make `name` the active fastnn backend and return it; skip the benchmark if it cannot load."""
    try:
        fastnn.set_backend(name)
    except RuntimeError as exc:
        raise NotImplementedError(f"backend {name!r} unavailable: {exc}") from exc
    return fastnn.get_backend()


def random_array(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    """Standard-normal values of the given shape and dtype, C-contiguous."""
    return rng.standard_normal(shape).astype(dtype)
