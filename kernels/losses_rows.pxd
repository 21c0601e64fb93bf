# The losses' row and span bodies, shared by losses.pyx and the compiled step (step.pyx).

from elementwise cimport f_abs, f_exp, f_log, f_log1p, floating, span_max, span_sum

cdef enum:
    BLOCK = 512  # elements summed in the working precision before joining the float64 total


cdef enum:
    NARROW = 8          # rows of fewer classes take the exps and logs across rows (in vector lanes)
    NARROW_ROWS = 256   # rows per block of the narrow path (its per-row scratch lives on the stack)


cdef inline void _xent_row(floating* gr, floating* loss, const floating* xr, Py_ssize_t t, Py_ssize_t cols,
                           floating m, floating lse, floating inv, double eps, floating scale) noexcept nogil:
    """One row's loss and scaled gradient, gr holding exp(x - m) on entry; m the row's max, lse the
    log of the exps' sum, inv 1 / that sum, eps the label smoothing."""
    cdef Py_ssize_t j
    cdef floating off = <floating>(eps / cols), hit = <floating>(1 - eps)
    cdef double shifted
    loss[0] = -((xr[t] - m) - lse) * hit
    if eps != 0:
        shifted = 0
        for j in range(cols):
            shifted += xr[j] - m
        loss[0] = loss[0] - <floating>(shifted / cols - lse) * <floating>eps
    for j in range(cols):
        gr[j] = (gr[j] * inv - off) * scale
    gr[t] = gr[t] - hit * scale


cdef inline void _xent_narrow(floating* grad, floating* loss, const floating* x, const long long* target,
                              Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, long long ignore_index, double eps,
                              floating scale) noexcept nogil:
    """_xent_rows for rows of fewer than NARROW classes: per block of rows, the shifted logits, then
    one exp over the block's elements and one log over its rows (loops that vectorise, where a row
    of two classes alone stays scalar), then each row's loss and gradient."""
    cdef floating m[NARROW_ROWS]
    cdef floating lse[NARROW_ROWS]
    cdef floating inv[NARROW_ROWS]
    cdef Py_ssize_t b0 = r0, b1, r, j, k
    cdef const floating* xr
    cdef floating* gr
    cdef floating mx, one = 1
    while b0 < r1:
        b1 = b0 + NARROW_ROWS if b0 + NARROW_ROWS < r1 else r1
        for r in range(b0, b1):
            xr = x + r * cols
            gr = grad + r * cols
            mx = span_max(xr, cols)
            m[r - b0] = mx
            for j in range(cols):
                gr[j] = xr[j] - mx
        gr = grad + b0 * cols
        for k in range((b1 - b0) * cols):
            gr[k] = f_exp(gr[k])
        for r in range(b0, b1):
            inv[r - b0] = span_sum(grad + r * cols, cols)
        for k in range(b1 - b0):
            lse[k] = f_log(inv[k])
            inv[k] = one / inv[k]
        for r in range(b0, b1):
            gr = grad + r * cols
            if target[r] == ignore_index:
                loss[r] = 0
                for j in range(cols):
                    gr[j] = 0
                continue
            _xent_row(gr, loss + r, x + r * cols, <Py_ssize_t>target[r], cols, m[r - b0], lse[r - b0], inv[r - b0],
                      eps, scale)
        b0 = b1


cdef inline void _xent_rows(floating* grad, floating* loss, const floating* x, const long long* target, Py_ssize_t r0,
                            Py_ssize_t r1, Py_ssize_t cols, long long ignore_index, double eps,
                            floating scale) noexcept nogil:
    """Rows r0..r1 of the fused softmax cross-entropy (see losses.pyx's docstring)."""
    cdef Py_ssize_t r, j
    cdef const floating* xr
    cdef floating* gr
    cdef floating m, s
    if cols < NARROW:
        _xent_narrow(grad, loss, x, target, r0, r1, cols, ignore_index, eps, scale)
        return
    for r in range(r0, r1):
        xr = x + r * cols
        gr = grad + r * cols
        if target[r] == ignore_index:
            loss[r] = 0
            for j in range(cols):
                gr[j] = 0
            continue
        m = span_max(xr, cols)
        for j in range(cols):
            gr[j] = f_exp(xr[j] - m)
        s = span_sum(gr, cols)
        _xent_row(gr, loss + r, xr, <Py_ssize_t>target[r], cols, m, f_log(s), <floating>1 / s, eps, scale)


cdef inline double _mse_span(floating* grad, floating* loss, const floating* x, const floating* t, Py_ssize_t n,
                      floating scale) noexcept nogil:
    """loss = d^2, grad = 2d * scale with d = x - t; returns sum(loss). loss may be NULL."""
    cdef floating buf[BLOCK]
    cdef floating* lb
    cdef floating d, two = 2
    cdef Py_ssize_t start = 0, j, m
    cdef double total = 0
    while start < n:
        m = min(<Py_ssize_t>BLOCK, n - start)
        lb = loss + start if loss != NULL else buf
        for j in range(m):
            d = x[start + j] - t[start + j]
            grad[start + j] = two * d * scale
            lb[j] = d * d
        total += span_sum(lb, m)
        start += m
    return total


cdef inline double _bce_span(floating* grad, floating* loss, const floating* x, const floating* t, Py_ssize_t n,
                      floating scale) noexcept nogil:
    """loss = max(x,0) - x t + log1p(e^-|x|), grad = (sigmoid(x) - t) * scale; returns sum(loss)."""
    cdef floating buf[BLOCK]
    cdef floating* lb
    cdef floating v, e, s, zero = 0, one = 1
    cdef Py_ssize_t start = 0, j, m
    cdef double total = 0
    while start < n:
        m = min(<Py_ssize_t>BLOCK, n - start)
        lb = loss + start if loss != NULL else buf
        for j in range(m):
            v = x[start + j]
            e = f_exp(-f_abs(v))
            s = one / (one + e)
            grad[start + j] = ((s if v >= 0 else e * s) - t[start + j]) * scale
            lb[j] = ((zero if v < 0 else v) - v * t[start + j]) + f_log1p(e)
        total += span_sum(lb, m)
        start += m
    return total
