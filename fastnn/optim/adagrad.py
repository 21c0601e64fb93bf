"""Adagrad, per-coordinate learning rates from the running sum of squared gradients: the class
:class:`Adagrad` and its functional form :func:`adagrad`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.backends import get_backend
from fastnn.optim.optimizer import (
    Optimizer,
    ascent,
    check_gradients,
    check_states,
    check_steps,
    reject_sparse,
    rowwise_update,
    validated_update,
)
from fastnn.tensor import SparseTensor


class Adagrad(Optimizer):
    """torch.optim.Adagrad. For each parameter p with gradient grad, at step t (counting from 1)::

        clr = lr / (1 + (t - 1) * lr_decay)
        g = grad + weight_decay * p                    (-grad when maximize)
        sum += g^2
        p -= clr * g / (sqrt(sum) + eps)

    State per parameter: ``step``, ``sum`` (starting at initial_accumulator_value).
    Row-sparse gradients (without weight decay, as torch) update only their rows of p and sum.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "maximize": maximize, "fused": fused}
        super().__init__(params, defaults)

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        _check(owner, options["lr"], options["lr_decay"], options["weight_decay"], options["eps"],
               options["maximize"])
        arguments.real(owner, "initial_accumulator_value", options["initial_accumulator_value"], low=0.0,
                       invalid="Invalid initial_accumulator_value value")

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "sum")

    def _initial_state(self, group: dict[str, Any], key: str, param) -> np.ndarray:
        return np.full_like(param.array, group["initial_accumulator_value"])

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return "weight_decay option is not compatible with sparse gradients" if group["weight_decay"] != 0 else None

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        adagrad([p.array for p in params], grads, [s["sum"] for s in states], [s["step"] for s in states],
                lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"], eps=group["eps"],
                maximize=group["maximize"], validate=False)


def _check(owner: str, lr: Any, lr_decay: Any, weight_decay: Any, eps: Any, maximize: Any) -> None:
    arguments.real(owner, "lr", lr, low=0.0, invalid="Invalid learning rate")
    arguments.real(owner, "lr_decay", lr_decay, low=0.0, invalid="Invalid lr_decay value")
    arguments.real(owner, "weight_decay", weight_decay, low=0.0, invalid="Invalid weight_decay value")
    arguments.real(owner, "eps", eps, low=0.0, invalid="Invalid epsilon value")
    arguments.flag(owner, "maximize", maximize)


def adagrad(params: list[np.ndarray], grads: list[np.ndarray], state_sums: list[np.ndarray],
            state_steps: list[int], *, lr: float, weight_decay: float = 0.0, lr_decay: float = 0.0,
            eps: float = 1e-10, maximize: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`Adagrad` (its update rule), in place on lists of arrays;
    ``state_steps`` hold each parameter's step count after this step's increment."""
    if validate:
        _check("adagrad", lr, lr_decay, weight_decay, eps, maximize)
        check_gradients("adagrad", params, grads)
        check_states("adagrad", params, ("state_sums",), state_sums=state_sums)
        check_steps("adagrad", params, state_steps)
        if weight_decay != 0:
            reject_sparse("adagrad", grads, "weight_decay option is not compatible with sparse gradients")
    backend = get_backend()
    for param, grad, state_sum, step in zip(params, grads, state_sums, state_steps):
        clr = lr / (1 + (step - 1) * lr_decay)
        if isinstance(grad, SparseTensor):
            rowwise_update(backend.adagrad_update, grad, maximize, param, state_sum, clr=clr, eps=eps)
        else:
            validated_update("adagrad_update", param, ascent(grad, maximize), state_sum, float(clr),
                                     float(weight_decay), float(eps))


__all__ = ["Adagrad", "adagrad"]
