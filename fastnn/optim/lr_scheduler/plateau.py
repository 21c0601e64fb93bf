"""ReduceLROnPlateau: a schedule driven by a monitored metric."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fastnn import arguments
from fastnn.optim.lr_scheduler.base import LRScheduler, check_optimizer, group_values
from fastnn.optim.optimizer import Optimizer


class ReduceLROnPlateau(LRScheduler):
    """Multiply lr by ``factor`` (not below min_lr) once a metric has not improved for ``patience`` epochs.

    Improvement (mode 'min', threshold_mode 'rel'): a < best * (1 - threshold); 'abs': a < best - threshold;
    mode 'max' mirrors both. After a reduction, ``cooldown`` epochs pass before bad epochs count again;
    a change smaller than ``eps`` is not applied.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8) -> None:
        owner = "ReduceLROnPlateau"
        arguments.real(owner, "factor", factor, low=0.0, high=1.0, high_open=True, invalid="Factor should be < 1.0.")
        self.factor = factor
        self.optimizer = check_optimizer(owner, optimizer)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"{owner}: expected {len(optimizer.param_groups)} min_lrs, got {len(min_lr)}")
            for value in min_lr:
                arguments.real(owner, "min_lr", value, low=0.0)
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            arguments.real(owner, "min_lr", min_lr, low=0.0)
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = arguments.integer(owner, "patience", patience, low=0, whole_floats=True)
        self.cooldown = arguments.integer(owner, "cooldown", cooldown, low=0, whole_floats=True)
        self.eps = arguments.real(owner, "eps", eps, low=0.0)
        self.last_epoch = 0
        self._last_lr = group_values(self.optimizer, "lr")
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Record one epoch's metric and reduce the learning rates if it has stopped improving."""
        current = _metric(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = group_values(self.optimizer, "lr")

    def _reduce_lr(self) -> None:
        if len(self.optimizer.param_groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"The number of param groups in the optimizer ({len(self.optimizer.param_groups)}) "
                                   f"differs from when ReduceLROnPlateau was initialized ({len(self.min_lrs)})")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        arguments.choice("ReduceLROnPlateau", "mode", mode, ("min", "max"))
        arguments.choice("ReduceLROnPlateau", "threshold_mode", threshold_mode, ("rel", "abs"))
        arguments.real("ReduceLROnPlateau", "threshold", threshold, low=0.0)
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


def _metric(value: Any) -> float:
    """ReduceLROnPlateau's metric as a float: a real number or a one-element tensor/array."""
    array = getattr(value, "array", value)
    if isinstance(array, np.ndarray) and array.size == 1 and array.dtype.kind in "iuf":
        return float(array.reshape(()))
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"ReduceLROnPlateau.step: metrics must be a number, got {type(value).__name__} "
                        f"{str(value)[:40]}")
    return float(value)


__all__ = ["ReduceLROnPlateau"]
