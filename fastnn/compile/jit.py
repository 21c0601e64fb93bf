"""How the compiled step's functions are compiled: the house options, cached under a source key.

Numba checks a cache entry against its own function's file only, and the step function inlines
the blocks and the backend's kernels: every function of this package is cached under a digest
of this package and of the Numba backend (as the backend's kernels are, see backends/numba/jit.py),
so an edit anywhere gives them all new cache entries.
"""

from __future__ import annotations

from pathlib import Path

from numba import njit

from fastnn.backends.numba import jit as numba_jit

SOURCE_KEY = numba_jit.source_key(Path(__file__).parent, numba_jit.SOURCE_KEY)


def jit(func):
    """The house options: nopython, cached on disk under SOURCE_KEY, IEEE maths, NumPy's division."""
    return njit(cache=True, error_model="numpy")(numba_jit.keyed(func, key=SOURCE_KEY))


def jit_inline(func):
    """As jit, inlined by Numba itself into the compiled functions that call it (which then optimise its
    code once, as part of theirs, instead of linking a separately optimised copy); still callable
    from Python on its own."""
    return njit(cache=True, error_model="numpy", inline="always")(numba_jit.keyed(func, key=SOURCE_KEY))


def jit_reassoc(func):
    """As jit, but float additions may be reassociated (so that a sum runs in vector lanes)."""
    return njit(cache=True, error_model="numpy", fastmath={"reassoc"})(numba_jit.keyed(func, key=SOURCE_KEY))


def entry_point(dispatcher, args: tuple):
    """The machine code `dispatcher` compiled for exactly the Numba types of `args`, callable without
    the dispatcher's typing of every argument (~90 ns an array), or None. A caller must only pass
    arguments of those same types: the entry point converts them without checking."""
    try:
        signature = tuple(dispatcher.typeof_pyval(a) for a in args)
        return getattr(dispatcher.overloads.get(signature), "entry_point", None)
    except (AttributeError, TypeError, ValueError):  # a Numba without these internals: the dispatcher it is
        return None
