"""Every kernel of every backend against the NumPy reference (the "numpy" backend), both dtypes.

Shapes and values are drawn by hypothesis (random sizes from 1 up, one row, one column, odd
sizes); the ``test_large_*`` tests use 3000 x 700 = 2.1M elements, above the compiled backends'
serial/parallel thresholds (Numba: 32K elements; Cython: 2M element-passes for the cheapest
kernels, fewer for costlier ones), so the threaded code paths run too. Inputs arrive
C-contiguous, transposed (Fortran order) or strided, and the kernels must leave them untouched.
float64 agrees to ~1e-12 relative, float32 to ~1e-5 (see backend_testing.assert_close)."""

from __future__ import annotations

import numpy as np
import pytest
from backend_testing import LAYOUTS, assert_close, compare_kernel, compare_update, randn
from hypothesis import example, given
from hypothesis import strategies as st

from fastnn.backends.contract import ACTIVATION_NAMES as ACTIVATIONS
from fastnn.backends.contract import REDUCTIONS, saves_input

LARGE_ROWS, LARGE_COLS = 3000, 700
dims = st.integers(1, 37)
seeds = st.integers(0, 2**32 - 1)
layouts = st.sampled_from(LAYOUTS)
scales = st.sampled_from([0.1, 1.0, 8.0])


def activation_input(seed: int, shape, dtype, scale: float) -> np.ndarray:
    """Normal values with some exact zeros (the kink of relu / leaky_relu)."""
    x = randn(seed, shape, dtype, scale)
    x.reshape(-1)[:: 7] = 0
    return x


def saved_for(reference, z: np.ndarray, activation: str, slope: float) -> np.ndarray:
    return z if saves_input(activation) else reference.activation_forward(z, activation, slope)


# ------------------------------------------------------------------ dense
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


# ------------------------------------------------------------ activations
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


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_linear_forward_propagates_nan(backend, reference, dtype, activation):
    x = randn(0, (6, 5), dtype)
    x[2, 1] = np.nan
    out, _ = compare_kernel(backend, reference, "linear_forward", (x, randn(1, (4, 5), dtype), None, activation),
                            {}, dtype)
    assert np.isnan(out[0][2]).all() and not np.isnan(np.delete(out[0], 2, axis=0)).any()


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


# ----------------------------------------------------------------- losses
def labels(seed: int, n: int, c: int, ignore_index: int, ignored_fraction: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    target = rng.integers(0, c, n)
    target[rng.random(n) < ignored_fraction] = ignore_index
    return target


@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(n=dims, c=dims, seed=seeds, layout=layouts, scale=scales,
       smoothing=st.sampled_from([0.0, 0.1, 1.0]), ignore=st.sampled_from([(-100, 0.0), (-100, 0.3), (0, 0.0)]))
@example(n=1, c=1, seed=1, layout="strided", scale=1.0, smoothing=0.0, ignore=(-100, 0.0))
@example(n=1, c=7, seed=2, layout="transposed", scale=1.0, smoothing=0.1, ignore=(-100, 0.0))
@example(n=6, c=4, seed=3, layout="strided", scale=1.0, smoothing=0.2, ignore=(-100, 0.5))
def test_softmax_cross_entropy(backend, reference, dtype, reduction, n, c, seed, layout, scale, smoothing, ignore):
    ignore_index, ignored_fraction = ignore
    logits = randn(seed, (n, c), dtype, scale)
    target = labels(seed + 1, n, c, ignore_index, ignored_fraction)
    kwargs = {"reduction": reduction, "ignore_index": ignore_index, "label_smoothing": smoothing}
    (loss, _), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (logits, target), kwargs, dtype,
                                  layout)
    assert np.shape(loss) == ((n,) if reduction == "none" else ())


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_ignores_ignored_rows(backend, reference, dtype, reduction):
    logits = randn(0, (6, 5), dtype, 3.0)
    target = np.array([1, -100, 4, -100, 0, 2])
    (loss, grad), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (logits, target),
                                     {"reduction": reduction, "label_smoothing": 0.1}, dtype)
    assert not grad[[1, 3]].any()
    if reduction == "none":
        assert not loss[[1, 3]].any()


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_with_every_row_ignored(backend, reference, dtype, reduction, smoothing):
    """PyTorch's answer: a nan mean (0/0) but a zero gradient."""
    (loss, grad), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (randn(0, (4, 3), dtype),
                                     np.full(4, -100)), {"reduction": reduction, "label_smoothing": smoothing}, dtype)
    assert np.isnan(loss) if reduction == "mean" else not np.any(loss)
    assert not grad.any()


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_softmax_cross_entropy_extreme_logits(backend, reference, dtype, reduction, smoothing):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [5e3, -5e3, 1.0]], dtype=dtype)
    target = np.array([1, 0, 2, 0])
    (loss, grad), _ = compare_kernel(backend, reference, "softmax_cross_entropy", (logits, target),
                                     {"reduction": reduction, "label_smoothing": smoothing}, dtype)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


@pytest.mark.parametrize("kernel", ["mse_loss", "bce_with_logits"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(shape=st.lists(dims, min_size=1, max_size=3), seed=seeds, layout=layouts, scale=scales)
@example(shape=[1], seed=1, layout="strided", scale=1.0)
def test_elementwise_losses(backend, reference, dtype, kernel, reduction, shape, seed, layout, scale):
    x = randn(seed, shape, dtype, scale)
    if kernel == "mse_loss":
        target = randn(seed + 1, shape, dtype, scale)
    else:
        target = np.random.default_rng(seed + 1).random(shape).astype(dtype)
        target.reshape(-1)[::3] = np.round(target.reshape(-1)[::3])
    compare_kernel(backend, reference, kernel, (x, target), {"reduction": reduction}, dtype, layout)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_extreme_logits(backend, reference, dtype, reduction):
    x = np.array([-1e4, -500.0, -90.0, -20.0, 0.0, 20.0, 90.0, 500.0, 1e4], dtype=dtype)
    target = np.array([0.0, 1.0, 0.5, 1.0, 0.3, 0.0, 1.0, 0.7, 1.0], dtype=dtype)
    (loss, grad), _ = compare_kernel(backend, reference, "bce_with_logits", (x, target), {"reduction": reduction},
                                     dtype)
    assert np.isfinite(loss).all() and np.isfinite(grad).all()


# ------------------------------------------------------------- optimizers
shapes = st.lists(dims, min_size=1, max_size=2)


@pytest.mark.parametrize("options", [
    {"lr": 0.1}, {"lr": 0.1, "weight_decay": 0.01},
    {"lr": 0.05, "momentum": 0.9}, {"lr": 0.05, "momentum": 0.9, "first_step": True},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.02},
    {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "first_step": True},
    {"lr": 0.05, "momentum": 0.8, "nesterov": True}, {"lr": 0.05, "momentum": 0.8, "nesterov": True,
                                                       "weight_decay": 0.1, "first_step": True},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_sgd_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"momentum_buffer": "any"} if options.get("momentum") else {}
    compare_update(backend, reference, dtype, "sgd_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("options", [
    {"clr": 0.1}, {"clr": 0.05, "weight_decay": 0.1, "eps": 1e-6}, {"clr": 0.01, "eps": 0.0},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_adagrad_update(backend, reference, dtype, options, shape, seed, layout):
    compare_update(backend, reference, dtype, "adagrad_update", shape, seed, layout, {"state_sum": "positive"},
                   options)


@pytest.mark.parametrize("options", [
    {"lr": 0.01}, {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1},
    {"lr": 0.01, "momentum": 0.9}, {"lr": 0.01, "centered": True},
    {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.05},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_rmsprop_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"square_avg": "positive"}
    if options.get("momentum"):
        kinds["momentum_buffer"] = "any"
    if options.get("centered"):
        kinds["grad_avg"] = "any"
    compare_update(backend, reference, dtype, "rmsprop_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("options", [
    {}, {"lr": 0.5, "rho": 0.95, "eps": 1e-4, "weight_decay": 0.1},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_adadelta_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"square_avg": "positive", "acc_delta": "positive"}
    compare_update(backend, reference, dtype, "adadelta_update", shape, seed, layout, kinds, options)


@pytest.mark.parametrize("options", [
    {"step": 1}, {"step": 7, "lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
    {"step": 3, "weight_decay": 0.1}, {"step": 3, "weight_decay": 0.1, "decoupled_weight_decay": True},
    {"step": 1, "amsgrad": True}, {"step": 12, "amsgrad": True, "weight_decay": 0.05},
    {"step": 5, "amsgrad": True, "weight_decay": 0.05, "decoupled_weight_decay": True, "lr": 0.1},
], ids=str)
@given(shape=shapes, seed=seeds, layout=layouts)
@example(shape=[1], seed=1, layout="strided")
def test_adam_update(backend, reference, dtype, options, shape, seed, layout):
    kinds = {"exp_avg": "any", "exp_avg_sq": "positive"}
    if options.get("amsgrad"):
        kinds["max_exp_avg_sq"] = "positive"
    compare_update(backend, reference, dtype, "adam_update", shape, seed, layout, kinds, options)


# ------------------------------------------------------------- embeddings
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


# ---------------------------------------------------------------- dropout
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


# ------------------------------------------------------------------ degenerate shapes
def test_zero_dimensional_inputs_keep_their_shape(backend, reference, dtype):
    x, g = np.asarray(dtype(0.7)), np.asarray(dtype(-1.3))
    for activation in ACTIVATIONS:
        out, _ = compare_kernel(backend, reference, "activation_forward", (x, activation), {}, dtype)
        saved = x if saves_input(activation) else out
        grad, _ = compare_kernel(backend, reference, "activation_backward", (g, saved, activation), {}, dtype)
        assert out.shape == grad.shape == ()
    for kernel in ("mse_loss", "bce_with_logits"):
        (loss, grad), _ = compare_kernel(backend, reference, kernel, (x, np.asarray(dtype(0.25))),
                                         {"reduction": "none"}, dtype)
        assert loss.shape == grad.shape == ()
    (out, mask), _ = compare_kernel(backend, reference, "dropout_forward", (x, 0.5, 3), {}, dtype)
    compare_kernel(backend, reference, "dropout_backward", (g, mask, 0.5), {}, dtype)
    assert out.shape == mask.shape == ()
    compare_update(backend, reference, dtype, "sgd_update", (), 0, "contiguous", {"momentum_buffer": "any"},
                   {"lr": 0.1, "momentum": 0.9})
    compare_update(backend, reference, dtype, "adam_update", (), 0, "contiguous",
                   {"exp_avg": "any", "exp_avg_sq": "positive"}, {"step": 2, "lr": 0.1})


def test_empty_inputs(backend, reference, dtype):
    none = np.zeros((0, 4), dtype=dtype)
    weight = randn(0, (3, 4), dtype)
    compare_kernel(backend, reference, "linear_forward", (none, weight, weight[:, 0].copy(), "gelu"), {}, dtype)
    compare_kernel(backend, reference, "linear_backward",
                   (np.zeros((0, 3), dtype=dtype), none, weight, np.zeros((0, 3), dtype=dtype), "tanh"), {}, dtype)
    for x in (none, np.zeros((4, 0), dtype=dtype)):
        for kernel in ("softmax", "log_softmax"):
            out, _ = compare_kernel(backend, reference, f"{kernel}_forward", (x,), {}, dtype)
            compare_kernel(backend, reference, f"{kernel}_backward", (x, out), {}, dtype)
        compare_kernel(backend, reference, "activation_forward", (x, "sigmoid"), {}, dtype)
        compare_kernel(backend, reference, "dropout_forward", (x, 0.5, 1), {}, dtype)
    for reduction in REDUCTIONS:
        compare_kernel(backend, reference, "softmax_cross_entropy", (none, np.zeros(0, dtype=np.int64)),
                       {"reduction": reduction}, dtype)
        compare_kernel(backend, reference, "mse_loss", (none, none), {"reduction": reduction}, dtype)
        compare_kernel(backend, reference, "bce_with_logits", (none, none), {"reduction": reduction}, dtype)
    no_indices = np.zeros(0, dtype=np.int64)
    compare_kernel(backend, reference, "embedding_forward", (weight, no_indices), {}, dtype)
    compare_kernel(backend, reference, "embedding_backward", (none, no_indices, 3), {}, dtype)
    for offsets in (np.zeros(0, dtype=np.int64), np.zeros(3, dtype=np.int64)):
        for mode in ("sum", "mean"):
            compare_kernel(backend, reference, "embedding_bag_forward", (weight, no_indices, offsets, mode), {}, dtype)
            compare_kernel(backend, reference, "embedding_bag_backward",
                           (np.zeros((offsets.size, 4), dtype=dtype), no_indices, offsets, 3, mode), {}, dtype)


# ------------------------------------------------------------------ large inputs (the threaded paths)
LARGE = (LARGE_ROWS, LARGE_COLS)


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


def test_large_softmax_and_losses(backend, reference, dtype):
    x = randn(1, LARGE, dtype, 4.0)
    for kernel in ("softmax", "log_softmax"):
        out, _ = compare_kernel(backend, reference, f"{kernel}_forward", (x,), {}, dtype, "transposed")
        compare_kernel(backend, reference, f"{kernel}_backward", (randn(2, LARGE, dtype), out), {}, dtype, "strided")
    target = labels(3, LARGE_ROWS, LARGE_COLS, -100, 0.1)
    for reduction in REDUCTIONS:
        compare_kernel(backend, reference, "softmax_cross_entropy", (x, target),
                       {"reduction": reduction, "label_smoothing": 0.1}, dtype, "transposed")
        compare_kernel(backend, reference, "mse_loss", (x, randn(4, LARGE, dtype)), {"reduction": reduction}, dtype,
                       "strided")
        probabilities = np.random.default_rng(5).random(LARGE).astype(dtype)
        compare_kernel(backend, reference, "bce_with_logits", (x, probabilities), {"reduction": reduction}, dtype,
                       "transposed")


@pytest.mark.parametrize("kernel,state_kinds,options", [
    ("sgd_update", {"momentum_buffer": "any"}, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("sgd_update", {"momentum_buffer": "any"}, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "first_step": True}),
    ("adagrad_update", {"state_sum": "positive"}, {"clr": 0.05, "weight_decay": 0.1}),
    ("rmsprop_update", {"square_avg": "positive", "momentum_buffer": "any", "grad_avg": "any"},
     {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.05}),
    ("adadelta_update", {"square_avg": "positive", "acc_delta": "positive"}, {"weight_decay": 0.1}),
    ("adam_update", {"exp_avg": "any", "exp_avg_sq": "positive", "max_exp_avg_sq": "positive"},
     {"step": 5, "amsgrad": True, "weight_decay": 0.05}),
    ("adam_update", {"exp_avg": "any", "exp_avg_sq": "positive"},
     {"step": 3, "weight_decay": 0.05, "decoupled_weight_decay": True}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_large_optimizer_updates(backend, reference, dtype, kernel, state_kinds, options):
    compare_update(backend, reference, dtype, kernel, list(LARGE), 1, "transposed", state_kinds, options)


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


def test_large_dropout(backend, reference, dtype):
    x = randn(0, LARGE, dtype)
    (out, mask), _ = compare_kernel(backend, reference, "dropout_forward", (x, 0.3, 2**63 + 5), {}, dtype,
                                    "transposed")
    compare_kernel(backend, reference, "dropout_backward", (randn(1, LARGE, dtype), mask, 0.3), {}, dtype, "strided")
