"""Speed-up over the pure NumPy backend (and over PyTorch), measured side by side in one process.

Each ``track_*`` benchmark returns how many times faster a compiled backend is than the "numpy"
backend on the same inputs (above 1: faster): both run in alternation, ``ROUNDS`` interleaved
rounds after a warm-up, and the ratio of the medians is reported. Machine noise that lasts longer
than a round hits both sides alike, so the ratio stays readable when absolute times drift, and it
stays comparable across commits and machines (the dashboard's plots across history).

Only the checked kernel methods of ``fastnn.get_backend()`` and the public ``nn`` / ``optim`` API
are used, so the file also runs against older commits; a case a commit does not have is skipped
(``NotImplementedError``, asv's way to skip).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import numpy as np

import fastnn

ROUNDS = 15
COMPILED = ["numba", "cython"]
DTYPES = ["float32", "float64"]
SIZES = ["small", "medium", "large"]
DENSE = {"small": (32, 64, 64), "medium": (128, 784, 256), "large": (1024, 1024, 1024)}
ELEMENTS = {"small": (32, 64), "medium": (256, 1024), "large": (1024, 1024)}


def _backend(name: str):
    try:
        fastnn.set_backend(name)
    except Exception as exc:  # a backend that cannot load on this machine or commit
        raise NotImplementedError(f"backend {name!r} unavailable: {exc}") from exc
    return fastnn.get_backend()


def _median_time(fn, inner: int) -> float:
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def speedup(make_call, backend: str, rounds: int = ROUNDS) -> float:
    """median(numpy time) / median(backend time); make_call(name) returns a no-argument callable
    that runs the case on backend `name` (it may switch the active backend itself)."""
    calls = {}
    for name in ("numpy", backend):
        _backend(name)
        try:
            calls[name] = make_call(name)
            calls[name]()  # warm-up: Numba compiles or loads its cache here, never while timed
        except (AttributeError, TypeError) as exc:  # an older commit without this kernel or argument
            raise NotImplementedError(f"{backend}: {exc}") from exc
    single = _median_time(calls[backend], 1)
    inner = max(1, int(0.02 / max(single, 1e-7)))  # ~20 ms per sample
    times: dict[str, list[float]] = {"numpy": [], backend: []}
    for _ in range(rounds):
        for name in ("numpy", backend):
            _backend(name)
            times[name].append(_median_time(calls[name], inner))
    _backend("numpy")
    return statistics.median(times["numpy"]) / statistics.median(times[backend])


def _kernel(method: str, *args, **kwargs):
    def make(_name):
        fn = getattr(fastnn.get_backend(), method)
        return lambda: fn(*args, **kwargs)

    return make


class KernelSpeedup:
    """Per kernel family, size and dtype: numpy time / backend time (ratio of medians)."""

    params = (COMPILED, ["dense_forward", "dense_backward", "activation_gelu", "softmax", "cross_entropy",
                         "adam", "dropout"], SIZES, DTYPES)
    param_names = ["backend", "kernel", "size", "dtype"]
    unit = "x NumPy"
    timeout = 600

    def setup(self, backend, kernel, size, dtype):
        rng = np.random.default_rng(0)
        _backend(backend)
        rows, cols = ELEMENTS[size]
        x = rng.standard_normal((rows, cols)).astype(dtype)
        if kernel.startswith("dense"):
            n, i, o = DENSE[size]
            a = rng.standard_normal((n, i)).astype(dtype)
            w = (rng.standard_normal((o, i)) / np.sqrt(i)).astype(dtype)
            b = rng.standard_normal(o).astype(dtype)
            g = rng.standard_normal((n, o)).astype(dtype)
            if kernel == "dense_forward":
                self.make = _kernel("linear_forward", a, w, b, "relu")
            else:
                def make(_name, a=a, w=w, b=b, g=g):
                    backend_ = fastnn.get_backend()
                    _, saved = backend_.linear_forward(a, w, b, "relu")
                    return lambda: backend_.linear_backward(g, a, w, saved, "relu")

                self.make = make
        elif kernel == "activation_gelu":
            self.make = _kernel("activation_forward", x, "gelu")
        elif kernel == "softmax":
            self.make = _kernel("softmax_forward", x)
        elif kernel == "cross_entropy":
            self.make = _kernel("softmax_cross_entropy", x, rng.integers(0, cols, rows))
        elif kernel == "adam":
            p, grad = x.reshape(-1).copy(), rng.standard_normal(x.size).astype(dtype)

            def make(_name, p=p, grad=grad):
                m, v = np.zeros_like(p), np.zeros_like(p)
                backend_ = fastnn.get_backend()
                return lambda: backend_.adam_update(p, grad, m, v, step=1, lr=1e-3, beta1=0.9, beta2=0.999,
                                                    eps=1e-8, weight_decay=0.0)

            self.make = make
        elif kernel == "dropout":
            self.make = _kernel("dropout_forward", x, 0.5, 1234)

    def track_speedup(self, backend, kernel, size, dtype):
        return speedup(self.make, backend)


def _training_case(nn, optim, sizes=(784, 256, 128, 10), batch=128, steps=20):
    """A 784-256-128-10 ReLU MLP, Adam, cross-entropy: a callable running `steps` steps."""
    rng = np.random.default_rng(0)
    x = fastnn.tensor(rng.standard_normal((batch * steps, sizes[0])).astype(np.float32))
    y = fastnn.tensor(rng.integers(0, sizes[-1], batch * steps))
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def run():
        for i in range(steps):
            opt.zero_grad()
            loss_fn(model(x[i * batch:(i + 1) * batch]), y[i * batch:(i + 1) * batch]).backward()
            opt.step()

    return run


class TrainingSpeedup:
    """20 Adam steps of workload (a) (784-256-128-10, batch 128): numpy time / backend time."""

    params = (COMPILED,)
    param_names = ["backend"]
    unit = "x NumPy"
    timeout = 600

    def track_speedup(self, backend):
        from fastnn import nn, optim

        return speedup(lambda _name: _training_case(nn, optim), backend, rounds=7)


WORKLOADS = {"mlp_20_64_2_sgd_b32": ((20, 64, 2), 32, 50, "sgd"),
             "mlp_784_256_128_10_adam_b128": ((784, 256, 128, 10), 128, 20, "adam")}


def _steps_case(workload: str, compiled: bool):
    """A callable running a workload's steps: the compiled step (fastnn.compile_step) or the eager
    loop on the active backend."""
    from fastnn import nn, optim

    sizes, batch, steps, kind = WORKLOADS[workload]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * steps, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch * steps)
    layers = []
    for i in range(len(sizes) - 1):
        layers += [nn.Linear(sizes[i], sizes[i + 1]), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    opt = optim.SGD(model.parameters(), lr=0.01) if kind == "sgd" else optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    batches = [(x[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch]) for i in range(steps)]
    if compiled:
        step = fastnn.compile_step(model, loss_fn, opt)
        return lambda: [step(xb, yb) for xb, yb in batches]
    tensors = [(fastnn.tensor(xb), fastnn.tensor(yb)) for xb, yb in batches]

    def run():
        for xb, yb in tensors:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()

    return run


class CompiledSpeedup:
    """The compiled training step (fastnn.compile_step) against the NumPy backend's eager step:
    numpy eager time / compiled time, per workload (the 20-64-2 MLP with SGD at batch 32, and
    workload (a)). Skipped on commits without compile_step."""

    params = (list(WORKLOADS),)
    param_names = ["workload"]
    unit = "x NumPy"
    timeout = 600

    def track_speedup(self, workload):
        if not hasattr(fastnn, "compile_step"):
            raise NotImplementedError("no compiled step at this commit")
        # the compiled step does not depend on the active backend: "cython" is only the other side
        return speedup(lambda name: _steps_case(workload, compiled=name != "numpy"), "cython", rounds=7)


TORCH_EPOCH = """
import sys, time, statistics
import numpy as np, torch
from torch import nn, optim
torch.set_num_threads(int(sys.argv[1]))
rng = np.random.default_rng(0)
x = torch.tensor(rng.standard_normal((128 * 20, 784)).astype(np.float32))
y = torch.tensor(rng.integers(0, 10, 128 * 20))
model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
opt = optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
def run():
    for i in range(20):
        opt.zero_grad()
        loss_fn(model(x[i * 128:(i + 1) * 128]), y[i * 128:(i + 1) * 128]).backward()
        opt.step()
run()
times = []
for _ in range(7):
    t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
print(statistics.median(times))
"""


class TrainingSpeedupOverTorch:
    """The same 20 steps: PyTorch's time (in a process of its own, without fastnn's OpenMP
    setting) / fastnn's, same thread count. Skipped where PyTorch is not installed."""

    params = (COMPILED,)
    param_names = ["backend"]
    unit = "x PyTorch"
    timeout = 600

    def track_speedup(self, backend):
        from fastnn import nn, optim

        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        threads = str(fastnn.get_num_threads())
        result = subprocess.run([sys.executable, "-c", TORCH_EPOCH, threads], env=env, capture_output=True,
                                text=True, timeout=300)
        if result.returncode != 0:
            raise NotImplementedError(f"PyTorch unavailable: {result.stderr.strip()[-200:]}")
        torch_time = float(result.stdout.split()[-1])
        _backend(backend)
        run = _training_case(nn, optim)
        run()
        times = []
        for _ in range(7):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        _backend("numpy")
        return torch_time / statistics.median(times)
