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


__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss", "NLLLoss"]
