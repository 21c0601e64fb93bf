"""The Numba backend: every kernel of :class:`~fastnn.backends.base.Backend` compiled with @njit.

Importing this module imports Numba (the registry does so lazily, on first use). The kernel
bodies live in ``fastnn._numba``; this class allocates outputs, keeps matrix products on BLAS
(NumPy's matmul with ``out=`` buffers) and picks each kernel's serial or parallel compilation
by size (``fastnn._numba._jit.pick``). Inputs arrive checked and C-contiguous.
"""

from __future__ import annotations

import numpy as np

from fastnn._numba import activations, dense, dropout, embedding, losses, optim
from fastnn._numba._jit import blocks, pick
from fastnn.backends.base import Backend, _dropout_scale, saves_input

# Activations whose forward / backward pass is a select or a multiply (no transcendental).
_LIGHT_FORWARD = {activations.IDENTITY, activations.RELU, activations.LEAKY_RELU}
_LIGHT_BACKWARD = _LIGHT_FORWARD | {activations.SIGMOID, activations.TANH}
_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0, np.float64)}


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(-1)


def _or_empty(a: np.ndarray | None, like: np.ndarray) -> np.ndarray:
    """A flat view of an optional state array, or an empty one (the kernel then never reads it)."""
    return _EMPTY[like.dtype] if a is None else _flat(a)


def _reduced(per_element: np.ndarray | None, reduction: str, total: float, count: int, dtype) -> np.ndarray:
    """The loss as the reference returns it: per element, or the sum / mean of `total` as a 0-d array."""
    if reduction == "none":
        return per_element
    value = total if reduction == "sum" else (total / count if count else np.nan)
    return np.asarray(value, dtype=dtype)


class NumbaBackend(Backend):
    """Backend whose kernels run as Numba-compiled loops around BLAS products."""

    name = "numba"

    # ------------------------------------------------------------------ dense
    def _linear_forward(self, x, weight, bias, activation, negative_slope):
        z = np.matmul(x, weight.T)
        out = np.empty_like(z) if saves_input(activation) else z
        has_bias = bias is not None
        code = activations.CODES[activation]
        kernel = pick(dense.bias_activation, z.size, code in _LIGHT_FORWARD)
        kernel(z, bias if has_bias else _EMPTY[z.dtype], out, has_bias, code, negative_slope)
        return out, (z if saves_input(activation) else out)

    def _linear_backward(self, grad_out, x, weight, saved, activation, negative_slope, need_input_grad,
                         need_bias_grad):
        code = activations.CODES[activation]
        dz = grad_out if code == activations.IDENTITY else np.empty_like(grad_out)
        dbias = None
        if need_bias_grad:
            partial = np.empty((dense.BIAS_GRAD_CHUNKS, grad_out.shape[1]), dtype=grad_out.dtype)
            pick(dense.activation_grad_and_bias_grad, grad_out.size, code in _LIGHT_BACKWARD)(
                grad_out, saved, dz, partial, code, negative_slope, dz is not grad_out)
            dbias = partial.sum(axis=0)
        elif dz is not grad_out:
            pick(activations.activation_backward, dz.size, code in _LIGHT_BACKWARD)(
                _flat(grad_out), _flat(saved), _flat(dz), code, negative_slope)
        dx = np.matmul(dz, weight) if need_input_grad else None
        dweight = np.matmul(dz.T, x)
        return dx, dweight, dbias

    # ------------------------------------------------------------ activations
    def _activation_forward(self, x, activation, negative_slope):
        out = np.empty_like(x)
        code = activations.CODES[activation]
        pick(activations.activation_forward, x.size, code in _LIGHT_FORWARD)(_flat(x), _flat(out), code,
                                                                            negative_slope)
        return out

    def _activation_backward(self, grad_out, saved, activation, negative_slope):
        out = np.empty_like(saved)
        code = activations.CODES[activation]
        pick(activations.activation_backward, saved.size, code in _LIGHT_BACKWARD)(
            _flat(grad_out), _flat(saved), _flat(out), code, negative_slope)
        return out

    def _softmax_forward(self, x):
        out = np.empty_like(x)
        pick(activations.softmax_forward, x.size)(x, out)
        return out

    def _softmax_backward(self, grad_out, out):
        dx = np.empty_like(out)
        pick(activations.softmax_backward, out.size)(grad_out, out, dx)
        return dx

    def _log_softmax_forward(self, x):
        out = np.empty_like(x)
        pick(activations.log_softmax_forward, x.size)(x, out)
        return out

    def _log_softmax_backward(self, grad_out, out):
        dx = np.empty_like(out)
        pick(activations.log_softmax_backward, out.size)(grad_out, out, dx)
        return dx

    # ----------------------------------------------------------------- losses
    def _softmax_cross_entropy(self, logits, target, reduction, ignore_index, label_smoothing):
        count = int(np.count_nonzero(target != ignore_index))
        scale = 1.0 / count if reduction == "mean" and count else 1.0
        loss = np.empty(logits.shape[0], dtype=logits.dtype)
        grad = np.empty_like(logits)
        pick(losses.softmax_cross_entropy, logits.size)(logits, target, ignore_index, label_smoothing, scale,
                                                        loss, grad)
        return _reduced(loss, reduction, loss.sum(dtype=np.float64), count, loss.dtype), grad

    def _pointwise_loss(self, kernel, input, target, reduction, loss_always):
        n = input.size
        scale = 1.0 / n if reduction == "mean" and n else 1.0
        need_loss = reduction == "none"
        loss = np.empty_like(input) if need_loss or loss_always else _EMPTY[input.dtype]
        grad = np.empty_like(input)
        partial = np.empty(blocks(n), dtype=np.float64)
        pick(kernel, n, light=kernel is losses.mse)(_flat(input), _flat(target), scale, _flat(loss), _flat(grad),
                                                   partial, need_loss)
        return _reduced(loss, reduction, partial.sum(), n, input.dtype), grad

    def _mse_loss(self, input, target, reduction):
        return self._pointwise_loss(losses.mse, input, target, reduction, loss_always=False)

    def _bce_with_logits(self, logits, target, reduction):
        return self._pointwise_loss(losses.bce_with_logits, logits, target, reduction, loss_always=True)

    # ------------------------------------------------------------- optimizers
    def _sgd_update(self, param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step):
        pick(optim.sgd, param.size, light=True)(_flat(param), _flat(grad), _or_empty(momentum_buffer, param), lr,
                                                momentum, dampening, weight_decay, nesterov, first_step)

    def _adagrad_update(self, param, grad, state_sum, clr, weight_decay, eps):
        pick(optim.adagrad, param.size)(_flat(param), _flat(grad), _flat(state_sum), clr, weight_decay, eps)

    def _rmsprop_update(self, param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay,
                        momentum, centered):
        optim.rmsprop(_flat(param), _flat(grad), _flat(square_avg), _or_empty(momentum_buffer, param),
                      _or_empty(grad_avg, param), lr, alpha, eps, weight_decay, momentum, centered)

    def _adadelta_update(self, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
        pick(optim.adadelta, param.size)(_flat(param), _flat(grad), _flat(square_avg), _flat(acc_delta), lr, rho,
                                         eps, weight_decay)

    def _adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                     weight_decay, amsgrad, decoupled_weight_decay):
        optim.adam(_flat(param), _flat(grad), _flat(exp_avg), _flat(exp_avg_sq), _or_empty(max_exp_avg_sq, param),
                   step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay)

    # ------------------------------------------------------------- embeddings
    def _embedding_forward(self, weight, indices):
        out = np.empty((indices.shape[0], weight.shape[1]), dtype=weight.dtype)
        pick(embedding.embedding_forward, out.size, light=True)(weight, indices, out)
        return out

    def _embedding_backward(self, grad_out, indices, num_embeddings, padding_idx):
        dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
        pick(embedding.embedding_backward, grad_out.size)(grad_out, indices, padding_idx, dweight)
        return dweight

    def _embedding_bag_forward(self, weight, indices, offsets, mode, padding_idx):
        out = np.empty((offsets.shape[0], weight.shape[1]), dtype=weight.dtype)
        pick(embedding.embedding_bag_forward, indices.size * weight.shape[1])(
            weight, indices, offsets, mode == "mean", padding_idx, out)
        return out

    def _embedding_bag_backward(self, grad_out, indices, offsets, num_embeddings, mode, padding_idx):
        dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
        pick(embedding.embedding_bag_backward, indices.size * grad_out.shape[1])(
            grad_out, indices, offsets, mode == "mean", padding_idx, dweight)
        return dweight

    # ---------------------------------------------------------------- dropout
    def _dropout_forward(self, x, p, seed):
        out = np.empty_like(x)
        mask = np.empty(x.shape, dtype=np.uint8)
        pick(dropout.dropout_forward, x.size)(_flat(x), p, np.uint64(seed), float(_dropout_scale(x.dtype, p)),
                                              _flat(out), _flat(mask))
        return out, mask

    def _dropout_backward(self, grad_out, mask, p):
        out = np.empty_like(grad_out)
        pick(dropout.dropout_backward, grad_out.size, light=True)(
            _flat(grad_out), _flat(mask), float(_dropout_scale(grad_out.dtype, p)), _flat(out))
        return out


BACKEND_CLASS = NumbaBackend
