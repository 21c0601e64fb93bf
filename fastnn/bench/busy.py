"""Busy-machine benchmark: one training epoch with 1, 2 and "auto" threads while other processes
compete for the cores, fastnn against PyTorch.

Workload (a): an MLP 784-256-128-10 (ReLU), Adam, cross-entropy, batch 128, one epoch of 15,000
synthetic samples, after a warm-up of 10 steps. Every figure is one epoch in a fresh process
(fastnn's "auto" policy starts with no history), the median of ``--repeats`` rounds; rounds
interleave every configuration, so slow drifts of the machine hit all of them alike. The
competing processes spin on the CPU; this module starts them for the duration of a load level,
each with a deadline of its own (they exit even if this process dies) and kills them at the end,
also on error. PyTorch runs in processes of its own, started with the environment from before
fastnn set its OpenMP wait policy. ``/proc/loadavg`` is printed next to every load level.

    python -m fastnn.bench.busy [--repeats 3] [--competitors 0 1 3] [--backend cython] [--no-torch]

``--blas`` runs the interleaved one-BLAS benchmark instead (:func:`interleaved_blas`).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from fastnn.threads import environment_without_fastnn_defaults

ROOT = Path(__file__).resolve().parents[2]  # the directory holding the fastnn package
SPIN_SECONDS_MAX = 900  # a spinner's own deadline: it never outlives a crashed benchmark by more

SPINNER = """
import time
end = time.monotonic() + {seconds}
while time.monotonic() < end:
    pass
"""

# Shared by both libraries: only the import line and the thread setting differ.
WORKLOAD = """
import sys, time
import numpy as np
threads, backend = sys.argv[1], sys.argv[2]
{setup}
rng = np.random.default_rng(0)
X = rng.standard_normal((15000, 784)).astype(np.float32)
Y = rng.integers(0, 10, 15000)
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
opt = optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
batches = [(lib.tensor(X[i:i + 128]), lib.tensor(Y[i:i + 128])) for i in range(0, 15000, 128)]
def step(x, y):
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
for x, y in batches[:10]:
    step(x, y)
start = time.perf_counter()
for x, y in batches:
    step(x, y)
print(time.perf_counter() - start, {chosen})
"""

FASTNN_SETUP = """
import fastnn as lib
from fastnn import nn, optim
lib.set_backend(backend)
if threads != "auto":
    lib.set_num_threads(int(threads))
"""
TORCH_SETUP = """
import torch as lib
from torch import nn, optim
lib.set_num_threads(int(threads))
"""


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "n/a"


class Spinners:
    """`count` processes spinning on the CPU until stop() (or their own deadline)."""

    def __init__(self, count: int) -> None:
        self.processes: list[subprocess.Popen] = []
        try:
            for _ in range(count):
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-c", SPINNER.format(seconds=SPIN_SECONDS_MAX)]))
        except BaseException:
            self.stop()
            raise
        time.sleep(0.5 if count else 0.0)  # let the scheduler see them running

    def stop(self) -> None:
        for p in self.processes:
            p.kill()
        for p in self.processes:
            p.wait()
        self.processes = []

    def __enter__(self) -> Spinners:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_epoch(library: str, threads: str, backend: str) -> tuple[float, str]:
    """(epoch seconds, thread count in force at the end) of workload (a) in a fresh process."""
    if library == "fastnn":
        code = WORKLOAD.format(setup=FASTNN_SETUP, chosen="lib.get_num_threads()")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    else:
        code = WORKLOAD.format(setup=TORCH_SETUP, chosen="lib.get_num_threads()")
        env = environment_without_fastnn_defaults()
    result = subprocess.run([sys.executable, "-c", code, threads, backend], env=env, capture_output=True,
                            text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"busy bench: the {library} worker ({threads} threads) failed:\n{result.stderr}")
    seconds, chosen = result.stdout.split()[-2:]
    return float(seconds), chosen


def torch_available() -> bool:
    env = environment_without_fastnn_defaults()
    return subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True).returncode == 0


def measure(competitors: list[int], repeats: int, backend: str, with_torch: bool) -> dict:
    """{(competitors, library, threads): [(seconds, threads at the end)]} and the loadavg per level."""
    configs = [("fastnn", t) for t in ("1", "2", "auto")]
    if with_torch:
        configs += [("torch", t) for t in ("1", "2")]
    times: dict = {}
    loads: dict[int, list[str]] = {}
    for _ in range(repeats):
        for count in competitors:
            with Spinners(count):
                loads.setdefault(count, []).append(loadavg())
                for library, threads in configs:
                    times.setdefault((count, library, threads), []).append(run_epoch(library, threads, backend))
    return {"times": times, "loads": loads}


def report(result: dict, competitors: list[int], with_torch: bool) -> str:
    lines = [f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "| competing processes | /proc/loadavg (at start of each round) | library | 1 thread | 2 threads | "
             "auto (threads chosen) | 2 ÷ 1 | auto ÷ 1 |", "|---|---|---|---|---|---|---|---|"]
    times = result["times"]
    for count in competitors:
        load = "; ".join(" ".join(x.split()[:4]) for x in result["loads"][count])
        for library in ("fastnn", "torch") if with_torch else ("fastnn",):
            med = {t: statistics.median(s for s, _ in times[(count, library, t)])
                   for t in ("1", "2", "auto") if (count, library, t) in times}
            auto = "n/a"
            if "auto" in med:
                chosen = ",".join(sorted({c for _, c in times[(count, library, 'auto')]}))
                auto = f"{med['auto']:.3f} s ({chosen})"
            ratio = f"{med['auto'] / med['1']:.2f}" if "auto" in med else "n/a"
            lines.append(f"| {count} | {load} | {library} | {med['1']:.3f} s | {med['2']:.3f} s | {auto} | "
                         f"{med['2'] / med['1']:.2f} | {ratio} |")
    return "\n".join(lines)


INTERLEAVED = """
import statistics, sys, time
import numpy as np
import fastnn
from fastnn.threads.blas import numpy_library, scipy_library
fastnn.set_backend("cython")
fastnn.set_num_threads(2)
dense = sys.modules[fastnn.get_backend().unchecked.linear_forward.__module__]
libraries = {"one BLAS (NumPy's)": numpy_library(), "two BLAS (Cython on SciPy's)": scipy_library()}
rng = np.random.default_rng(0)
for n, k, m in [(128, 784, 256), (512, 1024, 1024), (2048, 1024, 1024)]:
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    a = fastnn.tensor(rng.standard_normal((n, k)).astype(np.float32))
    wt = fastnn.tensor(w.T.copy())
    samples = {name: [] for name in libraries}
    numpy_samples = []
    rounds = max(9, min(201, int(2e10 / (n * k * m))))
    for r in range(rounds):
        for name, lib in libraries.items():
            dense.bind_blas(lib.sgemm, lib.dgemm, lib.ilp64)
            _ = a @ wt  # a NumPy product on NumPy's BLAS just before: its pool is awake
            t = time.perf_counter()
            dense.linear_forward(x, w, b, "relu", 0.0)
            samples[name].append(time.perf_counter() - t)
            _ = a @ wt
            t = time.perf_counter()
            np.maximum(np.matmul(x, w.T) + b, 0)
            numpy_samples.append(time.perf_counter() - t)
    ref = statistics.median(numpy_samples)
    for name, s in samples.items():
        print(f"| {n}x{k} @ {k}x{m} float32 | {name} | {statistics.median(s) * 1e3:.3f} ms | "
              f"{ref * 1e3:.3f} ms | {ref / statistics.median(s):.2f} |")
lib = numpy_library()
dense.bind_blas(lib.sgemm, lib.dgemm, lib.ilp64)
"""


def interleaved_blas() -> str:
    """The fused Cython linear kernel (2 threads) right after a ``Tensor @`` product, bound in
    turn to NumPy's BLAS (one BLAS in the process) and to SciPy's (two, as before), against
    NumPy's own ``maximum(x @ W.T + b, 0)`` in the same loop; medians of interleaved rounds."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    before = loadavg()
    result = subprocess.run([sys.executable, "-c", INTERLEAVED], env=env, capture_output=True, text=True,
                            timeout=1200)
    if result.returncode != 0:
        raise RuntimeError(f"interleaved BLAS benchmark failed:\n{result.stderr}")
    return "\n".join([f"2 threads; /proc/loadavg before: {before}",
                      "| linear_forward (relu) | gemm bound to | Cython | NumPy | speed-up over NumPy |",
                      "|---|---|---|---|---|", result.stdout.strip(), f"/proc/loadavg after: {loadavg()}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastnn.bench.busy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds per figure (median)")
    parser.add_argument("--competitors", type=int, nargs="+", default=[0, 1, 3],
                        help="numbers of spinning processes to run beside the training")
    parser.add_argument("--backend", default="cython", choices=("numpy", "numba", "cython"))
    parser.add_argument("--no-torch", action="store_true", help="fastnn only")
    parser.add_argument("--blas", action="store_true", help="run the interleaved one-BLAS benchmark instead")
    args = parser.parse_args(argv)
    if args.blas:
        print(interleaved_blas())
        return 0
    if args.repeats < 1 or any(c < 0 or c > 64 for c in args.competitors):
        parser.error("--repeats must be >= 1 and --competitors between 0 and 64")
    with_torch = not args.no_torch and torch_available()
    result = measure(args.competitors, args.repeats, args.backend, with_torch)
    print(report(result, args.competitors, with_torch))
    if not with_torch and not args.no_torch:
        print("PyTorch is not installed: fastnn rows only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
