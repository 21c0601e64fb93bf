"""What ``fastnn.train.fit`` needs to train one model across MPI ranks.

:class:`Replicas` is the world as fit sees it: this rank, the model it runs forward through (a
:class:`~fastnn.nn.parallel.DistributedDataParallel` around the user's model when there is more
than one rank) and the collective steps of the loop: sharding the loaders, summing the epoch's
loss and metric totals, agreeing on rank 0's record (so early stopping and ReduceLROnPlateau
decide the same everywhere), checkpoints read by rank 0 and broadcast, and aborting the whole job
when any rank raises. In a world of one every step is the identity and nothing is communicated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from fastnn import random
from fastnn.data import DataLoader, DistributedSampler
from fastnn.distributed import process_group as dist
from fastnn.io import load
from fastnn.nn.parallel import DistributedDataParallel


class Replicas:
    """This rank's view of a data-parallel run (see the module docstring)."""

    def __init__(self, model: Any, distributed: bool | None) -> None:
        """Join the process group (started here when ``distributed`` is None and MPI launched this process,
        or ``distributed`` is True) and wrap ``model`` for gradient averaging when there are several ranks."""
        if distributed not in (None, True, False):
            raise ValueError(f"fit: distributed must be None (automatic), True or False, got {distributed!r}")
        self.core = model.module if isinstance(model, DistributedDataParallel) else model
        self.size, self.rank = 1, 0
        if distributed is not False and (dist.is_initialized() or distributed or dist.launched_by_mpi()):
            if not dist.is_initialized():
                dist.init_process_group()
            self.size, self.rank = dist.get_world_size(), dist.get_rank()
        if self.size > 1 and not isinstance(model, DistributedDataParallel):
            model = DistributedDataParallel(model)
        self.model = model

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that logs and writes checkpoints."""
        return self.rank == 0

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """With several ranks, an exception on any rank prints its traceback and ends the whole job (the
        other ranks would otherwise wait for it forever in their next collective)."""
        try:
            yield
        except Exception as exc:
            if self.size == 1:
                raise
            dist.abort_with_traceback(exc)

    def shard_train(self, loader: Iterable) -> Iterable:
        """A DataLoader without a sampler of its own, served through a :class:`DistributedSampler` (its
        shuffle and seed, padded to equal shards); any other loader unchanged."""
        if self.size == 1 or not isinstance(loader, DataLoader) or loader.sampler is not None:
            return loader
        sampler = DistributedSampler(loader.dataset, self.size, self.rank, shuffle=loader.shuffle, seed=loader.seed)
        return DataLoader(loader.dataset, loader.batch_size, drop_last=loader.drop_last, seed=loader.seed,
                          collate_fn=loader.collate_fn, sampler=sampler)

    def shard_eval(self, loader: Iterable | None) -> Iterable | None:
        """A DataLoader without a sampler, cut into unpadded shards (rank r takes samples r, r + size, ...), so
        the summed totals are exactly those of the whole set; any other loader unchanged."""
        if self.size == 1 or not isinstance(loader, DataLoader) or loader.sampler is not None:
            return loader
        shard = np.arange(self.rank, len(loader.dataset), self.size)
        return DataLoader(loader.dataset, loader.batch_size, seed=loader.seed, collate_fn=loader.collate_fn,
                          sampler=shard)

    def start_epoch(self, loader: Iterable, epoch: int) -> None:
        """Point the loader's sampler at ``epoch``, and check that every rank will run as many batches."""
        sampler = getattr(loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        if self.size == 1:
            return
        try:
            mine = len(loader)
        except TypeError:
            mine = None
        counts: list = [None] * self.size
        dist.all_gather_object(counts, mine)
        if None in counts or len(set(counts)) != 1:
            raise ValueError(f"fit: under MPI every rank must run the same number of batches per epoch (a loader "
                             f"with a length); the ranks' training loaders have {counts} batches")

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums over the ranks (float64)."""
        if self.size == 1:
            return values
        array = np.array(values, dtype=np.float64)
        dist.all_reduce(array, dist.ReduceOp.SUM)
        return array.tolist()

    def agree(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def rng_states(self) -> list[dict] | None:
        """Every rank's random state, in rank order (None in a world of one)."""
        if self.size == 1:
            return None
        states: list = [None] * self.size
        dist.all_gather_object(states, random.get_rng_state())
        return states

    def load_checkpoint(self, path: str) -> dict:
        """The checkpoint at ``path`` as rank 0 reads it, on every rank (other ranks need not see the file)."""
        return load(path) if self.size == 1 else self.agree(load(path) if self.is_main else None)

    def restore_rng(self, state: dict) -> None:
        """This rank's random state from a checkpoint (rank 0's when it was written by another world size)."""
        ranks = state.get("rng_ranks")
        random.set_rng_state(ranks[self.rank] if ranks is not None and len(ranks) == self.size else state["rng"])


__all__ = ["Replicas"]
