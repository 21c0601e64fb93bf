"""Start-up costs, each measured in a fresh interpreter: `import fastnn`, the first kernel call, and
`import fastnn` plus the first training step. Numba's on-disk cache is warmed in ``setup`` (by
running the same script once), so these are warm-cache figures, as a user sees them the second
time they run a program. Each value is the median of REPEATS subprocesses, in seconds, and
excludes the interpreter's own start."""

from __future__ import annotations

import statistics
import subprocess
import sys
import textwrap

from .common import BACKENDS, LOADED_BACKENDS
from .models import require_api

REPEATS = 5

IMPORT = """
import time
start = time.perf_counter()
import fastnn
print(time.perf_counter() - start)
"""

# The first call of the fused dense kernel, forward and backward; import time is excluded.
FIRST_KERNEL_CALL = """
import time
import numpy as np
import fastnn
x = np.ones((32, 20), np.float32); w = np.ones((64, 20), np.float32); b = np.zeros(64, np.float32)
fastnn.set_backend({backend!r})
backend = fastnn.get_backend()
start = time.perf_counter()
out, saved = backend.linear_forward(x, w, b, "relu")
backend.linear_backward(out, x, w, saved, "relu")
print(time.perf_counter() - start)
"""

# The start-up target: import fastnn plus one SGD step of a 20-64-2 MLP at batch 32.
IMPORT_AND_FIRST_STEP = """
import time
start = time.perf_counter()
import numpy as np
import fastnn
from fastnn import nn, optim
fastnn.set_backend({backend!r})
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
optimizer = optim.SGD(model.parameters(), lr=0.1)
rng = np.random.default_rng(0)
inputs = fastnn.from_numpy(rng.standard_normal((32, 20), dtype=np.float32))
target = fastnn.from_numpy(np.arange(32, dtype=np.int64) % 2)
optimizer.zero_grad()
nn.CrossEntropyLoss()(model(inputs), target).backward()
optimizer.step()
print(time.perf_counter() - start)
"""


def seconds_in_subprocess(script: str) -> float:
    """Run `script` in a fresh interpreter and return the float it prints last."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed ({done.returncode}):\n{done.stderr}")
    return float(done.stdout.split()[-1])


def median_seconds(script: str) -> float:
    return statistics.median(seconds_in_subprocess(script) for _ in range(REPEATS))


def _skip_unless_loadable(backend: str) -> None:
    """Skip (asv's NotImplementedError) when the backend cannot load on this machine."""
    if backend not in LOADED_BACKENDS:
        raise NotImplementedError(f"backend {backend!r} unavailable")


class ImportFastnn:
    """`import fastnn` in a fresh interpreter (the compiled backends load lazily, later)."""

    unit = "seconds"
    timeout = 120

    def track_import_seconds(self):
        return median_seconds(IMPORT)


class FirstKernelCall:
    """The first fused dense forward + backward after import, warm Numba cache: the cost of loading
    a backend's compiled code (nothing to load for NumPy, the baseline)."""

    params = (BACKENDS,)
    param_names = ["backend"]
    unit = "seconds"
    timeout = 300

    def setup(self, backend):
        _skip_unless_loadable(backend)
        seconds_in_subprocess(FIRST_KERNEL_CALL.format(backend=backend))  # warms Numba's cache

    def track_first_kernel_call_seconds(self, backend):
        return median_seconds(FIRST_KERNEL_CALL.format(backend=backend))


class ImportAndFirstTrainingStep:
    """`import fastnn` + building a 20-64-2 MLP + its first SGD step (batch 32), warm Numba cache."""

    params = (BACKENDS,)
    param_names = ["backend"]
    unit = "seconds"
    timeout = 300

    def setup(self, backend):
        require_api()
        _skip_unless_loadable(backend)
        seconds_in_subprocess(IMPORT_AND_FIRST_STEP.format(backend=backend))  # warms Numba's cache

    def track_import_and_first_step_seconds(self, backend):
        return median_seconds(IMPORT_AND_FIRST_STEP.format(backend=backend))
