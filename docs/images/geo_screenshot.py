"""Regenerate ``docs/images/geo_spacenet.png`` (docs/geo.md) from a real napari viewer:

    xvfb-run -a python docs/images/geo_screenshot.py

The SpaceNet tile (``../shared/data/aerial-spacenet``, research data, not shipped) opened through
napari's TIFF reader (the georeference read from the file), its 43 buildings committed with the shipped ``iog-aerial`` from
their true boxes (the commit path of ``benchmarks/geo_spacenet.py``), and the source footprints
``buildings.geojson`` drawn as outlines on top (map -> pixel with the layer's georeference).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import napari  # noqa: TID251 - a GUI script
import numpy as np
import tifffile
from qtpy.QtWidgets import QApplication  # noqa: TID251

OUT = Path(__file__).resolve().parent
REPO = OUT.parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from geo_spacenet import commit_all  # noqa: E402

from napari_iog._napari.widget import AnnotatorWidget  # noqa: E402
from napari_iog.geo import GeoReference  # noqa: E402
from napari_iog.geo.georef import METADATA_KEY  # noqa: E402
from napari_iog.geo.vector_io import read_vector  # noqa: E402


def main() -> None:
    import shapely

    shared = Path(os.environ.get("NAPARI_IOG_SHARED", REPO / ".." / "shared"))
    d = shared / "data" / "aerial-spacenet"
    viewer = napari.Viewer(title="napari-iog", show=True)
    viewer.window.resize(1500, 1100)
    (image,) = viewer.open(str(d / "image.tif"), plugin="napari")
    ref = GeoReference.from_dict(image.metadata[METADATA_KEY])
    instances = tifffile.imread(d / "instances.tif").astype(np.int32)
    labels, _, _ = commit_all(np.asarray(image.data), instances, "iog-aerial", "cpu")
    viewer.add_labels(labels, name="IOG labels", opacity=0.55)
    outlines = []
    for geom in read_vector(d / "buildings.geojson").geometries:
        xy = shapely.get_coordinates(geom.exterior if geom.geom_type == "Polygon" else geom)
        row, col = ref.map_to_pixel(xy[:, 0], xy[:, 1])
        outlines.append(np.column_stack([row, col]))
    viewer.add_shapes(outlines, shape_type="polygon", edge_color="yellow", face_color="transparent",
                      edge_width=1.5, name="buildings.geojson (EPSG:32616)")  # fmt: skip
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    image.contrast_limits = tuple(float(v) for v in np.percentile(image.data, (1, 99.5)))
    viewer.layers.selection.active = viewer.layers["IOG labels"]
    for _ in range(20):
        QApplication.instance().processEvents()
    viewer.reset_view()
    for _ in range(20):
        QApplication.instance().processEvents()
    viewer.screenshot(str(OUT / "geo_spacenet.png"), canvas_only=False)
    viewer.close()
    print("written:", OUT / "geo_spacenet.png")


if __name__ == "__main__":
    main()
