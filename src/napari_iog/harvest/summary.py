"""The end-of-run report: what was done, what was skipped and why, what failed and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from napari_iog.harvest.plan import Issue


@dataclass
class HarvestSummary:
    """Counts of a run. ``boxes_total`` = boxes in the input file (bad ones included), so
    ``boxes_done + boxes_skipped + boxes_failed + boxes_not_run == boxes_total`` always holds.

    - ``images_resumed`` / ``boxes_resumed``: finished by an earlier run and reused (part of
      ``*_done``).
    - ``boxes_not_run``: boxes of images that were never attempted (the run was cancelled).
    - ``issues``: every skipped or failed box/image with its reason (see :class:`Issue`).
    """

    images_total: int = 0
    images_done: int = 0
    images_resumed: int = 0
    images_failed: int = 0
    boxes_total: int = 0
    boxes_done: int = 0
    boxes_resumed: int = 0
    boxes_not_run: int = 0
    empty_masks: int = 0
    cancelled: bool = False
    output: str | None = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def boxes_skipped(self) -> int:
        return sum(i.n_boxes for i in self.issues if i.kind == "skipped")

    @property
    def boxes_failed(self) -> int:
        return sum(i.n_boxes for i in self.issues if i.kind == "failed")

    @property
    def ok(self) -> bool:
        """True when nothing failed and nothing was left unrun (skipped bad input is allowed)."""
        return self.boxes_failed == 0 and self.images_failed == 0 and not self.cancelled

    def reasons(self, kind: str) -> dict[str, int]:
        """``{reason: number of boxes}`` for ``kind`` = ``"skipped"`` or ``"failed"``."""
        counts: Counter = Counter()
        for issue in self.issues:
            if issue.kind == kind:
                counts[issue.reason] += issue.n_boxes
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict:
        return {
            "images_total": self.images_total,
            "images_done": self.images_done,
            "images_resumed": self.images_resumed,
            "images_failed": self.images_failed,
            "boxes_total": self.boxes_total,
            "boxes_done": self.boxes_done,
            "boxes_resumed": self.boxes_resumed,
            "boxes_skipped": self.boxes_skipped,
            "boxes_failed": self.boxes_failed,
            "boxes_not_run": self.boxes_not_run,
            "empty_masks": self.empty_masks,
            "skipped": self.reasons("skipped"),
            "failed": self.reasons("failed"),
            "cancelled": self.cancelled,
            "output": self.output,
            "issues": [i.to_dict() for i in self.issues],
        }

    def format(self, max_lines: int = 20) -> str:
        """A short human-readable report (one line per reason, then the first issues)."""
        lines = [
            f"images: {self.images_done}/{self.images_total} done "
            f"({self.images_resumed} from an earlier run), {self.images_failed} failed",
            f"boxes:  {self.boxes_done}/{self.boxes_total} masks "
            f"({self.boxes_resumed} from an earlier run, {self.empty_masks} empty), "
            f"{self.boxes_skipped} skipped, {self.boxes_failed} failed"
            + (f", {self.boxes_not_run} not run (cancelled)" if self.boxes_not_run else ""),
        ]
        for kind in ("skipped", "failed"):
            for reason, n in self.reasons(kind).items():
                lines.append(f"  {kind}: {n} x {reason}")
        shown = [i for i in self.issues if i.kind == "failed"] + [
            i for i in self.issues if i.kind == "skipped"
        ]
        for issue in shown[:max_lines]:
            lines.append(f"  - [{issue.kind}] {issue.detail}")
        if len(shown) > max_lines:
            lines.append(f"  ... and {len(shown) - max_lines} more (see the summary JSON)")
        if self.output:
            lines.append(f"output: {self.output}")
        return "\n".join(lines)
