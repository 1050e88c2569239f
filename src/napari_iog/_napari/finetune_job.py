"""The fine-tuning job behind the IOG Fine-tuning widget: layer arrays in, training events out.

Runs in a thread worker (:func:`train_job` is a generator); no Qt here, so it is testable and
the widget module stays about the widget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from napari.layers import Layer

    from napari_iog.inference import IOGPredictor
    from napari_iog.training import FinetuneConfig
    from napari_iog.training.events import TrainEvent


def default_output() -> Path:
    """A new checkpoint path in the weights cache (the annotator lists it as 'fine-tuned')."""
    from napari_iog.models.weights import cache_dir

    return cache_dir() / "checkpoints" / f"finetuned-{time.strftime('%Y%m%d-%H%M%S')}.pt"


def layer_array(layer: Layer) -> np.ndarray:
    """The layer's data as a numpy array (level 0 of a multiscale layer)."""
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    return np.asarray(data)


@dataclass(frozen=True)
class Loaded:
    """The end of a widget run that wrote a checkpoint: its ``predictor`` (the kept network,
    already in memory), the checkpoint ``path`` and ``how`` the run ended (user's words)."""

    predictor: object
    path: Path
    how: str


def train_job(image: np.ndarray, labels: np.ndarray, profile: str, cfg: FinetuneConfig,
              out: Path, cancel: threading.Event, weights: str | None,
              names: dict[str, str]) -> Iterator[TrainEvent | Loaded]:  # fmt: skip
    """Generator run in the worker: the events of :func:`napari_iog.training.job.finetune_job`
    on the layers' planes (unannotated slices skipped), then :class:`Loaded` when a checkpoint
    was written. ``image``: ``[(Z,) H, W(, 3)]``; ``labels``: integer ids ``[(Z,) H, W]``."""
    from napari_iog.data.datasets import split_stack
    from napari_iog.devices import resolve_device
    from napari_iog.inference import IOGPredictor
    from napari_iog.models.registry import domain_of_weights
    from napari_iog.training.distributed import Dist
    from napari_iog.training.job import FinetuneSpec, Planes, finetune_job
    from napari_iog.training.start_guard import KEPT_START

    ims, labs = split_stack(image, labels)
    data = Planes(tuple(ims), tuple(labs), {"image_layer": names["image"],
                  "labels_layer": names["labels"]}, label_mode="auto")  # fmt: skip
    spec = FinetuneSpec(data, out, cfg, weights or None, profile)
    last = None
    for last in finetune_job(spec, cancel.is_set, Dist()):  # never under torchrun here
        yield last
    if last.checkpoint is None:
        return
    how = last.kind
    if last.kept == KEPT_START:
        how += " (kept the start weights: training did not beat them on the held-out objects)"
    if last.model is not None:
        pred = IOGPredictor(last.model, last.preprocess, device=resolve_device("auto"))
        pred.domain = domain_of_weights(weights) if weights else None
    else:
        pred = IOGPredictor.from_weights(last.checkpoint, device="auto")
    yield Loaded(pred, last.checkpoint, how)


def fit_threshold_job(
    image: np.ndarray, labels: np.ndarray, predictor: IOGPredictor, min_area: int
) -> dict:
    """Worker function of *Fit threshold only*: the calibration record of ``predictor`` (an
    ``IOGPredictor``, not changed here) on the objects of ``labels`` (no training).
    ``image``: a plane ``[H, W(, 3)]``; ``labels``: integer ids ``[H, W]``."""
    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.models.checkpoint import LoadedModel
    from napari_iog.training import FinetuneConfig, TrainingError
    from napari_iog.training.calibration import MIN_OBJECTS, fit_threshold
    from napari_iog.words import count

    ds = ObjectDataset.from_arrays(image, labels, predictor.preprocess, min_area=min_area)
    if len(ds) < MIN_OBJECTS:
        raise TrainingError(
            f"{count(len(ds), 'object')} of at least {min_area} px in these labels; the threshold is "
            f"fitted with at least {MIN_OBJECTS}. Commit more objects or lower 'min area'."
        )
    loaded = LoadedModel(predictor.model, predictor.preprocess)
    return fit_threshold(loaded, ds, FinetuneConfig(val_max_objects=200), predictor.device)
