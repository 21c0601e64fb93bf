"""The catalogue of the bad-input suite: every public op, its arguments, how to build them and how to
spoil them.

An op's arguments are described by *recipes*: plain data (dicts, tuples, numbers, strings) that
hypothesis draws and :func:`materialize` turns into fresh arrays, tensors and values, the same
each time it is called. So one drawn case runs on the backend under test and, independently, on
the NumPy reference, and a case that fails is printed as its recipe.

A valid recipe is drawn first for every argument (sizes from one shared context, e.g. the same
``d`` for an input's columns and a weight's rows); then one to three arguments are spoiled:

* arrays: another dtype (int, bool, float16, complex, object, str, the other float), a dimension
  dropped, added, grown or zeroed, a transposed, strided, unaligned or read-only view, NaN/inf/huge
  values, an out-of-range index (up to +-2**63), a Python list, a 0-d value, None, a string, a
  Tensor where an array belongs (or the reverse), the same object as another argument, or a view
  overlapping another argument;
* scalars: None, a string, a bool, a list, NaN, inf, negative, huge (2**70) values;
* choices (activation, reduction, mode): unknown strings, None, numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# ----------------------------------------------------------------------------- argument kinds


@dataclass(frozen=True)
class Arg:
    """One argument: ``kind`` is 'float' | 'index' | 'offsets' | 'real' | 'int' | 'flag' | 'choice' | 'const'.

    ``dims`` are symbolic sizes ('n', 'd', ...) or ints; ``high`` bounds an index ('e' rows, 'c'
    classes); ``lo``/``hi`` bound a scalar; ``options`` are a choice's strings; ``keyword`` passes
    the argument by name; ``optional`` lets the valid recipe be None.
    """

    name: str
    kind: str
    dims: tuple = ()
    high: Any = None
    lo: float | None = None
    hi: float | None = None
    options: tuple = ()
    keyword: bool = False
    optional: bool = False
    value: Any = None
    inplace: bool = False


def F(name, *dims, keyword=False, optional=False, inplace=False):
    return Arg(name, "float", tuple(dims), keyword=keyword, optional=optional, inplace=inplace)


def I(name, *dims, high="e", keyword=False):  # noqa: E743 - an index array
    return Arg(name, "index", tuple(dims), high=high, keyword=keyword)


def R(name, lo=None, hi=None, keyword=True):
    return Arg(name, "real", lo=lo, hi=hi, keyword=keyword)


def N(name, lo=None, hi=None, keyword=True, optional=False):
    return Arg(name, "int", lo=lo, hi=hi, keyword=keyword, optional=optional)


def B(name, keyword=True):
    return Arg(name, "flag", keyword=keyword)


def C(name, options, keyword=True):
    return Arg(name, "choice", options=tuple(options), keyword=keyword)


def K(name, value, keyword=True):
    return Arg(name, "const", value=value, keyword=keyword)


@dataclass
class Op:
    """A public op: ``call(target, args)`` runs it, where target is the backend (kernels) or None,
    and ``args`` the materialized arguments by name. ``names`` are the words a clean error message
    must contain (one of them, case-insensitive). ``tensors``: array arguments are fastnn Tensors.
    ``compare``: results are compared with the NumPy reference backend."""

    name: str
    family: str
    args: tuple[Arg, ...]
    call: Callable[[Any, dict], Any]
    names: tuple[str, ...]
    tensors: bool = False
    compare: bool = True
    extra: dict = field(default_factory=dict)


ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh")
REDUCTIONS = ("mean", "sum", "none")
SIZES = {"n": (0, 4), "d": (0, 4), "o": (0, 3), "c": (1, 4), "e": (1, 5), "m": (0, 3), "k": (0, 5)}

# ----------------------------------------------------------------------------- spoiling
ARRAY_SPOILS = ("dtype", "dtype", "ndim", "dim", "zero", "layout", "layout", "fill", "wrap", "alias", "alias", "view")
INDEX_SPOILS = ("index_value", "index_value", "dtype", "ndim", "dim", "layout", "wrap", "alias")
BAD_SCALARS = (None, "0.1", True, [0.5], math.nan, math.inf, -math.inf, -1.0, -1, 2**70, -(2**70), 1e300, 0)
BAD_CHOICES = ("", "RELU", "Mean", "nope", None, 3, b"mean", "mean ")
BAD_FLAGS = ("yes", None, 2, 1.0, [True])
BAD_DTYPES = ("int64", "int32", "bool", "float16", "complex128", "object", "str", "other-float", "uint8")
LAYOUTS = ("T", "strided", "unaligned", "readonly", "negative-stride")
FILLS = ("nan", "inf", "-inf", "huge", "tiny", "zeros")
INDEX_VALUES = ("high", "-1", "-high-1", "int64-max", "int64-min", "2**40")
WRAPS = ("list", "scalar", "none", "str", "swap-tensor", "nested-list")


def valid_recipe(arg: Arg, sizes: dict, dtype: str) -> Any:
    """The recipe of a valid value of `arg`, from the context's sizes and float dtype."""
    dims = [sizes[d] if isinstance(d, str) else d for d in arg.dims]
    if arg.kind == "float":
        return {"dims": dims, "dtype": dtype, "fill": "normal", "layout": "c", "wrap": "plain"}
    if arg.kind == "index":
        return {"dims": dims, "dtype": "int64", "fill": ("index", sizes[arg.high]), "layout": "c", "wrap": "plain"}
    if arg.kind == "offsets":
        return {"dims": [sizes["m"]], "dtype": "int64", "fill": ("offsets", sizes["k"]), "layout": "c",
                "wrap": "plain"}
    if arg.kind == "real":
        lo = 0.0 if arg.lo is None else arg.lo
        hi = lo + 1.0 if arg.hi is None else arg.hi
        return ("value", lo + 0.37 * (hi - lo))
    if arg.kind == "int":
        lo = 0 if arg.lo is None else arg.lo
        value = sizes[arg.hi] - 1 if isinstance(arg.hi, str) else lo
        return ("value", max(lo, value))
    if arg.kind == "flag":
        return ("value", False)
    if arg.kind == "choice":
        return ("value", arg.options[0])
    return ("value", arg.value)


def spoil(draw, st, arg: Arg, recipe: Any, others: list[str], sizes: dict, only: tuple = ()) -> Any:
    """A spoiled copy of `recipe` (hypothesis `draw` and strategies `st`); ``only`` limits an array's
    spoils to those named (e.g. aliasing)."""
    if arg.kind in ("real", "int"):
        return ("value", draw(st.sampled_from(BAD_SCALARS)))
    if arg.kind == "flag":
        return ("value", draw(st.sampled_from(BAD_FLAGS)))
    if arg.kind == "choice":
        return ("value", draw(st.sampled_from(BAD_CHOICES + tuple(o.upper() for o in arg.options[:1]))))
    if arg.kind == "const":
        return ("value", draw(st.sampled_from(BAD_SCALARS + BAD_CHOICES)))
    recipe = dict(recipe) if isinstance(recipe, dict) else valid_recipe(arg, sizes, "float32")
    how = draw(st.sampled_from(only or (INDEX_SPOILS if arg.kind in ("index", "offsets") else ARRAY_SPOILS)))
    dims = list(recipe["dims"])
    if how == "dtype":
        recipe["dtype"] = draw(st.sampled_from(BAD_DTYPES))
    elif how == "ndim":
        recipe["dims"] = dims[:-1] if dims and draw(st.booleans()) else dims + [draw(st.integers(1, 3))]
    elif how == "dim" and dims:
        i = draw(st.integers(0, len(dims) - 1))
        dims[i] = max(0, dims[i] + draw(st.sampled_from((-1, 1, 2))))
        recipe["dims"] = dims
    elif how == "zero" and dims:
        dims[draw(st.integers(0, len(dims) - 1))] = 0
        recipe["dims"] = dims
    elif how == "layout":
        recipe["layout"] = draw(st.sampled_from(LAYOUTS))
    elif how == "fill":
        recipe["fill"] = draw(st.sampled_from(FILLS))
    elif how == "index_value":
        if arg.kind == "offsets":
            recipe["fill"] = ("bad-offsets", draw(st.sampled_from(("decreasing", "start", "past-end", "huge"))))
        else:
            recipe["fill"] = ("bad-index", recipe["fill"][1], draw(st.sampled_from(INDEX_VALUES)))
    elif how == "wrap":
        recipe["wrap"] = draw(st.sampled_from(WRAPS))
    elif how in ("alias", "view") and others:
        recipe["wrap"] = (how, draw(st.sampled_from(others)))
    return recipe


# ----------------------------------------------------------------------------- materializing
def _values(recipe: dict, rng: np.random.Generator, shape: tuple) -> np.ndarray:
    fill = recipe["fill"]
    size = int(np.prod(shape)) if shape else 1
    if fill == "normal":
        return rng.normal(size=shape)
    if fill == "zeros":
        return np.zeros(shape)
    if fill == "tiny":
        return np.full(shape, 1e-45)
    if fill in ("nan", "inf", "-inf", "huge"):
        values = rng.normal(size=shape)
        if size:
            special = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, "huge": 1e308}[fill]
            values.reshape(-1)[rng.integers(0, size)] = special
        return values
    kind = fill[0]
    if kind == "index":
        return rng.integers(0, fill[1], size=shape) if fill[1] > 0 else np.zeros(shape, dtype=np.int64)
    if kind == "offsets":
        n_indices = fill[1]
        return np.sort(rng.integers(0, n_indices + 1, size=shape)) * (np.arange(size) > 0) if size else \
            np.zeros(shape, dtype=np.int64)
    if kind == "bad-index":
        values = rng.integers(0, max(fill[1], 1), size=shape)
        high = fill[1]
        bad = {"high": high, "-1": -1, "-high-1": -high - 1, "int64-max": 2**63 - 1, "int64-min": -(2**63),
               "2**40": 2**40}[fill[2]]
        if size:
            values.reshape(-1)[rng.integers(0, size)] = bad
        return values
    if kind == "bad-offsets":
        values = np.arange(size, dtype=np.int64)
        if size:
            values[:] = {"decreasing": values[::-1], "start": values + 1, "past-end": values + 10**6,
                         "huge": values + 2**62}[fill[1]]
        return values
    raise ValueError(f"unknown fill {fill!r}")


def _typed(values: np.ndarray, dtype: str, float_dtype: str) -> np.ndarray:
    if dtype == "other-float":
        dtype = "float64" if float_dtype == "float32" else "float32"
    if dtype == "object":
        out = np.empty(values.shape, dtype=object)
        out.reshape(-1)[:] = list(values.reshape(-1).astype(float))
        return out
    if dtype == "str":
        return values.astype(str)
    with np.errstate(all="ignore"):
        if dtype == "bool":
            return values > 0
        if np.dtype(dtype).kind in "iu":
            return np.nan_to_num(values, nan=0, posinf=0, neginf=0).astype(dtype)
        return values.astype(dtype)


def _laid_out(array: np.ndarray, layout: str) -> np.ndarray:
    if layout == "c" or array.dtype == object:
        return np.ascontiguousarray(array) if array.dtype != object else array
    if layout == "T" and array.ndim >= 2:
        return np.ascontiguousarray(np.swapaxes(array, -1, -2)).swapaxes(-1, -2)
    if layout in ("T", "strided"):
        if array.ndim == 0:
            return array
        doubled = np.repeat(array, 2, axis=-1)
        return doubled[..., ::2]
    if layout == "negative-stride":
        return np.ascontiguousarray(array[..., ::-1])[..., ::-1] if array.ndim else array
    if layout == "unaligned":
        raw = np.zeros(array.nbytes + 1, dtype=np.uint8)[1:]
        try:
            out = raw.view(array.dtype).reshape(array.shape)
        except ValueError:
            return array
        out[...] = array
        return out
    if layout == "readonly":
        array = array.copy()
        array.flags.writeable = False
        return array
    raise ValueError(f"unknown layout {layout!r}")


def materialize(op: Op, recipes: dict[str, Any], float_dtype: str, seed: int, tensor_fn: Callable) -> dict:
    """Fresh argument values from recipes (the same values for the same recipes and seed)."""
    rng = np.random.default_rng(seed)
    built: dict[str, Any] = {}
    later = []
    for arg in op.args:
        recipe = recipes[arg.name]
        if isinstance(recipe, tuple):
            built[arg.name] = recipe[1]
            continue
        if recipe is None:
            built[arg.name] = None
            continue
        if isinstance(recipe["wrap"], tuple):
            later.append(arg)
            continue
        shape = tuple(recipe["dims"])
        array = _laid_out(_typed(_values(recipe, rng, shape), recipe["dtype"], float_dtype), recipe["layout"])
        built[arg.name] = _wrapped(array, recipe["wrap"], op.tensors, tensor_fn)
    for arg in later:
        how, other = recipes[arg.name]["wrap"]
        source = built.get(other)
        base = getattr(source, "array", source)
        if how == "alias" or not isinstance(base, np.ndarray) or base.ndim == 0:
            built[arg.name] = source  # the very same object as `other`
        else:  # a reversed view of `other`'s storage: same shape, overlapping memory
            view = base[..., ::-1]
            built[arg.name] = tensor_fn(view) if op.tensors else view
    return built


def _wrapped(array: np.ndarray, wrap: str, tensors: bool, tensor_fn: Callable) -> Any:
    if wrap == "plain":
        return tensor_fn(array) if tensors else array
    if wrap == "list":
        return array.tolist()
    if wrap == "nested-list":
        return [array.tolist()]
    if wrap == "scalar":
        return array.reshape(-1)[0].item() if array.size else 0.0
    if wrap == "none":
        return None
    if wrap == "str":
        return "not an array"
    if wrap == "swap-tensor":
        return array if tensors else tensor_fn(array)
    raise ValueError(f"unknown wrap {wrap!r}")


def describe(recipes: dict) -> str:
    """A short readable form of a case's recipes."""
    parts = []
    for name, recipe in recipes.items():
        if isinstance(recipe, tuple):
            parts.append(f"{name}={recipe[1]!r}")
        elif recipe is None:
            parts.append(f"{name}=None")
        else:
            extra = [str(recipe[k]) for k in ("fill", "layout", "wrap") if recipe[k] not in ("normal", "c", "plain")]
            parts.append(f"{name}={recipe['dtype']}{tuple(recipe['dims'])}" + ("[" + ",".join(extra) + "]"
                                                                             if extra else ""))
    return ", ".join(parts)


# ----------------------------------------------------------------------------- the ops
def kernel(name, *args, names=None, compare=True):
    def call(backend, a):
        positional = [a[arg.name] for arg in args if not arg.keyword]
        keywords = {arg.name: a[arg.name] for arg in args if arg.keyword}
        return getattr(backend, name)(*positional, **keywords)
    return Op(name, "kernel", args, call, names or (name,), compare=compare)


def _act():
    return C("activation", ACTIVATIONS, keyword=False)


KERNELS = [
    kernel("activation_forward", F("x", "n", "d"), _act(), R("negative_slope", -1, 1, keyword=False)),
    kernel("activation_backward", F("grad_out", "n", "d"), F("saved", "n", "d"), _act(),
           R("negative_slope", -1, 1, keyword=False)),
    kernel("linear_forward", F("x", "n", "d"), F("weight", "o", "d"), F("bias", "o", optional=True), _act(),
           R("negative_slope", -1, 1, keyword=False)),
    kernel("linear_backward", F("grad_out", "n", "o"), F("x", "n", "d"), F("weight", "o", "d"),
           F("saved", "n", "o"), _act(), R("negative_slope", -1, 1, keyword=False), B("need_input_grad", False),
           B("need_bias_grad", False)),
    kernel("softmax_forward", F("x", "n", "c")),
    kernel("softmax_backward", F("grad_out", "n", "c"), F("out", "n", "c")),
    kernel("log_softmax_forward", F("x", "n", "c")),
    kernel("log_softmax_backward", F("grad_out", "n", "c"), F("out", "n", "c")),
    kernel("softmax_cross_entropy", F("logits", "n", "c"), I("target", "n", high="c"),
           C("reduction", REDUCTIONS, keyword=False), N("ignore_index", -100, keyword=False),
           R("label_smoothing", 0, 1, keyword=False)),
    kernel("mse_loss", F("input", "n", "d"), F("target", "n", "d"), C("reduction", REDUCTIONS, keyword=False)),
    kernel("bce_with_logits", F("logits", "n", "d"), F("target", "n", "d"),
           C("reduction", REDUCTIONS, keyword=False)),
    kernel("dropout_forward", F("x", "n", "d"), R("p", 0, 0.9, keyword=False), N("seed", 0, keyword=False),
           compare=False),
    kernel("dropout_backward", F("grad_out", "n", "d"), F("mask", "n", "d"), R("p", 0, 0.9, keyword=False)),
    kernel("embedding_forward", F("weight", "e", "d"), I("indices", "n", "k")),
    kernel("embedding_backward", F("grad_out", "n", "k", "d"), I("indices", "n", "k"),
           N("num_embeddings", 1, "e1", keyword=False), N("padding_idx", 0, keyword=False, optional=True)),
    kernel("embedding_bag_forward", F("weight", "e", "d"), I("indices", "k"), Arg("offsets", "offsets"),
           C("mode", ("mean", "sum"), keyword=False), N("padding_idx", 0, keyword=False, optional=True)),
    kernel("embedding_bag_backward", F("grad_out", "m", "d"), I("indices", "k"), Arg("offsets", "offsets"),
           N("num_embeddings", 1, "e1", keyword=False), C("mode", ("mean", "sum"), keyword=False),
           N("padding_idx", 0, keyword=False, optional=True)),
    kernel("sgd_update", F("param", "n", "d", inplace=True), F("grad", "n", "d"),
           F("momentum_buffer", "n", "d", optional=True, inplace=True), R("lr", 0, 1), R("momentum", 0, 1),
           R("dampening", 0, 1), R("weight_decay", 0, 1), B("nesterov"), B("first_step")),
    kernel("adagrad_update", F("param", "n", "d", inplace=True), F("grad", "n", "d"),
           F("state_sum", "n", "d", inplace=True), R("clr", 0, 1), R("weight_decay", 0, 1), R("eps", 1e-10, 1e-8)),
    kernel("rmsprop_update", F("param", "n", "d", inplace=True), F("grad", "n", "d"),
           F("square_avg", "n", "d", inplace=True), F("momentum_buffer", "n", "d", optional=True, inplace=True),
           F("grad_avg", "n", "d", optional=True, inplace=True), R("lr", 0, 1), R("alpha", 0, 1), R("eps", 1e-8, 1e-6),
           R("weight_decay", 0, 1), R("momentum", 0, 1), B("centered")),
    kernel("adadelta_update", F("param", "n", "d", inplace=True), F("grad", "n", "d"),
           F("square_avg", "n", "d", inplace=True), F("acc_delta", "n", "d", inplace=True), R("lr", 0, 1),
           R("rho", 0, 1), R("eps", 1e-6, 1e-4), R("weight_decay", 0, 1)),
    kernel("adam_update", F("param", "n", "d", inplace=True), F("grad", "n", "d"),
           F("exp_avg", "n", "d", inplace=True), F("exp_avg_sq", "n", "d", inplace=True),
           F("max_exp_avg_sq", "n", "d", optional=True, inplace=True), N("step", 1), R("lr", 0, 1),
           R("beta1", 0, 0.99), R("beta2", 0, 0.99), R("eps", 1e-8, 1e-6), R("weight_decay", 0, 1), B("amsgrad"),
           B("decoupled_weight_decay")),
]


# Kernels other work adds to the table; in the catalogue once the backend has them.
NEWER_KERNELS = [
    kernel("layer_norm_forward", F("x", "n", "d"), F("weight", "d", optional=True), F("bias", "d", optional=True),
           R("eps", 1e-6, 1e-4, keyword=False)),
    kernel("layer_norm_backward", F("grad_out", "n", "d"), F("x", "n", "d"), F("weight", "d", optional=True),
           F("mean", "n"), F("rstd", "n"), B("need_bias_grad", False)),
]


def _has_kernel(name: str) -> bool:
    from fastnn.backends import KERNELS as TABLE

    return name in TABLE


KERNELS += [op for op in NEWER_KERNELS if _has_kernel(op.name)]


def aliased(op: Op) -> Op:
    """`op` with only aliasing spoils: its array arguments passed as the same object as, or an
    overlapping view of, another (e.g. the momentum buffer is the gradient)."""
    return Op(f"{op.name}[aliased]", op.family, op.args, op.call, op.names, compare=op.compare,
              extra={"only": ("alias", "view")})


KERNELS += [aliased(op) for op in KERNELS if any(arg.inplace for arg in op.args)]


def functional(name, *args, names=None, compare=True):
    def call(_, a):
        import fastnn.nn.functional as functional_module

        positional = [a[arg.name] for arg in args if not arg.keyword]
        keywords = {arg.name: a[arg.name] for arg in args if arg.keyword}
        return getattr(functional_module, name)(*positional, **keywords)
    return Op(f"F.{name}", "functional", args, call, names or (name,), tensors=True, compare=compare)


def _pointwise(name, *extra):
    return functional(name, F("input", "n", "d", keyword=False), *extra)


FUNCTIONALS = [
    functional("linear", F("input", "n", "d"), F("weight", "o", "d"), F("bias", "o", optional=True)),
    _pointwise("relu"), _pointwise("sigmoid"), _pointwise("tanh"),
    _pointwise("leaky_relu", R("negative_slope", -1, 1)),
    _pointwise("gelu", C("approximate", ("none", "tanh"))),
    _pointwise("softmax", N("dim", -1, 1)), _pointwise("log_softmax", N("dim", -1, 1)),
    functional("dropout", F("input", "n", "d"), R("p", 0, 0.9), B("training"), compare=False),
    _pointwise("hardtanh", R("min_val", -2, -1), R("max_val", 1, 2)),
    functional("embedding", I("input", "n", "k"), F("weight", "e", "d"), N("padding_idx", 0, optional=True),
               B("sparse")),
    functional("embedding_bag", I("input", "k"), F("weight", "e", "d"), Arg("offsets", "offsets", keyword=True),
               C("mode", ("mean", "sum")), N("padding_idx", 0, optional=True), B("sparse")),
    functional("one_hot", I("tensor", "n", high="c"), N("num_classes", -1)),
    functional("mse_loss", F("input", "n", "d"), F("target", "n", "d"), C("reduction", REDUCTIONS)),
    functional("l1_loss", F("input", "n", "d"), F("target", "n", "d"), C("reduction", REDUCTIONS)),
    functional("binary_cross_entropy", F("input", "n", "d"), F("target", "n", "d"),
               F("weight", "n", "d", keyword=True, optional=True), C("reduction", REDUCTIONS)),
    functional("binary_cross_entropy_with_logits", F("input", "n", "d"), F("target", "n", "d"),
               F("weight", "n", "d", keyword=True, optional=True), C("reduction", REDUCTIONS),
               F("pos_weight", "d", keyword=True, optional=True)),
    functional("cross_entropy", F("input", "n", "c"), I("target", "n", high="c"),
               F("weight", "c", keyword=True, optional=True), N("ignore_index", -100), C("reduction", REDUCTIONS),
               R("label_smoothing", 0, 1)),
    functional("nll_loss", F("input", "n", "c"), I("target", "n", high="c"),
               F("weight", "c", keyword=True, optional=True), N("ignore_index", -100), C("reduction", REDUCTIONS)),
]


# The functional a layer's forward runs: its errors may name either.
LAYER_FUNCTIONALS = {"Linear": "linear", "Embedding": "embedding", "EmbeddingBag": "embedding_bag",
                     "Dropout": "dropout", "LeakyReLU": "leaky_relu", "GELU": "gelu", "ReLU": "relu",
                     "Softmax": "softmax", "LogSoftmax": "log_softmax", "Hardtanh": "hardtanh", "Flatten": "flatten",
                     "MSELoss": "mse_loss", "L1Loss": "l1_loss", "BCELoss": "binary_cross_entropy",
                     "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "CrossEntropyLoss": "cross_entropy",
                     "NLLLoss": "nll_loss"}


def layer(cls_name, ctor: tuple, forward: tuple, family="layer"):
    """Construct ``fastnn.nn.<cls_name>(**ctor args)`` and call it on the forward args."""
    def call(_, a):
        from fastnn import nn

        module = getattr(nn, cls_name)(**{arg.name: a[arg.name] for arg in ctor})
        return module(*[a[arg.name] for arg in forward])
    return Op(f"nn.{cls_name}", family, ctor + forward, call, (cls_name, LAYER_FUNCTIONALS[cls_name]), tensors=True,
              compare=False)


LAYERS = [
    layer("Linear", (N("in_features", 0, "d1"), N("out_features", 1), B("bias")), (F("input", "n", "d"),)),
    layer("Embedding", (N("num_embeddings", 1, "e1"), N("embedding_dim", 1), N("padding_idx", 0, optional=True),
                        B("sparse")), (I("input", "n", "k"),)),
    layer("EmbeddingBag", (N("num_embeddings", 1, "e1"), N("embedding_dim", 1), C("mode", ("mean", "sum")),
                           N("padding_idx", 0, optional=True)), (I("input", "n", "k"),)),
    layer("Dropout", (R("p", 0, 0.9),), (F("input", "n", "d"),)),
    layer("LeakyReLU", (R("negative_slope", -1, 1),), (F("input", "n", "d"),)),
    layer("GELU", (C("approximate", ("none", "tanh")),), (F("input", "n", "d"),)),
    layer("ReLU", (), (F("input", "n", "d"),)),
    layer("Softmax", (N("dim", -1, 1),), (F("input", "n", "d"),)),
    layer("LogSoftmax", (N("dim", -1, 1),), (F("input", "n", "d"),)),
    layer("Hardtanh", (R("min_val", -2, -1), R("max_val", 1, 2)), (F("input", "n", "d"),)),
    layer("Flatten", (N("start_dim", 1), N("end_dim", -1)), (F("input", "n", "d"),)),
    layer("MSELoss", (C("reduction", REDUCTIONS),), (F("input", "n", "d"), F("target", "n", "d")), family="loss"),
    layer("L1Loss", (C("reduction", REDUCTIONS),), (F("input", "n", "d"), F("target", "n", "d")), family="loss"),
    layer("BCELoss", (C("reduction", REDUCTIONS),), (F("input", "n", "d"), F("target", "n", "d")), family="loss"),
    layer("BCEWithLogitsLoss", (C("reduction", REDUCTIONS),), (F("input", "n", "d"), F("target", "n", "d")),
          family="loss"),
    layer("CrossEntropyLoss", (N("ignore_index", -100), C("reduction", REDUCTIONS), R("label_smoothing", 0, 1)),
          (F("input", "n", "c"), I("target", "n", high="c")), family="loss"),
    layer("NLLLoss", (N("ignore_index", -100), C("reduction", REDUCTIONS)),
          (F("input", "n", "c"), I("target", "n", high="c")), family="loss"),
]


# Losses other work adds to fastnn.nn; in the catalogue once fastnn.nn has them.
NEWER_LOSSES = {
    "SmoothL1Loss": ("smooth_l1_loss", (C("reduction", REDUCTIONS), R("beta", 0.5, 2))),
    "HuberLoss": ("huber_loss", (C("reduction", REDUCTIONS), R("delta", 0.5, 2))),
    "KLDivLoss": ("kl_div", (C("reduction", REDUCTIONS), B("log_target"))),
    "MultiLabelSoftMarginLoss": ("multilabel_soft_margin_loss", (C("reduction", REDUCTIONS),)),
}


def _newer_losses() -> list[Op]:
    from fastnn import nn

    present = [name for name in NEWER_LOSSES if hasattr(nn, name)]
    LAYER_FUNCTIONALS.update({name: NEWER_LOSSES[name][0] for name in present})
    return [layer(name, NEWER_LOSSES[name][1], (F("input", "n", "d"), F("target", "n", "d")), family="loss")
            for name in present]


LAYERS += _newer_losses()


def optimizer(cls_name, *hyper, sparse=False):
    """Build ``fastnn.optim.<cls_name>`` over a parameter with the drawn hyperparameters, give the
    parameter the drawn gradient, step twice."""
    def call(_, a):
        from fastnn import nn, optim

        param = nn.Parameter(a["param"])
        opt = getattr(optim, cls_name)([param], **{arg.name: a[arg.name] for arg in hyper})
        param.grad = a["grad"]
        opt.step()
        opt.step()
        return param
    args = (F("param", "n", "d"), F("grad", "n", "d")) + hyper
    return Op(f"optim.{cls_name}", "optimizer", args, call, (cls_name, "grad", "Parameter"), tensors=True,
              compare=False)


OPTIMIZERS = [
    optimizer("SGD", R("lr", 0, 1), R("momentum", 0, 1), R("dampening", 0, 0), R("weight_decay", 0, 1),
              B("nesterov"), B("maximize")),
    optimizer("Adagrad", R("lr", 0, 1), R("lr_decay", 0, 1), R("weight_decay", 0, 1),
              R("initial_accumulator_value", 0, 1), R("eps", 1e-10, 1e-8)),
    optimizer("RMSprop", R("lr", 0, 1), R("alpha", 0, 1), R("eps", 1e-8, 1e-6), R("weight_decay", 0, 1),
              R("momentum", 0, 1), B("centered")),
    optimizer("Adadelta", R("lr", 0, 1), R("rho", 0, 1), R("eps", 1e-6, 1e-4), R("weight_decay", 0, 1)),
    optimizer("Adam", R("lr", 0, 1), R("eps", 1e-8, 1e-6), R("weight_decay", 0, 1), B("amsgrad")),
    optimizer("AdamW", R("lr", 0, 1), R("eps", 1e-8, 1e-6), R("weight_decay", 0, 1), B("amsgrad")),
    optimizer("SparseAdam", R("lr", 0.001, 1), R("eps", 1e-8, 1e-6)),
]


def scheduler(cls_name, *args, metric=False):
    """Build ``fastnn.optim.lr_scheduler.<cls_name>`` with the drawn arguments over an SGD optimizer and
    step it three times (with the drawn metric for ReduceLROnPlateau)."""
    def call(_, a):
        from fastnn import nn, optim
        from fastnn.optim import lr_scheduler

        opt = optim.SGD([nn.Parameter(np.zeros(2, dtype=np.float32))], lr=0.1, momentum=0.9)
        sched = getattr(lr_scheduler, cls_name)(opt, **{arg.name: a[arg.name] for arg in args if arg.name != "metric"})
        for _ in range(3):
            sched.step(a["metric"]) if metric else sched.step()
        return np.array([g["lr"] for g in opt.param_groups], dtype=np.float64)
    return Op(f"lr_scheduler.{cls_name}", "scheduler", args + ((R("metric", 0, 1),) if metric else ()), call,
              (cls_name,), compare=False)


SCHEDULERS = [
    scheduler("StepLR", N("step_size", 1), R("gamma", 0, 1), N("last_epoch", -1)),
    scheduler("MultiStepLR", K("milestones", [1, 2]), R("gamma", 0, 1)),
    scheduler("ExponentialLR", R("gamma", 0, 1)),
    scheduler("CosineAnnealingLR", N("T_max", 1), R("eta_min", 0, 0.01)),
    scheduler("LambdaLR", K("lr_lambda", lambda epoch: 0.5 ** epoch)),
    scheduler("ReduceLROnPlateau", C("mode", ("min", "max")), R("factor", 0, 0.9), N("patience", 0),
              R("threshold", 0, 0.1), C("threshold_mode", ("rel", "abs")), N("cooldown", 0), R("min_lr", 0, 0.01),
              R("eps", 0, 1e-8), metric=True),
    scheduler("OneCycleLR", R("max_lr", 0.01, 1), N("total_steps", 10), R("div_factor", 1, 30),
              R("final_div_factor", 1, 1e4)),
]

OPS: list[Op] = KERNELS + FUNCTIONALS + LAYERS + OPTIMIZERS + SCHEDULERS
EXTRA_SIZES = {"d1": lambda s: s["d"] + 1, "e1": lambda s: s["e"] + 1}
