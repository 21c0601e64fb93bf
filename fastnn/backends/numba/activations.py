"""Elementwise activations, their derivatives, softmax and log-softmax, as Numba kernels.

``forward_into`` / ``backward_into`` apply one activation to a range of a 1-D contiguous array; the
activation kernels below and the fused linear kernels of ``dense`` both call them,
so an activation's maths is written once. Activations are passed as integer codes (``CODES``);
each code has its own inner loop so that LLVM can vectorise it. Backward takes ``saved``: the
output for identity/relu/sigmoid/tanh, the input for leaky_relu/gelu/gelu_tanh.

Two things decide whether LLVM vectorises such a loop (measured on relu's backward over 32k
float32: 212 us as first written, 6 us after both). A signed index from a range that does not
start at 0 keeps Numba's negative-index wrap-around in the loop (no vector loads): the loops run
over ``range(uint64(lo), uint64(hi))``. A conditional expression with a load in one arm
(``0 if y <= 0 else g[i]``) is a branch, mispredicted half the time on real activations: both
operands are loaded first, and the choice becomes a select.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange, uint64
from numba.extending import overload

from fastnn.backends.contract import (
    ACTIVATION_CODES,
    ACTIVATIONS,
    COST_MATH,
    COST_PASS,
    COSTS,
    GELU_TANH_COEF,
    INV_SQRT_2PI,
    SQRT_2_OVER_PI,
)
from fastnn.backends.numba.jit import BLOCK, jit, jit_inline, pick, serial_and_parallel
from fastnn.backends.numba.mathfun import exp_, norm_cdf, tanh_
from fastnn.backends.numba.reductions import row_dot, row_max, row_total

# the contract's codes as compile-time constants of the loops below
IDENTITY, RELU, LEAKY_RELU, SIGMOID, TANH, GELU, GELU_TANH = (
    ACTIVATION_CODES[n] for n in ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "gelu_tanh"))


# Scalar maths, generic over float32/float64. These are declarations for compiled code only:
# Numba compiles the @overload below in their place. Each overload casts its constants to x's
# type so that float32 stays float32 (a Python float constant would promote the loop to float64).
def sigmoid(x):
    """1 / (1 + e^-x), evaluated stably as e^x / (1 + e^x) for x < 0."""


def gelu(x):
    """x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))."""


def gelu_grad(x):
    """Phi(x) + x phi(x)."""


def sigmoid_pair(x):
    """(sigmoid(x), sigmoid(-x)), both to full relative precision."""


def gelu_tanh(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""


def gelu_tanh_grad(x):
    """0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3*0.044715 x^2), t = tanh(...)."""


@overload(sigmoid)
def _sigmoid(x):
    ty = x

    def impl(x):
        e = exp_(-abs(x))
        s = ty(1.0) / (ty(1.0) + e)
        return s if x >= ty(0.0) else e * s
    return impl


@overload(gelu, inline="always")
def _gelu(x):
    return lambda x: x * norm_cdf(x)


@overload(gelu_grad, inline="always")
def _gelu_grad(x):
    ty = x

    def impl(x):
        cdf = norm_cdf(x)
        pdf = ty(INV_SQRT_2PI) * exp_(ty(-0.5) * x * x)
        return cdf + x * pdf
    return impl


# gelu_tanh through 1 + tanh(u) = 2 sigmoid(2u) and 1 - tanh(u)^2 = 4 sigmoid(2u) sigmoid(-2u):
# the same function, without the cancellation of 1 + tanh(u) for negative u, where a float32
# tanh that is off by one ulp would put the result off by 1e-4 relative.
@overload(sigmoid_pair)
def _sigmoid_pair(x):
    ty = x

    def impl(x):
        e = exp_(-abs(x))
        big = ty(1.0) / (ty(1.0) + e)
        small = e * big
        return (big, small) if x >= ty(0.0) else (small, big)
    return impl


@overload(gelu_tanh)
def _gelu_tanh(x):
    ty = x

    def impl(x):
        s, _ = sigmoid_pair(ty(2.0 * SQRT_2_OVER_PI) * (x + ty(GELU_TANH_COEF) * x * x * x))
        return x * s
    return impl


@overload(gelu_tanh_grad)
def _gelu_tanh_grad(x):
    ty = x

    def impl(x):
        s, s_neg = sigmoid_pair(ty(2.0 * SQRT_2_OVER_PI) * (x + ty(GELU_TANH_COEF) * x * x * x))
        du = ty(SQRT_2_OVER_PI) * (ty(1.0) + ty(3 * GELU_TANH_COEF) * x * x)
        return s + ty(2.0) * x * s * s_neg * du
    return impl


@jit
def forward_into(src, dst, lo, hi, code, negative_slope):
    """dst[i] = act(src[i]) for lo <= i < hi, on 1-D arrays (dst may be src). A range, not a slice:
    slicing costs an atomic reference count, more than a short range's arithmetic. The index is
    unsigned (see the module docstring)."""
    zero = src.dtype.type(0.0)
    slope = src.dtype.type(negative_slope)
    first, stop = uint64(lo), uint64(hi)
    if code == IDENTITY:
        for i in range(first, stop):
            dst[i] = src[i]
    elif code == RELU:  # written so that NaN passes through, as np.maximum does
        for i in range(first, stop):
            x = src[i]
            dst[i] = zero if x < zero else x
    elif code == LEAKY_RELU:
        for i in range(first, stop):
            x = src[i]
            dst[i] = x if x > zero else x * slope
    elif code == SIGMOID:
        for i in range(first, stop):
            dst[i] = sigmoid(src[i])
    elif code == TANH:
        for i in range(first, stop):
            dst[i] = tanh_(src[i])
    elif code == GELU:
        for i in range(first, stop):
            dst[i] = gelu(src[i])
    else:
        for i in range(first, stop):
            dst[i] = gelu_tanh(src[i])


@jit
def backward_into(grad_out, saved, dst, lo, hi, code, negative_slope):
    """dst[i] = grad_out[i] * act'(.) for lo <= i < hi on 1-D arrays, from the saved output (or input).
    Both operands are loaded before any choice (a select, not a branch: see the module docstring)."""
    zero = saved.dtype.type(0.0)
    one = saved.dtype.type(1.0)
    slope = saved.dtype.type(negative_slope)
    first, stop = uint64(lo), uint64(hi)
    if code == IDENTITY:
        for i in range(first, stop):
            dst[i] = grad_out[i]
    elif code == RELU:  # zero where y <= 0, so a NaN output passes its gradient (as PyTorch)
        for i in range(first, stop):
            g, y = grad_out[i], saved[i]
            dst[i] = zero if y <= zero else g
    elif code == LEAKY_RELU:
        for i in range(first, stop):
            g, x = grad_out[i], saved[i]
            dst[i] = g if x > zero else g * slope
    elif code == SIGMOID:
        for i in range(first, stop):
            y = saved[i]
            dst[i] = grad_out[i] * y * (one - y)
    elif code == TANH:
        for i in range(first, stop):
            y = saved[i]
            dst[i] = grad_out[i] * (one - y * y)
    elif code == GELU:
        for i in range(first, stop):
            dst[i] = grad_out[i] * gelu_grad(saved[i])
    else:
        for i in range(first, stop):
            dst[i] = grad_out[i] * gelu_tanh_grad(saved[i])


def _activation_forward(x, out, code, negative_slope):
    """out = act(x) over flat arrays, BLOCK elements per task."""
    n = x.shape[0]
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        forward_into(x, out, lo, hi, code, negative_slope)


def _activation_backward(grad_out, saved, out, code, negative_slope):
    """out = grad_out * act'(saved) over flat arrays, BLOCK elements per task."""
    n = saved.shape[0]
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        backward_into(grad_out, saved, out, lo, hi, code, negative_slope)


@jit_inline
def shifted_exp(x, m, out, r):
    """out[r] = exp(x[r] - m) (m: the row's max, row_max(x, r)); returns the sum of out[r]. A short row
    sums as it goes; a long one afterwards in vector lanes (row_total). One scalar out, not a tuple
    (max, sum): measured, the tuple cost the 512-row, 2-class cross-entropy 20% more."""
    n = x.shape[1]
    if n < 8:
        total = x.dtype.type(0.0)
        for j in range(n):
            e = exp_(x[r, j] - m)
            out[r, j] = e
            total += e
        return total
    for j in range(n):
        out[r, j] = exp_(x[r, j] - m)
    return row_total(out, r)


def _softmax_forward(x, out):
    """Row softmax: out_i = exp(x_i - max x_i) / sum exp(x_i - max x_i)."""
    cols = x.shape[1]
    rows = x.shape[0] if cols else 0
    for r in prange(rows):
        inv = x.dtype.type(1.0) / shifted_exp(x, row_max(x, r), out, r)
        for j in range(cols):
            out[r, j] *= inv


def _softmax_backward(grad_out, out, dx):
    """Row-wise dx = y * (g - sum_k g_k y_k)."""
    for r in prange(out.shape[0]):
        gy = row_dot(grad_out, out, r)
        for j in range(out.shape[1]):
            dx[r, j] = out[r, j] * (grad_out[r, j] - gy)


def _log_softmax_forward(x, out):
    """Row log-softmax: out_i = (x_i - max x_i) - log sum exp(x_i - max x_i)."""
    cols = x.shape[1]
    rows = x.shape[0] if cols else 0
    for r in prange(rows):
        m = row_max(x, r)
        sum_exp = shifted_exp(x, m, out, r)
        log_total = x.dtype.type(math.log(sum_exp))
        for j in range(cols):
            out[r, j] = (x[r, j] - m) - log_total


def _log_softmax_backward(grad_out, out, dx):
    """Row-wise dx = g - exp(y) * sum_k g_k."""
    for r in prange(out.shape[0]):
        g_sum = row_total(grad_out, r)
        for j in range(out.shape[1]):
            dx[r, j] = grad_out[r, j] - exp_(out[r, j]) * g_sum


ACTIVATION_FORWARD = serial_and_parallel(_activation_forward)
ACTIVATION_BACKWARD = serial_and_parallel(_activation_backward)
SOFTMAX_FORWARD = serial_and_parallel(_softmax_forward)
SOFTMAX_BACKWARD = serial_and_parallel(_softmax_backward)
LOG_SOFTMAX_FORWARD = serial_and_parallel(_log_softmax_forward)
LOG_SOFTMAX_BACKWARD = serial_and_parallel(_log_softmax_backward)


_FORWARD_COST = {a.name: COSTS[a.cost] for a in ACTIVATIONS}
_BACKWARD_COST = {a.name: COSTS[a.backward_cost] for a in ACTIVATIONS}


def forward_cost(name: str) -> int:
    """The contract's cost class of the activation's forward pass."""
    return _FORWARD_COST[name]


def backward_cost(name: str) -> int:
    """The contract's cost class of the activation's backward pass."""
    return _BACKWARD_COST[name]


# ------------------------------------------------------------------ the kernel table's entries
def activation_forward(x, activation, negative_slope):
    out = np.empty_like(x)
    pick(ACTIVATION_FORWARD, x.size, forward_cost(activation))(x.reshape(-1), out.reshape(-1),
                                                               ACTIVATION_CODES[activation], negative_slope)
    return out


def activation_backward(grad_out, saved, activation, negative_slope):
    out = np.empty_like(saved)
    pick(ACTIVATION_BACKWARD, saved.size, backward_cost(activation))(
        grad_out.reshape(-1), saved.reshape(-1), out.reshape(-1), ACTIVATION_CODES[activation], negative_slope)
    return out


def _into_new(kernels: tuple, cost: int, *inputs):
    """Run the row kernel on `inputs` into a new array shaped like the last input."""
    out = np.empty_like(inputs[-1])
    pick(kernels, out.size, cost)(*inputs, out)
    return out


def softmax_forward(x):
    return _into_new(SOFTMAX_FORWARD, COST_MATH, x)


def softmax_backward(grad_out, out):
    return _into_new(SOFTMAX_BACKWARD, COST_PASS, grad_out, out)


def log_softmax_forward(x):
    return _into_new(LOG_SOFTMAX_FORWARD, COST_MATH, x)


def log_softmax_backward(grad_out, out):
    return _into_new(LOG_SOFTMAX_BACKWARD, COST_MATH, grad_out, out)
