"""One switch for every thread pool fastnn uses: Numba's, OpenMP's and the BLAS's.

The process has one BLAS (NumPy's; the Cython kernels call it too, see :mod:`fastnn.threads.blas`).
The default policy is "auto" (:mod:`fastnn.threads.auto`): as many threads as there are cores
other processes leave free, re-checked every 50 ms, so a busy machine never makes fastnn slower
than one thread. ``set_num_threads(n)`` fixes the count; ``set_num_threads("auto")`` (or the
environment variable ``FASTNN_THREADS=auto|n`` at import) restores the policy.

By default the OpenMP runtime is told to sleep, not spin, between parallel regions
(``OMP_WAIT_POLICY=PASSIVE``, set before any OpenMP runtime loads unless the user set it):
a spinning OpenMP team and OpenBLAS's own threads otherwise fight over the same cores when
a compiled kernel and a matrix product alternate.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastnn.threads.auto import AutoThreads

_SETS_WAIT_POLICY = "OMP_WAIT_POLICY" not in os.environ  # True when the choice below is fastnn's, not the user's
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# When a kernel starts a thread team. Work is counted as elements x the kernel's cost class
# (fastnn.backends.contract.COST_*, quarter-nanoseconds of one thread per element); each extra
# thread needs PARALLEL_MIN_WORK of it (~500 us of serial work) to pay for waking a sleeping
# team on a loaded machine (figures in docs/performance.md). Both compiled backends follow this
# rule: Numba through :func:`team_size`, Cython through the same formula in kernels/elementwise.pxd.
PARALLEL_MIN_WORK = 2_000_000

_CORES = os.cpu_count() or 1  # read once: os.cpu_count() costs ~10 µs, and every kernel asks
_fixed: int | None = None  # set_num_threads(n); None: the auto policy decides
_auto = AutoThreads(_CORES)
_applied: int | None = None  # the count last pushed to BLAS and Numba


def _parse(value: int | str) -> int | None:
    """None for "auto", else a positive int; anything else is a ValueError naming the value."""
    if value == "auto":
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer or 'auto', got {value!r}")
    return value


def get_num_threads() -> int:
    """The thread count fastnn's kernels use now: the fixed count, or the auto policy's choice."""
    if _fixed is not None:
        return _fixed
    n = _auto.threads()
    if n != _applied:
        _push(n)
    return n


def auto_policy() -> bool:
    """True while the "auto" policy decides the count (no set_num_threads(n) in force)."""
    return _fixed is None


def team_size(work: int) -> int:
    """Threads worth starting for `work` (elements x cost class): one more per PARALLEL_MIN_WORK,
    at most get_num_threads()."""
    n = get_num_threads()
    return 1 if n < 2 else min(1 + work // PARALLEL_MIN_WORK, n)


def set_num_threads(n: int | str) -> None:
    """Use n threads in Numba kernels, OpenMP (Cython) kernels and BLAS, all together; "auto"
    (the default) lets the policy follow the cores other processes leave free."""
    global _fixed
    _fixed = _parse(n)
    apply()


def policy() -> str:
    """The policy in force, in words (for ``fastnn info``)."""
    if _fixed is not None:
        return f"fixed: {_fixed} thread{'s' if _fixed > 1 else ''} (set_num_threads)"
    return _auto.describe()


@contextmanager
def use_threads(n: int | str) -> Iterator[None]:
    """Run the block with n threads (or "auto"), then restore the previous setting."""
    previous = _fixed
    set_num_threads(n)
    try:
        yield
    finally:
        set_num_threads("auto" if previous is None else previous)


@contextmanager
def timed_step() -> Iterator[None]:
    """Time the block as one training step for the auto policy (free when the count is fixed)."""
    if _fixed is not None:
        yield
        return
    n = get_num_threads()
    start = time.perf_counter()
    yield
    _auto.record_step(time.perf_counter() - start, n)


def _push(n: int) -> None:
    """Set n threads in the BLAS and in Numba, cheaply (a C call each, no library scan)."""
    global _applied
    from fastnn.threads.blas import library

    _applied = n
    library().set_num_threads(n)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def apply() -> None:
    """Push the current setting to every thread pool loaded in this process (called again
    whenever a backend loads a new runtime)."""
    global _applied
    n = _fixed if _fixed is not None else _auto.threads()
    from threadpoolctl import threadpool_limits

    if "numba" in sys.modules:  # first: starting Numba's OpenMP pool resets libgomp's thread count
        import numba

        # Numba loads its NumPy support (and with it SciPy's BLAS) before its first function: load it
        # now, without SciPy's BLAS (see blas.load_numba_numpy_support)
        from fastnn.threads.blas import load_numba_numpy_support

        load_numba_numpy_support()
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(limits=n)
    _applied = n


def environment_without_fastnn_defaults() -> dict[str, str]:
    """os.environ without the OpenMP wait policy fastnn set on its own (the user's own setting
    stays): for starting another program's OpenMP runtime with its usual defaults."""
    env = dict(os.environ)
    if _SETS_WAIT_POLICY and env.get("OMP_WAIT_POLICY") == "PASSIVE":
        del env["OMP_WAIT_POLICY"]
    return env


if os.environ.get("FASTNN_THREADS"):
    _env = os.environ["FASTNN_THREADS"]
    _fixed = _parse(int(_env) if _env.isdigit() else _env)


def thread_info() -> list[dict]:
    """What threadpoolctl sees: each BLAS / OpenMP library with its thread count."""
    from threadpoolctl import threadpool_info

    return threadpool_info()
