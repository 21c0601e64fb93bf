"""How fastnn compiles its Numba kernels: cached, exact IEEE maths, a serial twin per parallel kernel.

Starting Numba's thread team costs far more than a small kernel's work, so each parallel kernel
also exists as a serial compilation of the same Python function, and :func:`pick` chooses by the
thread policy of :mod:`fastnn.threads` (the same rule the Cython kernels follow).
``error_model="numpy"``: a float division by zero gives inf/nan as in NumPy, and the Python
model's zero check would stop LLVM from vectorising any loop that divides.

Stale caches: Numba checks a cache entry against the source file of the kernel's own function
only, so an edit to a helper module (``mathfun``, ``reductions``, ``activations``) would leave the
old machine code loading. Every kernel's cache name therefore carries :data:`SOURCE_KEY`, a digest
of all the modules of this package and of the contract: any edit gives every kernel a new cache
entry, and old entries are never read again.
"""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

from numba import njit

from fastnn import threads
from fastnn.backends import contract
from fastnn.threads.blas import load_numba_numpy_support

load_numba_numpy_support()  # before any kernel compiles or loads: Numba's NumPy support, without SciPy's BLAS


def source_key(directory: Path, base: str = "") -> str:
    """A digest of every module in `directory`, of the kernel contract and of `base` (another key)."""
    digest = hashlib.sha256((contract.fingerprint() + base).encode())
    for path in sorted(directory.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


SOURCE_KEY = source_key(Path(__file__).parent)

# Work unit of the flat elementwise kernels: big enough to amortise a loop, small enough to
# stay in L1/L2 and to spread over the threads.
BLOCK = 4096


def keyed(func, suffix: str = "", key: str = SOURCE_KEY):
    """A copy of `func` whose qualified name (part of Numba's cache file name) carries `key`."""
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    twin.__qualname__ = f"{func.__qualname__}{suffix}__{key}"
    twin.__doc__ = func.__doc__
    return twin


def jit(func):
    """Compile `func` serially with the house options: nopython, cached, exact IEEE maths."""
    return njit(cache=True, error_model="numpy")(keyed(func))


def jit_inline(func):
    """As :func:`jit`, inlined into its callers by Numba itself (``inline="always"``): for small helpers
    called once per row that take arrays, which LLVM leaves as calls (measured on a cross-entropy of
    512 rows of 2 classes: 26 us with its row helper called, 21 inlined)."""
    return njit(cache=True, error_model="numpy", inline="always")(keyed(func))


def jit_reassoc(func):
    """As :func:`jit`, but the compiler may reassociate float additions (for vectorised sums only)."""
    return njit(cache=True, error_model="numpy", fastmath={"reassoc"})(keyed(func))


def serial_and_parallel(func) -> tuple:
    """(serial, parallel) compilations of one function whose outer loop is a ``prange``."""
    return (njit(cache=True, error_model="numpy")(keyed(func)),
            njit(cache=True, error_model="numpy", parallel=True)(keyed(func, "__parallel")))


def pick(kernels: tuple, elements: int, cost: int):
    """The serial kernel when the thread policy (``threads.team_size``) gives one thread for this
    much work, else the parallel one (written out: it runs before every kernel call)."""
    if elements * cost < threads.PARALLEL_MIN_WORK or threads.get_num_threads() < 2:
        return kernels[0]
    return kernels[1]


def blocks(n: int) -> int:
    """Number of BLOCK-sized pieces covering n elements."""
    return (n + BLOCK - 1) // BLOCK
