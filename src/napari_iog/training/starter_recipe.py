"""The recipe of the shipped starter models (``models.starters``): which training splits of the
research data (``<data root>/...``, never shipped) each domain trains on, each source's share of
the training samples, and the train/validation objects built from them.

Class-agnostic: every annotated object of a source is a training object. Test splits are never
read here (ssTEM slices 10-19, ISBI 20-29, aerial-fair areas 3-4, SpaceNet right half, ISPRS);
ssTEM synapses stay out (the unseen-class fine-tuning test). ``benchmarks/starter_train.py`` runs
it; the shipped checkpoints' model cards record :func:`recipe` (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from napari_iog.config import PreprocessConfig
    from napari_iog.data.datasets import ObjectDataset

VAL_PER_SOURCE = 16  # validation objects per source (checkpoint selection), at most 1 in 10


@dataclass(frozen=True)
class Source:
    """A training source: ``what`` names the data relative to the data root; ``load(data_root)``
    returns ``(image planes, instance planes)``; ``share`` of the training samples."""

    name: str
    what: str
    load: Callable[[Path], tuple[list, list]]
    share: float


def _sstem(kind: str):
    def load(data: Path):
        from napari_iog.data.layouts import load_sstem, sstem_structures

        root, slices = data / "sstem-drosophila-vnc", list(range(10))
        ims, labs = load_sstem(root, slices)
        return ims, (sstem_structures(root, slices, kind) if kind != "mitochondria" else labs)

    return load


def _isbi(data: Path):
    from napari_iog.data.layouts import load_isbi2012

    return load_isbi2012(data / "isbi2012", range(20))


def _lucchi(data: Path):
    from napari_iog.data.layouts import load_lucchi

    return load_lucchi(data / "em-lucchi")


def _fair(data: Path):
    from napari_iog.data.layouts import load_aerial_fair

    return load_aerial_fair(data / "aerial-fair", (1, 2, 5))


def _spacenet_left(data: Path):
    from napari_iog.data.layouts import spacenet_halves

    (im, lab), _ = spacenet_halves(data / "aerial-spacenet")
    return [im], [lab]


SOURCES: dict[str, list[Source]] = {
    "em": [
        Source("sstem-mito", "sstem-drosophila-vnc mitochondria, slices 00-09", _sstem("mitochondria"), 0.30),
        Source("sstem-neurons", "sstem-drosophila-vnc labels == 255, slices 00-09", _sstem("neurons"), 0.10),
        Source("isbi2012", "isbi2012 label == 255, sections 0-19", _isbi, 0.30),
        Source("em-lucchi", "em-lucchi/train, all 55 sections", _lucchi, 0.30),
    ],
    "aerial": [
        Source("aerial-fair", "aerial-fair areas 1, 2, 5", _fair, 0.80),
        Source("spacenet-left", "aerial-spacenet cols 0-449", _spacenet_left, 0.20),
    ],
}  # fmt: skip


def recipe(domain: str) -> list[dict]:
    """``[{"name", "data", "share"}, ...]``: the sources of ``domain`` as a model card lists them."""
    if domain not in SOURCES:
        raise ValueError(f"Unknown domain {domain!r}; choose one of {sorted(SOURCES)}.")
    return [{"name": s.name, "data": s.what, "share": s.share} for s in SOURCES[domain]]


def build_datasets(
    domain: str,
    data: Path,
    preprocess: PreprocessConfig,
    seed: int = 0,
    log: Callable[[str], object] = print,
) -> tuple[ObjectDataset, ObjectDataset, list[dict]]:
    """``(train, val, sources)`` ObjectDatasets over every source's planes of ``domain`` under
    the data root ``data``: up to ``VAL_PER_SOURCE`` objects of each source validate; ``train``
    repeats each source's other objects so that it makes about its share of the samples;
    ``sources`` is :func:`recipe` with the object counts and repeats."""
    from napari_iog.data.datasets import ObjectDataset

    sources = recipe(domain)
    ims, labs, spans = [], [], []
    for src, card in zip(SOURCES[domain], sources):
        i, lab = src.load(Path(data))
        spans.append((len(labs), len(labs) + len(lab)))
        ims += i
        labs += lab
        card["planes"] = len(lab)
    ds = ObjectDataset(ims, labs, preprocess, min_area=50, label_mode="instances")
    rng = np.random.default_rng(seed)
    val_idx, per = [], []
    for p0, p1 in spans:
        idx = list(rng.permutation([k for k, o in enumerate(ds.objects) if p0 <= o.plane < p1]))
        n_val = min(VAL_PER_SOURCE, len(idx) // 10)
        val_idx += idx[:n_val]
        per.append((idx[n_val:], n_val))
    ratio = max(len(tr) / card["share"] for (tr, _), card in zip(per, sources))
    train_idx = []
    for (tr, n_val), card in zip(per, sources):
        reps = max(1, round(card["share"] * ratio / len(tr)))  # most objects per share: 1 copy
        train_idx += tr * reps
        card.update(objects=len(tr), repeats=reps, val_objects=n_val)
        log(f"  {card['name']}: {len(tr)} train objects x {reps}, share {card['share']}")
    return ds.subset(train_idx), ds.subset(sorted(val_idx)), sources
