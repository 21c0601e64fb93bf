"""Row reductions for the Numba kernels, written so that LLVM keeps the vector units busy.

Without fast-math flags LLVM must add floats in source order, one at a time; ``total`` allows
reassociation (``fastmath={"reassoc"}``, on this function only) so the sum runs in vector lanes:
the same kind of reordering NumPy's own pairwise sum makes, much faster than a sequential loop,
with an error of the same order. No other fast-math assumption (no NaN, no inf) is made, so NaN
and inf propagate. A float max reduction does not vectorise even then; ``maximum`` keeps eight
independent running maxima, which removes the loop-carried dependency (docs/performance.md).

The row forms (``row_total(a, r)``...) read row r of a 2-D array by index: slicing a row out of an
array costs a reference count on the array's memory (atomic, tens of nanoseconds), which on
small rows costs more than the arithmetic.
"""

from __future__ import annotations

from fastnn.backends.numba.jit import jit, jit_reassoc


@jit_reassoc
def row_total(a, r):
    """Sum of row r of a 2-D array in its own dtype."""
    s = a.dtype.type(0.0)
    for i in range(a.shape[1]):
        s += a[r, i]
    return s


@jit_reassoc
def total_f64(a):
    """Sum of a 1-D array accumulated in float64."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s


@jit_reassoc
def row_dot(a, b, r):
    """sum_i a[r, i] b[r, i] in the arrays' dtype."""
    s = a.dtype.type(0.0)
    for i in range(a.shape[1]):
        s += a[r, i] * b[r, i]
    return s


@jit_reassoc
def squared_distance_f64(a, b):
    """sum_i (a_i - b_i)^2, the differences taken in the arrays' dtype, accumulated in float64."""
    s = 0.0
    for i in range(a.shape[0]):
        d = a[i] - b[i]
        s += d * d
    return s


@jit
def row_max(a, r):
    """max of row r of a 2-D array with at least one column (a NaN may or may not win; callers only
    need NaN to spread through later arithmetic, which it does)."""
    n = a.shape[1]
    if n < 16:  # a short row: one running maximum (the eight below cost more than they save)
        m = a[r, 0]
        for i in range(1, n):
            v = a[r, i]
            m = v if v > m else m
        return m
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = a[r, 0]
    tail = n - n % 8
    for i in range(0, tail, 8):
        m0 = a[r, i] if a[r, i] > m0 else m0
        m1 = a[r, i + 1] if a[r, i + 1] > m1 else m1
        m2 = a[r, i + 2] if a[r, i + 2] > m2 else m2
        m3 = a[r, i + 3] if a[r, i + 3] > m3 else m3
        m4 = a[r, i + 4] if a[r, i + 4] > m4 else m4
        m5 = a[r, i + 5] if a[r, i + 5] > m5 else m5
        m6 = a[r, i + 6] if a[r, i + 6] > m6 else m6
        m7 = a[r, i + 7] if a[r, i + 7] > m7 else m7
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for i in range(tail, n):
        m = a[r, i] if a[r, i] > m else m
    return m
