"""The fused dense kernels: out = act(x @ W.T + b) and its backward (dx, dW, db)."""

from __future__ import annotations

import numpy as np

from fastnn.backends.contract import ACTIVATION_NAMES as ACTIVATIONS

from .common import BACKENDS, SEED, SIZES, activate_backend, random_array

# (batch, in_features, out_features)
DENSE_SHAPES = {"small": (32, 64, 64), "medium": (128, 784, 256), "large": (1024, 1024, 1024)}


class _DenseBase:
    """Inputs, forward output and upstream gradient of one fused dense layer."""

    dtype = "float32"

    def setup(self, backend, size, activation):
        self.backend = activate_backend(backend)
        batch, n_in, n_out = DENSE_SHAPES[size]
        rng = np.random.default_rng(SEED)
        self.x = random_array(rng, (batch, n_in), self.dtype)
        self.weight = random_array(rng, (n_out, n_in), self.dtype) / np.sqrt(n_in).astype(self.dtype)
        self.bias = random_array(rng, (n_out,), self.dtype)
        self.grad_out = random_array(rng, (batch, n_out), self.dtype)
        self.activation = activation
        # Compile (or load from the cache) both kernels here, so the JIT is never timed.
        _, self.saved = self.backend.linear_forward(self.x, self.weight, self.bias, activation)
        self.backend.linear_backward(self.grad_out, self.x, self.weight, self.saved, activation)

    def time_forward(self, backend, size, activation):
        self.backend.linear_forward(self.x, self.weight, self.bias, self.activation)

    def time_backward(self, backend, size, activation):
        self.backend.linear_backward(self.grad_out, self.x, self.weight, self.saved, self.activation)


class DenseFloat32(_DenseBase):
    """Fused linear + activation, float32 (the default dtype), every activation."""

    params = (BACKENDS, SIZES, list(ACTIVATIONS))
    param_names = ["backend", "size", "activation"]

    def peakmem_forward_backward(self, backend, size, activation):
        _, saved = self.backend.linear_forward(self.x, self.weight, self.bias, self.activation)
        self.backend.linear_backward(self.grad_out, self.x, self.weight, saved, self.activation)


class DenseFloat64(_DenseBase):
    """Fused linear + activation in float64 (dgemm, double-precision maths) for a cheap, a
    transcendental and an erf-based activation."""

    dtype = "float64"
    params = (BACKENDS, SIZES, ["relu", "tanh", "gelu"])
    param_names = ["backend", "size", "activation"]

