"""Datasets and mini-batch loading, as torch.utils.data: ``Dataset``, ``TensorDataset``, ``DataLoader``.

Shuffling permutes an index array, never the data. The order of epoch ``e`` is drawn by a NumPy
``Generator`` of the loader's own, seeded with the pair ``(seed, e)``: it depends on nothing but
the loader's seed and the epoch number (no global random state), so the same seed gives the same
batches, and the loader's whole state is three integers (seed, epoch, batches already served in
that epoch) that ``state_dict()`` returns and ``load_state_dict()`` restores, to resume a run
with exactly the batches it would have seen.

A ``TensorDataset`` batch is gathered by one fancy-indexing ``take`` per array (no per-sample
loop) into a fresh C-contiguous array; floating arrays keep float32/float64 (other float widths
become float32), integers become int64. Batches come wrapped as ``fastnn.Tensor``.
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from fastnn import random as fn_random
from fastnn.tensor import Tensor, from_numpy


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample i, ``len(dataset)`` the number of samples."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


def _array(value: Any) -> np.ndarray:
    return value.array if isinstance(value, Tensor) else np.asarray(value)


def _batch_dtype(dtype: np.dtype) -> np.dtype:
    """float32/float64 stay, other floats become float32, integers int64, bools stay."""
    if dtype in (np.float32, np.float64) or dtype == np.bool_:
        return dtype
    if np.issubdtype(dtype, np.floating):
        return np.dtype(np.float32)
    if np.issubdtype(dtype, np.integer):
        return np.dtype(np.int64)
    raise TypeError(f"DataLoader: cannot batch arrays of dtype {dtype} (expected numbers or bools)")


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors/arrays: ``dataset[i] = (t[i] for t in tensors)``."""

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        arrays = tuple(_array(t) for t in tensors)
        for a in arrays:
            if a.ndim == 0:
                raise ValueError("TensorDataset: tensors must have a first (sample) dimension, got a scalar")
            _batch_dtype(a.dtype)
        lengths = [a.shape[0] for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: Size mismatch between tensors (first dimensions {lengths})")
        self.arrays = arrays
        self.tensors = tuple(t if isinstance(t, Tensor) else from_numpy(a) for t, a in zip(tensors, arrays))

    def __getitem__(self, index: int) -> tuple:
        return tuple(from_numpy(np.asarray(a[index])) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def gather(self, indices: np.ndarray) -> list[Tensor]:
        """The batch of rows ``indices`` of every array, each a fresh contiguous array wrapped as a Tensor."""
        return [from_numpy(np.ascontiguousarray(np.take(a, indices, axis=0), dtype=_batch_dtype(a.dtype)))
                for a in self.arrays]


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: tuples/lists column by column (a list of batches), dicts
    key by key, strings into a list, numbers and arrays/tensors into one Tensor with a leading batch axis
    (Python floats become float32, integers int64)."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: each sample in a batch must have the same number of fields")
        return [default_collate(column) for column in zip(*samples)]
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, str):
        return list(samples)
    if type(first) is float:
        return from_numpy(np.array(samples, dtype=np.float32))
    arrays = [_array(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}")
    stacked = np.stack(arrays)
    return from_numpy(np.ascontiguousarray(stacked, dtype=_batch_dtype(stacked.dtype)))


# ------------------------------------------------------------------------------------ samplers
class Sampler:
    """An iterable over sample indices with a length, as torch.utils.data.Sampler; a DataLoader
    given ``sampler=`` serves the samples in the order it yields."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class DistributedSampler(Sampler):
    """Rank ``rank``'s share of ``dataset`` among ``num_replicas`` processes (torch's semantics).

    Each epoch the indices 0..n-1 (shuffled by a generator seeded with ``(seed, epoch)``, the same
    order as ``DataLoader(shuffle=True, seed=seed)`` serves in that epoch, when ``shuffle``) are
    padded by repeating their start until the total divides by ``num_replicas`` (or, with
    ``drop_last``, cut to the largest multiple), and rank r takes every ``num_replicas``-th index from
    position r. The shards are disjoint apart from the padding, cover every sample, and have equal
    lengths, so every rank runs the same number of batches. Call :meth:`set_epoch` before each epoch
    (``fit`` does) to draw a new order. ``num_replicas`` and ``rank`` default to the process group's.
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from fastnn import distributed

            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"DistributedSampler: {name} must be an integer, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if seed < 0:
            raise ValueError(f"DistributedSampler: seed must be non-negative, got {seed}")
        self.dataset = dataset
        self.num_replicas, self.rank, self.seed = int(num_replicas), int(rank), int(seed)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` from now on (every rank must set the same epoch)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"DistributedSampler.set_epoch: epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, in the order they are served."""
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n and n:
            order = np.resize(order, self.total_size)  # repeats the order from its start: torch's padding
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

# ------------------------------------------------------------------------------------ end of samplers


class DataLoader:
    """Iterate over a dataset in mini-batches of ``batch_size`` samples.

    shuffle: a new permutation of the samples each epoch (see the module docstring); drop_last: leave out
    a final batch smaller than batch_size; seed: the loader's seed (None draws one from
    ``fastnn.random``, so ``fastnn.manual_seed`` makes it reproducible); collate_fn: builds a batch from
    a list of samples (default :func:`default_collate`; a TensorDataset without collate_fn takes the
    fancy-indexing fast path); sampler: an iterable of sample indices with a length (such as a
    :class:`DistributedSampler`) served instead of ``range(len(dataset))``, exclusive with shuffle.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, collate_fn: Callable[[list], Any] | None = None,
                 sampler: Iterable[int] | None = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.seed = int(seed) if seed is not None else fn_random.next_seed()
        self._epoch = 0  # the epoch the next __iter__ serves
        self._resume_batch = 0  # batches of that epoch to skip (set by load_state_dict)
        self._position: tuple[int, int] | None = None  # (epoch, batches served) while an epoch is under way

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The sample indices of `epoch` in the order they are served (a sampler's current order)."""
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, int(epoch)]).permutation(n)

    def __iter__(self) -> Iterator[Any]:
        epoch, start = self._epoch, self._resume_batch
        self._epoch, self._resume_batch = epoch + 1, 0
        self._position = (epoch, start)
        return self._batches(epoch, self.order(epoch), start)

    def _batches(self, epoch: int, order: np.ndarray, start: int) -> Iterator[Any]:
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        collate = self.collate_fn or default_collate
        for b in range(start, len(self)):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            self._position = (epoch, b + 1)
            if fast:
                yield self.dataset.gather(indices)
            else:
                yield collate([self.dataset[int(i)] for i in indices])
        self._position = None

    def state_dict(self) -> dict[str, int]:
        """{'seed', 'epoch', 'batch'}: the next batch served is batch `batch` of epoch `epoch`."""
        if self._position is not None and self._position[1] < len(self):
            epoch, batch = self._position
        else:
            epoch, batch = (self._position[0] + 1 if self._position else self._epoch), 0
        return {"seed": self.seed, "epoch": epoch, "batch": batch}

    def load_state_dict(self, state_dict: dict[str, int]) -> None:
        """Continue from a :meth:`state_dict`: the next iteration serves the rest of that epoch."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"seed", "epoch", "batch"}:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"DataLoader.load_state_dict: expected keys ['batch', 'epoch', 'seed'], got {got}")
        values = {key: int(value) for key, value in state_dict.items()}
        if values["seed"] < 0 or values["epoch"] < 0 or not 0 <= values["batch"] <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: invalid state {values} for a loader of {len(self)} batches")
        self.seed, self._epoch, self._resume_batch = values["seed"], values["epoch"], values["batch"]
        self._position = None


# ------------------------------------------------------------------------------------ subsets and splits
# (issue 10: torch.utils.data's Subset, ConcatDataset and random_split)
class Subset(Dataset):
    """The samples ``indices`` of ``dataset``, in that order: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: int | list) -> Any:
        if isinstance(index, list):  # a list of positions goes to the dataset as one list, as in PyTorch
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """The datasets one after the other: sample i of the concatenation is found by bisection over
    ``cumulative_sizes`` (the running totals of the datasets' lengths)."""

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for i, dataset in enumerate(self.datasets):
            if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
                raise TypeError(f"ConcatDataset: dataset {i} is not a map-style dataset (no __len__ and "
                                f"__getitem__): {type(dataset).__name__}")
        self.cumulative_sizes = [int(n) for n in itertools.accumulate(len(d) for d in self.datasets)]

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"ConcatDataset: index must be an integer, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"ConcatDataset: index {index} out of range for {len(self)} samples")
        index = int(index) % len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator: Any = None, *,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given lengths, as
    torch.utils.data.random_split.

    lengths: integers summing to ``len(dataset)``, or fractions summing to 1 (each split gets
    floor(n * fraction) samples, and the remainder is dealt out one by one from the first split).
    The permutation is drawn from ``generator`` (a :class:`fastnn.Generator` or a NumPy Generator),
    else from a NumPy generator seeded with ``seed``, else from fastnn's global random state (so
    ``fastnn.manual_seed`` makes it reproducible). The draws are NumPy's, not PyTorch's.
    """
    n = len(dataset)
    lengths = list(lengths)
    for i, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, float, np.integer, np.floating)):
            raise TypeError(f"random_split: length at index {i} must be a number, got {type(length).__name__}")
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions (PyTorch's test, first)
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: Fraction at index {i} is not between 0 and 1 ({fraction})")
        sizes = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: Length of split at index {i} is 0. This might result in an empty "
                              "dataset.", UserWarning, stacklevel=2)
    elif all(isinstance(x, (int, np.integer)) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(x < 0 for x in sizes):
            raise ValueError(f"random_split: lengths must not be negative, got {sizes}")
    else:
        raise ValueError(f"random_split: lengths must be integers summing to {n} or fractions summing to 1, "
                         f"got {lengths}")
    if sum(sizes) != n:
        raise ValueError(f"random_split: Sum of input lengths ({sum(sizes)}) does not equal the length of the input "
                         f"dataset ({n})!")
    if generator is not None and seed is not None:
        raise ValueError("random_split: give a generator or a seed, not both")
    if isinstance(generator, fn_random.Generator):
        rng = generator.numpy_generator()
    elif isinstance(generator, np.random.Generator):
        rng = generator
    elif generator is not None:
        raise TypeError(f"random_split: generator must be a fastnn.Generator or numpy.random.Generator, "
                        f"got {type(generator).__name__}")
    elif seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"random_split: seed must be a non-negative integer, got {seed!r}")
        rng = np.random.default_rng(int(seed))
    else:
        rng = fn_random.default_generator()
    order = rng.permutation(n).tolist()
    return [Subset(dataset, order[end - size:end]) for end, size in zip(itertools.accumulate(sizes), sizes)]


__all__ = ["ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "Sampler", "Subset", "TensorDataset",
           "default_collate", "random_split"]
