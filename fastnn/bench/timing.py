"""Timing for ``fastnn bench``: interleaved medians, and PyTorch and JAX in worker processes of their own."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import fastnn

Timer = Callable[[], None]


def median_time(fn: Timer, number: int = 1) -> float:
    if isinstance(fn, LibraryWorker):
        return fn.time(number)
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number


def interleaved(impls: dict[str, Timer], repeats: int, number: int = 1) -> dict[str, float]:
    """Median seconds per call of each implementation, sampled round-robin ``repeats`` times."""
    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(repeats):
        for name, fn in impls.items():
            samples[name].append(median_time(fn, number))
    return {name: statistics.median(s) for name, s in samples.items()}


_TORCH_WORKER = """
import sys, time, numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(0)
nn = torch.nn
run = None

def mlp_epoch(n, batch=128):  # workload (a): the data of fastnn.bench.mlp_epoch_data
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((n, 784), dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 10, n).astype(np.int64))
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt, loss_fn, gen = torch.optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(), torch.Generator()
    gen.manual_seed(0)
    def epoch():
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch):
            idx = order[i:i + batch]
            opt.zero_grad(); loss_fn(model(x[idx]), y[idx]).backward(); opt.step()
    return epoch

def small_step(batch):  # workload (b)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    opt, loss_fn = torch.optim.SGD(model.parameters(), lr=0.01), nn.CrossEntropyLoss()
    xb, yb = torch.randn(batch, 20), torch.randint(0, 2, (batch,))
    def step():
        opt.zero_grad(); loss_fn(model(xb), yb).backward(); opt.step()
    return step

VERSION, THREADS = torch.__version__, torch.get_num_threads()
"""

# Appended to every worker's script, which defines VERSION, THREADS, small_step(batch) and
# mlp_epoch(samples): the protocol, "step B" / "epoch N" (build and run once) and "run K" (time K calls).
_SERVE = """
import sys as _sys, time as _time
print(VERSION, THREADS, flush=True)
for _line in _sys.stdin:
    _command, _arg = _line.split()
    if _command == "run":
        _start = _time.perf_counter()
        for _ in range(int(_arg)):
            run()
        print((_time.perf_counter() - _start) / int(_arg), flush=True)
    else:
        run = mlp_epoch(int(_arg)) if _command == "epoch" else small_step(int(_arg))
        run()
        print("ready", flush=True)
"""


class LibraryWorker:
    """Another library (PyTorch, JAX) in a process of its own, timed sample by sample over a pipe.

    PyTorch and fastnn's compiled kernels would share one OpenMP runtime in a single process, so
    whichever loaded first would impose its wait policy on the other (fastnn's PASSIVE made torch's
    small steps ~3x slower). Apart, each runs as its users run it; samples still interleave.
    The worker's script defines the workloads; the protocol loop (_SERVE) is appended to it.
    """

    def __init__(self, name: str, script: str) -> None:
        self.name = name
        env = fastnn.threads.environment_without_fastnn_defaults()
        self.process = subprocess.Popen([sys.executable, "-c", script + _SERVE, str(fastnn.get_num_threads())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.version, self.threads = self._reply().split()

    def _reply(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"fastnn bench: the {self.name} worker stopped")
        return line.strip()

    def _send(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._reply()

    def load(self, workload: str, size: int) -> LibraryWorker:
        """Build workload "epoch" (with `size` samples) or "step" (with batch `size`) and run it once."""
        self._send(f"{workload} {size}")
        return self

    def time(self, number: int) -> float:
        return float(self._send(f"run {number}"))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:
        return False


def torch_worker() -> LibraryWorker | None:
    """A PyTorch worker process, or None when PyTorch is not installed."""
    return LibraryWorker("PyTorch", _TORCH_WORKER) if _installed("torch") else None


def jax_worker() -> LibraryWorker | None:
    """A JAX worker process (each step one jax.jit function), or None when JAX is not installed."""
    if not _installed("jax"):
        return None
    return LibraryWorker("JAX", (Path(__file__).parent / "jax_worker.py").read_text())


def backend_call(name: str, fn: Timer) -> Timer:
    """`fn` run with backend `name` active."""
    def run():
        with fastnn.use_backend(name):
            fn()
    return run
