"""torch.autograd.Variable, for older code: since PyTorch 0.4 a Variable is a tensor, so
``Variable(t)`` returns `t` itself (with requires_grad set when asked) and every tensor is an
instance of Variable."""

from __future__ import annotations

from typing import Any

from fastnn.autograd.dtypes import infer_array
from fastnn.autograd.engine import TensorBase, wrap


class _VariableMeta(type):
    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, TensorBase)


class Variable(metaclass=_VariableMeta):
    """``Variable(data, requires_grad=False)``: `data` itself when it is a tensor (else a new tensor)."""

    def __new__(cls, data: Any, requires_grad: bool = False, volatile: bool = False) -> Any:
        t = data if isinstance(data, TensorBase) else wrap(infer_array(data, None))
        if requires_grad:
            t.requires_grad_(True)
        return t


__all__ = ["Variable"]
