"""The ONNX graph under construction (GraphBuilder), the lazily imported ``onnx`` package, and the
walk the exporter takes over a model: which modules it supports and fastnn's reference forward."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fastnn import nn
from fastnn.tensor import Tensor

MIN_OPSET = 13
GELU_OPSET = 20


def load_onnx():
    """The third-party ``onnx`` package (with checker, helper and numpy_helper), or an ImportError saying
    how to install it."""
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


def leaf_layers() -> tuple[type, ...]:
    """The single-layer module classes the exporter converts (EmbeddingBag apart: it takes offsets)."""
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
    if kind in leaf_layers() or kind is nn.EmbeddingBag:
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
