"""RMSprop: gradients scaled by a running root mean square, optionally centred and with momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn.optim import functional as F
from fastnn.optim.optimizer import Optimizer


class RMSprop(Optimizer):
    """torch.optim.RMSprop: g = grad + wd*p; v = alpha*v + (1-alpha)*g^2; centered: m = alpha*m + (1-alpha)*g,
    avg = sqrt(v - m^2) + eps, else avg = sqrt(v) + eps; momentum > 0: buf = momentum*buf + g/avg, p -= lr*buf;
    else p -= lr*g/avg.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        F.rmsprop([p.array for p in params], grads, [s["square_avg"] for s in states],
                  [s.get("grad_avg") for s in states], [s.get("momentum_buffer") for s in states],
                  lr=group["lr"], alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                  momentum=group["momentum"], centered=group["centered"], maximize=group["maximize"], validate=False)
