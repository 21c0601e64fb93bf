"""DistributedSampler against torch's (index for index without shuffling), its shards, and DataLoader(sampler=)."""

from __future__ import annotations

import numpy as np
import pytest

from fastnn import distributed as dist
from fastnn.data import DataLoader, DistributedSampler, TensorDataset


def _data(n: int) -> TensorDataset:
    return TensorDataset(np.arange(n, dtype=np.float32))


@pytest.mark.parametrize("n", [1, 2, 5, 10, 23])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shards_equal_torchs(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data", reason="torch gives the reference sampler")
    for rank in range(replicas):
        ours = DistributedSampler(_data(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_data.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


@pytest.mark.parametrize("n, replicas", [(23, 2), (23, 3), (24, 4), (5, 8)])
def test_shuffled_shards_are_equal_sized_disjoint_up_to_padding_and_complete(n, replicas):
    for epoch in (0, 1):
        shards = []
        for rank in range(replicas):
            sampler = DistributedSampler(_data(n), replicas, rank, seed=9)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        assert len({len(s) for s in shards}) == 1
        served = [i for s in shards for i in s]
        padding = -(-n // replicas) * replicas - n
        assert len(served) == n + padding and set(served) == set(range(n))
        assert len(set(served)) == n  # only the padding repeats samples
    # the shards interleave the order DataLoader(shuffle=True, seed) serves in that epoch
    order = DataLoader(_data(n), 1, shuffle=True, seed=9).order(1)
    padded = np.resize(order, len(served))
    for rank, shard in enumerate(shards):
        assert shard == padded[rank::replicas].tolist()


def test_set_epoch_changes_the_order_and_seed_fixes_it():
    a, b = DistributedSampler(_data(50), 2, 0, seed=1), DistributedSampler(_data(50), 2, 0, seed=1)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first and list(b) == first
    b.set_epoch(1)
    assert list(a) == list(b)
    assert list(DistributedSampler(_data(50), 2, 0, seed=2)) != first


def test_sampler_argument_errors(monkeypatch):
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(_data(4), 2, 2)
    with pytest.raises(ValueError, match="num_replicas must be >= 1"):
        DistributedSampler(_data(4), 0, 0)
    with pytest.raises(ValueError, match="set_epoch: epoch must be a non-negative integer"):
        DistributedSampler(_data(4), 1, 0).set_epoch(-1)
    for name in dist.LAUNCHER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if dist.is_initialized():
        dist.destroy_process_group()
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedSampler(_data(4))  # the defaults come from the process group


def test_dataloader_serves_its_sampler():
    data = _data(10)
    sampler = DistributedSampler(data, 3, 1, shuffle=False)  # [1, 4, 7, 0]
    loader = DataLoader(data, 3, sampler=sampler)
    assert len(loader) == 2
    assert [b[0].numpy().tolist() for b in loader] == [[1.0, 4.0, 7.0], [0.0]]
    assert len(DataLoader(data, 3, sampler=sampler, drop_last=True)) == 1
    assert [b[0].numpy().tolist() for b in DataLoader(data, 2, sampler=[9, 2, 5])] == [[9.0, 2.0], [5.0]]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(data, 2, shuffle=True, sampler=sampler)
