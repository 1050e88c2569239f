"""Boxes from vector files: reprojection (EPSG:4326 <-> EPSG:32616 on the SpaceNet footprints),
no-CRS files refused, boxes outside the image listed by the harvest, the harvest plan hook."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rasterio")

from napari_iog.geo import GeoInputError  # noqa: E402
from napari_iog.geo.boxes import vector_boxes  # noqa: E402
from napari_iog.geo.raster import read_georeference, write_label_geotiff  # noqa: E402
from napari_iog.harvest import BoxFileError, check_boxes, load_boxes  # noqa: E402
from napari_iog.harvest.sources import xywh_to_bbox  # noqa: E402
from tests._shared import require_shared  # noqa: E402
from tests.test_geo import tricky_labels, utm_ref  # noqa: E402


def reprojected_copy(src, dst, epsg: int):
    """``src`` vector file with every vertex reprojected to ``epsg`` (pyproj), written to ``dst``."""
    import pyogrio.raw
    import pyproj
    import shapely

    meta, _, wkb, _ = pyogrio.raw.read(src)
    t = pyproj.Transformer.from_crs(meta["crs"], f"EPSG:{epsg}", always_xy=True)
    geoms = shapely.transform(shapely.from_wkb(wkb), lambda xy: np.column_stack(t.transform(*xy.T)))
    pyogrio.raw.write(dst, shapely.to_wkb(geoms), [np.arange(1, len(geoms) + 1)], ["n"],
                      geometry_type="Polygon", crs=f"EPSG:{epsg}")  # fmt: skip
    return dst


def write_boxes(path, polygons, crs="EPSG:32616"):
    import pyogrio.raw
    import shapely

    geoms = shapely.to_wkb(np.asarray(polygons, dtype=object))
    pyogrio.raw.write(path, geoms, [np.arange(1, len(polygons) + 1)], ["n"],
                      geometry_type="Polygon", crs=crs)  # fmt: skip
    return path


@pytest.mark.realdata
def test_spacenet_boxes_survive_a_trip_through_wgs84(tmp_path):
    d = require_shared("data", "aerial-spacenet")
    ref = read_georeference(d / "image.tif")
    direct = vector_boxes(d / "buildings.geojson", ref)
    wgs = reprojected_copy(d / "buildings.geojson", tmp_path / "b4326.gpkg", 4326)
    back = vector_boxes(wgs, ref)
    assert len(direct) == 43
    assert [xywh_to_bbox(*b.xywh) for b in back] == [xywh_to_bbox(*b.xywh) for b in direct]
    np.testing.assert_allclose([b.xywh for b in back], [b.xywh for b in direct], atol=1e-5)


@pytest.mark.realdata
def test_spacenet_boxes_land_on_the_rasterised_instances(tmp_path):
    import tifffile
    from skimage.measure import regionprops

    d = require_shared("data", "aerial-spacenet")
    boxes = vector_boxes(d / "buildings.geojson", read_georeference(d / "image.tif"))
    inst = {r.label: r.bbox for r in regionprops(tifffile.imread(d / "instances.tif"))}
    for b in boxes:  # instances.tif was rasterised from the same polygons (pixel centres)
        r0, c0, r1, c1 = inst[b.number]
        got = xywh_to_bbox(*b.xywh).as_tuple()
        assert np.abs(np.subtract(got, (r0, c0, r1 - 1, c1 - 1))).max() <= 1


def test_vector_file_without_crs_is_refused(tmp_path):
    import shapely

    ref = utm_ref((64, 80))
    path = write_boxes(tmp_path / "nocrs.gpkg", [shapely.box(733602, 3725110, 733610, 3725130)],
                       crs=None)  # fmt: skip
    with pytest.raises(GeoInputError, match="has no CRS"):
        vector_boxes(path, ref)
    empty = write_boxes(tmp_path / "empty.gpkg", [])
    with pytest.raises(GeoInputError, match="no features"):
        vector_boxes(empty, ref)


def test_image_without_crs_refuses_map_boxes(tmp_path):
    import shapely

    from napari_iog.geo import GeoReference

    lab = tricky_labels()
    with pytest.warns(UserWarning):
        write_label_geotiff(tmp_path / "plain.tif", lab, GeoReference.pixel_grid(lab.shape))
    path = write_boxes(tmp_path / "b.gpkg", [shapely.box(733602, 3725110, 733610, 3725130)])
    with pytest.raises(GeoInputError, match="image has no CRS"):
        vector_boxes(path, read_georeference(tmp_path / "plain.tif"))


def test_harvest_plan_from_a_vector_file_lists_boxes_outside_the_image(tmp_path):
    import shapely

    lab = tricky_labels()  # 64 x 80 px of 0.5 m from (733601, 3725139)
    ref = utm_ref(lab.shape)
    image = write_label_geotiff(tmp_path / "tile.tif", lab, ref)
    inside = shapely.box(733603.5, 3725124.0, 733616.0, 3725136.5)  # cols 5..29, rows 5..29
    outside = shapely.box(733801, 3724900, 733810, 3724890)
    boxes = write_boxes(tmp_path / "b.gpkg", [inside, outside, shapely.Polygon()])
    plan = load_boxes(boxes, image=image)
    (task,) = plan.images
    assert task.file_name == "tile.tif"
    assert [r.box.as_tuple() for r in task.boxes] == [(5, 5, 29, 29), (478, 400, 497, 417)]
    assert [i.reason for i in plan.issues] == ["empty geometry"]
    ok, issues = check_boxes(task.boxes, lab.shape, task.file_name)
    assert [r.ann_id for r in ok] == [1]
    assert [(i.reason, i.ann_id) for i in issues] == [("box outside image", 2)]
    with pytest.raises(BoxFileError, match="--images"):
        load_boxes(boxes, image=tmp_path)
