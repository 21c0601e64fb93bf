"""Embedding and EmbeddingBag."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.nn import functional as F
from fastnn.nn import init
from fastnn.nn.module import Module, Parameter
from fastnn.tensor import Tensor, no_grad


def _padding_index(layer: str, padding_idx: Any, num_embeddings: int) -> int | None:
    """padding_idx in [-num_embeddings, num_embeddings) as a row index (negative counts from the end),
    rejected at construction as torch does, with sparse=True too."""
    if padding_idx is None:
        return None
    padding_idx = arguments.integer(layer, "padding_idx", padding_idx)
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{layer}: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return padding_idx % num_embeddings


def _pretrained(owner: str, embeddings: Any) -> np.ndarray:
    """A copy of a pretrained table: 2-D floats."""
    weight = np.array(embeddings.array if isinstance(embeddings, Tensor) else embeddings)
    if weight.ndim != 2:
        raise ValueError(f"{owner}: embeddings must be 2-D, got shape {weight.shape}")
    if weight.dtype.kind != "f":
        raise TypeError(f"{owner}: embeddings must hold floats, got dtype {weight.dtype}")
    return weight


class Embedding(Module):
    """A lookup table (num_embeddings, embedding_dim) initialised from N(0, 1); the padding_idx
    row starts at zero and receives no gradient. With sparse=True the weight's gradient is row-sparse
    (a :class:`~fastnn.tensor.SparseTensor` of the rows a batch used), for SGD, Adagrad or SparseAdam."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, dtype: Any = None) -> None:
        super().__init__()
        layer = type(self).__name__
        self.num_embeddings = arguments.integer(layer, "num_embeddings", num_embeddings, low=0)
        self.embedding_dim = arguments.integer(layer, "embedding_dim", embedding_dim, low=0)
        self.padding_idx = _padding_index(layer, padding_idx, num_embeddings)
        self.sparse = arguments.flag(layer, "sparse", sparse)
        arguments.flag(layer, "_freeze", _freeze)
        if _weight is None:
            dtype = arguments.float_dtype(layer, dtype)
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            weight = np.asarray(_weight.array if isinstance(_weight, Tensor) else _weight)
            if weight.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"{layer}: _weight shape {weight.shape} does not match "
                                 f"({num_embeddings}, {embedding_dim})")
            if weight.dtype.kind != "f":
                raise TypeError(f"{layer}: _weight must hold floats, got dtype {weight.dtype}")
            self.weight = Parameter(weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding a copy of `embeddings` (2-D); frozen (no gradient) unless freeze=False."""
        weight = _pretrained("Embedding.from_pretrained", embeddings)
        return cls(weight.shape[0], weight.shape[1], padding_idx=padding_idx, sparse=sparse, _weight=weight,
                   _freeze=freeze)

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.sparse)

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        sparse = ", sparse=True" if self.sparse else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}{sparse}"


class EmbeddingBag(Embedding):
    """Sums or means of bags of embeddings: input (B, L) or 1-D with offsets -> (B, embedding_dim).
    Entries equal to padding_idx are skipped; an empty bag gives zeros."""

    def __init__(self, num_embeddings: int, embedding_dim: int, mode: str = "mean", sparse: bool = False,
                 padding_idx: int | None = None, _weight: Any = None, _freeze: bool = False,
                 dtype: Any = None) -> None:
        arguments.choice("EmbeddingBag", "mode", mode, ("mean", "sum"))
        super().__init__(num_embeddings, embedding_dim, padding_idx, sparse, _weight, _freeze, dtype)
        self.mode = mode

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, mode: str = "mean",  # type: ignore[override]
                        sparse: bool = False, padding_idx: int | None = None) -> EmbeddingBag:
        weight = _pretrained("EmbeddingBag.from_pretrained", embeddings)
        return cls(weight.shape[0], weight.shape[1], mode, sparse, padding_idx, _weight=weight, _freeze=freeze)

    def forward(self, input: Tensor, offsets: Tensor | None = None) -> Tensor:  # type: ignore[override]
        return F.embedding_bag(input, self.weight, offsets, self.mode, self.padding_idx, self.sparse)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mode={self.mode!r}"


__all__ = ["Embedding", "EmbeddingBag"]
