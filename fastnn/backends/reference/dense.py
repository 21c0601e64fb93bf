"""The fused linear layer: out = act(x @ weight.T + bias) and its backward."""

from __future__ import annotations

from fastnn.backends.contract import saves_input
from fastnn.backends.reference.activations import activation_backward, activation_forward


def linear_forward(x, weight, bias, activation, negative_slope):
    z = x @ weight.T
    if bias is not None:
        z += bias
    out = activation_forward(z, activation, negative_slope)
    return out, (z if saves_input(activation) else out)


def linear_backward(grad_out, x, weight, saved, activation, negative_slope, need_input_grad, need_bias_grad):
    dz = activation_backward(grad_out, saved, activation, negative_slope)
    dx = dz @ weight if need_input_grad else None
    dweight = dz.T @ x
    dbias = dz.sum(axis=0) if need_bias_grad else None
    return dx, dweight, dbias
