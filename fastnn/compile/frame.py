"""The step's own arrays, handed to ``run_step`` as one int64 array of (address, size) pairs.

Every array argument of a compiled call costs its conversion from the Python object (~80 ns an
array for the Numba interpreter before session 7: 2.1 us for 26 arguments); an int64 array of
addresses is read once. Inside, the interpreter (kernels/step.pyx) reads each slot's address and
size and checks every view it takes against that size.

A :class:`Frame` holds a reference to every array it points to, so none can be freed while the
frame lives, and it checks each array's dtype and contiguity against its slot's declaration
before taking its address: the compiled code never reads memory through a stale or mistyped
entry. Its owner (the step) builds a new frame whenever one of the arrays is replaced.
"""

from __future__ import annotations

import numpy as np

# slot: (name, dtype; None: the step's float dtype)
SLOTS = (("ops", np.int64), ("fl", np.float64), ("cfg", np.int64), ("cff", np.float64), ("P", None), ("G", None),
         ("S0", None), ("S1", None), ("S2", None), ("H", np.float64), ("steps", np.int64), ("seeds", np.uint64),
         ("bounds", np.int64), ("info", np.int64), ("ws", None), ("ms", np.uint8), ("srows", np.int64),
         ("svalues", None), ("spos", np.int64), ("blas", np.int64))
(F_OPS, F_FL, F_CFG, F_CFF, F_P, F_G, F_S0, F_S1, F_S2, F_H, F_STEPS, F_SEEDS, F_BOUNDS, F_INFO, F_WS, F_MS, F_SROWS,
 F_SVALUES, F_SPOS, F_BLAS) = range(len(SLOTS))
INDEX = {name: k for k, (name, _) in enumerate(SLOTS)}


class Frame:
    """The arrays of one step call as run_step reads them: ``table`` (int64, 2 per slot: address,
    size in elements; then the item size of the float buffers), the arrays themselves (kept alive),
    and what the owner keys it by."""

    def __init__(self, dtype: np.dtype, arrays: dict[str, np.ndarray], **keys) -> None:
        self.dtype = np.dtype(dtype)
        self.table = np.zeros(2 * len(SLOTS) + 1, np.int64)
        self.table[-1] = self.dtype.itemsize
        self.arrays: list[np.ndarray | None] = [None] * len(SLOTS)
        self.__dict__.update(keys)
        missing = {name for name, _ in SLOTS} - set(arrays)
        if missing:
            raise ValueError(f"compiled step frame: no array for {sorted(missing)}")
        for name, array in arrays.items():
            self.set(INDEX[name], array)

    def set(self, k: int, array: np.ndarray) -> None:
        """Point slot k at `array` (its declared dtype, C-contiguous), keeping a reference to it."""
        name, dtype = SLOTS[k]
        expected = self.dtype if dtype is None else np.dtype(dtype)
        if array.dtype != expected or not array.flags.c_contiguous:
            raise TypeError(f"compiled step frame: slot {name} needs a C-contiguous {expected} array, "
                            f"got {array.dtype} (contiguous: {array.flags.c_contiguous})")
        self.arrays[k] = array
        self.table[2 * k] = array.__array_interface__["data"][0]
        self.table[2 * k + 1] = array.size


__all__ = ["F_BLAS", "F_BOUNDS", "F_CFF", "F_CFG", "F_FL", "F_G", "F_H", "F_INFO", "F_MS", "F_OPS", "F_P", "F_S0",
           "F_S1", "F_S2", "F_SEEDS", "F_SPOS", "F_STEPS", "F_SROWS", "F_SVALUES", "F_WS", "Frame"]
