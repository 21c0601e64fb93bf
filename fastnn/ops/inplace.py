"""In-place updates (add_, mul_, copy_, fill_, zero_, clamp_, item assignment, +=).

They act on the tensor's array outside the graph: a tensor that requires grad may be updated in
place only with grad mode off (as a parameter update is, inside ``no_grad``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase
from fastnn.autograd.mode import is_grad_enabled
from fastnn.ops.arithmetic import binary_operands
from fastnn.ops.shape import index_arrays


def check_inplace(t: TensorBase, op: str) -> None:
    """Raise when `t` requires grad and grad mode is on."""
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{op}: a tensor that requires grad cannot be modified in place while grad mode "
                           "is on; wrap the update in fastnn.no_grad() (as for a parameter update)")


def update(t: TensorBase, op: str, ufunc: np.ufunc, other: Any) -> TensorBase:
    """t = ufunc(t, other) in t's array (other cast to t's dtype)."""
    check_inplace(t, op)
    _, y, _ = binary_operands(op, t, other)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ufunc(t.array, y, out=t.array, casting="same_kind")
    return t


class InplaceMethods:
    """Tensor's in-place methods."""

    __slots__ = ()

    def __iadd__(self, other: Any) -> TensorBase:
        return update(self, "add_", np.add, other)

    def __isub__(self, other: Any) -> TensorBase:
        return update(self, "sub_", np.subtract, other)

    def __imul__(self, other: Any) -> TensorBase:
        return update(self, "mul_", np.multiply, other)

    def __itruediv__(self, other: Any) -> TensorBase:
        return update(self, "div_", np.true_divide, other)

    def add_(self, other: Any, alpha: float = 1) -> TensorBase:
        return update(self, "add_", np.add, other if alpha == 1 else other * alpha)

    def sub_(self, other: Any, alpha: float = 1) -> TensorBase:
        return update(self, "sub_", np.subtract, other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> TensorBase:
        return update(self, "mul_", np.multiply, other)

    def div_(self, other: Any) -> TensorBase:
        return update(self, "div_", np.true_divide, other)

    def copy_(self, source: Any) -> TensorBase:
        """Copy `source` (broadcast, cast to this dtype) into this tensor's array."""
        check_inplace(self, "copy_")
        self.array[...] = source.array if isinstance(source, TensorBase) else source
        return self

    def fill_(self, value: float) -> TensorBase:
        check_inplace(self, "fill_")
        self.array[...] = value
        return self

    def zero_(self) -> TensorBase:
        check_inplace(self, "zero_")
        self.array[...] = 0
        return self

    def clamp_(self, min: float | None = None, max: float | None = None) -> TensorBase:  # noqa: A002
        check_inplace(self, "clamp_")
        np.clip(self.array, min, max, out=self.array)
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        check_inplace(self, "__setitem__")
        self.array[index_arrays(index)] = value.array if isinstance(value, TensorBase) else value


__all__ = ["InplaceMethods", "check_inplace", "update"]
