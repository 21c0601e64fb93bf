"""Evaluation without a graph: ``evaluate`` (mean loss and metrics over a loader) and ``predict``
(outputs in batches), with the batch helpers fit shares."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from fastnn.tensor import Tensor, no_grad
from fastnn.train.metrics import Metric, resolve_metrics


def split_batch(batch):
    """The (input, target) pair of one batch; anything else is an error naming fit."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    raise ValueError(f"fit: each batch must be an (input, target) pair, got {type(batch).__name__}")


def as_array(t) -> np.ndarray:
    """The NumPy array of a Tensor (no copy) or of anything np.asarray takes."""
    return t.array if isinstance(t, Tensor) else np.asarray(t)

def evaluation_totals(model, loader: Iterable, metric_fns: dict[str, Metric], loss_fn) -> tuple[dict[str, float], int]:
    """Sample-weighted sums of the loss (if ``loss_fn``) and metrics over ``loader``, and the sample count,
    in eval mode without a graph."""
    was_training = model.training
    model.eval()
    totals = ({"loss": 0.0} if loss_fn is not None else {}) | dict.fromkeys(metric_fns, 0.0)
    n = 0
    try:
        with no_grad():
            for batch in loader:
                x, y = split_batch(batch)
                out = model(x)
                size = len(as_array(y))
                if loss_fn is not None:
                    totals["loss"] += float(loss_fn(out, y).item()) * size
                for name, fn in metric_fns.items():
                    totals[name] += fn(as_array(out), as_array(y)) * size
                n += size
    finally:
        model.train(was_training)
    return totals, n


def evaluate(model, loader: Iterable, metrics=("accuracy",), loss_fn=None) -> dict[str, float]:
    """Mean loss (if ``loss_fn``) and metrics of ``model`` over ``loader``, in eval mode, no graph.
    Loss and metrics are averaged over samples, not batches."""
    totals, n = evaluation_totals(model, loader, resolve_metrics(metrics), loss_fn)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return {k: v / n for k, v in totals.items()}


def predict(model, x, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for every row of ``x`` (array or Tensor), in eval mode, in batches."""
    if batch_size < 1:
        raise ValueError(f"predict: batch_size must be >= 1, got {batch_size}")
    data = as_array(x)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            parts = [model(Tensor(data[i:i + batch_size])).array for i in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError("predict: x has no rows")
    return np.concatenate(parts)
