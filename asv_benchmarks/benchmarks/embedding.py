"""Embedding-bag forward (pooled gather) and backward (scatter-add), float32."""

from __future__ import annotations

import numpy as np

from .common import BACKENDS, SEED, SIZES, activate_backend, random_array

# (num_embeddings, embedding_dim, bags, indices per bag)
BAG_SHAPES = {"small": (1_000, 16, 32, 8), "medium": (20_000, 64, 256, 20), "large": (100_000, 128, 1024, 50)}


class EmbeddingBag:
    """embedding_bag_forward / _backward over equal-length bags, mode 'mean' and 'sum'."""

    params = (BACKENDS, SIZES, ["mean", "sum"])
    param_names = ["backend", "size", "mode"]

    def setup(self, backend, size, mode):
        self.backend = activate_backend(backend)
        num_embeddings, dim, bags, per_bag = BAG_SHAPES[size]
        rng = np.random.default_rng(SEED)
        self.num_embeddings = num_embeddings
        self.weight = random_array(rng, (num_embeddings, dim), "float32")
        self.indices = rng.integers(0, num_embeddings, size=bags * per_bag, dtype=np.int64)
        self.offsets = np.arange(0, bags * per_bag, per_bag, dtype=np.int64)
        self.grad_out = random_array(rng, (bags, dim), "float32")
        self.mode = mode
        # Compile both kernels here, so the JIT is never timed.
        self.backend.embedding_bag_forward(self.weight, self.indices, self.offsets, mode)
        self.backend.embedding_bag_backward(self.grad_out, self.indices, self.offsets, num_embeddings, mode)

    def time_forward(self, backend, size, mode):
        self.backend.embedding_bag_forward(self.weight, self.indices, self.offsets, self.mode)

    def time_backward(self, backend, size, mode):
        self.backend.embedding_bag_backward(self.grad_out, self.indices, self.offsets, self.num_embeddings, self.mode)

    def peakmem_backward(self, backend, size, mode):
        self.backend.embedding_bag_backward(self.grad_out, self.indices, self.offsets, self.num_embeddings, self.mode)
