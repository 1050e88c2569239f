"""The Labels side of the annotator: target layer, commit (one undo step each), napari undo/redo
of commits, and editing an existing object. Mixed into
:class:`~napari_iog._napari.controller.AnnotatorController` (uses its ``viewer``, ``image``,
``session``, ``points``, ``box``, ``leading`` and settings).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from napari.layers import Labels
from napari.utils.notifications import show_info, show_warning

from napari_iog._napari import layers as L
from napari_iog._napari.commit import (
    CommitError,
    check_labels,
    commit_result,
    make_labels_layer,
    next_id,
)
from napari_iog._napari.provenance import record_commit, records
from napari_iog._napari.volume_labels import save_provenance, watch
from napari_iog.inference.session import prompt_from_mask
from napari_iog.replay import MASK_MARGIN
from napari_iog.replay import stored_prompt as from_records
from napari_iog.structures import Prompt

NEW_LABELS = "<new labels layer>"
EDIT_IOU = 0.5  # an edit that keeps less of the committed mask than this asks first


def stored_prompt(
    labels: Labels, value: int, leading: Sequence[int], mask: np.ndarray
) -> Prompt | None:
    """The stored prompt of object ``value`` on slice ``leading`` of ``labels`` (the rule is
    :func:`napari_iog.replay.stored_prompt`), or None."""
    return from_records(records(labels), value, leading, mask)


class LabelsOps:
    """Commit / undo / edit actions (a mixin of AnnotatorController)."""

    def target_labels(self, create: bool = True) -> Labels | None:
        name = self.labels_name
        if name != NEW_LABELS and name in self.viewer.layers:
            layer = self.viewer.layers[name]
            if isinstance(layer, Labels):
                watch(layer)  # zarr-backed: provenance saved after every edit (else no-op)
                return layer
        if not create or self.image is None:
            return None
        layer = make_labels_layer(self.viewer, self.image)
        self.labels_name = layer.name
        if self.on_labels_created is not None:
            self.on_labels_created(layer.name)
        return layer

    def commit(self) -> int | None:
        """Write the preview into the target Labels layer (one undo step). Returns the value
        written, or None with a notification when there is nothing to commit."""
        result = self.session.result
        if self.busy:
            show_info("Still segmenting; commit again when the preview is up to date.")
            return None
        try:
            if result is None or result.area == 0:
                raise CommitError(
                    "Nothing to commit: segment an object first (the preview is empty)."
                )
            labels = self.target_labels()
            check_labels(labels, self.image)
            value = self._commit_value(labels)
            if not self._edit_confirmed(result):
                return None
            n = commit_result(labels, self.leading, result, value, self.mode, self.edit_id)
        except (CommitError, ValueError) as err:
            show_warning(str(err))
            return None
        if (
            n == 0 and not self.edit_id
        ):  # keep mode over labelled pixels: nothing written, no provenance, no new id
            show_warning(
                f"Nothing was committed: every pixel of this mask already belongs to another "
                f"object of '{labels.name}' and the commit mode '{self.mode}' keeps them. Switch "
                "the mode to 'overwrite', or edit the existing object (its id)."
            )
            return None
        if self.mode == "keep" and not self.edit_id and n < 0.5 * result.area:
            show_warning(
                f"Only {n} of the mask's {result.area} px were free: the rest already belongs to "
                "other objects and was kept ('keep' mode). Undo (Ctrl+Z) and use 'overwrite' if "
                "this object should win."
            )
        kind = "edit" if self.edit_id else "commit"
        record_commit(
            labels,
            value=value,
            kind=kind,
            leading=self.leading,
            prompt=result.prompt,
            image_name=self.image.name,
            predictor=self.predictor_name,
            mode=self.mode,
            semantic=self.semantic,
            pixels=n,
            threshold=result.threshold,
            extra={"normalisation": self.normalisation_record(self.image)},
        )
        save_provenance(labels)  # zarr-backed layers: the JSON beside the store (else no-op)
        self.last_commit = (labels, self.leading, result, value)
        self._status(
            f"Committed {n} px as {'class' if self.semantic else 'id'} {value} in '{labels.name}'."
        )
        self.clear()
        self.viewer.layers.selection.active = self.points
        return value

    def _edit_confirmed(self, result) -> bool:
        """Editing: a mask that agrees with the object's committed mask by IoU < ``EDIT_IOU``
        is written only on a second Commit (the first one says so)."""
        old = getattr(self, "edit_mask", None)
        if not self.edit_id or old is None or getattr(self, "_edit_ok", False):
            return True
        (wr, wc) = result.window
        inter = int(np.count_nonzero(old[wr, wc] & result.mask))
        iou = inter / max(int(old.sum()) + int(result.area) - inter, 1)
        if iou >= EDIT_IOU:
            return True
        self._edit_ok = True
        show_warning(
            f"The edited mask agrees with the committed id {self.edit_id} only by IoU {iou:.2f}. "
            "Commit again to replace it, or correct with clicks (Shift+Z undoes a click)."
        )
        return False

    def _commit_value(self, labels: Labels) -> int:
        if self.edit_id:
            return int(self.edit_id)
        if self.semantic:
            return int(self.class_value)
        return int(self.label_id) if self.label_id else next_id(labels)

    def undo_commit(self) -> None:
        labels = self.target_labels(create=False)
        if labels is not None:
            labels.undo()

    def redo_commit(self) -> None:
        labels = self.target_labels(create=False)
        if labels is not None:
            labels.redo()

    def edit_label(self, label_id: int | None = None) -> bool:
        """Start editing object ``label_id`` of the target Labels layer on the current slice
        (default: the id under the last click). Its mask seeds the box and the inside click."""
        labels = self.target_labels(create=False)
        if self.image is None or labels is None:
            show_warning("Pick an image and a Labels layer that holds the object to edit.")
            return False
        placed = self._placed()
        leading = self._object_leading(placed)
        try:
            check_labels(labels, self.image)
        except CommitError as err:
            show_warning(str(err))
            return False
        plane = np.asarray(labels.data[leading] if leading else labels.data)
        if not label_id and placed:
            p = placed[-1]
            r, c = int(round(p.row)), int(round(p.col))
            label_id = (
                int(plane[r, c]) if 0 <= r < plane.shape[0] and 0 <= c < plane.shape[1] else 0
            )
        mask = plane == int(label_id or 0)
        if not label_id or not mask.any():
            show_warning(
                f"Label {label_id} is not on this slice of '{labels.name}': pick an id that is."
            )
            return False
        self.clear()
        self.leading = leading
        self.edit_id = int(label_id)
        prompt = stored_prompt(labels, int(label_id), leading, mask)
        how = "its stored prompt and clicks" if prompt is not None else "its mask"
        prompt = prompt or prompt_from_mask(mask, margin=MASK_MARGIN)
        self.edit_mask, self._edit_ok = mask, False
        L.write_prompt(self.points, self.box, self.image, leading, prompt)
        self._update_next_role()
        self._status(
            f"Editing id {label_id} from {how}: correct with clicks, commit replaces that id only."
        )
        self.update()
        return True
