"""What ``napari-iog finetune`` prints: the progress bar (time budget or steps), the epoch
lines, and the note when a busy machine slowed a CPU run."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..training.events import Epoch, Step, TrainSummary

BUSY_SHARE = 0.6  # below this share of its threads' time, a run was slowed by other work


def busy_note(
    summary: TrainSummary, clock: str, device: str = "cpu", min_seconds: float = 20.0
) -> str | None:
    """A warning when a CPU run of at least ``min_seconds`` got less than ``BUSY_SHARE`` of its
    threads' time (``summary.cpu_seconds`` is already per thread) - a busy machine, so a
    wall-clock ``--minutes`` bought fewer steps; None otherwise (GPU runs: the CPU waits)."""
    import torch

    from ..devices import resolve_device

    if summary.seconds < min_seconds or resolve_device(device).type != "cpu":
        return None
    share = summary.cpu_seconds / summary.seconds
    if share >= BUSY_SHARE:
        return None
    threads = torch.get_num_threads()
    advice = (
        "; use --clock cpu for a fixed amount of training"
        if clock == "wall"
        else " (--clock cpu: the training amount is the same; only the wall time grew)"
    )
    return (
        f"note: the machine was busy: this run got {share:.0%} of its "
        f"{'thread' if threads == 1 else f'{threads} threads'}' time "
        f"({summary.cpu_seconds * threads:.0f} CPU s in "
        f"{summary.seconds:.0f} s){advice}."
    )


def epoch_line(ev: Epoch) -> str:
    """The log line of an "epoch" event, every metric labelled: training loss, crop IoU after
    the 3 IOG clicks, after 1 simulated corrective click, and the best score (the mean of the
    two, what epochs are ranked by); no validation metrics when there are no validation objects."""
    head = f"epoch {ev.epoch}: train loss {ev.loss:.4f}"
    if math.isnan(ev.val_iou):
        return f"{head}  (no validation objects: the last epoch is kept)"
    if math.isnan(ev.val_iou_refined):
        return f"{head}  val IoU@3 {ev.val_iou:.4f}  best val IoU@3 {ev.best_val:.4f}"
    return (
        f"{head}  val IoU@3 {ev.val_iou:.4f}  val IoU after 1 click {ev.val_iou_refined:.4f}  "
        f"best score {ev.best_val:.4f} (= mean of the two)"
    )


class ProgressBar:
    """tqdm bar of what the run will really do: with ``minutes``, seconds of the time budget
    (the run stops there, whatever ``--epochs`` says); else the run's steps (taken from the
    events, so a resumed run starts where it left off)."""

    def __init__(self, minutes: float | None, clock: str = "wall") -> None:
        self.minutes, self.clock, self.bar, self._c0 = minutes, clock, None, None

    def _seconds(self, ev: Step) -> float:
        """Budget seconds spent: the event's wall seconds, or (``clock="cpu"``) this process's
        CPU seconds per torch thread since the first step event."""
        if self.clock != "cpu":
            return ev.seconds
        import time

        import torch

        now = time.process_time()
        if self._c0 is None:
            self._c0 = now  # counted from the first step on
        return (now - self._c0) / max(1, torch.get_num_threads())

    def step(self, ev: Step) -> None:
        """Advance to the "step" event ``ev``."""
        from tqdm import tqdm

        if self.bar is None:
            if self.minutes:
                unit = "CPU-min" if self.clock == "cpu" else "min"
                self.bar = tqdm(total=max(1, round(self.minutes * 60)), unit="s",
                                desc=f"fine-tuning ({self.minutes:g} {unit} budget)",
                                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n}/{total} s "
                                "[{elapsed}<{remaining}{postfix}]")  # fmt: skip
            else:
                self.bar = tqdm(total=ev.total_steps, initial=ev.step - 1, unit="step",
                                desc="fine-tuning")  # fmt: skip
        target = min(round(self._seconds(ev)), self.bar.total) if self.minutes else ev.step
        self.bar.update(max(0, target - self.bar.n))
        post = (
            {"loss": f"{ev.loss:.3f}", "step": ev.step}
            if self.minutes
            else {"loss": f"{ev.loss:.3f}"}
        )
        self.bar.set_postfix(post, refresh=False)

    def write(self, text: str) -> None:
        """Print ``text`` above the bar."""
        from tqdm import tqdm

        tqdm.write(text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
