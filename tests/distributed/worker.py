"""One rank of a distributed test, started by tests/distributed/test_*.py through mpiexec.

    mpiexec -n N python -m mpi4py worker.py SCENARIO OUT_DIR [PHASE]

Each scenario asserts what it can on its own (an AssertionError aborts the job with a non-zero
status) and writes its results to OUT_DIR/<scenario>-rank<r>.npz for the test to compare.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import scenarios  # noqa: E402

import fastnn  # noqa: E402
from fastnn import distributed as dist  # noqa: E402
from fastnn import nn  # noqa: E402
from fastnn.data import DistributedSampler, TensorDataset  # noqa: E402


def collectives(out: str) -> None:
    rank, size = dist.get_rank(), dist.get_world_size()
    a = np.arange(6, dtype=np.float64).reshape(2, 3) + rank
    dist.all_reduce(a)
    np.testing.assert_array_equal(a, size * np.arange(6).reshape(2, 3) + sum(range(size)))
    t = fastnn.tensor(np.full(4, rank + 1.0, dtype=np.float32))
    dist.all_reduce(t, dist.ReduceOp.AVG)
    np.testing.assert_allclose(t.numpy(), np.full(4, (size + 1) / 2))
    m = np.array([rank, -rank], dtype=np.int64)
    dist.all_reduce(m, dist.ReduceOp.MAX)
    assert m.tolist() == [size - 1, 0]
    m = np.array([rank, -rank], dtype=np.int64)
    dist.all_reduce(m, dist.ReduceOp.MIN)
    assert m.tolist() == [0, 1 - size]
    strided = np.zeros((3, 4))[:, ::2]  # not contiguous: reduced through a copy written back
    strided += rank
    dist.all_reduce(strided)
    np.testing.assert_array_equal(strided, np.full((3, 2), sum(range(size))))
    b = np.full(3, float(rank))
    dist.broadcast(b, src=size - 1)
    np.testing.assert_array_equal(b, np.full(3, size - 1.0))
    parts = [fastnn.zeros(2, dtype=fastnn.int64) for _ in range(size)]
    dist.all_gather(parts, fastnn.tensor([rank, 10 * rank]))
    assert [p.numpy().tolist() for p in parts] == [[r, 10 * r] for r in range(size)]
    objects: list = [None] * size
    dist.all_gather_object(objects, {"rank": rank})
    assert objects == [{"rank": r} for r in range(size)]
    box = [f"from {rank}"]
    dist.broadcast_object_list(box, src=0)
    assert box == ["from 0"]
    try:
        dist.all_gather([fastnn.zeros(rank + 1) for _ in range(size)], fastnn.zeros(rank + 1))
    except ValueError as exc:  # every rank detects that the ranks' shapes differ
        assert "different shapes" in str(exc), exc
    else:
        raise AssertionError("all_gather accepted tensors of different shapes")
    dist.barrier()
    # the sampler's defaults come from the process group; rank 0 checks the shards
    data = TensorDataset(np.arange(23.0))
    shard = list(DistributedSampler(data, shuffle=True, seed=4))
    shards: list = [None] * size
    dist.all_gather_object(shards, shard)
    if rank == 0:
        assert len({len(s) for s in shards}) == 1
        flat = sorted(i for s in shards for i in s)
        assert set(flat) == set(range(23)) and len(flat) == -(-23 // size) * size
    np.savez(os.path.join(out, f"collectives-rank{rank}.npz"), ok=np.array(True))


def equivalence(out: str) -> None:
    """Every (optimizer, model, dtype) case trained with DDP; rank files hold the final parameters."""
    rank, size = dist.get_rank(), dist.get_world_size()
    arrays = {}
    for opt, kind, dtype in scenarios.CASES:
        model = scenarios.train(kind, opt, dtype, size, rank)
        for name, value in scenarios.state_arrays(model).items():
            arrays[f"{opt}/{kind}/{dtype}/{name}"] = value
    np.savez(os.path.join(out, f"equivalence-rank{rank}.npz"), **arrays)


def fit_resume(out: str) -> None:
    """fit auto-wraps and shards: 4 epochs at once, and 2 + 2 through a checkpoint written under MPI."""
    whole, history = scenarios.fit_run(scenarios.FIT_EPOCHS, scenarios.BATCH, os.path.join(out, "whole.fnn"),
                                       verbose=True)
    rank = dist.get_rank()
    scenarios.fit_run(3, scenarios.BATCH, os.path.join(out, "part.fnn"))
    resumed, resumed_history = scenarios.fit_run(scenarios.FIT_EPOCHS, scenarios.BATCH, os.path.join(out, "part.fnn"),
                                                 resume=True)
    arrays = {f"whole/{k}": v for k, v in scenarios.state_arrays(whole).items()}
    arrays |= {f"resumed/{k}": v for k, v in scenarios.state_arrays(resumed).items()}
    np.savez(os.path.join(out, f"fit-rank{rank}.npz"), **arrays)
    with open(os.path.join(out, f"fit-history-rank{rank}.json"), "w") as f:
        json.dump({"whole": history.records, "resumed": resumed_history.records,
                   "stopped_early": history.stopped_early}, f)


def fit_dropout(out: str) -> None:
    """Phase (argv[3]) 'whole': 4 epochs; 'part': 2 epochs; 'resume': a new job resumes 'part' to 4 epochs.
    Dropout draws from each rank's own generator, which the checkpoint must restore rank by rank."""
    from fastnn.train import fit

    phase = sys.argv[3]
    train_set, _ = scenarios.fit_data()
    dist.init_process_group()
    rank = dist.get_rank()
    fastnn.manual_seed(10 + rank)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3)).double()
    opt = fastnn.optim.Adam(model.parameters(), lr=1e-2)
    if phase == "resume":
        fastnn.manual_seed(999)  # a different state, which the checkpoint must replace
    path = os.path.join(out, "whole.fnn" if phase == "whole" else "part.fnn")
    fit(model, nn.CrossEntropyLoss(), opt, fastnn.data.DataLoader(train_set, 8, shuffle=True, seed=2),
        epochs=2 if phase == "part" else 4, checkpoint=path, resume=phase == "resume", metrics=None, progress=False)
    np.savez(os.path.join(out, f"dropout-{phase}-rank{rank}.npz"), **scenarios.state_arrays(model))


def failing_rank(out: str) -> None:
    """Rank 1 raises in its third training batch, inside fit (the others wait in a collective)."""
    from fastnn.train import fit

    train_set, _ = scenarios.fit_data()
    fastnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3)).double()
    calls = {"n": 0}

    def loss_fn(out, y):
        calls["n"] += 1
        if dist.get_rank() == 1 and calls["n"] == 3:
            raise RuntimeError("injected failure on rank 1 in batch 3")
        return nn.functional.cross_entropy(out, y)

    fit(model, loss_fn, fastnn.optim.SGD(model.parameters(), lr=0.1),
        fastnn.data.DataLoader(train_set, 4, shuffle=True, seed=0), epochs=50, metrics=None, progress=False)


class PartlyUsed(nn.Module):
    """A layer every rank uses, one only rank 0 uses, one nobody uses, and a rank-dependent buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.shared, self.rank0_only, self.unused = nn.Linear(3, 2), nn.Linear(3, 2), nn.Linear(3, 2)
        self.register_buffer("counter", fastnn.tensor([float(dist.get_rank())]))

    def forward(self, x: fastnn.Tensor) -> fastnn.Tensor:
        out = self.shared(x)
        return out + self.rank0_only(x) if dist.get_rank() == 0 else out


def ddp_features(out: str) -> None:
    """Construction broadcast, buffers, unused parameters, no_sync and bucket sizes, each against a manual
    reduction of plain (unwrapped) gradients."""
    from fastnn.nn.parallel import DistributedDataParallel

    rank, size = dist.get_rank(), dist.get_world_size()
    fastnn.manual_seed(100 + rank)  # different initial weights: the wrapper must copy rank 0's
    model = PartlyUsed()
    ddp = DistributedDataParallel(model)
    weights = model.shared.weight.numpy().copy()
    gathered = [np.empty_like(weights) for _ in range(size)]
    dist.all_gather(gathered, weights)
    assert all(np.array_equal(g, gathered[0]) for g in gathered)
    assert model.counter.numpy()[0] == 0.0  # rank 0's buffer
    model.counter.numpy()[0] = rank + 5.0
    rng = np.random.default_rng(rank)
    xs = [fastnn.tensor(rng.normal(size=(4, 3)).astype(np.float32)) for _ in range(3)]
    ddp(xs[0]).sum().backward()
    assert model.counter.numpy()[0] == 5.0  # buffers broadcast from rank 0 before a forward with grad
    assert model.unused.weight.grad is None  # no rank used it: no gradient, as in one process
    local = model.rank0_only.weight.grad.numpy()
    ref = nn.Linear(3, 2)
    ref.load_state_dict(model.rank0_only.state_dict())
    if rank == 0:
        ref(xs[0]).sum().backward()
        mine = ref.weight.grad.numpy()
    else:
        mine = np.zeros_like(local)
    dist.all_reduce(mine, dist.ReduceOp.SUM)
    np.testing.assert_allclose(local, mine / size, rtol=1e-6)  # used on rank 0 only: its gradient / size
    # no_sync: two local backward passes, then a synchronised one; the result is the average of the sums
    model.zero_grad()
    plain = nn.Linear(3, 2)
    plain.load_state_dict(model.shared.state_dict())
    with ddp.no_sync():
        for x in xs[:2]:
            ddp(x).sum().backward()
    ddp(xs[2]).sum().backward()
    for x in xs:
        plain(x).sum().backward()
    manual = plain.weight.grad.numpy().copy()
    dist.all_reduce(manual, dist.ReduceOp.AVG)
    np.testing.assert_allclose(model.shared.weight.grad.numpy(), manual, rtol=1e-6)
    # one bucket per parameter gives the same bits as one bucket for all
    grads = {}
    for cap in (25, 1e-6):
        fastnn.manual_seed(0)
        net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
        wrapped = DistributedDataParallel(net, bucket_cap_mb=cap)
        assert len(wrapped.bucket_sizes) == (1 if cap == 25 else 4)
        wrapped(xs[rank % 3]).sum().backward()
        grads[cap] = [p.grad.numpy().copy() for p in net.parameters()]
    for a, b in zip(grads[25], grads[1e-6]):
        np.testing.assert_array_equal(a, b)
    np.savez(os.path.join(out, f"ddp_features-rank{rank}.npz"), ok=np.array(True))


def uncaught(out: str) -> None:
    """Rank 1 raises outside fit while rank 0 waits in a barrier (no ``-m mpi4py``: init_process_group's
    exception hook must end the job)."""
    if dist.get_rank() == 1:
        raise KeyError("injected failure on rank 1 before the barrier")
    dist.barrier()


def mismatch(out: str) -> None:
    """Rank 1 builds a wider layer: DistributedDataParallel refuses at construction, on every rank."""
    from fastnn.nn.parallel import DistributedDataParallel

    width = 4 + (dist.get_rank() == 1)
    DistributedDataParallel(nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 2)))


def main() -> None:
    scenario, out = sys.argv[1], sys.argv[2]
    fastnn.set_num_threads(1)
    if scenario not in ("fit_resume", "fit_dropout"):  # these start the process group themselves or in fit
        dist.init_process_group()
    scenarios_by_name = {"collectives": collectives, "equivalence": equivalence, "fit_resume": fit_resume,
                         "failing_rank": failing_rank, "mismatch": mismatch, "uncaught": uncaught,
                         "ddp_features": ddp_features, "fit_dropout": fit_dropout}
    scenarios_by_name[scenario](out)


if __name__ == "__main__":
    main()
