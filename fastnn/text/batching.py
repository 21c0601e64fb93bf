"""Batching variable-length texts as EmbeddingBag inputs: flat ids plus the offset of each bag."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def bag_inputs(sequences: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate id sequences into ``(ids, offsets)`` for ``EmbeddingBag(input, offsets)``.

    ``ids`` is int64 (sum of lengths,); ``offsets`` is int64 (len(sequences),) with
    ``offsets[i]`` the position of sequence i's first id, as in PyTorch. Empty sequences give empty bags.
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.cumsum(lengths) - lengths
    if not len(sequences) or not lengths.sum():
        return np.zeros(0, dtype=np.int64), offsets
    arrays = [np.asarray(s) for s in sequences]
    for index, a in enumerate(arrays):
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"bag_inputs: sequence {index} must be a 1-D integer array, got shape {a.shape} "
                             f"dtype {a.dtype}")
    return np.concatenate(arrays).astype(np.int64, copy=False), offsets


def drop_words(ids: np.ndarray, offsets: np.ndarray, p: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Word dropout (Iyyer et al. 2015): remove each id independently with probability ``p``,
    returning the new ``(ids, offsets)`` of the same bags (a bag may become empty).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"drop_words: p must be in [0, 1), got {p}")
    ids, offsets = np.asarray(ids, dtype=np.int64), np.asarray(offsets, dtype=np.int64)
    keep = rng.random(ids.size) >= p
    bag_of_id = np.searchsorted(offsets, np.arange(ids.size), side="right") - 1
    kept_per_bag = np.bincount(bag_of_id[keep], minlength=offsets.size)
    return ids[keep], np.cumsum(kept_per_bag) - kept_per_bag


def batch_indices(n: int, batch_size: int, *, shuffle: bool = False, rng: np.random.Generator | None = None,
                  drop_last: bool = False) -> Iterator[np.ndarray]:
    """Yield int64 index arrays covering ``range(n)`` in batches (a seeded permutation if ``shuffle``)."""
    if batch_size < 1:
        raise ValueError(f"batch_indices: batch_size must be >= 1, got {batch_size}")
    if shuffle and rng is None:
        raise ValueError("batch_indices: shuffle=True needs an rng (numpy.random.Generator) for reproducibility")
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def iterate_bags(sequences: Sequence[np.ndarray], labels: np.ndarray, batch_size: int, *, shuffle: bool = False,
                 rng: np.random.Generator | None = None,
                 drop_last: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(ids, offsets, labels)`` batches of texts ready for an EmbeddingBag model."""
    labels = np.asarray(labels)
    if labels.shape[:1] != (len(sequences),):
        raise ValueError(f"iterate_bags: {len(sequences)} sequences but labels of shape {labels.shape}")
    for batch in batch_indices(len(sequences), batch_size, shuffle=shuffle, rng=rng, drop_last=drop_last):
        ids, offsets = bag_inputs([sequences[i] for i in batch])
        yield ids, offsets, labels[batch]
