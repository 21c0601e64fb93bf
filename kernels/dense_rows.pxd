# The fused linear layer's elementwise passes, shared by dense.pyx and the compiled step (step.pyx).

from elementwise cimport IDENTITY, act_backward_span, act_forward_span, floating

cdef inline void _bias_act_rows(floating* out, floating* z, const floating* bias, Py_ssize_t r0, Py_ssize_t r1,
                         Py_ssize_t cols, int act, floating slope) noexcept nogil:
    """Rows r0..r1: z += bias, out = act(z) while the row is in cache (out may be z)."""
    if cols == 2:  # the same code with the width a constant: gcc vectorises the bias across rows
        _bias_act_span(out, z, bias, r0, r1, 2, act, slope)
    else:
        _bias_act_span(out, z, bias, r0, r1, cols, act, slope)


cdef inline void _bias_act_span(floating* out, floating* z, const floating* bias, Py_ssize_t r0, Py_ssize_t r1,
                                Py_ssize_t cols, int act, floating slope) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef floating* zr
    for r in range(r0, r1):
        zr = z + r * cols
        if bias != NULL:
            for j in range(cols):
                zr[j] = zr[j] + bias[j]
        if act != IDENTITY or out != z:
            act_forward_span(out + r * cols, zr, cols, act, slope)


cdef inline void _dz_rows(floating* dz, floating* dbias, const floating* g, const floating* saved, Py_ssize_t r0,
                   Py_ssize_t r1, Py_ssize_t cols, int act, floating slope) noexcept nogil:
    """Rows r0..r1: dz = g * act'(saved) (skipped when dz is g), dbias += dz (when not NULL)."""
    if cols == 2:  # as in _bias_act_rows
        _dz_span(dz, dbias, g, saved, r0, r1, 2, act, slope)
    else:
        _dz_span(dz, dbias, g, saved, r0, r1, cols, act, slope)


cdef inline void _dz_span(floating* dz, floating* dbias, const floating* g, const floating* saved, Py_ssize_t r0,
                          Py_ssize_t r1, Py_ssize_t cols, int act, floating slope) noexcept nogil:
    cdef Py_ssize_t r, j
    cdef floating* dzr
    for r in range(r0, r1):
        dzr = dz + r * cols
        if dzr != g + r * cols:
            act_backward_span(dzr, g + r * cols, saved + r * cols, cols, act, slope)
        if dbias != NULL:
            for j in range(cols):
                dbias[j] = dbias[j] + dzr[j]
