"""Every differentiable Tensor op: central-difference gradient checks in float64 and parity with
PyTorch (values and gradients, float32 and float64), each on every backend."""

from __future__ import annotations

import numpy as np
import pytest
from autograd_testing import assert_parity, gradcheck

import fastnn


def _rng():
    return np.random.default_rng(7)


def _pos(*shape):
    return _rng().uniform(0.5, 2.0, shape)


def _any(*shape):
    return _rng().standard_normal(shape)


def _away_from_zero(*shape):
    x = _rng().uniform(0.3, 1.5, shape)
    return x * np.where(_rng().random(shape) < 0.5, -1, 1)


# name: (fastnn/torch function of the inputs (same code, both APIs), input arrays)
OPS = {
    "add_broadcast": (lambda a, b: a + b, lambda: [_any(3, 4), _any(4)]),
    "add_broadcast_middle": (lambda a, b: a + b, lambda: [_any(2, 3, 4), _any(2, 1, 4)]),
    "sub_broadcast": (lambda a, b: a - b, lambda: [_any(3, 1), _any(1, 4)]),
    "mul_broadcast": (lambda a, b: a * b, lambda: [_any(3, 4), _any(3, 1)]),
    "div_broadcast": (lambda a, b: a / b, lambda: [_any(3, 4), _pos(4)]),
    "scalar_arith": (lambda a: (2.0 * a - 1.5) / 4.0 + 3.0 - a * 0.5, lambda: [_any(3)]),
    "rsub_rdiv": (lambda a: 1.0 - 2.0 / a, lambda: [_pos(4)]),
    "neg": (lambda a: -a, lambda: [_any(2, 3)]),
    "pow_scalar": (lambda a: a**3, lambda: [_any(5)]),
    "pow_fractional": (lambda a: a**0.5, lambda: [_pos(5)]),
    "pow_tensor": (lambda a, b: a**b, lambda: [_pos(3, 2), _any(2)]),
    "rpow": (lambda a: 2.0**a, lambda: [_any(4)]),
    "matmul_2d": (lambda a, b: a @ b, lambda: [_any(3, 4), _any(4, 2)]),
    "matmul_vec": (lambda a, b: a @ b, lambda: [_any(3, 4), _any(4)]),
    "vec_matmul": (lambda a, b: a @ b, lambda: [_any(4), _any(4, 2)]),
    "dot": (lambda a, b: a @ b, lambda: [_any(4), _any(4)]),
    "matmul_batched_broadcast": (lambda a, b: a @ b, lambda: [_any(2, 3, 4), _any(4, 5)]),
    "sum_all": (lambda a: a.sum(), lambda: [_any(3, 4)]),
    "sum_dim": (lambda a: a.sum(dim=1), lambda: [_any(3, 4, 2)]),
    "sum_dims_keepdim": (lambda a: a.sum(dim=(0, 2), keepdim=True), lambda: [_any(3, 4, 2)]),
    "mean_all": (lambda a: a.mean(), lambda: [_any(3, 4)]),
    "mean_dim_negative": (lambda a: a.mean(dim=-1, keepdim=True), lambda: [_any(3, 4)]),
    "max_all": (lambda a: a.max(), lambda: [_any(3, 4)]),
    "max_dim": (lambda a: a.max(dim=1)[0], lambda: [_any(3, 4)]),
    "max_dim_keepdim": (lambda a: a.max(dim=0, keepdim=True)[0], lambda: [_any(3, 4)]),
    "min_dim": (lambda a: a.min(dim=1)[0], lambda: [_any(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3) * 2, lambda: [_any(3, 4)]),
    "view_minus_one": (lambda a: a.view(-1) * 2, lambda: [_any(3, 4)]),
    "transpose_T": (lambda a, b: a.T @ b, lambda: [_any(3, 4), _any(3, 2)]),
    "transpose_dims": (lambda a: a.transpose(0, 2) * 2, lambda: [_any(2, 3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1) * 2, lambda: [_any(2, 3, 4)]),
    "unsqueeze_squeeze": (lambda a: a.unsqueeze(1).squeeze(1).unsqueeze(-1) * 2, lambda: [_any(3, 4)]),
    "flatten": (lambda a: a.flatten(1) * 2, lambda: [_any(2, 3, 4)]),
    "exp": (lambda a: a.exp(), lambda: [_any(3, 4)]),
    "log": (lambda a: a.log(), lambda: [_pos(3, 4)]),
    "log1p": (lambda a: a.log1p(), lambda: [_pos(3, 4)]),
    "sqrt": (lambda a: a.sqrt(), lambda: [_pos(3, 4)]),
    "abs": (lambda a: a.abs(), lambda: [_away_from_zero(3, 4)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.7), lambda: [_away_from_zero(3, 4) * 0.9]),
    "clamp_min": (lambda a: a.clamp(min=0.2), lambda: [_away_from_zero(3, 4)]),
    "tanh": (lambda a: a.tanh(), lambda: [_any(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), lambda: [_any(3, 4)]),
    "relu": (lambda a: a.relu(), lambda: [_away_from_zero(3, 4)]),
    "softmax": (lambda a: a.softmax(1), lambda: [_any(3, 4)]),
    "log_softmax_dim0": (lambda a: a.log_softmax(0), lambda: [_any(3, 4)]),
    "basic_index": (lambda a: a[1:, ::2] * 2, lambda: [_any(3, 4)]),
    "int_index": (lambda a: a[1] * 2, lambda: [_any(3, 4)]),
    "array_index_repeated": (lambda a, i: a[i] * 2, lambda: [_any(4, 3), np.array([0, 2, 0, 3])]),
    "pair_index": (lambda a, i, j: a[i, j] * 2, lambda: [_any(4, 3), np.array([0, 2, 0]), np.array([1, 1, 1])]),
    "reused_input": (lambda a: a * a + a.exp() * a, lambda: [_any(3)]),
    "clone": (lambda a: a.clone() * a, lambda: [_any(3)]),
    "movedim": (lambda a: a.movedim(0, 2) * 2, lambda: [_any(2, 3, 4)]),
    "rmatmul_array": (lambda a: np.ones((2, 3), dtype=a.dtype) @ a if isinstance(a, fastnn.Tensor) else
                      __import__("torch").ones((2, 3), dtype=a.dtype) @ a, lambda: [_any(3, 4)]),
}

@pytest.mark.parametrize("name", sorted(OPS))
def test_op_gradient_matches_central_differences(name, active_backend):
    fn, make = OPS[name]
    gradcheck(fn, *make())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_matches_pytorch(name, dtype, active_backend):
    fn, make = OPS[name]
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in make()]
    assert_parity(fn, fn, *arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cat_and_stack_match_pytorch_and_central_differences(dtype, active_backend):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")
    arrays = [_any(2, 3).astype(dtype), _any(2, 3).astype(dtype), _any(2, 3).astype(dtype)]
    assert_parity(lambda a, b, c: fastnn.cat([a, b], dim=1) * 2, lambda a, b, c: torch.cat([a, b], dim=1) * 2,
                  *arrays)
    assert_parity(lambda a, b, c: fastnn.stack([a, b, c], dim=1), lambda a, b, c: torch.stack([a, b, c], dim=1),
                  *arrays)
    if dtype == np.float64:
        gradcheck(lambda a, b, c: fastnn.cat([a, b, c], dim=0) * fastnn.stack([a, b, c]).sum(0).sum(), *arrays)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_where_routes_gradients_to_the_chosen_branch(dtype, active_backend):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")
    a, b = _any(3, 4).astype(dtype), _any(4).astype(dtype)
    assert_parity(lambda x, y: fastnn.where(x > 0, x, y), lambda x, y: torch.where(x > 0, x, y), a, b)
    if dtype == np.float64:
        gradcheck(lambda x, y: fastnn.where(x > 0, x * 2, y.exp()), a, b)


def test_float_casts_pass_gradients_back_in_the_source_dtype():
    x = fastnn.tensor(_any(3), requires_grad=True)
    (x.float() * fastnn.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [1.0, 2.0, 3.0]


def test_max_over_ties_splits_the_gradient_like_pytorch(active_backend):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")
    array = np.array([[1.0, 3.0], [3.0, 2.0]])
    assert_parity(lambda a: a.max(), lambda a: torch.max(a), array)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_gradients_reduce_to_each_inputs_shape_on_random_shapes(op):
    pytest.importorskip("hypothesis")
    from hypothesis import given
    from hypothesis.extra import numpy as hnp

    functions = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
                 "div": lambda a, b: a / b}

    @given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    def check(shapes):
        rng = np.random.default_rng(0)
        a = rng.standard_normal(shapes.input_shapes[0])
        b = rng.uniform(0.5, 2.0, shapes.input_shapes[1])
        assert_parity(functions[op], functions[op], a, b)

    check()
