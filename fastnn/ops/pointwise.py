"""Element-wise functions (exp, log, sqrt, abs, clamp, where, maximum...) and comparisons.

Comparisons return bool tensors outside the graph, for any dtypes (as in PyTorch). Results that
overflow or leave the domain (exp of a large number, log of a negative) are inf/nan without a
NumPy warning, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, record, unbroadcast, wrap
from fastnn.ops.arithmetic import binary_operands, constant_like
from fastnn.ops.checks import as_tensor

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore", "under": "ignore"}


def exp(t: TensorBase) -> TensorBase:
    """e^x; the gradient is g * e^x."""
    with np.errstate(**_QUIET):
        out = np.exp(t.array)
    return record(out, (t,), lambda g: (g * out,), "ExpBackward0")


def log(t: TensorBase) -> TensorBase:
    """ln x; the gradient is g / x."""
    x = t.array
    with np.errstate(**_QUIET):
        out = np.log(x)

    def backward(g: np.ndarray) -> tuple:
        with np.errstate(**_QUIET):
            return (g / x,)

    return record(out, (t,), backward, "LogBackward0")


def log1p(t: TensorBase) -> TensorBase:
    """ln(1 + x); the gradient is g / (1 + x)."""
    x = t.array
    with np.errstate(**_QUIET):
        out = np.log1p(x)

    def backward(g: np.ndarray) -> tuple:
        with np.errstate(**_QUIET):
            return (g / (1 + x),)

    return record(out, (t,), backward, "Log1PBackward0")


def sqrt(t: TensorBase) -> TensorBase:
    """sqrt(x); the gradient is g / (2 sqrt(x))."""
    with np.errstate(**_QUIET):
        out = np.sqrt(t.array)

    def backward(g: np.ndarray) -> tuple:
        with np.errstate(**_QUIET):
            return (g / (2 * out),)

    return record(out, (t,), backward, "SqrtBackward0")


def abs(t: TensorBase) -> TensorBase:  # noqa: A001 - torch.abs
    """|x|; the gradient is g * sign(x) (0 at 0, as in PyTorch)."""
    x = t.array
    return record(np.abs(x), (t,), lambda g: (g * np.sign(x),), "AbsBackward0")


def clamp(t: TensorBase, min: float | None = None, max: float | None = None) -> TensorBase:  # noqa: A002
    """Clip to [min, max]; the gradient passes where min <= x <= max (as PyTorch)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    x = t.array
    typ = x.dtype.type
    out = np.clip(x, None if min is None else typ(min), None if max is None else typ(max))
    inside = np.ones(x.shape, dtype=bool)
    if min is not None:
        inside &= x >= typ(min)
    if max is not None:
        inside &= x <= typ(max)
    return record(out, (t,), lambda g: (g * inside,), "ClampBackward1")


def where(condition: Any, a: Any, b: Any) -> TensorBase:
    """Element-wise condition ? a : b; gradients flow to the branch chosen."""
    cond = condition.array if isinstance(condition, TensorBase) else np.asarray(condition)
    if isinstance(b, TensorBase) and not isinstance(a, TensorBase):
        a = constant_like(a, b)
    a = as_tensor(a)
    b = constant_like(b, a)
    x, y, _ = binary_operands("where", a, b)
    out = np.where(cond, x, y)
    xs, ys = x.shape, y.shape
    zero = out.dtype.type(0)
    return record(out, (a, b), lambda g: (unbroadcast(np.where(cond, g, zero), xs),
                                          unbroadcast(np.where(cond, zero, g), ys)), "WhereBackward0")


def maximum(a: Any, b: Any) -> TensorBase:
    """Element-wise max; where the two are equal the gradient goes to the first."""
    a = as_tensor(a)
    b = constant_like(b, a)
    return where(a.array >= b.array, a, b)


def minimum(a: Any, b: Any) -> TensorBase:
    """Element-wise min; where the two are equal the gradient goes to the first."""
    a = as_tensor(a)
    b = constant_like(b, a)
    return where(a.array <= b.array, a, b)


def masked_fill(t: TensorBase, mask: Any, value: float) -> TensorBase:
    """mask ? value : t, element-wise (mask broadcasts); no gradient where filled."""
    return where(mask, wrap(np.asarray(value, dtype=t.array.dtype)), t)


def compare(op: str, ufunc: np.ufunc, a: TensorBase, other: Any) -> TensorBase:
    """Element-wise comparison, a bool tensor outside the graph."""
    y = other.array if isinstance(other, TensorBase) else other
    try:
        return wrap(np.asarray(ufunc(a.array, y)))
    except ValueError:
        raise RuntimeError(f"{op}: shapes {a.array.shape} and {np.shape(y)} do not broadcast") from None


def eq(a: TensorBase, other: Any) -> TensorBase:
    return compare("eq", np.equal, a, other)


def ne(a: TensorBase, other: Any) -> TensorBase:
    return compare("ne", np.not_equal, a, other)


def lt(a: TensorBase, other: Any) -> TensorBase:
    return compare("lt", np.less, a, other)


def le(a: TensorBase, other: Any) -> TensorBase:
    return compare("le", np.less_equal, a, other)


def gt(a: TensorBase, other: Any) -> TensorBase:
    return compare("gt", np.greater, a, other)


def ge(a: TensorBase, other: Any) -> TensorBase:
    return compare("ge", np.greater_equal, a, other)


def isnan(t: TensorBase) -> TensorBase:
    return wrap(np.isnan(t.array))


def isfinite(t: TensorBase) -> TensorBase:
    return wrap(np.isfinite(t.array))


class PointwiseMethods:
    """Tensor's element-wise methods and comparison operators."""

    __slots__ = ()

    exp = exp
    log = log
    log1p = log1p
    sqrt = sqrt
    abs = __abs__ = abs
    clamp = clip = clamp
    maximum = maximum
    minimum = minimum
    masked_fill = masked_fill
    __eq__ = eq = eq  # type: ignore[assignment]
    __ne__ = ne = ne  # type: ignore[assignment]
    __lt__ = lt = lt
    __le__ = le = le
    __gt__ = gt = gt
    __ge__ = ge = ge
    isnan = isnan
    isfinite = isfinite


__all__ = ["PointwiseMethods", "abs", "clamp", "compare", "eq", "exp", "ge", "gt", "isfinite", "isnan", "le", "log",
           "log1p", "lt", "masked_fill", "maximum", "minimum", "ne", "sqrt", "where"]
