"""The activations kernel family (elementwise activations, softmax, log-softmax) of every backend
against the NumPy reference.

Shapes and values are drawn by hypothesis; the ``test_large_*`` tests use 3000 x 700 = 2.1M
elements, above the compiled backends' thread thresholds, so the threaded paths run too. Inputs
arrive C-contiguous, transposed or strided and must be left untouched. float64 agrees to ~1e-12
relative, float32 to ~1e-5 (backend_testing.assert_close).
"""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import (
    activation_input,
    compare_kernel,
    dims,
    layouts,
    randn,
    saved_for,
    scales,
    seeds,
)
from hypothesis import example, given
from hypothesis import strategies as st

from fastnn.backends.contract import ACTIVATION_NAMES as ACTIVATIONS


@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(shape=st.lists(dims, min_size=1, max_size=3), seed=seeds, layout=layouts, scale=scales,
       slope=st.sampled_from([0.01, 0.2]))
@example(shape=[1], seed=1, layout="strided", scale=1.0, slope=0.01)
def test_activation_forward_and_backward(backend, reference, dtype, activation, shape, seed, layout, scale, slope):
    x = activation_input(seed, shape, dtype, scale)
    compare_kernel(backend, reference, "activation_forward", (x, activation, slope), {}, dtype, layout)
    saved = saved_for(reference, x, activation, slope)
    grad_out = randn(seed + 1, shape, dtype)
    compare_kernel(backend, reference, "activation_backward", (grad_out, saved, activation, slope), {}, dtype, layout)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations_saturate_without_overflow(backend, reference, dtype, activation):
    x = np.array([-1e4, -90.0, -30.0, -1e-3, 0.0, 1e-3, 30.0, 90.0, 1e4], dtype=dtype)
    out, _ = compare_kernel(backend, reference, "activation_forward", (x, activation, 0.01), {}, dtype)
    assert np.isfinite(out).all()
    saved = saved_for(reference, x, activation, 0.01)
    grad, _ = compare_kernel(backend, reference, "activation_backward", (np.ones_like(x), saved, activation, 0.01),
                             {}, dtype)
    assert np.isfinite(grad).all()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activations_propagate_nan(backend, reference, dtype, activation):
    x = randn(0, (5, 7), dtype)
    x[1, 2] = x[4, 0] = np.nan
    out, _ = compare_kernel(backend, reference, "activation_forward", (x, activation, 0.01), {}, dtype)
    assert np.isnan(out[1, 2]) and np.isnan(out[4, 0]) and np.isnan(out).sum() == 2
    grad_out = np.ones_like(x)
    grad_out[3, 3] = np.nan
    saved = saved_for(reference, x, activation, 0.01)  # NaN where x is NaN, as PyTorch's autograd saves it
    grad, _ = compare_kernel(backend, reference, "activation_backward", (grad_out, saved, activation, 0.01), {}, dtype)
    assert np.isnan(grad[3, 3]) or activation == "relu" and saved[3, 3] <= 0
    grad, _ = compare_kernel(backend, reference, "linear_backward", (grad_out, randn(1, (5, 4), dtype),
                             randn(2, (7, 4), dtype), saved, activation, 0.01), {}, dtype)


@pytest.mark.parametrize("kernel", ["softmax", "log_softmax"])
@given(n=dims, c=dims, seed=seeds, layout=layouts, scale=scales)
@example(n=1, c=1, seed=1, layout="strided", scale=1.0)
@example(n=5, c=1, seed=2, layout="transposed", scale=1.0)
def test_softmax_and_log_softmax(backend, reference, dtype, kernel, n, c, seed, layout, scale):
    x = randn(seed, (n, c), dtype, scale)
    out, _ = compare_kernel(backend, reference, f"{kernel}_forward", (x,), {}, dtype, layout)
    grad_out = randn(seed + 1, (n, c), dtype)
    compare_kernel(backend, reference, f"{kernel}_backward", (grad_out, out), {}, dtype, layout)


@pytest.mark.parametrize("kernel", ["softmax", "log_softmax"])
def test_softmax_of_extreme_logits(backend, reference, dtype, kernel):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3e3, 3e3, -2e3]], dtype=dtype)
    out, _ = compare_kernel(backend, reference, f"{kernel}_forward", (x,), {}, dtype)
    assert np.isfinite(out).all()
