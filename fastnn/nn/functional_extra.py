"""More of torch.nn.functional: batch normalisation and distances here; smooth activations
(functional_activations.py) and four losses (functional_losses.py) re-exported.

Each function is composed from fastnn's differentiable Tensor ops (none of them is a hot path), so
its gradient comes from the autograd engine; the formulas are PyTorch's, branch for branch (where
PyTorch switches formula at a threshold, so does the composition). Values that would overflow in
the branch *not* taken are clamped first, so no ``inf * 0`` reaches a gradient. Re-exported by
:mod:`fastnn.nn.functional`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastnn.nn.functional_activations import elu, logsigmoid, mish, silu, softplus, softsign
from fastnn.nn.functional_checks import check_same_dtype, constant_like, float_tensor, real_number
from fastnn.nn.functional_losses import huber_loss, kl_div, multilabel_soft_margin_loss, smooth_l1_loss
from fastnn.ops.pointwise import where
from fastnn.tensor import Tensor


# ------------------------------------------------------------------------------------ checks
def _dim(fn: str, dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}: dim must be an integer, got {type(dim).__name__}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{fn}: dim {dim} out of range for a tensor with {ndim} dimensions "
                         f"(expected to be in range of [{-size}, {size - 1}])")
    return int(dim) % size


def _safe_norm(x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    """(sum |x|^p)^(1/p) over `dim`; where that is 0 the value is 0 and the gradient 0 (PyTorch's
    vector-norm backward), instead of the 0/0 a plain composition would give."""
    powered = x * x if p == 2 else x.abs() ** p
    total = powered.sum(dim, keepdim=keepdim)
    positive = total.detach().numpy() > 0
    safe = where(positive, total, constant_like(1.0, total))
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(positive, root, constant_like(0.0, total))


def _norm_order(fn: str, p: Any) -> float:
    p = real_number(fn, "p", p)
    if not (0 < p < math.inf):
        raise ValueError(f"{fn}: p must be a finite positive number, got {p}")
    return p


# ------------------------------------------------------------------------------------ normalisation
def _channel_vector(fn: str, name: str, value: Any, channels: int, dtype: np.dtype) -> Tensor | None:
    if value is None:
        return None
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor or None, got {type(value).__name__}")
    if value.numel() != channels:
        raise RuntimeError(f"{fn}: {name} should contain {channels} elements not {value.numel()}")
    if value.dtype != dtype:
        raise TypeError(f"{fn}: {name} dtype {value.dtype} does not match input dtype {dtype}")
    return value


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1).

    training (or no running statistics): mean and the biased variance of the batch, over every dim
    but 1; when training with running statistics they are updated in place,
    running = (1 - momentum) * running + momentum * batch statistic, with the unbiased variance.
    Otherwise the running statistics are used.
    """
    fn = "batch_norm"
    x = float_tensor(fn, "input", input)
    if x.ndim < 2:
        raise ValueError(f"{fn}: expected an input of at least 2 dimensions (N, C, *), got shape {tuple(x.shape)}")
    channels = x.shape[1]
    running_mean = _channel_vector(fn, "running_mean", running_mean, channels, x.dtype)
    running_var = _channel_vector(fn, "running_var", running_var, channels, x.dtype)
    weight = _channel_vector(fn, "weight", weight, channels, x.dtype)
    bias = _channel_vector(fn, "bias", bias, channels, x.dtype)
    eps = real_number(fn, "eps", eps)
    momentum = real_number(fn, "momentum", momentum)
    per_channel = x.numel() // max(channels, 1)
    if training and per_channel == 1:
        raise ValueError(f"{fn}: Expected more than 1 value per channel when training, got input size "
                         f"{tuple(x.shape)}")
    if training and eps <= 0.0:
        raise ValueError(f"{fn}: eps must be positive during training, but got {eps}")
    if eps < 0.0:
        raise ValueError(f"{fn}: eps must be non-negative, but got {eps}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{fn}: running_mean and running_var must both be given or both be None")
    shape = (1, channels) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    if x.numel() == 0:  # an empty batch: an empty result, the running statistics untouched (as PyTorch)
        return x * 1.0
    if training or running_mean is None:
        mean = x.mean(axes, keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(axes, keepdim=True)
        if training and running_mean is not None:
            batch_mean = mean.detach().numpy().reshape(channels)
            unbiased = var.detach().numpy().reshape(channels) * (per_channel / max(per_channel - 1, 1))
            running_mean.array[...] = momentum * batch_mean + (1 - momentum) * running_mean.array
            running_var.array[...] = momentum * unbiased + (1 - momentum) * running_var.array
    else:
        centred = x - constant_like(running_mean.detach().numpy().reshape(shape), x)
        var = constant_like(running_var.detach().numpy().reshape(shape), x)
    out = centred * (1.0 / (var + eps).sqrt())
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """x / max(||x||_p, eps), the norm taken along `dim`."""
    fn = "normalize"
    x = float_tensor(fn, "input", input)
    if out is not None:
        raise TypeError(f"{fn}: the out= argument is not supported by fastnn; use the returned tensor")
    p = _norm_order(fn, p)
    axis = _dim(fn, dim, x.ndim)
    eps = real_number(fn, "eps", eps)
    if x.ndim == 0:
        raise ValueError(f"{fn}: expected a tensor of at least 1 dimension, got a 0-d tensor")
    return x / _safe_norm(x, p, axis, keepdim=True).clamp(min=eps)


# ------------------------------------------------------------------------------------ distances
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `dim`, x1 and x2 broadcast.

    As PyTorch, each input is divided by its own clamped norm first (the result stays in [-1, 1]),
    and the clamp does not stop the gradient (PyTorch clamps under no_grad).
    """
    fn = "cosine_similarity"
    x1 = float_tensor(fn, "x1", x1)
    x2 = float_tensor(fn, "x2", x2)
    check_same_dtype(fn, x1, x2, "x1", "x2")
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{fn}: shapes {tuple(x1.shape)} and {tuple(x2.shape)} cannot be broadcast") from None
    axis = _dim(fn, dim, len(shape))
    eps = real_number(fn, "eps", eps)
    if len(shape) == 0:
        raise ValueError(f"{fn}: expected inputs of at least 1 dimension, got 0-d tensors")
    x1 = x1 if x1.shape == shape else x1.expand(shape)
    x2 = x2 if x2.shape == shape else x2.expand(shape)

    def unit(t: Tensor) -> Tensor:
        norm = _safe_norm(t, 2.0, axis, keepdim=True)
        raw = norm.detach().numpy()
        return t / (norm + constant_like(np.maximum(raw, eps) - raw, norm))

    return (unit(x1) * unit(x2)).sum(axis)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dimension."""
    fn = "pairwise_distance"
    x1 = float_tensor(fn, "x1", x1)
    x2 = float_tensor(fn, "x2", x2)
    check_same_dtype(fn, x1, x2, "x1", "x2")
    p = _norm_order(fn, p)
    eps = real_number(fn, "eps", eps)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{fn}: shapes {tuple(x1.shape)} and {tuple(x2.shape)} cannot be broadcast") from None
    if len(shape) == 0:
        raise ValueError(f"{fn}: expected inputs of at least 1 dimension, got 0-d tensors")
    return _safe_norm(x1 - x2 + eps, p, len(shape) - 1, keepdim=bool(keepdim))


__all__ = [
    "batch_norm", "cosine_similarity", "elu", "huber_loss", "kl_div", "logsigmoid", "mish",
    "multilabel_soft_margin_loss", "normalize", "pairwise_distance", "silu", "smooth_l1_loss", "softplus",
    "softsign",
]
