"""An old build cannot run under the new layout: a Cython module compiled against another kernel
contract is refused, every Numba kernel's cache entry is keyed on the whole Numba package (an edit
to a helper module gives every kernel a new entry), and the old module names no longer import."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from fastnn import _cython
from fastnn.backends import contract


def test_a_cython_module_built_against_another_contract_is_refused():
    stale = SimpleNamespace(CONTRACT="0123456789abcdef", __file__="fastnn/_cython/dense.so")
    with pytest.raises(ImportError, match=r"dense.so was compiled against another kernel contract.*stale build"):
        _cython._current(stale)
    with pytest.raises(ImportError, match=r"an older layout"):
        _cython._current(SimpleNamespace(__file__="fastnn/_cython/optim.so"))  # built before the digest existed


@pytest.mark.parametrize("family", contract.FAMILIES + ("step",))
def test_every_loaded_cython_module_was_built_against_this_contract(family):
    assert _cython.load(family).CONTRACT == contract.fingerprint()


def test_the_contract_digest_changes_with_a_kernels_arguments(monkeypatch):
    before = contract.fingerprint()
    kernel = contract.KERNELS["mse_loss"]
    monkeypatch.setitem(contract.KERNELS, "mse_loss", kernel._replace(args=("target", "input", "reduction")))
    assert contract.fingerprint() != before


def test_numba_cache_key_covers_helper_modules(tmp_path):
    from fastnn.backends.numba import jit

    package = Path(jit.__file__).parent
    copy = tmp_path / "numba"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert jit.source_key(copy) == jit.SOURCE_KEY
    helper = copy / "mathfun.py"
    helper.write_text(helper.read_text() + "\n# an edit to a helper that kernels inline\n")
    assert jit.source_key(copy) != jit.SOURCE_KEY


def test_every_numba_kernel_is_cached_under_the_source_key():
    from fastnn.backends import numba

    numba.load_table()
    dispatchers = []
    for family in contract.FAMILIES:
        module = importlib.import_module(f"fastnn.backends.numba.{family}")
        for value in vars(module).values():
            for d in value if isinstance(value, tuple) else (value,):
                if hasattr(d, "py_func") and d.py_func.__module__ == module.__name__:
                    dispatchers.append(d)
    assert len(dispatchers) >= 20
    from fastnn.backends.numba.jit import SOURCE_KEY

    for d in dispatchers:
        assert d.py_func.__qualname__.endswith(SOURCE_KEY), d.py_func.__qualname__


@pytest.mark.parametrize("old", ["fastnn._numba.activations", "fastnn._numba._jit", "fastnn.backends.numba_backend",
                                 "fastnn.backends.cython_backend"])
def test_the_old_module_names_are_gone(old):
    with pytest.raises(ImportError):
        importlib.import_module(old)
