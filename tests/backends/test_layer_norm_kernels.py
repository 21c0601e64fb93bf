"""The layer_norm kernel family on every backend against the NumPy reference (both dtypes, random
shapes, non-contiguous inputs, the threaded sizes), the reference against PyTorch, and the
reference's backward against central differences in float64."""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import LAYOUTS, assert_close, compare_kernel, randn
from hypothesis import example, given
from hypothesis import strategies as st

AFFINE = ["weight_and_bias", "weight", "bias", "none"]


def inputs(seed, n, d, dtype, affine):
    x = randn(seed, (n, d), dtype, 3.0) + dtype(0.5)
    weight = randn(seed + 1, (d,), dtype) if affine in ("weight_and_bias", "weight") else None
    bias = randn(seed + 2, (d,), dtype) if affine in ("weight_and_bias", "bias") else None
    return x, weight, bias


@pytest.mark.parametrize("affine", AFFINE)
@given(n=st.integers(0, 23), d=st.integers(1, 37), seed=st.integers(0, 2**32 - 1), layout=st.sampled_from(LAYOUTS))
@example(n=1, d=1, seed=1, layout="contiguous")
@example(n=5, d=1, seed=2, layout="strided")
def test_layer_norm_forward_and_backward(backend, reference, dtype, affine, n, d, seed, layout):
    x, weight, bias = inputs(seed, n, d, dtype, affine)
    (out, mean, rstd), _ = compare_kernel(backend, reference, "layer_norm_forward", (x, weight, bias, 1e-5), {},
                                          dtype, layout)
    grad_out = randn(seed + 3, (n, d), dtype)
    args = (grad_out, x, weight, mean, rstd, bias is not None)
    (dx, dweight, dbias), _ = compare_kernel(backend, reference, "layer_norm_backward", args, {}, dtype, layout)
    assert (dweight is None) == (weight is None) and (dbias is None) == (bias is None)


@pytest.mark.parametrize("affine", ["weight_and_bias", "none"])
def test_large_layer_norm(backend, reference, dtype, affine):
    """3000 x 700: above the thread threshold, so the parallel paths run."""
    x, weight, bias = inputs(0, 3000, 700, dtype, affine)
    out, mean, rstd = compare_kernel(backend, reference, "layer_norm_forward", (x, weight, bias, 1e-5), {},
                                     dtype)[0]
    compare_kernel(backend, reference, "layer_norm_backward",
                   (randn(4, x.shape, dtype), x, weight, mean, rstd, bias is not None), {}, dtype)


def test_layer_norm_of_a_constant_row_is_the_bias(backend, dtype):
    x = np.full((2, 5), 3.25, dtype=dtype)
    bias = np.arange(5, dtype=dtype)
    out, mean, rstd = backend.layer_norm_forward(x, np.ones(5, dtype=dtype), bias, 1e-5)
    np.testing.assert_array_equal(out, np.broadcast_to(bias, (2, 5)))
    np.testing.assert_array_equal(mean, [3.25, 3.25])
    assert_close(rstd, np.full(2, 1 / np.sqrt(1e-5), dtype=dtype), dtype)


@pytest.mark.parametrize("call,error,message", [
    (lambda b: b.layer_norm_forward(np.ones((2, 0))), ValueError, r"at least one element per row"),
    (lambda b: b.layer_norm_forward(np.ones(4)), ValueError, r"x expected shape \(\*, \*\)"),
    (lambda b: b.layer_norm_forward(np.ones((2, 4)), np.ones(3)), ValueError, r"weight expected shape \(4,\)"),
    (lambda b: b.layer_norm_forward(np.ones((2, 4)), None, np.ones(4, np.float32)), TypeError, r"bias has dtype"),
    (lambda b: b.layer_norm_forward(np.ones((2, 4)), eps=None), TypeError, r"eps must be a real number"),
    (lambda b: b.layer_norm_forward(np.ones((2, 4)), eps=-1.0), ValueError, r"eps must be >= 0"),
    (lambda b: b.layer_norm_backward(np.ones((2, 4)), np.ones((2, 4)), None, np.ones(3), np.ones(2)), ValueError,
     r"mean expected shape \(2,\)"),
])
def test_layer_norm_bad_input_names_the_kernel(backend, call, error, message):
    with pytest.raises(error, match=rf"^layer_norm_(forward|backward): .*{message}"):
        call(backend)


def test_reference_layer_norm_matches_pytorch(reference, dtype):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the reference cannot be checked against it")
    x, weight, bias = inputs(9, 6, 11, dtype, "weight_and_bias")
    out, mean, rstd = reference.layer_norm_forward(x, weight, bias, 1e-5)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_(True) for a in (x, weight, bias))
    expected = torch.nn.functional.layer_norm(tx, (11,), tw, tb, 1e-5)
    assert_close(out, expected.detach().numpy(), dtype)
    assert_close(mean, x.astype(np.float64).mean(axis=1).astype(dtype), dtype)
    assert_close(rstd, (1 / np.sqrt(x.astype(np.float64).var(axis=1) + 1e-5)).astype(dtype), dtype)
    grad_out = randn(10, x.shape, dtype)
    expected.backward(torch.from_numpy(grad_out))
    dx, dweight, dbias = reference.layer_norm_backward(grad_out, x, weight, mean, rstd, True)
    for ours, theirs in ((dx, tx), (dweight, tw), (dbias, tb)):
        assert_close(ours, theirs.grad.numpy(), dtype)


def test_reference_backward_matches_central_differences(reference):
    x, weight, bias = inputs(12, 4, 7, np.float64, "weight_and_bias")
    grad_out = randn(13, x.shape, np.float64)

    def loss(x, weight, bias):
        return float((reference.layer_norm_forward(x, weight, bias, 1e-5)[0] * grad_out).sum())

    _, mean, rstd = reference.layer_norm_forward(x, weight, bias, 1e-5)
    analytic = reference.layer_norm_backward(grad_out, x, weight, mean, rstd, True)
    arrays = [x, weight, bias]
    for i, a in enumerate(arrays):
        numeric = np.zeros_like(a)
        for j in range(a.size):
            plus, minus = [b.copy() for b in arrays], [b.copy() for b in arrays]
            plus[i].reshape(-1)[j] += 1e-6
            minus[i].reshape(-1)[j] -= 1e-6
            numeric.reshape(-1)[j] = (loss(*plus) - loss(*minus)) / 2e-6
        np.testing.assert_allclose(analytic[i], numeric, rtol=1e-6, atol=1e-8, err_msg=f"gradient {i}")
