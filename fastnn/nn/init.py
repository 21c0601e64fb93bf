"""fastnn.nn.init: in-place parameter initialisation, with torch.nn.init's names and formulas.

Every draw comes from fastnn's global generator (``fastnn.manual_seed``), in float64, and is
written into the tensor's array in its own dtype.
"""

from __future__ import annotations

import math

import numpy as np

from fastnn import arguments
from fastnn import random as _random
from fastnn.tensor import Tensor

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain: 1 for linear/sigmoid, 5/3 tanh, sqrt(2) relu,
    sqrt(2 / (1 + slope^2)) leaky_relu (slope default 0.01), 3/4 selu."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity}")


def _target(op: str, tensor: Tensor) -> Tensor:
    """The tensor an initialiser writes into: a fastnn Tensor with a writeable float array."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a fastnn Tensor to fill in place, got {type(tensor).__name__}")
    if tensor.array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point tensor, got dtype {tensor.array.dtype}")
    if not tensor.array.flags.writeable:
        raise ValueError(f"{op}: the tensor's storage is read-only")
    return tensor


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    tensor.array[...] = values
    return tensor


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = size(1) * receptive field, fan_out = size(0) * receptive field (needs >= 2 dims)."""
    shape = tensor.array.shape
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions, "
                         f"got shape {shape}")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with U(a, b)."""
    _target("uniform_", tensor)
    if arguments.real("uniform_", "a", a) > arguments.real("uniform_", "b", b):
        raise ValueError(f"uniform_: expects a <= b for the range [a, b), but found a={a} > b={b}")
    return _fill(tensor, _random.default_generator().uniform(a, b, tensor.array.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with N(mean, std^2)."""
    _target("normal_", tensor)
    arguments.real("normal_", "mean", mean)
    arguments.real("normal_", "std", std, low=0.0)
    return _fill(tensor, _random.default_generator().normal(mean, std, tensor.array.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with val."""
    _target("constant_", tensor)
    if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)):
        raise TypeError(f"constant_: val must be a number, got {type(val).__name__}")
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return _fill(_target("zeros_", tensor), 0)


def ones_(tensor: Tensor) -> Tensor:
    return _fill(_target("ones_", tensor), 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    _target("xavier_uniform_", tensor)
    arguments.real("xavier_uniform_", "gain", gain)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _target("xavier_normal_", tensor)
    arguments.real("xavier_normal_", "gain", gain)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    _target("kaiming_uniform_", tensor)
    arguments.real("kaiming_uniform_", "a", a)
    if 0 in tensor.array.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan), gain = calculate_gain(nonlinearity, a)."""
    _target("kaiming_normal_", tensor)
    arguments.real("kaiming_normal_", "a", a)
    if 0 in tensor.array.shape:
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


__all__ = [
    "calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "uniform_",
    "xavier_normal_", "xavier_uniform_", "zeros_",
]
