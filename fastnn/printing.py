"""Printing tensors as PyTorch does (torch/_tensor_str.py's rules, for dense real tensors).

Floats: precision 4; "integer mode" (``1., 2.``) when every finite value is whole; scientific
notation when max/min of the non-zero finite magnitudes exceeds 1000, the max exceeds 1e8 or the
min is below 1e-4; every element padded to one width; more than 1000 elements are summarised by
3 edge items per dim; lines wrap at 80 characters. Suffixes: ``dtype=`` unless the dtype is
float32, int64 or bool; ``size=`` for empty tensors that are not 1-D; ``grad_fn=<...>`` or
``requires_grad=True``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_DEFAULT_DTYPES = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))


def set_printoptions(precision: int | None = None, threshold: float | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None,
                     sci_mode: bool | None = None) -> None:
    """Set how tensors print (torch.set_printoptions): profile 'default', 'short' or 'full' first,
    then the options given."""
    if profile is not None:
        profiles = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}
        if profile not in profiles:
            raise ValueError(f"set_printoptions: profile must be one of {', '.join(profiles)}, got {profile!r}")
        OPTIONS.update(zip(("precision", "threshold", "edgeitems", "linewidth"), profiles[profile]))
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                       ("linewidth", linewidth)):
        if value is not None:
            OPTIONS[key] = value
    OPTIONS["sci_mode"] = sci_mode


def get_printoptions() -> dict:
    """The current print options."""
    return dict(OPTIONS)


class _Formatter:
    """One width and one notation for every element of a tensor (torch's _Formatter)."""

    def __init__(self, values: np.ndarray) -> None:
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        precision = OPTIONS["precision"]
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(f"{v}"))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            return
        magnitude = np.abs(finite).astype(np.float64)
        low, high = magnitude.min(), magnitude.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        sci = OPTIONS["sci_mode"]
        self.sci_mode = (high / low > 1000.0 or high > 1.0e8 or low < 1.0e-4) if sci is None else sci
        pieces = finite.tolist()
        if self.sci_mode:
            self.max_width = max(self.max_width, *(len(f"{v:.{precision}e}") for v in pieces))
        elif self.int_mode:
            self.max_width = max(self.max_width, *(len(f"{v:.0f}") + 1 for v in pieces))
        else:
            self.max_width = max(self.max_width, *(len(f"{v:.{precision}f}") for v in pieces))

    def format(self, value: Any) -> str:
        precision = OPTIONS["precision"]
        if self.floating:
            if self.sci_mode:
                text = f"{value:{self.max_width}.{precision}e}"
            elif self.int_mode:
                text = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    text += "."
            else:
                text = f"{value:.{precision}f}"
        else:
            text = f"{value}"
        return (self.max_width - len(text)) * " " + text


def _summarized(a: np.ndarray) -> np.ndarray:
    """The elements that will be shown (edge items of every dim), for choosing the format."""
    edge = OPTIONS["edgeitems"]
    if a.ndim == 0:
        return a
    if a.shape[0] > 2 * edge:
        a = np.concatenate([a[:edge], a[-edge:]]) if edge else a[:0]
    if a.ndim == 1:
        return a
    return np.stack([_summarized(row) for row in a]) if a.shape[0] else a


def _vector(a: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    per_line = max(1, math.floor((OPTIONS["linewidth"] - indent) / (formatter.max_width + 2)))
    edge = OPTIONS["edgeitems"]
    if summarize and not edge:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * edge:
        data = ([formatter.format(v) for v in a[:edge].tolist()] + [" ..."]
                + [formatter.format(v) for v in a[-edge:].tolist()])
    else:
        data = [formatter.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(a: np.ndarray, indent: int, summarize: bool, formatter: _Formatter) -> str:
    if a.ndim == 0:
        return formatter.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, formatter)
    edge = OPTIONS["edgeitems"]
    if summarize and a.shape[0] > 2 * edge:
        slices = ([_nested(a[i], indent + 1, summarize, formatter) for i in range(edge)] + ["..."]
                  + [_nested(a[i], indent + 1, summarize, formatter) for i in range(a.shape[0] - edge, a.shape[0])])
    else:
        slices = [_nested(a[i], indent + 1, summarize, formatter) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def array_str(a: np.ndarray, indent: int) -> str:
    """The bracketed elements of `a` as PyTorch prints them after a prefix of `indent` characters."""
    if a.size == 0:
        return "[]"
    summarize = a.size > OPTIONS["threshold"]
    return _nested(a, indent, summarize, _Formatter(_summarized(a) if summarize else a))


def tensor_repr(a: np.ndarray, grad_fn: str | None, requires_grad: bool, prefix: str = "tensor(") -> str:
    """`prefix` + elements + suffixes + ")", as torch's Tensor.__repr__."""
    indent = len(prefix)
    suffixes = []
    dtype_name = "fastnn." + ("bool" if a.dtype == np.bool_ else str(a.dtype))
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype != np.float32:
            suffixes.append(f"dtype={dtype_name}")
        body = "[]"
    else:
        if a.dtype not in _DEFAULT_DTYPES:
            suffixes.append(f"dtype={dtype_name}")
        body = array_str(a, indent)
    if grad_fn is not None:
        suffixes.append(f"grad_fn=<{grad_fn}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    text = prefix + body
    last_line = len(text) - text.rfind("\n") + 1
    parts = [text]
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > OPTIONS["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


__all__ = ["OPTIONS", "array_str", "get_printoptions", "set_printoptions", "tensor_repr"]
