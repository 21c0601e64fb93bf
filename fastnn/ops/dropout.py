"""Dropout by the backend's seeded dropout kernels."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import random
from fastnn.autograd.engine import TensorBase, record
from fastnn.backends import get_backend
from fastnn.ops.checks import float_input


def dropout(input: Any, p: float = 0.5, training: bool = True) -> TensorBase:
    """Inverted dropout: zero each element with probability p and scale the rest by 1/(1-p).

    The mask comes from the dropout kernel seeded by fastnn's global generator (fastnn.manual_seed)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p!r}")
    input = float_input("dropout", "input", input)
    if not training or p == 0.0:
        return input
    backend = get_backend()
    out, mask = backend.dropout_forward(input.array, p, random.next_seed())
    return record(out, (input,), lambda g: (backend.dropout_backward(g, mask, p),), "NativeDropoutBackward0")


__all__ = ["dropout"]
