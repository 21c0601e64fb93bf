"""fastnn.distributed without mpiexec: a world of one process, argument checks, and DDP/fit there."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn import distributed as dist
from fastnn import nn, optim
from fastnn.autograd.engine import post_backward_callbacks
from fastnn.data import DataLoader, TensorDataset
from fastnn.nn.parallel import DistributedDataParallel
from fastnn.train import fit


@pytest.fixture
def world(monkeypatch):
    """init_process_group() in a process no MPI launcher started; destroyed afterwards."""
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if dist.is_initialized():
        dist.destroy_process_group()
    dist.init_process_group()
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_a_world_of_one_without_mpiexec(world):
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    assert dist.communicator() is None
    a = np.array([1.0, -2.0, 3.5])
    for op in dist.ReduceOp:
        dist.all_reduce(a, op)
    np.testing.assert_array_equal(a, [1.0, -2.0, 3.5])
    t = fastnn.tensor([[1, 2]])
    dist.broadcast(t, src=0)
    out = [fastnn.zeros(1, 2, dtype=fastnn.int64)]
    dist.all_gather(out, t)
    np.testing.assert_array_equal(out[0].numpy(), [[1, 2]])
    objects = [None]
    dist.all_gather_object(objects, {"a": 1})
    assert objects == [{"a": 1}]
    dist.barrier()


def test_collective_argument_errors(world):
    with pytest.raises(TypeError, match="ReduceOp.AVG needs a floating tensor, got int64"):
        dist.all_reduce(np.arange(3), dist.ReduceOp.AVG)
    with pytest.raises(TypeError, match="op must be a ReduceOp"):
        dist.all_reduce(np.zeros(2), "sum")
    with pytest.raises(TypeError, match="expected a fastnn Tensor or a NumPy array, got list"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match=r"src must be a rank in \[0, 1\), got 1"):
        dist.broadcast(np.zeros(2), src=1)
    with pytest.raises(ValueError, match="list of 1 tensors"):
        dist.all_gather([np.zeros(2), np.zeros(2)], np.zeros(2))
    with pytest.raises(ValueError, match=r"tensor_list\[0\] is \(3,\) float64 but the input tensor is \(2,\)"):
        dist.all_gather([np.zeros(3)], np.zeros(2))


def test_process_group_lifecycle_errors(monkeypatch):
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if dist.is_initialized():
        dist.destroy_process_group()
    with pytest.raises(ValueError, match="get_rank: Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="DistributedDataParallel|get_world_size"):
        DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend 'nccl' is not supported"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="rank=1 but MPI gives 0"):
        dist.init_process_group(rank=1)
    assert not dist.is_initialized()
    dist.init_process_group(world_size=1, rank=0)
    with pytest.raises(RuntimeError, match="initialize the default process group twice"):
        dist.init_process_group()
    dist.destroy_process_group()
    assert not dist.is_initialized()


def _train(wrap: bool, sync: bool = True) -> list[np.ndarray]:
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    forward = DistributedDataParallel(model, bucket_cap_mb=1e-4) if wrap else model
    opt = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x, y = fastnn.tensor(rng.normal(size=(5, 4)).astype(np.float32)), fastnn.tensor(rng.integers(0, 3, 5))
        opt.zero_grad()
        if wrap and not sync:
            with forward.no_sync():
                nn.functional.cross_entropy(forward(x), y).backward()
        else:
            nn.functional.cross_entropy(forward(x), y).backward()
        opt.step()
    return [p.numpy().copy() for p in model.parameters()]


def test_ddp_in_a_world_of_one_trains_exactly_like_the_plain_model(world):
    plain = _train(wrap=False)
    for wrapped in (_train(wrap=True), _train(wrap=True, sync=False)):
        for a, b in zip(plain, wrapped):
            np.testing.assert_array_equal(a, b)


def test_ddp_arguments_and_state_dict(world):
    with pytest.raises(TypeError, match="expected a fastnn.nn.Module, got int"):
        DistributedDataParallel(3)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number, got 0"):
        DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=0)
    model = nn.Linear(2, 3)
    ddp = DistributedDataParallel(model)
    assert list(ddp.state_dict()) == ["module.weight", "module.bias"]  # torch's names
    assert ddp.module is model and ddp.bucket_sizes == [9]
    ddp.eval()
    assert not model.training


def test_ddp_unregisters_its_backward_callback_when_collected(world):
    import gc

    before = len(post_backward_callbacks)
    ddp = DistributedDataParallel(nn.Linear(2, 2))
    assert len(post_backward_callbacks) == before + 1
    del ddp
    gc.collect()
    assert len(post_backward_callbacks) == before


def test_post_backward_callbacks_run_after_the_gradients_are_in_place():
    w = fastnn.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def callback():
        seen.append(w.grad.numpy().copy())

    post_backward_callbacks.append(callback)
    try:
        (w * w).sum().backward()
        w.sum().backward()  # a second graph, and a leaf backward below: each ends with the callbacks
        w.backward(fastnn.tensor([1.0, 1.0]))
    finally:
        post_backward_callbacks.remove(callback)
    np.testing.assert_array_equal(np.array(seen), [[2.0, 4.0], [3.0, 5.0], [4.0, 6.0]])


def test_fit_with_distributed_true_in_a_world_of_one_equals_plain_fit(monkeypatch):
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.normal(size=(40, 3)).astype(np.float32), rng.integers(0, 2, 40))
    results = []
    for distributed in (False, True):
        fastnn.manual_seed(2)
        model = nn.Sequential(nn.Linear(3, 2))
        history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      DataLoader(data, 8, shuffle=True, seed=3), epochs=2, progress=False, distributed=distributed)
        results.append(([p.numpy().copy() for p in model.parameters()], history["loss"]))
    assert dist.is_initialized()
    dist.destroy_process_group()
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_array_equal(a, b)
    assert results[0][1] == results[1][1]
    with pytest.raises(ValueError, match="distributed must be None"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), DataLoader(data, 8), epochs=1,
            progress=False, distributed="yes")
