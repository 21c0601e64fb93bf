"""Lowering: a plan's layers as the op table the compiled interpreter (``kernels.run_step``) runs.

Each op is one row of ``kernels.OP_COLUMNS`` integers (kind, input and output width, offsets of
its parameters in the flat buffer, activation code, its workspace columns, the op it reads,
an extra index, its mask columns, whether its input needs a gradient) and two floats (the
activation's negative slope or the dropout probability, and the dropout scale). Workspace
columns are per sample: op k's output occupies columns ``col .. col+width`` of an (n, cols)
workspace laid out column-block by column-block, so one table serves every batch size.
"""

from __future__ import annotations

import numpy as np

from fastnn.compile import kernels as K
from fastnn.compile.planner import Plan

LOSSES = {"ce": K.LOSS_CE, "nll": K.LOSS_NLL, "mse": K.LOSS_MSE, "bce": K.LOSS_BCE}


class Lowered:
    """The op table (ops, fl) and config (cfg, cff) of a plan for one input width."""

    def __init__(self, plan: Plan, window: int = 1) -> None:
        self.rows: list[list[int]] = []
        self.floats: list[tuple[float, float]] = []
        self.cols = 0
        self.mcols = 0
        self.maxw = 1
        self.dropouts = 0
        self.table_rows = 0
        self.transposed = 0  # the largest weight the forward pass transposes (blocks.WT_MAX)
        self.dtype = plan.dtype
        width = plan.in_features
        src, needs = -1, False
        self.trains = plan.trains
        for layer in plan.layers:
            src, width, needs = self._lower(layer, src, width, needs, window)
        self.out_width = width
        self.ops = np.asarray(self.rows, dtype=np.int64).reshape(-1, K.OP_COLUMNS)
        self.fl = np.asarray(self.floats, dtype=np.float64).reshape(-1, 2)
        cfg = np.zeros(K.CONFIG_SIZE, dtype=np.int64)
        loss = plan.loss
        cfg[K.C_SPARSE] = plan.dense if plan.trained > plan.dense else -1  # the one sparse table's index
        if loss[0] != "none":  # (none: a forward-only plan, fastnn.compile's inference, run by run_forward)
            # CrossEntropyLoss with class weights runs as NLLLoss of LogSoftmax (as it does eagerly)
            weighted = loss[0] in ("ce", "nll") and loss[3]
            cfg[K.C_LOSS] = K.LOSS_NLL if weighted else LOSSES[loss[0]]
            cfg[K.C_IGNORE] = loss[1] if loss[0] in ("ce", "nll") else -100
            cfg[K.C_MEAN] = loss[-1]
            cfg[K.C_WEIGHTS] = plan.out_features if weighted else 0
        cfg[K.C_COLS], cfg[K.C_MCOLS], cfg[K.C_MAXW], cfg[K.C_ROWS] = self.cols, self.mcols, self.maxw, self.table_rows
        cfg[K.C_OUTW] = width
        cfg[K.C_WT] = self.transposed
        self.cfg = cfg
        self.cff = np.zeros(K.F_WEIGHTS + cfg[K.C_WEIGHTS], dtype=np.float64)  # the weights: see set_class_weights
        self.cff[K.F_SMOOTHING] = loss[2] if loss[0] in ("ce", "nll") else 0.0

    def set_class_weights(self, weight: np.ndarray) -> None:
        """Copy the loss's class weights (read at every step: they may be edited in place)."""
        self.cff[K.F_WEIGHTS:] = weight

    def workspace(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """New (float workspace, dropout-mask workspace, view of the model's output in it) for n
        samples (the step keeps one per batch size in its frames; inference takes one per call, as it
        may run in several threads at once)."""
        ws = np.empty(K.workspace_size(self.cfg, n), self.dtype)
        col = self.rows[-1][K.K_COL]
        return (ws, np.empty(n * self.mcols, np.uint8),
                ws[n * col:n * (col + self.out_width)].reshape(n, self.out_width))

    def _op(self, kind: int, win: int, wout: int, src: int, needs: bool, *, poff: int = 0, boff: int = -1,
            code: int = 0, zcol: int = -1, extra: int = 0, mcol: int = 0, f0: float = 0.0, f1: float = 0.0) -> int:
        col = self.cols
        self.cols += wout
        self.maxw = max(self.maxw, wout, win if needs else 1)  # (an input gradient is only made when needed)
        self.rows.append([kind, win, wout, poff, boff, code, col, zcol, src, extra, mcol, int(needs)])
        self.floats.append((f0, f1))
        return len(self.rows) - 1

    def _lower(self, layer, src: int, width: int, needs: bool, window: int) -> tuple[int, int, bool]:
        kind = layer.kind
        if kind == "linear":
            inn, out = layer.sizes
            zcol = -1
            if layer.code in K.SAVES_INPUT:
                zcol = self.cols
                self.cols += out
            if inn * out <= K.WT_MAX:
                self.transposed = max(self.transposed, inn * out)
            k = self._op(K.LINEAR, inn, out, src, needs, poff=layer.offsets[0],
                         boff=layer.offsets[1] if layer.has_bias else -1, code=layer.code, zcol=zcol, f0=layer.slope)
            trained = self.trains(layer.offsets[0]) or layer.has_bias and self.trains(layer.offsets[1])
            return k, out, needs or trained  # whether the output needs a gradient
        if kind == "act":
            return self._op(K.ACT, width, width, src, needs, code=layer.code, f0=layer.slope), width, needs
        if kind == "dropout":
            scale = float(self.dtype.type(0.0 if layer.p >= 1.0 else 1.0 / (1.0 - layer.p)))
            mcol = self.mcols
            self.mcols += width
            k = self._op(K.DROPOUT, width, width, src, needs, extra=self.dropouts, mcol=mcol, f0=layer.p, f1=scale)
            self.dropouts += 1
            return k, width, needs
        if kind == "residual":
            begin = self._op(K.RES_BEGIN, width, width, src, needs)
            inner, inner_width, inner_needs = begin, width, needs
            for sub in layer.body:
                inner, inner_width, inner_needs = self._lower(sub, inner, inner_width, inner_needs, window)
            end = self._op(K.RES_END, width, width, inner, inner_needs, extra=begin)
            self.rows[begin][K.K_EXTRA] = end
            return end, width, inner_needs
        if kind in ("embedding", "bag"):
            rows, dim = layer.sizes
            self.table_rows = rows
            out = dim * (window if kind == "embedding" else 1)
            k = self._op(K.EMBEDDING if kind == "embedding" else K.BAG, dim, out, -1, False, poff=layer.offsets[0],
                         code=int(layer.mean), extra=layer.padding)
            return k, out, self.trains(layer.offsets[0])
        if kind == "flatten":
            return src, width, needs
        raise AssertionError(kind)


__all__ = ["Lowered"]
