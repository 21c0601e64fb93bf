"""``fused=True`` optimizers (torch's flag): every parameter updated in one compiled call.

The first fused step moves the parameters into one flat buffer (``p.array`` becomes a view)
and keeps the optimizer state in flat buffers too (``optimizer.state[p][key]`` are views), as
the compiled step does; each step copies the (already checked) gradients into a flat gradient
buffer and runs one compiled update over all parameters (the step interpreter's, ``kernels.Updater``),
with each parameter's hyper-parameters read from its group. A step where some parameter has no
gradient or a row-sparse one runs the per-parameter path instead (returns False).
"""

from __future__ import annotations

import weakref

import numpy as np

from fastnn.compile import kernels
from fastnn.compile.planner import OPTIMIZERS
from fastnn.compile.state import FlatState, flatten_parameters
from fastnn.tensor import SparseTensor

FUSED_KINDS = ("sgd", "adam", "adagrad")
_updaters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FusedUpdate:
    """One optimizer's parameters and state in flat buffers (fastnn.compile.state), updated by one call."""

    def __init__(self, optimizer) -> None:
        self.optimizer = optimizer
        params = [p for group in optimizer.param_groups for p in group["params"]]
        self.bounds = np.cumsum([0] + [p.array.size for p in params]).tolist()
        dtype = params[0].array.dtype
        self.params = params
        self._P, self._views = flatten_parameters(params, self.bounds, dtype)
        self._G = np.zeros_like(self._P)
        self._bounds = np.asarray(self.bounds, dtype=np.int64)
        self._state = FlatState([optimizer], [OPTIMIZERS[type(optimizer)]], params, self.bounds, dtype)
        self._index = {id(p): i for i, p in enumerate(params)}
        self._updater: kernels.Updater | None = None  # over the state buffers of version _updater_version
        self._updater_version = -1

    def usable(self) -> bool:
        """The layout still fits the optimizer (same groups, parameters, shapes and dtype)."""
        if not self._state.current():
            return False
        for param, view in zip(self.params, self._views):
            if param.array is not view:
                if param.array.shape != view.shape or param.array.dtype != view.dtype:
                    return False
                view[...] = param.array
                param.array = view
        return True

    def update(self, work: list) -> bool:
        """Apply the step to all parameters at once; False when some parameter cannot take part."""
        pairs = [(param, grad) for _, params, grads in work for param, grad in zip(params, grads)]
        if len(pairs) != len(self.params) or any(isinstance(grad, SparseTensor) for _, grad in pairs):
            return False
        bounds = self.bounds
        for param, grad in pairs:
            i = self._index[id(param)]
            self._G[bounds[i]:bounds[i + 1]] = grad.reshape(-1)
        state = self._state
        attach = state.prepare()
        if self._updater is None or self._updater_version != state.version:
            self._updater = kernels.Updater(self._P, self._G, state.S, state.H, state.steps, self._bounds)
            self._updater_version = state.version
        if not self._updater():
            raise RuntimeError(f"{type(self.optimizer).__name__}(fused=True): the state buffers are shorter than the "
                               "options need (an internal error of fastnn); no parameter was changed")
        state.commit(attach)
        return True


def fused_step(optimizer, work: list) -> bool:
    """Optimizer.step's fused path: True when the update was applied (all parameters, one call)."""
    if OPTIMIZERS.get(type(optimizer)) not in FUSED_KINDS:
        return False
    dtypes = {p.array.dtype for group in optimizer.param_groups for p in group["params"]}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.dtype(np.float32), np.dtype(np.float64)):
        return False
    try:
        kernels.interpreter()
    except ImportError:  # the interpreter is not built (or stale): the per-parameter path
        return False
    updater = _updaters.get(optimizer)
    if updater is None or not updater.usable():
        updater = _updaters[optimizer] = FusedUpdate(optimizer)
    return updater.update(work)


__all__ = ["FusedUpdate", "fused_step"]
