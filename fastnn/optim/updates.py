"""Update helpers the optimizers share: the gradient to descend (``maximize``) and the row-sparse
update (a dense update kernel applied to the rows a sparse gradient holds)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fastnn.tensor import SparseTensor


def ascent(grad: np.ndarray, maximize: bool) -> np.ndarray:
    """The gradient to descend: -grad to maximize, grad itself otherwise."""
    return np.negative(grad) if maximize else grad


def rowwise_update(kernel: Callable[..., None], grad: SparseTensor, maximize: bool, param: np.ndarray,
                   *states: np.ndarray, **options: float | int) -> None:
    """kernel(param[r], g, *(state[r] for each state), **options) on gathered copies of the rows r a
    row-sparse grad holds (g its values, negated to maximize), written back after: the fused dense
    update kernel applied to those rows only."""
    rows = grad.indices().array[0]
    arrays = [param, *states]
    gathered = [array[rows] for array in arrays]
    kernel(gathered[0], ascent(grad.values().array, maximize), *gathered[1:], **options)
    for array, part in zip(arrays, gathered):
        array[rows] = part
