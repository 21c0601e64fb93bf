"""The elementwise halves of the fused linear layer; the matrix products stay on BLAS.

Forward, after z = x @ W.T: one pass per chunk of rows adds the bias and applies the activation
while the chunk is in cache. Backward, before the two products: one pass computes dz = grad_out * act'(saved)
and the bias gradient's column sums. The column sums are parallel over row chunks, each chunk
summing into its own row of ``partial``, and the partial rows are added afterwards: no two
threads ever write one element. Chunks are fixed by the row count, not the thread count, so the
result does not depend on the number of threads.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from fastnn.backends.contract import ACTIVATION_CODES, saves_input
from fastnn.backends.numba.activations import (
    ACTIVATION_BACKWARD,
    IDENTITY,
    backward_cost,
    backward_into,
    forward_cost,
    forward_into,
)
from fastnn.backends.numba.jit import BLOCK, pick, serial_and_parallel

BIAS_GRAD_CHUNKS = 8  # row chunks summed independently for the bias gradient


def _bias_activation(z, bias, out, has_bias, code, negative_slope):
    """out = act(z + bias), in chunks of whole rows of about BLOCK elements; z is updated in place
    to z + bias (out may be z). Rows are read by index, not sliced (see reductions)."""
    rows, cols = z.shape
    per = max(1, BLOCK // max(cols, 1))
    z_flat, out_flat = z.reshape(-1), out.reshape(-1)
    for c in prange((rows + per - 1) // per):
        lo = c * per
        hi = min(lo + per, rows)
        if has_bias:
            for r in range(lo, hi):
                for j in range(cols):
                    z[r, j] += bias[j]
        forward_into(z_flat, out_flat, lo * cols, hi * cols, code, negative_slope)


def _activation_grad_and_bias_grad(grad_out, saved, dz, partial, code, negative_slope, need_dz):
    """dz = grad_out * act'(saved) (when need_dz; else dz is grad_out itself) and
    partial[c] = sum of dz over the c-th chunk of rows."""
    rows, cols = grad_out.shape
    chunks = partial.shape[0]
    g_flat, saved_flat, dz_flat = grad_out.reshape(-1), saved.reshape(-1), dz.reshape(-1)
    for c in prange(chunks):
        lo = c * rows // chunks
        hi = (c + 1) * rows // chunks
        if need_dz:
            backward_into(g_flat, saved_flat, dz_flat, lo * cols, hi * cols, code, negative_slope)
        for j in range(cols):
            partial[c, j] = 0
        for r in range(lo, hi):
            for j in range(cols):
                partial[c, j] += dz[r, j]


BIAS_ACTIVATION = serial_and_parallel(_bias_activation)
ACTIVATION_GRAD_AND_BIAS_GRAD = serial_and_parallel(_activation_grad_and_bias_grad)
_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0, np.float64)}


# ------------------------------------------------------------------ the kernel table's entries
def linear_forward(x, weight, bias, activation, negative_slope):
    z = np.matmul(x, weight.T)
    out = np.empty_like(z) if saves_input(activation) else z
    has_bias = bias is not None
    pick(BIAS_ACTIVATION, z.size, forward_cost(activation))(
        z, bias if has_bias else _EMPTY[z.dtype], out, has_bias, ACTIVATION_CODES[activation], negative_slope)
    return out, (z if saves_input(activation) else out)


def linear_backward(grad_out, x, weight, saved, activation, negative_slope, need_input_grad, need_bias_grad):
    code = ACTIVATION_CODES[activation]
    dz = grad_out if code == IDENTITY else np.empty_like(grad_out)
    dbias = None
    cost = backward_cost(activation)
    if need_bias_grad:
        partial = np.empty((BIAS_GRAD_CHUNKS, grad_out.shape[1]), dtype=grad_out.dtype)
        pick(ACTIVATION_GRAD_AND_BIAS_GRAD, grad_out.size, cost)(
            grad_out, saved, dz, partial, code, negative_slope, dz is not grad_out)
        dbias = partial.sum(axis=0)
    elif dz is not grad_out:
        pick(ACTIVATION_BACKWARD, dz.size, cost)(grad_out.reshape(-1), saved.reshape(-1), dz.reshape(-1), code,
                                                 negative_slope)
    dx = np.matmul(dz, weight) if need_input_grad else None
    dweight = np.matmul(dz.T, x)
    return dx, dweight, dbias
