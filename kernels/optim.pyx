# cython: language_level=3
"""Fused in-place optimizer updates (one pass over param, grad and state per step).

Every update is elementwise, so the arrays are cut into contiguous runs, one per thread above
PARALLEL_MIN_WORK. Constants are rounded to the working precision exactly where the NumPy
reference rounds them (t(1 - beta1) * g, ...), and the operations keep the reference's order.
Optional state arrays are None when the option is off. The public defs are the kernel table's
entries (contract.KERNELS' argument order); they take arrays of any shape and run on flat views.
"""

from libc.string cimport memset
from cython.parallel cimport prange

from elementwise cimport COST_PASS, COST_UPDATE, FASTNN_CONTRACT, chunk_start, f_sqrt, floating, team_size

from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()

cdef enum Kind:
    SGD, ADAGRAD, RMSPROP, ADADELTA, ADAM


cdef struct Hyper:
    double lr, weight_decay, eps
    double momentum, dampening          # sgd, rmsprop (momentum)
    double alpha                        # rmsprop
    double rho                          # adadelta
    double beta1, beta2, step_size, bc2_sqrt  # adam: lr/(1-b1^t), sqrt(1-b2^t)
    bint nesterov, first_step, centered, amsgrad, decoupled


cdef inline Hyper _zeroed() noexcept nogil:
    """All options off (0 / False); each update then sets its own."""
    cdef Hyper h
    memset(&h, 0, sizeof(Hyper))
    return h


cdef void _sgd(floating* p, const floating* grad, floating* buf, Hyper h, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, b, wd = <floating>h.weight_decay, mom = <floating>h.momentum
    cdef floating damp = <floating>(1 - h.dampening), lr = <floating>h.lr
    for i in range(n):
        g = grad[i] + wd * p[i] if h.weight_decay != 0 else grad[i]
        if h.momentum != 0:
            b = g if h.first_step else buf[i] * mom + damp * g
            buf[i] = b
            g = g + mom * b if h.nesterov else b
        p[i] = p[i] - lr * g


cdef void _adagrad(floating* p, const floating* grad, floating* state_sum, Hyper h, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, s, wd = <floating>h.weight_decay, clr = <floating>h.lr, eps = <floating>h.eps
    for i in range(n):
        g = grad[i] + wd * p[i] if h.weight_decay != 0 else grad[i]
        s = state_sum[i] + g * g
        state_sum[i] = s
        p[i] = p[i] - clr * g / (f_sqrt(s) + eps)


cdef inline void _rmsprop_loop(floating* p, const floating* grad, floating* square_avg, floating* buf,
                               floating* grad_avg, Hyper h, Py_ssize_t n, bint centered,
                               bint with_momentum) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, v, a, avg, b, wd = <floating>h.weight_decay, lr = <floating>h.lr, eps = <floating>h.eps
    cdef floating alpha = <floating>h.alpha, rest = <floating>(1 - h.alpha), mom = <floating>h.momentum
    cdef floating keep = 1 - rest
    cdef bint lerp_near = rest < 0.5 and rest > -0.5  # torch.lerp's two forms, chosen by the weight
    for i in range(n):
        g = grad[i] + wd * p[i] if h.weight_decay != 0 else grad[i]
        v = square_avg[i] * alpha + rest * g * g
        square_avg[i] = v
        if centered:
            # PyTorch's order: grad_avg.lerp_(g, 1 - alpha), then sqrt(square_avg - grad_avg^2)
            a = grad_avg[i] + rest * (g - grad_avg[i]) if lerp_near else g - (g - grad_avg[i]) * keep
            grad_avg[i] = a
            avg = f_sqrt(v - a * a) + eps
        else:
            avg = f_sqrt(v) + eps
        if with_momentum:
            b = buf[i] * mom + g / avg
            buf[i] = b
            p[i] = p[i] - lr * b
        else:
            p[i] = p[i] - lr * g / avg


cdef void _rmsprop(floating* p, const floating* grad, floating* square_avg, floating* buf, floating* grad_avg,
                   Hyper h, Py_ssize_t n) noexcept nogil:
    # the options are constants of each inlined copy, so every copy is a branch-free loop that vectorises
    # (one loop testing them per element ran several times slower: docs/performance.md)
    if h.centered:
        if h.momentum > 0:
            _rmsprop_loop(p, grad, square_avg, buf, grad_avg, h, n, True, True)
        else:
            _rmsprop_loop(p, grad, square_avg, buf, grad_avg, h, n, True, False)
    elif h.momentum > 0:
        _rmsprop_loop(p, grad, square_avg, buf, grad_avg, h, n, False, True)
    else:
        _rmsprop_loop(p, grad, square_avg, buf, grad_avg, h, n, False, False)


cdef void _adadelta(floating* p, const floating* grad, floating* square_avg, floating* acc_delta, Hyper h,
                    Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, v, delta, wd = <floating>h.weight_decay, lr = <floating>h.lr, eps = <floating>h.eps
    cdef floating rho = <floating>h.rho, rest = <floating>(1 - h.rho)
    for i in range(n):
        g = grad[i] + wd * p[i] if h.weight_decay != 0 else grad[i]
        v = square_avg[i] * rho + rest * g * g
        square_avg[i] = v
        delta = f_sqrt(acc_delta[i] + eps) / f_sqrt(v + eps) * g
        acc_delta[i] = acc_delta[i] * rho + rest * delta * delta
        p[i] = p[i] - lr * delta


cdef void _adam(floating* p, const floating* grad, floating* exp_avg, floating* exp_avg_sq, floating* vmax,
                Hyper h, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating g, m, v, wd = <floating>h.weight_decay, decay = <floating>(1 - h.lr * h.weight_decay)
    cdef floating b1 = <floating>h.beta1, r1 = <floating>(1 - h.beta1), b2 = <floating>h.beta2
    cdef floating r2 = <floating>(1 - h.beta2), step = <floating>h.step_size, bc2 = <floating>h.bc2_sqrt
    cdef floating eps = <floating>h.eps
    cdef bint coupled = h.weight_decay != 0 and not h.decoupled, decoupled = h.weight_decay != 0 and h.decoupled
    for i in range(n):
        if decoupled:
            p[i] = p[i] * decay
        g = grad[i] + wd * p[i] if coupled else grad[i]
        m = exp_avg[i] * b1 + r1 * g
        exp_avg[i] = m
        v = exp_avg_sq[i] * b2 + r2 * g * g
        exp_avg_sq[i] = v
        if h.amsgrad:
            v = v if v > vmax[i] else vmax[i]
            vmax[i] = v
        p[i] = p[i] - step * m / (f_sqrt(v) / bc2 + eps)


cdef void _span(Kind kind, floating* p, const floating* g, floating* s1, floating* s2, floating* s3, Hyper h,
                Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Apply one optimizer to elements lo..hi of every array (NULL state arrays are unused)."""
    cdef Py_ssize_t n = hi - lo
    if kind == SGD:
        _sgd(p + lo, g + lo, s1 + lo if s1 != NULL else NULL, h, n)
    elif kind == ADAGRAD:
        _adagrad(p + lo, g + lo, s1 + lo, h, n)
    elif kind == RMSPROP:
        _rmsprop(p + lo, g + lo, s1 + lo, s2 + lo if s2 != NULL else NULL, s3 + lo if s3 != NULL else NULL, h, n)
    elif kind == ADADELTA:
        _adadelta(p + lo, g + lo, s1 + lo, s2 + lo, h, n)
    else:
        _adam(p + lo, g + lo, s1 + lo, s2 + lo, s3 + lo if s3 != NULL else NULL, h, n)


cdef _run(Kind kind, floating[::1] param, const floating[::1] grad, floating[::1] s1, floating[::1] s2,
          floating[::1] s3, Hyper h, int nthreads):
    """Run `kind` over the flat arrays, split across threads above the threshold."""
    cdef Py_ssize_t n = param.shape[0]
    cdef int c, chunks = team_size(n * (COST_PASS if kind == SGD else COST_UPDATE), nthreads)
    cdef floating* p1 = &s1[0] if s1 is not None else NULL
    cdef floating* p2 = &s2[0] if s2 is not None else NULL
    cdef floating* p3 = &s3[0] if s3 is not None else NULL
    if n == 0:
        return
    if chunks == 1:
        with nogil:
            _span(kind, &param[0], &grad[0], p1, p2, p3, h, 0, n)
        return
    for c in prange(chunks, nogil=True, num_threads=chunks, schedule="static", chunksize=1):
        _span(kind, &param[0], &grad[0], p1, p2, p3, h, chunk_start(n, c, chunks), chunk_start(n, c + 1, chunks))


def _sgd_update(floating[::1] param, const floating[::1] grad, floating[::1] momentum_buffer, double lr,
               double momentum, double dampening, double weight_decay, bint nesterov, bint first_step,
               int nthreads):
    """torch.optim.SGD step in place (see Backend.sgd_update)."""
    cdef Hyper h = _zeroed()
    cdef floating[::1] unused = None
    h.lr = lr
    h.momentum = momentum
    h.dampening = dampening
    h.weight_decay = weight_decay
    h.nesterov = nesterov
    h.first_step = first_step
    _run(SGD, param, grad, momentum_buffer, unused, unused, h, nthreads)


def _adagrad_update(floating[::1] param, const floating[::1] grad, floating[::1] state_sum, double clr,
                   double weight_decay, double eps, int nthreads):
    """torch.optim.Adagrad step in place with the decayed rate clr."""
    cdef Hyper h = _zeroed()
    cdef floating[::1] unused = None
    h.lr = clr
    h.weight_decay = weight_decay
    h.eps = eps
    _run(ADAGRAD, param, grad, state_sum, unused, unused, h, nthreads)


def _rmsprop_update(floating[::1] param, const floating[::1] grad, floating[::1] square_avg,
                   floating[::1] momentum_buffer, floating[::1] grad_avg, double lr, double alpha, double eps,
                   double weight_decay, double momentum, bint centered, int nthreads):
    """torch.optim.RMSprop step in place."""
    cdef Hyper h = _zeroed()
    h.lr = lr
    h.alpha = alpha
    h.eps = eps
    h.weight_decay = weight_decay
    h.momentum = momentum
    h.centered = centered
    _run(RMSPROP, param, grad, square_avg, momentum_buffer, grad_avg, h, nthreads)


def _adadelta_update(floating[::1] param, const floating[::1] grad, floating[::1] square_avg,
                    floating[::1] acc_delta, double lr, double rho, double eps, double weight_decay, int nthreads):
    """torch.optim.Adadelta step in place."""
    cdef Hyper h = _zeroed()
    cdef floating[::1] unused = None
    h.lr = lr
    h.rho = rho
    h.eps = eps
    h.weight_decay = weight_decay
    _run(ADADELTA, param, grad, square_avg, acc_delta, unused, h, nthreads)


def _adam_update(floating[::1] param, const floating[::1] grad, floating[::1] exp_avg, floating[::1] exp_avg_sq,
                floating[::1] max_exp_avg_sq, long step, double lr, double beta1, double beta2, double eps,
                double weight_decay, bint amsgrad, bint decoupled_weight_decay, int nthreads):
    """torch.optim.Adam / AdamW step in place, `step` >= 1."""
    cdef Hyper h = _zeroed()
    h.lr = lr
    h.beta1 = beta1
    h.beta2 = beta2
    h.eps = eps
    h.weight_decay = weight_decay
    h.amsgrad = amsgrad
    h.decoupled = decoupled_weight_decay
    h.step_size = lr / (1 - beta1 ** step)
    h.bc2_sqrt = (1 - beta2 ** step) ** 0.5
    _run(ADAM, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h, nthreads)


def _flat(a):
    return None if a is None else a.reshape(-1)


def sgd_update(param, grad, momentum_buffer, double lr, double momentum, double dampening, double weight_decay,
               bint nesterov, bint first_step):
    _sgd_update(param.reshape(-1), grad.reshape(-1), _flat(momentum_buffer), lr, momentum, dampening, weight_decay,
                nesterov, first_step, get_num_threads())


def adagrad_update(param, grad, state_sum, double clr, double weight_decay, double eps):
    _adagrad_update(param.reshape(-1), grad.reshape(-1), state_sum.reshape(-1), clr, weight_decay, eps,
                    get_num_threads())


def rmsprop_update(param, grad, square_avg, momentum_buffer, grad_avg, double lr, double alpha, double eps,
                   double weight_decay, double momentum, bint centered):
    _rmsprop_update(param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1), _flat(momentum_buffer),
                    _flat(grad_avg), lr, alpha, eps, weight_decay, momentum, centered, get_num_threads())


def adadelta_update(param, grad, square_avg, acc_delta, double lr, double rho, double eps, double weight_decay):
    _adadelta_update(param.reshape(-1), grad.reshape(-1), square_avg.reshape(-1), acc_delta.reshape(-1), lr, rho, eps,
                     weight_decay, get_num_threads())


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, long step, double lr, double beta1, double beta2,
                double eps, double weight_decay, bint amsgrad, bint decoupled_weight_decay):
    _adam_update(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
                 _flat(max_exp_avg_sq), step, lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay,
                 get_num_threads())
