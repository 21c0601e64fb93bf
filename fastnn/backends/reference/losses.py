"""Losses with their gradient: fused softmax cross-entropy, mse, binary cross-entropy on logits."""

from __future__ import annotations

import numpy as np

from fastnn.backends.contract import reduce_loss
from fastnn.backends.reference.activations import log_softmax_forward, special


def _reduce(loss, grad, reduction, count):
    if reduction == "mean" and count:
        grad = grad / loss.dtype.type(count)
    return reduce_loss(loss, reduction, count), grad


def softmax_cross_entropy(logits, target, reduction, ignore_index, label_smoothing):
    n, c = logits.shape
    t = logits.dtype.type
    logp = log_softmax_forward(logits)
    valid = target != ignore_index
    rows = np.arange(n)
    safe = np.where(valid, target, 0)
    loss = -logp[rows, safe] * t(1 - label_smoothing)
    if label_smoothing:
        loss -= logp.mean(axis=1) * t(label_smoothing)
    loss[~valid] = 0
    grad = np.exp(logp)
    grad[rows, safe] -= t(1 - label_smoothing)
    if label_smoothing:
        grad -= t(label_smoothing / c)
    grad[~valid] = 0
    return _reduce(loss, grad, reduction, int(valid.sum()))


def mse_loss(input, target, reduction):
    d = input - target
    return _reduce(np.asarray(d * d), np.asarray(2 * d), reduction, d.size)


def bce_with_logits(logits, target, reduction):
    x, t = logits, target
    loss = np.asarray(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))
    return _reduce(loss, np.asarray(special().expit(x) - t), reduction, x.size)
