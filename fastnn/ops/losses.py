"""Losses: mse, l1, binary cross-entropy (on probabilities and on logits), cross-entropy and nll.

The hot ones run fused kernels that return the loss and its gradient in one pass (mse,
bce_with_logits, softmax + cross-entropy); the rest are composed from differentiable ops.
'mean' averages over the elements (the targets counted, for the class losses).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, record, wrap
from fastnn.autograd.numerics import quiet
from fastnn.backends import get_backend
from fastnn.ops.activations import log_softmax, relu
from fastnn.ops.arithmetic import mul, sub
from fastnn.ops.checks import (
    as_tensor,
    contiguous,
    float_input,
    labels_in_range,
    same_dtype,
    same_shape,
)
from fastnn.ops.checks import reduction as check_reduction
from fastnn.ops.pointwise import abs, exp, log1p
from fastnn.ops.reduce import mean, sum
from fastnn.ops.shape import movedim, reshape


def reduce_loss(loss: TensorBase, how: str) -> TensorBase:
    """Apply the reduction 'mean', 'sum' or 'none' to element-wise losses."""
    if how == "mean":
        return mean(loss)
    if how == "sum":
        return sum(loss)
    return loss


def _pair(op: str, input: Any, target: Any) -> tuple[TensorBase, TensorBase]:
    input = float_input(op, "input", input)
    target = float_input(op, "target", target)
    same_shape(op, input, target)
    same_dtype(op, input, target)
    return input, target


@quiet
def mse_loss(input: Any, target: Any, reduction: str = "mean") -> TensorBase:  # noqa: A002 - torch's name
    """mean/sum of (input - target)^2, by the mse kernel; shapes must match."""
    input, target = _pair("mse_loss", input, target)
    check_reduction("mse_loss", reduction)
    loss, dinput = get_backend().mse_loss(input.array, target.array, reduction)

    def backward(g: np.ndarray) -> tuple:
        d = dinput * g
        return d, (-d if target.requires_grad else None)

    return record(np.asarray(loss), (input, target), backward, "MseLossBackward0")


@quiet
def l1_loss(input: Any, target: Any, reduction: str = "mean") -> TensorBase:
    """mean/sum of |input - target|; shapes must match."""
    input, target = _pair("l1_loss", input, target)
    return reduce_loss(abs(sub(input, target)), check_reduction("l1_loss", reduction))


def _elementwise_weight(op: str, name: str, value: Any, input: TensorBase) -> TensorBase:
    """A per-element weight (weight, pos_weight): a tensor of input's dtype that broadcasts to input."""
    weight = as_tensor(value, op, name)
    same_dtype(op, input, weight, "input", name)
    try:
        np.broadcast_shapes(weight.array.shape, input.array.shape)
    except ValueError:
        raise ValueError(f"{op}: {name} of shape {weight.array.shape} does not broadcast to the input's shape "
                         f"{input.array.shape}") from None
    return weight


@quiet
def binary_cross_entropy(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> TensorBase:
    """-(t log p + (1-t) log(1-p)), each log clamped at -100 as in PyTorch; p must lie in [0, 1].

    The gradient is (p - t) / max(p(1-p), 1e-12), PyTorch's formula."""
    input, target = _pair("binary_cross_entropy", input, target)
    check_reduction("binary_cross_entropy", reduction)
    p, t = input.array, target.array
    if p.size and ((p < 0).any() or (p > 1).any() or np.isnan(p).any()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")
    typ = p.dtype.type
    log_p = np.maximum(np.log(p), typ(-100))
    log_1mp = np.maximum(np.log1p(-p), typ(-100))
    loss = -(t * log_p + (1 - t) * log_1mp)

    def backward(g: np.ndarray) -> tuple:
        dinput = g * (p - t) / np.maximum((1 - p) * p, typ(1e-12))
        dtarget = g * (log_1mp - log_p) if target.requires_grad else None
        return dinput, dtarget

    elementwise = record(loss, (input, target), backward, "BinaryCrossEntropyBackward0")
    if weight is not None:
        elementwise = mul(elementwise, _elementwise_weight("binary_cross_entropy", "weight", weight, input))
    return reduce_loss(elementwise, reduction)


@quiet
def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> TensorBase:
    """Stable BCE on logits, max(x,0) - x t + log(1 + e^-|x|), by the fused kernel.

    With pos_weight: (1-t) x + (1 + (pw-1) t) (log(1 + e^-|x|) + max(-x, 0)), composed from ops."""
    op = "binary_cross_entropy_with_logits"
    input, target = _pair(op, input, target)
    check_reduction(op, reduction)
    if weight is not None:
        weight = _elementwise_weight(op, "weight", weight, input)
    if pos_weight is not None:
        pos_weight = _elementwise_weight(op, "pos_weight", pos_weight, input)
        softplus_neg = log1p(exp(-abs(input))) + relu(-input)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    else:
        kernel_reduction = reduction if weight is None else "none"
        value, dlogits = get_backend().bce_with_logits(input.array, target.array, kernel_reduction)
        x = input.array

        def backward(g: np.ndarray) -> tuple:
            dtarget = -g * x if target.requires_grad else None
            if kernel_reduction == "mean" and dtarget is not None:
                dtarget = dtarget / x.dtype.type(x.size)
            return dlogits * g, dtarget

        loss = record(np.asarray(value), (input, target), backward, "BinaryCrossEntropyWithLogitsBackward0")
        if weight is None:
            return loss
    if weight is not None:
        loss = mul(loss, weight)
    return reduce_loss(loss, reduction)


@quiet
def cross_entropy(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> TensorBase:
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) or (C,) against class indices
    (by the fused softmax_cross_entropy kernel) or class probabilities of the input's shape.

    loss_i = (1-eps) (-log p_i,t_i) + eps * mean_c(-log p_ic); ignored targets add nothing and
    'mean' divides by the number (with `weight`: the total weight) of the targets counted."""
    op = "cross_entropy"
    input = float_input(op, "input", input)
    check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    target = as_tensor(target, op, "target")
    if target.array.dtype.kind == "f":
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    logits, labels, spatial = _class_layout(op, input, target)
    if weight is not None:
        return _weighted_nll(op, log_softmax(logits, 1), labels, weight, ignore_index, reduction, label_smoothing,
                             spatial)
    loss, dlogits = _softmax_cross_entropy(logits.array, labels, reduction, int(ignore_index), float(label_smoothing))
    if reduction == "none":
        out = record(loss, (logits,), lambda g: (dlogits * g[:, None],), "NllLossBackward0")
        return reshape(out, spatial)
    return record(loss, (logits,), lambda g: (dlogits * g,), "NllLossBackward0")


def _softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray, how: str, ignore_index: int,
                           label_smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """The fused kernel on (M, C) logits and (M,) labels, its preconditions checked here (hot path)."""
    classes = logits.shape[1]
    if classes == 0:
        raise ValueError(f"cross_entropy: input must have at least one class, got shape {logits.shape}")
    if not (labels.dtype == np.int64 and labels.flags.c_contiguous and labels.size
            and labels.min() >= 0 and labels.max() < classes):
        labels_in_range("cross_entropy", labels, classes, ignore_index)
        labels = contiguous(labels, np.int64)
    return get_backend().unchecked.softmax_cross_entropy(contiguous(logits), labels, how, ignore_index,
                                                         label_smoothing)


def _class_layout(op: str, input: TensorBase, target: TensorBase) -> tuple[TensorBase, np.ndarray, tuple]:
    """Logits as (M, C) rows and labels as (M,), for input (N, C, d...) / (N, C) / (C,);
    also the shape of an unreduced loss."""
    labels = target.array
    if labels.dtype == np.bool_ or labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold class indices (int64) or probabilities (float), "
                        f"got {labels.dtype}")
    shape = input.array.shape
    if input.array.ndim == 1:
        if labels.shape != ():
            raise ValueError(f"{op}: input of shape {shape} expects a 0-d target, got {labels.shape}")
        return reshape(input, 1, -1), labels.reshape(1), ()
    if input.array.ndim < 1 or labels.shape != shape[:1] + shape[2:]:
        raise ValueError(f"{op}: expected target shape {shape[:1] + shape[2:]} for input {shape}, "
                         f"got {labels.shape}")
    if input.array.ndim == 2:
        return input, labels, labels.shape
    classes = shape[1]
    return reshape(movedim(input, 1, -1), -1, classes), labels.reshape(-1), labels.shape


def _weighted_nll(op: str, logp: TensorBase, labels: np.ndarray, weight: Any, ignore_index: int,
                  how: str, label_smoothing: float, spatial: tuple) -> TensorBase:
    """Class-weighted (and optionally smoothed) negative log-likelihood of log-probabilities (M, C)."""
    classes = logp.array.shape[1]
    weight = as_tensor(weight, op, "weight")
    if weight.array.shape != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), got {weight.array.shape}")
    same_dtype(op, logp, weight, "input", "weight")
    valid = labels != ignore_index
    safe = labels_in_range(op, labels, classes, ignore_index)
    rows = np.arange(labels.shape[0])
    mask = wrap(valid.astype(logp.array.dtype))
    w_t = weight[safe] * mask
    picked = -logp[rows, safe] * w_t
    if label_smoothing:
        smooth = -(logp * weight).sum(1) * mask / classes
        picked = picked * (1 - label_smoothing) + smooth * label_smoothing
    if how == "none":
        return reshape(picked, spatial)
    if how == "sum":
        return sum(picked)
    return sum(picked) / sum(w_t)


def _cross_entropy_probabilities(input: TensorBase, target: TensorBase, weight: Any, how: str,
                                 label_smoothing: float) -> TensorBase:
    op = "cross_entropy"
    same_shape(op, input, target)
    same_dtype(op, input, target)
    dim = 0 if input.array.ndim == 1 else 1
    classes = input.array.shape[dim]
    logp = log_softmax(input, dim)
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    if weight is not None:
        shape = [1] * input.array.ndim
        shape[dim] = classes
        weight = as_tensor(weight, op, "weight")
        if weight.array.shape != (classes,):
            raise ValueError(f"{op}: weight must have shape ({classes},), got {weight.array.shape}")
        same_dtype(op, input, weight, "input", "weight")
        logp = logp * reshape(weight, shape)
    loss = -sum(logp * target, dim)
    if how == "mean":
        return sum(loss) / max(input.array.size // max(classes, 1), 1)
    return reduce_loss(loss, how)


@quiet
def nll_loss(input: Any, target: Any, weight: Any = None, ignore_index: int = -100,
             reduction: str = "mean") -> TensorBase:
    """-input[i, target_i] of log-probabilities (N, C) / (N, C, d...) / (C,); ignore_index skipped,
    'mean' divides by the count (with `weight`: the total weight) of the targets counted."""
    op = "nll_loss"
    input = float_input(op, "input", input)
    check_reduction(op, reduction)
    logp, labels, spatial = _class_layout(op, input, as_tensor(target, op, "target"))
    classes = logp.array.shape[1]
    if weight is None:
        weight = wrap(np.ones(classes, dtype=logp.array.dtype))
    return _weighted_nll(op, logp, labels, weight, ignore_index, reduction, 0.0, spatial)


__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "l1_loss", "mse_loss",
           "nll_loss", "reduce_loss"]
