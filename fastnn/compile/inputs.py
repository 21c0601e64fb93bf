"""The compiled step's view of a batch: the model input checked against the plan and laid out as
kernels.run_step takes it, and the plan's dropout layers (one random seed each per call)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.compile.planner import Plan
from fastnn.tensor import Tensor


def as_array(value: Any) -> np.ndarray:
    """The NumPy array of a Tensor (no copy) or of anything np.asarray takes."""
    return value.array if isinstance(value, Tensor) else np.asarray(value)


NO_IDS = np.zeros(0, np.int64)
NO_FLOATS = {np.dtype(np.float32): np.zeros((0, 0), np.float32), np.dtype(np.float64): np.zeros((0, 0), np.float64)}


def model_inputs(plan: Plan, x: Any, offsets_cache: dict, who: str) -> tuple | None:
    """The model input as run_step takes it: (n, xf, ids, offsets, window), checked against the
    plan (TypeError / ValueError naming `who`), or None for an empty batch (run eagerly). The
    arrays are C-contiguous, aligned and writeable (copies where the input is not)."""
    xa = as_array(x)
    if xa.ndim == 0 or xa.shape[0] == 0:
        return None
    n = xa.shape[0]
    offsets, ids, window = NO_IDS, NO_IDS, 1
    if plan.input_kind == "ids":
        first = plan.layers[0]
        if xa.dtype.kind not in "iu":
            raise TypeError(f"{who}: {type(first.module).__name__} input must be integer ids, got {xa.dtype}")
        xa = np.require(xa, np.int64, "CAW")
        flattened = len(plan.layers) > 1 and plan.layers[1].kind == "flatten"
        expected = 2 if first.kind == "bag" or flattened else 1
        if xa.ndim != expected:
            raise ValueError(f"{who}: {type(first.module).__name__} input must be {expected}-D, got shape {xa.shape}")
        if flattened:
            window = xa.shape[1]
            following = next((layer for layer in plan.layers[2:] if layer.kind == "linear"), None)
            width = xa.shape[1] * first.sizes[1]
            if following is not None and following.sizes[0] != width:
                raise ValueError(f"{who}: input {xa.shape} gives {width} features after Flatten, but Linear "
                                 f"expects {following.sizes[0]}")
        if first.kind == "bag":
            offsets = offsets_cache.get(xa.shape)
            if offsets is None:
                if len(offsets_cache) > 64:  # bag lengths vary from batch to batch: keep few
                    offsets_cache.clear()
                offsets = offsets_cache[xa.shape] = np.arange(n, dtype=np.int64) * xa.shape[1]
        return n, NO_FLOATS[plan.dtype], xa.reshape(-1), offsets, window
    if plan.flatten_input and xa.ndim > 2:
        xa = xa.reshape(n, -1)
    if xa.ndim != 2 or xa.shape[1] != plan.in_features:
        raise ValueError(f"{who}: input must be (N, {plan.in_features}), got shape {xa.shape}")
    if xa.dtype != plan.dtype:
        raise TypeError(f"{who}: input dtype {xa.dtype} differs from the parameters' {plan.dtype}")
    if not xa.flags.carray:  # C-contiguous, aligned, writeable: the one type the compiled code takes
        xa = np.require(xa, requirements="CAW")
    return n, xa, ids, offsets, window


def dropouts(layers: list):
    """Every dropout layer of a plan's layers, nested bodies included, in forward order."""
    for layer in layers:
        if layer.kind == "dropout":
            yield layer
        yield from dropouts(layer.body)
