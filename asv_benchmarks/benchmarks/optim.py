"""The fused in-place optimizer updates, one per optimizer, float32 and float64."""

from __future__ import annotations

import numpy as np

from .common import BACKENDS, DTYPES, SEED, SIZES, activate_backend, random_array

# Number of parameters updated: a small layer, the 784-256-128-10 MLP (~235K), a 1M tensor.
PARAM_COUNTS = {"small": 4_096, "medium": 235_146, "large": 1_048_576}

# optimizer -> (kernel, state buffers it keeps, keyword options as typically used)
UPDATES = {
    "sgd_momentum": ("sgd_update", ("momentum_buffer",), {"lr": 0.01, "momentum": 0.9}),
    "adagrad": ("adagrad_update", ("state_sum",), {"clr": 0.01}),
    "rmsprop": ("rmsprop_update", ("square_avg",), {"lr": 0.01}),
    "adadelta": ("adadelta_update", ("square_avg", "acc_delta"), {"lr": 1.0}),
    "adam": ("adam_update", ("exp_avg", "exp_avg_sq"), {"lr": 1e-3}),
    "adamw": ("adam_update", ("exp_avg", "exp_avg_sq"),
              {"lr": 1e-3, "weight_decay": 0.01, "decoupled_weight_decay": True}),
}


class OptimizerUpdate:
    """One in-place update of every parameter; Adam's step count advances with each call."""

    params = (BACKENDS, SIZES, list(UPDATES), DTYPES)
    param_names = ["backend", "size", "optimizer", "dtype"]

    def setup(self, backend, size, optimizer, dtype):
        b = activate_backend(backend)
        kernel, buffers, self.options = UPDATES[optimizer]
        self.update = getattr(b, kernel)
        self.counts_steps = kernel == "adam_update"
        rng = np.random.default_rng(SEED)
        n = PARAM_COUNTS[size]
        self.param = random_array(rng, (n,), dtype)
        self.grad = random_array(rng, (n,), dtype) * np.asarray(0.1, dtype=dtype)
        self.state = {name: np.zeros(n, dtype=dtype) for name in buffers}
        self.step = 0
        self.run()  # compiles, so the JIT is never timed

    def run(self):
        self.step += 1
        extra = {"step": self.step} if self.counts_steps else {}
        self.update(self.param, self.grad, **self.state, **self.options, **extra)

    def time_update(self, backend, size, optimizer, dtype):
        self.run()
