"""Four losses of torch.nn.functional composed from differentiable Tensor ops (smooth_l1_loss,
huber_loss, kl_div, multilabel_soft_margin_loss), with PyTorch's reduction, legacy
size_average/reduce and broadcasting rules. Re-exported by fastnn.nn.functional_extra and
fastnn.nn.functional."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn.nn.functional_activations import logsigmoid
from fastnn.nn.functional_checks import check_same_dtype, constant_like, float_tensor, real_number
from fastnn.ops.pointwise import where
from fastnn.tensor import Tensor


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


def _loss_inputs(fn: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    input = float_tensor(fn, "input", input)
    target = float_tensor(fn, "target", target)
    check_same_dtype(fn, input, target, "input", "target")
    return input, target


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """z = |input - target|: 0.5 z^2 / beta where z < beta, else z - 0.5 beta (|z| when beta = 0); reduced."""
    fn = "smooth_l1_loss"
    input, target = _loss_inputs(fn, input, target)
    beta = real_number(fn, "beta", beta)
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
    delta = real_number(fn, "delta", delta)
    if delta <= 0:
        raise ValueError(f"{fn}: does not support non-positive values for delta, got {delta}")
    reduction = _check_reduction(fn, reduction)
    if weight is not None:
        weight = float_tensor(fn, "weight", weight)
        check_same_dtype(fn, weight, input, "weight", "input")
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
    return where(zero, constant_like(0.0, t), t * where(zero, constant_like(1.0, t), t).log())


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
        weight = float_tensor(fn, "weight", weight)
        check_same_dtype(fn, weight, input, "weight", "input")
        try:
            np.broadcast_shapes(weight.shape, loss.shape)
        except ValueError:
            raise ValueError(f"{fn}: weight shape {tuple(weight.shape)} cannot be broadcast to input shape "
                             f"{tuple(input.shape)}") from None
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)
