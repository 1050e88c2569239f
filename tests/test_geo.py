"""napari_iog.geo: georeference convention, exact polygon round trip, CRS-less warning, label
GeoTIFF, GeoJSON/GPKG in the image CRS, lazy dependencies."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("rasterio")

from napari_iog.evaluation.metrics import iou  # noqa: E402
from napari_iog.geo import GeoInputError, GeoReference  # noqa: E402
from napari_iog.geo.check import vertex_errors  # noqa: E402
from napari_iog.geo.deps import GeoDependencyError, NoCRSWarning  # noqa: E402
from napari_iog.geo.raster import read_georeference, read_raster, write_label_geotiff  # noqa: E402
from napari_iog.geo.vector_io import read_vector, write_features  # noqa: E402
from napari_iog.geo.vectorize import features_to_labels, labels_to_features  # noqa: E402

UTM16 = 32616
TRANSFORM = (0.5, 0.0, 733601.0, 0.0, -0.5, 3725139.0)  # the SpaceNet tile's


def utm_ref(shape) -> GeoReference:
    import pyproj

    return GeoReference(TRANSFORM, pyproj.CRS.from_epsg(UTM16).to_wkt(), shape, "EPSG:32616")


def tricky_labels() -> np.ndarray:
    """Objects with a hole (and an island in it), touching neighbours, a diagonal-only split
    and a one-pixel object."""
    lab = np.zeros((64, 80), np.uint16)
    lab[5:30, 5:30] = 1
    lab[10:20, 10:20] = 0  # hole
    lab[14:16, 14:16] = 1  # island inside the hole: same id
    lab[5:30, 30:50] = 2  # shares an edge with 1
    lab[30:40, 5:50] = 3  # shares edges with 1 and 2
    lab[45:50, 60:65] = 4
    lab[50:55, 65:70] = 4  # touches the other part only at a corner
    lab[60, 2] = 5
    return lab


def test_pixel_centre_convention():
    ref = utm_ref((900, 900))
    x, y = ref.pixel_to_map(0, 0)
    assert (x, y) == (733601.25, 3725138.75)  # centre of the first pixel, 0.5 m pixels
    r, c = ref.map_to_pixel(733601.0, 3725139.0)  # its top-left corner
    assert (r, c) == (-0.5, -0.5)
    # the SpaceNet SOURCE.md rule: col = (x - 733601)/0.5 - 0.5, row = (3725139 - y)/0.5 - 0.5
    r, c = ref.map_to_pixel(733700.3, 3725000.1)
    assert c == pytest.approx((733700.3 - 733601) / 0.5 - 0.5)
    assert r == pytest.approx((3725139 - 3725000.1) / 0.5 - 0.5)


def test_rotated_transform_round_trips():
    ref = GeoReference((0.3, 0.4, 10.0, 0.4, -0.3, 20.0), None, (50, 60))
    rows, cols = np.meshgrid(np.arange(0, 50, 7.5), np.arange(0, 60, 3.3), indexing="ij")
    back = ref.map_to_pixel(*ref.pixel_to_map(rows, cols))
    np.testing.assert_allclose(back[0], rows, atol=1e-9)
    np.testing.assert_allclose(back[1], cols, atol=1e-9)
    assert GeoReference.from_dict(ref.to_dict()) == ref


def test_bad_georeference_records():
    with pytest.raises(GeoInputError, match="singular"):
        GeoReference((0, 0, 1, 0, 0, 1), None, (2, 2))
    with pytest.raises(GeoInputError, match="transform"):
        GeoReference.from_dict({"crs": None})


def test_polygons_round_trip_exactly_with_holes_and_touching_objects():
    lab = tricky_labels()
    ref = utm_ref(lab.shape)
    feats = labels_to_features(lab, ref, {1: {"kind": "commit"}})
    assert [f.id for f in feats] == [1, 2, 3, 4, 5]
    one = feats[0].geometry
    assert one.geom_type == "MultiPolygon"  # the island is a second polygon of id 1
    assert max(len(p.interiors) for p in one.geoms) == 1  # the hole is kept
    assert feats[3].geometry.geom_type == "MultiPolygon"  # corner-touching parts
    assert feats[0].properties == {"id": 1, "pixels": int((lab == 1).sum()), "kind": "commit"}
    back = features_to_labels([f.geometry for f in feats], [f.id for f in feats], ref)
    np.testing.assert_array_equal(back, lab)
    for f in feats:
        assert iou(back == f.id, lab == f.id) == 1.0
        assert vertex_errors(f.geometry, lab == f.id, ref).max() <= 1e-6
    assert feats[4].geometry.area == pytest.approx(0.25)  # one 0.5 m pixel, in m^2


def test_vertex_error_sees_a_half_pixel_shift():
    from shapely.affinity import translate

    lab = tricky_labels()
    ref = utm_ref(lab.shape)
    f = labels_to_features(lab, ref)[1]
    shifted = translate(f.geometry, xoff=0.25)  # half a 0.5 m pixel
    assert vertex_errors(shifted, lab == f.id, ref).max() == pytest.approx(0.5)


def test_label_geotiff_keeps_georeference_and_never_overwrites_input(tmp_path):
    lab = tricky_labels()
    ref = utm_ref(lab.shape)
    out = write_label_geotiff(tmp_path / "labels.tif", lab, ref)
    data, got = read_raster(out)
    np.testing.assert_array_equal(data, lab)
    assert got.transform == ref.transform and got.crs_name == "EPSG:32616"
    with pytest.raises(ValueError, match="never overwritten"):
        write_label_geotiff(out, lab, ref, inputs=[out])
    with pytest.raises(GeoInputError, match="differ in size"):
        write_label_geotiff(tmp_path / "b.tif", lab[:10], ref)


def test_lazy_reading_gives_the_same_pixels_window_by_window(tmp_path, monkeypatch):
    import rasterio

    from napari_iog.geo import raster

    rgb = np.random.default_rng(0).integers(0, 255, (3, 70, 90), dtype=np.uint8)
    ref = utm_ref((70, 90))
    path = tmp_path / "rgb.tif"
    with rasterio.open(path, "w", driver="GTiff", height=70, width=90, count=3, dtype="uint8",
                       crs=ref.crs, transform=ref.affine()) as ds:  # fmt: skip
        ds.write(rgb)
    monkeypatch.setattr(raster, "LAZY_CHUNK", 32)
    eager, _ = read_raster(path)
    lazy, got = read_raster(path, lazy=True)
    assert isinstance(eager, np.ndarray) and eager.shape == (70, 90, 3)
    assert lazy.chunks == ((32, 32, 6), (32, 32, 26), (3,))
    np.testing.assert_array_equal(np.asarray(lazy[20:50, 10:80]), eager[20:50, 10:80])
    np.testing.assert_array_equal(lazy.compute(), np.moveaxis(rgb, 0, -1))
    assert got.transform == ref.transform and got.crs_name == ref.crs_name
    monkeypatch.setattr(raster, "LAZY_BYTES", 1000)  # default: lazy above the size limit
    assert not isinstance(read_raster(path)[0], np.ndarray)


def test_geotiff_without_crs_exports_pixel_coordinates_with_warning(tmp_path):
    lab = tricky_labels()
    with pytest.warns(NoCRSWarning):
        write_label_geotiff(tmp_path / "plain.tif", lab, GeoReference.pixel_grid(lab.shape))
    ref = read_georeference(tmp_path / "plain.tif")
    assert not ref.has_crs
    with pytest.warns(NoCRSWarning, match="pixel coordinates"):
        feats = labels_to_features(lab, ref)
    assert feats[4].geometry.bounds == (2.0, 60.0, 3.0, 61.0)  # x = col, y = row, pixel edges


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_vector_files_are_written_in_the_image_crs(tmp_path, suffix):
    import pyproj

    lab = tricky_labels()
    ref = utm_ref(lab.shape)
    attrs = {2: {"kind": "commit", "threshold": 0.5, "n_edits": 2}}
    out = write_features(tmp_path / f"o{suffix}", labels_to_features(lab, ref, attrs), ref.crs)
    got = read_vector(out)
    assert pyproj.CRS.from_wkt(got.crs).to_epsg() == UTM16
    assert list(got.fields["id"]) == [1, 2, 3, 4, 5]
    assert list(got.fields["kind"]) == [None, "commit", None, None, None]
    back = features_to_labels(got.geometries, got.fields["id"], ref)
    np.testing.assert_array_equal(back, lab)
    with pytest.raises(GeoInputError, match=".geojson"):
        write_features(tmp_path / "o.shp", labels_to_features(lab, ref), ref.crs)


def test_bad_labels_are_refused_with_a_message():
    ref = utm_ref((8, 8))
    with pytest.raises(GeoInputError, match="no object"):
        labels_to_features(np.zeros((8, 8), np.uint8), ref)
    with pytest.raises(GeoInputError, match="2D"):
        labels_to_features(np.ones((2, 8, 8), np.uint8), ref)
    with pytest.raises(GeoInputError, match="integer"):
        labels_to_features(np.ones((8, 8), np.float32), ref)


def test_missing_geo_extra_says_how_to_install(monkeypatch):
    import importlib

    from napari_iog import extras
    from napari_iog.geo.deps import require

    real = importlib.import_module

    def no_pyogrio(name, *a, **k):
        if name.split(".")[0] == "pyogrio":
            raise ImportError(f"No module named {name!r}", name="pyogrio")
        return real(name, *a, **k)

    monkeypatch.setattr(extras.importlib, "import_module", no_pyogrio)
    with pytest.raises(GeoDependencyError, match=r"pip install 'napari-iog\[geo\]'"):
        require("pyogrio.raw")
    assert require("numpy").__name__ == "numpy"


def test_geo_package_imports_without_the_geo_libraries():
    code = (
        "import sys, napari_iog.geo, napari_iog.geo.boxes, napari_iog.geo.vectorize\n"
        "heavy = {'rasterio', 'pyogrio', 'shapely', 'pyproj', 'napari', 'qtpy', 'torch'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
