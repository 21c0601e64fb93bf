"""Loss modules: thin wrappers over fastnn.nn.functional with PyTorch's constructor arguments."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.nn import functional as F
from fastnn.nn.module import Module
from fastnn.tensor import Tensor


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = arguments.choice(type(self).__name__, "reduction", reduction, ("mean", "sum", "none"))

    def _tensor_or_none(self, name: str, value: Any) -> Any:
        """A weight argument: a Tensor (or array) of floats, or None."""
        if value is None:
            return None
        array = value.array if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            got = getattr(array, "dtype", type(value).__name__)
            raise TypeError(f"{type(self).__name__}: {name} must be a float Tensor or None, got {got}")
        return value

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """(input - target)^2, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """|input - target|, reduced."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities, logs clamped at -100; optional elementwise weight."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = self._tensor_or_none("weight", weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits (stable); optional elementwise weight and pos_weight."""

    def __init__(self, weight: Tensor | None = None, reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction)
        self.weight = self._tensor_or_none("weight", weight)
        self.pos_weight = self._tensor_or_none("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits against class indices or probabilities (fused kernel)."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight = self._tensor_or_none("weight", weight)
        self.ignore_index = arguments.integer("CrossEntropyLoss", "ignore_index", ignore_index)
        self.label_smoothing = arguments.real("CrossEntropyLoss", "label_smoothing", label_smoothing, low=0.0,
                                              high=1.0)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities against class indices."""

    def __init__(self, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = self._tensor_or_none("weight", weight)
        self.ignore_index = arguments.integer("NLLLoss", "ignore_index", ignore_index)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


# ------------------------------------------------------------------------------------ more losses
# Composed from differentiable Tensor ops (fastnn.nn.functional_extra). size_average/reduce are
# PyTorch's deprecated pair, mapped to a reduction with PyTorch's warning.
from fastnn.nn import functional_extra as FX  # noqa: E402


def _reduction_of(name: str, size_average: bool | None, reduce: bool | None, reduction: str,
                  allowed: tuple = ("mean", "sum", "none")) -> str:
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "mean" if size_average and reduce else "sum" if reduce else "none"
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(allowed)}, got {reduction!r}")
    return reduction


class SmoothL1Loss(_Loss):
    """z = |input - target|: 0.5 z^2 / beta where z < beta, else z - 0.5 beta; reduced."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(_reduction_of("SmoothL1Loss", size_average, reduce, reduction))
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be a non-negative number, got {beta!r}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """z = |input - target|: 0.5 z^2 where z < delta, else delta (z - 0.5 delta); reduced."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"HuberLoss: delta must be a positive number, got {delta!r}")
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities `input` from `target`; reduction also 'batchmean'."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        reduction = _reduction_of("KLDivLoss", size_average, reduce, reduction, ("mean", "batchmean", "sum", "none"))
        super().__init__("mean")
        self.reduction = reduction
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class MultiLabelSoftMarginLoss(_Loss):
    """Per-class logistic loss averaged over the classes, then reduced; optional per-class weight."""

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(_reduction_of("MultiLabelSoftMarginLoss", size_average, reduce, reduction))
        if weight is not None and not isinstance(weight, Tensor):
            raise TypeError(f"MultiLabelSoftMarginLoss: weight must be a Tensor or None, got {type(weight).__name__}")
        self.register_buffer("weight", weight)  # as torch's _WeightedLoss: in the state_dict when given

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.multilabel_soft_margin_loss(input, target, self.weight, reduction=self.reduction)


__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
           "MultiLabelSoftMarginLoss", "NLLLoss", "SmoothL1Loss"]
