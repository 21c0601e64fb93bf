"""Chunk tags (IOB1 and BIO): parsing, conversion, spans, the tag vocabulary and Viterbi decoding.

Chunk boundaries follow the CoNLL ``conlleval`` script: a chunk starts at ``B-X``, and at
``I-X`` after ``O`` or after a tag of another type; it ends before ``O``, before ``B-*`` and
before a tag of another type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from fastnn.text.vocab import Vocab

OUTSIDE = "O"


def parse_tag(tag: str) -> tuple[str, str]:
    """Split a tag into (prefix, type): ``"B-PER" -> ("B", "PER")``, ``"O" -> ("O", "")``."""
    if tag == OUTSIDE:
        return OUTSIDE, ""
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in ("B", "I") or not kind:
        raise ValueError(f"tag {tag!r} is not 'O', 'B-<type>' or 'I-<type>'")
    return prefix, kind


def _starts_chunk(prev_prefix: str, prev_type: str, prefix: str, kind: str) -> bool:
    return prefix == "B" or (prefix == "I" and (prev_prefix == OUTSIDE or prev_type != kind))


def _ends_chunk(prev_prefix: str, prev_type: str, prefix: str, kind: str) -> bool:
    return prev_prefix != OUTSIDE and (prefix != "I" or prev_type != kind)


def iob1_to_bio(tags: Sequence[str]) -> list[str]:
    """Rewrite IOB1 tags (``I-X`` inside and at the start of a chunk, ``B-X`` only between two
    adjacent chunks of type X) as BIO/IOB2 (every chunk starts with ``B-X``). BIO input is returned unchanged.
    """
    out = []
    prev_prefix, prev_type = OUTSIDE, ""
    for tag in tags:
        prefix, kind = parse_tag(tag)
        out.append(f"B-{kind}" if prefix == "I" and _starts_chunk(prev_prefix, prev_type, prefix, kind) else tag)
        prev_prefix, prev_type = prefix, kind
    return out


def extract_spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The chunks of one tag sequence as (type, start, end) with ``end`` exclusive, in order."""
    spans = []
    start = None
    prev_prefix, prev_type = OUTSIDE, ""
    for position, tag in enumerate(tags):
        prefix, kind = parse_tag(tag)
        if start is not None and _ends_chunk(prev_prefix, prev_type, prefix, kind):
            spans.append((prev_type, start, position))
            start = None
        if _starts_chunk(prev_prefix, prev_type, prefix, kind):
            start = position
        prev_prefix, prev_type = prefix, kind
    if start is not None:
        spans.append((prev_type, start, len(tags)))
    return spans


def build_tag_vocab(tag_sequences: Iterable[Sequence[str]]) -> Vocab:
    """A vocabulary of the tags seen, without pad or unknown tokens: ``O`` first, then the chunk
    tags sorted by type, ``B-`` before ``I-``.
    """
    seen = {tag for tags in tag_sequences for tag in tags}
    parsed = sorted((parse_tag(t)[1], parse_tag(t)[0], t) for t in seen if t != OUTSIDE)
    return Vocab(([OUTSIDE] if OUTSIDE in seen else []) + [t for _, _, t in parsed])


@lru_cache(maxsize=32)
def bio_transitions(tags: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Valid BIO moves over ``tags``: ``(allowed_start (K,), allowed (K, K))`` with
    ``allowed[i, j]`` true when tag j may follow tag i. ``I-X`` may only follow ``B-X`` or ``I-X``.
    """
    parsed = [parse_tag(t) for t in tags]
    inside = np.array([p == "I" for p, _ in parsed])
    kinds = np.array([k for _, k in parsed], dtype=object)
    allowed_start = ~inside
    same_type_chunk = (kinds[:, None] == kinds[None, :]) & np.array([p != OUTSIDE for p, _ in parsed])[:, None]
    allowed = ~inside[None, :] | same_type_chunk
    allowed_start.flags.writeable = False
    allowed.flags.writeable = False
    return allowed_start, allowed


def viterbi_bio(scores: np.ndarray, tags: Sequence[str]) -> np.ndarray:
    """The tag sequence maximising ``sum_t scores[t, y_t]`` among the sequences valid in BIO.

    ``scores`` is (T, K) for the K ``tags`` (log-probabilities give the most probable valid
    sequence); there are no transition scores, only the constraints of :func:`bio_transitions`.
    Returns int64 tag indices of shape (T,).
    """
    scores = np.asarray(scores, dtype=np.float64)
    tags = tuple(tags)
    if scores.ndim != 2 or scores.shape[1] != len(tags):
        raise ValueError(f"viterbi_bio: scores expected shape (T, {len(tags)}) for {len(tags)} tags, "
                         f"got {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("viterbi_bio: scores must be finite")
    allowed_start, allowed = bio_transitions(tags)
    if not allowed_start.any():
        raise ValueError(f"viterbi_bio: no tag of {tags} can start a sentence (need 'O' or a 'B-' tag)")
    length, n_tags = scores.shape
    if length == 0:
        return np.zeros(0, dtype=np.int64)
    penalty = np.where(allowed, 0.0, -np.inf)
    best = np.where(allowed_start, scores[0], -np.inf)
    backpointers = np.zeros((length, n_tags), dtype=np.int64)
    columns = np.arange(n_tags)
    for t in range(1, length):
        candidates = best[:, None] + penalty
        backpointers[t] = candidates.argmax(axis=0)
        best = candidates[backpointers[t], columns] + scores[t]
    path = np.empty(length, dtype=np.int64)
    path[-1] = best.argmax()
    for t in range(length - 1, 0, -1):
        path[t - 1] = backpointers[t, path[t]]
    return path
