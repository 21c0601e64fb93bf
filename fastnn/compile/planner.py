"""The planner: reads a model, a loss and an optimizer and describes the step as plain data.

A :class:`Plan` lists the layers (:class:`Layer` records: kind, shapes, offsets of their
parameters in the flat buffer, options), the loss, the optimizers' kinds and the flat-buffer
layout; ``fastnn.compile.lowering`` turns it into the op table the interpreter runs.

Anything the planner does not know raises :class:`Unsupported` with the reason; the compiled
step then runs the eager path instead. Only exact classes are planned (a subclass may override
``forward``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fastnn import nn, optim
from fastnn.compile.kernels import ACTIVATION_CODES

FUSED_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.LeakyReLU: "leaky_relu",
                     nn.GELU: None}

OPTIMIZERS = {optim.SGD: "sgd", optim.Adam: "adam", optim.AdamW: "adam", optim.Adagrad: "adagrad",
              optim.RMSprop: "rmsprop", optim.Adadelta: "adadelta", optim.SparseAdam: "sparse_adam"}


class Unsupported(Exception):
    """The step cannot be compiled; the message is the reason (``step.fallback_reason``)."""


@dataclass
class Layer:
    """One planned layer. kind: linear, act, dropout, residual, embedding, bag, flatten."""

    kind: str
    module: object = None
    sizes: tuple = ()              # linear: (in, out); embedding/bag: (rows, dim)
    offsets: tuple = ()            # offsets in the flat buffer (weight, bias) / (table,)
    code: int = 0                  # activation code
    slope: float = 0.01
    has_bias: bool = False
    p: float = 0.0                 # dropout probability
    padding: int = -1              # embedding padding_idx (-1: none)
    mean: bool = False             # embedding bag mode
    sparse: bool = False           # embedding: a trained table with a row-sparse gradient
    body: list = field(default_factory=list)  # residual: the wrapped layers


@dataclass
class Plan:
    """The step as data: layers, loss, optimizer kind, dtype and the flat-buffer layout."""

    layers: list
    loss: tuple                    # ("ce"|"nll", ignore_index, smoothing, class weights?, mean) / ("mse"|"bce", mean)
    optimizers: list               # the kind ("sgd", "adam"...) of each optimizer in `order` (none: forward only)
    dtype: np.dtype
    params: list                   # in flat-buffer order: the optimizers' (SparseAdam's last), then frozen ones
    bounds: list                   # bounds[i]:bounds[i+1] is params[i]'s slice of the flat buffer
    input_kind: str                # "dense" (float features) or "ids" (embedding input)
    flatten_input: bool            # a leading Flatten: reshape the input to (N, -1)
    in_features: int
    out_features: int
    watched: list                  # (object, attribute, value) read at planning time
    trained: int                   # params[:trained] are updated; the rest (requires_grad=False) are not
    dense: int                     # params[:dense] have dense gradients; params[dense:trained] row-sparse ones
    order: list                    # the optimizers' order in the flat buffers (dense kinds first)

    def trains(self, offset: int) -> bool:
        """Whether the parameter at this flat-buffer offset is trained (frozen ones come after)."""
        return offset < self.bounds[self.trained]


def activation_of(module) -> tuple[int, float] | None:
    """(code, negative_slope) of an exact activation class, else None."""
    kind = type(module)
    if kind not in FUSED_ACTIVATIONS:
        return None
    name = FUSED_ACTIVATIONS[kind] or module.kernel_activation
    return ACTIVATION_CODES[name], float(getattr(module, "negative_slope", 0.01))


def make_plan(model, loss_fn, optimizer) -> Plan:
    """Describe the step, or raise Unsupported naming the first thing that is not compilable.
    With loss_fn and optimizer None: the forward pass alone (parameters in the model's order)."""
    optimizers = optimizers_of(optimizer)
    kinds = [OPTIMIZERS.get(type(opt)) for opt in optimizers]
    for opt, kind in zip(optimizers, kinds):
        if kind is None:
            raise Unsupported(f"optimizer {type(opt).__name__} is not compiled")
    order = sorted(range(len(optimizers)), key=lambda k: kinds[k] == "sparse_adam")  # row-sparse ones last
    optimizers, kinds = [optimizers[k] for k in order], [kinds[k] for k in order]
    dense = sum(len(group["params"]) for opt, kind in zip(optimizers, kinds) if kind != "sparse_adam"
                for group in opt.param_groups)
    params, bounds = [], [0]
    seen: set[int] = set()
    groups = ([group for opt in optimizers for group in opt.param_groups] if optimizers
              else [{"params": list(model.parameters())}])
    for group in groups:
        for param in group["params"]:
            if id(param) in seen:
                raise Unsupported("a parameter appears twice in the optimizer")
            seen.add(id(param))
            params.append(param)
            bounds.append(bounds[-1] + param.array.size)
    model_params = list(model.parameters())
    if not seen <= {id(p) for p in model_params}:
        raise Unsupported("the optimizer has parameters that are not the model's")
    if optimizers and not all(p.requires_grad for p in params):
        raise Unsupported("a parameter in the optimizer has requires_grad=False")
    trained = len(params)
    for param in model_params:  # the rest must be frozen: in the forward pass only, after the trained ones
        if id(param) not in seen:
            if param.requires_grad:
                raise Unsupported("a parameter that requires grad is not in the optimizer")
            params.append(param)
            bounds.append(bounds[-1] + param.array.size)
    dtypes = {p.array.dtype for p in params}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise Unsupported(f"parameters must share one float dtype, got {sorted(map(str, dtypes))}")
    offset = {id(p): bounds[i] for i, p in enumerate(params)}
    watched: list = [(p, "requires_grad", p.requires_grad) for p in params] if optimizers else []
    modules = list(model) if type(model) is nn.Sequential else [model]
    input_kind, flatten_input = "dense", False
    if modules and type(modules[0]) in (nn.Embedding, nn.EmbeddingBag):
        input_kind = "ids"
    elif modules and type(modules[0]) is nn.Flatten:
        flatten = modules.pop(0)
        if (flatten.start_dim, flatten.end_dim) != (1, -1):
            raise Unsupported("Flatten with other than start_dim=1, end_dim=-1")
        watched += [(flatten, "start_dim", 1), (flatten, "end_dim", -1)]
        flatten_input = True
    layers = _layers(modules, offset, watched, first=True)
    used = [o for layer in _flat(layers) for o in _param_offsets(layer)]
    if len(used) != len(set(used)):
        raise Unsupported("a parameter is shared by two layers")
    if not any(layer.kind in ("linear", "embedding", "bag") for layer in layers):
        raise Unsupported("the model has no Linear or Embedding layer")
    if loss_fn is None:
        if any(layer.kind == "log_softmax" for layer in layers):
            raise Unsupported("LogSoftmax without NLLLoss is not compiled")
        loss = ("none",)
    else:
        loss, layers = _loss(loss_fn, layers, watched)
    width = _check_widths(layers)
    if loss[0] in ("ce", "nll") and loss[3]:
        _check_class_weights(loss_fn, width[1], next(iter(dtypes)))
    if not optimizers:  # the forward pass alone
        dense = trained
    elif {id(layer.module.weight) for layer in layers if layer.sparse} != {id(p) for p in params[dense:trained]}:
        raise Unsupported("row-sparse gradients (Embedding(sparse=True)) are compiled with SparseAdam updating "
                          "exactly the sparse tables")
    return Plan(layers, loss, kinds, next(iter(dtypes)), params, bounds, input_kind, flatten_input, width[0],
                width[1], watched, trained, dense, order)


def optimizers_of(optimizer) -> list:
    """compile_step's optimizer argument as a list: one optimizer, a list or tuple of them, or None."""
    if optimizer is None:
        return []
    return list(optimizer) if isinstance(optimizer, (list, tuple)) else [optimizer]


def _layers(modules: list, offset: dict, watched: list, first: bool) -> list:
    layers: list[Layer] = []
    for index, module in enumerate(modules):
        kind = type(module)
        act = activation_of(module)
        if kind is nn.Linear:
            has_bias = module.bias is not None
            offsets = (offset[id(module.weight)], offset[id(module.bias)] if has_bias else 0)
            layers.append(Layer("linear", module, (module.in_features, module.out_features), offsets,
                                has_bias=has_bias))
        elif act is not None:
            watched += [(module, attr, getattr(module, attr)) for attr in ("negative_slope", "approximate")
                        if attr in vars(module)]
            last = layers[-1] if layers else None
            if last is not None and last.kind == "linear" and last.code == 0 and type(modules[index - 1]) is nn.Linear:
                last.code, last.slope = act  # fused as Sequential fuses it
            else:
                layers.append(Layer("act", module, code=act[0], slope=act[1]))
        elif kind is nn.Identity:
            continue
        elif kind is nn.Sequential:
            layers += _layers(list(module), offset, watched, first=first and index == 0 and not layers)
        elif kind is nn.Flatten:
            if (module.start_dim, module.end_dim) != (1, -1) or (first and index == 0):
                raise Unsupported("a Flatten that is not a no-op on (N, features)")
            watched += [(module, "start_dim", 1), (module, "end_dim", -1)]
            if layers and layers[-1].kind == "embedding":
                layers.append(Layer("flatten", module))
        elif kind is nn.Dropout:
            watched += [(module, "training", module.training), (module, "p", module.p)]
            if module.training and module.p > 0:
                layers.append(Layer("dropout", module, p=float(module.p)))
        elif kind is nn.Residual:
            inner = list(module.module) if type(module.module) is nn.Sequential else [module.module]
            layers.append(Layer("residual", module, body=_layers(inner, offset, watched, first=False)))
        elif kind in (nn.Embedding, nn.EmbeddingBag) and first and index == 0:
            watched += [(module, "padding_idx", module.padding_idx), (module, "sparse", module.sparse)]
            bag = kind is nn.EmbeddingBag
            if bag:
                watched.append((module, "mode", module.mode))
                if module.mode not in ("mean", "sum"):
                    raise Unsupported(f"EmbeddingBag mode {module.mode!r}")
            if getattr(module, "max_norm", None) is not None:
                raise Unsupported("Embedding with max_norm")
            rows, dim = module.weight.array.shape
            pad = -1 if module.padding_idx is None else int(module.padding_idx) % rows
            layers.append(Layer("bag" if bag else "embedding", module, (rows, dim), (offset[id(module.weight)],),
                                padding=pad, mean=bag and module.mode == "mean",
                                sparse=module.sparse and module.weight.requires_grad))  # a frozen table: no grad
        elif type(module) is nn.LogSoftmax:
            watched.append((module, "dim", module.dim))
            layers.append(Layer("log_softmax", module))
        else:
            raise Unsupported(f"layer {type(module).__name__} is not compiled")
    return layers


def _flat(layers: list):
    for layer in layers:
        yield layer
        yield from _flat(layer.body)


def _param_offsets(layer: Layer) -> tuple:
    if layer.kind == "linear":
        return layer.offsets if layer.has_bias else layer.offsets[:1]
    return layer.offsets if layer.kind in ("embedding", "bag") else ()


def _check_class_weights(loss_fn, classes: int, dtype: np.dtype) -> None:
    """Unsupported unless the loss's class weights are a (classes,) tensor of the parameters' dtype
    (the eager loss then raises its own error)."""
    array = getattr(loss_fn.weight, "array", None)
    if not isinstance(array, np.ndarray) or array.shape != (classes,) or array.dtype != dtype:
        raise Unsupported(f"class weights of shape {getattr(array, 'shape', None)} and dtype "
                          f"{getattr(array, 'dtype', None)} for {classes} classes of {dtype}")


def _loss(loss_fn, layers: list, watched: list) -> tuple[tuple, list]:
    kind = type(loss_fn)
    reduction = getattr(loss_fn, "reduction", None)
    watched.append((loss_fn, "reduction", reduction))
    if reduction not in ("mean", "sum"):
        raise Unsupported(f"loss reduction {reduction!r} is not compiled")
    mean = reduction == "mean"
    if any(layer.kind == "log_softmax" for layer in layers[:-1]):
        raise Unsupported("LogSoftmax before the last layer")
    ends_log_softmax = bool(layers) and layers[-1].kind == "log_softmax"
    if kind is nn.CrossEntropyLoss and not ends_log_softmax:
        watched += [(loss_fn, "ignore_index", loss_fn.ignore_index),
                    (loss_fn, "label_smoothing", loss_fn.label_smoothing), (loss_fn, "weight", loss_fn.weight)]
        weighted = loss_fn.weight is not None
        return ("ce", int(loss_fn.ignore_index), float(loss_fn.label_smoothing), weighted, mean), layers
    if kind is nn.NLLLoss and ends_log_softmax:
        watched += [(loss_fn, "ignore_index", loss_fn.ignore_index), (loss_fn, "weight", loss_fn.weight)]
        if layers[-1].module.dim not in (1, -1):
            raise Unsupported("LogSoftmax over other than the class dimension")
        weighted = loss_fn.weight is not None
        return ("nll", int(loss_fn.ignore_index), 0.0, weighted, mean), layers[:-1]
    if kind is nn.MSELoss and not ends_log_softmax:
        return ("mse", mean), layers
    if kind is nn.BCEWithLogitsLoss and not ends_log_softmax:
        watched += [(loss_fn, "weight", loss_fn.weight), (loss_fn, "pos_weight", loss_fn.pos_weight)]
        if loss_fn.weight is not None or loss_fn.pos_weight is not None:
            raise Unsupported("BCEWithLogitsLoss with weight or pos_weight is not compiled")
        return ("bce", mean), layers
    raise Unsupported(f"loss {kind.__name__} after {'LogSoftmax' if ends_log_softmax else 'this model'} "
                      "is not compiled")


def _check_widths(layers: list) -> tuple[int, int]:
    """(input width or 0 for ids, output width); raises Unsupported if consecutive widths disagree."""
    first, width = None, None
    for layer in layers:
        if layer.kind == "linear":
            if width is not None and width != layer.sizes[0]:
                raise Unsupported(f"a Linear expects {layer.sizes[0]} features after a layer giving {width}")
            first = layer.sizes[0] if first is None else first
            width = layer.sizes[1]
        elif layer.kind in ("embedding", "bag"):
            first, width = 0, layer.sizes[1]
        elif layer.kind == "flatten":
            width = None  # the window length is known only from the input
        elif layer.kind == "residual":
            inner = _check_widths(layer.body)
            if inner[0] and width is not None and inner[0] != width or inner[1] != inner[0] and inner[0]:
                raise Unsupported("a Residual whose body changes the width")
    if width is None:
        raise Unsupported("cannot infer the output width")
    return (first if first is not None else 0), width


__all__ = ["Layer", "Plan", "Unsupported", "activation_of", "make_plan"]
