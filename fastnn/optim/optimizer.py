"""The optimizer base class: parameter groups, lazily created per-parameter state, and checkpoints.

As in PyTorch, ``param_groups`` is a list of dicts, each holding ``params`` (a list of parameters)
and that group's options (``lr`` ...); ``state[p]`` is the dict of state of parameter ``p``,
created on its first update. ``state_dict()`` packs the state keyed by each parameter's integer
index (counting through the groups in order) and the groups with ``params`` as index lists.

A step is all-or-nothing: every group's options and every gradient of every group are checked
(shape, dtype, finite values) before any parameter or state is touched. Parameters whose ``grad``
is ``None`` are skipped. Row-sparse gradients (:class:`~fastnn.tensor.SparseTensor`) are accepted
only by the optimizers that torch lets take them (SGD, Adagrad, SparseAdam); the others raise
naming the parameter.

Hyperparameters are validated where they are given, as PyTorch does (``Invalid learning rate:
-1``): the constructor's defaults, every group passed to :meth:`Optimizer.add_param_group`, the
groups of a loaded state dict, and, before each step, the groups as a scheduler or user left them.
A string, ``None``, NaN or an out-of-range value raises ``TypeError``/``ValueError`` naming the
optimizer and the option.

What the functional forms (one beside each optimizer class) share lives beside this module and is
re-exported here: the gradient and state checks (fastnn/optim/checks.py: :func:`check_gradients`,
:func:`reject_sparse` ...) and the row-sparse update (fastnn/optim/updates.py: :func:`rowwise_update`).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import numpy as np

from fastnn.optim.checks import check_gradients, check_states, check_steps, reject_sparse
from fastnn.optim.updates import ascent, rowwise_update, validated_update
from fastnn.tensor import SparseTensor, Tensor, enable_grad


class ParamState(MutableMapping):
    """``optimizer.state``: parameter -> state dict, keyed by the parameter's identity.

    Reading a parameter that has no state yet gives (and stores) an empty dict, like torch's
    ``defaultdict(dict)``; ``p in state`` does not create an entry.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[Any, dict]] = {}

    def __getitem__(self, param) -> dict:
        entry = self._entries.get(id(param))
        if entry is None:
            entry = self._entries[id(param)] = (param, {})
        return entry[1]

    def __setitem__(self, param, value: dict) -> None:
        self._entries[id(param)] = (param, value)

    def __delitem__(self, param) -> None:
        del self._entries[id(param)]

    def __contains__(self, param) -> bool:
        return id(param) in self._entries

    def __iter__(self) -> Iterator:
        return (param for param, _ in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"ParamState({len(self)} parameters)"


def as_array(value) -> np.ndarray:
    """The ndarray behind a fastnn Tensor, a NumPy array or anything array-like (a torch CPU tensor)."""
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "array", None)
    return data if isinstance(data, np.ndarray) else np.asarray(value)


FUSED_STEPS: list[Callable[[Any, list], bool]] = []
"""``fused=True``'s implementation, registered by fastnn.compile (a layer above): called with the
optimizer and its checked (group, params, grads) work list; False when it cannot run fused."""


class Optimizer:
    """Base class: subclasses set ``defaults``, :meth:`check_options`, :meth:`_state_keys` and
    :meth:`_update_group`."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.check_options(defaults, type(self).__name__)
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        self.defaults = defaults
        self.state = ParamState()
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {group[key]}" for key in sorted(group) if key != "params"]
        return "\n".join(lines) + "\n)"

    @classmethod
    def check_options(cls, options: dict[str, Any], owner: str) -> None:
        """Raise TypeError/ValueError naming ``owner`` and the option unless every hyperparameter in
        ``options`` (the defaults or one group) is valid; each optimizer states its own rules."""

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options; options it leaves out take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(param).__name__}")
            if not param.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self.check_options(group, f"{type(self).__name__} param_groups[{len(self.param_groups)}]")
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters", stacklevel=3)
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if taken.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (the default, as torch), or to zeros in place."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                elif isinstance(param.grad, SparseTensor):
                    param.grad.zero_()
                else:
                    as_array(param.grad).fill(0)

    # ------------------------------------------------------------------- step
    def step(self, closure: Callable[[], Any] | None = None):
        """One update of every parameter that has a gradient; returns closure() when given.

        All gradients of all groups are checked first, so the update is all-or-nothing.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        name = type(self).__name__
        work = []
        for g, group in enumerate(self.param_groups):
            self.check_options(group, f"{name}.step: param_groups[{g}]")
            params, grads, where = [], [], []
            for i, param in enumerate(group["params"]):
                if param.grad is not None:
                    where.append(f"param {i} of group {g}")
                    sparse = isinstance(param.grad, SparseTensor)
                    reason = self._sparse_grad_error(group) if sparse else self._dense_grad_error(group)
                    if reason is not None:
                        raise RuntimeError(f"{name} {reason} ({where[-1]} {param.array.shape} has a "
                                           f"{'sparse' if sparse else 'dense'} gradient); no parameter was updated")
                    params.append(param)
                    grads.append(param.grad if sparse else as_array(param.grad))
                    self._check_state_matches(name, where[-1], param)
            check_gradients(f"{name}.step", [p.array for p in params], grads, where)
            work.append((group, params, grads))
        if any(group.get("fused") for group in self.param_groups) and FUSED_STEPS:  # torch's flag
            if FUSED_STEPS[0](self, work):  # one compiled call for all parameters (fastnn.compile)
                return loss
        for group, params, grads in work:
            if params:
                self._update_group(group, params, grads)
        return loss

    def _check_state_matches(self, name: str, where: str, param) -> None:
        """The state arrays must still fit the parameter (its storage may have been replaced since)."""
        entry = self.state._entries.get(id(param))
        for key, value in (entry[1].items() if entry else ()):
            if isinstance(value, np.ndarray) and (value.shape != param.array.shape or value.dtype != param.array.dtype):
                raise ValueError(f"{name}.step: state '{key}' of {where} is {value.shape} {value.dtype} but the "
                                 f"parameter is now {param.array.shape} {param.array.dtype}")

    def _update_group(self, group: dict[str, Any], params: list, grads: list[np.ndarray]) -> None:
        """Update the checked parameters of one group (creating their state on first use)."""
        raise NotImplementedError

    def _sparse_grad_error(self, group: dict[str, Any]) -> str | None:
        """Why this group cannot take a row-sparse gradient (None when it can)."""
        return "does not support sparse gradients"

    def _dense_grad_error(self, group: dict[str, Any]) -> str | None:
        """Why this group cannot take a dense gradient (None when it can)."""
        return None

    def _state_keys(self, group: dict[str, Any]) -> tuple[str, ...]:
        """The entries a parameter's state holds under this group's options (``step`` and arrays)."""
        raise NotImplementedError

    def _initial_state(self, group: dict[str, Any], key: str, param) -> np.ndarray:
        """A new state array `key` for `param`: zeros (subclasses start some elsewhere)."""
        return np.zeros_like(param.array)

    def _advance_states(self, group: dict[str, Any], params: list) -> list[dict[str, Any]]:
        """The parameters' states, each array of :meth:`_state_keys` created on first use (as torch
        does, lazily) and ``step`` advanced by one."""
        keys = [key for key in self._state_keys(group) if key != "step"]
        states = [self.state[p] for p in params]
        for param, state in zip(params, states):
            state.setdefault("step", 0)
            for key in keys:
                if state.get(key) is None:
                    state[key] = self._initial_state(group, key, param)
            state["step"] += 1
        return states

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {key: array copy or int}}, 'param_groups': [{..., 'params': [indices]}]}."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for param, entry in self.state._entries.values():
            if id(param) in index and entry:
                state[index[id(param)]] = {key: value.copy() if isinstance(value, np.ndarray) else value
                                           for key, value in entry.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and group options from :meth:`state_dict`'s layout (arrays may be Tensors).

        Checks the number of groups and their sizes, the state keys this optimizer needs and every
        state array's shape against its parameter before anything changes; floating-point state is
        cast to its parameter's dtype (as torch does).
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}: expected a dict with keys 'state' and 'param_groups', got {got}")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(
                isinstance(g, dict) and isinstance(g.get("params"), (list, tuple)) for g in saved_groups):
            raise ValueError(f"{name}: 'param_groups' must be a list of dicts each with a 'params' list")
        if not isinstance(saved_state, dict):
            raise ValueError(f"{name}: 'state' must be a dict, got {type(saved_state).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}, expected {len(self.param_groups)})")
        owner: dict[int, tuple[Any, dict]] = {}
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: loaded state dict contains a parameter group that doesn't match the size "
                                 f"of optimizer's group (group {g}: {len(saved['params'])} vs {len(group['params'])})")
            merged = {**self.defaults, **saved, "params": group["params"]}
            self.check_options(merged, f"{name}: param_groups[{g}]")
            for index, param in zip(saved["params"], group["params"]):
                owner[self._index(name, index)] = (param, merged)
        new_state = ParamState()
        for index, entry in saved_state.items():
            if self._index(name, index) not in owner:
                raise ValueError(f"{name}: state for parameter index {index}, which no parameter group lists")
            if not isinstance(entry, dict):
                raise ValueError(f"{name}: state of parameter {index} must be a dict, got {type(entry).__name__}")
            param, group = owner[int(index)]
            new_state[param] = self._checked_state(name, int(index), param, group, entry)
        self.param_groups = [{**self.defaults, **saved, "params": group["params"]}
                             for group, saved in zip(self.param_groups, saved_groups)]
        self.state = new_state

    @staticmethod
    def _index(name: str, index: Any) -> int:
        """A parameter index of a saved state dict (an int, or a str of one as JSON keeps it)."""
        if isinstance(index, str) and index.lstrip("-").isdigit():
            return int(index)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, numbers.Integral):
            raise ValueError(f"{name}: parameter index {index!r} is not an integer")
        return int(index)

    def _checked_state(self, name: str, index: int, param, group: dict, entry: dict) -> dict:
        """A copy of one parameter's saved state, cast to its dtype, after checking keys and shapes."""
        shape, dtype = param.array.shape, param.array.dtype
        missing = set(self._state_keys(group)) - set(entry)
        if entry and missing:
            raise ValueError(f"{name}: state of parameter {index} lacks {sorted(missing)} (has {sorted(entry)})")
        restored: dict[str, Any] = {}
        for key, value in entry.items():
            if key == "step":
                step = as_array(value)
                if step.ndim != 0 or step.dtype.kind not in "iuf" or not (
                        np.isfinite(step) and step >= 0 and step == np.floor(step)):
                    raise ValueError(f"{name}: state of parameter {index} has step {value!r}, "
                                     "expected an integer >= 0")
                restored[key] = int(step)
                continue
            if value is None:
                restored[key] = None
                continue
            array = as_array(value)
            if array.shape != shape:
                raise ValueError(f"{name}: state '{key}' of parameter {index} has shape {array.shape}, "
                                 f"expected the parameter's shape {shape}")
            if not np.issubdtype(array.dtype, np.floating):
                raise TypeError(f"{name}: state '{key}' of parameter {index} has dtype {array.dtype}, expected floats")
            restored[key] = np.array(array, dtype=dtype, order="C", copy=True)
        return restored


__all__ = ["Optimizer", "ParamState", "as_array", "ascent", "check_gradients", "check_states", "check_steps",
           "reject_sparse", "rowwise_update", "validated_update"]
