"""Compiled Cython kernels, built by setup.py from kernels/*.pyx into fastnn._cython.<family>.

Each family module's public functions are the Cython backend's kernel table entries (names and
arguments of ``fastnn.backends.contract.KERNELS``). The vector-width-bound families also exist
as <family>_avx2 and <family>_avx512 builds; :func:`load` returns the best one this CPU runs.
``FASTNN_CYTHON_ISA=baseline|avx2|avx512`` caps the choice (for example to test the baseline
build on a newer machine). A module compiled against another contract (a stale build) is refused.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType, SimpleNamespace

from fastnn.backends.contract import FAMILIES, ISA_ORDER, KERNELS, WIDE_FAMILIES, fingerprint

_REBUILD = ("Build them in a source checkout with `python setup.py build_ext --inplace`, "
            "or reinstall fastnn (`pip install .`), which compiles kernels/*.pyx.")


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ImportError as exc:
        raise ImportError(
            f"fastnn: the compiled Cython kernels fastnn._cython.{name} are missing or cannot load ({exc}). "
            + _REBUILD) from exc


def _current(module: ModuleType) -> ModuleType:
    """`module` if it was compiled against the running contract, else an ImportError naming the build."""
    built = getattr(module, "CONTRACT", None)
    if built != fingerprint():
        raise ImportError(f"fastnn: {module.__file__} was compiled against another kernel contract "
                          f"({built or 'an older layout'}, now {fingerprint()}): a stale build. " + _REBUILD)
    return module


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
                module = importlib.import_module(f"{__name__}.{family}_{isa}")
            except ImportError:
                continue  # an older build without this variant: the baseline still works
            return _current(module)
    return _current(_import(family))


def load_table() -> SimpleNamespace:
    """The kernels compiled for this backend, by name (the registry fills any other from the reference).
    Every family must load: a missing or stale module is an ImportError, never a silent fallback."""
    modules = {family: load(family) for family in FAMILIES}
    return SimpleNamespace(**{name: getattr(modules[k.family], name) for name, k in KERNELS.items()
                              if hasattr(modules[k.family], name)})
