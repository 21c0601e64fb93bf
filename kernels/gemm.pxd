# Fortran ?gemm called through an address (the process's one BLAS, fastnn.threads.blas), shared by
# dense.pyx and the compiled step (step.pyx).

from libc.stdint cimport int64_t

from elementwise cimport floating

# Fortran gemm with 32-bit (LP64) or 64-bit (ILP64) integers, called through the pointers bound below
ctypedef void (*sgemm32_t)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                           const int*, const float*, const int*, const float*, float*, const int*) noexcept nogil
ctypedef void (*dgemm32_t)(const char*, const char*, const int*, const int*, const int*, const double*,
                           const double*, const int*, const double*, const int*, const double*, double*,
                           const int*) noexcept nogil
ctypedef void (*sgemm64_t)(const char*, const char*, const int64_t*, const int64_t*, const int64_t*, const float*,
                           const float*, const int64_t*, const float*, const int64_t*, const float*, float*,
                           const int64_t*) noexcept nogil
ctypedef void (*dgemm64_t)(const char*, const char*, const int64_t*, const int64_t*, const int64_t*,
                           const double*, const double*, const int64_t*, const double*, const int64_t*,
                           const double*, double*, const int64_t*) noexcept nogil


cdef inline void gemm_at(void* address, bint ilp64, char transa, char transb, int m, int n, int k, const floating* a,
                         int lda, const floating* b, int ldb, floating* c, int ldc) noexcept nogil:
    """Column-major c (m, n) = op(a) op(b) by the ?gemm at `address` (sgemm for float, dgemm for
    double), with 64-bit integers when `ilp64`."""
    cdef floating one = 1, zero = 0
    cdef int64_t m8 = m, n8 = n, k8 = k, lda8 = lda, ldb8 = ldb, ldc8 = ldc
    if floating is float:
        if ilp64:
            (<sgemm64_t>address)(&transa, &transb, &m8, &n8, &k8, &one, a, &lda8, b, &ldb8, &zero, c, &ldc8)
        else:
            (<sgemm32_t>address)(&transa, &transb, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc)
    else:
        if ilp64:
            (<dgemm64_t>address)(&transa, &transb, &m8, &n8, &k8, &one, a, &lda8, b, &ldb8, &zero, c, &ldc8)
        else:
            (<dgemm32_t>address)(&transa, &transb, &m, &n, &k, &one, a, &lda, b, &ldb, &zero, c, &ldc)
