"""``napari-iog demo``: a napari viewer with a sample stack and the IOG Annotator docked, using the
best weights at hand (the first cached IOG weights, else the classical predictor, labelled so)."""

from __future__ import annotations

import napari

from napari_iog._napari import samples

SAMPLES = {
    "em": samples.em_stack,
    "aerial": samples.aerial_tile,
    "em-synthetic": samples.synthetic_em_stack,
    "aerial-synthetic": samples.synthetic_aerial_tile,
}


def open_demo(
    sample: str = "em", weights: str | None = None, device: str = "auto", show: bool = True
):
    """Open the viewer; returns ``(viewer, widget)``. ``weights``: a registry name or checkpoint
    path (default: best available). Raises ValueError for an unknown sample name."""
    if sample not in SAMPLES:
        raise ValueError(f"Unknown sample {sample!r}; choose one of {sorted(SAMPLES)}.")
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = napari.Viewer(title="napari-iog demo", show=show)
    for data, meta, _kind in SAMPLES[sample]():
        viewer.add_image(data, **meta)
    widget = AnnotatorWidget(viewer, autoload=False)
    if weights:
        widget.weights.addItem(f"IOG: {weights}", weights)
        widget.weights.setCurrentIndex(widget.weights.count() - 1)
    widget.device.setCurrentText(device)
    viewer.window.add_dock_widget(widget, name="IOG Annotator", area="right")
    widget.load_model()
    return viewer, widget


def run() -> None:
    """Start napari's event loop (blocks until the viewer is closed)."""
    napari.run()
