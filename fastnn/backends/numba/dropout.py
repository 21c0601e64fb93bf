"""Dropout with the counter-based splitmix64 stream of ``reference.dropout.splitmix64_uniform``.

Element i's uniform depends only on (seed, i), so the masks match the reference bit for bit
whatever the thread count. All integer arithmetic stays uint64: mixing int64 and uint64 in
Numba promotes to float64 and silently breaks the stream.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastnn.backends.contract import COST_MATH, COST_PASS, DROPOUT_GOLDEN, DROPOUT_MIX, dropout_scale
from fastnn.backends.numba.jit import BLOCK, pick, serial_and_parallel

_GOLDEN = np.uint64(DROPOUT_GOLDEN)
_MIX1 = np.uint64(DROPOUT_MIX[0])
_MIX2 = np.uint64(DROPOUT_MIX[1])
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_TWO_POW_M53 = 1.0 / 9007199254740992.0


def _dropout_forward(x, p, seed, scale, out, mask):
    """u_i = (splitmix64(seed + (i+1) golden) >> 11) 2^-53; mask_i = u_i >= p; out_i = x_i mask_i scale."""
    n = x.shape[0]
    s = x.dtype.type(scale)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        src, dst, keep_out = x[lo:hi], out[lo:hi], mask[lo:hi]
        counter = seed + np.uint64(lo) * _GOLDEN
        for i in range(src.shape[0]):
            z = counter + (np.uint64(i) + _ONE) * _GOLDEN
            z = (z ^ (z >> _S30)) * _MIX1
            z = (z ^ (z >> _S27)) * _MIX2
            z = z ^ (z >> _S31)
            keep = np.float64(z >> _S11) * _TWO_POW_M53 >= p
            keep_out[i] = keep
            dst[i] = src[i] * src.dtype.type(keep) * s


def _dropout_backward(grad_out, mask, scale, out):
    """grad_in_i = grad_out_i mask_i scale."""
    n = grad_out.shape[0]
    s = grad_out.dtype.type(scale)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        g, keep, dst = grad_out[lo:hi], mask[lo:hi], out[lo:hi]
        for i in range(g.shape[0]):
            dst[i] = g[i] * g.dtype.type(keep[i]) * s


DROPOUT_FORWARD = serial_and_parallel(_dropout_forward)
DROPOUT_BACKWARD = serial_and_parallel(_dropout_backward)


# ------------------------------------------------------------------ the kernel table's entries
def dropout_forward(x, p, seed):
    out = np.empty_like(x)
    mask = np.empty(x.shape, dtype=np.uint8)
    pick(DROPOUT_FORWARD, x.size, COST_MATH)(x.reshape(-1), p, np.uint64(seed), dropout_scale(p), out.reshape(-1),
                                             mask.reshape(-1))
    return out, mask


def dropout_backward(grad_out, mask, p):
    out = np.empty_like(grad_out)
    pick(DROPOUT_BACKWARD, grad_out.size, COST_PASS)(grad_out.reshape(-1), mask.reshape(-1), dropout_scale(p),
                                                     out.reshape(-1))
    return out
