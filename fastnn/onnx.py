"""ONNX export: ``fastnn.onnx.export(model, example_input, path, opset=18, dynamic_batch=True)``.

The graph is built with the ``onnx`` package's helpers (no PyTorch involved) by walking the
model's layers: a (nested) ``Sequential``, a ``Residual`` or a single layer. Inference semantics
(eval mode) are exported:

=================  ===========================================================================
Linear             Gemm(x, W, b, transB=1) for 2-D input; MatMul(x, W^T) + b for (*, in) input
ReLU, Sigmoid,     Relu, Sigmoid, Tanh, LeakyRelu(alpha=negative_slope)
Tanh, LeakyReLU
GELU               Gelu(approximate) on opset >= 20; else 0.5 x (1 + erf(x / sqrt 2)) with Erf,
                   or 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) for approximate="tanh"
Hardtanh           Clip(x, min_val, max_val)
Softmax,           Softmax(axis=dim), LogSoftmax(axis=dim)
LogSoftmax
Embedding          Gather(weight, ids, axis=0)
EmbeddingBag       padded id matrix (B, L): Gather, a mask ids != padding_idx, ReduceSum over L
                   (mean: divided by max(count, 1), so an empty bag gives zeros); or 1-D ids with
                   offsets (B,) (example_input = (ids, offsets)): each id's bag is the number of
                   offsets <= its position minus one, and bags are summed by a one-hot MatMul
Dropout, Identity  removed (inference)
Flatten            Flatten(axis=1) for start_dim=1, end_dim=-1, else Reshape
Residual(m)        Add(x, m(x))
=================  ===========================================================================

Any other module is a TypeError naming it (its path in the model and its class). The model is
checked with ``onnx.checker.check_model(full_check=True)`` before the file is written, and the
file is written atomically.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn import nn
from fastnn.functions import from_numpy
from fastnn.io import atomic_write, load
from fastnn.tensor import Tensor, no_grad
from fastnn.version import __version__

MIN_OPSET = 13
GELU_OPSET = 20


def _onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError:
        raise ImportError("fastnn.onnx needs the onnx package: pip install 'fastnn[interop]' "
                          "(or pip install onnx)") from None
    return onnx


class GraphBuilder:
    """Collects nodes and initializers with unique names; `float_type` is the model's ONNX element type."""

    def __init__(self, onnx: Any, dtype: np.dtype, opset: int) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = dtype
        self.opset = opset
        self.nodes: list = []
        self.initializers: list = []
        self.names: set[str] = set()

    def name(self, base: str) -> str:
        base = base.replace("/", ".") or "t"
        name, i = base, 1
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def constant(self, base: str, value: Any, dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype or self.dtype)
        name = self.name(base)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: Sequence[str], base: str, outputs: int = 1, **attrs: Any) -> Any:
        names = [self.name(f"{base}.{op}" if outputs == 1 else f"{base}.{op}.{k}") for k in range(outputs)]
        self.nodes.append(self.helper.make_node(op, list(inputs), names, name=self.name(f"node.{base}.{op}"),
                                                **attrs))
        return names[0] if outputs == 1 else names


def _leaf_layers() -> tuple[type, ...]:
    return (nn.Linear, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.LeakyReLU, nn.GELU, nn.Hardtanh, nn.Softmax, nn.LogSoftmax,
            nn.Embedding, nn.Dropout, nn.Identity, nn.Flatten)


SUPPORTED = ("Sequential, Residual, Linear, ReLU, Sigmoid, Tanh, LeakyReLU, GELU, Hardtanh, Softmax, LogSoftmax, "
             "Embedding, EmbeddingBag, Dropout, Identity, Flatten")


def check_supported(module: nn.Module, path: str = "") -> None:
    """Raise TypeError naming the first module (in forward order) that the exporter cannot convert."""
    kind = type(module)
    if kind is nn.Sequential:
        for name, child in module.named_children():
            check_supported(child, f"{path}.{name}" if path else name)
        return
    if kind is nn.Residual:
        check_supported(module.module, f"{path}.module" if path else "module")
        return
    if kind in _leaf_layers() or kind is nn.EmbeddingBag:
        return
    where = f"module {path!r}" if path else "the model"
    raise TypeError(f"fastnn.onnx.export: cannot export {where} of type {kind.__name__} (exact classes only, as a "
                    f"subclass may change forward); supported: {SUPPORTED}")


def run_reference(module: nn.Module, x: Any, offsets: Any = None) -> Tensor:
    """fastnn's own eval-mode forward along the same walk the exporter takes (offsets go to the
    first layer, which must then be an EmbeddingBag)."""
    if type(module) is nn.Sequential:
        for i, child in enumerate(module.children()):
            x = run_reference(child, x, offsets if i == 0 else None)
        return x
    if offsets is not None:
        if type(module) is not nn.EmbeddingBag:
            raise TypeError(f"fastnn.onnx.export: an (ids, offsets) input needs an EmbeddingBag first, got "
                            f"{type(module).__name__}")
        return module(x, offsets)
    return module(x)


class Exporter:
    """Emits the ONNX nodes of each supported layer (see the module docstring)."""

    def __init__(self, graph: GraphBuilder) -> None:
        self.g = graph

    def emit(self, module: nn.Module, x: str, rank: int, path: str, offsets: str | None = None) -> tuple[str, int]:
        """Nodes computing `module` on tensor `x` of rank `rank`; returns (output name, output rank)."""
        kind = type(module)
        base = path or "model"
        if kind is nn.Sequential:
            for i, (name, child) in enumerate(module.named_children()):
                x, rank = self.emit(child, x, rank, f"{path}.{name}" if path else name, offsets if i == 0 else None)
            return x, rank
        if kind is nn.Residual:
            inner, inner_rank = self.emit(module.module, x, rank, f"{base}.module")
            return self.g.node("Add", [x, inner], base), inner_rank
        if kind in (nn.Dropout, nn.Identity):
            return x, rank
        if kind is nn.Linear:
            return self.linear(module, x, rank, base), rank
        if kind is nn.EmbeddingBag:
            return self.embedding_bag(module, x, rank, base, offsets), 2
        if kind is nn.Embedding:
            weight = self.g.constant(f"{base}.weight", module.weight.numpy())
            return self.g.node("Gather", [weight, x], base, axis=0), rank + 1
        if kind is nn.Flatten:
            return self.flatten(module, x, rank, base)
        return self.activation(module, x, base), rank

    def linear(self, module: nn.Linear, x: str, rank: int, base: str) -> str:
        w = module.weight.numpy()
        b = None if module.bias is None else self.g.constant(f"{base}.bias", module.bias.numpy())
        if rank == 2:
            weight = self.g.constant(f"{base}.weight", w)
            return self.g.node("Gemm", [x, weight] + ([b] if b else []), base, transB=1)
        weight_t = self.g.constant(f"{base}.weight_t", w.T)
        y = self.g.node("MatMul", [x, weight_t], base)
        return self.g.node("Add", [y, b], base) if b else y

    def activation(self, module: nn.Module, x: str, base: str) -> str:
        kind = type(module)
        simple = {nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh"}
        if kind in simple:
            return self.g.node(simple[kind], [x], base)
        if kind is nn.LeakyReLU:
            return self.g.node("LeakyRelu", [x], base, alpha=float(module.negative_slope))
        if kind is nn.Hardtanh:
            low = self.g.constant(f"{base}.min", module.min_val)
            high = self.g.constant(f"{base}.max", module.max_val)
            return self.g.node("Clip", [x, low, high], base)
        if kind in (nn.Softmax, nn.LogSoftmax):  # dim=None never gets here: fastnn's forward refuses it
            return self.g.node(kind.__name__, [x], base, axis=int(module.dim))  # ONNX's op names
        if kind is nn.GELU:
            return self.gelu(module.approximate, x, base)
        raise TypeError(f"fastnn.onnx.export: cannot export {base} of type {kind.__name__}")

    def gelu(self, approximate: str, x: str, base: str) -> str:
        if self.g.opset >= GELU_OPSET:
            return self.g.node("Gelu", [x], base, approximate=approximate)
        half = self.g.constant(f"{base}.half", 0.5)
        one = self.g.constant(f"{base}.one", 1.0)
        if approximate == "none":
            scaled = self.g.node("Mul", [x, self.g.constant(f"{base}.inv_sqrt2", 1 / math.sqrt(2))], base)
            inner = self.g.node("Erf", [scaled], base)
        else:
            cube = self.g.node("Mul", [self.g.node("Mul", [x, x], base), x], base)
            poly = self.g.node("Add", [x, self.g.node("Mul", [cube, self.g.constant(f"{base}.c", 0.044715)], base)],
                               base)
            inner = self.g.node("Tanh", [self.g.node("Mul", [poly, self.g.constant(f"{base}.k",
                                                                                   math.sqrt(2 / math.pi))], base)],
                                base)
        return self.g.node("Mul", [self.g.node("Mul", [x, half], base), self.g.node("Add", [inner, one], base)],
                           base)

    def flatten(self, module: nn.Flatten, x: str, rank: int, base: str) -> tuple[str, int]:
        start = module.start_dim % rank
        end = module.end_dim % rank
        if start > end:
            raise ValueError(f"fastnn.onnx.export: {base}: Flatten(start_dim={module.start_dim}, "
                             f"end_dim={module.end_dim}) on a rank-{rank} input")
        if start == 1 and end == rank - 1:
            return self.g.node("Flatten", [x], base, axis=1), 2
        shape = self.g.node("Shape", [x], base)
        i64 = np.int64
        parts = []
        if start > 0:
            parts.append(self.g.node("Slice", [shape, self.g.constant(f"{base}.s0", [0], i64),
                                               self.g.constant(f"{base}.e0", [start], i64)], base))
        parts.append(self.g.constant(f"{base}.minus1", [-1], i64))
        if end < rank - 1:
            parts.append(self.g.node("Slice", [shape, self.g.constant(f"{base}.s1", [end + 1], i64),
                                               self.g.constant(f"{base}.e1", [rank], i64)], base))
        target = self.g.node("Concat", parts, base, axis=0) if len(parts) > 1 else parts[0]
        return self.g.node("Reshape", [x, target], base), rank - (end - start)

    def embedding_bag(self, module: nn.EmbeddingBag, ids: str, rank: int, base: str, offsets: str | None) -> str:
        g = self.g
        i64 = np.int64
        weight = g.constant(f"{base}.weight", module.weight.numpy())
        rows = g.node("Gather", [weight, ids], base, axis=0)
        if offsets is None:  # (B, L) padded matrix: a bag per row
            if rank != 2:
                raise ValueError(f"fastnn.onnx.export: {base}: EmbeddingBag needs a 2-D id matrix or (ids, offsets), "
                                 f"got rank {rank}")
            axis1 = g.constant(f"{base}.axis1", [1], i64)
            if module.padding_idx is None:
                op = "ReduceSum" if module.mode == "sum" else "ReduceMean"
                return g.node(op, [rows, axis1], base, keepdims=0)
            pad = g.constant(f"{base}.padding_idx", module.padding_idx, i64)
            mask = g.node("Cast", [g.node("Not", [g.node("Equal", [ids, pad], base)], base)], base,
                          to=self._float_type())
            masked = g.node("Mul", [rows, g.node("Unsqueeze", [mask, g.constant(f"{base}.axis2", [2], i64)], base)],
                            base)
            total = g.node("ReduceSum", [masked, axis1], base, keepdims=0)
            count = g.node("ReduceSum", [mask, axis1], base, keepdims=1)
        else:  # 1-D ids and offsets (B,): bag of position p = #(offsets <= p) - 1
            n = g.node("Shape", [ids], base)
            b = g.node("Shape", [offsets], base)
            zero = g.constant(f"{base}.zero", 0, i64)
            step = g.constant(f"{base}.step", 1, i64)
            squeeze0 = g.constant(f"{base}.axis0", [0], i64)
            positions = g.node("Range", [zero, g.node("Squeeze", [n, squeeze0], base), step], base)
            bags = g.node("Range", [zero, g.node("Squeeze", [b, squeeze0], base), step], base)
            started = g.node("Cast", [g.node("GreaterOrEqual", [
                g.node("Unsqueeze", [positions, g.constant(f"{base}.axis1u", [1], i64)], base),
                g.node("Unsqueeze", [offsets, squeeze0], base)], base)], base, to=self.g.onnx.TensorProto.INT64)
            bag_of = g.node("Sub", [g.node("ReduceSum", [started, g.constant(f"{base}.axis1s", [1], i64)], base,
                                           keepdims=0), step], base)
            onehot = g.node("Cast", [g.node("Equal", [
                g.node("Unsqueeze", [bags, g.constant(f"{base}.axis1b", [1], i64)], base),
                g.node("Unsqueeze", [bag_of, squeeze0], base)], base)], base, to=self._float_type())
            if module.padding_idx is not None:
                pad = g.constant(f"{base}.padding_idx", module.padding_idx, i64)
                keep = g.node("Cast", [g.node("Not", [g.node("Equal", [ids, pad], base)], base)], base,
                              to=self._float_type())
                onehot = g.node("Mul", [onehot, g.node("Unsqueeze", [keep, squeeze0], base)], base)
            total = g.node("MatMul", [onehot, rows], base)
            count = g.node("ReduceSum", [onehot, g.constant(f"{base}.axis1c", [1], i64)], base, keepdims=1)
        if module.mode == "sum":
            return total
        return g.node("Div", [total, g.node("Max", [count, g.constant(f"{base}.min_count", 1.0)], base)], base)

    def _float_type(self) -> int:
        return self.g.helper.np_dtype_to_tensor_dtype(self.g.dtype)


def _array(value: Any, what: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    raise TypeError(f"fastnn.onnx.export: {what} must be a fastnn Tensor or a NumPy array, got {type(value).__name__}")


def build(model: nn.Module, example_input: Any, opset: int = 18, dynamic_batch: bool = True,
          input_names: Sequence[str] | None = None, output_name: str = "output",
          metadata: dict[str, str] | None = None) -> Any:
    """The checked ``onnx.ModelProto`` of `model` (see :func:`export`)."""
    onnx = _onnx()
    if not isinstance(model, nn.Module):
        raise TypeError(f"fastnn.onnx.export: model must be a fastnn.nn.Module, got {type(model).__name__}")
    highest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= highest:
        raise ValueError(f"fastnn.onnx.export: opset must be an int in [{MIN_OPSET}, {highest}], got {opset!r}")
    check_supported(model)
    inputs = example_input if isinstance(example_input, tuple) else (example_input,)
    if not 1 <= len(inputs) <= 2:
        raise ValueError("fastnn.onnx.export: example_input is one tensor or an (ids, offsets) pair")
    arrays = [_array(v, "example_input") for v in inputs]
    dtypes = {p.numpy().dtype for p in model.parameters()} or {np.dtype(np.float32)}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
        raise TypeError("fastnn.onnx.export: parameters must all be float32 or all float64, got "
                        f"{sorted(map(str, dtypes))}")
    dtype = next(iter(dtypes))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            tensors = [from_numpy(a) for a in arrays]
            out = run_reference(model, *tensors).numpy()
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"fastnn.onnx.export: the model does not run on example_input ({exc})") from exc
    finally:
        model.train(was_training)
    names = list(input_names) if input_names is not None else (["input"] if len(arrays) == 1 else ["input", "offsets"])
    if len(names) != len(arrays):
        raise ValueError(f"fastnn.onnx.export: {len(arrays)} input(s) but input_names {names}")
    graph = GraphBuilder(onnx, dtype, opset)
    for name in [*names, output_name]:
        graph.names.add(name)
    offsets = names[1] if len(arrays) == 2 else None
    result, _ = Exporter(graph).emit(model, names[0], arrays[0].ndim, "", offsets)
    graph.nodes.append(onnx.helper.make_node("Identity", [result], [output_name], name=graph.name("node.output")))

    def value_info(name: str, array: np.ndarray, batch: str | None) -> Any:
        shape: list[Any] = list(array.shape)
        if batch is not None and shape:
            shape[0] = batch
        elem = onnx.helper.np_dtype_to_tensor_dtype(array.dtype if array.dtype.kind == "f" or array.dtype == np.int64
                                                    else np.dtype(np.int64))
        return onnx.helper.make_tensor_value_info(name, elem, shape)

    if len(arrays) == 2:
        graph_inputs = [value_info(names[0], arrays[0], "n_ids" if dynamic_batch else None),
                        value_info(names[1], arrays[1], "batch" if dynamic_batch else None)]
    else:
        graph_inputs = [value_info(names[0], arrays[0], "batch" if dynamic_batch else None)]
    for array, name in zip(arrays, names):
        if array.dtype.kind not in "fiu" or (array.dtype.kind == "f" and array.dtype != dtype):
            raise TypeError(f"fastnn.onnx.export: input {name!r} has dtype {array.dtype}; expected {dtype} "
                            "(or int64 ids)")
        if array.dtype.kind in "iu" and array.dtype != np.int64:
            raise TypeError(f"fastnn.onnx.export: input {name!r} has dtype {array.dtype}; ids must be int64")
    outputs = [value_info(output_name, out, "batch" if dynamic_batch else None)]
    onnx_graph = onnx.helper.make_graph(graph.nodes, type(model).__name__, graph_inputs, outputs, graph.initializers)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(onnx_graph, opset_imports=opsets, producer_name="fastnn",
                                   producer_version=__version__,
                                   ir_version=onnx.helper.find_min_ir_version_for(opsets))
    if metadata:
        onnx.helper.set_model_props(proto, dict(metadata))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: nn.Module, example_input: Any, path: str | os.PathLike, opset: int = 18,
           dynamic_batch: bool = True, input_names: Sequence[str] | None = None, output_name: str = "output",
           metadata: dict[str, str] | None = None) -> Any:
    """Write `model` (eval mode) as an ONNX file at `path`, atomically, and return the ModelProto.

    `example_input` is a float array/Tensor (or int64 ids for embeddings), or ``(ids, offsets)``
    for a model that starts with an EmbeddingBag; its shape fixes every dimension but the batch
    (the first, symbolic when `dynamic_batch`). Graph inputs are named "input" (and "offsets"),
    the output "output". `metadata` (str -> str) goes into the model's metadata_props.
    """
    proto = build(model, example_input, opset, dynamic_batch, input_names, output_name, metadata)
    with atomic_write(path, "wb") as f:
        f.write(proto.SerializeToString())
    return proto


def export_checkpoint(model_path: str | os.PathLike, out_path: str | os.PathLike, opset: int = 18,
                      dynamic_batch: bool = True) -> Any:
    """Export a model saved by ``fastnn train`` (a .fnn checkpoint of format "fastnn-cli-mlp").

    The graph maps the encoded feature vector (float32, one column per numeric feature and one per
    category of each text feature, as ``fastnn predict`` encodes a CSV row) to the network's raw
    outputs (class logits, or the standardised regression target). The preprocessing is written
    to the ONNX metadata ("fastnn.preprocessor", JSON) so a consumer can encode rows the same way.
    """
    saved = load(model_path)
    if not isinstance(saved, dict) or saved.get("format") != "fastnn-cli-mlp":
        raise ValueError(f"fastnn.onnx.export_checkpoint: {os.fspath(model_path)}: not a model written by "
                         "'fastnn train'")
    try:
        hidden = [int(h) for h in saved["hidden"]]
        n_in, n_out = int(saved["n_in"]), int(saved["n_out"])
        layers: list[nn.Module] = []
        width = n_in
        for size in hidden:  # the architecture `fastnn train` builds: Linear-ReLU blocks, then Linear
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, n_out))
        model = nn.Sequential(*layers)
        model.load_state_dict(saved["model"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise ValueError(f"fastnn.onnx.export_checkpoint: {os.fspath(model_path)}: malformed checkpoint "
                         f"({exc})") from None
    metadata = {"fastnn.preprocessor": json.dumps(saved.get("preprocessor")), "fastnn.format": "fastnn-cli-mlp"}
    example = np.zeros((1, n_in), dtype=np.float32)
    return export(model, example, out_path, opset=opset, dynamic_batch=dynamic_batch, metadata=metadata)


__all__ = ["SUPPORTED", "build", "check_supported", "export", "export_checkpoint", "run_reference"]
