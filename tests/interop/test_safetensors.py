"""fastnn.save_safetensors / load_safetensors: PyTorch's weights in and out, and hostile files."""

from __future__ import annotations

import json
import os
import struct
import sys

import numpy as np
import pytest

pytest.importorskip("safetensors", reason="safetensors support needs the safetensors package "
                                         "(pip install 'fastnn[interop]')")

import fastnn  # noqa: E402
from fastnn import nn  # noqa: E402
from fastnn.safetensors import read_header  # noqa: E402


class Net(nn.Module):
    """Named sub-modules and an integer buffer, like a torch model with BatchNorm's counter."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        self.register_buffer("steps", fastnn.tensor(np.array(7, dtype=np.int64)))

    def forward(self, ids):
        return self.body(self.embed(ids).mean(1))


def torch_net():
    torch = pytest.importorskip("torch", reason="PyTorch parity needs torch")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(10, 4)
            self.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
            self.register_buffer("steps", torch.tensor(7, dtype=torch.int64))

        def forward(self, ids):
            return self.body(self.embed(ids).mean(1))

    return torch, TorchNet()


IDS = np.array([[1, 2, 3], [4, 5, 9]], dtype=np.int64)


def test_torch_file_loads_into_fastnn(tmp_path):
    torch, tnet = torch_net()
    from safetensors.torch import save_file
    torch.nn.init.normal_(tnet.body[0].weight)
    tnet.steps.fill_(42)
    path = tmp_path / "torch.safetensors"
    save_file(tnet.state_dict(), str(path))
    net = Net()
    result = net.load_state_dict(fastnn.load_safetensors(path))
    assert result.missing_keys == [] and result.unexpected_keys == []
    with torch.no_grad():
        expected = tnet(torch.from_numpy(IDS)).numpy()
    np.testing.assert_allclose(net(fastnn.tensor(IDS)).numpy(), expected, rtol=1e-6, atol=1e-6)
    assert net.steps.numpy().dtype == np.int64 and int(net.steps.item()) == 42


def test_fastnn_file_loads_into_torch(tmp_path):
    torch, tnet = torch_net()
    from safetensors.torch import load_file
    fastnn.manual_seed(1)
    net = Net()
    path = tmp_path / "fastnn.safetensors"
    fastnn.save_safetensors(net.state_dict(), path, metadata={"note": "test"})
    loaded = load_file(str(path))
    assert loaded["steps"].dtype == torch.int64
    tnet.load_state_dict(loaded)
    with torch.no_grad():
        got = tnet(torch.from_numpy(IDS)).numpy()
    np.testing.assert_allclose(got, net(fastnn.tensor(IDS)).numpy(), rtol=1e-6, atol=1e-6)
    _, metadata, _ = read_header(path)
    assert metadata == {"format": "pt", "note": "test"}
    assert sorted(os.listdir(tmp_path)) == ["fastnn.safetensors"]  # no temporary file left


def test_round_trip_keeps_dtypes_and_values(tmp_path):
    arrays = {"f64": np.arange(6, dtype=np.float64).reshape(2, 3), "i32": np.array([1, -2], dtype=np.int32),
              "u8": np.array([0, 255], dtype=np.uint8), "b": np.array([True, False]),
              "scalar": np.array(3.5, dtype=np.float32), "empty": np.zeros((0, 4), dtype=np.float32),
              "strided": np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]}
    fastnn.save_safetensors(arrays, tmp_path / "a.safetensors")
    back = fastnn.load_safetensors(tmp_path / "a.safetensors")
    assert list(back) == sorted(back, key=list(back).index)
    for key, array in arrays.items():
        assert back[key].numpy().dtype == array.dtype
        np.testing.assert_array_equal(back[key].numpy(), array)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_upcasts_with_a_warning_naming_the_keys(tmp_path, dtype):
    torch = pytest.importorskip("torch", reason="writing bfloat16 needs torch")
    from safetensors.torch import save_file
    values = torch.tensor([[1.5, -2.25], [3.0, 0.099609375]], dtype=getattr(torch, dtype))
    save_file({"w": values, "n": torch.arange(3)}, str(tmp_path / "h.safetensors"))
    with pytest.warns(UserWarning, match=r"upcast .*: w$"):
        state = fastnn.load_safetensors(tmp_path / "h.safetensors")
    assert state["w"].numpy().dtype == np.float32 and state["n"].numpy().dtype == np.int64
    np.testing.assert_array_equal(state["w"].numpy(), values.float().numpy())


def _write(path, header: dict, data: bytes, length: int | None = None) -> None:
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw) if length is None else length) + raw + data)


GOOD = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}


@pytest.mark.parametrize("header,data,length,match", [
    (GOOD, b"\0" * 12, None, "truncated"),
    (GOOD, b"\0" * 20, None, "trailing bytes"),
    ({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 16]}}, b"\0" * 16, None, r"needs 24 bytes"),
    ({"w": {"dtype": "C64", "shape": [2], "data_offsets": [0, 16]}}, b"\0" * 16, None, "unsupported dtype 'C64'"),
    ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8, None, "non-negative"),
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, None, "overlapping"),
    ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, b"\0" * 16, None, "gap"),
    ({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8, None, "data_offsets"),
    (GOOD, b"\0" * 16, 10**9, "header length"),
    (["not", "a", "dict"], b"", None, "expected an object"),
])
def test_hostile_files_are_clear_errors(tmp_path, header, data, length, match):
    path = tmp_path / "bad.safetensors"
    _write(path, header, data, length)
    net = nn.Linear(2, 2)
    before = net.weight.numpy().copy()
    with pytest.raises(ValueError, match=match):
        fastnn.load_safetensors(path, model=net)
    np.testing.assert_array_equal(net.weight.numpy(), before)


def test_not_json_and_too_short(tmp_path):
    (tmp_path / "short").write_bytes(b"\1\2")
    with pytest.raises(ValueError, match="too short"):
        fastnn.load_safetensors(tmp_path / "short")
    (tmp_path / "junk").write_bytes(struct.pack("<Q", 4) + b"\xff{{{")
    with pytest.raises(ValueError, match="not valid JSON"):
        fastnn.load_safetensors(tmp_path / "junk")


def test_keys_that_do_not_fit_the_model_change_nothing(tmp_path):
    net = Net()
    state = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    before = {k: v.copy() for k, v in state.items()}
    bad = dict(state)
    bad["body.2.weight"] = np.zeros((3, 9), dtype=np.float32)
    bad["steps"] = np.array(1.5)
    del bad["embed.weight"]
    bad["extra"] = np.zeros(1, dtype=np.float32)
    fastnn.save_safetensors(bad, tmp_path / "bad.safetensors")
    with pytest.raises(ValueError) as info:
        fastnn.load_safetensors(tmp_path / "bad.safetensors", model=net)
    message = str(info.value)
    for part in ("missing key(s) ['embed.weight']", "unexpected key(s) ['extra']", "body.2.weight: shape (3, 9)",
                 "steps: dtype float64"):
        assert part in message
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])
    good = dict(state)
    good["body.0.bias"] = np.ones(8, dtype=np.float32)
    fastnn.save_safetensors(good, tmp_path / "good.safetensors")
    fastnn.load_safetensors(tmp_path / "good.safetensors", model=net)
    np.testing.assert_array_equal(net.body[0].bias.numpy(), 1.0)


def test_save_rejects_bad_input_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "w.safetensors"
    fastnn.save_safetensors({"a": np.ones(2, dtype=np.float32)}, path)
    old = path.read_bytes()
    with pytest.raises(TypeError, match="'c' has dtype complex128"):
        fastnn.save_safetensors({"b": np.ones(2), "c": np.ones(2, dtype=complex)}, path)
    with pytest.raises(TypeError, match="'d' is a list"):
        fastnn.save_safetensors({"d": [1, 2]}, path)
    with pytest.raises(ValueError, match="__metadata__"):
        fastnn.save_safetensors({"__metadata__": np.ones(1)}, path)
    with pytest.raises(TypeError, match="metadata"):
        fastnn.save_safetensors({"a": np.ones(1)}, path, metadata={"n": 1})
    assert path.read_bytes() == old


def test_import_fastnn_does_not_import_the_optional_packages():
    import subprocess
    code = ("import sys, fastnn; bad = [m for m in ('safetensors', 'onnx', 'onnxruntime', 'sklearn') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastnn.__file__)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
