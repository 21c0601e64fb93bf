"""Saving and loading checkpoints: ``fastnn.save(obj, path)`` and ``fastnn.load(path)``, never pickle.

Format "fastnn-checkpoint", version 1
-------------------------------------
A file is a ZIP archive that ``numpy.load`` opens as an ``.npz`` (stored, not compressed). It holds:

* ``header.json``: UTF-8 JSON ``{"format": "fastnn-checkpoint", "version": 1, "root": NODE}``;
* ``a0.npy``, ``a1.npy``, ...: one ``.npy`` member per array, numeric or bool dtypes only, written in
  C order.

``NODE`` describes the saved object, recursively:

* JSON ``null``, ``true``/``false``, numbers and strings stand for ``None``, bools, ints, floats and
  strings (non-finite floats are written ``NaN``/``Infinity``/``-Infinity``, as Python's json does);
* ``{"dict": [[KEY, NODE], ...]}`` a dict, in order (keys are strings, ints, floats, bools or None),
  ``{"odict": [...]}`` the same for an ``OrderedDict``;
* ``{"list": [NODE, ...]}``, ``{"tuple": [NODE, ...]}``;
* ``{"tensor": "a3", "requires_grad": false}`` a ``fastnn.Tensor`` (its data in member ``a3.npy``);
  ``{"array": "a3"}`` a NumPy array; ``{"scalar": "a3"}`` a NumPy scalar (kept as a 0-d array so its
  dtype survives).

Writing is atomic: the archive goes to a temporary file ``.fastnn-<name>.<host>-<pid>-<random>.tmp``
in the target's directory, is flushed and fsync'ed, then renamed over the target with ``os.replace``
(mode 0644); an interrupted save leaves the old file. A save killed before its rename (SIGKILL, a
power cut) leaves its temporary file behind; the next save to the same target removes the ones
whose process (on this host) no longer runs, and never those of a save still in progress. Saving
into a directory that does not exist raises ``FileNotFoundError`` naming the target.

Loading uses ``numpy.load(..., allow_pickle=False)`` and JSON only, so loading a file can never run
code, and it allocates nothing a member does not hold: every ``.npy`` member's declared shape and
dtype are read from its header and checked against the bytes the archive really holds before the
array is read. A file that is truncated, corrupted, not a ZIP archive, of another format or an
unknown version, that lacks a member, holds an object (pickled) array, declares more data than it
holds, or nests its header deeper than ``MAX_DEPTH`` raises ``ValueError`` naming the path and the
problem.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import socket
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from fastnn.tensor import Tensor, from_numpy

FORMAT = "fastnn-checkpoint"
VERSION = 1
HEADER = "header.json"
_ZIP_MAGIC = b"PK\x03\x04"
_ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no objects, strings or records
MAX_DEPTH = 100
"""The deepest nesting of dicts/lists/tuples that save writes and load reads."""
_DEFLATE_MAX_RATIO = 1032  # deflate cannot expand a byte of input into more than ~1032 bytes


class _Writer:
    """Turns an object into its JSON node, collecting the arrays to store."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _add(self, array: np.ndarray, where: str) -> str:
        if array.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"fastnn.save: {where} is an array of dtype {array.dtype}; only numeric and bool "
                            "arrays can be saved (no object, string or structured arrays)")
        name = f"a{len(self.arrays)}"
        self.arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return name

    def node(self, obj: Any, where: str, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"fastnn.save: {where.split('[')[0]} nests deeper than {MAX_DEPTH} levels")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, (int, float)) and not isinstance(obj, np.generic):
            return int(obj) if isinstance(obj, int) else float(obj)
        if isinstance(obj, Tensor):
            return {"tensor": self._add(obj.array, where), "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"array": self._add(obj, where)}
        if isinstance(obj, np.generic):
            return {"scalar": self._add(np.asarray(obj), where)}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if not (key is None or isinstance(key, (str, int, float))) or isinstance(key, np.generic):
                    raise TypeError(f"fastnn.save: {where} has a key of type {type(key).__name__}; keys must be "
                                    "str, int, float, bool or None")
                items.append([key, self.node(value, f"{where}[{key!r}]", depth + 1)])
            return {"odict" if isinstance(obj, OrderedDict) else "dict": items}
        if isinstance(obj, (list, tuple)):
            kind = "tuple" if isinstance(obj, tuple) else "list"
            return {kind: [self.node(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]}
        raise TypeError(f"fastnn.save: cannot save {where} of type {type(obj).__name__}; expected tensors, arrays, "
                        "numbers, strings, bools, None and dicts/lists/tuples of them")


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` (tensors, arrays, numbers, strings, bools, None, nested in dicts/lists/tuples) to
    `path` atomically, in the format described in this module's docstring."""
    path = os.fspath(path)
    writer = _Writer()
    header = json.dumps({"format": FORMAT, "version": VERSION, "root": writer.node(obj, "obj")})
    with atomic_write(path, "wb") as f:
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
            archive.writestr(HEADER, header)
            for name, array in writer.arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, array, allow_pickle=False)


def _temporary_prefix(path: str) -> str:
    """The start of the names of ``path``'s temporary files (its base name shortened to stay a legal
    file name)."""
    return f".fastnn-{os.path.basename(path)[:100]}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or not a pid we can judge: keep its file
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files that saves to ``path`` killed before their rename left behind: those
    written by a process of this host that no longer runs. Returns the removed paths."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    prefix, host = _temporary_prefix(path), socket.gethostname()
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        parts = name[len(prefix):-len(".tmp")].rsplit("-", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or _process_alive(int(parts[1])):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(directory, name))
            removed.append(os.path.join(directory, name))
    return removed


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success flush, fsync and rename it over
    ``path`` (mode 0644); on any error remove it, leaving the old file untouched. Stale temporary
    files of earlier, killed saves to ``path`` are removed first (:func:`remove_stale_temporaries`)."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"No such directory {directory!r} to save into", path)
    remove_stale_temporaries(path)
    prefix = f"{_temporary_prefix(path)}{socket.gethostname()}-{os.getpid()}-"
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot save {path}: {exc.strerror}", path) from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp creates 0600; a checkpoint is an ordinary file
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (best effort: not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Reader:
    """Rebuilds the object from its JSON node, reading arrays from the archive on demand."""

    def __init__(self, path: str, archive) -> None:
        self.path = path
        self.archive = archive
        self.size = os.path.getsize(path)

    def fail(self, problem: str) -> ValueError:
        return ValueError(f"fastnn.load: {self.path}: {problem}")

    def member_size(self, member: str) -> int:
        """The bytes ``member`` holds once read, after checking that the archive really holds them
        (so a forged size cannot make a read allocate what the file does not contain)."""
        info = self.archive.zip.getinfo(member)
        if info.compress_type == zipfile.ZIP_STORED:
            plausible = info.file_size == info.compress_size
        elif info.compress_type == zipfile.ZIP_DEFLATED:
            plausible = info.file_size <= _DEFLATE_MAX_RATIO * info.compress_size + 1024
        else:
            raise self.fail(f"member {member!r} uses unsupported compression method {info.compress_type}")
        if not plausible or info.header_offset + info.compress_size > self.size:
            raise self.fail(f"member {member!r} declares {info.file_size} bytes, more than the archive holds")
        return info.file_size

    def check_npy_header(self, name: str) -> None:
        """Read member ``name``.npy's header only and raise unless its shape and dtype describe at
        most the bytes the member holds."""
        member = f"{name}.npy"
        size = self.member_size(member)
        try:
            with self.archive.zip.open(member) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(f)
                elif version in ((2, 0), (3, 0)):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unknown .npy version {version}")
                offset = f.tell()
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise self.fail(f"member {name!r} is corrupted ({exc})") from None
        except (ValueError, TypeError, SyntaxError) as exc:
            raise self.fail(f"member {name!r} has an invalid .npy header ({exc})") from None
        if dtype.hasobject:
            raise self.fail(f"member {name!r} holds an object array, which only pickle can read; "
                            "pickled data is refused")
        if dtype.kind not in _ARRAY_KINDS:
            raise self.fail(f"member {name!r} has unsupported dtype {dtype}")
        needed = math.prod(shape) * dtype.itemsize
        if needed > size - offset:
            raise self.fail(f"member {name!r} declares shape {shape} {dtype} ({needed} bytes) but holds "
                            f"{max(size - offset, 0)} bytes of data")

    def array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.archive.files:
            raise self.fail(f"missing array member {name!r}")
        self.check_npy_header(name)
        try:
            array = self.archive[name]
        except ValueError as exc:  # numpy refuses object arrays when allow_pickle=False
            raise self.fail(f"member {name!r} cannot be loaded safely ({exc}); pickled data is refused") from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise self.fail(f"member {name!r} is corrupted ({exc})") from None
        if not isinstance(array, np.ndarray):
            raise self.fail(f"member {name!r} is not a .npy array")
        if array.dtype.kind not in _ARRAY_KINDS:
            raise self.fail(f"member {name!r} has unsupported dtype {array.dtype}")
        if not (array.flags.c_contiguous and array.flags.writeable):
            array = array.copy(order="C")
        return array

    def node(self, node: Any, depth: int = 0) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if depth >= MAX_DEPTH:
            raise self.fail(f"the header nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict) and len(node) >= 1:
            if "dict" in node or "odict" in node:
                items = node.get("dict", node.get("odict"))
                if not isinstance(items, list) or not all(isinstance(i, list) and len(i) == 2 for i in items):
                    raise self.fail("malformed dict node in the header")
                if not all(key is None or isinstance(key, (str, int, float)) for key, _ in items):
                    raise self.fail("a dict key in the header is not a string, number, bool or null")
                pairs = [(key, self.node(value, depth + 1)) for key, value in items]
                return OrderedDict(pairs) if "odict" in node else dict(pairs)
            if "list" in node and isinstance(node["list"], list):
                return [self.node(v, depth + 1) for v in node["list"]]
            if "tuple" in node and isinstance(node["tuple"], list):
                return tuple(self.node(v, depth + 1) for v in node["tuple"])
            if "tensor" in node:
                out = from_numpy(self.array(node["tensor"]))
                if node.get("requires_grad"):
                    out.requires_grad_(True)
                return out
            if "array" in node:
                return self.array(node["array"])
            if "scalar" in node:
                value = self.array(node["scalar"])
                if value.ndim != 0:
                    raise self.fail(f"scalar member {node['scalar']!r} has shape {value.shape}")
                return value[()]
        raise self.fail(f"unknown node in the header: {str(node)[:80]}")


def load(path: str | os.PathLike, map_location: Any = None, weights_only: bool | None = None) -> Any:
    """Read an object written by :func:`save`. Never unpickles; raises ValueError on a bad file.

    map_location and weights_only are torch.load's: fastnn loads onto the CPU only, and always loads
    data only (what weights_only=True asks for), so both are accepted for PyTorch code."""
    if map_location is not None and str(map_location).split(":")[0] != "cpu":
        raise RuntimeError(f"fastnn.load: fastnn runs on the CPU only; map_location {str(map_location)!r} "
                           "is not available")
    path = os.fspath(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != _ZIP_MAGIC:
        raise ValueError(f"fastnn.load: {path}: not a fastnn checkpoint (not a ZIP/.npz archive; "
                         f"{'empty file' if not magic else 'wrong leading bytes'})")
    try:
        archive = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"fastnn.load: {path}: truncated or corrupted archive ({exc})") from None
    with archive:
        reader = _Reader(path, archive)
        if HEADER not in archive.files:
            raise reader.fail(f"missing member {HEADER!r}; not a fastnn checkpoint "
                              f"(members: {', '.join(archive.files[:5])})")
        reader.member_size(HEADER)
        try:
            header = json.loads(archive[HEADER].decode("utf-8"))
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise reader.fail(f"member {HEADER!r} is corrupted ({exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise reader.fail(f"member {HEADER!r} is not valid JSON ({exc})") from None
        except RecursionError:
            raise reader.fail(f"the header nests deeper than {MAX_DEPTH} levels") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            got = header.get("format") if isinstance(header, dict) else type(header).__name__
            raise reader.fail(f"format {got!r} is not {FORMAT!r}")
        version = header.get("version")
        if version != VERSION:
            raise reader.fail(f"unsupported format version {version!r} (this fastnn reads version {VERSION})")
        if "root" not in header:
            raise reader.fail("the header has no 'root' entry")
        return reader.node(header["root"])


__all__ = ["FORMAT", "MAX_DEPTH", "VERSION", "atomic_write", "load", "remove_stale_temporaries", "save"]
