"""Regenerate ``docs/images/volume_em.png`` (docs/volumes.md) from a real napari viewer:

    xvfb-run -a python docs/images/volume_screenshot.py

The synthetic 256 x 8192 x 8192 OME-Zarr of ``benchmarks/volume_zarr.py`` (chunks made on read)
opened as a 3-level multiscale image, the cells of a corner of slice 40 committed through the
annotator with the shipped ``iog-em`` starter (true boxes + centre click) into the zarr labels
store ``labels/iog`` inside the OME-Zarr, then the view zoomed on them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import napari  # noqa: TID251 - a GUI script
import numpy as np
from qtpy.QtWidgets import QApplication  # noqa: TID251

from napari_iog._napari.volume_reader import volume_layer_data
from napari_iog._napari.widget import AnnotatorWidget
from napari_iog.inference import IOGPredictor
from napari_iog.volumes import open_volume
from napari_iog.volumes.synthetic import SyntheticStore, cell_boxes, make_synthetic_volume

OUT = Path(__file__).resolve().parent / "volume_em.png"
Z = 40


def main() -> None:
    path = make_synthetic_volume(Path(tempfile.mkdtemp()) / "em.ome.zarr")
    volume = open_volume(path, store=SyntheticStore(path))
    viewer = napari.Viewer(title="napari-iog", show=True)
    viewer.window.resize(1800, 1050)
    for data, kw, kind in volume_layer_data(volume):
        getattr(viewer, f"add_{kind}")(data, **kw)
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    w.use_weights(IOGPredictor.from_weights("iog-em", device="cpu"), "iog-em", "iog-em")
    app, ctl = QApplication.instance(), w.ctl
    viewer.dims.set_point(0, Z)
    boxes = [(c, b) for c, b in cell_boxes(Z, volume.shape[1:]) if b.row1 < 1100 and b.col1 < 1600]
    for _cell, b in boxes:
        centre = ((b.row0 + b.row1) / 2, (b.col0 + b.col1) / 2)
        for r, c in ((b.row0, b.col0), (b.row1, b.col1), centre):
            ctl.points.add(np.array([[Z, r, c]], float))
            app.processEvents()
        while ctl.busy:
            app.processEvents()
            time.sleep(0.01)
        ctl.commit()
    labels = viewer.layers["IOG labels"]
    labels.opacity = 0.5
    viewer.camera.center = (Z, 560, 800)
    viewer.camera.zoom = 0.8
    for _ in range(50):
        app.processEvents()
        time.sleep(0.05)
    viewer.screenshot(str(OUT), canvas_only=False)
    print(OUT, labels.data.path, len(labels.data.stored_chunks()), "chunks stored")
    viewer.close()


if __name__ == "__main__":
    main()
