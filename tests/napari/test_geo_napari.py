"""GeoTIFFs opened by napari and the georeferenced Labels writers (GeoJSON / GeoPackage / GeoTIFF) in a real
viewer (run under ``xvfb-run -a``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("rasterio")

from napari_iog.geo.georef import METADATA_KEY  # noqa: E402
from napari_iog.geo.raster import read_raster, write_label_geotiff  # noqa: E402
from napari_iog.geo.vector_io import read_vector  # noqa: E402
from napari_iog.geo.vectorize import features_to_labels  # noqa: E402
from napari_iog.structures import BBox, Prompt  # noqa: E402
from tests.test_geo import tricky_labels, utm_ref  # noqa: E402


@pytest.fixture
def geotiff(tmp_path):
    lab = tricky_labels()
    ref = utm_ref(lab.shape)
    path = write_label_geotiff(tmp_path / "tile.tif", (30 + 60 * (lab > 0)).astype(np.uint8), ref)
    return path, lab, ref


def _open_with_labels(viewer, path, lab):
    from napari_iog._napari.provenance import record_commit

    (image,) = viewer.open(str(path), plugin="napari")
    labels = viewer.add_labels(lab.copy(), name="IOG labels")
    prompt = Prompt(BBox(5, 30, 29, 49))
    record_commit(labels, value=2, kind="commit", leading=(), prompt=prompt,
                  image_name=image.name, predictor="iog-aerial", mode="keep", pixels=500)  # fmt: skip
    return image, labels


def test_a_geotiff_opened_by_napari_keeps_its_georeference(make_napari_viewer, geotiff, tmp_path):
    """napari's own TIFF reader keeps no CRS; ``layer_metadata`` reads it from the source file
    (what the writers and the starter choice use), and a plain TIFF gets none."""
    import tifffile

    from napari_iog._napari.geo_writer import layer_metadata
    from napari_iog.models.starters import image_domain

    path, lab, ref = geotiff
    tifffile.imwrite(tmp_path / "plain.tif", lab.astype(np.uint8))
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(path), plugin="napari")
    (plain,) = viewer.open(str(tmp_path / "plain.tif"), plugin="napari")
    meta = layer_metadata(image)
    assert meta[METADATA_KEY]["transform"] == list(ref.transform)
    assert meta[METADATA_KEY]["crs_name"] == "EPSG:32616"
    assert METADATA_KEY not in image.metadata  # the layer itself is left alone
    assert METADATA_KEY not in layer_metadata(plain)
    assert image_domain(image.data, image.rgb, meta) == "aerial"  # grey, but georeferenced
    assert image_domain(plain.data, plain.rgb, layer_metadata(plain)) == "em"

    from napari_iog._napari.commit import make_labels_layer

    on_geo, on_plain = make_labels_layer(viewer, image, "a"), make_labels_layer(viewer, plain, "b")
    assert on_geo.metadata[METADATA_KEY] == meta[METADATA_KEY]  # the annotator's target labels
    assert METADATA_KEY not in on_plain.metadata


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_writer_saves_polygons_from_a_labels_layer(make_napari_viewer, geotiff, tmp_path, suffix):
    path, lab, ref = geotiff
    viewer = make_napari_viewer()
    _, labels = _open_with_labels(viewer, path, lab)
    out = tmp_path / f"objects{suffix}"
    viewer.layers.selection = {labels}
    written = viewer.layers.save(str(out), selected=True, plugin="napari-iog")
    assert written == [str(out)]
    got = read_vector(out)
    np.testing.assert_array_equal(features_to_labels(got.geometries, got.fields["id"], ref), lab)
    row = list(got.fields["id"]).index(2)
    assert got.fields["predictor"][row] == "iog-aerial"
    assert json.loads(got.fields["prompt"][row])["box"] == [5, 30, 29, 49]


def test_geotiff_writer_keeps_georeference_and_provenance(make_napari_viewer, geotiff, tmp_path):
    from napari_iog._napari.geo_writer import write_geotiff

    path, lab, ref = geotiff
    viewer = make_napari_viewer()
    _, labels = _open_with_labels(viewer, path, lab)
    data, meta, _ = labels.as_layer_data_tuple()
    written = write_geotiff(str(tmp_path / "saved.tif"), data, meta)
    assert written == [str(tmp_path / "saved.tif"), str(tmp_path / "saved.iog.json")]
    back, got = read_raster(tmp_path / "saved.tif")
    np.testing.assert_array_equal(back, lab)
    assert got.transform == ref.transform and got.crs_name == "EPSG:32616"
    doc = json.loads((tmp_path / "saved.iog.json").read_text())
    assert doc["objects"][0]["value"] == 2 and doc["georeference"]["crs_name"] == "EPSG:32616"


def test_labels_without_georeference_write_pixel_polygons(make_napari_viewer, tmp_path):
    from napari_iog._napari.geo_writer import write_polygons

    lab = tricky_labels()
    viewer = make_napari_viewer()
    labels = viewer.add_labels(lab)
    data, meta, _ = labels.as_layer_data_tuple()
    write_polygons(str(tmp_path / "px.geojson"), data, meta)
    got = read_vector(tmp_path / "px.geojson")
    five = got.geometries[list(got.fields["id"]).index(5)]
    assert five.bounds == (2.0, 60.0, 3.0, 61.0)  # pixel coordinates
    stack = viewer.add_labels(np.stack([lab, lab]))
    with pytest.raises(ValueError, match="one 2D plane"):
        write_polygons(str(tmp_path / "s.geojson"), *stack.as_layer_data_tuple()[:2])


def test_geotiff_writer_never_overwrites_the_open_image(make_napari_viewer, geotiff):
    from napari_iog._napari.geo_writer import write_geotiff

    path, lab, _ = geotiff
    before = path.read_bytes()
    viewer = make_napari_viewer()
    _, labels = _open_with_labels(viewer, path, lab)
    with pytest.raises(ValueError, match="never overwritten"):
        write_geotiff(str(path), *labels.as_layer_data_tuple()[:2])
    assert path.read_bytes() == before


def test_cli_and_napari_share_the_provenance_sidecar_name(tmp_path):
    """One rule (``fileio.sidecar_path``) for the napari writers, export-polygons and the zarr
    stores: the stem up to the first dot + ``.iog.json``, beside the labels."""
    from napari_iog.fileio import sidecar_path

    for name, side in (("labels.tif", "labels"), ("a.b.tiff", "a"), ("x.npy", "x"), ("iog", "iog")):
        assert sidecar_path(tmp_path / name) == tmp_path / f"{side}.iog.json"
