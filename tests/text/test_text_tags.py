"""Tags: parsing, IOB1 -> BIO, chunk spans, the tag vocabulary, and Viterbi against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastnn.text import bio_transitions, build_tag_vocab, extract_spans, iob1_to_bio, parse_tag, viterbi_bio


def test_parse_tag():
    assert parse_tag("O") == ("O", "")
    assert parse_tag("B-PER") == ("B", "PER")
    assert parse_tag("I-creative-work") == ("I", "creative-work")
    for bad in ("PER", "X-PER", "B-", "b-PER", ""):
        with pytest.raises(ValueError, match="is not 'O', 'B-<type>' or 'I-<type>'"):
            parse_tag(bad)


@pytest.mark.parametrize("iob1, bio", [
    (["I-PER", "I-PER", "O", "I-LOC"], ["B-PER", "I-PER", "O", "B-LOC"]),
    (["I-PER", "B-PER", "I-PER"], ["B-PER", "B-PER", "I-PER"]),  # B- only between adjacent same-type chunks
    (["I-ORG", "I-PER", "I-PER"], ["B-ORG", "B-PER", "I-PER"]),  # a type change starts a chunk
    (["O", "I-creative-work", "I-creative-work"], ["O", "B-creative-work", "I-creative-work"]),
    (["B-X", "I-X", "O", "B-Y", "B-Y"], ["B-X", "I-X", "O", "B-Y", "B-Y"]),  # BIO is unchanged
    ([], []),
])
def test_iob1_to_bio(iob1, bio):
    assert iob1_to_bio(iob1) == bio
    assert iob1_to_bio(bio) == bio  # idempotent


def test_extract_spans_follows_conlleval_chunk_rules():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-ORG", "I-ORG", "I-LOC", "O", "I-MISC"]
    assert extract_spans(tags) == [("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5), ("ORG", 5, 7), ("LOC", 7, 8),
                                   ("MISC", 9, 10)]
    assert extract_spans(["O", "O"]) == []
    assert extract_spans(["B-A", "I-B"]) == [("A", 0, 1), ("B", 1, 2)]


def test_build_tag_vocab_is_sorted_by_type_with_o_first():
    vocab = build_tag_vocab([["I-PER", "O", "B-LOC"], ["I-LOC", "B-PER", "I-MISC"]])
    assert vocab.itos == ("O", "B-LOC", "I-LOC", "I-MISC", "B-PER", "I-PER")
    assert vocab.unk_index is None and vocab.pad_index is None


def test_bio_transitions_by_hand():
    start, allowed = bio_transitions(("O", "B-A", "I-A", "B-B", "I-B"))
    np.testing.assert_array_equal(start, [True, True, False, True, False])
    expected = np.array([
        # to: O     B-A    I-A    B-B    I-B
        [True, True, False, True, False],   # from O
        [True, True, True, True, False],    # from B-A
        [True, True, True, True, False],    # from I-A
        [True, True, False, True, True],    # from B-B
        [True, True, False, True, True],    # from I-B
    ])
    np.testing.assert_array_equal(allowed, expected)


def is_valid_bio(tags):
    """Written from the BIO definition: an I-X must follow a B-X or an I-X."""
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            return False
        previous = tag
    return True


def brute_force_best(scores, tags):
    best, best_score = None, -np.inf
    for path in itertools.product(range(len(tags)), repeat=scores.shape[0]):
        if not is_valid_bio([tags[i] for i in path]):
            continue
        total = scores[np.arange(len(path)), path].sum()
        if total > best_score:
            best, best_score = path, total
    return np.array(best), best_score


@pytest.mark.parametrize("tags", [("O", "B-A", "I-A", "B-B", "I-B"), ("B-A", "I-A", "O"), ("I-X", "O", "B-X")])
@pytest.mark.parametrize("length", [1, 2, 3, 5])
def test_viterbi_matches_brute_force(tags, length):
    rng = np.random.default_rng(length * 100 + len(tags))
    for _ in range(20):
        scores = rng.normal(size=(length, len(tags)))
        path = viterbi_bio(scores, tags)
        expected, expected_score = brute_force_best(scores, tags)
        assert path.dtype == np.int64 and path.shape == (length,)
        assert is_valid_bio([tags[i] for i in path])
        assert scores[np.arange(length), path].sum() == pytest.approx(expected_score)
        np.testing.assert_array_equal(path, expected)  # continuous scores: the optimum is unique


def test_viterbi_repairs_an_invalid_argmax():
    tags = ("O", "B-PER", "I-PER", "B-LOC", "I-LOC")
    p = np.array([[0.6, 0.05, 0.3, 0.03, 0.02],
                  [0.1, 0.11, 0.7, 0.05, 0.04]])
    assert p.argmax(1).tolist() == [0, 2]  # O then I-PER: invalid
    # valid products: O,B-PER .066 > O,O .06 > B-PER,I-PER .035 > O,B-LOC .03 > B-LOC,* <= .0033
    np.testing.assert_array_equal(viterbi_bio(np.log(p), tags), [0, 1])


def test_viterbi_keeps_a_valid_argmax_and_handles_empty_input():
    tags = ("O", "B-A", "I-A")
    scores = np.array([[0.0, 5.0, 1.0], [0.0, 1.0, 5.0], [5.0, 0.0, 1.0]])
    np.testing.assert_array_equal(viterbi_bio(scores, tags), scores.argmax(1))
    assert viterbi_bio(np.zeros((0, 3)), tags).shape == (0,)


def test_viterbi_bad_input():
    with pytest.raises(ValueError, match=r"expected shape \(T, 3\) for 3 tags, got \(2, 4\)"):
        viterbi_bio(np.zeros((2, 4)), ("O", "B-A", "I-A"))
    with pytest.raises(ValueError, match="finite"):
        viterbi_bio(np.array([[np.nan, 0.0, 0.0]]), ("O", "B-A", "I-A"))
    with pytest.raises(ValueError, match="no tag"):
        viterbi_bio(np.zeros((2, 1)), ("I-A",))
