"""Matrix products from Numba code on the process's one BLAS, or direct loops when tiny (for
tools/parallel_layouts.py; the compiled step itself is Cython now, kernels/step.pyx, with the same
products).

The products call the process's one BLAS (fastnn.threads.blas: NumPy's own, the library the
Cython kernels and ``Tensor @`` use, under the one thread switch), not the BLAS behind Numba's
np.dot (SciPy's, a second library with a thread pool of its own). Its gemm addresses come in as
an argument (``blas`` = [sgemm, dgemm, 1 for 64-bit integers], see :func:`blas_addresses`), so
the functions stay cacheable. Row-major products are column-major gemm calls on the transposed
problem. The direct loops index rows (``a[i, j]``) rather than slicing them: a slice costs an
atomic reference count, more than a short row's arithmetic.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

jit = njit(error_model="numpy")
jit_reassoc = njit(error_model="numpy", fastmath={"reassoc"})

TINY_WORK = 2048
"""Products of at most this many multiply-adds run as direct loops (no BLAS call): measured here,
OpenBLAS's small-matrix kernels beat the loops from about 4,000 multiply-adds on, and a BLAS call
costs only ~0.2 us; a.T @ x (the weight gradient) is faster on BLAS at every size but the
smallest (TINY_WORK // 8)."""


@intrinsic
def _fortran_gemm(typingctx, address, transa, transb, m, n, k, a, lda, b, ldb, c, ldc):
    """Call Fortran ?gemm at `address`: c = op(a) op(b) (alpha 1, beta 0) on the arrays' data; the
    integer arguments are passed with the width of m's type (int64 for an ILP64 BLAS, int32)."""
    integer_type = m

    def codegen(context, builder, signature, args):
        addr, ta, tb, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_ = args
        real = context.get_value_type(signature.args[6].dtype)
        integer = context.get_value_type(integer_type)
        char = ir.IntType(8)
        ptypes = [char.as_pointer()] * 2 + [integer.as_pointer()] * 3 + [real.as_pointer()] * 2 + \
            [integer.as_pointer(), real.as_pointer(), integer.as_pointer(), real.as_pointer(), real.as_pointer(),
             integer.as_pointer()]
        function = builder.inttoptr(addr, ir.FunctionType(ir.VoidType(), ptypes).as_pointer())

        def ref(llvm_type, value):
            slot = cgutils.alloca_once(builder, llvm_type)
            builder.store(value, slot)
            return slot

        def data(array_type, value):
            return context.make_array(array_type)(context, builder, value).data

        one, zero = ref(real, ir.Constant(real, 1.0)), ref(real, ir.Constant(real, 0.0))
        builder.call(function, [ref(char, builder.trunc(ta, char)), ref(char, builder.trunc(tb, char)),
                                ref(integer, m_), ref(integer, n_), ref(integer, k_), one,
                                data(signature.args[6], a_), ref(integer, lda_), data(signature.args[8], b_),
                                ref(integer, ldb_), zero, data(signature.args[10], c_), ref(integer, ldc_)])
        return context.get_dummy_value()

    if not isinstance(m, types.Integer) or not all(t == m for t in (n, k, lda, ldb, ldc)):
        return None
    return types.void(types.int64, types.int64, types.int64, m, m, m, a, m, b, m, c, m), codegen


@jit
def gemm(blas, transa, transb, m, n, k, a, lda, b, ldb, c, ldc):
    """Column-major c (m, n) = op(a) op(b) in the process's BLAS (transa/transb: ord('N') or ord('T'))."""
    if m == 0 or n == 0:
        return
    if k == 0:
        c[:, :] = 0
        return
    address = blas[0] if c.itemsize == 4 else blas[1]
    if blas[2] != 0:
        _fortran_gemm(address, transa, transb, np.int64(m), np.int64(n), np.int64(k), a, np.int64(lda), b,
                      np.int64(ldb), c, np.int64(ldc))
    else:
        _fortran_gemm(address, transa, transb, np.int32(m), np.int32(n), np.int32(k), a, np.int32(lda), b,
                      np.int32(ldb), c, np.int32(ldc))


N, T = ord("N"), ord("T")


def blas_addresses() -> np.ndarray:
    """The ``blas`` argument of the products: [sgemm, dgemm, 1 if 64-bit integers]."""
    from fastnn.threads.blas import library

    lib = library()
    return np.array([lib.sgemm, lib.dgemm, int(lib.ilp64)], dtype=np.int64)


NT, NN, TN = 0, 1, 2  # the forms of product(): a @ b.T, a @ b, a.T @ b


@jit
def product(a, b, out, form, blas):
    """out = a @ b.T (form NT: the forward x @ W.T), a @ b (NN: the input gradient dz @ W) or
    a.T @ b (TN: the weight gradient dz.T @ x), on BLAS unless tiny."""
    rows, cols = out.shape
    inner = a.shape[0] if form == TN else a.shape[1]
    work = rows * cols * inner
    if form == NT:
        if work > TINY_WORK:
            gemm(blas, T, N, cols, rows, inner, b, inner, a, inner, out, cols)
        else:
            tiny_nt(a, b, out)
    elif form == NN:
        if work > TINY_WORK:
            gemm(blas, N, N, cols, rows, inner, b, cols, a, inner, out, cols)
        else:
            tiny_product(a, b, out, False)
    elif work > TINY_WORK // 8:
        gemm(blas, N, T, cols, rows, inner, b, cols, a, rows, out, cols)
    else:
        tiny_product(a, b, out, True)


@jit_reassoc
def tiny_nt(x, w, out):
    """out = x @ w.T as n * m row dot products (vectorised: the additions may be reordered)."""
    for i in range(x.shape[0]):
        for q in range(w.shape[0]):
            s = x.dtype.type(0.0)
            for j in range(x.shape[1]):
                s += x[i, j] * w[q, j]
            out[i, q] = s


@jit
def tiny_product(a, b, out, transposed):
    """out = A @ b with A = a.T when `transposed`, else a, as row updates out[r] += A[r, j] b[j]
    (vectorised over b's rows, no reduction)."""
    zero = out.dtype.type(0.0)
    inner = a.shape[0] if transposed else a.shape[1]
    for r in range(out.shape[0]):
        for q in range(out.shape[1]):
            out[r, q] = zero
        for j in range(inner):
            av = a[j, r] if transposed else a[r, j]
            for q in range(out.shape[1]):
                out[r, q] += av * b[j, q]
