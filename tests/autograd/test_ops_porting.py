"""The ops PyTorch users reach for next: element-wise maths, cumsum, sort/argsort/topk,
gather/scatter_add, einsum, where, torch.max(a, b): values and gradients against PyTorch, float64
finite differences, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from autograd_testing import assert_parity, gradcheck

import fastnn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these parity tests")

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4))
POSITIVE = RNG.uniform(0.5, 2.0, (3, 4))


@pytest.mark.parametrize("name, data", [
    ("sin", X), ("cos", X), ("tan", X * 0.5), ("reciprocal", POSITIVE), ("rsqrt", POSITIVE), ("log2", POSITIVE),
    ("log10", POSITIVE), ("expm1", X), ("sign", X), ("floor", X * 3), ("ceil", X * 3), ("round", X * 3),
    ("trunc", X * 3), ("square", X), ("exp", X), ("log", POSITIVE), ("sqrt", POSITIVE), ("abs", X), ("neg", X),
    ("sigmoid", X), ("tanh", X), ("relu", X), ("log1p", POSITIVE),
])
def test_pointwise_functions_and_methods_match_torch(name, data):
    assert_parity(lambda t: getattr(fastnn, name)(t), lambda t: getattr(torch, name)(t), data)
    assert_parity(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), data)


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "reciprocal", "rsqrt", "log2", "log10", "expm1"])
def test_pointwise_gradients_match_finite_differences(name):
    gradcheck(lambda t: getattr(t, name)(), RNG.uniform(0.3, 1.2, (2, 3)))


@pytest.mark.parametrize("name, other", [
    ("add", 2.5), ("sub", 1.5), ("mul", 3.0), ("div", 4.0), ("pow", 2.0), ("eq", 0.0), ("ne", 0.0), ("lt", 0.0),
    ("le", 0.0), ("gt", 0.0), ("ge", 0.0), ("maximum", None), ("minimum", None), ("atan2", None),
])
def test_binary_module_functions_match_torch(name, other):
    y = RNG.standard_normal((3, 4))
    if other is None:
        assert_parity(lambda a, b: getattr(fastnn, name)(a, b), lambda a, b: getattr(torch, name)(a, b), X, y)
    elif name in ("eq", "ne", "lt", "le", "gt", "ge"):
        assert_parity(lambda a: getattr(fastnn, name)(a, other), lambda a: getattr(torch, name)(a, other), X, wrt=[])
    else:
        assert_parity(lambda a: getattr(fastnn, name)(a, other), lambda a: getattr(torch, name)(a, other),
                      np.abs(X) + 0.5)


def test_max_and_min_of_two_tensors_are_element_wise_as_in_torch():
    y = RNG.standard_normal((3, 4))
    assert_parity(lambda a, b: fastnn.max(a, b), lambda a, b: torch.max(a, b), X, y)
    assert_parity(lambda a, b: fastnn.min(a, b), lambda a, b: torch.min(a, b), X, y)
    assert_parity(lambda a: fastnn.max(a, 1).values, lambda a: torch.max(a, 1).values, X)
    assert_parity(lambda a: fastnn.max(a, dim=0, keepdim=True)[0], lambda a: torch.max(a, dim=0, keepdim=True)[0], X)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_matches_torch_and_finite_differences(dim):
    assert_parity(lambda t: fastnn.cumsum(t, dim), lambda t: torch.cumsum(t, dim), X)
    assert_parity(lambda t: t.cumsum(dim=dim), lambda t: t.cumsum(dim=dim), X)
    gradcheck(lambda t: t.cumsum(dim), RNG.standard_normal((2, 3)))
    ints = RNG.integers(-5, 5, (3, 4))
    assert fastnn.cumsum(fastnn.tensor(ints), dim).tolist() == torch.cumsum(torch.tensor(ints), dim).tolist()


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, -1])
def test_sort_and_argsort_match_torch(dim, descending):
    data = RNG.permutation(24).reshape(4, 6).astype(np.float64)
    assert_parity(lambda t: fastnn.sort(t, dim, descending).values, lambda t: torch.sort(t, dim, descending).values,
                  data)
    ours = fastnn.sort(fastnn.tensor(data), dim=dim, descending=descending)
    theirs = torch.sort(torch.tensor(data), dim=dim, descending=descending)
    assert ours.indices.tolist() == theirs.indices.tolist()
    assert (fastnn.argsort(fastnn.tensor(data), dim, descending).tolist()
            == torch.argsort(torch.tensor(data), dim, descending).tolist())
    gradcheck(lambda t: t.sort(dim, descending)[0], data)


def test_sort_puts_nan_last_ascending_first_descending_and_is_stable():
    data = np.array([2.0, np.nan, 1.0, 2.0, -np.inf, np.inf])
    for descending in (False, True):
        ours = fastnn.sort(fastnn.tensor(data), descending=descending, stable=True)
        theirs = torch.sort(torch.tensor(data), descending=descending, stable=True)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        assert ours.indices.tolist() == theirs.indices.tolist()
    ints = np.array([3, 1, 3, -9223372036854775808, 9223372036854775807])
    assert (fastnn.argsort(fastnn.tensor(ints), descending=True, stable=True).tolist()
            == torch.argsort(torch.tensor(ints), descending=True, stable=True).tolist())


@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_torch(largest):
    data = RNG.permutation(30).reshape(5, 6).astype(np.float64)
    for dim in (0, 1):
        assert_parity(lambda t, d=dim: fastnn.topk(t, 3, d, largest).values,
                      lambda t, d=dim: torch.topk(t, 3, d, largest).values, data)
        ours = fastnn.tensor(data).topk(3, dim=dim, largest=largest)
        assert ours.indices.tolist() == torch.topk(torch.tensor(data), 3, dim, largest).indices.tolist()
    with pytest.raises(RuntimeError, match=r"topk: k \(7\) out of range for a dimension of size 6"):
        fastnn.topk(fastnn.tensor(data), 7)


def test_gather_and_scatter_add_match_torch_and_finite_differences():
    index = RNG.integers(0, 4, (3, 2))
    src = RNG.standard_normal((3, 2))
    assert_parity(lambda t, i: fastnn.gather(t, 1, i), lambda t, i: torch.gather(t, 1, i), X, index)
    assert_parity(lambda t, i: t.gather(1, i), lambda t, i: t.gather(1, i), X, index)
    assert_parity(lambda t, i, s: fastnn.scatter_add(t, 1, i, s), lambda t, i, s: torch.scatter_add(t, 1, i, s),
                  X, index, src)
    gradcheck(lambda t, i, s: t.scatter_add(1, i, s), X, index, src)
    gradcheck(lambda t, i: t.gather(0, i), X, RNG.integers(0, 3, (2, 4)))
    small = RNG.integers(0, 3, (2, 3))  # smaller than the input in the other dim, as torch allows
    assert_parity(lambda t, i: fastnn.gather(t, 0, i), lambda t, i: torch.gather(t, 0, i), X, small)


def test_scatter_add_in_place_and_gather_errors():
    counts = fastnn.zeros(5)
    counts.scatter_add_(0, fastnn.tensor([1, 1, 4]), fastnn.ones(3))
    assert counts.tolist() == [0.0, 2.0, 0.0, 0.0, 1.0]
    with pytest.raises(IndexError, match="gather: index 4 out of range for dimension 1 of size 4"):
        fastnn.gather(fastnn.tensor(X), 1, fastnn.tensor([[4]]))
    with pytest.raises(TypeError, match="gather: index must be an integer tensor"):
        fastnn.gather(fastnn.tensor(X), 1, fastnn.tensor([[0.5]]))
    with pytest.raises(RuntimeError, match="gather: index has 1 dimensions but the input has 2"):
        fastnn.gather(fastnn.tensor(X), 1, fastnn.tensor([0]))


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ij,ij->i", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]), ("ij->ji", [(3, 4)]), ("ij->", [(3, 4)]), ("ij,jk", [(3, 4), (4, 2)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]), ("bi,ij->bj", [(2, 3), (3, 4)]), ("ij,k->ik", [(2, 3), (4,)]),
])
def test_einsum_matches_torch_and_finite_differences(equation, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    assert_parity(lambda *t: fastnn.einsum(equation, *t), lambda *t: torch.einsum(equation, *t), *arrays)
    assert_parity(lambda *t: fastnn.einsum(equation, list(t)), lambda *t: torch.einsum(equation, list(t)), *arrays)
    gradcheck(lambda *t: fastnn.einsum(equation, *t), *arrays)


def test_einsum_bad_input_names_the_op():
    a = fastnn.zeros(2, 3)
    with pytest.raises(ValueError, match="einsum: the equation 'ij,jk->ik' names 2 operands, got 1"):
        fastnn.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="einsum: subscripts 'ijk' do not fit an operand with 2 dimensions"):
        fastnn.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="einsum:"):
        fastnn.einsum("ij,jk->ik", a, fastnn.zeros(4, 5))


def test_where_with_scalars_and_the_one_argument_form():
    cond = X > 0
    assert_parity(lambda t: fastnn.where(fastnn.tensor(cond), t, 0.0),
                  lambda t: torch.where(torch.tensor(cond), t, 0.0), X)
    ours = fastnn.where(fastnn.tensor(cond))
    theirs = torch.where(torch.tensor(cond))
    assert [o.tolist() for o in ours] == [t.tolist() for t in theirs]


def test_like_factories_match_torch_shapes_and_dtypes():
    t = fastnn.tensor(X)
    for name in ("zeros_like", "ones_like", "randn_like", "rand_like", "empty_like"):
        out = getattr(fastnn, name)(t)
        ref = getattr(torch, name)(torch.tensor(X))
        assert out.shape == tuple(ref.shape) and str(out.dtype) == str(ref.dtype).replace("torch", "fastnn")
    assert fastnn.full_like(t, 7).tolist() == torch.full_like(torch.tensor(X), 7).tolist()
    fastnn.manual_seed(0)
    a = fastnn.randn_like(t)
    fastnn.manual_seed(0)
    assert fastnn.equal(a, fastnn.randn(3, 4, dtype=fastnn.float64))
    assert fastnn.randint_like(t, 10).dtype == fastnn.float64


def test_every_tensor_method_torch_also_has_as_a_function_is_a_fastnn_function():
    names = [n for n in dir(fastnn.Tensor) if not n.startswith("_")]
    missing = [n for n in names if callable(getattr(torch, n, None)) and not isinstance(getattr(torch, n), torch.dtype)
               and not callable(getattr(fastnn, n, None))]
    assert missing == []
    assert fastnn.zero_(fastnn.ones(2)).tolist() == [0.0, 0.0] and fastnn.is_floating_point(fastnn.ones(1))


@pytest.mark.parametrize("name, op", [
    ("prod all", lambda t: t.prod()), ("prod dim", lambda t: t.prod(1)), ("prod keepdim", lambda t: t.prod(0, True)),
    ("amax", lambda t: t.amax(1)), ("amin", lambda t: t.amin(0, keepdim=True)), ("amax all", lambda t: t.amax()),
    ("flip", lambda t: t.flip(0)), ("flip two", lambda t: t.flip((0, 1))), ("repeat", lambda t: t.repeat(2, 3)),
    ("repeat new dim", lambda t: t.repeat(2, 1, 2)), ("narrow", lambda t: t.narrow(1, 1, 2)),
    ("select", lambda t: t.select(1, -1)), ("split", lambda t: t.split(3, 1)[1]),
    ("split sizes", lambda t: t.split([1, 3], 1)[1]), ("chunk", lambda t: t.chunk(2, 0)[1]),
    ("unbind", lambda t: t.unbind(1)[2]), ("clamp_min", lambda t: t.clamp_min(0.1)),
    ("clamp_max", lambda t: t.clamp_max(0.1)), ("remainder", lambda t: t.remainder(0.7)),
    ("fmod", lambda t: t.fmod(0.7)),
    ("outer", lambda t: fastnn.outer(t[0], t[1]) if isinstance(t, fastnn.Tensor) else torch.outer(t[0], t[1])),
    ("dot", lambda t: t[0].dot(t[1])),
    ("bmm", lambda t: t.reshape(1, 3, 4).bmm(t.reshape(1, 4, 3))),
])
def test_more_tensor_methods_match_torch_and_finite_differences(name, op):
    data = X.copy()
    data[1, 2] = 0.0  # prod's gradient through a zero
    assert_parity(op, op, data)
    if name not in ("remainder", "fmod"):  # piecewise, with jumps
        gradcheck(op, data)


def test_prod_gradient_with_two_zeros_and_amax_ties_match_torch():
    data = np.array([[0.0, 2.0, 0.0], [1.0, 3.0, 3.0]])
    assert_parity(lambda t: t.prod(1), lambda t: t.prod(1), data)
    assert_parity(lambda t: t.amax(1), lambda t: t.amax(1), data)
    assert_parity(lambda t: fastnn.prod(t), lambda t: torch.prod(t), data)


def test_in_place_methods_and_random_fills():
    for name, arg in [("exp_", ()), ("neg_", ()), ("abs_", ()), ("relu_", ()), ("sigmoid_", ()), ("tanh_", ()),
                      ("pow_", (2,)), ("masked_fill_", (torch.tensor(X > 0), 0.5))]:
        ours, theirs = fastnn.tensor(X), torch.tensor(X)
        mine = tuple(fastnn.tensor(a.numpy()) if isinstance(a, torch.Tensor) else a for a in arg)
        assert getattr(ours, name)(*mine) is ours
        getattr(theirs, name)(*arg)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    w = fastnn.zeros(1000)
    fastnn.manual_seed(1)
    w.data.uniform_(-0.5, 0.5)
    assert -0.5 <= w.numpy().min() and w.numpy().max() < 0.5 and w.numpy().std() > 0.2
    fastnn.manual_seed(1)
    assert fastnn.equal(fastnn.zeros(1000).uniform_(-0.5, 0.5), w)
    assert abs(float(fastnn.zeros(20000).normal_(2.0, 0.5).mean()) - 2.0) < 0.02
    p = fastnn.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="uniform_: a tensor that requires grad cannot be modified in place"):
        p.uniform_()
    with pytest.raises(TypeError, match="normal_: needs a floating point tensor"):
        fastnn.zeros(2, dtype=fastnn.int64).normal_()


def test_new_factories_logic_and_floor_divide_match_torch():
    t, r = fastnn.tensor(X), torch.tensor(X)
    for name, args in [("new_ones", (2, 3)), ("new_zeros", ((2, 3),)), ("new_full", ((2,), 7.0))]:
        ours, theirs = getattr(t, name)(*args), getattr(r, name)(*args)
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).replace("torch", "fastnn")
    assert t.new_empty(4).shape == (4,) and t.nelement() == 12 and t.element_size() == 8 and t.is_contiguous()
    a, b = X > 0, X > 0.5
    for name in ("logical_and", "logical_or", "logical_xor"):
        assert (getattr(fastnn, name)(fastnn.tensor(a), fastnn.tensor(b)).tolist()
                == getattr(torch, name)(torch.tensor(a), torch.tensor(b)).tolist())
    assert fastnn.logical_not(fastnn.tensor(a)).tolist() == torch.logical_not(torch.tensor(a)).tolist()
    ints = np.array([7, -7, 5])
    assert (fastnn.tensor(ints) // 2).tolist() == torch.floor_divide(torch.tensor(ints), 2).tolist()
    assert fastnn.floor_divide(fastnn.tensor(X), 0.5).tolist() == torch.floor_divide(r, 0.5).tolist()
    with pytest.raises(RuntimeError, match="bmm: expects two 3-D tensors"):
        fastnn.bmm(fastnn.ones(2, 3), fastnn.ones(3, 2))
    with pytest.raises(RuntimeError, match="split: sizes \\[1, 1\\] do not add up to dimension 1 of size 4"):
        fastnn.split(fastnn.tensor(X), [1, 1], 1)
    with pytest.raises(IndexError, match="narrow: start 3 and length 2 exceed dimension 1 of size 4"):
        fastnn.narrow(fastnn.tensor(X), 1, 3, 2)


@pytest.mark.parametrize("call", [
    lambda t: t.cumsum(None), lambda t: t.narrow(None, 0, 1), lambda t: t.select((0, 1), 0), lambda t: t.split(2, 1.5),
    lambda t: t.sort(dim="x"), lambda t: t.gather(None, fastnn.tensor([[0]])), lambda t: t.max(dim=(0, 1)),
    lambda t: t.unbind(None), lambda t: t.argmax(dim=[0]),
])
def test_a_dim_that_is_not_one_integer_is_a_type_error_naming_the_op(call):
    with pytest.raises(TypeError, match=r"^\w+: dim must be an integer, got \w+$"):
        call(fastnn.tensor(X))


def test_gather_rejects_negative_indices_as_torch():
    with pytest.raises(IndexError, match="gather: index -1 out of range for dimension 1 of size 4"):
        fastnn.gather(fastnn.tensor(X), 1, fastnn.tensor([[-1]]))
    with pytest.raises(RuntimeError):
        torch.gather(torch.tensor(X), 1, torch.tensor([[-1]]))
