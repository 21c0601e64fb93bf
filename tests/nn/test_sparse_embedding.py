"""Row-sparse embedding gradients (sparse=True): equal to the dense gradient after to_dense(), the same
rows and values as torch's coalesced sparse gradient, and accumulation across uses and backward calls."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn
from fastnn.nn import functional as F
from fastnn.tensor import SparseTensor

torch = pytest.importorskip("torch", reason="PyTorch is needed for the sparse-gradient parity tests")

IDS = np.array([[1, 0, 3, 3], [3, 7, 0, 3], [9, 9, 9, 1]])  # repeated ids, the padding candidate 0
TABLE = np.random.default_rng(0).standard_normal((10, 4))


@pytest.fixture(autouse=True)
def each_backend(active_backend):
    yield


def weight(dtype=np.float64) -> nn.Parameter:
    return nn.Parameter(TABLE.astype(dtype))


def upstream(shape) -> fastnn.Tensor:
    """A fixed random output gradient, so every row's gradient differs."""
    return fastnn.tensor(np.random.default_rng(1).standard_normal(shape))


def weight_grad(forward, sparse: bool):
    w = weight()
    out = forward(w, sparse)
    (out * upstream(out.shape)).sum().backward()
    return w.grad


def torch_weight_grad(forward, sparse: bool):
    w = torch.nn.Parameter(torch.from_numpy(TABLE.copy()))
    out = forward(w, sparse)
    (out * torch.from_numpy(upstream(tuple(out.shape)).numpy())).sum().backward()
    return w.grad


EMBEDDING_CASES = {
    "embedding": (lambda w, s: F.embedding(fastnn.tensor(IDS), w, sparse=s),
                  lambda w, s: torch.nn.functional.embedding(torch.from_numpy(IDS), w, sparse=s)),
    "embedding_padding": (lambda w, s: F.embedding(fastnn.tensor(IDS), w, 0, sparse=s),
                          lambda w, s: torch.nn.functional.embedding(torch.from_numpy(IDS), w, 0, sparse=s)),
    "embedding_negative_padding": (lambda w, s: F.embedding(fastnn.tensor(IDS), w, -1, sparse=s),
                                   lambda w, s: torch.nn.functional.embedding(torch.from_numpy(IDS), w, -1, sparse=s)),
}
for _mode in ("sum", "mean"):
    EMBEDDING_CASES[f"bag_{_mode}_2d"] = (
        lambda w, s, m=_mode: F.embedding_bag(fastnn.tensor(IDS), w, mode=m, padding_idx=3, sparse=s),
        lambda w, s, m=_mode: torch.nn.functional.embedding_bag(torch.from_numpy(IDS), w, mode=m, padding_idx=3,
                                                                sparse=s))
    EMBEDDING_CASES[f"bag_{_mode}_offsets_empty_bag"] = (
        lambda w, s, m=_mode: F.embedding_bag(fastnn.tensor(IDS.reshape(-1)), w, fastnn.tensor([0, 5, 5, 9]),
                                              mode=m, sparse=s),
        lambda w, s, m=_mode: torch.nn.functional.embedding_bag(torch.from_numpy(IDS.reshape(-1)), w,
                                                                torch.tensor([0, 5, 5, 9]), mode=m, sparse=s))


@pytest.mark.parametrize("case", EMBEDDING_CASES)
def test_sparse_gradient_densifies_to_the_dense_gradient(case):
    forward, _ = EMBEDDING_CASES[case]
    dense = weight_grad(forward, sparse=False)
    sparse = weight_grad(forward, sparse=True)
    assert sparse.is_sparse and not dense.is_sparse
    assert sparse.shape == TABLE.shape and sparse.dtype == np.float64
    np.testing.assert_allclose(sparse.to_dense().numpy(), dense.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", EMBEDDING_CASES)
def test_sparse_gradient_rows_and_values_match_torch(case):
    forward, torch_forward = EMBEDDING_CASES[case]
    got = weight_grad(forward, sparse=True)
    expected = torch_weight_grad(torch_forward, sparse=True).coalesce()
    assert got.indices().dtype == np.int64 and got.indices().shape == (1, got._nnz())
    np.testing.assert_array_equal(got.indices().numpy(), expected.indices().numpy())
    np.testing.assert_allclose(got.values().numpy(), expected.values().numpy(), rtol=1e-12, atol=1e-15)


def test_only_the_used_rows_are_stored_sorted_and_unique():
    grad = weight_grad(EMBEDDING_CASES["embedding_padding"][0], sparse=True)
    np.testing.assert_array_equal(grad.indices().numpy()[0], [1, 3, 7, 9])  # 0 is the padding row
    assert grad.values().shape == (4, 4)


def test_two_uses_of_one_weight_in_one_graph_accumulate():
    ids_a, ids_b = fastnn.tensor([[2, 5, 5]]), fastnn.tensor([[5, 8]])
    grads = {}
    for sparse in (False, True):
        w = weight()
        out = F.embedding(ids_a, w, sparse=sparse).sum() * 2 + F.embedding_bag(ids_b, w, sparse=sparse).sum()
        out.backward()
        grads[sparse] = w.grad
    assert grads[True].is_sparse
    np.testing.assert_array_equal(grads[True].indices().numpy()[0], [2, 5, 8])
    np.testing.assert_allclose(grads[True].to_dense().numpy(), grads[False].numpy(), rtol=1e-12)
    expected = np.zeros_like(TABLE)
    expected[2], expected[5], expected[8] = 2, 4 + 0.5, 0.5  # closed form: 2 * counts + the mean's 1/2
    np.testing.assert_allclose(grads[True].to_dense().numpy(), expected, rtol=1e-12)


def test_sparse_and_dense_uses_of_one_weight_give_a_dense_gradient():
    w = weight()
    (F.embedding(fastnn.tensor([1, 4]), w, sparse=True).sum() + F.embedding(fastnn.tensor([4]), w).sum()).backward()
    assert not w.grad.is_sparse
    expected = np.zeros_like(TABLE)
    expected[1], expected[4] = 1, 2
    np.testing.assert_allclose(w.grad.numpy(), expected)


@pytest.mark.parametrize("first_sparse", [True, False])
def test_two_backward_calls_accumulate(first_sparse):
    w = weight()
    F.embedding(fastnn.tensor([3, 3, 6]), w, sparse=first_sparse).sum().backward()
    F.embedding(fastnn.tensor([6, 0]), w, sparse=True).sum().backward()
    assert w.grad.is_sparse == first_sparse
    expected = np.zeros_like(TABLE)
    expected[3], expected[6], expected[0] = 2, 2, 1
    dense = w.grad.to_dense() if first_sparse else w.grad
    np.testing.assert_allclose(dense.numpy(), expected)


def test_a_non_leaf_weight_passes_a_dense_gradient_on():
    leaf = weight()
    F.embedding(fastnn.tensor([2, 2]), leaf * 3.0, sparse=True).sum().backward()
    assert not leaf.grad.is_sparse
    expected = np.zeros_like(TABLE)
    expected[2] = 6
    np.testing.assert_allclose(leaf.grad.numpy(), expected)


def test_modules_take_sparse_and_zero_grad_keeps_the_layout():
    emb = nn.Embedding(10, 4, padding_idx=0, sparse=True)
    bag = nn.EmbeddingBag.from_pretrained(TABLE.astype(np.float32), freeze=False, mode="sum", sparse=True)
    assert "sparse=True" in repr(emb) and "sparse=True" in repr(bag)
    (emb(fastnn.tensor(IDS)).sum() + bag(fastnn.tensor(IDS)).sum()).backward()
    assert emb.weight.grad.is_sparse and bag.weight.grad.is_sparse
    emb.zero_grad(set_to_none=False)
    assert emb.weight.grad.is_sparse and emb.weight.grad._nnz() == 0
    np.testing.assert_array_equal(emb.weight.grad.to_dense().numpy(), np.zeros((10, 4), np.float32))
    bag.double()
    assert bag.weight.grad.dtype == np.float64
    bag.zero_grad()
    assert bag.weight.grad is None


def test_sparse_tensor_arithmetic_and_errors():
    a = SparseTensor([4, 1, 4], np.ones((3, 2)), (6, 2))
    np.testing.assert_array_equal(a.indices().numpy()[0], [1, 4])
    np.testing.assert_array_equal(a.values().numpy(), [[1, 1], [2, 2]])
    total = a + fastnn.tensor(np.full((6, 2), 0.5))
    assert not total.is_sparse
    np.testing.assert_array_equal(total.numpy()[[0, 1, 4]], [[0.5, 0.5], [1.5, 1.5], [2.5, 2.5]])
    with pytest.raises(ValueError, match=r"values of shape \(2, 3\)"):
        SparseTensor([0, 1], np.ones((2, 3)), (6, 2))
    with pytest.raises(IndexError, match="row indices must lie in"):
        SparseTensor([0, 6], np.ones((2, 2)), (6, 2))
    with pytest.raises(ValueError, match="differ"):
        a + SparseTensor([0], np.ones((1, 2), np.float32), (6, 2))


@pytest.mark.parametrize("num_rows", [12, 5000])  # both ways of finding the unique rows (marking, sorting)
def test_large_and_small_tables_give_the_same_rows(num_rows):
    ids = np.array([[num_rows - 1, 5, 5, 0], [7, 5, num_rows - 1, 2]])
    table = np.random.default_rng(2).standard_normal((num_rows, 3))
    grads = {}
    for sparse in (False, True):
        w = nn.Parameter(table.copy())
        out = F.embedding_bag(fastnn.tensor(ids), w, mode="sum", padding_idx=0, sparse=sparse)
        (out * upstream(out.shape)).sum().backward()
        grads[sparse] = w.grad
    np.testing.assert_array_equal(grads[True].indices().numpy()[0], [2, 5, 7, num_rows - 1])
    np.testing.assert_allclose(grads[True].to_dense().numpy(), grads[False].numpy(), rtol=1e-12)
