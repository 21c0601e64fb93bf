"""The all-or-nothing checks every optimizer step and functional form runs before it updates anything:
gradients (shape, dtype, finite values), per-parameter state arrays, step counts, and the refusal
of row-sparse gradients where PyTorch refuses them."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from fastnn.backends.checks import FLOAT_DTYPES
from fastnn.tensor import SparseTensor


def check_gradients(op: str, params: Sequence[np.ndarray], grads: Sequence[np.ndarray | SparseTensor],
                    where: Sequence[str] | None = None) -> None:
    """Raise (before any update) unless each grads[i] is a finite array (or row-sparse tensor) of
    params[i]'s shape and dtype, and each params[i] a C-contiguous writeable float array.

    ``where[i]`` names parameter i in the message (default ``param i``).
    """
    if not isinstance(params, Sequence) or not isinstance(grads, Sequence):
        raise TypeError(f"{op}: params and grads must be lists of arrays, got {type(params).__name__} and "
                        f"{type(grads).__name__}")
    if len(params) != len(grads):
        raise ValueError(f"{op}: got {len(params)} params but {len(grads)} grads")
    for i, (param, grad) in enumerate(zip(params, grads)):
        name = where[i] if where is not None else f"param {i}"
        if not isinstance(param, np.ndarray) or param.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} must be a float32/float64 numpy array, got "
                            f"{getattr(param, 'dtype', type(param).__name__)}")
        if not param.flags.c_contiguous or not param.flags.writeable:
            raise ValueError(f"{op}: {name} {param.shape} must be C-contiguous and writeable to be updated in place")
        if not isinstance(grad, (np.ndarray, SparseTensor)):
            raise TypeError(f"{op}: the gradient of {name} must be a numpy array, got {type(grad).__name__}")
        if grad.shape != param.shape:
            raise ValueError(f"{op}: the gradient of {name} has shape {grad.shape}, expected the parameter's "
                             f"shape {param.shape}")
        if grad.dtype != param.dtype:
            raise TypeError(f"{op}: the gradient of {name} {param.shape} has dtype {grad.dtype}, expected "
                            f"the parameter's dtype {param.dtype}")
        values = grad.values().array if isinstance(grad, SparseTensor) else grad
        finite = np.isfinite(values)
        if not finite.all():
            raise ValueError(f"{op}: the gradient of {name} {param.shape} has {int(values.size - finite.sum())} "
                             "non-finite value(s) (nan or inf); no parameter was updated")


def check_states(op: str, params: Sequence[np.ndarray], needed: Sequence[str] = (),
                 **states: Sequence[np.ndarray | None]) -> None:
    """Raise unless every state list has one entry per parameter, each an array of its parameter's
    shape and dtype that can be updated in place, or None where the key is not in ``needed``."""
    for key, values in states.items():
        if not isinstance(values, Sequence) or len(values) != len(params):
            got = len(values) if isinstance(values, Sequence) else type(values).__name__
            raise ValueError(f"{op}: {key} must be a list with one entry per parameter ({len(params)}), got {got}")
        for i, (param, value) in enumerate(zip(params, values)):
            if value is None and key not in needed:
                continue
            if not isinstance(value, np.ndarray):
                raise TypeError(f"{op}: {key}[{i}] must be a numpy array, got {type(value).__name__}")
            if value.shape != param.shape or value.dtype != param.dtype:
                raise ValueError(f"{op}: {key}[{i}] is {value.shape} {value.dtype}, expected param {i}'s "
                                 f"{param.shape} {param.dtype}")
            if not value.flags.c_contiguous or not value.flags.writeable:
                raise ValueError(f"{op}: {key}[{i}] must be C-contiguous and writeable to be updated in place")


def check_steps(op: str, params: Sequence[np.ndarray], state_steps: Sequence[int]) -> None:
    """Raise unless ``state_steps`` holds one integer >= 1 per parameter (the count after this step)."""
    if not isinstance(state_steps, Sequence) or len(state_steps) != len(params):
        raise ValueError(f"{op}: state_steps must be a list with one step count per parameter ({len(params)})")
    for i, step in enumerate(state_steps):
        if isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Integral) or step < 1:
            raise ValueError(f"{op}: state_steps[{i}] must be an integer >= 1 (the count after this step), "
                             f"got {step!r}")


def reject_sparse(op: str, grads: Sequence[np.ndarray | SparseTensor], reason: str,
                  where: Sequence[str] | None = None) -> None:
    """Raise RuntimeError ``{op}: {reason}`` naming the first gradient that is row-sparse."""
    for i, grad in enumerate(grads):
        if isinstance(grad, SparseTensor):
            name = where[i] if where is not None else f"param {i}"
            raise RuntimeError(f"{op}: {reason} (the gradient of {name} {grad.shape} is sparse)")
