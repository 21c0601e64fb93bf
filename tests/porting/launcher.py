"""Run porting programs and write each one's result dict as JSON: under the real PyTorch, or with
fastnn installed as ``torch`` (every ``torch`` / ``torch.X`` import answered by ``fastnn`` /
``fastnn.X``, the same module objects) and no other change to the programs.

    python launcher.py torch|fastnn OUTDIR PROGRAM.py [PROGRAM.py ...]

Each program runs in a fresh namespace with OUTDIR/<name>/ as its working directory (where it may
save checkpoints), after Python's, NumPy's and torch's global generators are seeded with 0, so that
it gives the same result alone or after others. Its result goes to OUTDIR/<name>/result.json, or its
traceback to OUTDIR/<name>/error.txt. One interpreter runs them all: torch is imported once.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import math
import os
import random
import runpy
import sys
import traceback
from pathlib import Path


class TorchIsFastnn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A meta-path finder placed first: ``torch[.X]`` is the module ``fastnn[.X]`` (the same object)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torch" or fullname.startswith("torch."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("fastnn" + spec.name[len("torch"):])

    def exec_module(self, module):
        pass


def plain(value):
    """The result as JSON values; non-finite floats as strings so that they compare exactly."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    raise TypeError(f"program results must be plain Python values, got {type(value).__name__}")


def main() -> None:
    mode, outdir = sys.argv[1], Path(sys.argv[2]).resolve()
    programs = [Path(p).resolve() for p in sys.argv[3:]]
    if mode == "fastnn":
        sys.meta_path.insert(0, TorchIsFastnn())
    elif mode != "torch":
        raise SystemExit(f"mode must be torch or fastnn, got {mode!r}")
    import numpy as np
    import torch

    assert torch.__name__ == ("fastnn" if mode == "fastnn" else "torch")
    for program in programs:
        workdir = outdir / program.stem
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)
        random.seed(0)
        np.random.seed(0)  # noqa: NPY002  (the legacy global state programs may draw from)
        torch.manual_seed(0)
        try:
            result = plain(runpy.run_path(str(program), run_name="__porting__")["main"]())
        except BaseException:  # the traceback is the test's evidence
            (workdir / "error.txt").write_text(traceback.format_exc())
            continue
        (workdir / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
