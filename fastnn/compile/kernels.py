"""The compiled step's interpreter: ``run_step`` runs a model's op table (forward, loss,
backward, finiteness check, clipping and the optimizer update of every parameter) over flat
buffers, calling the blocks of ``fastnn.compile.blocks`` (whose names it re-exports for the
driver, the fused optimizers and the planner)."""

from __future__ import annotations

import numpy as np

from fastnn.compile.blocks import (  # noqa: F401  (re-exported for step.py, fused.py, planner.py)
    ACTIVATION_CODES,
    BAD_INDEX,
    BAD_LABEL,
    BAD_STATE,
    BIAS_GRAD_CHUNKS,
    GELU_CODE,
    GELU_TANH_CODE,
    H_COLUMNS,
    H_KIND,
    LEAKY_RELU_CODE,
    NONFINITE_GRAD,
    NONFINITE_LOSS,
    OK,
    OPT_ADADELTA,
    OPT_ADAGRAD,
    OPT_ADAM,
    OPT_RMSPROP,
    OPT_SGD,
    OPT_SPARSE_ADAM,
    SAVES_INPUT,
    TINY_WORK,
    WT_MAX,
    backward_into,
    bag_backward,
    bag_forward,
    blas_addresses,
    check_indices,
    cross_entropy,
    dropout_backward,
    dropout_forward,
    embedding_backward,
    embedding_forward,
    finite_status,
    forward_into,
    grad_norm,
    jit,
    linear_backward,
    linear_forward,
    nll_log_softmax,
    pointwise_loss,
    span_finite,
    update_all,
)
from fastnn.compile.frame import (
    F_BLAS,
    F_BOUNDS,
    F_CFF,
    F_CFG,
    F_FL,
    F_G,
    F_H,
    F_INFO,
    F_MS,
    F_OPS,
    F_P,
    F_S0,
    F_S1,
    F_S2,
    F_SEEDS,
    F_SPOS,
    F_SROWS,
    F_STEPS,
    F_SVALUES,
    F_WS,
)
from fastnn.compile.jit import jit_inline
from fastnn.compile.sparse import sparse_adam_rows, sparse_table_grad
from fastnn.compile.views import slot, view1d, view2d

# ---------------------------------------------------------------------------- interpreter
# The op table (int64, one row per op; see fastnn.compile.lowering) and its columns.
LINEAR, ACT, DROPOUT, RES_BEGIN, RES_END, EMBEDDING, BAG = range(1, 8)
K_KIND, K_IN, K_OUT, K_POFF, K_BOFF, K_CODE, K_COL, K_ZCOL, K_SRC, K_EXTRA, K_MCOL, K_NEEDS = range(12)
OP_COLUMNS = 12
# The config (int64): loss kind, ignore_index, mean, workspace columns, mask columns, widest layer,
# embedding rows, clipping, output width, class weights, the row-sparse table's parameter index
# (-1: none), the largest weight the forward pass transposes (blocks.WT_MAX).
LOSS_CE, LOSS_NLL, LOSS_MSE, LOSS_BCE = range(4)
(C_LOSS, C_IGNORE, C_MEAN, C_COLS, C_MCOLS, C_MAXW, C_ROWS, C_CLIP, C_OUTW, C_WEIGHTS, C_SPARSE,
 C_WT) = range(12)
CONFIG_SIZE = 12
CLIP_NONE, CLIP_NORM, CLIP_VALUE = range(3)
# The float config: label smoothing, clip threshold, clip norm type, (written) the total norm, then
# the cfg[C_WEIGHTS] class weights of the loss (LOSS_NLL; none when 0).
F_SMOOTHING, F_CLIP, F_NORM_TYPE, F_TOTAL_NORM, F_WEIGHTS = range(5)


def workspace_size(cfg: np.ndarray, n: int) -> int:
    """Elements of the float workspace run_step needs for n samples: the forward columns, the
    loss gradient, three backward buffers, the bias-gradient partial sums, the row losses and
    the transposed weight of the forward pass."""
    return (n * (int(cfg[C_COLS]) + int(cfg[C_OUTW]) + 3 * int(cfg[C_MAXW]) + 1)
            + BIAS_GRAD_CHUNKS * int(cfg[C_MAXW]) + int(cfg[C_WT]))


@jit
def _transposed(ws, n, cfg):
    """The workspace's last cfg[C_WT] elements: room for a small weight, transposed."""
    return view1d(ws, ws.shape[0] - cfg[C_WT], cfg[C_WT])


@jit
def _slot(ws, n, col, width):
    return view2d(ws, n * col, n, width)


@jit_inline
def run_forward(n, xf, ids, offsets, ops, fl, cfg, P, seeds, info, ws, ms, blas):
    """The forward pass of the op table (see run_step): each op's output to its workspace slot;
    returns OK or BAD_INDEX (an embedding index out of range, info = (position, id))."""
    nops = ops.shape[0]
    for k in range(nops):
        kind, win, wout, src = ops[k, K_KIND], ops[k, K_IN], ops[k, K_OUT], ops[k, K_SRC]
        out = _slot(ws, n, ops[k, K_COL], wout)
        if kind == EMBEDDING or kind == BAG:
            rows, dim = cfg[C_ROWS], win
            table = view2d(P, ops[k, K_POFF], rows, dim)
            status = check_indices(ids, rows, info)
            if status != OK:
                return status
            if kind == EMBEDDING:
                embedding_forward(table, ids, out.reshape((-1, dim)))
            else:
                bag_forward(table, ids, offsets, ops[k, K_CODE] != 0, ops[k, K_EXTRA], out)
            continue
        h = xf if src < 0 else _slot(ws, n, ops[src, K_COL], win)
        if kind == LINEAR:
            w = view2d(P, ops[k, K_POFF], wout, win)
            boff = ops[k, K_BOFF]
            b = view1d(P, boff, wout) if boff >= 0 else view1d(P, 0, 0)
            z = out if ops[k, K_ZCOL] < 0 else _slot(ws, n, ops[k, K_ZCOL], wout)
            linear_forward(h, w, b, boff >= 0, ops[k, K_CODE], fl[k, 0], z, out, blas, _transposed(ws, n, cfg))
        elif kind == ACT:
            forward_into(h.reshape(-1), out.reshape(-1), 0, n * win, ops[k, K_CODE], fl[k, 0])
        elif kind == DROPOUT:
            mask = view1d(ms, n * ops[k, K_MCOL], n * wout)
            dropout_forward(h.reshape(-1), fl[k, 0], seeds[ops[k, K_EXTRA]], fl[k, 1], out.reshape(-1), mask)
        elif kind == RES_BEGIN:
            out[:, :] = h
        else:  # RES_END: body output (src) + the residual's input (the RES_BEGIN op's output)
            skip = _slot(ws, n, ops[ops[k, K_EXTRA], K_COL], wout)
            for i in range(n):
                for j in range(wout):
                    out[i, j] = skip[i, j] + h[i, j]
    return OK


@jit
def run_step(n, xf, ids, offsets, yi, yf, frame):
    """One training step of the op table on a batch of n samples; returns (status, loss). The step's
    own arrays come in `frame` (a ``frame.Frame``'s table: one array to convert per call instead of
    twenty; unpacked here, in the one function, so that Numba compiles and optimises the whole step
    once rather than again for a wrapper). The model's output (the logits before the LogSoftmax of
    an NLLLoss plan) is left in the workspace ws (workspace_size(cfg, n) elements, as the uint8
    dropout masks ms of n * cfg[C_MCOLS]): the last op's slot. blas: the gemm addresses
    (blocks.blas_addresses()).

    xf (n, in) float features (or an empty array when the first op is an embedding, whose ids
    (flat) and bag offsets come in ids/offsets); yi int64 labels or yf float targets (the other
    empty). Forward: each op writes its output to its own slot of one workspace (columns
    K_COL.., n rows); dropout masks to a uint8 workspace. Loss, then backward in reverse through
    two gradient buffers; parameter gradients land in G. Then the finiteness check and the
    update of every parameter's slice of P, G, S0..S2 by its optimizer kind with H[i], steps[i].
    G holds the gradients of the parameters with dense ones, bounds[-1] elements; a row-sparse
    table (parameter cfg[C_SPARSE], updated by SparseAdam) follows them in P, S0 and S1 and its
    gradient goes to srows (rows, >= 2 len(ids) int64) and svalues (>= len(ids) * dim), info[2]
    rows (spos: all -1, one per table row); frozen parameters (requires_grad=False) come last in P.
    """
    ty = xf.dtype
    ops_flat = slot(frame, F_OPS, np.int64)
    nops = ops_flat.shape[0] // OP_COLUMNS
    h_flat = slot(frame, F_H, np.float64)
    ops, fl = view2d(ops_flat, 0, nops, OP_COLUMNS), view2d(slot(frame, F_FL, np.float64), 0, nops, 2)
    cfg, cff = slot(frame, F_CFG, np.int64), slot(frame, F_CFF, np.float64)
    P, G, S0, S1, S2 = (slot(frame, F_P, ty), slot(frame, F_G, ty), slot(frame, F_S0, ty), slot(frame, F_S1, ty),
                        slot(frame, F_S2, ty))
    H, steps = view2d(h_flat, 0, h_flat.shape[0] // H_COLUMNS, H_COLUMNS), slot(frame, F_STEPS, np.int64)
    seeds, bounds = slot(frame, F_SEEDS, np.uint64), slot(frame, F_BOUNDS, np.int64)
    info = slot(frame, F_INFO, np.int64)
    ws, ms, srows = slot(frame, F_WS, ty), slot(frame, F_MS, np.uint8), slot(frame, F_SROWS, np.int64)
    svalues, spos, blas = slot(frame, F_SVALUES, ty), slot(frame, F_SPOS, np.int64), slot(frame, F_BLAS, np.int64)
    status = run_forward(n, xf, ids, offsets, ops, fl, cfg, P, seeds, info, ws, ms, blas)
    if status != OK:
        return status, 0.0
    last = nops - 1
    logits = _slot(ws, n, ops[last, K_COL], ops[last, K_OUT])
    maxw, outw = cfg[C_MAXW], cfg[C_OUTW]
    at = n * cfg[C_COLS]  # the backward buffers follow the forward columns
    g_loss = view2d(ws, at, n, outw)
    at += n * outw
    ga, gb, dzs = view1d(ws, at, n * maxw), view1d(ws, at + n * maxw, n * maxw), view1d(ws, at + 2 * n * maxw, n * maxw)
    at += 3 * n * maxw
    partials = view1d(ws, at, BIAS_GRAD_CHUNKS * maxw)
    row_loss = view1d(ws, at + BIAS_GRAD_CHUNKS * maxw, n)
    loss_kind, mean = cfg[C_LOSS], cfg[C_MEAN] != 0
    g = g_loss
    if loss_kind == LOSS_CE:
        status, loss = cross_entropy(logits, yi, cfg[C_IGNORE], cff[F_SMOOTHING], mean, g, row_loss, info)
        if status != OK:
            return status, 0.0
    elif loss_kind == LOSS_NLL:
        weight = view1d(cff, F_WEIGHTS, cfg[C_WEIGHTS])
        status, loss = nll_log_softmax(logits, yi, weight, cfg[C_IGNORE], cff[F_SMOOTHING], mean, g, info)
        if status != OK:
            return status, 0.0
    else:
        loss = pointwise_loss(loss_kind - LOSS_MSE, logits, yf, mean, g)
    # backward; parameters at offsets from `trained` on (G ends there) get no dense gradient
    trained = G.shape[0]
    which = 0
    for k in range(last, -1, -1):
        kind, win, wout, src = ops[k, K_KIND], ops[k, K_IN], ops[k, K_OUT], ops[k, K_SRC]
        if kind == EMBEDDING or kind == BAG:
            if cfg[C_SPARSE] >= 0:
                info[2] = sparse_table_grad(kind == BAG, g, ids, offsets, ops[k, K_CODE] != 0, ops[k, K_EXTRA], win,
                                            srows, svalues, spos)
                continue
            if ops[k, K_POFF] >= trained:
                continue  # a frozen table
            rows, dim = cfg[C_ROWS], win
            dw = view2d(G, ops[k, K_POFF], rows, dim)
            dw[:, :] = 0
            if kind == EMBEDDING:
                embedding_backward(g.reshape((-1, dim)), ids, ops[k, K_EXTRA], dw)
            else:
                bag_backward(g, ids, offsets, ops[k, K_CODE] != 0, ops[k, K_EXTRA], dw)
            continue
        needs = ops[k, K_NEEDS] != 0
        if kind != LINEAR and not needs:
            continue
        dst = view2d(gb if which == 1 else ga, 0, n if needs else 0, win)  # the input's gradient (none: 0 rows)
        if kind == LINEAR:
            h = xf if src < 0 else _slot(ws, n, ops[src, K_COL], win)
            out = _slot(ws, n, ops[k, K_COL], wout)
            saved = out if ops[k, K_ZCOL] < 0 else _slot(ws, n, ops[k, K_ZCOL], wout)
            code = ops[k, K_CODE]
            dz = g if code == 0 else view2d(dzs, 0, n, wout)
            poff, boff = ops[k, K_POFF], ops[k, K_BOFF]
            w = view2d(P, poff, wout, win)
            dw = view2d(G, poff, wout, win) if poff < trained else view2d(G, 0, 0, win)  # none when frozen
            bias_grad = 0 <= boff < trained
            db = view1d(G, boff, wout) if bias_grad else view1d(G, 0, 0)
            partial = view2d(partials, 0, BIAS_GRAD_CHUNKS, wout)
            linear_backward(g, saved, h, w, code, fl[k, 0], dz, dw, db, bias_grad, dst, partial,
                            blas)
            if not needs:
                break
        elif kind == ACT:
            code = ops[k, K_CODE]
            if code == LEAKY_RELU_CODE or code == GELU_CODE or code == GELU_TANH_CODE:
                saved = xf if src < 0 else _slot(ws, n, ops[src, K_COL], win)
            else:
                saved = _slot(ws, n, ops[k, K_COL], wout)
            backward_into(g.reshape(-1), saved.reshape(-1), dst.reshape(-1), 0, n * win, code, fl[k, 0])
        elif kind == DROPOUT:
            mask = view1d(ms, n * ops[k, K_MCOL], n * wout)
            dropout_backward(g.reshape(-1), mask, fl[k, 1], dst.reshape(-1))
        elif kind == RES_END:  # the skip's share of g waits in this op's (now free) output slot, or,
            if k != last:     # when this op gives the model's output, in the loss gradient (which it is)
                stash = _slot(ws, n, ops[k, K_COL], wout)
                stash[:, :] = g
            continue
        else:  # RES_BEGIN: the body's gradient plus the skip's
            end = ops[k, K_EXTRA]
            stash = g_loss if end == last else _slot(ws, n, ops[end, K_COL], wout)
            for i in range(n):
                for j in range(wout):
                    dst[i, j] = g[i, j] + stash[i, j]
        g = dst
        which = 2 if which == 1 else 1
    status = finite_status(loss, G, bounds, info)
    if status != OK:
        return status, loss
    table = cfg[C_SPARSE]
    if table >= 0 and not span_finite(svalues, 0, info[2] * ops[0, K_IN]):
        info[0] = table
        return NONFINITE_GRAD, loss
    if cfg[C_CLIP] == CLIP_NORM:
        total = grad_norm(G, cff[F_NORM_TYPE])
        cff[F_TOTAL_NORM] = total
        coef = G.dtype.type(min(cff[F_CLIP] / (total + 1e-6), 1.0))
        for j in range(G.shape[0]):
            G[j] *= coef
    elif cfg[C_CLIP] == CLIP_VALUE:
        hi = G.dtype.type(cff[F_CLIP])
        for j in range(G.shape[0]):
            G[j] = min(max(G[j], -hi), hi)
    if not update_all(P, G, S0, S1, S2, H, steps, bounds):
        return BAD_STATE, loss
    if table >= 0:
        sparse_adam_rows(P, S0, S1, ops[0, K_POFF], ops[0, K_IN], srows, info[2], svalues, H[table], steps[table])
    return OK, loss
