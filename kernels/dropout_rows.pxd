# The dropout stream and spans, shared by dropout.pyx and the compiled step (step.pyx).

from libc.stdint cimport int64_t, uint8_t, uint64_t

from elementwise cimport floating

cdef inline double _uniform(uint64_t seed, uint64_t i) noexcept nogil:
    """The i-th (0-based) uniform of the stream, exactly as base.splitmix64_uniform."""
    cdef uint64_t z = seed + (i + 1) * <uint64_t>0x9E3779B97F4A7C15ULL
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    z = z ^ (z >> 31)
    return <double><int64_t>(z >> 11) * (1.0 / 9007199254740992.0)


cdef inline void _forward_span(floating* out, uint8_t* mask, const floating* x, uint64_t seed, double p, floating scale,
                        Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint8_t keep
    for i in range(lo, hi):
        keep = _uniform(seed, <uint64_t>i) >= p
        mask[i] = keep
        out[i] = x[i] * <floating>keep * scale


cdef inline void _backward_span(floating* out, const floating* g, const uint8_t* mask, floating scale, Py_ssize_t lo,
                         Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        out[i] = g[i] * <floating>mask[i] * scale
