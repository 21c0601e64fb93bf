"""The compiled training step: forward, loss, backward and optimizer update in one Numba call.

``fastnn.compile_step(model, loss_fn, optimizer)`` returns a :class:`CompiledStep`; see
``docs/compile.md`` for the design.
"""

from fastnn.compile.step import CompiledStep, compile_step

__all__ = ["CompiledStep", "compile_step"]
