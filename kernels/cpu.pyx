# cython: language_level=3
"""Which optional instruction sets this CPU (and its OS) supports, for choosing kernel builds."""

cdef extern from *:
    """
    static int fastnn_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int fastnn_has_avx512(void) {
        return fastnn_has_avx2_fma() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    }
    """
    int fastnn_has_avx2_fma() nogil
    int fastnn_has_avx512() nogil


def supported_isas() -> tuple:
    """The optional builds this CPU can run, best first: 'avx512' and/or 'avx2' (may be empty)."""
    found = []
    if fastnn_has_avx512():
        found.append("avx512")
    if fastnn_has_avx2_fma():
        found.append("avx2")
    return tuple(found)
