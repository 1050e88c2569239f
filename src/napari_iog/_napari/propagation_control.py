"""Slice propagation from the annotator: the core generator (``napari_iog.propagation``) in a
napari generator worker, with a progress bar, cancel, live preview of each slice, and ONE undoable
commit of all accepted slices at the end (also after cancel: what was accepted is kept).

Only the propagated slices are written, in the annotator's commit mode (default keep: other
objects and manual edits stay); slices outside the range are never touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from napari.utils import progress
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QTimer

from napari_iog._napari import layers as L
from napari_iog._napari import preview as P
from napari_iog._napari.commit import CommitError, commit_many
from napari_iog._napari.controller import normalisation, normalisation_record
from napari_iog._napari.provenance import record_commit
from napari_iog._napari.workers import start_worker
from napari_iog.propagation import PropagationConfig, PropagationError, propagate

if TYPE_CHECKING:
    from napari_iog._napari.controller import AnnotatorController

PREVIEW_EVERY_S = 0.4  # live preview of the newest slice at most this often


class PropagationControl:
    """Runs propagation for an :class:`AnnotatorController`.

    ``config`` is a :class:`PropagationConfig` (z-limits, IoU threshold, margin) set by the
    widget; ``on_progress(done, total, text)`` and ``on_done(text)`` update the widget.
    """

    def __init__(
        self,
        controller: AnnotatorController,
        on_progress: Callable[[int, int, str], object] | None = None,
        on_done: Callable[[str], object] | None = None,
    ):
        self.ctl = controller
        self.config = PropagationConfig()
        self._on_progress = on_progress or (lambda d, t, m: None)
        self._on_done = on_done or (lambda m: None)
        self._worker = None
        self._cancel = threading.Event()
        self._accepted: list = []
        self._steps: list = []
        self._finished = self._ui_pending = False
        self._pbar = None
        self._source = None
        self.last_summary = ""

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self) -> bool:
        """Propagate the current preview (committed first) or the last committed object."""
        ctl = self.ctl
        if self.running or ctl.busy:
            show_info("Wait for the running prediction/propagation to finish.")
            return False
        if ctl.session.result is not None and ctl.session.result.area:
            if ctl.commit() is None:
                return False
        if ctl.last_commit is None or ctl.image is None:
            show_warning("Nothing to propagate: segment and commit an object first.")
            return False
        labels, leading, result, value = ctl.last_commit
        if not leading:
            show_warning("The image is 2D: there are no neighbouring slices to propagate to.")
            return False
        image = ctl.image
        n = L.spatial_shape(image)[len(leading) - 1]
        outer = tuple(leading[:-1])
        predictor = ctl.session.predictor

        def get_plane(i):
            return L.plane(image, (*outer, i))

        kw = normalisation(image)
        self._cancel.clear()
        try:  # settings are checked at call time; slices run lazily in the worker
            steps = propagate(
                predictor,
                get_plane,
                n,
                leading[-1],
                result,
                self.config,
                **kw,
                cancel=self._cancel.is_set,
            )
        except PropagationError as err:
            show_warning(str(err))
            return False

        def run():
            yield from steps

        self._accepted, self._shown = [], 0.0
        self._source = (labels, outer, value, result.prompt)
        self._pbar = progress(total=n, desc="IOG propagation")
        ctl.propagating = True
        self._worker = start_worker(
            run, on_yielded=self._on_step, on_error=self._on_error, on_finished=self._on_finished
        )
        return True

    def cancel(self) -> None:
        """Stop after the slice being computed; accepted slices are still committed."""
        self._cancel.set()
        if self._worker is not None:
            self._worker.quit()

    # Worker callbacks only record; the UI work runs from the event loop afterwards (a napari
    # progress update may process events, which would nest the next callbacks inside this one).
    def _on_step(self, step) -> None:
        if step.accepted:
            self._accepted.append(((*self._source[1], step.index), step.result, step.iou))
        self._steps.append(step)
        if not self._ui_pending:
            self._ui_pending = True
            QTimer.singleShot(0, self._refresh_ui)

    def _refresh_ui(self) -> None:
        self._ui_pending = False
        steps, self._steps = self._steps, []
        if not steps or self._finished:
            return
        step = max(steps, key=lambda s: s.done)
        now = time.monotonic()
        if step.accepted and now - self._shown >= PREVIEW_EVERY_S:
            self._shown = now  # a preview costs ~50 ms of GUI time: a few per second at most
            P.show_preview(
                self.ctl.viewer, self.ctl.image, (*self._source[1], step.index), step.result
            )
        text = f"slice {step.index}: " + ("ok" if step.accepted else f"stop ({step.reason})")
        if self._pbar is not None:
            self._pbar.total = max(step.total, 1)
            self._pbar.n = step.done
            self._pbar.refresh()
        self._on_progress(step.done, step.total, text)

    def _on_error(self, err) -> None:
        show_warning(f"Propagation stopped: {err}")

    def _on_finished(self) -> None:
        self._finished = True
        QTimer.singleShot(0, self._finalize)

    def _finalize(self) -> None:
        ctl = self.ctl
        labels, _outer, value, _prompt = self._source
        self._worker = None
        ctl.propagating = False
        ctl.session.set_predictor(ctl.session.predictor)  # its cached image is another slice now
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        P.show_preview(ctl.viewer, ctl.image, (), None)
        items = [(lead, res) for lead, res, _ in self._accepted]
        try:
            n = commit_many(labels, items, value, ctl.mode)
        except (CommitError, ValueError) as err:
            show_warning(str(err))
            n = 0
        for lead, res, iou in self._accepted:
            record_commit(
                labels,
                value=value,
                kind="propagated",
                leading=lead,
                prompt=res.prompt,
                image_name=ctl.image.name,
                predictor=ctl.predictor_name,
                mode=ctl.mode,
                semantic=ctl.semantic,
                pixels=int(res.area),
                threshold=res.threshold,
                extra={
                    "iou_previous": round(iou, 4),
                    "normalisation": normalisation_record(ctl.image),
                },
            )
        slices = sorted(lead[-1] for lead, _, _ in self._accepted)
        cancelled = " (cancelled)" if self._cancel.is_set() else ""
        span = f"slices {slices[0]}..{slices[-1]}" if slices else "no slice"
        self.last_summary = (
            f"Propagated id {value} to {len(slices)} slice(s), {span}, {n} px{cancelled}."
        )
        self._on_done(self.last_summary)
