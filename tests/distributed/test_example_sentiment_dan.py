"""examples/sentiment_dan.py --distributed: the batch shards, and a real 2-rank run on a tiny corpus."""

from __future__ import annotations

import gzip
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples"


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def _write_glove(folder: Path, words: list[str], dim: int = 8) -> None:
    rng = np.random.default_rng(0)
    path = folder / "glove-6b-50d-top100k" / "glove.6B.50d.top100k.txt.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for word in words:
            f.write(word + " " + " ".join(f"{v:.5f}" for v in rng.normal(size=dim)) + "\n")


def _corpus(tmp_path: Path) -> None:
    _module("sst_corpus", TESTS / "examples" / "test_sentiment_dan.py").write_sst(tmp_path, _write_glove)


def test_rank_shards_of_each_batch_are_the_whole_batch(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    dan = _module("sentiment_dan_under_test", EXAMPLES / "sentiment_dan.py")
    _corpus(tmp_path)
    corpus = dan.load_corpus(tmp_path, "sentences", tmp_path / dan.GLOVE_FILE)
    whole = dan.epoch_batches(corpus, 16, 0.3, np.random.default_rng(1))
    shards = [dan.epoch_batches(corpus, 16, 0.3, np.random.default_rng(1), rank, 3) for rank in range(3)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) >= len(whole) - 1
    for index, (ids, offsets, labels) in enumerate(whole[:len(shards[0])]):
        bags = np.split(ids, offsets[1:])
        for rank in range(3):
            r_ids, r_offsets, r_labels = shards[rank][index]
            expected = bags[rank::3]
            got = np.split(r_ids, r_offsets[1:])
            assert len(got) == len(expected) and all(np.array_equal(a, b) for a, b in zip(got, expected))
            np.testing.assert_array_equal(r_labels, labels[rank::3])


def test_two_ranks_train_the_dan(run_mpi, tmp_path):
    _corpus(tmp_path)
    job = run_mpi(2, sys.executable, "-m", "mpi4py", str(EXAMPLES / "sentiment_dan.py"), "--distributed", "--data",
                  str(tmp_path), "--train", "sentences", "--epochs", "12", "--hidden", "32", "--batch-size", "16",
                  "--lr", "1e-2")
    assert job.returncode == 0, job.stderr
    assert job.stdout.count("data-parallel over 2 MPI ranks") == 1  # rank 0 prints, once
    accuracy = float(re.search(r"ensemble of 1 seeds ([\d.]+)%", job.stdout).group(1))
    assert accuracy >= 90.0
