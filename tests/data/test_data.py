"""DataLoader: coverage, drop_last, determinism under a seed, batch dtypes, resumable state."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
from fastnn.data import DataLoader, Dataset, TensorDataset, default_collate
from fastnn.tensor import Tensor


def labelled(n: int = 23):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int32)
    return x, y


def epoch_ids(loader) -> list[np.ndarray]:
    return [y.numpy().copy() for _, y in loader]


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 4, 23, 50])
def test_every_sample_exactly_once_per_epoch(shuffle, batch_size):
    x, y = labelled()
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, seed=7)
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == len(loader) == -(-23 // batch_size)
        ids = np.concatenate([b[1].numpy() for b in batches])
        np.testing.assert_array_equal(np.sort(ids), np.arange(23))
        for bx, by in batches:
            np.testing.assert_array_equal(bx.numpy(), x[by.numpy()])  # rows stay paired with their labels
            assert len(by.numpy()) <= batch_size


def test_drop_last_leaves_out_the_short_batch():
    x, y = labelled()
    loader = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, drop_last=True, seed=1)
    batches = list(loader)
    assert len(loader) == len(batches) == 4 and all(b[1].shape == (5,) for b in batches)
    assert len(set(np.concatenate([b[1].numpy() for b in batches]))) == 20


def test_unshuffled_order_is_the_dataset_order():
    x, y = labelled()
    ids = np.concatenate(epoch_ids(DataLoader(TensorDataset(x, y), batch_size=4)))
    np.testing.assert_array_equal(ids, np.arange(23))


def test_same_seed_same_batches_and_different_seeds_differ():
    x, y = labelled()
    runs = [[epoch_ids(loader) for _ in range(2)]
            for loader in (DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=s) for s in (5, 5, 6))]
    for a, b in zip(runs[0], runs[1]):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
    first, other = np.concatenate(runs[0][0]), np.concatenate(runs[2][0])
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, np.concatenate(runs[0][1])), "each epoch draws a new permutation"
    assert not np.array_equal(first, np.arange(23))


def test_seed_none_draws_from_fastnn_random_and_uses_no_global_numpy_state():
    x, y = labelled()
    fastnn.random.manual_seed(3)
    a = np.concatenate(epoch_ids(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)))
    np.random.seed(0)  # noqa: NPY002  (the legacy global state must stay untouched)
    fastnn.random.manual_seed(3)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    b = np.concatenate(epoch_ids(DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True)))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_batches_are_contiguous_float32_int64_tensors():
    x = np.asfortranarray(np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32))
    y = np.arange(10, dtype=np.uint8)
    for bx, by in DataLoader(TensorDataset(Tensor(x), y), batch_size=3, shuffle=True, seed=0):
        assert isinstance(bx, Tensor) and isinstance(by, Tensor)
        assert bx.numpy().dtype == np.float32 and by.numpy().dtype == np.int64
        assert bx.numpy().flags.c_contiguous and by.numpy().flags.c_contiguous
        assert not np.shares_memory(bx.numpy(), x)


def test_float64_stays_float64():
    x = np.ones((4, 2))
    (bx,) = next(iter(DataLoader(TensorDataset(x), batch_size=4)))
    assert bx.numpy().dtype == np.float64


class Squares(Dataset):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int):
        return {"x": np.array([i, i * i], dtype=np.float32), "y": i, "name": f"s{i}"}


def test_generic_dataset_uses_default_collate():
    batches = list(DataLoader(Squares(), batch_size=4, shuffle=True, seed=2))
    assert [len(b["name"]) for b in batches] == [4, 4, 2]
    for b in batches:
        assert b["x"].numpy().dtype == np.float32 and b["y"].numpy().dtype == np.int64
        np.testing.assert_array_equal(b["x"].numpy()[:, 1], b["y"].numpy() ** 2)
        assert b["name"] == [f"s{i}" for i in b["y"].numpy()]


def test_custom_collate_fn_gets_the_samples():
    loader = DataLoader(Squares(), batch_size=3, collate_fn=lambda samples: [s["y"] for s in samples])
    assert list(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_default_collate_refuses_ragged_samples():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    assert default_collate([1.5, 2.5]).numpy().dtype == np.float32


def test_state_dict_resumes_mid_epoch_with_the_same_batches():
    x, y = labelled()
    straight = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=11)
    expected = [epoch_ids(straight) for _ in range(3)]

    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=11)
    epoch_ids(loader)
    it = iter(loader)
    next(it), next(it)
    saved = loader.state_dict()
    assert saved == {"seed": 11, "epoch": 1, "batch": 2}
    resumed = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=99)
    resumed.load_state_dict(saved)
    rest = epoch_ids(resumed)
    for u, v in zip(rest, expected[1][2:]):
        np.testing.assert_array_equal(u, v)
    assert len(rest) == len(expected[1]) - 2
    for u, v in zip(epoch_ids(resumed), expected[2]):
        np.testing.assert_array_equal(u, v)


def test_state_dict_at_an_epoch_boundary_points_to_the_next_epoch():
    x, y = labelled()
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, seed=11)
    assert loader.state_dict() == {"seed": 11, "epoch": 0, "batch": 0}
    epoch_ids(loader)
    assert loader.state_dict() == {"seed": 11, "epoch": 1, "batch": 0}
    with pytest.raises(ValueError, match="invalid state"):
        loader.load_state_dict({"seed": 11, "epoch": 0, "batch": 99})


def test_bad_arguments():
    x, y = labelled()
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, y[:-1])
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(TensorDataset(x), batch_size=0)
    with pytest.raises(TypeError, match="cannot batch arrays of dtype"):
        TensorDataset(np.array(["a", "b"]))
