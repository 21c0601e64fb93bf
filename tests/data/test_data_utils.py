"""random_split, Subset, ConcatDataset, fastnn.Generator and the fastnn.utils.data alias
(torch.utils.data's names), checked against PyTorch where the result does not depend on the
random numbers drawn (sizes, lengths, indexing)."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
import fastnn.utils.data
from fastnn.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset, random_split

torch = pytest.importorskip("torch", reason="PyTorch is not installed: parity tests need it")


class Squares(Dataset):
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i


def indices_of(subsets) -> list[list[int]]:
    return [list(s.indices) for s in subsets]


# ------------------------------------------------------------------------------------ random_split
@pytest.mark.parametrize("lengths", [[7, 3], [0, 10], [2, 3, 5], [10]])
def test_random_split_integer_lengths_partition_the_dataset(lengths):
    parts = random_split(Squares(10), lengths, generator=fastnn.Generator().manual_seed(0))
    assert [len(p) for p in parts] == lengths
    flat = [i for p in parts for i in p.indices]
    assert sorted(flat) == list(range(10))
    assert all(isinstance(p, Subset) for p in parts)
    assert [p[j] for p in parts for j in range(len(p))] == [i * i for i in flat]


@pytest.mark.parametrize(("n", "fractions"), [(10, [0.8, 0.2]), (11, [0.8, 0.2]), (7, [1 / 3, 1 / 3, 1 / 3]),
                                              (5, [0.5, 0.25, 0.25]), (4, [0.1, 0.1, 0.8]), (1000, [0.9, 0.1])])
@pytest.mark.filterwarnings("ignore:.*Length of split at index")
def test_random_split_fraction_sizes_match_torch(n, fractions):
    ours = random_split(Squares(n), fractions, seed=1)
    theirs = torch.utils.data.random_split(list(range(n)), fractions, generator=torch.Generator().manual_seed(1))
    assert [len(p) for p in ours] == [len(p) for p in theirs]
    assert sorted(i for p in ours for i in p.indices) == list(range(n))


def test_random_split_integer_lengths_summing_to_one_are_fractions_as_in_torch():
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        parts = random_split(Squares(5), [1, 0], seed=0)
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        expected = torch.utils.data.random_split(list(range(5)), [1, 0])
    assert [len(p) for p in parts] == [len(p) for p in expected] == [5, 0]


def test_random_split_zero_size_fraction_warns_like_torch():
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        parts = random_split(Squares(3), [0.1, 0.1, 0.8], seed=0)
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        expected = torch.utils.data.random_split(list(range(3)), [0.1, 0.1, 0.8])
    assert [len(p) for p in parts] == [len(p) for p in expected]


def test_random_split_is_reproducible_from_each_source_of_randomness():
    data = Squares(50)
    same_generator = [indices_of(random_split(data, [30, 20], generator=fastnn.Generator().manual_seed(7)))
                      for _ in range(2)]
    assert same_generator[0] == same_generator[1]
    other = indices_of(random_split(data, [30, 20], generator=fastnn.Generator().manual_seed(8)))
    assert other != same_generator[0]
    assert indices_of(random_split(data, [30, 20], seed=3)) == indices_of(random_split(data, [30, 20], seed=3))
    numpy_gen = indices_of(random_split(data, [30, 20], generator=np.random.default_rng(3)))
    assert numpy_gen == indices_of(random_split(data, [30, 20], seed=3))
    fastnn.manual_seed(11)
    first = indices_of(random_split(data, [30, 20]))
    fastnn.manual_seed(11)
    assert indices_of(random_split(data, [30, 20])) == first


def test_random_split_generator_advances_between_calls():
    g = fastnn.Generator().manual_seed(0)
    assert indices_of(random_split(Squares(20), [10, 10], generator=g)) != \
        indices_of(random_split(Squares(20), [10, 10], generator=g))


@pytest.mark.parametrize(("lengths", "kwargs", "error", "match"), [
    ([6, 3], {}, ValueError, r"Sum of input lengths \(9\) does not equal the length of the input dataset \(10\)"),
    ([11, -1], {}, ValueError, "lengths must not be negative"),
    ([1.5, -0.5], {}, ValueError, "Fraction at index 0 is not between 0 and 1"),
    ([0.5, 0.2], {}, ValueError, "integers summing to 10 or fractions summing to 1"),
    (["5", 5], {}, TypeError, "length at index 0 must be a number"),
    ([5, 5], {"generator": 3}, TypeError, "generator must be a fastnn.Generator or numpy.random.Generator"),
    ([5, 5], {"generator": fastnn.Generator(), "seed": 1}, ValueError, "a generator or a seed, not both"),
    ([5, 5], {"seed": -1}, ValueError, "seed must be a non-negative integer"),
])
def test_random_split_bad_arguments(lengths, kwargs, error, match):
    with pytest.raises(error, match=match):
        random_split(Squares(10), lengths, **kwargs)


def test_random_split_of_tensor_dataset_feeds_a_dataloader():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20)
    train, val = random_split(TensorDataset(fastnn.tensor(x), fastnn.tensor(y)), [15, 5], seed=0)
    seen = []
    for xb, yb in DataLoader(val, batch_size=2):
        assert xb.shape[1:] == (2,) and xb.dtype == np.float32 and yb.dtype == np.int64
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])
        seen.extend(yb.tolist())
    assert seen == list(val.indices)
    assert sorted(seen + list(train.indices)) == list(range(20))


# ------------------------------------------------------------------------------------ Subset, ConcatDataset
def test_subset_indexing_matches_torch():
    data = [10, 11, 12, 13, 14, 15]
    ours, theirs = Subset(data, [5, 0, 2]), torch.utils.data.Subset(data, [5, 0, 2])
    assert len(ours) == len(theirs) == 3
    assert [ours[i] for i in range(3)] == [theirs[i] for i in range(3)] == [15, 10, 12]
    tensors = TensorDataset(fastnn.tensor(np.array(data)))
    (batch,) = Subset(tensors, [5, 0, 2])[[0, 2]]
    (expected,) = torch.utils.data.Subset(torch.utils.data.TensorDataset(torch.tensor(data)), [5, 0, 2])[[0, 2]]
    assert batch.tolist() == expected.tolist() == [15, 12]
    assert ours[-1] == theirs[-1]
    nested = Subset(ours, [2, 1])
    assert [nested[0], nested[1]] == [12, 10]


def test_concat_dataset_matches_torch():
    parts = [[0, 1, 2], [], [3, 4], [5]]
    ours, theirs = ConcatDataset(parts), torch.utils.data.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 6
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    for i in range(-6, 6):
        assert ours[i] == theirs[i]
    with pytest.raises(IndexError, match=r"ConcatDataset: index 6 out of range for 6 samples"):
        ours[6]
    with pytest.raises(IndexError, match=r"index -7 out of range"):
        ours[-7]
    with pytest.raises(TypeError, match="index must be an integer"):
        ours[1.0]
    with pytest.raises(ValueError, match="datasets should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(TypeError, match="ConcatDataset: dataset 1 is not a map-style dataset"):
        ConcatDataset([[1], 2])


def test_concat_of_tensor_datasets_through_dataloader():
    a = TensorDataset(fastnn.tensor(np.zeros((3, 2), dtype=np.float32)), fastnn.tensor(np.zeros(3, dtype=np.int64)))
    b = TensorDataset(fastnn.tensor(np.ones((4, 2), dtype=np.float32)), fastnn.tensor(np.ones(4, dtype=np.int64)))
    batches = list(DataLoader(ConcatDataset([a, b]), batch_size=4))
    assert [xb.shape for xb, _ in batches] == [(4, 2), (3, 2)]
    assert batches[0][1].tolist() == [0, 0, 0, 1] and batches[1][1].tolist() == [1, 1, 1]


# ------------------------------------------------------------------------------------ Generator, alias
def test_generator_behaves_like_torch_generator():
    g = fastnn.Generator()
    assert g.initial_seed() == torch.Generator().initial_seed()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    assert fastnn.Generator().manual_seed(-1).initial_seed() == torch.Generator().manual_seed(-1).initial_seed()
    state = g.get_state()
    first = g.numpy_generator().permutation(10).tolist()
    g.set_state(state)
    assert g.numpy_generator().permutation(10).tolist() == first
    assert isinstance(g.seed(), int)
    with pytest.raises(RuntimeError, match="CPU only"):
        fastnn.Generator("cuda")
    with pytest.raises(TypeError, match="seed must be an integer"):
        g.manual_seed(1.5)
    with pytest.raises(ValueError, match="not a state from Generator.get_state"):
        g.set_state({"seed": 1})


def test_utils_data_is_torch_utils_data_name_for_fastnn_data():
    assert fastnn.utils.data.__all__ == fastnn.data.__all__
    for name in fastnn.data.__all__:
        assert getattr(fastnn.utils.data, name) is getattr(fastnn.data, name), name
    for name in ("DataLoader", "Dataset", "TensorDataset", "random_split", "Subset", "ConcatDataset"):
        assert hasattr(torch.utils.data, name) and hasattr(fastnn.utils.data, name), name
