# Embedding gathers, scatter-adds and bag pooling, shared by embedding.pyx and the compiled step (step.pyx).

from libc.string cimport memcpy

from elementwise cimport floating

cdef inline void _gather_rows(floating* out, const floating* weight, const long long* indices, Py_ssize_t r0,
                       Py_ssize_t r1, Py_ssize_t dim) noexcept nogil:
    cdef Py_ssize_t r
    for r in range(r0, r1):
        memcpy(out + r * dim, weight + indices[r] * dim, dim * sizeof(floating))


cdef inline void _scatter_cols(floating* dweight, const floating* rows, const long long* indices, const long long* row_of,
                        const floating* row_scale, Py_ssize_t n, Py_ssize_t dim, long long padding_idx,
                        Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """dweight[indices[i], c0:c1] += rows[row_of[i], c0:c1] * row_scale[row_of[i]] for every i whose
    index is not padding_idx (row_of NULL: row i; row_scale NULL: scale 1)."""
    cdef Py_ssize_t i, j, r
    cdef floating s
    cdef floating* dst
    cdef const floating* src
    for i in range(n):
        if indices[i] == padding_idx:
            continue
        r = row_of[i] if row_of != NULL else i
        dst = dweight + indices[i] * dim
        src = rows + r * dim
        if row_scale != NULL:
            s = row_scale[r]
            for j in range(c0, c1):
                dst[j] = dst[j] + src[j] * s
        else:
            for j in range(c0, c1):
                dst[j] = dst[j] + src[j]


cdef inline void _bag_rows(floating* out, const floating* weight, const long long* indices, const long long* offsets,
                    Py_ssize_t n_bags, Py_ssize_t n, Py_ssize_t dim, bint mean, long long padding_idx,
                    Py_ssize_t b0, Py_ssize_t b1) noexcept nogil:
    """Bags b0..b1: out[b] = sum (or mean) of weight rows of the bag's non-padding indices."""
    cdef Py_ssize_t b, k, j, stop, count
    cdef floating* o
    cdef const floating* w
    cdef floating inv
    for b in range(b0, b1):
        o = out + b * dim
        stop = offsets[b + 1] if b + 1 < n_bags else n
        count = 0
        for k in range(offsets[b], stop):
            if indices[k] == padding_idx:
                continue
            count += 1
            w = weight + indices[k] * dim
            for j in range(dim):
                o[j] = o[j] + w[j]
        if mean and count > 1:
            inv = count
            for j in range(dim):
                o[j] = o[j] / inv
