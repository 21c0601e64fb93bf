"""Layer normalisation over the last dim, forward and backward, as Numba kernels.

Rows are independent, so both passes are parallel over rows. Row statistics are accumulated in
float64 (two passes: mean, then the centred variance) and stored in the input's dtype. The
column sums of the backward (dweight, dbias) are parallel over row chunks, each chunk summing
into its own row of a partial buffer, added afterwards: no element is written by two threads,
and the chunks depend on the row count only, so results do not depend on the thread count.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from fastnn.backends.contract import COST_UPDATE
from fastnn.backends.numba.jit import pick, serial_and_parallel

CHUNKS = 8  # row chunks of the backward's column sums


def _forward(x, weight, bias, has_weight, has_bias, eps, out, mean, rstd):
    """out = (x - mean) * rstd * weight + bias, row by row."""
    ty = x.dtype.type
    n, d = x.shape
    for r in prange(n):
        row, dst = x[r], out[r]
        total = 0.0
        for j in range(d):
            total += row[j]
        mu = total / d
        sq = 0.0
        for j in range(d):
            c = row[j] - mu
            sq += c * c
        m, s = ty(mu), ty(1.0 / math.sqrt(sq / d + eps))
        mean[r] = m
        rstd[r] = s
        for j in range(d):
            v = (row[j] - m) * s
            if has_weight:
                v = v * weight[j]
            if has_bias:
                v = v + bias[j]
            dst[j] = v


def _backward(grad_out, x, weight, has_weight, mean, rstd, dx, partial_w, partial_b):
    """dx per row; partial_w[c] / partial_b[c] = the c-th row chunk's sums of grad_out * xhat and grad_out."""
    n, d = x.shape
    chunks = partial_w.shape[0]
    ty = x.dtype.type
    for c in prange(chunks):
        pw, pb = partial_w[c], partial_b[c]
        for j in range(d):
            pw[j] = 0
            pb[j] = 0
        for r in range((c * n) // chunks, ((c + 1) * n) // chunks):
            g, row, out = grad_out[r], x[r], dx[r]
            m, s = mean[r], rstd[r]
            sum_g = 0.0
            sum_gx = 0.0
            for j in range(d):
                xhat = (row[j] - m) * s
                gw = g[j] * weight[j] if has_weight else g[j]
                sum_g += gw
                sum_gx += gw * xhat
                pw[j] += g[j] * xhat
                pb[j] += g[j]
            mean_g, mean_gx = ty(sum_g / d), ty(sum_gx / d)
            for j in range(d):
                xhat = (row[j] - m) * s
                gw = g[j] * weight[j] if has_weight else g[j]
                out[j] = s * (gw - mean_g - xhat * mean_gx)


FORWARD = serial_and_parallel(_forward)
BACKWARD = serial_and_parallel(_backward)


# ------------------------------------------------------------------ the kernel table's entries
def layer_norm_forward(x, weight, bias, eps):
    n = x.shape[0]
    out = np.empty_like(x)
    mean = np.empty(n, dtype=x.dtype)
    rstd = np.empty(n, dtype=x.dtype)
    empty = np.empty(0, dtype=x.dtype)
    pick(FORWARD, x.size, COST_UPDATE)(x, empty if weight is None else weight, empty if bias is None else bias,
                                       weight is not None, bias is not None, eps, out, mean, rstd)
    return out, mean, rstd


def layer_norm_backward(grad_out, x, weight, mean, rstd, need_bias_grad):
    dx = np.empty_like(x)
    partial_w = np.empty((CHUNKS, x.shape[1]), dtype=x.dtype)
    partial_b = np.empty((CHUNKS, x.shape[1]), dtype=x.dtype)
    pick(BACKWARD, x.size, COST_UPDATE)(grad_out, x, np.empty(0, x.dtype) if weight is None else weight,
                                        weight is not None, mean, rstd, dx, partial_w, partial_b)
    dweight = partial_w.sum(axis=0) if weight is not None else None
    dbias = partial_b.sum(axis=0) if need_bias_grad else None
    return dx, dweight, dbias
