"""fastnn's global random state: one ``numpy.random.Generator`` behind every random draw.

Parameter initialisation, ``randn``/``rand``, dropout seeds and data shuffling all draw from it,
so ``fastnn.manual_seed(seed)`` makes a whole run reproducible. As in PyTorch, the state starts
from a fixed default seed.
"""

from __future__ import annotations

import copy

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


def get_rng_state() -> dict:
    """A copy of the global generator's state (plain ints and strings, so ``fastnn.save`` stores it)."""
    return {"seed": _seed, "bit_generator": copy.deepcopy(_generator.bit_generator.state)}


def set_rng_state(state: dict) -> None:
    """Restore a state from :func:`get_rng_state`: later draws repeat those that followed it."""
    global _seed, _generator
    try:
        kind = state["bit_generator"]["bit_generator"]
        generator = np.random.Generator(getattr(np.random, kind)())
        generator.bit_generator.state = copy.deepcopy(dict(state["bit_generator"]))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"set_rng_state: not a state from fastnn.random.get_rng_state ({exc})") from None
    _seed, _generator = int(state["seed"]), generator


class Generator:
    """A random-number generator object, as torch.Generator (CPU): ``Generator().manual_seed(42)``.

    It owns a NumPy ``Generator`` seeded from its seed (``numpy_generator()``); functions that take a
    ``generator=`` argument (``fastnn.data.random_split``) draw from it instead of the global state.
    The numbers drawn are NumPy's, not PyTorch's: the same seed is reproducible within fastnn only.
    """

    def __init__(self, device: str = "cpu") -> None:
        if str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"Generator: fastnn runs on the CPU only; device {str(device)!r} is not available")
        self.device = "cpu"
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed (negative seeds wrap modulo 2**64, as in PyTorch); returns the generator itself."""
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an integer, got {type(seed).__name__}")
        self._seed = int(seed) % 2**64
        self._numpy = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy and return the new seed."""
        new = int(np.random.SeedSequence().entropy % 2**64)
        self.manual_seed(new)
        return new

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """A copy of the state (plain ints and strings): ``set_state`` makes later draws repeat."""
        return {"seed": self._seed, "bit_generator": copy.deepcopy(self._numpy.bit_generator.state)}

    def set_state(self, state: dict) -> Generator:
        try:
            generator = np.random.Generator(getattr(np.random, state["bit_generator"]["bit_generator"])())
            generator.bit_generator.state = copy.deepcopy(dict(state["bit_generator"]))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"Generator.set_state: not a state from Generator.get_state ({exc})") from None
        self._seed, self._numpy = int(state["seed"]), generator
        return self

    def numpy_generator(self) -> np.random.Generator:
        """The NumPy generator the draws come from."""
        return self._numpy


__all__ = ["DEFAULT_SEED", "Generator", "default_generator", "get_rng_state", "initial_seed", "manual_seed",
           "next_seed", "set_rng_state"]
