"""The training loop: ``fit`` (with validation, metrics, schedulers, early stopping, checkpoints
and a progress bar), ``evaluate`` and ``predict``.

A checkpoint written by ``fit`` holds the model, optimizer, scheduler and loader states, the
epoch and the history, so ``fit(..., checkpoint=path, resume=True)`` continues bit for bit as if
training had not stopped.

How ``fit`` reads: ``_Options.check`` validates the arguments; ``_Fit`` holds one run's state and
has one method per part of an epoch (``train_epoch`` -> ``train_step``, ``validate``,
``step_scheduler_after_epoch``, ``update_early_stopping``, ``save_checkpoint``; ``resume`` before
the first). Everything that differs under MPI goes through ``Replicas``
(fastnn/distributed/training.py), which is the identity in a world of one process.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from fastnn import random
from fastnn.distributed.training import Replicas
from fastnn.io import save
from fastnn.tensor import Tensor, no_grad
from fastnn.threads import timed_step, use_threads

Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(output: np.ndarray, target: np.ndarray) -> float:
    """Fraction of rows whose arg-max (or, for one output column / 1-D logits, whose sign)
    equals the integer (or 0/1) target."""
    output = np.asarray(output)
    target = np.asarray(target)
    if output.ndim == 1 or output.shape[-1] == 1:
        pred = (output.reshape(target.shape) > 0).astype(target.dtype)
    else:
        pred = output.argmax(axis=-1)
    return float((pred == target).mean()) if target.size else float("nan")


def mean_absolute_error(output: np.ndarray, target: np.ndarray) -> float:
    """mean |output - target| over all elements."""
    return float(np.abs(np.asarray(output).reshape(np.shape(target)) - target).mean())


METRICS: dict[str, Metric] = {"accuracy": accuracy, "mae": mean_absolute_error}


def _resolve_metrics(metrics) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if isinstance(metrics, Mapping):
        return dict(metrics)
    out = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in METRICS:
                raise ValueError(f"fit: unknown metric {m!r}; built-in metrics are {', '.join(METRICS)}")
            out[m] = METRICS[m]
        else:
            out[getattr(m, "__name__", repr(m))] = m
    return out


@dataclass
class History:
    """Per-epoch records: ``history["loss"]``, ``history["val_loss"]``, ``history["val_accuracy"]``,
    ``history["epoch_time"]`` (seconds), ``history["lr"]``; ``best_epoch`` when early stopping ran."""

    records: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    stopped_early: bool = False

    def append(self, **values: float) -> None:
        for key, value in values.items():
            self.records.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.records[key]

    def __contains__(self, key: str) -> bool:
        return key in self.records

    @property
    def epochs(self) -> int:
        return len(self.records.get("loss", []))

    def state_dict(self) -> dict:
        return {"records": {k: list(v) for k, v in self.records.items()}, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early}

    def load_state_dict(self, state: Mapping) -> None:
        self.records = {k: [float(x) for x in v] for k, v in state["records"].items()}
        self.best_epoch = state.get("best_epoch")
        self.stopped_early = bool(state.get("stopped_early", False))

    def plot(self, path: str | os.PathLike) -> None:
        """Write a PNG of the loss curves (and each metric) per epoch; needs matplotlib."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError("History.plot needs matplotlib: pip install 'fastnn[demo]'") from exc
        names = sorted({k.removeprefix("val_") for k in self.records if k not in ("epoch_time", "lr")},
                       key=lambda k: (k != "loss", k))
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.8), squeeze=False)
        for ax, name in zip(axes[0], names):
            for key, style in ((name, "-"), (f"val_{name}", "--")):
                if key in self.records:
                    ax.plot(range(1, len(self.records[key]) + 1), self.records[key], style, marker="o", label=key)
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="grey", lw=0.8, ls=":")
            ax.set_xlabel("epoch")
            ax.set_title(name)
            ax.legend()
        fig.tight_layout()
        fig.savefig(os.fspath(path), dpi=100)
        plt.close(fig)


@dataclass
class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs;
    with ``restore_best_weights`` the model ends with the weights of its best epoch."""

    monitor: str = "val_loss"
    patience: int = 5  # epochs without improvement before stopping
    mode: str = "min"
    min_delta: float = 0.0
    restore_best_weights: bool = True

    def __post_init__(self):
        if self.mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {self.mode!r}")
        if self.patience < 1:
            raise ValueError(f"EarlyStopping: patience must be >= 1, got {self.patience}")

    def improved(self, value: float, best: float | None) -> bool:
        if best is None or math.isnan(best):
            return not math.isnan(value)
        return value < best - self.min_delta if self.mode == "min" else value > best + self.min_delta


def _batches(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _split(batch):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    raise ValueError(f"fit: each batch must be an (input, target) pair, got {type(batch).__name__}")


def _array(t) -> np.ndarray:
    return t.array if isinstance(t, Tensor) else np.asarray(t)


def _progress(total, desc, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def _evaluation_totals(model, loader: Iterable, metric_fns: dict[str, Metric], loss_fn) -> tuple[dict[str, float], int]:
    """Sample-weighted sums of the loss (if ``loss_fn``) and metrics over ``loader``, and the sample count,
    in eval mode without a graph."""
    was_training = model.training
    model.eval()
    totals = ({"loss": 0.0} if loss_fn is not None else {}) | dict.fromkeys(metric_fns, 0.0)
    n = 0
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                out = model(x)
                size = len(_array(y))
                if loss_fn is not None:
                    totals["loss"] += float(loss_fn(out, y).item()) * size
                for name, fn in metric_fns.items():
                    totals[name] += fn(_array(out), _array(y)) * size
                n += size
    finally:
        model.train(was_training)
    return totals, n


def evaluate(model, loader: Iterable, metrics=("accuracy",), loss_fn=None) -> dict[str, float]:
    """Mean loss (if ``loss_fn``) and metrics of ``model`` over ``loader``, in eval mode, no graph.
    Loss and metrics are averaged over samples, not batches."""
    totals, n = _evaluation_totals(model, loader, _resolve_metrics(metrics), loss_fn)
    if n == 0:
        raise ValueError("evaluate: the loader yielded no samples")
    return {k: v / n for k, v in totals.items()}


def predict(model, x, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for every row of ``x`` (array or Tensor), in eval mode, in batches."""
    if batch_size < 1:
        raise ValueError(f"predict: batch_size must be >= 1, got {batch_size}")
    data = _array(x)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            parts = [model(Tensor(data[i:i + batch_size])).array for i in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError("predict: x has no rows")
    return np.concatenate(parts)


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
        metric_fns = _resolve_metrics(metrics)
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
            x, y = _split(batch)
            with timed_step():
                out, value = self.train_step(x, y)
            if not math.isfinite(value):
                raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, batch {batch_index + 1}")
            size = len(_array(y))
            loss_sum += value * size
            for name, fn in metric_fns.items():
                metric_sums[name] += fn(out.array, _array(y)) * size
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
        totals, n = _evaluation_totals(self.core, self.val_loader, self.options.metric_fns, self.loss_fn)
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


def fit(model, loss_fn, optimizer, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 10,
        scheduler=None, metrics=("accuracy",), early_stopping: EarlyStopping | int | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
        scheduler_interval: str | None = None, verbose: bool = False, distributed: bool | None = None,
        threads: int | str | None = None) -> History:
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

    ``threads`` (an int or "auto") sets the thread count for this call only (None: the process
    setting, "auto" by default: the cores other processes leave free, see fastnn.threads).
    """
    if threads is not None:
        with use_threads(threads):
            return fit(model, loss_fn, optimizer, train_loader, val_loader, epochs, scheduler, metrics,
                       early_stopping, checkpoint, resume, progress, scheduler_interval, verbose, distributed)
    options = _Options.check(epochs, metrics, early_stopping, scheduler, scheduler_interval, val_loader is not None)
    replicas = Replicas(model, distributed)
    with replicas.guard():
        run = _Fit(replicas, loss_fn, optimizer, train_loader, val_loader, scheduler, options, checkpoint,
                   progress and sys.stderr.isatty(), verbose)
        if checkpoint is not None and resume and replicas.agree(os.path.exists(checkpoint)):
            run.resume()
        return run.run()
