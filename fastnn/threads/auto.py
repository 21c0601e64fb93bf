"""The "auto" thread policy: as many threads as there are cores nobody else is using, at most all.

Why: a parallel region (a BLAS product split in two, an OpenMP loop) ends when its slowest thread
ends. When another process runs on one of the two cores, the thread placed there waits for a
scheduler time slice (milliseconds) while the region's work is a fraction of a millisecond, so a
2-thread epoch takes 2x (one competitor) to 20x (three) the 1-thread time. No choice of work
threshold fixes that: the time slice is longer than the whole region. So "auto" asks the kernel
how many other threads want a core right now and uses only the free ones.

How: every ``SAMPLE_SECONDS`` (on the next call of :meth:`AutoThreads.threads`, so an idle program
costs nothing), read the number of runnable tasks on the machine (the 4th field of
``/proc/loadavg``) and subtract this process's own runnable threads (``/proc/self/task/*/stat``):
the rest is other work competing for the cores. A moving average over the last samples (the
count at one instant is noisy) gives ``free = cores - others``; auto uses
``max(1, min(limit, floor(free + 0.25)))`` threads. A sample costs ~50 µs every 50 ms (0.1%).

Where ``/proc`` is missing (not Linux) auto uses ``limit`` threads: the old behaviour.
A training loop can also report its step times (:meth:`AutoThreads.record_step`): every
``CHECK_EVERY`` steps run on several threads, auto times ``CHECK_STEPS`` steps on one thread, and
if one thread was faster (a contention the run queue does not show, e.g. a CPU quota), it keeps
one thread for the next ``VETO_STEPS`` steps.
"""

from __future__ import annotations

import os
import statistics
import time

SAMPLE_SECONDS = 0.05
SMOOTHING = 0.3  # weight of the newest run-queue sample in the moving average
CHECK_EVERY, CHECK_STEPS, VETO_STEPS = 64, 3, 512


def own_running_threads() -> int | None:
    """This process's threads in state R (running or runnable), or None without /proc."""
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return None
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        # "pid (comm) S ...": the state follows the last ')' (comm may itself hold parentheses)
        if stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] == b"R":
            running += 1
    return running


def machine_running_tasks() -> int | None:
    """Runnable tasks on the whole machine now (/proc/loadavg's 'R/T' field), or None."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def other_running_tasks() -> float | None:
    """Tasks of other processes that want a core now, or None where /proc cannot tell."""
    machine = machine_running_tasks()
    own = own_running_threads()
    if machine is None or own is None:
        return None
    return float(max(0, machine - max(own, 1)))


class AutoThreads:
    """Chooses the thread count from the cores other processes leave free (see the module text)."""

    def __init__(self, limit: int, cores: int | None = None) -> None:
        self.limit = limit
        self.cores = cores or os.cpu_count() or 1
        self.others: float | None = None  # moving average of other_running_tasks()
        self.next_sample = 0.0
        self.chosen = limit
        self.steps = 0
        self.since_check = 0  # steps on several threads since the last timing check
        self.recent: list[float] = []  # the last step times on several threads
        self.probe: list[float] | None = None  # one-thread step times while a check runs
        self.veto_until = 0  # a check found one thread faster: one thread until this step

    def threads(self) -> int:
        """The thread count to use now (re-sampled at most every SAMPLE_SECONDS)."""
        now = time.monotonic()
        if now >= self.next_sample:
            self.next_sample = now + SAMPLE_SECONDS
            sample = other_running_tasks()
            if sample is None:
                self.chosen = self.limit
            else:
                self.others = sample if self.others is None else (
                    SMOOTHING * sample + (1 - SMOOTHING) * self.others)
                self.chosen = max(1, min(self.limit, int(self.cores - self.others + 0.25)))
        if self.steps < self.veto_until or self.probe is not None:
            return 1
        return self.chosen

    def record_step(self, seconds: float, threads_used: int) -> None:
        """A training step took `seconds` on `threads_used` threads: feed the timing check."""
        self.steps += 1
        if self.probe is not None:
            self.probe.append(seconds)
            if len(self.probe) == CHECK_STEPS:
                if statistics.median(self.probe) < 0.95 * statistics.median(self.recent):
                    self.veto_until = self.steps + VETO_STEPS
                self.probe, self.recent, self.since_check = None, [], 0
        elif threads_used > 1:
            self.recent = (self.recent + [seconds])[-8:]
            self.since_check += 1
            if self.since_check >= CHECK_EVERY and len(self.recent) >= CHECK_STEPS:
                self.probe = []

    def describe(self) -> str:
        now = self.threads()
        others = "unknown (no /proc)" if self.others is None else f"{self.others:.1f}"
        return (f"auto: {now} of at most {self.limit} threads now "
                f"({self.cores} cores, other runnable tasks ~{others})")
