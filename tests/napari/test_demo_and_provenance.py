"""`napari-iog demo` opens the sample with the annotator docked; provenance JSON export and the
labels writer (TIFF + sidecar JSON) round-trip the prompts."""

from __future__ import annotations

import json

import numpy as np

from napari_iog._napari.layers import LABELS_NAME
from napari_iog.structures import Prompt
from tests.napari.conftest import click, wait_result


def test_demo_opens_sample_and_annotator(qtbot, monkeypatch, capsys):
    from napari_iog._napari import model_choice
    from napari_iog._napari.demo import open_demo
    from napari_iog.cli import main

    monkeypatch.setattr(
        model_choice, "best_available", lambda *a, **k: model_choice.classical_choice()
    )
    viewer, widget = open_demo("em-synthetic", show=False)
    try:
        assert viewer.layers[0].data.shape == (5, 256, 256)
        assert widget.ctl.image is not None and widget.ctl.points is not None
        qtbot.waitUntil(lambda: widget.ctl.session.predictor is not None, timeout=20000)
        assert "CLASSICAL" in widget.model_info.text()
    finally:
        viewer.close()
    assert main(["demo", "--help"]) == 0
    assert "--sample" in capsys.readouterr().out


def test_provenance_export_and_writer(annotator, qtbot, tmp_path):
    from napari_iog._napari.writer import write_labels
    from napari_iog.fileio import sidecar_path

    viewer, w = annotator
    ctl = w.ctl
    for rc in ((20, 20), (50, 50), (35, 35)):
        click(ctl, 3, *rc)
    res = wait_result(qtbot, ctl)
    ctl.commit()
    labels = viewer.layers[LABELS_NAME]
    out = tmp_path / "prov.iog.json"
    w.export_provenance(str(out))
    doc = json.loads(out.read_text())
    (rec,) = doc["objects"]
    assert rec["slice"] == [3] and rec["value"] == 1 and rec["predictor"] == "tiny test net"
    assert Prompt.from_dict(rec["prompt"]) == res.prompt  # re-runnable
    paths = write_labels(
        str(tmp_path / "labels.tif"),
        labels.data,
        {"name": labels.name, "metadata": labels.metadata},
    )
    import tifffile

    np.testing.assert_array_equal(tifffile.imread(paths[0]), labels.data)
    assert (
        paths[1] == str(sidecar_path(paths[0]))
        and json.loads(open(paths[1]).read())["objects"][0]["value"] == 1
    )
    assert not list(tmp_path.glob("*.tmp"))
