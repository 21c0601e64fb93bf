"""``fused=True`` optimizers (torch's flag): every parameter updated in one compiled call.

The first fused step moves the parameters into one flat buffer (``p.array`` becomes a view)
and keeps the optimizer state in flat buffers too (``optimizer.state[p][key]`` are views), as
the compiled step does; each step copies the (already checked) gradients into a flat gradient
buffer and runs one Numba function over all parameters, with each parameter's hyper-parameters
read from its group. A step where some parameter has no gradient or a row-sparse one runs the
per-parameter path instead (returns False).
"""

from __future__ import annotations

import weakref
from types import SimpleNamespace

import numpy as np

from fastnn.compile import kernels
from fastnn.compile.planner import OPTIMIZERS
from fastnn.compile.step import CompiledStep
from fastnn.tensor import SparseTensor

_KINDS = {"sgd": kernels.OPT_SGD, "adam": kernels.OPT_ADAM, "adagrad": kernels.OPT_ADAGRAD}
_updaters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class FusedUpdate(CompiledStep):
    """The flat buffers and state bookkeeping of the compiled step, without a model."""

    def __init__(self, optimizer) -> None:  # noqa: D107 - deliberately not CompiledStep.__init__
        self.optimizer = optimizer
        params = [p for group in optimizer.param_groups for p in group["params"]]
        bounds = np.cumsum([0] + [p.array.size for p in params]).tolist()
        self.kind = OPTIMIZERS[type(optimizer)]
        self.plan = SimpleNamespace(params=params, bounds=bounds, dtype=params[0].array.dtype, optimizer=self.kind,
                                    layers=[], watched=[], trained=len(params))
        self._layout(self.plan)
        self._index = {id(p): i for i, p in enumerate(params)}

    def usable(self) -> bool:
        """The layout still fits the optimizer (same groups, parameters, shapes and dtype)."""
        if not self._current_groups():
            return False
        for param, view in zip(self.plan.params, self._views):
            if param.array is not view:
                if param.array.shape != view.shape or param.array.dtype != view.dtype:
                    return False
                view[...] = param.array
                param.array = view
        return True

    def _current_groups(self) -> bool:
        groups = self.optimizer.param_groups
        return len(groups) == len(self._groups) and all(
            group is cached and group["params"] is params and len(params) == count
            for group, (cached, params, count) in zip(groups, self._groups))

    def update(self, work: list) -> bool:
        """Apply the step to all parameters at once; False when some parameter cannot take part."""
        pairs = [(param, grad) for _, params, grads in work for param, grad in zip(params, grads)]
        if len(pairs) != len(self.plan.params) or any(isinstance(grad, SparseTensor) for _, grad in pairs):
            return False
        bounds = self.plan.bounds
        for param, grad in pairs:
            i = self._index[id(param)]
            self._G[bounds[i]:bounds[i + 1]] = grad.reshape(-1)
        attach = self._prepare_state()
        S0, S1, S2 = self._S
        kernels.update_all(_KINDS[self.kind], self._P, self._G, S0, S1, S2, self._H, self._steps, self._bounds)
        if attach and isinstance(attach[-1], list):
            for d, s in zip(self._dicts, attach.pop()):
                d["step"] = s
        for d, key, view in attach:
            d[key] = view
        return True


def fused_step(optimizer, work: list) -> bool:
    """Optimizer.step's fused path: True when the update was applied (all parameters, one call)."""
    if OPTIMIZERS.get(type(optimizer)) not in _KINDS:
        return False
    dtypes = {p.array.dtype for group in optimizer.param_groups for p in group["params"]}
    if len(dtypes) != 1 or next(iter(dtypes)) not in (np.dtype(np.float32), np.dtype(np.float64)):
        return False
    updater = _updaters.get(optimizer)
    if updater is None or not updater.usable():
        updater = _updaters[optimizer] = FusedUpdate(optimizer)
    return updater.update(work)


__all__ = ["FusedUpdate", "fused_step"]
