"""The kernel contract: every hot kernel of fastnn, declared once, with the NumPy reference.

Each kernel is a public method that checks and normalises its inputs (see ``checks``) and then
calls the private method of the same name with a leading underscore. The private method's body
here is the pure NumPy reference; the Numba and Cython backends subclass :class:`Backend` and
override every private method with the same signature. A private kernel may assume what its
public method guarantees: C-contiguous float32/float64 arrays of one dtype, int64 indices in
range, validated shapes and options. It must not modify its inputs except where the contract
says an array is updated in place.

Activation names (``checks.ACTIVATIONS``): identity, relu, leaky_relu, sigmoid, tanh,
gelu (exact, x*Phi(x)) and gelu_tanh (the tanh approximation). The backward of an activation
takes ``saved``: the activation's *output* for identity/relu/sigmoid/tanh, its *input* for
leaky_relu/gelu/gelu_tanh (see :func:`saves_input`).
"""

from __future__ import annotations

import numpy as np

from fastnn.backends import checks

SQRT_2_OVER_PI = 0.7978845608028654
GELU_TANH_COEF = 0.044715
INV_SQRT2 = 0.7071067811865476
INV_SQRT_2PI = 0.3989422804014327
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _special():
    """scipy.special, imported on first use: it costs ~0.2 s, a third of ``import fastnn``."""
    from scipy import special

    return special


def saves_input(activation: str) -> bool:
    """True when the activation's backward needs its input rather than its output."""
    return activation in ("leaky_relu", "gelu", "gelu_tanh")


def splitmix64_uniform(seed: int, n: int) -> np.ndarray:
    """Counter-based uniforms in [0, 1): u_i = (splitmix64(seed + (i+1)*golden) >> 11) * 2**-53.

    Every backend draws dropout masks from this same stream, so they agree bit for bit and
    do not depend on the number of threads.
    """
    z = np.uint64(seed) + (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def _reduce(kernel: str, loss: np.ndarray, grad: np.ndarray, reduction: str, count) -> tuple:
    """Apply a loss reduction to per-element losses and their unscaled gradients."""
    if reduction == "none":
        return loss, grad
    if reduction == "sum":
        return np.asarray(loss.sum(), dtype=loss.dtype), grad
    n = loss.dtype.type(count)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.asarray(loss.sum() / n, dtype=loss.dtype)  # nan when nothing counts, as in PyTorch
    # With nothing counted (every row ignored) the gradient stays zero, as PyTorch's does.
    return mean, (grad / n if count else grad)


class Unchecked:
    """``backend.unchecked.<kernel>(...)``: the kernel body without the public checks.

    For callers (the autodiff layer, the compiled step) that have already validated their
    arrays exactly as the public method would; same arguments as the private ``_<kernel>``.
    """

    __slots__ = ("_backend",)

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str):
        if name not in KERNELS:
            raise AttributeError(f"no kernel named {name!r}")
        return getattr(self._backend, "_" + name)


class Backend:
    """The kernel table. Its private bodies are the NumPy reference implementation."""

    name = "numpy"

    @property
    def unchecked(self) -> Unchecked:
        """The kernels without their public checks (see :class:`Unchecked`)."""
        return Unchecked(self)

    # ------------------------------------------------------------------ dense
    def linear_forward(self, x, weight, bias=None, activation: str = "identity", negative_slope: float = 0.01):
        """out = act(x @ weight.T + bias), fused.

        x (N, in), weight (out, in), bias (out,) or None. Returns (out, saved): ``saved`` is
        what :meth:`linear_backward` needs (the output itself, or the pre-activation for
        activations where :func:`saves_input`).
        """
        k = "linear_forward"
        weight = checks.float_array(k, "weight", weight)
        x = checks.float_array(k, "x", x, weight.dtype)
        checks.shape(k, "weight", weight, (None, None))
        checks.shape(k, "x", x, (None, weight.shape[1]), f" for weight {weight.shape}")
        if bias is not None:
            bias = checks.float_array(k, "bias", bias, weight.dtype)
            checks.shape(k, "bias", bias, (weight.shape[0],))
        checks.choice(k, "activation", activation, checks.ACTIVATIONS)
        return self._linear_forward(x, weight, bias, activation, float(negative_slope))

    def _linear_forward(self, x, weight, bias, activation, negative_slope):
        z = x @ weight.T
        if bias is not None:
            z += bias
        out = self._activation_forward(z, activation, negative_slope)
        return out, (z if saves_input(activation) else out)

    def linear_backward(self, grad_out, x, weight, saved, activation: str = "identity",
                        negative_slope: float = 0.01, need_input_grad: bool = True, need_bias_grad: bool = True):
        """Gradients of out = act(x @ weight.T + b): dz = grad_out * act'(z),
        dx = dz @ weight, dweight = dz.T @ x, dbias = dz.sum(0).

        Returns (dx or None, dweight, dbias or None).
        """
        k = "linear_backward"
        weight = checks.float_array(k, "weight", weight)
        checks.shape(k, "weight", weight, (None, None))
        x = checks.float_array(k, "x", x, weight.dtype)
        checks.shape(k, "x", x, (None, weight.shape[1]))
        grad_out = checks.float_array(k, "grad_out", grad_out, weight.dtype)
        checks.shape(k, "grad_out", grad_out, (x.shape[0], weight.shape[0]))
        saved = checks.float_array(k, "saved", saved, weight.dtype)
        checks.shape(k, "saved", saved, grad_out.shape)
        checks.choice(k, "activation", activation, checks.ACTIVATIONS)
        return self._linear_backward(grad_out, x, weight, saved, activation, float(negative_slope),
                                     bool(need_input_grad), bool(need_bias_grad))

    def _linear_backward(self, grad_out, x, weight, saved, activation, negative_slope, need_input_grad, need_bias_grad):
        dz = self._activation_backward(grad_out, saved, activation, negative_slope)
        dx = dz @ weight if need_input_grad else None
        dweight = dz.T @ x
        dbias = dz.sum(axis=0) if need_bias_grad else None
        return dx, dweight, dbias

    # ------------------------------------------------------------ activations
    def activation_forward(self, x, activation: str, negative_slope: float = 0.01):
        """Elementwise act(x) on any shape: relu max(x,0); leaky_relu x if x>0 else slope*x;
        sigmoid 1/(1+e^-x); tanh; gelu x*Phi(x); gelu_tanh 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))."""
        k = "activation_forward"
        x = checks.float_array(k, "x", x)
        checks.choice(k, "activation", activation, checks.ACTIVATIONS)
        return _arrays(self._activation_forward(x, activation, float(negative_slope)))

    def _activation_forward(self, x, activation, negative_slope):
        if activation == "identity":
            return x.copy()
        if activation == "relu":
            return np.maximum(x, 0)
        if activation == "leaky_relu":
            return np.where(x > 0, x, x * x.dtype.type(negative_slope))
        if activation == "sigmoid":
            return _special().expit(x)
        if activation == "tanh":
            return np.tanh(x)
        if activation == "gelu":
            return 0.5 * x * (1 + _special().erf(x * x.dtype.type(INV_SQRT2)))
        u = x.dtype.type(SQRT_2_OVER_PI) * (x + x.dtype.type(GELU_TANH_COEF) * x * x * x)
        return 0.5 * x * (1 + np.tanh(u))

    def activation_backward(self, grad_out, saved, activation: str, negative_slope: float = 0.01):
        """grad_in = grad_out * act'(.); ``saved`` is the output, or the input where
        :func:`saves_input`. sigmoid y(1-y); tanh 1-y^2; relu 0 where y<=0; leaky_relu [x>0] or slope;
        gelu Phi(x)+x*phi(x); gelu_tanh 0.5(1+t) + 0.5x(1-t^2)sqrt(2/pi)(1+3*0.044715x^2)."""
        k = "activation_backward"
        saved = checks.float_array(k, "saved", saved)
        grad_out = checks.float_array(k, "grad_out", grad_out, saved.dtype)
        checks.shape(k, "grad_out", grad_out, saved.shape)
        checks.choice(k, "activation", activation, checks.ACTIVATIONS)
        return _arrays(self._activation_backward(grad_out, saved, activation, float(negative_slope)))

    def _activation_backward(self, grad_out, saved, activation, negative_slope):
        t = saved.dtype.type
        if activation == "identity":
            return grad_out.copy()
        if activation == "relu":  # zero where y <= 0: a NaN output passes its gradient, as in PyTorch
            return np.where(saved <= 0, t(0), grad_out)
        if activation == "leaky_relu":
            return np.where(saved > 0, grad_out, grad_out * t(negative_slope))
        if activation == "sigmoid":
            return grad_out * saved * (1 - saved)
        if activation == "tanh":
            return grad_out * (1 - saved * saved)
        x = saved
        if activation == "gelu":
            cdf = 0.5 * (1 + _special().erf(x * t(INV_SQRT2)))
            pdf = t(INV_SQRT_2PI) * np.exp(-0.5 * x * x)
            return grad_out * (cdf + x * pdf)
        th = np.tanh(t(SQRT_2_OVER_PI) * (x + t(GELU_TANH_COEF) * x * x * x))
        du = t(SQRT_2_OVER_PI) * (1 + t(3 * GELU_TANH_COEF) * x * x)
        return grad_out * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * du)

    def softmax_forward(self, x):
        """Row softmax of a 2-D array: y_ij = exp(x_ij - max_i) / sum_k exp(x_ik - max_i)."""
        x = checks.float_array("softmax_forward", "x", x)
        checks.shape("softmax_forward", "x", x, (None, None))
        return self._softmax_forward(x)

    def _softmax_forward(self, x):
        e = np.exp(x - x.max(axis=1, keepdims=True, initial=-np.inf))  # initial: rows may have no columns
        return e / e.sum(axis=1, keepdims=True)

    def softmax_backward(self, grad_out, out):
        """dx = y * (g - sum_k g_k y_k) per row, from the softmax output y."""
        out = checks.float_array("softmax_backward", "out", out)
        checks.shape("softmax_backward", "out", out, (None, None))
        grad_out = checks.float_array("softmax_backward", "grad_out", grad_out, out.dtype)
        checks.shape("softmax_backward", "grad_out", grad_out, out.shape)
        return self._softmax_backward(grad_out, out)

    def _softmax_backward(self, grad_out, out):
        return out * (grad_out - (grad_out * out).sum(axis=1, keepdims=True))

    def log_softmax_forward(self, x):
        """Row log-softmax of a 2-D array: x_ij - max_i - log sum_k exp(x_ik - max_i)."""
        x = checks.float_array("log_softmax_forward", "x", x)
        checks.shape("log_softmax_forward", "x", x, (None, None))
        return self._log_softmax_forward(x)

    def _log_softmax_forward(self, x):
        shifted = x - x.max(axis=1, keepdims=True, initial=-np.inf)
        with np.errstate(divide="ignore"):  # log(0) only for rows without columns, whose output is empty
            return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def log_softmax_backward(self, grad_out, out):
        """dx = g - exp(y) * sum_k g_k per row, from the log-softmax output y."""
        out = checks.float_array("log_softmax_backward", "out", out)
        checks.shape("log_softmax_backward", "out", out, (None, None))
        grad_out = checks.float_array("log_softmax_backward", "grad_out", grad_out, out.dtype)
        checks.shape("log_softmax_backward", "grad_out", grad_out, out.shape)
        return self._log_softmax_backward(grad_out, out)

    def _log_softmax_backward(self, grad_out, out):
        return grad_out - np.exp(out) * grad_out.sum(axis=1, keepdims=True)

    # ----------------------------------------------------------------- losses
    def softmax_cross_entropy(self, logits, target, reduction: str = "mean", ignore_index: int = -100,
                              label_smoothing: float = 0.0):
        """Fused softmax + cross-entropy over integer labels, loss and gradient in one pass.

        logits (N, C), target (N,) int in [0, C) or == ignore_index. With eps = label_smoothing:
        loss_i = (1-eps) * -log p_i,t_i + eps * mean_c(-log p_ic), 0 for ignored rows;
        dlogits_i = p_i - (1-eps) onehot(t_i) - eps/C (0 for ignored rows).
        'mean' divides both by the number of non-ignored rows (when every row is ignored the
        loss is nan and the gradient 0, as in PyTorch), 'sum' adds, 'none' returns the
        per-row losses (N,) and their unscaled gradient. Returns (loss, dlogits).
        """
        k = "softmax_cross_entropy"
        logits = checks.float_array(k, "logits", logits)
        checks.shape(k, "logits", logits, (None, None))
        if logits.shape[1] == 0:
            raise ValueError(f"{k}: logits must have at least one class, got shape {logits.shape}")
        target = checks.index_array(k, "target", target, logits.shape[1], allow=int(ignore_index))
        checks.shape(k, "target", target, (logits.shape[0],), f" for logits {logits.shape}")
        checks.choice(k, "reduction", reduction, checks.REDUCTIONS)
        eps = checks.probability(k, "label_smoothing", label_smoothing)
        return self._softmax_cross_entropy(logits, target, reduction, int(ignore_index), eps)

    def _softmax_cross_entropy(self, logits, target, reduction, ignore_index, label_smoothing):
        n, c = logits.shape
        t = logits.dtype.type
        logp = self._log_softmax_forward(logits)
        valid = target != ignore_index
        rows = np.arange(n)
        safe = np.where(valid, target, 0)
        loss = -logp[rows, safe] * t(1 - label_smoothing)
        if label_smoothing:
            loss -= logp.mean(axis=1) * t(label_smoothing)
        loss[~valid] = 0
        grad = np.exp(logp)
        grad[rows, safe] -= t(1 - label_smoothing)
        if label_smoothing:
            grad -= t(label_smoothing / c)
        grad[~valid] = 0
        return _reduce("softmax_cross_entropy", loss, grad, reduction, int(valid.sum()))

    def mse_loss(self, input, target, reduction: str = "mean"):
        """loss_i = (x_i - t_i)^2, dloss/dx_i = 2 (x_i - t_i); 'mean' divides by the element count.
        input and target have one shape. Returns (loss, dinput); dtarget = -dinput."""
        k = "mse_loss"
        input = checks.float_array(k, "input", input)
        target = checks.float_array(k, "target", target, input.dtype)
        checks.shape(k, "target", target, input.shape, " (the input's shape)")
        checks.choice(k, "reduction", reduction, checks.REDUCTIONS)
        return _arrays(self._mse_loss(input, target, reduction))

    def _mse_loss(self, input, target, reduction):
        d = input - target
        return _reduce("mse_loss", d * d, 2 * d, reduction, d.size)

    def bce_with_logits(self, logits, target, reduction: str = "mean"):
        """Stable binary cross-entropy on logits x with targets t in [0, 1]:
        loss = max(x, 0) - x*t + log(1 + exp(-|x|)), dloss/dx = sigmoid(x) - t.
        Returns (loss, dlogits); 'mean' divides by the element count."""
        k = "bce_with_logits"
        logits = checks.float_array(k, "logits", logits)
        target = checks.float_array(k, "target", target, logits.dtype)
        checks.shape(k, "target", target, logits.shape, " (the logits' shape)")
        checks.choice(k, "reduction", reduction, checks.REDUCTIONS)
        return _arrays(self._bce_with_logits(logits, target, reduction))

    def _bce_with_logits(self, logits, target, reduction):
        x, t = logits, target
        loss = np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return _reduce("bce_with_logits", loss, _special().expit(x) - t, reduction, x.size)

    # ------------------------------------------------------------- optimizers
    def _update_arrays(self, kernel, param, grad, **state):
        """The optimizer kernels' arrays, checked: param and state C-contiguous, writeable, of one shape
        and float dtype; grad of the same (made contiguous if it is not)."""
        if _ready_for_update(param, grad, state.values()):  # the common case, checked in ~1 us
            return param, grad, state
        param = checks.inplace(kernel, "param", param, np.asarray(param))
        checks.float_array(kernel, "param", param)
        grad = checks.float_array(kernel, "grad", grad, param.dtype)
        checks.shape(kernel, "grad", grad, param.shape, " (the parameter's shape)")
        return param, grad, {k: (None if v is None else checks.inplace(kernel, k, v, param)) for k, v in state.items()}

    def sgd_update(self, param, grad, momentum_buffer=None, *, lr: float, momentum: float = 0.0,
                   dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                   first_step: bool = False) -> None:
        """In place, as torch.optim.SGD: g = grad + wd*p; with momentum, buf = g on the first
        step else momentum*buf + (1-dampening)*g, and g = g + momentum*buf (nesterov) or buf;
        p -= lr*g. ``momentum_buffer`` is required when momentum != 0."""
        param, grad, s = self._update_arrays("sgd_update", param, grad, momentum_buffer=momentum_buffer)
        if momentum != 0 and s["momentum_buffer"] is None:
            raise ValueError("sgd_update: momentum_buffer is required when momentum != 0")
        self._sgd_update(param, grad, s["momentum_buffer"], float(lr), float(momentum), float(dampening),
                         float(weight_decay), bool(nesterov), bool(first_step))

    def _sgd_update(self, param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov, first_step):
        t = param.dtype.type
        g = grad + t(weight_decay) * param if weight_decay else grad
        if momentum:
            buf = momentum_buffer
            if first_step:
                buf[...] = g
            else:
                buf *= t(momentum)
                buf += t(1 - dampening) * g
            g = g + t(momentum) * buf if nesterov else buf
        param -= t(lr) * g

    def adagrad_update(self, param, grad, state_sum, *, clr: float, weight_decay: float = 0.0,
                       eps: float = 1e-10) -> None:
        """In place, as torch.optim.Adagrad with clr = lr / (1 + (step-1)*lr_decay):
        g = grad + wd*p; sum += g^2; p -= clr * g / (sqrt(sum) + eps)."""
        param, grad, s = self._update_arrays("adagrad_update", param, grad, state_sum=state_sum)
        self._adagrad_update(param, grad, s["state_sum"], float(clr), float(weight_decay), float(eps))

    def _adagrad_update(self, param, grad, state_sum, clr, weight_decay, eps):
        t = param.dtype.type
        g = grad + t(weight_decay) * param if weight_decay else grad
        state_sum += g * g
        param -= t(clr) * g / (np.sqrt(state_sum) + t(eps))

    def rmsprop_update(self, param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr: float,
                       alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                       centered: bool = False) -> None:
        """In place, as torch.optim.RMSprop: g = grad + wd*p; v = alpha*v + (1-alpha)*g^2;
        centered: m = alpha*m + (1-alpha)*g, avg = sqrt(v - m^2) + eps, else avg = sqrt(v) + eps;
        momentum > 0: buf = momentum*buf + g/avg, p -= lr*buf; else p -= lr*g/avg."""
        param, grad, s = self._update_arrays("rmsprop_update", param, grad, square_avg=square_avg,
                                             momentum_buffer=momentum_buffer, grad_avg=grad_avg)
        if momentum > 0 and s["momentum_buffer"] is None:
            raise ValueError("rmsprop_update: momentum_buffer is required when momentum > 0")
        if centered and s["grad_avg"] is None:
            raise ValueError("rmsprop_update: grad_avg is required when centered")
        self._rmsprop_update(param, grad, s["square_avg"], s["momentum_buffer"], s["grad_avg"], float(lr),
                             float(alpha), float(eps), float(weight_decay), float(momentum), bool(centered))

    def _rmsprop_update(self, param, grad, square_avg, momentum_buffer, grad_avg, lr, alpha, eps, weight_decay,
                        momentum, centered):
        t = param.dtype.type
        g = grad + t(weight_decay) * param if weight_decay else grad
        square_avg *= t(alpha)
        square_avg += t(1 - alpha) * g * g
        if centered:
            grad_avg *= t(alpha)
            grad_avg += t(1 - alpha) * g
            avg = np.sqrt(square_avg - grad_avg * grad_avg) + t(eps)
        else:
            avg = np.sqrt(square_avg) + t(eps)
        if momentum > 0:
            momentum_buffer *= t(momentum)
            momentum_buffer += g / avg
            param -= t(lr) * momentum_buffer
        else:
            param -= t(lr) * g / avg

    def adadelta_update(self, param, grad, square_avg, acc_delta, *, lr: float = 1.0, rho: float = 0.9,
                        eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        """In place, as torch.optim.Adadelta: g = grad + wd*p; v = rho*v + (1-rho)*g^2;
        delta = sqrt(u + eps) / sqrt(v + eps) * g; u = rho*u + (1-rho)*delta^2; p -= lr*delta."""
        param, grad, s = self._update_arrays("adadelta_update", param, grad, square_avg=square_avg,
                                             acc_delta=acc_delta)
        self._adadelta_update(param, grad, s["square_avg"], s["acc_delta"], float(lr), float(rho), float(eps),
                              float(weight_decay))

    def _adadelta_update(self, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay):
        t = param.dtype.type
        g = grad + t(weight_decay) * param if weight_decay else grad
        square_avg *= t(rho)
        square_avg += t(1 - rho) * g * g
        delta = np.sqrt(acc_delta + t(eps)) / np.sqrt(square_avg + t(eps)) * g
        acc_delta *= t(rho)
        acc_delta += t(1 - rho) * delta * delta
        param -= t(lr) * delta

    def adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step: int, lr: float = 1e-3,
                    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
                    amsgrad: bool = False, decoupled_weight_decay: bool = False) -> None:
        """In place, as torch.optim.Adam (AdamW when decoupled_weight_decay), ``step`` >= 1 counted
        after increment: Adam g = grad + wd*p, AdamW p *= 1 - lr*wd; m = b1*m + (1-b1)*g;
        v = b2*v + (1-b2)*g^2; amsgrad vmax = max(vmax, v) replaces v below;
        p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps)."""
        param, grad, s = self._update_arrays("adam_update", param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                                             max_exp_avg_sq=max_exp_avg_sq)
        if amsgrad and s["max_exp_avg_sq"] is None:
            raise ValueError("adam_update: max_exp_avg_sq is required when amsgrad")
        if int(step) < 1:
            raise ValueError(f"adam_update: step must be >= 1, got {step}")
        self._adam_update(param, grad, s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"], int(step), float(lr),
                          float(beta1), float(beta2), float(eps), float(weight_decay), bool(amsgrad),
                          bool(decoupled_weight_decay))

    def _adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, beta1, beta2, eps,
                     weight_decay, amsgrad, decoupled_weight_decay):
        t = param.dtype.type
        g = grad
        if weight_decay:
            if decoupled_weight_decay:
                param *= t(1 - lr * weight_decay)
            else:
                g = grad + t(weight_decay) * param
        exp_avg *= t(beta1)
        exp_avg += t(1 - beta1) * g
        exp_avg_sq *= t(beta2)
        exp_avg_sq += t(1 - beta2) * g * g
        v = exp_avg_sq
        if amsgrad:
            np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            v = max_exp_avg_sq
        step_size = lr / (1 - beta1**step)
        bc2_sqrt = (1 - beta2**step) ** 0.5
        param -= t(step_size) * exp_avg / (np.sqrt(v) / t(bc2_sqrt) + t(eps))

    # ------------------------------------------------------------- embeddings
    def embedding_forward(self, weight, indices):
        """Gather rows: out[i] = weight[indices[i]]; weight (V, D), indices (n,) -> (n, D)."""
        k = "embedding_forward"
        weight = checks.float_array(k, "weight", weight)
        checks.shape(k, "weight", weight, (None, None))
        indices = checks.index_array(k, "indices", indices, weight.shape[0])
        checks.shape(k, "indices", indices, (None,))
        return self._embedding_forward(weight, indices)

    def _embedding_forward(self, weight, indices):
        return weight[indices]

    def embedding_backward(self, grad_out, indices, num_embeddings: int, padding_idx: int | None = None):
        """Scatter-add: dweight[indices[i]] += grad_out[i]; the padding_idx row stays zero.
        grad_out (n, D), indices (n,) -> dweight (num_embeddings, D)."""
        k = "embedding_backward"
        grad_out = checks.float_array(k, "grad_out", grad_out)
        checks.shape(k, "grad_out", grad_out, (None, None))
        indices = checks.index_array(k, "indices", indices, int(num_embeddings))
        checks.shape(k, "indices", indices, (grad_out.shape[0],), f" for grad_out {grad_out.shape}")
        num_embeddings = int(num_embeddings)
        return self._embedding_backward(grad_out, indices, num_embeddings, _padding(k, padding_idx, num_embeddings))

    def _embedding_backward(self, grad_out, indices, num_embeddings, padding_idx):
        dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
        np.add.at(dweight, indices, grad_out)
        if padding_idx >= 0:
            dweight[padding_idx] = 0
        return dweight

    def _bag_inputs(self, k, indices, offsets, num_embeddings, mode):
        indices = checks.index_array(k, "indices", indices, num_embeddings)
        checks.shape(k, "indices", indices, (None,))
        offsets = checks.offsets_array(k, offsets, indices.shape[0])
        checks.choice(k, "mode", mode, ("mean", "sum"))
        return indices, offsets

    def embedding_bag_forward(self, weight, indices, offsets, mode: str = "mean", padding_idx: int | None = None):
        """Pooled bags: bag b holds indices[offsets[b]:offsets[b+1]] (the last runs to the end);
        out[b] = sum (or mean) of their rows, skipping padding_idx; an empty bag gives zeros.
        weight (V, D), indices (n,), offsets (B,) -> (B, D)."""
        k = "embedding_bag_forward"
        weight = checks.float_array(k, "weight", weight)
        checks.shape(k, "weight", weight, (None, None))
        indices, offsets = self._bag_inputs(k, indices, offsets, weight.shape[0], mode)
        return self._embedding_bag_forward(weight, indices, offsets, mode, _padding(k, padding_idx, weight.shape[0]))

    def _embedding_bag_forward(self, weight, indices, offsets, mode, padding_idx):
        bag, keep = _bag_ids(indices, offsets, padding_idx)
        out = np.zeros((offsets.shape[0], weight.shape[1]), dtype=weight.dtype)
        np.add.at(out, bag[keep], weight[indices[keep]])
        if mode == "mean":
            counts = np.bincount(bag[keep], minlength=offsets.shape[0])
            out /= np.maximum(counts, 1)[:, None].astype(weight.dtype)
        return out

    def embedding_bag_backward(self, grad_out, indices, offsets, num_embeddings: int, mode: str = "mean",
                               padding_idx: int | None = None):
        """dweight[indices[j]] += grad_out[bag(j)] (divided by the bag's count for 'mean'),
        skipping padding_idx. grad_out (B, D) -> dweight (num_embeddings, D)."""
        k = "embedding_bag_backward"
        grad_out = checks.float_array(k, "grad_out", grad_out)
        checks.shape(k, "grad_out", grad_out, (None, None))
        indices, offsets = self._bag_inputs(k, indices, offsets, int(num_embeddings), mode)
        checks.shape(k, "grad_out", grad_out, (offsets.shape[0], None), f" for {offsets.shape[0]} bags")
        return self._embedding_bag_backward(grad_out, indices, offsets, int(num_embeddings), mode,
                                            _padding(k, padding_idx, int(num_embeddings)))

    def _embedding_bag_backward(self, grad_out, indices, offsets, num_embeddings, mode, padding_idx):
        bag, keep = _bag_ids(indices, offsets, padding_idx)
        rows = grad_out[bag[keep]]
        if mode == "mean":
            counts = np.bincount(bag[keep], minlength=offsets.shape[0])
            rows = rows / counts[bag[keep]][:, None].astype(grad_out.dtype)
        dweight = np.zeros((num_embeddings, grad_out.shape[1]), dtype=grad_out.dtype)
        np.add.at(dweight, indices[keep], rows)
        return dweight

    # ---------------------------------------------------------------- dropout
    def dropout_forward(self, x, p: float, seed: int):
        """Inverted dropout: keep_i = u_i >= p with u from :func:`splitmix64_uniform(seed)`;
        out_i = x_i * keep_i / (1-p) (0 everywhere when p == 1). Returns (out, mask uint8)."""
        k = "dropout_forward"
        x = checks.float_array(k, "x", x)
        p = checks.probability(k, "p", p)
        seed = int(seed)
        if not 0 <= seed < 2**64:
            raise ValueError(f"{k}: seed must be in [0, 2**64), got {seed}")
        return _arrays(self._dropout_forward(x, p, seed))

    def _dropout_forward(self, x, p, seed):
        mask = (splitmix64_uniform(seed, x.size) >= p).astype(np.uint8).reshape(x.shape)
        return x * mask * _dropout_scale(x.dtype, p), mask

    def dropout_backward(self, grad_out, mask, p: float):
        """grad_in = grad_out * mask / (1-p) (0 when p == 1)."""
        k = "dropout_backward"
        grad_out = checks.float_array(k, "grad_out", grad_out)
        mask = checks.contiguous(np.asarray(mask))
        if mask.dtype != np.uint8:
            raise TypeError(f"{k}: mask must be uint8, got {mask.dtype}")
        checks.shape(k, "mask", mask, grad_out.shape, " (grad_out's shape)")
        return _arrays(self._dropout_backward(grad_out, mask, checks.probability(k, "p", p)))

    def _dropout_backward(self, grad_out, mask, p):
        return grad_out * mask * _dropout_scale(grad_out.dtype, p)


def _arrays(result):
    """Outputs as ndarrays: NumPy's ufuncs turn a 0-d input into a scalar, a kernel returns 0-d arrays."""
    if isinstance(result, tuple):
        return tuple(np.asarray(r) for r in result)
    return np.asarray(result)


def _ready_for_update(param, grad, states) -> bool:
    """True when the arrays already meet the optimizer kernels' contract (so no conversion is needed)."""
    if type(param) is not np.ndarray or type(grad) is not np.ndarray or param.dtype not in checks.FLOAT_DTYPES:
        return False
    if grad.dtype != param.dtype or grad.shape != param.shape or not grad.flags.c_contiguous:
        return False
    return all(a is None or (type(a) is np.ndarray and a.shape == param.shape and a.dtype == param.dtype
                             and a.flags.c_contiguous and a.flags.writeable) for a in (param, *states))


def _padding(kernel: str, padding_idx, num_embeddings: int) -> int:
    """padding_idx as the kernels take it: -1 for none, else a row in [0, num_embeddings)."""
    if padding_idx is None:
        return -1
    if not 0 <= int(padding_idx) < num_embeddings:
        raise ValueError(f"{kernel}: padding_idx {padding_idx} out of range for {num_embeddings} rows")
    return int(padding_idx)


def _dropout_scale(dtype, p: float):
    return dtype.type(0.0 if p >= 1.0 else 1.0 / (1.0 - p))


def _bag_ids(indices, offsets, padding_idx):
    """The bag of every index position, and which positions count (not padding)."""
    n = indices.shape[0]
    if offsets.shape[0] == 0:
        return np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool)
    bag = np.searchsorted(offsets, np.arange(n), side="right") - 1
    return bag, indices != padding_idx


KERNELS = tuple(
    name for name, value in vars(Backend).items()
    if callable(value) and not name.startswith("_") and name not in ("name", "unchecked")
)
"""The public kernel names; each has a private ``_name`` body that backends override."""
