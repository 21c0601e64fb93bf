"""Fused in-place optimizer updates, one pass over the parameter per step (torch.optim's rules).

Every kernel walks flat arrays in BLOCK-sized tasks, each a set of slices indexed from 0 (a loop
from a non-zero start keeps Numba's negative-index check and does not vectorise). State arrays
that an option does not use arrive empty and are never touched. Option flags are loop-invariant,
so LLVM unswitches the loops and each variant vectorises.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from fastnn.backends.contract import COST_PASS, COST_UPDATE
from fastnn.backends.numba.jit import BLOCK, jit, pick, serial_and_parallel


def _sgd(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, first_step):
    """g = grad + wd p; buf = g (first step) or momentum buf + (1-dampening) g;
    g = g + momentum buf (nesterov) or buf; p -= lr g."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, mom, damp, step = ty(weight_decay), ty(momentum), ty(1.0 - dampening), ty(lr)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        p, dp, u = param[lo:hi], grad[lo:hi], buf[lo:hi]
        for i in range(p.shape[0]):
            g = dp[i] + wd * p[i] if weight_decay != 0.0 else dp[i]
            if momentum != 0.0:
                v = g if first_step else u[i] * mom + damp * g
                u[i] = v
                g = g + mom * v if nesterov else v
            p[i] -= step * g


def _adagrad(param, grad, state_sum, clr, weight_decay, eps):
    """g = grad + wd p; sum += g^2; p -= clr g / (sqrt(sum) + eps)."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, step, e = ty(weight_decay), ty(clr), ty(eps)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        p, dp, acc = param[lo:hi], grad[lo:hi], state_sum[lo:hi]
        for i in range(p.shape[0]):
            g = dp[i] + wd * p[i] if weight_decay != 0.0 else dp[i]
            s = acc[i] + g * g
            acc[i] = s
            p[i] -= step * g / (math.sqrt(s) + e)


def _rmsprop(param, grad, square_avg, buf, grad_avg, lr, alpha, eps, weight_decay, momentum, centered):
    """g = grad + wd p; v = alpha v + (1-alpha) g^2; avg = sqrt(v - m^2) + eps with
    m = lerp(m, g, 1-alpha) (centered, PyTorch's order), else sqrt(v) + eps; buf = momentum buf + g/avg,
    p -= lr buf (momentum > 0), else p -= lr g / avg."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, a, rest, e, mom, step = ty(weight_decay), ty(alpha), ty(1.0 - alpha), ty(eps), ty(momentum), ty(lr)
    lerp_near = abs(rest) < ty(0.5)  # torch.lerp's two forms, chosen by the weight
    keep = ty(1.0) - rest
    for b in range((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        p, dp, sq, mb, ga = param[lo:hi], grad[lo:hi], square_avg[lo:hi], buf[lo:hi], grad_avg[lo:hi]
        for i in range(p.shape[0]):
            g = dp[i] + wd * p[i] if weight_decay != 0.0 else dp[i]
            v = sq[i] * a + rest * g * g
            sq[i] = v
            if centered:
                m = ga[i] + rest * (g - ga[i]) if lerp_near else g - (g - ga[i]) * keep
                ga[i] = m
                avg = math.sqrt(v - m * m) + e
            else:
                avg = math.sqrt(v) + e
            if momentum > 0.0:
                u = mb[i] * mom + g / avg
                mb[i] = u
                p[i] -= step * u
            else:
                p[i] -= step * g / avg


def _adadelta(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    """g = grad + wd p; v = rho v + (1-rho) g^2; delta = sqrt(u + eps) / sqrt(v + eps) g;
    u = rho u + (1-rho) delta^2; p -= lr delta."""
    ty = param.dtype.type
    n = param.shape[0]
    wd, r, rest, e, step = ty(weight_decay), ty(rho), ty(1.0 - rho), ty(eps), ty(lr)
    for b in prange((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        p, dp, sq, acc = param[lo:hi], grad[lo:hi], square_avg[lo:hi], acc_delta[lo:hi]
        for i in range(p.shape[0]):
            g = dp[i] + wd * p[i] if weight_decay != 0.0 else dp[i]
            v = sq[i] * r + rest * g * g
            sq[i] = v
            delta = math.sqrt(acc[i] + e) / math.sqrt(v + e) * g
            acc[i] = acc[i] * r + rest * delta * delta
            p[i] -= step * delta


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
    for b in range((n + BLOCK - 1) // BLOCK):
        lo, hi = b * BLOCK, min(b * BLOCK + BLOCK, n)
        p, dp, m1, m2, vmax = param[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi], max_exp_avg_sq[lo:hi]
        for i in range(p.shape[0]):
            w = p[i] * shrink if decoupled else p[i]
            g = dp[i] + wd * w if coupled else dp[i]
            m = m1[i] * b1 + rest1 * g
            m1[i] = m
            v = m2[i] * b2 + rest2 * g * g
            m2[i] = v
            if amsgrad:
                v = vmax[i] if vmax[i] > v else v
                vmax[i] = v
            p[i] = w - step_size * m / (math.sqrt(v) / bc2_sqrt + e)


SGD = serial_and_parallel(_sgd)
ADAGRAD = serial_and_parallel(_adagrad)
# Serial only: their parallel twins ran slower than serial on 2 threads (docs/performance.md),
# while sgd, adagrad and adadelta gain from threads.
RMSPROP = jit(_rmsprop)
ADADELTA = serial_and_parallel(_adadelta)
ADAM = jit(_adam)
_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0, np.float64)}


def _flat(a, like):
    """A flat view of an optional state array, or an empty one (the kernel then never reads it)."""
    return _EMPTY[like.dtype] if a is None else a.reshape(-1)


# ------------------------------------------------------------------ the kernel table's entries
def sgd_update(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step):
    pick(SGD, param.size, COST_PASS)(param.reshape(-1), grad.reshape(-1), _flat(momentum_buffer, param), lr,
                                     momentum, dampening, weight_decay, nesterov, first_step)


def adagrad_update(param, grad, state_sum, clr, weight_decay, eps):
    pick(ADAGRAD, param.size, COST_UPDATE)(param.reshape(-1), grad.reshape(-1), state_sum.reshape(-1), clr,
                                           weight_decay, eps)


def rmsprop_update(param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay, momentum,
                   centered):
    RMSPROP(param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1), _flat(momentum_buffer, param),
            _flat(grad_avg, param), lr, alpha, eps, weight_decay, momentum, centered)


def adadelta_update(param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
    pick(ADADELTA, param.size, COST_UPDATE)(param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1),
                                            acc_delta.reshape(-1), lr, rho, eps, weight_decay)


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps, weight_decay,
                amsgrad, decoupled_weight_decay):
    ADAM(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
         _flat(max_exp_avg_sq, param), step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay)
