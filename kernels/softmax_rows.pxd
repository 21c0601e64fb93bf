# Row softmax and log-softmax (forward and backward) of the Cython kernels, shared by activations.pyx
# and the compiled step (step.pyx).

from elementwise cimport f_exp, f_log, floating, span_max, span_sum

cdef inline void _softmax_rows(floating* out, const floating* x, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols,
                        bint log) noexcept nogil:
    """Rows r0..r1: softmax, or log-softmax when `log`, shifted by the row maximum."""
    cdef Py_ssize_t r, j
    cdef const floating* xr
    cdef floating* orow
    cdef floating m, inv, lse
    for r in range(r0, r1):
        xr = x + r * cols
        orow = out + r * cols
        m = span_max(xr, cols)
        for j in range(cols):
            orow[j] = f_exp(xr[j] - m)
        if log:
            lse = f_log(span_sum(orow, cols))
            for j in range(cols):
                orow[j] = (xr[j] - m) - lse
        else:
            inv = <floating>1 / span_sum(orow, cols)
            for j in range(cols):
                orow[j] = orow[j] * inv


cdef inline void _softmax_backward_rows(floating* out, const floating* g, const floating* y, Py_ssize_t r0, Py_ssize_t r1,
                                 Py_ssize_t cols, bint log) noexcept nogil:
    """softmax: dx = y (g - sum g*y); log-softmax: dx = g - exp(y) sum g; rows r0..r1."""
    cdef Py_ssize_t r, j
    cdef Py_ssize_t o
    cdef floating s
    for r in range(r0, r1):
        o = r * cols
        if log:
            s = span_sum(g + o, cols)
            for j in range(cols):
                out[o + j] = g[o + j] - f_exp(y[o + j]) * s
        else:
            for j in range(cols):
                out[o + j] = g[o + j] * y[o + j]
            s = span_sum(out + o, cols)
            for j in range(cols):
                out[o + j] = y[o + j] * (g[o + j] - s)
