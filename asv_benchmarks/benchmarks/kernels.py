"""Every case of ``fastnn bench``'s kernel catalogue (fastnn.bench.cases), per backend and size:
the same calls that ``fastnn bench`` workload (c) times, so asv's history and the bench report
measure one definition of the work. NumPy is the baseline (see ratios.py)."""

from __future__ import annotations

from fastnn.bench.cases import CASE_NAMES, kernel_cases

from .common import BACKENDS, activate_backend


class KernelCases:
    params = (BACKENDS, list(CASE_NAMES), ["small", "large"])
    param_names = ["backend", "case", "size"]
    timeout = 300

    def setup(self, backend, case, size):
        self.backend = activate_backend(backend)
        self.call = kernel_cases(size)[case]
        self.call(self.backend)  # compile (Numba) and warm the caches outside the timing

    def time_case(self, backend, case, size):
        self.call(self.backend)
