"""Every box file -> a :class:`~napari_iog.harvest.plan.HarvestPlan`: :func:`load_boxes` reads
vector files (GeoJSON, GeoPackage, Shapefile, FlatGeobuf; any CRS; the ``[geo]`` extra) for one
georeferenced image here, and COCO JSON / CSV through :mod:`napari_iog.harvest.sources`.

Each feature's footprint becomes the box of its vertices on the image's pixel grid
(:func:`napari_iog.geo.boxes.vector_boxes`), ``ann_id`` = the feature number (1-based, file
order), category ``object``. Empty geometries are skipped as issues here; boxes outside the image
are kept and listed by the harvest like any other box outside the image
(:func:`napari_iog.harvest.predict.check_boxes`).
"""

from __future__ import annotations

from pathlib import Path

from napari_iog.harvest.plan import BoxFileError, BoxRecord, HarvestPlan, ImageTask, Issue
from napari_iog.harvest.sources import _box_issue, xywh_to_bbox
from napari_iog.harvest.sources import load_boxes as load_pixel_boxes

VECTOR_SUFFIXES = (".geojson", ".gpkg", ".shp", ".fgb")  # footprints in map coordinates


def load_boxes(path: str | Path, image: str | Path | None = None) -> HarvestPlan:
    """Read a box file chosen by its extension: a vector file (``VECTOR_SUFFIXES``) of footprints
    on the GeoTIFF ``image``, else COCO ``.json`` / ``.csv`` (``image`` unused)."""
    if Path(path).suffix.lower() in VECTOR_SUFFIXES and Path(path).is_file():
        return read_vector_boxes(path, image)
    return load_pixel_boxes(path)


def read_vector_boxes(path: str | Path, image: str | Path | None) -> HarvestPlan:
    """Plan for the GeoTIFF ``image`` and the footprints of the vector file ``path``."""
    from napari_iog.geo.boxes import vector_boxes
    from napari_iog.geo.raster import read_georeference

    path = Path(path)
    if image is None or not Path(image).is_file():
        raise BoxFileError(
            f"Boxes from the vector file {path.name} are in map coordinates: give the GeoTIFF "
            f"they belong to as --images (a file, not {str(image)!r})."
        )
    image = Path(image)
    ref = read_georeference(image)
    issues, records = [], []
    for vb in vector_boxes(path, ref):
        what = f"feature {vb.number}"
        if vb.xywh is None:
            issues.append(
                Issue("skipped", vb.reason, f"{what}: {vb.reason}.", image.name, vb.number)
            )
            continue
        issue = _box_issue(vb.xywh, f"{what}: box {[round(v, 3) for v in vb.xywh]}", image.name,
                           vb.number)  # fmt: skip
        if issue:
            issues.append(issue)
            continue
        records.append(BoxRecord(vb.number, xywh_to_bbox(*vb.xywh), 1, vb.xywh))
    task = ImageTask(1, image.name, tuple(records), {"id": 1, "file_name": image.name})
    return HarvestPlan((task,), ({"id": 1, "name": "object"},), tuple(issues), path.name)
