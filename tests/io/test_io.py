"""fastnn.save / fastnn.load: bit-exact round trips, refusal of pickled data, damaged files, resumed training."""

from __future__ import annotations

import collections
import json
import os
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn import nn, optim
from fastnn.data import DataLoader, TensorDataset
from fastnn.io import FORMAT, HEADER, VERSION
from fastnn.optim import lr_scheduler
from fastnn.tensor import Tensor

SIDE_EFFECTS: list[str] = []


def record_side_effect(tag: str) -> str:
    SIDE_EFFECTS.append(tag)
    return tag


class Malicious:
    """Unpickling this object would call record_side_effect: loading must never do that."""

    def __reduce__(self):
        return (record_side_effect, ("unpickled!",))


def assert_identical(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, Tensor):
        assert a.requires_grad == b.requires_grad
        a, b = a.numpy(), b.numpy()
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit for bit, in C order, including nan payloads and -0.0
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert type(key) is type(next(k for k in b if k == key))
            assert_identical(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_identical(u, v)
    elif isinstance(a, float):
        assert np.float64(a).tobytes() == np.float64(b).tobytes()
    else:
        assert a == b


def sample_object(dtype):
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, np.finfo(dtype).tiny, np.finfo(dtype).max], dtype=dtype)
    return {
        "model": collections.OrderedDict(weight=Tensor(rng.normal(size=(3, 4)).astype(dtype)),
                                         bias=Tensor(special, requires_grad=True)),
        "optimizer": {"state": {0: {"step": 7, "exp_avg": rng.normal(size=(3, 4)).astype(dtype)}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False}]},
        "strided": rng.normal(size=(4, 6)).astype(dtype)[::2, ::3],
        "labels": np.arange(5, dtype=np.int64), "mask": np.array([True, False]), "bytes": np.arange(4, dtype=np.uint8),
        "empty": np.zeros((0, 3), dtype=dtype), "zero_d": np.array(2.5, dtype=dtype), "scalar": dtype(1) / dtype(3),
        "numbers": [0.1, -1e-310, 2**70, -3, float("inf"), float("nan"), True, None, "text ✓"],
        1: "int key", 2.5: "float key", None: "None key", "nested": [[{"deep": (np.ones(2, dtype=dtype),)}]],
    }


def test_round_trip_is_bit_exact(tmp_path, dtype):
    obj = sample_object(dtype)
    path = tmp_path / "checkpoint.fnn"
    fastnn.save(obj, path)
    loaded = fastnn.load(path)
    assert_identical(obj, loaded)
    assert isinstance(loaded["model"], collections.OrderedDict)
    assert loaded["model"]["weight"].numpy().flags.writeable and loaded["strided"].flags.c_contiguous


def test_file_is_an_npz_with_a_versioned_json_header(tmp_path):
    path = tmp_path / "c.fnn"
    fastnn.save({"w": np.ones(3)}, path)
    with np.load(path, allow_pickle=False) as archive:
        header = json.loads(archive[HEADER].decode())
        assert header["format"] == FORMAT and header["version"] == VERSION
        np.testing.assert_array_equal(archive[header["root"]["dict"][0][1]["array"]], np.ones(3))


def test_save_refuses_what_it_cannot_store_safely(tmp_path):
    with pytest.raises(TypeError, match="dtype object"):
        fastnn.save({"bad": np.array([Malicious()], dtype=object)}, tmp_path / "x.fnn")
    with pytest.raises(TypeError, match=r"cannot save obj\['f'\] of type function"):
        fastnn.save({"f": record_side_effect}, tmp_path / "x.fnn")
    assert not os.listdir(tmp_path)


def test_plain_npz_with_a_pickled_object_array_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, payload=np.array([Malicious()], dtype=object))
    SIDE_EFFECTS.clear()
    with pytest.raises(ValueError, match=f"{path}.*missing member 'header.json'"):
        fastnn.load(path)
    assert SIDE_EFFECTS == []


def test_pickled_member_in_a_valid_header_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.fnn"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(HEADER, json.dumps({"format": FORMAT, "version": VERSION, "root": {"array": "a0"}}))
        with archive.open("a0.npy", "w") as member:
            np.lib.format.write_array(member, np.array([Malicious()], dtype=object), allow_pickle=True)
    SIDE_EFFECTS.clear()
    with pytest.raises(ValueError, match=f"{path}: member 'a0' .*pickled data is refused"):
        fastnn.load(path)
    assert SIDE_EFFECTS == []
    np.load(path, allow_pickle=True)["a0"]  # the payload is live: unpickling it does run code
    assert SIDE_EFFECTS == ["unpickled!"]


@pytest.mark.parametrize("keep", [0, 3, 40, 0.5, 0.9])
def test_truncated_file_gives_a_clear_error(tmp_path, keep):
    path = tmp_path / "c.fnn"
    fastnn.save(sample_object(np.float32), path)
    data = path.read_bytes()
    path.write_bytes(data[:int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(ValueError, match=f"fastnn.load: {path}: .*(truncated|not a fastnn checkpoint|corrupted)"):
        fastnn.load(path)


def test_corrupted_array_bytes_fail_the_crc_check(tmp_path):
    path = tmp_path / "c.fnn"
    fastnn.save({"w": np.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    offset = data.index(b"\x00" * 64, data.index(b"a0.npy") + 200)
    data[offset + 10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{path}: .*corrupted"):
        fastnn.load(path)


def write_header(path, header: dict, arrays: dict | None = None):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(HEADER, json.dumps(header))
        for name, array in (arrays or {}).items():
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, array)


def test_unknown_version_other_format_and_missing_member(tmp_path):
    path = tmp_path / "c.fnn"
    write_header(path, {"format": FORMAT, "version": VERSION + 1, "root": None})
    with pytest.raises(ValueError, match=f"{path}: unsupported format version {VERSION + 1}"):
        fastnn.load(path)
    write_header(path, {"format": "something-else", "version": VERSION, "root": None})
    with pytest.raises(ValueError, match="format 'something-else' is not 'fastnn-checkpoint'"):
        fastnn.load(path)
    write_header(path, {"format": FORMAT, "version": VERSION, "root": {"dict": [["w", {"array": "a5"}]]}},
                 {"a0": np.ones(2)})
    with pytest.raises(ValueError, match=f"{path}: missing array member 'a5'"):
        fastnn.load(path)
    write_header(path, {"format": FORMAT, "version": VERSION, "root": {"mystery": 1}})
    with pytest.raises(ValueError, match="unknown node"):
        fastnn.load(path)


def test_failed_save_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.fnn"
    fastnn.save({"w": np.ones(3)}, path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", broken)
    with pytest.raises(OSError, match="disk full"):
        fastnn.save({"w": np.zeros(3)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.fnn"]


# ------------------------------------------------------------- resumed training
N_SAMPLES, BATCH, EPOCHS = 60, 8, 4


def training_setup(init_seed: int):
    fastnn.manual_seed(init_seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    rng = np.random.default_rng(42)
    x = rng.normal(size=(N_SAMPLES, 5)).astype(np.float32)
    y = rng.integers(0, 3, size=N_SAMPLES)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, seed=1234)
    opt = optim.Adam([{"params": model[0].parameters()}, {"params": model[2].parameters(), "lr": 0.02}],
                     lr=0.01, amsgrad=True)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=[0.05, 0.02], total_steps=EPOCHS * len(loader))
    return model, opt, sched, loader


def train(model, opt, sched, loader, n_batches: int) -> None:
    loss_fn = nn.CrossEntropyLoss()
    done = 0
    while done < n_batches:
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
            sched.step()
            done += 1
            if done == n_batches:
                return


@pytest.mark.parametrize("stop_after", [2 * 8, 2 * 8 + 3])  # at an epoch boundary and mid-epoch
def test_resumed_checkpoint_ends_with_exactly_the_uninterrupted_weights(tmp_path, stop_after):
    model, opt, sched, loader = training_setup(init_seed=0)
    total = EPOCHS * len(loader)
    assert len(loader) == 8
    initial = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    train(model, opt, sched, loader, total)
    expected = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    assert not np.array_equal(expected["0.weight"], initial["0.weight"])

    model, opt, sched, loader = training_setup(init_seed=0)
    train(model, opt, sched, loader, stop_after)
    path = tmp_path / "checkpoint.fnn"
    fastnn.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "loader": loader.state_dict(), "batches_done": stop_after}, path)
    del model, opt, sched, loader

    model, opt, sched, loader = training_setup(init_seed=99)  # different weights until the checkpoint loads
    checkpoint = fastnn.load(path)
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    sched.load_state_dict(checkpoint["scheduler"])
    loader.load_state_dict(checkpoint["loader"])
    train(model, opt, sched, loader, total - checkpoint["batches_done"])
    for key, value in model.state_dict().items():
        assert value.numpy().tobytes() == expected[key].tobytes(), key


def test_mismatched_model_checkpoint_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.fnn"
    fastnn.save({"model": nn.Linear(4, 3).state_dict()}, path)
    with pytest.raises(Exception, match=r"size mismatch for weight.*\(3, 4\)"):
        nn.Linear(5, 3).load_state_dict(fastnn.load(path)["model"])


SCHEDULER_BUILDERS = {
    "StepLR": lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    "MultiStepLR": lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2, 7, 7, 11], gamma=0.5),
    "ExponentialLR": lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "CosineAnnealingLR": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.001),
    "LambdaLR": lambda opt: lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 / (1 + epoch)),
    "OneCycleLR": lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=20, three_phase=True),
    "ReduceLROnPlateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1),
}


@pytest.mark.parametrize("name", sorted(SCHEDULER_BUILDERS))
def test_scheduler_and_optimizer_state_survive_a_file(tmp_path, name):
    metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.2, 0.7, 0.75, 0.8, 0.9, 1.0, 1.0]

    def build():
        p = Tensor(np.zeros(2), requires_grad=True)
        opt = optim.SGD([p], lr=0.1, momentum=0.9)
        return opt, SCHEDULER_BUILDERS[name](opt)

    def advance(opt, sched, epochs):
        out = []
        for epoch in epochs:
            if name == "ReduceLROnPlateau":
                sched.step(metrics[epoch])
            else:
                sched.step()
            out.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        return out

    opt, sched = build()
    advance(opt, sched, range(6))
    fastnn.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "s.fnn")
    expected = advance(opt, sched, range(6, 18))
    assert len(set(expected)) > 1
    opt2, sched2 = build()
    checkpoint = fastnn.load(tmp_path / "s.fnn")
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    assert advance(opt2, sched2, range(6, 18)) == expected
