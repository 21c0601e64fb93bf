"""RMSprop, gradients scaled by a running root mean square, optionally centred and with momentum:
the class :class:`RMSprop` and its functional form :func:`rmsprop`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.optim.optimizer import Optimizer, ascent, check_gradients, check_states, reject_sparse, validated_update


class RMSprop(Optimizer):
    """torch.optim.RMSprop. For each parameter p with gradient grad::

        g = grad + weight_decay * p                    (-grad when maximize)
        v = alpha * v + (1 - alpha) * g^2
        centered:  m = alpha * m + (1 - alpha) * g;  avg = sqrt(v - m^2) + eps
        else:      avg = sqrt(v) + eps
        momentum > 0:  buf = momentum * buf + g / avg;  p -= lr * buf
        else:          p -= lr * g / avg

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (m, centered).
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        _check(owner, options["lr"], options["alpha"], options["eps"], options["weight_decay"], options["momentum"],
               options["centered"], options["maximize"])

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return (("step", "square_avg") + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        rmsprop([p.array for p in params], grads, [s["square_avg"] for s in states],
                [s.get("grad_avg") for s in states], [s.get("momentum_buffer") for s in states],
                lr=group["lr"], alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                momentum=group["momentum"], centered=group["centered"], maximize=group["maximize"], validate=False)


def _check(owner: str, lr: Any, alpha: Any, eps: Any, weight_decay: Any, momentum: Any, centered: Any,
           maximize: Any) -> None:
    arguments.real(owner, "lr", lr, low=0.0, invalid="Invalid learning rate")
    arguments.real(owner, "eps", eps, low=0.0, invalid="Invalid epsilon value")
    arguments.real(owner, "momentum", momentum, low=0.0, invalid="Invalid momentum value")
    arguments.real(owner, "weight_decay", weight_decay, low=0.0, invalid="Invalid weight_decay value")
    arguments.real(owner, "alpha", alpha, low=0.0, invalid="Invalid alpha value")
    arguments.flag(owner, "centered", centered)
    arguments.flag(owner, "maximize", maximize)


def rmsprop(params: list[np.ndarray], grads: list[np.ndarray], square_avgs: list[np.ndarray],
            grad_avgs: list[np.ndarray | None], momentum_buffer_list: list[np.ndarray | None], *, lr: float,
            alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
            centered: bool = False, maximize: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`RMSprop` (its update rule), in place on lists of arrays;
    ``grad_avgs[i]`` is needed when centered, ``momentum_buffer_list[i]`` when momentum > 0."""
    if validate:
        _check("rmsprop", lr, alpha, eps, weight_decay, momentum, centered, maximize)
        check_gradients("rmsprop", params, grads)
        needed = ("square_avgs",) + (("grad_avgs",) if centered else ()) + (
            ("momentum_buffer_list",) if momentum > 0 else ())
        check_states("rmsprop", params, needed, square_avgs=square_avgs, grad_avgs=grad_avgs,
                     momentum_buffer_list=momentum_buffer_list)
        reject_sparse("rmsprop", grads, "RMSprop does not support sparse gradients")
    options = (float(lr), float(alpha), float(eps), float(weight_decay), float(momentum), bool(centered))
    for param, grad, square_avg, grad_avg, buf in zip(params, grads, square_avgs, grad_avgs, momentum_buffer_list):
        validated_update("rmsprop_update", param, ascent(grad, maximize), square_avg,
                                 buf if momentum > 0 else None, grad_avg if centered else None, *options)


__all__ = ["RMSprop", "rmsprop"]
