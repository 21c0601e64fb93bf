"""load_glove: plain and gzip files, alignment with a vocabulary, coverage, random rows, bad lines."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from fastnn.text import Vocab, load_glove

GLOVE_LINES = [
    "the 0.418 0.24968 -0.41242",
    ", 0.013441 0.23682 -0.16899",
    "cat 1.5 -2.25 3.0",
    "café -1e-3 2.5E2 0",
]
EXPECTED = {
    "the": [0.418, 0.24968, -0.41242],
    ",": [0.013441, 0.23682, -0.16899],
    "cat": [1.5, -2.25, 3.0],
    "café": [-1e-3, 2.5e2, 0.0],
}


def write_glove(path, lines, gz=False):
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if gz:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_without_vocab_reads_every_word_in_file_order(tmp_path, gz):
    path = write_glove(tmp_path / ("v.txt.gz" if gz else "v.txt"), GLOVE_LINES, gz)
    vectors, vocab, coverage = load_glove(path)
    assert vocab.itos == ("<pad>", "<unk>", "the", ",", "cat", "café")
    assert vectors.shape == (6, 3) and vectors.dtype == np.float32
    for word, values in EXPECTED.items():
        np.testing.assert_array_equal(vectors[vocab[word]], np.array(values, dtype=np.float32))
    np.testing.assert_array_equal(vectors[vocab.pad_index], 0)
    assert (coverage.found, coverage.total, coverage.missing) == (4, 4, ())


def test_rows_follow_the_vocabulary_and_coverage_counts_types_and_tokens(tmp_path):
    path = write_glove(tmp_path / "v.txt", GLOVE_LINES)
    vocab = Vocab.build([["cat", "cat", "dog", "the"], ["cat", "zebra"]])
    # itos: <pad> <unk> cat(3) dog(1) the(1) zebra(1)
    vectors, same_vocab, coverage = load_glove(path, vocab, dtype=np.float64)
    assert same_vocab is vocab and vectors.dtype == np.float64 and vectors.shape == (6, 3)
    np.testing.assert_array_equal(vectors[vocab["cat"]], EXPECTED["cat"])
    np.testing.assert_array_equal(vectors[vocab["the"]], EXPECTED["the"])
    np.testing.assert_array_equal(vectors[0], 0)
    assert (coverage.found, coverage.total) == (2, 4)
    assert coverage.missing == ("dog", "zebra")
    assert (coverage.tokens_found, coverage.tokens_total) == (4, 6)
    assert coverage.fraction == 0.5 and coverage.token_fraction == pytest.approx(4 / 6)


def test_missing_rows_are_seeded_and_match_the_scale_of_found_vectors(tmp_path):
    rng = np.random.default_rng(123)
    mean, std = np.array([5.0, -3.0]), np.array([0.5, 2.0])
    found = rng.normal(mean, std, size=(400, 2))
    lines = [f"w{i} {float(a)!r} {float(b)!r}" for i, (a, b) in enumerate(found)]
    path = write_glove(tmp_path / "v.txt", lines)
    words = [f"w{i}" for i in range(400)] + [f"missing{i}" for i in range(4000)]
    vocab = Vocab(["<pad>", "<unk>", *words], pad_token="<pad>", unk_token="<unk>")
    vectors, _, coverage = load_glove(path, vocab, dtype=np.float64, seed=7)
    assert coverage.found == 400 and coverage.total == 4400
    drawn = vectors[402:]
    # the draws follow N(mean_d, std_d) of the found vectors: sample moments within ~4 standard errors
    assert np.all(np.abs(drawn.mean(0) - found.mean(0)) < 4 * found.std(0) / np.sqrt(4000))
    np.testing.assert_allclose(drawn.std(0), found.std(0), rtol=0.05)
    again, _, _ = load_glove(path, vocab, dtype=np.float64, seed=7)
    other, _, _ = load_glove(path, vocab, dtype=np.float64, seed=8)
    np.testing.assert_array_equal(vectors, again)
    assert not np.array_equal(vectors[402:], other[402:])
    np.testing.assert_array_equal(vectors[2:402], found)


def test_match_lowercase_finds_capitalised_words(tmp_path):
    path = write_glove(tmp_path / "v.txt", GLOVE_LINES)
    vocab = Vocab(["<pad>", "<unk>", "The", "CAT", "Dog"], pad_token="<pad>", unk_token="<unk>")
    with pytest.raises(ValueError, match="none of the 3 vocabulary words"):
        load_glove(path, vocab)  # nothing matches exactly
    vectors, _, lenient = load_glove(path, vocab, match_lowercase=True)
    assert lenient.found == 2 and lenient.missing == ("Dog",)
    np.testing.assert_array_equal(vectors[vocab["CAT"]], np.float32(EXPECTED["cat"]))


def test_no_match_at_all_is_an_error(tmp_path):
    path = write_glove(tmp_path / "v.txt", GLOVE_LINES)
    with pytest.raises(ValueError, match="none of the 2 vocabulary words"):
        load_glove(path, Vocab(["<pad>", "x", "y"], pad_token="<pad>"))


def test_max_words_reads_only_the_first_lines(tmp_path):
    path = write_glove(tmp_path / "v.txt", GLOVE_LINES)
    _, vocab, _ = load_glove(path, max_words=2)
    assert vocab.itos == ("<pad>", "<unk>", "the", ",")


def test_crlf_and_trailing_spaces_are_tolerated(tmp_path):
    path = tmp_path / "v.txt"
    path.write_bytes(b"the 1 2 3 \r\ncat 4 5 6\r\n")
    vectors, vocab, _ = load_glove(path)
    np.testing.assert_array_equal(vectors[vocab["cat"]], [4, 5, 6])


@pytest.mark.parametrize("gz", [False, True])
def test_line_with_wrong_width_names_line_and_dim(tmp_path, gz):
    lines = GLOVE_LINES[:2] + ["cat 1.5 -2.25"] + GLOVE_LINES[3:]
    path = write_glove(tmp_path / ("v.txt.gz" if gz else "v.txt"), lines, gz)
    with pytest.raises(ValueError, match=r"line 3: expected a word and 3 numbers, got 2"):
        load_glove(path)


def test_non_numeric_field_names_line(tmp_path):
    lines = GLOVE_LINES[:3] + ["café -1e-3 abc 0"]
    path = write_glove(tmp_path / "v.txt", lines)
    with pytest.raises(ValueError, match=r"line 4: 'abc' is not a number"):
        load_glove(path)


def test_explicit_dim_must_match_the_file(tmp_path):
    path = write_glove(tmp_path / "v.txt", GLOVE_LINES)
    with pytest.raises(ValueError, match=r"line 1: expected a word and 4 numbers, got 3"):
        load_glove(path, dim=4)
