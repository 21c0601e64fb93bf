# The losses' row and span bodies, shared by losses.pyx and the compiled step (step.pyx).

from elementwise cimport f_abs, f_exp, f_log, f_log1p, floating, span_max, span_sum

cdef enum:
    BLOCK = 512  # elements summed in the working precision before joining the float64 total


cdef inline void _xent_rows(floating* grad, floating* loss, const floating* x, const long long* target,
                            Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, long long ignore_index, double eps,
                            floating scale) noexcept nogil:
    """Rows r0..r1 of the fused softmax cross-entropy (see losses.pyx's docstring). A short row's
    exps and log are scalar libm calls (its loops do not vectorise): the results PyTorch gives too
    (libmvec's vector exps, tried for rows of few classes, differ by an ulp at times)."""
    cdef Py_ssize_t r, j, t
    cdef const floating* xr
    cdef floating* gr
    cdef floating m, lse, inv, off = <floating>(eps / cols), hit = <floating>(1 - eps)
    cdef double shifted
    for r in range(r0, r1):
        xr = x + r * cols
        gr = grad + r * cols
        t = <Py_ssize_t>target[r]
        if target[r] == ignore_index:
            loss[r] = 0
            for j in range(cols):
                gr[j] = 0
            continue
        m = span_max(xr, cols)
        for j in range(cols):
            gr[j] = f_exp(xr[j] - m)
        inv = span_sum(gr, cols)
        lse = f_log(inv)
        inv = <floating>1 / inv
        loss[r] = -((xr[t] - m) - lse) * hit
        if eps != 0:
            shifted = 0
            for j in range(cols):
                shifted += xr[j] - m
            loss[r] = loss[r] - <floating>(shifted / cols - lse) * <floating>eps
        for j in range(cols):
            gr[j] = (gr[j] * inv - off) * scale
        gr[t] = gr[t] - hit * scale


cdef inline void _mse_block(floating* grad, floating* lb, const floating* x, const floating* t, Py_ssize_t m,
                            floating scale) noexcept nogil:
    """lb = d^2, grad = 2d * scale with d = x - t, over m elements."""
    cdef Py_ssize_t j
    cdef floating d, two = 2
    for j in range(m):
        d = x[j] - t[j]
        grad[j] = two * d * scale
        lb[j] = d * d


cdef inline void _bce_block(floating* grad, floating* lb, const floating* x, const floating* t, Py_ssize_t m,
                            floating scale) noexcept nogil:
    """lb = max(x,0) - x t + log1p(e^-|x|), grad = (sigmoid(x) - t) * scale, over m elements."""
    cdef Py_ssize_t j
    cdef floating v, e, s, zero = 0, one = 1
    for j in range(m):
        v = x[j]
        e = f_exp(-f_abs(v))
        s = one / (one + e)
        grad[j] = ((s if v >= 0 else e * s) - t[j]) * scale
        lb[j] = ((zero if v < 0 else v) - v * t[j]) + f_log1p(e)


cdef inline double _pointwise_span(bint bce, floating* grad, floating* loss, const floating* x, const floating* t,
                                   Py_ssize_t n, floating scale) noexcept nogil:
    """MSE (bce False) or BCE with logits (bce True) over n elements (_mse_block, _bce_block); returns
    sum(loss), each block of BLOCK losses summed in the working precision, then in float64; loss may
    be NULL."""
    cdef floating buf[BLOCK]
    cdef floating* lb
    cdef Py_ssize_t start = 0, m
    cdef double total = 0
    while start < n:
        m = min(<Py_ssize_t>BLOCK, n - start)
        lb = loss + start if loss != NULL else buf
        if bce:
            _bce_block(grad + start, lb, x + start, t + start, m, scale)
        else:
            _mse_block(grad + start, lb, x + start, t + start, m, scale)
        total += span_sum(lb, m)
        start += m
    return total
