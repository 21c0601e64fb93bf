"""Benchmark of data-parallel training on this machine, and a model of its scaling across machines.

    python -m fastnn.distributed.benchmark [--samples 12800] [--repeats 5] [--json out.json]

Workload (a): a 784-256-128-10 ReLU MLP, cross-entropy, Adam (lr 1e-3), a global batch of 128 on
synthetic samples, run as 1 process x 2 threads, as 2 MPI ranks x 1 thread (64 samples per rank
and step: the same samples and maths per step) and, for reference, as 1 process x 1 thread,
interleaved ``--repeats`` times (medians reported).
The ranks' run reports the share of each step spent in the gradient Allreduce (which includes
waiting for the slower rank). The ranks also measure Allreduce on 8 B .. 16 MB and derive the
latency alpha and bandwidth beta of the ring model, time the row-sparse embedding reduction
against densifying, and the report ends with the modelled time per step on 1-16 machines:

    time per step = compute / N + allreduce(S, N),  allreduce(S, N) = 2 (N - 1) alpha + 2 (N - 1) / N * S / beta

(ring all-reduce: a reduce-scatter then an all-gather, each N - 1 steps of S / N bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

GLOBAL_BATCH = 128
SIZES = (8, 1024, 65536, 2**20, 4 * 2**20, 16 * 2**20)  # Allreduce message sizes, bytes
# link bandwidth (bytes/s) and one-way latency of a small TCP message (s), assumed for each network
NETWORKS = {"1 Gbit/s": (125e6, 50e-6), "10 Gbit/s": (1.25e9, 20e-6)}
MACHINES = (1, 2, 4, 8, 16)


def _model_and_data(samples: int):
    import fastnn
    from fastnn import nn, optim

    fastnn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return model, optim.Adam(model.parameters(), lr=1e-3), x, y


def _epoch(forward, optimizer, loader) -> list[float]:
    """Seconds of each training step of one epoch."""
    from fastnn import nn

    loss_fn = nn.CrossEntropyLoss()
    times = []
    for x, y in loader:
        started = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(forward(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - started)
    return times


def run_single(samples: int, threads: int) -> dict:
    """One process: workload (a) with ``threads`` threads; median step time."""
    import fastnn
    from fastnn.data import DataLoader, TensorDataset

    fastnn.set_num_threads(threads)
    model, optimizer, x, y = _model_and_data(samples)
    loader = DataLoader(TensorDataset(x, y), GLOBAL_BATCH, shuffle=True, seed=0)
    _epoch(model, optimizer, DataLoader(TensorDataset(x[:1280], y[:1280]), GLOBAL_BATCH))  # warm-up
    times = _epoch(model, optimizer, loader)
    return {"step_s": statistics.median(times), "epoch_s": sum(times)}


def _timed_allreduce(comm, nbytes: int, repeats: int) -> float:
    from mpi4py import MPI

    buf = np.ones(max(nbytes // 4, 1), dtype=np.float32)
    times = []
    for _ in range(repeats):
        comm.Barrier()  # time the reduction, not the ranks' arrival skew
        started = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _sparse_versus_dense(comm, rank: int) -> dict:
    """Reduce an embedding table's gradient (100,000 x 50 float32, ~3,000 rows used per rank) as
    row-sparse (gather rows and values) and as dense (one Allreduce of the whole table)."""
    from mpi4py import MPI

    from fastnn import nn
    from fastnn.nn.parallel import DistributedDataParallel
    from fastnn.tensor import SparseTensor

    vocab, dim = 100_000, 50
    table = nn.Embedding(vocab, dim, sparse=True)
    ddp = DistributedDataParallel(table)
    rng = np.random.default_rng(rank)
    rows = np.unique(rng.integers(0, vocab, 3000))
    values = rng.standard_normal((rows.size, dim), dtype=np.float32)
    sparse_times, dense_times = [], []
    for _ in range(7):
        table.weight.grad = SparseTensor(rows, values, (vocab, dim))
        comm.Barrier()
        started = time.perf_counter()
        ddp.reduce_gradients()
        sparse_times.append(time.perf_counter() - started)
        grad = SparseTensor(rows, values, (vocab, dim))
        comm.Barrier()
        started = time.perf_counter()
        dense = grad.to_dense().numpy()
        comm.Allreduce(MPI.IN_PLACE, dense, op=MPI.SUM)
        dense /= comm.Get_size()
        dense_times.append(time.perf_counter() - started)
    return {"rows_per_rank": int(rows.size), "sparse_s": statistics.median(sparse_times),
            "dense_s": statistics.median(dense_times)}


def run_ranks(samples: int, threads: int) -> dict | None:
    """One MPI rank: workload (a) through DistributedDataParallel, then the Allreduce measurements;
    rank 0 returns the figures."""
    import fastnn
    from fastnn import distributed as dist
    from fastnn.data import DataLoader, DistributedSampler, TensorDataset
    from fastnn.nn.parallel import DistributedDataParallel

    dist.init_process_group()
    fastnn.set_num_threads(threads)
    rank, size, comm = dist.get_rank(), dist.get_world_size(), dist.communicator()
    model, optimizer, x, y = _model_and_data(samples)
    ddp = DistributedDataParallel(model)
    reduce_times: list[float] = []
    reduce = ddp.reduce_gradients

    def timed_reduce() -> None:
        started = time.perf_counter()
        reduce()
        reduce_times.append(time.perf_counter() - started)

    object.__setattr__(ddp, "reduce_gradients", timed_reduce)
    data = TensorDataset(x, y)
    warm = TensorDataset(x[:1280], y[:1280])
    _epoch(ddp, optimizer, DataLoader(warm, GLOBAL_BATCH // size, sampler=DistributedSampler(warm, shuffle=False)))
    reduce_times.clear()
    sampler = DistributedSampler(data, seed=0)
    times = _epoch(ddp, optimizer, DataLoader(data, GLOBAL_BATCH // size, sampler=sampler))
    grad_bytes = sum(p.numpy().nbytes for p in model.parameters())
    allreduce = {n: _timed_allreduce(comm, n, 30 if n <= 2**20 else 8) for n in SIZES}
    grad_allreduce = _timed_allreduce(comm, grad_bytes, 30)
    sparse = _sparse_versus_dense(comm, rank)
    if rank != 0:
        return None
    return {"ranks": size, "step_s": statistics.median(times), "epoch_s": sum(times),
            "allreduce_in_step_s": statistics.median(reduce_times), "grad_bytes": grad_bytes,
            "grad_allreduce_s": grad_allreduce,
            "allreduce_s": {str(n): t for n, t in allreduce.items()}, "sparse_embedding": sparse}


def ring_allreduce_seconds(nbytes: float, machines: int, bandwidth: float, latency: float) -> float:
    """Ring all-reduce of ``nbytes`` over ``machines``: 2 (N-1) latency + 2 (N-1)/N * nbytes / bandwidth."""
    if machines == 1:
        return 0.0
    return 2 * (machines - 1) * latency + 2 * (machines - 1) / machines * nbytes / bandwidth


def fit_alpha_beta(allreduce_s: dict[str, float], ranks: int) -> tuple[float, float]:
    """Latency alpha (s per message step) and bandwidth beta (bytes/s) of the ring model from the
    measured Allreduce times: alpha from the smallest message, beta from the slope between 1 and 16 MB."""
    steps = 2 * (ranks - 1)
    alpha = allreduce_s[str(SIZES[0])] / steps
    small, large = 2**20, 16 * 2**20
    slope = (allreduce_s[str(large)] - allreduce_s[str(small)]) / (large - small)
    beta = steps / ranks / slope if slope > 0 else float("inf")
    return alpha, beta


def network_parameters(alpha: float, beta: float) -> dict[str, tuple[float, float]]:
    """(bandwidth, latency) per network: the link's bandwidth capped by the measured MPI bandwidth, and the
    measured MPI latency plus the network's assumed wire latency."""
    return {name: (min(link, beta), alpha + wire) for name, (link, wire) in NETWORKS.items()}


def scaling_table(compute_s: float, grad_bytes: int, networks: dict[str, tuple[float, float]]) -> list[str]:
    """Markdown rows: modelled ms per step and speed-up on 1-16 machines for each network."""
    header = "| machines | compute / N (ms) | " + " | ".join(
        f"allreduce {net} (ms) | step {net} (ms) | speed-up {net}" for net in networks) + " |"
    lines = [header, "|" + "---|" * (2 + 3 * len(networks))]
    for n in MACHINES:
        cells = [str(n), f"{1e3 * compute_s / n:.2f}"]
        for bandwidth, latency in networks.values():
            comm = ring_allreduce_seconds(grad_bytes, n, bandwidth, latency)
            step = compute_s / n + comm
            cells += [f"{1e3 * comm:.2f}", f"{1e3 * step:.2f}", f"{compute_s / step:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _child(role: str, samples: int, threads: int, mpiexec: str | None) -> dict:
    me = [sys.executable, "-m", "fastnn.distributed.benchmark", "--role", role, "--samples", str(samples),
          "--threads", str(threads)]
    if role == "ranks":
        me = [mpiexec or "mpiexec", "-n", "2", sys.executable, "-m", "mpi4py", *me[1:]]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                     os.environ.get("PYTHONPATH")])))
    env.pop("OMP_NUM_THREADS", None)
    done = subprocess.run(me, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {' '.join(me)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(single: list[dict], ranks: list[dict], one_thread: list[dict], samples: int) -> tuple[list[str], dict]:
    one = statistics.median(r["step_s"] for r in single)
    serial = statistics.median(r["step_s"] for r in one_thread)
    two = statistics.median(r["step_s"] for r in ranks)
    in_step = statistics.median(r["allreduce_in_step_s"] for r in ranks)
    pure = statistics.median(r["grad_allreduce_s"] for r in ranks)
    compute = min(one, serial)  # the faster single-process configuration
    allreduce = {k: statistics.median(r["allreduce_s"][k] for r in ranks) for k in ranks[0]["allreduce_s"]}
    alpha, beta = fit_alpha_beta(allreduce, 2)
    grad_bytes = ranks[0]["grad_bytes"]
    sparse = {k: statistics.median(r["sparse_embedding"][k] for r in ranks) for k in ("sparse_s", "dense_s")}
    lines = [
        f"workload (a): 784-256-128-10 ReLU MLP, Adam, global batch {GLOBAL_BATCH}, {samples} samples, "
        f"medians of {len(single)} interleaved runs (machine shared with other jobs: figures are noisy)",
        f"  1 process x 2 threads : {1e3 * one:.2f} ms per step",
        f"  2 ranks x 1 thread    : {1e3 * two:.2f} ms per step ({one / two:.2f}x the speed of 1 process x 2 "
        f"threads); gradient Allreduce ({grad_bytes / 1e6:.2f} MB) inside the step {1e3 * in_step:.3f} ms = "
        f"{100 * in_step / two:.1f}% of a step (includes waiting for the slower rank); alone, ranks in step, "
        f"{1e3 * pure:.3f} ms = {100 * pure / two:.1f}%",
        f"  1 process x 1 thread  : {1e3 * serial:.2f} ms per step (reference)",
        "Allreduce between the 2 ranks (float32, in place, median): " + ", ".join(
            f"{int(k):,} B {1e6 * v:.1f} us" for k, v in allreduce.items()),
        f"ring model on this machine: alpha = {1e6 * alpha:.2f} us per message step, beta = {beta / 1e9:.2f} GB/s; "
        f"predicted Allreduce of the gradients {1e3 * ring_allreduce_seconds(grad_bytes, 2, beta, alpha):.3f} ms",
        f"row-sparse embedding gradient (100,000 x 50 float32, ~{ranks[0]['sparse_embedding']['rows_per_rank']} rows "
        f"per rank): gather rows+values {1e3 * sparse['sparse_s']:.2f} ms, densify + Allreduce "
        f"{1e3 * sparse['dense_s']:.2f} ms",
        f"modelled time per step across machines (compute = the faster 1-process step, {1e3 * compute:.2f} ms, "
        "split N ways; bandwidth = min(link, measured beta), latency = measured alpha + "
        + ", ".join(f"{1e6 * wire:.0f} us wire latency on {name}" for name, (_, wire) in NETWORKS.items()) + "):",
        *scaling_table(compute, grad_bytes, network_parameters(alpha, beta)),
    ]
    figures = {"single_step_s": one, "ranks_step_s": two, "one_thread_step_s": serial,
               "allreduce_in_step_s": in_step, "grad_allreduce_s": pure, "grad_bytes": grad_bytes,
               "compute_s": compute,
               "allreduce_s": allreduce, "alpha_s": alpha, "beta_bytes_per_s": beta, "sparse_embedding": sparse}
    return lines, figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=12800, help="training samples per epoch (default 12800)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs of each configuration")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    parser.add_argument("--mpiexec", default=None, help="the mpiexec to start the ranks with (default: beside "
                        "this Python, else on PATH)")
    parser.add_argument("--role", choices=("single", "ranks"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "single":
        print(json.dumps(run_single(args.samples, args.threads)))
        return 0
    if args.role == "ranks":
        result = run_ranks(args.samples, args.threads)
        if result is not None:
            print(json.dumps(result))
        return 0
    beside = Path(sys.executable).parent / "mpiexec"
    mpiexec = args.mpiexec or (str(beside) if beside.is_file() else None)
    single, ranks, one_thread = [], [], []
    for _ in range(args.repeats):
        single.append(_child("single", args.samples, 2, mpiexec))
        ranks.append(_child("ranks", args.samples, 1, mpiexec))
        one_thread.append(_child("single", args.samples, 1, mpiexec))
    lines, figures = report(single, ranks, one_thread, args.samples)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
