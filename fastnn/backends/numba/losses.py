"""Loss kernels: fused softmax + cross-entropy, mse, and binary cross-entropy on logits.

Each writes per-element (or per-row) losses and the gradient, already multiplied by ``scale``
(1/count for a 'mean' reduction, else 1), in one pass over the inputs. The pointwise losses also
return per-block float64 sums, so a reduced loss needs no second pass and does not depend on the
thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange, uint64

from fastnn.backends.contract import COST_MATH, COST_PASS, grad_scale, reduce_loss
from fastnn.backends.numba.activations import shifted_exp
from fastnn.backends.numba.jit import BLOCK, blocks, jit, pick, serial_and_parallel
from fastnn.backends.numba.mathfun import exp_, log1p_unit
from fastnn.backends.numba.reductions import row_max, row_total, squared_distance_f64, total_f64

NARROW = 8
"""Rows of fewer classes than this (shifted_exp's short rows) get their max and shifted exps class by
class across NARROW_ROWS rows at a time, in vector lanes (a row of 2 classes alone leaves them scalar)."""
NARROW_ROWS = 1024


def _softmax_cross_entropy(logits, target, ignore_index, label_smoothing, scale, loss, grad):
    """Per row i with p = softmax(x_i), eps = label_smoothing:
    loss_i = (1-eps) (-log p_t) + eps mean_c(-log p_c); grad_i = scale (p - (1-eps) onehot(t) - eps/C).
    Rows whose target is ignore_index get loss 0 and gradient 0."""
    rows, classes = logits.shape
    ty = logits.dtype.type
    narrow = classes < NARROW
    maxima = np.empty(rows if narrow else 0, logits.dtype)
    sums = np.empty(rows if narrow else 0, logits.dtype)
    if narrow:
        for b in prange((rows + NARROW_ROWS - 1) // NARROW_ROWS):
            lo = b * NARROW_ROWS
            narrow_exps(logits, grad, maxima, sums, lo, min(lo + NARROW_ROWS, rows))
    keep = ty(1.0 - label_smoothing)
    smooth = ty(label_smoothing)
    s = ty(scale)
    shift = ty(label_smoothing / classes) * s
    for r in prange(rows):
        t = target[r]
        if t == ignore_index:
            loss[r] = 0
            for j in range(classes):
                grad[r, j] = 0
            continue
        if narrow:
            m, sum_exp = maxima[r], sums[r]
        else:
            m = row_max(logits, r)
            sum_exp = shifted_exp(logits, m, grad, r)
        log_sum_exp = ty(math.log(sum_exp))
        row_loss = -((logits[r, t] - m) - log_sum_exp) * keep
        if label_smoothing != 0.0:
            mean_logp = (row_total(logits, r) / ty(classes) - m) - log_sum_exp
            row_loss -= mean_logp * smooth
        loss[r] = row_loss
        inv = s / sum_exp
        for j in range(classes):
            grad[r, j] = grad[r, j] * inv - shift
        grad[r, t] -= keep * s


@jit
def narrow_exps(x, out, maxima, sums, lo, hi):
    """For rows lo..hi of x (fewer than NARROW columns), what row_max and shifted_exp give row by row,
    class by class across the rows: maxima[r] the row's max, out[r] = exp(x[r] - max), sums[r] their
    sum (the same operations in the same order, so the same numbers, but in vector lanes: the
    columns are copied to contiguous scratch first). Unsigned indices: a signed one keeps the loops
    scalar (Numba's negative-index wrap-around)."""
    classes = x.shape[1]
    first, end, n = uint64(lo), uint64(hi), uint64(hi - lo)
    cols = np.empty((classes, hi - lo), x.dtype)
    for j in range(classes):
        for r in range(first, end):
            cols[j, r - first] = x[r, j]
    for r in range(first, end):
        maxima[r] = cols[0, r - first]
        sums[r] = 0
    for j in range(1, classes):
        for r in range(first, end):
            v = cols[j, r - first]
            maxima[r] = v if v > maxima[r] else maxima[r]
    for j in range(classes):
        for k in range(uint64(0), n):
            e = exp_(cols[j, k] - maxima[first + k])
            cols[j, k] = e
            sums[first + k] += e
    for j in range(classes):
        for r in range(first, end):
            out[r, j] = cols[j, r - first]


def _mse(input, target, scale, loss, grad, partial, need_loss):
    """d = x - t: loss = d^2 (only when need_loss), grad = scale * 2d, partial[b] = float64 sum of
    block b's losses."""
    n = input.shape[0]
    two_s = input.dtype.type(2.0 * scale)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        x, t, out, g = input[lo:hi], target[lo:hi], loss[lo:hi], grad[lo:hi]
        for i in range(x.shape[0]):
            d = x[i] - t[i]
            if need_loss:
                out[i] = d * d
            g[i] = two_s * d
        partial[b] = squared_distance_f64(x, t)


def _bce_with_logits(logits, target, scale, loss, grad, partial, need_loss):
    """loss = max(x,0) - x t + log1p(e^-|x|), grad = scale (sigmoid(x) - t); partial sums as in
    mse. The losses are always written (``loss`` must be full size): the block sums read them."""
    n = logits.shape[0]
    ty = logits.dtype.type
    zero, one, s = ty(0.0), ty(1.0), ty(scale)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        x, t, out, g = logits[lo:hi], target[lo:hi], loss[lo:hi], grad[lo:hi]
        for i in range(x.shape[0]):
            e = exp_(-abs(x[i]))
            out[i] = (max(x[i], zero) - x[i] * t[i]) + log1p_unit(e)
            inv = one / (one + e)
            g[i] = ((inv if x[i] >= zero else e * inv) - t[i]) * s
        partial[b] = total_f64(out)


SOFTMAX_CROSS_ENTROPY = serial_and_parallel(_softmax_cross_entropy)
MSE = serial_and_parallel(_mse)
BCE_WITH_LOGITS = serial_and_parallel(_bce_with_logits)


# ------------------------------------------------------------------ the kernel table's entries
def softmax_cross_entropy(logits, target, reduction, ignore_index, label_smoothing):
    count = int(np.count_nonzero(target != ignore_index))
    loss = np.empty(logits.shape[0], dtype=logits.dtype)
    grad = np.empty_like(logits)
    pick(SOFTMAX_CROSS_ENTROPY, logits.size, COST_MATH)(logits, target, ignore_index, label_smoothing,
                                                        grad_scale(reduction, count), loss, grad)
    return reduce_loss(loss, reduction, count, loss.sum(dtype=np.float64)), grad


def _pointwise(kernels, cost, input, target, reduction, loss_always):
    n = input.size
    loss = np.empty_like(input) if reduction == "none" or loss_always else np.empty(0, input.dtype)
    grad = np.empty_like(input)
    partial = np.empty(blocks(n), dtype=np.float64)
    pick(kernels, n, cost)(input.reshape(-1), target.reshape(-1), grad_scale(reduction, n), loss.reshape(-1),
                           grad.reshape(-1), partial, reduction == "none")
    return reduce_loss(loss, reduction, n, partial.sum()), grad


def mse_loss(input, target, reduction):
    return _pointwise(MSE, COST_PASS, input, target, reduction, loss_always=False)


def bce_with_logits(logits, target, reduction):
    return _pointwise(BCE_WITH_LOGITS, COST_MATH, logits, target, reduction, loss_always=True)
