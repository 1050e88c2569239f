"""``Budget``: the clocks of a time-limited fine-tuning run (wall, CPU per thread, fraction used)."""

from __future__ import annotations

import time


class Budget:
    """Started at construction. ``minutes``: the budget (``None`` = none), counted on ``clock``
    ``"wall"`` or ``"cpu"`` (this process's CPU time / ``threads``: what the run would take on an
    idle machine); ``wall_cap_minutes``: a hard wall-clock cap on top (``None`` = none)."""

    def __init__(
        self,
        minutes: float | None = None,
        clock: str = "wall",
        wall_cap_minutes: float | None = None,
        threads: int = 1,
    ) -> None:
        self._t0, self._c0 = time.perf_counter(), time.process_time()
        self._threads = max(1, int(threads))
        self._budget = None if minutes is None else float(minutes) * 60.0
        self._cap = None if wall_cap_minutes is None else float(wall_cap_minutes) * 60.0
        self._clock = clock

    def elapsed(self) -> float:
        """Wall-clock seconds since the start."""
        return time.perf_counter() - self._t0

    def cpu_elapsed(self) -> float:
        """Process CPU seconds since the start, divided by the threads."""
        return (time.process_time() - self._c0) / self._threads

    def used(self) -> float:
        """Fraction of the budget used (0 without a budget; >= 1 means stop)."""
        fr = 0.0
        if self._budget is not None:
            spent = self.cpu_elapsed() if self._clock == "cpu" else self.elapsed()
            fr = spent / self._budget
        if self._cap is not None:
            fr = max(fr, self.elapsed() / self._cap)
        return fr
