"""``napari-iog export-polygons`` and ``napari-iog harvest --boxes FILE.gpkg`` end to end on a small
synthetic georeferenced GeoTIFF written in tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("rasterio")

from napari_iog.cli import main  # noqa: E402
from napari_iog.geo import GeoReference  # noqa: E402
from napari_iog.geo.raster import write_label_geotiff  # noqa: E402
from napari_iog.geo.vector_io import read_vector  # noqa: E402
from napari_iog.geo.vectorize import features_to_labels  # noqa: E402
from tests.test_geo import tricky_labels, utm_ref  # noqa: E402
from tests.test_geo_boxes import reprojected_copy, write_boxes  # noqa: E402


@pytest.fixture
def tile(tmp_path):
    """A georeferenced uint8 'image' (EPSG:32616, 0.5 m), its labels as .npy, and the
    annotator's provenance JSON beside them."""
    lab = tricky_labels()
    ref = utm_ref(lab.shape)
    image = write_label_geotiff(tmp_path / "tile.tif", (40 + 50 * (lab > 0)).astype(np.uint8), ref)
    labels = tmp_path / "labels.npy"
    np.save(labels, lab)
    records = [
        {"value": 2, "kind": "commit", "predictor": "iog-aerial", "mode": "keep", "time": "t1",
         "prompt": {"box": [5, 30, 29, 49]}, "threshold": 0.5},
        {"value": 2, "kind": "edit", "predictor": "iog-aerial", "mode": "keep", "time": "t2"},
    ]  # fmt: skip
    (tmp_path / "labels.iog.json").write_text(json.dumps({"objects": records}))
    return image, labels, lab, ref


def test_export_polygons_end_to_end(tile, tmp_path, capsys):
    image, labels, lab, ref = tile
    out = tmp_path / "objects.gpkg"
    assert main(["export-polygons", str(labels), "--image", str(image), "-o", str(out)]) == 0
    assert "wrote 5 polygons (EPSG:32616" in capsys.readouterr().out
    got = read_vector(out)
    np.testing.assert_array_equal(features_to_labels(got.geometries, got.fields["id"], ref), lab)
    row = list(got.fields["id"]).index(2)
    assert got.fields["kind"][row] == "edit" and got.fields["n_edits"][row] == 2
    assert json.loads(got.fields["prompt"][row]) == {"box": [5, 30, 29, 49]}
    assert got.fields["labels"][0] == "labels.npy"


def test_export_polygons_uses_a_label_geotiffs_own_georeference(tile, tmp_path):
    _, _, lab, ref = tile
    geo_labels = write_label_geotiff(tmp_path / "saved.tif", lab, ref)
    out = tmp_path / "saved.geojson"
    assert main(["export-polygons", str(geo_labels), "-o", str(out), "--no-provenance"]) == 0
    got = read_vector(out)
    assert set(got.fields) == {"id", "pixels", "labels"}
    np.testing.assert_array_equal(features_to_labels(got.geometries, got.fields["id"], ref), lab)


def test_export_polygons_without_crs_warns_and_writes_pixels(tile, tmp_path, capsys):
    _, labels, lab, _ = tile
    with pytest.warns(UserWarning):
        plain = write_label_geotiff(tmp_path / "plain.tif", lab, GeoReference.pixel_grid(lab.shape))
    out = tmp_path / "px.gpkg"
    assert main(["export-polygons", str(labels), "--image", str(plain), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert "warning" in captured.err and "pixel coordinates" in captured.err
    got = read_vector(out)
    assert got.crs is None
    five = got.geometries[list(got.fields["id"]).index(5)]
    assert five.bounds == (2.0, 60.0, 3.0, 61.0)


def test_export_polygons_bad_input_messages(tile, tmp_path, capsys):
    image, labels, lab, _ = tile
    cases = [
        (["export-polygons", str(labels), "--image", str(image), "-o", str(image)], ".geojson"),
        (["export-polygons", str(labels), "-o", str(tmp_path / "a.geojson")], "give --image"),
        (["export-polygons", str(labels), "--image", str(image), "-o", str(labels)], ".geojson"),
    ]
    cases.append((["export-polygons", str(labels), "--image", str(image), "--provenance",
                   str(tmp_path / "none.json"), "-o", str(tmp_path / "c.gpkg")], "--provenance"))  # fmt: skip
    np.save(tmp_path / "small.npy", lab[:10])
    cases.append((["export-polygons", str(tmp_path / "small.npy"), "--image", str(image),
                   "-o", str(tmp_path / "b.geojson")], "differ in size"))  # fmt: skip
    for argv, needle in cases:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("napari-iog: error:") and needle in err and "Traceback" not in err


@pytest.fixture
def tiny_ckpt(tmp_path):
    from tests.test_harvest_synth import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path / "tiny.pt")


def test_harvest_takes_boxes_from_a_vector_file_in_any_crs(tile, tmp_path, tiny_ckpt, capsys):
    import shapely

    image, _, _, _ = tile
    inside = [shapely.box(733603.5, 3725124.0, 733616.0, 3725136.5),
              shapely.box(733616.0, 3725124.0, 733626.0, 3725136.5)]  # fmt: skip
    outside = shapely.box(733801, 3724900, 733810, 3724890)
    utm = write_boxes(tmp_path / "b.gpkg", [*inside, outside])
    wgs = reprojected_copy(utm, tmp_path / "b4326.geojson", 4326)
    outs = []
    for boxes in (utm, wgs):
        out = tmp_path / f"{boxes.stem}_masks.json"
        argv = ["harvest", "--boxes", str(boxes), "--images", str(image), "--weights",
                str(tiny_ckpt), "--device", "cpu", "--scheduler", "inline", "--no-progress",
                "--out", str(out)]  # fmt: skip
        assert main(argv) == 0
        text = capsys.readouterr().out
        assert "2/3 masks" in text and "1 x box outside image" in text
        outs.append(json.loads(out.read_text()))
    seg = [[a["segmentation"] for a in o["annotations"]] for o in outs]
    assert len(seg[0]) == 2 and seg[0] == seg[1]
    assert outs[0]["images"][0]["file_name"] == "tile.tif"


def test_export_polygons_without_the_geo_extra_says_how_to_install(tile, tmp_path, monkeypatch,
                                                                    capsys):  # fmt: skip
    import importlib

    from napari_iog import extras

    real = importlib.import_module

    def missing(name, *a, **k):
        if name.split(".")[0] in {"rasterio", "pyogrio"}:
            raise ImportError(f"No module named {name!r}", name=name.split(".")[0])
        return real(name, *a, **k)

    monkeypatch.setattr(extras.importlib, "import_module", missing)
    image, labels, _, _ = tile
    assert main(["export-polygons", str(labels), "--image", str(image), "-o",
                 str(tmp_path / "o.gpkg")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "pip install 'napari-iog[geo]'" in err and "Traceback" not in err
    assert not (tmp_path / "o.gpkg").exists()
