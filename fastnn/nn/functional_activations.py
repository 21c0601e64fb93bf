"""Smooth activations of torch.nn.functional composed from differentiable Tensor ops (PyTorch's
formulas, branch for branch; the branch not taken is clamped so no ``inf * 0`` reaches a gradient).
Re-exported by fastnn.nn.functional_extra and fastnn.nn.functional."""

from __future__ import annotations

from fastnn.nn.functional_checks import float_tensor, real_number
from fastnn.ops.pointwise import where
from fastnn.tensor import Tensor


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    x = float_tensor("softplus", "input", input)
    beta = real_number("softplus", "beta", beta)
    threshold = real_number("softplus", "threshold", threshold)
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero (the formula divides by it)")
    scaled = x * beta
    smooth = scaled.clamp(max=threshold).exp().log1p() / beta
    return where(scaled.detach().numpy() > threshold, x, smooth)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1). (inplace is accepted and the result is a new tensor.)"""
    x = float_tensor("elu", "input", input)
    alpha = real_number("elu", "alpha", alpha)
    negative = (x.clamp(max=0.0).exp() - 1.0) * alpha
    return where(x.detach().numpy() > 0, x, negative)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (the swish function)."""
    x = float_tensor("silu", "input", input)
    return x * x.sigmoid()


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    x = float_tensor("mish", "input", input)
    return x * softplus(x).tanh()


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    x = float_tensor("softsign", "input", input)
    return x / (x.abs() + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable: x - log(1 + exp(x)) for x < 0, -log(1 + exp(-x)) otherwise."""
    x = float_tensor("logsigmoid", "input", input)
    below = x - x.clamp(max=0.0).exp().log1p()
    above = -((-x.clamp(min=0.0)).exp().log1p())
    return where(x.detach().numpy() < 0, below, above)
