"""Inverted dropout with a counter-based stream every backend reproduces bit for bit."""

from __future__ import annotations

import numpy as np

from fastnn.backends.contract import DROPOUT_GOLDEN, DROPOUT_MIX, dropout_scale


def splitmix64_uniform(seed: int, n: int) -> np.ndarray:
    """Counter-based uniforms in [0, 1): u_i = (splitmix64(seed + (i+1)*golden) >> 11) * 2**-53.

    Every backend draws dropout masks from this same stream, so they agree bit for bit and
    do not depend on the number of threads.
    """
    z = np.uint64(seed) + (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(DROPOUT_GOLDEN))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(DROPOUT_MIX[0])
    z = (z ^ (z >> np.uint64(27))) * np.uint64(DROPOUT_MIX[1])
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def dropout_forward(x, p, seed):
    mask = (splitmix64_uniform(seed, x.size) >= p).astype(np.uint8).reshape(x.shape)
    return x * mask * x.dtype.type(dropout_scale(p)), mask


def dropout_backward(grad_out, mask, p):
    return grad_out * mask * grad_out.dtype.type(dropout_scale(p))
