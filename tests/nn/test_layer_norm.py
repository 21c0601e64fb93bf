"""LayerNorm and layer_norm on every backend: PyTorch parity (values and gradients of input, weight
and bias), central differences in float64, PyTorch's initialisation and options, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from autograd_testing import assert_parity, gradcheck, torch_module

import fastnn
from fastnn.nn.layer_norm import LayerNorm, layer_norm

SHAPES = [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 4), (3, 4)), ((1, 7), (7,)), ((0, 5), (5,))]


def _rng(seed=3):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,normalized", SHAPES)
@pytest.mark.parametrize("affine", ["weight_and_bias", "weight", "none"])
def test_layer_norm_matches_pytorch(active_backend, dtype, shape, normalized, affine):
    torch = torch_module()
    rng = _rng()
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    w = rng.standard_normal(normalized).astype(dtype)
    b = rng.standard_normal(normalized).astype(dtype)
    if affine == "weight_and_bias":
        assert_parity(lambda x, w, b: layer_norm(x, normalized, w, b, 1e-5),
                      lambda x, w, b: torch.nn.functional.layer_norm(x, normalized, w, b, 1e-5), x, w, b)
    elif affine == "weight":
        assert_parity(lambda x, w: layer_norm(x, normalized, w, None, 1e-3),
                      lambda x, w: torch.nn.functional.layer_norm(x, normalized, w, None, 1e-3), x, w)
    else:
        assert_parity(lambda x: layer_norm(x, normalized, eps=1e-5),
                      lambda x: torch.nn.functional.layer_norm(x, normalized, eps=1e-5), x)


@pytest.mark.parametrize("shape,normalized", SHAPES[:3])
def test_layer_norm_gradients_match_central_differences(active_backend, shape, normalized):
    rng = _rng(5)
    x = rng.standard_normal(shape)
    w = rng.standard_normal(normalized)
    b = rng.standard_normal(normalized)
    gradcheck(lambda x, w, b: layer_norm(x, normalized, w, b, 1e-5), x, w, b)
    gradcheck(lambda x: layer_norm(x, normalized), x)


def test_layer_norm_module_initialises_and_trains_like_pytorch(active_backend):
    torch = torch_module()
    ours, theirs = LayerNorm((3, 4), eps=1e-4), torch.nn.LayerNorm((3, 4), eps=1e-4)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())  # ones and zeros
    x = _rng(7).standard_normal((5, 3, 4)).astype(np.float32)
    ours_opt = fastnn.optim.SGD(ours.parameters(), lr=0.1)
    theirs_opt = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for _ in range(3):
        loss = (ours(fastnn.tensor(x)) * fastnn.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))).sum()
        ours_opt.zero_grad()
        loss.backward()
        ours_opt.step()
        expected = (theirs(torch.from_numpy(x)) * torch.arange(12, dtype=torch.float32).reshape(3, 4)).sum()
        theirs_opt.zero_grad()
        expected.backward()
        theirs_opt.step()
        np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-5, atol=1e-4)
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options,names", [({}, ["weight", "bias"]), ({"bias": False}, ["weight"]),
                                           ({"elementwise_affine": False}, [])])
def test_layer_norm_module_options_keep_pytorchs_parameters(active_backend, options, names):
    torch = torch_module()
    ours, theirs = LayerNorm(6, **options), torch.nn.LayerNorm(6, **options)
    assert [n for n, _ in ours.named_parameters()] == names == [n for n, _ in theirs.named_parameters()]
    x = _rng(2).standard_normal((3, 6)).astype(np.float32)
    with fastnn.no_grad():
        out = ours(fastnn.tensor(x)).numpy()
    np.testing.assert_allclose(out, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_state_dict_round_trips_with_pytorch(active_backend):
    torch = torch_module()
    theirs = torch.nn.LayerNorm(4)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-1, 1)
    ours = LayerNorm(4)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = _rng(4).standard_normal((2, 4)).astype(np.float32)
    with fastnn.no_grad():
        out = ours(fastnn.tensor(x)).numpy()
    np.testing.assert_allclose(out, theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-5)


def test_layer_norm_without_grad_records_nothing(active_backend):
    ln = LayerNorm(3)
    with fastnn.no_grad():
        out = ln(fastnn.randn(2, 3))
    assert not out.requires_grad


@pytest.mark.parametrize("call,error,message", [
    (lambda: layer_norm(fastnn.randn(2, 5), (4,)), ValueError, r"layer_norm: expected input with shape \(\*, 4\)"),
    (lambda: layer_norm(fastnn.randn(2, 4), 4, fastnn.ones(5)), ValueError, r"layer_norm: weight expected shape"),
    (lambda: layer_norm(fastnn.randn(2, 4), 4, fastnn.ones(4, dtype=fastnn.float64)), TypeError,
     r"layer_norm: weight has dtype float64"),
    (lambda: layer_norm(fastnn.randn(2, 4), 0), ValueError, r"layer_norm: normalized_shape must be"),
    (lambda: layer_norm(fastnn.randn(2, 4), 4, eps="x"), TypeError, r"layer_norm_forward: eps must be a real"),
    (lambda: layer_norm(np.ones((2, 4)), 4), TypeError, r"layer_norm: input must be a Tensor"),
    (lambda: LayerNorm(4, eps=-1), ValueError, r"LayerNorm: eps must be"),
    (lambda: LayerNorm((2, 0)), ValueError, r"LayerNorm: normalized_shape must be"),
])
def test_layer_norm_bad_input_names_the_op(active_backend, call, error, message):
    with pytest.raises(error, match=message):
        call()
