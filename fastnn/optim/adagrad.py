"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn.optim import functional as F
from fastnn.optim.optimizer import Optimizer


class Adagrad(Optimizer):
    """torch.optim.Adagrad: clr = lr / (1 + (step-1)*lr_decay); g = grad + wd*p; sum += g^2;
    p -= clr * g / (sqrt(sum) + eps).

    State per parameter: ``step``, ``sum`` (starting at initial_accumulator_value).
    Row-sparse gradients (without weight decay, as torch) update only their rows of p and sum.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "maximize": maximize, "fused": fused}
        super().__init__(params, defaults)

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "sum")

    def _initial_state(self, group: dict[str, Any], key: str, param) -> np.ndarray:
        return np.full_like(param.array, group["initial_accumulator_value"])

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return "weight_decay option is not compatible with sparse gradients" if group["weight_decay"] != 0 else None

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        F.adagrad([p.array for p in params], grads, [s["sum"] for s in states], [s["step"] for s in states],
                  lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"], eps=group["eps"],
                  maximize=group["maximize"], validate=False)
