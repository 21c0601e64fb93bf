"""Tabular data for the command line: read a CSV file, turn its columns into model inputs.

Numeric feature columns are standardised (mean/std of the training rows); text columns are
one-hot encoded with the categories seen in training (unseen ones encode as all zeros). A
classification target is label-encoded; a regression target is standardised. The fitted
preprocessor is a plain dict, so it is saved inside the model file next to the weights.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

import numpy as np


class DataError(ValueError):
    """A CSV file that cannot be used as asked (missing column, empty cell, bad number)."""


def read_csv(path: str | os.PathLike) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a comma-separated file (UTF-8, first line is the header)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from None
    rows = [r for r in rows if r]
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header line and at least one data row")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise DataError(f"{path}: duplicate column names in the header")
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {i} has {len(row)} fields, the header has {len(header)}")
    return header, rows[1:]


def _numeric(values: Sequence[str]) -> np.ndarray | None:
    try:
        return np.array([float(v) for v in values], dtype=np.float64)
    except ValueError:
        return None


def _non_finite_error(path, cells: list[tuple[int, str]], what: str) -> DataError:
    """The error naming the (line, column) cells that hold nan or inf (the first ten of them)."""
    cells = sorted(cells)
    shown = ", ".join(f"line {line} column {name!r}" for line, name in cells[:10])
    more = f" and {len(cells) - 10} more" if len(cells) > 10 else ""
    return DataError(f"{path}: {len(cells)} value(s) that are not finite numbers (nan, inf, or too large to "
                     f"standardise) at {shown}{more}; {what}")


def check_finite(path, header: list[str], rows: list[list[str]], skip: Sequence[str] = ()) -> None:
    """Raise DataError naming every (line, column) that holds nan or inf in a numeric column (one
    whose every cell reads as a number), except the columns in ``skip``."""
    cells = []
    for j, name in enumerate(header):
        if name in skip:
            continue
        numbers = _numeric([r[j].strip() for r in rows])
        if numbers is not None:
            cells += [(int(i) + 2, name) for i in np.flatnonzero(~np.isfinite(numbers))]
    if cells:
        raise _non_finite_error(path, cells, "fastnn cannot train on them; remove or fill those cells")


def _column(path, header, rows, name) -> list[str]:
    if name not in header:
        raise DataError(f"{path}: no column {name!r}; columns are {', '.join(header)}")
    j = header.index(name)
    values = [r[j].strip() for r in rows]
    for i, v in enumerate(values, start=2):
        if v == "":
            raise DataError(f"{path}: empty value in column {name!r} at line {i}")
    return values


def _standardisation(path, name: str, numbers: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (1 for a constant column) of a numeric column's training values,
    which must be finite, and so must the two statistics (values near 1e308 overflow them)."""
    if not np.isfinite(numbers).all():
        raise DataError(f"{path}: numeric column {name!r} holds nan or inf; remove or fill those cells")
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(numbers.mean()), float(numbers.std())
    if not (np.isfinite(mean) and np.isfinite(std)):
        raise DataError(f"{path}: numeric column {name!r} holds values too large to standardise "
                        f"(up to {np.abs(numbers).max():.3g}); rescale that column")
    return mean, std if std > 0 else 1.0


def fit_preprocessor(path, header: list[str], rows: list[list[str]], target: str, task: str) -> dict:
    """Learn the encoding of every feature column and of the target from the training rows."""
    if task not in ("classification", "regression"):
        raise DataError(f"task must be 'classification' or 'regression', got {task!r}")
    features = []
    for name in header:
        if name == target:
            continue
        values = _column(path, header, rows, name)
        numbers = _numeric(values)
        if numbers is not None:
            mean, std = _standardisation(path, name, numbers)
            features.append({"name": name, "kind": "numeric", "mean": mean, "std": std})
        else:
            features.append({"name": name, "kind": "categorical", "categories": sorted(set(values))})
    if not features:
        raise DataError(f"{path}: no feature columns besides the target {target!r}")
    y = _column(path, header, rows, target)
    if task == "classification":
        numbers = _numeric(y)
        classes = sorted(set(y), key=float) if numbers is not None else sorted(set(y))
        if len(classes) < 2:
            raise DataError(f"{path}: the target {target!r} has a single class {classes[0]!r}")
        spec = {"kind": "classes", "classes": classes}
    else:
        numbers = _numeric(y)
        if numbers is None:
            raise DataError(f"{path}: regression needs a numeric target, but {target!r} holds text")
        mean, std = _standardisation(path, target, numbers)
        spec = {"kind": "numeric", "mean": mean, "std": std}
    return {"target": target, "task": task, "features": features, "target_spec": spec}


def transform_features(path, header, rows, prep: dict) -> np.ndarray:
    """The float32 feature matrix of ``rows`` under a fitted preprocessor. A numeric cell that is
    nan or inf is a DataError naming every such line and column (no prediction is made from it)."""
    blocks, non_finite = [], []
    for feat in prep["features"]:
        values = _column(path, header, rows, feat["name"])
        if feat["kind"] == "numeric":
            numbers = _numeric(values)
            if numbers is None:
                bad = next(v for v in values if _numeric([v]) is None)
                raise DataError(f"{path}: column {feat['name']!r} should be numeric, found {bad!r}")
            with np.errstate(over="ignore", invalid="ignore"):  # the model computes in float32
                scaled = ((numbers - feat["mean"]) / feat["std"]).astype(np.float32)
            bad_rows = np.flatnonzero(~np.isfinite(scaled))
            if bad_rows.size:
                non_finite += [(int(i) + 2, feat["name"]) for i in bad_rows]
                continue
            blocks.append(scaled[:, None])
        else:
            index = {c: k for k, c in enumerate(feat["categories"])}
            onehot = np.zeros((len(values), len(index)))
            for i, v in enumerate(values):
                if v in index:
                    onehot[i, index[v]] = 1.0
            blocks.append(onehot)
    if non_finite:
        raise _non_finite_error(path, non_finite, "the model cannot use them; remove or fill those cells")
    return np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)


def transform_target(path, header, rows, prep: dict) -> np.ndarray:
    """int64 class ids (classification) or the standardised float32 target (regression)."""
    y = _column(path, header, rows, prep["target"])
    spec = prep["target_spec"]
    if spec["kind"] == "classes":
        index = {c: k for k, c in enumerate(spec["classes"])}
        unknown = sorted(set(y) - set(index))
        if unknown:
            raise DataError(f"{path}: target values {unknown[:5]} were not seen in training")
        return np.array([index[v] for v in y], dtype=np.int64)
    numbers = _numeric(y)
    if numbers is None:
        raise DataError(f"{path}: the target {prep['target']!r} should be numeric")
    if not np.isfinite(numbers).all():
        lines = [int(i) + 2 for i in np.flatnonzero(~np.isfinite(numbers))]
        raise _non_finite_error(path, [(line, prep["target"]) for line in lines], "the target must be finite")
    return ((numbers - spec["mean"]) / spec["std"]).astype(np.float32)[:, None]


def decode_predictions(outputs: np.ndarray, prep: dict) -> list[str]:
    """Model outputs back to the target's own values (class names, or unstandardised numbers)."""
    spec = prep["target_spec"]
    if spec["kind"] == "classes":
        return [spec["classes"][k] for k in outputs.argmax(axis=1)]
    return [repr(float(v)) for v in outputs[:, 0] * spec["std"] + spec["mean"]]
