"""Adadelta, steps scaled by the ratio of running RMS of past updates to that of gradients: the
class :class:`Adadelta` and its functional form :func:`adadelta`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.optim.optimizer import Optimizer, ascent, check_gradients, check_states, reject_sparse, validated_update


class Adadelta(Optimizer):
    """torch.optim.Adadelta. For each parameter p with gradient grad::

        g = grad + weight_decay * p                    (-grad when maximize)
        v = rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta^2
        p -= lr * delta

    State per parameter: ``step``, ``square_avg`` (v), ``acc_delta`` (u).
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        _check(owner, options["lr"], options["rho"], options["eps"], options["weight_decay"], options["maximize"])

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "square_avg", "acc_delta")

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        adadelta([p.array for p in params], grads, [s["square_avg"] for s in states],
                 [s["acc_delta"] for s in states], lr=group["lr"], rho=group["rho"], eps=group["eps"],
                 weight_decay=group["weight_decay"], maximize=group["maximize"], validate=False)


def _check(owner: str, lr: Any, rho: Any, eps: Any, weight_decay: Any, maximize: Any) -> None:
    arguments.real(owner, "lr", lr, low=0.0, invalid="Invalid learning rate")
    arguments.real(owner, "rho", rho, low=0.0, high=1.0, invalid="Invalid rho value")
    arguments.real(owner, "eps", eps, low=0.0, invalid="Invalid epsilon value")
    arguments.real(owner, "weight_decay", weight_decay, low=0.0, invalid="Invalid weight_decay value")
    arguments.flag(owner, "maximize", maximize)


def adadelta(params: list[np.ndarray], grads: list[np.ndarray], square_avgs: list[np.ndarray],
             acc_deltas: list[np.ndarray], *, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
             weight_decay: float = 0.0, maximize: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`Adadelta` (its update rule), in place on lists of arrays."""
    if validate:
        _check("adadelta", lr, rho, eps, weight_decay, maximize)
        check_gradients("adadelta", params, grads)
        check_states("adadelta", params, ("square_avgs", "acc_deltas"), square_avgs=square_avgs,
                     acc_deltas=acc_deltas)
        reject_sparse("adadelta", grads, "Adadelta does not support sparse gradients")
    options = (float(lr), float(rho), float(eps), float(weight_decay))
    for param, grad, square_avg, acc_delta in zip(params, grads, square_avgs, acc_deltas):
        validated_update("adadelta_update", param, ascent(grad, maximize), square_avg, acc_delta, *options)


__all__ = ["Adadelta", "adadelta"]
