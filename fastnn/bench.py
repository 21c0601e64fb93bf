"""``fastnn bench``: fastnn's backends against the NumPy backend, PyTorch and scikit-learn,
on the same work, in one process run.

Workloads: (a) one epoch of a 784-256-128-10 ReLU MLP (softmax cross-entropy, Adam lr 1e-3,
batch 128) on synthetic 784-feature samples, with the time of its 8 matrix products alone;
(b) the time of one SGD step of a 20-64-2 MLP at batch 1, 32 and 512; (c) each kernel of the
table at one large size; (d) the same work on 1 and 2 threads; (e) ``import fastnn`` plus the
first training step, and the peak memory of (a), each in a fresh subprocess. Samples interleave
the implementations so machine noise hits all alike; every figure is a median.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np

import fastnn

Timer = Callable[[], None]


def _median_time(fn: Timer, number: int = 1) -> float:
    if isinstance(fn, TorchWorker):
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
            samples[name].append(_median_time(fn, number))
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

print(torch.__version__, torch.get_num_threads(), flush=True)
for line in sys.stdin:
    cmd, arg = line.split()
    if cmd == "run":
        start = time.perf_counter()
        for _ in range(int(arg)):
            run()
        print((time.perf_counter() - start) / int(arg), flush=True)
    else:
        run = mlp_epoch(int(arg)) if cmd == "epoch" else small_step(int(arg))
        run()
        print("ready", flush=True)
"""


class TorchWorker:
    """PyTorch in a process of its own, timed sample by sample over a pipe.

    PyTorch and fastnn's compiled kernels would share one OpenMP runtime in a single process, so
    whichever loaded first would impose its wait policy on the other (fastnn's PASSIVE made torch's
    small steps ~3x slower). Apart, each runs as its users run it; samples still interleave.
    """

    def __init__(self) -> None:
        env = fastnn.threads.environment_without_fastnn_defaults()
        self.process = subprocess.Popen([sys.executable, "-c", _TORCH_WORKER, str(fastnn.get_num_threads())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self.version, self.threads = self._reply().split()

    def _reply(self) -> str:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("fastnn bench: the PyTorch worker stopped")
        return line.strip()

    def _send(self, command: str) -> str:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._reply()

    def load(self, workload: str, size: int) -> TorchWorker:
        """Build workload "epoch" (with `size` samples) or "step" (with batch `size`) and run it once."""
        self._send(f"{workload} {size}")
        return self

    def time(self, number: int) -> float:
        return float(self._send(f"run {number}"))

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _torch_worker() -> TorchWorker | None:
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return None
    except ValueError:
        return None
    return TorchWorker()


def _backend_call(name: str, fn: Timer) -> Timer:
    def run():
        with fastnn.use_backend(name):
            fn()
    return run


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
    impls = {f"fastnn[{b}]": _backend_call(b, fastnn_mlp_epoch(x, y)) for b in fastnn.available_backends()}
    worker = _torch_worker()
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
    worker = _torch_worker()
    for batch in batches:
        impls = {f"fastnn[{b}] batch {batch}": _backend_call(b, fastnn_small_step(batch))
                 for b in fastnn.available_backends()}
        for fn in impls.values():
            fn()
        if worker is not None:
            impls[f"pytorch batch {batch}"] = worker.load("step", batch)
        rows += list(interleaved(impls, repeats, number=steps).items())
    if worker is not None:
        worker.close()
    return rows


# ------------------------------------------------------------- (c) kernels
KERNEL_SIZES = {  # rows, in, out, classes, flat elements, table rows, ids
    "small": (32, 64, 64, 10, 2048, 1000, 640),
    "large": (4096, 1024, 1024, 1000, 1 << 22, 100_000, 200_000),
}


def kernel_cases(size: str = "large", dtype=np.float32) -> dict[str, Callable[[fastnn.backends.Backend], None]]:
    """One call of every kernel family at a size of KERNEL_SIZES, as a function of the backend."""
    from fastnn.backends.contract import saves_input

    rng = np.random.default_rng(0)
    n, d_in, d_out, c, flat, rows, n_ids = KERNEL_SIZES[size]
    x = rng.standard_normal((n, d_in)).astype(dtype)
    w = rng.standard_normal((d_out, d_in)).astype(dtype) * dtype(0.03)
    b = rng.standard_normal(d_out).astype(dtype)
    g = rng.standard_normal((n, d_out)).astype(dtype)
    big = rng.standard_normal(flat).astype(dtype)
    logits = rng.standard_normal((n, c)).astype(dtype)
    target = rng.integers(0, c, n)
    table = rng.standard_normal((rows, 64)).astype(dtype)
    ids = rng.integers(0, rows, n_ids)
    offsets = np.arange(0, n_ids, 20)
    bag_grad = rng.standard_normal((len(offsets), 64)).astype(dtype)
    p = rng.standard_normal(flat).astype(dtype)
    states = [np.zeros_like(p) for _ in range(3)]
    ref = fastnn.backends.load_backend("numpy")
    cases = {}
    for act in ("relu", "gelu", "tanh"):
        saved = ref.linear_forward(x, w, b, act)[1]
        cases[f"linear_forward {act}"] = lambda k, a=act: k.linear_forward(x, w, b, a)
        cases[f"linear_backward {act}"] = lambda k, a=act, s=saved: k.linear_backward(g, x, w, s, a)
    for act in ("sigmoid", "tanh", "relu", "gelu"):
        saved = big if saves_input(act) else ref.activation_forward(big, act)
        cases[f"{act} forward"] = lambda k, a=act: k.activation_forward(big, a)
        cases[f"{act} backward"] = lambda k, a=act, s=saved: k.activation_backward(big, s, a)
    cases["softmax_cross_entropy"] = lambda k: k.softmax_cross_entropy(logits, target)
    cases["log_softmax forward"] = lambda k: k.log_softmax_forward(logits)
    cases["sgd_update momentum"] = lambda k: k.sgd_update(p, big, states[0], lr=1e-3, momentum=0.9)
    cases["adam_update"] = lambda k: k.adam_update(p, big, states[0], states[1], step=3, lr=1e-9)
    cases["adagrad_update"] = lambda k: k.adagrad_update(p, big, states[2], clr=1e-9)
    cases["rmsprop_update"] = lambda k: k.rmsprop_update(p, big, states[1], lr=1e-9)
    cases["adadelta_update"] = lambda k: k.adadelta_update(p, big, states[1], states[2], lr=1e-9)
    cases["embedding_bag_forward mean"] = lambda k: k.embedding_bag_forward(table, ids, offsets, "mean")
    cases["embedding_bag_backward mean"] = lambda k: k.embedding_bag_backward(bag_grad, ids, offsets, rows)
    cases["dropout_forward"] = lambda k: k.dropout_forward(big, 0.5, 7)
    return cases


def workload_c(repeats: int, size: str = "large") -> list[tuple[str, dict[str, float]]]:
    backends = {name: fastnn.backends.load_backend(name) for name in fastnn.available_backends()}
    rows = []
    number = 200 if size == "small" else 1
    for case, fn in kernel_cases(size).items():
        impls = {name: (lambda k=k, f=fn: f(k)) for name, k in backends.items()}
        for f in impls.values():
            f()
        rows.append((case, interleaved(impls, repeats, number)))
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
from fastnn.bench import fastnn_mlp_epoch, mlp_epoch_data
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


# ------------------------------------------------------------------ report
def machine_summary() -> str:
    from threadpoolctl import threadpool_info

    parts = [f"{platform.machine()} {os.cpu_count()} cores", f"python {platform.python_version()}",
             f"numpy {np.__version__}", f"fastnn {fastnn.__version__}"]
    worker = _torch_worker()
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
