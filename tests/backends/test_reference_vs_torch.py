"""The NumPy reference (the "numpy" backend) against PyTorch: values and gradients (via torch.autograd).

The compiled backends are held to the reference elsewhere; this file holds the reference to
PyTorch, for both dtypes.
"""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import assert_close

from fastnn.backends import load_backend
from fastnn.backends.contract import saves_input

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the reference cannot be checked against it")
F = torch.nn.functional

REF = load_backend("numpy")
ACTIVATIONS = {
    "identity": lambda x, s: x,
    "relu": lambda x, s: F.relu(x),
    "leaky_relu": lambda x, s: F.leaky_relu(x, s),
    "sigmoid": lambda x, s: torch.sigmoid(x),
    "tanh": lambda x, s: torch.tanh(x),
    "gelu": lambda x, s: F.gelu(x),
    "gelu_tanh": lambda x, s: F.gelu(x, approximate="tanh"),
}
REDUCTIONS = ("mean", "sum", "none")


@pytest.fixture(autouse=True)
def deterministic_torch():
    torch.manual_seed(0)


def leaf(a: np.ndarray):
    return torch.from_numpy(a.copy()).requires_grad_(True)


def torch_grad(f, inputs: list[np.ndarray], upstream: np.ndarray | None = None):
    """Value of f(*inputs) and the gradients of sum(upstream * f) with respect to each input."""
    leaves = [leaf(a) for a in inputs]
    out = f(*leaves)
    out.backward(None if upstream is None else torch.from_numpy(upstream))
    return out.detach().numpy(), [t.grad.numpy() for t in leaves]


def sample(dtype, shape=(13, 9), seed=0, scale=2.0) -> np.ndarray:
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    x.reshape(-1)[::5] = 0  # the kink of relu / leaky_relu
    x.reshape(-1)[1] = 30.0
    x.reshape(-1)[2] = -30.0
    return x


# ------------------------------------------------------------ activations
@pytest.mark.parametrize("slope", [0.01, 0.3])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_activation_matches_torch(dtype, activation, slope):
    x = sample(dtype)
    g = sample(dtype, seed=1)
    expected, (dx,) = torch_grad(lambda t: ACTIVATIONS[activation](t, slope), [x], g)
    out = REF.activation_forward(x, activation, slope)
    assert_close(out, expected, dtype, what=f"{activation} forward")
    saved = x if saves_input(activation) else out
    assert_close(REF.activation_backward(g, saved, activation, slope), dx, dtype, what=f"{activation} backward")


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_activation_nan_handling_matches_torch(dtype, activation):
    x = np.array([np.nan, -1.0, 0.0, 2.0, 1.5], dtype=dtype)
    g = np.array([1.0, 1.0, 1.0, 1.0, np.nan], dtype=dtype)
    expected, (dx,) = torch_grad(lambda t: ACTIVATIONS[activation](t, 0.1), [x], g)
    out = REF.activation_forward(x, activation, 0.1)
    assert_close(out, expected, dtype, what=f"{activation} forward")
    saved = x if saves_input(activation) else out
    assert_close(REF.activation_backward(g, saved, activation, 0.1), dx, dtype, what=f"{activation} backward")


@pytest.mark.parametrize("kernel,torch_fn", [("softmax", F.softmax), ("log_softmax", F.log_softmax)])
@pytest.mark.parametrize("scale", [1.0, 50.0])
def test_softmax_family_matches_torch(dtype, kernel, torch_fn, scale):
    x = sample(dtype, (11, 7), scale=scale)
    g = sample(dtype, (11, 7), seed=1)
    expected, (dx,) = torch_grad(lambda t: torch_fn(t, dim=1), [x], g)
    out = getattr(REF, f"{kernel}_forward")(x)
    assert_close(out, expected, dtype, what=f"{kernel} forward")
    assert_close(getattr(REF, f"{kernel}_backward")(g, out), dx, dtype, what=f"{kernel} backward")


@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_fused_linear_matches_torch(dtype, activation, with_bias):
    x, w, g = sample(dtype, (10, 6)), sample(dtype, (4, 6), seed=1, scale=0.4), sample(dtype, (10, 4), seed=2)
    b = sample(dtype, (4,), seed=3) if with_bias else None

    def f(x, w, *b):
        return ACTIVATIONS[activation](F.linear(x, w, *b), 0.1)

    expected, grads = torch_grad(f, [x, w] + ([b] if with_bias else []), g)
    out, saved = REF.linear_forward(x, w, b, activation, 0.1)
    assert_close(out, expected, dtype, what="linear forward")
    dx, dw, db = REF.linear_backward(g, x, w, saved, activation, 0.1, True, with_bias)
    assert_close(dx, grads[0], dtype, what="dx")
    assert_close(dw, grads[1], dtype, what="dweight")
    if with_bias:
        assert_close(db, grads[2], dtype, what="dbias")


# ----------------------------------------------------------------- losses
def scalar_or_rows_upstream(reduction: str, n: int, dtype):
    return None if reduction != "none" else np.ones(n, dtype=dtype)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.7])
@pytest.mark.parametrize("ignore_index,ignored", [(-100, []), (-100, [1, 4]), (2, "class"), (-1, [0])])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(dtype, reduction, ignore_index, ignored, smoothing):
    logits = sample(dtype, (7, 5), scale=3.0)
    target = np.array([2, 0, 4, 2, 1, 3, 2])
    if ignored != "class":
        target[ignored] = ignore_index
    expected, (dlogits,) = torch_grad(
        lambda t: F.cross_entropy(t, torch.from_numpy(target), reduction=reduction, ignore_index=ignore_index,
                                  label_smoothing=smoothing),
        [logits], scalar_or_rows_upstream(reduction, 7, dtype))
    loss, grad = REF.softmax_cross_entropy(logits, target, reduction, ignore_index, smoothing)
    assert_close(loss, expected, dtype, what="loss")
    assert_close(grad, dlogits, dtype, what="dlogits")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_extreme_logits_match_torch(dtype, reduction):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [5e3, -5e3, 1.0]], dtype=dtype)
    target = np.array([1, 0, 2, 0])
    expected, (dlogits,) = torch_grad(
        lambda t: F.cross_entropy(t, torch.from_numpy(target), reduction=reduction, label_smoothing=0.2),
        [logits], scalar_or_rows_upstream(reduction, 4, dtype))
    loss, grad = REF.softmax_cross_entropy(logits, target, reduction, -100, 0.2)
    assert_close(loss, expected, dtype, what="loss")
    assert_close(grad, dlogits, dtype, what="dlogits")


def test_cross_entropy_with_every_row_ignored_matches_torch(dtype):
    logits, target = sample(dtype, (3, 4)), np.full(3, -100)
    for reduction in REDUCTIONS:
        expected, (dlogits,) = torch_grad(
            lambda t, r=reduction: F.cross_entropy(t, torch.from_numpy(target), reduction=r),
            [logits], scalar_or_rows_upstream(reduction, 3, dtype))
        loss, grad = REF.softmax_cross_entropy(logits, target, reduction)
        assert_close(loss, expected, dtype, what=f"loss {reduction}")
        assert_close(grad, dlogits, dtype, what=f"dlogits {reduction}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(dtype, reduction):
    x, t = sample(dtype, (6, 5)), sample(dtype, (6, 5), seed=1)
    upstream = None if reduction != "none" else np.ones_like(x)
    expected, (dx, dt) = torch_grad(lambda a, b: F.mse_loss(a, b, reduction=reduction), [x, t], upstream)
    loss, grad = REF.mse_loss(x, t, reduction)
    assert_close(loss, expected, dtype, what="loss")
    assert_close(grad, dx, dtype, what="dinput")
    assert_close(-grad, dt, dtype, what="dtarget")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_torch(dtype, reduction):
    x = np.concatenate([sample(dtype, (20,), scale=4.0),
                        np.array([-1e4, -500.0, -90.0, 90.0, 500.0, 1e4], dtype=dtype)])
    t = np.random.default_rng(1).random(x.shape).astype(dtype)
    t[::4] = np.round(t[::4])
    upstream = None if reduction != "none" else np.ones_like(x)
    expected, (dx, _) = torch_grad(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction),
                                   [x, t], upstream)
    loss, grad = REF.bce_with_logits(x, t, reduction)
    assert_close(loss, expected, dtype, what="loss")
    assert_close(grad, dx, dtype, what="dlogits")


# ------------------------------------------------------------- embeddings
@pytest.mark.parametrize("padding_idx", [None, 0, 3])
def test_embedding_matches_torch(dtype, padding_idx):
    weight = sample(dtype, (6, 4))
    indices = np.array([3, 0, 5, 3, 3, 1, 0])
    g = sample(dtype, (7, 4), seed=1)
    expected, (dweight,) = torch_grad(lambda w: F.embedding(torch.from_numpy(indices), w, padding_idx=padding_idx),
                                      [weight], g)
    assert_close(REF.embedding_forward(weight, indices), expected, dtype, what="forward")
    assert_close(REF.embedding_backward(g, indices, 6, padding_idx), dweight, dtype, what="dweight")


@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("offsets", [[0, 3, 3, 7], [0, 0, 2, 9], [0, 5, 9, 9]], ids=["empty-middle", "empty-first",
                                                                                    "empty-last"])
@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_matches_torch(dtype, mode, offsets, padding_idx):
    weight = sample(dtype, (5, 3))
    indices = np.array([2, 0, 2, 4, 4, 1, 2, 0, 3])
    offsets = np.array(offsets)
    g = sample(dtype, (4, 3), seed=1)
    expected, (dweight,) = torch_grad(
        lambda w: F.embedding_bag(torch.from_numpy(indices), w, torch.from_numpy(offsets), mode=mode,
                                  padding_idx=padding_idx), [weight], g)
    assert_close(REF.embedding_bag_forward(weight, indices, offsets, mode, padding_idx), expected, dtype,
                 what="forward")
    assert_close(REF.embedding_bag_backward(g, indices, offsets, 5, mode, padding_idx), dweight, dtype,
                 what="dweight")


def test_embedding_bag_of_only_padding_matches_torch(dtype):
    weight, indices, offsets = sample(dtype, (4, 3)), np.array([1, 1, 2]), np.array([0, 2])
    g = sample(dtype, (2, 3), seed=1)
    expected, (dweight,) = torch_grad(
        lambda w: F.embedding_bag(torch.from_numpy(indices), w, torch.from_numpy(offsets), mode="mean",
                                  padding_idx=1), [weight], g)
    assert_close(REF.embedding_bag_forward(weight, indices, offsets, "mean", 1), expected, dtype)
    assert_close(REF.embedding_bag_backward(g, indices, offsets, 4, "mean", 1), dweight, dtype)
