"""EmbeddingBag inputs (ids + offsets), word dropout and batch iteration."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn.text import bag_inputs, batch_indices, drop_words, iterate_bags


def split_bags(ids, offsets):
    return np.split(ids, offsets[1:]) if len(offsets) else []


def test_bag_inputs_by_hand():
    ids, offsets = bag_inputs([np.array([4, 5, 6]), np.array([], dtype=np.int64), np.array([7]), [8, 9]])
    assert ids.dtype == np.int64 and offsets.dtype == np.int64
    np.testing.assert_array_equal(ids, [4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(offsets, [0, 3, 3, 4])
    assert [b.tolist() for b in split_bags(ids, offsets)] == [[4, 5, 6], [], [7], [8, 9]]


def test_bag_inputs_edge_cases():
    ids, offsets = bag_inputs([])
    assert ids.shape == (0,) and offsets.shape == (0,)
    ids, offsets = bag_inputs([np.array([], dtype=np.int64)] * 2)
    assert ids.shape == (0,) and offsets.tolist() == [0, 0]
    with pytest.raises(ValueError, match="sequence 1 must be a 1-D integer array"):
        bag_inputs([np.array([1]), np.array([[1, 2]])])


def test_drop_words_removes_the_drawn_ids_and_fixes_offsets():
    sequences = [np.array([1, 2, 3, 4]), np.array([], dtype=np.int64), np.array([5]), np.array([6, 7, 8])]
    ids, offsets = bag_inputs(sequences)
    new_ids, new_offsets = drop_words(ids, offsets, 0.5, np.random.default_rng(3))
    keep = np.random.default_rng(3).random(ids.size) >= 0.5  # the same draws, one per id
    expected = [s[keep[o:o + len(s)]] for s, o in zip(sequences, offsets)]
    assert [b.tolist() for b in split_bags(new_ids, new_offsets)] == [e.tolist() for e in expected]
    assert len(new_offsets) == 4


def test_drop_words_rate_and_identity_at_zero():
    ids, offsets = bag_inputs([np.arange(100)] * 100)
    same_ids, same_offsets = drop_words(ids, offsets, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(same_ids, ids)
    np.testing.assert_array_equal(same_offsets, offsets)
    kept, _ = drop_words(ids, offsets, 0.3, np.random.default_rng(0))
    assert abs(kept.size / ids.size - 0.7) < 0.02  # 10,000 draws: 4.4 standard errors
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        drop_words(ids, offsets, 1.0, np.random.default_rng(0))


def test_batch_indices_cover_everything_once():
    batches = list(batch_indices(10, 4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [len(b) for b in batch_indices(10, 4, drop_last=True)] == [4, 4]
    shuffled = np.concatenate(list(batch_indices(10, 3, shuffle=True, rng=np.random.default_rng(1))))
    assert sorted(shuffled.tolist()) == list(range(10)) and shuffled.tolist() != list(range(10))
    again = np.concatenate(list(batch_indices(10, 3, shuffle=True, rng=np.random.default_rng(1))))
    np.testing.assert_array_equal(shuffled, again)
    with pytest.raises(ValueError, match="needs an rng"):
        next(batch_indices(10, 3, shuffle=True))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        next(batch_indices(10, 0))


def test_iterate_bags_keeps_texts_and_labels_together():
    sequences = [np.full(i + 1, i) for i in range(7)]  # text i holds i+1 copies of id i
    labels = np.arange(7) % 2
    seen = []
    for ids, offsets, batch_labels in iterate_bags(sequences, labels, 3, shuffle=True, rng=np.random.default_rng(5)):
        for bag, label in zip(split_bags(ids, offsets), batch_labels):
            text = int(bag[0])
            assert bag.tolist() == [text] * (text + 1) and label == text % 2
            seen.append(text)
    assert sorted(seen) == list(range(7))
    with pytest.raises(ValueError, match="7 sequences but labels of shape"):
        next(iterate_bags(sequences, labels[:3], 2))
