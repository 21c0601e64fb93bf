"""Fused in-place optimizer updates, torch.optim's rules (see each public method in base.py)."""

from __future__ import annotations

import numpy as np


def _decayed(param, grad, weight_decay):
    return grad + param.dtype.type(weight_decay) * param if weight_decay else grad


def sgd_update(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step):
    t = param.dtype.type
    g = _decayed(param, grad, weight_decay)
    if momentum:
        buf = momentum_buffer
        if first_step:
            buf[...] = g
        else:
            buf *= t(momentum)
            buf += t(1 - dampening) * g
        g = g + t(momentum) * buf if nesterov else buf
    param -= t(lr) * g


def adagrad_update(param, grad, state_sum, clr, weight_decay, eps):
    t = param.dtype.type
    g = _decayed(param, grad, weight_decay)
    state_sum += g * g
    param -= t(clr) * g / (np.sqrt(state_sum) + t(eps))


def rmsprop_update(param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay, momentum,
                   centered):
    t = param.dtype.type
    g = _decayed(param, grad, weight_decay)
    square_avg *= t(alpha)
    square_avg += t(1 - alpha) * g * g
    if centered:  # PyTorch's order: grad_avg.lerp_(g, 1 - alpha), then sqrt(square_avg - grad_avg^2)
        w = t(1 - alpha)
        if abs(w) < 0.5:
            grad_avg += w * (g - grad_avg)
        else:
            grad_avg[...] = g - (g - grad_avg) * (t(1) - w)
        avg = np.sqrt(square_avg - grad_avg * grad_avg) + t(eps)
    else:
        avg = np.sqrt(square_avg) + t(eps)
    if momentum > 0:
        momentum_buffer *= t(momentum)
        momentum_buffer += g / avg
        param -= t(lr) * momentum_buffer
    else:
        param -= t(lr) * g / avg


def adadelta_update(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    t = param.dtype.type
    g = _decayed(param, grad, weight_decay)
    square_avg *= t(rho)
    square_avg += t(1 - rho) * g * g
    delta = np.sqrt(acc_delta + t(eps)) / np.sqrt(square_avg + t(eps)) * g
    acc_delta *= t(rho)
    acc_delta += t(1 - rho) * delta * delta
    param -= t(lr) * delta


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                amsgrad, decoupled_weight_decay):
    t = param.dtype.type
    g = grad
    if weight_decay:
        if decoupled_weight_decay:
            param *= t(1 - lr * weight_decay)
        else:
            g = grad + t(weight_decay) * param
    exp_avg *= t(beta1)
    exp_avg += t(1 - beta1) * g
    exp_avg_sq *= t(beta2)
    exp_avg_sq += t(1 - beta2) * g * g
    v = exp_avg_sq
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    step_size = lr / (1 - beta1**step)
    bc2_sqrt = (1 - beta2**step) ** 0.5
    param -= t(step_size) * exp_avg / (np.sqrt(v) / t(bc2_sqrt) + t(eps))
