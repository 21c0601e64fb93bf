"""Learning-rate schedulers, as torch.optim.lr_scheduler: each ``step()`` writes new ``lr`` values
into the optimizer's param_groups.

The schedulers use PyTorch's recursive (chainable) update rules, so their sequences match
PyTorch's number for number. Construction performs the initial step (``last_epoch`` becomes 0)
and records ``initial_lr`` in every group; ``base_lrs`` are those initial values.
``state_dict()`` holds every attribute except the optimizer (plain numbers, strings and lists,
so ``fastnn.save`` can store it).

Every argument is validated where it is given: ``StepLR(opt, step_size=0)`` or a string gamma
raises ``ValueError``/``TypeError`` naming the scheduler and the argument.
"""

from fastnn.optim.lr_scheduler.base import LRScheduler
from fastnn.optim.lr_scheduler.one_cycle import OneCycleLR
from fastnn.optim.lr_scheduler.plateau import ReduceLROnPlateau
from fastnn.optim.lr_scheduler.schedules import CosineAnnealingLR, ExponentialLR, LambdaLR, MultiStepLR, StepLR

__all__ = ["CosineAnnealingLR", "ExponentialLR", "LRScheduler", "LambdaLR", "MultiStepLR", "OneCycleLR",
           "ReduceLROnPlateau", "StepLR"]
