"""fit's and evaluate's metrics: ``metric(output, target) -> float`` on NumPy arrays, by name or callable."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of rows whose arg-max (or, for one output column / 1-D logits, whose sign)
    equals the integer (or 0/1) target."""
    output = np.asarray(output)
    target = np.asarray(target)
    if output.ndim == 1 or output.shape[-1] == 1:
        pred = (output.reshape(target.shape) > 0).astype(target.dtype)
    else:
        pred = output.argmax(axis=-1)
    return float((pred == target).mean()) if target.size else float("nan")


def mean_absolute_error(output: np.ndarray, target: np.ndarray) -> float:
    """mean |output - target| over all elements."""
    return float(np.abs(np.asarray(output).reshape(np.shape(target)) - target).mean())


METRICS: dict[str, Metric] = {"accuracy": accuracy, "mae": mean_absolute_error}


def resolve_metrics(metrics) -> dict[str, Metric]:
    """Name -> function for a metric name, a list of names and callables, or a mapping (None: none)."""
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        return dict(metrics)
    out = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"fit: unknown metric {m!r}; built-in metrics are {', '.join(METRICS)}")
            out[m] = METRICS[m]
        else:
            out[getattr(m, "__name__", repr(m))] = m
    return out
