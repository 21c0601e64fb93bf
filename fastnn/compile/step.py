"""The compiled training step: ``step = compile_step(model, loss_fn, optimizer); loss = step(x, y)``.

One call does what ``optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward();
optimizer.step()`` does, in one call of the compiled interpreter (``kernels.run_step``, built
ahead of time from kernels/step.pyx: nothing compiles at run time) over the plan's op table
(``lowering``).

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
Under the "auto" thread policy each batch size also learns, from its own timings, whether its
products run faster on one BLAS thread than on the policy's count (``fastnn.threads.choice``).
"""

from __future__ import annotations

import operator
import time
import warnings
from typing import Any

import numpy as np

from fastnn import random as fastnn_random
from fastnn import threads
from fastnn.autograd.engine import wrap
from fastnn.compile import kernels
from fastnn.compile.frame import F_SROWS, F_SVALUES, Frame
from fastnn.compile.inputs import NO_FLOATS, NO_IDS, dropouts, model_inputs
from fastnn.compile.lowering import Lowered
from fastnn.compile.planner import Plan, Unsupported, make_plan, optimizers_of
from fastnn.compile.state import FlatState, flatten_parameters
from fastnn.nn.functional import log_softmax
from fastnn.nn.module import Module, structure_version
from fastnn.nn.utils import clip_grad_norm_, clip_grad_value_
from fastnn.optim import Optimizer
from fastnn.tensor import SparseTensor, Tensor, from_numpy
from fastnn.threads import blas
from fastnn.threads.choice import ThreadChoice

INT64 = np.dtype(np.int64)
BACKWARD_RAN = (kernels.OK, kernels.NONFINITE_LOSS, kernels.NONFINITE_GRAD, kernels.BAD_STATE)  # gradients made
MESSAGES = {kernels.BAD_LABEL: "target {1} out of range for {classes} classes (row {0})",
            kernels.BAD_INDEX: "embedding index {1} out of range for {rows} rows (position {0})"}


class CompiledStep:
    """``step(x, y)``: one training step of (model, loss_fn, optimizer), compiled; returns the loss
    as a 0-d tensor (warn=False: no warning when it falls back to the eager step). Attributes:
    ``fallback_reason`` (None while compiled), ``compile_seconds`` (time spent compiling: 0.0, the
    interpreter is built with the package), ``plan`` (the current plan or None)."""

    def __init__(self, model, loss_fn, optimizer, *, max_grad_norm: float | None = None, norm_type: float = 2.0,
                 clip_value: float | None = None, warn: bool = True) -> None:
        if max_grad_norm is not None and clip_value is not None:
            raise ValueError("compile_step: give max_grad_norm or clip_value, not both")
        norm_type = float(norm_type)
        if norm_type <= 0:
            raise ValueError(f"compile_step: norm_type must be positive or inf, got {norm_type}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self._optimizers = optimizers_of(optimizer)
        if not self._optimizers:
            raise ValueError("compile_step: no optimizer given")
        for opt in self._optimizers:
            if not isinstance(opt, Optimizer):
                raise TypeError(f"compile_step: expected an optimizer or a list of optimizers, "
                                f"got {type(opt).__name__}")
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
        names = "+".join(type(opt).__name__ for opt in self._optimizers)
        return f"CompiledStep({type(self.model).__name__}, {type(self.loss_fn).__name__}, {names}; {how})"

    # ------------------------------------------------------------------ planning
    def _replan(self, stacklevel: int = 4) -> None:
        """Plan (or re-plan) and lay the state out in flat buffers; on Unsupported, fall back."""
        self.plan = None
        self._version = structure_version()
        try:
            plan = make_plan(self.model, self.loss_fn, self.optimizer)
            if plan.trained > plan.dense and (self.max_grad_norm is not None or self.clip_value is not None):
                raise Unsupported("gradient clipping with a row-sparse gradient is not compiled")
            self._run = kernels.interpreter().run_step
        except (Unsupported, ImportError) as exc:  # (ImportError: the interpreter is not built, or stale)
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
        """Move the parameters into P (rebinding p.array to views); make G and the optimizer state."""
        trained, dense, dtype = plan.trained, plan.dense, plan.dtype
        self._P, self._views = flatten_parameters(plan.params, plan.bounds, dtype)
        self._G = np.zeros(plan.bounds[dense], dtype)  # the dense gradients
        self._grads = [from_numpy(self._G[plan.bounds[i]:plan.bounds[i + 1]].reshape(view.shape))
                       for i, view in enumerate(self._views[:dense])]
        # (parameter, its view of P, its requires_grad at planning: a change re-plans)
        self._bound = [(p, view, p.requires_grad) for p, view in zip(plan.params, self._views)]
        self._attach = list(zip(plan.params, self._grads))  # (trained parameter, its gradient: a view of G)
        self._bounds = np.asarray(plan.bounds[:dense + 1], dtype=np.int64)
        optimizers = [self._optimizers[k] for k in plan.order]
        self._state = FlatState(optimizers, plan.optimizers, plan.params[:trained], plan.bounds, dtype)
        # the row-sparse table (SparseAdam's), if any: its gradient rows are found through _position
        self._table = plan.params[dense] if trained > dense else None
        self._position = np.full(self._views[dense].shape[0] if trained > dense else 0, -1, np.int64)
        self._watched, self._same = watch_groups(plan.watched)
        self._info = np.zeros(3, np.int64)
        self._seeds = np.zeros(sum(1 for _ in dropouts(plan.layers)), np.uint64)
        self._offsets: dict[tuple, np.ndarray] = {}
        self._lowered: dict[int, Lowered] = {}
        self._frames: dict[tuple, Frame] = {}  # by (input window, batch size)
        self._no_ids, self._no_floats = NO_IDS, NO_FLOATS[plan.dtype]
        self._blas = kernels.blas_addresses()

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
        return self._state.current()

    def _check_params(self) -> None:
        """Re-adopt parameters whose array was replaced (e.g. assigned); re-plan on a new shape or a
        changed requires_grad."""
        for param, view, requires_grad in self._bound:
            if param.requires_grad != requires_grad:
                self._replan()
                return
            if param.array is not view:
                array = param.array
                if array.shape != view.shape or array.dtype != view.dtype:
                    self._replan()
                    return
                view[...] = array
                param.array = view

    # ------------------------------------------------------------------ inputs
    def _inputs(self, x: Any, y: Any) -> tuple | None:
        """(n, xf, ids, offsets, yi, yf, lowered table, window) as run_step takes them, or None to run this
        call eagerly. Every array is C-contiguous, aligned and writeable (copied if not), as the
        interpreter reads it."""
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
        return n, xa, ids, offsets, yi, yf, lowered, window

    def _frame(self, low: Lowered, n: int, window: int) -> Frame:
        """A new frame of run_step's own arrays for this input window and batch size, with its workspace,
        kept for the next calls (a step allocates nothing); __call__ makes a new one after the optimizer
        state's buffers changed (FlatState.version)."""
        state = self._state
        ws, ms, output = low.workspace(n)
        S0, S1, S2 = state.S
        empty = self._no_floats.reshape(-1)
        frame = Frame(self.plan.dtype, dict(
            ops=low.ops, fl=low.fl, cfg=low.cfg, cff=low.cff, P=self._P, G=self._G, S0=S0, S1=S1, S2=S2, H=state.H,
            steps=state.steps, seeds=self._seeds, bounds=self._bounds, info=self._info, ws=ws, ms=ms, srows=NO_IDS,
            svalues=empty, spos=self._position, blas=self._blas), state_version=state.version, output=output,
            threads=ThreadChoice())
        if len(self._frames) > 8:  # a few batch sizes in turn (the full batch and the last partial one)
            self._frames.clear()
        self._frames[(window, n)] = frame
        return frame

    # ------------------------------------------------------------------ the step
    def __call__(self, x: Any, y: Any) -> Tensor:
        """One training step on the batch (x, y); returns the loss (0-d tensor, no graph)."""
        if self.plan is not None and not self._current() or self.plan is None and self._version != structure_version():
            self._replan()
        if self.plan is None:
            return self.eager(x, y)
        self._check_params()  # (re-plans when a parameter's shape changed)
        plan = self.plan
        if plan is None:
            return self.eager(x, y)
        inputs = self._inputs(x, y)
        if inputs is None:
            return self.eager(x, y)
        n, xf, ids, offsets, yi, yf, low, window = inputs
        if self._weighted:
            weight = self.loss_fn.weight.array
            if weight.shape != (plan.out_features,) or weight.dtype != plan.dtype:
                self._replan()  # the weight tensor's array was replaced by an unusable one
                return self(x, y)
            low.set_class_weights(weight)
        state = self._state
        attach = state.prepare()
        seeds = self._seeds
        if seeds.shape[0]:
            for k in range(seeds.shape[0]):
                seeds[k] = fastnn_random.next_seed()
        frame = self._frames.get((window, n))
        if frame is None or frame.state_version != state.version:
            frame = self._frame(low, n, window)
        table = self._table
        if table is not None:  # new arrays each step: the sparse gradient attached to the table owns them
            srows, svalues = np.empty(2 * ids.shape[0], np.int64), np.empty(ids.shape[0] * table.shape[1], xf.dtype)
            frame.set(F_SROWS, srows)
            frame.set(F_SVALUES, svalues)
        args = (n, xf, ids, offsets, yi, yf, frame.table)
        choice = frame.threads
        if choice.active and threads.auto_policy():
            status, loss = self._timed_call(args, choice)
        else:
            status, loss = self._run(*args)
        if status in BACKWARD_RAN:
            for param, grad in self._attach:
                if param.grad is not grad:
                    param.grad = grad
            if table is not None:
                rows, dim = int(self._info[2]), table.shape[1]
                table.grad = SparseTensor(srows[:rows], svalues[:rows * dim].reshape(rows, dim), table.shape)
        if status != kernels.OK:
            self._raise(status, loss)
        state.commit(attach)
        if self.max_grad_norm is not None:
            self.last_grad_norm = float(low.cff[kernels.F_TOTAL_NORM])
        self._output = frame.output  # a view of the workspace: valid until the next call
        return wrap(np.array(loss, plan.dtype))

    def _timed_call(self, args: tuple, choice: ThreadChoice) -> tuple:
        """The call on the BLAS thread count `choice` picks for this frame (threads/choice.py),
        timed for it; the policy's count is restored after."""
        allowed = threads.get_num_threads()
        count = choice.threads(allowed)
        if count != allowed:
            blas.library().set_num_threads(count)
        try:
            start = time.perf_counter()
            result = self._run(*args)
            choice.record(count, time.perf_counter() - start)
        finally:
            if count != allowed:
                blas.library().set_num_threads(allowed)
        return result

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
        if status == kernels.BAD_STATE:
            raise RuntimeError("compiled step: the optimizer state buffers are shorter than the optimizer's options "
                               "need (an internal error of fastnn); no parameter or optimizer state was changed")
        i = int(self._info[0])
        raise ValueError(f"compiled step: the gradient of parameter {i} {self._views[i].shape} has non-finite "
                         "values (nan or inf); no parameter or optimizer state was changed")

    def eager(self, x: Any, y: Any) -> Tensor:
        """The same step on the eager path (used for what is not compiled)."""
        for opt in self._optimizers:
            opt.zero_grad()
        output = self.model(x if isinstance(x, Tensor) else from_numpy(np.asarray(x)))
        loss = self.loss_fn(output, y if isinstance(y, Tensor) else from_numpy(np.asarray(y)))
        loss.backward()
        self._output = output.detach()
        params = [p for opt in self._optimizers for group in opt.param_groups for p in group["params"]]
        if self.max_grad_norm is not None:
            self.last_grad_norm = float(clip_grad_norm_(params, self.max_grad_norm, self.norm_type).item())
        elif self.clip_value is not None:
            clip_grad_value_(params, self.clip_value)
        for opt in self._optimizers:
            opt.step()
        return loss.detach()


def watch_groups(watched: list) -> tuple[list, list]:
    """The plan's watched (object, attribute, value) triples that a call must compare, split: plain
    values (numbers, strings, tuples of them) as (object, getter, values) per object, compared by
    value with one attrgetter call (C) per object and call; the rest (None, tensors: their == is
    elementwise) as they are, compared by identity. A module's attributes are left out, but for
    ``training``: setting one goes through Module.__setattr__, which moves structure_version()
    (checked first), while train()/eval() set ``training`` without it. So are the parameters'
    ``requires_grad`` (compared in _check_params)."""
    by_object: dict[int, tuple] = {}
    same = []
    for obj, attr, value in watched:
        if isinstance(obj, Module) and attr != "training" or attr == "requires_grad" and isinstance(obj, Tensor):
            continue  # (a parameter's requires_grad: _check_params compares it, in its loop over them)
        if value is None or not isinstance(value, (bool, int, float, str, tuple)):
            same.append((obj, attr, value))
            continue
        _, attrs, values = by_object.setdefault(id(obj), (obj, [], []))
        attrs.append(attr)
        values.append(value)
    return [(obj, operator.attrgetter(*attrs), tuple(values) if len(values) > 1 else values[0])
            for obj, attrs, values in by_object.values()], same


__all__ = ["CompiledStep"]
