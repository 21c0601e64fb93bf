"""Reading pretrained word vectors in the GloVe text format into a vocabulary-aligned matrix."""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from fastnn.text.vocab import Vocab


@dataclass(frozen=True)
class GloveCoverage:
    """How much of a vocabulary the vectors file covers (special tokens are not counted).

    ``found / total`` counts word types; ``tokens_found / tokens_total`` weights them by the
    vocabulary's corpus counts (both 0 when the vocabulary carries no counts).
    """

    found: int
    total: int
    tokens_found: int
    tokens_total: int
    missing: tuple[str, ...]

    @property
    def fraction(self) -> float:
        return self.found / self.total if self.total else 0.0

    @property
    def token_fraction(self) -> float:
        return self.tokens_found / self.tokens_total if self.tokens_total else 0.0

    def __str__(self) -> str:
        text = f"{self.found}/{self.total} word types ({100 * self.fraction:.1f}%)"
        if self.tokens_total:
            text += f", {self.tokens_found}/{self.tokens_total} tokens ({100 * self.token_fraction:.1f}%)"
        return text


class GloveEmbeddings(NamedTuple):
    vectors: np.ndarray  # (len(vocab), dim); row i is the vector of vocab.itos[i]
    vocab: Vocab
    coverage: GloveCoverage


def _read_lines(path: str) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        text = f.read().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip(" \r") for line in lines]


def _malformed_line(path: str, lines: list[str], line_numbers: np.ndarray, dim: int) -> ValueError:
    """Find the first line of ``line_numbers`` (1-based) that is not a word plus ``dim`` numbers."""
    for number in line_numbers:
        fields = lines[number - 1].split(" ")
        if len(fields) != dim + 1:
            return ValueError(f"load_glove: {path} line {number}: expected a word and {dim} numbers, "
                              f"got {len(fields) - 1} numbers")
        for field in fields[1:]:
            try:
                float(field)
            except ValueError:
                return ValueError(f"load_glove: {path} line {number}: {field!r} is not a number")
    return ValueError(f"load_glove: {path}: could not parse the vectors")


def load_glove(path: str | os.PathLike, vocab: Vocab | None = None, dim: int | None = None,
               dtype: np.dtype | type = np.float32, *, seed: int = 0, match_lowercase: bool = False,
               max_words: int | None = None, pad_token: str = "<pad>", unk_token: str = "<unk>") -> GloveEmbeddings:
    """Read ``word v1 ... v_dim`` lines (plain text or ``.gz``, UTF-8) into an embedding matrix.

    With a ``vocab``, row i of the matrix is the vector of ``vocab.itos[i]``; a word missing from
    the file gets a row drawn (seeded) from N(mean_d, std_d^2), the per-dimension mean and
    standard deviation of the vectors found, and the padding token's row is zero.
    ``match_lowercase`` looks a missing word up again in lowercase (GloVe 6B is lowercase).
    Without a vocab, the vocabulary is ``pad_token``, ``unk_token`` and then the file's words in
    file order (first occurrence kept); ``max_words`` reads only the first lines of the file.
    ``dim`` defaults to the width of the first line; every line must have that width (checked for
    all lines), and the numbers of the lines used must parse (ValueError naming the line otherwise).
    """
    path = os.fspath(path)
    dtype = np.dtype(dtype)
    lines = _read_lines(path)
    if max_words is not None:
        lines = lines[:max_words]
    if not lines:
        raise ValueError(f"load_glove: {path} holds no vectors")
    width = lines[0].count(" ")
    if dim is None:
        dim = width
    if dim < 1:
        raise ValueError(f"load_glove: {path} line 1: expected a word and at least one number")
    spaces = np.fromiter((line.count(" ") for line in lines), dtype=np.int64, count=len(lines))
    bad = np.flatnonzero(spaces != dim)
    if bad.size:
        raise _malformed_line(path, lines, bad[:1] + 1, dim)

    words = [line[: line.find(" ")] for line in lines]
    first_row: dict[str, int] = {}
    for row, word in enumerate(words):
        first_row.setdefault(word, row)

    if vocab is None:
        words_in_file = (w for w in first_row if w not in (pad_token, unk_token))
        vocab = Vocab([pad_token, unk_token, *words_in_file], pad_token=pad_token, unk_token=unk_token)
    specials = {vocab.pad_token, vocab.unk_token} - {None}
    targets, rows, missing = [], [], []
    for index, word in enumerate(vocab.itos):
        if word in specials:
            continue
        row = first_row.get(word)
        if row is None and match_lowercase:
            row = first_row.get(word.lower())
        if row is None:
            missing.append(word)
        else:
            targets.append(index)
            rows.append(row)
    if not rows:
        raise ValueError(f"load_glove: none of the {len(vocab) - len(specials)} vocabulary words is in {path}")

    rows_arr = np.asarray(rows, dtype=np.int64)
    unique_rows, inverse = np.unique(rows_arr, return_inverse=True)
    try:
        parsed = np.loadtxt([lines[r] for r in unique_rows], dtype=dtype, delimiter=" ", comments=None,
                            quotechar=None, usecols=range(1, dim + 1), ndmin=2)
    except ValueError:
        raise _malformed_line(path, lines, unique_rows + 1, dim) from None

    found_vectors = parsed[inverse]
    rng = np.random.default_rng(seed)
    mean, std = found_vectors.mean(axis=0, dtype=np.float64), found_vectors.std(axis=0, dtype=np.float64)
    vectors = rng.normal(mean, std, size=(len(vocab), dim)).astype(dtype)
    vectors[np.asarray(targets, dtype=np.int64)] = found_vectors
    if vocab.pad_index is not None:
        vectors[vocab.pad_index] = 0

    counts = vocab.counts
    tokens_found = sum(counts.get(vocab.itos[i], 0) for i in targets)
    tokens_total = tokens_found + sum(counts.get(w, 0) for w in missing)
    coverage = GloveCoverage(found=len(targets), total=len(targets) + len(missing), tokens_found=tokens_found,
                             tokens_total=tokens_total, missing=tuple(missing))
    return GloveEmbeddings(vectors, vocab, coverage)
