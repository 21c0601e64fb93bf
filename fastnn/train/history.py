"""What fit records per epoch (History) and its early-stopping rule (EarlyStopping)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field


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
