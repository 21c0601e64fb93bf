"""examples/sentiment_dan.py: train/test overlap removal, missing data, and end-to-end runs on a tiny corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fastnn.text import LabelledText

POSITIVE = "good great fine superb lovely".split()
NEGATIVE = "bad awful dull poor boring".split()
FILLER = "the film a movie is was this plot and acting".split()


def _sentence(rng: np.random.Generator, label: int) -> str:
    words = list(rng.choice(FILLER, size=rng.integers(3, 7)))
    cue = POSITIVE if label else NEGATIVE
    for _ in range(rng.integers(1, 3)):
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cue)))
    return " ".join(words)


def write_sst(folder: Path, write_glove, seed: int = 0) -> None:
    """SST-2 layout: sentence-level <label> <sentence> files, a GLUE train.tsv, and a GloVe file."""
    rng = np.random.default_rng(seed)
    sentence_dir = folder / "sst2" / "sentence_level"
    sentence_dir.mkdir(parents=True)
    sizes = {"train": 200, "dev": 60, "test": 60}
    for split, n in sizes.items():
        labels = rng.integers(0, 2, size=n)
        lines = [f"{label} {_sentence(rng, label)}" for label in labels]
        (sentence_dir / f"stsa.binary.{split}").write_text("\n".join(lines) + "\n", encoding="utf-8")
    glue = folder / "sst2" / "glue"
    glue.mkdir(parents=True)
    train_lines = (sentence_dir / "stsa.binary.train").read_text(encoding="utf-8").splitlines()
    test_first = (sentence_dir / "stsa.binary.test").read_text(encoding="utf-8").splitlines()[0]
    rows = [f"{line[2:]} \t{line[0]}" for line in train_lines] + [f"{test_first[2:]} \t{test_first[0]}"]
    (glue / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    write_glove(folder, FILLER + POSITIVE + NEGATIVE)


def test_remove_test_sentences_drops_copies_and_counts_contained_sentences(import_example):
    dan = import_example("sentiment_dan")
    sentence = "one two three four five six seven eight".split()
    train = [LabelledText(sentence, 1), LabelledText(["start", *sentence, "end"], 1), LabelledText(["other"], 0),
             LabelledText(["one", "two"], 0)]
    test = [LabelledText(sentence, 1), LabelledText(["one", "two", "three"], 0)]
    kept, dropped, contained = dan.remove_test_sentences(train, test)
    assert dropped == 1
    assert [t.tokens for t in kept] == [["start", *sentence, "end"], ["other"], ["one", "two"]]
    assert contained == 1  # the 8-token test sentence inside "start ... end"; the short one is not checked


def test_missing_data_folder_exits_with_a_message(import_example, tmp_path):
    dan = import_example("sentiment_dan")
    with pytest.raises(SystemExit, match="data files not found.*stsa.binary.train"):
        dan.main(["--data", str(tmp_path)])


def test_dan_learns_a_separable_toy_corpus(import_example, write_glove, tmp_path, capsys):
    dan = import_example("sentiment_dan")
    write_sst(tmp_path, write_glove)
    results = dan.main(["--data", str(tmp_path), "--epochs", "20", "--seeds", "0", "1", "--hidden", "32",
                        "--batch-size", "16", "--lr", "1e-2"])
    out = capsys.readouterr().out
    assert "dropped 1 training texts identical to a test sentence" in out
    assert results["test_ensemble"] >= 0.9
    assert results["train_seconds"] > 0


def test_compare_torch_reports_both_frameworks(import_example, write_glove, tmp_path, capsys):
    pytest.importorskip("torch")
    dan = import_example("sentiment_dan")
    write_sst(tmp_path, write_glove)
    results = dan.main(["--data", str(tmp_path), "--train", "sentences", "--epochs", "2", "--seeds", "0",
                        "--hidden", "16", "--layers", "1", "--freeze", "--compare-torch"])
    out = capsys.readouterr().out
    assert "PyTorch dev" in out and "PyTorch time / fastnn time" in out
    assert results["torch_ratio"] > 0


def test_torch_training_leaves_the_shared_glove_matrix_alone(import_example, write_glove, tmp_path):
    pytest.importorskip("torch")
    dan = import_example("sentiment_dan")
    write_sst(tmp_path, write_glove)
    corpus = dan.load_corpus(tmp_path, "sentences", tmp_path / dan.GLOVE_FILE)
    before = corpus.vectors.copy()
    args = dan.parse_args(["--hidden", "8", "--layers", "1"])
    batches = [dan.epoch_batches(corpus, 32, 0.0, np.random.default_rng(0))]
    dan.train_torch(corpus, args, 0, batches)
    np.testing.assert_array_equal(corpus.vectors, before)  # later seeds and fastnn start from GloVe again


def test_compare_sparse_trains_both_embedding_updates(import_example, write_glove, tmp_path, capsys):
    dan = import_example("sentiment_dan")
    write_sst(tmp_path, write_glove)
    results = dan.main(["--data", str(tmp_path), "--epochs", "20", "--seeds", "0", "--hidden", "32",
                        "--batch-size", "16", "--lr", "1e-2", "--compare-sparse"])
    out = capsys.readouterr().out
    assert "sparse (SparseAdam) embedding update" in out  # the default
    assert "| dense (Adam) update: dev" in out and "dense / sparse time" in out
    assert results["test_ensemble"] >= 0.9
    assert results["dense_over_sparse_time"] > 0


@pytest.mark.parametrize("sparse", [True, False])
def test_the_embedding_table_gets_sparse_adam_only_when_sparse(import_example, write_glove, tmp_path, sparse):
    dan = import_example("sentiment_dan")
    write_sst(tmp_path, write_glove)
    corpus = dan.load_corpus(tmp_path, "sentences", tmp_path / dan.GLOVE_FILE)
    args = dan.parse_args(["--hidden", "8", "--layers", "1"] + ([] if sparse else ["--no-sparse"]))
    assert args.sparse == sparse
    batches = [dan.epoch_batches(corpus, 32, 0.0, np.random.default_rng(0))]
    model, _, _ = dan.train_fastnn(corpus, args, 0, batches, sparse)
    assert model.embedding.weight.grad.is_sparse == sparse
    optimizers = dan.make_optimizers(list(model.classifier.parameters()), [model.embedding.weight], args, sparse,
                                     dan.optim.Adam, dan.optim.SparseAdam)
    assert [type(o).__name__ for o in optimizers] == (["Adam", "SparseAdam"] if sparse else ["Adam"])
