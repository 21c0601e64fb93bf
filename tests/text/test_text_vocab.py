"""Vocab: construction order, frequency cut-offs, unknown handling, encoding, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastnn.text import Vocab, tokenize

TEXTS = [["the", "cat", "sat"], ["the", "dog", "sat"], ["the", "cat", "ran"], ["a", "zebra"]]
# counts: the 3, cat 2, sat 2, dog 1, ran 1, a 1, zebra 1


def test_tokenize_splits_on_whitespace_and_lowercases_when_asked():
    assert tokenize("It 's  a charming\tfilm . ") == ["It", "'s", "a", "charming", "film", "."]
    assert tokenize("It 's A", lower=True) == ["it", "'s", "a"]


def test_build_orders_specials_then_frequency_desc_then_token():
    vocab = Vocab.build(TEXTS)
    assert vocab.itos == ("<pad>", "<unk>", "the", "cat", "sat", "a", "dog", "ran", "zebra")
    assert vocab.pad_index == 0 and vocab.unk_index == 1
    assert vocab.counts["the"] == 3 and vocab.counts["zebra"] == 1


def test_build_order_does_not_depend_on_input_order():
    assert Vocab.build(TEXTS).itos == Vocab.build(TEXTS[::-1]).itos


def test_min_freq_and_max_size_count_specials_in_the_size():
    assert Vocab.build(TEXTS, min_freq=2).itos == ("<pad>", "<unk>", "the", "cat", "sat")
    assert Vocab.build(TEXTS, max_size=4).itos == ("<pad>", "<unk>", "the", "cat")
    with pytest.raises(ValueError, match="max_size 1"):
        Vocab.build(TEXTS, max_size=1)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(TEXTS, min_freq=0)


def test_extra_specials_come_after_pad_and_unk_and_are_not_counted_twice():
    vocab = Vocab.build([["<s>", "x"]], specials=["<s>", "</s>"])
    assert vocab.itos == ("<pad>", "<unk>", "<s>", "</s>", "x")


def test_lookup_unknown_tokens_and_membership():
    vocab = Vocab.build(TEXTS)
    assert vocab["cat"] == 3 and vocab.lookup("sat") == 4
    assert vocab["platypus"] == vocab.unk_index
    assert "cat" in vocab and "platypus" not in vocab
    assert len(vocab) == 9
    assert vocab.stoi["dog"] == 6
    assert list(vocab) == list(vocab.itos)


def test_vocab_without_unk_raises_on_unknown_token():
    vocab = Vocab.build(TEXTS, unk_token=None, pad_token=None)
    assert vocab.unk_index is None and vocab.itos[0] == "the"
    with pytest.raises(KeyError, match="platypus"):
        vocab["platypus"]
    with pytest.raises(KeyError, match="platypus"):
        vocab.encode(["the", "platypus"])


def test_encode_returns_int64_ids_and_decode_inverts_it():
    vocab = Vocab.build(TEXTS)
    ids = vocab.encode(["the", "zebra", "platypus"])
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, [2, 8, 1])
    assert vocab.decode(ids) == ["the", "zebra", "<unk>"]
    assert vocab.encode([]).shape == (0,)
    with pytest.raises(TypeError, match="tokenize"):
        vocab.encode("the cat")
    with pytest.raises(IndexError, match="out of range"):
        vocab.decode([9])


def test_constructor_rejects_duplicates_and_absent_specials():
    with pytest.raises(ValueError, match="duplicate token 'a'"):
        Vocab(["a", "b", "a"])
    with pytest.raises(ValueError, match="unk_token"):
        Vocab(["a"], unk_token="<unk>")


def test_stoi_is_read_only():
    vocab = Vocab.build(TEXTS)
    with pytest.raises(TypeError):
        vocab.stoi["new"] = 99


def test_save_load_round_trip_keeps_unicode_specials_and_counts(tmp_path):
    vocab = Vocab.build([["café", "naïve", "café"], ["日本", "\u0085odd"]], specials=["<s>"])
    path = tmp_path / "vocab.json"
    vocab.save(path)
    raw = path.read_bytes().decode("utf-8")
    assert "café" in raw  # written as UTF-8, not \u escapes
    loaded = Vocab.load(path)
    assert loaded.itos == vocab.itos
    assert (loaded.pad_token, loaded.unk_token) == ("<pad>", "<unk>")
    assert dict(loaded.counts) == dict(vocab.counts)
    np.testing.assert_array_equal(loaded.encode(["café", "?"]), vocab.encode(["café", "?"]))
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left behind


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "vocab.json"
    Vocab.build([["old"]]).save(path)
    Vocab.build([["new"]]).save(path)
    assert "new" in Vocab.load(path) and "old" not in Vocab.load(path)


def test_load_rejects_foreign_json(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"itos": ["a"]}), encoding="utf-8")
    with pytest.raises(ValueError, match="not a fastnn vocabulary"):
        Vocab.load(path)
