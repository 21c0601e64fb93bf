"""The one BLAS of the process: NumPy's own, reached from the Cython kernels by function pointer.

NumPy's wheels bundle an OpenBLAS (``scipy-openblas``) whose symbols carry a prefix and, for the
64-bit-integer (ILP64) build, a suffix: ``scipy_sgemm_64_`` is Fortran ``sgemm`` with 8-byte
integers. SciPy's wheels bundle a second OpenBLAS (32-bit integers) with its own thread pool; the
Cython kernels used to call that one through ``scipy.linalg.cython_blas`` while ``Tensor @`` and
the NumPy / Numba kernels called NumPy's, and the two pools' idle threads got in each other's way.

:func:`library` looks the gemm symbols up in the libraries NumPy's core extension loaded (dlsym
on its handle searches its dependencies, so this is exactly the BLAS ``numpy.matmul`` uses), reads
the integer width from the symbol names (and, for unsuffixed OpenBLAS names, from
``openblas_get_config()``), checks both products on a small case against known values, and hands
the addresses to ``kernels/dense.pyx``. Only if NumPy's BLAS exports no Fortran gemm (for example
Apple's Accelerate) does it fall back to SciPy's BLAS through the pointers ``cython_blas`` exports.
"""

from __future__ import annotations

import ctypes
import os
import sys
import types
from dataclasses import dataclass

# (sgemm, dgemm, set_num_threads, get_num_threads, get_config, 64-bit integers): NumPy's ILP64
# scipy-openblas, its LP64 build, an ILP64 OpenBLAS with the standard suffix, a plain OpenBLAS / BLAS.
_CANDIDATES = (
    ("scipy_sgemm_64_", "scipy_dgemm_64_", "scipy_openblas_set_num_threads64_",
     "scipy_openblas_get_num_threads64_", "scipy_openblas_get_config64_", True),
    ("scipy_sgemm_", "scipy_dgemm_", "scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads",
     "scipy_openblas_get_config", False),
    ("sgemm_64_", "dgemm_64_", "openblas_set_num_threads64_", "openblas_get_num_threads64_",
     "openblas_get_config64_", True),
    ("sgemm_", "dgemm_", "openblas_set_num_threads", "openblas_get_num_threads", "openblas_get_config", None),
)


@dataclass(frozen=True)
class BlasLibrary:
    """The BLAS the Cython kernels call: gemm addresses, integer width, and its thread switch."""

    sgemm: int
    dgemm: int
    ilp64: bool
    path: str
    source: str  # "numpy" or "scipy" (the fallback)
    set_threads: ctypes._CFuncPtr | None  # openblas_set_num_threads, when the library has one
    get_threads: ctypes._CFuncPtr | None

    def set_num_threads(self, n: int) -> None:
        """Set the library's thread count (a plain C call, ~1 µs; no-op for a BLAS without the switch)."""
        if self.set_threads is not None:
            self.set_threads(n)

    def get_num_threads(self) -> int | None:
        return self.get_threads() if self.get_threads is not None else None


_library: BlasLibrary | None = None


def _address(func) -> int:
    return ctypes.cast(func, ctypes.c_void_p).value


def _path_of(address: int) -> str:
    """The file the code at `address` was loaded from (dladdr)."""

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    info = DlInfo()
    try:
        libc = ctypes.CDLL(None)
        libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]
        if libc.dladdr(ctypes.c_void_p(address), ctypes.byref(info)) and info.dli_fname:
            return os.path.realpath(info.dli_fname.decode())
    except (AttributeError, OSError):
        pass
    return "?"


def _optional(lib: ctypes.CDLL, name: str, restype, argtypes):
    func = getattr(lib, name, None)
    if func is not None:
        func.restype, func.argtypes = restype, argtypes
    return func


def numpy_library() -> BlasLibrary | None:
    """NumPy's BLAS, found through the handle of NumPy's core extension (None: no Fortran gemm)."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core  # NumPy 2 and 1
    handle = ctypes.CDLL(core._multiarray_umath.__file__)
    for s, d, set_n, get_n, config, ilp64 in _CANDIDATES:
        sgemm, dgemm = getattr(handle, s, None), getattr(handle, d, None)
        if sgemm is None or dgemm is None:
            continue
        get_config = _optional(handle, config, ctypes.c_char_p, [])
        if ilp64 is None:  # unsuffixed names: only OpenBLAS's build string tells the integer width
            ilp64 = get_config is not None and b"USE64BITINT" in get_config()
        return BlasLibrary(_address(sgemm), _address(dgemm), ilp64, _path_of(_address(sgemm)), "numpy",
                           _optional(handle, set_n, None, [ctypes.c_int]),
                           _optional(handle, get_n, ctypes.c_int, []))
    return None


def scipy_library() -> BlasLibrary:
    """SciPy's BLAS, through the function pointers ``scipy.linalg.cython_blas`` exports (LP64)."""
    from scipy.linalg import cython_blas

    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    capsules = cython_blas.__pyx_capi__
    sgemm, dgemm = (get_pointer(capsules[n], get_name(capsules[n])) for n in ("sgemm", "dgemm"))
    return BlasLibrary(sgemm, dgemm, False, _path_of(sgemm), "scipy", None, None)


def library() -> BlasLibrary:
    """NumPy's BLAS (SciPy's if NumPy's exports no Fortran gemm), resolved once per process."""
    global _library
    if _library is None:
        _library = numpy_library() or scipy_library()
    return _library


def load_numba_numpy_support() -> None:
    """Import Numba's NumPy support (``numba.np.arraymath``, which Numba loads before it compiles or
    loads its first function) without loading SciPy's BLAS into the process.

    That module checks that a BLAS exists for ``np.dot`` by importing ``scipy.linalg.cython_blas``,
    which loads SciPy's OpenBLAS (a second library and thread pool, ~0.1 s with ``scipy.linalg``)
    although fastnn's Numba code never calls it (its products go to :func:`library`). The check is
    answered by a placeholder module for the length of the import; Numba imports the real one (and
    SciPy's BLAS) when a function of the user's that calls ``np.dot`` is compiled or first run, so
    that still works. Nothing is changed when NumPy's BLAS is not usable (SciPy's is then the one BLAS)
    or when Numba's NumPy support is already loaded."""
    name = "scipy.linalg.cython_blas"
    if "numba.np.arraymath" in sys.modules or name in sys.modules or library().source != "numpy":
        import numba.np.arraymath  # noqa: F401
        return
    placeholder = sys.modules[name] = types.ModuleType(name)
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]


def describe() -> str:
    """One line for ``fastnn info``: which BLAS the compiled kernels call."""
    lib = library()
    width = "64-bit (ILP64)" if lib.ilp64 else "32-bit (LP64)"
    return f"{lib.source}'s BLAS, {width} integers: {lib.path}"
