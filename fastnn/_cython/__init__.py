"""Compiled Cython kernels, built by setup.py from kernels/*.pyx into fastnn._cython.<family>.

The vector-width-bound families also exist as <family>_avx2 and <family>_avx512 builds; :func:`load`
returns the best one this CPU runs. ``FASTNN_CYTHON_ISA=baseline|avx2|avx512`` caps the choice
(for example to test the baseline build on a newer machine).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

FAMILIES = ("activations", "dense", "dropout", "embedding", "losses", "optim")
WIDE_FAMILIES = ("activations", "dense", "losses", "optim")  # built per instruction set (see setup.py)
ISA_ORDER = ("avx512", "avx2", "baseline")  # best first


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise ImportError(
            f"fastnn: the compiled Cython kernels fastnn._cython.{name} are missing or cannot load ({exc}). "
            "Build them in a source checkout with `python setup.py build_ext --inplace`, "
            "or reinstall fastnn (`pip install .`), which compiles kernels/*.pyx."
        ) from exc


def usable_isas() -> tuple[str, ...]:
    """Instruction sets whose builds this process may use, best first ('baseline' always last)."""
    cap = os.environ.get("FASTNN_CYTHON_ISA", "avx512")
    if cap not in ISA_ORDER:
        raise ValueError(f"FASTNN_CYTHON_ISA must be one of {', '.join(ISA_ORDER)}, got {cap!r}")
    supported = set(_import("cpu").supported_isas()) | {"baseline"}
    return tuple(isa for isa in ISA_ORDER[ISA_ORDER.index(cap):] if isa in supported)


def load(family: str) -> ModuleType:
    """Import the compiled module of one kernel family (its best build for this CPU), or explain
    how to build it."""
    if family in WIDE_FAMILIES:
        for isa in usable_isas():
            if isa == "baseline":
                break
            try:
                return importlib.import_module(f"{__name__}.{family}_{isa}")
            except ImportError:
                continue  # an older build without this variant: the baseline still works
    return _import(family)
