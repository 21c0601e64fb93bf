"""Context windows (padding at sentence edges) and casing features."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn.text import NUM_CASINGS, Casing, casing, casing_ids, context_windows


def windows_by_loop(sentences, size, pad_id, end_pad_id):
    rows = []
    for sentence in sentences:
        for i in range(len(sentence)):
            row = []
            for j in range(i - size, i + size + 1):
                row.append(pad_id if j < 0 else end_pad_id if j >= len(sentence) else int(sentence[j]))
            rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(len(rows), 2 * size + 1)


def test_windows_by_hand_with_padding_at_both_edges():
    windows = context_windows([np.array([11, 12, 13]), np.array([21])], size=2, pad_id=0)
    expected = [[0, 0, 11, 12, 13],
                [0, 11, 12, 13, 0],
                [11, 12, 13, 0, 0],
                [0, 0, 21, 0, 0]]
    assert windows.dtype == np.int64
    np.testing.assert_array_equal(windows, expected)


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_windows_match_a_per_token_loop_and_never_cross_sentences(size):
    rng = np.random.default_rng(size)
    sentences = [rng.integers(2, 50, size=n) for n in (5, 1, 0, 2, 7, 3)]
    windows = context_windows(sentences, size=size, pad_id=0, end_pad_id=1)
    assert windows.shape == (18, 2 * size + 1)
    np.testing.assert_array_equal(windows, windows_by_loop(sentences, size, 0, 1))
    np.testing.assert_array_equal(windows[:, size], np.concatenate(sentences))


def test_windows_of_no_tokens_and_bad_input():
    assert context_windows([], size=2).shape == (0, 5)
    assert context_windows([np.array([], dtype=np.int64)], size=1).shape == (0, 3)
    with pytest.raises(ValueError, match="sentence 1 must be a 1-D integer array"):
        context_windows([np.array([1]), np.array([0.5])])
    with pytest.raises(ValueError, match="size must be >= 0"):
        context_windows([np.array([1])], size=-1)


@pytest.mark.parametrize("token, expected", [
    ("the", Casing.LOWER), ("don't", Casing.LOWER), ("EU", Casing.ALL_CAPS), ("I", Casing.ALL_CAPS),
    ("F-16", Casing.ALL_CAPS), ("John", Casing.FIRST_UPPER), ("McDonald", Casing.FIRST_UPPER),
    ("iPhone", Casing.MIXED), ("1996", Casing.DIGITS), ("3-2", Casing.DIGITS), (",", Casing.OTHER),
    ("--", Casing.OTHER), ("Élan", Casing.FIRST_UPPER), ("", Casing.OTHER),
])
def test_casing(token, expected):
    assert casing(token) == expected


def test_casing_ids_array():
    ids = casing_ids(["Peter", "BLACKBURN", "said", "in", "1996", "."])
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [2, 1, 0, 0, 4, 5])
    assert NUM_CASINGS == 6 and casing_ids([]).shape == (0,)
