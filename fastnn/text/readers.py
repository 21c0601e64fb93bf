"""Readers for the sentiment and NER corpus formats of the shared datasets.

Every reader splits lines on "\\n" only (never ``str.splitlines``, which also breaks on U+0085
NEL, present in some of these files) and strips one trailing "\\r".
"""

from __future__ import annotations

import os
from typing import NamedTuple

from fastnn.text.tags import iob1_to_bio
from fastnn.text.vocab import tokenize

DOCSTART = "-DOCSTART-"


class LabelledText(NamedTuple):
    tokens: list[str]
    label: int


class TaggedSentence(NamedTuple):
    tokens: list[str]
    tags: list[str]


def read_lines(path: str | os.PathLike, encoding: str = "utf-8") -> list[str]:
    """The lines of a text file, split on "\\n" only, without a final empty line."""
    with open(path, encoding=encoding, newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _parse_label(path: str | os.PathLike, number: int, field: str) -> int:
    try:
        return int(field)
    except ValueError:
        raise ValueError(f"{os.fspath(path)} line {number}: label {field!r} is not an integer") from None


def read_tsv(path: str | os.PathLike, *, text_column: int = 0, label_column: int = 1, header: bool | None = None,
             lower: bool = False, encoding: str = "utf-8") -> list[LabelledText]:
    """Read ``sentence<TAB>label`` rows (no quoting: a quote is an ordinary character).

    ``header=None`` skips the first row when its label field is not an integer (GLUE files
    start with ``sentence\\tlabel``; the UCI files have no header).
    """
    lines = read_lines(path, encoding)
    start = 0
    if lines:
        first = lines[0].split("\t")
        looks_like_header = len(first) > label_column and not first[label_column].strip().lstrip("-").isdigit()
        start = int(looks_like_header if header is None else header)
    need = max(text_column, label_column) + 1
    out = []
    for number, line in enumerate(lines[start:], start=start + 1):
        fields = line.split("\t")
        if len(fields) < need:
            raise ValueError(f"read_tsv: {os.fspath(path)} line {number}: expected at least {need} tab-separated "
                             f"fields, got {len(fields)}")
        out.append(LabelledText(tokenize(fields[text_column], lower),
                                _parse_label(path, number, fields[label_column].strip())))
    return out


def read_label_first(path: str | os.PathLike, *, lower: bool = False, encoding: str = "utf-8") -> list[LabelledText]:
    """Read ``<label> <sentence>`` lines (the SST-2 sentence-level ``stsa.binary.*`` files)."""
    out = []
    for number, line in enumerate(read_lines(path, encoding), start=1):
        label, _, text = line.partition(" ")
        out.append(LabelledText(tokenize(text, lower), _parse_label(path, number, label)))
    return out


def read_rt_polarity(folder: str | os.PathLike, *, lower: bool = False,
                     encoding: str = "cp1252") -> list[LabelledText]:
    """Read ``rt-polarity.pos`` (label 1) then ``rt-polarity.neg`` (label 0); the files are cp1252."""
    out = []
    for name, label in (("rt-polarity.pos", 1), ("rt-polarity.neg", 0)):
        out.extend(LabelledText(tokenize(line, lower), label)
                   for line in read_lines(os.path.join(folder, name), encoding))
    return out


def read_conll(path: str | os.PathLike, *, token_column: int = 0, tag_column: int = -1, convert_iob1: bool = False,
               encoding: str = "utf-8") -> list[TaggedSentence]:
    """Read a CoNLL column file: one token per line, whitespace-separated columns, blank lines
    between sentences, ``-DOCSTART-`` lines skipped. ``convert_iob1`` rewrites IOB1 tags as BIO.
    """
    sentences: list[TaggedSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    for number, line in enumerate(read_lines(path, encoding), start=1):
        fields = line.split()
        if not fields or fields[0] == DOCSTART:
            if tokens:
                sentences.append(TaggedSentence(tokens, tags))
                tokens, tags = [], []
            continue
        try:
            tokens.append(fields[token_column])
            tags.append(fields[tag_column])
        except IndexError:
            raise ValueError(f"read_conll: {os.fspath(path)} line {number}: {len(fields)} columns, need columns "
                             f"{token_column} (token) and {tag_column} (tag)") from None
    if tokens:
        sentences.append(TaggedSentence(tokens, tags))
    if convert_iob1:
        sentences = [TaggedSentence(s.tokens, iob1_to_bio(s.tags)) for s in sentences]
    return sentences
