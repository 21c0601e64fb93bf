# cython: language_level=3
"""The compiled training step's interpreter, built ahead of time with the other kernels.

``run_step`` runs a model's op table (``fastnn.compile.lowering``) over the flat buffers of a
frame (``fastnn.compile.frame``: one int64 table of (address, size) pairs): forward, loss,
backward, the finiteness check, gradient clipping and the optimizer update of every parameter,
in one call. ``run_forward`` is its forward pass alone (inference), ``update_all`` its update
alone (``fused=True`` optimizers). Its layers call the Cython kernels' own row functions
(kernels/*.pxd), so a compiled step computes what the eager Cython backend computes; the matrix
products are the process's one BLAS (its gemm addresses in the frame) or, when tiny, direct loops.

Every view into a frame's buffers is checked against the buffer's size (IndexError), and labels
and embedding ids against their ranges before anything is written; the inputs' dtypes and sizes
are checked on entry. The step holds the GIL (one thread of Python; BLAS runs its own threads).
"""

cimport numpy as cnp
from libc.math cimport INFINITY, NAN, fabs, isfinite, pow, sqrt
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcpy, memset

from dense_rows cimport _bias_act_rows, _dz_rows
from dropout_rows cimport _backward_span, _forward_span
from elementwise cimport FASTNN_CONTRACT, IDENTITY, act_backward_span, act_forward_span, floating
from embedding_rows cimport _bag_rows, _gather_rows, _scatter_cols
from gemm cimport gemm_at
from losses_rows cimport _pointwise_span, _xent_rows
from optim_rules cimport ADADELTA, ADAGRAD, ADAM, RMSPROP, SGD, Hyper, Kind, _span, _zeroed
from softmax_rows cimport _softmax_backward_rows, _softmax_rows

cnp.import_array()

CONTRACT = (<bytes>FASTNN_CONTRACT).decode()

# The layout shared with fastnn/compile/kernels.py (tests/compile/test_products.py holds them equal).
cdef enum:  # statuses
    OK = 0
    BAD_LABEL = 1
    NONFINITE_LOSS = 2
    NONFINITE_GRAD = 3
    BAD_INDEX = 4
    BAD_STATE = 5
cdef enum:  # op kinds
    LINEAR = 1
    ACT = 2
    DROPOUT = 3
    RES_BEGIN = 4
    RES_END = 5
    EMBEDDING = 6
    BAG = 7
cdef enum:  # op columns
    K_KIND = 0
    K_IN = 1
    K_OUT = 2
    K_POFF = 3
    K_BOFF = 4
    K_CODE = 5
    K_COL = 6
    K_ZCOL = 7
    K_SRC = 8
    K_EXTRA = 9
    K_MCOL = 10
    K_NEEDS = 11
    OP_COLUMNS = 12
cdef enum:  # config entries
    C_LOSS = 0
    C_IGNORE = 1
    C_MEAN = 2
    C_COLS = 3
    C_MCOLS = 4
    C_MAXW = 5
    C_ROWS = 6
    C_CLIP = 7
    C_OUTW = 8
    C_WEIGHTS = 9
    C_SPARSE = 10
    C_WT = 11
    CONFIG_SIZE = 12
cdef enum:  # losses, clipping, float config
    LOSS_CE = 0
    LOSS_NLL = 1
    LOSS_MSE = 2
    LOSS_BCE = 3
    CLIP_NONE = 0
    CLIP_NORM = 1
    CLIP_VALUE = 2
    F_SMOOTHING = 0
    F_CLIP = 1
    F_NORM_TYPE = 2
    F_TOTAL_NORM = 3
    F_WEIGHTS = 4
cdef enum:  # optimizer kinds and the hyper-parameter rows
    OPT_SGD = 0
    OPT_ADAM = 1
    OPT_ADAGRAD = 2
    OPT_RMSPROP = 3
    OPT_ADADELTA = 4
    OPT_SPARSE_ADAM = 5
    H_COLUMNS = 9
    H_KIND = 8
cdef enum:  # frame slots (fastnn.compile.frame.SLOTS)
    F_OPS = 0
    F_FL = 1
    F_CFG = 2
    F_CFF = 3
    F_P = 4
    F_G = 5
    F_S0 = 6
    F_S1 = 7
    F_S2 = 8
    F_H = 9
    F_STEPS = 10
    F_SEEDS = 11
    F_BOUNDS = 12
    F_INFO = 13
    F_WS = 14
    F_MS = 15
    F_SROWS = 16
    F_SVALUES = 17
    F_SPOS = 18
    F_BLAS = 19
    SLOTS = 20
cdef enum:
    TINY_WORK = 2048  # products of at most this many multiply-adds run as direct loops
    WT_MAX = 4096     # a weight of at most this many elements is transposed before the forward product
    BIAS_GRAD_CHUNKS = 8  # rows of bias-gradient partial sums the workspace holds (unused here)

LAYOUT = dict(
    OK=OK, BAD_LABEL=BAD_LABEL, NONFINITE_LOSS=NONFINITE_LOSS, NONFINITE_GRAD=NONFINITE_GRAD, BAD_INDEX=BAD_INDEX,
    BAD_STATE=BAD_STATE, LINEAR=LINEAR, ACT=ACT, DROPOUT=DROPOUT, RES_BEGIN=RES_BEGIN, RES_END=RES_END,
    EMBEDDING=EMBEDDING, BAG=BAG, K_KIND=K_KIND, K_IN=K_IN, K_OUT=K_OUT, K_POFF=K_POFF, K_BOFF=K_BOFF,
    K_CODE=K_CODE, K_COL=K_COL, K_ZCOL=K_ZCOL, K_SRC=K_SRC, K_EXTRA=K_EXTRA, K_MCOL=K_MCOL, K_NEEDS=K_NEEDS,
    OP_COLUMNS=OP_COLUMNS, C_LOSS=C_LOSS, C_IGNORE=C_IGNORE, C_MEAN=C_MEAN, C_COLS=C_COLS, C_MCOLS=C_MCOLS,
    C_MAXW=C_MAXW, C_ROWS=C_ROWS, C_CLIP=C_CLIP, C_OUTW=C_OUTW, C_WEIGHTS=C_WEIGHTS, C_SPARSE=C_SPARSE, C_WT=C_WT,
    CONFIG_SIZE=CONFIG_SIZE, LOSS_CE=LOSS_CE, LOSS_NLL=LOSS_NLL, LOSS_MSE=LOSS_MSE, LOSS_BCE=LOSS_BCE,
    CLIP_NONE=CLIP_NONE, CLIP_NORM=CLIP_NORM, CLIP_VALUE=CLIP_VALUE, F_SMOOTHING=F_SMOOTHING, F_CLIP=F_CLIP,
    F_NORM_TYPE=F_NORM_TYPE, F_TOTAL_NORM=F_TOTAL_NORM, F_WEIGHTS=F_WEIGHTS, OPT_SGD=OPT_SGD, OPT_ADAM=OPT_ADAM,
    OPT_ADAGRAD=OPT_ADAGRAD, OPT_RMSPROP=OPT_RMSPROP, OPT_ADADELTA=OPT_ADADELTA, OPT_SPARSE_ADAM=OPT_SPARSE_ADAM,
    H_COLUMNS=H_COLUMNS, H_KIND=H_KIND, TINY_WORK=TINY_WORK, WT_MAX=WT_MAX, BIAS_GRAD_CHUNKS=BIAS_GRAD_CHUNKS,
    FRAME_SLOTS=("ops", "fl", "cfg", "cff", "P", "G", "S0", "S1", "S2", "H", "steps", "seeds", "bounds", "info", "ws",
                 "ms", "srows", "svalues", "spos", "blas")[:SLOTS])  # in the order of the F_* slots above


# ------------------------------------------------------------------------------ the frame
cdef struct Frame:
    void* data[SLOTS]
    Py_ssize_t size[SLOTS]   # elements
    int64_t itemsize         # of the float buffers: 4 or 8


cdef int load_frame(Frame* f, cnp.ndarray table) except -1:
    """The frame's (address, size) pairs and float item size (fastnn.compile.frame.Frame.table, which
    checked each array's dtype and contiguity and keeps it alive)."""
    cdef int64_t* t
    cdef int k
    if (cnp.PyArray_TYPE(table) != cnp.NPY_INT64 or cnp.PyArray_SIZE(table) != 2 * SLOTS + 1
            or not cnp.PyArray_IS_C_CONTIGUOUS(table)):
        raise TypeError(f"compiled step: a frame table must be {2 * SLOTS + 1} contiguous int64 entries")
    t = <int64_t*>cnp.PyArray_DATA(table)
    f.itemsize = t[2 * SLOTS]
    if f.itemsize != 4 and f.itemsize != 8:
        raise TypeError(f"compiled step: a frame of {f.itemsize}-byte floats")
    for k in range(SLOTS):
        f.data[k] = <void*>t[2 * k]
        f.size[k] = t[2 * k + 1]
    return 0


cdef int within(Frame* f, int slot, Py_ssize_t offset, Py_ssize_t count) except -1:
    """Raise unless elements offset..offset+count lie in the slot's buffer (every view is checked)."""
    if offset < 0 or count < 0 or offset + count > f.size[slot]:
        raise IndexError(f"compiled step: a view [{offset}, {offset + count}) out of frame slot {slot} "
                         f"of {f.size[slot]} elements")
    return 0


cdef inline int64_t* I(Frame* f, int slot) noexcept:
    return <int64_t*>f.data[slot]


cdef inline double* D(Frame* f, int slot) noexcept:
    return <double*>f.data[slot]


cdef floating* ws_slot(Frame* f, Py_ssize_t n, Py_ssize_t col, Py_ssize_t width, floating* ws) except NULL:
    """The workspace's (n, width) block at column col (columns are per sample: n * col elements in)."""
    within(f, F_WS, n * col, n * width)
    return ws + n * col


cdef floating* param(Frame* f, int slot, Py_ssize_t offset, Py_ssize_t count, floating* base) except NULL:
    within(f, slot, offset, count)
    return base + offset


cdef int64_t op(Frame* f, Py_ssize_t k, int column) noexcept:
    return I(f, F_OPS)[k * OP_COLUMNS + column]


# ------------------------------------------------------------------------------ products
cdef void product(Frame* f, const floating* a, const floating* b, floating* out, Py_ssize_t rows, Py_ssize_t cols,
                  Py_ssize_t inner, int form) noexcept:
    """out (rows, cols) = a @ b.T (form 0, NT: a (rows, inner), b (cols, inner)), a @ b (1, NN: b
    (inner, cols)) or a.T @ b (2, TN: a (inner, rows)): the process's BLAS, or direct loops when tiny
    (a.T @ b is faster on BLAS at every size but the smallest, TINY_WORK // 8)."""
    cdef Py_ssize_t work = rows * cols * inner, i, q, j
    cdef int64_t* blas = I(f, F_BLAS)
    cdef void* address = <void*>(blas[0] if floating is float else blas[1])
    cdef floating s
    cdef floating acc[8]
    cdef int l
    if rows == 0 or cols == 0:
        return
    if inner == 0:
        memset(out, 0, rows * cols * sizeof(floating))
        return
    if form == 0:
        if work > TINY_WORK:
            gemm_at(address, blas[2] != 0, c'T', c'N', cols, rows, inner, b, inner, a, inner, out, cols)
            return
        for i in range(rows):  # row dot products in eight lanes
            for q in range(cols):
                for l in range(8):
                    acc[l] = 0
                j = 0
                while j + 8 <= inner:
                    for l in range(8):
                        acc[l] += a[i * inner + j + l] * b[q * inner + j + l]
                    j += 8
                s = 0
                for l in range(8):
                    s += acc[l]
                while j < inner:
                    s += a[i * inner + j] * b[q * inner + j]
                    j += 1
                out[i * cols + q] = s
        return
    if form == 1 and work > TINY_WORK:
        gemm_at(address, blas[2] != 0, c'N', c'N', cols, rows, inner, b, cols, a, inner, out, cols)
        return
    if form == 2 and work > TINY_WORK // 8:
        gemm_at(address, blas[2] != 0, c'N', c'T', cols, rows, inner, b, cols, a, rows, out, cols)
        return
    memset(out, 0, rows * cols * sizeof(floating))  # row updates out[r] += A[r, j] b[j] (no reduction)
    for i in range(rows):
        for j in range(inner):
            s = a[j * rows + i] if form == 2 else a[i * inner + j]
            for q in range(cols):
                out[i * cols + q] += s * b[j * cols + q]


# ------------------------------------------------------------------------------ layers
cdef int linear_forward(Frame* f, Py_ssize_t n, const floating* x, Py_ssize_t k, floating* out, floating* z,
                        floating* P, floating* ws) except -1:
    """z = x @ w.T + b, out = act(z) (out may be z); a weight of <= WT_MAX elements is transposed into
    the workspace's last cfg[C_WT] elements first (x @ t is the gemm OpenBLAS's small kernels take)."""
    cdef Py_ssize_t rows = op(f, k, K_OUT), cols = op(f, k, K_IN), i, j, boff = op(f, k, K_BOFF)
    cdef Py_ssize_t room = I(f, F_CFG)[C_WT]
    cdef floating* w = param(f, F_P, op(f, k, K_POFF), rows * cols, P)
    cdef floating* b = param(f, F_P, boff, rows, P) if boff >= 0 else NULL
    cdef floating* t
    if rows * cols <= WT_MAX and n * rows * cols > TINY_WORK and rows * cols <= room:
        within(f, F_WS, f.size[F_WS] - room, rows * cols)
        t = ws + f.size[F_WS] - room
        for i in range(rows):
            for j in range(cols):
                t[j * rows + i] = w[i * cols + j]
        product(f, x, t, z, n, rows, cols, 1)
    else:
        product(f, x, w, z, n, rows, cols, 0)
    _bias_act_rows(out, z, b, 0, n, rows, <int>op(f, k, K_CODE), <floating>D(f, F_FL)[2 * k])
    return 0


cdef int check_indices(Frame* f, const int64_t* ids, Py_ssize_t count, int64_t rows) noexcept:
    """OK when every id lies in [0, rows), else BAD_INDEX with info = (position, id)."""
    cdef Py_ssize_t i
    for i in range(count):
        if ids[i] < 0 or ids[i] >= rows:
            I(f, F_INFO)[0] = i
            I(f, F_INFO)[1] = ids[i]
            return BAD_INDEX
    return OK


cdef int forward(Frame* f, Py_ssize_t n, const floating* xf, const int64_t* ids, Py_ssize_t nids,
                 const int64_t* offsets, floating* ws) except -1:
    """The forward pass: each op's output to its workspace slot; OK or BAD_INDEX."""
    cdef Py_ssize_t nops = f.size[F_OPS] // OP_COLUMNS, k, i, win, wout, dim, total
    cdef int64_t kind, src
    cdef floating* P = <floating*>f.data[F_P]
    cdef floating* out
    cdef floating* h
    cdef floating* z
    cdef floating* skip
    cdef floating* table
    cdef uint8_t* mask
    cdef double* fl = D(f, F_FL)
    for k in range(nops):
        kind, win, wout, src = op(f, k, K_KIND), op(f, k, K_IN), op(f, k, K_OUT), op(f, k, K_SRC)
        out = ws_slot(f, n, op(f, k, K_COL), wout, ws)
        if kind == EMBEDDING or kind == BAG:
            dim = win
            table = param(f, F_P, op(f, k, K_POFF), I(f, F_CFG)[C_ROWS] * dim, P)
            if check_indices(f, ids, nids, I(f, F_CFG)[C_ROWS]) != OK:
                return BAD_INDEX
            if kind == EMBEDDING:
                _gather_rows(out, table, <const long long*>ids, 0, nids, dim)
            else:
                memset(out, 0, n * dim * sizeof(floating))
                _bag_rows(out, table, <const long long*>ids, <const long long*>offsets, n, nids, dim,
                          op(f, k, K_CODE) != 0, op(f, k, K_EXTRA), 0, n)
            continue
        h = <floating*>xf if src < 0 else ws_slot(f, n, op(f, src, K_COL), win, ws)
        total = n * wout
        if kind == LINEAR:
            z = out if op(f, k, K_ZCOL) < 0 else ws_slot(f, n, op(f, k, K_ZCOL), wout, ws)
            linear_forward(f, n, h, k, out, z, P, ws)
        elif kind == ACT:
            act_forward_span(out, h, total, <int>op(f, k, K_CODE), <floating>fl[2 * k])
        elif kind == DROPOUT:
            within(f, F_MS, n * op(f, k, K_MCOL), total)
            within(f, F_SEEDS, op(f, k, K_EXTRA), 1)
            mask = <uint8_t*>f.data[F_MS] + n * op(f, k, K_MCOL)
            _forward_span(out, mask, h, (<uint64_t*>f.data[F_SEEDS])[op(f, k, K_EXTRA)], fl[2 * k],
                          <floating>fl[2 * k + 1], 0, total)
        elif kind == RES_BEGIN:
            memcpy(out, h, total * sizeof(floating))
        else:  # RES_END: body output (src) + the residual's input (the RES_BEGIN op's output)
            skip = ws_slot(f, n, op(f, op(f, k, K_EXTRA), K_COL), wout, ws)
            for i in range(total):
                out[i] = skip[i] + h[i]
    return OK


# ------------------------------------------------------------------------------ losses
cdef Py_ssize_t counted_labels(Frame* f, const int64_t* target, Py_ssize_t n, int64_t classes,
                               int64_t ignore_index) noexcept:
    """How many labels are not ignore_index, or -1 when one lies outside [0, classes) (info = its row
    and value)."""
    cdef Py_ssize_t i, count = 0
    for i in range(n):
        if target[i] == ignore_index:
            continue
        if target[i] < 0 or target[i] >= classes:
            I(f, F_INFO)[0] = i
            I(f, F_INFO)[1] = target[i]
            return -1
        count += 1
    return count


cdef int cross_entropy(Frame* f, const floating* logits, const int64_t* target, Py_ssize_t n, Py_ssize_t c,
                       floating* grad, floating* rows, double* loss) noexcept:
    """The fused softmax cross-entropy (the backend's rows); the loss summed in float64, divided by
    the rows not ignored for 'mean' (nan when none, as PyTorch)."""
    cdef int64_t ignore = I(f, F_CFG)[C_IGNORE]
    cdef bint mean = I(f, F_CFG)[C_MEAN] != 0
    cdef Py_ssize_t count = counted_labels(f, target, n, c, ignore), i
    cdef double total = 0
    if count < 0:
        return BAD_LABEL
    _xent_rows(grad, rows, logits, <const long long*>target, 0, n, c, ignore, D(f, F_CFF)[F_SMOOTHING],
               <floating>(1.0 / count if mean and count > 0 else 1.0))
    for i in range(n):
        total += <double>rows[i]
    loss[0] = total if not mean else (total / count if count > 0 else NAN)
    return OK


cdef int nll_log_softmax(Frame* f, const floating* x, const int64_t* target, Py_ssize_t n, Py_ssize_t c,
                         floating* dx, double* loss) except -1:
    """NLLLoss of LogSoftmax(x), its gradient in dx. With class weights w (cfg[C_WEIGHTS] of them
    after the float config; none: 1) and label smoothing eps, as CrossEntropyLoss:
    loss_i = w_t (1-eps) (-logp_it) + eps sum_c w_c (-logp_ic) / C; 'mean' divides by sum_i w_t."""
    cdef int64_t ignore = I(f, F_CFG)[C_IGNORE], t
    cdef bint mean = I(f, F_CFG)[C_MEAN] != 0
    cdef Py_ssize_t nweights = I(f, F_CFG)[C_WEIGHTS], count, i, j
    cdef double smoothing = D(f, F_CFF)[F_SMOOTHING], total = 0, divisor, row, smooth
    cdef floating w, g, keep, spread, total_weight = 0
    cdef floating* logp
    cdef floating* glogp
    cdef floating* weights
    within(f, F_CFF, F_WEIGHTS, nweights)
    count = counted_labels(f, target, n, c, ignore)
    if count < 0:
        return BAD_LABEL
    logp = <floating*>malloc((2 * n * c + c) * sizeof(floating))
    if logp == NULL:
        raise MemoryError("compiled step: no memory for the log-softmax")
    glogp, weights = logp + n * c, logp + 2 * n * c
    try:
        _softmax_rows(logp, x, 0, n, c, True)
        memset(glogp, 0, n * c * sizeof(floating))
        if nweights == 0 and smoothing == 0:
            w = <floating>(1.0 / count if mean and count > 0 else 1.0)
            for i in range(n):
                t = target[i]
                if t == ignore:
                    continue
                total -= <double>logp[i * c + t]
                glogp[i * c + t] = -w
            divisor = count
        else:
            for j in range(c):
                weights[j] = <floating>D(f, F_CFF)[F_WEIGHTS + j] if nweights else 1
            for i in range(n):
                if target[i] != ignore:
                    total_weight += weights[target[i]]
            g = <floating>1 / total_weight if mean else 1
            keep, spread = <floating>(1.0 - smoothing), <floating>smoothing / <floating>c
            for i in range(n):
                t = target[i]
                if t == ignore:
                    continue
                row = -<double>logp[i * c + t] * <double>weights[t] * (1.0 - smoothing)
                glogp[i * c + t] = -(g * keep) * weights[t]
                if smoothing != 0:
                    smooth = 0
                    for j in range(c):
                        smooth -= <double>logp[i * c + j] * <double>weights[j]
                        glogp[i * c + j] -= (g * spread) * weights[j]
                    row += smooth * smoothing / c
                total += row
            divisor = total_weight
        _softmax_backward_rows(dx, glogp, logp, 0, n, c, True)
    finally:
        free(logp)
    loss[0] = total if not mean else (total / divisor if divisor != 0 else NAN)
    return OK


# ------------------------------------------------------------------------------ checks, clipping
cdef bint span_finite(const floating* a, Py_ssize_t lo, Py_ssize_t hi) noexcept:
    """True when a[lo:hi] has no inf or nan (an exponent of all ones), an OR over the span that vectorises."""
    cdef Py_ssize_t j
    cdef uint32_t bad32 = 0
    cdef uint64_t bad64 = 0
    cdef const uint32_t* u
    cdef const uint64_t* v
    if floating is float:
        u = <const uint32_t*>a
        for j in range(lo, hi):
            bad32 |= (u[j] & 0x7f800000U) == 0x7f800000U
        return bad32 == 0
    else:
        v = <const uint64_t*>a
        for j in range(lo, hi):
            bad64 |= (v[j] & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL
        return bad64 == 0


cdef int finite_status(Frame* f, double loss, const floating* G, Py_ssize_t size) noexcept:
    """NONFINITE_LOSS / NONFINITE_GRAD (info[0] = index of the first such parameter) or OK."""
    cdef int64_t* bounds = I(f, F_BOUNDS)
    cdef Py_ssize_t i
    if not isfinite(loss):
        return NONFINITE_LOSS
    if span_finite(G, 0, size):
        return OK
    for i in range(f.size[F_BOUNDS] - 1):
        if not span_finite(G, bounds[i], bounds[i + 1]):
            I(f, F_INFO)[0] = i
            return NONFINITE_GRAD
    return OK


cdef double grad_norm(const floating* G, Py_ssize_t size, double norm_type) noexcept:
    """The norm_type-norm of all gradient entries (max |g| for inf), in float64, as
    fastnn.nn.utils.total_norm."""
    cdef double total = 0, v
    cdef Py_ssize_t j
    if norm_type == INFINITY:
        for j in range(size):
            v = fabs(<double>G[j])
            total = v if v > total else total
        return total
    if norm_type == 2.0:
        for j in range(size):
            v = <double>G[j]
            total += v * v
        return sqrt(total)
    for j in range(size):
        total += pow(fabs(<double>G[j]), norm_type)
    return pow(total, 1.0 / norm_type)


cdef void clip(Frame* f, floating* G, Py_ssize_t size) noexcept:
    """clip_grad_norm_ (scale by min(max_norm / (total + 1e-6), 1)) or clip_grad_value_ on G."""
    cdef double* cff = D(f, F_CFF)
    cdef double total, coefficient
    cdef floating c, hi
    cdef Py_ssize_t j
    if I(f, F_CFG)[C_CLIP] == CLIP_NORM:
        total = grad_norm(G, size, cff[F_NORM_TYPE])
        cff[F_TOTAL_NORM] = total
        coefficient = cff[F_CLIP] / (total + 1e-6)
        c = <floating>(coefficient if coefficient < 1.0 else 1.0)
        for j in range(size):
            G[j] *= c
    elif I(f, F_CFG)[C_CLIP] == CLIP_VALUE:
        hi = <floating>cff[F_CLIP]
        for j in range(size):
            G[j] = -hi if G[j] < -hi else (hi if G[j] > hi else G[j])


# ------------------------------------------------------------------------------ optimizers
cdef int state_needed(int kind, const double* h) noexcept:
    """Which state buffers (bits 1, 2, 4: S0, S1, S2) the update of `kind` with row h reads and writes."""
    if kind == OPT_SGD:
        return 1 if h[1] != 0 else 0
    if kind == OPT_ADAM:
        return 3 | (4 if h[5] != 0 else 0)
    if kind == OPT_ADAGRAD:
        return 1
    if kind == OPT_RMSPROP:
        return 1 | (2 if h[4] > 0 else 0) | (4 if h[5] != 0 else 0)
    return 3  # adadelta


cdef Hyper hyper(int kind, const double* h, int64_t step, Kind* rule, bint* maximize) noexcept:
    """The optimizer kernels' options from a hyper-parameter row (fastnn.compile.state):
    sgd (lr, momentum, dampening, weight_decay, nesterov, maximize, first_step);
    adam (lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled);
    adagrad (lr, lr_decay, weight_decay, eps, maximize); rmsprop (lr, alpha, eps, weight_decay,
    momentum, centered, maximize); adadelta (lr, rho, eps, weight_decay, maximize). Constants as
    the eager optimizers compute them (adam: lr / (1 - b1^t), (1 - b2^t)^0.5; adagrad: lr / (1 + (t-1) decay))."""
    cdef Hyper o = _zeroed()
    if kind == OPT_SGD:
        rule[0], maximize[0] = SGD, h[5] != 0
        o.lr, o.momentum, o.dampening, o.weight_decay = h[0], h[1], h[2], h[3]
        o.nesterov, o.first_step = h[4] != 0, h[6] != 0
    elif kind == OPT_ADAM:
        rule[0], maximize[0] = ADAM, h[6] != 0
        o.lr, o.beta1, o.beta2, o.eps, o.weight_decay = h[0], h[1], h[2], h[3], h[4]
        o.amsgrad, o.decoupled = h[5] != 0, h[7] != 0
        o.step_size = h[0] / (1 - pow(h[1], <double>step))
        o.bc2_sqrt = pow(1 - pow(h[2], <double>step), 0.5)
    elif kind == OPT_ADAGRAD:
        rule[0], maximize[0] = ADAGRAD, h[4] != 0
        o.lr, o.weight_decay, o.eps = h[0] / (1 + (step - 1) * h[1]), h[2], h[3]
    elif kind == OPT_RMSPROP:
        rule[0], maximize[0] = RMSPROP, h[6] != 0
        o.lr, o.alpha, o.eps, o.weight_decay, o.momentum, o.centered = h[0], h[1], h[2], h[3], h[4], h[5] != 0
    else:
        rule[0], maximize[0] = ADADELTA, h[4] != 0
        o.lr, o.rho, o.eps, o.weight_decay = h[0], h[1], h[2], h[3]
    return o


cdef int update_span(int kind, const double* h, int64_t step, floating* p, const floating* g, floating* s0,
                     floating* s1, floating* s2, Py_ssize_t size) except -1:
    """One optimizer's update of `size` elements (the gradient negated first to maximize)."""
    cdef Kind rule
    cdef bint maximize
    cdef Hyper o = hyper(kind, h, step, &rule, &maximize)
    cdef floating* ascent
    cdef Py_ssize_t j
    if not maximize:
        _span(rule, p, g, s0, s1, s2, o, 0, size)
        return 0
    ascent = <floating*>malloc(size * sizeof(floating) + 1)
    if ascent == NULL:
        raise MemoryError("compiled step: no memory for a maximized gradient")
    for j in range(size):
        ascent[j] = -g[j]
    _span(rule, p, ascent, s0, s1, s2, o, 0, size)
    free(ascent)
    return 0


cdef int update_all_spans(floating* P, const floating* G, floating* S0, Py_ssize_t n0, floating* S1, Py_ssize_t n1,
                           floating* S2, Py_ssize_t n2, const double* H, Py_ssize_t hrows, const int64_t* steps,
                           const int64_t* bounds, Py_ssize_t count) except -1:
    """The update of every parameter's slice (bounds[i]..bounds[i+1]) by its optimizer kind H[i, H_KIND]
    with its row H[i] and step count steps[i]; once over the whole buffers when every parameter has the
    same row and count. 0, changing nothing, when a state buffer an update needs is too short, else 1."""
    cdef Py_ssize_t i, j, lo, hi, spans
    cdef int needed
    cdef bint uniform = True
    if count == 0:
        return 1
    if hrows < count:
        return 0
    for i in range(count):
        needed = state_needed(<int>H[i * H_COLUMNS + H_KIND], H + i * H_COLUMNS)
        hi = bounds[i + 1]
        if (needed & 1 and n0 < hi) or (needed & 2 and n1 < hi) or (needed & 4 and n2 < hi):
            return 0
    for i in range(1, count):
        uniform = uniform and steps[i] == steps[0]
        for j in range(H_COLUMNS):
            uniform = uniform and H[i * H_COLUMNS + j] == H[j]
    spans = 1 if uniform else count
    for i in range(spans):
        lo, hi = bounds[i], bounds[count if uniform else i + 1]
        update_span(<int>H[i * H_COLUMNS + H_KIND], H + i * H_COLUMNS, steps[i], P + lo, G + lo,
                    S0 + lo if n0 else NULL, S1 + lo if n1 else NULL, S2 + lo if n2 else NULL, hi - lo)
    return 1


cdef int check_bounds(Frame* f) except -1:
    """The parameters' bounds rise from 0 and end inside G and P; a step count for each parameter."""
    cdef Py_ssize_t count, i
    cdef int64_t* bounds = I(f, F_BOUNDS)
    within(f, F_BOUNDS, 0, 1)
    count = f.size[F_BOUNDS] - 1
    for i in range(count):
        if bounds[i] > bounds[i + 1]:
            raise ValueError(f"compiled step: parameter bounds must rise, got {bounds[i]} then {bounds[i + 1]}")
    if bounds[0] != 0:
        raise ValueError(f"compiled step: parameter bounds must start at 0, got {bounds[0]}")
    within(f, F_P, 0, bounds[count])
    within(f, F_G, 0, bounds[count])
    within(f, F_STEPS, 0, count)
    return 0


cdef int update_frame(Frame* f, floating* P, const floating* G) except -1:
    check_bounds(f)
    cdef Py_ssize_t count = f.size[F_BOUNDS] - 1
    cdef int64_t* bounds = I(f, F_BOUNDS)
    return update_all_spans(P, G, <floating*>f.data[F_S0], f.size[F_S0], <floating*>f.data[F_S1], f.size[F_S1],
                            <floating*>f.data[F_S2], f.size[F_S2], D(f, F_H), f.size[F_H] // H_COLUMNS,
                            I(f, F_STEPS), bounds, count)


# ------------------------------------------------------------------------------ row-sparse table
cdef int compare_int64(const void* a, const void* b) noexcept nogil:
    cdef int64_t x = (<const int64_t*>a)[0], y = (<const int64_t*>b)[0]
    return (x > y) - (x < y)


cdef Py_ssize_t distinct_rows(const int64_t* ids, Py_ssize_t n, int64_t* rows, int64_t* compact, int64_t* position,
                              Py_ssize_t table_rows) noexcept:
    """rows[:u] = the distinct ids, sorted; compact[i] = ids[i]'s place among them; returns u.
    position (one entry per table row, all -1) is left all -1."""
    cdef Py_ssize_t u = 0, i, j, r
    for i in range(n):
        r = ids[i]
        if position[r] < 0:
            position[r] = 0
            rows[u] = r
            u += 1
    if table_rows <= 16 * n:  # a scan of the marked rows, else a sort
        u = 0
        for r in range(table_rows):
            if position[r] == 0:
                rows[u] = r
                u += 1
    else:
        qsort(rows, u, sizeof(int64_t), compare_int64)
    for j in range(u):
        position[rows[j]] = j
    for i in range(n):
        compact[i] = position[ids[i]]
    for j in range(u):
        position[rows[j]] = -1
    return u


cdef Py_ssize_t sparse_table_grad(Frame* f, Py_ssize_t k, Py_ssize_t n, const floating* g, const int64_t* ids,
                                  Py_ssize_t nids, const int64_t* offsets) except -1:
    """The row-sparse gradient of the first layer's table (as fastnn.ops.embedding.row_sparse_grad):
    srows[:u] its distinct rows, sorted, without the padding row (srows[nids:2 nids] the renumbered
    ids), svalues[:u * dim] their gradient; returns u."""
    cdef Py_ssize_t dim = op(f, k, K_IN), u, j, pad = -1
    cdef int64_t padding = op(f, k, K_EXTRA)
    cdef int64_t* rows = I(f, F_SROWS)
    cdef int64_t* compact = rows + nids
    cdef floating* values = <floating*>f.data[F_SVALUES]
    within(f, F_SROWS, 0, 2 * nids)
    within(f, F_SVALUES, 0, nids * dim)
    within(f, F_SPOS, 0, I(f, F_CFG)[C_ROWS])
    u = distinct_rows(ids, nids, rows, compact, I(f, F_SPOS), I(f, F_CFG)[C_ROWS])
    for j in range(u):
        if rows[j] == padding:
            pad = j
    memset(values, 0, u * dim * sizeof(floating))
    if op(f, k, K_KIND) == EMBEDDING:
        _scatter_cols(values, g, <const long long*>compact, NULL, NULL, nids, dim, pad, 0, dim)
    else:
        bag_scatter(values, g, compact, offsets, n, nids, dim, op(f, k, K_CODE) != 0, pad)
    if pad < 0:
        return u
    for j in range(pad, u - 1):  # the padding row is not part of the gradient
        rows[j] = rows[j + 1]
        memcpy(values + j * dim, values + (j + 1) * dim, dim * sizeof(floating))
    return u - 1


cdef void bag_scatter(floating* dweight, const floating* g, const int64_t* ids, const int64_t* offsets, Py_ssize_t bags,
                      Py_ssize_t nids, Py_ssize_t dim, bint mean, int64_t padding) noexcept:
    """dweight[ids[q]] += g[bag of q] (times 1 / the bag's count of non-padding ids for mean), padding
    skipped: the embedding-bag backward, in the order of the backend's scatter."""
    cdef Py_ssize_t b, q, j, stop, count
    cdef floating scale
    cdef floating* dst
    cdef const floating* src
    for b in range(bags):
        stop = offsets[b + 1] if b + 1 < bags else nids
        count = 0
        for q in range(offsets[b], stop):
            count += ids[q] != padding
        scale = <floating>1 / <floating>count if mean and count > 1 else 1
        src = g + b * dim
        for q in range(offsets[b], stop):
            if ids[q] == padding:
                continue
            dst = dweight + ids[q] * dim
            if mean:
                for j in range(dim):
                    dst[j] = dst[j] + src[j] * scale
            else:
                for j in range(dim):
                    dst[j] = dst[j] + src[j]


cdef int sparse_adam_rows(Frame* f, Py_ssize_t table, Py_ssize_t k, Py_ssize_t u, floating* P) except -1:
    """SparseAdam, row H[table] = (lr, beta1, beta2, eps, maximize), on rows srows[:u] of the table at
    P[poff:] (moments at the same offsets of S0, S1), gradient rows svalues[:u * dim]: the backend's
    Adam rule on copies of those rows, eps / sqrt(1 - beta2^t) for eps, no weight decay."""
    cdef Py_ssize_t dim = op(f, k, K_IN), offset = op(f, k, K_POFF), size = u * dim, j, at, span
    cdef const double* h = D(f, F_H) + table * H_COLUMNS
    cdef int64_t step = I(f, F_STEPS)[table]
    cdef int64_t* rows = I(f, F_SROWS)
    cdef floating* S0 = <floating*>f.data[F_S0]
    cdef floating* S1 = <floating*>f.data[F_S1]
    cdef floating* values = <floating*>f.data[F_SVALUES]
    cdef floating* p
    cdef floating* m
    cdef floating* v
    cdef double row[H_COLUMNS]
    within(f, F_H, table * H_COLUMNS, H_COLUMNS)
    within(f, F_STEPS, table, 1)
    span = I(f, F_CFG)[C_ROWS] * dim
    within(f, F_P, offset, span)
    within(f, F_S0, offset, span)
    within(f, F_S1, offset, span)
    p = <floating*>malloc(3 * size * sizeof(floating) + 1)
    if p == NULL:
        raise MemoryError("compiled step: no memory for SparseAdam's rows")
    m, v = p + size, p + 2 * size
    for j in range(u):
        at = offset + rows[j] * dim
        memcpy(p + j * dim, P + at, dim * sizeof(floating))
        memcpy(m + j * dim, S0 + at, dim * sizeof(floating))
        memcpy(v + j * dim, S1 + at, dim * sizeof(floating))
    for j in range(H_COLUMNS):
        row[j] = 0
    row[0], row[1], row[2] = h[0], h[1], h[2]
    row[3] = h[3] / sqrt(1.0 - pow(h[2], <double>step))
    row[6] = h[4]  # maximize
    try:
        update_span(OPT_ADAM, row, step, p, values, m, v, <floating*>NULL, size)
        for j in range(u):
            at = offset + rows[j] * dim
            memcpy(P + at, p + j * dim, dim * sizeof(floating))
            memcpy(S0 + at, m + j * dim, dim * sizeof(floating))
            memcpy(S1 + at, v + j * dim, dim * sizeof(floating))
    finally:
        free(p)
    return 0


# ------------------------------------------------------------------------------ the step
cdef int step(Frame* f, Py_ssize_t n, const floating* xf, const int64_t* ids, Py_ssize_t nids,
              const int64_t* offsets, const int64_t* yi, const floating* yf, double* loss) except -1:
    """One training step (see run_step); returns the status, the loss in loss[0]."""
    cdef Py_ssize_t nops = f.size[F_OPS] // OP_COLUMNS, last = nops - 1, k, maxw, outw, at, trained, win, wout
    cdef Py_ssize_t i, table, u = 0, dim
    cdef int64_t kind, src, code, poff, boff
    cdef int64_t* cfg = I(f, F_CFG)
    cdef int status, which = 0, loss_kind
    cdef bint needs, bias_grad
    cdef floating* ws = <floating*>f.data[F_WS]
    cdef floating* P = <floating*>f.data[F_P]
    cdef floating* G = <floating*>f.data[F_G]
    cdef floating* logits
    cdef floating* g_loss
    cdef floating* ga
    cdef floating* gb
    cdef floating* dzs
    cdef floating* row_loss
    cdef floating* g
    cdef floating* dst
    cdef floating* h
    cdef floating* out
    cdef floating* saved
    cdef floating* dz
    cdef floating* w
    cdef floating* dw
    cdef floating* db
    cdef floating* stash
    cdef uint8_t* mask
    cdef double* fl = D(f, F_FL)
    status = forward(f, n, xf, ids, nids, offsets, ws)
    if status != OK:
        return status
    logits = ws_slot(f, n, op(f, last, K_COL), op(f, last, K_OUT), ws)
    maxw, outw = cfg[C_MAXW], cfg[C_OUTW]
    at = n * cfg[C_COLS]  # the backward buffers follow the forward columns
    within(f, F_WS, at, n * (outw + 3 * maxw + 1))
    g_loss = ws + at
    at += n * outw
    ga, gb, dzs = ws + at, ws + at + n * maxw, ws + at + 2 * n * maxw
    row_loss = ws + at + 3 * n * maxw
    loss_kind = <int>cfg[C_LOSS]
    if loss_kind == LOSS_CE:
        status = cross_entropy(f, logits, yi, n, outw, g_loss, row_loss, loss)
    elif loss_kind == LOSS_NLL:
        status = nll_log_softmax(f, logits, yi, n, outw, g_loss, loss)
    else:
        loss[0] = _pointwise_span(loss_kind == LOSS_BCE, g_loss, <floating*>NULL, logits, yf, n * outw,
                                  <floating>(1.0 / (n * outw) if cfg[C_MEAN] and n * outw > 0 else 1.0))
        if cfg[C_MEAN]:
            loss[0] = loss[0] / (n * outw)
    if status != OK:
        return status
    # backward; parameters at offsets from `trained` on (G ends there) get no dense gradient
    trained = f.size[F_G]
    g = g_loss
    for k in range(last, -1, -1):
        kind, win, wout, src = op(f, k, K_KIND), op(f, k, K_IN), op(f, k, K_OUT), op(f, k, K_SRC)
        if kind == EMBEDDING or kind == BAG:
            if cfg[C_SPARSE] >= 0:
                u = sparse_table_grad(f, k, n, g, ids, nids, offsets)
                I(f, F_INFO)[2] = u
                continue
            if op(f, k, K_POFF) >= trained:
                continue  # a frozen table
            dim = win
            dw = param(f, F_G, op(f, k, K_POFF), cfg[C_ROWS] * dim, G)
            memset(dw, 0, cfg[C_ROWS] * dim * sizeof(floating))
            if kind == EMBEDDING:
                _scatter_cols(dw, g, <const long long*>ids, NULL, NULL, nids, dim, op(f, k, K_EXTRA), 0, dim)
            else:
                bag_scatter(dw, g, ids, offsets, n, nids, dim, op(f, k, K_CODE) != 0, op(f, k, K_EXTRA))
            continue
        needs = op(f, k, K_NEEDS) != 0
        if kind != LINEAR and not needs:
            continue
        dst = gb if which == 1 else ga  # the input's gradient (n x win; not made when not needed)
        if needs and n * win > n * maxw:
            raise IndexError("compiled step: an input gradient wider than the workspace's buffers")
        if kind == LINEAR:
            h = <floating*>xf if src < 0 else ws_slot(f, n, op(f, src, K_COL), win, ws)
            out = ws_slot(f, n, op(f, k, K_COL), wout, ws)
            saved = out if op(f, k, K_ZCOL) < 0 else ws_slot(f, n, op(f, k, K_ZCOL), wout, ws)
            code = op(f, k, K_CODE)
            if n * wout > n * maxw:
                raise IndexError("compiled step: a layer wider than the workspace's buffers")
            dz = g if code == IDENTITY else dzs
            poff, boff = op(f, k, K_POFF), op(f, k, K_BOFF)
            w = param(f, F_P, poff, wout * win, P)
            bias_grad = 0 <= boff < trained
            db = param(f, F_G, boff, wout, G) if bias_grad else NULL
            if dz != g or db != NULL:
                if db != NULL:
                    memset(db, 0, wout * sizeof(floating))
                _dz_rows(dz, db, g, saved, 0, n, wout, <int>code, <floating>fl[2 * k])
            if poff < trained:
                dw = param(f, F_G, poff, wout * win, G)
                product(f, dz, h, dw, wout, win, n, 2)
            if needs:
                product(f, dz, w, dst, n, win, wout, 1)
            else:
                break
        elif kind == ACT:
            code = op(f, k, K_CODE)
            if code == 2 or code == 5 or code == 6:  # leaky_relu, gelu, gelu_tanh: from the input
                saved = <floating*>xf if src < 0 else ws_slot(f, n, op(f, src, K_COL), win, ws)
            else:
                saved = ws_slot(f, n, op(f, k, K_COL), wout, ws)
            act_backward_span(dst, g, saved, n * win, <int>code, <floating>fl[2 * k])
        elif kind == DROPOUT:
            within(f, F_MS, n * op(f, k, K_MCOL), n * wout)
            mask = <uint8_t*>f.data[F_MS] + n * op(f, k, K_MCOL)
            _backward_span(dst, g, mask, <floating>fl[2 * k + 1], 0, n * wout)
        elif kind == RES_END:  # the skip's share of g waits in this op's (now free) output slot, or,
            if k != last:      # when this op gives the model's output, in the loss gradient (which it is)
                stash = ws_slot(f, n, op(f, k, K_COL), wout, ws)
                memcpy(stash, g, n * wout * sizeof(floating))
            continue
        else:  # RES_BEGIN: the body's gradient plus the skip's
            stash = g_loss if op(f, k, K_EXTRA) == last else ws_slot(f, n, op(f, op(f, k, K_EXTRA), K_COL), wout, ws)
            for i in range(n * wout):
                dst[i] = g[i] + stash[i]
        g = dst
        which = 2 if which == 1 else 1
    status = finite_status(f, loss[0], G, trained)
    if status != OK:
        return status
    table = cfg[C_SPARSE]
    if table >= 0 and not span_finite(<floating*>f.data[F_SVALUES], 0, u * op(f, 0, K_IN)):
        I(f, F_INFO)[0] = table
        return NONFINITE_GRAD
    clip(f, G, trained)
    if not update_frame(f, P, G):
        return BAD_STATE
    if table >= 0:
        sparse_adam_rows(f, table, 0, u, P)
    return OK


cdef int check_ops(Frame* f) except -1:
    """Every op's kind, source and partner op lie in the table (the columns that index other ops)."""
    cdef Py_ssize_t nops = f.size[F_OPS] // OP_COLUMNS, k
    cdef int64_t kind, src
    cdef bint embedded
    if nops < 1:
        raise ValueError("compiled step: an empty op table")
    embedded = op(f, 0, K_KIND) == EMBEDDING or op(f, 0, K_KIND) == BAG
    for k in range(nops):
        kind, src = op(f, k, K_KIND), op(f, k, K_SRC)
        if (kind < LINEAR or kind > BAG or src >= k or src < -1 or op(f, k, K_IN) < 0 or op(f, k, K_OUT) < 0
                or (kind == EMBEDDING or kind == BAG) and k != 0
                or src == -1 and k != 0 and (embedded or op(f, k, K_IN) != op(f, 0, K_IN))  # reads the input
                or kind != LINEAR and kind != EMBEDDING and kind != BAG and op(f, k, K_IN) != op(f, k, K_OUT)):
            raise ValueError(f"compiled step: op {k} of the table is malformed")
        if (kind == RES_BEGIN or kind == RES_END) and not 0 <= op(f, k, K_EXTRA) < nops:
            raise ValueError(f"compiled step: residual op {k} points outside the table")
    if op(f, nops - 1, K_OUT) != I(f, F_CFG)[C_OUTW]:
        raise ValueError(f"compiled step: the last op gives {op(f, nops - 1, K_OUT)} outputs, the config "
                         f"{I(f, F_CFG)[C_OUTW]}")
    return 0


cdef int check_inputs(Frame* f, Py_ssize_t n, cnp.ndarray xf, cnp.ndarray ids, cnp.ndarray offsets, int dtype) except -1:
    """The inputs' dtypes and sizes against the op table (the step checked them against the plan)."""
    cdef Py_ssize_t dim, nids = cnp.PyArray_SIZE(ids), i, need
    cdef int64_t* o
    cdef int64_t* cfg
    cdef int64_t kind
    within(f, F_OPS, 0, OP_COLUMNS)
    within(f, F_CFG, 0, CONFIG_SIZE)
    within(f, F_FL, 0, 2 * (f.size[F_OPS] // OP_COLUMNS))
    within(f, F_INFO, 0, 3)
    within(f, F_BLAS, 0, 3)
    check_ops(f)
    cfg = I(f, F_CFG)
    need = n * (cfg[C_COLS] + cfg[C_OUTW] + 3 * cfg[C_MAXW] + 1) + BIAS_GRAD_CHUNKS * cfg[C_MAXW] + cfg[C_WT]
    if f.size[F_WS] < need or f.size[F_MS] < n * cfg[C_MCOLS] or cfg[C_WT] < 0:
        raise IndexError(f"compiled step: a workspace of {f.size[F_WS]} elements and {f.size[F_MS]} mask bytes for "
                         f"{n} samples, which need {need} and {n * cfg[C_MCOLS]} (kernels.workspace_size)")
    if n < 0 or cnp.PyArray_TYPE(xf) != dtype or not cnp.PyArray_IS_C_CONTIGUOUS(xf):
        raise TypeError("compiled step: the features must be a C-contiguous array of the step's dtype")
    if (cnp.PyArray_TYPE(ids) != cnp.NPY_INT64 or cnp.PyArray_TYPE(offsets) != cnp.NPY_INT64
            or not cnp.PyArray_IS_C_CONTIGUOUS(ids) or not cnp.PyArray_IS_C_CONTIGUOUS(offsets)):
        raise TypeError("compiled step: ids and offsets must be C-contiguous int64 arrays")
    kind = op(f, 0, K_KIND)
    if kind == EMBEDDING:
        dim = op(f, 0, K_IN)
        if dim <= 0 or nids * dim != n * op(f, 0, K_OUT):
            raise ValueError(f"compiled step: {nids} embedding ids for {n} samples of {op(f, 0, K_OUT)} features")
    elif kind == BAG:
        o = <int64_t*>cnp.PyArray_DATA(offsets)
        if cnp.PyArray_SIZE(offsets) != n:
            raise ValueError(f"compiled step: {cnp.PyArray_SIZE(offsets)} bag offsets for {n} samples")
        for i in range(n):
            if o[i] < 0 or o[i] > nids or (i > 0 and o[i] < o[i - 1]):
                raise ValueError(f"compiled step: bag offsets must rise within the {nids} ids")
    elif cnp.PyArray_SIZE(xf) != n * op(f, 0, K_IN):
        raise ValueError(f"compiled step: {cnp.PyArray_SIZE(xf)} features for {n} samples of {op(f, 0, K_IN)}")
    return 0


cdef int frame_dtype(Frame* f, cnp.ndarray xf) except -1:
    """The NumPy type number of the frame's floats (the features must have it)."""
    cdef int dtype = cnp.NPY_FLOAT32 if f.itemsize == 4 else cnp.NPY_FLOAT64
    if cnp.PyArray_TYPE(xf) != dtype:
        raise TypeError(f"compiled step: {(<object>xf).dtype} features for a frame of {f.itemsize}-byte floats")
    return dtype


def run_step(Py_ssize_t n, cnp.ndarray xf, cnp.ndarray ids, cnp.ndarray offsets, cnp.ndarray yi, cnp.ndarray yf,
             cnp.ndarray frame):
    """One training step of the frame's op table on a batch of n samples; returns (status, loss).

    xf (n, in) float features of the frame's dtype (empty when the first op is an embedding, whose
    ids (flat, int64) and bag offsets come in ids/offsets); yi int64 labels or yf float targets (the
    other empty). Forward: each op's output to its slot of the workspace ws (columns K_COL.., n rows),
    dropout masks to ms. Loss, then backward in reverse through two gradient buffers; parameter
    gradients land in G. Then the finiteness check, clipping, and the update of every parameter's
    slice of P, G, S0..S2 by its optimizer kind with H[i], steps[i]. G holds the gradients of the
    parameters with dense ones (bounds[-1] elements); a row-sparse table (parameter cfg[C_SPARSE],
    SparseAdam's) follows them in P, S0 and S1 and its gradient goes to srows / svalues (info[2]
    rows); frozen parameters come last in P. The model's output stays in the last op's slot."""
    cdef Frame f
    cdef double loss = 0
    cdef int status, dtype
    load_frame(&f, frame)
    dtype = frame_dtype(&f, xf)
    check_inputs(&f, n, xf, ids, offsets, dtype)
    check_bounds(&f)
    if I(&f, F_CFG)[C_LOSS] == LOSS_CE or I(&f, F_CFG)[C_LOSS] == LOSS_NLL:
        if cnp.PyArray_TYPE(yi) != cnp.NPY_INT64 or cnp.PyArray_SIZE(yi) != n or not cnp.PyArray_IS_C_CONTIGUOUS(yi):
            raise ValueError(f"compiled step: {n} int64 labels expected")
    elif (cnp.PyArray_TYPE(yf) != dtype or cnp.PyArray_SIZE(yf) != n * I(&f, F_CFG)[C_OUTW]
          or not cnp.PyArray_IS_C_CONTIGUOUS(yf)):
        raise ValueError(f"compiled step: {n} x {I(&f, F_CFG)[C_OUTW]} float targets of the step's dtype expected")
    if dtype == cnp.NPY_FLOAT32:
        status = step(&f, n, <float*>cnp.PyArray_DATA(xf), <int64_t*>cnp.PyArray_DATA(ids), cnp.PyArray_SIZE(ids),
                      <int64_t*>cnp.PyArray_DATA(offsets), <int64_t*>cnp.PyArray_DATA(yi),
                      <float*>cnp.PyArray_DATA(yf), &loss)
    else:
        status = step(&f, n, <double*>cnp.PyArray_DATA(xf), <int64_t*>cnp.PyArray_DATA(ids), cnp.PyArray_SIZE(ids),
                      <int64_t*>cnp.PyArray_DATA(offsets), <int64_t*>cnp.PyArray_DATA(yi),
                      <double*>cnp.PyArray_DATA(yf), &loss)
    return status, loss


def run_forward(Py_ssize_t n, cnp.ndarray xf, cnp.ndarray ids, cnp.ndarray offsets, cnp.ndarray frame):
    """The forward pass of the frame's op table (see run_step): each op's output to its workspace
    slot; returns OK or BAD_INDEX (an embedding index out of range, info = (position, id))."""
    cdef Frame f
    cdef int dtype
    load_frame(&f, frame)
    dtype = frame_dtype(&f, xf)
    check_inputs(&f, n, xf, ids, offsets, dtype)
    if dtype == cnp.NPY_FLOAT32:
        return forward(&f, n, <float*>cnp.PyArray_DATA(xf), <int64_t*>cnp.PyArray_DATA(ids), cnp.PyArray_SIZE(ids),
                       <int64_t*>cnp.PyArray_DATA(offsets), <float*>f.data[F_WS])
    return forward(&f, n, <double*>cnp.PyArray_DATA(xf), <int64_t*>cnp.PyArray_DATA(ids), cnp.PyArray_SIZE(ids),
                   <int64_t*>cnp.PyArray_DATA(offsets), <double*>f.data[F_WS])


def update_all(cnp.ndarray frame):
    """The optimizer update alone over the frame's P, G, S0..S2 with its H, steps and bounds (the
    fused optimizers' one call; see run_step); False, changing nothing, when a state buffer an update
    needs is shorter than the parameters."""
    cdef Frame f
    load_frame(&f, frame)
    if f.itemsize == 4:
        return update_frame(&f, <float*>f.data[F_P], <float*>f.data[F_G]) == 1
    return update_frame(&f, <double*>f.data[F_P], <double*>f.data[F_G]) == 1


def product_of(cnp.ndarray a, cnp.ndarray b, cnp.ndarray out, int form, cnp.ndarray blas):
    """out = a @ b.T (form 0), a @ b (1) or a.T @ b (2), computed as the step computes its products
    (the BLAS at blas = [sgemm, dgemm, ilp64], or direct loops when tiny); for the tests."""
    cdef Frame f
    cdef Py_ssize_t rows = out.shape[0] if out.ndim == 2 else -1, cols = out.shape[1] if out.ndim == 2 else -1, inner
    if form < 0 or form > 2 or a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
        raise ValueError("product_of: 2-D arrays and a form of 0, 1 or 2")
    inner = a.shape[0] if form == 2 else a.shape[1]
    if ((form == 2 and a.shape[1] != rows) or (form != 2 and a.shape[0] != rows)
            or (form == 0 and (b.shape[0] != cols or b.shape[1] != inner))
            or (form != 0 and (b.shape[0] != inner or b.shape[1] != cols))):
        raise ValueError(f"product_of: shapes {(<object>a).shape}, {(<object>b).shape} -> {(<object>out).shape} do not "
                         f"fit form {form}")
    for x in (a, b, out):
        if cnp.PyArray_TYPE(x) != cnp.PyArray_TYPE(out) or not cnp.PyArray_IS_C_CONTIGUOUS(x):
            raise TypeError("product_of: C-contiguous arrays of one float dtype")
    if cnp.PyArray_TYPE(blas) != cnp.NPY_INT64 or cnp.PyArray_SIZE(blas) != 3:
        raise TypeError("product_of: blas must be 3 int64 entries")
    f.data[F_BLAS], f.size[F_BLAS] = cnp.PyArray_DATA(blas), 3
    if cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT32:
        product(&f, <float*>cnp.PyArray_DATA(a), <float*>cnp.PyArray_DATA(b), <float*>cnp.PyArray_DATA(out), rows,
                cols, inner, form)
    elif cnp.PyArray_TYPE(out) == cnp.NPY_FLOAT64:
        product(&f, <double*>cnp.PyArray_DATA(a), <double*>cnp.PyArray_DATA(b), <double*>cnp.PyArray_DATA(out),
                rows, cols, inner, form)
    else:
        raise TypeError("product_of: float32 or float64 arrays")
