"""``napari-iog demo``: a napari viewer with a sample stack and the IOG Annotator docked, using the
shipped starter model that matches the sample (``iog-em`` / ``iog-aerial``), or ``weights``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import napari

from napari_iog._napari import samples

if TYPE_CHECKING:
    from napari_iog._napari.widget import AnnotatorWidget

SAMPLES = {
    "em": samples.em_stack,
    "aerial": samples.aerial_tile,
    "em-synthetic": samples.synthetic_em_stack,
    "aerial-synthetic": samples.synthetic_aerial_tile,
}


def open_demo(
    sample: str = "em",
    weights: str | None = None,
    device: str = "auto",
    show: bool = True,
    viewer: napari.Viewer | None = None,
) -> tuple[napari.Viewer, AnnotatorWidget]:
    """Open the viewer (or fill ``viewer``); returns ``(viewer, widget)``. ``weights``: a weights
    name or checkpoint path (default: the shipped starter matching the sample). Raises
    ValueError for an unknown sample name."""
    if sample not in SAMPLES:
        raise ValueError(f"Unknown sample {sample!r}; choose one of {sorted(SAMPLES)}.")
    from napari_iog._napari.widget import AnnotatorWidget

    viewer = viewer if viewer is not None else napari.Viewer(title="napari-iog demo", show=show)
    for data, meta, _kind in SAMPLES[sample]():
        viewer.add_image(data, **meta)
    widget = AnnotatorWidget(viewer, autoload=False)
    if weights:
        widget.model.user_chose = True  # the user's weights, whatever the image
        widget.model.choose(weights)
    widget.device.setCurrentText(device)
    viewer.window.add_dock_widget(widget, name="IOG Annotator", area="right")
    widget.load_model()
    return viewer, widget


def run() -> None:
    """Start napari's event loop (blocks until the viewer is closed)."""
    napari.run()
