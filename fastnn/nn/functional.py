"""fastnn.nn.functional: PyTorch's functional API, a facade over :mod:`fastnn.ops`.

Each function is defined once in its op group (``fastnn/ops/<group>.py``), with its checks and
its backward; this module only gives it torch.nn.functional's name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.autograd.engine import TensorBase, wrap
from fastnn.ops.activations import gelu, hardtanh, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from fastnn.ops.checks import as_tensor
from fastnn.ops.dropout import dropout
from fastnn.ops.embedding import embedding, embedding_bag
from fastnn.ops.linear import linear, linear_activation
from fastnn.ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)

MAX_ONE_HOT_ELEMENTS = 2**31  # an int64 one-hot matrix larger than 16 GiB is a mistake, not a request


def one_hot(tensor: Any, num_classes: int = -1) -> TensorBase:
    """int64 one-hot rows (..., num_classes) of integer class ids (num_classes = max id + 1 when -1)."""
    ids = as_tensor(tensor, "one_hot", "tensor").array
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expects integer class ids, got {ids.dtype}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an integer, got {type(num_classes).__name__}")
    if num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 (infer) or >= 0, got {num_classes}")
    if num_classes == -1:
        num_classes = int(ids.max()) + 1 if ids.size else 0
    if ids.size * num_classes > MAX_ONE_HOT_ELEMENTS:
        raise ValueError(f"one_hot: {ids.size} ids x {num_classes} classes is more than "
                         f"{MAX_ONE_HOT_ELEMENTS} elements (a class id of {int(ids.max())}?)")
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise IndexError(f"one_hot: class ids must lie in [0, {num_classes}), got {ids.min()}..{ids.max()}")
    return wrap(np.eye(num_classes, dtype=np.int64)[ids])


__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "embedding",
    "embedding_bag", "gelu", "hardtanh", "l1_loss", "leaky_relu", "linear", "linear_activation", "log_softmax",
    "mse_loss", "nll_loss", "one_hot", "relu", "sigmoid", "softmax", "tanh",
]
from fastnn.nn.functional_extra import *  # noqa: E402, F401, F403  (issue 10: more functional forms)
from fastnn.nn.layer_norm import layer_norm  # noqa: E402, F401  (the fused kernel family layer_norm)
