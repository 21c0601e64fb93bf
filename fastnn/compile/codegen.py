"""The code generator: one Numba function per plan, written to disk so Numba's cache survives.

The generated function ``step(x, y, P, G, S0, S1, S2, H, steps, seeds, offsets, bounds, info)``
runs the forward pass, the loss, the backward pass, the finiteness check and the optimizer
update of every parameter, over the flat buffers: ``P`` parameters, ``G`` gradients, ``S0..S2``
optimizer state (each as long as ``P``, or empty when unused), ``H`` one row of hyper-parameters
per parameter, ``steps`` each parameter's step count after this step, ``seeds`` one dropout seed
per dropout layer in forward order, ``offsets`` the bag starts of an EmbeddingBag input,
``bounds`` the parameters' slices of the flat buffers. It returns ``(status, loss)``; a
non-zero status (see ``kernels``) means nothing after the failing check was written (labels and
indices are checked before any gradient is, gradients before any parameter or state).

The source is keyed by the plan's key and by the source of the kernels it calls, so a cached
file is never stale; it lands in :func:`cache_dir` as ``step_<hash>.py`` and Numba caches its
machine code next to it (``cache=True``), which lets a second process skip compilation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

from fastnn.compile import kernels
from fastnn.compile.kernels import SAVES_INPUT
from fastnn.compile.planner import Plan

_functions: dict[str, object] = {}
_lock = threading.Lock()
_kernel_digest: str | None = None


def cache_dir() -> Path:
    """Where generated step sources and Numba's cache of them live: ``$FASTNN_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/fastnn/compile`` (default ``~/.cache/fastnn/compile``)."""
    explicit = os.environ.get("FASTNN_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fastnn" / "compile"


def _digest_of_kernels() -> str:
    """A hash of the kernel sources a generated function calls (compiled into its cache entry)."""
    global _kernel_digest
    if _kernel_digest is None:
        digest = hashlib.sha256()
        numba_dir = Path(kernels.__file__).resolve().parent.parent / "_numba"
        for path in [Path(kernels.__file__), *sorted(numba_dir.glob("*.py"))]:
            digest.update(path.read_bytes())
        _kernel_digest = digest.hexdigest()[:16]
    return _kernel_digest


class _Emitter:
    """Writes the body of the step function from a plan's layers."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.lines: list[str] = []
        self.names = 0
        self.dropouts = 0
        self.scale_type = plan.dtype.type

    def name(self, prefix: str) -> str:
        self.names += 1
        return f"{prefix}{self.names}"

    def forward(self, layers: list, h: str, needs_grad: bool) -> tuple[str, list]:
        """Emit the forward lines of `layers` on `h`; returns (output name, backward emitters)."""
        backs = []
        for layer in layers:
            h, back, needs_grad = getattr(self, "forward_" + layer.kind)(layer, h, needs_grad)
            if back is not None:
                backs.append(back)
        return h, backs

    def backward(self, backs: list, g: str) -> str:
        for back in reversed(backs):
            g = back(g)
        return g

    # ----------------------------------------------------------------- layers
    def forward_linear(self, layer, h, needs_grad):
        inn, out = layer.sizes
        wo, bo = layer.offsets
        w, z, a, i = self.name("w"), self.name("z"), self.name("a"), self.names
        b = f"P[{bo}:{bo + out}]" if layer.has_bias else "P[0:0]"
        saves_input = layer.code in SAVES_INPUT
        self.lines += [f"{w} = P[{wo}:{wo + out * inn}].reshape(({out}, {inn}))",
                       f"{z} = np.empty((n, {out}), P.dtype)",
                       f"{a} = np.empty((n, {out}), P.dtype)" if saves_input else f"{a} = {z}",
                       f"linear_forward({h}, {w}, {b}, {layer.has_bias}, {layer.code}, {layer.slope!r}, {z}, {a})"]
        saved = z if saves_input else a

        def back(g):
            gx, dz, part = f"gx{i}", f"dz{i}", f"part{i}"
            db = f"G[{bo}:{bo + out}]" if layer.has_bias else "G[0:0]"
            self.lines += [f"{dz} = {g}" if layer.code == 0 else f"{dz} = np.empty_like({g})",
                           f"{part} = np.empty(({kernels.BIAS_GRAD_CHUNKS}, {out}), P.dtype)",
                           f"{gx} = linear_backward({g}, {saved}, {h}, {w}, {layer.code}, {layer.slope!r}, {dz}, "
                           f"G[{wo}:{wo + out * inn}].reshape(({out}, {inn})), {db}, {layer.has_bias}, "
                           f"{needs_grad}, {part})"]
            return gx
        return a, back, True

    def forward_act(self, layer, h, needs_grad):
        a = self.name("a")
        self.lines.append(f"{a} = act_forward({h}, {layer.code}, {layer.slope!r})")
        saved = h if layer.code in SAVES_INPUT else a

        def back(g):
            gx = self.name("gx")
            self.lines.append(f"{gx} = act_backward({g}, {saved}, {layer.code}, {layer.slope!r})")
            return gx
        return a, (back if needs_grad else None), needs_grad

    def forward_dropout(self, layer, h, needs_grad):
        a, m = self.name("a"), self.name("m")
        scale = float(self.scale_type(0.0 if layer.p >= 1.0 else 1.0 / (1.0 - layer.p)))
        self.lines.append(f"{a}, {m} = dropout_forward({h}, {layer.p!r}, seeds[{self.dropouts}], {scale!r})")
        self.dropouts += 1

        def back(g):
            gx = self.name("gx")
            self.lines.append(f"{gx} = dropout_backward({g}, {m}, {scale!r})")
            return gx
        return a, (back if needs_grad else None), needs_grad

    def forward_residual(self, layer, h, needs_grad):
        s, inner = self.forward(layer.body, h, needs_grad)
        a = self.name("a")
        self.lines.append(f"{a} = {h} + {s}")
        inner_grad = needs_grad or any(x.kind in ("linear", "embedding", "bag") for x in layer.body)

        def back(g):
            gb = self.backward(inner, g)
            if not needs_grad:
                return g
            gx = self.name("gx")
            self.lines.append(f"{gx} = {g} + {gb}")
            return gx
        return a, back, needs_grad or inner_grad

    def forward_embedding(self, layer, h, needs_grad):
        rows, dim = layer.sizes
        (wo,) = layer.offsets
        e = self.name("e")
        self.lines += ["ids = x.reshape(-1)",
                       f"st = check_indices(ids, {rows}, info)",
                       "if st != 0:",
                       "    return st, 0.0",
                       f"{e} = embedding_forward(P[{wo}:{wo + rows * dim}].reshape(({rows}, {dim})), ids)"]

        def back(g):
            self.lines.append(f"embedding_backward({g}.reshape((-1, {dim})), ids, {layer.padding}, "
                              f"G[{wo}:{wo + rows * dim}].reshape(({rows}, {dim})))")
            return g
        return e, back, True

    def forward_bag(self, layer, h, needs_grad):
        rows, dim = layer.sizes
        (wo,) = layer.offsets
        e = self.name("e")
        self.lines += ["ids = x.reshape(-1)",
                       f"st = check_indices(ids, {rows}, info)",
                       "if st != 0:",
                       "    return st, 0.0",
                       f"{e} = bag_forward(P[{wo}:{wo + rows * dim}].reshape(({rows}, {dim})), ids, offsets, "
                       f"{layer.mean}, {layer.padding})"]

        def back(g):
            self.lines.append(f"bag_backward({g}, ids, offsets, {layer.mean}, {layer.padding}, "
                              f"G[{wo}:{wo + rows * dim}].reshape(({rows}, {dim})))")
            return g
        return e, back, True

    def forward_flatten(self, layer, h, needs_grad):
        a = self.name("a")
        self.lines.append(f"{a} = {h}.reshape((n, -1))")

        def back(g):
            gx = self.name("gx")
            self.lines.append(f"{gx} = {g}.reshape((-1, {h}.shape[1]))")
            return gx
        return a, back, needs_grad

    # ------------------------------------------------------------------- loss
    def loss(self, h: str) -> str:
        kind = self.plan.loss[0]
        if kind == "ce":
            _, ignore, smoothing, mean = self.plan.loss
            self.lines += [f"gl = np.empty_like({h})",
                           f"st, loss = cross_entropy({h}, y, {ignore}, {smoothing!r}, {mean}, gl, info)",
                           "if st != 0:",
                           "    return st, 0.0"]
        elif kind == "nll":
            _, ignore, mean = self.plan.loss
            self.lines += [f"st, loss, gl = nll_log_softmax({h}, y, {ignore}, {mean}, info)",
                           "if st != 0:",
                           "    return st, 0.0"]
        else:
            self.lines += [f"gl = np.empty_like({h})",
                           f"loss = pointwise_loss({0 if kind == 'mse' else 1}, {h}, y, {self.plan.loss[1]}, gl)"]
        return "gl"


UPDATES = {"sgd": "update_sgd", "adam": "update_adam", "adagrad": "update_adagrad", "rmsprop": "update_rmsprop",
           "adadelta": "update_adadelta"}


def source(plan: Plan) -> str:
    """The Python source of the plan's step function."""
    em = _Emitter(plan)
    h, backs = em.forward(plan.layers, "x", False)
    g = em.loss(h)
    em.backward(backs, g)
    update = UPDATES[plan.optimizer]
    body = ["n = x.shape[0]", *em.lines,
            "st = finite_status(loss, G, bounds, info)",
            "if st != 0:",
            "    return st, loss"]
    for i in range(len(plan.params)):
        lo, hi = plan.bounds[i], plan.bounds[i + 1]
        body.append(f"{update}(P[{lo}:{hi}], G[{lo}:{hi}], S0[{lo}:{hi}], S1[{lo}:{hi}], S2[{lo}:{hi}], H[{i}], "
                    f"steps[{i}])")
    body.append("return 0, loss")
    header = [f'"""Generated by fastnn.compile for the plan:\n{plan.key}\n"""',
              "import numpy as np",
              "from fastnn.compile.kernels import *  # noqa: F403",
              "from fastnn.compile.kernels import jit",
              "",
              "",
              "@jit",
              "def step(x, y, P, G, S0, S1, S2, H, steps, seeds, offsets, bounds, info):"]
    return "\n".join(header + ["    " + line for line in body]) + "\n"


def load(plan: Plan):
    """The compiled step function of `plan` (generated, written and imported once per process)."""
    text = source(plan)
    digest = hashlib.sha256((text + _digest_of_kernels()).encode()).hexdigest()[:24]
    with _lock:
        function = _functions.get(digest)
        if function is not None:
            return function
        directory = cache_dir()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"step_{digest}.py"
        if not path.exists() or path.read_text() != text:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)  # atomic: a concurrent process reads a whole file or none
        name = f"fastnn_compiled_step_{digest}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _functions[digest] = module.step
        return module.step


__all__ = ["cache_dir", "load", "source"]
