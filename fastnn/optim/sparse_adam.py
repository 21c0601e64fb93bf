"""SparseAdam: lazy Adam for row-sparse gradients (embedding tables with sparse=True)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastnn.optim import functional as F
from fastnn.optim.optimizer import Optimizer


class SparseAdam(Optimizer):
    """torch.optim.SparseAdam: Adam's moments and parameters updated only at the rows r the sparse
    gradient holds: m[r] = b1*m[r] + (1-b1)*g; v[r] = b2*v[r] + (1-b2)*g^2;
    p[r] -= lr*sqrt(1-b2^step)/(1-b1^step) * m[r] / (sqrt(v[r]) + eps), ``step`` counting the
    parameter's updates. Rows not in a batch keep their moments (no decay) and values.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``. Dense gradients are rejected.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq")

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return None

    def _dense_grad_error(self, group: dict[str, Any]) -> str | None:
        return "does not support dense gradients, please consider Adam instead"

    def _update_group(self, group: dict[str, Any], params: list, grads: list) -> None:
        states = self._advance_states(group, params)
        beta1, beta2 = group["betas"]
        F.sparse_adam([p.array for p in params], grads, [s["exp_avg"] for s in states],
                      [s["exp_avg_sq"] for s in states], [s["step"] for s in states], eps=group["eps"],
                      beta1=beta1, beta2=beta2, lr=group["lr"], maximize=group["maximize"], validate=False)


__all__ = ["SparseAdam"]
