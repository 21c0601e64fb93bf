"""The compiled training step: forward, loss, backward and optimizer update in one compiled call.

``fastnn.compile_step(model, loss_fn, optimizer)`` returns a :class:`~fastnn.compile.step.CompiledStep`;
see ``docs/compile.md`` for the design. Importing this package is cheap: the interpreter (a Cython
extension, ``fastnn._cython.step``) is loaded when a step is first built.
"""

from __future__ import annotations

from fastnn.optim import optimizer as _optimizer_module


def compile_step(model, loss_fn, optimizer, *, max_grad_norm: float | None = None, norm_type: float = 2.0,
                 clip_value: float | None = None):
    """``step(x, y)`` doing ``optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()``
    in one compiled call, returning the loss as a 0-d tensor (see CompiledStep). ``optimizer`` may
    be a list of optimizers (each over its own parameters: zero_grad and step of each). With max_grad_norm
    (clip_value) the gradients are clipped between backward and step as
    ``fastnn.nn.utils.clip_grad_norm_(params, max_grad_norm, norm_type)`` (``clip_grad_value_``) would."""
    from fastnn.compile.step import CompiledStep

    return CompiledStep(model, loss_fn, optimizer, max_grad_norm=max_grad_norm, norm_type=norm_type,
                        clip_value=clip_value)


def compile(model, **options):
    """torch.compile's name: ``model`` with its inference forward compiled (see CompiledModule)."""
    from fastnn.compile.module import compile as compile_module

    return compile_module(model, **options)


def fused_step(optimizer, work: list) -> bool:
    """torch's ``fused=True``: update every parameter of `optimizer` in one compiled call (see fused.py)."""
    from fastnn.compile.fused import fused_step as run

    return run(optimizer, work)


_optimizer_module.FUSED_STEPS.append(fused_step)


def __getattr__(name: str):
    if name == "CompiledStep":
        from fastnn.compile.step import CompiledStep

        return CompiledStep
    if name == "CompiledModule":
        from fastnn.compile.module import CompiledModule

        return CompiledModule
    raise AttributeError(f"module 'fastnn.compile' has no attribute {name!r}")


__all__ = ["CompiledModule", "CompiledStep", "compile", "compile_step", "fused_step"]
