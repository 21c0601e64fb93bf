"""How fastnn compiles its Numba kernels: cached, no fastmath (but see reductions), a serial twin per parallel kernel.

Starting Numba's thread team costs far more than a small kernel's work, so each parallel kernel
also exists as a serial compilation of the same Python function, and :func:`pick` chooses by
problem size. Numba's on-disk cache keys an entry on the function's qualified name, not on its
compile options, so the parallel twin gets a name of its own. ``error_model="numpy"``: a float
division by zero gives inf/nan as in NumPy, and the Python model's zero check would stop LLVM
from vectorising any loop that divides.

Caveat for whoever edits this package: Numba's cache entry for a kernel is checked against its
own source file only. After editing a module that kernels import (``mathfun``, ``reductions``,
``activations``), delete ``fastnn/_numba/__pycache__/*.nb[ic]`` or the old code keeps loading.
"""

from __future__ import annotations

import types

from numba import njit

from fastnn import threads

# Serial/parallel thresholds, measured on this machine (2 cores shared with other jobs, load
# 4-9; OpenMP layer, OMP_WAIT_POLICY=PASSIVE). A parallel region costs 6.5 us at best, 9 us in
# the median to launch (a 16-element relu runs in 0.4 us serially). Serial float32 throughput is
# ~0.1 ns/element for the light kernels (relu-like activations and their derivatives, sgd, mse,
# dropout backward, gathers) and 0.3-3 ns/element for the rest. Median serial/parallel time
# ratios: at 32768 elements 0.24 (relu) .. 0.81 (gelu): serial wins everywhere; at 262144, relu
# 0.49, tanh 1.04, dropout 1.08, gelu 1.57; at 1048576, relu 1.07. Hence:
PARALLEL_MIN_ELEMENTS = 262144
PARALLEL_MIN_ELEMENTS_LIGHT = 1048576
# Under heavier load (8-9) the parallel twin lost in the median at every size up to 4M elements:
# on a busy machine, fastnn.set_num_threads(1).

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


def pick(kernels: tuple, elements: int, light: bool = False):
    """The serial kernel for a single thread or too little work, else the parallel one."""
    if elements < (PARALLEL_MIN_ELEMENTS_LIGHT if light else PARALLEL_MIN_ELEMENTS) or threads.get_num_threads() < 2:
        return kernels[0]
    return kernels[1]


def blocks(n: int) -> int:
    """Number of BLOCK-sized pieces covering n elements."""
    return (n + BLOCK - 1) // BLOCK
