"""Degenerate shapes for every kernel of every backend: 0-d arrays, empty arrays, zero-length dims.

Shapes and values are drawn by hypothesis; the ``test_large_*`` tests use 3000 x 700 = 2.1M
elements, above the compiled backends' thread thresholds, so the threaded paths run too. Inputs
arrive C-contiguous, transposed or strided and must be left untouched. float64 agrees to ~1e-12
relative, float32 to ~1e-5 (backend_testing.assert_close).
"""

from __future__ import annotations

import numpy as np
from backend_testing import (
    compare_kernel,
    compare_update,
    randn,
)

from fastnn.backends.contract import ACTIVATION_NAMES as ACTIVATIONS
from fastnn.backends.contract import REDUCTIONS, saves_input


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


def test_zero_size_dimensions_of_every_kernel(backend, reference, dtype):
    """Every kernel accepts a zero-length dim wherever the maths allows one, as the reference does."""
    z = lambda *shape: np.zeros(shape, dtype=dtype)  # noqa: E731
    no_ids = np.zeros(0, dtype=np.int64)
    calls = [
        ("linear_forward", (z(3, 0), z(2, 0), z(2), "gelu")),  # no input features: out = act(bias)
        ("linear_forward", (z(3, 4), z(0, 4), z(0), "relu")),  # no output features
        ("linear_backward", (z(3, 2), z(3, 0), z(2, 0), z(3, 2), "tanh")),
        ("linear_backward", (z(3, 0), z(3, 4), z(0, 4), z(3, 0), "gelu_tanh")),
        ("activation_forward", (z(2, 0, 3), "gelu")),
        ("activation_backward", (z(2, 0, 3), z(2, 0, 3), "sigmoid")),
        ("softmax_forward", (z(0, 0),)),
        ("log_softmax_backward", (z(3, 0), z(3, 0))),
        ("embedding_forward", (z(0, 4), no_ids)),
        ("embedding_forward", (z(5, 0), np.array([1, 2]))),
        ("embedding_backward", (z(2, 0), np.array([1, 2]), 5)),
        ("embedding_backward", (z(0, 3), no_ids, 0)),
        ("embedding_bag_forward", (z(5, 0), np.array([1, 2, 3]), np.array([0, 2]))),
        ("embedding_bag_backward", (z(2, 0), np.array([1, 2, 3]), np.array([0, 2]), 5)),
        ("dropout_backward", (z(0, 2), np.zeros((0, 2), np.uint8), 0.5)),
        ("layer_norm_forward", (z(0, 3), z(3), z(3))),
    ]
    for kernel, args in calls:
        actual, expected = compare_kernel(backend, reference, kernel, args, {}, dtype)
        for a, e in zip(actual if isinstance(actual, tuple) else (actual,),
                        expected if isinstance(expected, tuple) else (expected,)):
            assert (a is None) == (e is None) and (a is None or a.shape == e.shape), kernel
    for kernel, states, options in [
        ("sgd_update", ("momentum_buffer",), {"lr": 0.1, "momentum": 0.9}),
        ("adagrad_update", ("state_sum",), {"clr": 0.1}),
        ("rmsprop_update", ("square_avg", "momentum_buffer", "grad_avg"), {"lr": 0.1, "momentum": 0.9,
                                                                          "centered": True}),
        ("adadelta_update", ("square_avg", "acc_delta"), {}),
        ("adam_update", ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"), {"step": 1, "amsgrad": True}),
    ]:
        assert getattr(backend, kernel)(z(0, 3), z(0, 3), *[z(0, 3) for _ in states], **options) is None
