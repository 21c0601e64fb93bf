# The losses' row and span bodies, shared by losses.pyx and the compiled step (step.pyx).

from elementwise cimport f_abs, f_exp, f_log, f_log1p, floating, span_max, span_sum

cdef enum:
    BLOCK = 512  # elements summed in the working precision before joining the float64 total


cdef enum:
    NARROW = 8          # rows of fewer classes take the exps and logs across rows (in vector lanes)
    NARROW_ROWS = 256   # rows per block of the narrow path (its per-row scratch lives on the stack)


cdef inline floating _xent_loss(const floating* xr, Py_ssize_t t, Py_ssize_t cols, floating m, floating lse,
                                double eps) noexcept nogil:
    """One row's loss: -(1-eps) log p_t - eps mean_j log p_j, from the row's max m and lse, the log
    of the sum of exp(x - m)."""
    cdef Py_ssize_t j
    cdef floating loss = -((xr[t] - m) - lse) * <floating>(1 - eps)
    cdef double shifted = 0
    if eps != 0:
        for j in range(cols):
            shifted += xr[j] - m
        loss = loss - <floating>(shifted / cols - lse) * <floating>eps
    return loss


cdef inline void _xent_row(floating* gr, floating* loss, const floating* xr, Py_ssize_t t, Py_ssize_t cols,
                           floating m, floating lse, floating inv, double eps, floating scale) noexcept nogil:
    """One row's loss and scaled gradient, gr holding exp(x - m) on entry; inv is 1 / their sum."""
    cdef Py_ssize_t j
    cdef floating off = <floating>(eps / cols), hit = <floating>(1 - eps)
    loss[0] = _xent_loss(xr, t, cols, m, lse, eps)
    for j in range(cols):
        gr[j] = (gr[j] * inv - off) * scale
    gr[t] = gr[t] - hit * scale


cdef inline void _xent_narrow(floating* grad, floating* loss, const floating* x, const long long* target,
                              Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, long long ignore_index, double eps,
                              floating scale) noexcept nogil:
    """_xent_rows for rows of fewer than NARROW classes, a block of rows at a time with the classes
    as columns of a scratch table (e[j * b + r]: class j of row r): the max, the shifted exps,
    their sum, its log and inverse run across rows, in vector lanes (a row of two classes alone
    stays scalar), with the operations of the wide path in the same order (the same results);
    then each row's gradient and loss."""
    cdef floating e[NARROW * NARROW_ROWS]
    cdef floating m[NARROW_ROWS]
    cdef floating lse[NARROW_ROWS]
    cdef floating inv[NARROW_ROWS]
    cdef Py_ssize_t b0 = r0, b, r, j, t
    cdef floating v, one = 1, off = <floating>(eps / cols), hit = <floating>(1 - eps)
    cdef floating* gr
    cdef const floating* xr
    while b0 < r1:
        b = NARROW_ROWS if b0 + NARROW_ROWS < r1 else r1 - b0
        for r in range(b):
            for j in range(cols):
                e[j * b + r] = x[(b0 + r) * cols + j]
        for r in range(b):  # the max as span_max takes it (a NaN counts only in the first column)
            m[r] = e[r]
        for j in range(1, cols):
            for r in range(b):
                v = e[j * b + r]
                m[r] = v if v > m[r] else m[r]
        for j in range(cols):
            for r in range(b):
                e[j * b + r] = f_exp(e[j * b + r] - m[r])
        for r in range(b):  # the sum as span_sum adds a short row: from zero, class by class
            inv[r] = 0
        for j in range(cols):
            for r in range(b):
                inv[r] = inv[r] + e[j * b + r]
        for r in range(b):
            lse[r] = f_log(inv[r])
            inv[r] = one / inv[r]
        for j in range(cols):
            for r in range(b):
                grad[(b0 + r) * cols + j] = (e[j * b + r] * inv[r] - off) * scale
        for r in range(b):
            gr = grad + (b0 + r) * cols
            xr = x + (b0 + r) * cols
            if target[b0 + r] == ignore_index:
                loss[b0 + r] = 0
                for j in range(cols):
                    gr[j] = 0
                continue
            t = <Py_ssize_t>target[b0 + r]
            gr[t] = gr[t] - hit * scale
            loss[b0 + r] = _xent_loss(xr, t, cols, m[r], lse[r], eps)
        b0 += b


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
