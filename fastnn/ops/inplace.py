"""In-place updates (add_, mul_, copy_, fill_, zero_, clamp_, item assignment, +=).

They act on the tensor's array outside the graph: a tensor that requires grad may be updated in
place only with grad mode off (as a parameter update is, inside ``no_grad``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import random
from fastnn.autograd.engine import TensorBase
from fastnn.autograd.mode import is_grad_enabled
from fastnn.ops import pointwise
from fastnn.ops.activations import activation
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


def apply_(t: TensorBase, op: str, compute: Any) -> TensorBase:
    """t = compute(t) in t's array (the op's value written back, cast to t's dtype)."""
    check_inplace(t, op)
    t.array[...] = compute(t).array
    return t


def _float_only(t: TensorBase, op: str) -> None:
    if t.array.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating point tensor, got {t.array.dtype}")


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

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> TensorBase:
        """Fill with samples uniform in [a, b) from fastnn's global generator."""
        _float_only(self, "uniform_")
        check_inplace(self, "uniform_")
        self.array[...] = random.default_generator().uniform(a, b, self.array.shape)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> TensorBase:
        """Fill with normal samples of `mean` and `std` from fastnn's global generator."""
        _float_only(self, "normal_")
        check_inplace(self, "normal_")
        self.array[...] = random.default_generator().normal(mean, std, self.array.shape)
        return self

    def masked_fill_(self, mask: Any, value: float) -> TensorBase:
        return apply_(self, "masked_fill_", lambda t: pointwise.masked_fill(t, mask, value))

    def pow_(self, exponent: Any) -> TensorBase:
        return update(self, "pow_", np.power, exponent)

    def exp_(self) -> TensorBase:
        return apply_(self, "exp_", pointwise.exp)

    def log_(self) -> TensorBase:
        return apply_(self, "log_", pointwise.log)

    def sqrt_(self) -> TensorBase:
        return apply_(self, "sqrt_", pointwise.sqrt)

    def abs_(self) -> TensorBase:
        return apply_(self, "abs_", pointwise.abs)

    def neg_(self) -> TensorBase:
        check_inplace(self, "neg_")
        np.negative(self.array, out=self.array)
        return self

    def relu_(self) -> TensorBase:
        return apply_(self, "relu_", lambda t: activation(t, "relu"))

    def sigmoid_(self) -> TensorBase:
        return apply_(self, "sigmoid_", lambda t: activation(t, "sigmoid"))

    def tanh_(self) -> TensorBase:
        return apply_(self, "tanh_", lambda t: activation(t, "tanh"))

    def __setitem__(self, index: Any, value: Any) -> None:
        check_inplace(self, "__setitem__")
        self.array[index_arrays(index)] = value.array if isinstance(value, TensorBase) else value


__all__ = ["InplaceMethods", "apply_", "check_inplace", "update"]
