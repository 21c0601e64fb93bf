"""Input checks run in Python before any kernel body sees its arrays.

Every public kernel of :class:`fastnn.backends.base.Backend` passes its arguments through these
helpers first, so a compiled kernel only ever receives C-contiguous arrays of the dtypes,
shapes and index ranges it was written for. Each error names the kernel and what was wrong.
"""

from __future__ import annotations

import numbers

import numpy as np

from fastnn.backends.contract import FLOAT_DTYPES, OPTIONAL_STATES


def float_array(kernel: str, name: str, a, dtype=None) -> np.ndarray:
    """Return `a` as a C-contiguous float32/float64 array (copying only when needed)."""
    arr = np.asarray(a)
    if arr.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{kernel}: {name} must be float32 or float64, got {arr.dtype}")
    if dtype is not None and arr.dtype != dtype:
        raise TypeError(f"{kernel}: {name} has dtype {arr.dtype} but the other inputs are {np.dtype(dtype)}")
    return contiguous(arr)


def contiguous(arr: np.ndarray, dtype=None) -> np.ndarray:
    """C-contiguous with the same shape (np.ascontiguousarray alone turns a 0-d array into 1-d)."""
    return np.ascontiguousarray(arr, dtype=dtype).reshape(arr.shape)


def index_array(kernel: str, name: str, a, high: int, allow: int | None = None) -> np.ndarray:
    """Return `a` as a C-contiguous int64 array whose values lie in [0, high) (or equal `allow`)."""
    arr = np.asarray(a)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{kernel}: {name} must hold integers, got dtype {arr.dtype}")
    arr = contiguous(arr, np.int64)
    if arr.size:
        bad = (arr < 0) | (arr >= high)
        if allow is not None:
            bad &= arr != allow
        if bad.any():
            value = int(arr[bad.argmax() if bad.ndim == 1 else np.unravel_index(bad.argmax(), bad.shape)])
            unit = "classes" if "target" in name else "rows"
            raise IndexError(f"{kernel}: {name} {value} out of range for {high} {unit}")
    return arr


def shape(kernel: str, name: str, arr: np.ndarray, expected: tuple, what: str = "") -> None:
    """Raise unless arr.shape == expected (None in `expected` matches any length)."""
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        dims = ", ".join("*" if e is None else str(e) for e in expected)
        want = f"({dims},)" if len(expected) == 1 else f"({dims})"
        raise ValueError(f"{kernel}: {name} expected shape {want}{what}, got {arr.shape}")


def inplace(kernel: str, name: str, a, like: np.ndarray) -> np.ndarray:
    """An array updated in place: must already be C-contiguous, writeable, of `like`'s shape and dtype."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{kernel}: {name} must be a numpy array updated in place, got {type(a).__name__}")
    if a.shape != like.shape or a.dtype != like.dtype:
        raise ValueError(f"{kernel}: {name} expected {like.shape} {like.dtype}, got {a.shape} {a.dtype}")
    if not a.flags.c_contiguous or not a.flags.writeable:
        raise ValueError(f"{kernel}: {name} must be C-contiguous and writeable to be updated in place")
    return a


def state_array(kernel: str, name: str, a, like: np.ndarray) -> np.ndarray | None:
    """A state array of an update kernel, checked as :func:`inplace`; None only where the contract lets
    it be (``contract.OPTIONAL_STATES``; whether its option then needs it is the kernel's check)."""
    if a is None:
        if name in OPTIONAL_STATES.get(kernel, ()):
            return None
        raise ValueError(f"{kernel}: {name} is required")
    return inplace(kernel, name, a, like)


def optional_none(kernel: str, states: dict) -> bool:
    """True unless a state array of the update kernel is None where the contract requires it."""
    optional = OPTIONAL_STATES.get(kernel, ())
    return all(value is not None or name in optional for name, value in states.items())


def choice(kernel: str, name: str, value: str, allowed: tuple) -> str:
    if value not in allowed:
        raise ValueError(f"{kernel}: {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def probability(kernel: str, name: str, p: float, closed_right: bool = True) -> float:
    p = real(kernel, name, p)
    if not (0.0 <= p <= 1.0) or (not closed_right and p == 1.0):
        raise ValueError(f"{kernel}: {name} must be in [0, 1{']' if closed_right else ')'}, got {p}")
    return p


def offsets_array(kernel: str, offsets, n_indices: int) -> np.ndarray:
    """Bag start positions: int64, non-decreasing, first 0 (when any), all within [0, n_indices]."""
    off = np.asarray(offsets)
    if off.ndim != 1:
        raise ValueError(f"{kernel}: offsets must be 1-D, got shape {off.shape}")
    if off.dtype == np.bool_ or not np.issubdtype(off.dtype, np.integer):
        raise TypeError(f"{kernel}: offsets must hold integers, got dtype {off.dtype}")
    off = np.ascontiguousarray(off, dtype=np.int64)
    if off.size:
        if off[0] != 0:
            raise ValueError(f"{kernel}: offsets must start at 0, got {int(off[0])}")
        if (np.diff(off) < 0).any():
            raise ValueError(f"{kernel}: offsets must be non-decreasing")
        if off[-1] > n_indices:
            raise ValueError(f"{kernel}: offset {int(off[-1])} is past the end of {n_indices} indices")
    return off


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def real(kernel: str, name: str, value) -> float:
    """A Python or NumPy real number (bools included, as float() takes them) as a float; anything
    else (a string, None, an array) is a TypeError naming the kernel and the argument."""
    if type(value) is float:  # the common case, first
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "biuf":
        value = value.item()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{kernel}: {name} must be a real number, got {type(value).__name__} {value!r}")
    return float(value)


def integer(kernel: str, name: str, value, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """A Python or NumPy integer (not a bool, not a float) in [low, high] as an int."""
    if type(value) is int and low <= value <= high:  # the common case, first
        return value
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{kernel}: {name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if not low <= value <= high:
        bounds = f">= {low}" if high == INT64_MAX and low != INT64_MIN else f"in [{low}, {high}]"
        raise ValueError(f"{kernel}: {name} must be {bounds}, got {value}")
    return value


def flag(kernel: str, name: str, value) -> bool:
    """A bool (Python or NumPy, or the integers 0 and 1) as a bool."""
    if type(value) is bool:
        return value
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and int(value) in (0, 1)):
        return bool(value)
    raise TypeError(f"{kernel}: {name} must be a bool, got {type(value).__name__} {value!r}")


def _owner(a: np.ndarray) -> np.ndarray:
    """The array at the root of `a`'s chain of views."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def disjoint(kernel: str, written: dict, others: dict) -> None:
    """Raise unless every array a kernel writes in place (`written`, by argument name) shares no
    memory with any other argument (`written` and `others`): an aliased buffer would make the
    result depend on the order in which a backend reads and writes."""
    arrays = [(k, v) for k, v in (*written.items(), *others.items()) if isinstance(v, np.ndarray)]
    owners = [_owner(a) for _, a in arrays]
    if all(o.base is None for o in owners) and len({id(o) for o in owners}) == len(owners):
        return  # views of distinct arrays that own their memory cannot overlap
    n_written = sum(1 for v in written.values() if isinstance(v, np.ndarray))
    for i in range(n_written):
        name, a = arrays[i]
        for other, b in arrays[i + 1:]:
            if np.may_share_memory(a, b) and np.shares_memory(a, b):
                raise ValueError(f"{kernel}: {name} and {other} share memory; an array updated in place "
                                 f"must not overlap another argument (pass a copy)")


def ready_for_update(param, grad, states) -> bool:
    """True when the optimizer kernels' arrays need no conversion and cannot overlap: ndarrays of one
    float dtype and shape, C-contiguous, param and states writeable, and disjoint: each owning its
    memory and a distinct object, or (views, e.g. of the compiled step's flat buffers) with byte
    ranges that do not intersect, which for C-contiguous arrays is exact. (Anything else takes the
    full checks, :func:`disjoint` included.)"""
    if type(param) is not np.ndarray or type(grad) is not np.ndarray:
        return False
    shape, dtype = param.shape, param.dtype
    if dtype not in FLOAT_DTYPES or grad.dtype != dtype or grad.shape != shape or not grad.flags.c_contiguous:
        return False
    flags = param.flags
    if not (flags.c_contiguous and flags.writeable):
        return False
    arrays = [grad, param]
    owned = grad.base is None and param.base is None
    for a in states:
        if a is None:
            continue
        if type(a) is not np.ndarray or a.shape != shape or a.dtype != dtype:
            return False
        flags = a.flags
        if not (flags.c_contiguous and flags.writeable):
            return False
        owned = owned and a.base is None
        arrays.append(a)
    if owned:
        return len({id(a) for a in arrays}) == len(arrays)
    for i in range(1, len(arrays)):  # np.may_share_memory compares byte bounds: exact for contiguous arrays
        for j in range(i):
            if np.may_share_memory(arrays[i], arrays[j]):
                return False
    return True


def padding_index(kernel: str, padding_idx, num_embeddings: int) -> int:
    """padding_idx as the kernels take it: -1 for none, else a row in [0, num_embeddings)."""
    if padding_idx is None:
        return -1
    padding_idx = integer(kernel, "padding_idx", padding_idx)
    if not 0 <= padding_idx < num_embeddings:
        raise ValueError(f"{kernel}: padding_idx {padding_idx} out of range for {num_embeddings} rows")
    return padding_idx
