"""Distance layers, as torch.nn.CosineSimilarity and torch.nn.PairwiseDistance."""

from __future__ import annotations

from fastnn.nn import functional_extra as FX
from fastnn.nn.module import Module
from fastnn.tensor import Tensor


def _check(layer: str, name: str, value: object, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"{layer}: {name} must be a real number, got {value!r}")
    if positive and not 0 < value < float("inf"):
        raise ValueError(f"{layer}: {name} must be a finite positive number, got {value!r}")


class CosineSimilarity(Module):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `dim`."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"CosineSimilarity: dim must be an integer, got {dim!r}")
        _check("CosineSimilarity", "eps", eps)
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return FX.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dimension."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        _check("PairwiseDistance", "p", p, positive=True)
        _check("PairwiseDistance", "eps", eps)
        self.norm, self.eps, self.keepdim = p, eps, bool(keepdim)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return FX.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


__all__ = ["CosineSimilarity", "PairwiseDistance"]
