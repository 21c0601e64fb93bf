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


# ------------------------------------------------------------------------------------ bad and edge input
def test_linear_with_a_1d_weight_reduces_the_last_dim_as_torch(active_backend):
    x, w = _x(4, 3), _x(3, seed=8)
    assert_parity(lambda a, b: F.linear(a, b), lambda a, b: TF.linear(a, b), x, w)
    gradcheck(lambda a, b: F.linear(a, b), x, w)
    gradcheck(lambda a, b, c: F.linear(a, b, c), x, w, np.array(0.5))  # torch rejects a bias here; fastnn adds it


@pytest.mark.parametrize("shape", [(2, 3, 3), (), (1, 1, 1, 3)])
def test_linear_rejects_a_weight_that_is_not_1d_or_2d(shape, active_backend):
    with pytest.raises(ValueError, match=rf"linear: weight must be 1-D \(in,\) or 2-D \(out, in\), got shape "
                                         rf"{re_shape(shape)}"):
        F.linear(fastnn.zeros(4, 3), fastnn.zeros(*shape))


def re_shape(shape):
    return "\\(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + "\\)"


def test_linear_and_embedding_take_arrays_and_lists_like_the_other_functionals(active_backend):
    x, w = _x(4, 3).astype(np.float32), _x(2, 3, seed=9).astype(np.float32)
    expected = F.linear(fastnn.tensor(x), fastnn.tensor(w)).numpy()
    np.testing.assert_allclose(F.linear(x, w).numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(F.linear(x.tolist(), w.tolist()).numpy(), expected, rtol=1e-6)
    np.testing.assert_array_equal(F.embedding(np.array([1, 0]), w).numpy(), w[[1, 0]])
    np.testing.assert_array_equal(F.embedding([1, 0], w.tolist()).numpy(), w[[1, 0]])
    with pytest.raises(TypeError, match="linear: weight must be a Tensor \\(or an array or list of numbers\\), "
                                        "got str"):
        F.linear(x, "weights")


def test_embedding_rejects_a_weight_that_is_not_2d(active_backend):
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-D \(num_embeddings, embedding_dim\), got "
                                         r"shape \(5,\)"):
        F.embedding(fastnn.tensor([1, 2]), fastnn.zeros(5))
    with pytest.raises(ValueError, match=r"embedding_bag: weight must be 2-D"):
        F.embedding_bag(fastnn.tensor([[1, 2]]), fastnn.zeros(5, 2, 2))
    with pytest.raises(ValueError, match="embedding: padding_idx 7 out of range for 5 embeddings"):
        F.embedding(fastnn.tensor([1]), fastnn.zeros(5, 2), padding_idx=7)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((2, 0), 1), ((0, 3), 1), ((3, 0, 2), 1), ((0,), 0), ((2, 0), 0)])
def test_softmax_over_or_beside_a_size_0_dim_is_empty_as_torch(name, shape, dim, active_backend):
    x = fastnn.zeros(*shape, requires_grad=True)
    out = getattr(F, name)(x, dim)
    assert out.shape == tuple(getattr(TF, name)(torch.zeros(*shape), dim).shape)
    out.sum().backward()
    assert x.grad.shape == shape


ZERO_SIZE = {
    "linear rows": (lambda: F.linear(fastnn.zeros(0, 3, requires_grad=True), fastnn.ones(2, 3, requires_grad=True),
                                     fastnn.ones(2, requires_grad=True)),
                    lambda: TF.linear(torch.zeros(0, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True),
                                      torch.ones(2, requires_grad=True))),
    "linear features": (lambda: F.linear(fastnn.zeros(4, 0, requires_grad=True), fastnn.ones(2, 0),
                                         fastnn.ones(2)),
                        lambda: TF.linear(torch.zeros(4, 0, requires_grad=True), torch.ones(2, 0), torch.ones(2))),
    "relu": (lambda: F.relu(fastnn.zeros(0, 3, requires_grad=True)), lambda: TF.relu(torch.zeros(0, 3))),
    "gelu": (lambda: F.gelu(fastnn.zeros(0, requires_grad=True)), lambda: TF.gelu(torch.zeros(0))),
    "dropout": (lambda: F.dropout(fastnn.zeros(0, 3, requires_grad=True)), lambda: TF.dropout(torch.zeros(0, 3))),
    "embedding": (lambda: F.embedding(fastnn.tensor(np.zeros(0, np.int64)), fastnn.ones(4, 3, requires_grad=True)),
                  lambda: TF.embedding(torch.zeros(0, dtype=torch.long), torch.ones(4, 3))),
    "embedding_bag": (lambda: F.embedding_bag(fastnn.tensor(np.zeros(0, np.int64)),
                                              fastnn.ones(4, 3, requires_grad=True),
                                              fastnn.tensor(np.zeros(0, np.int64))),
                      lambda: TF.embedding_bag(torch.zeros(0, dtype=torch.long), torch.ones(4, 3),
                                               torch.zeros(0, dtype=torch.long))),
    "cross_entropy none": (lambda: F.cross_entropy(fastnn.zeros(0, 3, requires_grad=True),
                                                   fastnn.tensor(np.zeros(0, np.int64)), reduction="none"),
                           lambda: TF.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long),
                                                    reduction="none")),
    "cross_entropy sum": (lambda: F.cross_entropy(fastnn.zeros(0, 3, requires_grad=True),
                                                  fastnn.tensor(np.zeros(0, np.int64)), reduction="sum"),
                          lambda: TF.cross_entropy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long),
                                                   reduction="sum")),
    "mse sum": (lambda: F.mse_loss(fastnn.zeros(0, requires_grad=True), fastnn.zeros(0), reduction="sum"),
                lambda: TF.mse_loss(torch.zeros(0), torch.zeros(0), reduction="sum")),
    "bce_with_logits sum": (lambda: F.binary_cross_entropy_with_logits(fastnn.zeros(0, requires_grad=True),
                                                                       fastnn.zeros(0), reduction="sum"),
                            lambda: TF.binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0),
                                                                        reduction="sum")),
    "l1 sum": (lambda: F.l1_loss(fastnn.zeros(0, requires_grad=True), fastnn.zeros(0), reduction="sum"),
               lambda: TF.l1_loss(torch.zeros(0), torch.zeros(0), reduction="sum")),
    "sum": (lambda: fastnn.zeros(0, 3, requires_grad=True).sum(0), lambda: torch.zeros(0, 3).sum(0)),
    "matmul": (lambda: fastnn.zeros(2, 0, requires_grad=True) @ fastnn.zeros(0, 3), lambda: torch.zeros(2, 0) @
               torch.zeros(0, 3)),
    "cumsum": (lambda: fastnn.zeros(0, 3, requires_grad=True).cumsum(0), lambda: torch.zeros(0, 3).cumsum(0)),
    "logsumexp": (lambda: fastnn.zeros(2, 0, requires_grad=True).logsumexp(1),
                  lambda: torch.zeros(2, 0).logsumexp(1)),
}


@pytest.mark.parametrize("name", sorted(ZERO_SIZE))
def test_every_op_takes_zero_size_input_as_torch(name, active_backend):
    ours, theirs = ZERO_SIZE[name][0](), ZERO_SIZE[name][1]()
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    if ours.requires_grad:
        ours.sum().backward()


EXTREME = {
    "exp overflow": lambda: fastnn.tensor([1000.0], requires_grad=True).exp(),
    "log of negative and zero": lambda: fastnn.tensor([-1.0, 0.0], requires_grad=True).log(),
    "division by zero": lambda: fastnn.tensor([1.0, 0.0], requires_grad=True) / 0,
    "fractional power of a negative": lambda: fastnn.tensor([-8.0], requires_grad=True) ** 0.5,
    "sqrt of negative": lambda: fastnn.tensor([-1.0], requires_grad=True).sqrt(),
    "softmax with inf": lambda: F.softmax(fastnn.tensor([[np.inf, 1.0], [-np.inf, -np.inf]], requires_grad=True), 1),
    "log_softmax with inf": lambda: F.log_softmax(fastnn.tensor([[np.inf, 1.0]], requires_grad=True), 1),
    "cross_entropy with inf and nan": lambda: F.cross_entropy(
        fastnn.tensor([[np.inf, 1.0], [np.nan, 0.0]], requires_grad=True), fastnn.tensor([0, 1])),
    "mse with inf": lambda: F.mse_loss(fastnn.tensor([1e30, np.inf], requires_grad=True),
                                       fastnn.tensor([-1e30, np.inf])),
    "bce_with_logits with inf": lambda: F.binary_cross_entropy_with_logits(
        fastnn.tensor([np.inf, -np.inf, np.nan], requires_grad=True), fastnn.tensor([0.0, 1.0, 1.0])),
    "gelu of inf": lambda: F.gelu(fastnn.tensor([np.inf, -np.inf, np.nan], requires_grad=True)),
    "gelu tanh of huge": lambda: F.gelu(fastnn.tensor([1e20, -1e20], requires_grad=True), approximate="tanh"),
    "linear overflow": lambda: F.linear(fastnn.tensor([[1e30, 1e30]], requires_grad=True),
                                        fastnn.tensor([[1e30, 1e30]])),
    "mean overflow": lambda: fastnn.tensor([3e38, 3e38], requires_grad=True).mean(),
    "var of inf": lambda: fastnn.tensor([np.inf, 1.0], requires_grad=True).var(),
    "var of one element": lambda: fastnn.tensor([1.0], requires_grad=True).var(),
    "norm overflow": lambda: fastnn.tensor([1e30], requires_grad=True).norm(),
    "logsumexp of inf": lambda: fastnn.tensor([[np.inf, 1.0], [-np.inf, -np.inf]], requires_grad=True).logsumexp(1),
    "mean of nothing": lambda: fastnn.zeros(0, requires_grad=True).mean(),
}


@pytest.mark.parametrize("name", sorted(EXTREME))
def test_numpy_floating_point_warnings_never_reach_the_user(name, active_backend):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = EXTREME[name]()
        out.sum().backward()


@pytest.mark.parametrize("activation", ["identity", "relu", "gelu"])
def test_linear_backward_takes_a_read_only_gradient(activation, active_backend):
    """sum() of a (1, 1) output hands back a read-only broadcast view (once a crash on cython)."""
    w = fastnn.ones(1, 1, requires_grad=True)
    F.linear_activation(fastnn.ones(1, 1), w, None, activation).sum().backward()
    assert w.grad.tolist() == [[1.0]] or activation == "gelu"
    x = fastnn.ones(3, 2, requires_grad=True)
    grad = np.ones((3, 4), dtype=np.float32)
    grad.flags.writeable = False
    F.relu(F.linear(x, fastnn.ones(4, 2))).backward(grad)
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 2), 4.0))
