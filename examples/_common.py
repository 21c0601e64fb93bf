"""Helpers shared by the NLP examples: finding the datasets folder, seeding, timing."""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import fastnn

GLOVE_FILE = Path("glove-6b-50d-top100k") / "glove.6B.50d.top100k.txt.gz"


def find_data(example: str, cli_value: str | None, required: Sequence[Path | str]) -> Path:
    """The datasets folder: ``--data``, else ``$FASTNN_DATA``, else ``../shared/datasets`` next to the repository.

    Exits with a message naming the missing files when any of ``required`` (paths relative to the
    folder) is absent.
    """
    repo = Path(__file__).resolve().parents[1]
    folder = Path(cli_value or os.environ.get("FASTNN_DATA") or repo.parent / "shared" / "datasets")
    missing = [str(folder / p) for p in required if not (folder / p).is_file()]
    if missing:
        sys.exit(f"{example}: data files not found: {', '.join(missing)}\n"
                 f"Pass the datasets folder with --data DIR or set FASTNN_DATA (see shared/datasets/README.md).")
    return folder


def seed_everything(seed: int) -> np.random.Generator:
    """Seed fastnn's generator and Python's, and return a NumPy generator for data order and word dropout."""
    fastnn.manual_seed(seed)
    random.seed(seed)
    return np.random.default_rng(seed)


class Stopwatch:
    """Accumulates the seconds spent inside ``with watch.running():`` blocks (training only, not evaluation)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - start
