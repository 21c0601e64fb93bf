"""How fastnn compiles its Numba kernels: cached, no fastmath, and a serial twin of every parallel kernel.

Starting Numba's thread team costs far more than a small kernel's work, so each parallel kernel
also exists as a serial compilation of the same Python function, and :func:`pick` chooses by
problem size. Numba's on-disk cache keys an entry on the function's qualified name, not on its
compile options, so the parallel twin gets a name of its own.
"""

from __future__ import annotations

import types

from numba import njit

from fastnn import threads

# Below this many elements (or element-operations, for row kernels) the serial twin wins.
# Measured on this machine (2 cores, OpenMP layer, OMP_WAIT_POLICY=PASSIVE): relu forward,
# sgd update and dropout forward in float32 break even between 16K and 48K elements; 32K sits
# in the middle (see the report of the numba backend).
PARALLEL_MIN_ELEMENTS = 32768

# Work unit of the flat elementwise kernels: big enough to amortise a loop, small enough to
# stay in L1/L2 and to spread over the threads.
BLOCK = 4096


def jit(func):
    """Compile `func` serially with the house options: nopython, cached, exact IEEE maths."""
    return njit(cache=True, error_model="numpy")(func)


def serial_and_parallel(func) -> tuple:
    """(serial, parallel) compilations of one function whose outer loop is a ``prange``."""
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    twin.__qualname__ = func.__qualname__ + "__parallel"
    return (njit(cache=True, error_model="numpy")(func),
            njit(cache=True, error_model="numpy", parallel=True)(twin))


def pick(kernels: tuple, work: int):
    """The serial kernel for small work or a single thread, else the parallel one."""
    if work < PARALLEL_MIN_ELEMENTS or threads.get_num_threads() < 2:
        return kernels[0]
    return kernels[1]


def blocks(n: int) -> int:
    """Number of BLOCK-sized pieces covering n elements."""
    return (n + BLOCK - 1) // BLOCK
