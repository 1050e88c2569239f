"""Regenerate the screenshots of docs/annotating.md from a real napari viewer (headless ok):

    xvfb-run -a python docs/images/make_screenshots.py

Uses the synthetic samples (shippable) with the shipped starter models (``iog-em``,
``iog-aerial``), so it needs no download; the last picture uses real ssTEM sections
(``../shared/data``, not shipped) when present. The clicks are placed on objects found by
thresholding the sample.
"""

from __future__ import annotations

import time
from pathlib import Path

import napari  # noqa: TID251 - a GUI script
import numpy as np
from qtpy.QtWidgets import QApplication, QScrollArea  # noqa: TID251
from scipy import ndimage

from napari_iog._napari.samples import make_aerial_tile, make_em_stack
from napari_iog._napari.widget import AnnotatorWidget
from napari_iog.inference import IOGPredictor

OUT = Path(__file__).resolve().parent


def _wait(ctl):
    app = QApplication.instance()
    while ctl.busy:
        app.processEvents()
        time.sleep(0.005)
    for _ in range(20):
        app.processEvents()


def _click(ctl, coords):
    ctl.points.add(np.array([coords], float))
    QApplication.instance().processEvents()


def _objects(mask, n, min_area=60):
    lab, k = ndimage.label(mask)
    objs = ndimage.find_objects(lab)
    areas = ndimage.sum(mask, lab, range(1, k + 1))
    order = [i for i in np.argsort(-areas) if areas[i] >= min_area]
    out = []
    for i in order[:n]:
        sl = objs[i]
        inside = ndimage.center_of_mass(lab[sl] == i + 1)
        out.append(
            (
                (sl[0].start - 4, sl[1].start - 4),
                (sl[0].stop + 3, sl[1].stop + 3),
                (sl[0].start + inside[0], sl[1].start + inside[1]),
            )
        )
    return out


def _annotate(ctl, lead, objs, commit_last=False):
    for k, (a, b, inside) in enumerate(objs):
        for p in (a, b, inside):
            _click(ctl, [*lead, *p])
        _wait(ctl)
        if k < len(objs) - 1 or commit_last:
            ctl.commit()
            _wait(ctl)


def _use(w, name: str) -> None:
    """The annotator with the shipped starter ``name``, named in its picker."""
    w.use_weights(IOGPredictor.from_weights(name, device="cpu"), name, f"IOG {name}")


def _viewer():
    viewer = napari.Viewer(title="napari-iog", show=True)
    viewer.window.resize(1500, 1100)
    return viewer


def em():
    viewer = _viewer()
    data = make_em_stack()
    viewer.add_image(data, name="synthetic EM stack", scale=(4.0, 1.0, 1.0))
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    _use(w, "iog-em")
    viewer.dims.set_current_step(0, 2)
    objs = _objects(data[2] < 110, 4)
    _annotate(w.ctl, (2,), objs)
    w.toggle_polarity()
    viewer.reset_view()
    QApplication.instance().processEvents()
    viewer.screenshot(str(OUT / "annotator_em.png"), canvas_only=False)
    w.ctl.commit()
    _wait(w.ctl)
    w.z_min.setValue(0)
    w.propagate()
    while w.prop.running:
        QApplication.instance().processEvents()
        time.sleep(0.01)
    viewer.dims.set_current_step(0, 3)
    viewer.layers.selection.active = viewer.layers["IOG labels"]
    QApplication.instance().processEvents()
    viewer.screenshot(str(OUT / "propagation_em.png"), canvas_only=False)
    viewer.close()


def aerial():
    viewer = _viewer()
    data, boxes = make_aerial_tile(return_boxes=True)
    viewer.add_image(data, name="synthetic aerial tile", rgb=True)
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    _use(w, "iog-aerial")
    apart = []  # the tile's buildings may overlap (L shapes): one box per building
    for b in boxes:
        if all(
            min(b[2], a[2]) < max(b[0], a[0]) or min(b[3], a[3]) < max(b[1], a[1]) for a in apart
        ):
            apart.append(b)
    objs = [
        ((r0 - 3, c0 - 3), (r1 + 3, c1 + 3), ((r0 + r1) / 2, (c0 + c1) / 2))
        for r0, c0, r1, c1 in apart
    ]
    _annotate(w.ctl, (), objs[-5:])
    viewer.reset_view()
    viewer.screenshot(str(OUT / "annotator_aerial.png"), canvas_only=False)
    viewer.close()


def replay():
    """Objects committed with the random walker, replayed with the shipped ``iog-em``: the
    preview outlines and the Replay section's list, before Accept."""
    from napari_iog.inference.classical import RandomWalkerPredictor

    viewer = _viewer()
    data = make_em_stack()
    viewer.add_image(data, name="synthetic EM stack", scale=(4.0, 1.0, 1.0))
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    w.set_predictor(RandomWalkerPredictor(), "random walker (classical)")
    viewer.dims.set_current_step(0, 2)
    _annotate(w.ctl, (2,), _objects(data[2] < 110, 4), commit_last=True)
    _use(w, "iog-em")
    w.replay.start()
    while w.replay.running:
        QApplication.instance().processEvents()
        time.sleep(0.01)
    w.replay.list.item(0).setSelected(True)
    viewer.reset_view()
    viewer.camera.zoom *= 1.5
    QApplication.instance().processEvents()
    scroll = w.findChild(QScrollArea)
    if scroll is not None:
        scroll.ensureWidgetVisible(w.replay)
    QApplication.instance().processEvents()
    viewer.screenshot(str(OUT / "replay_em.png"), canvas_only=False)
    viewer.close()


def sstem_iog(weights: str, shared: Path):
    """Real ssTEM sections 10-14 (research data, not shipped; test slices of the starter) with
    the shipped ``iog-em``: mitochondria of section 12 annotated with box + inside click."""
    import tifffile
    from skimage import io

    root = shared / "data" / "sstem-drosophila-vnc"
    stack = np.stack([tifffile.imread(root / "raw" / f"{z:02d}.tif") for z in range(10, 15)])
    mito = io.imread(root / "mitochondria" / "12.png")
    mito = mito > (0 if mito.max() <= 1 else 127)
    viewer = _viewer()
    viewer.add_image(stack, name="ssTEM sections 10-14")
    w = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(w, name="IOG Annotator", area="right")
    _use(w, weights)
    viewer.dims.set_current_step(0, 2)
    objs = _objects(mito, 6, min_area=400)
    _annotate(w.ctl, (2,), objs)
    viewer.reset_view()  # the whole section: every committed object and the preview
    QApplication.instance().processEvents()
    viewer.screenshot(str(OUT / "annotator_sstem_iog.png"), canvas_only=False)
    viewer.close()


if __name__ == "__main__":
    import os

    em()
    aerial()
    replay()
    repo = OUT.parents[1]
    shared = Path(os.environ.get("NAPARI_IOG_SHARED", repo / ".." / "shared"))
    if (shared / "data").is_dir():
        sstem_iog("iog-em", shared)
    print("written:", sorted(p.name for p in OUT.glob("*.png")))
