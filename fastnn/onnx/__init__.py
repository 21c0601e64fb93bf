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

Layout: graph.py (the graph builder, the supported-module walk, the lazy ``onnx`` import),
layers.py (the layer converters), this module (build, export, export_checkpoint).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn import nn
from fastnn.functions import from_numpy
from fastnn.io import atomic_write, load
from fastnn.onnx.graph import GELU_OPSET as GELU_OPSET  # re-exported: fastnn.onnx.GELU_OPSET
from fastnn.onnx.graph import MIN_OPSET, SUPPORTED, GraphBuilder, check_supported, load_onnx, run_reference
from fastnn.onnx.layers import Exporter
from fastnn.tensor import Tensor, no_grad
from fastnn.version import __version__


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
    onnx = load_onnx()
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

