"""Layer normalisation over the last dim of a 2-D array, forward and backward (see base.py)."""

from __future__ import annotations

import numpy as np


def layer_norm_forward(x, weight, bias, eps):
    t = x.dtype.type
    mean = x.mean(axis=1)
    centred = x - mean[:, None]
    rstd = np.asarray(1 / np.sqrt((centred * centred).mean(axis=1) + t(eps)), dtype=x.dtype)
    out = centred * rstd[:, None]
    if weight is not None:
        out *= weight
    if bias is not None:
        out += bias
    return out, mean, rstd


def layer_norm_backward(grad_out, x, weight, mean, rstd, need_bias_grad):
    xhat = (x - mean[:, None]) * rstd[:, None]
    g = grad_out * weight if weight is not None else grad_out
    dx = rstd[:, None] * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
    dweight = (grad_out * xhat).sum(axis=0) if weight is not None else None
    dbias = grad_out.sum(axis=0) if need_bias_grad else None
    return dx, dweight, dbias
