"""Dropout."""

from __future__ import annotations

from fastnn import arguments
from fastnn.nn import functional as F
from fastnn.nn.module import Module
from fastnn.tensor import Tensor


class Dropout(Module):
    """In training mode zero each element with probability p and scale the rest by 1/(1-p);
    the identity in eval mode. Masks are seeded by fastnn.manual_seed."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = arguments.real(type(self).__name__, "p", p, low=0.0, high=1.0,
                                invalid="probability has to be between 0 and 1")
        arguments.flag(type(self).__name__, "inplace", inplace)

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace=False"


__all__ = ["Dropout"]
