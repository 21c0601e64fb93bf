"""``fit``: its arguments checked (``_Options``) and one run's state with one method per part of an
epoch (``_Fit``: ``train_epoch`` -> ``train_step``, ``validate``, ``step_scheduler_after_epoch``,
``update_early_stopping``, ``save_checkpoint``; ``resume`` before the first)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from fastnn import random
from fastnn.distributed.training import Replicas
from fastnn.io import save
from fastnn.optim import Optimizer
from fastnn.tensor import Tensor
from fastnn.threads import timed_step, use_threads
from fastnn.train.evaluation import as_array, evaluation_totals, split_batch
from fastnn.train.history import EarlyStopping, History
from fastnn.train.metrics import Metric, resolve_metrics


def _batches(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None

def _progress(total, desc, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)

def _copy_state(model) -> dict:
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def _scheduler_steps_per_batch(scheduler) -> bool:
    return type(scheduler).__name__ == "OneCycleLR"


@dataclass
class _Options:
    """fit's arguments, checked, with the defaults they imply."""

    epochs: int
    metric_fns: dict[str, Metric]
    early_stopping: EarlyStopping | None
    scheduler_interval: str
    plateau: bool
    monitor: str  # the value ReduceLROnPlateau steps with

    @classmethod
    def check(cls, epochs, metrics, early_stopping, scheduler, scheduler_interval, has_val: bool) -> _Options:
        if epochs < 0:
            raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
        metric_fns = resolve_metrics(metrics)
        if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
            early_stopping = EarlyStopping(patience=early_stopping)
        if early_stopping is not None and early_stopping.monitor.startswith("val_") and not has_val:
            raise ValueError(f"fit: early stopping monitors {early_stopping.monitor!r} but no val_loader was given")
        if scheduler_interval is None:
            scheduler_interval = "batch" if _scheduler_steps_per_batch(scheduler) else "epoch"
        if scheduler_interval not in ("epoch", "batch"):
            raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
        monitor = early_stopping.monitor if early_stopping is not None else ("val_loss" if has_val else "loss")
        return cls(epochs, metric_fns, early_stopping, scheduler_interval,
                   type(scheduler).__name__ == "ReduceLROnPlateau", monitor)


class _Fit:
    """One run of :func:`fit`: the objects it trains, the state carried from epoch to epoch, and one
    method per part of an epoch."""

    def __init__(self, replicas: Replicas, loss_fn, optimizer, train_loader, val_loader, scheduler, options: _Options,
                 checkpoint, show_progress: bool, verbose: bool) -> None:
        self.replicas, self.model, self.core = replicas, replicas.model, replicas.core
        self.loss_fn, self.optimizer, self.scheduler, self.options = loss_fn, optimizer, scheduler, options
        self.train_loader = replicas.shard_train(train_loader)
        self.val_loader = replicas.shard_eval(val_loader)
        self.checkpoint = checkpoint
        self.show_progress = show_progress and replicas.is_main
        self.verbose = verbose and replicas.is_main
        self.history = History()
        self.start_epoch, self.best_value, self.best_state, self.stale = 0, None, None, 0
        self.compiled = None  # fit(compile=True) sets the compiled step

    def resume(self) -> None:
        """Load the checkpoint (model, optimizer, scheduler, loader, random state, history, best weights)."""
        state = self.replicas.load_checkpoint(self.checkpoint)
        self.core.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if "train_loader" in state and hasattr(self.train_loader, "load_state_dict"):
            self.train_loader.load_state_dict(state["train_loader"])
        self.history.load_state_dict(state["history"])
        self.replicas.restore_rng(state)
        self.start_epoch = int(state["epoch"])
        self.best_value = state.get("best_value")
        self.best_state = state.get("best_model")
        if self.options.early_stopping is not None and self.history.best_epoch is not None:
            self.stale = self.start_epoch - self.history.best_epoch

    def run(self) -> History:
        for epoch in range(self.start_epoch, self.options.epochs):
            if self.history.stopped_early:
                break
            started = time.perf_counter()
            record = self.train_epoch(epoch, started)
            if self.val_loader is not None:
                record.update(self.validate())
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            self.step_scheduler_after_epoch(record)
            record["epoch_time"] = time.perf_counter() - started
            record = self.replicas.agree(record)  # rank 0's figures, so every rank decides alike
            self.history.append(**record)
            self.update_early_stopping(record, epoch)
            if self.verbose:
                print(f"epoch {epoch + 1}/{self.options.epochs} " + " ".join(f"{k}={v:.4g}" for k, v in record.items()),
                      flush=True)
            if self.checkpoint is not None:
                self.save_checkpoint(epoch + 1)
            es = self.options.early_stopping
            if es is not None and self.stale >= es.patience:
                self.history.stopped_early = True
                break
        es = self.options.early_stopping
        if es is not None and es.restore_best_weights and self.best_state is not None:
            self.core.load_state_dict(self.best_state)
        return self.history

    def train_epoch(self, epoch: int, started: float) -> dict[str, float]:
        """One pass over the training loader; the epoch's loss and metrics, averaged over every rank's samples."""
        self.model.train()
        self.replicas.start_epoch(self.train_loader, epoch)
        bar = _progress(_batches(self.train_loader), f"epoch {epoch + 1}/{self.options.epochs}", self.show_progress)
        metric_fns = self.options.metric_fns
        loss_sum, seen, metric_sums = 0.0, 0, dict.fromkeys(metric_fns, 0.0)
        for batch_index, batch in enumerate(self.train_loader):
            x, y = split_batch(batch)
            with timed_step():
                out, value = self.train_step(x, y)
            if not math.isfinite(value):
                raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, batch {batch_index + 1}")
            size = len(as_array(y))
            loss_sum += value * size
            for name, fn in metric_fns.items():
                metric_sums[name] += fn(out.array, as_array(y)) * size
            seen += size
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}",
                                samples_per_s=f"{seen * self.replicas.size / (time.perf_counter() - started):.0f}")
        if bar is not None:
            bar.close()
        loss_sum, seen, *sums = self.replicas.sum([loss_sum, seen, *metric_sums.values()])
        if seen == 0:
            raise ValueError("fit: the training loader yielded no samples")
        return {"loss": loss_sum / seen, **{name: total / seen for name, total in zip(metric_sums, sums)}}

    def train_step(self, x, y) -> tuple[Tensor, float]:
        """zero_grad, forward, loss, backward (gradients averaged across ranks), step; the output and loss."""
        if self.compiled is not None:  # fastnn.compile_step: the same step in one compiled call
            loss = self.compiled(x, y)
            out = self.compiled.last_output
        else:
            self.optimizer.zero_grad()
            out = self.model(x)
            loss = self.loss_fn(out, y)
            loss.backward()
            self.optimizer.step()
        if self.scheduler is not None and self.options.scheduler_interval == "batch":
            self.scheduler.step()
        return out, float(loss.item())

    def validate(self) -> dict[str, float]:
        """val_loss and val_<metric>, averaged over the validation samples of every rank."""
        totals, n = evaluation_totals(self.core, self.val_loader, self.options.metric_fns, self.loss_fn)
        *sums, n = self.replicas.sum([*totals.values(), n])
        if n == 0:
            raise ValueError("evaluate: the loader yielded no samples")
        return {f"val_{name}": total / n for name, total in zip(totals, sums)}

    def step_scheduler_after_epoch(self, record: dict[str, float]) -> None:
        if self.scheduler is None or self.options.scheduler_interval != "epoch":
            return
        if self.options.plateau:
            self.scheduler.step(record[self.options.monitor])
        else:
            self.scheduler.step()

    def update_early_stopping(self, record: dict[str, float], epoch: int) -> None:
        es = self.options.early_stopping
        if es is None:
            return
        if es.monitor not in record:
            raise ValueError(f"fit: early stopping monitors {es.monitor!r}, but the epoch records only "
                             f"{', '.join(record)}")
        value = record[es.monitor]
        if es.improved(value, self.best_value):
            self.best_value, self.stale, self.history.best_epoch = value, 0, epoch + 1
            if es.restore_best_weights:
                self.best_state = _copy_state(self.core)
        else:
            self.stale += 1

    def save_checkpoint(self, epoch: int) -> None:
        """Rank 0 writes the checkpoint atomically (every rank's random state gathered into it)."""
        rng_ranks = self.replicas.rng_states()
        if not self.replicas.is_main:
            return
        state = {"model": self.core.state_dict(), "optimizer": self.optimizer.state_dict(), "epoch": epoch,
                 "history": self.history.state_dict(), "best_value": self.best_value, "rng": random.get_rng_state()}
        if rng_ranks is not None:
            state["rng_ranks"] = rng_ranks
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if hasattr(self.train_loader, "state_dict"):
            state["train_loader"] = self.train_loader.state_dict()
        if self.best_state is not None:
            state["best_model"] = self.best_state
        save(state, self.checkpoint)


def _compiled_step(replicas: Replicas, loss_fn, optimizer, compile: bool | None):
    """fit's compiled step (a CompiledStep), or None: for compile=False, and by default when training
    data-parallel or when the step is not compilable."""
    if compile is False or compile is None and (replicas.model is not replicas.core
                                                 or not isinstance(optimizer, Optimizer)):
        return None  # (an optimizer-like object of the user's own runs its own step)
    from fastnn.compile.step import CompiledStep  # loads the interpreter: only when fit compiles

    step = CompiledStep(replicas.model, loss_fn, optimizer, warn=compile is True)
    return step if step.plan is not None or compile else None


def fit(model, loss_fn, optimizer, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 10,
        scheduler=None, metrics=("accuracy",), early_stopping: EarlyStopping | int | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
        scheduler_interval: str | None = None, verbose: bool = False, distributed: bool | None = None,
        compile: bool | None = None, threads: int | str | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    Each epoch: train on every batch (forward, ``loss_fn``, backward, ``optimizer.step()``),
    then evaluate on ``val_loader``. ``scheduler`` steps once per epoch (ReduceLROnPlateau with the
    monitored value) or once per batch (OneCycleLR, or ``scheduler_interval="batch"``).
    ``early_stopping`` (an :class:`EarlyStopping` or a patience) stops on a stalled monitored value
    and restores the best weights. ``checkpoint`` is written atomically after every epoch; with
    ``resume=True`` an existing checkpoint is loaded first. The progress bar (tqdm) shows
    batches, loss and throughput, and is off when stderr is not a terminal or ``progress=False``.

    Under MPI (``distributed=None``: when the process group is initialised or ``mpiexec`` started the
    process; True: always; False: never) fit trains data-parallel: the model is wrapped in
    ``DistributedDataParallel``, a DataLoader without a sampler is sharded by a ``DistributedSampler``
    (its batch size is per rank) and the validation loader into unpadded shards; the loss, metrics
    and validation figures are averaged over all ranks' samples and rank 0's record is every rank's
    (so early stopping and ReduceLROnPlateau decide alike); rank 0 alone shows progress, prints and
    writes checkpoints, which every rank resumes from; an exception on any rank ends the whole job.

    ``compile`` (default None: where supported) runs each training step as
    ``fastnn.compile_step(model, loss_fn, optimizer)``: one compiled call, the same numbers; where the
    model, loss or optimizer is not compilable (and when training data-parallel) the eager step
    runs, silently by default, with a warning naming the reason when ``compile=True``;
    ``compile=False`` always runs the eager step. Compiling moves the parameters into one flat
    buffer: each parameter tensor stays the same object, its array becomes a view of the buffer.

    ``threads`` (an int or "auto") sets the thread count for this call only (None: the process
    setting, "auto" by default: the cores other processes leave free, see fastnn.threads).
    """
    if threads is not None:
        with use_threads(threads):
            return fit(model, loss_fn, optimizer, train_loader, val_loader, epochs, scheduler, metrics,
                       early_stopping, checkpoint, resume, progress, scheduler_interval, verbose, distributed,
                       compile)
    options = _Options.check(epochs, metrics, early_stopping, scheduler, scheduler_interval, val_loader is not None)
    replicas = Replicas(model, distributed)
    with replicas.guard():
        run = _Fit(replicas, loss_fn, optimizer, train_loader, val_loader, scheduler, options, checkpoint,
                   progress and sys.stderr.isatty(), verbose)
        run.compiled = _compiled_step(replicas, loss_fn, optimizer, compile)
        if checkpoint is not None and resume and replicas.agree(os.path.exists(checkpoint)):
            run.resume()
        return run.run()
