"""More of torch.nn.functional: smooth activations, batch normalisation, distances and four losses.

Each function is composed from fastnn's differentiable Tensor ops (none of them is a hot path), so
its gradient comes from the autograd engine; the formulas are PyTorch's, branch for branch (where
PyTorch switches formula at a threshold, so does the composition). Values that would overflow in
the branch *not* taken are clamped first, so no ``inf * 0`` reaches a gradient. Re-exported by
:mod:`fastnn.nn.functional`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn.ops.pointwise import where
from fastnn.tensor import Tensor, from_numpy

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ------------------------------------------------------------------------------------ checks
def _float_tensor(fn: str, name: str, value: Any) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(value).__name__}")
    if value.dtype not in _FLOATS:
        raise TypeError(f"{fn}: {name} must be float32 or float64, got {value.dtype}")
    return value


def _number(fn: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: {name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{fn}: {name} must not be NaN")
    return value


def _dim(fn: str, dim: Any, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{fn}: dim must be an integer, got {type(dim).__name__}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{fn}: dim {dim} out of range for a tensor with {ndim} dimensions "
                         f"(expected to be in range of [{-size}, {size - 1}])")
    return int(dim) % size


def _same_dtype(fn: str, a: Tensor, b: Tensor, a_name: str, b_name: str) -> None:
    if a.dtype != b.dtype:
        raise TypeError(f"{fn}: {a_name} dtype {a.dtype} does not match {b_name} dtype {b.dtype}")


def _const(value: Any, like: Tensor) -> Tensor:
    """A constant (no gradient) in `like`'s dtype."""
    return from_numpy(np.asarray(value, dtype=like.dtype))


def _legacy_reduction(fn: str, size_average: Any, reduce: Any, reduction: str) -> str:
    """PyTorch's deprecated size_average/reduce pair mapped to a reduction, with PyTorch's warning."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    result = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"{fn}: size_average and reduce args will be deprecated, please use reduction='{result}' "
                  "instead.", UserWarning, stacklevel=3)
    return result


def _check_reduction(fn: str, reduction: Any, allowed: Sequence[str] = ("mean", "sum", "none")) -> str:
    if reduction not in allowed:
        raise ValueError(f"{fn}: reduction must be one of {', '.join(allowed)}, got {reduction!r}")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _broadcast_pair(fn: str, input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """PyTorch's loss broadcasting: warn when the shapes differ, fail when they cannot broadcast."""
    if input.shape == target.shape:
        return input, target
    try:
        shape = np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} cannot be broadcast to input shape "
                         f"{tuple(input.shape)}") from None
    warnings.warn(f"{fn}: Using a target size ({tuple(target.shape)}) that is different to the input size "
                  f"({tuple(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                  "Please ensure they have the same size.", UserWarning, stacklevel=3)
    return (input if input.shape == shape else input.expand(shape),
            target if target.shape == shape else target.expand(shape))


def _safe_norm(x: Tensor, p: float, dim: int, keepdim: bool) -> Tensor:
    """(sum |x|^p)^(1/p) over `dim`; where that is 0 the value is 0 and the gradient 0 (PyTorch's
    vector-norm backward), instead of the 0/0 a plain composition would give."""
    powered = x * x if p == 2 else x.abs() ** p
    total = powered.sum(dim, keepdim=keepdim)
    positive = total.detach().numpy() > 0
    safe = where(positive, total, _const(1.0, total))
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return where(positive, root, _const(0.0, total))


def _norm_order(fn: str, p: Any) -> float:
    p = _number(fn, "p", p)
    if not (0 < p < math.inf):
        raise ValueError(f"{fn}: p must be a finite positive number, got {p}")
    return p


# ------------------------------------------------------------------------------------ activations
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    x = _float_tensor("softplus", "input", input)
    beta = _number("softplus", "beta", beta)
    threshold = _number("softplus", "threshold", threshold)
    if beta == 0:
        raise ValueError("softplus: beta must be non-zero (the formula divides by it)")
    scaled = x * beta
    smooth = scaled.clamp(max=threshold).exp().log1p() / beta
    return where(scaled.detach().numpy() > threshold, x, smooth)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1). (inplace is accepted and the result is a new tensor.)"""
    x = _float_tensor("elu", "input", input)
    alpha = _number("elu", "alpha", alpha)
    negative = (x.clamp(max=0.0).exp() - 1.0) * alpha
    return where(x.detach().numpy() > 0, x, negative)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (the swish function)."""
    x = _float_tensor("silu", "input", input)
    return x * x.sigmoid()


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    x = _float_tensor("mish", "input", input)
    return x * softplus(x).tanh()


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    x = _float_tensor("softsign", "input", input)
    return x / (x.abs() + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), stable: x - log(1 + exp(x)) for x < 0, -log(1 + exp(-x)) otherwise."""
    x = _float_tensor("logsigmoid", "input", input)
    below = x - x.clamp(max=0.0).exp().log1p()
    above = -((-x.clamp(min=0.0)).exp().log1p())
    return where(x.detach().numpy() < 0, below, above)


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
    x = _float_tensor(fn, "input", input)
    if x.ndim < 2:
        raise ValueError(f"{fn}: expected an input of at least 2 dimensions (N, C, *), got shape {tuple(x.shape)}")
    channels = x.shape[1]
    running_mean = _channel_vector(fn, "running_mean", running_mean, channels, x.dtype)
    running_var = _channel_vector(fn, "running_var", running_var, channels, x.dtype)
    weight = _channel_vector(fn, "weight", weight, channels, x.dtype)
    bias = _channel_vector(fn, "bias", bias, channels, x.dtype)
    eps = _number(fn, "eps", eps)
    momentum = _number(fn, "momentum", momentum)
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
        centred = x - _const(running_mean.detach().numpy().reshape(shape), x)
        var = _const(running_var.detach().numpy().reshape(shape), x)
    out = centred * (1.0 / (var + eps).sqrt())
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None) -> Tensor:
    """x / max(||x||_p, eps), the norm taken along `dim`."""
    fn = "normalize"
    x = _float_tensor(fn, "input", input)
    if out is not None:
        raise TypeError(f"{fn}: the out= argument is not supported by fastnn; use the returned tensor")
    p = _norm_order(fn, p)
    axis = _dim(fn, dim, x.ndim)
    eps = _number(fn, "eps", eps)
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
    x1 = _float_tensor(fn, "x1", x1)
    x2 = _float_tensor(fn, "x2", x2)
    _same_dtype(fn, x1, x2, "x1", "x2")
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{fn}: shapes {tuple(x1.shape)} and {tuple(x2.shape)} cannot be broadcast") from None
    axis = _dim(fn, dim, len(shape))
    eps = _number(fn, "eps", eps)
    if len(shape) == 0:
        raise ValueError(f"{fn}: expected inputs of at least 1 dimension, got 0-d tensors")
    x1 = x1 if x1.shape == shape else x1.expand(shape)
    x2 = x2 if x2.shape == shape else x2.expand(shape)

    def unit(t: Tensor) -> Tensor:
        norm = _safe_norm(t, 2.0, axis, keepdim=True)
        raw = norm.detach().numpy()
        return t / (norm + _const(np.maximum(raw, eps) - raw, norm))

    return (unit(x1) * unit(x2)).sum(axis)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dimension."""
    fn = "pairwise_distance"
    x1 = _float_tensor(fn, "x1", x1)
    x2 = _float_tensor(fn, "x2", x2)
    _same_dtype(fn, x1, x2, "x1", "x2")
    p = _norm_order(fn, p)
    eps = _number(fn, "eps", eps)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"{fn}: shapes {tuple(x1.shape)} and {tuple(x2.shape)} cannot be broadcast") from None
    if len(shape) == 0:
        raise ValueError(f"{fn}: expected inputs of at least 1 dimension, got 0-d tensors")
    return _safe_norm(x1 - x2 + eps, p, len(shape) - 1, keepdim=bool(keepdim))


# ------------------------------------------------------------------------------------ losses
def _loss_inputs(fn: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    input = _float_tensor(fn, "input", input)
    target = _float_tensor(fn, "target", target)
    _same_dtype(fn, input, target, "input", "target")
    return input, target


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """z = |input - target|: 0.5 z^2 / beta where z < beta, else z - 0.5 beta (|z| when beta = 0); reduced."""
    fn = "smooth_l1_loss"
    input, target = _loss_inputs(fn, input, target)
    beta = _number(fn, "beta", beta)
    if beta < 0:
        raise ValueError(f"{fn}: does not support negative values for beta, got {beta}")
    reduction = _check_reduction(fn, _legacy_reduction(fn, size_average, reduce, reduction))
    input, target = _broadcast_pair(fn, input, target)
    z = (input - target).abs()
    if beta == 0.0:
        return _reduce(z, reduction)
    loss = where(z.detach().numpy() < beta, z * z * (0.5 / beta), z - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """z = |input - target|: 0.5 z^2 where z < delta, else delta (z - 0.5 delta); times weight; reduced."""
    fn = "huber_loss"
    input, target = _loss_inputs(fn, input, target)
    delta = _number(fn, "delta", delta)
    if delta <= 0:
        raise ValueError(f"{fn}: does not support non-positive values for delta, got {delta}")
    reduction = _check_reduction(fn, reduction)
    if weight is not None:
        weight = _float_tensor(fn, "weight", weight)
        _same_dtype(fn, weight, input, "weight", "input")
        if weight.shape != input.shape:
            raise ValueError(f"{fn}: Weights and input must have the same size, got weight {tuple(weight.shape)} "
                             f"and input {tuple(input.shape)}")
    input, target = _broadcast_pair(fn, input, target)
    z = (input - target).abs()
    loss = where(z.detach().numpy() < delta, z * z * 0.5, (z - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _xlogy_self(t: Tensor) -> Tensor:
    """t * log(t), 0 where t == 0 (PyTorch's xlogy(t, t))."""
    zero = t.detach().numpy() == 0
    return where(zero, _const(0.0, t), t * where(zero, _const(1.0, t), t).log())


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Pointwise target * (log target - input) (input holds log-probabilities; with log_target the
    target too: exp(target) * (target - input)); reduced: 'batchmean' is the sum over the batch size,
    'mean' the mean over every element (PyTorch's warning says so)."""
    fn = "kl_div"
    input, target = _loss_inputs(fn, input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(fn, size_average, reduce, reduction)
    else:
        reduction = _check_reduction(fn, reduction, ("mean", "batchmean", "sum", "none"))
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                          "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                          "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} cannot be broadcast to input shape "
                         f"{tuple(input.shape)}") from None
    if log_target:
        pointwise = target.exp() * (target - input)
    else:
        pointwise = _xlogy_self(target) - target * input
    if reduction == "batchmean":
        total = pointwise.sum()
        return total / input.shape[0] if input.ndim else total
    return _reduce(pointwise, reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> Tensor:
    """-(y log sigmoid(x) + (1 - y) log sigmoid(-x)), times weight, averaged over the classes (last
    dim), then reduced over the samples."""
    fn = "multilabel_soft_margin_loss"
    input, target = _loss_inputs(fn, input, target)
    reduction = _check_reduction(fn, _legacy_reduction(fn, size_average, reduce, reduction))
    if input.ndim == 0:
        raise ValueError(f"{fn}: expected input of shape (C) or (N, C), got a 0-d tensor")
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{fn}: target shape {tuple(target.shape)} does not match input shape "
                         f"{tuple(input.shape)}") from None
    loss = -(target * logsigmoid(input) + (1.0 - target) * logsigmoid(-input))
    if weight is not None:
        weight = _float_tensor(fn, "weight", weight)
        _same_dtype(fn, weight, input, "weight", "input")
        try:
            np.broadcast_shapes(weight.shape, loss.shape)
        except ValueError:
            raise ValueError(f"{fn}: weight shape {tuple(weight.shape)} cannot be broadcast to input shape "
                             f"{tuple(input.shape)}") from None
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


__all__ = [
    "batch_norm", "cosine_similarity", "elu", "huber_loss", "kl_div", "logsigmoid", "mish",
    "multilabel_soft_margin_loss", "normalize", "pairwise_distance", "silu", "smooth_l1_loss", "softplus",
    "softsign",
]
