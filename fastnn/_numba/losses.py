"""Loss kernels: fused softmax + cross-entropy, mse, and binary cross-entropy on logits.

Each writes per-element (or per-row) losses and the gradient, already multiplied by ``scale``
(1/count for a 'mean' reduction, else 1), in one pass over the inputs.
"""

from __future__ import annotations

import math

from numba import prange

from fastnn._numba._jit import BLOCK, serial_and_parallel
from fastnn._numba.mathfun import exp_


def _softmax_cross_entropy(logits, target, ignore_index, label_smoothing, scale, loss, grad):
    """Per row i with p = softmax(x_i), eps = label_smoothing:
    loss_i = (1-eps) (-log p_t) + eps mean_c(-log p_c); grad_i = scale (p - (1-eps) onehot(t) - eps/C).
    Rows whose target is ignore_index get loss 0 and gradient 0."""
    rows, classes = logits.shape
    ty = logits.dtype.type
    keep = ty(1.0 - label_smoothing)
    smooth = ty(label_smoothing)
    smooth_per_class = ty(label_smoothing / classes)
    s = ty(scale)
    for r in prange(rows):
        x, g = logits[r], grad[r]
        t = target[r]
        if t == ignore_index:
            loss[r] = 0
            for j in range(classes):
                g[j] = 0
            continue
        m = x[0]
        for j in range(classes):
            m = max(m, x[j])
        total = ty(0.0)
        shifted_sum = ty(0.0)
        for j in range(classes):
            d = x[j] - m
            g[j] = exp_(d)
            total += g[j]
            shifted_sum += d
        log_total = ty(math.log(total))
        logp_t = (x[t] - m) - log_total
        row_loss = -logp_t * keep
        if label_smoothing != 0.0:
            mean_logp = shifted_sum / ty(classes) - log_total
            row_loss -= mean_logp * smooth
        loss[r] = row_loss
        inv = s / total
        shift = smooth_per_class * s
        for j in range(classes):
            g[j] = g[j] * inv - shift
        g[t] -= keep * s


def _mse(input, target, scale, loss, grad, partial, need_loss):
    """d = x - t: loss = d^2 (when need_loss), grad = scale * 2d, partial[b] = sum of d^2 over
    block b accumulated in float64 (a sum independent of the thread count)."""
    n = input.shape[0]
    ty = input.dtype.type
    two_s = ty(2.0 * scale)
    for b in prange((n + BLOCK - 1) // BLOCK):
        acc = 0.0
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            d = input[i] - target[i]
            sq = d * d
            if need_loss:
                loss[i] = sq
            acc += sq
            grad[i] = two_s * d
        partial[b] = acc


def _bce_with_logits(logits, target, scale, loss, grad, partial, need_loss):
    """loss = max(x,0) - x t + log1p(e^-|x|), grad = scale (sigmoid(x) - t); partial sums as in mse."""
    n = logits.shape[0]
    ty = logits.dtype.type
    zero = ty(0.0)
    one = ty(1.0)
    s = ty(scale)
    for b in prange((n + BLOCK - 1) // BLOCK):
        acc = 0.0
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            x = logits[i]
            t = target[i]
            e = exp_(-abs(x))
            value = (max(x, zero) - x * t) + ty(math.log1p(e))
            if need_loss:
                loss[i] = value
            acc += value
            inv = one / (one + e)
            sig = inv if x >= zero else e * inv
            grad[i] = (sig - t) * s
        partial[b] = acc


softmax_cross_entropy = serial_and_parallel(_softmax_cross_entropy)
mse = serial_and_parallel(_mse)
bce_with_logits = serial_and_parallel(_bce_with_logits)
