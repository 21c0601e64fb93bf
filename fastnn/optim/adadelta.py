"""Adadelta: steps scaled by the ratio of running RMS of past updates to that of gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn.optim import functional as F
from fastnn.optim.optimizer import Optimizer


class Adadelta(Optimizer):
    """torch.optim.Adadelta: g = grad + wd*p; v = rho*v + (1-rho)*g^2; delta = sqrt(u+eps)/sqrt(v+eps)*g;
    u = rho*u + (1-rho)*delta^2; p -= lr*delta.

    State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "square_avg", "acc_delta")

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        F.adadelta([p.array for p in params], grads, [s["square_avg"] for s in states],
                   [s["acc_delta"] for s in states], lr=group["lr"], rho=group["rho"], eps=group["eps"],
                   weight_decay=group["weight_decay"], maximize=group["maximize"], validate=False)
