"""Tokenisation of pre-tokenised corpora and a token <-> index vocabulary."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType

import numpy as np

from fastnn.io import atomic_write

VOCAB_FORMAT = "fastnn-vocab"
VOCAB_VERSION = 1


def tokenize(text: str, lower: bool = False) -> list[str]:
    """Split an already tokenised text on whitespace (any Unicode whitespace), lowercasing if asked.

    The corpora in the shared datasets are tokenised with single spaces (PTB style), so this is
    the tokenisation that matches them; GloVe 6B words are all lowercase, hence ``lower``.
    """
    return (text.lower() if lower else text).split()


class Vocab:
    """An ordered, immutable mapping between tokens and indices ``0 .. len-1``.

    ``pad_token`` and ``unk_token`` (either may be None) must be among the tokens. Looking up a
    token that is not in the vocabulary returns ``unk_index``, or raises KeyError without an
    unknown token. ``counts`` optionally records the corpus frequency of each token.
    """

    def __init__(self, tokens: Iterable[str], *, pad_token: str | None = None, unk_token: str | None = None,
                 counts: Mapping[str, int] | None = None) -> None:
        self._itos = tuple(tokens)
        stoi: dict[str, int] = {}
        for index, token in enumerate(self._itos):
            if not isinstance(token, str):
                raise TypeError(f"Vocab: tokens must be str, got {type(token).__name__} at index {index}")
            if token in stoi:
                raise ValueError(f"Vocab: duplicate token {token!r} at indices {stoi[token]} and {index}")
            stoi[token] = index
        self._stoi = stoi
        for role, token in (("pad_token", pad_token), ("unk_token", unk_token)):
            if token is not None and token not in stoi:
                raise ValueError(f"Vocab: {role} {token!r} is not among the {len(stoi)} tokens")
        self.pad_token = pad_token
        self.unk_token = unk_token
        self.pad_index: int | None = None if pad_token is None else stoi[pad_token]
        self.unk_index: int | None = None if unk_token is None else stoi[unk_token]
        self._counts = MappingProxyType({t: int(c) for t, c in (counts or {}).items() if t in stoi})

    @classmethod
    def build(cls, texts: Iterable[Iterable[str]], *, min_freq: int = 1, max_size: int | None = None,
              pad_token: str | None = "<pad>", unk_token: str | None = "<unk>",
              specials: Sequence[str] = ()) -> Vocab:
        """Count tokens over ``texts`` (an iterable of token sequences) and keep the frequent ones.

        Order: ``pad_token``, ``unk_token``, then ``specials``, then the corpus tokens seen at
        least ``min_freq`` times sorted by decreasing count, ties broken by the token string.
        ``max_size`` bounds ``len(vocab)``, special tokens included.
        """
        if min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be >= 1, got {min_freq}")
        head = [t for t in (pad_token, unk_token) if t is not None] + list(specials)
        if max_size is not None and max_size < len(head):
            raise ValueError(f"Vocab.build: max_size {max_size} is smaller than the {len(head)} special tokens")
        counts: Counter[str] = Counter()
        for tokens in texts:
            if isinstance(tokens, str):
                raise TypeError("Vocab.build: texts must be token sequences, got a str (tokenize it first)")
            counts.update(tokens)
        reserved = set(head)
        kept = sorted((t for t, c in counts.items() if c >= min_freq and t not in reserved),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(head)]
        return cls(head + kept, pad_token=pad_token, unk_token=unk_token, counts=counts)

    @property
    def itos(self) -> tuple[str, ...]:
        """Index -> token."""
        return self._itos

    @property
    def stoi(self) -> Mapping[str, int]:
        """Token -> index (read-only view)."""
        return MappingProxyType(self._stoi)

    @property
    def counts(self) -> Mapping[str, int]:
        """Corpus frequency of each token (empty when the vocabulary was not counted from a corpus)."""
        return self._counts

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __getitem__(self, token: str) -> int:
        return self.lookup(token)

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, pad_token={self.pad_token!r}, unk_token={self.unk_token!r})"

    def lookup(self, token: str) -> int:
        """Index of ``token``; ``unk_index`` for an unknown token, or KeyError if there is none."""
        index = self._stoi.get(token, self.unk_index)
        if index is None:
            raise KeyError(f"Vocab: token {token!r} is not in the vocabulary and it has no unk_token")
        return index

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """Indices of ``tokens`` as an int64 array of shape (len(tokens),)."""
        if isinstance(tokens, str):
            raise TypeError("Vocab.encode: expected a sequence of tokens, got a str (tokenize it first)")
        if self.unk_index is None:
            return np.fromiter((self.lookup(t) for t in tokens), dtype=np.int64, count=len(tokens))
        get, unk = self._stoi.get, self.unk_index
        return np.fromiter((get(t, unk) for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, indices: Iterable[int]) -> list[str]:
        """Tokens at ``indices``."""
        out = []
        for index in indices:
            if not 0 <= int(index) < len(self._itos):
                raise IndexError(f"Vocab.decode: index {int(index)} out of range for {len(self._itos)} tokens")
            out.append(self._itos[int(index)])
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as UTF-8 JSON, atomically (a temporary file then ``os.replace``)."""
        payload = {"format": VOCAB_FORMAT, "version": VOCAB_VERSION, "itos": list(self._itos),
                   "pad_token": self.pad_token, "unk_token": self.unk_token, "counts": dict(self._counts)}
        with atomic_write(path, "w", encoding="utf-8") as f:
            json.dump(payload, f, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
        if not isinstance(payload, dict) or payload.get("format") != VOCAB_FORMAT:
            raise ValueError(f"Vocab.load: {os.fspath(path)} is not a fastnn vocabulary file")
        if payload.get("version") != VOCAB_VERSION:
            raise ValueError(f"Vocab.load: {os.fspath(path)} has version {payload.get('version')!r}, "
                             f"this fastnn reads version {VOCAB_VERSION}")
        return cls(payload["itos"], pad_token=payload["pad_token"], unk_token=payload["unk_token"],
                   counts=payload.get("counts") or {})
