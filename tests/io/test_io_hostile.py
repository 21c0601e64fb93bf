"""fastnn.load of crafted archives and fastnn.save in hostile places: clear ValueErrors naming the
path, no allocation a file does not back, no temporary files left by killed saves."""

from __future__ import annotations

import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

import fastnn
from fastnn.io import FORMAT, HEADER, MAX_DEPTH, VERSION

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_archive(path, header: str | bytes, members: dict[str, bytes] = ()) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(HEADER, header)
        for name, data in dict(members).items():
            archive.writestr(name, data)


def npy_header(shape: tuple, dtype: str = "<f8") -> bytes:
    """A valid .npy version-1.0 header declaring `shape` (the data that should follow is not added)."""
    text = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


@pytest.mark.parametrize("depth", [MAX_DEPTH + 5, 100_000])
def test_deeply_nested_header_is_a_value_error_naming_the_path(tmp_path, depth):
    path = tmp_path / "deep.fnn"
    root = '{"list": [' * depth + "1" + "]}" * depth
    write_archive(path, f'{{"format": "{FORMAT}", "version": {VERSION}, "root": {root}}}')
    with pytest.raises(ValueError, match=f"{path}: the header nests deeper than {MAX_DEPTH} levels"):
        fastnn.load(path)


def test_nesting_up_to_the_limit_round_trips(tmp_path):
    obj: list = [1]
    for _ in range(MAX_DEPTH - 1):
        obj = [obj]
    fastnn.save(obj, tmp_path / "ok.fnn")
    assert fastnn.load(tmp_path / "ok.fnn") == obj
    with pytest.raises(ValueError, match="nests deeper than"):
        fastnn.save([[obj]], tmp_path / "too_deep.fnn")


@pytest.mark.parametrize("shape", [(2**40, 1024), (8 * 2**20,), (2**62, 2**62)])
def test_member_declaring_a_huge_shape_is_refused_without_allocating(tmp_path, shape):
    path = tmp_path / "huge.fnn"
    write_archive(path, json.dumps({"format": FORMAT, "version": VERSION, "root": {"array": "a0"}}),
                  {"a0.npy": npy_header(shape) + b"\0" * 16})
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=rf"{path}: member 'a0' declares shape .* but holds 16 bytes"):
            fastnn.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, f"loading allocated {peak} bytes"


def test_member_with_a_forged_uncompressed_size_is_refused(tmp_path):
    path = tmp_path / "forged.fnn"
    fastnn.save({"w": np.arange(4.0)}, path)
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the last central-directory entry
    # the uncompressed size of the last member (a0.npy) in its central-directory entry: offset 24
    data[central + 24:central + 28] = struct.pack("<I", 0xFFFFFFF0)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=str(path)):
        fastnn.load(path)


def test_member_with_an_invalid_npy_header_names_the_member(tmp_path):
    path = tmp_path / "bad.fnn"
    write_archive(path, json.dumps({"format": FORMAT, "version": VERSION, "root": {"array": "a0"}}),
                  {"a0.npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': 1}    \n"})
    with pytest.raises(ValueError, match=rf"{path}: member 'a0' has an invalid \.npy header"):
        fastnn.load(path)


def test_header_dict_keys_must_be_plain_values(tmp_path):
    path = tmp_path / "keys.fnn"
    write_archive(path, json.dumps({"format": FORMAT, "version": VERSION, "root": {"dict": [[[1, 2], 3]]}}))
    with pytest.raises(ValueError, match=f"{path}: a dict key in the header"):
        fastnn.load(path)


def test_save_into_a_missing_directory_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "model.fnn"
    with pytest.raises(FileNotFoundError) as info:
        fastnn.save({"w": np.ones(2)}, target)
    assert str(target) in str(info.value)
    assert ".fastnn-" not in str(info.value)


def test_stale_temporary_of_a_dead_process_is_removed_by_the_next_save(tmp_path):
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    host = socket.gethostname()
    stale = tmp_path / f".fastnn-model.fnn.{host}-{dead_pid}-abc123.tmp"
    live = tmp_path / f".fastnn-model.fnn.{host}-{os.getpid()}-def456.tmp"  # a save in progress: kept
    other_target = tmp_path / f".fastnn-other.fnn.{host}-{dead_pid}-ghi789.tmp"  # another target's: kept
    for p in (stale, live, other_target):
        p.write_bytes(b"partial")
    fastnn.save({"w": np.ones(2)}, tmp_path / "model.fnn")
    assert not stale.exists()
    assert live.exists() and other_target.exists()
    np.testing.assert_array_equal(fastnn.load(tmp_path / "model.fnn")["w"], np.ones(2))


def test_a_save_killed_mid_write_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path):
    target = tmp_path / "model.fnn"
    fastnn.save({"w": np.zeros(3)}, target)
    child = textwrap.dedent(f"""
        import sys, time
        import numpy as np
        sys.path.insert(0, {ROOT!r})
        import fastnn
        real_write = np.lib.format.write_array
        def stall(*args, **kwargs):
            real_write(*args, **kwargs)
            print("writing", flush=True)
            time.sleep(600)
        np.lib.format.write_array = stall
        fastnn.save({{"w": np.ones(3)}}, {str(target)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    left = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(left) == 1, left  # the killed save's partial archive
    np.testing.assert_array_equal(fastnn.load(target)["w"], np.zeros(3))  # the old file is intact
    fastnn.save({"w": np.full(3, 2.0)}, target)
    assert sorted(os.listdir(tmp_path)) == ["model.fnn"]
    np.testing.assert_array_equal(fastnn.load(target)["w"], np.full(3, 2.0))


def test_load_reads_a_member_written_by_numpy_savez(tmp_path):
    """A deflated member (np.savez_compressed) is read: the size check allows real compression."""
    buf = io.BytesIO()
    np.savez_compressed(buf, a0=np.zeros(10_000))
    path = tmp_path / "deflated.fnn"
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr(HEADER, json.dumps({"format": FORMAT, "version": VERSION, "root": {"array": "a0"}}))
        dst.writestr("a0.npy", src.read("a0.npy"))
    np.testing.assert_array_equal(fastnn.load(path), np.zeros(10_000))


def test_concurrent_saves_and_loads_of_one_path_see_whole_files_only(tmp_path):
    """Threads saving different objects to one path while another loads it: every load returns one
    of the saved objects whole, and no temporary file is left."""
    import threading

    path = tmp_path / "shared.fnn"
    fastnn.save({"k": -1, "w": np.full(50_000, -1.0)}, path)
    errors: list[BaseException] = []
    seen: set[int] = set()
    stop = threading.Event()

    def writer(k: int) -> None:
        try:
            for _ in range(8):
                fastnn.save({"k": k, "w": np.full(50_000, float(k))}, path)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                obj = fastnn.load(path)
                assert np.all(obj["w"] == obj["k"])
                seen.add(obj["k"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    assert not errors, errors
    assert seen <= {-1, 0, 1, 2, 3} and seen
    assert fastnn.load(path)["k"] in range(4)
    assert os.listdir(tmp_path) == ["shared.fnn"]
