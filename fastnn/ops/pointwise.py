"""Element-wise functions (exp, log, sin, sqrt, abs, clamp, where, maximum...) and comparisons.

Each differentiable function is one line: its NumPy forward and its derivative as a function of
the input x and the output y. Comparisons return bool tensors outside the graph, for any dtypes
(as in PyTorch). Results that overflow or leave the domain are inf/nan, silently, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from fastnn.autograd.dtypes import DEFAULT_FLOAT
from fastnn.autograd.engine import TensorBase, record, unbroadcast, wrap
from fastnn.autograd.numerics import quiet
from fastnn.ops.arithmetic import binary_operands, constant_like
from fastnn.ops.checks import as_tensor


def _unary(name: str, forward: Callable, derivative: Callable | None, grad_fn: str, doc: str,
           keeps_integers: bool = False) -> Callable:
    """An element-wise op: out = forward(x); dx = g * derivative(x, out) (no gradient when None).
    Integer inputs are computed in float32, as PyTorch does, unless the op `keeps_integers`."""

    @quiet
    def op(t: Any) -> TensorBase:
        t = as_tensor(t, name)
        keep = keeps_integers or derivative is None or t.array.dtype.kind == "f"
        x = t.array if keep else t.array.astype(DEFAULT_FLOAT)
        out = np.asarray(forward(x))
        if derivative is None:
            return record(out, (t,), lambda g: (np.zeros_like(x),), grad_fn)
        return record(out, (t,), lambda g: (g * derivative(x, out),), grad_fn)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


_LN2, _LN10 = np.log(2.0), np.log(10.0)
exp = _unary("exp", np.exp, lambda x, y: y, "ExpBackward0", "e^x.")
log = _unary("log", np.log, lambda x, y: 1 / x, "LogBackward0", "ln x.")
log1p = _unary("log1p", np.log1p, lambda x, y: 1 / (1 + x), "Log1PBackward0", "ln(1 + x).")
log2 = _unary("log2", np.log2, lambda x, y: 1 / (x * x.dtype.type(_LN2)), "Log2Backward0", "log2 x.")
log10 = _unary("log10", np.log10, lambda x, y: 1 / (x * x.dtype.type(_LN10)), "Log10Backward0", "log10 x.")
expm1 = _unary("expm1", np.expm1, lambda x, y: y + 1, "Expm1Backward0", "e^x - 1.")
sqrt = _unary("sqrt", np.sqrt, lambda x, y: 1 / (2 * y), "SqrtBackward0", "sqrt(x).")
rsqrt = _unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda x, y: -0.5 * y * y * y, "RsqrtBackward0", "1 / sqrt(x).")
reciprocal = _unary("reciprocal", lambda x: 1 / x, lambda x, y: -y * y, "ReciprocalBackward0", "1 / x.")
sin = _unary("sin", np.sin, lambda x, y: np.cos(x), "SinBackward0", "sin x.")
cos = _unary("cos", np.cos, lambda x, y: -np.sin(x), "CosBackward0", "cos x.")
tan = _unary("tan", np.tan, lambda x, y: 1 + y * y, "TanBackward0", "tan x.")
abs = _unary("abs", np.abs, lambda x, y: np.sign(x), "AbsBackward0",  # noqa: A001 - torch.abs
             "|x| (the gradient is sign(x), 0 at 0, as in PyTorch).", keeps_integers=True)
sign = _unary("sign", np.sign, None, "SignBackward0", "-1, 0 or 1 (zero gradient).")
floor = _unary("floor", np.floor, None, "FloorBackward0", "The largest integer <= x (zero gradient).")
ceil = _unary("ceil", np.ceil, None, "CeilBackward0", "The smallest integer >= x (zero gradient).")
round = _unary("round", np.round, None, "RoundBackward0",  # noqa: A001 - torch.round
               "The nearest integer, halves to even as PyTorch (zero gradient).")
trunc = _unary("trunc", np.trunc, None, "TruncBackward0", "x rounded towards zero (zero gradient).")


@quiet
def atan2(a: Any, b: Any) -> TensorBase:
    """The angle of (b, a) in (-pi, pi]: d/da = b / (a^2 + b^2), d/db = -a / (a^2 + b^2)."""
    a = as_tensor(a, "atan2")
    x, y, o = binary_operands("atan2", a, b)
    out = np.arctan2(x, y)
    xs, ys = x.shape, np.shape(y)

    def backward(g: np.ndarray) -> tuple:
        scale = g / (x * x + y * y)
        return unbroadcast(scale * y, xs), (unbroadcast(-scale * x, ys) if o is not None else None)

    return record(out, (a,) if o is None else (a, o), backward, "Atan2Backward0")


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
    return select(condition, a, b, "WhereBackward0")


def select(condition: Any, a: Any, b: Any, name: str) -> TensorBase:
    """where(condition, a, b), recorded under the grad_fn `name` of the op that uses it."""
    cond = condition.array if isinstance(condition, TensorBase) else np.asarray(condition)
    if isinstance(b, TensorBase) and not isinstance(a, TensorBase):
        a = constant_like(a, b)
    a = as_tensor(a, name)
    b = constant_like(b, a)
    x, y, _ = binary_operands("where", a, b)
    out = np.where(cond, x, y)
    xs, ys = x.shape, y.shape
    zero = out.dtype.type(0)
    return record(out, (a, b), lambda g: (unbroadcast(np.where(cond, g, zero), xs),
                                          unbroadcast(np.where(cond, zero, g), ys)), name)


def maximum(a: Any, b: Any) -> TensorBase:
    """Element-wise max; where the two are equal the gradient goes to the first."""
    a = as_tensor(a, "maximum")
    b = constant_like(b, a)
    return select(a.array >= b.array, a, b, "MaximumBackward0")


def minimum(a: Any, b: Any) -> TensorBase:
    """Element-wise min; where the two are equal the gradient goes to the first."""
    a = as_tensor(a, "minimum")
    b = constant_like(b, a)
    return select(a.array <= b.array, a, b, "MinimumBackward0")


def masked_fill(t: TensorBase, mask: Any, value: float) -> TensorBase:
    """mask ? value : t, element-wise (mask broadcasts); no gradient where filled."""
    return select(mask, wrap(np.asarray(value, dtype=t.array.dtype)), t, "MaskedFillBackward0")


def clamp_min(t: TensorBase, min: float) -> TensorBase:  # noqa: A002
    return clamp(t, min=min)


def clamp_max(t: TensorBase, max: float) -> TensorBase:  # noqa: A002
    return clamp(t, max=max)


@quiet
def remainder(a: Any, b: Any) -> TensorBase:
    """a - floor(a / b) * b (the sign of b, Python's %): d/da = 1, d/db = -floor(a / b)."""
    a = as_tensor(a, "remainder")
    x, y, o = binary_operands("remainder", a, b)
    out = np.mod(x, y)
    xs, ys = x.shape, np.shape(y)
    return record(out, (a,) if o is None else (a, o), lambda g: (
        unbroadcast(g, xs), None if o is None else unbroadcast(-g * np.floor(x / y), ys)), "RemainderBackward0")


@quiet
def fmod(a: Any, b: Any) -> TensorBase:
    """a - trunc(a / b) * b (the sign of a, C's fmod): d/da = 1, d/db = -trunc(a / b)."""
    a = as_tensor(a, "fmod")
    x, y, o = binary_operands("fmod", a, b)
    out = np.fmod(x, y)
    xs, ys = x.shape, np.shape(y)
    return record(out, (a,) if o is None else (a, o), lambda g: (
        unbroadcast(g, xs), None if o is None else unbroadcast(-g * np.trunc(x / y), ys)), "FmodBackward0")


@quiet
def floor_divide(a: Any, b: Any) -> TensorBase:
    """floor(a / b), outside the graph (its gradient is zero), as torch.floor_divide."""
    a = as_tensor(a, "floor_divide")
    x, y, _ = binary_operands("floor_divide", a, b)
    return wrap(np.asarray(np.floor_divide(x, y)))


def logical(op: str, ufunc: np.ufunc, a: Any, *other: Any) -> TensorBase:
    """Element-wise logic on truth values (non-zero is true), a bool tensor outside the graph."""
    arrays = [v.array if isinstance(v, TensorBase) else np.asarray(v) for v in (a, *other)]
    try:
        return wrap(np.asarray(ufunc(*arrays)))
    except ValueError:
        raise RuntimeError(f"{op}: shapes {[x.shape for x in arrays]} do not broadcast") from None


def logical_and(a: Any, b: Any) -> TensorBase:
    return logical("logical_and", np.logical_and, a, b)


def logical_or(a: Any, b: Any) -> TensorBase:
    return logical("logical_or", np.logical_or, a, b)


def logical_xor(a: Any, b: Any) -> TensorBase:
    return logical("logical_xor", np.logical_xor, a, b)


def logical_not(a: Any) -> TensorBase:
    return logical("logical_not", np.logical_not, a)


def compare(op: str, ufunc: np.ufunc, a: Any, other: Any) -> TensorBase:
    """Element-wise comparison, a bool tensor outside the graph."""
    a = as_tensor(a, "compare")
    y = other.array if isinstance(other, TensorBase) else other
    try:
        with np.errstate(invalid="ignore"):
            return wrap(np.asarray(ufunc(a.array, y)))
    except ValueError:
        raise RuntimeError(f"{op}: shapes {a.array.shape} and {np.shape(y)} do not broadcast") from None


def eq(a: Any, other: Any) -> TensorBase:
    return compare("eq", np.equal, a, other)


def ne(a: Any, other: Any) -> TensorBase:
    return compare("ne", np.not_equal, a, other)


def lt(a: Any, other: Any) -> TensorBase:
    return compare("lt", np.less, a, other)


def le(a: Any, other: Any) -> TensorBase:
    return compare("le", np.less_equal, a, other)


def gt(a: Any, other: Any) -> TensorBase:
    return compare("gt", np.greater, a, other)


def ge(a: Any, other: Any) -> TensorBase:
    return compare("ge", np.greater_equal, a, other)


def isnan(t: Any) -> TensorBase:
    return wrap(np.isnan(as_tensor(t, "isnan").array))


def isfinite(t: Any) -> TensorBase:
    return wrap(np.isfinite(as_tensor(t, "isfinite").array))


def isinf(t: Any) -> TensorBase:
    return wrap(np.isinf(as_tensor(t, "isinf").array))


class PointwiseMethods:
    """Tensor's element-wise methods and comparison operators."""

    __slots__ = ()

    exp = exp
    log = log
    log1p = log1p
    log2 = log2
    log10 = log10
    expm1 = expm1
    sqrt = sqrt
    rsqrt = rsqrt
    reciprocal = reciprocal
    sin = sin
    cos = cos
    tan = tan
    abs = __abs__ = abs
    sign = sign
    floor = floor
    ceil = ceil
    round = round
    trunc = trunc
    atan2 = atan2
    clamp = clip = clamp
    clamp_min = clamp_min
    clamp_max = clamp_max
    remainder = __mod__ = remainder
    fmod = fmod
    floor_divide = __floordiv__ = floor_divide
    logical_and = logical_and
    logical_or = logical_or
    logical_xor = logical_xor
    logical_not = logical_not
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
    isinf = isinf


__all__ = ["PointwiseMethods", "abs", "atan2", "ceil", "clamp", "clamp_max", "clamp_min", "compare", "cos", "eq",
           "exp", "expm1", "floor", "floor_divide", "fmod", "ge", "gt", "isfinite", "isinf", "isnan", "le", "log",
           "log10", "log1p", "log2", "logical", "logical_and", "logical_not", "logical_or", "logical_xor", "lt",
           "masked_fill", "maximum", "minimum", "ne", "reciprocal", "remainder", "round", "rsqrt", "select", "sign",
           "sin", "sqrt", "tan", "trunc", "where"]
