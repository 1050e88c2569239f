"""Provenance records (the annotator's ``metadata['napari_iog']['objects']`` or the saved
``.iog.json``) -> one flat attribute row per label id, for polygon export.

A record is a plain dict with ``value`` (the id), ``kind``, ``prompt``, ``predictor``, ``mode``,
``threshold``, ``image``, ``time``... (see ``napari_iog._napari.provenance``). Each id gets the
fields of its **last** record (the one that made its current mask), the number of records
(``n_edits``) and its latest prompt as compact JSON (a manual edit has none); every id has every column (``None`` when unknown),
so GeoPackage and GeoJSON get one schema.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from napari_iog.geo.deps import GeoInputError

FIELDS = ("kind", "predictor", "mode", "threshold", "image", "time", "n_edits", "prompt")


def attributes_from_records(records: Iterable[Mapping] | None) -> dict[int, dict]:
    """``{id: {field: value}}`` from provenance records (semantic records are skipped: their
    ``value`` is a class, not an object id); empty for ``None``/no records."""
    rows: dict[int, dict] = {}
    for rec in records or ():
        if not isinstance(rec, Mapping) or rec.get("semantic"):
            continue
        try:
            value = int(rec["value"])
        except (KeyError, TypeError, ValueError):
            continue
        prev = rows.get(value, {})
        prompt = rec.get("prompt")
        rows[value] = {
            "kind": _text(rec.get("kind")),
            "predictor": _text(rec.get("predictor")),
            "mode": _text(rec.get("mode")),
            "threshold": _number(rec.get("threshold")),
            "image": _text(rec.get("image")),
            "time": _text(rec.get("time")),
            "n_edits": int(prev.get("n_edits") or 0) + 1,
            "prompt": prev.get("prompt")
            if prompt is None
            else json.dumps(prompt, separators=(",", ":")),
        }
    return rows


def records_of_sidecar(path: str | os.PathLike) -> list[dict]:
    """The ``objects`` list of a saved provenance JSON (``labels.iog.json``); ``[]`` if absent."""
    p = Path(path)
    if not p.is_file():
        return []
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GeoInputError(
            f"{p.name} is not a readable provenance JSON ({err}); move it away to export "
            "without provenance."
        ) from None
    objects = doc.get("objects") if isinstance(doc, dict) else None
    return [o for o in objects if isinstance(o, dict)] if isinstance(objects, list) else []


def _text(v) -> str | None:
    return None if v is None else str(v)


def _number(v) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None
