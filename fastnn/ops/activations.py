"""Activations by the backend's activation kernels: relu, sigmoid, tanh, leaky_relu, gelu,
hardtanh, softmax and log_softmax (over any dim, by the row kernels on a 2-D view).

The backward of an element-wise activation takes what the kernel contract says it saves: the
output, or the input for the activations whose derivative needs it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.dtypes import FLOATS
from fastnn.autograd.engine import TensorBase, record
from fastnn.autograd.numerics import quiet
from fastnn.backends import contract, get_backend
from fastnn.ops.checks import contiguous, float_input
from fastnn.ops.pointwise import clamp

KERNEL_ACTIVATIONS: tuple = contract.ACTIVATION_NAMES
_GRAD_FN = {"relu": "ReluBackward0", "sigmoid": "SigmoidBackward0", "tanh": "TanhBackward0",
            "leaky_relu": "LeakyReluBackward0", "gelu": "GeluBackward0", "gelu_tanh": "GeluBackward0"}


@quiet
def activation(t: TensorBase, name: str, negative_slope: float = 0.01) -> TensorBase:
    """Element-wise activation `name` (one of the kernel activations) by the backend's kernels.

    The input's dtype and layout are checked here, so the kernels run unchecked."""
    x = t.array
    if x.dtype not in FLOATS:
        raise TypeError(f"{name}: input must be float32 or float64, got {x.dtype}")
    if name not in KERNEL_ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(KERNEL_ACTIVATIONS)}, got {name!r}")
    x = contiguous(x)
    backend = get_backend()
    negative_slope = float(negative_slope)
    out = backend.unchecked.activation_forward(x, name, negative_slope)
    saved = x if contract.saves_input(name) else out
    dtype = x.dtype

    def backward(g: np.ndarray) -> tuple:
        return (backend.unchecked.activation_backward(contiguous(g, dtype), saved, name, negative_slope),)

    return record(out, (t,), backward, _GRAD_FN.get(name, "ActivationBackward0"))


def relu(input: Any) -> TensorBase:
    """max(x, 0)."""
    return activation(float_input("relu", "input", input), "relu")


def sigmoid(input: Any) -> TensorBase:
    """1 / (1 + exp(-x))."""
    return activation(float_input("sigmoid", "input", input), "sigmoid")


def tanh(input: Any) -> TensorBase:
    """tanh(x)."""
    return activation(float_input("tanh", "input", input), "tanh")


def leaky_relu(input: Any, negative_slope: float = 0.01) -> TensorBase:
    """x if x > 0 else negative_slope * x."""
    return activation(float_input("leaky_relu", "input", input), "leaky_relu", _number("leaky_relu",
                                                                                       "negative_slope",
                                                                                       negative_slope))


def gelu(input: Any, approximate: str = "none") -> TensorBase:
    """x * Phi(x) (approximate='none') or its tanh approximation (approximate='tanh')."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return activation(float_input("gelu", "input", input), "gelu" if approximate == "none" else "gelu_tanh")


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> TensorBase:
    """min(max(x, min_val), max_val) (Collobert et al.'s HardTanh)."""
    min_val, max_val = _number("hardtanh", "min_val", min_val), _number("hardtanh", "max_val", max_val)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    return clamp(float_input("hardtanh", "input", input), min_val, max_val)


def _number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{op}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def _rows_view(x: np.ndarray, dim: Any, op: str) -> tuple[np.ndarray, tuple, int]:
    """`dim` moved last and the other dims flattened: the (rows, n) layout the row kernels take."""
    ndim = x.ndim
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an integer, got {type(dim).__name__}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} out of range for a tensor with {ndim} dimensions")
    if ndim == 0:
        return x.reshape(1, 1), (), 0
    axis = int(dim) % ndim
    moved = np.moveaxis(x, axis, -1)
    return moved.reshape(int(np.prod(moved.shape[:-1])), x.shape[axis]), moved.shape, axis


def _from_rows(y2: np.ndarray, moved_shape: tuple, axis: int) -> np.ndarray:
    if not moved_shape:
        return y2.reshape(())
    return np.moveaxis(y2.reshape(moved_shape), -1, axis)


@quiet
def row_op(input: Any, dim: Any, name: str) -> TensorBase:
    """softmax or log_softmax along `dim` by the row kernels (an empty input gives an empty output)."""
    t = float_input(name, "input", input)
    if dim is None:
        raise TypeError(f"{name}: dim is required (PyTorch's implicit dim choice is deprecated)")
    backend = get_backend()
    x2, moved_shape, axis = _rows_view(t.array, dim, name)
    empty = x2.size == 0
    y2 = x2.copy() if empty else getattr(backend, name + "_forward")(x2)
    out = _from_rows(y2, moved_shape, axis)
    kernel = getattr(backend, name + "_backward")

    def backward(g: np.ndarray) -> tuple:
        if empty:
            return (g,)
        g2 = _rows_view(g, axis, name)[0]
        return (_from_rows(kernel(g2, y2), moved_shape, axis),)

    return record(out, (t,), backward, "SoftmaxBackward0" if name == "softmax" else "LogSoftmaxBackward0")


def softmax(input: Any, dim: int) -> TensorBase:
    """exp(x_i) / sum_j exp(x_j) along `dim`."""
    return row_op(input, dim, "softmax")


def log_softmax(input: Any, dim: int) -> TensorBase:
    """x_i - log sum_j exp(x_j) along `dim`."""
    return row_op(input, dim, "log_softmax")


class ActivationMethods:
    """Tensor's activation methods."""

    __slots__ = ()

    def relu(self) -> TensorBase:
        return activation(self, "relu")

    def sigmoid(self) -> TensorBase:
        return activation(self, "sigmoid")

    def tanh(self) -> TensorBase:
        return activation(self, "tanh")

    softmax = softmax
    log_softmax = log_softmax


__all__ = ["KERNEL_ACTIVATIONS", "ActivationMethods", "activation", "gelu", "hardtanh", "leaky_relu", "log_softmax",
           "relu", "row_op", "sigmoid", "softmax", "tanh"]
