"""Activations (a small table of forward and derivative functions), softmax and log-softmax.

``FORWARD[name](x, slope)`` and ``BACKWARD[name](grad_out, saved, slope)`` hold one activation
each; ``saved`` is the output, or the input where ``contract.saves_input``. A new activation is a
row in ``contract.ACTIVATIONS`` plus an entry in each table here.
"""

from __future__ import annotations

import numpy as np

from fastnn.backends.contract import GELU_TANH_COEF, INV_SQRT2, INV_SQRT_2PI, SQRT_2_OVER_PI


def special():
    """scipy.special, imported on first use: it costs ~0.2 s, a third of ``import fastnn``."""
    from scipy import special as module

    return module


def _gelu_tanh(x, slope):
    u = x.dtype.type(SQRT_2_OVER_PI) * (x + x.dtype.type(GELU_TANH_COEF) * x * x * x)
    return 0.5 * x * (1 + np.tanh(u))


def _gelu_backward(g, x, slope):
    t = x.dtype.type
    cdf = 0.5 * (1 + special().erf(x * t(INV_SQRT2)))
    pdf = t(INV_SQRT_2PI) * np.exp(-0.5 * x * x)
    return g * (cdf + x * pdf)


def _gelu_tanh_backward(g, x, slope):
    t = x.dtype.type
    th = np.tanh(t(SQRT_2_OVER_PI) * (x + t(GELU_TANH_COEF) * x * x * x))
    du = t(SQRT_2_OVER_PI) * (1 + t(3 * GELU_TANH_COEF) * x * x)
    return g * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du)


FORWARD = {
    "identity": lambda x, slope: x.copy(),
    "relu": lambda x, slope: np.maximum(x, 0),
    "leaky_relu": lambda x, slope: np.where(x > 0, x, x * x.dtype.type(slope)),
    "sigmoid": lambda x, slope: special().expit(x),
    "tanh": lambda x, slope: np.tanh(x),
    "gelu": lambda x, slope: 0.5 * x * (1 + special().erf(x * x.dtype.type(INV_SQRT2))),
    "gelu_tanh": _gelu_tanh,
}
"""act(x) per activation name."""

BACKWARD = {
    "identity": lambda g, y, slope: g.copy(),
    # zero where y <= 0: a NaN output passes its gradient, as in PyTorch
    "relu": lambda g, y, slope: np.where(y <= 0, y.dtype.type(0), g),
    "leaky_relu": lambda g, x, slope: np.where(x > 0, g, g * x.dtype.type(slope)),
    "sigmoid": lambda g, y, slope: g * y * (1 - y),
    "tanh": lambda g, y, slope: g * (1 - y * y),
    "gelu": _gelu_backward,
    "gelu_tanh": _gelu_tanh_backward,
}
"""grad_out * act'(.) per activation name, from the saved output (or input)."""


def activation_forward(x, activation, negative_slope):
    return np.asarray(FORWARD[activation](x, negative_slope), dtype=x.dtype)


def activation_backward(grad_out, saved, activation, negative_slope):
    return np.asarray(BACKWARD[activation](grad_out, saved, negative_slope), dtype=saved.dtype)


def softmax_forward(x):
    e = np.exp(x - x.max(axis=1, keepdims=True, initial=-np.inf))  # initial: rows may have no columns
    return e / e.sum(axis=1, keepdims=True)


def softmax_backward(grad_out, out):
    return out * (grad_out - (grad_out * out).sum(axis=1, keepdims=True))


def log_softmax_forward(x):
    shifted = x - x.max(axis=1, keepdims=True, initial=-np.inf)
    with np.errstate(divide="ignore"):  # log(0) only for rows without columns, whose output is empty
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(grad_out, out):
    return grad_out - np.exp(out) * grad_out.sum(axis=1, keepdims=True)
