"""Fused in-place optimizer updates, one pass over the parameter per step (torch.optim's rules).

Every kernel walks flat arrays in BLOCK-sized tasks; state arrays that an option does not use
arrive as empty arrays and are never touched. Option flags are loop-invariant, so LLVM unswitches
the loops and each variant vectorises.
"""

from __future__ import annotations

import math

from numba import prange

from fastnn._numba._jit import BLOCK, serial_and_parallel


def _sgd(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first_step):
    """g = grad + wd p; buf = g (first step) or momentum buf + (1-dampening) g;
    g = g + momentum buf (nesterov) or buf; p -= lr g."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, mom, damp, step = ty(weight_decay), ty(momentum), ty(1.0 - dampening), ty(lr)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            g = grad[i] + wd * param[i] if weight_decay != 0.0 else grad[i]
            if momentum != 0.0:
                v = g if first_step else buf[i] * mom + damp * g
                buf[i] = v
                g = g + mom * v if nesterov else v
            param[i] -= step * g


def _adagrad(param, grad, state_sum, clr, weight_decay, eps):
    """g = grad + wd p; sum += g^2; p -= clr g / (sqrt(sum) + eps)."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, step, e = ty(weight_decay), ty(clr), ty(eps)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            g = grad[i] + wd * param[i] if weight_decay != 0.0 else grad[i]
            s = state_sum[i] + g * g
            state_sum[i] = s
            param[i] -= step * g / (math.sqrt(s) + e)


def _rmsprop(param, grad, square_avg, buf, grad_avg, lr, alpha, eps, weight_decay, momentum, centered):
    """g = grad + wd p; v = alpha v + (1-alpha) g^2; avg = sqrt(v - m^2) + eps with
    m = alpha m + (1-alpha) g (centered), else sqrt(v) + eps; buf = momentum buf + g/avg,
    p -= lr buf (momentum > 0), else p -= lr g / avg."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, a, rest, e, mom, step = ty(weight_decay), ty(alpha), ty(1.0 - alpha), ty(eps), ty(momentum), ty(lr)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            g = grad[i] + wd * param[i] if weight_decay != 0.0 else grad[i]
            v = square_avg[i] * a + rest * g * g
            square_avg[i] = v
            if centered:
                m = grad_avg[i] * a + rest * g
                grad_avg[i] = m
                avg = math.sqrt(v - m * m) + e
            else:
                avg = math.sqrt(v) + e
            if momentum > 0.0:
                u = buf[i] * mom + g / avg
                buf[i] = u
                param[i] -= step * u
            else:
                param[i] -= step * g / avg


def _adadelta(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    """g = grad + wd p; v = rho v + (1-rho) g^2; delta = sqrt(u + eps) / sqrt(v + eps) g;
    u = rho u + (1-rho) delta^2; p -= lr delta."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, r, rest, e, step = ty(weight_decay), ty(rho), ty(1.0 - rho), ty(eps), ty(lr)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            g = grad[i] + wd * param[i] if weight_decay != 0.0 else grad[i]
            v = square_avg[i] * r + rest * g * g
            square_avg[i] = v
            delta = math.sqrt(acc_delta[i] + e) / math.sqrt(v + e) * g
            acc_delta[i] = acc_delta[i] * r + rest * delta * delta
            param[i] -= step * delta


def _adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay, amsgrad,
          decoupled_weight_decay):
    """Adam / AdamW (decoupled_weight_decay) with optional amsgrad, step >= 1:
    m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2 (vmax = max(vmax, v) replaces v with amsgrad);
    p -= lr/(1-b1^step) m / (sqrt(v)/sqrt(1-b2^step) + eps)."""
    ty = param.dtype.type
    n = param.shape[0]
    coupled = weight_decay != 0.0 and not decoupled_weight_decay
    decoupled = weight_decay != 0.0 and decoupled_weight_decay
    wd, shrink = ty(weight_decay), ty(1.0 - lr * weight_decay)
    b1, rest1, b2, rest2, e = ty(beta1), ty(1.0 - beta1), ty(beta2), ty(1.0 - beta2), ty(eps)
    step_size = ty(lr / (1.0 - beta1**step))
    bc2_sqrt = ty((1.0 - beta2**step) ** 0.5)
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(b * BLOCK + BLOCK, n)):
            p = param[i] * shrink if decoupled else param[i]
            g = grad[i] + wd * p if coupled else grad[i]
            m = exp_avg[i] * b1 + rest1 * g
            exp_avg[i] = m
            v = exp_avg_sq[i] * b2 + rest2 * g * g
            exp_avg_sq[i] = v
            if amsgrad:
                v = max(max_exp_avg_sq[i], v)
                max_exp_avg_sq[i] = v
            param[i] = p - step_size * m / (math.sqrt(v) / bc2_sqrt + e)


sgd = serial_and_parallel(_sgd)
adagrad = serial_and_parallel(_adagrad)
rmsprop = serial_and_parallel(_rmsprop)
adadelta = serial_and_parallel(_adadelta)
adam = serial_and_parallel(_adam)
