"""What the commands share: the one-line error, argument parsers, the MLP they train and the split."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np


class CliError(Exception):
    """A command that cannot run as asked: printed as one ``fastnn: error: ...`` line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with its errors raised as :class:`CliError` (one line, not the usage block)."""

    def error(self, message: str):  # type: ignore[override]
        raise CliError(f"{self.prog}: {message}")


def hidden_sizes(text: str) -> list[int]:
    """``--hidden 128,64``: positive comma-separated layer widths."""
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated integers, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def positive(kind):
    """An argparse type: ``kind(text)``, which must be a finite number > 0."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a positive {kind.__name__}, got {text!r}") from None
        if not np.isfinite(value) or value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number between 0 and 1, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_mlp(n_in: int, hidden: Sequence[int], n_out: int):
    """Linear-ReLU blocks of the given hidden sizes, then a Linear output layer."""
    from fastnn import nn

    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation row indices: a seeded shuffle, at least one validation row."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(n * val_fraction)))
    if n - n_val < 1:
        raise CliError(f"not enough rows ({n}) for a validation split of {val_fraction}")
    return np.sort(order[n_val:]), np.sort(order[:n_val])


__all__ = ["CliError", "Parser", "build_mlp", "fraction", "hidden_sizes", "positive", "split_indices"]


def thread_count(text: str) -> int | str:
    """--threads: a positive integer or "auto"."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}")
    return value
