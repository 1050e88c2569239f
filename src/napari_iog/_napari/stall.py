"""Measure GUI responsiveness: a QTimer ticks every ``interval_ms`` on the main thread and the
longest gap between ticks is the longest event-loop stall (used by tests and
``benchmarks/ui_stall.py``)."""

from __future__ import annotations

import time

from qtpy.QtCore import QTimer


class StallMeter:
    """``with StallMeter() as m: ...`` then ``m.max_gap_ms`` (minus nothing: the raw gap, so a
    perfectly idle loop reports about ``interval_ms``)."""

    def __init__(self, interval_ms: int = 5):
        self.interval_ms = interval_ms
        self.max_gap_ms = 0.0
        self.ticks = 0
        self._last = None
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.max_gap_ms = max(self.max_gap_ms, (now - self._last) * 1000.0)
        self._last = now
        self.ticks += 1

    def start(self) -> StallMeter:
        self._last = time.perf_counter()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.stop()

    def __enter__(self) -> StallMeter:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
