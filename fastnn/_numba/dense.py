"""The elementwise halves of the fused linear layer; the matrix products stay on BLAS.

Forward, after z = x @ W.T: one pass per row adds the bias and applies the activation while the
row is in cache. Backward, before the two products: one pass computes dz = grad_out * act'(saved)
and the bias gradient's column sums. The column sums are parallel over row chunks, each chunk
summing into its own row of ``partial``, and the partial rows are added afterwards: no two
threads ever write one element. Chunks are fixed by the row count, not the thread count, so the
result does not depend on the number of threads.
"""

from __future__ import annotations

from numba import prange

from fastnn._numba._jit import serial_and_parallel
from fastnn._numba.activations import backward_into, forward_into

BIAS_GRAD_CHUNKS = 8  # row chunks summed independently for the bias gradient


def _bias_activation(z, bias, out, has_bias, code, negative_slope):
    """out_i = act(z_i + bias) row by row; z is updated in place to z + bias (out may be z)."""
    for r in prange(z.shape[0]):
        row = z[r]
        if has_bias:
            for j in range(row.shape[0]):
                row[j] += bias[j]
        forward_into(row, out[r], code, negative_slope)


def _activation_grad_and_bias_grad(grad_out, saved, dz, partial, code, negative_slope, need_dz):
    """dz = grad_out * act'(saved) (when need_dz; else dz is grad_out itself) and
    partial[c] = sum of dz over the c-th chunk of rows."""
    rows, cols = grad_out.shape
    chunks = partial.shape[0]
    for c in prange(chunks):
        lo = c * rows // chunks
        hi = (c + 1) * rows // chunks
        acc = partial[c]
        for j in range(cols):
            acc[j] = 0
        for r in range(lo, hi):
            if need_dz:
                backward_into(grad_out[r], saved[r], dz[r], code, negative_slope)
            d = dz[r]
            for j in range(cols):
                acc[j] += d[j]


bias_activation = serial_and_parallel(_bias_activation)
activation_grad_and_bias_grad = serial_and_parallel(_activation_grad_and_bias_grad)
