"""``fastnn.compile(model)``: the model, with its inference forward compiled (torch.compile's name).

The result is a Module wrapping ``model`` (registered as ``_orig_mod``, as torch's
OptimizedModule does, so its state_dict keys carry that prefix and its parameters are the
model's). Calling it with gradients disabled (``fastnn.no_grad()``, ``predict``, ``evaluate``)
or with no parameter requiring a gradient runs the forward pass of the compiled interpreter
(``kernels.run_forward``) on a flat copy of the parameters; with gradients on
it runs the model eagerly, so backward and any optimizer work unchanged (for a compiled training
step use :func:`fastnn.compile_step` / ``fit(compile=True)``). What the planner cannot compile
runs eagerly too, with ``fallback_reason`` set.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from fastnn import random as fastnn_random
from fastnn.compile import kernels
from fastnn.compile.lowering import Lowered
from fastnn.compile.planner import Unsupported, make_plan
from fastnn.compile.step import dropouts, model_inputs
from fastnn.nn.module import Module, structure_version
from fastnn.tensor import Tensor, from_numpy, is_grad_enabled


class CompiledModule(Module):
    """A model whose inference forward runs compiled (see the module docstring)."""

    def __init__(self, model: Module) -> None:
        super().__init__()
        self._orig_mod = model
        object.__setattr__(self, "fallback_reason", None)
        object.__setattr__(self, "_cache", None)

    def _plan(self) -> tuple | None:
        """(plan, lowered tables by window, seeds, info, offsets cache) or None (eager)."""
        cache = self.__dict__.get("_cache")
        if cache is not None and cache[0] == structure_version() and all(
                getattr(obj, attr, None) == value for obj, attr, value in cache[1].watched):
            return cache[1:]
        try:
            plan = make_plan(self._orig_mod, None, None)
            kernels.interpreter()
        except (Unsupported, ImportError) as exc:  # (ImportError: the interpreter is not built, or stale)
            if self.__dict__.get("fallback_reason") != str(exc):
                warnings.warn(f"fastnn.compile: running the eager forward ({exc})", stacklevel=4)
            object.__setattr__(self, "fallback_reason", str(exc))
            object.__setattr__(self, "_cache", None)
            return None
        object.__setattr__(self, "fallback_reason", None)
        state = (plan, {}, np.zeros(sum(1 for _ in dropouts(plan.layers)), np.uint64), np.zeros(3, np.int64), {})
        object.__setattr__(self, "_cache", (structure_version(), *state))
        return state

    def forward(self, input: Any) -> Tensor:
        params = self._orig_mod.parameters()
        if is_grad_enabled() and any(p.requires_grad for p in params):
            return self._orig_mod(input)
        planned = self._plan()
        if planned is None:
            return self._orig_mod(input)
        plan, lowered_by_window, seeds, info, offsets_cache = planned
        model_in = model_inputs(plan, input, offsets_cache, "fastnn.compile")
        if model_in is None:
            return self._orig_mod(input)
        n, xf, ids, offsets, window = model_in
        low = lowered_by_window.get(window)
        if low is None:
            low = lowered_by_window[window] = Lowered(plan, window)
        P = np.concatenate([p.array.reshape(-1) for p in plan.params])
        for k in range(seeds.shape[0]):
            seeds[k] = fastnn_random.next_seed()
        ws, ms, output = low.workspace(n)  # one per call: inference may run in several threads at once
        status = kernels.run_forward(n, xf, ids, offsets, low.ops, low.fl, low.cfg, P, seeds, info, ws, ms,
                                     kernels.blas_addresses())
        if status != kernels.OK:
            raise IndexError(f"fastnn.compile: embedding index {info[1]} out of range for "
                             f"{plan.layers[0].sizes[0]} rows (position {info[0]})")
        return from_numpy(output.copy())  # not a view: the rest of the workspace need not stay alive


def compile(model: Module, **options: Any) -> CompiledModule:
    """torch.compile's name: ``model`` with its inference forward compiled (options are accepted and
    ignored, e.g. ``mode=``, ``fullgraph=``)."""
    if not isinstance(model, Module):
        raise TypeError(f"fastnn.compile: expected a Module, got {type(model).__name__}")
    return CompiledModule(model)


__all__ = ["CompiledModule", "compile"]
