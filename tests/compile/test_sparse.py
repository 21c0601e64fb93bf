"""Compiled row-sparse embedding gradients (sparse=True tables) with SparseAdam, beside a dense
optimizer for the rest: the same parameters, sparse gradients and SparseAdam state as the eager
step of both optimizers, torch's trajectory, and what falls back."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastnn as fn
from fastnn import nn, optim

from .helpers import assert_same, eager_step, snapshot

LAYOUTS = {  # the first layer (a sparse table) and the input of each batch
    "bag_mean_padding": (lambda: nn.EmbeddingBag(30, 6, mode="mean", padding_idx=0, sparse=True), (8, 4)),
    "bag_sum": (lambda: nn.EmbeddingBag(30, 6, mode="sum", sparse=True), (8, 5)),
    "window_padding": (lambda: nn.Embedding(30, 6, padding_idx=3, sparse=True), (8, 3)),
}


def _build(layout, dtype, maximize=False, sparse_first=True):
    fn.manual_seed(0)
    make_table, shape = LAYOUTS[layout]
    table = make_table()
    width = 6 * shape[1] if layout.startswith("window") else 6
    head = [nn.Flatten()] if layout.startswith("window") else []
    model = nn.Sequential(table, *head, nn.Linear(width, 5), nn.ReLU(), nn.Dropout(0.2), nn.Linear(5, 3)).to(dtype)
    sparse = optim.SparseAdam([table.weight], lr=0.05, betas=(0.8, 0.95), maximize=maximize)
    dense = optim.Adam([p for p in model.parameters() if p is not table.weight], lr=0.01)
    return model, ([sparse, dense] if sparse_first else [dense, sparse]), shape


def _train(layout, dtype, compiled, steps=12, **options):
    model, opts, shape = _build(layout, dtype, **options)
    loss_fn = nn.CrossEntropyLoss()
    step = fn.compile_step(model, loss_fn, opts) if compiled else None
    if compiled:
        assert step.plan is not None, step.fallback_reason
    rng = np.random.default_rng(0)
    fn.manual_seed(1)
    for _ in range(steps):
        x, y = rng.integers(0, 30, shape), rng.integers(0, 3, shape[0])
        step(x, y) if compiled else eager_step(model, loss_fn, opts, x, y)
    return model, opts


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("options", [{}, {"maximize": True, "sparse_first": False}], ids=["", "maximize"])
def test_compiled_sparse_rows_equal_eager(layout, dtype, options):
    (m1, o1), (m2, o2) = _train(layout, dtype, False, **options), _train(layout, dtype, True, **options)
    for eager, compiled in zip(o1, o2):
        assert_same(snapshot(m1, eager), snapshot(m2, compiled), dtype)
    g1, g2 = m1[0].weight.grad, m2[0].weight.grad
    assert g2.is_sparse and g2.shape == g1.shape
    np.testing.assert_array_equal(g2.indices().numpy(), g1.indices().numpy())  # sorted rows, no padding row
    tolerance = {"rtol": 2e-4, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-12}
    np.testing.assert_allclose(g2.values().numpy(), g1.values().numpy(), **tolerance)  # after 12 steps
    assert o2[0 if not options else 1].state[m2[0].weight]["step"] == 12


torch = pytest.importorskip("torch", reason="PyTorch is needed for the parity test")


def test_compiled_sparse_adam_trajectory_matches_torch():
    model, opts, shape = _build("bag_mean_padding", np.float64)
    for module in model:
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    step = fn.compile_step(model, nn.CrossEntropyLoss(), opts)
    bag = torch.nn.EmbeddingBag(30, 6, mode="mean", padding_idx=0, sparse=True).double()
    ref = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    with torch.no_grad():
        bag.weight.copy_(torch.from_numpy(model[0].weight.numpy()))
        for (_, p), q in zip(list(model.named_parameters())[1:], ref.parameters()):
            q.copy_(torch.from_numpy(p.numpy()))
    topts = [torch.optim.SparseAdam([bag.weight], lr=0.05, betas=(0.8, 0.95)),
             torch.optim.Adam(ref.parameters(), lr=0.01)]
    rng = np.random.default_rng(0)
    for _ in range(15):
        x, y = rng.integers(0, 30, shape), rng.integers(0, 3, shape[0])
        loss = step(x, y)
        for opt in topts:
            opt.zero_grad()
        expected = torch.nn.functional.cross_entropy(ref(bag(torch.from_numpy(x))), torch.from_numpy(y))
        expected.backward()
        for opt in topts:
            opt.step()
        assert loss.item() == pytest.approx(expected.item(), rel=1e-9)
    np.testing.assert_allclose(model[0].weight.numpy(), bag.weight.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_what_sparse_tables_cannot_compile_falls_back_with_a_reason():
    fn.manual_seed(0)
    model = nn.Sequential(nn.EmbeddingBag(30, 6, sparse=True), nn.Linear(6, 3))
    cases = {
        "clipping": (lambda: [optim.SparseAdam([model[0].weight]), optim.Adam(model[1].parameters())],
                     {"max_grad_norm": 1.0}, "clipping"),
        "a dense optimizer for the table": (lambda: [optim.Adam(model.parameters())], {}, "SparseAdam"),
    }
    for make_opts, options, reason in cases.values():
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            step = fn.compile_step(model, nn.CrossEntropyLoss(), make_opts(), **options)
        assert step.plan is None and reason in step.fallback_reason


def test_a_bad_index_leaves_the_table_and_its_state_unchanged():
    (model, opts), _ = _train("bag_sum", np.float32, True, steps=2), None
    step = fn.compile_step(model, nn.CrossEntropyLoss(), opts)
    before = [snapshot(model, opt) for opt in opts]
    grad = model[0].weight.grad
    with pytest.raises(IndexError, match="index 30 out of range"):
        step(np.array([[1, 2, 30, 4, 5]] * 8), np.zeros(8, np.int64))
    assert model[0].weight.grad is grad
    for opt, state in zip(opts, before):
        assert_same(state, snapshot(model, opt), np.float32, rtol=0)
    step(np.array([[1, 2, 3, 4, 5]] * 8), np.zeros(8, np.int64))  # and the rows map was left clean
    assert np.array_equal(step._position, np.full(30, -1))
