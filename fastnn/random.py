"""fastnn's global random state: one ``numpy.random.Generator`` behind every random draw.

Parameter initialisation, ``randn``/``rand``, dropout seeds and data shuffling all draw from it,
so ``fastnn.manual_seed(seed)`` makes a whole run reproducible. As in PyTorch, the state starts
from a fixed default seed.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 67280421310721  # PyTorch's default CPU seed

_seed: int = DEFAULT_SEED
_generator: np.random.Generator = np.random.default_rng(DEFAULT_SEED)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (negative seeds wrap modulo 2**64, as in PyTorch) and return it."""
    global _seed, _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an integer, got {type(seed).__name__}")
    _seed = int(seed) % 2**64
    _generator = np.random.default_rng(_seed)
    return _generator


def initial_seed() -> int:
    """The seed the global generator was last seeded with."""
    return _seed


def default_generator() -> np.random.Generator:
    """The global generator (replaced by every ``manual_seed`` call: fetch it, do not keep it)."""
    return _generator


def next_seed() -> int:
    """Draw a fresh uint64 seed from the global generator (for counter-based kernels such as dropout)."""
    return int(_generator.integers(0, 2**64, dtype=np.uint64))


__all__ = ["DEFAULT_SEED", "default_generator", "initial_seed", "manual_seed", "next_seed"]
