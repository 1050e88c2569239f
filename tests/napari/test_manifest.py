"""npe2 manifest: valid, the annotator opens through it, sample data loads, the wheel carries it
(and the shipped starter models)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_manifest_is_valid_and_linked():
    from npe2 import PluginManifest

    pm = PluginManifest.from_file(REPO / "napari.yaml")
    assert pm.name == "napari-iog"
    assert {w.display_name for w in pm.contributions.widgets} >= {"IOG Annotator"}
    assert {s.key for s in pm.contributions.sample_data} >= {
        "em_stack",
        "aerial_tile",
        "em_synthetic",
        "aerial_synthetic",
    }
    installed = PluginManifest.from_distribution("napari-iog")  # what napari loads
    assert installed.contributions.widgets[0].command == "napari-iog.annotator"
    link = REPO / "src" / "napari_iog" / "napari.yaml"
    assert link.resolve() == (REPO / "napari.yaml").resolve()


def test_npe2_validate_cli():
    out = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", "napari-iog"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "valid" in (out.stdout + out.stderr)


def test_widget_opens_through_manifest(make_napari_viewer, monkeypatch, qtbot):
    from napari_iog._napari import model_choice

    monkeypatch.setattr(model_choice, "weight_choices", lambda: [model_choice.classical_choice()])
    monkeypatch.setattr(
        model_choice, "best_available", lambda *a, **k: model_choice.classical_choice()
    )
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((32, 32), np.uint8), name="img")
    dock, widget = viewer.window.add_plugin_dock_widget("napari-iog", "IOG Annotator")
    from napari_iog._napari.widget import AnnotatorWidget

    assert isinstance(widget, AnnotatorWidget)
    assert widget.ctl.image.name == "img" and widget.ctl.points is not None
    qtbot.waitUntil(lambda: widget.model.ready, timeout=60000)  # the list is read in a worker
    assert "Classical" in widget.weights.currentText()
    # reopening binds keys again without "already used" errors
    viewer.window.remove_dock_widget(dock)
    AnnotatorWidget(viewer, autoload=False)


def test_synthetic_samples_through_npe2(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-iog", "em_synthetic")
    viewer.open_sample("napari-iog", "aerial_synthetic")
    em, aerial = viewer.layers
    assert em.data.shape == (5, 256, 256) and em.data.dtype == np.uint8
    assert aerial.rgb and aerial.data.shape == (256, 256, 3)
    assert em.data.std() > 10 and aerial.data.std() > 10


def test_online_sample_falls_back_offline(monkeypatch):
    from napari_iog._napari import samples

    def offline(*a, **k):
        raise OSError("no network")

    warned = []
    monkeypatch.setattr(samples, "_fetch", offline)
    monkeypatch.setattr("napari.utils.notifications.show_warning", warned.append)
    ((data, meta, kind),) = samples.em_stack()
    assert kind == "image" and data.shape == (5, 256, 256) and "synthetic" in meta["name"]
    ((data, meta, kind),) = samples.aerial_tile()
    assert meta["rgb"] and data.shape[-1] == 3
    assert len(warned) == 2 and "offline sample" in warned[0]


@pytest.mark.slow
def test_wheel_contains_the_manifest(tmp_path):
    # hatchling comes with the testing extra: build without network access
    isolation = ["--no-isolation"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            *isolation,
            "--outdir",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "napari_iog/napari.yaml" in names
        text = zf.read("napari_iog/napari.yaml").decode()
        entry = [n for n in names if n.endswith("entry_points.txt")]
        assert "napari_iog:napari.yaml" in zf.read(entry[0]).decode()
        shipped = {i.filename: i.file_size for i in zf.infolist() if "/starters/" in i.filename}
    # the starter models ship in the wheel (offline installs segment at once), within 25 MB
    assert set(shipped) == {
        "napari_iog/models/starters/iog-em.pt",
        "napari_iog/models/starters/iog-aerial.pt",
    }
    assert sum(shipped.values()) <= 25e6
    assert text == (REPO / "napari.yaml").read_text()


def test_harvest_widget_opens_through_manifest(make_napari_viewer):
    from napari_iog._napari.harvest_widget import HarvestWidget

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((32, 32), np.uint8), name="img")
    _, widget = viewer.window.add_plugin_dock_widget("napari-iog", "IOG Harvest (boxes to masks)")
    assert isinstance(widget, HarvestWidget)
