"""The BLAS thread count one repeated piece of work runs fastest with, chosen from its own timings.

Why: OpenBLAS splits some mid-size products over its threads at a loss, and no size threshold
tells which (measured here, compiled steps, one thread against two: a 20-64-2 MLP at batch 512
157 against 168 us, the digits network at batch 128 265 against 332, but at batch 32 184 against
172). So a step that repeats (a compiled training step at one batch size) times itself: while the
thread policy allows ``n > 1`` threads, its first calls alternate ``n`` threads and one, the
faster median (by at least ``MARGIN``) is used for the next ``RECHECK`` calls, and then it is
timed again, since the machine's load and the BLAS's choices may have changed. A step faster
than ``MIN_SECONDS`` is left alone: setting the count twice around it (two C calls) would cost
more than a choice could gain.
"""

from __future__ import annotations

import statistics

TRIALS = 5  # timed calls on each count before a choice
RECHECK = 400  # calls with the chosen count before timing again
MARGIN = 0.97  # one thread must be at least 3% faster to be chosen
MIN_SECONDS = 50e-6


class ThreadChoice:
    """``threads(allowed)`` gives the count for the next call (``allowed``: the policy's count now);
    ``record(count, seconds)`` reports how long that call took. ``active`` is False once the work
    proved too short to be worth choosing for (the caller then skips both calls)."""

    def __init__(self) -> None:
        self.active = True
        self.one: list[float] = []  # timings on one thread while choosing
        self.many: list[float] = []  # timings on the policy's count while choosing
        self.one_wins = False
        self.calls = 0  # calls left before choosing again
        self.choosing = False  # whether the last threads() call was a timing one

    def threads(self, allowed: int) -> int:
        self.choosing = False
        if allowed < 2:
            return allowed
        if self.calls:
            self.calls -= 1
            return 1 if self.one_wins else allowed
        self.choosing = True
        return 1 if len(self.one) < len(self.many) else allowed

    def record(self, count: int, seconds: float) -> None:
        if not self.choosing:
            return
        (self.one if count == 1 else self.many).append(seconds)
        if min(len(self.one), len(self.many)) < TRIALS:
            return
        one, many = statistics.median(self.one), statistics.median(self.many)
        self.one, self.many = [], []
        if max(one, many) < MIN_SECONDS:
            self.active = False
            return
        self.one_wins = one < MARGIN * many
        self.calls = RECHECK


__all__ = ["ThreadChoice"]
