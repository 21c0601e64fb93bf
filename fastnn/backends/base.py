"""The checked entry points of the kernel table: every hot kernel of fastnn, declared once.

A :class:`Backend` is a name and a table of functions (``contract.KERNELS``: names and argument
order). Each public method here states the kernel's maths, checks and normalises its inputs once
(``checks``) and calls the table; ``backend.unchecked`` is the table itself, for callers that have
validated their arrays exactly as the public method would (the autodiff layer, the compiled step).
A kernel body may assume what its public method guarantees: C-contiguous float32/float64 arrays
of one dtype, int64 indices in range, validated shapes and options, no two arrays it writes
sharing memory with any other argument. It must not modify its inputs except where the contract
says an array is updated in place.

Activation names (``contract.ACTIVATIONS``): identity, relu, leaky_relu, sigmoid, tanh,
gelu (exact, x*Phi(x)) and gelu_tanh (the tanh approximation). The backward of an activation
takes ``saved``: the activation's *output* for identity/relu/sigmoid/tanh, its *input* for
leaky_relu/gelu/gelu_tanh (see ``contract.saves_input``).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from fastnn.backends import checks
from fastnn.backends.contract import ACTIVATION_NAMES, EMBEDDING_BAG_MODES, KERNEL_NAMES, REDUCTIONS


class Backend:
    """One implementation of the kernel table, behind the checked public kernels."""

    def __init__(self, name: str, table: SimpleNamespace) -> None:
        self.name = name
        self.table = table

    @property
    def unchecked(self) -> SimpleNamespace:
        """The kernels without their public checks: ``backend.unchecked.<kernel>(*contract args)``."""
        return self.table

    def __repr__(self) -> str:
        return f"<fastnn backend {self.name!r}>"

    # ------------------------------------------------------------------ dense
    def linear_forward(self, x, weight, bias=None, activation: str = "identity", negative_slope: float = 0.01):
        """out = act(x @ weight.T + bias), fused.

        x (N, in), weight (out, in), bias (out,) or None. Returns (out, saved): ``saved`` is
        what :meth:`linear_backward` needs (the output itself, or the pre-activation for
        activations where ``contract.saves_input``).
        """
        k = "linear_forward"
        weight = checks.float_array(k, "weight", weight)
        x = checks.float_array(k, "x", x, weight.dtype)
        checks.shape(k, "weight", weight, (None, None))
        checks.shape(k, "x", x, (None, weight.shape[1]), f" for weight {weight.shape}")
        if bias is not None:
            bias = checks.float_array(k, "bias", bias, weight.dtype)
            checks.shape(k, "bias", bias, (weight.shape[0],))
        checks.choice(k, "activation", activation, ACTIVATION_NAMES)
        return self.table.linear_forward(x, weight, bias, activation, checks.real(k, "negative_slope", negative_slope))

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
        checks.choice(k, "activation", activation, ACTIVATION_NAMES)
        return self.table.linear_backward(grad_out, x, weight, saved, activation,
                                          checks.real(k, "negative_slope", negative_slope),
                                          checks.flag(k, "need_input_grad", need_input_grad),
                                          checks.flag(k, "need_bias_grad", need_bias_grad))

    # ------------------------------------------------------------ activations
    def activation_forward(self, x, activation: str, negative_slope: float = 0.01):
        """Elementwise act(x) on any shape: relu max(x,0); leaky_relu x if x>0 else slope*x;
        sigmoid 1/(1+e^-x); tanh; gelu x*Phi(x); gelu_tanh 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))."""
        k = "activation_forward"
        x = checks.float_array(k, "x", x)
        checks.choice(k, "activation", activation, ACTIVATION_NAMES)
        return _arrays(self.table.activation_forward(x, activation, checks.real(k, "negative_slope", negative_slope)))

    def activation_backward(self, grad_out, saved, activation: str, negative_slope: float = 0.01):
        """grad_in = grad_out * act'(.); ``saved`` is the output, or the input where
        ``contract.saves_input``. sigmoid y(1-y); tanh 1-y^2; relu 0 where y<=0; leaky_relu [x>0] or slope;
        gelu Phi(x)+x*phi(x); gelu_tanh 0.5(1+t) + 0.5x(1-t^2)sqrt(2/pi)(1+3*0.044715x^2)."""
        k = "activation_backward"
        saved = checks.float_array(k, "saved", saved)
        grad_out = checks.float_array(k, "grad_out", grad_out, saved.dtype)
        checks.shape(k, "grad_out", grad_out, saved.shape)
        checks.choice(k, "activation", activation, ACTIVATION_NAMES)
        slope = checks.real(k, "negative_slope", negative_slope)
        return _arrays(self.table.activation_backward(grad_out, saved, activation, slope))

    def softmax_forward(self, x):
        """Row softmax of a 2-D array: y_ij = exp(x_ij - max_i) / sum_k exp(x_ik - max_i)."""
        x = checks.float_array("softmax_forward", "x", x)
        checks.shape("softmax_forward", "x", x, (None, None))
        return self.table.softmax_forward(x)

    def softmax_backward(self, grad_out, out):
        """dx = y * (g - sum_k g_k y_k) per row, from the softmax output y."""
        out = checks.float_array("softmax_backward", "out", out)
        checks.shape("softmax_backward", "out", out, (None, None))
        grad_out = checks.float_array("softmax_backward", "grad_out", grad_out, out.dtype)
        checks.shape("softmax_backward", "grad_out", grad_out, out.shape)
        return self.table.softmax_backward(grad_out, out)

    def log_softmax_forward(self, x):
        """Row log-softmax of a 2-D array: x_ij - max_i - log sum_k exp(x_ik - max_i)."""
        x = checks.float_array("log_softmax_forward", "x", x)
        checks.shape("log_softmax_forward", "x", x, (None, None))
        return self.table.log_softmax_forward(x)

    def log_softmax_backward(self, grad_out, out):
        """dx = g - exp(y) * sum_k g_k per row, from the log-softmax output y."""
        out = checks.float_array("log_softmax_backward", "out", out)
        checks.shape("log_softmax_backward", "out", out, (None, None))
        grad_out = checks.float_array("log_softmax_backward", "grad_out", grad_out, out.dtype)
        checks.shape("log_softmax_backward", "grad_out", grad_out, out.shape)
        return self.table.log_softmax_backward(grad_out, out)

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
        ignore_index = checks.integer(k, "ignore_index", ignore_index)
        target = checks.index_array(k, "target", target, logits.shape[1], allow=ignore_index)
        checks.shape(k, "target", target, (logits.shape[0],), f" for logits {logits.shape}")
        checks.choice(k, "reduction", reduction, REDUCTIONS)
        eps = checks.probability(k, "label_smoothing", label_smoothing)
        return self.table.softmax_cross_entropy(logits, target, reduction, ignore_index, eps)

    def mse_loss(self, input, target, reduction: str = "mean"):
        """loss_i = (x_i - t_i)^2, dloss/dx_i = 2 (x_i - t_i); 'mean' divides by the element count.
        input and target have one shape. Returns (loss, dinput); dtarget = -dinput."""
        k = "mse_loss"
        input = checks.float_array(k, "input", input)
        target = checks.float_array(k, "target", target, input.dtype)
        checks.shape(k, "target", target, input.shape, " (the input's shape)")
        checks.choice(k, "reduction", reduction, REDUCTIONS)
        return _arrays(self.table.mse_loss(input, target, reduction))

    def bce_with_logits(self, logits, target, reduction: str = "mean"):
        """Stable binary cross-entropy on logits x with targets t in [0, 1]:
        loss = max(x, 0) - x*t + log(1 + exp(-|x|)), dloss/dx = sigmoid(x) - t.
        Returns (loss, dlogits); 'mean' divides by the element count."""
        k = "bce_with_logits"
        logits = checks.float_array(k, "logits", logits)
        target = checks.float_array(k, "target", target, logits.dtype)
        checks.shape(k, "target", target, logits.shape, " (the logits' shape)")
        checks.choice(k, "reduction", reduction, REDUCTIONS)
        return _arrays(self.table.bce_with_logits(logits, target, reduction))

    # ------------------------------------------------------------- optimizers
    def _update_arrays(self, kernel, param, grad, **state):
        """The optimizer kernels' arrays, checked: param and state C-contiguous, writeable, of one shape
        and float dtype, sharing no memory with each other or with grad; grad of the same shape and
        dtype (made contiguous if it is not)."""
        if checks.ready_for_update(param, grad, state.values()) and checks.optional_none(kernel, state):  # common
            return param, grad, state
        param = checks.inplace(kernel, "param", param, np.asarray(param))
        checks.float_array(kernel, "param", param)
        grad = checks.float_array(kernel, "grad", grad, param.dtype)
        checks.shape(kernel, "grad", grad, param.shape, " (the parameter's shape)")
        state = {k: checks.state_array(kernel, k, v, param) for k, v in state.items()}
        checks.disjoint(kernel, {"param": param, **state}, {"grad": grad})
        return param, grad, state

    def sgd_update(self, param, grad, momentum_buffer=None, *, lr: float, momentum: float = 0.0,
                   dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                   first_step: bool = False) -> None:
        """In place, as torch.optim.SGD: g = grad + wd*p; with momentum, buf = g on the first
        step else momentum*buf + (1-dampening)*g, and g = g + momentum*buf (nesterov) or buf;
        p -= lr*g. ``momentum_buffer`` is required when momentum != 0."""
        k = "sgd_update"
        lr, momentum, dampening, weight_decay = _reals(k, _SGD_REALS, (lr, momentum, dampening, weight_decay))
        nesterov, first_step = checks.flag(k, "nesterov", nesterov), checks.flag(k, "first_step", first_step)
        param, grad, s = self._update_arrays(k, param, grad, momentum_buffer=momentum_buffer)
        if momentum != 0 and s["momentum_buffer"] is None:
            raise ValueError("sgd_update: momentum_buffer is required when momentum != 0")
        self.table.sgd_update(param, grad, s["momentum_buffer"], lr, momentum, dampening, weight_decay, nesterov,
                              first_step)

    def adagrad_update(self, param, grad, state_sum, *, clr: float, weight_decay: float = 0.0,
                       eps: float = 1e-10) -> None:
        """In place, as torch.optim.Adagrad with clr = lr / (1 + (step-1)*lr_decay):
        g = grad + wd*p; sum += g^2; p -= clr * g / (sqrt(sum) + eps)."""
        param, grad, s = self._update_arrays("adagrad_update", param, grad, state_sum=state_sum)
        self.table.adagrad_update(param, grad, s["state_sum"],
                                  *_reals("adagrad_update", _ADAGRAD_REALS, (clr, weight_decay, eps)))

    def rmsprop_update(self, param, grad, square_avg, momentum_buffer=None, grad_avg=None, *, lr: float,
                       alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                       centered: bool = False) -> None:
        """In place, as torch.optim.RMSprop: g = grad + wd*p; v = alpha*v + (1-alpha)*g^2;
        centered: m = lerp(m, g, 1-alpha) (PyTorch's order), avg = sqrt(v - m^2) + eps, else avg = sqrt(v) + eps;
        momentum > 0: buf = momentum*buf + g/avg, p -= lr*buf; else p -= lr*g/avg."""
        k = "rmsprop_update"
        lr, alpha, eps, weight_decay, momentum = _reals(k, _RMSPROP_REALS, (lr, alpha, eps, weight_decay, momentum))
        centered = checks.flag(k, "centered", centered)
        param, grad, s = self._update_arrays(k, param, grad, square_avg=square_avg,
                                             momentum_buffer=momentum_buffer, grad_avg=grad_avg)
        if momentum > 0 and s["momentum_buffer"] is None:
            raise ValueError("rmsprop_update: momentum_buffer is required when momentum > 0")
        if centered and s["grad_avg"] is None:
            raise ValueError("rmsprop_update: grad_avg is required when centered")
        self.table.rmsprop_update(param, grad, s["square_avg"], s["momentum_buffer"], s["grad_avg"], lr, alpha, eps,
                                  weight_decay, momentum, centered)

    def adadelta_update(self, param, grad, square_avg, acc_delta, *, lr: float = 1.0, rho: float = 0.9,
                        eps: float = 1e-6, weight_decay: float = 0.0) -> None:
        """In place, as torch.optim.Adadelta: g = grad + wd*p; v = rho*v + (1-rho)*g^2;
        delta = sqrt(u + eps) / sqrt(v + eps) * g; u = rho*u + (1-rho)*delta^2; p -= lr*delta."""
        param, grad, s = self._update_arrays("adadelta_update", param, grad, square_avg=square_avg,
                                             acc_delta=acc_delta)
        self.table.adadelta_update(param, grad, s["square_avg"], s["acc_delta"],
                                   *_reals("adadelta_update", _ADADELTA_REALS, (lr, rho, eps, weight_decay)))

    def adam_update(self, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, step: int, lr: float = 1e-3,
                    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0,
                    amsgrad: bool = False, decoupled_weight_decay: bool = False) -> None:
        """In place, as torch.optim.Adam (AdamW when decoupled_weight_decay), ``step`` >= 1 counted
        after increment: Adam g = grad + wd*p, AdamW p *= 1 - lr*wd; m = b1*m + (1-b1)*g;
        v = b2*v + (1-b2)*g^2; amsgrad vmax = max(vmax, v) replaces v below;
        p -= lr/(1-b1^step) * m / (sqrt(v)/sqrt(1-b2^step) + eps)."""
        k = "adam_update"
        step = checks.integer(k, "step", step, 1)
        lr, beta1, beta2, eps, weight_decay = _reals(k, _ADAM_REALS, (lr, beta1, beta2, eps, weight_decay))
        amsgrad = checks.flag(k, "amsgrad", amsgrad)
        decoupled_weight_decay = checks.flag(k, "decoupled_weight_decay", decoupled_weight_decay)
        param, grad, s = self._update_arrays(k, param, grad, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq,
                                             max_exp_avg_sq=max_exp_avg_sq)
        if amsgrad and s["max_exp_avg_sq"] is None:
            raise ValueError("adam_update: max_exp_avg_sq is required when amsgrad")
        self.table.adam_update(param, grad, s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"], step, lr, beta1, beta2,
                               eps, weight_decay, amsgrad, decoupled_weight_decay)

    # ------------------------------------------------------------- embeddings
    def embedding_forward(self, weight, indices):
        """Gather rows: out[i] = weight[indices[i]]; weight (V, D), indices (n,) -> (n, D)."""
        k = "embedding_forward"
        weight = checks.float_array(k, "weight", weight)
        checks.shape(k, "weight", weight, (None, None))
        indices = checks.index_array(k, "indices", indices, weight.shape[0])
        checks.shape(k, "indices", indices, (None,))
        return self.table.embedding_forward(weight, indices)

    def embedding_backward(self, grad_out, indices, num_embeddings: int, padding_idx: int | None = None):
        """Scatter-add: dweight[indices[i]] += grad_out[i]; the padding_idx row stays zero.
        grad_out (n, D), indices (n,) -> dweight (num_embeddings, D)."""
        k = "embedding_backward"
        grad_out = checks.float_array(k, "grad_out", grad_out)
        checks.shape(k, "grad_out", grad_out, (None, None))
        num_embeddings = checks.integer(k, "num_embeddings", num_embeddings, 0)
        indices = checks.index_array(k, "indices", indices, num_embeddings)
        checks.shape(k, "indices", indices, (grad_out.shape[0],), f" for grad_out {grad_out.shape}")
        padding_idx = checks.padding_index(k, padding_idx, num_embeddings)
        return self.table.embedding_backward(grad_out, indices, num_embeddings, padding_idx)

    def _bag_inputs(self, k, indices, offsets, num_embeddings, mode):
        indices = checks.index_array(k, "indices", indices, num_embeddings)
        checks.shape(k, "indices", indices, (None,))
        offsets = checks.offsets_array(k, offsets, indices.shape[0])
        checks.choice(k, "mode", mode, EMBEDDING_BAG_MODES)
        return indices, offsets

    def embedding_bag_forward(self, weight, indices, offsets, mode: str = "mean", padding_idx: int | None = None):
        """Pooled bags: bag b holds indices[offsets[b]:offsets[b+1]] (the last runs to the end);
        out[b] = sum (or mean) of their rows, skipping padding_idx; an empty bag gives zeros.
        weight (V, D), indices (n,), offsets (B,) -> (B, D)."""
        k = "embedding_bag_forward"
        weight = checks.float_array(k, "weight", weight)
        checks.shape(k, "weight", weight, (None, None))
        indices, offsets = self._bag_inputs(k, indices, offsets, weight.shape[0], mode)
        padding_idx = checks.padding_index(k, padding_idx, weight.shape[0])
        return self.table.embedding_bag_forward(weight, indices, offsets, mode, padding_idx)

    def embedding_bag_backward(self, grad_out, indices, offsets, num_embeddings: int, mode: str = "mean",
                               padding_idx: int | None = None):
        """dweight[indices[j]] += grad_out[bag(j)] (divided by the bag's count for 'mean'),
        skipping padding_idx. grad_out (B, D) -> dweight (num_embeddings, D)."""
        k = "embedding_bag_backward"
        grad_out = checks.float_array(k, "grad_out", grad_out)
        checks.shape(k, "grad_out", grad_out, (None, None))
        num_embeddings = checks.integer(k, "num_embeddings", num_embeddings, 0)
        indices, offsets = self._bag_inputs(k, indices, offsets, num_embeddings, mode)
        checks.shape(k, "grad_out", grad_out, (offsets.shape[0], None), f" for {offsets.shape[0]} bags")
        return self.table.embedding_bag_backward(grad_out, indices, offsets, num_embeddings, mode,
                                                 checks.padding_index(k, padding_idx, num_embeddings))

    # ---------------------------------------------------------------- dropout
    def dropout_forward(self, x, p: float, seed: int):
        """Inverted dropout: keep_i = u_i >= p with u from :func:`reference.dropout.splitmix64_uniform(seed)`;
        out_i = x_i * keep_i / (1-p) (0 everywhere when p == 1). Returns (out, mask uint8)."""
        k = "dropout_forward"
        x = checks.float_array(k, "x", x)
        p = checks.probability(k, "p", p)
        seed = checks.integer(k, "seed", seed, 0, 2**64 - 1)
        return _arrays(self.table.dropout_forward(x, p, seed))

    def dropout_backward(self, grad_out, mask, p: float):
        """grad_in = grad_out * mask / (1-p) (0 when p == 1)."""
        k = "dropout_backward"
        grad_out = checks.float_array(k, "grad_out", grad_out)
        mask = checks.contiguous(np.asarray(mask))
        if mask.dtype != np.uint8:
            raise TypeError(f"{k}: mask must be uint8, got {mask.dtype}")
        checks.shape(k, "mask", mask, grad_out.shape, " (grad_out's shape)")
        return _arrays(self.table.dropout_backward(grad_out, mask, checks.probability(k, "p", p)))


    # ------------------------------------------------------------- layer norm
    def _layer_norm_params(self, k, x, weight, bias):
        x = checks.float_array(k, "x", x)
        checks.shape(k, "x", x, (None, None))
        if x.shape[1] == 0:
            raise ValueError(f"{k}: x must have at least one element per row to normalise, got shape {x.shape}")
        if weight is not None:
            weight = checks.float_array(k, "weight", weight, x.dtype)
            checks.shape(k, "weight", weight, (x.shape[1],), f" for x {x.shape}")
        if bias is not None:
            bias = checks.float_array(k, "bias", bias, x.dtype)
            checks.shape(k, "bias", bias, (x.shape[1],), f" for x {x.shape}")
        return x, weight, bias

    def layer_norm_forward(self, x, weight=None, bias=None, eps: float = 1e-5):
        """Over the last dim of x (N, D): mean = x.mean(1), var = ((x - mean)^2).mean(1) (biased),
        rstd = 1/sqrt(var + eps), out = (x - mean) * rstd * weight + bias (weight, bias (D,) or None).
        Returns (out (N, D), mean (N,), rstd (N,))."""
        k = "layer_norm_forward"
        x, weight, bias = self._layer_norm_params(k, x, weight, bias)
        eps = checks.real(k, "eps", eps)
        if not eps >= 0:
            raise ValueError(f"{k}: eps must be >= 0, got {eps}")
        return self.table.layer_norm_forward(x, weight, bias, eps)

    def layer_norm_backward(self, grad_out, x, weight, mean, rstd, need_bias_grad: bool = True):
        """With xhat = (x - mean) * rstd and g' = grad_out * weight (grad_out without a weight):
        dx = rstd * (g' - mean_D(g') - xhat * mean_D(g' * xhat)), dweight = sum_N(grad_out * xhat)
        (None without a weight), dbias = sum_N(grad_out) (None unless need_bias_grad).
        Returns (dx, dweight, dbias)."""
        k = "layer_norm_backward"
        x, weight, _ = self._layer_norm_params(k, x, weight, None)
        grad_out = checks.float_array(k, "grad_out", grad_out, x.dtype)
        checks.shape(k, "grad_out", grad_out, x.shape, " (x's shape)")
        mean = checks.float_array(k, "mean", mean, x.dtype)
        checks.shape(k, "mean", mean, (x.shape[0],))
        rstd = checks.float_array(k, "rstd", rstd, x.dtype)
        checks.shape(k, "rstd", rstd, (x.shape[0],))
        return self.table.layer_norm_backward(grad_out, x, weight, mean, rstd,
                                              checks.flag(k, "need_bias_grad", need_bias_grad))


def _arrays(result):
    """Outputs as ndarrays: NumPy's ufuncs turn a 0-d input into a scalar, a kernel returns 0-d arrays."""
    if isinstance(result, tuple):
        return tuple(np.asarray(r) for r in result)
    return np.asarray(result)


_SGD_REALS = ("lr", "momentum", "dampening", "weight_decay")
_ADAGRAD_REALS = ("clr", "weight_decay", "eps")
_RMSPROP_REALS = ("lr", "alpha", "eps", "weight_decay", "momentum")
_ADADELTA_REALS = ("lr", "rho", "eps", "weight_decay")
_ADAM_REALS = ("lr", "beta1", "beta2", "eps", "weight_decay")
"""The real-valued hyperparameters of each optimizer kernel, in the table's argument order."""


def _reals(kernel: str, names: tuple, values: tuple) -> tuple:
    """The hyperparameters as floats, in the order given; a non-number is a TypeError naming it."""
    if all(type(v) is float for v in values):  # the common case, first
        return values
    return tuple(checks.real(kernel, name, v) for name, v in zip(names, values))


KERNELS = KERNEL_NAMES  # the public kernel names: each a method of Backend and an entry of every table
