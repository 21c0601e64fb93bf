"""The Numba backend: one module per kernel family, each holding its ``@njit`` bodies and the
allocating entry points the kernel table calls (names and arguments of ``contract.KERNELS``).

Importing a family module imports Numba; the registry does so on first use of this backend, so
``import fastnn`` never pays for it. Kernels compile on their first call (cached on disk, see
``jit``). Matrix products stay on BLAS (NumPy's matmul); the compiled code fuses around them.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import SimpleNamespace

from fastnn.backends.contract import FAMILIES, KERNELS


def load_table() -> SimpleNamespace:
    """The kernels this backend implements, by name (the registry fills the rest from the reference)."""
    modules = {family: importlib.import_module(f"{__name__}.{family}") for family in FAMILIES
               if importlib.util.find_spec(f"{__name__}.{family}") is not None}
    return SimpleNamespace(**{name: getattr(modules[k.family], name) for name, k in KERNELS.items()
                              if hasattr(modules.get(k.family), name)})
