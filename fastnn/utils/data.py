"""torch.utils.data's name for :mod:`fastnn.data`: the same classes and functions (not copies), so
``from fastnn.utils.data import DataLoader, random_split`` works as PyTorch code expects."""

import fastnn.data
from fastnn.data import *  # noqa: F403

__all__ = list(fastnn.data.__all__)
