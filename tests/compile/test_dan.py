"""The DAN of examples/sentiment_dan.py compiled: padded bags give the bags' means, and the
compiled step (EmbeddingBag(mean, padding) + dropout + ReLU layers, Adam with two groups)
follows the eager step with (ids, offsets)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim
from fastnn.text import bag_inputs

from .helpers import assert_same, snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def dan(monkeypatch):
    """examples/sentiment_dan.py, imported as when it runs as a script."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module("sentiment_dan")


def _batches(rng, n_batches=6, vocab=30, pad=0):
    out = []
    for _ in range(n_batches):
        texts = [rng.integers(1, vocab, rng.integers(0, 7)) for _ in range(9)]
        ids, offsets = bag_inputs(texts)
        out.append((ids, offsets, rng.integers(0, 2, len(texts))))
    return out


def test_padded_bags_give_the_same_means(dan):
    rng = np.random.default_rng(0)
    bag = nn.EmbeddingBag(30, 4, mode="mean", padding_idx=0)
    for ids, offsets, _ in _batches(rng):
        expected = bag(fn.tensor(ids), fn.tensor(offsets)).numpy()
        np.testing.assert_array_equal(bag(fn.tensor(dan.padded_bags(ids, offsets, 0))).numpy(), expected)


def test_compiled_dan_follows_the_eager_dan(dan):
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((30, 4)).astype(np.float32)
    batches = _batches(rng)
    results = []
    for compiled in (False, True):
        fn.manual_seed(0)
        model = dan.DAN(vectors, hidden=8, layers=2, dropout=0.2, freeze=False, padding_idx=0)
        opt = optim.Adam([{"params": list(model.classifier.parameters())},
                          {"params": [model.embedding.weight], "lr": 0.003}], lr=0.01)
        loss_fn = nn.CrossEntropyLoss()
        step = fn.compile_step(nn.Sequential(model.embedding, *model.classifier), loss_fn, opt) if compiled else None
        for ids, offsets, labels in batches:
            if compiled:
                step(dan.padded_bags(ids, offsets, 0), labels)
                assert step.fallback_reason is None
            else:
                opt.zero_grad()
                loss_fn(model(fn.tensor(ids), fn.tensor(offsets)), fn.tensor(labels)).backward()
                opt.step()
        results.append(snapshot(model, opt))
    assert_same(results[0], results[1], np.float32)
