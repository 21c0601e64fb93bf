"""Networks and synthetic data for the layer, training and start-up benchmarks (no benchmarks here).

Everything goes through fastnn's PyTorch-style API (``fastnn.nn``, ``fastnn.optim``,
``fastnn.data``). Where that API cannot be imported, :func:`require_api` raises
``NotImplementedError`` so that asv reports these benchmarks as skipped rather than failed.
"""

from __future__ import annotations

import importlib

import numpy as np

from .common import SEED


def require_api():
    """The modules (fastnn, fastnn.nn, fastnn.optim, fastnn.data); skip the benchmark if missing."""
    try:
        return tuple(importlib.import_module(m) for m in ("fastnn", "fastnn.nn", "fastnn.optim", "fastnn.data"))
    except ImportError as exc:
        raise NotImplementedError(f"fastnn's nn/optim/data API is not importable: {exc}") from exc


def relu_mlp(nn, widths: tuple[int, ...]):
    """Linear(w0, w1), ReLU, ..., Linear(w_{k-1}, w_k): ReLU between layers, none after the last."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        if i:
            layers.append(nn.ReLU())
        layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


def synthetic_classification(samples: int, features: int, classes: int, seed: int = SEED):
    """Features x ~ N(0, 1) (float32) and labels y = argmax(x @ W) of a random linear teacher (int64),
    so the task is learnable and the loss falls like a real one's."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, features), dtype=np.float32)
    teacher = rng.standard_normal((features, classes), dtype=np.float32)
    return x, np.argmax(x @ teacher, axis=1).astype(np.int64)


def train_step(model, loss_fn, optimizer, inputs, target) -> None:
    """One optimisation step: zero_grad, forward, loss, backward, step."""
    optimizer.zero_grad()
    loss_fn(model(inputs), target).backward()
    optimizer.step()
