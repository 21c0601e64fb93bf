"""Fixtures for the example scripts: importing them from examples/ and writing tiny corpora."""

from __future__ import annotations

import gzip
import importlib
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def import_example(monkeypatch):
    """Import an example module by name, with examples/ on sys.path as when it runs as a script."""
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def load(name: str):
        return importlib.import_module(name)

    return load


@pytest.fixture
def write_glove():
    """Write a gzipped GloVe-format file with random vectors for ``words`` under ``folder``'s GloVe path."""

    def write(folder: Path, words: list[str], dim: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        path = folder / "glove-6b-50d-top100k" / "glove.6B.50d.top100k.txt.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8") as f:
            for word in words:
                f.write(word + " " + " ".join(f"{v:.5f}" for v in rng.normal(size=dim)) + "\n")

    return write
