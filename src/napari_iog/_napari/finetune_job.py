"""The fine-tuning job behind the IOG Fine-tuning widget: layer arrays in, training events out.

Runs in a thread worker (:func:`train_job` is a generator); no Qt here, so it is testable and
the widget module stays about the widget.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np


def default_output() -> Path:
    """A new checkpoint path in the weights cache (the annotator lists it as 'fine-tuned')."""
    from napari_iog.models.weights import cache_dir

    return cache_dir() / "checkpoints" / f"finetuned-{time.strftime('%Y%m%d-%H%M%S')}.pt"


def layer_array(layer) -> np.ndarray:
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    return np.asarray(data)


def train_job(
    image,
    labels,
    profile: str,
    cfg,
    out: Path,
    cancel: threading.Event,
    weights: str | None,
    names: dict,
):
    """Generator run in the worker: yields ``("info", text)``, ``TrainEvent``s, and finally
    ``("loaded", (predictor, checkpoint path))`` or ``("nothing", text)``."""
    from napari_iog.data.datasets import ObjectDataset
    from napari_iog.inference import IOGPredictor
    from napari_iog.models.checkpoint import read_header
    from napari_iog.models.starters import domain_of_weights
    from napari_iog.training import TrainingError, finetune
    from napari_iog.training.presets import start_model
    from napari_iog.training.start_guard import KEPT_START

    model, pre, _ = start_model(weights, profile, cfg.seed)
    domain = domain_of_weights(weights) if weights else None
    ds = ObjectDataset.from_arrays(image, labels, pre, min_area=cfg.min_area)
    yield ("info", ds.describe())
    if len(ds) == 0:
        raise TrainingError(
            f"0 objects to train on (all smaller than {cfg.min_area} px). Commit more objects or "
            "lower 'min area'."
        )
    train, val = ds.split(cfg.val_fraction, seed=cfg.seed) if len(ds) >= 4 else (ds, None)
    meta = {
        "domain": domain,
        "data": {"image_layer": names["image"], "labels_layer": names["labels"]},
        "init": weights or f"random init ({profile})",
        "n_objects": len(ds),
    }
    last = None
    for ev in finetune(model, pre, train, val, cfg, out=out, meta=meta, cancel=cancel.is_set):
        last = ev
        yield ev
    if out.exists():
        how = last.kind
        if read_header(out)["meta"].get("kept") == KEPT_START:
            how += " (kept the start weights: training did not beat them on the held-out objects)"
        yield ("loaded", (IOGPredictor.from_weights(out, device="auto"), out, how))
    else:
        yield ("nothing", f"{last.kind}: no checkpoint was written (stopped before epoch 1 ended).")


def fit_threshold_job(image, labels, predictor, min_area: int) -> dict:
    """Worker function of *Fit threshold only*: the calibration record of ``predictor`` (an
    ``IOGPredictor``, not changed here) on the objects of ``labels`` (no training)."""
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
