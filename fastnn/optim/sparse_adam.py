"""SparseAdam, lazy Adam for row-sparse gradients (embedding tables with sparse=True): the class
:class:`SparseAdam` and its functional form :func:`sparse_adam`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.backends import get_backend
from fastnn.optim.optimizer import Optimizer, check_gradients, check_states, check_steps, rowwise_update
from fastnn.tensor import SparseTensor


class SparseAdam(Optimizer):
    """torch.optim.SparseAdam. For each parameter p, at step t (counting the parameter's updates),
    only the rows r its sparse gradient g holds change::

        m[r] = beta1 * m[r] + (1 - beta1) * g          (-g when maximize)
        v[r] = beta2 * v[r] + (1 - beta2) * g^2
        p[r] -= lr * sqrt(1 - beta2^t) / (1 - beta1^t) * m[r] / (sqrt(v[r]) + eps)

    Rows not in a batch keep their moments (no decay) and values. That is the Adam kernel on the
    gathered rows with eps / sqrt(1 - beta2^t) for eps.

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v). Dense gradients are rejected.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, maximize: bool = False) -> None:
        arguments.pair(type(self).__name__, "betas", betas)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize}
        super().__init__(params, defaults)

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        beta1, beta2 = arguments.pair(owner, "betas", options["betas"])
        _check(owner, options["lr"], beta1, beta2, options["eps"], options["maximize"])

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        return ("step", "exp_avg", "exp_avg_sq")

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        return None

    def _dense_grad_error(self, group: dict[str, Any]) -> str | None:
        return "does not support dense gradients, please consider Adam instead"

    def _update_group(self, group: dict[str, Any], params: list, grads: list) -> None:
        states = self._advance_states(group, params)
        beta1, beta2 = group["betas"]
        sparse_adam([p.array for p in params], grads, [s["exp_avg"] for s in states],
                    [s["exp_avg_sq"] for s in states], [s["step"] for s in states], eps=group["eps"],
                    beta1=beta1, beta2=beta2, lr=group["lr"], maximize=group["maximize"], validate=False)


def _check(owner: str, lr: Any, beta1: Any, beta2: Any, eps: Any, maximize: Any) -> None:
    arguments.real(owner, "lr", lr, low=0.0, low_open=True, invalid="Invalid learning rate")
    arguments.real(owner, "eps", eps, low=0.0, low_open=True, invalid="Invalid epsilon value")
    arguments.real(owner, "betas[0]", beta1, low=0.0, high=1.0, high_open=True,
                   invalid="Invalid beta parameter at index 0")
    arguments.real(owner, "betas[1]", beta2, low=0.0, high=1.0, high_open=True,
                   invalid="Invalid beta parameter at index 1")
    arguments.flag(owner, "maximize", maximize)


def sparse_adam(params: list[np.ndarray], grads: list[SparseTensor], exp_avgs: list[np.ndarray],
                exp_avg_sqs: list[np.ndarray], state_steps: list[int], *, eps: float = 1e-8, beta1: float = 0.9,
                beta2: float = 0.999, lr: float = 1e-3, maximize: bool = False, validate: bool = True) -> None:
    """The functional form of :class:`SparseAdam` (its update rule), in place on lists of arrays;
    every gradient must be row-sparse."""
    if validate:
        _check("sparse_adam", lr, beta1, beta2, eps, maximize)
        check_gradients("sparse_adam", params, grads)
        check_states("sparse_adam", params, ("exp_avgs", "exp_avg_sqs"), exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs)
        check_steps("sparse_adam", params, state_steps)
    for i, grad in enumerate(grads):
        if not isinstance(grad, SparseTensor):
            raise RuntimeError(f"sparse_adam: SparseAdam does not support dense gradients (param {i} "
                               f"{np.shape(grad)}), please consider Adam instead")
    backend = get_backend()
    for param, grad, m, v, step in zip(params, grads, exp_avgs, exp_avg_sqs, state_steps):
        rowwise_update(backend.adam_update, grad, maximize, param, m, v, step=step, lr=lr, beta1=beta1, beta2=beta2,
                       eps=eps / math.sqrt(1 - beta2 ** step))


__all__ = ["SparseAdam", "sparse_adam"]
