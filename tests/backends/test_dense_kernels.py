"""The dense kernel family (fused linear forward and backward) of every backend against the NumPy reference.

Shapes and values are drawn by hypothesis; the ``test_large_*`` tests use 3000 x 700 = 2.1M
elements, above the compiled backends' thread thresholds, so the threaded paths run too. Inputs
arrive C-contiguous, transposed or strided and must be left untouched. float64 agrees to ~1e-12
relative, float32 to ~1e-5 (backend_testing.assert_close).
"""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import (
    LARGE,
    LARGE_COLS,
    LARGE_ROWS,
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
@given(n=dims, k=dims, m=dims, seed=seeds, layout=layouts, scale=scales, with_bias=st.booleans())
@example(n=1, k=1, m=1, seed=1, layout="transposed", scale=1.0, with_bias=True)
@example(n=1, k=17, m=5, seed=2, layout="strided", scale=1.0, with_bias=False)
@example(n=13, k=1, m=3, seed=3, layout="transposed", scale=1.0, with_bias=False)
@example(n=9, k=4, m=1, seed=4, layout="strided", scale=1.0, with_bias=True)
def test_linear_forward(backend, reference, dtype, activation, n, k, m, seed, layout, scale, with_bias):
    run_linear_forward(backend, reference, dtype, activation, (n, k, m), seed, layout, scale, with_bias)


def run_linear_forward(backend, reference, dtype, activation, shape, seed, layout, scale, with_bias):
    n, k, m = shape
    x = randn(seed, (n, k), dtype, scale)
    weight = randn(seed + 1, (m, k), dtype, 1 / np.sqrt(k))
    bias = randn(seed + 2, (m,), dtype) if with_bias else None
    compare_kernel(backend, reference, "linear_forward", (x, weight, bias, activation, 0.1), {}, dtype, layout)


GRADS = [(True, True), (False, True), (True, False), (False, False)]  # (need_input_grad, need_bias_grad)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(n=dims, k=dims, m=dims, seed=seeds, layout=layouts, grads=st.sampled_from(GRADS))
@example(n=1, k=1, m=1, seed=1, layout="transposed", grads=GRADS[0])
@example(n=1, k=9, m=4, seed=2, layout="strided", grads=GRADS[1])
@example(n=11, k=1, m=1, seed=3, layout="transposed", grads=GRADS[2])
@example(n=6, k=5, m=7, seed=4, layout="strided", grads=GRADS[3])
def test_linear_backward(backend, reference, dtype, activation, n, k, m, seed, layout, grads):
    run_linear_backward(backend, reference, dtype, activation, (n, k, m), seed, layout, grads)


def run_linear_backward(backend, reference, dtype, activation, shape, seed, layout, grads):
    (n, k, m), (need_input_grad, need_bias_grad) = shape, grads
    x = randn(seed, (n, k), dtype)
    weight = randn(seed + 1, (m, k), dtype, 1 / np.sqrt(k))
    z = randn(seed + 2, (n, m), dtype)
    saved = saved_for(reference, z, activation, 0.2)
    grad_out = randn(seed + 3, (n, m), dtype)
    args = (grad_out, x, weight, saved, activation, 0.2, need_input_grad, need_bias_grad)
    actual, _ = compare_kernel(backend, reference, "linear_backward", args, {}, dtype, layout)
    assert (actual[0] is None) == (not need_input_grad) and (actual[2] is None) == (not need_bias_grad)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_linear_forward_propagates_nan(backend, reference, dtype, activation):
    x = randn(0, (6, 5), dtype)
    x[2, 1] = np.nan
    out, _ = compare_kernel(backend, reference, "linear_forward", (x, randn(1, (4, 5), dtype), None, activation),
                            {}, dtype)
    assert np.isnan(out[0][2]).all() and not np.isnan(np.delete(out[0], 2, axis=0)).any()


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_large_dense_and_activations(backend, reference, dtype, activation):
    run_linear_forward(backend, reference, dtype, activation, (LARGE_ROWS, 32, LARGE_COLS), 1, "transposed", 1.0,
                       True)
    run_linear_backward(backend, reference, dtype, activation, (LARGE_ROWS, 32, LARGE_COLS), 2, "strided",
                        (True, True))
    x = activation_input(3, LARGE, dtype, 3.0)
    compare_kernel(backend, reference, "activation_forward", (x, activation, 0.05), {}, dtype, "transposed")
    saved = saved_for(reference, x, activation, 0.05)
    compare_kernel(backend, reference, "activation_backward", (randn(4, LARGE, dtype), saved, activation, 0.05), {},
                   dtype, "strided")
