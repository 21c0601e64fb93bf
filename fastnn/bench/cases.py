"""The kernel-case catalogue: one call of each kernel family at a named size, as a function of a
backend. ``fastnn bench`` (workload c) and ``asv_benchmarks/benchmarks/kernels.py`` both time these
cases, so the two report the same work."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import fastnn
from fastnn.bench.timing import interleaved

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
    ln_w, ln_b = np.ones(d_in, dtype=dtype), np.zeros(d_in, dtype=dtype)
    _, mean, rstd = ref.layer_norm_forward(x, ln_w, ln_b)
    cases["layer_norm_forward"] = lambda k: k.layer_norm_forward(x, ln_w, ln_b)
    cases["layer_norm_backward"] = lambda k: k.layer_norm_backward(x, x, ln_w, mean, rstd)
    return cases


CASE_NAMES = tuple(kernel_cases("small"))
"""The names of the catalogue's cases (the same at every size)."""


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
