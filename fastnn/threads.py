"""One switch for every thread pool fastnn uses: Numba's, OpenMP's and the BLAS libraries'.

By default the OpenMP runtime is told to sleep, not spin, between parallel regions
(``OMP_WAIT_POLICY=PASSIVE``, set before any OpenMP runtime loads unless the user set it):
a spinning OpenMP team and OpenBLAS's own threads otherwise fight over the same cores when
a compiled kernel and a matrix product alternate.
"""

from __future__ import annotations

import os
import sys

_SETS_WAIT_POLICY = "OMP_WAIT_POLICY" not in os.environ  # True when the choice below is fastnn's, not the user's
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# When a kernel starts a thread team. Work is counted as elements x the kernel's cost class
# (fastnn.backends.contract.COST_*, quarter-nanoseconds of one thread per element); each extra
# thread needs PARALLEL_MIN_WORK of it to pay for waking a sleeping team on a loaded machine
# (the measurements: docs/performance.md). Both compiled backends follow this
# rule: Numba through :func:`team_size`, Cython through the same formula in kernels/elementwise.pxd.
PARALLEL_MIN_WORK = 2_000_000

_num_threads: int | None = None
_CORES = os.cpu_count() or 1  # read once: os.cpu_count() costs ~10 µs, and every kernel asks


def get_num_threads() -> int:
    """The thread count fastnn's kernels use (default: the number of cores)."""
    return _num_threads if _num_threads is not None else _CORES


def team_size(work: int) -> int:
    """Threads worth starting for `work` (elements x cost class): one more per PARALLEL_MIN_WORK,
    at most get_num_threads()."""
    n = get_num_threads()
    return 1 if n < 2 else min(1 + work // PARALLEL_MIN_WORK, n)


def set_num_threads(n: int) -> None:
    """Use n threads in Numba kernels, OpenMP (Cython) kernels and BLAS, all together."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: n must be a positive integer, got {n!r}")
    _num_threads = n
    apply()


def apply() -> None:
    """Push the current setting to every thread pool loaded in this process (called again
    whenever a backend loads a new runtime)."""
    if _num_threads is None:
        return
    from threadpoolctl import threadpool_limits

    if "numba" in sys.modules:  # first: starting Numba's OpenMP pool resets libgomp's thread count
        import numba

        numba.set_num_threads(min(_num_threads, numba.config.NUMBA_NUM_THREADS))
    threadpool_limits(limits=_num_threads)


def environment_without_fastnn_defaults() -> dict[str, str]:
    """os.environ without the OpenMP wait policy fastnn set on its own (the user's own setting
    stays): for starting another program's OpenMP runtime with its usual defaults."""
    env = dict(os.environ)
    if _SETS_WAIT_POLICY and env.get("OMP_WAIT_POLICY") == "PASSIVE":
        del env["OMP_WAIT_POLICY"]
    return env


def thread_info() -> list[dict]:
    """What threadpoolctl sees: each BLAS / OpenMP library with its thread count."""
    from threadpoolctl import threadpool_info

    return threadpool_info()
