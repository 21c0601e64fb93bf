"""fastnn: a small deep-learning engine for fast training on the CPU, with PyTorch's API."""

# The tensor layer and fastnn.nn, after the thread and backend setup above.
from fastnn import (  # noqa: E402
    accelerator,
    autograd,
    cuda,
    functions,
    nn,
    random,
    threads,  # first: sets the OpenMP wait policy before any runtime loads
)
from fastnn.autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled  # noqa: E402
from fastnn.autograd.device import device, get_default_device, set_default_device  # noqa: E402
from fastnn.autograd.dtypes import dtype, public  # noqa: E402
from fastnn.autograd.sparse import SparseTensor  # noqa: E402
from fastnn.backends import available_backends, get_backend, set_backend, use_backend
from fastnn.functions import (  # noqa: E402
    abs,
    abs_,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    arange,
    argmax,
    argmin,
    argsort,
    as_tensor,
    atan2,
    bmm,
    cat,
    ceil,
    chunk,
    clamp,
    clamp_,
    clamp_max,
    clamp_min,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    cumsum,
    detach,
    div,
    divide,
    dot,
    einsum,
    empty,
    empty_like,
    eq,
    equal,
    exp,
    exp_,
    expm1,
    eye,
    fill_,
    flatten,
    flip,
    floor,
    floor_divide,
    fmod,
    from_numpy,
    full,
    full_like,
    gather,
    ge,
    gt,
    index_select,
    is_floating_point,
    is_tensor,
    isfinite,
    isinf,
    isnan,
    le,
    linspace,
    log,
    log1p,
    log2,
    log10,
    log_,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    lt,
    masked_fill,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    movedim,
    mul,
    multiply,
    narrow,
    ne,
    neg,
    neg_,
    negative,
    norm,
    numel,
    ones,
    ones_like,
    outer,
    permute,
    pow,
    prod,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    reciprocal,
    relu,
    relu_,
    remainder,
    reshape,
    round,
    rsqrt,
    scatter_add,
    select,
    sigmoid,
    sigmoid_,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    sqrt_,
    square,
    squeeze,
    stack,
    std,
    sub,
    subtract,
    sum,
    t,
    tan,
    tanh,
    tanh_,
    tensor,
    topk,
    transpose,
    true_divide,
    trunc,
    unbind,
    unsqueeze,
    var,
    where,
    zero_,
    zeros,
    zeros_like,
)
from fastnn.legacy import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from fastnn.printing import get_printoptions, set_printoptions  # noqa: E402
from fastnn.random import Generator, get_rng_state, manual_seed, set_rng_state  # noqa: E402
from fastnn.tensor import Size, Tensor  # noqa: E402
from fastnn.threads import get_num_threads, set_num_threads
from fastnn.version import __version__  # noqa: E402

# The dtypes, printed as fastnn.float32 and usable wherever NumPy takes a dtype; torch's aliases.
float16, float32, float64, int8, int16, int32, int64, uint8, bool_ = (
    public(t) for t in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"))
half, float, double, short, int, long, bool = float16, float32, float64, int16, int32, int64, bool_  # noqa: A001

# The training utilities build on the tensor layer, so they are imported after everything above.
from fastnn import data, distributed, optim, utils  # noqa: E402  (utils: torch.utils.data's name for fastnn.data)
from fastnn.compile import compile, compile_step  # noqa: E402
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
    "__version__", "available_backends", "get_backend", "get_num_threads", "set_backend", "set_num_threads",
    "threads", "use_backend", "accelerator", "autograd", "compile", "compile_step", "cuda", "data", "distributed",
    "functions", "load", "load_safetensors", "nn", "optim", "random", "save_safetensors",
    "save", "get_rng_state", "manual_seed", "set_rng_state",
    "enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled",
    "device", "get_default_device", "set_default_device", "dtype", "Size", "SparseTensor", "Tensor",
    "get_printoptions", "set_printoptions",
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor", "LongTensor",
    "ShortTensor",
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_", "half", "float", "double",
    "short", "int", "long", "bool",
    # fastnn.functions
    "abs_", "exp_", "log_", "neg_", "relu_", "sigmoid_", "sqrt_", "tanh_",
    "amax", "amin", "bmm", "chunk", "clamp_max", "clamp_min", "dot", "flip",
    "floor_divide", "fmod", "logical_and", "logical_not", "logical_or", "logical_xor", "narrow", "outer",
    "prod", "remainder", "select", "split", "unbind",
    "clamp_", "fill_", "is_floating_point", "zero_",
    "abs", "add", "all", "allclose", "any", "arange", "argmax", "argmin", "argsort", "as_tensor", "atan2", "cat",
    "ceil", "clamp", "clip", "clone", "concat", "concatenate", "cos", "cumsum", "detach", "div", "divide", "einsum",
    "empty", "empty_like", "eq", "equal", "exp", "expm1", "eye", "flatten", "floor", "from_numpy", "full",
    "full_like", "gather", "ge", "gt", "index_select", "is_tensor", "isfinite", "isinf", "isnan", "le", "linspace",
    "log", "log10", "log1p", "log2", "log_softmax", "logsumexp", "lt", "masked_fill", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mm", "movedim", "mul", "multiply", "ne", "neg", "negative", "norm", "numel", "ones",
    "ones_like", "permute", "pow", "rand", "rand_like", "randint", "randint_like", "randn", "randn_like", "randperm",
    "reciprocal", "relu", "reshape", "round", "rsqrt", "scatter_add", "sigmoid", "sign", "sin", "softmax", "sort",
    "sqrt", "square", "squeeze", "stack", "std", "sub", "subtract", "sum", "t", "tan", "tanh", "tensor", "topk",
    "transpose", "true_divide", "trunc", "unsqueeze", "var", "where", "zeros", "zeros_like",
]
__all__ += ["Generator", "utils"]
