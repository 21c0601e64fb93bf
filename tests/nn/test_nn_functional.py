"""fastnn.nn.functional: finite-difference gradient checks in float64 and PyTorch parity (values and
gradients, float32 and float64) for every function, on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from autograd_testing import assert_parity, gradcheck, torch_module

import fastnn
import fastnn.nn.functional as F

torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")
TF = torch.nn.functional


def _rng(seed=3):
    return np.random.default_rng(seed)


def _x(*shape, seed=3):
    return _rng(seed).standard_normal(shape)


def _labels(n, classes, seed=4):
    return _rng(seed).integers(0, classes, n).astype(np.int64)


def _probabilities(*shape, seed=5):
    return _rng(seed).uniform(0.05, 0.95, shape)


_ACTIVATIONS = {
    "identity": lambda t: t,
    "relu": TF.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": lambda t: TF.leaky_relu(t, 0.2),
    "gelu": TF.gelu,
    "gelu_tanh": lambda t: TF.gelu(t, approximate="tanh"),
}

# name: (fastnn function, torch function, inputs[, the inputs to differentiate (default: the float ones)])
FUNCTIONS = {
    "linear": (F.linear, TF.linear, lambda: [_x(5, 4), _x(3, 4, seed=1), _x(3, seed=2)]),
    "linear_no_bias": (F.linear, TF.linear, lambda: [_x(5, 4), _x(3, 4, seed=1)]),
    "linear_3d_input": (F.linear, TF.linear, lambda: [_x(2, 5, 4), _x(3, 4, seed=1), _x(3, seed=2)]),
    "linear_1d_input": (F.linear, TF.linear, lambda: [_x(4), _x(3, 4, seed=1), _x(3, seed=2)]),
    "relu": (F.relu, TF.relu, lambda: [_x(4, 5)]),
    "sigmoid": (F.sigmoid, torch.sigmoid, lambda: [_x(4, 5)]),
    "tanh": (F.tanh, torch.tanh, lambda: [_x(4, 5)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1), lambda: [_x(4, 5)]),
    "gelu": (F.gelu, TF.gelu, lambda: [_x(4, 5)]),
    "gelu_tanh": (lambda x: F.gelu(x, "tanh"), lambda x: TF.gelu(x, approximate="tanh"), lambda: [_x(4, 5)]),
    "softmax_dim1": (lambda x: F.softmax(x, 1), lambda x: TF.softmax(x, 1), lambda: [_x(3, 4)]),
    "softmax_dim0_3d": (lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0), lambda: [_x(3, 2, 4)]),
    "softmax_1d": (lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1), lambda: [_x(5)]),
    "log_softmax_dim1": (lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), lambda: [_x(3, 4)]),
    "log_softmax_middle": (lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), lambda: [_x(2, 3, 4)]),
    "embedding": (F.embedding, TF.embedding, lambda: [np.array([[0, 2], [2, 3]]), _x(5, 3)]),
    "embedding_padding": (lambda i, w: F.embedding(i, w, padding_idx=2),
                          lambda i, w: TF.embedding(i, w, padding_idx=2), lambda: [np.array([0, 2, 2, 4]), _x(5, 3)]),
    "embedding_bag_2d_mean": (lambda i, w: F.embedding_bag(i, w, mode="mean"),
                              lambda i, w: TF.embedding_bag(i, w, mode="mean"),
                              lambda: [np.array([[0, 2, 2], [1, 4, 0]]), _x(5, 3)]),
    "embedding_bag_offsets_sum": (lambda i, o, w: F.embedding_bag(i, w, o, mode="sum"),
                                  lambda i, o, w: TF.embedding_bag(i, w, o, mode="sum"),
                                  lambda: [np.array([0, 2, 2, 1, 4]), np.array([0, 2, 2, 4]), _x(5, 3)]),
    "embedding_bag_padding_mean": (lambda i, o, w: F.embedding_bag(i, w, o, mode="mean", padding_idx=2),
                                   lambda i, o, w: TF.embedding_bag(i, w, o, mode="mean", padding_idx=2),
                                   lambda: [np.array([0, 2, 2, 1, 2]), np.array([0, 3, 4]), _x(5, 3)]),
    "mse": (F.mse_loss, TF.mse_loss, lambda: [_x(4, 3), _x(4, 3, seed=9)]),
    "mse_sum": (lambda a, b: F.mse_loss(a, b, reduction="sum"), lambda a, b: TF.mse_loss(a, b, reduction="sum"),
                lambda: [_x(4, 3), _x(4, 3, seed=9)]),
    "mse_none": (lambda a, b: F.mse_loss(a, b, reduction="none"), lambda a, b: TF.mse_loss(a, b, reduction="none"),
                 lambda: [_x(4, 3), _x(4, 3, seed=9)]),
    "bce": (F.binary_cross_entropy, TF.binary_cross_entropy,
            lambda: [_probabilities(4, 3), _probabilities(4, 3, seed=8)]),
    "bce_weight_none": (lambda p, t, w: F.binary_cross_entropy(p, t, w, reduction="none"),
                        lambda p, t, w: TF.binary_cross_entropy(p, t, w, reduction="none"),
                        lambda: [_probabilities(4, 3), _probabilities(4, 3, seed=8), _probabilities(3, seed=2)],
                        [0, 1]),
    "bce_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                   lambda: [_x(4, 3), _probabilities(4, 3)]),
    "bce_logits_sum": (lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="sum"),
                       lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction="sum"),
                       lambda: [_x(4, 3), _probabilities(4, 3)]),
    "bce_logits_weight_sum": (
        lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, w, reduction="sum"),
        lambda x, t, w: TF.binary_cross_entropy_with_logits(x, t, w, reduction="sum"),
        lambda: [_x(4, 3), _probabilities(4, 3), _probabilities(3, seed=1)], [0, 1]),
    "bce_logits_weight_pos_weight": (
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw),
        lambda x, t, w, pw: TF.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw),
        lambda: [_x(4, 3), _probabilities(4, 3), _probabilities(3, seed=1), _probabilities(3, seed=2) * 3], [0, 1]),
    "cross_entropy": (F.cross_entropy, TF.cross_entropy, lambda: [_x(6, 4), _labels(6, 4)]),
    "cross_entropy_sum_ignore": (
        lambda x, t: F.cross_entropy(x, t, ignore_index=1, reduction="sum"),
        lambda x, t: TF.cross_entropy(x, t, ignore_index=1, reduction="sum"), lambda: [_x(6, 4), _labels(6, 4)]),
    "cross_entropy_none_smoothing": (
        lambda x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=0.2),
        lambda x, t: TF.cross_entropy(x, t, reduction="none", label_smoothing=0.2),
        lambda: [_x(6, 4), _labels(6, 4)]),
    "cross_entropy_ignore_smoothing_mean": (
        lambda x, t: F.cross_entropy(x, t, ignore_index=-100, label_smoothing=0.3),
        lambda x, t: TF.cross_entropy(x, t, ignore_index=-100, label_smoothing=0.3),
        lambda: [_x(6, 4), np.array([1, -100, 3, 0, -100, 2])]),
    "cross_entropy_spatial": (F.cross_entropy, TF.cross_entropy, lambda: [_x(2, 4, 3), _labels(6, 4).reshape(2, 3)]),
    "cross_entropy_spatial_none": (
        lambda x, t: F.cross_entropy(x, t, reduction="none"), lambda x, t: TF.cross_entropy(x, t, reduction="none"),
        lambda: [_x(2, 4, 3, 2), _labels(12, 4).reshape(2, 3, 2)]),
    "cross_entropy_unbatched": (F.cross_entropy, TF.cross_entropy, lambda: [_x(4), np.array(2)]),
    "cross_entropy_weight_smoothing_ignore": (
        lambda x, t, w: F.cross_entropy(x, t, w, ignore_index=0, label_smoothing=0.1),
        lambda x, t, w: TF.cross_entropy(x, t, w, ignore_index=0, label_smoothing=0.1),
        lambda: [_x(6, 4), _labels(6, 4), _probabilities(4)], [0]),
    "cross_entropy_probabilities": (
        lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1),
        lambda x, p: TF.cross_entropy(x, p, label_smoothing=0.1),
        lambda: [_x(5, 3), _probabilities(5, 3)]),
    "nll": (F.nll_loss, TF.nll_loss, lambda: [_x(6, 4), _labels(6, 4)]),
    "nll_weight_ignore": (lambda x, t, w: F.nll_loss(x, t, w, ignore_index=2),
                          lambda x, t, w: TF.nll_loss(x, t, w, ignore_index=2),
                          lambda: [_x(6, 4), _labels(6, 4), _probabilities(4)], [0]),
    "nll_none_spatial": (lambda x, t: F.nll_loss(x, t, reduction="none"),
                         lambda x, t: TF.nll_loss(x, t, reduction="none"),
                         lambda: [_x(2, 4, 3), _labels(6, 4).reshape(2, 3)]),
}


# The padding row gets no gradient by definition (PyTorch's semantics), so finite differences
# disagree there; PyTorch parity covers these two.
_NOT_THE_TRUE_GRADIENT = {"embedding_padding", "embedding_bag_padding_mean"}


@pytest.mark.parametrize("name", sorted(set(FUNCTIONS) - _NOT_THE_TRUE_GRADIENT))
def test_function_gradient_matches_central_differences(name, active_backend):
    fast, _, make, *wrt = FUNCTIONS[name]
    gradcheck(fast, *make(), wrt=wrt[0] if wrt else None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_matches_pytorch(name, dtype, active_backend):
    fast, reference, make, *wrt = FUNCTIONS[name]
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in make()]
    assert_parity(fast, reference, *arrays, wrt=wrt[0] if wrt else None)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", sorted(_ACTIVATIONS))
def test_fused_linear_activation_matches_pytorch(activation, dtype, active_backend):
    slope = 0.2 if activation == "leaky_relu" else 0.01
    arrays = [_x(6, 4).astype(dtype), _x(3, 4, seed=1).astype(dtype), _x(3, seed=2).astype(dtype)]
    assert_parity(lambda x, w, b: F.linear_activation(x, w, b, activation, slope),
                  lambda x, w, b: _ACTIVATIONS[activation](TF.linear(x, w, b)), *arrays)
    if dtype == np.float64:
        gradcheck(lambda x, w, b: F.linear_activation(x, w, b, activation, slope), *arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stays_finite_on_extreme_logits(dtype, active_backend):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [0.0, 0.0, -1e4]], dtype=dtype)
    labels = np.array([1, 1, 2])
    assert_parity(F.cross_entropy, TF.cross_entropy, logits, labels, rtol=1e-6, atol=1e-6)
    assert_parity(lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1), logits, rtol=1e-6, atol=1e-6)
    x = fastnn.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, fastnn.tensor(labels))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    assert_parity(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                  logits, np.ones_like(logits) * 0.5, rtol=1e-6, atol=1e-6)


def test_cross_entropy_ignores_ignore_index(active_backend):
    logits = fastnn.tensor(_x(4, 3), requires_grad=True)
    loss = F.cross_entropy(logits, fastnn.tensor([0, -100, 2, -100]))
    loss.backward()
    assert np.all(logits.grad.numpy()[[1, 3]] == 0)
    kept = F.cross_entropy(fastnn.tensor(_x(4, 3)[[0, 2]]), fastnn.tensor([0, 2]))
    assert loss.item() == pytest.approx(kept.item(), rel=1e-12)


def test_bce_clamps_its_log_at_minus_100_like_pytorch(active_backend):
    p = np.array([0.0, 1.0, 0.5, 1.0])
    t = np.array([1.0, 0.0, 0.5, 1.0])
    assert_parity(lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
                  lambda a, b: TF.binary_cross_entropy(a, b, reduction="none"), p, t, wrt=[])
    assert F.binary_cross_entropy(fastnn.tensor(p), fastnn.tensor(t), reduction="sum").item() == pytest.approx(
        200 + np.log(2))


def test_dropout_masks_scale_and_route_gradients(active_backend):
    torch_module()
    x = fastnn.tensor(np.ones((50, 40)), requires_grad=True)
    fastnn.manual_seed(11)
    y = F.dropout(x, 0.25)
    kept = y.numpy() != 0
    assert np.allclose(y.numpy()[kept], 1 / 0.75) and 0.2 < 1 - kept.mean() < 0.3
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), kept / 0.75)
    fastnn.manual_seed(11)
    assert np.array_equal(F.dropout(x, 0.25).numpy(), y.numpy())
    assert F.dropout(x, 0.25, training=False) is x and F.dropout(x, 0.0) is x
    assert np.all(F.dropout(x, 1.0).numpy() == 0)


def test_dropout_gradient_matches_central_differences_for_a_fixed_mask(active_backend):
    def seeded(x):
        fastnn.manual_seed(5)
        return F.dropout(x, 0.4)

    gradcheck(seeded, _x(4, 5))


def test_empty_bags_give_zeros(active_backend):
    weight = fastnn.tensor(_x(5, 3), requires_grad=True)
    out = F.embedding_bag(fastnn.tensor([1, 2]), weight, fastnn.tensor([0, 0, 2]), mode="mean")
    assert np.all(out.numpy()[[0, 2]] == 0)
    np.testing.assert_allclose(out.numpy()[1], _x(5, 3)[[1, 2]].mean(0))


def test_embedding_bag_of_empty_rows_gives_zeros(active_backend):
    out = F.embedding_bag(fastnn.tensor(np.zeros((3, 0), dtype=np.int64)), fastnn.ones(4, 2))
    assert out.shape == (3, 2) and np.all(out.numpy() == 0)
