"""The building blocks the step interpreter (``kernels.run_step``) calls: Numba functions over whole layers.

Each block calls the Numba backend's own kernels for its elementwise part (bias + activation,
activation derivative + bias-gradient column sums, losses, dropout, embeddings, optimizer
updates), so the compiled step computes exactly what the eager Numba backend computes; the
matrix products are ``fastnn.compile.products``' (the process's one BLAS, bit-identical to
eager, or direct loops for tiny products, which differ from BLAS by a few ulps).

Every block is compiled ``cache=True`` and serially: a step is one thread of Python, and the
BLAS calls inside it use BLAS's own threads.

Status codes returned by the loss blocks: ``OK``; ``BAD_LABEL`` (``info`` holds the row and the
label); the step function adds ``NONFINITE_LOSS`` and ``NONFINITE_GRAD`` (``info[0]`` = index
of the parameter); ``update_all`` refuses (``BAD_STATE``) state buffers shorter than an update needs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import uint64

# The Numba backend's kernel bodies (imported in this one place; see the module docstring).
from fastnn.backends.numba import activations, dense, dropout, embedding, losses, optim
from fastnn.compile.jit import SOURCE_KEY, jit, jit_reassoc  # noqa: F401  (SOURCE_KEY: for the tests)
from fastnn.compile.products import NN, NT, TINY_WORK, TN, blas_addresses, product  # noqa: F401
from fastnn.compile.views import view1d, view2d

OK, BAD_LABEL, NONFINITE_LOSS, NONFINITE_GRAD, BAD_INDEX, BAD_STATE = 0, 1, 2, 3, 4, 5
OPT_SGD, OPT_ADAM, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADADELTA, OPT_SPARSE_ADAM = range(6)  # (sparse: see sparse.py)
H_COLUMNS, H_KIND = 9, 8  # a parameter's hyper-parameter row: its options (update_*), then its optimizer kind

BIAS_GRAD_CHUNKS = dense.BIAS_GRAD_CHUNKS
ACTIVATION_CODES = dict(activations.ACTIVATION_CODES)
LEAKY_RELU_CODE, GELU_CODE, GELU_TANH_CODE = activations.LEAKY_RELU, activations.GELU, activations.GELU_TANH
SAVES_INPUT = (LEAKY_RELU_CODE, GELU_CODE, GELU_TANH_CODE)

bias_activation = dense.BIAS_ACTIVATION[0]
act_grad_bias_grad = dense.ACTIVATION_GRAD_AND_BIAS_GRAD[0]
forward_into = activations.forward_into
backward_into = activations.backward_into
log_softmax_forward = activations.LOG_SOFTMAX_FORWARD[0]
log_softmax_backward = activations.LOG_SOFTMAX_BACKWARD[0]
softmax_cross_entropy = losses.SOFTMAX_CROSS_ENTROPY[0]
mse = losses.MSE[0]
bce = losses.BCE_WITH_LOGITS[0]
dropout_forward = dropout.DROPOUT_FORWARD[0]
dropout_backward = dropout.DROPOUT_BACKWARD[0]
embedding_forward = embedding.EMBEDDING_FORWARD[0]
embedding_backward = embedding.EMBEDDING_BACKWARD[0]
bag_forward = embedding.EMBEDDING_BAG_FORWARD[0]
bag_backward = embedding.EMBEDDING_BAG_BACKWARD[0]
sgd = optim.SGD[0]
adagrad = optim.ADAGRAD[0]
rmsprop = optim.RMSPROP
adadelta = optim.ADADELTA[0]
adam = optim.ADAM

BLOCK = 4096


# --------------------------------------------------------------------------------- layers
WT_MAX = 4096
"""A weight of at most this many elements is transposed (into the workspace) before the forward
product on BLAS: x @ w.T with w as stored is the (T, N) gemm, for which OpenBLAS's small-matrix
kernels refuse all but the smallest outputs and pack both operands; x @ (w.T copied) is (N, N),
which they take. Measured, 20 -> 64 features on one thread: 1.19 -> 0.55 us at 32 rows, 14.6 -> 8.4
at 512; 128 -> 10 at 128 rows 8.9 -> 4.9. A larger weight's copy costs more than it saves."""


@jit
def linear_forward(x, w, b, has_bias, code, slope, z, a, blas, wt):
    """z = x @ w.T + b and a = act(z) (a may be z), as the Numba backend's fused linear kernel; wt:
    room for w transposed (at least w.size elements when w.size <= WT_MAX, else unused)."""
    rows, cols = w.shape
    if rows * cols <= WT_MAX and x.shape[0] * rows * cols > TINY_WORK:
        t = view2d(wt, 0, cols, rows)
        for i in range(rows):
            for j in range(cols):
                t[j, i] = w[i, j]
        product(x, t, z, NN, blas)
    else:
        product(x, w, z, NT, blas)
    bias_activation(z, b, a, has_bias, code, slope)


@jit
def linear_backward(g, saved, x, w, code, slope, dz, dw, db, has_bias, dx, partial, blas):
    """dz = g * act'(saved) (dz is g itself for the identity); db = column sums of dz (in
    BIAS_GRAD_CHUNKS chunks, as the backend); dw = dz.T @ x and dx = dz @ w unless empty."""
    act_grad_bias_grad(g, saved, dz, partial, code, slope, code != 0)
    if has_bias:
        for j in range(db.shape[0]):
            db[j] = partial[0, j]
        for c in range(1, partial.shape[0]):
            for j in range(db.shape[0]):
                db[j] += partial[c, j]
    if dw.shape[0] != 0:
        product(dz, x, dw, TN, blas)
    if dx.shape[0] != 0:
        product(dz, w, dx, NN, blas)


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
def counted_labels(target, classes, ignore_index, info):
    """How many labels are not ignore_index, or -1 when one lies outside [0, classes) (info = its
    row and value); nothing is written otherwise."""
    count = 0
    for i in range(target.shape[0]):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= classes:
            info[0] = i
            info[1] = t
            return -1
        count += 1
    return count


@jit
def cross_entropy(logits, target, ignore_index, smoothing, mean, grad, loss, info):
    """Fused softmax cross-entropy (the backend's kernel; loss (n,) takes the row losses); returns
    (status, loss as float64).

    Labels are checked first (status BAD_LABEL, nothing written); 'mean' divides by the rows not
    ignored (nan loss and zero gradient when there are none, as PyTorch)."""
    n, c = logits.shape
    count = counted_labels(target, c, ignore_index, info)
    if count < 0:
        return BAD_LABEL, 0.0
    scale = 1.0 / count if mean and count > 0 else 1.0
    softmax_cross_entropy(logits, target, ignore_index, smoothing, scale, loss, grad)
    total = 0.0
    for i in range(n):
        total += np.float64(loss[i])
    if not mean:
        return OK, total
    return OK, (total / count if count > 0 else np.nan)


@jit
def nll_log_softmax(x, target, weight, ignore_index, smoothing, mean, dx, info):
    """NLLLoss of LogSoftmax(x) over classes, its gradient in dx; returns (status, loss). With
    class weights w (C,) (empty: none) and label smoothing eps, as CrossEntropyLoss:
    loss_i = w_t (1-eps) (-logp_it) + eps sum_c w_c (-logp_ic) / C; 'mean' divides by the rows'
    total weight sum_i w_t (the count of rows not ignored without weights)."""
    n, c = x.shape
    count = counted_labels(target, c, ignore_index, info)
    if count < 0:
        return BAD_LABEL, 0.0
    logp = np.empty_like(x)
    log_softmax_forward(x, logp)
    glogp = np.zeros_like(x)
    ty = x.dtype.type
    total = 0.0
    if weight.shape[0] == 0 and smoothing == 0.0:
        w = ty(1.0 / count if mean and count > 0 else 1.0)
        for i in range(n):
            t = target[i]
            if t == ignore_index:
                continue
            total -= np.float64(logp[i, t])
            glogp[i, t] = -w
        divisor = np.float64(count)
    else:
        weights = np.ones(c, x.dtype)
        if weight.shape[0] != 0:
            for j in range(c):
                weights[j] = ty(weight[j])
        total_weight = ty(0.0)
        for i in range(n):
            if target[i] != ignore_index:
                total_weight += weights[target[i]]
        g = ty(1.0) / total_weight if mean else ty(1.0)
        keep, spread = ty(1.0 - smoothing), ty(smoothing) / ty(c)
        for i in range(n):
            t = target[i]
            if t == ignore_index:
                continue
            row = -np.float64(logp[i, t]) * np.float64(weights[t]) * (1.0 - smoothing)
            glogp[i, t] = -(g * keep) * weights[t]
            if smoothing != 0.0:
                smooth = 0.0
                for j in range(c):
                    smooth -= np.float64(logp[i, j]) * np.float64(weights[j])
                    glogp[i, j] -= (g * spread) * weights[j]
                row += smooth * smoothing / c
            total += row
        divisor = np.float64(total_weight)
    log_softmax_backward(glogp, logp, dx)
    if not mean:
        return OK, total
    return OK, (total / divisor if divisor != 0.0 else np.nan)


@jit
def pointwise_loss(kind, x, t, mean, grad):
    """MSE (kind 0) or BCE with logits (kind 1) by the backend's kernels; returns the loss (float64)."""
    n = x.size
    scale = 1.0 / n if mean and n > 0 else 1.0
    blocks = (n + BLOCK - 1) // BLOCK
    partial = np.empty(blocks, np.float64)
    if kind == 0:
        mse(x.reshape(-1), t.reshape(-1), scale, np.empty(0, x.dtype), grad.reshape(-1), partial, False)
    else:
        bce(x.reshape(-1), t.reshape(-1), scale, np.empty(n, x.dtype), grad.reshape(-1), partial, False)
    total = 0.0
    for b in range(blocks):
        total += partial[b]
    return total / n if mean else total


@jit
def finite_status(loss, grads, bounds, info):
    """NONFINITE_LOSS / NONFINITE_GRAD (info[0] = index of the first such parameter) or OK."""
    if not np.isfinite(loss):
        return NONFINITE_LOSS
    if span_finite(grads, 0, grads.shape[0]):
        return OK
    for i in range(bounds.shape[0] - 1):
        if not span_finite(grads, bounds[i], bounds[i + 1]):
            info[0] = i
            return NONFINITE_GRAD
    return OK


@jit_reassoc
def span_finite(a, lo, hi):
    """True when a[lo:hi] has no inf or nan: the sum of a * 0 is 0 then, nan otherwise (a sum the
    vector lanes may reorder; reassociation still propagates nan). The index is unsigned, as in
    the backend's activation loops: a signed one keeps the loop scalar (5x slower)."""
    acc = a.dtype.type(0.0)
    for j in range(uint64(lo), uint64(hi)):
        acc += a[j] * a.dtype.type(0.0)
    return acc == 0


# ------------------------------------------------------------------------------ optimizers
# Hyper-parameter rows (float64, one per parameter), filled by fastnn.compile.optimizers.
@jit
def ascent(g, maximize):
    """The gradient the update descends along (negated to maximize)."""
    return -g if maximize else g


@jit
def update_sgd(p, g, s0, s1, s2, h, step):
    """h = (lr, momentum, dampening, weight_decay, nesterov, maximize, first_step)."""
    sgd(p, ascent(g, h[5] != 0.0), s0, h[0], h[1], h[2], h[3], h[4] != 0.0, h[6] != 0.0)


@jit
def update_adam(p, g, s0, s1, s2, h, step):
    """h = (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled)."""
    adam(p, ascent(g, h[6] != 0.0), s0, s1, s2, step, h[0], h[1], h[2], h[3], h[4], h[5] != 0.0, h[7] != 0.0)


@jit
def update_adagrad(p, g, s0, s1, s2, h, step):
    """h = (lr, lr_decay, weight_decay, eps, maximize)."""
    clr = h[0] / (1 + (step - 1) * h[1])
    adagrad(p, ascent(g, h[4] != 0.0), s0, clr, h[2], h[3])


@jit
def update_rmsprop(p, g, s0, s1, s2, h, step):
    """h = (lr, alpha, eps, weight_decay, momentum, centered, maximize); s0 square_avg,
    s1 momentum_buffer, s2 grad_avg."""
    rmsprop(p, ascent(g, h[6] != 0.0), s0, s1, s2, h[0], h[1], h[2], h[3], h[4], h[5] != 0.0)


@jit
def update_adadelta(p, g, s0, s1, s2, h, step):
    """h = (lr, rho, eps, weight_decay, maximize); s0 square_avg, s1 acc_delta."""
    adadelta(p, ascent(g, h[4] != 0.0), s0, s1, h[0], h[1], h[2], h[3])


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


@jit
def state_needed(kind, h):
    """Which state buffers (bits 1, 2, 4: S0, S1, S2) the update of `kind` with hyper-parameter row h
    reads and writes (the buffers of ``state.STATE_KEYS``)."""
    if kind == OPT_SGD:
        return 1 if h[1] != 0.0 else 0
    if kind == OPT_ADAM:
        return 3 | (4 if h[5] != 0.0 else 0)
    if kind == OPT_ADAGRAD:
        return 1
    if kind == OPT_RMSPROP:
        return 1 | (2 if h[4] > 0.0 else 0) | (4 if h[5] != 0.0 else 0)
    return 3  # adadelta


@jit
def update_all(P, G, S0, S1, S2, H, steps, bounds):
    """The update of every parameter's slice of the flat buffers (S0..S2 may be empty) by its
    optimizer kind H[i, H_KIND], with its hyper-parameter row H[i] and step count steps[i]. When
    every parameter has the same row and count (one group: the usual case) the update, elementwise,
    runs once over the whole buffers, with the same result. Returns False, changing nothing, when a
    state buffer an update needs is shorter than the parameters (the kernels index it unchecked)."""
    count = bounds.shape[0] - 1
    if count == 0:
        return True
    for i in range(count):
        needed = state_needed(int(H[i, H_KIND]), H[i])
        hi = bounds[i + 1]
        if (needed & 1 and S0.shape[0] < hi) or (needed & 2 and S1.shape[0] < hi) or (needed & 4 and S2.shape[0] < hi):
            return False
    uniform = True
    for i in range(1, count):
        uniform = uniform and steps[i] == steps[0]
        for j in range(H.shape[1]):
            uniform = uniform and H[i, j] == H[0, j]
    spans = 1 if uniform else count
    for i in range(spans):
        lo, hi = bounds[i], bounds[count if uniform else i + 1]
        p, d = view1d(P, lo, hi - lo), view1d(G, lo, hi - lo)
        s0 = view1d(S0, lo, hi - lo) if S0.size else S0
        s1 = view1d(S1, lo, hi - lo) if S1.size else S1
        s2 = view1d(S2, lo, hi - lo) if S2.size else S2
        kind = int(H[i, H_KIND])
        if kind == OPT_SGD:
            update_sgd(p, d, s0, s1, s2, H[i], steps[i])
        elif kind == OPT_ADAM:
            update_adam(p, d, s0, s1, s2, H[i], steps[i])
        elif kind == OPT_ADAGRAD:
            update_adagrad(p, d, s0, s1, s2, H[i], steps[i])
        elif kind == OPT_RMSPROP:
            update_rmsprop(p, d, s0, s1, s2, H[i], steps[i])
        elif kind == OPT_ADADELTA:
            update_adadelta(p, d, s0, s1, s2, H[i], steps[i])
    return True
