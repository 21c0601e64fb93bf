"""The dropout kernel family of every backend against the NumPy reference (the same seeded mask everywhere).

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
    assert_close,
    compare_kernel,
    dims,
    layouts,
    randn,
)
from hypothesis import example, given
from hypothesis import strategies as st


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.9, 1.0])
@given(shape=st.lists(dims, min_size=1, max_size=3), seed=st.integers(0, 2**64 - 1), layout=layouts)
@example(shape=[1], seed=0, layout="strided")
@example(shape=[5, 3], seed=2**64 - 1, layout="transposed")
def test_dropout_matches_reference(backend, reference, dtype, p, shape, seed, layout):
    x = randn(seed % 2**32, shape, dtype)
    (out, mask), _ = compare_kernel(backend, reference, "dropout_forward", (x, p, seed), {}, dtype, layout)
    assert mask.dtype == np.uint8 and mask.shape == x.shape
    if p == 0.0:
        assert mask.all() and np.array_equal(out, x)
    if p == 1.0:
        assert not mask.any() and not out.any()
    grad_out = randn(seed % 2**32 + 1, shape, dtype)
    compare_kernel(backend, reference, "dropout_backward", (grad_out, mask, p), {}, dtype, layout)


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_dropout_keep_rate_and_scale(backend, dtype, p):
    n = 200_000
    x = np.ones(n, dtype=dtype)
    out, mask = backend.dropout_forward(x, p, 1234)
    keep_rate = mask.mean()
    assert abs(keep_rate - (1 - p)) < 5 * np.sqrt(p * (1 - p) / n)
    assert_close(out[mask == 1], np.full(int(mask.sum()), 1 / (1 - p), dtype=dtype), dtype)
    assert not out[mask == 0].any()
    out_again, mask_again = backend.dropout_forward(x, p, 1234)
    assert np.array_equal(mask_again, mask) and np.array_equal(out_again, out)
    _, other_mask = backend.dropout_forward(x, p, 1235)
    assert not np.array_equal(other_mask, mask)


def test_large_dropout(backend, reference, dtype):
    x = randn(0, LARGE, dtype)
    (out, mask), _ = compare_kernel(backend, reference, "dropout_forward", (x, 0.3, 2**63 + 5), {}, dtype,
                                    "transposed")
    compare_kernel(backend, reference, "dropout_backward", (randn(1, LARGE, dtype), mask, 0.3), {}, dtype, "strided")
