"""Compiled vs eager: parameters and optimizer state after 20 steps, for every layer x loss x
optimizer combination, both dtypes, with the eager path on every available backend.

Tolerances: with the eager Numba backend the compiled step runs the same kernels and the same
BLAS, and only the tiny products (direct loops, see kernels.TINY_WORK) and the order of the
loss sum differ; after 20 steps the trajectories agree to rtol 2e-4 (float32) and 1e-9
(float64). The other backends differ from Numba's kernels by a few ulps per op, within the same
tolerances.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastnn as fn

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
    (eager_loss, eager), (compiled_loss, compiled) = _trajectories(layers, loss, opt, dtype, "numba")
    assert_same(eager, compiled, dtype)
    assert np.isclose(eager_loss, compiled_loss, rtol=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opt", ["sgd_nesterov_wd_max", "adam_amsgrad", "rmsprop"])
@pytest.mark.parametrize("layers", ["leaky+residual", "tanh+dropout"])
def test_compiled_equals_eager_on_every_backend(backend, layers, opt, dtype):
    (_, eager), (_, compiled) = _trajectories(layers, "ce", opt, dtype, backend)
    assert_same(eager, compiled, dtype)


def test_float64_with_numba_backend_is_nearly_bit_exact():
    """Same kernels and BLAS: after 20 Adam steps float64 parameters agree to a few ulps."""
    (_, eager), (_, compiled) = _trajectories("relu", "ce", "adam_amsgrad", np.float64, "numba")
    assert_same(eager, compiled, np.float64, rtol=1e-12)
