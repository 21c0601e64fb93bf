"""The child process of the bad-input suite: runs many hypothesis-drawn cases of many ops on one
backend and reports, one JSON line per event, so a crash or a hang in one case fails that op only.

    python badinput_worker.py '{"backend": "numba", "ops": ["linear_forward", ...], "examples": 30}'

For every op it prints ``{"event": "start", "op": ...}`` before its first case and, when its cases
are done, ``{"event": "done", "op": ..., "cases": n, "clean": n, "accepted": n, "failures": [...]}``.
A case *fails* when the op raises an exception of another type than ValueError, TypeError,
IndexError or RuntimeError, or one whose message does not name the op; on a compiled backend also
when it accepts what the NumPy reference rejects (or the reverse), or its results differ from the
reference's on finite inputs.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import time
import warnings
import zipfile

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import badinput_catalogue as catalogue  # noqa: E402

import fastnn  # noqa: E402

CLEAN = (ValueError, TypeError, IndexError, RuntimeError)
MAX_FAILURES_KEPT = 5


def clean(exc: BaseException, names: tuple[str, ...], types: tuple = CLEAN) -> str | None:
    """None if `exc` is a clean error naming the op, else why not."""
    text = f"{type(exc).__name__}: {str(exc)[:300]}"
    if not isinstance(exc, types) or isinstance(exc, RecursionError):
        return f"unclean exception type {text}"
    message = str(exc).lower()
    if not any(name.lower() in message for name in names):
        return f"message does not name the op ({' or '.join(names)}): {text}"
    return None


def snapshot(result, args: dict) -> list[np.ndarray]:
    """Copies of every array the call produced or may have written (its outputs, then its array arguments)."""
    out: list[np.ndarray] = []

    def add(value):
        if isinstance(value, (list, tuple)):
            for v in value:
                add(v)
        elif getattr(value, "is_sparse", False):
            out.append(value.to_dense().numpy().copy())
        elif isinstance(value, fastnn.Tensor):
            out.append(np.array(value.numpy(), copy=True))
        elif isinstance(value, np.ndarray):
            out.append(np.array(value, copy=True))
        elif isinstance(value, (int, float)):
            out.append(np.array(value))
    add(result)
    for value in args.values():
        add(value)
    return out


def attempt(op, target, recipes, dtype, seed):
    """('ok', arrays) or ('raised', exception) or ('setup', exception) for one call of `op`."""
    try:
        args = catalogue.materialize(op, recipes, dtype, seed, fastnn.from_numpy)
    except Exception as exc:  # e.g. a Tensor cannot hold an object array: rejected before the op
        return "setup", exc
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            result = op.call(target, args)
            return "ok", snapshot(result, args)
        except Exception as exc:
            return "raised", exc


def finite_case(recipes: dict) -> bool:
    """Inputs whose results must agree across backends: finite, ordinary values."""
    return all(not isinstance(r, dict) or r["fill"] in ("normal", "zeros") or r["fill"][0] in ("index", "offsets")
               for r in recipes.values())


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.dtype.kind == "f":
            tol = 1e-4 if x.dtype == np.float32 else 1e-9
            if not np.allclose(x, y, rtol=tol, atol=tol, equal_nan=True):
                return False
        elif x.dtype.kind in "biu" and not np.array_equal(x, y):
            return False
    return True


@st.composite
def cases(draw, op):
    """(recipes, float dtype, seed) of one case of `op`: sizes, valid recipes, then 1-3 spoiled arguments."""
    sizes = dict(zip(catalogue.SIZES, draw(st.tuples(*(st.integers(lo, hi) for lo, hi in catalogue.SIZES.values())))))
    if draw(st.integers(0, 3)):  # mostly non-empty, so that most spoils reach the op's real work
        sizes = {k: max(v, 1) for k, v in sizes.items()}
    sizes.update({k: fn(sizes) for k, fn in catalogue.EXTRA_SIZES.items()})
    dtype = draw(st.sampled_from(("float32", "float64")))
    recipes = {}
    for arg in op.args:
        optional_none = arg.optional and draw(st.booleans())
        recipes[arg.name] = None if optional_none else catalogue.valid_recipe(arg, sizes, dtype)
    only = op.extra.get("only", ())
    names = [arg.name for arg in op.args if not only or isinstance(recipes[arg.name], dict)]
    spoiled = draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(3, len(names)), unique=True))
    for arg in op.args:
        if arg.name in spoiled:
            others = [n for n in names if n != arg.name and isinstance(recipes[n], dict)]
            recipes[arg.name] = catalogue.spoil(draw, st, arg, recipes[arg.name], others, sizes, only)
    return recipes, dtype, draw(st.integers(0, 2**32 - 1))


def run_op(op, backend_name: str, examples: int) -> dict:
    stats = {"op": op.name, "family": op.family, "cases": 0, "clean": 0, "accepted": 0, "setup": 0,
             "failures": []}
    target = fastnn.get_backend()

    def fail(kind: str, recipes: dict, detail: str) -> None:
        stats["n_failures"] = stats.get("n_failures", 0) + 1
        if len(stats["failures"]) < MAX_FAILURES_KEPT:
            stats["failures"].append({"kind": kind, "case": catalogue.describe(recipes), "detail": detail})

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(cases(op))
    def case(drawn):
        recipes, dtype, seed = drawn
        stats["cases"] += 1
        outcome, value = attempt(op, target, recipes, dtype, seed)
        if outcome == "setup":
            stats["setup"] += 1
            return
        if outcome == "raised":
            why = clean(value, op.names)
            if why:
                fail("unclean", recipes, why)
            else:
                stats["clean"] += 1
        else:
            stats["accepted"] += 1
        if backend_name == "numpy" or not op.compare:
            return
        with fastnn.use_backend("numpy") as reference:
            ref_outcome, ref_value = attempt(op, reference if op.family == "kernel" else None, recipes, dtype, seed)
        if ref_outcome == "setup":
            return
        if outcome == "ok" and ref_outcome == "raised":
            fail("accepts what the reference rejects", recipes,
                 f"the numpy reference raised {type(ref_value).__name__}: {str(ref_value)[:200]}")
        elif outcome == "raised" and ref_outcome == "ok":
            fail("rejects what the reference accepts", recipes, f"{type(value).__name__}: {str(value)[:200]}")
        elif outcome == "ok" and finite_case(recipes) and not same(value, ref_value):
            fail("results differ from the reference", recipes, "outputs or in-place arrays differ")

    case()
    return stats


# ----------------------------------------------------------------------------- the checkpoint loader
def _json_values():
    leaves = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=8)
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["dict", "odict", "list", "tuple", "tensor", "array", "scalar", "requires_grad", "x"]),
        inner, max_size=3), max_leaves=12)


def run_loader(examples: int) -> dict:
    """fastnn.load on damaged and crafted archives: a ValueError naming fastnn.load, or a result."""
    stats = {"op": "fastnn.load", "family": "loader", "cases": 0, "clean": 0, "accepted": 0, "setup": 0,
             "failures": []}
    directory = tempfile.mkdtemp(prefix="fastnn-badinput-")
    good = os.path.join(directory, "good.fnn")
    fastnn.save({"model": {"w": fastnn.ones(3, 2), "b": np.arange(4.0)}, "step": 3, "x": [1.5, (None, "s")]}, good)
    original = open(good, "rb").read()
    with zipfile.ZipFile(good) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}

    def build(kind, data) -> bytes:
        if kind == "truncate":
            return original[:data.draw(st.integers(0, len(original) - 1))]
        if kind == "flip":
            blob = bytearray(original)
            for _ in range(data.draw(st.integers(1, 8))):
                blob[data.draw(st.integers(0, len(blob) - 1))] ^= data.draw(st.integers(1, 255))
            return bytes(blob)
        parts = dict(members)
        if kind == "header":
            root = data.draw(_json_values())
            parts["header.json"] = json.dumps({"format": "fastnn-checkpoint", "version": 1, "root": root}).encode()
        elif kind == "deep":
            depth = data.draw(st.integers(50, 20000))
            parts["header.json"] = (b'{"format": "fastnn-checkpoint", "version": 1, "root": '
                                    + b'{"list": [' * depth + b"1" + b"]}" * depth + b"}")
        elif kind == "npy":
            shape = tuple(data.draw(st.lists(st.integers(0, 2**62), max_size=3)))
            descr = data.draw(st.sampled_from(["<f8", "<f4", "|O", "<U3", "|V8", "<i8", "x", "[('a', '<f8')]"]))
            header = repr({"descr": descr, "fortran_order": data.draw(st.booleans()), "shape": shape}).encode()
            header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
            parts["a0.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 8
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            for name, blob in parts.items():
                archive.writestr(name, blob)
        return buf.getvalue()

    @settings(max_examples=examples, database=None, derandomize=True, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data):
        kind = data.draw(st.sampled_from(["truncate", "flip", "header", "deep", "npy"]))
        path = os.path.join(directory, "case.fnn")
        with open(path, "wb") as f:
            f.write(build(kind, data))
        stats["cases"] += 1
        try:
            fastnn.load(path)
            stats["accepted"] += 1
        except Exception as exc:
            why = clean(exc, ("fastnn.load",), (ValueError,))
            if why:
                stats["n_failures"] = stats.get("n_failures", 0) + 1
                if len(stats["failures"]) < MAX_FAILURES_KEPT:
                    stats["failures"].append({"kind": "unclean", "case": kind, "detail": why})
            else:
                stats["clean"] += 1

    case()
    return stats


def main() -> None:
    spec = json.loads(sys.argv[1])
    fastnn.set_backend(spec["backend"])
    by_name = {op.name: op for op in catalogue.OPS}
    for name in spec["ops"]:
        print(json.dumps({"event": "start", "op": name}), flush=True)
        started = time.perf_counter()
        if name == "fastnn.load":
            stats = run_loader(spec["examples"])
        else:
            stats = run_op(by_name[name], spec["backend"], spec["examples"])
        stats["seconds"] = round(time.perf_counter() - started, 3)
        stats.setdefault("n_failures", 0)
        print(json.dumps({"event": "done", **stats}, default=str), flush=True)


if __name__ == "__main__":
    main()
