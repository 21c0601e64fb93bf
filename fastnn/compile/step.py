"""The compiled training step: ``step = compile_step(model, loss_fn, optimizer); loss = step(x, y)``.

One call does what ``optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward();
optimizer.step()`` does, in one generated Numba function (see ``codegen``).

State stays one. At planning time every parameter's array is moved into one flat buffer ``P``
(``p.array`` becomes a view of it; frozen parameters, requires_grad=False and outside the
optimizer, come last), every trained parameter's gradient lives in a flat buffer ``G`` (``p.grad``
is a Tensor viewing it after each step) and every optimizer state array in flat buffers ``S0..S2``
(``optimizer.state[p][key]`` becomes a view, created at the first step as the eager optimizer
creates it). So ``state_dict()``, checkpoints and eager steps read and write the same numbers,
and eager and compiled steps can be mixed. Each call checks, cheaply, that this is still so
(a parameter's array replaced, a state array loaded from a checkpoint, a structural change of
the model, a changed layer or loss option, changed optimizer groups) and re-plans or adopts the
new arrays (copying them into the buffers) when it is not. Hyper-parameters (``lr``...) are read
from ``optimizer.param_groups`` at every call, so schedulers and edits apply.

All or nothing: labels, indices, shapes and dtypes are checked before anything is written;
a non-finite loss or gradient raises before any parameter or state changes (the gradients then
hold this step's values, as after an eager ``backward()``).

What the planner cannot compile runs the eager path: ``step.fallback_reason`` says why, and a
warning is given once per step object.

A step object keeps one workspace per batch size and reuses it from call to call (a step
allocates nothing): call one step object from one thread at a time, as one would an optimizer.
"""

from __future__ import annotations

import operator
import time
import warnings
from typing import Any

import numpy as np

from fastnn import random as fastnn_random
from fastnn.autograd.engine import wrap
from fastnn.compile import kernels
from fastnn.compile.inputs import NO_FLOATS, NO_IDS, as_array, dropouts, model_inputs
from fastnn.compile.jit import entry_point
from fastnn.compile.lowering import Lowered
from fastnn.compile.planner import Plan, Unsupported, make_plan
from fastnn.nn.functional import log_softmax
from fastnn.nn.module import structure_version
from fastnn.nn.utils import clip_grad_norm_, clip_grad_value_
from fastnn.tensor import Tensor, from_numpy

# Per optimizer kind: the state each group needs as (key, buffer), whether it counts steps, the
# group options forming a hyper-parameter row (see blocks.update_*), and each state's start.
STATE_KEYS = {
    "sgd": lambda g: [("momentum_buffer", 0)] if g["momentum"] != 0 else [],
    "adam": lambda g: [("exp_avg", 0), ("exp_avg_sq", 1)] + ([("max_exp_avg_sq", 2)] if g["amsgrad"] else []),
    "adagrad": lambda g: [("sum", 0)],
    "rmsprop": lambda g: ([("square_avg", 0)] + ([("momentum_buffer", 1)] if g["momentum"] > 0 else [])
                          + ([("grad_avg", 2)] if g["centered"] else [])),
    "adadelta": lambda g: [("square_avg", 0), ("acc_delta", 1)],
}
ROWS = {
    "sgd": lambda g: (g["lr"], g["momentum"], g["dampening"], g["weight_decay"], g["nesterov"], g["maximize"], 0.0),
    "adam": lambda g: (g["lr"], g["betas"][0], g["betas"][1], g["eps"], g["weight_decay"], g["amsgrad"],
                       g["maximize"], g["decoupled_weight_decay"]),
    "adagrad": lambda g: (g["lr"], g["lr_decay"], g["weight_decay"], g["eps"], g["maximize"]),
    "rmsprop": lambda g: (g["lr"], g["alpha"], g["eps"], g["weight_decay"], g["momentum"], g["centered"],
                          g["maximize"]),
    "adadelta": lambda g: (g["lr"], g["rho"], g["eps"], g["weight_decay"], g["maximize"]),
}
ROW_KEYS = {"sgd": ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"),
            "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"),
            "adagrad": ("lr", "lr_decay", "weight_decay", "eps", "maximize"),
            "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
            "adadelta": ("lr", "rho", "eps", "weight_decay", "maximize")}  # the options each ROWS row reads
SGD_FIRST_STEP = 6  # the column of an SGD row flagging a momentum buffer's first step
INT64 = np.dtype(np.int64)
MESSAGES = {kernels.BAD_LABEL: "target {1} out of range for {classes} classes (row {0})",
            kernels.BAD_INDEX: "embedding index {1} out of range for {rows} rows (position {0})"}


class CompiledStep:
    """``step(x, y)``: one training step of (model, loss_fn, optimizer), compiled; returns the loss
    as a 0-d tensor (warn=False: no warning when it falls back to the eager step). Attributes:
    ``fallback_reason`` (None while compiled), ``compile_seconds`` (time spent generating and
    compiling, summed), ``plan`` (the current plan or None)."""

    def __init__(self, model, loss_fn, optimizer, *, max_grad_norm: float | None = None, norm_type: float = 2.0,
                 clip_value: float | None = None, warn: bool = True) -> None:
        if max_grad_norm is not None and clip_value is not None:
            raise ValueError("compile_step: give max_grad_norm or clip_value, not both")
        norm_type = float(norm_type)
        if norm_type <= 0:
            raise ValueError(f"compile_step: norm_type must be positive or inf, got {norm_type}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.max_grad_norm, self.norm_type, self.clip_value = max_grad_norm, norm_type, clip_value
        self.last_grad_norm: float | None = None
        self._output: np.ndarray | Tensor | None = None
        self.fallback_reason: str | None = None
        self.compile_seconds = 0.0
        self.plan: Plan | None = None
        self._warned = not warn  # warn=False: fall back silently (fit's default)
        self._replan(stacklevel=5)  # the warning points at the caller of fastnn.compile_step

    def __repr__(self) -> str:
        how = f"eager fallback: {self.fallback_reason}" if self.plan is None else "compiled"
        return f"CompiledStep({type(self.model).__name__}, {type(self.loss_fn).__name__}, " \
               f"{type(self.optimizer).__name__}; {how})"

    # ------------------------------------------------------------------ planning
    def _replan(self, stacklevel: int = 4) -> None:
        """Plan (or re-plan) and lay the state out in flat buffers; on Unsupported, fall back."""
        self.plan = None
        self._version = structure_version()
        self._state_obj = None
        try:
            plan = make_plan(self.model, self.loss_fn, self.optimizer)
        except Unsupported as exc:
            self.fallback_reason = str(exc)
            if not self._warned:
                warnings.warn(f"compile_step: running the eager step ({exc})", stacklevel=stacklevel)
                self._warned = True
            return
        self.fallback_reason = None
        self._layout(plan)
        self._dense = plan.input_kind == "dense" and not plan.flatten_input
        self._class_targets = plan.loss[0] in ("ce", "nll")
        self._weighted = self._class_targets and plan.loss[3]
        self.plan = plan

    def _layout(self, plan: Plan) -> None:
        """Move the parameters into P (rebinding p.array to views) and make G, S0..S2, H."""
        size, dtype, trained = plan.bounds[-1], plan.dtype, plan.trained
        self._P = np.empty(size, dtype)
        self._G = np.zeros(plan.bounds[trained], dtype)  # the trained parameters' gradients
        self._views, self._grads = [], []
        for i, param in enumerate(plan.params):
            lo, hi = plan.bounds[i], plan.bounds[i + 1]
            view = self._P[lo:hi].reshape(param.array.shape)
            view[...] = param.array
            param.array = view
            self._views.append(view)
            if i < trained:
                self._grads.append(from_numpy(self._G[lo:hi].reshape(view.shape)))
        self._bound = list(zip(plan.params, self._views))  # (parameter, its view of P)
        self._attach = list(zip(plan.params, self._grads))  # (trained parameter, its gradient: a view of G)
        # run_step's machine code for arguments of the types the step owns and typed inputs (below)
        self._entry = None
        self._bounds = np.asarray(plan.bounds[:trained + 1], dtype=np.int64)
        self._groups = [(group, group["params"], len(group["params"])) for group in self.optimizer.param_groups]
        self._group_of = [g for g, group in enumerate(self.optimizer.param_groups) for _ in group["params"]]
        self._watched, self._same = watch_groups(plan.watched)
        self._S = [np.empty(0, dtype)] * 3
        self._H = np.zeros((trained, 8), np.float64)
        self._steps = np.zeros(trained, np.int64)
        self._info = np.zeros(2, np.int64)
        self._seeds = np.zeros(sum(1 for _ in dropouts(plan.layers)), np.uint64)
        self._offsets: dict[tuple, np.ndarray] = {}
        self._lowered: dict[int, Lowered] = {}
        self._no_ids, self._no_floats = NO_IDS, NO_FLOATS[plan.dtype]
        self._blas = kernels.blas_addresses()
        self._rows_sig = None
        self._sync_optimizer(plan)

    def _sync_optimizer(self, plan: Plan) -> None:
        """Hyper-parameter rows from the groups, and the state slots (adopting existing arrays)."""
        kind, opt = plan.optimizer, self.optimizer
        self._rows_sig = [ROWS[kind](group) for group, _, _ in self._groups]
        self._read_row = operator.itemgetter(*ROW_KEYS[kind])
        self._raw_rows = [frozen(self._read_row(group)) for group, _, _ in self._groups]
        keys_of = [STATE_KEYS[kind](group) for group, _, _ in self._groups]
        used = {buf for keys in keys_of for _, buf in keys}
        for buf in used:
            if self._S[buf].size != self._G.size:
                self._S[buf] = np.zeros(self._G.size, plan.dtype)
        self._state_obj = opt.state
        trained = plan.params[:plan.trained]
        self._dicts = [opt.state[p] for p in trained]
        self._slots = []
        for i, param in enumerate(trained):
            group = self._groups[self._group_of[i]][0]
            self._H[i, :len(self._rows_sig[self._group_of[i]])] = self._rows_sig[self._group_of[i]]
            lo, hi = plan.bounds[i], plan.bounds[i + 1]
            for key, buf in keys_of[self._group_of[i]]:
                view = self._S[buf][lo:hi].reshape(param.array.shape)
                self._slots.append((i, key, view, initial_value(kind, key, group)))
        self._counts_steps = kind != "sgd"
        self._first_steps: list[int] = []

    # ------------------------------------------------------------------ checks
    def _current(self) -> bool:
        """True when the plan still describes the model, loss and optimizer (cheap checks)."""
        if self._version != structure_version():
            return False
        try:
            for obj, read, values in self._watched:
                if read(obj) != values:
                    return False
            for obj, attr, value in self._same:
                if getattr(obj, attr) is not value:
                    return False
        except AttributeError:  # an option the plan read was deleted
            return False
        groups = self.optimizer.param_groups
        if len(groups) != len(self._groups):
            return False
        for group, (cached, params, count) in zip(groups, self._groups):
            if group is not cached or group["params"] is not params or len(params) != count:
                return False
        return True

    def _check_params(self) -> None:
        """Re-adopt parameters whose array was replaced (e.g. assigned); re-plan on a new shape."""
        for param, view in self._bound:
            if param.array is not view:
                array = param.array
                if array.shape != view.shape or array.dtype != view.dtype:
                    self._replan()
                    return
                view[...] = array
                param.array = view

    def _prepare_state(self) -> list:
        """Fill H, steps and new state; returns the (dict, key, view) state entries to attach on success."""
        plan, opt = self.plan, self.optimizer
        kind = plan.optimizer
        read, groups = self._read_row, self._groups
        if [read(group) for group, _, _ in groups] != self._raw_rows or opt.state is not self._state_obj:
            # something may have changed: compare the rows themselves (an edited list of betas...)
            rows = [ROWS[kind](group) for group, _, _ in groups]
            if rows != self._rows_sig or opt.state is not self._state_obj:
                self._sync_optimizer(plan)
            self._raw_rows = [frozen(read(group)) for group, _, _ in groups]
        attach = []
        dicts = self._dicts
        for i in self._first_steps:  # momentum buffers created by the previous call
            self._H[i, SGD_FIRST_STEP] = 0.0
        self._first_steps = []
        for i, key, view, initial in self._slots:
            current = dicts[i].get(key)
            if current is view:
                continue
            if current is None:
                if kind == "sgd":
                    self._H[i, SGD_FIRST_STEP] = 1.0
                    self._first_steps.append(i)
                else:
                    view.fill(initial)
                attach.append((dicts[i], key, view))
            else:
                array = as_array(current)
                if array.shape != view.shape:
                    raise ValueError(f"compiled step: optimizer state '{key}' of parameter {i} has shape "
                                     f"{array.shape}, expected {view.shape}")
                view[...] = array
                dicts[i][key] = view
        if self._counts_steps:
            steps = [d.get("step", 0) + 1 for d in dicts]
            self._steps[:] = steps
            attach.append(steps)
        return attach

    # ------------------------------------------------------------------ inputs
    def _inputs(self, x: Any, y: Any) -> tuple | None:
        """(n, xf, ids, offsets, yi, yf, lowered table) as run_step takes them, or None to run this
        call eagerly. Every array is C-contiguous, aligned and writeable (copied if not): so each has
        the one Numba type the step's entry point was compiled for (and no other is ever compiled)."""
        plan = self.plan
        if (type(x) is np.ndarray and self._dense and x.ndim == 2 and x.dtype is plan.dtype and x.shape[0]
                and x.shape[1] == plan.in_features and x.flags.carray):
            n, xa, ids, offsets, window = x.shape[0], x, NO_IDS, NO_IDS, 1  # the usual case, checked
        else:
            if isinstance(x, Tensor) and x.requires_grad:
                return None  # the caller wants x.grad: the eager path computes it
            model_in = model_inputs(plan, x, self._offsets, "compiled step")
            if model_in is None:
                return None
            n, xa, ids, offsets, window = model_in
        ya = y if type(y) is np.ndarray else y.array if isinstance(y, Tensor) else np.asarray(y)
        if self._class_targets:
            if ya.dtype is not INT64:
                if ya.dtype.kind == "f":
                    return None  # class probabilities: the eager path handles them
                if ya.dtype.kind not in "iu":
                    raise TypeError(f"compiled step: class targets must be integers, got {ya.dtype}")
            if ya.shape != (n,):
                raise ValueError(f"compiled step: targets must have shape ({n},) for {n} inputs, got {ya.shape}")
            yi = ya if ya.dtype is INT64 and ya.flags.carray else np.require(ya, np.int64, "CAW")
            yf = self._no_floats
        else:
            if ya.shape != (n, plan.out_features):
                raise ValueError(f"compiled step: {type(self.loss_fn).__name__} target must have the output's "
                                 f"shape ({n}, {plan.out_features}), got {ya.shape}")
            if ya.dtype != plan.dtype:
                raise TypeError(f"compiled step: target dtype {ya.dtype} differs from the output's {plan.dtype}")
            yi, yf = self._no_ids, (ya if ya.flags.carray else np.require(ya, requirements="CAW"))
        lowered = self._lowered.get(window)
        if lowered is None:
            lowered = self._lowered[window] = Lowered(plan, window)
            if self.max_grad_norm is not None:
                lowered.cfg[kernels.C_CLIP] = kernels.CLIP_NORM
                lowered.cff[kernels.F_CLIP], lowered.cff[kernels.F_NORM_TYPE] = self.max_grad_norm, self.norm_type
            elif self.clip_value is not None:
                lowered.cfg[kernels.C_CLIP] = kernels.CLIP_VALUE
                lowered.cff[kernels.F_CLIP] = self.clip_value
        return n, xa, ids, offsets, yi, yf, lowered

    # ------------------------------------------------------------------ the step
    def __call__(self, x: Any, y: Any) -> Tensor:
        """One training step on the batch (x, y); returns the loss (0-d tensor, no graph)."""
        if self.plan is not None and not self._current() or self.plan is None and self._version != structure_version():
            self._replan()
        if self.plan is not None:
            self._check_params()
        if self.plan is None:
            return self.eager(x, y)
        inputs = self._inputs(x, y)
        if inputs is None:
            return self.eager(x, y)
        n, xf, ids, offsets, yi, yf, low = inputs
        if self._weighted:
            weight = self.loss_fn.weight.array
            if weight.shape != (self.plan.out_features,) or weight.dtype != self.plan.dtype:
                self._replan()  # the weight tensor's array was replaced by an unusable one
                return self(x, y)
            low.set_class_weights(weight)
        attach = self._prepare_state()
        seeds = self._seeds
        for k in range(seeds.shape[0]):
            seeds[k] = fastnn_random.next_seed()
        S0, S1, S2 = self._S
        ws, ms, output = low.workspace(n)
        args = (n, xf, ids, offsets, yi, yf, low.ops, low.fl, low.cfg, low.cff, self._P, self._G, S0, S1, S2, self._H,
                self._steps, seeds, self._bounds, self._info, ws, ms, self._blas)
        if self._entry is not None:  # the inputs are checked, and the step's own arrays keep their types
            status, loss = self._entry(*args)
        else:  # through the dispatcher, which types every argument (and compiles a new signature)
            function = kernels.run_step
            compiled = len(function.overloads)
            start = time.perf_counter()
            status, loss = function(*args)
            if len(function.overloads) != compiled:  # this call compiled (or loaded from disk) a new signature
                self.compile_seconds += time.perf_counter() - start
            self._entry = entry_point(function, args)
        if status in (kernels.OK, kernels.NONFINITE_LOSS, kernels.NONFINITE_GRAD):  # backward ran
            for param, grad in self._attach:
                if param.grad is not grad:
                    param.grad = grad
        if status != kernels.OK:
            self._raise(status, loss)
        if attach and isinstance(attach[-1], list):
            for d, s in zip(self._dicts, attach.pop()):
                d["step"] = s
        for d, key, view in attach:
            d[key] = view
        if self.max_grad_norm is not None:
            self.last_grad_norm = float(low.cff[kernels.F_TOTAL_NORM])
        self._output = output  # a view of the workspace: valid until the next call
        return wrap(np.array(loss, self.plan.dtype))

    @property
    def last_output(self) -> Tensor | None:
        """The model's output in the last step (no graph, a copy), e.g. for training metrics."""
        out = self._output
        if out is None or isinstance(out, Tensor):
            return out
        if self.plan is not None and self.plan.loss[0] == "nll":  # the plan stops before the LogSoftmax
            return log_softmax(from_numpy(out.copy()), 1)
        return from_numpy(out.copy())

    def _raise(self, status: int, loss: float) -> None:
        if status in (kernels.BAD_LABEL, kernels.BAD_INDEX):
            # nothing was written: gradients are as they were, parameters and state unchanged
            first = self.plan.layers[0]
            detail = MESSAGES[status].format(*self._info, classes=self.plan.out_features,
                                             rows=first.sizes[0] if first.sizes else 0)
            raise IndexError(f"compiled step: {detail}; nothing was changed")
        if status == kernels.NONFINITE_LOSS:
            raise ValueError(f"compiled step: the loss is {loss} (not finite); no parameter or optimizer state "
                             "was changed")
        i = int(self._info[0])
        raise ValueError(f"compiled step: the gradient of parameter {i} {self._views[i].shape} has non-finite "
                         "values (nan or inf); no parameter or optimizer state was changed")

    def eager(self, x: Any, y: Any) -> Tensor:
        """The same step on the eager path (used for what is not compiled)."""
        self.optimizer.zero_grad()
        output = self.model(x if isinstance(x, Tensor) else from_numpy(np.asarray(x)))
        loss = self.loss_fn(output, y if isinstance(y, Tensor) else from_numpy(np.asarray(y)))
        loss.backward()
        self._output = output.detach()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.max_grad_norm is not None:
            self.last_grad_norm = float(clip_grad_norm_(params, self.max_grad_norm, self.norm_type).item())
        elif self.clip_value is not None:
            clip_grad_value_(params, self.clip_value)
        self.optimizer.step()
        return loss.detach()


def watch_groups(watched: list) -> tuple[list, list]:
    """The plan's watched (object, attribute, value) triples, split: plain values (numbers, strings,
    tuples of them) as (object, getter, values) per object, compared by value with one attrgetter
    call (C) per object and call; the rest (None, tensors: their == is elementwise) as they are,
    compared by identity."""
    by_object: dict[int, tuple] = {}
    same = []
    for obj, attr, value in watched:
        if value is None or not isinstance(value, (bool, int, float, str, tuple)):
            same.append((obj, attr, value))
            continue
        _, attrs, values = by_object.setdefault(id(obj), (obj, [], []))
        attrs.append(attr)
        values.append(value)
    return [(obj, operator.attrgetter(*attrs), tuple(values) if len(values) > 1 else values[0])
            for obj, attrs, values in by_object.values()], same


def frozen(values: tuple) -> tuple:
    """values with lists as tuples: a list edited in place (betas) then no longer compares equal."""
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


def initial_value(kind: str, key: str, group: dict) -> float:
    return float(group["initial_accumulator_value"]) if kind == "adagrad" and key == "sum" else 0.0


__all__ = ["CompiledStep"]
