# The losses' row and span bodies, shared by losses.pyx and the compiled step (step.pyx).

from elementwise cimport exact_exp_span, exact_log_span, f_abs, f_exp, f_log, f_log1p, floating, span_max, span_sum

cdef enum:
    BLOCK = 512  # elements summed in the working precision before joining the float64 total


cdef enum:
    NARROW = 8          # rows of fewer classes take their max, sum and loss across rows (in vector lanes)
    TILE = 512          # rows per tile at most (the per-row scratch lives on the stack)
    TILE_ELEMENTS = 8192  # and elements per tile at most (a tile's three passes stay in cache)
    # rows of at least this many classes (float32; NARROW in float64) take libmvec's vector exps row
    # by row (_xent_wide_rows): faster there than the exact spans (128 x 1000 float32: 133 against
    # 210 us; float64, whose exact span is scalar libm: 168 against 810), an ulp off at times
    EXACT_COLS = 64


cdef inline void _xent_tile(floating* grad, floating* loss, const floating* x, const long long* target,
                            Py_ssize_t b, Py_ssize_t cols, long long ignore_index, double eps,
                            floating scale) noexcept nogil:
    """b (<= TILE) rows of the fused softmax cross-entropy. Per row, the max m (span_max: a NaN
    counts only in the first column) and x - m into grad; the exps of the whole tile, then the
    logs of the b sums (span_sum), each equal to the scalar libm call's (exact_exp_span); then
    the loss -(1-eps)(x_t - m - lse) - eps (mean_j(x_j - m) - lse) and the gradient
    (e / sum - eps/C) * scale minus (1-eps) * scale at the target. Rows of fewer than NARROW classes
    are walked class by class across rows, with the same operations in the same order, so their
    loops vectorise."""
    cdef floating m[TILE]
    cdef floating lse[TILE]
    cdef floating inv[TILE]
    cdef Py_ssize_t r, j, t
    cdef const floating* xr
    cdef floating* gr
    cdef floating v, one = 1, off = <floating>(eps / cols), hit = <floating>(1 - eps)
    cdef double shifted
    if cols < NARROW:
        for r in range(b):
            m[r] = x[r * cols]
        for j in range(1, cols):
            for r in range(b):
                v = x[r * cols + j]
                m[r] = v if v > m[r] else m[r]
    else:
        for r in range(b):
            m[r] = span_max(x + r * cols, cols)
    for r in range(b):
        for j in range(cols):
            grad[r * cols + j] = x[r * cols + j] - m[r]
    exact_exp_span(grad, grad, b * cols)
    if cols < NARROW:  # a short row's sum as span_sum adds it: from zero, class by class
        for r in range(b):
            inv[r] = 0
        for j in range(cols):
            for r in range(b):
                inv[r] = inv[r] + grad[r * cols + j]
    else:
        for r in range(b):
            inv[r] = span_sum(grad + r * cols, cols)
    exact_log_span(lse, inv, b)
    for r in range(b):
        inv[r] = one / inv[r]
    for r in range(b):
        for j in range(cols):
            grad[r * cols + j] = (grad[r * cols + j] * inv[r] - off) * scale
    for r in range(b):
        xr = x + r * cols
        gr = grad + r * cols
        if target[r] == ignore_index:
            loss[r] = 0
            for j in range(cols):
                gr[j] = 0
            continue
        t = <Py_ssize_t>target[r]
        gr[t] = gr[t] - hit * scale
        loss[r] = -((xr[t] - m[r]) - lse[r]) * hit
        if eps != 0:
            shifted = 0
            for j in range(cols):
                shifted += xr[j] - m[r]
            loss[r] = loss[r] - <floating>(shifted / cols - lse[r]) * <floating>eps


cdef inline void _xent_wide_rows(floating* grad, floating* loss, const floating* x, const long long* target,
                                 Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, long long ignore_index, double eps,
                                 floating scale) noexcept nogil:
    """_xent_tile's computation for rows r0..r1 one row at a time, the exps in gcc's vectorised loop
    (libmvec's exps, scalar libm's for the last few of a row)."""
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


cdef inline void _xent_rows(floating* grad, floating* loss, const floating* x, const long long* target,
                            Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t cols, long long ignore_index, double eps,
                            floating scale) noexcept nogil:
    """Rows r0..r1 of the fused softmax cross-entropy (see losses.pyx's docstring): up to TILE rows
    at a time (_xent_tile), fewer for wider rows; rows of EXACT_COLS classes and more (float32) or
    NARROW and more (float64) by _xent_wide_rows."""
    cdef Py_ssize_t r = r0, b, most = max(1, min(<Py_ssize_t>TILE, TILE_ELEMENTS // max(cols, 1)))
    cdef Py_ssize_t widest = NARROW
    if floating is float:
        widest = EXACT_COLS
    if cols >= widest:
        _xent_wide_rows(grad, loss, x, target, r0, r1, cols, ignore_index, eps, scale)
        return
    while r < r1:
        b = most if r + most < r1 else r1 - r
        if cols == 2:  # the same code with the width a constant: gcc vectorises its strided loops
            _xent_tile(grad + r * 2, loss + r, x + r * 2, target + r, b, 2, ignore_index, eps, scale)
        else:
            _xent_tile(grad + r * cols, loss + r, x + r * cols, target + r, b, cols, ignore_index, eps, scale)
        r += b


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
