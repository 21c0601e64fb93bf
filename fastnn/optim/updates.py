"""Update helpers the optimizers share: the gradient to descend (``maximize``), the dense update kernel
call once the options are checked, and the row-sparse update (a dense update kernel applied to the
rows a sparse gradient holds)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fastnn.backends import checks, get_backend
from fastnn.backends.contract import KERNELS, OPTIONAL_STATES
from fastnn.tensor import SparseTensor


def ascent(grad: np.ndarray, maximize: bool) -> np.ndarray:
    """The gradient to descend: -grad to maximize, grad itself otherwise."""
    return np.negative(grad) if maximize else grad


def validated_update(kernel: str, *args) -> None:
    """The backend's optimizer kernel `kernel` (``sgd_update`` ...) on every argument in the contract's
    order, for callers that have checked the options and pass them as Python floats, bools and ints
    (the optimizers and their functional forms): unchecked when the arrays need no conversion and
    cannot overlap (:func:`checks.ready_for_update`), else through the checked kernel, which converts
    them or names what is wrong."""
    backend = get_backend()
    arrays, states = _STATES[kernel]
    ready = checks.ready_for_update(args[0], args[1], args[2:arrays])
    for position, option in states:  # a state given as None: only while its option (if any) is off
        ready = ready and (args[position] is not None or option > 0 and not args[option])
    if ready:
        getattr(backend.unchecked, kernel)(*args)
    else:
        getattr(backend, kernel)(*args[:arrays], **dict(zip(KERNELS[kernel].args[arrays:], args[arrays:])))


def _state_positions(kernel: str) -> tuple[int, list[tuple[int, int]]]:
    """How many leading arguments are arrays (param, grad, the states), and for each state its position
    and that of the option under which the kernel reads it (-1: always)."""
    names = KERNELS[kernel].args
    optional = OPTIONAL_STATES.get(kernel, {})
    arrays = len(KERNELS[kernel].writes) + 1
    return arrays, [(i, names.index(optional[names[i]]) if names[i] in optional else -1) for i in range(2, arrays)]


_STATES = {kernel: _state_positions(kernel) for kernel in KERNELS if kernel.endswith("_update")}


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
