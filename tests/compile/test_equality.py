"""Compiled vs eager: parameters and optimizer state after 20 steps, for every layer x loss x
optimizer combination, both dtypes, with the eager path on every available backend.

Tolerances: the compiled step runs the Cython backend's own row functions (kernels/*.pxd) and the
same BLAS, so with the eager Cython backend and products above kernels.TINY_WORK (which run on
BLAS, not as direct loops) the two are bit for bit the same after 20 steps; with the small layers
of helpers.py (tiny products: direct loops, a different summation order) the trajectories agree to
rtol 2e-4 (float32) and 1e-9 (float64), and the other backends, whose kernels differ from Cython's
by a few ulps per op, within the same tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim

from .helpers import LAYERS, LOSSES, OPTIMIZERS, assert_same, build, data, eager_step, snapshot

STEPS = 20
BACKENDS = fn.available_backends()


def _trajectories(layers, loss, opt, dtype, backend):
    results = []
    with fn.use_backend(backend):
        for compiled in (False, True):
            model, loss_fn, target = build(layers, loss, dtype)
            optimizer = OPTIMIZERS[opt](model.parameters())
            step = fn.compile_step(model, loss_fn, optimizer) if compiled else None
            if compiled:
                assert step.fallback_reason is None, step.fallback_reason
            fn.manual_seed(1)  # the dropout stream
            for i in range(STEPS):
                x, y = data(target, dtype, seed=i % 4)
                loss_value = step(x, y) if compiled else eager_step(model, loss_fn, optimizer, x, y)
            results.append((float(loss_value.item()), snapshot(model, optimizer)))
    return results


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize("layers", sorted(LAYERS))
def test_compiled_equals_eager(layers, loss, opt, dtype):
    (eager_loss, eager), (compiled_loss, compiled) = _trajectories(layers, loss, opt, dtype, "cython")
    assert_same(eager, compiled, dtype)
    assert np.isclose(eager_loss, compiled_loss, rtol=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", ["sgd_nesterov_wd_max", "adam_amsgrad", "rmsprop"])
@pytest.mark.parametrize("layers", ["leaky+residual", "tanh+dropout"])
def test_compiled_equals_eager_on_every_backend(backend, layers, opt, dtype):
    (_, eager), (_, compiled) = _trajectories(layers, "ce", opt, dtype, backend)
    assert_same(eager, compiled, dtype)


WIDE = {  # layers whose products all run on BLAS at batch 32 (20 -> 64 -> ... -> 3)
    "relu": lambda: [nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 3)],
    "tanh+dropout+gelu": lambda: [nn.Linear(20, 64), nn.Tanh(), nn.Dropout(0.2), nn.Linear(64, 48), nn.GELU(),
                                  nn.Linear(48, 3)],
    "leaky+residual+sigmoid": lambda: [nn.Linear(20, 64), nn.LeakyReLU(0.1),
                                       nn.Residual(nn.Sequential(nn.Linear(64, 64), nn.Sigmoid())), nn.Linear(64, 3)],
}
WIDE_OPTIMIZERS = {
    "sgd_nesterov_wd": lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "sgd_maximize": lambda p: optim.SGD(p, lr=0.01, momentum=0.5, maximize=True),
    "adam_amsgrad": lambda p: optim.Adam(p, lr=0.01, amsgrad=True), "adamw": lambda p: optim.AdamW(p, lr=0.01),
    "rmsprop_centered": lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
    "adagrad": lambda p: optim.Adagrad(p, lr=0.05, lr_decay=0.01), "adadelta": lambda p: optim.Adadelta(p, lr=0.1),
}
WIDE_LOSSES = {"ce": lambda: nn.CrossEntropyLoss(),
               "ce_smooth_ignore": lambda: nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=1),
               "mse": lambda: nn.MSELoss(), "bce": lambda: nn.BCEWithLogitsLoss()}


# (maximizing the squared error diverges to inf within 20 steps: that pair is left out)
WIDE_CASES = [(layers, opt, loss) for layers in sorted(WIDE) for opt in sorted(WIDE_OPTIMIZERS)
              for loss in sorted(WIDE_LOSSES) if (opt, loss) != ("sgd_maximize", "mse")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layers,opt,loss", WIDE_CASES)
def test_compiled_equals_eager_cython_bit_for_bit(layers, opt, loss, dtype):
    """Products on BLAS (none tiny), the Cython backend eagerly: the same row functions, the same
    BLAS, the same order of operations, so the same parameters and state after 20 steps, to the bit."""
    results = []
    for compiled in (False, True):
        fn.manual_seed(0)
        model = nn.Sequential(*WIDE[layers]()).to(dtype)
        optimizer, loss_fn = WIDE_OPTIMIZERS[opt](model.parameters()), WIDE_LOSSES[loss]()
        step = fn.compile_step(model, loss_fn, optimizer) if compiled else None
        fn.manual_seed(1)  # the dropout stream
        with fn.use_backend("cython"):
            for i in range(STEPS):
                rng = np.random.default_rng(i % 3)
                x = rng.standard_normal((32, 20)).astype(dtype)
                y = rng.integers(0, 3, 32) if loss.startswith("ce") else rng.standard_normal((32, 3)).astype(dtype)
                y = (y > 0).astype(dtype) if loss == "bce" else y
                step(x, y) if compiled else eager_step(model, loss_fn, optimizer, x, y)
        results.append(snapshot(model, optimizer))
    assert_same(results[0], results[1], dtype, rtol=0)
