"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay:
the class :class:`SGD` and its functional form :func:`sgd`."""

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
    reject_sparse,
    rowwise_update,
    validated_update,
)
from fastnn.tensor import SparseTensor


class SGD(Optimizer):
    """torch.optim.SGD. For each parameter p with gradient grad::

        g = grad + weight_decay * p                    (-grad when maximize)
        momentum != 0:  buf = g on the first step, else momentum * buf + (1 - dampening) * g
                        g = g + momentum * buf  (nesterov)  or  g = buf
        p -= lr * g

    State per parameter (momentum != 0 only): ``momentum_buffer``.

    Row-sparse gradients are accepted without weight decay (as torch): without momentum only their
    rows change; with momentum every row moves by its (dense) buffer, as torch's sparse buffer does.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False,
                 fused: bool | None = None) -> None:
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "fused": fused}
        super().__init__(params, defaults)

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        _check(owner, options["lr"], options["momentum"], options["dampening"], options["weight_decay"],
               options["nesterov"], options["maximize"])

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return "weight_decay option is not compatible with sparse gradients" if group["weight_decay"] != 0 else None

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        buffers = [self.state[p].get("momentum_buffer") for p in params]
        sgd([p.array for p in params], grads, buffers, lr=group["lr"], weight_decay=group["weight_decay"],
            momentum=group["momentum"], dampening=group["dampening"], nesterov=group["nesterov"],
            maximize=group["maximize"], validate=False)
        if group["momentum"] != 0:
            for param, buffer in zip(params, buffers):
                self.state[param]["momentum_buffer"] = buffer


def _check(owner: str, lr: Any = 1e-3, momentum: Any = 0.0, dampening: Any = 0.0, weight_decay: Any = 0.0,
           nesterov: Any = False, maximize: Any = False) -> None:
    arguments.real(owner, "lr", lr, low=0.0, invalid="Invalid learning rate")
    arguments.real(owner, "momentum", momentum, low=0.0, invalid="Invalid momentum value")
    arguments.real(owner, "dampening", dampening, invalid="Invalid dampening value")
    arguments.real(owner, "weight_decay", weight_decay, low=0.0, invalid="Invalid weight_decay value")
    arguments.flag(owner, "nesterov", nesterov)
    arguments.flag(owner, "maximize", maximize)
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError(f"{owner}: Nesterov momentum requires a momentum and zero dampening")


def sgd(params: list[np.ndarray], grads: list[np.ndarray], momentum_buffer_list: list[np.ndarray | None], *,
        lr: float, weight_decay: float = 0.0, momentum: float = 0.0, dampening: float = 0.0,
        nesterov: bool = False, maximize: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`SGD` (its update rule), in place on lists of arrays.

    A momentum buffer that is None is created from the first step's gradient and stored back into
    ``momentum_buffer_list``. Row-sparse grads: only without weight decay (as torch).
    """
    if validate:
        _check("sgd", lr, momentum, dampening, weight_decay, nesterov, maximize)
        check_gradients("sgd", params, grads)
        check_states("sgd", params, momentum_buffer_list=momentum_buffer_list)
        if weight_decay != 0:
            reject_sparse("sgd", grads, "weight_decay option is not compatible with sparse gradients")
    backend = get_backend()
    lr, momentum, dampening, weight_decay = float(lr), float(momentum), float(dampening), float(weight_decay)
    nesterov = bool(nesterov)
    for i, (param, grad) in enumerate(zip(params, grads)):
        if isinstance(grad, SparseTensor) and momentum == 0:
            rowwise_update(backend.sgd_update, grad, maximize, param, lr=lr)
            continue
        if isinstance(grad, SparseTensor):
            grad = grad.to_dense().array
        buf = momentum_buffer_list[i] if momentum != 0 else None
        first_step = momentum != 0 and buf is None
        if first_step:
            buf = momentum_buffer_list[i] = np.empty_like(param)
        validated_update("sgd_update", param, ascent(grad, maximize), buf, lr, momentum, dampening,
                                 weight_decay, nesterov, first_step)


__all__ = ["SGD", "sgd"]
