"""Adam and AdamW, bias-corrected first and second moment estimates, optionally AMSGrad: the classes
:class:`Adam` and :class:`AdamW` and their functional forms :func:`adam` and :func:`adamw`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.backends import checks
from fastnn.optim.optimizer import Optimizer, ascent, check_gradients, check_states, check_steps, reject_sparse
from fastnn.optim.updates import validated_update


class Adam(Optimizer):
    """torch.optim.Adam. For each parameter p with gradient grad, at step t (counting from 1)::

        g = grad                                       (-grad when maximize)
        Adam:   g = g + weight_decay * p       AdamW (decoupled_weight_decay):  p *= 1 - lr * weight_decay
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        amsgrad:  vmax = max(vmax, v), used in place of v below
        p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq`` (vmax, amsgrad).
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False, fused: bool | None = None) -> None:
        arguments.pair(type(self).__name__, "betas", betas)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "decoupled_weight_decay": decoupled_weight_decay, "fused": fused}
        super().__init__(params, defaults)

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        beta1, beta2 = arguments.pair(owner, "betas", options["betas"])
        _check(owner, options["lr"], beta1, beta2, options["eps"], options["weight_decay"], options["amsgrad"],
               options["maximize"])
        arguments.flag(owner, "decoupled_weight_decay", options["decoupled_weight_decay"])

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return "does not support sparse gradients, please consider SparseAdam instead"

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        states = self._advance_states(group, params)
        beta1, beta2 = group["betas"]
        adam([p.array for p in params], grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
             [s.get("max_exp_avg_sq") for s in states], [s["step"] for s in states], amsgrad=group["amsgrad"],
             beta1=beta1, beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
             maximize=group["maximize"], decoupled_weight_decay=group["decoupled_weight_decay"], validate=False)


class AdamW(Adam):
    """torch.optim.AdamW: :class:`Adam` with decoupled weight decay (p *= 1 - lr * weight_decay before
    the Adam step), default weight_decay 1e-2."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True, fused=fused)


def _check(owner: str, lr: Any, beta1: Any, beta2: Any, eps: Any, weight_decay: Any, amsgrad: Any,
           maximize: Any) -> None:
    arguments.real(owner, "lr", lr, low=0.0, invalid="Invalid learning rate")
    arguments.real(owner, "eps", eps, low=0.0, invalid="Invalid epsilon value")
    arguments.real(owner, "betas[0]", beta1, low=0.0, high=1.0, high_open=True,
                   invalid="Invalid beta parameter at index 0")
    arguments.real(owner, "betas[1]", beta2, low=0.0, high=1.0, high_open=True,
                   invalid="Invalid beta parameter at index 1")
    arguments.real(owner, "weight_decay", weight_decay, low=0.0, invalid="Invalid weight_decay value")
    arguments.flag(owner, "amsgrad", amsgrad)
    arguments.flag(owner, "maximize", maximize)


def adam(params: list[np.ndarray], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
         exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[int], *,
         amsgrad: bool = False, beta1: float = 0.9, beta2: float = 0.999, lr: float = 1e-3,
         weight_decay: float = 0.0, eps: float = 1e-8, maximize: bool = False,
         decoupled_weight_decay: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`Adam` (its update rule; AdamW's with decoupled_weight_decay), in
    place on lists of arrays; ``state_steps`` hold each step count after this step's increment."""
    if validate:
        op = "adamw" if decoupled_weight_decay else "adam"
        _check(op, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize)
        arguments.flag(op, "decoupled_weight_decay", decoupled_weight_decay)
        check_gradients(op, params, grads)
        check_states(op, params, ("exp_avgs", "exp_avg_sqs") + (("max_exp_avg_sqs",) if amsgrad else ()),
                     exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs, max_exp_avg_sqs=max_exp_avg_sqs)
        check_steps(op, params, state_steps)
        reject_sparse(op, grads, "Adam does not support sparse gradients, please consider SparseAdam instead")
    options = (float(lr), float(beta1), float(beta2), float(eps), float(weight_decay), bool(amsgrad),
               bool(decoupled_weight_decay))
    for param, grad, m, v, vmax, step in zip(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps):
        validated_update("adam_update", param, ascent(grad, maximize), m, v, vmax if amsgrad else None,
                                 checks.integer("adam_update", "step", step, 1), *options)


def adamw(params: list[np.ndarray], grads: list[np.ndarray], exp_avgs: list[np.ndarray],
          exp_avg_sqs: list[np.ndarray], max_exp_avg_sqs: list[np.ndarray | None], state_steps: list[int], *,
          amsgrad: bool = False, beta1: float = 0.9, beta2: float = 0.999, lr: float = 1e-3,
          weight_decay: float = 1e-2, eps: float = 1e-8, maximize: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`AdamW`: :func:`adam` with decoupled weight decay."""
    adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, amsgrad=amsgrad, beta1=beta1,
         beta2=beta2, lr=lr, weight_decay=weight_decay, eps=eps, maximize=maximize, decoupled_weight_decay=True,
         validate=validate)


__all__ = ["Adam", "AdamW", "adam", "adamw"]
