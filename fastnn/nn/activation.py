"""Activation layers. Each names its backend kernel (``kernel_activation``), which lets
Sequential fuse a Linear followed by the activation into one linear kernel call."""

from __future__ import annotations

from fastnn import arguments
from fastnn.nn import functional as F
from fastnn.nn.module import Module
from fastnn.tensor import Tensor


class _Elementwise(Module):
    """An activation the fused linear kernel supports: act(x) = activation_forward(x, kernel_activation)."""

    kernel_activation = "identity"
    negative_slope = 0.01


class ReLU(_Elementwise):
    """max(x, 0)."""

    kernel_activation = "relu"

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        arguments.flag("ReLU", "inplace", inplace)

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)


class Sigmoid(_Elementwise):
    """1 / (1 + exp(-x))."""

    kernel_activation = "sigmoid"

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(_Elementwise):
    """tanh(x)."""

    kernel_activation = "tanh"

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class LeakyReLU(_Elementwise):
    """x if x > 0 else negative_slope * x."""

    kernel_activation = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = arguments.real("LeakyReLU", "negative_slope", negative_slope)
        arguments.flag("LeakyReLU", "inplace", inplace)

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(_Elementwise):
    """x * Phi(x) (approximate='none') or 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) ('tanh')."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = arguments.choice("GELU", "approximate", approximate, ("none", "tanh"))

    @property
    def kernel_activation(self) -> str:  # type: ignore[override]
        return "gelu" if self.approximate == "none" else "gelu_tanh"

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along `dim`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = arguments.optional_integer(type(self).__name__, "dim", dim)

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """x_i - log sum_j exp(x_j) along `dim`."""

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)


class Hardtanh(Module):
    """min(max(x, min_val), max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        low = arguments.real("Hardtanh", "min_val", min_val)
        high = arguments.real("Hardtanh", "max_val", max_val)
        arguments.flag("Hardtanh", "inplace", inplace)
        if low > high:
            raise ValueError(f"Hardtanh: min_val {min_val} must not exceed max_val {max_val}")
        self.min_val, self.max_val = low, high

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


# ------------------------------------------------------------------------------------ smooth activations
# Composed from differentiable Tensor ops (fastnn.nn.functional_extra); not fused into Linear.
from fastnn.nn import functional_extra as FX  # noqa: E402


def _real(layer: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{layer}: {name} must be a real number, got {value!r}")
    return value


class Softplus(Module):
    """log(1 + exp(beta * x)) / beta, and x where beta * x > threshold."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        if _real("Softplus", "beta", beta) == 0:
            raise ValueError("Softplus: beta must be non-zero (the formula divides by it)")
        self.beta, self.threshold = beta, _real("Softplus", "threshold", threshold)

    def forward(self, input: Tensor) -> Tensor:
        return FX.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = _real("ELU", "alpha", alpha), inplace

    def forward(self, input: Tensor) -> Tensor:
        return FX.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class _InplaceFlag(Module):
    """An activation with PyTorch's `inplace` flag (accepted; the result is a new tensor)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_InplaceFlag):
    """x * sigmoid(x)."""

    def forward(self, input: Tensor) -> Tensor:
        return FX.silu(input)


class Mish(_InplaceFlag):
    """x * tanh(softplus(x))."""

    def forward(self, input: Tensor) -> Tensor:
        return FX.mish(input)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, input: Tensor) -> Tensor:
        return FX.softsign(input)


__all__ = ["ELU", "GELU", "Hardtanh", "LeakyReLU", "LogSoftmax", "Mish", "ReLU", "SiLU", "Sigmoid", "Softmax",
           "Softplus", "Softsign", "Tanh"]
