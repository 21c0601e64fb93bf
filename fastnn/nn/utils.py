"""Gradient clipping with torch.nn.utils' names and semantics: clip_grad_norm_, clip_grad_value_.

Both act in place on the ``.grad`` of the given parameters (those whose grad is None are
skipped); a row-sparse gradient is clipped through its stored rows (the rows it lacks are zero
and change neither the norm nor the clamp). ``foreach`` is accepted and ignored (there is one
implementation). The compiled training step applies the same rules to its flat gradient buffer
(``fastnn.compile_step(..., max_grad_norm=..., clip_value=...)``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from fastnn.tensor import SparseTensor, Tensor, from_numpy


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[np.ndarray]:
    """The gradient arrays (values of row-sparse ones) of the parameters that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    arrays = []
    for param in parameters:
        grad = param.grad
        if grad is None:
            continue
        arrays.append(grad.values().array if isinstance(grad, SparseTensor) else grad.array)
    return arrays


def total_norm(arrays: list[np.ndarray], norm_type: float) -> float:
    """The norm_type-norm of the norms of the arrays (= the norm of all their entries together):
    max |g| for inf, else (sum |g|^p)^(1/p); accumulated in float64."""
    if norm_type == math.inf:
        return max((float(np.max(np.abs(a))) if a.size else 0.0 for a in arrays), default=0.0)
    if norm_type == 2.0:
        return math.sqrt(sum(float(np.dot(a.reshape(-1).astype(np.float64), a.reshape(-1).astype(np.float64)))
                             for a in arrays))
    return float(sum(float(np.sum(np.abs(a.astype(np.float64)) ** norm_type)) for a in arrays)) ** (1.0 / norm_type)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale all gradients by min(1, max_norm / (total_norm + 1e-6)), in place, where total_norm
    is the norm_type-norm of all gradients together; returns total_norm (a 0-d tensor).

    With error_if_nonfinite a nan/inf total norm raises RuntimeError and nothing changes; without
    it the gradients are scaled by the non-finite coefficient (as torch does)."""
    norm_type = float(norm_type)
    if norm_type <= 0 and norm_type != math.inf:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive or inf, got {norm_type}")
    arrays = _grads(parameters)
    if not arrays:
        return from_numpy(np.asarray(0.0, dtype=np.float32))
    total = total_norm(arrays, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    coef = min(float(max_norm) / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    with np.errstate(invalid="ignore"):  # inf * 0 = nan, as in torch
        for array in arrays:
            array *= array.dtype.type(coef)
    return from_numpy(np.asarray(total, dtype=arrays[0].dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for array in _grads(parameters):
        np.clip(array, -clip_value, clip_value, out=array)


__all__ = ["clip_grad_norm_", "clip_grad_value_", "total_norm"]
