"""The fine-tuning widget under a time budget: the bar advances with time (it used to count steps
of max epochs and end at 1 %), the normal end is "time budget reached" (not "timeout"), a busy
indicator and a running clock while the objects are prepared, file pickers for the start
weights and the output, and a hint that ResNet-101 profiles are slow on a CPU."""

from __future__ import annotations

import pytest
from qtpy.QtWidgets import QPushButton

from tests.napari.test_finetune_widget import _stack, _widget

pytest.importorskip("torch")


def test_time_budget_drives_the_bar_and_ends_as_budget_reached(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    im, lab = _stack()
    viewer.add_image(im, name="em")
    viewer.add_labels(lab, name="objects")
    w = _widget(viewer, tmp_path, minutes=0.05)  # 3 s
    w.epochs.setValue(100_000)  # the budget, not the epochs, ends this run
    w.weights_edit.setText("")
    w.start()
    assert w.progress.maximum() == 0  # busy indicator while the objects are prepared
    assert w.status.text().startswith("Preparing the objects...") and " s " in w.status.text()
    seen = []
    qtbot.waitUntil(
        lambda: (seen.append(w.progress.value()), w.state != "running")[1], timeout=60000
    )
    assert w.state == "done", w.status.text()
    assert "time budget reached" in w.status.text() and "timeout" not in w.status.text()
    assert w.progress.value() == w.progress.maximum() > 0
    assert max(seen) >= 0.5 * w.progress.maximum()  # by time: far beyond steps / max epochs


def test_pickers_and_the_cpu_hint(make_napari_viewer, tmp_path):
    from napari_iog._napari.finetune_form import cpu_hint

    viewer = make_napari_viewer()
    w = _widget(viewer, tmp_path)
    assert sum(b.text() == "..." for b in w.findChildren(QPushButton)) == 2
    w.pick_weights(str(tmp_path / "start.pt"))
    w.pick_output(str(tmp_path / "out.pt"))
    assert w.weights_edit.text() == str(tmp_path / "start.pt")
    assert w.out_edit.text() == str(tmp_path / "out.pt")
    w.profile_combo.setCurrentText("iog-resnet101")
    expected = cpu_hint("iog-resnet101")
    assert w.profile_hint.text() == expected
    import torch

    if not torch.cuda.is_available():
        assert "slow on a CPU" in expected
    w.profile_combo.setCurrentText("cpu-light")
    assert w.profile_hint.text() == ""
