"""The NumPy reference: the maths of every kernel, one module per family.

Each module ``reference/<family>.py`` defines the kernels of its family (``contract.KERNELS``) as
plain functions with the contract's argument order; :data:`TABLE` collects them. The compiled
backends are checked against these bodies, and any kernel a compiled backend lacks falls back to
the one here.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

from fastnn.backends.contract import FAMILIES, KERNELS

MODULES = {family: importlib.import_module(f"{__name__}.{family}") for family in FAMILIES}
TABLE = SimpleNamespace(**{name: getattr(MODULES[k.family], name) for name, k in KERNELS.items()})
"""The reference kernel table: ``TABLE.<kernel>(*contract args)``."""
