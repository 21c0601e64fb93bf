"""Layer normalisation: ``layer_norm`` (torch.nn.functional's) and the ``LayerNorm`` module.

y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias, the mean and the biased variance taken over
the last ``len(normalized_shape)`` dims, as in PyTorch. Forward and backward are the fused
``layer_norm_forward`` / ``layer_norm_backward`` kernels of the active backend.
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn.backends import get_backend
from fastnn.nn import init
from fastnn.nn.module import Module, Parameter

# The autodiff engine, the one place this module reaches it (``fastnn.tensor`` the attribute is the
# factory function, so the module is looked up by name): Tensor, and the graph-recording helper.
engine = importlib.import_module("fastnn.tensor")
Tensor = engine.Tensor


def _shape(normalized_shape: int | Sequence[int], where: str) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if not shape or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"{where}: normalized_shape must be a positive int or a non-empty sequence of them, "
                         f"got {normalized_shape!r}")
    return tuple(int(s) for s in shape)


def _param_array(value: Tensor | None, name: str, shape: tuple, dtype, where: str) -> np.ndarray | None:
    if value is None:
        return None
    if not isinstance(value, Tensor):
        raise TypeError(f"{where}: {name} must be a Tensor or None, got {type(value).__name__}")
    if tuple(value.shape) != shape:
        raise ValueError(f"{where}: {name} expected shape {shape} (normalized_shape), got {tuple(value.shape)}")
    if value.array.dtype != dtype:
        raise TypeError(f"{where}: {name} has dtype {value.array.dtype} but the input is {dtype}")
    return value.array.reshape(-1)


def layer_norm(input: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """torch.nn.functional.layer_norm: normalise over the trailing dims `normalized_shape`, then
    scale by `weight` and shift by `bias` (each of shape normalized_shape, or None)."""
    where = "layer_norm"
    shape = _shape(normalized_shape, where)
    if not isinstance(input, Tensor):
        raise TypeError(f"{where}: input must be a Tensor, got {type(input).__name__}")
    x = input.array
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: input must be a float tensor, got {x.dtype}")
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape):]) != shape:
        raise ValueError(f"{where}: expected input with shape (*, {', '.join(map(str, shape))}), "
                         f"got {tuple(x.shape)}")
    w = _param_array(weight, "weight", shape, x.dtype, where)
    b = _param_array(bias, "bias", shape, x.dtype, where)
    d = math.prod(shape)
    rows = np.ascontiguousarray(x).reshape(-1, d)
    backend = get_backend()
    out, mean, rstd = backend.layer_norm_forward(rows, w, b, eps)
    parents = tuple(t for t in (input, weight, bias) if t is not None)

    def backward(grad: np.ndarray) -> tuple:
        g = np.ascontiguousarray(grad).reshape(-1, d)
        dx, dw, db = backend.layer_norm_backward(g, rows, w, mean, rstd, b is not None)
        grads = [dx.reshape(x.shape)]
        if weight is not None:
            grads.append(dw.reshape(shape))
        if bias is not None:
            grads.append(db.reshape(shape))
        return tuple(grads)

    return engine._result(out.reshape(x.shape), parents, backward)


class LayerNorm(Module):
    """torch.nn.LayerNorm: y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias over the trailing
    dims `normalized_shape`; weight starts at ones and bias at zeros (PyTorch's initialisation).
    ``elementwise_affine=False`` keeps neither; ``bias=False`` keeps only the weight."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape, "LayerNorm")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"LayerNorm: eps must be a non-negative number, got {eps!r}")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = np.dtype(dtype or np.float32)
        if self.elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=dtype))
            self.bias = Parameter(np.empty(self.normalized_shape, dtype=dtype)) if bias else None
        else:
            self.weight = None
            self.bias = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


__all__ = ["LayerNorm", "layer_norm"]
