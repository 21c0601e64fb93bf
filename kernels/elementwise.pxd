# Shared inline code of the Cython kernels: scalar maths in float/double, the activation
# spans used by both activations.pyx and dense.pyx, short reductions, and the rule that
# decides when a kernel starts an OpenMP team.
#
# Cython writes an integer literal next to a float as a C double (1 + e becomes 1.0 + e), which
# would turn float32 arithmetic into float64: literals in float expressions are typed locals.
#
# Spans take raw pointers over a contiguous run of n elements and switch on the activation
# outside their loops, so each loop is a straight elementwise loop that gcc vectorises
# (through libmvec for exp/tanh/erf/log1p, see vecmath.h).

from cython cimport floating

cdef extern from "vecmath.h" nogil:
    float expf(float)
    double exp(double)
    float logf(float)
    double log(double)
    float log1pf(float)
    double log1p(double)
    float tanhf(float)
    double tanh(double)
    float erff(float)
    double erf(double)
    float sqrtf(float)
    double sqrt(double)
    float fabsf(float)
    double fabs(double)

# Activation codes: fastnn.backends.contract.ACTIVATIONS (tests/backends/test_contract.py holds
# this enum, the COST_* classes, PARALLEL_MIN_WORK (fastnn.threads) and the GELU macros to it).
cdef enum:
    IDENTITY = 0
    RELU = 1
    LEAKY_RELU = 2
    SIGMOID = 3
    TANH = 4
    GELU = 5
    GELU_TANH = 6

# When to start an OpenMP team: fastnn.threads' rule, the same for the Numba kernels. Work is
# elements x COST_* (quarter-nanoseconds of one thread per element); each extra thread needs
# PARALLEL_MIN_WORK of it. The measurements behind the numbers: docs/performance.md.
cdef enum:
    COST_PASS = 1       # copy, relu, scaling, embedding rows, sgd, mse
    COST_UPDATE = 3     # adam, adagrad, rmsprop, adadelta, layer_norm (sqrt, division)
    COST_MATH = 6       # exp, tanh, erf, log1p (libmvec), splitmix64
    PARALLEL_MIN_WORK = 2000000


cdef extern from *:
    # the digest of fastnn.backends.contract this build was compiled against (setup.py defines it);
    # fastnn._cython refuses a module whose digest differs from the running contract's
    const char* FASTNN_CONTRACT


cdef extern from "vecmath.h" nogil:
    # the constants of fastnn.backends.contract, as C macros (a .pxd cannot hold initialised globals)
    const double SQRT_2_OVER_PI "FASTNN_SQRT_2_OVER_PI"
    const double GELU_TANH_COEF "FASTNN_GELU_TANH_COEF"
    const double INV_SQRT2 "FASTNN_INV_SQRT2"
    const double INV_SQRT_2PI "FASTNN_INV_SQRT_2PI"


cdef inline int team_size(Py_ssize_t work, int nthreads) noexcept nogil:
    """Threads worth starting for `work` (elements x COST_*): one more per PARALLEL_MIN_WORK,
    at most nthreads."""
    cdef Py_ssize_t most = 1 + work // PARALLEL_MIN_WORK
    return <int>(most if most < nthreads else nthreads) if nthreads > 1 else 1


cdef inline int act_cost(int act) noexcept nogil:
    """Per-element cost of an activation's forward (contract.ACTIVATIONS' cost column)."""
    return COST_PASS if act == IDENTITY or act == RELU or act == LEAKY_RELU else COST_MATH


cdef inline int act_backward_cost(int act) noexcept nogil:
    """Per-element cost of an activation's backward (contract.ACTIVATIONS' backward_cost column)."""
    return COST_MATH if act == GELU or act == GELU_TANH else COST_PASS


cdef inline Py_ssize_t chunk_start(Py_ssize_t n, int chunk, int chunks) noexcept nogil:
    """First item of chunk `chunk` when n items are cut into `chunks` near-equal runs."""
    return (n * chunk) // chunks


# ------------------------------------------------------------------ scalar maths
cdef inline floating f_exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating f_log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating f_log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef extern from "exactmath.h" nogil:
    void fastnn_expf_span(float* y, const float* x, Py_ssize_t n)
    void fastnn_logf_span(float* y, const float* x, Py_ssize_t n)
    void fastnn_exp_span(double* y, const double* x, Py_ssize_t n)
    void fastnn_log_span(double* y, const double* x, Py_ssize_t n)


cdef inline void exact_exp_span(floating* y, const floating* x, Py_ssize_t n) noexcept nogil:
    """y = exp(x) over n elements (y may be x), each the scalar libm call's result bit for bit
    (float32 in vector lanes in the AVX2 / AVX-512 builds: exactmath.h)."""
    if floating is float:
        fastnn_expf_span(y, x, n)
    else:
        fastnn_exp_span(y, x, n)


cdef inline void exact_log_span(floating* y, const floating* x, Py_ssize_t n) noexcept nogil:
    """y = log(x) over n elements, as exact_exp_span."""
    if floating is float:
        fastnn_logf_span(y, x, n)
    else:
        fastnn_log_span(y, x, n)


cdef inline floating f_tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating f_erf(floating x) noexcept nogil:
    if floating is float:
        return erff(x)
    else:
        return erf(x)


cdef inline floating f_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating f_abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating sigmoid(floating x) noexcept nogil:
    """1/(1+e^-x) without overflow: with e = e^-|x|, 1/(1+e) for x >= 0, e/(1+e) below."""
    cdef floating one = 1
    cdef floating e = f_exp(-f_abs(x))
    cdef floating s = one / (one + e)
    return s if x >= 0 else e * s


# ------------------------------------------------------------- activation spans
cdef inline void act_forward_span(floating* out, const floating* x, Py_ssize_t n, int act,
                                  floating slope) noexcept nogil:
    """out[i] = act(x[i]) for i < n (out may be x)."""
    cdef Py_ssize_t i
    cdef floating v, c = <floating>SQRT_2_OVER_PI, k = <floating>GELU_TANH_COEF
    cdef floating r2 = <floating>INV_SQRT2, zero = 0, one = 1, half = 0.5
    if act == IDENTITY:
        for i in range(n):
            out[i] = x[i]
    elif act == RELU:
        for i in range(n):
            v = x[i]
            out[i] = zero if v < 0 else v  # NaN passes through, as np.maximum
    elif act == LEAKY_RELU:
        for i in range(n):
            v = x[i]
            out[i] = v if v > 0 else v * slope
    elif act == SIGMOID:
        for i in range(n):
            out[i] = sigmoid(x[i])
    elif act == TANH:
        for i in range(n):
            out[i] = f_tanh(x[i])
    elif act == GELU:
        for i in range(n):
            v = x[i]
            out[i] = half * v * (one + f_erf(v * r2))
    else:
        for i in range(n):
            v = x[i]
            out[i] = half * v * (one + f_tanh(c * (v + k * v * v * v)))


cdef inline void act_backward_span(floating* out, const floating* g, const floating* saved, Py_ssize_t n,
                                   int act, floating slope) noexcept nogil:
    """out[i] = g[i] * act'(.) from `saved` (the output, or the input for leaky_relu/gelu*)."""
    cdef Py_ssize_t i
    cdef floating y, gv, th, c = <floating>SQRT_2_OVER_PI, k = <floating>GELU_TANH_COEF
    cdef floating k3 = <floating>(3 * GELU_TANH_COEF), r2 = <floating>INV_SQRT2
    cdef floating r2pi = <floating>INV_SQRT_2PI, zero = 0, one = 1, half = 0.5
    if act == IDENTITY:
        for i in range(n):
            out[i] = g[i]
    elif act == RELU:  # a NaN output passes its gradient, as in PyTorch; g[i] is loaded before the
        for i in range(n):  # choice, so the compiler selects instead of branching (random signs mispredict)
            y, gv = saved[i], g[i]
            out[i] = zero if y <= 0 else gv
    elif act == LEAKY_RELU:
        for i in range(n):
            y, gv = saved[i], g[i]
            out[i] = gv if y > 0 else gv * slope
    elif act == SIGMOID:
        for i in range(n):
            y = saved[i]
            out[i] = g[i] * y * (one - y)
    elif act == TANH:
        for i in range(n):
            y = saved[i]
            out[i] = g[i] * (one - y * y)
    elif act == GELU:
        for i in range(n):
            y = saved[i]
            out[i] = g[i] * (half * (one + f_erf(y * r2)) + y * (r2pi * f_exp(-half * y * y)))
    else:
        for i in range(n):
            y = saved[i]
            th = f_tanh(c * (y + k * y * y * y))
            out[i] = g[i] * (half * (one + th) + half * y * (one - th * th) * (c * (one + k3 * y * y)))


# ------------------------------------------------------------------ reductions
cdef inline floating span_max(const floating* x, Py_ssize_t n) noexcept nogil:
    """max of x[0:n] (n >= 1), eight running maxima so the loop vectorises."""
    cdef floating m[8]
    cdef Py_ssize_t i, j
    cdef floating v, best
    for j in range(8):
        m[j] = x[0]
    i = 0
    while i + 8 <= n:
        for j in range(8):
            v = x[i + j]
            m[j] = v if v > m[j] else m[j]
        i += 8
    best = m[0]
    for j in range(1, 8):
        best = m[j] if m[j] > best else best
    while i < n:
        best = x[i] if x[i] > best else best
        i += 1
    return best


cdef inline floating span_sum(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum of x[0:n] with eight partial sums (vectorises; pairwise-like accuracy)."""
    cdef floating s[8]
    cdef Py_ssize_t i, j
    cdef floating total = 0
    for j in range(8):
        s[j] = 0
    i = 0
    while i + 8 <= n:
        for j in range(8):
            s[j] += x[i + j]
        i += 8
    for j in range(8):
        total += s[j]
    while i < n:
        total += x[i]
        i += 1
    return total
