"""examples/sentiment_features.py: the hand-built features and the missing-data exit."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sentiment_features.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("sentiment_features_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_features_count_lexicon_words_and_negation_scope(example):
    tokens = "i did n't find it funny , but the cast is great !".split()
    # funny is negated (after n't, same clause); the comma ends the scope, so great is not
    expected = [1, 0, 1, 0, 1.0, 1, 1.0, np.log1p(13)]
    assert example.sentence_features(tokens) == pytest.approx(expected)


def test_features_of_a_plain_negative_sentence(example):
    tokens = "a dull , tedious mess .".split()
    assert example.sentence_features(tokens) == pytest.approx([0, 3, 0, 0, 0.0, 0, 0.0, np.log1p(6)])


def test_missing_data_folder_exits_with_a_message(example, tmp_path):
    with pytest.raises(SystemExit, match="SST-2 sentence-level files not found"):
        example.main(["--data", str(tmp_path)])
