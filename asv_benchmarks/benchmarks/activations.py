"""Elementwise activations (forward and backward) and the row-wise softmax / log-softmax."""

from __future__ import annotations

import numpy as np

from fastnn.backends.contract import ACTIVATION_NAMES as ACTIVATIONS
from fastnn.backends.contract import saves_input

from .common import BACKENDS, DTYPES, ELEMENTWISE_SHAPES, SEED, SIZES, activate_backend, random_array


class Activation:
    """act(x) and grad_out * act'(.) over 2K / 256K / 1M elements, float32 and float64 (the
    transcendental ones, tanh, sigmoid and gelu, cost more in float64)."""

    params = (BACKENDS, SIZES, list(ACTIVATIONS), DTYPES)
    param_names = ["backend", "size", "activation", "dtype"]

    def setup(self, backend, size, activation, dtype):
        self.backend = activate_backend(backend)
        rng = np.random.default_rng(SEED)
        shape = ELEMENTWISE_SHAPES[size]
        self.x = random_array(rng, shape, dtype)
        self.grad_out = random_array(rng, shape, dtype)
        out = self.backend.activation_forward(self.x, activation)  # compiles, so the JIT is never timed
        self.saved = self.x if saves_input(activation) else out
        self.backend.activation_backward(self.grad_out, self.saved, activation)
        self.activation = activation

    def time_forward(self, backend, size, activation, dtype):
        self.backend.activation_forward(self.x, self.activation)

    def time_backward(self, backend, size, activation, dtype):
        self.backend.activation_backward(self.grad_out, self.saved, self.activation)


class Softmax:
    """Row softmax and log-softmax of a (rows, columns) array, forward and backward."""

    params = (BACKENDS, SIZES, ["softmax", "log_softmax"], DTYPES)
    param_names = ["backend", "size", "op", "dtype"]

    def setup(self, backend, size, op, dtype):
        b = activate_backend(backend)
        rng = np.random.default_rng(SEED)
        shape = ELEMENTWISE_SHAPES[size]
        self.x = random_array(rng, shape, dtype)
        self.grad_out = random_array(rng, shape, dtype)
        self.forward = getattr(b, f"{op}_forward")
        self.backward = getattr(b, f"{op}_backward")
        self.out = self.forward(self.x)  # compiles, so the JIT is never timed
        self.backward(self.grad_out, self.out)

    def time_forward(self, backend, size, op, dtype):
        self.forward(self.x)

    def time_backward(self, backend, size, op, dtype):
        self.backward(self.grad_out, self.out)
