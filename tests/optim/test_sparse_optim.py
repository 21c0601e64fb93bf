"""Optimizers on row-sparse gradients (embeddings with sparse=True): 20-step trajectories against torch
(sparse=True there too) for SGD, Adagrad and SparseAdam on every backend and dtype, the lazy rows,
rejection by the dense-only optimizers (all-or-nothing), and checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.optim import functional as F
from fastnn.tensor import SparseTensor, Tensor, from_numpy

torch = pytest.importorskip("torch", reason="PyTorch is needed for optimizer parity tests")

pytestmark = pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")

STEPS = 20
ROWS, DIM = 40, 3

CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "initial_accumulator_value": 0.2, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.05, "maximize": True}),
    ("SparseAdam", {"lr": 0.01}),
    ("SparseAdam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("SparseAdam", {"lr": 0.005, "maximize": True}),
]


def config_id(config) -> str:
    name, options = config
    return name + ("-" + "-".join(f"{k}={v}" for k, v in options.items()) if options else "")


@pytest.fixture(autouse=True)
def each_backend(backend):
    with fastnn.use_backend(backend.name):
        yield


def table(dtype) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 0.5, size=(ROWS, DIM)).astype(dtype)


def batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """Bags of 5 ids from the first 30 rows only (rows 30..39 are never touched), repeats included."""
    rng = np.random.default_rng(1)
    return [(rng.integers(0, 30, size=(6, 5)), rng.normal(size=(6, DIM))) for _ in range(STEPS)]


def run_torch(name, options, dtype) -> np.ndarray:
    bag = torch.nn.EmbeddingBag.from_pretrained(torch.from_numpy(table(dtype)), freeze=False, mode="mean",
                                                padding_idx=0, sparse=True)
    opt = getattr(torch.optim, name)(bag.parameters(), **options)
    for ids, target in batches():
        opt.zero_grad()
        ((bag(torch.from_numpy(ids)) - torch.from_numpy(target.astype(dtype))) ** 2).mean().backward()
        opt.step()
    return bag.weight.detach().numpy()


def run_fastnn(name, options, dtype) -> np.ndarray:
    bag = nn.EmbeddingBag.from_pretrained(table(dtype), freeze=False, mode="mean", padding_idx=0, sparse=True)
    opt = getattr(optim, name)(bag.parameters(), **options)
    for ids, target in batches():
        opt.zero_grad()
        ((bag(fastnn.tensor(ids)) - fastnn.tensor(target.astype(dtype))) ** 2).mean().backward()
        assert bag.weight.grad.is_sparse
        opt.step()
    return bag.weight.numpy()


def tolerance(dtype) -> dict:
    return {"rtol": 1e-9, "atol": 1e-11} if dtype == np.float64 else {"rtol": 2e-4, "atol": 2e-5}


@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_twenty_steps_match_torch_sparse(config, dtype):
    name, options = config
    expected = run_torch(name, options, dtype)
    got = run_fastnn(name, options, dtype)
    initial = table(dtype)
    assert got.dtype == dtype
    assert not np.allclose(expected[:30], initial[:30]), "the torch run did not move: the test would prove nothing"
    np.testing.assert_allclose(got, expected, **tolerance(dtype))
    np.testing.assert_array_equal(got[30:], initial[30:])  # never-touched rows keep their values
    np.testing.assert_array_equal(got[0], initial[0])  # the padding row has no gradient


def test_sparse_adam_is_lazy_rows_absent_from_a_batch_keep_their_moments():
    w = nn.Parameter(np.zeros((4, 2)))
    opt = optim.SparseAdam([w], lr=0.1)
    w.grad = SparseTensor([0, 2], np.ones((2, 2)), (4, 2))
    opt.step()
    w.grad = SparseTensor([2], np.full((1, 2), 3.0), (4, 2))
    opt.step()
    state = opt.state[w]
    assert state["step"] == 2
    b1, b2 = 0.9, 0.999
    np.testing.assert_allclose(state["exp_avg"][0], (1 - b1) * 1.0)  # not decayed by the second step
    np.testing.assert_allclose(state["exp_avg"][2], b1 * (1 - b1) + (1 - b1) * 3.0)
    np.testing.assert_allclose(state["exp_avg_sq"][2], b2 * (1 - b2) + (1 - b2) * 9.0)
    np.testing.assert_array_equal(state["exp_avg"][[1, 3]], 0)
    # row 0 moved only at step 1: lr*sqrt(1-b2)/(1-b1) * m/(sqrt(v)+eps) with m = 0.1, v = 0.001
    np.testing.assert_allclose(w.numpy()[0], -0.1 * np.sqrt(1 - b2) / (1 - b1) * 0.1 / (np.sqrt(0.001) + 1e-8))


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adadelta"])
def test_dense_only_optimizers_reject_sparse_gradients_and_update_nothing(name):
    dense, table_weight = Tensor(np.ones(3), requires_grad=True), nn.Parameter(np.ones((5, 2)))
    opt = getattr(optim, name)([dense, table_weight])
    dense.grad = from_numpy(np.ones(3))
    table_weight.grad = SparseTensor([1], np.ones((1, 2)), (5, 2))
    with pytest.raises(RuntimeError, match=rf"^{name} does not support sparse gradients.*param 1 of group 0"):
        opt.step()
    np.testing.assert_array_equal(dense.numpy(), 1)
    assert len(opt.state) == 0


@pytest.mark.parametrize("name, states", [("adam", 3), ("adamw", 3), ("rmsprop", 3), ("adadelta", 2)])
def test_functional_dense_only_updates_reject_sparse_gradients_before_any_update(name, states):
    dense, table_weight = np.ones(3), np.ones((5, 2))
    grads = [np.ones(3), SparseTensor([1], np.ones((1, 2)), (5, 2))]
    state = [[np.zeros(3), np.zeros((5, 2))] for _ in range(states)]
    extra = {"adam": [[1, 1]], "adamw": [[1, 1]], "rmsprop": [], "adadelta": []}[name]
    if name == "rmsprop":
        state[1] = state[2] = [None, None]
    with pytest.raises(RuntimeError, match=rf"^{name}: .*does not support sparse gradients.*param 1 \(5, 2\)"):
        getattr(F, name)([dense, table_weight], grads, *state, *extra, lr=0.1)
    np.testing.assert_array_equal(dense, 1)


@pytest.mark.parametrize("name", ["SGD", "Adagrad"])
def test_weight_decay_is_not_compatible_with_sparse_gradients(name):
    w = nn.Parameter(np.ones((5, 2)))
    w.grad = SparseTensor([3], np.ones((1, 2)), (5, 2))
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        getattr(optim, name)([w], lr=0.1, weight_decay=0.1).step()
    with pytest.raises(RuntimeError, match="weight_decay option is not compatible with sparse gradients"):
        getattr(F, name.lower())([w.numpy()], [w.grad], [None] if name == "SGD" else [np.zeros((5, 2))],
                                 *([] if name == "SGD" else [[1]]), lr=0.1, weight_decay=0.1)
    np.testing.assert_array_equal(w.numpy(), 1)


def test_sparse_adam_rejects_dense_gradients():
    w = nn.Parameter(np.ones((5, 2)))
    w.grad = from_numpy(np.ones((5, 2)))
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients.*param 0 of group 0"):
        optim.SparseAdam([w]).step()
    with pytest.raises(RuntimeError, match="SparseAdam does not support dense gradients"):
        F.sparse_adam([w.numpy()], [w.grad.numpy()], [np.zeros((5, 2))], [np.zeros((5, 2))], [1])
    np.testing.assert_array_equal(w.numpy(), 1)


def test_non_finite_sparse_values_update_nothing():
    a, b = nn.Parameter(np.ones((5, 2))), nn.Parameter(np.ones((5, 2)))
    a.grad = SparseTensor([1], np.ones((1, 2)), (5, 2))
    b.grad = SparseTensor([2], np.array([[np.nan, 1.0]]), (5, 2))
    with pytest.raises(ValueError, match=r"gradient of param 1 of group 0 \(5, 2\) has 1 non-finite"):
        optim.SparseAdam([a, b]).step()
    np.testing.assert_array_equal(a.numpy(), 1)


def test_sparse_gradient_of_the_wrong_dtype_is_rejected():
    w = nn.Parameter(np.ones((5, 2), np.float32))
    w.grad = SparseTensor([1], np.ones((1, 2)), (5, 2))
    with pytest.raises(TypeError, match="has dtype float64, expected the parameter's dtype float32"):
        optim.SGD([w], lr=0.1).step()


def test_zero_grad_without_set_to_none_empties_a_sparse_gradient():
    w = nn.Parameter(np.ones((5, 2)))
    w.grad = SparseTensor([1, 3], np.ones((2, 2)), (5, 2))
    opt = optim.SGD([w], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert w.grad.is_sparse and w.grad._nnz() == 0
    opt.step()
    np.testing.assert_array_equal(w.numpy(), 1)


@pytest.mark.parametrize("name, options", [("SparseAdam", {"lr": 0.01}), ("Adagrad", {"lr": 0.1}),
                                           ("SGD", {"lr": 0.05, "momentum": 0.9})])
def test_checkpoint_resume_continues_the_same_trajectory(name, options):
    def model_and_optimizer():
        bag = nn.EmbeddingBag.from_pretrained(table(np.float64), freeze=False, mode="mean", sparse=True)
        return bag, getattr(optim, name)(bag.parameters(), **options)

    def train(bag, opt, steps):
        for ids, target in steps:
            opt.zero_grad()
            ((bag(fastnn.tensor(ids)) - fastnn.tensor(target)) ** 2).mean().backward()
            opt.step()

    straight, straight_opt = model_and_optimizer()
    train(straight, straight_opt, batches())
    first, first_opt = model_and_optimizer()
    train(first, first_opt, batches()[:10])
    saved_model, saved_opt = first.state_dict(), first_opt.state_dict()
    resumed, resumed_opt = model_and_optimizer()
    resumed.load_state_dict(saved_model)
    resumed_opt.load_state_dict(saved_opt)
    train(resumed, resumed_opt, batches()[10:])
    np.testing.assert_array_equal(resumed.weight.numpy(), straight.weight.numpy())
