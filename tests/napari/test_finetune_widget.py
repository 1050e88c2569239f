"""The fine-tuning dock widget, headless: train on Image + Labels layers in a worker, live
progress, cancel keeps a valid checkpoint, the new weights load into the annotator, bad input."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")


def _stack():
    from napari_iog.data.synthetic import blobs

    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(3)])
    labs = list(labs)
    labs[1] = np.zeros_like(labs[1])  # an unannotated slice: skipped
    return np.stack(ims), np.stack(labs).astype(np.uint32)


def _widget(viewer, tmp_path, samples=4, minutes=0.0):
    from napari_iog._napari.finetune_widget import FinetuneWidget

    w = FinetuneWidget(viewer)
    viewer.window.add_dock_widget(w, name="IOG Fine-tuning")
    w.profile_combo.setCurrentText("iog-tiny-refine")
    w.epochs.setValue(1)
    w.samples.setValue(samples)
    w.batch.setValue(2)
    w.min_area.setValue(20)
    w.minutes.setValue(minutes)
    w.out_edit.setText(str(tmp_path / "ft.pt"))
    return w


def test_train_in_worker_and_load_into_the_annotator(
    make_napari_viewer, qtbot, tmp_path, tiny_predictor
):
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.inference import IOGPredictor
    from napari_iog.models.checkpoint import load_model

    viewer = make_napari_viewer()
    im, lab = _stack()
    viewer.add_image(im, name="em")
    viewer.add_labels(lab, name="objects")
    annot = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(annot, name="IOG Annotator")
    annot.set_predictor(tiny_predictor, "tiny test net")
    w = _widget(viewer, tmp_path)
    assert w.image_combo.currentText() == "em" and w.labels_combo.currentText() == "objects"
    w.start()
    assert w.state == "running" and not w.start_btn.isEnabled()  # returns at once: worker thread
    qtbot.waitUntil(lambda: w.state != "running", timeout=60000)
    assert w.state == "done", w.status.text()
    assert w.progress.value() == w.progress.maximum() == 2
    assert len(w.history) == 1 and np.isfinite(w.history[0].loss)
    meta = load_model(w.checkpoint).meta
    assert meta["n_objects"] == 6 and meta["data"]["labels_layer"] == "objects"
    aug = {k: meta["finetune_config"]["augment"][k] for k in ("rotate", "vflip", "intensity")}
    assert aug == {"rotate": 180.0, "vflip": True, "intensity": 0.1}  # "no up" is the default
    assert meta["finetune_config"]["workers"] is None  # auto: none on this CPU, spawned on CUDA
    # threshold calibration is on, and says why 0.5 stays: 1 validation object of 6 is too few
    assert meta["finetune_config"]["calibrate_threshold"] is True
    assert "skipped" in meta["threshold_calibration"] and "stays 0.50" in w.status.text()
    w.calibrate.setChecked(False)
    assert w._config().calibrate_threshold is False
    w.topdown.setChecked(False)  # the paper's augmentation for photos
    aug = w._config().augment
    assert (aug.rotate, aug.vflip, aug.intensity) == (20.0, False, 0.0)
    pred = annot.ctl.session.predictor
    assert isinstance(pred, IOGPredictor) and pred is not tiny_predictor
    qtbot.waitUntil(lambda: w.start_btn.isEnabled(), timeout=5000)


def test_cancel_keeps_a_valid_checkpoint(make_napari_viewer, qtbot, tmp_path):
    from napari_iog.models.checkpoint import load_model

    viewer = make_napari_viewer()
    im, lab = _stack()
    viewer.add_image(im, name="em")
    viewer.add_labels(lab, name="objects")
    w = _widget(viewer, tmp_path, samples=4)
    w.epochs.setValue(50)
    w.start()
    qtbot.waitUntil(lambda: len(w.history) >= 1, timeout=60000)
    w.cancel()
    qtbot.waitUntil(lambda: w.state != "running", timeout=60000)
    assert w.state == "cancelled"
    assert load_model(tmp_path / "ft.pt").meta["epochs"] >= 1  # the last good checkpoint is intact


def test_sample_workers_are_spawned_from_the_widget(
    make_napari_viewer, qtbot, tmp_path, monkeypatch
):
    """As on CUDA (auto = worker processes): the widget trains in a thread, so the sample
    workers are spawned, not forked, and the run finishes with a checkpoint."""
    from napari_iog.models.checkpoint import load_model
    from napari_iog.training import batches, loop

    monkeypatch.setattr(loop, "auto_workers", lambda workers, device, copy_bytes, procs: 2)
    methods = []
    original = batches.worker_start_method
    monkeypatch.setattr(
        loop, "worker_start_method", lambda: methods.append(original()) or methods[-1]
    )
    viewer = make_napari_viewer()
    im, lab = _stack()
    viewer.add_image(im, name="em")
    viewer.add_labels(lab, name="objects")
    w = _widget(viewer, tmp_path)
    w.start()
    qtbot.waitUntil(lambda: w.state != "running", timeout=120000)
    assert w.state == "done", w.status.text()
    assert methods == ["spawn"] and load_model(tmp_path / "ft.pt").meta["steps"] == 2


def test_bad_input_gives_a_message_and_no_worker(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    im, lab = _stack()
    viewer.add_image(im, name="em")
    viewer.add_labels(np.zeros_like(lab), name="empty")
    w = _widget(viewer, tmp_path)
    w.start()
    assert w.state == "error" and "empty" in w.status.text() and w._worker is None
    viewer.add_labels(np.ones((5, 5), np.uint32), name="wrong")
    w.labels_combo.setCurrentText("wrong")
    w.start()
    assert w.state == "error" and "shape" in w.status.text()
    viewer.layers.remove("em")
    w.start()
    assert w.state == "error"


def test_widget_opens_through_the_manifest(make_napari_viewer):
    from napari_iog._napari.finetune_widget import FinetuneWidget

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-iog", "IOG Fine-tuning")
    assert isinstance(widget, FinetuneWidget)


def test_fit_threshold_only_sets_the_annotators_threshold(make_napari_viewer, qtbot, tmp_path):
    """*Fit threshold only*: no training; the annotator's model (probability 0.42 everywhere)
    gets the threshold that fits the layers' 12 objects (0.20: the whole box); with no annotator,
    or too few objects, a message says what to do."""
    from napari_iog._napari.widget import AnnotatorWidget
    from napari_iog.data.synthetic import blobs
    from napari_iog.inference import IOGPredictor
    from napari_iog.models import get_profile
    from tests._shared import constant_net

    viewer = make_napari_viewer()
    ims, labs = zip(*[blobs((96, 96), 3, seed=s) for s in range(4)])
    viewer.add_image(np.stack(ims), name="em")
    viewer.add_labels(np.stack(labs).astype(np.uint32), name="objects")
    w = _widget(viewer, tmp_path)
    w.fit_threshold()
    assert w.state == "error" and "Annotator" in w.status.text()
    annot = AnnotatorWidget(viewer, autoload=False)
    viewer.window.add_dock_widget(annot, name="IOG Annotator")
    net = constant_net("iog-tiny-refine", 0.42)
    annot.set_predictor(IOGPredictor(net, get_profile("iog-tiny-refine")[1], device="cpu"), "c")
    w.fit_threshold()
    qtbot.waitUntil(lambda: w.state != "running", timeout=30000)
    assert w.state == "done", w.status.text()
    assert annot.ctl.session.predictor.mask_threshold == 0.2
    assert annot.model.threshold.value() == 0.2 and "set to 0.20" in w.status.text()
    qtbot.waitUntil(lambda: w.fit_btn.isEnabled(), timeout=5000)
    viewer.layers["objects"].data[1:] = 0  # 3 objects left
    w.fit_threshold()
    qtbot.waitUntil(lambda: w.state != "running", timeout=30000)
    assert w.state == "error" and "at least 10" in w.status.text()
