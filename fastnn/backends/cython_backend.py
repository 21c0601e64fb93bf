"""The Cython backend: every kernel of :class:`~fastnn.backends.base.Backend` compiled from kernels/*.pyx.

Each private kernel here allocates its outputs and hands C-contiguous arrays (already checked by
the public method of the base class) to a compiled function of ``fastnn._cython``; the compiled
code reads and writes only inside the shapes it is given. Matrix products go to BLAS
(scipy.linalg.cython_blas) from the compiled code; elementwise work is fused around them.
Every kernel takes the thread count of :func:`fastnn.threads.get_num_threads`.
"""

from __future__ import annotations

import numpy as np

from fastnn import threads
from fastnn._cython import load
from fastnn.backends import checks
from fastnn.backends.base import Backend, _dropout_scale, saves_input

_activations = load("activations")
_dense = load("dense")
_dropout = load("dropout")
_embedding = load("embedding")
_losses = load("losses")
_optim = load("optim")

ACTIVATION_CODES = {name: code for code, name in enumerate(checks.ACTIVATIONS)}  # the enum of elementwise.pxd


def _flat(a: np.ndarray | None) -> np.ndarray | None:
    """A 1-D view of a C-contiguous array (None stays None)."""
    return None if a is None else a.reshape(-1)


def _loss_value(total: float, count: int, reduction: str, dtype: np.dtype) -> np.ndarray:
    """The reduced loss as a 0-d array: sum, or sum / count for 'mean' (NaN when count is 0, as 0/0)."""
    if reduction == "sum":
        return np.asarray(total, dtype=dtype)
    return np.asarray(total / count if count else float("nan"), dtype=dtype)


def _mean_scale(count: int, reduction: str) -> float:
    """What gradients are multiplied by: 1/count for 'mean', else 1 (also when nothing counts: the
    gradient then stays zero, as PyTorch's does)."""
    return 1.0 / count if reduction == "mean" and count else 1.0


class CythonBackend(Backend):
    """Kernels compiled with Cython (fused float/double, OpenMP above a measured size)."""

    name = "cython"

    # ------------------------------------------------------------------ dense
    def _linear_forward(self, x, weight, bias, activation, negative_slope):
        if x.size == 0 or weight.size == 0:
            return super()._linear_forward(x, weight, bias, activation, negative_slope)
        z = np.empty((x.shape[0], weight.shape[0]), dtype=x.dtype)
        out = np.empty_like(z) if saves_input(activation) else z
        _dense.linear_forward(out, z, x, weight, bias, ACTIVATION_CODES[activation], negative_slope,
                              threads.get_num_threads())
        return out, z

    def _linear_backward(self, grad_out, x, weight, saved, activation, negative_slope, need_input_grad,
                         need_bias_grad):
        if x.size == 0 or weight.size == 0:
            return super()._linear_backward(grad_out, x, weight, saved, activation, negative_slope,
                                            need_input_grad, need_bias_grad)
        dz = grad_out if activation == "identity" else np.empty_like(grad_out)
        dx = np.empty_like(x) if need_input_grad else None
        dweight = np.empty_like(weight)
        dbias = np.empty(weight.shape[0], dtype=weight.dtype) if need_bias_grad else None
        _dense.linear_backward(dz, grad_out, x, weight, saved, ACTIVATION_CODES[activation], negative_slope,
                               dx, dweight, dbias, threads.get_num_threads())
        return dx, dweight, dbias

    # ------------------------------------------------------------ activations
    def _activation_forward(self, x, activation, negative_slope):
        out = np.empty_like(x)
        _activations.activation_forward(_flat(out), _flat(x), ACTIVATION_CODES[activation], negative_slope,
                                        threads.get_num_threads())
        return out

    def _activation_backward(self, grad_out, saved, activation, negative_slope):
        out = np.empty_like(saved)
        _activations.activation_backward(_flat(out), _flat(grad_out), _flat(saved), ACTIVATION_CODES[activation],
                                         negative_slope, threads.get_num_threads())
        return out

    def _softmax_forward(self, x):
        out = np.empty_like(x)
        _activations.softmax_forward(out, x, False, threads.get_num_threads())
        return out

    def _softmax_backward(self, grad_out, out):
        dx = np.empty_like(out)
        _activations.softmax_backward(dx, grad_out, out, False, threads.get_num_threads())
        return dx

    def _log_softmax_forward(self, x):
        out = np.empty_like(x)
        _activations.softmax_forward(out, x, True, threads.get_num_threads())
        return out

    def _log_softmax_backward(self, grad_out, out):
        dx = np.empty_like(out)
        _activations.softmax_backward(dx, grad_out, out, True, threads.get_num_threads())
        return dx

    # ----------------------------------------------------------------- losses
    def _softmax_cross_entropy(self, logits, target, reduction, ignore_index, label_smoothing):
        count = int(np.count_nonzero(target != ignore_index))
        loss = np.empty(logits.shape[0], dtype=logits.dtype)
        grad = np.empty_like(logits)
        _losses.softmax_cross_entropy(grad, loss, logits, target, ignore_index, label_smoothing,
                                      _mean_scale(count, reduction), threads.get_num_threads())
        if reduction == "none":
            return loss, grad
        total = loss.sum()
        if reduction == "sum":
            return np.asarray(total, dtype=loss.dtype), grad
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(total / loss.dtype.type(count), dtype=loss.dtype), grad

    def _pointwise_loss(self, kernel, input, target, reduction):
        grad = np.empty_like(input)
        loss = np.empty_like(input) if reduction == "none" else None
        total = kernel(_flat(grad), _flat(loss), _flat(input), _flat(target), _mean_scale(input.size, reduction),
                       threads.get_num_threads())
        return (loss if reduction == "none" else _loss_value(total, input.size, reduction, input.dtype)), grad

    def _mse_loss(self, input, target, reduction):
        return self._pointwise_loss(_losses.mse_loss, input, target, reduction)

    def _bce_with_logits(self, logits, target, reduction):
        return self._pointwise_loss(_losses.bce_with_logits, logits, target, reduction)

    # ------------------------------------------------------------- optimizers
    def _sgd_update(self, param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step):
        _optim.sgd_update(_flat(param), _flat(grad), _flat(momentum_buffer), lr, momentum, dampening, weight_decay,
                          nesterov, first_step, threads.get_num_threads())

    def _adagrad_update(self, param, grad, state_sum, clr, weight_decay, eps):
        _optim.adagrad_update(_flat(param), _flat(grad), _flat(state_sum), clr, weight_decay, eps,
                              threads.get_num_threads())

    def _rmsprop_update(self, param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay,
                        momentum, centered):
        _optim.rmsprop_update(_flat(param), _flat(grad), _flat(square_avg), _flat(momentum_buffer), _flat(grad_avg),
                              lr, alpha, eps, weight_decay, momentum, centered, threads.get_num_threads())

    def _adadelta_update(self, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
        _optim.adadelta_update(_flat(param), _flat(grad), _flat(square_avg), _flat(acc_delta), lr, rho, eps,
                               weight_decay, threads.get_num_threads())

    def _adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                     weight_decay, amsgrad, decoupled_weight_decay):
        _optim.adam_update(_flat(param), _flat(grad), _flat(exp_avg), _flat(exp_avg_sq), _flat(max_exp_avg_sq),
                           step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay,
                           threads.get_num_threads())

    # ------------------------------------------------------------- embeddings
    def _embedding_forward(self, weight, indices):
        out = np.empty((indices.shape[0], weight.shape[1]), dtype=weight.dtype)
        _embedding.embedding_forward(out, weight, indices, threads.get_num_threads())
        return out

    def _embedding_backward(self, grad_out, indices, num_embeddings, padding_idx):
        dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
        _embedding.embedding_backward(dweight, grad_out, indices, padding_idx, threads.get_num_threads())
        return dweight

    def _embedding_bag_forward(self, weight, indices, offsets, mode, padding_idx):
        out = np.zeros((offsets.shape[0], weight.shape[1]), dtype=weight.dtype)
        _embedding.embedding_bag_forward(out, weight, indices, offsets, mode == "mean", padding_idx,
                                         threads.get_num_threads())
        return out

    def _embedding_bag_backward(self, grad_out, indices, offsets, num_embeddings, mode, padding_idx):
        dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
        _embedding.embedding_bag_backward(dweight, grad_out, indices, offsets, mode == "mean", padding_idx,
                                          threads.get_num_threads())
        return dweight

    # ---------------------------------------------------------------- dropout
    def _dropout_forward(self, x, p, seed):
        out = np.empty_like(x)
        mask = np.empty(x.shape, dtype=np.uint8)
        _dropout.dropout_forward(_flat(out), _flat(mask), _flat(x), seed, p, float(_dropout_scale(x.dtype, p)),
                                 threads.get_num_threads())
        return out, mask

    def _dropout_backward(self, grad_out, mask, p):
        out = np.empty_like(grad_out)
        _dropout.dropout_backward(_flat(out), _flat(grad_out), _flat(mask), float(_dropout_scale(grad_out.dtype, p)),
                                  threads.get_num_threads())
        return out


BACKEND_CLASS = CythonBackend
