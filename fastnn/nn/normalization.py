"""Batch normalisation, as torch.nn.BatchNorm1d (composed from differentiable Tensor ops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from fastnn.nn import functional_extra as FX
from fastnn.nn.module import Module, Parameter
from fastnn.tensor import Tensor, from_numpy


class BatchNorm1d(Module):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per feature, over inputs (N, C) or (N, C, L).

    Training: the batch's mean and biased variance normalise; with track_running_stats the running
    mean and the running *unbiased* variance are updated, running = (1 - m) * running + m * batch,
    where m = momentum, or 1 / num_batches_tracked when momentum is None (a cumulative average).
    Evaluation uses the running statistics (the batch's when there are none). The state_dict keys are
    PyTorch's: weight, bias, running_mean, running_var, num_batches_tracked.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) or num_features <= 0:
            raise ValueError(f"BatchNorm1d: num_features must be a positive integer, got {num_features!r}")
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be a positive number, got {eps!r}")
        if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, (int, float))
                                     or not 0 <= momentum <= 1):
            raise ValueError(f"BatchNorm1d: momentum must be a number in [0, 1] or None, got {momentum!r}")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"BatchNorm1d: fastnn runs on the CPU only; device {str(device)!r} is not available")
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"BatchNorm1d: dtype must be float32 or float64, got {dtype}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        n = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(n, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(n, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", from_numpy(np.zeros(n, dtype=dtype)))
            self.register_buffer("running_var", from_numpy(np.ones(n, dtype=dtype)))
            self.register_buffer("num_batches_tracked", from_numpy(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0 (in place)."""
        if self.track_running_stats:
            self.running_mean.numpy()[...] = 0
            self.running_var.numpy()[...] = 1
            self.num_batches_tracked.numpy()[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight to 1 and bias to 0."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.detach().numpy()[...] = 1
        if self.bias is not None:
            self.bias.detach().numpy()[...] = 0

    def forward(self, input: Tensor) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"BatchNorm1d: expected a Tensor, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d({self.num_features}): expected 2D or 3D input (got {input.ndim}D input "
                             f"of shape {tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}): expected input (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {tuple(input.shape)}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            if input.numel() // self.num_features != 1:  # a batch batch_norm rejects does not count
                self.num_batches_tracked.numpy()[...] += 1
            if self.momentum is None:
                factor = 1.0 / max(int(self.num_batches_tracked.item()), 1)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return FX.batch_norm(input, self.running_mean if keep else None, self.running_var if keep else None,
                             self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


__all__ = ["BatchNorm1d"]
