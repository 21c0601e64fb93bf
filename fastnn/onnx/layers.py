"""The layer converters: the ONNX nodes of each supported fastnn layer (the table in fastnn.onnx's
docstring)."""

from __future__ import annotations

import math

import numpy as np

from fastnn import nn
from fastnn.onnx.graph import GELU_OPSET, GraphBuilder


class Exporter:
    """Emits the ONNX nodes of each supported layer (see fastnn.onnx's docstring)."""

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
