"""Workloads (a) one epoch of an MLP, (b) one small training step, (d) threads, (e) start-up and
memory of ``fastnn bench``; (c), the kernel cases, is in ``cases``."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

import numpy as np

import fastnn
from fastnn.bench.timing import Timer, backend_call, interleaved, torch_worker


# ------------------------------------------------------------ (a) MLP epoch
def mlp_epoch_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n).astype(np.int64)
    return x, y


def fastnn_mlp_epoch(x: np.ndarray, y: np.ndarray, batch: int = 128) -> Timer:
    from fastnn import nn, optim
    from fastnn.data import DataLoader, TensorDataset

    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True, seed=0)

    def epoch():
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
    return epoch


def sklearn_mlp_epoch(x: np.ndarray, y: np.ndarray, batch: int = 128) -> Timer | None:
    try:
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return None
    classes = np.arange(10)
    model = MLPClassifier(hidden_layer_sizes=(256, 128), solver="adam", learning_rate_init=1e-3, batch_size=batch,
                          random_state=0)

    def epoch():
        model.partial_fit(x, y, classes=classes)
    return epoch


def matmuls_only(x: np.ndarray, batch: int = 128) -> Timer:
    """The 8 matrix products of one epoch of (a): 3 forward, 5 backward (no input gradient)."""
    rng = np.random.default_rng(0)
    w1, w2, w3 = (rng.standard_normal(s, dtype=np.float32) for s in ((256, 784), (128, 256), (10, 128)))

    def epoch():
        for i in range(0, len(x), batch):
            xb = x[i:i + batch]
            h1 = xb @ w1.T
            h2 = h1 @ w2.T
            out = h2 @ w3.T
            _ = out.T @ h2, out @ w3        # dW3, dh2
            _ = h2.T @ h1, h2 @ w2          # dW2, dh1
            _ = h1.T @ xb                   # dW1
    return epoch


def workload_a(n: int, repeats: int) -> list[tuple[str, float]]:
    x, y = mlp_epoch_data(n)
    impls = {f"fastnn[{b}]": backend_call(b, fastnn_mlp_epoch(x, y)) for b in fastnn.available_backends()}
    worker = torch_worker()
    sk = sklearn_mlp_epoch(x, y)
    if sk is not None:
        impls["sklearn MLPClassifier"] = sk
    impls["8 matmuls alone (numpy)"] = matmuls_only(x)
    for fn in impls.values():  # warm-up: JIT, caches, first-touch of buffers (the worker runs once on load)
        fn()
    if worker is not None:
        impls["pytorch"] = worker.load("epoch", n)
    rows = list(interleaved(impls, repeats).items())
    if worker is not None:
        worker.close()
    return rows


# ------------------------------------------------------ (b) small-MLP step
def fastnn_small_step(batch: int) -> Timer:
    from fastnn import nn, optim

    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2))
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(0)
    xb = fastnn.tensor(rng.standard_normal((batch, 20), dtype=np.float32))
    yb = fastnn.tensor(rng.integers(0, 2, batch).astype(np.int64))

    def step():
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    return step


def workload_b(batches: tuple[int, ...], repeats: int, steps: int) -> list[tuple[str, float]]:
    rows = []
    worker = torch_worker()
    for batch in batches:
        impls = {f"fastnn[{b}] batch {batch}": backend_call(b, fastnn_small_step(batch))
                 for b in fastnn.available_backends()}
        for fn in impls.values():
            fn()
        if worker is not None:
            impls[f"pytorch batch {batch}"] = worker.load("step", batch)
        rows += list(interleaved(impls, repeats, number=steps).items())
    if worker is not None:
        worker.close()
    return rows


# ------------------------------------------------------------ (d) threads
def workload_d(n: int, repeats: int) -> list[tuple[str, float]]:
    """Workload (a) on 1 and then 2 threads, per backend, interleaved."""
    x, y = mlp_epoch_data(n)
    impls = {}
    for b in fastnn.available_backends():
        for threads in (1, 2):
            epoch = fastnn_mlp_epoch(x, y)

            def run(b=b, threads=threads, epoch=epoch):
                fastnn.set_num_threads(threads)
                with fastnn.use_backend(b):
                    epoch()
            impls[f"fastnn[{b}] {threads} thread{'s' if threads > 1 else ''}"] = run
    for fn in impls.values():
        fn()
    result = list(interleaved(impls, repeats).items())
    fastnn.set_num_threads(os.cpu_count() or 1)
    return result


_CLASH = """
import time, numpy as np, fastnn
fastnn.set_num_threads({threads})
k = fastnn.backends.load_backend("numba")
x = np.random.default_rng(0).standard_normal(1 << 19).astype(np.float32)  # above the parallel threshold
a = np.random.default_rng(1).standard_normal((384, 384)).astype(np.float32)
def kernel(): k.activation_forward(x, "tanh")
def blas(): a @ a
def pair(): kernel(); blas()
def per_call(fn, n=100):
    t = time.perf_counter()
    for _ in range(n): fn()
    return (time.perf_counter() - t) / n
pair(); [per_call(f, 5) for f in (kernel, blas, pair)]
best = lambda fn: min(per_call(fn) for _ in range(3))
print(best(kernel) + best(blas), best(pair))
"""


def thread_clash(repeats: int) -> list[tuple[str, float, float]]:
    """A parallel Numba kernel alternating with an OpenBLAS product, on 1 and 2 threads, with the
    OpenMP runtime spinning (ACTIVE) or sleeping (PASSIVE, fastnn's default) between regions.
    Returns (setting, seconds per pair when apart, seconds per pair alternating)."""
    rows = []
    for policy in ("ACTIVE", "PASSIVE"):
        for threads in (1, 2):
            env = dict(os.environ, OMP_WAIT_POLICY=policy)
            runs = [subprocess.run([sys.executable, "-c", _CLASH.format(threads=threads)], env=env, check=True,
                                   capture_output=True, text=True).stdout.split() for _ in range(repeats)]
            apart = statistics.median(float(r[0]) for r in runs)
            together = statistics.median(float(r[1]) for r in runs)
            rows.append((f"OMP_WAIT_POLICY={policy}, {threads} thread{'s' if threads > 1 else ''}", apart, together))
    return rows


# ------------------------------------------------- (e) subprocess figures
_STARTUP = """
import time; t0 = time.perf_counter()
import numpy as np, fastnn
from fastnn import nn, optim
fastnn.set_backend({backend!r})
m = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 2)); o = optim.SGD(m.parameters(), lr=0.1)
x = fastnn.tensor(np.ones((32, 20), np.float32)); y = fastnn.tensor(np.zeros(32, np.int64))
o.zero_grad(); nn.CrossEntropyLoss()(m(x), y).backward(); o.step()
print(time.perf_counter() - t0)
"""

_MEMORY = """
import numpy as np, fastnn
from fastnn.bench.workloads import fastnn_mlp_epoch, mlp_epoch_data
def status(key):  # /proc's high-water mark belongs to this program (ru_maxrss would include the parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key + ":"))
fastnn.set_backend({backend!r})
base = status("VmRSS")
x, y = mlp_epoch_data({n})
fastnn_mlp_epoch(x, y)()
print(base, x.nbytes + y.nbytes, status("VmHWM"))
"""


def _python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def workload_e(n: int, repeats: int) -> dict:
    startup = {}
    for b in fastnn.available_backends():
        _python(_STARTUP.format(backend=b))  # warms the Numba cache
        startup[b] = statistics.median(float(_python(_STARTUP.format(backend=b))) for _ in range(repeats))
    base, data, peak = (int(v) for v in _python(_MEMORY.format(backend=fastnn.get_backend().name, n=n)).split())
    return {"startup": startup, "memory": {"interpreter": base, "data": data, "peak": peak}}
