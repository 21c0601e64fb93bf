"""Weights in and out as safetensors files, with PyTorch's key names:
``save_safetensors(state_dict, path)`` and ``load_safetensors(path)``.

A fastnn ``state_dict`` uses PyTorch's names (``0.weight``, ``encoder.bias``, ...) and layouts
(``Linear.weight`` is (out_features, in_features)), so a file written by
``safetensors.torch.save_file(torch_model.state_dict(), path)`` loads with
``fastnn_model.load_state_dict(load_safetensors(path))`` and a file written here loads with
``torch_model.load_state_dict(safetensors.torch.load_file(path))``.

Reading never trusts the file. Before any tensor is read the header is checked: its length
against the file size, its JSON, each entry's dtype, shape and byte range (the range must hold
exactly prod(shape) * itemsize bytes), and the ranges must tile the data section without gaps or
overlaps up to the end of the file (a truncated file fails here). Any problem raises ValueError
naming the path, the key and what is wrong; nothing is returned and no model is changed.
bfloat16 and float16 tensors are upcast to float32 with one warning naming the keys; integer
and bool tensors keep their dtype. Writing is atomic (a temporary file renamed over the target).

Needs the ``safetensors`` package (``pip install 'fastnn[interop]'``), imported only when called.
"""

from __future__ import annotations

import json
import os
import struct
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from fastnn.io import atomic_write
from fastnn.tensor import Tensor, from_numpy

# safetensors dtype name -> NumPy dtype (little-endian, as the format stores them)
DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
UPCAST = ("F16", "BF16")
MAX_HEADER = 100 * 1024 * 1024  # the safetensors specification's limit


def _package():
    """The safetensors package (this module shares its name; the import is absolute)."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise ImportError("fastnn's safetensors support needs the safetensors package: "
                          "pip install 'fastnn[interop]' (or pip install safetensors)") from None
    return safetensors


def _as_array(key: str, value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        array = value.numpy()
    elif isinstance(value, np.ndarray):
        array = value
    else:
        raise TypeError(f"save_safetensors: {key!r} is a {type(value).__name__}; expected a fastnn Tensor or a "
                        "NumPy array")
    if array.dtype.newbyteorder("<") not in DTYPES.values() or array.dtype.kind not in "biuf":
        raise TypeError(f"save_safetensors: {key!r} has dtype {array.dtype}; safetensors stores bool, integer "
                        "and float16/32/64 arrays")
    return array if array.flags.c_contiguous else array.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)


def save_safetensors(state_dict: Mapping[str, Any], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> None:
    """Write name -> tensor (fastnn Tensors or NumPy arrays) to `path` in the safetensors format,
    atomically. `metadata` (str -> str) goes into the header; ``format`` defaults to ``"pt"``,
    the value PyTorch tools (e.g. transformers) expect."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save_safetensors: expected a mapping of names to tensors, got {type(state_dict).__name__}")
    arrays = {}
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key or key == "__metadata__":
            raise ValueError(f"save_safetensors: invalid tensor name {key!r} (a non-empty str other than "
                             "'__metadata__')")
        arrays[key] = _as_array(key, value)
    header_metadata = {"format": "pt"}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                        for k, v in metadata.items()):
            raise TypeError("save_safetensors: metadata must map str to str")
        header_metadata.update(metadata)
    data = _package().numpy.save(arrays, metadata=header_metadata)
    with atomic_write(path, "wb") as f:
        f.write(data)


def read_header(path: str | os.PathLike) -> tuple[dict[str, dict], dict[str, str], int]:
    """Validate the header of a safetensors file: (entries in data order, metadata, data offset).
    Raises ValueError naming the problem for anything that does not match the specification."""
    path = os.fspath(path)

    def fail(problem: str) -> ValueError:
        return ValueError(f"load_safetensors: {path}: {problem}")

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise fail(f"file of {size} bytes is too short for a safetensors header")
        (length,) = struct.unpack("<Q", prefix)
        if length > size - 8 or length > MAX_HEADER:
            raise fail(f"header length {length} exceeds the file ({size} bytes) or the format's limit; "
                       "truncated or not a safetensors file")
        raw = f.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise fail(f"header is a JSON {type(header).__name__}, expected an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail("__metadata__ must map str to str")
    entries = []
    for key, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise fail(f"tensor {key!r}: entry must have exactly dtype, shape and data_offsets, got {info!r:.120}")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            raise fail(f"tensor {key!r}: unsupported dtype {dtype!r} (supported: {', '.join(DTYPES)})")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                  for d in shape):
            raise fail(f"tensor {key!r}: shape must be a list of non-negative ints, got {shape!r:.80}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) and
                                                                       not isinstance(o, bool) for o in offsets)
                and 0 <= offsets[0] <= offsets[1]):
            raise fail(f"tensor {key!r}: data_offsets must be [begin, end] with 0 <= begin <= end, got {offsets!r}")
        expected = int(np.prod(shape, dtype=np.int64)) * DTYPES[dtype].itemsize
        if offsets[1] - offsets[0] != expected:
            raise fail(f"tensor {key!r}: shape {tuple(shape)} of {dtype} needs {expected} bytes, but its "
                       f"data_offsets {offsets} hold {offsets[1] - offsets[0]}")
        entries.append((offsets[0], offsets[1], key, {"dtype": dtype, "shape": tuple(shape), "offsets": offsets}))
    entries.sort(key=lambda e: (e[0], e[1]))
    position = 0
    for begin, end, key, _ in entries:
        if begin != position:
            raise fail(f"tensor {key!r}: data starts at byte {begin}, expected {position} "
                       f"({'overlapping' if begin < position else 'a gap between'} tensors)")
        position = end
    available = size - 8 - length
    if position != available:
        raise fail(f"the header describes {position} bytes of tensor data but the file holds {available} "
                   f"({'truncated' if available < position else 'trailing bytes'})")
    return {key: info for _, _, key, info in entries}, dict(metadata), 8 + length


def load_safetensors(path: str | os.PathLike, model: Any = None, *, strict: bool = True) -> OrderedDict:
    """Read a safetensors file into an ordered dict name -> fastnn Tensor (file data order).

    float16/bfloat16 become float32 (with a warning naming the keys); other dtypes are kept. With
    `model`, every key, shape and dtype kind is checked against ``model.state_dict()`` first (a
    float for an integer buffer or the reverse is an error; missing/unexpected keys too when
    `strict`) and then loaded with ``model.load_state_dict``; on any problem nothing changes.
    """
    path = os.fspath(path)
    package = _package()
    entries, _, data_start = read_header(path)
    state: OrderedDict = OrderedDict()
    upcast = []
    try:
        with package.safe_open(path, framework="np") as f:
            for key, info in entries.items():
                if info["dtype"] == "BF16":  # NumPy has no bfloat16: its bits are the top half of a float32
                    count = int(np.prod(info["shape"], dtype=np.int64))
                    bits = np.fromfile(path, dtype="<u2", count=count, offset=data_start + info["offsets"][0])
                    array = (bits.astype(np.uint32) << 16).view(np.float32).reshape(info["shape"])
                else:
                    array = np.array(f.get_tensor(key), copy=True)
                if info["dtype"] in UPCAST:
                    array = array.astype(np.float32)
                    upcast.append(key)
                if array.shape != info["shape"]:
                    raise ValueError(f"load_safetensors: {path}: tensor {key!r} read with shape {array.shape}, "
                                     f"header says {info['shape']}")
                state[key] = from_numpy(array)
    except package.SafetensorError as exc:
        raise ValueError(f"load_safetensors: {path}: not a valid safetensors file ({exc})") from None
    if upcast:
        warnings.warn(f"load_safetensors: {path}: upcast float16/bfloat16 tensor(s) to float32: "
                      f"{', '.join(upcast)}", stacklevel=2)
    if model is not None:
        check_fits(state, model, strict, path)
        model.load_state_dict(state, strict=strict)
    return state


def check_fits(state: Mapping[str, Tensor], model: Any, strict: bool, path: str = "") -> None:
    """Raise ValueError naming every key of `state` that does not fit `model` (missing or unexpected
    when strict, another shape, or a float tensor for an integer/bool buffer and the reverse)."""
    own = model.state_dict()
    problems = []
    if strict:
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        if missing:
            problems.append(f"missing key(s) {missing}")
        if unexpected:
            problems.append(f"unexpected key(s) {unexpected}")
    for key, value in state.items():
        if key not in own:
            continue
        target, array = own[key].numpy(), value.numpy()
        if array.shape != target.shape:
            problems.append(f"{key}: shape {array.shape} in the file, {target.shape} in the model")
        if (array.dtype.kind == "f") != (target.dtype.kind == "f"):
            problems.append(f"{key}: dtype {array.dtype} in the file, {target.dtype} in the model")
    if problems:
        raise ValueError(f"load_safetensors: {path}: the file does not fit {type(model).__name__}: "
                         + "; ".join(problems))


__all__ = ["load_safetensors", "read_header", "save_safetensors"]
