"""Views into the compiled step's flat buffers, without reference counting.

A slice or reshape of a Numba array creates an array that takes and drops an atomic reference
count on the buffer's memory: ~23 ns each, measured here, and the step interpreter makes some
hundred such views per step (each layer's weights, gradients, workspace slots). A view made by
``numba.carray`` from the buffer's address has no memory owner to count (0.7 ns): the buffers
are arguments of the step function, alive for the whole call, so nothing is lost. Every view
is checked against its buffer's size, so a wrong offset raises instead of reading or writing out
of bounds. A view does not keep its buffer alive: use it inside the compiled function that holds
the buffer, never hand it back to Python (the tests do, with the buffer still referenced).
"""

from __future__ import annotations

import numba
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from fastnn.compile.jit import jit


@intrinsic
def _void_pointer(typingctx, address):
    """The integer `address` as a void pointer (for numba.carray)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.intp), codegen


@jit
def view2d(buf, offset, rows, cols):
    """buf[offset:offset + rows * cols].reshape((rows, cols)) of a contiguous 1-D buffer, uncounted."""
    if offset < 0 or rows < 0 or cols < 0 or offset + rows * cols > buf.shape[0]:
        raise IndexError("compiled step: a view out of its buffer's bounds")
    return numba.carray(_void_pointer(buf.ctypes.data + offset * buf.itemsize), (rows, cols), buf.dtype)


@jit
def view1d(buf, offset, size):
    """buf[offset:offset + size] of a contiguous 1-D buffer, uncounted."""
    if offset < 0 or size < 0 or offset + size > buf.shape[0]:
        raise IndexError("compiled step: a view out of its buffer's bounds")
    return numba.carray(_void_pointer(buf.ctypes.data + offset * buf.itemsize), (size,), buf.dtype)


@jit
def slot(frame, k, dtype):
    """Slot k of a frame's table (``frame.Frame``: address, size) as a 1-D array of `dtype`, uncounted:
    valid while the frame, which holds the array, lives."""
    return numba.carray(_void_pointer(frame[2 * k]), (frame[2 * k + 1],), dtype)
