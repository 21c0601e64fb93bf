"""clip_grad_norm_ / clip_grad_value_ against torch.nn.utils (and by hand where torch is missing)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fastnn as fn
from fastnn.nn.utils import clip_grad_norm_, clip_grad_value_

torch = pytest.importorskip("torch", reason="torch is needed for the parity tests")


def _pair(seed: int, dtype=np.float32, scale: float = 1.0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) * scale for s in ((4, 3), (3,), (2, 4))]
    ours = [fn.nn.Parameter(np.zeros_like(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.from_numpy(a).dtype)) for a in arrays]
    for p, q, a in zip(ours, theirs, arrays):
        p.grad = fn.from_numpy(a.copy())
        q.grad = torch.from_numpy(a.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = _pair(0, dtype)
    total = clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(total.item(), expected.item(), rtol=rtol)
    assert total.dtype == np.dtype(dtype)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=1e-7)


def test_clip_grad_norm_skips_missing_grads_and_takes_one_tensor():
    ours, _ = _pair(1)
    ours[1].grad = None
    expected = math.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in (ours[0], ours[2])))
    assert clip_grad_norm_(ours, 1e9).item() == pytest.approx(expected, rel=1e-6)
    single = fn.nn.Parameter(np.zeros(3, np.float32))
    single.grad = fn.from_numpy(np.array([3.0, 4.0, 0.0], np.float32))
    assert clip_grad_norm_(single, 1.0).item() == pytest.approx(5.0)
    np.testing.assert_allclose(single.grad.numpy(), np.array([0.6, 0.8, 0.0]) * 5 / (5 + 1e-6), rtol=1e-6)
    assert clip_grad_norm_([fn.nn.Parameter(np.zeros(2, np.float32))], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    ours, theirs = _pair(2)
    ours[0].grad.numpy()[0, 0] = np.inf
    theirs[0].grad[0, 0] = float("inf")
    before = [p.grad.numpy().copy() for p in ours]
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, b in zip(ours, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_(ours, 1.0).item())  # scaled by 0 as torch does: finite entries become 0
    assert np.all(ours[1].grad.numpy() == 0)


@pytest.mark.parametrize("clip_value", [0.1, 1.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, theirs = _pair(3, scale=2.0)
    assert clip_grad_value_(ours, clip_value, foreach=True) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_clip_grad_norm_rejects_bad_norm_type():
    ours, _ = _pair(4)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(ours, 1.0, norm_type=0)


def test_sparse_gradient_is_clipped_through_its_rows():
    emb = fn.nn.Embedding(10, 3, sparse=True)
    emb(fn.tensor(np.array([1, 2, 2]))).sum().backward()
    dense = emb.weight.grad.to_dense().numpy()
    total = clip_grad_norm_(emb.parameters(), 0.5)
    assert total.item() == pytest.approx(float(np.linalg.norm(dense)), rel=1e-6)
    np.testing.assert_allclose(emb.weight.grad.to_dense().numpy(), dense * 0.5 / (total.item() + 1e-6), rtol=1e-6)
