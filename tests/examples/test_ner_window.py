"""examples/ner_window.py: the CRF against brute-force enumeration, Viterbi, and an end-to-end run on a toy corpus."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

PEOPLE = "John Mary Peter Anna".split()
PLACES = "Paris London Berlin Rome".split()
WORDS = "the man went to and saw a city in with".split()


def sequence_score(emissions, transitions, start, path):
    return start[path[0]] + sum(emissions[t, y] for t, y in enumerate(path)) + sum(
        transitions[a, b] for a, b in zip(path[:-1], path[1:]))


def brute_force_nll(emissions, lengths, tags, transitions, start):
    """Mean over sentences of log Z - score(gold), Z summed over every tag sequence."""
    total = 0.0
    n_tags = emissions.shape[2]
    for b, length in enumerate(lengths):
        scores = [sequence_score(emissions[b], transitions, start, p)
                  for p in itertools.product(range(n_tags), repeat=int(length))]
        total += np.logaddexp.reduce(scores) - sequence_score(emissions[b], transitions, start, tags[b, :length])
    return total / len(lengths)


@pytest.fixture
def crf_problem(import_example):
    ner = import_example("ner_window")
    rng = np.random.default_rng(3)
    emissions = rng.normal(scale=2.0, size=(3, 4, 3))
    transitions = rng.normal(size=(3, 3))
    transitions[0, 2] = ner.INVALID  # a forbidden move, as the BIO mask adds
    start = rng.normal(size=3)
    lengths = np.array([4, 2, 1])
    tags = np.array([[0, 1, 1, 2], [2, 0, 0, 0], [1, 0, 0, 0]])
    return ner, emissions, lengths, tags, transitions, start


def test_crf_loss_matches_brute_force_enumeration(crf_problem):
    ner, emissions, lengths, tags, transitions, start = crf_problem
    loss, *_ = ner.crf_loss_and_grads(emissions, lengths, tags, transitions, start)
    assert loss == pytest.approx(brute_force_nll(emissions, lengths, tags, transitions, start), rel=1e-10)


def test_crf_gradients_match_finite_differences(crf_problem):
    ner, emissions, lengths, tags, transitions, start = crf_problem
    _, d_emissions, d_transitions, d_start = ner.crf_loss_and_grads(emissions, lengths, tags, transitions, start)
    step = 1e-6
    for array, analytic in ((emissions, d_emissions), (transitions, d_transitions), (start, d_start)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            array[index] += step
            up = brute_force_nll(emissions, lengths, tags, transitions, start)
            array[index] -= 2 * step
            down = brute_force_nll(emissions, lengths, tags, transitions, start)
            array[index] += step
            numeric[index] = (up - down) / (2 * step)
        np.testing.assert_allclose(analytic, numeric, atol=1e-7)
    assert not d_emissions[1, 2:].any() and not d_emissions[2, 1:].any()  # padding gets no gradient


def test_viterbi_finds_the_best_sequence_of_each_sentence(crf_problem):
    ner, emissions, lengths, _, transitions, start = crf_problem
    paths = ner.viterbi(emissions, lengths, transitions, start)
    for b, length in enumerate(lengths):
        best = max(itertools.product(range(3), repeat=int(length)),
                   key=lambda p: sequence_score(emissions[b], transitions, start, p))
        assert tuple(paths[b, :length]) == best


def test_transition_mask_forbids_inside_after_outside(import_example):
    ner = import_example("ner_window")
    from fastnn.text import Vocab

    tags = Vocab(["O", "B-PER", "I-PER", "B-LOC", "I-LOC"])
    start, moves = ner.transition_mask(tags)
    assert list(start) == [0, 0, ner.INVALID, 0, ner.INVALID]
    assert moves[0, 2] == ner.INVALID and moves[3, 2] == ner.INVALID and moves[1, 2] == 0 and moves[2, 2] == 0


def test_padded_layout_numbers_tokens_within_sentences(import_example):
    ner = import_example("ner_window")
    batch_of, position = ner.padded_layout(np.array([3, 1, 2]))
    assert list(batch_of) == [0, 0, 0, 1, 2, 2]
    assert list(position) == [0, 1, 2, 0, 0, 1]


def write_toy_conll(folder: Path, seed: int = 0) -> None:
    """CoNLL-2003 layout (4 columns, IOB1 tags, -DOCSTART-): capitalised names are PER or LOC by the word before."""
    rng = np.random.default_rng(seed)
    conll = folder / "conll2003"
    conll.mkdir(parents=True)
    for name, n in (("eng.train", 150), ("eng.testa", 40), ("eng.testb", 40)):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(n):
            for _ in range(rng.integers(2, 6)):
                word = str(rng.choice(WORDS))
                lines.append(f"{word} NN O O")
            if rng.random() < 0.5:
                lines += [f"{rng.choice(PEOPLE)} NNP O I-PER", f"{rng.choice(PEOPLE[::-1])} NNP O I-PER"]
            else:
                lines += ["in IN O O", f"{rng.choice(PLACES)} NNP O I-LOC"]
            lines += [". . O O", ""]
        (conll / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("objective, update", [("crf", "--sparse"), ("token", "--sparse"), ("crf", "--no-sparse")])
def test_window_tagger_learns_a_toy_corpus(import_example, write_glove, tmp_path, capsys, objective, update):
    ner = import_example("ner_window")
    write_toy_conll(tmp_path)
    write_glove(tmp_path, [w.lower() for w in PEOPLE + PLACES + WORDS] + ["."])
    results = ner.main(["--data", str(tmp_path), "--epochs", "15", "--hidden", "32", "--batch-size", "8",
                        "--lr", "5e-3", "--objective", objective, update])
    out = capsys.readouterr().out
    assert ("sparse (SparseAdam) embedding update" in out) == (update == "--sparse")
    assert "best dev epoch" in out and "FB1" in out
    assert results["dev_f1"] >= 0.9 and results["test_f1"] >= 0.9
    assert results["train_seconds"] > 0


def test_missing_data_folder_exits_with_a_message(import_example, tmp_path):
    ner = import_example("ner_window")
    with pytest.raises(SystemExit, match="data files not found.*wnut17train.conll"):
        ner.main(["--data", str(tmp_path), "--dataset", "wnut17"])


def test_compare_sparse_alternates_both_updates_from_the_same_weights(import_example, write_glove, tmp_path, capsys):
    ner = import_example("ner_window")
    write_toy_conll(tmp_path)
    write_glove(tmp_path, [w.lower() for w in PEOPLE + PLACES + WORDS] + ["."])
    results = ner.main(["--data", str(tmp_path), "--epochs", "2", "--hidden", "16", "--batch-size", "8",
                        "--compare-sparse"])
    out = capsys.readouterr().out
    epochs = [line.split(":")[0] for line in out.splitlines() if line.startswith("epoch ")]
    assert epochs == ["epoch 1 [sparse (SparseAdam)]", "epoch 1 [dense (Adam)]",
                      "epoch 2 [dense (Adam)]", "epoch 2 [sparse (SparseAdam)]"]
    assert "dense / sparse time" in out and results["dense_over_sparse_time"] > 0


def test_sparse_trainer_steps_the_tables_with_sparse_adam(import_example):
    ner = import_example("ner_window")
    tags = ner.build_tag_vocab([["O", "B-PER", "I-PER"]])
    model = ner.WindowTagger(np.zeros((6, 4), np.float32), 5, 5, len(tags), 3, 8, 0.0, 0.0, sparse=True)
    trainer = ner.Trainer(model, tags, ner.parse_args([]), sparse=True)
    adam, sparse_adam = trainer.optimizers
    tables = [model.words.weight, model.casings.weight, model.prefixes.weight, model.suffixes.weight]
    assert type(sparse_adam).__name__ == "SparseAdam"
    assert [id(p) for p in sparse_adam.param_groups[0]["params"]] == [id(p) for p in tables]
    assert {id(p) for p in adam.param_groups[0]["params"]}.isdisjoint(id(p) for p in tables)
    split = ner.Split(words=np.array([[1, 2, 3], [2, 3, 4]]), casings=np.zeros((2, 3), np.int64),
                      prefixes=np.ones((2, 3), np.int64), suffixes=np.ones((2, 3), np.int64),
                      tags=np.array([1, 2]), starts=np.array([0]), lengths=np.array([2]), gold=[["B-PER", "I-PER"]])
    before = model.words.weight.numpy().copy()
    trainer.step(split, np.array([0]))
    assert model.words.weight.grad.is_sparse
    np.testing.assert_array_equal(model.words.weight.grad.indices().numpy()[0], [1, 2, 3, 4])
    changed = np.flatnonzero((model.words.weight.numpy() != before).any(axis=1))
    np.testing.assert_array_equal(changed, [1, 2, 3, 4])  # lazy: rows 0 and 5 are not in the batch
