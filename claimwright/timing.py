"""Stage timers for measuring a run (``benchmarks/nightly_volume.py``): seconds only, no PHI.

The pipeline marks its stage boundaries with ``with timed("parse"):``. Nothing is measured
unless a :class:`StageTimes` is being recorded (``with recording() as times:``); otherwise
``timed`` costs one global read. While recording, each stage's time is *exclusive*: a stage
entered inside another (the ledger's sessions inside the parse, a download's ledger row inside
the portal pull) is counted for itself and taken out of the outer one, so the stages add up to
the time spent in them. The outermost intervals of every thread are kept too, so what lies
outside every stage (Prefect's orchestration, in a flow run) can be computed from a run's wall
time: :meth:`StageTimes.uncovered`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

#: the stages the pipeline marks, in the order a nightly run goes through them
STAGES = ("portal", "parse", "categorize", "packets", "worklists", "ledger")


@dataclass
class StageTimes:
    """Seconds per stage (exclusive) and the outermost (start, end, stage) blocks of all threads."""

    seconds: dict[str, float] = field(default_factory=dict)
    intervals: list[tuple[float, float, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, stage: str, seconds: float) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds

    def covered(self, start: float | None = None, end: float | None = None,
                stages: tuple[str, ...] | None = None) -> float:
        """Seconds of [start, end] (perf_counter) inside at least one outermost stage block of
        any thread (of one of ``stages``, when given): the wall time those stages took."""
        with self._lock:
            spans = sorted((a, b) for a, b, stage in self.intervals
                           if stages is None or stage in stages)
        total, reach = 0.0, None
        for a, b in spans:
            a = a if start is None else max(a, start)
            b = b if end is None else min(b, end)
            if b <= a:
                continue
            if reach is None or a > reach:
                total += b - a
                reach = b
            elif b > reach:
                total += b - reach
                reach = b
        return total

    def uncovered(self, start: float, end: float) -> float:
        """Seconds of the wall interval [start, end] when no thread was in any stage."""
        return max(0.0, (end - start) - self.covered(start, end))


_current: StageTimes | None = None
_stack = threading.local()  # per thread: [stage, started, time of inner stages]


@contextlib.contextmanager
def recording() -> Iterator[StageTimes]:
    """Record every ``timed`` block of every thread of this process until the block ends."""
    global _current
    previous, _current = _current, StageTimes()
    try:
        yield _current
    finally:
        _current = previous


@contextlib.contextmanager
def timed(stage: str) -> Iterator[None]:
    """Count the block's time to ``stage`` (exclusive of stages nested in it) while recording."""
    times = _current
    if times is None:
        yield
        return
    stack = getattr(_stack, "frames", None)
    if stack is None:
        stack = _stack.frames = []
    frame = [stage, time.perf_counter(), 0.0]
    stack.append(frame)
    try:
        yield
    finally:
        end = time.perf_counter()
        stack.pop()
        spent = end - frame[1]
        times.add(stage, spent - frame[2])
        if stack:
            stack[-1][2] += spent
        else:
            with times._lock:
                times.intervals.append((frame[1], end, stage))
