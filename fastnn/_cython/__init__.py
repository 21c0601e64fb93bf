"""Compiled Cython kernels, built by setup.py from kernels/*.pyx into fastnn._cython.<family>."""

from __future__ import annotations

import importlib
from types import ModuleType

FAMILIES = ("activations", "dense", "dropout", "embedding", "losses", "optim")


def load(family: str) -> ModuleType:
    """Import the compiled module of one kernel family, or explain how to build it."""
    try:
        return importlib.import_module(f"{__name__}.{family}")
    except ImportError as exc:
        raise ImportError(
            f"fastnn: the compiled Cython kernels fastnn._cython.{family} are missing or cannot load ({exc}). "
            "Build them in a source checkout with `python setup.py build_ext --inplace`, "
            "or reinstall fastnn (`pip install .`), which compiles kernels/*.pyx."
        ) from exc
