"""The building blocks a generated step function calls: Numba functions over whole layers.

Each block calls the Numba backend's own kernels for its elementwise part (bias + activation,
activation derivative + bias-gradient column sums, losses, dropout, embeddings, optimizer
updates), so the compiled step computes exactly what the eager Numba backend computes; only
the matrix products are chosen here. They run on BLAS (Numba's ``np.dot``, the same OpenBLAS
build NumPy uses, so bit-identical to eager) unless a product is tiny (``TINY_WORK``
multiply-adds or fewer), where a direct loop is faster than a BLAS call; the loop sums in
another order, so those products differ from BLAS by a few ulps.

Every block is compiled ``cache=True`` and serially: a step is one thread of Python, and the
BLAS calls inside it use BLAS's own threads.

Status codes returned by the loss blocks: ``OK``; ``BAD_LABEL`` (``info`` holds the row and the
label); the step function adds ``NONFINITE_LOSS`` and ``NONFINITE_GRAD`` (``info[0]`` = index
of the parameter).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The Numba backend's kernel bodies (imported in this one place; see the module docstring).
from fastnn.backends.numba import activations, dense, dropout, embedding, losses, optim

OK, BAD_LABEL, NONFINITE_LOSS, NONFINITE_GRAD, BAD_INDEX = 0, 1, 2, 3, 4

TINY_WORK = 32768
"""Products of at most this many multiply-adds run as direct loops (no BLAS call)."""

BIAS_GRAD_CHUNKS = dense.BIAS_GRAD_CHUNKS
ACTIVATION_CODES = dict(activations.ACTIVATION_CODES)
LEAKY_RELU_CODE, GELU_CODE, GELU_TANH_CODE = activations.LEAKY_RELU, activations.GELU, activations.GELU_TANH
SAVES_INPUT = (LEAKY_RELU_CODE, GELU_CODE, GELU_TANH_CODE)

_bias_activation = dense.BIAS_ACTIVATION[0]
_act_grad_bias_grad = dense.ACTIVATION_GRAD_AND_BIAS_GRAD[0]
_forward_into = activations.forward_into
_backward_into = activations.backward_into
_log_softmax_forward = activations.LOG_SOFTMAX_FORWARD[0]
_log_softmax_backward = activations.LOG_SOFTMAX_BACKWARD[0]
_softmax_cross_entropy = losses.SOFTMAX_CROSS_ENTROPY[0]
_mse = losses.MSE[0]
_bce = losses.BCE_WITH_LOGITS[0]
_dropout_forward = dropout.DROPOUT_FORWARD[0]
_dropout_backward = dropout.DROPOUT_BACKWARD[0]
_embedding_forward = embedding.EMBEDDING_FORWARD[0]
_embedding_backward = embedding.EMBEDDING_BACKWARD[0]
_bag_forward = embedding.EMBEDDING_BAG_FORWARD[0]
_bag_backward = embedding.EMBEDDING_BAG_BACKWARD[0]
_sgd = optim.SGD[0]
_adagrad = optim.ADAGRAD[0]
_rmsprop = optim.RMSPROP
_adadelta = optim.ADADELTA[0]
_adam = optim.ADAM

BLOCK = 4096


def jit(func):
    """The house options: nopython, cached on disk, IEEE maths, NumPy's division semantics."""
    return njit(cache=True, error_model="numpy")(func)


# ------------------------------------------------------------------------------- products
@jit
def matmul_nt(x, w, out):
    """out = x @ w.T; x (n, k), w (m, k), out (n, m)."""
    n, k = x.shape
    m = w.shape[0]
    if n * k * m > TINY_WORK:
        np.dot(x, w.T, out)
        return
    wt = np.ascontiguousarray(w.T)
    zero = out.dtype.type(0.0)
    for i in range(n):
        row = out[i]
        for j in range(m):
            row[j] = zero
        for q in range(k):
            xv = x[i, q]
            src = wt[q]
            for j in range(m):
                row[j] += xv * src[j]


@jit
def matmul_nn(a, w, out):
    """out = a @ w; a (n, m), w (m, k), out (n, k)."""
    n, m = a.shape
    k = w.shape[1]
    if n * k * m > TINY_WORK:
        np.dot(a, w, out)
        return
    zero = out.dtype.type(0.0)
    for i in range(n):
        row = out[i]
        for q in range(k):
            row[q] = zero
        for j in range(m):
            av = a[i, j]
            src = w[j]
            for q in range(k):
                row[q] += av * src[q]


@jit
def matmul_tn(a, x, out):
    """out = a.T @ x; a (n, m), x (n, k), out (m, k)."""
    n, m = a.shape
    k = x.shape[1]
    if n * k * m > TINY_WORK:
        np.dot(a.T, x, out)
        return
    zero = out.dtype.type(0.0)
    for j in range(m):
        row = out[j]
        for q in range(k):
            row[q] = zero
    for i in range(n):
        src = x[i]
        for j in range(m):
            av = a[i, j]
            row = out[j]
            for q in range(k):
                row[q] += av * src[q]


# --------------------------------------------------------------------------------- layers
@jit
def linear_forward(x, w, b, has_bias, code, slope, z, a):
    """z = x @ w.T + b and a = act(z) (a may be z), as the Numba backend's fused linear kernel."""
    matmul_nt(x, w, z)
    _bias_activation(z, b, a, has_bias, code, slope)


@jit
def linear_backward(g, saved, x, w, code, slope, dz, dw, db, has_bias, dx, partial):
    """dz = g * act'(saved) (dz is g itself for the identity); db = column sums of dz (in
    BIAS_GRAD_CHUNKS chunks, as the backend); dw = dz.T @ x; dx = dz @ w unless dx is empty."""
    _act_grad_bias_grad(g, saved, dz, partial, code, slope, code != 0)
    if has_bias:
        for j in range(db.shape[0]):
            db[j] = partial[0, j]
        for c in range(1, partial.shape[0]):
            for j in range(db.shape[0]):
                db[j] += partial[c, j]
    matmul_tn(dz, x, dw)
    if dx.shape[0] != 0:
        matmul_nn(dz, w, dx)


@jit
def check_indices(ids, rows, info):
    """OK when every id lies in [0, rows), else BAD_INDEX with info = (position, id)."""
    for i in range(ids.shape[0]):
        if ids[i] < 0 or ids[i] >= rows:
            info[0] = i
            info[1] = ids[i]
            return BAD_INDEX
    return OK


# --------------------------------------------------------------------------------- losses
@jit
def cross_entropy(logits, target, ignore_index, smoothing, mean, grad, info):
    """Fused softmax cross-entropy (the backend's kernel); returns (status, loss as float64).

    Labels are checked first (status BAD_LABEL, nothing written); 'mean' divides by the rows not
    ignored (nan loss and zero gradient when there are none, as PyTorch)."""
    n, c = logits.shape
    count = 0
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= c:
            info[0] = i
            info[1] = t
            return BAD_LABEL, 0.0
        count += 1
    scale = 1.0 / count if mean and count > 0 else 1.0
    loss = np.empty(n, logits.dtype)
    _softmax_cross_entropy(logits, target, ignore_index, smoothing, scale, loss, grad)
    total = 0.0
    for i in range(n):
        total += np.float64(loss[i])
    if not mean:
        return OK, total
    return OK, (total / count if count > 0 else np.nan)


@jit
def nll_log_softmax(x, target, ignore_index, mean, info):
    """NLLLoss of LogSoftmax(x) over classes; returns (status, loss, dx)."""
    n, c = x.shape
    count = 0
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= c:
            info[0] = i
            info[1] = t
            return BAD_LABEL, 0.0, x
        count += 1
    logp = np.empty_like(x)
    _log_softmax_forward(x, logp)
    glogp = np.zeros_like(x)
    total = 0.0
    w = x.dtype.type(1.0 / count if mean and count > 0 else 1.0)
    for i in range(n):
        t = target[i]
        if t == ignore_index:
            continue
        total -= np.float64(logp[i, t])
        glogp[i, t] = -w
    dx = np.empty_like(x)
    _log_softmax_backward(glogp, logp, dx)
    if not mean:
        return OK, total, dx
    return OK, (total / count if count > 0 else np.nan), dx


@jit
def pointwise_loss(kind, x, t, mean, grad):
    """MSE (kind 0) or BCE with logits (kind 1) by the backend's kernels; returns the loss (float64)."""
    n = x.size
    scale = 1.0 / n if mean and n > 0 else 1.0
    blocks = (n + BLOCK - 1) // BLOCK
    partial = np.empty(blocks, np.float64)
    if kind == 0:
        _mse(x.reshape(-1), t.reshape(-1), scale, np.empty(0, x.dtype), grad.reshape(-1), partial, False)
    else:
        _bce(x.reshape(-1), t.reshape(-1), scale, np.empty(n, x.dtype), grad.reshape(-1), partial, False)
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total / n if mean else total


@jit
def finite_status(loss, grads, bounds, info):
    """NONFINITE_LOSS / NONFINITE_GRAD (info[0] = parameter index) or OK."""
    if not np.isfinite(loss):
        return NONFINITE_LOSS
    for i in range(bounds.shape[0] - 1):
        acc = grads.dtype.type(0.0)
        for j in range(bounds[i], bounds[i + 1]):
            acc += grads[j] * grads.dtype.type(0.0)  # nan for an inf or nan entry, 0 otherwise
        if acc != acc:
            info[0] = i
            return NONFINITE_GRAD
    return OK


# ------------------------------------------------------------------------------ optimizers
# Hyper-parameter rows (float64, one per parameter), filled by fastnn.compile.optimizers.
@jit
def ascent(g, maximize):
    """The gradient the update descends along (negated to maximize)."""
    return -g if maximize else g


@jit
def update_sgd(p, g, s0, s1, s2, h, step):
    """h = (lr, momentum, dampening, weight_decay, nesterov, maximize, first_step)."""
    _sgd(p, ascent(g, h[5] != 0.0), s0, h[0], h[1], h[2], h[3], h[4] != 0.0, h[6] != 0.0)


@jit
def update_adam(p, g, s0, s1, s2, h, step):
    """h = (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled)."""
    _adam(p, ascent(g, h[6] != 0.0), s0, s1, s2, step, h[0], h[1], h[2], h[3], h[4], h[5] != 0.0, h[7] != 0.0)


@jit
def update_adagrad(p, g, s0, s1, s2, h, step):
    """h = (lr, lr_decay, weight_decay, eps, maximize)."""
    clr = h[0] / (1 + (step - 1) * h[1])
    _adagrad(p, ascent(g, h[4] != 0.0), s0, clr, h[2], h[3])


@jit
def update_rmsprop(p, g, s0, s1, s2, h, step):
    """h = (lr, alpha, eps, weight_decay, momentum, centered, maximize); s0 square_avg,
    s1 momentum_buffer, s2 grad_avg."""
    _rmsprop(p, ascent(g, h[6] != 0.0), s0, s1, s2, h[0], h[1], h[2], h[3], h[4], h[5] != 0.0)


@jit
def update_adadelta(p, g, s0, s1, s2, h, step):
    """h = (lr, rho, eps, weight_decay, maximize); s0 square_avg, s1 acc_delta."""
    _adadelta(p, ascent(g, h[4] != 0.0), s0, s1, h[0], h[1], h[2], h[3])


@jit
def grad_norm(grads, norm_type):
    """The norm_type-norm of all gradient entries (max |g| for inf), accumulated in float64,
    as fastnn.nn.utils.total_norm."""
    total = 0.0
    if norm_type == np.inf:
        for j in range(grads.shape[0]):
            total = max(total, abs(np.float64(grads[j])))
        return total
    if norm_type == 2.0:
        for j in range(grads.shape[0]):
            v = np.float64(grads[j])
            total += v * v
        return math.sqrt(total)
    for j in range(grads.shape[0]):
        total += abs(np.float64(grads[j])) ** norm_type
    return total ** (1.0 / norm_type)


# ---------------------------------------------------------------------------- interpreter
# The op table (int64, one row per op; see fastnn.compile.lowering) and its columns.
LINEAR, ACT, DROPOUT, RES_BEGIN, RES_END, EMBEDDING, BAG = range(1, 8)
K_KIND, K_IN, K_OUT, K_POFF, K_BOFF, K_CODE, K_COL, K_ZCOL, K_SRC, K_EXTRA, K_MCOL, K_NEEDS = range(12)
OP_COLUMNS = 12
# The config (int64): loss kind, ignore_index, mean, optimizer kind, workspace columns, mask
# columns, widest layer, embedding rows; and the float config: label smoothing.
LOSS_CE, LOSS_NLL, LOSS_MSE, LOSS_BCE = range(4)
OPT_SGD, OPT_ADAM, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADADELTA = range(5)
C_LOSS, C_IGNORE, C_MEAN, C_OPT, C_COLS, C_MCOLS, C_MAXW, C_ROWS, C_CLIP, C_FORWARD_ONLY = range(10)
CONFIG_SIZE = 10
CLIP_NONE, CLIP_NORM, CLIP_VALUE = range(3)
# The float config: label smoothing, clip threshold, clip norm type, and (written) the total norm.
F_SMOOTHING, F_CLIP, F_NORM_TYPE, F_TOTAL_NORM = range(4)


@jit
def _slot(ws, n, col, width):
    return ws[n * col:n * (col + width)].reshape((n, width))


@jit
def run_step(n, xf, ids, offsets, yi, yf, ops, fl, cfg, cff, P, G, S0, S1, S2, H, steps, seeds, bounds, info):
    """One training step of the op table on a batch of n samples; returns (status, loss, output)
    where output is the last op's output (the model's output; the logits before the LogSoftmax
    of an NLLLoss plan).

    xf (n, in) float features (or an empty array when the first op is an embedding, whose ids
    (flat) and bag offsets come in ids/offsets); yi int64 labels or yf float targets (the other
    empty). Forward: each op writes its output to its own slot of one workspace (columns
    K_COL.., n rows); dropout masks to a uint8 workspace. Loss, then backward in reverse through
    two gradient buffers; parameter gradients land in G. Then the finiteness check and the
    update of every parameter's slice of P, G, S0..S2 by the optimizer kind with H[i], steps[i].
    """
    dt = P.dtype
    ws = np.empty(n * cfg[C_COLS], dt)
    ms = np.empty(n * cfg[C_MCOLS], np.uint8)
    nops = ops.shape[0]
    for k in range(nops):
        kind, win, wout, src = ops[k, K_KIND], ops[k, K_IN], ops[k, K_OUT], ops[k, K_SRC]
        out = _slot(ws, n, ops[k, K_COL], wout)
        if kind == EMBEDDING or kind == BAG:
            rows, dim = cfg[C_ROWS], win
            table = P[ops[k, K_POFF]:ops[k, K_POFF] + rows * dim].reshape((rows, dim))
            status = check_indices(ids, rows, info)
            if status != OK:
                return status, 0.0, ws[:0].reshape((0, 0))
            if kind == EMBEDDING:
                _embedding_forward(table, ids, out.reshape((-1, dim)))
            else:
                _bag_forward(table, ids, offsets, ops[k, K_CODE] != 0, ops[k, K_EXTRA], out)
            continue
        h = xf if src < 0 else _slot(ws, n, ops[src, K_COL], win)
        if kind == LINEAR:
            w = P[ops[k, K_POFF]:ops[k, K_POFF] + wout * win].reshape((wout, win))
            boff = ops[k, K_BOFF]
            b = P[boff:boff + wout] if boff >= 0 else P[0:0]
            z = out if ops[k, K_ZCOL] < 0 else _slot(ws, n, ops[k, K_ZCOL], wout)
            linear_forward(h, w, b, boff >= 0, ops[k, K_CODE], fl[k, 0], z, out)
        elif kind == ACT:
            _forward_into(h.reshape(-1), out.reshape(-1), ops[k, K_CODE], fl[k, 0])
        elif kind == DROPOUT:
            mask = ms[n * ops[k, K_MCOL]:n * (ops[k, K_MCOL] + wout)]
            _dropout_forward(h.reshape(-1), fl[k, 0], seeds[ops[k, K_EXTRA]], fl[k, 1], out.reshape(-1), mask)
        elif kind == RES_BEGIN:
            out[:, :] = h
        else:  # RES_END: body output (src) + the residual's input (the RES_BEGIN op's output)
            skip = _slot(ws, n, ops[ops[k, K_EXTRA], K_COL], wout)
            for i in range(n):
                for j in range(wout):
                    out[i, j] = skip[i, j] + h[i, j]
    last = nops - 1
    logits = _slot(ws, n, ops[last, K_COL], ops[last, K_OUT])
    if cfg[C_FORWARD_ONLY] != 0:  # inference: the model's output, nothing else read or written
        return OK, 0.0, logits
    loss_kind, mean = cfg[C_LOSS], cfg[C_MEAN] != 0
    if loss_kind == LOSS_CE:
        g = np.empty_like(logits)
        status, loss = cross_entropy(logits, yi, cfg[C_IGNORE], cff[F_SMOOTHING], mean, g, info)
        if status != OK:
            return status, 0.0, logits
    elif loss_kind == LOSS_NLL:
        status, loss, g = nll_log_softmax(logits, yi, cfg[C_IGNORE], mean, info)
        if status != OK:
            return status, 0.0, logits
    else:
        g = np.empty_like(logits)
        loss = pointwise_loss(loss_kind - LOSS_MSE, logits, yf, mean, g)
    # backward
    maxw = cfg[C_MAXW]
    ga = np.empty(n * maxw, dt)
    gb = np.empty(n * maxw, dt)
    dzs = np.empty(n * maxw, dt)
    which = 0
    for k in range(last, -1, -1):
        kind, win, wout, src = ops[k, K_KIND], ops[k, K_IN], ops[k, K_OUT], ops[k, K_SRC]
        if kind == EMBEDDING or kind == BAG:
            rows, dim = cfg[C_ROWS], win
            dw = G[ops[k, K_POFF]:ops[k, K_POFF] + rows * dim].reshape((rows, dim))
            dw[:, :] = 0
            if kind == EMBEDDING:
                _embedding_backward(g.reshape((-1, dim)), ids, ops[k, K_EXTRA], dw)
            else:
                _bag_backward(g, ids, offsets, ops[k, K_CODE] != 0, ops[k, K_EXTRA], dw)
            continue
        needs = ops[k, K_NEEDS] != 0
        if kind != LINEAR and not needs:
            continue
        dst = (gb if which == 1 else ga)[:n * win].reshape((n, win))
        if kind == LINEAR:
            h = xf if src < 0 else _slot(ws, n, ops[src, K_COL], win)
            out = _slot(ws, n, ops[k, K_COL], wout)
            saved = out if ops[k, K_ZCOL] < 0 else _slot(ws, n, ops[k, K_ZCOL], wout)
            code = ops[k, K_CODE]
            dz = g if code == 0 else dzs[:n * wout].reshape((n, wout))
            poff, boff = ops[k, K_POFF], ops[k, K_BOFF]
            w = P[poff:poff + wout * win].reshape((wout, win))
            dw = G[poff:poff + wout * win].reshape((wout, win))
            db = G[boff:boff + wout] if boff >= 0 else G[0:0]
            partial = np.empty((BIAS_GRAD_CHUNKS, wout), dt)
            linear_backward(g, saved, h, w, code, fl[k, 0], dz, dw, db, boff >= 0,
                            dst if needs else np.empty((0, win), dt), partial)
            if not needs:
                break
        elif kind == ACT:
            code = ops[k, K_CODE]
            if code == LEAKY_RELU_CODE or code == GELU_CODE or code == GELU_TANH_CODE:
                saved = xf if src < 0 else _slot(ws, n, ops[src, K_COL], win)
            else:
                saved = _slot(ws, n, ops[k, K_COL], wout)
            _backward_into(g.reshape(-1), saved.reshape(-1), dst.reshape(-1), code, fl[k, 0])
        elif kind == DROPOUT:
            mask = ms[n * ops[k, K_MCOL]:n * (ops[k, K_MCOL] + wout)]
            _dropout_backward(g.reshape(-1), mask, fl[k, 1], dst.reshape(-1))
        elif kind == RES_END:  # the skip's share of g waits in this op's (now free) output slot
            stash = _slot(ws, n, ops[k, K_COL], wout)
            stash[:, :] = g
            continue
        else:  # RES_BEGIN: the body's gradient plus the skip's
            stash = _slot(ws, n, ops[ops[k, K_EXTRA], K_COL], wout)
            for i in range(n):
                for j in range(wout):
                    dst[i, j] = g[i, j] + stash[i, j]
        g = dst
        which = 2 if which == 1 else 1
    status = finite_status(loss, G, bounds, info)
    if status != OK:
        return status, loss, logits
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
    opt = cfg[C_OPT]
    for i in range(bounds.shape[0] - 1):
        lo, hi = bounds[i], bounds[i + 1]
        p, d, s0, s1, s2 = P[lo:hi], G[lo:hi], S0[lo:hi] if S0.size else S0, S1[lo:hi] if S1.size else S1, \
            S2[lo:hi] if S2.size else S2
        if opt == OPT_SGD:
            update_sgd(p, d, s0, s1, s2, H[i], steps[i])
        elif opt == OPT_ADAM:
            update_adam(p, d, s0, s1, s2, H[i], steps[i])
        elif opt == OPT_ADAGRAD:
            update_adagrad(p, d, s0, s1, s2, H[i], steps[i])
        elif opt == OPT_RMSPROP:
            update_rmsprop(p, d, s0, s1, s2, H[i], steps[i])
        else:
            update_adadelta(p, d, s0, s1, s2, H[i], steps[i])
    return OK, loss, logits
