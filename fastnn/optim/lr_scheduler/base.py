"""The scheduler base class and the checks every scheduler shares."""

from __future__ import annotations

from typing import Any

from fastnn import arguments
from fastnn.optim.optimizer import Optimizer


def check_optimizer(owner: str, optimizer) -> Optimizer:
    """`optimizer` after checking it is a fastnn Optimizer."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: {type(optimizer).__name__} is not an Optimizer")
    return optimizer


def check_last_epoch(owner: str, last_epoch: Any) -> int:
    """The epoch to resume after: an integer >= -1 (-1 for a fresh start)."""
    return arguments.integer(owner, "last_epoch", last_epoch, low=-1)


def group_values(optimizer: Optimizer, key: str) -> list:
    """`key` of every parameter group, in order."""
    return [group[key] for group in optimizer.param_groups]


def check_gamma(owner: str, gamma: Any) -> float:
    """The multiplicative decay factor: a finite number >= 0."""
    arguments.real(owner, "gamma", gamma, low=0.0)
    return gamma


class LRScheduler:
    """Base class: subclasses implement :meth:`get_lr`, the learning rates for ``last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        self.optimizer = check_optimizer(owner, optimizer)
        last_epoch = check_last_epoch(owner, last_epoch)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                                   "scheduler with last_epoch >= 0")
        self.base_lrs: list[float] = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rate of every group at ``last_epoch`` (called by :meth:`step`)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates the last :meth:`step` set."""
        return self._last_lr

    def step(self) -> None:
        """Advance one epoch (or batch) and write the new learning rates into the optimizer."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = group_values(self.optimizer, "lr")

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer."""
        return {key: value for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by :meth:`state_dict`."""
        self.__dict__.update(state_dict)


__all__ = ["LRScheduler", "check_gamma", "check_last_epoch", "check_optimizer", "group_values"]
