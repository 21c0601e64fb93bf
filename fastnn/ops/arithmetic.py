"""Arithmetic: + - * / ** @ and unary minus, with broadcasting; gradients sum back to each shape.

Operands follow :mod:`fastnn.autograd.dtypes` (no silent float promotion; scalars adopt the
tensor's dtype). Matrix products are NumPy's ``@`` (BLAS).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.dtypes import DEFAULT_FLOAT, PYTHON_SCALARS, infer_array, promote_arrays, promote_scalar
from fastnn.autograd.engine import TensorBase, record, unbroadcast, wrap
from fastnn.autograd.numerics import quiet
from fastnn.ops.checks import as_tensor


def binary_operands(op: str, a: TensorBase, other: Any) -> tuple[np.ndarray, Any, TensorBase | None]:
    """(a's array, other's array or scalar, other as a tensor or None when it is a constant)."""
    if isinstance(other, TensorBase):
        x, y = promote_arrays(op, a.array, other.array)
        return x, y, other
    if isinstance(other, PYTHON_SCALARS):
        x, y = promote_scalar(a.array, other)
        return x, y, None
    other = wrap(other if isinstance(other, np.ndarray) else infer_array(other, None))
    return binary_operands(op, a, other)


def constant_like(value: Any, like: TensorBase) -> TensorBase:
    """A Python scalar or array as a tensor, a scalar in `like`'s float dtype (reflected operators)."""
    if isinstance(value, TensorBase):
        return value
    if isinstance(value, PYTHON_SCALARS) and like.array.dtype.kind == "f":
        return wrap(np.asarray(value, dtype=like.array.dtype))
    return wrap(infer_array(value, None))


@quiet
def add(a: TensorBase, other: Any) -> TensorBase:
    """a + other."""
    x, y, o = binary_operands("add", a, other)
    if o is None:
        return record(x + y, (a,), lambda g: (g,), "AddBackward0")
    xs, ys = x.shape, y.shape
    return record(x + y, (a, o), lambda g: (unbroadcast(g, xs), unbroadcast(g, ys)), "AddBackward0")


@quiet
def sub(a: TensorBase, other: Any) -> TensorBase:
    """a - other."""
    x, y, o = binary_operands("sub", a, other)
    if o is None:
        return record(x - y, (a,), lambda g: (g,), "SubBackward0")
    xs, ys = x.shape, y.shape
    return record(x - y, (a, o), lambda g: (unbroadcast(g, xs), unbroadcast(-g, ys)), "SubBackward0")


@quiet
def mul(a: TensorBase, other: Any) -> TensorBase:
    """a * other: d/da = g * other, d/dother = g * a."""
    x, y, o = binary_operands("mul", a, other)
    if o is None:
        return record(x * y, (a,), lambda g: (g * y,), "MulBackward0")
    xs, ys = x.shape, y.shape
    return record(x * y, (a, o), lambda g: (unbroadcast(g * y, xs), unbroadcast(g * x, ys)), "MulBackward0")


@quiet
def div(a: TensorBase, other: Any) -> TensorBase:
    """a / other (true division; integers give float32): d/da = g / y, d/dy = -g * out / y."""
    x, y, o = binary_operands("div", a, other)
    if x.dtype.kind != "f" and (o is None or y.dtype.kind != "f"):
        x = x.astype(DEFAULT_FLOAT)
        y = np.asarray(y).astype(DEFAULT_FLOAT)
    out = x / y
    if o is None:
        return record(out, (a,), lambda g: (g / y,), "DivBackward0")
    xs, ys = x.shape, y.shape
    return record(out, (a, o), lambda g: (unbroadcast(g / y, xs), unbroadcast(-g * out / y, ys)), "DivBackward0")


@quiet
def pow(a: TensorBase, exponent: Any) -> TensorBase:  # noqa: A001 - torch.pow
    """a ** exponent: d/da = g * y * a^(y-1), d/dy = g * out * log(a)."""
    x, y, o = binary_operands("pow", a, exponent)
    out = x**y
    if o is None:
        return record(out, (a,), lambda g: (g * y * x ** (y - 1),), "PowBackward0")
    xs, ys = x.shape, y.shape

    def backward(g: np.ndarray) -> tuple:
        gy = unbroadcast(g * out * np.log(x), ys) if o.requires_grad else None
        return unbroadcast(g * y * x ** (y - 1), xs), gy

    return record(out, (a, o), backward, "PowBackward1")


def neg(a: TensorBase) -> TensorBase:
    """-a."""
    return record(-a.array, (a,), lambda g: (-g,), "NegBackward0")


@quiet
def matmul(a: Any, b: Any) -> TensorBase:
    """a @ b with NumPy's matmul rules (1-D operands, batch broadcasting); BLAS does the work."""
    a, b = as_tensor(a, "matmul"), as_tensor(b, "matmul")
    x, y, _ = binary_operands("matmul", a, b)
    if x.ndim == 0 or y.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got {x.shape} and {y.shape}")
    if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
        raise RuntimeError(f"matmul: shapes {x.shape} and {y.shape} cannot be multiplied "
                           f"({x.shape[-1]} != {y.shape[-2 if y.ndim > 1 else 0]})")
    out = x @ y
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    out_shape2 = np.broadcast_shapes(x2.shape[:-2], y2.shape[:-2]) + (x2.shape[-2], y2.shape[-1])

    def backward(g: np.ndarray) -> tuple:
        g2 = g.reshape(out_shape2)
        dx = unbroadcast(g2 @ np.swapaxes(y2, -1, -2), x2.shape).reshape(x.shape) if a.requires_grad else None
        dy = unbroadcast(np.swapaxes(x2, -1, -2) @ g2, y2.shape).reshape(y.shape) if b.requires_grad else None
        return dx, dy

    return record(out, (a, b), backward, "MmBackward0" if x.ndim == y.ndim == 2 else "MatmulBackward0")


def bmm(a: Any, b: Any) -> TensorBase:
    """Batched matrix product of (B, n, m) and (B, m, p)."""
    a, b = as_tensor(a, "bmm"), as_tensor(b, "bmm")
    if a.array.ndim != 3 or b.array.ndim != 3 or a.array.shape[0] != b.array.shape[0]:
        raise RuntimeError(f"bmm: expects two 3-D tensors with one batch size, got {a.array.shape} and {b.array.shape}")
    return matmul(a, b)


def dot(a: Any, b: Any) -> TensorBase:
    """The inner product of two 1-D tensors of one length."""
    a, b = as_tensor(a, "dot"), as_tensor(b, "dot")
    if a.array.ndim != 1 or b.array.shape != a.array.shape:
        raise RuntimeError(f"dot: expects two 1-D tensors of one length, got {a.array.shape} and {b.array.shape}")
    return matmul(a, b)


def outer(a: Any, b: Any) -> TensorBase:
    """a_i * b_j of two 1-D tensors."""
    a, b = as_tensor(a, "outer"), as_tensor(b, "outer")
    if a.array.ndim != 1 or b.array.ndim != 1:
        raise RuntimeError(f"outer: expects two 1-D tensors, got {a.array.shape} and {b.array.shape}")
    return mul(a.reshape(-1, 1), b)


class ArithmeticMethods:
    """Tensor's operators + - * / ** @ and their PyTorch method names."""

    __slots__ = ()

    __add__ = __radd__ = add
    __sub__ = sub
    __mul__ = __rmul__ = mul
    __truediv__ = div
    __pow__ = pow
    __neg__ = neg
    __matmul__ = matmul

    def __rsub__(self, other: Any) -> TensorBase:
        return sub(constant_like(other, self), self)

    def __rtruediv__(self, other: Any) -> TensorBase:
        return div(constant_like(other, self), self)

    def __rpow__(self, base: Any) -> TensorBase:
        return pow(constant_like(base, self), self)

    def __rmatmul__(self, other: Any) -> TensorBase:
        return matmul(as_tensor(other, "matmul"), self)

    def add(self, other: Any, alpha: float = 1) -> TensorBase:
        """self + alpha * other."""
        return add(self, other if alpha == 1 else other * alpha)

    def sub(self, other: Any, alpha: float = 1) -> TensorBase:
        """self - alpha * other."""
        return sub(self, other if alpha == 1 else other * alpha)

    mul = mul
    multiply = mul
    div = div
    divide = div
    true_divide = div
    neg = neg
    negative = neg
    pow = pow
    matmul = matmul
    mm = matmul
    bmm = bmm
    dot = dot
    outer = outer

    def square(self) -> TensorBase:
        return mul(self, self)


__all__ = ["ArithmeticMethods", "add", "binary_operands", "bmm", "constant_like", "div", "dot", "matmul", "mul", "neg",
           "outer", "pow", "sub"]
