"""The training step of MLPClassifier/MLPRegressor, run directly on the kernel table.

One mini-batch: forward through the fused ``linear_forward`` kernels (Linear + activation in one
call, then ``dropout_forward`` where dropout is on), the loss and its gradient from the loss
kernels, backward through ``dropout_backward`` and ``linear_backward``, and the update by the
optimizer kernels ``adam_update``/``sgd_update`` (PyTorch's formulas, as fastnn.optim uses them). It computes
exactly what the autograd graph of ``module_`` with the same loss would (a test compares the two),
without building a graph: the estimator validated its arrays once, so the kernels run unchecked.

The objective of the batch is the module docstring's: sum_i w_i loss_i with w_i = s_i / S, plus
the L2 term, which reaches the optimizer as weight decay alpha / S on the weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.backends import get_backend

KERNEL_ACTIVATION = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                     "leaky_relu": "leaky_relu", "gelu": "gelu"}
LEAKY_SLOPE = 0.01


class MLPStep:
    """Parameters (views of the module's arrays), optimizer state, and one `run` per mini-batch.

    `output` is "softmax" (integer class codes as target), "logistic" (0/1 targets, one column per
    output) or a regression loss name ("squared_error", "absolute_error", "huber", "poisson").
    """

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray], activation: str, dropout: float,
                 output: str, solver: str, lr: float, momentum: float, nesterov: bool, betas: tuple[float, float],
                 huber_delta: float = 1.0) -> None:
        self.weights = weights
        self.biases = biases
        self.activation = KERNEL_ACTIVATION[activation]
        self.dropout = float(dropout)
        self.output = output
        self.solver = solver
        self.lr = float(lr)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov) and self.momentum > 0
        self.betas = betas
        self.huber_delta = float(huber_delta)
        params = weights + biases
        self.steps = 0  # updates taken
        adam = solver == "adam"
        self.exp_avg = [np.zeros_like(p) for p in params] if adam else []
        self.exp_avg_sq = [np.zeros_like(p) for p in params] if adam else []
        self.buffers: list[np.ndarray | None] = [] if adam else [None] * len(params)  # SGD momentum

    def rebind(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        """Point at the module's parameter arrays again (after unpickling or copying the estimator)."""
        self.weights, self.biases = weights, biases

    def set_learning_rate(self, lr: float) -> None:
        """Change SGD's learning rate as scikit-learn's velocity v = momentum*v - lr*grad sees it:
        the PyTorch-style buffer b (v = -lr*b) is rescaled by old_lr / new_lr."""
        for buffer in self.buffers:
            if buffer is not None:
                np.multiply(buffer, self.lr / lr, out=buffer)
        self.lr = float(lr)

    def loss_and_grad(self, z: np.ndarray, target: np.ndarray, w: np.ndarray | float) -> tuple[float, np.ndarray]:
        """Weighted data term sum_i w_i loss_i (loss_i summed over the outputs) and its gradient dz."""
        unchecked = get_backend().unchecked
        column = w[:, None] if isinstance(w, np.ndarray) else w
        if self.output == "softmax":
            loss, grad = unchecked.softmax_cross_entropy(z, target, "none", -100, 0.0)
            return float(np.sum(loss * w)), grad * column
        if self.output == "logistic":
            loss, grad = unchecked.bce_with_logits(z, target, "none")
        elif self.output == "squared_error":
            loss, grad = unchecked.mse_loss(z, target, "none")
            loss, grad = loss * 0.5, grad * z.dtype.type(0.5)
        else:
            d = z - target
            if self.output == "absolute_error":
                loss, grad = np.abs(d), np.sign(d)
            elif self.output == "huber":
                a = np.abs(d)
                c = np.minimum(a, self.huber_delta)
                loss, grad = 0.5 * c * c + self.huber_delta * (a - c), np.clip(d, -self.huber_delta, self.huber_delta)
            else:  # poisson, log link: exp(z) - y z
                e = np.exp(z)
                loss, grad = e - target * z, e - target
        return float(np.sum(loss * column)), np.ascontiguousarray(grad * column, dtype=z.dtype)

    def run(self, x: np.ndarray, target: np.ndarray, w: np.ndarray | float, weight_decay: float,
            dropout_seed: int, eps: float) -> float:
        """Forward, backward and update on one batch (x C-contiguous float32); returns the data term."""
        unchecked = get_backend().unchecked
        last = len(self.weights) - 1
        inputs, saved, masks = [], [], []
        h = x
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            act = self.activation if i < last else "identity"
            inputs.append(h)
            h, keep = unchecked.linear_forward(h, weight, bias, act, LEAKY_SLOPE)
            saved.append(keep)
            if i < last and self.dropout > 0:
                h, mask = unchecked.dropout_forward(h, self.dropout, (dropout_seed + i) % 2**64)
                masks.append(mask)
        loss, g = self.loss_and_grad(h, target, w)
        weight_grads, bias_grads = [None] * (last + 1), [None] * (last + 1)
        for i in range(last, -1, -1):
            if i < last and self.dropout > 0:
                g = unchecked.dropout_backward(g, masks[i], self.dropout)
            act = self.activation if i < last else "identity"
            g, weight_grads[i], bias_grads[i] = unchecked.linear_backward(g, inputs[i], self.weights[i], saved[i],
                                                                          act, LEAKY_SLOPE, i > 0, True)
        self.update(weight_grads, bias_grads, weight_decay, eps)
        return loss

    def update(self, weight_grads: list[Any], bias_grads: list[Any], weight_decay: float, eps: float) -> None:
        """One optimizer step, PyTorch's Adam or SGD update kernel per parameter, with weight decay on
        the weights only (scikit-learn's L2 on coefs_). Parameters, gradients and state are C-contiguous
        arrays of one dtype and shape (the kernels' contract), so the kernels run unchecked."""
        unchecked = get_backend().unchecked
        self.steps += 1
        params = self.weights + self.biases
        grads = weight_grads + bias_grads
        decays = [weight_decay] * len(self.weights) + [0.0] * len(self.biases)
        if self.solver == "adam":
            adam = unchecked.adam_update
            beta1, beta2 = self.betas
            for param, grad, m, v, decay in zip(params, grads, self.exp_avg, self.exp_avg_sq, decays):
                adam(param, grad, m, v, None, self.steps, self.lr, beta1, beta2, eps, decay, False, False)
            return
        sgd = unchecked.sgd_update
        for i, (param, grad, decay) in enumerate(zip(params, grads, decays)):
            first = self.momentum != 0 and self.buffers[i] is None
            if first:
                self.buffers[i] = np.empty_like(param)
            sgd(param, grad, self.buffers[i], self.lr, self.momentum, 0.0, decay, self.nesterov, first)


__all__ = ["MLPStep"]
