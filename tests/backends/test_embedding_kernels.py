"""The embedding kernel family (gather, bags, scatter-add backwards) of every backend against the NumPy reference.

Shapes and values are drawn by hypothesis; the ``test_large_*`` tests use 3000 x 700 = 2.1M
elements, above the compiled backends' thread thresholds, so the threaded paths run too. Inputs
arrive C-contiguous, transposed or strided and must be left untouched. float64 agrees to ~1e-12
relative, float32 to ~1e-5 (backend_testing.assert_close).
"""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import (
    LARGE_COLS,
    LARGE_ROWS,
    assert_close,
    compare_kernel,
    dims,
    layouts,
    randn,
    seeds,
)
from hypothesis import example, given
from hypothesis import strategies as st


def bag_offsets(seed: int, n_indices: int, n_bags: int) -> np.ndarray:
    """Sorted bag starts beginning at 0, with repeats (empty bags) and possibly n_indices (empty last bag)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([[0], np.sort(rng.integers(0, n_indices + 1, n_bags - 1))]).astype(np.int64)


@given(vocab=dims, d=dims, n=st.integers(0, 60), seed=seeds, layout=layouts, padding=st.booleans())
@example(vocab=1, d=1, n=1, seed=1, layout="strided", padding=False)
@example(vocab=3, d=5, n=40, seed=2, layout="transposed", padding=True)
def test_embedding_forward_and_backward(backend, reference, dtype, vocab, d, n, seed, layout, padding):
    rng = np.random.default_rng(seed)
    weight = randn(seed, (vocab, d), dtype)
    indices = rng.integers(0, vocab, n)  # small vocabularies repeat indices
    padding_idx = int(rng.integers(0, vocab)) if padding else None
    compare_kernel(backend, reference, "embedding_forward", (weight, indices), {}, dtype, layout)
    grad_out = randn(seed + 1, (n, d), dtype)
    dweight, _ = compare_kernel(backend, reference, "embedding_backward", (grad_out, indices, vocab, padding_idx), {},
                                dtype, layout)
    if padding_idx is not None:
        assert not dweight[padding_idx].any()


@pytest.mark.parametrize("mode", ["sum", "mean"])
@given(vocab=dims, d=dims, n=st.integers(0, 60), bags=st.integers(1, 12), seed=seeds, layout=layouts,
       padding=st.booleans())
@example(vocab=1, d=1, n=0, bags=1, seed=1, layout="strided", padding=False)
@example(vocab=4, d=3, n=5, bags=8, seed=2, layout="transposed", padding=True)
@example(vocab=2, d=6, n=30, bags=5, seed=3, layout="strided", padding=True)
def test_embedding_bag_forward_and_backward(backend, reference, dtype, mode, vocab, d, n, bags, seed, layout,
                                            padding):
    rng = np.random.default_rng(seed)
    weight = randn(seed, (vocab, d), dtype)
    indices = rng.integers(0, vocab, n)
    offsets = bag_offsets(seed + 1, n, bags)
    padding_idx = int(rng.integers(0, vocab)) if padding else None
    out, _ = compare_kernel(backend, reference, "embedding_bag_forward", (weight, indices, offsets, mode, padding_idx),
                            {}, dtype, layout)
    ends = np.append(offsets[1:], n)
    assert not out[offsets == ends].any(), "an empty bag must pool to zeros"
    grad_out = randn(seed + 1, (bags, d), dtype)
    compare_kernel(backend, reference, "embedding_bag_backward",
                   (grad_out, indices, offsets, vocab, mode, padding_idx), {}, dtype, layout)


def test_embedding_bag_of_only_padding_is_zero(backend, dtype):
    weight = randn(0, (4, 3), dtype)
    out = backend.embedding_bag_forward(weight, np.array([2, 2, 1]), np.array([0, 2]), "mean", padding_idx=2)
    assert not out[0].any()
    assert_close(out[1], weight[1], dtype)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_large_embeddings(backend, reference, dtype, mode):
    rng = np.random.default_rng(0)
    weight = randn(1, (100, LARGE_COLS), dtype)
    indices = rng.integers(0, 100, 3 * LARGE_ROWS)
    compare_kernel(backend, reference, "embedding_forward", (weight, indices), {}, dtype, "transposed")
    compare_kernel(backend, reference, "embedding_backward",
                   (randn(2, (indices.size, LARGE_COLS), dtype), indices, 100, 7), {}, dtype, "strided")
    offsets = bag_offsets(3, indices.size, LARGE_ROWS)
    compare_kernel(backend, reference, "embedding_bag_forward", (weight, indices, offsets, mode, 7), {}, dtype,
                   "transposed")
    compare_kernel(backend, reference, "embedding_bag_backward",
                   (randn(4, (LARGE_ROWS, LARGE_COLS), dtype), indices, offsets, 100, mode, 7), {}, dtype, "strided")
