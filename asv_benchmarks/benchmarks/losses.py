"""The fused softmax + cross-entropy kernel (loss and dlogits in one pass)."""

from __future__ import annotations

import numpy as np

from .common import BACKENDS, DTYPES, SEED, SIZES, activate_backend, random_array

# (rows, classes); "binary": many rows of two classes (their exps and logs taken across rows)
XENT_SHAPES = {"small": (32, 10), "medium": (256, 100), "large": (2048, 1000), "binary": (4096, 2)}


class SoftmaxCrossEntropy:
    """softmax_cross_entropy with integer labels, reduction 'mean'."""

    params = (BACKENDS, [*SIZES, "binary"], DTYPES)
    param_names = ["backend", "size", "dtype"]

    def setup(self, backend, size, dtype):
        self.backend = activate_backend(backend)
        rows, classes = XENT_SHAPES[size]
        rng = np.random.default_rng(SEED)
        self.logits = random_array(rng, (rows, classes), dtype)
        self.target = rng.integers(0, classes, size=rows, dtype=np.int64)
        self.backend.softmax_cross_entropy(self.logits, self.target)  # compiles, so the JIT is never timed

    def time_softmax_cross_entropy(self, backend, size, dtype):
        self.backend.softmax_cross_entropy(self.logits, self.target)

    def peakmem_softmax_cross_entropy(self, backend, size, dtype):
        self.backend.softmax_cross_entropy(self.logits, self.target)
