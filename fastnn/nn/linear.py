"""Linear, Identity and Flatten layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.nn import functional as F
from fastnn.nn import init
from fastnn.nn.module import Module, Parameter
from fastnn.tensor import Tensor


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features), input (*, in_features).

    Initialised as PyTorch: weight from kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and bias from the same interval.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = arguments.integer("Linear", "in_features", in_features, low=0)
        self.out_features = arguments.integer("Linear", "out_features", out_features, low=0)
        arguments.flag("Linear", "bias", bias)
        dtype = arguments.float_dtype("Linear", dtype)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _name(self) -> str:
        return f"Linear({self.in_features} -> {self.out_features})"

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._name()}: expected a Tensor input (*, {self.in_features}), got "
                            f"{type(input).__name__}")
        return F.linear_activation(input, self.weight, self.bias, "identity", layer=self._name)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (accepts and ignores constructor arguments, as PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one (default: everything but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = arguments.integer("Flatten", "start_dim", start_dim)
        self.end_dim = arguments.integer("Flatten", "end_dim", end_dim)

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"Flatten: expected a Tensor input, got {type(input).__name__}")
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


__all__ = ["Flatten", "Identity", "Linear"]
