"""The training loop: ``fit`` (with validation, metrics, schedulers, early stopping, checkpoints
and a progress bar), ``evaluate`` and ``predict``.

A checkpoint written by ``fit`` holds the model, optimizer, scheduler and loader states, the
epoch and the history, so ``fit(..., checkpoint=path, resume=True)`` continues bit for bit as if
training had not stopped.
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
from fastnn.compile import compile_step
from fastnn.io import load, save
from fastnn.tensor import Tensor, no_grad

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


def evaluate(model, loader: Iterable, metrics=("accuracy",), loss_fn=None) -> dict[str, float]:
    """Mean loss (if ``loss_fn``) and metrics of ``model`` over ``loader``, in eval mode, no graph.
    Loss and metrics are averaged over samples, not batches."""
    metric_fns = _resolve_metrics(metrics)
    was_training = model.training
    model.eval()
    totals: dict[str, float] = {}
    n = 0
    try:
        with no_grad():
            for batch in loader:
                x, y = _split(batch)
                out = model(x)
                size = len(_array(y))
                if loss_fn is not None:
                    totals["loss"] = totals.get("loss", 0.0) + float(loss_fn(out, y).item()) * size
                for name, fn in metric_fns.items():
                    totals[name] = totals.get(name, 0.0) + fn(_array(out), _array(y)) * size
                n += size
    finally:
        model.train(was_training)
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


def _checkpoint_state(model, optimizer, scheduler, loader, epoch, history, best_state, best_value):
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
             "history": history.state_dict(), "best_value": best_value, "rng": random.get_rng_state()}
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if hasattr(loader, "state_dict"):
        state["train_loader"] = loader.state_dict()
    if best_state is not None:
        state["best_model"] = best_state
    return state


def _copy_state(model) -> dict:
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def _scheduler_steps_per_batch(scheduler) -> bool:
    return type(scheduler).__name__ == "OneCycleLR"


def fit(model, loss_fn, optimizer, train_loader: Iterable, val_loader: Iterable | None = None, epochs: int = 10,
        scheduler=None, metrics=("accuracy",), early_stopping: EarlyStopping | int | None = None,
        checkpoint: str | os.PathLike | None = None, resume: bool = False, progress: bool = True,
        scheduler_interval: str | None = None, verbose: bool = False, compile: bool = False) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    Each epoch: train on every batch (forward, ``loss_fn``, backward, ``optimizer.step()``),
    then evaluate on ``val_loader``. ``scheduler`` steps once per epoch (ReduceLROnPlateau with the
    monitored value) or once per batch (OneCycleLR, or ``scheduler_interval="batch"``).
    ``early_stopping`` (an :class:`EarlyStopping` or a patience) stops on a stalled monitored value
    and restores the best weights. ``checkpoint`` is written atomically after every epoch; with
    ``resume=True`` an existing checkpoint is loaded first. The progress bar (tqdm) shows
    batches, loss and throughput, and is off when stderr is not a terminal or ``progress=False``.
    ``compile=True`` runs each training step as ``fastnn.compile_step(model, loss_fn, optimizer)``
    (one compiled call; the eager step where the model is not compilable).
    """
    if epochs < 0:
        raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
    metric_fns = _resolve_metrics(metrics)
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        early_stopping = EarlyStopping(patience=early_stopping)
    if early_stopping is not None and early_stopping.monitor.startswith("val_") and val_loader is None:
        raise ValueError(f"fit: early stopping monitors {early_stopping.monitor!r} but no val_loader was given")
    if scheduler_interval is None:
        scheduler_interval = "batch" if _scheduler_steps_per_batch(scheduler) else "epoch"
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    plateau = type(scheduler).__name__ == "ReduceLROnPlateau"

    history = History()
    start_epoch, best_value, best_state, stale = 0, None, None, 0
    if checkpoint is not None and resume and os.path.exists(checkpoint):
        state = load(checkpoint)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and "scheduler" in state:
            scheduler.load_state_dict(state["scheduler"])
        if "train_loader" in state and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(state["train_loader"])
        history.load_state_dict(state["history"])
        random.set_rng_state(state["rng"])
        start_epoch = int(state["epoch"])
        best_value = state.get("best_value")
        best_state = state.get("best_model")
        if early_stopping is not None and history.best_epoch is not None:
            stale = start_epoch - history.best_epoch

    show = progress and sys.stderr.isatty()
    compiled = compile_step(model, loss_fn, optimizer) if compile else None
    for epoch in range(start_epoch, epochs):
        if history.stopped_early:
            break
        model.train()
        started = time.perf_counter()
        bar = _progress(_batches(train_loader), f"epoch {epoch + 1}/{epochs}", show)
        loss_sum, seen, metric_sums = 0.0, 0, dict.fromkeys(metric_fns, 0.0)
        for batch_index, batch in enumerate(train_loader):
            x, y = _split(batch)
            if compiled is not None:  # fastnn.compile_step: the same step in one compiled call
                loss = compiled(x, y)
                out = compiled.last_output
            else:
                optimizer.zero_grad()
                out = model(x)
                loss = loss_fn(out, y)
                loss.backward()
                optimizer.step()
            if scheduler is not None and scheduler_interval == "batch":
                scheduler.step()
            size = len(_array(y))
            value = float(loss.item())
            if not math.isfinite(value):
                raise FloatingPointError(f"fit: the loss became {value} at epoch {epoch + 1}, batch {batch_index + 1}")
            loss_sum += value * size
            for name, fn in metric_fns.items():
                metric_sums[name] += fn(out.array, _array(y)) * size
            seen += size
            if bar is not None:
                bar.update(1)
                rate = seen / (time.perf_counter() - started)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", samples_per_s=f"{rate:.0f}")
        if bar is not None:
            bar.close()
        if seen == 0:
            raise ValueError("fit: the training loader yielded no samples")
        record = {"loss": loss_sum / seen, **{k: v / seen for k, v in metric_sums.items()}}
        if val_loader is not None:
            val = evaluate(model, val_loader, metric_fns, loss_fn)
            record.update({f"val_{k}": v for k, v in val.items()})
        record["lr"] = optimizer.param_groups[0]["lr"]
        if scheduler is not None and scheduler_interval == "epoch":
            if plateau:
                monitor = early_stopping.monitor if early_stopping is not None else (
                    "val_loss" if val_loader is not None else "loss")
                scheduler.step(record[monitor])
            else:
                scheduler.step()
        record["epoch_time"] = time.perf_counter() - started
        history.append(**record)

        if early_stopping is not None:
            if early_stopping.monitor not in record:
                raise ValueError(f"fit: early stopping monitors {early_stopping.monitor!r}, "
                                 f"but the epoch records only {', '.join(record)}")
            value = record[early_stopping.monitor]
            if early_stopping.improved(value, best_value):
                best_value, stale, history.best_epoch = value, 0, epoch + 1
                if early_stopping.restore_best_weights:
                    best_state = _copy_state(model)
            else:
                stale += 1
        if verbose:
            print(f"epoch {epoch + 1}/{epochs} " + " ".join(f"{k}={v:.4g}" for k, v in record.items()), flush=True)
        if checkpoint is not None:
            save(_checkpoint_state(model, optimizer, scheduler, train_loader, epoch + 1, history, best_state,
                                   best_value), checkpoint)
        if early_stopping is not None and stale >= early_stopping.patience:
            history.stopped_early = True
            break

    if early_stopping is not None and early_stopping.restore_best_weights and best_state is not None:
        model.load_state_dict(best_state)
    return history
