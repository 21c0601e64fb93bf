"""The Tensor API and the autodiff engine: dtypes, factories, graph building, backward semantics."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn


# ------------------------------------------------------------------ dtype inference and factories
@pytest.mark.parametrize(("data", "dtype"), [
    (1.5, np.float32), ([1.0, 2.0], np.float32), (3, np.int64), ([1, 2], np.int64), (True, np.bool_),
    (np.zeros(2, dtype=np.float64), np.float64), (np.zeros(2, dtype=np.int32), np.int32),
    (np.arange(3), np.int64), (np.float64(2.0), np.float64),
])
def test_tensor_infers_dtype_like_pytorch(data, dtype):
    assert fastnn.tensor(data).dtype == np.dtype(dtype)


def test_tensor_copies_and_from_numpy_shares():
    array = np.zeros(3)
    copied, shared = fastnn.tensor(array), fastnn.from_numpy(array)
    array[0] = 5
    assert copied.numpy()[0] == 0 and shared.numpy()[0] == 5


def test_explicit_dtype_and_dtype_aliases():
    assert fastnn.tensor([1, 2], dtype=fastnn.float64).dtype == np.float64
    assert fastnn.float is fastnn.float32 and fastnn.double is fastnn.float64 and fastnn.long is fastnn.int64


@pytest.mark.parametrize("factory", [fastnn.zeros, fastnn.ones, fastnn.empty, fastnn.randn, fastnn.rand])
def test_factories_default_to_float32_and_accept_sizes(factory):
    assert factory(2, 3).shape == (2, 3) and factory((2, 3)).shape == (2, 3)
    assert factory(2).dtype == np.float32
    assert factory(2, dtype=fastnn.float64).dtype == np.float64
    assert factory(2, requires_grad=True).requires_grad


def test_like_factories_and_arange():
    t = fastnn.tensor(np.ones((2, 2)))
    assert fastnn.zeros_like(t).dtype == np.float64 and fastnn.ones_like(t).numpy().sum() == 4
    assert fastnn.arange(4).dtype == np.int64 and fastnn.arange(4).tolist() == [0, 1, 2, 3]
    assert fastnn.arange(0, 1, 0.5).dtype == np.float32


def test_manual_seed_reproduces_draws():
    fastnn.manual_seed(3)
    a = fastnn.randn(5).numpy().copy()
    fastnn.manual_seed(3)
    assert np.array_equal(a, fastnn.randn(5).numpy())
    assert not np.array_equal(a, fastnn.randn(5).numpy())


def test_only_floating_tensors_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        fastnn.tensor([1, 2], requires_grad=True)


# ------------------------------------------------------------------ basics
def test_item_numpy_detach_and_is_leaf():
    x = fastnn.tensor([2.0], requires_grad=True)
    y = x * 3
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    assert y.item() == 6.0 and isinstance(y.item(), float)
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.numpy(), y.numpy())
    with pytest.raises(ValueError, match="3 elements"):
        fastnn.zeros(3).item()


def test_comparisons_return_bool_tensors_without_grad():
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [(x > 2, [0, 0, 1]), (x >= 2, [0, 1, 1]), (x < 2, [1, 0, 0]), (x <= 2, [1, 1, 0]),
                             (x == 2, [0, 1, 0]), (x != 2, [1, 0, 1])]:
        assert result.dtype == np.bool_ and not result.requires_grad
        assert result.numpy().tolist() == [bool(v) for v in expected]


def test_max_with_dim_returns_values_and_indices():
    x = fastnn.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0] and indices.dtype == np.int64
    values, _ = x.max(dim=0, keepdim=True)
    assert values.shape == (1, 3)
    assert x.max().item() == 7.0


def test_numpy_arrays_defer_to_tensor_operators():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([2.0, 3.0], dtype=np.float32) * x
    assert isinstance(y, fastnn.Tensor) and y.requires_grad


def test_scalars_adopt_the_tensor_dtype():
    x = fastnn.tensor(np.ones(2))
    assert (x * 2.5).dtype == np.float64 and (2 - x).dtype == np.float64 and (x**2).dtype == np.float64
    assert (fastnn.tensor([1, 2]) * 2.5).dtype == np.float32
    assert (fastnn.tensor([1, 2]) / 2).dtype == np.float32


def test_mixing_float_dtypes_raises_naming_the_op_and_dtypes():
    a, b = fastnn.ones(2), fastnn.ones(2, dtype=fastnn.float64)
    with pytest.raises(TypeError, match=r"add: dtype mismatch between float32 and float64"):
        a + b
    with pytest.raises(TypeError, match=r"matmul: dtype mismatch"):
        fastnn.ones(2, 2) @ fastnn.ones(2, 2, dtype=fastnn.float64)


# ------------------------------------------------------------------ backward semantics
def test_backward_on_non_scalar_without_gradient_raises():
    x = fastnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*\(3,\)"):
        (x * 2).backward()
    (x * 2).backward(fastnn.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        fastnn.ones(2).sum().backward()


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [2 + 3, 4 + 3]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_gradients_accumulate_across_uses_in_one_graph():
    x = fastnn.tensor(3.0, requires_grad=True)
    (x * x + x * 2 + x).backward()
    assert x.grad.item() == 2 * 3 + 2 + 1


def test_graph_is_freed_after_backward_unless_retained():
    x = fastnn.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8.0
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_a_ten_thousand_op_chain_backpropagates_without_recursion():
    x = fastnn.tensor(1.0, dtype=fastnn.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)


def test_no_grad_builds_no_graph_as_context_and_decorator():
    x = fastnn.ones(2, requires_grad=True)
    with fastnn.no_grad():
        y = x * 2
    assert not y.requires_grad and y.is_leaf

    @fastnn.no_grad()
    def double(t):
        return t * 2

    z = double(x)
    assert not z.requires_grad and fastnn.is_grad_enabled()
    with fastnn.no_grad(), fastnn.enable_grad():
        assert (x * 2).requires_grad


def test_retain_grad_keeps_an_interior_gradient():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [6.0, 12.0] and x.grad.tolist() == [18.0, 36.0]


def test_leaf_grad_is_a_fresh_contiguous_array_not_shared_between_leaves():
    a = fastnn.ones(2, requires_grad=True)
    b = fastnn.ones(2, requires_grad=True)
    (a + b).sum().backward()
    a.grad.data += 1
    assert b.grad.tolist() == [1.0, 1.0] and a.grad.numpy().flags.c_contiguous


def test_requires_grad_toggle_and_non_leaf_restriction():
    x = fastnn.ones(2).requires_grad_()
    assert x.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)


def test_indexing_with_repeated_indices_adds_gradients():
    x = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[fastnn.tensor([0, 0, 2])].sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 1.0]


def test_cat_and_stack_shapes():
    a, b = fastnn.ones(2, 3), fastnn.zeros(1, 3)
    assert fastnn.cat([a, b]).shape == (3, 3)
    assert fastnn.stack([a, a], dim=1).shape == (2, 2, 3)
    with pytest.raises(TypeError, match="cat: tensors have different dtypes"):
        fastnn.cat([a, fastnn.zeros(1, 3, dtype=fastnn.float64)])


def test_in_place_updates_under_no_grad_keep_the_tensor_object():
    p = fastnn.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    same = p
    with fastnn.no_grad():
        p -= 0.5 * p.grad
        p.add_(fastnn.ones(2), alpha=2.0)
        p *= 2
    assert p is same and p.tolist() == [(1 - 1 + 2) * 2, (2 - 2 + 2) * 2]
    with pytest.raises(RuntimeError, match="in place while grad mode is on"):
        p += 1
    t = fastnn.zeros(3)
    t[1] = 5.0
    t.fill_(1).mul_(3)
    assert t.tolist() == [3.0, 3.0, 3.0] and t.copy_(fastnn.tensor([1.0, 2.0, 3.0])).tolist() == [1.0, 2.0, 3.0]


def test_converting_to_an_integer_dtype_leaves_the_graph():
    x = fastnn.tensor([1.5, 2.5], requires_grad=True)
    assert not x.long().requires_grad and x.long().dtype == np.int64
    y = x.double()
    assert y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]


def test_bool_tensors_promote_to_int64_with_int_scalars():
    assert (fastnn.tensor([True, False]) + 2).tolist() == [3, 2]


def test_the_graph_keeps_only_what_backward_needs():
    import gc
    import weakref

    x = fastnn.ones(1000, requires_grad=True)
    h = x + 1  # add's backward needs no array; mul by a scalar needs only the scalar
    y = h * 2.0
    tensor_ref, array_ref = weakref.ref(h), weakref.ref(h.numpy())
    del h
    gc.collect()
    assert tensor_ref() is None and array_ref() is None
    e = x.exp()  # exp's backward needs its output array, so that stays alive
    kept = weakref.ref(e.numpy())
    z = e.sum()
    del e
    gc.collect()
    assert kept() is not None
    (y.sum() + z).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 + np.e)


def test_function_forms_and_named_max_results_as_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")
    array = np.random.default_rng(0).standard_normal((3, 4))
    x, t = fastnn.tensor(array), torch.tensor(array)
    for name in ("exp", "abs", "tanh", "sigmoid", "relu", "sum", "mean"):
        np.testing.assert_allclose(getattr(fastnn, name)(x).numpy(), getattr(torch, name)(t).numpy(), rtol=1e-12)
    ours, theirs = fastnn.max(x, dim=1), torch.max(t, dim=1)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert fastnn.argmax(x, dim=0).tolist() == torch.argmax(t, dim=0).tolist()
    assert fastnn.clamp(x, min=0).numpy().min() >= 0
    assert fastnn.softmax(x, 1).shape == (3, 4) and fastnn.transpose(x, 0, 1).shape == (4, 3)


def test_torch_habits_work_no_grad_without_parentheses_and_cpu_device():
    @fastnn.no_grad
    def double(t):
        return t * 2

    x = fastnn.ones(2, requires_grad=True)
    assert not double(x).requires_grad
    assert x.to("cpu") is x and x.cpu() is x and x.device == "cpu"
    assert x.to("cpu", fastnn.float64).dtype == np.float64 and x.to(dtype=fastnn.float64).requires_grad
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    copied = np.array(x, copy=True)
    copied[0] = 5
    assert x.tolist() == [1.0, 1.0]


def test_comparisons_work_across_dtypes_like_torch():
    assert (fastnn.ones(2) == fastnn.ones(2, dtype=fastnn.float64)).tolist() == [True, True]
    assert (fastnn.tensor([1, 2]) < fastnn.tensor([1.5, 1.5])).tolist() == [True, False]


def test_data_is_a_detached_tensor_sharing_storage_as_in_pytorch():
    w = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = w.data
    assert isinstance(d, fastnn.Tensor) and not d.requires_grad and d.is_leaf
    d.zero_()  # writes through to w, as torch's w.data.zero_() does
    np.testing.assert_array_equal(w.numpy(), [0.0, 0.0, 0.0])
    w.data = fastnn.tensor([4.0, 5.0, 6.0])
    np.testing.assert_array_equal(w.numpy(), [4.0, 5.0, 6.0])
    assert w.requires_grad
