"""Replay with the model in use: re-run every committed object of the target Labels layer from
its stored prompt and correction clicks (provenance; objects without one are seeded from their
mask), in a worker, as a preview ("IOG replay preview": outlines, one colour per id). The user
accepts objects one by one (the selected rows) or all at once; each Accept is ONE undo step of
the Labels layer and replaces only the accepted ids (commit mode of the annotator: keep leaves
other objects' pixels alone). Core logic: :mod:`napari_iog.replay`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
from napari.utils.notifications import show_info, show_warning
from qtpy.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QVBoxLayout,
)

from napari_iog._napari import layers as L
from napari_iog._napari.commit import CommitError, check_labels, commit_result
from napari_iog._napari.controller import normalisation, normalisation_record
from napari_iog._napari.provenance import record_commit, records
from napari_iog._napari.qt_helpers import button
from napari_iog._napari.workers import start_worker
from napari_iog.replay import Replayed, plan_replay, replay

if TYPE_CHECKING:
    from napari_iog._napari.controller import AnnotatorController


class ReplayPanel(QGroupBox):
    """The "Replay with current model" section of the annotator (``ctl``: its controller)."""

    def __init__(self, controller: AnnotatorController):
        super().__init__("Replay objects with the current model")
        self.ctl = controller
        self.results: list[Replayed] = []
        self._labels = self._worker = None
        self._planned: int | None = None  # objects found by the worker's plan (None: not yet)
        self._cancel = threading.Event()
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setMaximumHeight(110)
        row = QHBoxLayout()
        row.addWidget(button("Replay all", self.start, "re-run every object from its prompts"))
        row.addWidget(button("Accept selected", self.accept_selected))
        row.addWidget(button("Accept all", self.accept_all))
        row.addWidget(button("Discard", self.discard))
        self.info = QLabel(
            "After a fine-tune: re-run the committed objects with the new model. Each row: id, "
            "new size, IoU with the committed mask, prompt source (provenance or mask)."
        )
        self.info.setWordWrap(True)
        for w in (self.info, self.list):
            lay.addWidget(w)
        lay.addLayout(row)

    @property
    def running(self) -> bool:
        return self._worker is not None

    def start(self) -> bool:
        """Replay every object of the target Labels layer (a preview; nothing is written)."""
        ctl = self.ctl
        labels = ctl.target_labels(create=False)
        if self.running or ctl.busy or ctl.propagating:
            show_info("Wait for the running prediction, propagation or replay to finish.")
            return False
        if ctl.image is None or labels is None or ctl.session.predictor is None:
            show_warning("Pick an image, its Labels layer and a model before replaying.")
            return False
        try:
            check_labels(labels, ctl.image)
        except CommitError as err:
            show_warning(str(err))
            return False
        if not isinstance(labels.data, np.ndarray):
            show_warning(
                f"Replay works on in-memory Labels layers; '{labels.name}' is stored on disk "
                "(a zarr volume). Copy the slices to replay into a new Labels layer first."
            )
            return False
        self.discard()
        image, predictor, recs = ctl.image, ctl.session.predictor, records(labels)
        self._planned = None

        def run():  # in the worker: finding the objects reads every plane of the layer
            items = plan_replay(labels.data, recs)
            yield len(items)
            yield from replay(
                predictor,
                lambda lead: L.plane(image, lead),
                labels.data,
                items,
                cancel=self._cancel.is_set,
                **normalisation(image),
            )

        self._labels, ctl.propagating = labels, True  # no clicks meanwhile (one predictor)
        self._cancel.clear()
        self.info.setText(f"Finding the objects of '{labels.name}'...")
        self._worker = start_worker(
            run, on_yielded=self._on_item, on_error=self._on_error, on_finished=self._on_finished
        )
        return True

    def _on_item(self, rep: Replayed | int) -> None:
        if isinstance(rep, int):  # the plan: how many objects will be replayed
            self._planned = rep
            self.info.setText(f"Replaying {rep} object(s) with {self.ctl.predictor_name}...")
            return
        it = rep.item
        where = f", slice {','.join(map(str, it.leading))}" if it.leading else ""
        if rep.result is None:
            text = f"id {it.value}{where}: not replayed ({rep.error})"
        else:
            text = f"id {it.value}{where}: {rep.result.area} px, IoU {rep.iou_before:.2f} with now ({it.source})"
        self.results.append(rep)
        self.list.addItem(text)

    def _on_error(self, err) -> None:
        show_warning(f"Replay stopped: {err}")

    def _on_finished(self) -> None:
        ctl = self.ctl
        self._worker, ctl.propagating = None, False
        ctl.session.set_predictor(ctl.session.predictor)  # its cached image is another plane now
        if self._planned == 0:
            self.info.setText("")
            show_warning(f"'{self._labels.name}' holds no object to replay.")
            return
        ok = sum(r.result is not None for r in self.results)
        self.info.setText(
            f"{ok} object(s) replayed: select rows and Accept, or Accept all (one undo step)."
        )
        self._show()

    def _show(self) -> None:
        """The replayed masks, painted with their ids, in the replay preview layer."""
        v, labels = self.ctl.viewer, self._labels
        if labels is None or not any(r.result is not None for r in self.results):
            if L.REPLAY_NAME in v.layers:
                v.layers.remove(L.REPLAY_NAME)
            return
        data = np.zeros(labels.data.shape, dtype=labels.data.dtype)
        for r in self.results:
            if r.result is not None:
                plane = data[r.item.leading] if r.item.leading else data
                plane[r.result.window][r.result.mask] = r.item.value
        if L.REPLAY_NAME in v.layers:
            v.layers[L.REPLAY_NAME].data = data
        else:
            layer = v.add_labels(
                data, name=L.REPLAY_NAME, scale=labels.scale, translate=labels.translate
            )
            from napari.utils.colormaps import DirectLabelColormap

            # yellow outlines: never mistaken for the committed (filled) labels below
            layer.colormap = DirectLabelColormap(color_dict={None: "yellow", 0: "transparent"})
            layer.contour = 2
        v.layers.selection.active = self.ctl.points

    def accept_selected(self) -> int:
        rows = sorted(i.row() for i in self.list.selectedIndexes())
        return self.accept(rows)

    def accept_all(self) -> int:
        return self.accept(list(range(len(self.results))))

    def accept(self, rows: list[int]) -> int:
        """Write the replayed masks of ``rows`` (list indices) into the Labels layer as ONE undo
        step; each replaces its object's pixels. Returns the number of objects written."""
        ctl, labels = self.ctl, self._labels
        chosen = [self.results[i] for i in rows if self.results[i].result is not None]
        if self.running or labels is None or not chosen:
            show_info("Nothing to accept: replay first, then select rows.")
            return 0
        try:
            with labels.block_history():
                for rep in chosen:
                    it = rep.item
                    n = commit_result(labels, it.leading, rep.result, it.value, ctl.mode, it.value)
                    record_commit(
                        labels,
                        value=it.value,
                        kind="replay",
                        leading=it.leading,
                        prompt=it.prompt,
                        image_name=ctl.image.name,
                        predictor=ctl.predictor_name,
                        mode=ctl.mode,
                        pixels=n,
                        threshold=rep.result.threshold,
                        extra={
                            "replay_source": it.source,
                            "iou_before": round(rep.iou_before, 4),
                            "normalisation": normalisation_record(ctl.image),
                        },
                    )
        except (CommitError, ValueError) as err:
            show_warning(str(err))
            return 0
        keep = [i for i in range(len(self.results)) if i not in set(rows)]
        self.results = [self.results[i] for i in keep]
        for i in sorted(rows, reverse=True):
            self.list.takeItem(i)
        self._show()
        ctl._status(
            f"Accepted {len(chosen)} replayed object(s) in '{labels.name}' (Ctrl+Z undoes)."
        )
        return len(chosen)

    def discard(self) -> None:
        """Drop the replay preview (labels untouched); stops a running replay."""
        self._cancel.set()
        self.results = []
        self.list.clear()
        self._show()
