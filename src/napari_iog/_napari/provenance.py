"""Provenance of committed objects: the prompt (box, inside click, correction clicks) behind every
commit, kept in the Labels layer's ``metadata["napari_iog"]`` and exportable as JSON next to the
saved labels, so an object can be re-run (``Prompt.from_dict``) or audited.

Record fields: ``value`` (label id or class), ``kind`` (``commit``/``edit``/``propagated``),
``slice`` (leading indices), ``prompt`` (``Prompt.to_dict()``: pixel ``(row, col)``), ``image``,
``predictor``, ``mode``, ``semantic``, ``time`` (UTC ISO), ``pixels`` (changed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from napari_iog import __version__
from napari_iog.fileio import atomic_write_text

if TYPE_CHECKING:
    from napari.layers import Labels

    from napari_iog.structures import Prompt

KEY = "napari_iog"
FORMAT = 1


def _store(labels) -> dict:
    store = labels.metadata.get(KEY)
    if not isinstance(store, dict) or "objects" not in store:
        store = {"format": FORMAT, "plugin_version": __version__, "objects": []}
        labels.metadata[KEY] = store
    return store


def record_commit(
    labels: Labels,
    *,
    value: int,
    kind: str,
    leading: Sequence[int],
    prompt: Prompt | None,
    image_name: str,
    predictor: str,
    mode: str,
    semantic: bool = False,
    pixels: int = 0,
    threshold: float | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict:
    """Append one record to ``labels.metadata['napari_iog']['objects']`` and return it.
    ``threshold``: the probability at which the mask was cut (recorded when given)."""
    rec = {
        "value": int(value),
        "kind": kind,
        "slice": [int(v) for v in leading],
        "prompt": None if prompt is None else prompt.to_dict(),
        "image": image_name,
        "predictor": predictor,
        "mode": mode,
        "semantic": bool(semantic),
        "pixels": int(pixels),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if threshold is not None:
        rec["threshold"] = round(float(threshold), 4)
    if extra:
        rec.update(extra)
    _store(labels)["objects"].append(rec)
    return rec


def records(labels: Labels) -> list[dict]:
    """The provenance records of a Labels layer (empty list if none)."""
    store = labels.metadata.get(KEY)
    return list(store["objects"]) if isinstance(store, dict) and "objects" in store else []


def export_json(labels: Labels, path: str | os.PathLike) -> Path:
    """Write the layer's provenance to ``path`` atomically (temp file + os.replace)."""
    path = Path(path)
    doc = {
        "format": FORMAT,
        "plugin": "napari-iog",
        "plugin_version": __version__,
        "labels_layer": labels.name,
        "labels_shape": [int(s) for s in labels.data.shape],
        "coordinate_order": "slice indices, then (row, col) pixels",
        "objects": records(labels),
    }
    atomic_write_text(path, json.dumps(doc, indent=1))
    return path
