"""The training loop: ``fit`` (with validation, metrics, schedulers, early stopping, checkpoints
and a progress bar), ``evaluate`` and ``predict``.

A checkpoint written by ``fit`` holds the model, optimizer, scheduler and loader states, the
epoch and the history, so ``fit(..., checkpoint=path, resume=True)`` continues bit for bit as if
training had not stopped.

How ``fit`` reads (fastnn/train/loop.py): ``_Options.check`` validates the arguments; ``_Fit`` holds one run's state and
has one method per part of an epoch (``train_epoch`` -> ``train_step``, ``validate``,
``step_scheduler_after_epoch``, ``update_early_stopping``, ``save_checkpoint``; ``resume`` before
the first). Metrics are in metrics.py, History and EarlyStopping in history.py, evaluate and
predict in evaluation.py. Everything that differs under MPI goes through ``Replicas``
(fastnn/distributed/training.py), which is the identity in a world of one process.
"""

from fastnn.train.evaluation import evaluate, predict
from fastnn.train.history import EarlyStopping, History
from fastnn.train.loop import fit
from fastnn.train.metrics import METRICS, Metric, accuracy, mean_absolute_error

__all__ = ["METRICS", "EarlyStopping", "History", "Metric", "accuracy", "evaluate", "fit", "mean_absolute_error",
           "predict"]
