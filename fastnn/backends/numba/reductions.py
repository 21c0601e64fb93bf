"""Row reductions for the Numba kernels, written so that LLVM keeps the vector units busy.

Without fast-math flags LLVM must add floats in source order, one at a time; ``total`` allows
reassociation (``fastmath={"reassoc"}``, on this function only) so the sum runs in vector lanes:
the same kind of reordering NumPy's own pairwise sum makes, much faster than a sequential loop,
with an error of the same order. No other fast-math assumption (no NaN, no inf) is made, so NaN
and inf propagate. A float max reduction does not vectorise even then; ``maximum`` keeps eight
independent running maxima, which removes the loop-carried dependency (docs/performance.md).
"""

from __future__ import annotations

from fastnn.backends.numba.jit import jit, jit_reassoc


@jit_reassoc
def total(a):
    """Sum of a 1-D array in its own dtype."""
    s = a.dtype.type(0.0)
    for i in range(a.shape[0]):
        s += a[i]
    return s


@jit_reassoc
def total_f64(a):
    """Sum of a 1-D array accumulated in float64."""
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i]
    return s


@jit_reassoc
def dot(a, b):
    """sum_i a_i b_i in the arrays' dtype."""
    s = a.dtype.type(0.0)
    for i in range(a.shape[0]):
        s += a[i] * b[i]
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
def maximum(a):
    """max of a non-empty 1-D array (a NaN may or may not win; callers only need NaN to spread
    through later arithmetic, which it does)."""
    n = a.shape[0]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = a[0]
    tail = n - n % 8
    for i in range(0, tail, 8):
        m0 = a[i] if a[i] > m0 else m0
        m1 = a[i + 1] if a[i + 1] > m1 else m1
        m2 = a[i + 2] if a[i + 2] > m2 else m2
        m3 = a[i + 3] if a[i + 3] > m3 else m3
        m4 = a[i + 4] if a[i + 4] > m4 else m4
        m5 = a[i + 5] if a[i + 5] > m5 else m5
        m6 = a[i + 6] if a[i + 6] > m6 else m6
        m7 = a[i + 7] if a[i + 7] > m7 else m7
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for i in range(tail, n):
        m = a[i] if a[i] > m else m
    return m
