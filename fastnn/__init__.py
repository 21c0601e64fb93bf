"""fastnn: a small deep-learning engine for fast training on the CPU, with PyTorch's API."""

from fastnn import threads  # first: sets the OpenMP wait policy before any runtime loads
from fastnn.backends import available_backends, get_backend, set_backend, use_backend
from fastnn.threads import get_num_threads, set_num_threads

__version__ = "0.1.0"

# The tensor layer and fastnn.nn, after the thread and backend setup above.
from fastnn import nn, random  # noqa: E402
from fastnn.random import get_rng_state, manual_seed, set_rng_state  # noqa: E402
from fastnn.tensor import (  # noqa: E402
    SparseTensor,
    Tensor,
    abs,
    allclose,
    arange,
    argmax,
    argmin,
    as_tensor,
    bool_,
    cat,
    clamp,
    empty,
    enable_grad,
    equal,
    exp,
    eye,
    flatten,
    float32,
    float64,
    from_numpy,
    full,
    full_like,
    int32,
    int64,
    is_grad_enabled,
    is_tensor,
    linspace,
    log,
    log1p,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    no_grad,
    numel,
    ones,
    ones_like,
    permute,
    rand,
    randint,
    randn,
    randperm,
    relu,
    reshape,
    set_grad_enabled,
    sigmoid,
    softmax,
    sqrt,
    squeeze,
    stack,
    sum,
    tanh,
    tensor,
    transpose,
    unsqueeze,
    where,
    zeros,
    zeros_like,
)

float = float32  # torch.float, torch.double, torch.long, torch.bool
double = float64
long = int64
bool = bool_

# The training utilities build on the tensor layer, so they are imported after everything above.
from fastnn import data, optim  # noqa: E402
from fastnn.io import load, save  # noqa: E402
from fastnn.safetensors import load_safetensors, save_safetensors  # noqa: E402  (the package loads on first call)


def __getattr__(name: str):
    """``fastnn.onnx`` and ``fastnn.sklearn`` load on first use: they need optional packages
    (pip install 'fastnn[interop]'), and ``import fastnn`` must not."""
    if name in ("onnx", "sklearn"):
        import importlib

        return importlib.import_module(f"fastnn.{name}")
    raise AttributeError(f"module 'fastnn' has no attribute {name!r}")


__all__ = [
    "__version__", "available_backends", "get_backend", "get_num_threads", "set_backend",
    "set_num_threads", "threads", "use_backend",
    "data", "load", "load_safetensors", "optim", "save", "save_safetensors",
    "allclose", "as_tensor", "equal", "eye", "full_like", "is_tensor", "linspace", "maximum", "minimum", "mm", "numel",
    "randint", "randperm", "set_grad_enabled",
    "SparseTensor", "Tensor", "arange", "bool", "bool_", "cat", "double", "empty", "enable_grad", "float", "float32",
    "float64",
    "from_numpy", "full", "get_rng_state", "int32", "int64", "is_grad_enabled", "long", "manual_seed",
    "set_rng_state", "matmul", "nn", "no_grad",
    "ones", "ones_like", "rand", "randn", "random", "stack", "tensor", "where", "zeros", "zeros_like",
    "abs", "argmax", "argmin", "clamp", "exp", "flatten", "log", "log1p", "log_softmax", "max", "mean", "min",
    "permute", "relu", "reshape", "sigmoid", "softmax", "sqrt", "squeeze", "sum", "tanh", "transpose", "unsqueeze",
]
