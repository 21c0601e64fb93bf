"""Flat parameters and optimizer state: what the compiled step and the fused optimizers share.

:func:`flatten_parameters` moves parameters into one flat buffer ``P`` (each ``p.array`` becomes
a view of it). :class:`FlatState` keeps the optimizer side for the trained parameters of one or
several optimizers: a hyper-parameter row per parameter (``H``; its last column the optimizer
kind, see ``blocks.update_all``), step counts, and state buffers ``S0..S2`` of which every
``optimizer.state[p][key]`` array is a view. So ``state_dict()``, checkpoints and eager steps
read and write the same numbers; :meth:`FlatState.prepare` notices, cheaply, edited
hyper-parameters, loaded state arrays and new parameters' first steps before each update.
"""

from __future__ import annotations

import operator

import numpy as np

from fastnn.compile import kernels
from fastnn.compile.inputs import as_array

# Per optimizer kind: the state each group needs as (key, buffer), the group options forming a
# hyper-parameter row (see blocks.update_*) and the options that row reads.
STATE_KEYS = {
    "sgd": lambda g: [("momentum_buffer", 0)] if g["momentum"] != 0 else [],
    "adam": lambda g: [("exp_avg", 0), ("exp_avg_sq", 1)] + ([("max_exp_avg_sq", 2)] if g["amsgrad"] else []),
    "adagrad": lambda g: [("sum", 0)],
    "rmsprop": lambda g: ([("square_avg", 0)] + ([("momentum_buffer", 1)] if g["momentum"] > 0 else [])
                          + ([("grad_avg", 2)] if g["centered"] else [])),
    "adadelta": lambda g: [("square_avg", 0), ("acc_delta", 1)],
    "sparse_adam": lambda g: [("exp_avg", 0), ("exp_avg_sq", 1)],
}
ROWS = {
    "sgd": lambda g: (g["lr"], g["momentum"], g["dampening"], g["weight_decay"], g["nesterov"], g["maximize"], 0.0),
    "adam": lambda g: (g["lr"], g["betas"][0], g["betas"][1], g["eps"], g["weight_decay"], g["amsgrad"],
                       g["maximize"], g["decoupled_weight_decay"]),
    "adagrad": lambda g: (g["lr"], g["lr_decay"], g["weight_decay"], g["eps"], g["maximize"]),
    "rmsprop": lambda g: (g["lr"], g["alpha"], g["eps"], g["weight_decay"], g["momentum"], g["centered"],
                          g["maximize"]),
    "adadelta": lambda g: (g["lr"], g["rho"], g["eps"], g["weight_decay"], g["maximize"]),
    "sparse_adam": lambda g: (g["lr"], g["betas"][0], g["betas"][1], g["eps"], g["maximize"]),
}
ROW_KEYS = {"sgd": ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"),
            "adam": ("lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "decoupled_weight_decay"),
            "adagrad": ("lr", "lr_decay", "weight_decay", "eps", "maximize"),
            "rmsprop": ("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
            "adadelta": ("lr", "rho", "eps", "weight_decay", "maximize"),
            "sparse_adam": ("lr", "betas", "eps", "maximize")}
KIND_CODES = {"sgd": kernels.OPT_SGD, "adam": kernels.OPT_ADAM, "adagrad": kernels.OPT_ADAGRAD,
              "rmsprop": kernels.OPT_RMSPROP, "adadelta": kernels.OPT_ADADELTA, "sparse_adam": kernels.OPT_SPARSE_ADAM}
SGD_FIRST_STEP = 6  # the column of an SGD row flagging a momentum buffer's first step


def flatten_parameters(params: list, bounds: list, dtype: np.dtype) -> tuple[np.ndarray, list]:
    """(P, views): the parameters' values copied into one flat buffer, each p.array rebound to its view."""
    flat = np.empty(bounds[-1], dtype)
    views = []
    for i, param in enumerate(params):
        view = flat[bounds[i]:bounds[i + 1]].reshape(param.array.shape)
        view[...] = param.array
        param.array = view
        views.append(view)
    return flat, views


class FlatState:
    """The optimizers' state of the trained parameters params[i] (flat slices bounds[i]:bounds[i+1]),
    kinds[k] being optimizers[k]'s kind ("sgd", "adam"...). Arrays for the update kernels: H, steps,
    S (three buffers, empty when no group uses them)."""

    def __init__(self, optimizers: list, kinds: list[str], params: list, bounds: list, dtype: np.dtype) -> None:
        self.optimizers, self.params, self.bounds, self.dtype = optimizers, params, bounds, dtype
        self.groups = [(group, group["params"], len(group["params"]), kind)
                       for opt, kind in zip(optimizers, kinds) for group in opt.param_groups]
        self.group_of = [g for g, (_, params_, _, _) in enumerate(self.groups) for _ in params_]
        self.owner = [k for k, opt in enumerate(optimizers) for group in opt.param_groups for _ in group["params"]]
        self.S = [np.empty(0, dtype)] * 3
        self.version = 0  # counts sync()s: each may replace the buffers of S
        self.H = np.zeros((len(params), kernels.H_COLUMNS), np.float64)
        self.steps = np.zeros(len(params), np.int64)
        self.sync()

    def current(self) -> bool:
        """True while every optimizer has the same groups holding the same parameter lists."""
        cached, k = self.groups, 0
        for opt in self.optimizers:
            for group in opt.param_groups:
                if k == len(cached) or group is not cached[k][0] or group["params"] is not cached[k][1] \
                        or len(cached[k][1]) != cached[k][2]:
                    return False
                k += 1
        return k == len(cached)

    def sync(self) -> None:
        """Hyper-parameter rows from the groups, and the state slots (adopting existing arrays)."""
        self.rows = [ROWS[kind](group) for group, _, _, kind in self.groups]
        self.row_reads = [(operator.itemgetter(*ROW_KEYS[kind]), group) for group, _, _, kind in self.groups]
        self.raw_rows = [frozen(read(group)) for read, group in self.row_reads]
        keys_of = [STATE_KEYS[kind](group) for group, _, _, kind in self.groups]
        self.version += 1
        size = self.bounds[len(self.params)]
        for buf in {buf for keys in keys_of for _, buf in keys}:
            if self.S[buf].size != size:
                self.S[buf] = np.zeros(size, self.dtype)
        self.state_pairs = [(opt, opt.state) for opt in self.optimizers]
        self.dicts = [self.optimizers[self.owner[i]].state[p] for i, p in enumerate(self.params)]
        self.slots = []
        stepped = []
        for i, param in enumerate(self.params):
            group, _, _, kind = self.groups[self.group_of[i]]
            row = self.rows[self.group_of[i]]
            self.H[i, :len(row)] = row
            self.H[i, kernels.H_KIND] = KIND_CODES[kind]
            lo, hi = self.bounds[i], self.bounds[i + 1]
            for key, buf in keys_of[self.group_of[i]]:
                view = self.S[buf][lo:hi].reshape(param.array.shape)
                self.slots.append((i, key, view, initial_value(kind, key, group), kind))
            if kind != "sgd":
                stepped.append(i)
        self.stepped = stepped if len(stepped) < len(self.params) else None  # None: all of them
        self.counts_steps = bool(stepped)
        self.first_steps: list[int] = []

    def prepare(self) -> list:
        """Fill H, steps and new state before an update; returns what commit() attaches after it."""
        same_states = True
        for opt, obj in self.state_pairs:
            same_states = same_states and opt.state is obj
        if not same_states or [read(group) for read, group in self.row_reads] != self.raw_rows:
            # something may have changed: compare the rows themselves (an edited list of betas...)
            rows = [ROWS[kind](group) for group, _, _, kind in self.groups]
            if rows != self.rows or not same_states:
                self.sync()
            self.raw_rows = [frozen(read(group)) for read, group in self.row_reads]
        attach = []
        dicts, H = self.dicts, self.H
        for i in self.first_steps:  # momentum buffers created by the previous call
            H[i, SGD_FIRST_STEP] = 0.0
        self.first_steps = []
        for i, key, view, initial, kind in self.slots:
            current = dicts[i].get(key)
            if current is view:
                continue
            if current is None:
                if kind == "sgd":
                    H[i, SGD_FIRST_STEP] = 1.0
                    self.first_steps.append(i)
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
        if self.counts_steps:
            if self.stepped is None:
                steps = [d.get("step", 0) + 1 for d in dicts]
                self.steps[:] = steps
            else:
                steps = [dicts[i].get("step", 0) + 1 for i in self.stepped]
                self.steps[self.stepped] = steps
            attach.append(steps)
        return attach

    def commit(self, attach: list) -> None:
        """After a successful update: the new step counts and state views into the state dicts."""
        if self.counts_steps:
            steps = attach.pop()
            stepped = self.dicts if self.stepped is None else [self.dicts[i] for i in self.stepped]
            for d, s in zip(stepped, steps):
                d["step"] = s
        for d, key, view in attach:
            d[key] = view


def frozen(values: tuple) -> tuple:
    """values with lists as tuples: a list edited in place (betas) then no longer compares equal."""
    return tuple(tuple(v) if isinstance(v, list) else v for v in values)


def initial_value(kind: str, key: str, group: dict) -> float:
    return float(group["initial_accumulator_value"]) if kind == "adagrad" and key == "sum" else 0.0


__all__ = ["FlatState", "flatten_parameters"]
