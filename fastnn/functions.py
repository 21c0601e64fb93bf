"""PyTorch's function forms (fastnn.exp(t), fastnn.sum(t, 1), ...) and tensor factories.

A function form ``fastnn.f(t, ...)`` is ``t.f(...)`` (t converted to a tensor first), as
``torch.f``. Factories draw random numbers from fastnn's global generator (fastnn.manual_seed)
and default to float32, as PyTorch does.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from fastnn import random
from fastnn.autograd.device import check_device
from fastnn.autograd.dtypes import DEFAULT_FLOAT, infer_array, int64, to_dtype
from fastnn.autograd.engine import TensorBase, wrap
from fastnn.ops.arithmetic import constant_like, matmul
from fastnn.ops.checks import as_tensor as to_tensor
from fastnn.ops.einsum import einsum
from fastnn.ops.gather import nonzero_tuple
from fastnn.ops.pointwise import maximum, minimum
from fastnn.ops.pointwise import where as choose
from fastnn.ops.shape import cat, size_tuple, stack


def _method(name: str) -> Callable:
    def function(input: Any, *args: Any, **kwargs: Any) -> Any:
        return getattr(to_tensor(input), name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"fastnn.{name}(t, ...) is t.{name}(...), as torch.{name}."
    return function


def _binary(name: str) -> Callable:
    def function(input: Any, other: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(other, TensorBase) and not isinstance(input, TensorBase):
            input = constant_like(input, other)  # torch.pow(2, t): the scalar takes t's dtype
        return getattr(to_tensor(input), name)(other, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"fastnn.{name}(a, b, ...) is a.{name}(b, ...), as torch.{name}."
    return function


(exp, log, log1p, log2, log10, expm1, sqrt, rsqrt, reciprocal, sin, cos, tan, abs, sign, floor, ceil,  # noqa: A001
 round, trunc, neg, negative, square, tanh, sigmoid, relu, clamp, clip, isnan, isfinite, isinf) = (
    _method(n) for n in ("exp", "log", "log1p", "log2", "log10", "expm1", "sqrt", "rsqrt", "reciprocal", "sin",
                         "cos", "tan", "abs", "sign", "floor", "ceil", "round", "trunc", "neg", "negative", "square",
                         "tanh", "sigmoid", "relu", "clamp", "clip", "isnan", "isfinite", "isinf"))
sum, mean, argmax, argmin, var, std, norm, logsumexp, cumsum, all, any = (  # noqa: A001
    _method(n) for n in ("sum", "mean", "argmax", "argmin", "var", "std", "norm", "logsumexp", "cumsum", "all",
                         "any"))
(reshape, flatten, squeeze, unsqueeze, transpose, permute, movedim, t, softmax, log_softmax, index_select,
 masked_fill, clone, detach, sort, argsort, topk, gather, scatter_add, zero_, fill_, clamp_, is_floating_point,
 flip, narrow, select, split, chunk, unbind, prod, amax, amin, clamp_min, clamp_max, logical_not, bmm, dot, outer) = (
    _method(n) for n in ("reshape", "flatten", "squeeze", "unsqueeze", "transpose", "permute", "movedim", "t",
                         "softmax", "log_softmax", "index_select", "masked_fill", "clone", "detach", "sort",
                         "argsort", "topk", "gather", "scatter_add", "zero_", "fill_", "clamp_",
                         "is_floating_point", "flip", "narrow", "select", "split", "chunk", "unbind", "prod", "amax",
                         "amin", "clamp_min", "clamp_max", "logical_not", "bmm", "dot", "outer"))
(add, sub, subtract, mul, multiply, div, divide, true_divide, pow, eq, ne, lt, le, gt, ge, atan2,  # noqa: A001
 remainder, fmod, floor_divide, logical_and, logical_or, logical_xor) = (
    _binary(n) for n in ("add", "sub", "sub", "mul", "multiply", "div", "divide", "true_divide", "pow", "eq", "ne",
                         "lt", "le", "gt", "ge", "atan2", "remainder", "fmod", "floor_divide", "logical_and",
                         "logical_or", "logical_xor"))
subtract.__name__ = subtract.__qualname__ = "subtract"
abs_, exp_, log_, neg_, relu_, sigmoid_, sqrt_, tanh_ = (_method(n) for n in (
    "abs_", "exp_", "log_", "neg_", "relu_", "sigmoid_", "sqrt_", "tanh_"))
mm = matmul
concat = concatenate = cat


def max(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001 - torch.max
    """max(t) -> the largest value; max(t, dim) -> (values, indices); max(a, b) -> element-wise max."""
    if isinstance(dim, TensorBase):
        return maximum(input, dim)
    return to_tensor(input).max(dim, keepdim)


def min(input: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001 - torch.min
    """min(t) -> the smallest value; min(t, dim) -> (values, indices); min(a, b) -> element-wise min."""
    if isinstance(dim, TensorBase):
        return minimum(input, dim)
    return to_tensor(input).min(dim, keepdim)


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """where(c, a, b) -> c ? a : b element-wise; where(c) -> the indices of c's true elements per dim."""
    if input is None and other is None:
        return nonzero_tuple(condition)
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither")
    return choose(condition, input, other)


def is_tensor(obj: Any) -> bool:
    """True for a fastnn tensor."""
    return isinstance(obj, TensorBase)


def numel(t: Any) -> int:
    return to_tensor(t).array.size


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """|a - b| <= atol + rtol * |b| everywhere."""
    return bool(np.allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a: Any, b: Any) -> bool:
    """True when both have the same shape and elements."""
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


# ------------------------------------------------------------------------------------ factories
def _new(data: np.ndarray, requires_grad: bool) -> Any:
    t = wrap(data)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    """A new tensor holding a copy of `data`, with PyTorch's dtype inference."""
    check_device("tensor", device)
    return _new(infer_array(data, to_dtype(dtype)), requires_grad)


def from_numpy(array: np.ndarray) -> Any:
    """A tensor sharing `array`'s memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return wrap(array)


def as_tensor(data: Any, dtype: Any = None, *, device: Any = None) -> Any:
    """`data` as a tensor, sharing memory with a NumPy array (or a tensor) of the right dtype."""
    check_device("as_tensor", device)
    if isinstance(data, TensorBase):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return wrap(data)
    return tensor(data, dtype=dtype)


def zeros(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    check_device("zeros", device)
    return _new(np.zeros(size_tuple(size), dtype=to_dtype(dtype) or DEFAULT_FLOAT), requires_grad)


def ones(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    check_device("ones", device)
    return _new(np.ones(size_tuple(size), dtype=to_dtype(dtype) or DEFAULT_FLOAT), requires_grad)


def empty(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    check_device("empty", device)
    return _new(np.empty(size_tuple(size), dtype=to_dtype(dtype) or DEFAULT_FLOAT), requires_grad)


def full(size: Sequence[int], fill_value: float, dtype: Any = None, requires_grad: bool = False,
         *, device: Any = None) -> Any:
    check_device("full", device)
    array = infer_array(fill_value, to_dtype(dtype))
    return _new(np.full(tuple(size), array, dtype=array.dtype), requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    check_device("zeros_like", device)
    t = to_tensor(t)
    return _new(np.zeros(t.array.shape, dtype=to_dtype(dtype) or t.array.dtype), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    check_device("ones_like", device)
    t = to_tensor(t)
    return _new(np.ones(t.array.shape, dtype=to_dtype(dtype) or t.array.dtype), requires_grad)


def full_like(t: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    check_device("full_like", device)
    t = to_tensor(t)
    return _new(np.full(t.array.shape, fill_value, dtype=to_dtype(dtype) or t.array.dtype), requires_grad)


def empty_like(t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    check_device("empty_like", device)
    t = to_tensor(t)
    return _new(np.empty(t.array.shape, dtype=to_dtype(dtype) or t.array.dtype), requires_grad)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    """Standard normal samples of t's shape and (float) dtype."""
    check_device("randn_like", device)
    t = to_tensor(t)
    return randn(*t.array.shape, dtype=dtype or t.array.dtype, requires_grad=requires_grad)


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    """Uniform samples in [0, 1) of t's shape and (float) dtype."""
    check_device("rand_like", device)
    t = to_tensor(t)
    return rand(*t.array.shape, dtype=dtype or t.array.dtype, requires_grad=requires_grad)


def randint_like(t: Any, low: int, high: int | None = None, dtype: Any = None, *, device: Any = None) -> Any:
    """Integers uniform in [low, high) (or [0, low)) of t's shape and dtype."""
    check_device("randint_like", device)
    t = to_tensor(t)
    return randint(low, high, t.array.shape, dtype=dtype or t.array.dtype)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, *, device: Any = None) -> Any:
    check_device("eye", device)
    return _new(np.eye(n, m, dtype=to_dtype(dtype) or DEFAULT_FLOAT), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False,
             *, device: Any = None) -> Any:
    check_device("linspace", device)
    return _new(np.linspace(start, end, steps).astype(to_dtype(dtype) or DEFAULT_FLOAT), requires_grad)


def randint(low: int, high: int | None = None, size: Sequence[int] = (), dtype: Any = None,
            *, device: Any = None) -> Any:
    """Integers uniform in [low, high) (or [0, low) given one bound) from fastnn's global generator."""
    check_device("randint", device)
    if high is None:
        low, high = 0, low
    return wrap(random.default_generator().integers(low, high, tuple(size)).astype(to_dtype(dtype) or int64))


def randperm(n: int, dtype: Any = None, *, device: Any = None) -> Any:
    """A random permutation of 0..n-1 from fastnn's global generator."""
    check_device("randperm", device)
    return wrap(random.default_generator().permutation(n).astype(to_dtype(dtype) or int64))


def randn(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """Standard normal samples from fastnn's global generator."""
    check_device("randn", device)
    dtype = to_dtype(dtype) or DEFAULT_FLOAT
    return _new(random.default_generator().standard_normal(size_tuple(size), dtype=dtype), requires_grad)


def rand(*size: int, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Any:
    """Uniform samples in [0, 1) from fastnn's global generator."""
    check_device("rand", device)
    dtype = to_dtype(dtype) or DEFAULT_FLOAT
    return _new(random.default_generator().random(size_tuple(size), dtype=dtype), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False, *, device: Any = None) -> Any:
    """Values start, start+step, ... < end; int64 when all arguments are ints, else float32."""
    check_device("arange", device)
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = builtins.all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else DEFAULT_FLOAT
    return _new(np.arange(start, end, step).astype(dtype), requires_grad)


__all__ = [
    "abs", "abs_", "add", "all", "allclose", "amax", "amin", "any", "arange", "argmax", "argmin", "argsort",
    "as_tensor", "atan2", "bmm", "cat", "ceil", "chunk", "clamp", "clamp_", "clamp_max", "clamp_min", "clip",
    "clone", "concat", "concatenate", "cos", "cumsum", "detach", "div", "divide", "dot", "einsum", "empty",
    "empty_like", "eq", "equal", "exp", "exp_", "expm1", "eye", "fill_", "flatten", "flip", "floor", "floor_divide",
    "fmod", "from_numpy", "full", "full_like", "gather", "ge", "gt", "index_select", "is_floating_point",
    "is_tensor", "isfinite", "isinf", "isnan", "le", "linspace", "log", "log10", "log1p", "log2", "log_",
    "log_softmax", "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mm", "movedim", "mul", "multiply", "narrow", "ne", "neg",
    "neg_", "negative", "norm", "numel", "ones", "ones_like", "outer", "permute", "pow", "prod", "rand", "rand_like",
    "randint", "randint_like", "randn", "randn_like", "randperm", "reciprocal", "relu", "relu_", "remainder",
    "reshape", "round", "rsqrt", "scatter_add", "select", "sigmoid", "sigmoid_", "sign", "sin", "softmax", "sort",
    "split", "sqrt", "sqrt_", "square", "squeeze", "stack", "std", "sub", "subtract", "sum", "t", "tan", "tanh",
    "tanh_", "tensor", "topk", "transpose", "true_divide", "trunc", "unbind", "unsqueeze", "var", "where", "zero_",
    "zeros", "zeros_like",
]
