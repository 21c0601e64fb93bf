"""The fused linear layer y = act(x @ W.T + b), by the backend's linear kernels.

This is the hot path of every MLP step: the checks the public kernel would make are made here
once, then the kernels run unchecked (their preconditions hold: C-contiguous float arrays of one
dtype, matching shapes, a known activation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.dtypes import FLOATS
from fastnn.autograd.engine import TensorBase, record
from fastnn.autograd.numerics import quiet
from fastnn.backends import get_backend
from fastnn.ops.activations import KERNEL_ACTIVATIONS
from fastnn.ops.arithmetic import add, matmul
from fastnn.ops.checks import contiguous, tensor_argument


@quiet
def linear(input: Any, weight: Any, bias: Any = None) -> TensorBase:
    """y = x @ weight.T + bias. A 2-D weight (out, in) runs the fused kernel; a 1-D weight (in,)
    gives y = x @ weight + bias with the last dim reduced, as in PyTorch."""
    weight = tensor_argument("linear", "weight", weight)
    if weight.array.ndim == 1:
        input = tensor_argument("linear", "input", input)
        if input.array.ndim == 0 or input.array.shape[-1] != weight.array.shape[0]:
            raise ValueError(f"linear: weight {weight.array.shape} expected input (*, {weight.array.shape[0]}), "
                             f"got {input.array.shape}")
        out = matmul(input, weight)
        return out if bias is None else add(out, tensor_argument("linear", "bias", bias))
    return linear_activation(input, weight, bias, "identity")


@quiet
def linear_activation(input: Any, weight: Any, bias: Any, activation_name: str,
                      negative_slope: float = 0.01, layer: Any = None) -> TensorBase:
    """y = act(x @ weight.T + bias) in one fused kernel call; x may be (*, in_features).

    fastnn's addition to PyTorch's API (Sequential uses it for a Linear followed by an
    activation). `layer`, a string or a function returning one, names the caller in errors."""
    if not isinstance(input, TensorBase):
        input = tensor_argument(_layer_name(layer, "linear"), "input", input)
    if not isinstance(weight, TensorBase):
        weight = tensor_argument(_layer_name(layer, "linear"), "weight", weight)
    x = input.array
    w = weight.array
    if (w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[1] or x.dtype != w.dtype or w.dtype not in FLOATS
            or activation_name not in KERNEL_ACTIVATIONS):
        _linear_input_error(x, w, activation_name, layer)
    in_features = w.shape[1]
    x2 = contiguous(x if x.ndim == 2 else x.reshape(-1, in_features))
    w = contiguous(w)
    b = None
    if bias is not None:
        if not isinstance(bias, TensorBase):
            bias = tensor_argument(_layer_name(layer, "linear"), "bias", bias)
        b = bias.array
        if b.shape != (w.shape[0],) or b.dtype != w.dtype:
            raise ValueError(f"{_layer_name(layer, 'linear')}: bias must be ({w.shape[0]},) {w.dtype}, "
                             f"got {b.shape} {b.dtype}")
        b = contiguous(b)
    negative_slope = float(negative_slope)
    backend = get_backend()
    out, saved = backend.unchecked.linear_forward(x2, w, b, activation_name, negative_slope)
    need_x = input.requires_grad
    need_b = bias is not None and bias.requires_grad
    if x.ndim != 2:
        out = out.reshape(x.shape[:-1] + (w.shape[0],))
    dtype = w.dtype

    def backward(g: np.ndarray) -> tuple:
        g2 = contiguous(g if g.ndim == 2 else g.reshape(-1, w.shape[0]), dtype)
        dx, dw, db = backend.unchecked.linear_backward(g2, x2, w, saved, activation_name, negative_slope,
                                                       need_x, need_b)
        if need_x and x.ndim != 2:
            dx = dx.reshape(x.shape)
        return dx, dw, db

    parents = (input, weight) if bias is None else (input, weight, bias)
    name = "MmBackward0" if bias is None else "AddmmBackward0"
    return record(out, parents, backward, name if activation_name == "identity" else "LinearActivationBackward0")


def _layer_name(layer: Any, default: str) -> str:
    if layer is None:
        return default
    return layer() if callable(layer) else str(layer)


def _linear_input_error(x: np.ndarray, w: np.ndarray, activation_name: str, layer: Any) -> None:
    where = _layer_name(layer, f"linear: weight {w.shape}")
    if w.ndim != 2:
        raise ValueError(f"{_layer_name(layer, 'linear')}: weight must be 1-D (in,) or 2-D (out, in), "
                         f"got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"{where} expected input (*, {w.shape[1]}), got {x.shape}")
    if x.dtype != w.dtype:
        raise TypeError(f"{where}: input dtype {x.dtype} does not match weight dtype {w.dtype}")
    if w.dtype not in FLOATS:
        raise TypeError(f"{where}: weight must be float32 or float64, got {w.dtype}")
    raise ValueError(f"{where}: activation must be one of {', '.join(KERNEL_ACTIVATIONS)}, got {activation_name!r}")


__all__ = ["linear", "linear_activation"]
