"""Benchmarks of the compiled step (``python -m fastnn.compile.benchmark``; the lead wires main()
into ``fastnn bench``).

Figures are medians of interleaved samples taken in one run, so the ratios hold even on a
loaded machine. PyTorch runs in a process of its own (``fastnn.bench.TorchWorker``); compilation
is never timed: every timed function has run once before sampling starts, and the compile cost
is reported on its own (cold: a fresh Numba cache directory in a subprocess; warm: the on-disk
cache in a subprocess).

Workloads: (s) the 20-64-2 MLP, SGD, batches 1 / 32 / 512, compiled vs eager vs PyTorch, in us
per step; (e) the 784-256-128-10 MLP, Adam, batch 128, one epoch, compiled vs eager vs PyTorch,
with the matrix products alone beside them; (c) compile time, cold and from the disk cache.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

import numpy as np

import fastnn
from fastnn import bench, nn, optim

SMALL_BATCHES = (1, 32, 512)


def compiled_small_step(batch: int) -> Callable[[], None]:
    """One compiled step of the 20-64-2 MLP (SGD lr 0.01) on a fixed batch, as bench.fastnn_small_step."""
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    step = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01))
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((batch, 20), dtype=np.float32)
    yb = rng.integers(0, 2, batch).astype(np.int64)
    return lambda: step(xb, yb)


def compiled_mlp_epoch(x: np.ndarray, y: np.ndarray, batch: int = 128) -> Callable[[], None]:
    """One shuffled epoch of compiled Adam steps on the 784-256-128-10 MLP (the last batch partial)."""
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    step = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3))
    rng = np.random.default_rng(0)

    def epoch() -> None:
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            index = order[start:start + batch]
            step(x[index], y[index])
    return epoch


def _worker() -> bench.TorchWorker | None:
    """A PyTorch process, or None when torch is not installed."""
    return bench.TorchWorker() if importlib.util.find_spec("torch") is not None else None


def small_steps(repeats: int, steps: int, torch: bool = True) -> list[tuple[str, float]]:
    """(name, seconds per step) of workload (s)."""
    rows = []
    worker = _worker() if torch else None
    for batch in SMALL_BATCHES:
        impls = {f"fastnn compiled, batch {batch}": compiled_small_step(batch),
                 f"fastnn eager ({fastnn.get_backend().name}), batch {batch}": bench.fastnn_small_step(batch)}
        for run in impls.values():
            run()
        if worker is not None:
            impls[f"pytorch eager, batch {batch}"] = worker.load("step", batch)
        rows += list(bench.interleaved(impls, repeats, number=steps).items())
    if worker is not None:
        worker.close()
    return rows


def mlp_epoch(n: int, repeats: int, torch: bool = True) -> list[tuple[str, float]]:
    """(name, seconds per epoch) of workload (e)."""
    x, y = bench.mlp_epoch_data(n)
    impls = {"fastnn compiled": compiled_mlp_epoch(x, y),
             f"fastnn eager ({fastnn.get_backend().name})": bench.fastnn_mlp_epoch(x, y),
             "matrix products alone": bench.matmuls_only(x)}
    for run in impls.values():
        run()
    worker = _worker() if torch else None
    if worker is not None:
        impls["pytorch eager"] = worker.load("epoch", n)
    rows = list(bench.interleaved(impls, repeats).items())
    if worker is not None:
        worker.close()
    return rows


_COMPILE_PROBE = """
import time, numpy as np, fastnn
from fastnn import nn, optim
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
step = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01))
step(np.zeros((4, 20), np.float32), np.zeros(4, np.int64))
print(step.compile_seconds)
"""


def compile_times() -> dict[str, float]:
    """Seconds the first step spends compiling: cold (empty Numba cache) and from the disk cache."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    times = {}
    with tempfile.TemporaryDirectory() as cold:
        for name, extra in (("cold (empty cache)", {"NUMBA_CACHE_DIR": cold}), ("from the disk cache", {})):
            out = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env={**env, **extra}, capture_output=True,
                                 text=True, check=True)
            times[name] = float(out.stdout.strip().splitlines()[-1])
    return times


def _rows(title: str, rows: list[tuple[str, float]], scale: float, unit: str) -> list[str]:
    lines = [title, f"  {'':44s} {unit:>10s}"]
    for name, seconds in rows:
        lines.append(f"  {name:44s} {seconds * scale:10.1f}")
    return lines


def run(which: str = "sec", quick: bool = False, torch: bool = True) -> str:
    """The report of the selected workloads (s, e, c) as text."""
    lines = [bench.machine_summary(), "(medians of interleaved samples; PyTorch in its own process)"]
    if "s" in which:
        rows = small_steps(repeats=5 if quick else 15, steps=50 if quick else 300, torch=torch)
        lines += _rows("20-64-2 MLP, SGD, one training step", rows, 1e6, "us/step")
    if "e" in which:
        rows = mlp_epoch(6000 if quick else 60000, repeats=3 if quick else 5, torch=torch)
        lines += _rows(f"784-256-128-10 MLP, Adam, batch 128, {'6,000' if quick else '60,000'} samples",
                       rows, 1.0, "s/epoch")
    if "c" in which:
        lines.append("compile time of the first compiled step")
        lines += [f"  {name:44s} {seconds:10.2f} s" for name, seconds in compile_times().items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m fastnn.compile.benchmark [--quick] [--only sec] [--no-torch] [--threads N]``."""
    parser = argparse.ArgumentParser(prog="fastnn.compile.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and a 6,000-sample epoch")
    parser.add_argument("--only", default="sec", help="workloads: s (small steps), e (epoch), c (compile time)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    parser.add_argument("--threads", type=int, default=None, help="fastnn.set_num_threads before timing")
    args = parser.parse_args(argv)
    if args.threads:
        fastnn.set_num_threads(args.threads)
    print(run(args.only, quick=args.quick, torch=not args.no_torch))


if __name__ == "__main__":
    main()
