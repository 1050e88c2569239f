"""The one fine-tuning job: :func:`finetune_job` turns a :class:`FinetuneSpec` into a checkpoint.

A spec holds everything a run needs, as one frozen value: what to train on (``data``:
:class:`FilePairs` from files, or :class:`Planes` from arrays), what to start from (``weights``,
else a random init of ``profile``), how (``config``: the ``FinetuneConfig``, augmentation
nested) and where the checkpoint goes (``out``); under torchrun every process builds the same one.

Steps: resolve the start (weights or a random init of the profile), build the object dataset
from the spec's data, split it, then run the engine (:func:`napari_iog.training.loop.finetune`:
train, keep, calibrate the kept model in memory, write the checkpoint), yielding typed events
(``training.events``) from :class:`~napari_iog.training.events.Prepared` to
:class:`~napari_iog.training.events.Finished`. The CLI (``napari-iog finetune``, also under
``torchrun``), the napari widget and the benchmark scripts are thin adapters around it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import AUTO_WEIGHTS
from .config import FinetuneConfig, TrainingError
from .events import Prepared, TrainEvent, TrainSummary, drive
from .loop import finetune

if TYPE_CHECKING:
    import numpy as np

    from ..config import ModelConfig, PreprocessConfig
    from ..data.datasets import ObjectDataset
    from ..models.iog import IOGNet
    from .distributed import Dist


@dataclass(frozen=True)
class FilePairs:
    """Image and label files, folders or glob patterns (sorted names pair up; stacks split into
    planes); ``label_mode`` / ``label_value`` as in :func:`napari_iog.data.files.load_pairs`."""

    images: tuple[str, ...]
    labels: tuple[str, ...]
    label_mode: str = "auto"
    label_value: tuple[int, ...] | None = None

    def planes(self) -> tuple[list, list]:
        """``(image planes, instance label planes)``, read from disk."""
        from ..data.files import load_pairs

        return load_pairs(list(self.images), list(self.labels), mode=self.label_mode,
                          value=self.label_value)  # fmt: skip

    @property
    def label_reading(self) -> str:
        return "instances"  # load_pairs already turned masks and class maps into instances

    def provenance(self) -> dict:
        return {"images": [str(p) for p in self.images], "labels": [str(p) for p in self.labels]}


@dataclass(frozen=True)
class Planes:
    """Paired 2D planes in memory: images ``[H, W]`` or ``[H, W, C]``, labels ``[H, W]`` (int
    instance ids, or masks with ``label_mode``); ``source``: their provenance (JSON-able)."""

    images: tuple
    labels: tuple
    source: Mapping = field(default_factory=dict)
    label_mode: str = "instances"

    def planes(self) -> tuple[list, list]:
        return list(self.images), list(self.labels)

    @property
    def label_reading(self) -> str:
        return self.label_mode

    def provenance(self) -> dict:
        return dict(self.source)


Split = Callable[[object, float, int], tuple]  # (dataset, val_fraction, seed) -> (train, val)


@dataclass(frozen=True)
class FinetuneSpec:
    """A fine-tuning run.

    - ``weights``: the start: ``"auto"`` (the shipped starter matching the first image), a
      weights name or checkpoint path, or None / ``"none"`` (random init of ``profile``, seeded
      by ``config.seed``, with ``overrides`` ``("crop_size=224", ...)`` of its configs).
    - ``out``: the checkpoint (None: no files); ``resume``: a ``<out>.state.pt`` to continue.
    - ``meta``: extra provenance stored in the checkpoint (it wins over the computed keys).
    - ``split(dataset, val_fraction, seed) -> (train, val)``: a custom validation split (the
      default holds out ``config.val_fraction`` of the objects, none with fewer than 4).
    """

    data: FilePairs | Planes
    out: Path | None
    config: FinetuneConfig = field(default_factory=FinetuneConfig)
    weights: str | None = AUTO_WEIGHTS
    profile: str = "cpu-light"
    overrides: tuple[str, ...] = ()
    resume: Path | None = None
    meta: Mapping = field(default_factory=dict)
    split: Split | None = None


INIT_KEYS = ("data", "train_slices", "train_region", "profile", "steps", "train_seconds", "domain")


@dataclass(frozen=True)
class Start:
    """The network a run starts from (on the CPU), its preprocessing (threshold reset to 0.5:
    training changes the network), the provenance ``text``, the start checkpoint's key facts
    (``init_meta``) and its domain (``"em"`` / ``"aerial"`` / None)."""

    model: object
    preprocess: object
    text: str
    init_meta: dict
    domain: str | None


def resolve_weights(spec: FinetuneSpec, first_image: np.ndarray | None = None) -> str | None:
    """The spec's start weights with ``"auto"`` resolved on ``first_image`` (None: random init)."""
    from .presets import resolve_start

    return resolve_start(spec.weights, first_image)


def build_start(
    weights: str | None, profile: str, overrides: Iterable[str] = (), seed: int = 0
) -> Start:
    """The :class:`Start` from checkpoint/weights name ``weights``, else a random init of
    ``profile`` (``overrides``: ``"field=value"`` of its ModelConfig / PreprocessConfig)."""
    from .presets import unfitted

    if weights:
        from ..models.checkpoint import load_model
        from ..models.starters import weights_domain

        loaded = load_model(weights, device="cpu")
        info = {k: loaded.meta[k] for k in INIT_KEYS if k in loaded.meta}
        return Start(loaded.model, unfitted(loaded.preprocess), str(weights), info,
                     weights_domain(loaded.meta) or _known_domain(weights))  # fmt: skip
    from ..models import build_model
    from ..models.registry import resolve_profile

    mc, pre = override_configs(*resolve_profile(profile), overrides)
    return Start(build_model(mc, seed=seed), pre, f"random init ({profile}, seed {seed})", {}, None)


def _known_domain(weights) -> str | None:
    from ..models.registry import domain_of_weights

    return domain_of_weights(weights)


def override_configs(
    model_cfg: ModelConfig, preprocess: PreprocessConfig, overrides: Iterable[str] = ()
) -> tuple[ModelConfig, PreprocessConfig]:
    """``(ModelConfig, PreprocessConfig)`` with ``["field=value", ...]`` applied; each field
    belongs to either config, values are parsed as the field's type. TrainingError otherwise."""
    from dataclasses import fields, replace

    cfgs = [model_cfg, preprocess]
    for item in overrides:
        key, _, text = item.partition("=")
        i = next((i for i, c in enumerate(cfgs) if key in {f.name for f in fields(c)}), None)
        old = None if i is None else getattr(cfgs[i], key)
        if i is None or not text or not isinstance(old, (bool, int, float, str)):
            raise TrainingError(
                f"Override {item!r}: expected FIELD=VALUE with a number, text or true/false "
                "field of ModelConfig or PreprocessConfig (e.g. crop_size=224, width=64)."
            )
        value = (
            text.lower() in ("1", "true", "yes", "on") if isinstance(old, bool) else type(old)(text)
        )
        cfgs[i] = replace(cfgs[i], **{key: value})
    return cfgs[0], cfgs[1]


def build_datasets(
    spec: FinetuneSpec,
    preprocess: PreprocessConfig,
    images: list[np.ndarray],
    labels: list[np.ndarray],
) -> tuple[ObjectDataset, ObjectDataset, ObjectDataset | None]:
    """``(dataset, train, val)``: the objects of the planes ``images`` / ``labels`` (the spec's
    data) cut for ``preprocess``, split by ``spec.split`` or a ``val_fraction`` of them (no
    validation with fewer than 4 objects)."""
    from ..data.datasets import ObjectDataset

    cfg = spec.config
    ds = ObjectDataset(images, labels, preprocess, min_area=cfg.min_area,
                       label_mode=spec.data.label_reading)  # fmt: skip
    if len(ds) == 0:
        raise TrainingError(
            f"0 objects to train on (all labels empty, or objects smaller than the minimum area "
            f"{cfg.min_area} px). Check the labels, annotate more objects or lower the minimum "
            "area (--min-area)."
        )
    if spec.split is not None:
        train, val = spec.split(ds, cfg.val_fraction, cfg.seed)
    else:
        train, val = ds.split(cfg.val_fraction, seed=cfg.seed) if len(ds) >= 4 else (ds, None)
    return ds, train, val


def finetune_job(spec: FinetuneSpec, cancel: Callable[[], bool] | None = None,
                 dist: Dist | None = None) -> Generator[TrainEvent, None, TrainSummary]:  # fmt: skip
    """Generator of the run's events (see module doc); returns (``StopIteration.value``) the
    :class:`TrainSummary`. ``cancel()`` is polled before every step. ``dist``: this process's
    place under torchrun (default: read from the environment; ``training.distributed``)."""
    from .distributed import from_env

    dist = from_env() if dist is None else dist
    images, labels = spec.data.planes()
    weights = resolve_weights(spec, images[0] if images else None)
    start = build_start(weights, spec.profile, spec.overrides, spec.config.seed)
    ds, train, val = build_datasets(spec, start.preprocess, images, labels)
    yield Prepared(ds.describe(), start.text, len(train), 0 if val is None else len(val))
    meta = {"data": spec.data.provenance(), "init": start.text, "domain": start.domain,
            "profile": spec.profile, "n_objects": len(ds), "n_skipped_small": ds.n_skipped_small,
            **({"init_meta": start.init_meta} if start.init_meta else {}), **spec.meta}  # fmt: skip
    try:
        return (
            yield from finetune(
                start.model,
                start.preprocess,
                train,
                val,
                spec.config,
                spec.out,
                meta,
                cancel,
                spec.resume,
                dist,
            )  # fmt: skip
        )
    finally:
        dist.shutdown()


def run_job(spec: FinetuneSpec, callback: Callable[[TrainEvent], None] | None = None,
            cancel: Callable[[], bool] | None = None) -> TrainSummary:  # fmt: skip
    """Run :func:`finetune_job` to the end, calling ``callback(event)`` for every event."""
    return drive(finetune_job(spec, cancel), callback)


def run_finetune(model: IOGNet, preprocess: PreprocessConfig, train: ObjectDataset,
                 val: ObjectDataset | None = None, cfg: FinetuneConfig | None = None,
                 out: str | Path | None = None, meta: dict | None = None,
                 cancel: Callable[[], bool] | None = None, resume: str | Path | None = None,
                 callback: Callable[[TrainEvent], None] | None = None) -> TrainSummary:  # fmt: skip
    """Run the engine :func:`~napari_iog.training.loop.finetune` to completion, calling
    ``callback(event)`` for every event (for ready-made datasets; specs: :func:`run_job`)."""
    return drive(finetune(model, preprocess, train, val, cfg, out, meta, cancel, resume), callback)
