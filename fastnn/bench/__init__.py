"""``fastnn bench``: fastnn's backends against the NumPy backend, PyTorch and scikit-learn,
on the same work, in one process run.

Workloads: (a) one epoch of a 784-256-128-10 ReLU MLP (softmax cross-entropy, Adam lr 1e-3,
batch 128) on synthetic 784-feature samples, with the time of its 8 matrix products alone;
(b) the time of one SGD step of a 20-64-2 MLP at batch 1, 32 and 512; (c) each kernel of the
table at a large and a small size (the catalogue of ``cases``, shared with asv_benchmarks/); (d)
the same work on 1 and 2 threads; (e) ``import fastnn`` plus the first training step, and the
peak memory of (a), each in a fresh subprocess. Samples interleave the implementations so
machine noise hits all alike; every figure is a median. Modules: ``timing``, ``cases``,
``workloads``, and the report here.
"""

from __future__ import annotations

import json
import os
import platform

import numpy as np

import fastnn
from fastnn.bench.cases import KERNEL_SIZES, kernel_cases, workload_c
from fastnn.bench.timing import interleaved, torch_worker
from fastnn.bench.workloads import (
    fastnn_mlp_epoch,
    mlp_epoch_data,
    thread_clash,
    workload_a,
    workload_b,
    workload_d,
    workload_e,
)


def machine_summary() -> str:
    from threadpoolctl import threadpool_info

    parts = [f"{platform.machine()} {os.cpu_count()} cores", f"python {platform.python_version()}",
             f"numpy {np.__version__}", f"fastnn {fastnn.__version__}"]
    worker = torch_worker()
    if worker is not None:
        parts.append(f"torch {worker.version} ({worker.threads} threads, in a process of its own)")
        worker.close()
    blas = {lib["internal_api"]: lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    parts.append(f"fastnn threads {fastnn.get_num_threads()}, BLAS {blas}, "
                 f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    return "; ".join(parts)


def _table(rows: list[tuple[str, float]], baseline: str | None, unit: str = "ms", scale: float = 1e3) -> str:
    base = dict(rows).get(baseline) if baseline else None
    width = max(len(name) for name, _ in rows)
    lines = []
    for name, t in rows:
        ratio = f"{t / base:8.3f}x" if base else ""
        lines.append(f"  {name:<{width}}  {t * scale:10.2f} {unit}  {ratio}")
    return "\n".join(lines)


def run(which: str = "abcde", quick: bool = False, json_path: str | None = None) -> str:
    """Run the chosen workloads and return the report (also written as JSON if asked)."""
    n = 6000 if quick else 60000
    repeats = 3 if quick else 5
    report = [f"fastnn bench — {machine_summary()}"]
    results: dict = {}
    if "a" in which:
        rows = workload_a(n, repeats)
        results["a"] = rows
        report.append(f"(a) one epoch, 784-256-128-10 ReLU MLP, Adam, batch 128, {n} samples "
                      "(time, and ratio to PyTorch):")
        report.append(_table(rows, "pytorch" if any(r[0] == "pytorch" for r in rows) else None, "s", 1.0))
    if "b" in which:
        rows = workload_b((1, 32, 512), repeats, steps=50 if quick else 200)
        results["b"] = rows
        report.append("(b) one SGD step of a 20-64-2 MLP (µs per step; ratio to PyTorch at the same batch):")
        for batch in (1, 32, 512):
            sub = [(name, t) for name, t in rows if name.endswith(f"batch {batch}")]
            report.append(_table(sub, f"pytorch batch {batch}" if any("pytorch" in r[0] for r in sub) else None,
                                 "µs", 1e6))
    if "c" in which:
        for size, unit, scale in (("large", "ms", 1e3), ("small", "µs", 1e6)):
            rows = workload_c(repeats, size)
            results[f"c_{size}"] = rows
            names = list(rows[0][1])
            k_rows, k_in, k_out, k_classes, k_flat, k_table, k_ids = KERNEL_SIZES[size]
            report.append(f"(c) kernels at the {size} size (dense {k_rows}x{k_in} -> {k_out}, {k_classes} classes, "
                          f"{k_flat} elements, {k_ids} ids into {k_table}x64), float32 ({unit}; speed-up over NumPy):")
            report.append("  " + f"{'kernel':<30}" + "".join(f"{n:>18}" for n in names))
            for case, times in rows:
                cells = "".join(f"{times[b] * scale:9.2f} ({times['numpy'] / times[b]:5.1f}x)" for b in names)
                report.append(f"  {case:<30}{cells}")
    if "d" in which:
        rows = workload_d(max(n // 4, 1000), repeats)
        results["d"] = rows
        report.append("(d) workload (a) on 1 vs 2 threads (s per epoch):")
        report.append(_table(rows, None, "s", 1.0))
        if "numba" in fastnn.available_backends():
            clash = thread_clash(3)
            results["d_clash"] = clash
            report.append("    a parallel Numba kernel alternating with an OpenBLAS product (ms per pair):")
            for name, apart, together in clash:
                report.append(f"  {name:<32} apart {apart * 1e3:7.2f}   alternating {together * 1e3:7.2f}   "
                              f"({together / apart:.2f}x)")
    if "e" in which:
        e = workload_e(n, repeats)
        results["e"] = e
        report.append("(e) import fastnn + first training step, warm Numba cache (s): "
                      + ", ".join(f"{b} {t:.3f}" for b, t in e["startup"].items()))
        m = e["memory"]
        report.append(f"    peak memory of (a): {m['peak'] / 2**20:.0f} MiB = "
                      f"{m['peak'] / (m['data'] + m['interpreter']):.2f}x (data {m['data'] / 2**20:.0f} MiB + "
                      f"interpreter and libraries {m['interpreter'] / 2**20:.0f} MiB)")
    text = "\n".join(report)
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine_summary(), "results": results}, f, indent=1, default=str)
    return text


__all__ = ["KERNEL_SIZES", "fastnn_mlp_epoch", "interleaved", "kernel_cases", "machine_summary", "mlp_epoch_data",
           "run"]
