"""Adam and AdamW: bias-corrected first and second moment estimates, optionally AMSGrad."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn.optim import functional as F
from fastnn.optim.optimizer import Optimizer


class Adam(Optimizer):
    """torch.optim.Adam: g = grad + wd*p (AdamW: p *= 1 - lr*wd instead); m = b1*m + (1-b1)*g;
    v = b2*v + (1-b2)*g^2 (amsgrad: vmax = max(vmax, v) replaces v);
    p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps).

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay, "fused": fused}
        super().__init__(params, defaults)

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return "does not support sparse gradients, please consider SparseAdam instead"

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        beta1, beta2 = group["betas"]
        F.adam([p.array for p in params], grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
               [s.get("max_exp_avg_sq") for s in states], [s["step"] for s in states], amsgrad=group["amsgrad"],
               beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
               maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"], validate=False)


class AdamW(Adam):
    """torch.optim.AdamW: Adam with decoupled weight decay (p *= 1 - lr*wd), default weight_decay 1e-2."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, fused=fused)
