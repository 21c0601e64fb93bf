"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn.optim import functional as F
from fastnn.optim.optimizer import Optimizer


class SGD(Optimizer):
    """torch.optim.SGD: g = grad + wd*p; with momentum, buf = g (first step) else
    momentum*buf + (1-dampening)*g, and g = g + momentum*buf (nesterov) or buf; p -= lr*g.

    State per parameter (momentum != 0 only): ``momentum_buffer``.

    Row-sparse gradients are accepted without weight decay (as torch): without momentum only their
    rows change; with momentum every row moves by its (dense) buffer, as torch's sparse buffer does.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "fused": fused}
        super().__init__(params, defaults)

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return "weight_decay option is not compatible with sparse gradients" if group["weight_decay"] != 0 else None

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        buffers = [self.state[p].get("momentum_buffer") for p in params]
        F.sgd([p.array for p in params], grads, buffers, lr=group["lr"], weight_decay=group["weight_decay"],
              momentum=group["momentum"], dampening=group["dampening"], nesterov=group["nesterov"],
              maximize=group["maximize"], validate=False)
        if group["momentum"] != 0:
            for param, buffer in zip(params, buffers):
                self.state[param]["momentum_buffer"] = buffer
