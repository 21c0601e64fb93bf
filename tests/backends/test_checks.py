"""Bad input raises the documented error on every backend, and the message names the kernel and
what was wrong; non-contiguous float input is converted, not refused; a refused optimizer step
changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

f32, f64 = np.float32, np.float64


def arr(*shape, dtype=f64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


X, W, B = arr(4, 6), arr(3, 6), arr(3)
LOGITS = arr(5, 10)
EMB = arr(5, 3)
BAG_INDICES = np.array([0, 1, 4, 2, 3])

# (kernel, call on a backend, exception type, regex the message must match after "kernel: ")
CASES = [
    # dense
    ("linear_forward", lambda b: b.linear_forward(arr(4, 5), W, B), ValueError,
     r"x expected shape \(\*, 6\).*\(4, 5\)"),
    ("linear_forward", lambda b: b.linear_forward(X, W, arr(4)), ValueError, r"bias expected shape \(3,\).*\(4,\)"),
    ("linear_forward", lambda b: b.linear_forward(arr(6), W), ValueError, r"x expected shape"),
    ("linear_forward", lambda b: b.linear_forward(X.astype(f32), W), TypeError, r"x has dtype float32.*float64"),
    ("linear_forward", lambda b: b.linear_forward(X, W, B.astype(f32)), TypeError, r"bias has dtype float32"),
    ("linear_forward", lambda b: b.linear_forward(np.ones((4, 6), dtype=np.int64), W), TypeError,
     r"x must be float32 or float64, got int64"),
    ("linear_forward", lambda b: b.linear_forward(X, np.ones((3, 6), dtype=bool)), TypeError, r"weight .*got bool"),
    ("linear_forward", lambda b: b.linear_forward(X, W, B, "swish"), ValueError, r"activation must be one of.*'swish'"),
    ("linear_backward", lambda b: b.linear_backward(arr(4, 2), X, W, arr(4, 3)), ValueError,
     r"grad_out expected shape \(4, 3\), got \(4, 2\)"),
    ("linear_backward", lambda b: b.linear_backward(arr(4, 3), X, W, arr(4, 2)), ValueError, r"saved expected shape"),
    ("linear_backward", lambda b: b.linear_backward(arr(4, 3), X, W, arr(4, 3, dtype=f32)), TypeError,
     r"saved has dtype float32"),
    ("linear_backward", lambda b: b.linear_backward(arr(4, 3), X, W, arr(4, 3), "softplus"), ValueError,
     r"activation must be one of"),
    # activations
    ("activation_forward", lambda b: b.activation_forward(np.arange(5), "relu"), TypeError, r"x must be float32"),
    ("activation_forward", lambda b: b.activation_forward(X, "elu"), ValueError, r"activation must be one of.*'elu'"),
    ("activation_backward", lambda b: b.activation_backward(arr(4, 5), X, "tanh"), ValueError,
     r"grad_out expected shape \(4, 6\)"),
    ("activation_backward", lambda b: b.activation_backward(X.astype(f32), X, "tanh"), TypeError,
     r"grad_out has dtype float32"),
    ("softmax_forward", lambda b: b.softmax_forward(arr(6)), ValueError, r"x expected shape \(\*, \*\), got \(6,\)"),
    ("softmax_forward", lambda b: b.softmax_forward(np.ones((2, 3), dtype=np.int32)), TypeError, r"int32"),
    ("softmax_backward", lambda b: b.softmax_backward(arr(4, 5), X), ValueError, r"grad_out expected shape"),
    ("log_softmax_forward", lambda b: b.log_softmax_forward(arr(2, 3, 4)), ValueError, r"x expected shape"),
    ("log_softmax_backward", lambda b: b.log_softmax_backward(X, X.astype(f32)), TypeError, r"grad_out has dtype"),
    # losses
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.array([1, 2, 3])), ValueError,
     r"target expected shape \(5,\) for logits \(5, 10\), got \(3,\)"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.array([1, 2, 12, 0, 0])), IndexError,
     r"target 12 out of range for 10 classes"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.array([1, -3, 2, 0, 0])), IndexError,
     r"target -3 out of range for 10 classes"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.array([1, -100, 2, 0, 0]),
                                                                ignore_index=-1), IndexError, r"target -100 out of"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.ones(5)), TypeError,
     r"target must hold integers, got dtype float64"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.ones(5, dtype=bool)), TypeError,
     r"target must hold integers, got dtype bool"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.zeros(5, dtype=int), "avg"), ValueError,
     r"reduction must be one of mean, sum, none, got 'avg'"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS, np.zeros(5, dtype=int), label_smoothing=1.5),
     ValueError, r"label_smoothing must be in \[0, 1\], got 1.5"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(arr(5, 0), np.zeros(5, dtype=int)), ValueError,
     r"at least one class"),
    ("mse_loss", lambda b: b.mse_loss(X, arr(4, 5)), ValueError, r"target expected shape \(4, 6\)"),
    ("mse_loss", lambda b: b.mse_loss(X, X.astype(f32)), TypeError, r"target has dtype float32"),
    ("mse_loss", lambda b: b.mse_loss(X, X, "batchmean"), ValueError, r"reduction must be one of"),
    ("bce_with_logits", lambda b: b.bce_with_logits(X, arr(6, 4)), ValueError, r"target expected shape"),
    ("bce_with_logits", lambda b: b.bce_with_logits(np.ones(3, dtype=int), np.ones(3)), TypeError, r"logits must"),
    ("bce_with_logits", lambda b: b.bce_with_logits(X, X, "max"), ValueError, r"reduction must be one of"),
    # embeddings
    ("embedding_forward", lambda b: b.embedding_forward(EMB, np.array([0, 7, 1])), IndexError,
     r"indices 7 out of range for 5 rows"),
    ("embedding_forward", lambda b: b.embedding_forward(EMB, np.array([0, -1])), IndexError,
     r"indices -1 out of range"),
    ("embedding_forward", lambda b: b.embedding_forward(EMB, np.array([0.0, 1.0])), TypeError, r"indices must hold"),
    ("embedding_forward", lambda b: b.embedding_forward(EMB, np.zeros((2, 2), dtype=int)), ValueError,
     r"indices expected shape \(\*,\)"),
    ("embedding_forward", lambda b: b.embedding_forward(np.ones((5, 3), dtype=int), np.array([0])), TypeError,
     r"weight must be float32"),
    ("embedding_backward", lambda b: b.embedding_backward(arr(3, 3), np.array([0, 1]), 5), ValueError,
     r"indices expected shape \(3,\) for grad_out \(3, 3\)"),
    ("embedding_backward", lambda b: b.embedding_backward(arr(2, 3), np.array([0, 5]), 5), IndexError,
     r"indices 5 out of range for 5 rows"),
    ("embedding_backward", lambda b: b.embedding_backward(arr(2, 3), np.array([0, 1]), 5, padding_idx=5), ValueError,
     r"padding_idx 5 out of range for 5 rows"),
    ("embedding_backward", lambda b: b.embedding_backward(arr(2, 3), np.array([0, 1]), 5, padding_idx=-1),
     ValueError, r"padding_idx -1 out of range"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.array([1, 3])), ValueError,
     r"offsets must start at 0, got 1"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.array([0, 3, 2])), ValueError,
     r"offsets must be non-decreasing"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.array([0, 2, 6])), ValueError,
     r"offset 6 is past the end of 5 indices"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.array([0.0, 2.0])), TypeError,
     r"offsets must hold integers"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.zeros((1, 2), dtype=int)),
     ValueError, r"offsets must be 1-D"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.array([0, 2]), "max"),
     ValueError, r"mode must be one of mean, sum, got 'max'"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, BAG_INDICES, np.array([0, 2]), padding_idx=9),
     ValueError, r"padding_idx 9 out of range for 5 rows"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, np.array([0, 5]), np.array([0])), IndexError,
     r"indices 5 out of range for 5 rows"),
    ("embedding_bag_backward", lambda b: b.embedding_bag_backward(arr(3, 3), BAG_INDICES, np.array([0, 2]), 5),
     ValueError, r"grad_out expected shape \(2, \*\) for 2 bags, got \(3, 3\)"),
    ("embedding_bag_backward", lambda b: b.embedding_bag_backward(arr(2, 3), BAG_INDICES, np.array([0, 2]), 4),
     IndexError, r"indices 4 out of range for 4 rows"),
    # dropout
    ("dropout_forward", lambda b: b.dropout_forward(X, -0.1, 0), ValueError, r"p must be in \[0, 1\], got -0.1"),
    ("dropout_forward", lambda b: b.dropout_forward(X, 1.5, 0), ValueError, r"p must be in \[0, 1\], got 1.5"),
    ("dropout_forward", lambda b: b.dropout_forward(X, 0.5, -1), ValueError, r"seed must be in"),
    ("dropout_forward", lambda b: b.dropout_forward(np.ones(3, dtype=int), 0.5, 0), TypeError, r"x must be float"),
    ("dropout_backward", lambda b: b.dropout_backward(X, np.ones((4, 6), dtype=bool), 0.5), TypeError,
     r"mask must be uint8, got bool"),
    ("dropout_backward", lambda b: b.dropout_backward(X, np.ones((4, 5), dtype=np.uint8), 0.5), ValueError,
     r"mask expected shape \(4, 6\)"),
    ("dropout_backward", lambda b: b.dropout_backward(X, np.ones((4, 6), dtype=np.uint8), 2.0), ValueError,
     r"p must be in"),
]


@pytest.mark.parametrize("kernel,call,error,message", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_raises_a_named_error(backend, kernel, call, error, message):
    with pytest.raises(error, match=rf"^{kernel}: .*{message}"):
        call(backend)


def test_ignore_index_is_accepted(backend):
    target = np.array([1, -100, 9, 0, -100])
    loss, grad = backend.softmax_cross_entropy(LOGITS, target)
    assert np.isfinite(loss) and not grad[[1, 4]].any()
    loss, grad = backend.softmax_cross_entropy(LOGITS, np.array([1, 3, 3, 0, 2]), "none", ignore_index=3)
    assert not loss[[1, 2]].any() and not grad[[1, 2]].any()


@pytest.mark.parametrize("layout", ["fortran", "strided", "list"])
def test_non_contiguous_float_input_is_converted(backend, layout):
    convert = {"fortran": np.asfortranarray, "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
               "list": lambda a: a.tolist()}[layout]
    out, _ = backend.linear_forward(convert(X), W, B, "tanh")
    expected, _ = backend.linear_forward(X, W, B, "tanh")
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    indices = np.array([0, 0, 1, 1, 4, 4, 2, 2])[::2]
    np.testing.assert_array_equal(backend.embedding_forward(EMB, indices), EMB[[0, 1, 4, 2]])


# ------------------------------------------------------------- optimizer state
def sgd(b, param, grad, buf, **kw):
    b.sgd_update(param, grad, buf, lr=0.1, momentum=0.9, **kw)


def adam(b, param, grad, state, **kw):
    b.adam_update(param, grad, state, np.ones_like(param), **{"step": 1, **kw})


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


STATE_CASES = [
    ("non-contiguous state", lambda p: np.zeros((p.shape[1], p.shape[0])).T, ValueError,
     r"momentum_buffer must be C-contiguous and writeable"),
    ("read-only state", lambda p: _read_only(np.zeros_like(p)), ValueError,
     r"momentum_buffer must be C-contiguous and writeable"),
    ("mis-shaped state", lambda p: np.zeros((p.shape[0], p.shape[1] + 1)), ValueError,
     r"momentum_buffer expected \(4, 6\) float64, got \(4, 7\) float64"),
    ("wrong-dtype state", lambda p: np.zeros(p.shape, dtype=f32), ValueError, r"momentum_buffer expected .* float32"),
    ("list state", lambda p: np.zeros(p.shape).tolist(), TypeError, r"momentum_buffer must be a numpy array"),
]


@pytest.mark.parametrize("what,make_state,error,message", STATE_CASES, ids=[c[0] for c in STATE_CASES])
def test_bad_optimizer_state_is_refused_and_changes_nothing(backend, what, make_state, error, message):
    param, grad = X.copy(), arr(4, 6, seed=1)
    state = make_state(param)
    with pytest.raises(error, match=rf"^sgd_update: {message}"):
        sgd(backend, param, grad, state)
    np.testing.assert_array_equal(param, X)


OPTIMIZER_CASES = [
    ("sgd_update", lambda b, p, g: b.sgd_update(np.asfortranarray(p), g, lr=0.1), ValueError,
     r"param must be C-contiguous and writeable"),
    ("sgd_update", lambda b, p, g: b.sgd_update(_read_only(p), g, lr=0.1), ValueError, r"param must be C-contiguous"),
    ("sgd_update", lambda b, p, g: b.sgd_update(p.tolist(), g, lr=0.1), TypeError, r"param must be a numpy array"),
    ("sgd_update", lambda b, p, g: b.sgd_update(np.ones((4, 6), dtype=int), g, lr=0.1), TypeError,
     r"param must be float32 or float64"),
    ("sgd_update", lambda b, p, g: b.sgd_update(p, g[:, :5], lr=0.1), ValueError,
     r"grad expected shape \(4, 6\) \(the parameter's shape\), got \(4, 5\)"),
    ("sgd_update", lambda b, p, g: b.sgd_update(p, g.astype(f32), lr=0.1), TypeError, r"grad has dtype float32"),
    ("sgd_update", lambda b, p, g: b.sgd_update(p, g, None, lr=0.1, momentum=0.9), ValueError,
     r"momentum_buffer is required when momentum != 0"),
    ("adagrad_update", lambda b, p, g: b.adagrad_update(p, g, np.zeros((6, 4)), clr=0.1), ValueError,
     r"state_sum expected \(4, 6\)"),
    ("adagrad_update", lambda b, p, g: b.adagrad_update(p, g, None, clr=0.1), ValueError, r"state_sum is required"),
    ("rmsprop_update", lambda b, p, g: b.rmsprop_update(p, g, np.ones_like(p), lr=0.1, momentum=0.5), ValueError,
     r"momentum_buffer is required when momentum > 0"),
    ("rmsprop_update", lambda b, p, g: b.rmsprop_update(p, g, np.ones_like(p), lr=0.1, centered=True), ValueError,
     r"grad_avg is required when centered"),
    ("rmsprop_update", lambda b, p, g: b.rmsprop_update(p, g, _read_only(np.ones_like(p)), lr=0.1), ValueError,
     r"square_avg must be C-contiguous and writeable"),
    ("adadelta_update", lambda b, p, g: b.adadelta_update(p, g, np.ones_like(p), np.ones(3)), ValueError,
     r"acc_delta expected \(4, 6\) float64, got \(3,\) float64"),
    ("adam_update", lambda b, p, g: adam(b, p, g, np.zeros_like(p), step=0), ValueError, r"step must be >= 1, got 0"),
    ("adam_update", lambda b, p, g: adam(b, p, g, np.zeros_like(p), amsgrad=True), ValueError,
     r"max_exp_avg_sq is required when amsgrad"),
    ("adam_update", lambda b, p, g: adam(b, p, g, np.zeros_like(p)[:, ::2]), ValueError, r"exp_avg expected"),
]


@pytest.mark.parametrize("kernel,call,error,message", OPTIMIZER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(OPTIMIZER_CASES)])
def test_bad_optimizer_call_is_refused_and_changes_nothing(backend, kernel, call, error, message):
    param, grad = X.copy(), arr(4, 6, seed=1)
    with pytest.raises(error, match=rf"^{kernel}: {message}"):
        call(backend, param, grad)
    np.testing.assert_array_equal(param, X)


def test_optimizer_accepts_a_non_contiguous_gradient(backend):
    param, expected = X.copy(), X.copy()
    grad = arr(6, 4, seed=1).T  # a transposed view
    backend.sgd_update(param, grad, lr=0.1)
    np.testing.assert_allclose(param, expected - 0.1 * grad, rtol=1e-14)


# ------------------------------------------------------------- Python values where numbers belong
V, I2 = arr(2, 3), np.array([0, 1])
PYTHON_VALUE_CASES = [
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS[:2], I2, ignore_index=2**70), ValueError,
     r"ignore_index must be in \[-9223372036854775808, 9223372036854775807\], got 1180591620717411303424"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS[:2], I2, ignore_index="a"), TypeError,
     r"ignore_index must be an integer, got str"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS[:2], I2, ignore_index=None), TypeError,
     r"ignore_index must be an integer, got NoneType"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS[:2], I2, ignore_index=1.0), TypeError,
     r"ignore_index must be an integer, got float"),
    ("softmax_cross_entropy", lambda b: b.softmax_cross_entropy(LOGITS[:2], I2, label_smoothing="a"), TypeError,
     r"label_smoothing must be a real number"),
    ("activation_forward", lambda b: b.activation_forward(V, "leaky_relu", "a"), TypeError,
     r"negative_slope must be a real number, got str 'a'"),
    ("activation_backward", lambda b: b.activation_backward(V, V, "leaky_relu", None), TypeError,
     r"negative_slope must be a real number, got NoneType"),
    ("linear_forward", lambda b: b.linear_forward(X, W, None, "leaky_relu", None), TypeError,
     r"negative_slope must be a real number"),
    ("linear_backward", lambda b: b.linear_backward(arr(4, 3), X, W, arr(4, 3), "relu", 0.01, "no"), TypeError,
     r"need_input_grad must be a bool, got str"),
    ("dropout_forward", lambda b: b.dropout_forward(V, None, 1), TypeError, r"p must be a real number"),
    ("dropout_forward", lambda b: b.dropout_forward(V, 0.5, "x"), TypeError, r"seed must be an integer, got str"),
    ("dropout_forward", lambda b: b.dropout_forward(V, 0.5, 1.5), TypeError, r"seed must be an integer, got float"),
    ("dropout_forward", lambda b: b.dropout_forward(V, 0.5, 2**64), ValueError, r"seed must be in \[0, "),
    ("dropout_backward", lambda b: b.dropout_backward(V, np.ones((2, 3), np.uint8), "p"), TypeError,
     r"p must be a real number"),
    ("sgd_update", lambda b: b.sgd_update(arr(3), arr(3), lr="x"), TypeError, r"lr must be a real number, got str"),
    ("sgd_update", lambda b: b.sgd_update(arr(3), arr(3), arr(3), lr=0.1, momentum=None), TypeError,
     r"momentum must be a real number"),
    ("sgd_update", lambda b: b.sgd_update(arr(3), arr(3), lr=0.1, nesterov="yes"), TypeError,
     r"nesterov must be a bool"),
    ("adagrad_update", lambda b: b.adagrad_update(arr(3), arr(3), arr(3), clr=None), TypeError,
     r"clr must be a real number"),
    ("rmsprop_update", lambda b: b.rmsprop_update(arr(3), arr(3), arr(3), lr=0.1, momentum="0.9"), TypeError,
     r"momentum must be a real number"),
    ("adadelta_update", lambda b: b.adadelta_update(arr(3), arr(3), arr(3), arr(3), rho=[0.9]), TypeError,
     r"rho must be a real number, got list"),
    ("adam_update", lambda b: b.adam_update(arr(3), arr(3), arr(3), arr(3), step=2**70), ValueError,
     r"step must be >= 1, got 1180591620717411303424"),
    ("adam_update", lambda b: b.adam_update(arr(3), arr(3), arr(3), arr(3), step="1"), TypeError,
     r"step must be an integer, got str"),
    ("adam_update", lambda b: b.adam_update(arr(3), arr(3), arr(3), arr(3), step=1, lr=None), TypeError,
     r"lr must be a real number"),
    ("embedding_backward", lambda b: b.embedding_backward(V, I2, None), TypeError,
     r"num_embeddings must be an integer, got NoneType"),
    ("embedding_backward", lambda b: b.embedding_backward(V, I2, 2**70), ValueError,
     r"num_embeddings must be >= 0, got 1180591620717411303424"),
    ("embedding_backward", lambda b: b.embedding_backward(V, I2, 3, "a"), TypeError,
     r"padding_idx must be an integer, got str"),
    ("embedding_bag_forward", lambda b: b.embedding_bag_forward(EMB, I2, np.array([0]), "sum", 2.0), TypeError,
     r"padding_idx must be an integer, got float"),
    ("embedding_bag_backward", lambda b: b.embedding_bag_backward(arr(1, 3), I2, np.array([0]), "5"), TypeError,
     r"num_embeddings must be an integer, got str"),
]


@pytest.mark.parametrize("kernel,call,error,message", PYTHON_VALUE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(PYTHON_VALUE_CASES)])
def test_python_values_get_a_named_error_identical_on_every_backend(backend, kernel, call, error, message):
    with pytest.raises(error, match=rf"^{kernel}: {message}"):
        call(backend)


@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), np.array(0.5), 1, True, np.int64(1)])
def test_numpy_scalars_and_ints_are_accepted_as_reals(backend, value):
    out = backend.activation_forward(np.array([-2.0, 2.0]), "leaky_relu", value)
    np.testing.assert_allclose(out, [-2.0 * float(value), 2.0])


# ------------------------------------------------------------- aliased in-place buffers
def _aliases(p):
    """(description, call) pairs whose arrays updated in place overlap another argument."""
    g = arr(4, 6, seed=1)
    return [
        ("sgd buffer is grad", "momentum_buffer and grad",
         lambda b: b.sgd_update(p, g, g, lr=0.1, momentum=0.9, nesterov=True)),
        ("sgd param is grad", "param and grad", lambda b: b.sgd_update(p, p, lr=0.1)),
        ("sgd grad overlaps param", "param and grad", lambda b: b.sgd_update(p.reshape(-1)[:12], p.reshape(-1)[6:18],
                                                                             lr=0.1)),
        ("rmsprop square_avg is grad_avg", "square_avg and grad_avg",
         lambda b: (lambda s: b.rmsprop_update(p, g, s, None, s, lr=0.1, centered=True))(np.ones_like(p))),
        ("rmsprop buffer is square_avg", "square_avg and momentum_buffer",
         lambda b: (lambda s: b.rmsprop_update(p, g, s, s, lr=0.1, momentum=0.9))(np.ones_like(p))),
        ("adam exp_avg is param", "param and exp_avg", lambda b: b.adam_update(p, g, p, np.ones_like(p), step=1)),
        ("adam exp_avg_sq is max", "exp_avg_sq and max_exp_avg_sq",
         lambda b: (lambda v: b.adam_update(p, g, np.zeros_like(p), v, v, step=1, amsgrad=True))(np.ones_like(p))),
        ("adagrad sum views grad", "state_sum and grad",
         lambda b: (lambda s: b.adagrad_update(p, s[0], s[0][None].reshape(4, 6), clr=0.1))(np.ones((1, 4, 6)))),
        ("adadelta acc is a view of square_avg", "square_avg and acc_delta",
         lambda b: (lambda s: b.adadelta_update(p, g, s, s[:, :].view(), lr=1.0))(np.ones_like(p))),
    ]


ALIAS_IDS = [c[0] for c in _aliases(X.copy())]


@pytest.mark.parametrize("index", range(len(ALIAS_IDS)), ids=ALIAS_IDS)
def test_aliased_in_place_buffers_are_refused_and_change_nothing(backend, index):
    param = X.copy()
    _, names, call = _aliases(param)[index]
    with pytest.raises(ValueError, match=rf"^\w+_update: {names} share memory"):
        call(backend)
    np.testing.assert_array_equal(param, X)


def test_disjoint_views_of_one_buffer_are_accepted(backend):
    """Two halves of one buffer do not overlap: no false alarm (the exact test, not the owner)."""
    buffer = arr(2, 24, seed=3)
    param, grad, buf = buffer[0], buffer[1], np.zeros(24)
    expected = param - 0.1 * grad
    backend.sgd_update(param, grad, lr=0.1)
    np.testing.assert_allclose(param, expected, rtol=1e-14)
    flat = np.zeros(48)
    backend.sgd_update(flat[:24], grad, flat[24:], lr=0.1, momentum=0.9, first_step=True)
    np.testing.assert_allclose(flat[24:], grad, rtol=1e-14)
    assert buf.sum() == 0
