"""PyTorch's tensor method aliases and helper functions: values and gradients against torch."""

import numpy as np
import pytest

import fastnn as fn

torch = pytest.importorskip("torch", reason="PyTorch is the reference for these parity tests")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((3, 4))


def both(fn_op, torch_op, *arrays):
    """Run op on fastnn and torch tensors (float64, requiring grad); compare outputs and gradients."""
    ours = [fn.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = fn_op(*ours), torch_op(*theirs)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = RNG.standard_normal(ref.shape)
    (out * fn.tensor(weights)).sum().backward()
    (ref * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, op", [
    ("add alpha", lambda a, b: a.add(b, alpha=2.5)),
    ("sub alpha", lambda a, b: a.sub(b, alpha=0.5)),
    ("mul", lambda a, b: a.mul(b)),
    ("div", lambda a, b: a.div(b + 3)),
    ("maximum", lambda a, b: a.maximum(b)),
    ("minimum", lambda a, b: a.minimum(b)),
    ("mm", lambda a, b: a.mm(b.t())),
    ("matmul", lambda a, b: a.matmul(b.T)),
])
def test_binary_aliases_match_torch(name, op):
    both(op, op, X, Y)


@pytest.mark.parametrize("name, op", [
    ("neg", lambda a: a.neg()),
    ("pow", lambda a: a.pow(3)),
    ("square", lambda a: a.square()),
    ("t", lambda a: a.t()),
    ("var", lambda a: a.var()),
    ("var dim", lambda a: a.var(dim=1)),
    ("var biased keepdim", lambda a: a.var(dim=0, unbiased=False, keepdim=True)),
    ("std dim", lambda a: a.std(dim=1)),
    ("norm", lambda a: a.norm()),
    ("norm p1 dim", lambda a: a.norm(p=1, dim=1)),
    ("norm p3", lambda a: a.norm(p=3)),
    ("logsumexp", lambda a: a.logsumexp(dim=1)),
    ("logsumexp keepdim", lambda a: a.logsumexp(dim=0, keepdim=True)),
    ("expand", lambda a: a[:, :1].expand(3, 5)),
    ("expand -1", lambda a: a[:1].expand(2, -1, -1)),
    ("masked_fill", lambda a: a.masked_fill(a > 0.3, -1.5)),
    ("index_select", lambda a: a.index_select(1, [0, 2, 2])),
])
def test_unary_aliases_match_torch(name, op):
    if name in ("masked_fill", "index_select"):
        ours = {"masked_fill": lambda a: a.masked_fill(a > 0.3, -1.5),
                "index_select": lambda a: a.index_select(1, fn.tensor([0, 2, 2]))}[name]
        theirs = {"masked_fill": lambda a: a.masked_fill(a > 0.3, -1.5),
                  "index_select": lambda a: a.index_select(1, torch.tensor([0, 2, 2]))}[name]
        both(ours, theirs, X)
    else:
        both(op, op, X)


def test_logsumexp_of_extreme_values_stays_finite():
    x = fn.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    out = x.logsumexp(dim=1)
    ref = torch.tensor([[1e4, -1e4, 0.0]]).logsumexp(dim=1)
    np.testing.assert_allclose(out.numpy(), ref.numpy())


def test_predicates_and_conversions_match_torch():
    x = fn.tensor([[1.0, np.nan], [np.inf, -2.0]])
    t = torch.tensor([[1.0, np.nan], [np.inf, -2.0]])
    for name in ("isnan", "isfinite"):
        np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(t, name)().numpy())
    assert x.gt(0).any().item() == t.gt(0).any().item()
    assert x.lt(5).all(dim=1).tolist() == t.lt(5).all(dim=1).tolist()
    assert fn.tensor([1.7, -2.2]).int().tolist() == torch.tensor([1.7, -2.2]).int().tolist()
    assert fn.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert fn.tensor([1, 2]).type_as(fn.tensor([0.5])).dtype == fn.float32


def test_factories_follow_torch():
    assert fn.eye(3).dtype == fn.float32 and fn.eye(2, 3).shape == (2, 3)
    np.testing.assert_allclose(fn.linspace(0, 1, 5).numpy(), torch.linspace(0, 1, 5).numpy())
    assert fn.full_like(fn.zeros(2, 3), 7).tolist() == [[7.0] * 3] * 2
    fn.manual_seed(3)
    r = fn.randint(0, 10, (100,))
    assert r.dtype == fn.int64 and 0 <= r.numpy().min() and r.numpy().max() < 10
    assert sorted(fn.randperm(6).tolist()) == list(range(6))
    a = np.arange(4.0)
    shared = fn.as_tensor(a)
    a[0] = 9.0
    assert shared.tolist()[0] == 9.0
    assert fn.is_tensor(shared) and not fn.is_tensor(a)
    assert fn.numel(fn.zeros(2, 5)) == 10
    assert fn.allclose(fn.tensor([1.0]), fn.tensor([1.0 + 1e-9])) and fn.equal(fn.ones(2), fn.ones(2))


def test_set_grad_enabled_as_call_and_context():
    x = fn.tensor([1.0], requires_grad=True)
    with fn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    fn.set_grad_enabled(False)
    try:
        assert not fn.is_grad_enabled()
    finally:
        fn.set_grad_enabled(True)
    assert fn.is_grad_enabled()


def test_hardtanh_l1_loss_and_one_hot_match_torch():
    import fastnn.nn.functional as F
    from fastnn import nn

    x = RNG.standard_normal((4, 3)) * 2
    both(lambda a: F.hardtanh(a, -0.5, 1.5), lambda a: torch.nn.functional.hardtanh(a, -0.5, 1.5), x)
    both(lambda a: nn.Hardtanh()(a), lambda a: torch.nn.Hardtanh()(a), x)
    target = RNG.standard_normal((4, 3))
    both(lambda a, b: nn.L1Loss()(a, b), lambda a, b: torch.nn.L1Loss()(a, b), x, target)
    both(lambda a, b: F.l1_loss(a, b, reduction="sum"),
         lambda a, b: torch.nn.functional.l1_loss(a, b, reduction="sum"), x, target)
    ids = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(fn.tensor(ids)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(ids)).numpy())
    assert F.one_hot(fn.tensor([1]), num_classes=4).shape == (1, 4)
    with pytest.raises(IndexError, match="one_hot"):
        F.one_hot(fn.tensor([5]), num_classes=3)
    with pytest.raises(ValueError, match="l1_loss"):
        F.l1_loss(fn.zeros(2, 3), fn.zeros(3, 2))
    assert repr(nn.Hardtanh(-2.0, 2.0)) == repr(torch.nn.Hardtanh(-2.0, 2.0))
