# The optimizers' update rules over contiguous runs, shared by optim.pyx and the compiled step (step.pyx).

from libc.string cimport memset

from elementwise cimport f_sqrt, floating

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


cdef inline void _sgd(floating* p, const floating* grad, floating* buf, Hyper h, Py_ssize_t n) noexcept nogil:
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


cdef inline void _adagrad(floating* p, const floating* grad, floating* state_sum, Hyper h, Py_ssize_t n) noexcept nogil:
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


cdef inline void _rmsprop(floating* p, const floating* grad, floating* square_avg, floating* buf, floating* grad_avg,
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


cdef inline void _adadelta(floating* p, const floating* grad, floating* square_avg, floating* acc_delta, Hyper h,
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


cdef inline void _adam(floating* p, const floating* grad, floating* exp_avg, floating* exp_avg_sq, floating* vmax,
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


cdef inline void _span(Kind kind, floating* p, const floating* g, floating* s1, floating* s2, floating* s3, Hyper h,
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
