# cython: language_level=3
"""Fused in-place optimizer updates (one pass over param, grad and state per step).

Every update is elementwise, so the arrays are cut into contiguous runs, one per thread above
PARALLEL_MIN_WORK. Constants are rounded to the working precision exactly where the NumPy
reference rounds them (t(1 - beta1) * g, ...), and the operations keep the reference's order.
Optional state arrays are None when the option is off. The public defs are the kernel table's
entries (contract.KERNELS' argument order); they take arrays of any shape and run on flat views.
"""

from cython.parallel cimport prange

from elementwise cimport COST_PASS, COST_UPDATE, FASTNN_CONTRACT, chunk_start, floating, team_size
from optim_rules cimport ADAGRAD, ADADELTA, ADAM, Hyper, Kind, RMSPROP, SGD, _span, _zeroed

from fastnn.threads import get_num_threads

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()

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
