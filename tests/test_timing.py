"""claimwright.timing: exclusive stage seconds, the wall time outside every stage, off by
default."""

from __future__ import annotations

import threading

from claimwright import timing
from claimwright.timing import recording, timed


def test_nested_stages_are_exclusive_and_threads_add_up(monkeypatch):
    clock = iter([0.0, 1.0, 3.0, 10.0, 12.0]).__next__
    monkeypatch.setattr(timing.time, "perf_counter", clock)
    with recording() as times:
        with timed("parse"):  # 0 .. 10, of which 1 .. 3 in the ledger
            with timed("ledger"):
                pass
        assert times.seconds == {"ledger": 2.0, "parse": 8.0}
        with timed("ledger"):  # 12 .. 20 in another thread
            clock = iter([20.0]).__next__
            monkeypatch.setattr(timing.time, "perf_counter", clock)
    assert times.seconds == {"ledger": 10.0, "parse": 8.0}
    assert times.intervals == [(0.0, 10.0, "parse"), (12.0, 20.0, "ledger")]
    assert times.covered() == 18.0 and times.covered(stages=("parse",)) == 10.0
    assert times.uncovered(-5.0, 25.0) == 12.0  # 5 before, 2 between, 5 after
    assert times.covered(5.0, 15.0) == 8.0


def test_overlapping_threads_count_once_in_the_wall_time():
    times = timing.StageTimes(intervals=[(0.0, 4.0, "portal"), (1.0, 2.0, "portal"),
                                         (3.0, 6.0, "parse"), (8.0, 9.0, "ledger")])
    assert times.covered() == 7.0 and times.uncovered(0.0, 10.0) == 3.0


def test_nothing_is_recorded_unless_asked_and_every_thread_is_while_asked():
    with timed("parse"):
        pass
    with recording() as times:
        worker = threading.Thread(target=_block, args=("portal",))
        worker.start()
        worker.join()
    with timed("parse"):
        pass
    assert set(times.seconds) == {"portal"} and [s for *_, s in times.intervals] == ["portal"]


def _block(stage: str) -> None:
    with timed(stage):
        pass
