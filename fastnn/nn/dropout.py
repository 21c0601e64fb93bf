"""Dropout."""

from __future__ import annotations

from fastnn.nn import functional as F
from fastnn.nn.module import Module
from fastnn.tensor import Tensor


class Dropout(Module):
    """In training mode zero each element with probability p and scale the rest by 1/(1-p);
    the identity in eval mode. Masks are seeded by fastnn.manual_seed."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability has to be between 0 and 1, but got {p}")
        self.p = float(p)

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


__all__ = ["Dropout"]
