"""Per-token inputs for window-based token classification: context windows and casing features."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

import numpy as np


class Casing(IntEnum):
    """Capitalisation class of a token (Collobert et al. 2011 use such a feature beside lowercased words)."""

    LOWER = 0  # has letters, none uppercase: "the", "don't"
    ALL_CAPS = 1  # has letters, all of them uppercase: "EU", "I", "F-16"
    FIRST_UPPER = 2  # first character uppercase, not all caps: "John", "McDonald"
    MIXED = 3  # an uppercase letter after the first character only: "iPhone"
    DIGITS = 4  # no cased letter, at least one digit: "1996", "3-2"
    OTHER = 5  # no cased letter, no digit: ",", "--"


NUM_CASINGS = len(Casing)


def casing(token: str) -> Casing:
    """The :class:`Casing` class of one token."""
    has_upper = any(c.isupper() for c in token)
    has_lower = any(c.islower() for c in token)
    if has_upper:
        if not has_lower:
            return Casing.ALL_CAPS
        return Casing.FIRST_UPPER if token[0].isupper() else Casing.MIXED
    if has_lower:
        return Casing.LOWER
    return Casing.DIGITS if any(c.isdigit() for c in token) else Casing.OTHER


def casing_ids(tokens: Sequence[str]) -> np.ndarray:
    """:func:`casing` of every token as an int64 array of shape (len(tokens),)."""
    return np.fromiter((casing(t) for t in tokens), dtype=np.int64, count=len(tokens))


def context_windows(sentences_ids: Sequence[np.ndarray], size: int = 2, pad_id: int = 0,
                    end_pad_id: int | None = None) -> np.ndarray:
    """Row n holds the ids of token n's window: the ``size`` tokens before it, itself, the ``size`` after.

    Tokens are numbered through the sentences in order; windows never cross a sentence boundary:
    positions before a sentence's start hold ``pad_id``, positions after its end hold
    ``end_pad_id`` (default ``pad_id``). Returns int64 of shape (total tokens, 2 * size + 1).
    """
    if size < 0:
        raise ValueError(f"context_windows: size must be >= 0, got {size}")
    if end_pad_id is None:
        end_pad_id = pad_id
    arrays = [np.asarray(s) for s in sentences_ids]
    for index, a in enumerate(arrays):
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"context_windows: sentence {index} must be a 1-D integer array, "
                             f"got shape {a.shape} dtype {a.dtype}")
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    n_tokens = int(lengths.sum())
    width = 2 * size + 1
    if n_tokens == 0:
        return np.zeros((0, width), dtype=np.int64)
    ids = np.concatenate(arrays).astype(np.int64, copy=False)
    sentence_of_token = np.repeat(np.arange(len(arrays)), lengths)
    sentence_start = np.cumsum(lengths) - lengths
    position = np.arange(n_tokens) - sentence_start[sentence_of_token]  # index within its sentence
    offsets = np.arange(-size, size + 1)
    neighbour = position[:, None] + offsets  # window positions within the sentence
    length = lengths[sentence_of_token][:, None]
    inside = (neighbour >= 0) & (neighbour < length)
    flat = np.arange(n_tokens)[:, None] + offsets
    windows = np.where(inside, ids[np.clip(flat, 0, n_tokens - 1)], np.where(neighbour < 0, pad_id, end_pad_id))
    return windows.astype(np.int64, copy=False)
