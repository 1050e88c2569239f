"""Read box files into a :class:`~napari_iog.harvest.plan.HarvestPlan`.

Two formats:

- **COCO JSON**: ``images`` (``id``, ``file_name``) and ``annotations`` (``id``, ``image_id``,
  ``bbox = [x, y, width, height]``, optional ``category_id``), optional ``categories``.
- **CSV** with the header ``image,x0,y0,x1,y1`` or ``image,x0,y0,x1,y1,label``: one box per row,
  ``image`` a file name relative to the images folder.

Both use pixel-edge coordinates, ``x`` = column, ``y`` = row: a box over columns 10..19 has
``x = 10, width = 10`` (COCO) or ``x0 = 10, x1 = 20`` (CSV). This is the one place where they
become inclusive ``BBox(row0, col0, row1, col1)``.

Bad boxes do not stop the run: each becomes an :class:`Issue` (zero-area box, duplicate
annotation id, unknown image id, a CSV row with the wrong number of columns...). Only a file that
cannot be read at all raises :class:`BoxFileError`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from napari_iog.harvest.plan import BoxFileError, BoxRecord, HarvestPlan, ImageTask, Issue
from napari_iog.structures import BBox

CSV_HEADER = ("image", "x0", "y0", "x1", "y1")
MAX_COORD = 1e9  # px; a coordinate beyond it is a broken box (e.g. [1e308] * 4), skipped


def load_boxes(path: str | Path) -> HarvestPlan:
    """Read a COCO ``.json`` or a ``.csv`` box file (chosen by the extension)."""
    path = Path(path)
    if not path.is_file():
        raise BoxFileError(
            f"Box file {str(path)!r} does not exist. Give a COCO .json or a .csv file."
        )
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_coco(path)
    if suffix == ".csv":
        return read_csv(path)
    raise BoxFileError(
        f"Box file {path.name!r}: unknown extension {suffix!r}. Use COCO JSON (.json) or CSV (.csv) "
        f"with the header {','.join(CSV_HEADER)}[,label]."
    )


def xywh_to_bbox(x: float, y: float, w: float, h: float) -> BBox:
    """COCO pixel-edge box ``[x, y, w, h]`` -> inclusive ``BBox`` of the pixels it touches."""
    return BBox(
        int(math.floor(y)), int(math.floor(x)), int(math.ceil(y + h)) - 1, int(math.ceil(x + w)) - 1
    )


def _int_id(value) -> int | None:
    """A COCO id: an int (or an integral float / digit string), else None (null, "abc", 1.5)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _box_issue(xywh, what: str, image, ann_id) -> Issue | None:
    """A skip issue for a non-finite, absurdly large (> ``MAX_COORD``) or zero-area box
    (``what`` names the box), else None."""
    if not all(math.isfinite(v) for v in xywh):
        return Issue("skipped", "bad box", f"{what} has a non-finite number.", image, ann_id)
    x, y, w, h = xywh
    if max(abs(x), abs(y), abs(x + w), abs(y + h)) > MAX_COORD:
        return Issue(
            "skipped", "bad box", f"{what} is beyond {MAX_COORD:.0e} px; no image is that large.",
            image, ann_id,
        )  # fmt: skip
    if xywh[2] <= 0 or xywh[3] <= 0:
        return Issue(
            "skipped",
            "zero-area box",
            f"{what} has no area (width and height must be > 0).",
            image,
            ann_id,
        )
    return None


def read_coco(path: str | Path) -> HarvestPlan:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BoxFileError(
            f"Cannot read {path.name} as JSON ({err}). Give a COCO JSON file."
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise BoxFileError(
            f"{path.name} is not COCO JSON: it needs an 'images' list (id, file_name) and an "
            "'annotations' list (id, image_id, bbox=[x, y, width, height])."
        )
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise BoxFileError(
            f"{path.name}: 'annotations' must be a list of boxes (id, image_id, bbox=[x, y, "
            f"width, height]), got {type(annotations).__name__}."
        )
    entries: dict[int, dict] = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise BoxFileError(f"{path.name}: images[{i}] needs 'id' and 'file_name'.")
        iid = _int_id(im["id"])
        if iid is None or not isinstance(im["file_name"], str) or not im["file_name"]:
            raise BoxFileError(
                f"{path.name}: images[{i}] has id {im['id']!r} and file_name "
                f"{im['file_name']!r}; COCO needs an integer id and a file name."
            )
        if iid in entries:
            raise BoxFileError(
                f"{path.name}: image id {iid} appears twice in 'images'. Give each image one id."
            )
        entries[iid] = dict(im)

    issues: list[Issue] = []
    seen: set[int] = set()
    per_image: dict[int, list[BoxRecord]] = {iid: [] for iid in entries}
    for i, ann in enumerate(annotations):
        where = f"annotations[{i}]"
        try:
            if not isinstance(ann, dict):
                raise TypeError(f"an annotation must be an object, got {type(ann).__name__}")
            ann_id, image_id = _int_id(ann["id"]), _int_id(ann["image_id"])
            if ann_id is None or image_id is None:
                raise ValueError(f"id {ann['id']!r} / image_id {ann['image_id']!r} not integers")
            xywh = tuple(float(v) for v in ann["bbox"])
            if len(xywh) != 4:
                raise ValueError("bbox needs 4 numbers")
            cat = int(ann.get("category_id", 1))
        except (KeyError, TypeError, ValueError) as err:
            issues.append(
                Issue(
                    "skipped",
                    "bad annotation",
                    f"{where}: {err!s}; needs id, image_id, bbox=[x, y, width, height]",
                    ann_id=None,
                )
            )
            continue
        image = entries.get(image_id, {}).get("file_name")
        if ann_id in seen:
            issues.append(
                Issue(
                    "skipped",
                    "duplicate annotation id",
                    f"{where}: annotation id {ann_id} "
                    "was already used; the first one is kept. Give each box its own id.",
                    image,
                    ann_id,
                )
            )
            continue
        seen.add(ann_id)
        if image_id not in entries:
            issues.append(
                Issue(
                    "skipped",
                    "unknown image id",
                    f"{where}: image_id {image_id} is not in "
                    "'images'. Add the image or fix the id.",
                    None,
                    ann_id,
                )
            )
            continue
        issue = _box_issue(xywh, f"annotation {ann_id}: bbox {list(xywh)}", image, ann_id)
        if issue:
            issues.append(issue)
            continue
        per_image[image_id].append(BoxRecord(ann_id, xywh_to_bbox(*xywh), cat, xywh))

    categories = data.get("categories") or [{"id": 1, "name": "object"}]
    return _make_plan(entries, per_image, categories, issues, path.name)


def read_csv(path: str | Path) -> HarvestPlan:
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise BoxFileError(f"Cannot read {path.name} as CSV ({err}).") from None
    want = ",".join(CSV_HEADER)
    if not rows:
        raise BoxFileError(f"{path.name} is empty; it needs the header {want}[,label].")
    header = tuple(c.strip().lower() for c in rows[0])
    if header not in (CSV_HEADER, (*CSV_HEADER, "label")):
        raise BoxFileError(
            f"{path.name}: the header is {','.join(header)!r}; it must be {want} or {want},label "
            "(x = column, y = row, pixel edges: x1 = x0 + width)."
        )
    has_label = len(header) == 6
    issues: list[Issue] = []
    parsed: list[tuple[int, str, tuple[float, ...], str]] = []
    for n, row in enumerate(rows[1:], start=1):
        if not row or all(not c.strip() for c in row):
            continue
        image = row[0].strip()
        if len(row) != len(header):
            issues.append(
                Issue(
                    "skipped",
                    "mixed CSV columns",
                    f"row {n}: {len(row)} columns, the header "
                    f"has {len(header)}. Give every row the same columns.",
                    image or None,
                    n,
                )
            )
            continue
        try:
            x0, y0, x1, y1 = (float(v) for v in row[1:5])
        except ValueError:
            issues.append(
                Issue(
                    "skipped",
                    "bad CSV row",
                    f"row {n}: x0,y0,x1,y1 must be numbers, got {row[1:5]}.",
                    image or None,
                    n,
                )
            )
            continue
        if not image:
            issues.append(
                Issue("skipped", "bad CSV row", f"row {n}: the image name is empty.", None, n)
            )
            continue
        xywh = (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        issue = _box_issue(
            xywh, f"row {n}: box x0,y0,x1,y1 = {x0:g},{y0:g},{x1:g},{y1:g}", image, n
        )
        if issue:
            issues.append(issue)
            continue
        label = (row[5].strip() if has_label else "") or "object"
        parsed.append((n, image, xywh, label))

    names = sorted({p[1] for p in parsed})
    labels = sorted({p[3] for p in parsed}) or ["object"]
    cat_ids = {name: i for i, name in enumerate(labels, start=1)}
    image_ids = {name: i for i, name in enumerate(names, start=1)}
    entries = {iid: {"id": iid, "file_name": name} for name, iid in image_ids.items()}
    per_image: dict[int, list[BoxRecord]] = {iid: [] for iid in entries}
    for n, image, xywh, label in parsed:
        per_image[image_ids[image]].append(BoxRecord(n, xywh_to_bbox(*xywh), cat_ids[label], xywh))
    categories = [{"id": i, "name": name} for name, i in cat_ids.items()]
    return _make_plan(entries, per_image, categories, issues, path.name)


def _make_plan(entries, per_image, categories, issues, source) -> HarvestPlan:
    tasks = tuple(
        ImageTask(
            iid,
            str(entries[iid]["file_name"]),
            tuple(sorted(recs, key=lambda r: r.ann_id)),
            entries[iid],
        )
        for iid, recs in sorted(per_image.items())
    )
    return HarvestPlan(tasks, tuple(dict(c) for c in categories), tuple(issues), source)
