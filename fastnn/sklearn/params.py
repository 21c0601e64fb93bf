"""The MLP estimators' hyperparameter vocabulary and checks (scikit-learn's names and error kinds)."""

from __future__ import annotations

import numbers
from typing import Any

from fastnn import nn

HIDDEN_ACTIVATIONS = ("identity", "logistic", "tanh", "relu", "leaky_relu", "gelu")
REGRESSION_LOSSES = ("squared_error", "absolute_error", "huber", "poisson")


def hidden_activation(name: str) -> nn.Module | None:
    """The fastnn layer for one of scikit-learn's activation names (None for identity)."""
    return {"identity": None, "logistic": nn.Sigmoid(), "tanh": nn.Tanh(), "relu": nn.ReLU(),
            "leaky_relu": nn.LeakyReLU(0.01), "gelu": nn.GELU()}[name]


def check_positive(name: str, value: Any, kind: type = numbers.Real, low: float = 0.0, strict: bool = True,
                   high: float | None = None) -> None:
    """Raise scikit-learn's kind of ValueError/TypeError for a bad hyperparameter."""
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"The '{name}' parameter must be a {kind.__name__}, got {value!r} "
                        f"of type {type(value).__name__}")
    if (value <= low if strict else value < low) or (high is not None and value > high) or value != value:
        bound = f"{'>' if strict else '>='} {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"The '{name}' parameter must be {bound}, got {value!r}")

