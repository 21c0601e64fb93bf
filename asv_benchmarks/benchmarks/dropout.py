"""Dropout forward (mask drawn from the shared counter-based generator) and backward."""

from __future__ import annotations

import numpy as np

from .common import BACKENDS, DTYPES, ELEMENTWISE_SHAPES, SEED, SIZES, activate_backend, random_array

P = 0.5


class Dropout:
    """Inverted dropout with p = 0.5 over 2K / 256K / 1M elements."""

    params = (BACKENDS, SIZES, DTYPES)
    param_names = ["backend", "size", "dtype"]

    def setup(self, backend, size, dtype):
        self.backend = activate_backend(backend)
        rng = np.random.default_rng(SEED)
        shape = ELEMENTWISE_SHAPES[size]
        self.x = random_array(rng, shape, dtype)
        self.grad_out = random_array(rng, shape, dtype)
        _, self.mask = self.backend.dropout_forward(self.x, P, SEED)  # compiles, so the JIT is never timed
        self.backend.dropout_backward(self.grad_out, self.mask, P)

    def time_forward(self, backend, size, dtype):
        self.backend.dropout_forward(self.x, P, SEED)

    def time_backward(self, backend, size, dtype):
        self.backend.dropout_backward(self.grad_out, self.mask, P)

    def peakmem_forward(self, backend, size, dtype):
        self.backend.dropout_forward(self.x, P, SEED)
