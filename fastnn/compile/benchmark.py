"""Benchmarks of the compiled step (``python -m fastnn.compile.benchmark``; the lead wires main()
into ``fastnn bench``).

Figures are medians of interleaved samples taken in one run, so the ratios hold even on a
loaded machine. PyTorch and JAX (when installed; each step one ``jax.jit`` function) run in
processes of their own (``fastnn.bench.timing.LibraryWorker``); compilation
is never timed: every timed function has run once before sampling starts, and the compile cost
is reported on its own (fresh processes; the interpreter is Cython, built with the package, so
nothing compiles at run time and a first step costs its planning).

Workloads: (s) the 20-64-2 MLP, SGD, batches 1 / 32 / 512, compiled vs eager vs PyTorch, in us
per step; (e) the 784-256-128-10 MLP, Adam, batch 128, one epoch, compiled vs eager vs PyTorch,
with the matrix products alone beside them; (x) the digits demo's and the DAN example's
training steps, compiled vs eager; (c) the first compiled step in a fresh process (nothing compiles).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np

import fastnn
from fastnn import bench, nn, optim
from fastnn.bench.timing import LibraryWorker, interleaved, jax_worker, torch_worker
from fastnn.bench.workloads import fastnn_mlp_epoch, fastnn_small_step, matmuls_only, mlp_epoch_data

SMALL_BATCHES = (1, 32, 512)


def compiled_small_step(batch: int) -> Callable[[], None]:
    """One compiled step of the 20-64-2 MLP (SGD lr 0.01) on a fixed batch, as fastnn_small_step."""
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


def _workers(torch: bool) -> dict[str, LibraryWorker]:
    """{"pytorch eager": worker, "jax jit": worker} for the libraries installed (none when torch is False)."""
    if not torch:
        return {}
    found = {"pytorch eager": torch_worker(), "jax jit": jax_worker()}
    return {name: worker for name, worker in found.items() if worker is not None}


def small_steps(repeats: int, steps: int, torch: bool = True) -> list[tuple[str, float]]:
    """(name, seconds per step) of workload (s)."""
    rows = []
    workers = _workers(torch)
    for batch in SMALL_BATCHES:
        impls = {f"fastnn compiled, batch {batch}": compiled_small_step(batch),
                 f"fastnn eager ({fastnn.get_backend().name}), batch {batch}": fastnn_small_step(batch)}
        for run in impls.values():
            run()
        for name, worker in workers.items():
            impls[f"{name}, batch {batch}"] = worker.load("step", batch)
        rows += list(interleaved(impls, repeats, number=steps).items())
    for worker in workers.values():
        worker.close()
    return rows


def mlp_epoch(n: int, repeats: int, torch: bool = True) -> list[tuple[str, float]]:
    """(name, seconds per epoch) of workload (e)."""
    x, y = mlp_epoch_data(n)
    impls = {"fastnn compiled": compiled_mlp_epoch(x, y),
             f"fastnn eager ({fastnn.get_backend().name})": fastnn_mlp_epoch(x, y),
             "matrix products alone": matmuls_only(x)}
    for run in impls.values():
        run()
    workers = _workers(torch)
    for name, worker in workers.items():
        impls[name] = worker.load("epoch", n)
    rows = list(interleaved(impls, repeats).items())
    for worker in workers.values():
        worker.close()
    return rows


def _digits_problem(batch: int = 32):
    """The digits demo's network (64-128-64-10, Adam lr 1e-3, batch 32) on random 8x8 images."""
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    rng = np.random.default_rng(0)
    x = rng.random((batch, 64), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    return model, optim.Adam(model.parameters(), lr=1e-3), nn.CrossEntropyLoss(), x, y


def _dan_problem(batch: int = 256, vocab: int = 20000, dim: int = 50, hidden: int = 300, length: int = 20,
                 sparse: bool = False):
    """examples/sentiment_dan.py's DAN (EmbeddingBag mean with padding, 2 ReLU layers of 300, dropout
    0.2; Adam, with the table in a group of its own, or, sparse, updated by SparseAdam as the
    example's default) on random sentences of 1..2*length words."""
    fastnn.manual_seed(0)
    bag = nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=0, sparse=sparse)
    classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.2),
                               nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 2))
    model = nn.Sequential(bag, *classifier)
    if sparse:
        opt = [optim.Adam(classifier.parameters(), lr=3e-3), optim.SparseAdam([bag.weight], lr=3e-3)]
    else:
        opt = optim.Adam([{"params": list(classifier.parameters())}, {"params": [bag.weight]}], lr=3e-3)
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 2 * length, batch)
    padded = np.zeros((batch, lengths.max()), dtype=np.int64)
    for row, n in enumerate(lengths):
        padded[row, :n] = rng.integers(1, vocab, n)
    ids = padded[padded != 0]
    offsets = np.cumsum(lengths) - lengths
    y = rng.integers(0, 2, batch).astype(np.int64)
    return model, opt, nn.CrossEntropyLoss(), (padded, (ids, offsets)), y


def example_steps(repeats: int, steps: int) -> list[tuple[str, float]]:
    """(name, seconds per step) of the digits demo's and the DAN example's training steps."""
    impls = {}
    problems = (("digits demo", _digits_problem),
                ("DAN sentiment (sparse, SparseAdam)", lambda: _dan_problem(sparse=True)),
                ("DAN sentiment (dense)", _dan_problem))
    for name, problem in problems:
        for compiled in (True, False):
            model, opt, loss_fn, x, y = problem()
            if compiled:
                step = fastnn.compile_step(model, loss_fn, opt)
                xc = x[0] if isinstance(x, tuple) else x
                impls[f"{name}, compiled"] = (lambda s, a, b: lambda: s(a, b))(step, xc, y)
            else:
                impls[f"{name}, eager"] = _eager_step(model, opt, loss_fn, x, y)
    for run in impls.values():
        run()
    return list(interleaved(impls, repeats, number=steps).items())


def _eager_step(model, opt, loss_fn, x, y) -> Callable[[], None]:
    yt = fastnn.from_numpy(y)
    if isinstance(x, tuple):  # the DAN: bags as (ids, offsets)
        ids, offsets = (fastnn.from_numpy(a) for a in x[1])
        forward = lambda: model[1:](model[0](ids, offsets))  # noqa: E731
    else:
        xt = fastnn.from_numpy(x)
        forward = lambda: model(xt)  # noqa: E731

    optimizers = opt if isinstance(opt, list) else [opt]

    def step() -> None:
        for each in optimizers:
            each.zero_grad()
        loss_fn(forward(), yt).backward()
        for each in optimizers:
            each.step()
    return step


_COMPILE_PROBE = """
import time
start = time.perf_counter()
import numpy as np, fastnn
from fastnn import nn, optim
imported = time.perf_counter()
model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
step = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01))
step(np.zeros((4, 20), np.float32), np.zeros(4, np.int64))
first = time.perf_counter()
model = nn.Sequential(nn.Linear(30, 50), nn.Tanh(), nn.Dropout(0.1), nn.Linear(50, 5))
other = fastnn.compile_step(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))
other(np.zeros((7, 30), np.float32), np.zeros(7, np.int64))
second = time.perf_counter()
print(imported - start, first - imported, second - first, step.compile_seconds + other.compile_seconds)
"""


def compile_times(repeats: int = 5) -> dict[str, float]:
    """Seconds, medians over fresh processes: ``import fastnn``; planning the first compiled step
    (float32) and running it once; then a second architecture (new layers, optimizer and batch size)
    in the same process; and the time spent compiling (0: the interpreter is built with the package)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env, capture_output=True, text=True,
                             check=True)
        samples.append([float(v) for v in out.stdout.strip().splitlines()[-1].split()])
    names = ("import fastnn", "first compiled step (plan + call)", "a second architecture (plan + call)",
             "compiling (compile_seconds)")
    return {name: float(np.median([s[k] for s in samples])) for k, name in enumerate(names)}


def _rows(title: str, rows: list[tuple[str, float]], scale: float, unit: str) -> list[str]:
    """The rows as a table, each with its time over the compiled step's of the same workload (the
    same batch size, or the same name before ", compiled" / ", eager")."""
    lines = [title, f"  {'':44s} {unit:>10s} {'/ compiled':>11s}"]
    reference = {}
    for name, seconds in rows:
        group = name.rpartition(", batch ")[2] if ", batch " in name else name.rpartition(", ")[0]
        if "compiled" in name:
            reference[group] = seconds
        ratio = f"{seconds / reference[group]:10.2f}x" if reference.get(group) else ""
        lines.append(f"  {name:44s} {seconds * scale:10.{1 if scale > 1 else 3}f} {ratio}")
    return lines


def run(which: str = "sexc", quick: bool = False, torch: bool = True) -> str:
    """The report of the selected workloads (s, e, x, c) as text."""
    lines = [bench.machine_summary(), "(medians of interleaved samples; PyTorch and JAX in processes of their own)"]
    if "s" in which:
        rows = small_steps(repeats=5 if quick else 15, steps=50 if quick else 300, torch=torch)
        lines += _rows("20-64-2 MLP, SGD, one training step", rows, 1e6, "us/step")
    if "e" in which:
        rows = mlp_epoch(6000 if quick else 60000, repeats=3 if quick else 5, torch=torch)
        lines += _rows(f"784-256-128-10 MLP, Adam, batch 128, {'6,000' if quick else '60,000'} samples",
                       rows, 1.0, "s/epoch")
    if "x" in which:
        rows = example_steps(repeats=5 if quick else 11, steps=20 if quick else 100)
        lines += _rows("example training steps", rows, 1e6, "us/step")
    if "c" in which:
        lines.append("the first compiled step in a fresh process (medians of 5 processes)")
        lines += [f"  {name:44s} {seconds:10.3f} s" for name, seconds in compile_times().items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m fastnn.compile.benchmark [--quick] [--only sec] [--no-torch] [--threads N]``."""
    parser = argparse.ArgumentParser(prog="fastnn.compile.benchmark", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples and a 6,000-sample epoch")
    parser.add_argument("--only", default="sexc",
                        help="workloads: s (small steps), e (epoch), x (example steps), c (first step, fresh process)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch and JAX out")
    parser.add_argument("--threads", type=int, default=None, help="fastnn.set_num_threads before timing")
    args = parser.parse_args(argv)
    if args.threads:
        fastnn.set_num_threads(args.threads)
    print(run(args.only, quick=args.quick, torch=not args.no_torch))


if __name__ == "__main__":
    main()
